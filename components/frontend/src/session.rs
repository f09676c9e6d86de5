//! The shopper's session: a random id in the `sid` cookie, plus the CSRF secret in `csrf`; a
//! signed-in shopper also has `auth`, the accounts service's session token.
//!
//! All three are 128 random bits as 32 lowercase hex digits. A cookie whose value is not exactly
//! that shape is ignored and replaced (or, for `auth`, cleared), so nothing a client sends is
//! trusted as a session id.

/// Keeps a cart across browser restarts for a month.
const MAX_AGE_SECONDS: u32 = 30 * 24 * 60 * 60;

pub const SESSION_COOKIE: &str = "sid";
pub const CSRF_COOKIE: &str = "csrf";
/// The signed-in session's token (only ever checked by the accounts service).
pub const AUTH_COOKIE: &str = "auth";

/// The session of one request, and the cookies to set when any value is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub csrf: String,
    /// `Set-Cookie` header values to send with the response.
    pub set_cookies: Vec<String>,
}

impl Session {
    /// Reads both cookies from a `Cookie` header, minting what is missing or malformed.
    /// A new session always gets a new CSRF secret, so a secret never outlives its session.
    pub fn from_cookie_header(header: Option<&str>, secure: bool, mut random: impl FnMut() -> String) -> Session {
        let sid = cookie(header, SESSION_COOKIE).filter(|v| is_token(v));
        let csrf = cookie(header, CSRF_COOKIE).filter(|v| is_token(v));
        let mut set_cookies = Vec::new();
        let (id, csrf) = match (sid, csrf) {
            (Some(id), Some(csrf)) => (id.to_string(), csrf.to_string()),
            (Some(id), None) => {
                let csrf = random();
                set_cookies.push(set_cookie(CSRF_COOKIE, &csrf, secure));
                (id.to_string(), csrf)
            }
            (None, _) => {
                let (id, csrf) = (random(), random());
                set_cookies.push(set_cookie(SESSION_COOKIE, &id, secure));
                set_cookies.push(set_cookie(CSRF_COOKIE, &csrf, secure));
                (id, csrf)
            }
        };
        Session { id, csrf, set_cookies }
    }
}

/// A new `sid` and `csrf` (signing in or out): whatever the old session id carried stays behind,
/// so a session id planted before sign-in (session fixation) is worth nothing after it.
pub fn rotated(secure: bool, mut random: impl FnMut() -> String) -> Vec<String> {
    let (id, csrf) = (random(), random());
    vec![set_cookie(SESSION_COOKIE, &id, secure), set_cookie(CSRF_COOKIE, &csrf, secure)]
}

/// What the request's `auth` cookie holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthCookie<'a> {
    None,
    /// Not a token the shop issues: cleared without asking anyone.
    Malformed,
    Token(&'a str),
}

impl AuthCookie<'_> {
    pub fn read(header: Option<&str>) -> AuthCookie<'_> {
        match cookie(header, AUTH_COOKIE) {
            None => AuthCookie::None,
            Some(v) if is_token(v) => AuthCookie::Token(v),
            Some(_) => AuthCookie::Malformed,
        }
    }
}

/// The name of the cookie a `Set-Cookie` value sets.
pub fn set_cookie_name(value: &str) -> &str {
    value.split_once('=').map_or(value, |(name, _)| name.trim())
}

/// A fresh 128-bit random token as 32 lowercase hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the host's random source");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut token = String::with_capacity(32);
    for b in bytes {
        token.push(char::from(HEX[usize::from(b >> 4)]));
        token.push(char::from(HEX[usize::from(b & 15)]));
    }
    token
}

