//! Spin variables. A missing value is an operator mistake: it is answered as 503 and logged.
use shop_contract::ShopError;

/// Reads a component variable.
pub fn var(name: &str) -> Result<String, ShopError> {
    spin_sdk::variables::get(name).map_err(|e| {
        crate::log::error(&format!("variable `{name}` is not available: {e}"));
        ShopError::unavailable("The service is not configured; try again in a moment")
    })
}

/// Reads a component variable that may be absent or empty.
pub fn optional_var(name: &str) -> Option<String> {
    spin_sdk::variables::get(name).ok().filter(|v| !v.is_empty())
}

/// Checks the `authorization: Bearer <token>` header against the secret `operator_token` variable.
pub fn require_operator(headers_authorization: Option<&str>) -> Result<(), ShopError> {
    let given = headers_authorization.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    require_token("operator_token", given, "A valid operator token is required")
}

/// Checks the internal token header (`shop_contract::INTERNAL_TOKEN_HEADER`) against the secret
/// `internal_token` variable: only the shop's own services call its internal operations.
pub fn require_internal(header: Option<&str>) -> Result<(), ShopError> {
    require_token(
        "internal_token",
        header.unwrap_or(""),
        "This operation is internal to the shop: only the shop's own services may call it",
    )
}

fn require_token(variable: &str, given: &str, refusal: &str) -> Result<(), ShopError> {
    let expected = var(variable)?;
    if !expected.is_empty() && constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ShopError::unauthorized(refusal))
    }
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
