//! The processor's records in Redis (keys under the shop's prefix):
//!
//! - `charge:<idempotency key>` → for 30 days, the idempotency record ([`KeyRecord`]): the
//!   receipt of the charge made with the key, or `{"closed_at": "<rfc3339>"}` once `settle`
//!   closed the key with no charge made (none can be made with it any more);
//! - `txn:<transaction id>` → the receipt, for 90 days: what refunds look up;
//! - `refund:<transaction id>` → the refund receipt, for 90 days: one refund per charge.
use serde::{de::DeserializeOwned, Serialize};
use shop_contract::payment::{Receipt, RefundReceipt};
use shop_contract::ShopError;
use shop_domain::{IdempotencyKey, TransactionId};
use shop_spin::store::Redis;
use spin_sdk::redis::RedisParameter;

use crate::record::KeyRecord;

/// How long a charge's idempotency key is remembered: 30 days, so that checkout's reconciler,
/// which settles a pending order by its key, finds its charge (or closes the key) long after an
/// outage; an order still unsettled after an hour is already reported stuck.
const CHARGE_KEY_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;
/// How long a transaction can be refunded (and a refund is remembered).
const TRANSACTION_TTL_SECONDS: i64 = 90 * 24 * 60 * 60;

pub struct Ledger {
    redis: Redis,
}

impl Ledger {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Ledger {
            redis: Redis::open()?,
        })
    }

    /// What `key` holds: the charge made with it, its closed marker, or nothing yet.
    pub fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, ShopError> {
        let name = format!("charge:{key}");
        let Some(bytes) = self.redis.get(&self.redis.key(&name))? else {
            return Ok(None);
        };
        KeyRecord::decode(&bytes).map(Some).map_err(|e| unreadable(&name, &e))
    }

    /// Records `receipt` as the charge for `key`, unless the key holds something already (false:
    /// another charge got there first, or the key was closed).
    pub fn claim_charge(&self, key: &IdempotencyKey, receipt: &Receipt) -> Result<bool, ShopError> {
        self.claim_key(key, &KeyRecord::Charged(receipt.clone()))
    }

    /// Closes `key` (no charge can be made with it), unless it holds something already (false).
    pub fn close_key(&self, key: &IdempotencyKey, closed_at: &str) -> Result<bool, ShopError> {
        self.claim_key(key, &KeyRecord::Closed { closed_at: closed_at.to_string() })
    }

    /// `SET charge:<key> <record> NX EX 2592000`: charges and closes race on this one command.
    fn claim_key(&self, key: &IdempotencyKey, record: &KeyRecord) -> Result<bool, ShopError> {
        let name = self.redis.key(&format!("charge:{key}"));
        self.redis
            .set_nx(&name, &record.encode(), Some(CHARGE_KEY_TTL_SECONDS))
    }

    /// The receipt of a transaction, if it exists.
    pub fn transaction(&self, id: &TransactionId) -> Result<Option<Receipt>, ShopError> {
        self.read(&format!("txn:{id}"))
    }

    /// Stores (or re-stores) a transaction so it can be refunded.
    pub fn save_transaction(&self, receipt: &Receipt) -> Result<(), ShopError> {
        let name = self.redis.key(&format!("txn:{}", receipt.transaction_id));
        self.redis
            .exec(
                "SET",
                &[
                    RedisParameter::Binary(name.into_bytes()),
                    RedisParameter::Binary(encode(receipt)),
                    RedisParameter::Binary(b"EX".to_vec()),
                    RedisParameter::Int64(TRANSACTION_TTL_SECONDS),
                ],
            )
            .map(|_| ())
    }

    /// Removes a transaction that lost the race for its idempotency key (it never happened).
    pub fn forget_transaction(&self, id: &str) {
        let name = self.redis.key(&format!("txn:{id}"));
        if let Err(e) = self.redis.conn.del(&[name]) {
            shop_spin::log::error(&format!("could not remove unused transaction {id}: {e:?}"));
        }
    }

    /// The refund of a transaction, if it was refunded.
    pub fn refund(&self, id: &TransactionId) -> Result<Option<RefundReceipt>, ShopError> {
        self.read(&format!("refund:{id}"))
    }

    /// Records `refund`, unless the transaction was refunded already (false).
    pub fn claim_refund(&self, refund: &RefundReceipt) -> Result<bool, ShopError> {
        let name = self.redis.key(&format!("refund:{}", refund.transaction_id));
        self.redis
            .set_nx(&name, &encode(refund), Some(TRANSACTION_TTL_SECONDS))
    }

    fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ShopError> {
        let Some(bytes) = self.redis.get(&self.redis.key(name))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| unreadable(name, &e.to_string()))
    }
}

/// Logs a stored record that does not parse; the caller sees a 500 (a bug, not an outage).
fn unreadable(name: &str, e: &str) -> ShopError {
    shop_spin::log::error(&format!("payment record `{name}` is unreadable: {e}"));
    ShopError::internal("A stored payment record is unreadable")
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    shop_spin::json::encode(value)
}
