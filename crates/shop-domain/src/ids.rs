//! Identifiers for payments, shipments, sessions and idempotent requests.
//!
//! The core has no random number generator: callers pass random bytes (e.g. from
//! `uuid::Uuid::new_v4().as_bytes()` or a WASI random source) to `from_random`, and
//! every identifier read back from a request or a database goes through `parse`.

use crate::codes::{crockford12, hex_lower, parse_prefixed_crockford};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why an identifier was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Blank input.
    #[error("{kind} is missing")]
    Missing {
        /// What kind of identifier, e.g. `"Order number"`.
        kind: &'static str,
    },
    /// Wrong format.
    #[error("{kind} is not valid")]
    Invalid {
        /// What kind of identifier.
        kind: &'static str,
    },
}

/// Implements the string plumbing (Display, AsRef, FromStr, serde via String) shared by all id newtypes.
macro_rules! string_id_impls {
    ($name:ident) => {
        impl $name {
            /// The canonical text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}
pub(crate) use string_id_impls;

/// Parses `PREFIX` + 12 Crockford base32 characters (case-insensitive) for the given id kind.
pub(crate) fn parse_code(input: &str, prefix: &str, kind: &'static str) -> Result<String, IdError> {
    if input.trim().is_empty() {
        return Err(IdError::Missing { kind });
    }
    parse_prefixed_crockford(input, prefix).ok_or(IdError::Invalid { kind })
}

/// A payment transaction reference: `txn_` + 32 lowercase hex characters (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TransactionId(String);

impl TransactionId {
    const PREFIX: &'static str = "txn_";
    const KIND: &'static str = "Transaction id";

    /// Builds an id from 16 random bytes (e.g. a v4 UUID's bytes).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(format!("{}{}", Self::PREFIX, hex_lower(&bytes)))
    }

    /// Validates `txn_` + 32 hex characters (any case; stored lowercase).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let text = input.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err(IdError::Missing { kind: Self::KIND });
        }
        let valid = text
            .strip_prefix(Self::PREFIX)
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if valid {
            Ok(Self(text))
        } else {
            Err(IdError::Invalid { kind: Self::KIND })
        }
    }
}
string_id_impls!(TransactionId);

/// A shipment tracking number: `TRK-` + 12 Crockford base32 characters, easy to read out and type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingId(String);

impl TrackingId {
    const PREFIX: &'static str = "TRK-";
    const KIND: &'static str = "Tracking number";

    /// Builds a tracking number from 8 random bytes (60 bits are used).
    pub fn from_random(bytes: [u8; 8]) -> Self {
        Self(format!("{}{}", Self::PREFIX, crockford12(bytes)))
    }

    /// Validates `TRK-` + 12 Crockford characters (any case; stored uppercase).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_code(input, Self::PREFIX, Self::KIND).map(Self)
    }
}
string_id_impls!(TrackingId);

/// A shopper's session token: 32–64 lowercase hex characters (a UUID with or without hyphens is accepted).
///
/// `Debug` shows only a prefix, because the token is a bearer credential.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    const KIND: &'static str = "Session id";
    /// Fewest hex digits: 128 bits, enough that guessing is hopeless.
    pub const MIN_HEX: usize = 32;
    /// Most hex digits accepted.
    pub const MAX_HEX: usize = 64;

    /// Builds a session id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(hex_lower(&bytes))
    }

    /// Wraps text the caller built as a valid id (lowercase hex, `MIN_HEX..=MAX_HEX` digits),
    /// such as an account's cart key, without parsing it again.
    pub(crate) fn from_valid_hex(hex: String) -> Self {
        debug_assert!(Self::parse(&hex).is_ok_and(|id| id.0 == hex), "not a session id: {hex:?}");
        Self(hex)
    }

    /// Validates and normalises (lowercase, UUID hyphens removed) so the same session always has one key.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(IdError::Missing { kind: Self::KIND });
        }
        let hex: String = if is_hyphenated_uuid(text) {
            text.chars().filter(|c| *c != '-').collect()
        } else {
            text.to_owned()
        };
        let valid = (Self::MIN_HEX..=Self::MAX_HEX).contains(&hex.len())
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if valid {
            Ok(Self(hex.to_ascii_lowercase()))
        } else {
            Err(IdError::Invalid { kind: Self::KIND })
        }
    }
}
string_id_impls!(SessionId);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.0.get(..8).unwrap_or_default())
    }
}

