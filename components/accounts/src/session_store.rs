//! Signed-in sessions in Redis. The token never is stored: its SHA-256 names the record.
//!
//! - `shop:accounts:session:<sha256 of token>`: the [`SessionRecord`], expiring at the session's
//!   idle or absolute end, whichever is first (`shop_domain::account_session`).
//! - `shop:accounts:sessions:<account id>`: a set of the account's token hashes, so a password
//!   change can end every other session. Members of sessions that expired on their own linger
//!   until then; ending them again is harmless.
use shop_contract::ShopError;
use shop_domain::account::{AccountId, SessionToken};
use shop_domain::account_session::{SessionRecord, SessionState, ABSOLUTE_SECONDS};
use shop_spin::store::{text_arg, Redis};
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::world::sha256_hex;

pub struct Sessions {
    redis: Redis,
}

impl Sessions {
    pub fn open() -> Result<Self, ShopError> {
        Ok(Sessions { redis: Redis::open()? })
    }

    fn record_key(&self, token_hash: &str) -> String {
        self.redis.key(&format!("accounts:session:{token_hash}"))
    }

    fn account_key(&self, account: &AccountId) -> String {
        self.redis.key(&format!("accounts:sessions:{account}"))
    }

    /// Begins a session for `account` at `now` (seconds); the token goes to the shopper only.
    pub fn begin(&self, account: &AccountId, token: &SessionToken, now: i64) -> Result<(), ShopError> {
        let hash = sha256_hex(token.expose_secret());
        let record = SessionRecord::begin(account.clone(), now);
        let key = self.record_key(&hash);
        self.redis.exec(
            "SET",
            &[text_arg(&key), text_arg(&record.encode()), text_arg("EX"), RedisParameter::Int64(record.ttl_seconds(now))],
        )?;
        let set = self.account_key(account);
        self.redis.exec("SADD", &[text_arg(&set), text_arg(&hash)])?;
        self.redis.exec("EXPIRE", &[text_arg(&set), RedisParameter::Int64(ABSOLUTE_SECONDS)])?;
        Ok(())
    }

    /// The account of a session that is still on at `now`, recording its use at most once a
    /// minute; `None` when it has ended (and then its record is gone).
    pub fn account(&self, token: &SessionToken, now: i64) -> Result<Option<AccountId>, ShopError> {
        let hash = sha256_hex(token.expose_secret());
        let key = self.record_key(&hash);
        let Some(stored) = self.redis.get(&key)? else {
            return Ok(None);
        };
        let Some(record) = SessionRecord::decode(&String::from_utf8_lossy(&stored)) else {
            shop_spin::log::error("a session record is unreadable; the session is ended");
            self.redis.exec("DEL", &[text_arg(&key)])?;
            return Ok(None);
        };
        match record.state(now) {
            SessionState::Ended => {
                self.forget(&record.account_id, &[hash])?;
                Ok(None)
            }
            SessionState::Active { touch: false, .. } => Ok(Some(record.account_id)),
            SessionState::Active { touch: true, ttl_seconds } => {
                let touched = SessionRecord { last_seen: now, ..record };
                // XX: only if it still exists, so a session ended meanwhile stays ended.
                self.redis.exec(
                    "SET",
                    &[text_arg(&key), text_arg(&touched.encode()), text_arg("XX"), text_arg("EX"), RedisParameter::Int64(ttl_seconds)],
                )?;
                Ok(Some(touched.account_id))
            }
        }
    }

    /// Ends one session; false when it had already ended.
    pub fn end(&self, token: &SessionToken) -> Result<bool, ShopError> {
        let hash = sha256_hex(token.expose_secret());
        let key = self.record_key(&hash);
        let account = self
            .redis
            .get(&key)?
            .and_then(|stored| SessionRecord::decode(&String::from_utf8_lossy(&stored)))
            .map(|r| r.account_id);
        let ended = self.redis.exec_int("DEL", &[text_arg(&key)])? > 0;
        if let Some(account) = account {
            self.redis.exec("SREM", &[text_arg(&self.account_key(&account)), text_arg(&hash)])?;
        }
        Ok(ended)
    }

    /// Ends every session of `account` but `keep`'s; how many were still on.
    pub fn end_others(&self, account: &AccountId, keep: &SessionToken) -> Result<u32, ShopError> {
        let keep = sha256_hex(keep.expose_secret());
        let members = self.redis.exec("SMEMBERS", &[text_arg(&self.account_key(account))])?;
        let others: Vec<String> = members
            .iter()
            .filter_map(|m| match m {
                RedisResult::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .filter(|h| *h != keep)
            .collect();
        self.forget(account, &others)
    }

    /// Deletes the records of these token hashes and drops them from the account's set; how
    /// many records there were.
    fn forget(&self, account: &AccountId, hashes: &[String]) -> Result<u32, ShopError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let keys: Vec<RedisParameter> = hashes.iter().map(|h| text_arg(&self.record_key(h))).collect();
        let ended = self.redis.exec_int("DEL", &keys)?;
        let mut args = vec![text_arg(&self.account_key(account))];
        args.extend(hashes.iter().map(|h| text_arg(h)));
        self.redis.exec("SREM", &args)?;
        Ok(u32::try_from(ended).unwrap_or(0))
    }
}
