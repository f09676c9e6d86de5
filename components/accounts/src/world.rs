//! What the pure core is handed: the time, random bytes, and the SHA-256 that names a secret
//! in the store without keeping it.
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use shop_contract::ShopError;
use shop_domain::codes::hex_lower;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// 16 bytes from the host's secure random source (`wasi:random`).
pub fn random16() -> Result<[u8; 16], ShopError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        shop_spin::log::error(&format!("no random bytes: {e}"));
        ShopError::unavailable("The service cannot make a secure token right now; try again in a moment")
    })?;
    Ok(bytes)
}

/// SHA-256 of `text`, as 64 lowercase hex digits: how the store names a session token, an
/// email or a client address without holding it.
pub fn sha256_hex(text: &str) -> String {
    hex_lower(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_text() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random16().unwrap(), random16().unwrap());
    }
}