/// Exactly 32 lowercase hex digits: the only shape the shop ever issues.
pub fn is_token(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The first value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// `HttpOnly` so page scripts (there are none, but injected ones could be) can't read it;
/// `SameSite=Lax` so other sites' forms don't carry it on POST.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Max-Age={MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// Tells the browser to forget a cookie (same attributes, so it matches the one set).
pub fn clear_cookie(name: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> String {
        let mut n = 0u8;
        move || {
            n += 1;
            format!("{n:032x}")
        }
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn existing_valid_cookies_are_kept_without_set_cookie() {
        let header = format!("theme=dark; sid={A}; csrf={B}");
        let s = Session::from_cookie_header(Some(&header), false, counter());
        assert_eq!((s.id.as_str(), s.csrf.as_str()), (A, B));
        assert!(s.set_cookies.is_empty());
    }

    #[test]
    fn missing_or_invalid_session_is_replaced_with_both_cookies() {
        for header in [None, Some("sid=../../etc"), Some("sid=0123456789ABCDEF0123456789ABCDEF"), Some("sid=")] {
            let s = Session::from_cookie_header(header, true, counter());
            assert!(is_token(&s.id) && is_token(&s.csrf) && s.id != s.csrf);
            assert_eq!(s.set_cookies.len(), 2);
            assert!(s.set_cookies[0].starts_with(&format!("sid={}", s.id)));
            assert!(s.set_cookies.iter().all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")
                && c.contains("Path=/") && c.ends_with("; Secure")));
        }
    }

    #[test]
    fn a_missing_csrf_secret_is_minted_for_the_existing_session() {
        let s = Session::from_cookie_header(Some(&format!("sid={A}")), false, counter());
        assert_eq!(s.id, A);
        assert_eq!(s.set_cookies.len(), 1);
        assert!(s.set_cookies[0].starts_with("csrf=") && !s.set_cookies[0].contains("Secure"));
    }

    #[test]
    fn random_tokens_have_the_issued_shape() {
        let (a, b) = (random_token(), random_token());
        assert!(is_token(&a) && is_token(&b) && a != b);
    }

    #[test]
    fn rotation_mints_a_new_session_and_csrf_secret() {
        let cookies = rotated(true, counter());
        assert_eq!(cookies.len(), 2);
        assert!(cookies[0].starts_with(&format!("sid={:032x};", 1)) && cookies[1].starts_with(&format!("csrf={:032x};", 2)));
        assert!(cookies.iter().all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure")));
        assert_eq!(cookies.iter().map(|c| set_cookie_name(c)).collect::<Vec<_>>(), ["sid", "csrf"]);
    }

    #[test]
    fn the_auth_cookie_is_read_only_in_the_issued_shape_and_cleared_with_the_same_attributes() {
        assert_eq!(AuthCookie::read(Some(&format!("sid={A}; auth={B}"))), AuthCookie::Token(B));
        assert_eq!(AuthCookie::read(Some("auth=admin")), AuthCookie::Malformed);
        assert_eq!(AuthCookie::read(Some(&format!("xauth={B}"))), AuthCookie::None);
        assert_eq!(AuthCookie::read(None), AuthCookie::None);
        assert_eq!(clear_cookie(AUTH_COOKIE, false), "auth=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
        assert!(clear_cookie(AUTH_COOKIE, true).ends_with("; Secure"));
        assert_eq!(set_cookie_name(&clear_cookie(AUTH_COOKIE, false)), "auth");
    }

    #[test]
    fn an_accounts_cart_key_is_never_taken_as_a_session_id() {
        let key = shop_domain::account::AccountId::from_random([7; 16]).cart_key();
        assert!(!is_token(key.as_str()));
        let s = Session::from_cookie_header(Some(&format!("sid={key}; csrf={B}")), false, counter());
        assert!(s.id != key.as_str() && s.set_cookies.len() == 2, "replaced like any malformed sid");
    }

    #[test]
    fn cookie_lookup_matches_whole_names() {
        assert_eq!(cookie(Some("xsid=1; sid=2"), "sid"), Some("2"));
        assert_eq!(cookie(Some("sid"), "sid"), None);
        assert_eq!(cookie(None, "sid"), None);
    }
}
