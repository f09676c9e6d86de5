//! The edge: request fields into the domain's types, every problem named at once (400), and
//! the answers every operation shares.
use shop_contract::{FieldError, ShopError};
use shop_domain::account::{AccountEmail, ClientAddr};
use shop_domain::password::Password;
use shop_domain::ErrorCollector;

/// The one answer to an unknown email and a wrong password alike: nothing tells them apart.
pub use shop_domain::password::WRONG_CREDENTIALS;
/// The answer when a token names no live session (ended, expired, or never issued).
pub const SIGNED_OUT: &str = "You are not signed in (or your session has ended); sign in again.";
/// The answer to a sign-up with a taken email.
pub const EMAIL_TAKEN: &str = "An account with this email address already exists; sign in instead.";

/// 400 listing the collected field errors.
pub fn invalid(errors: ErrorCollector) -> ShopError {
    shop_spin::wire::invalid_fields(errors.into_errors())
}

/// 400 for one field.
pub fn invalid_field(field: &str, message: impl Into<String>) -> ShopError {
    ShopError::invalid_fields(vec![FieldError::new(field, message)])
}

pub fn signed_out() -> ShopError {
    ShopError::unauthorized(SIGNED_OUT)
}

/// The email and client of a sign-up or sign-in, and its password judged by `password`:
/// the new-password policy for a sign-up, only size and characters for a sign-in.
pub fn credentials(
    email: &str,
    password: &str,
    client: &str,
    new_password: bool,
) -> Result<(AccountEmail, Password, ClientAddr), ShopError> {
    let mut errors = ErrorCollector::new();
    let email = errors.check("email", AccountEmail::parse(email));
    let password = if new_password {
        errors.check("password", Password::parse_new(password, email.as_ref()))
    } else {
        errors.check("password", Password::parse_given(password))
    };
    let client = errors.check("client", ClientAddr::parse(client));
    match (email, password, client) {
        (Some(email), Some(password), Some(client)) => Ok((email, password, client)),
        _ => Err(invalid(errors)),
    }
}
