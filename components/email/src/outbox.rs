//! The outbox in Redis (keys under the shop's prefix):
//!
//! - `outbox`: a list of sent emails (JSON), newest first, trimmed to the newest [`KEEP`];
//! - `email:<order id>` → the email sent for that order, for 30 days: at most one per order.
use shop_contract::email::SentEmail;
use shop_contract::ShopError;
use shop_domain::OrderId;
use shop_spin::store::Redis;
use spin_sdk::redis::{RedisParameter, RedisResult};

/// Emails kept in the outbox.
const KEEP: i64 = 1000;
/// How long an order's email is remembered (repeats within it are not sent again).
const SENT_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;

pub struct Outbox {
    redis: Redis,
}

impl Outbox {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Outbox {
            redis: Redis::open()?,
        })
    }

    /// The email already sent for `order`, if any.
    pub fn sent_for(&self, order: &OrderId) -> Result<Option<SentEmail>, ShopError> {
        match self.redis.get(&self.sent_key(order))? {
            None => Ok(None),
            Some(bytes) => decode(&bytes).map(Some),
        }
    }

    /// Records `email` as the one for `order` and puts it in the outbox, unless an email for the
    /// order was recorded first (false: nothing is pushed).
    pub fn put(&self, order: &OrderId, email: &SentEmail) -> Result<bool, ShopError> {
        let json = shop_spin::json::encode(email);
        let sent_key = self.sent_key(order);
        if !self
            .redis
            .set_nx(&sent_key, &json, Some(SENT_TTL_SECONDS))?
        {
            return Ok(false);
        }
        let list = self.redis.key("outbox");
        let pushed = self
            .redis
            .exec(
                "LPUSH",
                &[
                    RedisParameter::Binary(list.clone().into_bytes()),
                    RedisParameter::Binary(json),
                ],
            )
            .and_then(|_| {
                self.redis.exec(
                    "LTRIM",
                    &[
                        RedisParameter::Binary(list.into_bytes()),
                        RedisParameter::Int64(0),
                        RedisParameter::Int64(KEEP - 1),
                    ],
                )
            });
        if let Err(e) = pushed {
            // Not in the outbox, so not sent: release the claim so a retry sends it.
            if let Err(del) = self.redis.conn.del(&[sent_key]) {
                shop_spin::log::error(&format!(
                    "could not release the email claim for {order}: {del:?}"
                ));
            }
            return Err(e);
        }
        Ok(true)
    }

    /// The newest `limit` emails, newest first.
    pub fn newest(&self, limit: u32) -> Result<Vec<SentEmail>, ShopError> {
        let list = self.redis.key("outbox");
        let replies = self.redis.exec(
            "LRANGE",
            &[
                RedisParameter::Binary(list.into_bytes()),
                RedisParameter::Int64(0),
                RedisParameter::Int64(i64::from(limit) - 1),
            ],
        )?;
        Ok(replies
            .iter()
            .filter_map(|reply| match reply {
                // One unreadable entry must not hide the rest of the outbox.
                RedisResult::Binary(bytes) => decode(bytes).ok(),
                _ => None,
            })
            .collect())
    }

    fn sent_key(&self, order: &OrderId) -> String {
        self.redis.key(&format!("email:{order}"))
    }
}

fn decode(bytes: &[u8]) -> Result<SentEmail, ShopError> {
    serde_json::from_slice(bytes).map_err(|e| {
        shop_spin::log::error(&format!("an outbox entry is unreadable: {e}"));
        ShopError::internal("A stored email is unreadable")
    })
}
