//! The processor's records in Redis (keys under the shop's prefix):
//!
//! - `charge:<idempotency key>` → for 30 days, the idempotency record ([`KeyRecord`]): the
//!   receipt of the charge made with the key, or `{"closed_at": "<rfc3339>"}` once `settle`
//!   closed the key with no charge made (none can be made with it any more);
//! - `txn:<transaction id>` → the receipt, for 90 days: what refunds look up;
//! - `refund:<transaction id>` → the refund receipt, for 90 days: one refund per charge.
//!
//! Each method is one Redis command: a first charge is one script ([`CHARGE`]) that claims the
//! key and writes the transaction together; claims that may find the key taken are
//! `SET ... NX GET`, which answers what holds it.
use serde::{de::DeserializeOwned, Serialize};
use shop_contract::payment::{Receipt, RefundReceipt};
use shop_contract::ShopError;
use shop_domain::{IdempotencyKey, TransactionId};
use shop_spin::store::{text_arg, unexpected_reply, Commands, Redis, Script};
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::record::KeyRecord;

/// How long a charge's idempotency key is remembered: 30 days, so that checkout's reconciler,
/// which settles a pending order by its key, finds its charge (or closes the key) long after an
/// outage; an order still unsettled after an hour is already reported stuck.
const CHARGE_KEY_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;
/// How long a transaction can be refunded (and a refund is remembered).
const TRANSACTION_TTL_SECONDS: i64 = 90 * 24 * 60 * 60;

/// A charge, in one step. `KEYS`: `charge:<key>`, `txn:<id>`; `ARGV`: the key's record, its
/// time to live, the transaction's record, its time to live. When the key holds a record
/// already: `{0, record}` and nothing is written. Otherwise the transaction and the key's record
/// are written (`SET ... EX` each) and `{1}`: a charge whose key is claimed always has its
/// transaction, and a charge that lost its key never wrote one.
pub const CHARGE: Script = Script {
    name: "payment charge",
    lua: r#"
local earlier = redis.call('GET', KEYS[1])
if earlier then return {0, earlier} end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1}
"#,
};

/// What [`Ledger::charge`] found.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// The key was free: the charge and its transaction are recorded.
    Claimed,
    /// The key holds this record already; nothing was written.
    Taken(KeyRecord),
}

pub struct Ledger<R: Commands = Redis> {
    redis: R,
}

impl Ledger {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Ledger {
            redis: Redis::open()?,
        })
    }
}

impl<R: Commands> Ledger<R> {
    /// A ledger on a stand-in for Redis.
    #[cfg(test)]
    pub fn on(redis: R) -> Self {
        Ledger { redis }
    }

    /// The connection back (tests: to read what was recorded).
    #[cfg(test)]
    pub fn into_redis(self) -> R {
        self.redis
    }

    /// What `key` holds: the charge made with it, its closed marker, or nothing yet. `GET`.
    pub fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, ShopError> {
        let name = format!("charge:{key}");
        self.redis
            .get_value(&self.redis.key(&name))?
            .map(|bytes| decode_key_record(&name, &bytes))
            .transpose()
    }

    /// Records `receipt` as the charge for `key`, with its `txn:` record, unless the key holds
    /// something already (another charge got there first, or the key was closed): then that
    /// record, and nothing is written. One `EVAL` ([`CHARGE`]).
    pub fn charge(&self, key: &IdempotencyKey, receipt: &Receipt) -> Result<Claim, ShopError> {
        let name = format!("charge:{key}");
        let keys = [self.redis.key(&name), self.redis.key(&format!("txn:{}", receipt.transaction_id))];
        let args = vec![
            RedisParameter::Binary(KeyRecord::Charged(receipt.clone()).encode()),
            RedisParameter::Int64(CHARGE_KEY_TTL_SECONDS),
            RedisParameter::Binary(encode(receipt)),
            RedisParameter::Int64(TRANSACTION_TTL_SECONDS),
        ];
        let replies = self.redis.eval(&CHARGE, &keys, args)?;
        match replies.as_slice() {
            [RedisResult::Int64(1)] => Ok(Claim::Claimed),
            [RedisResult::Int64(0), RedisResult::Binary(earlier)] => decode_key_record(&name, earlier).map(Claim::Taken),
            other => Err(unexpected_reply("payment charge script", other)),
        }
    }

