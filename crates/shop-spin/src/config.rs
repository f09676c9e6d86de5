//! Spin variables. A missing value is an operator mistake: it is answered as 503 and logged.
//!
//! Each variable is asked of the host once per request: Spin resolves a variable on every `get`
//! (template expansion, then its providers), and a request may need one several times (checkout
//! calls five services with one internal token, which its own caller's check read already).
//! What was read is forgotten when the next request starts (`serve`), so a value changed at the
//! provider is seen by the next request, as without the cache.
use std::cell::RefCell;

use shop_contract::ShopError;

thread_local! {
    /// The variables the current request has read, by name.
    static READ: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Reads a component variable.
pub fn var(name: &str) -> Result<String, ShopError> {
    cached(name, spin_sdk::variables::get).map_err(|e| {
        crate::log::error(&format!("variable `{name}` is not available: {e}"));
        ShopError::unavailable("The service is not configured; try again in a moment")
    })
}

/// Reads a component variable that may be absent or empty.
pub fn optional_var(name: &str) -> Option<String> {
    cached(name, spin_sdk::variables::get).ok().filter(|v| !v.is_empty())
}

/// `name`'s value as read earlier in this request, or else from `read` (a failure is not kept:
/// it is asked again next time).
fn cached<E>(name: &str, read: impl FnOnce(&str) -> Result<String, E>) -> Result<String, E> {
    if let Some(value) = READ.with(|r| r.borrow().iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())) {
        return Ok(value);
    }
    let value = read(name)?;
    READ.with(|r| r.borrow_mut().push((name.to_string(), value.clone())));
    Ok(value)
}

/// Forgets the variables read so far: called as a request starts.
pub(crate) fn forget_variables() {
    READ.with(|r| r.borrow_mut().clear());
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_variable_is_read_once_a_request() {
        forget_variables();
        let reads = Cell::new(0);
        let read = |name: &str| -> Result<String, String> {
            reads.set(reads.get() + 1);
            Ok(format!("value of {name}"))
        };
        assert_eq!(cached("internal_token", read), Ok("value of internal_token".to_string()));
        assert_eq!(cached("internal_token", read), Ok("value of internal_token".to_string()));
        assert_eq!(cached("carts_url", read), Ok("value of carts_url".to_string()));
        assert_eq!(reads.get(), 2);
        // A failure is not kept.
        assert_eq!(cached("missing", |_| Err::<String, _>("no such variable")), Err("no such variable"));
        assert_eq!(cached("missing", read), Ok("value of missing".to_string()));
        assert_eq!(reads.get(), 3);
        // The next request reads again.
        forget_variables();
        assert_eq!(cached("internal_token", read), Ok("value of internal_token".to_string()));
        assert_eq!(reads.get(), 4);
    }
}
