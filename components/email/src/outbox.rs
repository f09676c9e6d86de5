//! The outbox in Redis (keys under the shop's prefix):
//!
//! - `outbox`: a list of sent emails (JSON), newest first, trimmed to the newest [`KEEP`];
//! - `email:<order id>` → the email sent for that order, for 30 days: at most one per order.
use shop_contract::email::SentEmail;
use shop_contract::ShopError;
use shop_domain::OrderId;
use shop_spin::store::{unexpected_reply, Commands, Redis, Script};
use spin_sdk::redis::{RedisParameter, RedisResult};

/// Emails kept in the outbox.
const KEEP: i64 = 1000;
/// How long an order's email is remembered (repeats within it are not sent again).
const SENT_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;

/// Sends an order's one email, in one step. `KEYS`: `email:<order>`, `outbox`; `ARGV`: the
/// email, its time to live, the last index the outbox keeps (999). When the order's email was
/// sent already: `{0, that email}` and nothing is written. Otherwise `LPUSH` and `LTRIM` of the
/// outbox, then `SET email:<order> ... EX`, and `{1}`. The push is the first write, so a push
/// that fails (the script stops there) claims nothing, and a retry sends the email.
pub const SEND: Script = Script {
    name: "email send",
    lua: r#"
local earlier = redis.call('GET', KEYS[1])
if earlier then return {0, earlier} end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1}
"#,
};

pub struct Outbox<R: Commands = Redis> {
    redis: R,
}

impl Outbox {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Outbox {
            redis: Redis::open()?,
        })
    }
}

impl<R: Commands> Outbox<R> {
    /// An outbox on a stand-in for Redis.
    #[cfg(test)]
    pub fn on(redis: R) -> Self {
        Outbox { redis }
    }

    /// The connection back (tests: to read what was recorded).
    #[cfg(test)]
    pub fn into_redis(self) -> R {
        self.redis
    }

    /// Records `email` as the one for `order` and puts it in the outbox, unless an email for the
    /// order was recorded first: then that one, and nothing is pushed. One `EVAL` ([`SEND`]).
    pub fn send_once(&self, order: &OrderId, email: &SentEmail) -> Result<Option<SentEmail>, ShopError> {
        let keys = [self.sent_key(order), self.redis.key("outbox")];
        let args = vec![
            RedisParameter::Binary(shop_spin::json::encode(email)),
            RedisParameter::Int64(SENT_TTL_SECONDS),
            RedisParameter::Int64(KEEP - 1),
        ];
        let replies = self.redis.eval(&SEND, &keys, args)?;
        match replies.as_slice() {
            [RedisResult::Int64(1)] => Ok(None),
            [RedisResult::Int64(0), RedisResult::Binary(earlier)] => decode(earlier).map(Some),
            other => Err(unexpected_reply("email send script", other)),
        }
    }

    /// The newest `limit` emails, newest first.
    pub fn newest(&self, limit: u32) -> Result<Vec<SentEmail>, ShopError> {
        let list = self.redis.key("outbox");
        let replies = self.redis.run(
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
