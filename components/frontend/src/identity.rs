//! Who is asking: a guest (known by the `sid` cookie) or a signed-in shopper (the `auth` cookie,
//! checked with the accounts service once per page). A guest costs no call at all.
use shop_contract::accounts::{ops, SignedIn, TokenRef};
use shop_contract::{ErrorCode, ShopError};
use shop_domain::account::{AccountId, ClientAddr, SessionToken};

use crate::backend::{Backend, Service};
use crate::session::{clear_cookie, AuthCookie, AUTH_COOKIE};

/// A signed-in shopper. The token is the cookie's secret: sent to accounts, never shown or logged
/// (`SessionToken`'s `Debug` hides it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub account_id: AccountId,
    pub email: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub token: SessionToken,
}

impl Member {
    /// The accounts service's answer, checked: an id that is not one is a broken service.
    pub fn from_signed_in(signed_in: SignedIn) -> Result<Member, ShopError> {
        let account_id = AccountId::parse(&signed_in.account.account_id)
            .map_err(|_| ShopError::internal("accounts answered an invalid account id"))?;
        let token = SessionToken::parse(&signed_in.token).map_err(|_| ShopError::internal("accounts answered an invalid token"))?;
        Ok(Member { account_id, email: signed_in.account.email, created_at: signed_in.account.created_at, token })
    }

    pub fn token_ref(&self) -> TokenRef {
        TokenRef { token: self.token.expose_secret().to_string() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Guest,
    Member(Member),
    /// Signed in, maybe, but accounts could not say (it is down): pages that depend on who it is
    /// answer 503, the catalogue still renders.
    Unknown,
}

/// The identity of a request, plus the `Set-Cookie` that clears an `auth` cookie which no longer
/// means anything (malformed, or a session that ended: signed out, expired, password changed).
pub async fn resolve<B: Backend>(backend: &B, cookie_header: Option<&str>, secure: bool) -> (Who, Option<String>) {
    let token = match AuthCookie::read(cookie_header) {
        AuthCookie::None => return (Who::Guest, None),
        AuthCookie::Malformed => return (Who::Guest, Some(clear_cookie(AUTH_COOKIE, secure))),
        AuthCookie::Token(token) => token,
    };
    let answer = backend.call(Service::Accounts, ops::get_session, &TokenRef { token: token.to_string() }).await;
    match answer.and_then(Member::from_signed_in) {
        Ok(member) => (Who::Member(member), None),
        Err(e) if matches!(e.code, ErrorCode::Unauthorized | ErrorCode::NotFound | ErrorCode::BadRequest) => {
            (Who::Guest, Some(clear_cookie(AUTH_COOKIE, secure)))
        }
        Err(_) => (Who::Unknown, None),
    }
}

/// The shopper's IP address for the sign-in limits, from a header that the host (or a trusted
/// proxy) sets: a client may send that header too, but the host appends its own after the
/// client's, so the last one counts. `None` when there is none or it is not an address; without
/// any (never on Spin), every such request shares one limit.
pub fn client_addr<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    values.last().and_then(|v| ClientAddr::parse(v).ok()).map(|addr| addr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_hosts_address_without_the_port() {
        assert_eq!(client_addr(["127.0.0.1:5000"].into_iter()).as_deref(), Some("127.0.0.1"));
        assert_eq!(client_addr(["[::1]:5000"].into_iter()).as_deref(), Some("::1"));
        assert_eq!(client_addr(["10.0.0.9:1", "192.0.2.7:443"].into_iter()).as_deref(), Some("192.0.2.7"), "the host's value comes last");
        assert_eq!(client_addr(["not an address"].into_iter()), None);
        assert_eq!(client_addr(std::iter::empty()), None);
    }

    #[test]
    fn a_member_comes_only_from_a_well_formed_answer() {
        let answer = |id: &str, token: &str| SignedIn {
            account: shop_contract::accounts::Account { account_id: id.into(), email: "ada@example.com".into(), created_at: "2026-01-01T00:00:00Z".into() },
            token: token.into(),
        };
        let (id, token) = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210");
        let member = Member::from_signed_in(answer(id, token)).unwrap();
        assert_eq!((member.account_id.as_str(), member.token_ref().token.as_str()), (id, token));
        assert!(!format!("{member:?}").contains(token), "the token is not in Debug output");
        assert!(Member::from_signed_in(answer("../x", token)).is_err());
        assert!(Member::from_signed_in(answer(id, "short")).is_err());
    }
}
