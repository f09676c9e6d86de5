//! Strict JSON decoding for requests: clear messages, and unknown fields refused.
//!
//! The contract's types are generated, so they cannot carry `#[serde(deny_unknown_fields)]`;
//! instead the decoded value is re-encoded and any input key it lost is reported.
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use shop_contract::ShopError;

/// Decodes `body` as `T`. An empty body decodes as `{}`.
pub fn decode<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T, ShopError> {
    // Only the two conversions depend on `T`; parsing and the checks are one function each
    // for all request types (one copy in the wasm, not one per operation).
    let value = parse(body)?;
    let decoded: T = serde_json::from_value(value.clone()).map_err(mismatch)?;
    check_known(&value, serde_json::to_value(&decoded))?;
    Ok(decoded)
}

#[inline(never)]
fn parse(body: &[u8]) -> Result<Value, ShopError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ShopError::bad_request("The request body is not valid UTF-8"))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    // Parsed from bytes (UTF-8 checked above): the one JSON reader every component already
    // has for the bodies it receives, so the wasm carries one copy of the parser, not two.
    serde_json::from_slice(text.as_bytes())
        .map_err(|e| ShopError::bad_request(format!("The request body is not valid JSON: {e}")))
}

#[inline(never)]
fn mismatch(e: serde_json::Error) -> ShopError {
    ShopError::bad_request(format!("The request body does not match the API: {e}"))
}

/// Refuses a body with a key the decoded value lost on re-encoding (an unknown field).
#[inline(never)]
fn check_known(value: &Value, reencoded: Result<Value, serde_json::Error>) -> Result<(), ShopError> {
    let reencoded = reencoded.map_err(|e| ShopError::internal(format!("cannot re-encode a request: {e}")))?;
    match unknown_field(value, &reencoded, String::new()) {
        Some(path) => Err(ShopError::bad_request(format!("Unknown field `{path}` in the request body"))),
        None => Ok(()),
    }
}

/// The first key present in `input` but absent from `known`, as a dotted path.
fn unknown_field(input: &Value, known: &Value, at: String) -> Option<String> {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => i.iter().find_map(|(key, v)| {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            match k.get(key) {
                None => Some(path),
                Some(kv) => unknown_field(v, kv, path),
            }
        }),
        (Value::Array(i), Value::Array(k)) => i
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(n, (iv, kv))| unknown_field(iv, kv, format!("{at}[{n}]"))),
        _ => None,
    }
}

/// Encodes a response body; the contract's types always encode.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}