/// `8-4-4-4-12` hex groups separated by hyphens.
fn is_hyphenated_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A client-chosen key that makes retried requests (e.g. "place order") happen at most once:
/// 1–64 characters of `A–Z a–z 0–9 _ -`, case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    const KIND: &'static str = "Idempotency key";
    /// Longest accepted key.
    pub const MAX_LEN: usize = 64;

    /// Validates a key exactly as given (surrounding whitespace, as left by header parsing, is trimmed).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(IdError::Missing { kind: Self::KIND });
        }
        let valid = text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::Invalid { kind: Self::KIND })
        }
    }
}
string_id_impls!(IdempotencyKey);

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES16: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    #[test]
    fn transaction_id_round_trip() {
        let id = TransactionId::from_random(BYTES16);
        assert_eq!(id.as_str(), "txn_00112233445566778899aabbccddeeff");
        assert_eq!(TransactionId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(
            TransactionId::parse(" TXN_00112233445566778899AABBCCDDEEFF "),
            Ok(id)
        );
    }

    #[test]
    fn transaction_id_rejects_bad_input() {
        let kind = "Transaction id";
        assert_eq!(TransactionId::parse(""), Err(IdError::Missing { kind }));
        for bad in [
            "00112233445566778899aabbccddeeff",
            "txn_00112233445566778899aabbccddeef",
            "txn_00112233445566778899aabbccddeeff0",
            "txn_00112233445566778899aabbccddeefg",
            "trk_00112233445566778899aabbccddeeff",
        ] {
            assert_eq!(
                TransactionId::parse(bad),
                Err(IdError::Invalid { kind }),
                "{bad}"
            );
        }
    }

    #[test]
    fn tracking_id_round_trip() {
        let id = TrackingId::from_random([0xFF; 8]);
        assert_eq!(id.as_str(), "TRK-ZZZZZZZZZZZZ");
        assert_eq!(TrackingId::parse("trk-zzzzzzzzzzzz"), Ok(id));
        assert_eq!(
            TrackingId::parse("TRK-ZZZZZZZZZZZI"),
            Err(IdError::Invalid {
                kind: "Tracking number"
            })
        );
        assert_eq!(
            TrackingId::parse(" "),
            Err(IdError::Missing {
                kind: "Tracking number"
            })
        );
    }

    #[test]
    fn generated_ids_always_parse() {
        let mut x = 0xDEAD_BEEF_CAFE_F00D_u64;
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b8 = x.to_be_bytes();
            let mut b16 = [0_u8; 16];
            b16[..8].copy_from_slice(&b8);
            b16[8..].copy_from_slice(&x.rotate_left(17).to_le_bytes());
            let t = TrackingId::from_random(b8);
            assert_eq!(TrackingId::parse(t.as_str()), Ok(t));
            let tx = TransactionId::from_random(b16);
            assert_eq!(TransactionId::parse(tx.as_str()), Ok(tx));
            let s = SessionId::from_random(b16);
            assert_eq!(SessionId::parse(s.as_str()), Ok(s));
        }
    }

    #[test]
    fn session_id_accepts_hex_and_uuid_forms() {
        let plain = SessionId::parse("00112233445566778899AABBCCDDEEFF").unwrap();
        assert_eq!(plain.as_str(), "00112233445566778899aabbccddeeff");
        let uuid = SessionId::parse("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(uuid, plain);
        assert_eq!(SessionId::from_random(BYTES16), plain);
        assert!(SessionId::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn session_id_rejects_short_or_odd_input() {
        let kind = "Session id";
        assert_eq!(SessionId::parse(""), Err(IdError::Missing { kind }));
        for bad in [
            "abc".to_owned(),
            "a".repeat(31),
            "a".repeat(65),
            "g".repeat(32),
            "0011223344-55-6677-8899-aabbccddeeff".to_owned(),
            "00112233-4455-6677-8899-aabbccddeefg".to_owned(),
        ] {
            assert_eq!(
                SessionId::parse(&bad),
                Err(IdError::Invalid { kind }),
                "{bad}"
            );
        }
    }

    #[test]
    fn session_id_debug_is_redacted() {
        let s = SessionId::from_random(BYTES16);
        assert_eq!(format!("{s:?}"), "SessionId(00112233…)");
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(IdempotencyKey::parse("a").unwrap().as_str(), "a");
        assert_eq!(
            IdempotencyKey::parse(" Order_123-abc ").unwrap().as_str(),
            "Order_123-abc"
        );
        assert!(IdempotencyKey::parse(&"k".repeat(64)).is_ok());
        let kind = "Idempotency key";
        assert_eq!(IdempotencyKey::parse(""), Err(IdError::Missing { kind }));
        for bad in [
            "k".repeat(65),
            "has space".into(),
            "semi;colon".into(),
            "ümlaut".into(),
        ] {
            assert_eq!(
                IdempotencyKey::parse(&bad),
                Err(IdError::Invalid { kind }),
                "{bad}"
            );
        }
        assert_ne!(
            IdempotencyKey::parse("abc").unwrap(),
            IdempotencyKey::parse("ABC").unwrap()
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            IdError::Invalid {
                kind: "Order number"
            }
            .to_string(),
            "Order number is not valid"
        );
        assert_eq!(
            IdError::Missing { kind: "Session id" }.to_string(),
            "Session id is missing"
        );
    }

    #[test]
    fn serde_validates() {
        let id: TrackingId = serde_json::from_str(r#""trk-0123456789ab""#).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""TRK-0123456789AB""#);
        assert!(serde_json::from_str::<TrackingId>(r#""TRK-1""#).is_err());
        assert!(serde_json::from_str::<IdempotencyKey>(r#""""#).is_err());
        assert!(serde_json::from_str::<SessionId>(r#""short""#).is_err());
    }
}