    /// Closes `key` (no charge can be made with it), unless it holds something already: then
    /// that record, left as it was. `SET charge:<key> <marker> NX GET EX 2592000`: charges and
    /// closes race on the key, and Redis decides.
    pub fn close_key(&self, key: &IdempotencyKey, closed_at: &str) -> Result<Option<KeyRecord>, ShopError> {
        let name = format!("charge:{key}");
        let marker = KeyRecord::Closed { closed_at: closed_at.to_string() };
        self.redis
            .set_nx_get(&self.redis.key(&name), &marker.encode(), Some(CHARGE_KEY_TTL_SECONDS))?
            .map(|bytes| decode_key_record(&name, &bytes))
            .transpose()
    }

    /// Re-creates a charge's `txn:` record if it was lost, so the charge can still be refunded;
    /// an existing record is left as it is. `SET txn:<id> <receipt> NX EX`.
    pub fn heal_transaction(&self, receipt: &Receipt) -> Result<(), ShopError> {
        let name = self.redis.key(&format!("txn:{}", receipt.transaction_id));
        self.redis
            .run(
                "SET",
                &[
                    text_arg(&name),
                    RedisParameter::Binary(encode(receipt)),
                    text_arg("NX"),
                    text_arg("EX"),
                    RedisParameter::Int64(TRANSACTION_TTL_SECONDS),
                ],
            )
            .map(drop)
    }

    /// The receipt of a transaction, if it exists, and then its refund, if it was refunded:
    /// `MGET txn:<id> refund:<id>`.
    pub fn transaction_and_refund(&self, id: &TransactionId) -> Result<(Option<Receipt>, Option<RefundReceipt>), ShopError> {
        let (txn, refund) = (format!("txn:{id}"), format!("refund:{id}"));
        let replies = self.redis.run("MGET", &[text_arg(&self.redis.key(&txn)), text_arg(&self.redis.key(&refund))])?;
        match replies.as_slice() {
            [t, r] => {
                // In this order, as two reads would: no transaction is a 404, whatever else is stored.
                let Some(receipt) = value(&txn, t)? else {
                    return Ok((None, None));
                };
                Ok((Some(receipt), value(&refund, r)?))
            }
            other => Err(unexpected_reply("MGET", other)),
        }
    }

    /// Records `refund`, unless the transaction was refunded already: then that refund, left as
    /// it was. `SET refund:<id> <refund> NX GET EX`.
    pub fn claim_refund(&self, refund: &RefundReceipt) -> Result<Option<RefundReceipt>, ShopError> {
        let name = format!("refund:{}", refund.transaction_id);
        self.redis
            .set_nx_get(&self.redis.key(&name), &encode(refund), Some(TRANSACTION_TTL_SECONDS))?
            .map(|bytes| decode(&name, &bytes))
            .transpose()
    }
}

/// A record of an `MGET` reply: nil is none.
fn value<T: DeserializeOwned>(name: &str, reply: &RedisResult) -> Result<Option<T>, ShopError> {
    match reply {
        RedisResult::Nil => Ok(None),
        RedisResult::Binary(bytes) => decode(name, bytes).map(Some),
        other => Err(unexpected_reply("MGET", std::slice::from_ref(other))),
    }
}

fn decode<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, ShopError> {
    serde_json::from_slice(bytes).map_err(|e| unreadable(name, &e.to_string()))
}

fn decode_key_record(name: &str, bytes: &[u8]) -> Result<KeyRecord, ShopError> {
    KeyRecord::decode(bytes).map_err(|e| unreadable(name, &e))
}

/// Logs a stored record that does not parse; the caller sees a 500 (a bug, not an outage).
fn unreadable(name: &str, e: &str) -> ShopError {
    shop_spin::log::error(&format!("payment record `{name}` is unreadable: {e}"));
    ShopError::internal("A stored payment record is unreadable")
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    shop_spin::json::encode(value)
}
