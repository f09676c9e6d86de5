//! The session operations: who is signed in, and signing out. A token that names no live
//! session, whatever it holds, is answered 401 (the frontend then forgets its cookie).
use shop_contract::accounts::{SignedIn, SignedOut, TokenRef};
use shop_contract::ShopError;
use shop_domain::account::{AccountId, SessionToken};

use crate::parse::signed_out;
use crate::session_store::Sessions;
use crate::store::Store;
use crate::world::{now_secs, random16};

/// The session's account; its idle expiry moves (at most once a minute).
pub async fn get_session(req: TokenRef) -> Result<SignedIn, ShopError> {
    let token = SessionToken::parse(&req.token).map_err(|_| signed_out())?;
    let sessions = Sessions::open()?;
    let account_id = sessions.account(&token, now_secs())?.ok_or_else(signed_out)?;
    match Store::open()?.account(&account_id)? {
        Some(found) => Ok(SignedIn { account: found.account, token: token.expose_secret().to_string() }),
        None => {
            sessions.end(&token)?;
            Err(signed_out())
        }
    }
}

/// Ends the session. Idempotent: a session that already ended (or a token that never named
/// one) answers `ended: false`.
pub async fn sign_out(req: TokenRef) -> Result<SignedOut, ShopError> {
    let Ok(token) = SessionToken::parse(&req.token) else {
        return Ok(SignedOut { ended: false });
    };
    Ok(SignedOut { ended: Sessions::open()?.end(&token)? })
}

/// The account `token` is signed in to; 401 when none.
pub fn signed_in(token: &str) -> Result<(AccountId, SessionToken), ShopError> {
    let token = SessionToken::parse(token).map_err(|_| signed_out())?;
    let account = Sessions::open()?.account(&token, now_secs())?.ok_or_else(signed_out)?;
    Ok((account, token))
}

/// Begins a session for `account`; the new token.
pub fn begin(account: &AccountId) -> Result<SessionToken, ShopError> {
    let token = SessionToken::from_random(random16()?);
    Sessions::open()?.begin(account, &token, now_secs())?;
    Ok(token)
}
