//! What an idempotency key's record (`charge:<key>`) holds, parsed at the edge: the charge made
//! with the key, or a marker saying the key was closed (by `settle`) before any charge was made
//! with it. Pure, so it is tested natively.
use serde::{Deserialize, Serialize};
use shop_contract::payment::Receipt;
use shop_contract::ShopError;

/// The record at `charge:<key>`.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRecord {
    /// The charge made with the key; stored as the bare receipt (the format charges always had).
    Charged(Receipt),
    /// No charge was made with the key, and none ever will be: stored as `{"closed_at": "<rfc3339>"}`.
    Closed { closed_at: String },
}

/// The closed marker on the wire.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClosedMarker {
    closed_at: String,
}

impl KeyRecord {
    /// Parses a stored record. Anything with a `closed_at` field is a closed marker (and must be
    /// exactly one); everything else must be a receipt.
    pub fn decode(bytes: &[u8]) -> Result<KeyRecord, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if value.get("closed_at").is_some() {
            let marker: ClosedMarker = serde_json::from_value(value).map_err(|e| format!("closed marker: {e}"))?;
            return Ok(KeyRecord::Closed { closed_at: marker.closed_at });
        }
        serde_json::from_value(value).map(KeyRecord::Charged).map_err(|e| format!("receipt: {e}"))
    }

    /// The stored form (see [`KeyRecord::decode`]).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            KeyRecord::Charged(receipt) => shop_spin::json::encode(receipt),
            KeyRecord::Closed { closed_at } => shop_spin::json::encode(&ClosedMarker { closed_at: closed_at.clone() }),
        }
    }
}

/// What `charge` answers for a key that was closed: nothing was, or will be, charged with it.
pub fn closed_key_error() -> ShopError {
    ShopError::conflict(
        "This payment was cancelled before it was made, so nothing was charged.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_contract::{ErrorCode, Money};

    fn receipt() -> Receipt {
        Receipt {
            transaction_id: "txn_00112233445566778899aabbccddeeff".into(),
            amount: Money { minor: 1999, currency: "USD".into() },
            card_brand: "Visa".into(),
            card_last4: "4242".into(),
        }
    }

    #[test]
    fn receipts_written_by_earlier_code_stay_readable() {
        let stored = br#"{"transaction_id":"txn_00112233445566778899aabbccddeeff","amount":{"minor":1999,"currency":"USD"},"card_brand":"Visa","card_last4":"4242"}"#;
        assert_eq!(KeyRecord::decode(stored), Ok(KeyRecord::Charged(receipt())));
        // And a charge is still stored as the bare receipt.
        assert_eq!(KeyRecord::Charged(receipt()).encode(), shop_spin::json::encode(&receipt()));
    }

    #[test]
    fn a_closed_marker_round_trips() {
        let closed = KeyRecord::Closed { closed_at: "2030-01-02T03:04:05.678Z".into() };
        let bytes = closed.encode();
        assert_eq!(bytes, br#"{"closed_at":"2030-01-02T03:04:05.678Z"}"#.to_vec());
        assert_eq!(KeyRecord::decode(&bytes), Ok(closed));
    }

    #[test]
    fn unreadable_records_are_errors() {
        for bad in [
            &b""[..],
            b"not json",
            b"{}",
            b"[]",
            br#"{"closed_at": 5}"#,
            br#"{"closed_at": "2030-01-01T00:00:00Z", "transaction_id": "txn_x"}"#,
            br#"{"transaction_id": "txn_x"}"#,
        ] {
            assert!(KeyRecord::decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_closed_key_refusal_is_a_conflict_in_words() {
        let e = closed_key_error();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.contains("nothing was charged"));
    }
}
