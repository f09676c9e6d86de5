//! Signing up, signing in and changing the password: the operations that see a password.
//!
//! A password lives only in these requests: it is hashed (or checked against a hash) and
//! dropped. Nothing here logs a request body, and no error message repeats a password, a hash
//! or a token (the service's one log line per request carries the error message).
use shop_contract::accounts::{ChangePasswordRequest, Credentials, PasswordChanged, SignedIn};
use shop_contract::ShopError;
use shop_domain::account::{AccountEmail, AccountId, ClientAddr};
use shop_domain::password::Password;
use shop_domain::ErrorCollector;

use crate::hashing::{self, Verified};
use crate::limit_store;
use crate::parse::{self, invalid, invalid_field, signed_out, EMAIL_TAKEN, WRONG_CREDENTIALS};
use crate::session_store::Sessions;
use crate::sessions;
use crate::store::Store;
use crate::world::{now_ms, random16};

/// Creates an account and signs it in. 400 for a bad email or a weak password (before any
/// hashing), 429 when the client signed up too often (counted before the email is looked up:
/// a 409 tells whether an email has an account, and every sign-up costs a hash), 409 when the
/// email has an account.
pub async fn sign_up(req: Credentials) -> Result<SignedIn, ShopError> {
    let (email, password, client) = parse::credentials(&req.email, &req.password, &req.client, true)?;
    limit_store::count_sign_up(&client, now_ms())?;
    let store = Store::open()?;
    if store.email_taken(&email)? {
        return Err(ShopError::conflict(EMAIL_TAKEN));
    }
    let hash = hashing::hash(&password)?;
    let id = AccountId::from_random(random16()?);
    // A concurrent sign-up with the same email may have won meanwhile: nothing is stored then.
    let account = store.insert(&id, &email, &hash)?.ok_or_else(|| ShopError::conflict(EMAIL_TAKEN))?;
    let token = sessions::begin(&id)?;
    Ok(SignedIn { account, token: token.expose_secret().to_string() })
}

/// Signs in. An unknown email and a wrong password get the same answer after the same work (a
/// hash is checked either way); both count towards the sign-in limits, which answer 429 before
/// any password is checked.
pub async fn sign_in(req: Credentials) -> Result<SignedIn, ShopError> {
    let (email, password, client) = parse::credentials(&req.email, &req.password, &req.client, false)?;
    let attempt = limit_store::begin(&email, &client, now_ms())?;
    let store = match Store::open().and_then(|s| s.credentials(&email).map(|found| (s, found))) {
        Ok(found) => found,
        Err(e) => {
            attempt.cancel()?;
            return Err(e);
        }
    };
    let (store, found) = store;
    let verified = match &found {
        Some(account) => hashing::verify(&password, &account.password_hash),
        None => hashing::verify_dummy(&password),
    };
    let (Some(found), Verified::Match { rehash }) = (found, verified) else {
        attempt.failed();
        return Err(ShopError::unauthorized(WRONG_CREDENTIALS));
    };
    attempt.succeeded()?;
    let id = stored_id(&found.account.account_id)?;
    if rehash {
        rehash_password(&store, &id, &password);
    }
    let token = sessions::begin(&id)?;
    Ok(SignedIn { account: found.account, token: token.expose_secret().to_string() })
}

/// Changes the password of the signed-in account, given the current one, and signs out every
/// other session of the account (this one stays). 400 with `current_password` when it is not
/// the current password (counted like a failed sign-in), 401 when the session has ended.
pub async fn change_password(req: ChangePasswordRequest) -> Result<PasswordChanged, ShopError> {
    let mut errors = ErrorCollector::new();
    let current = errors.check("current_password", Password::parse_given(&req.current_password));
    let new = errors.check("new_password", Password::parse_new(&req.new_password, None));
    let client = errors.check("client", ClientAddr::parse(&req.client));
    if new.is_some() && req.new_password == req.current_password {
        errors.push("new_password", "Choose a password other than your current one");
    }
    let (Some(current), Some(new), Some(client)) = (current, new, client) else {
        return Err(invalid(errors));
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }

    let (id, token) = sessions::signed_in(&req.token)?;
    let store = Store::open()?;
    let found = store.account(&id)?.ok_or_else(signed_out)?;
    let email = AccountEmail::parse(&found.account.email).map_err(|_| {
        shop_spin::log::error("a stored account email does not parse");
        ShopError::internal("An account could not be read")
    })?;
    Password::parse_new(&req.new_password, Some(&email)).map_err(|e| invalid_field("new_password", e.to_string()))?;

    let attempt = limit_store::begin(&email, &client, now_ms())?;
    if hashing::verify(&current, &found.password_hash) == Verified::NoMatch {
        attempt.failed();
        return Err(invalid_field("current_password", "This is not your current password"));
    }
    attempt.succeeded()?;
    store.set_password_hash(&id, &hashing::hash(&new)?, true)?;
    let other_sessions_ended = Sessions::open()?.end_others(&id, &token)?;
    Ok(PasswordChanged { other_sessions_ended })
}

/// A stored account id (written by this service, so always valid).
fn stored_id(text: &str) -> Result<AccountId, ShopError> {
    AccountId::parse(text).map_err(|_| {
        shop_spin::log::error("a stored account id does not parse");
        ShopError::internal("An account could not be read")
    })
}

/// Stores the password's hash with today's parameters (the stored one used others). Best
/// effort: the sign-in succeeds either way, and the next one tries again.
fn rehash_password(store: &Store, id: &AccountId, password: &Password) {
    let outcome = hashing::hash(password).and_then(|h| store.set_password_hash(id, &h, false));
    if outcome.is_err() {
        shop_spin::log::error("re-hashing a password with today's parameters failed; the next sign-in tries again");
    }
}
