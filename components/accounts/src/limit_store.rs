//! Sign-in and sign-up counters in Redis (the schedule is `shop_domain::signin_limit`).
//!
//! One hash per account (`shop:accounts:limit:account:<sha256 of the email>`) and per client
//! (`shop:accounts:limit:client:<sha256 of the IP address>`) for sign-ins, and one per client
//! for sign-ups (`shop:accounts:limit:signup:<sha256 of the IP address>`): `n` attempts counted,
//! `last` when the last counted one began (ms). Hashed names keep emails and addresses out of
//! key listings.
//!
//! An attempt counts itself before the password is checked, with `HINCRBY`, which gives
//! concurrent attempts distinct numbers: a burst of parallel guesses cannot all pass as "the
//! fifth". Past the free attempts, it must also take the turn of the wait that ended,
//! `<counter>:turn:<last>`, with `SET NX`: the attempts of a burst all read the same `last`
//! (none has recorded its own yet), so they all ask for the same turn and one gets it.
//! A refused attempt takes its number back (and gives back a turn it took); a successful
//! sign-in clears the account's count and takes its number back from the client's; a failed one
//! stays counted. Every sign-up that gets past its checks stays counted.
use shop_contract::{ErrorCode, ShopError};
use shop_domain::account::{AccountEmail, ClientAddr};
use shop_domain::signin_limit::{
    refusal_message, sign_up_refusal_message, stricter, Decision, Limit, Turn, PER_ACCOUNT, PER_CLIENT, SIGN_UPS_PER_CLIENT,
};
use shop_spin::store::{text_arg, Redis};
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::world::sha256_hex;

/// The counted sign-in attempt, to settle once the password was checked.
pub struct Attempt {
    redis: Redis,
    account_key: String,
    client_key: String,
}

/// One counter's decision on an attempt, and the turn the attempt took for it, if any.
struct Claim {
    decision: Decision,
    turn: Option<String>,
}

/// Counts a sign-in attempt for `email` from `client` at `now_ms`; 429 (counting nothing) when
/// either has to wait.
pub fn begin(email: &AccountEmail, client: &ClientAddr, now_ms: i64) -> Result<Attempt, ShopError> {
    let redis = Redis::open()?;
    let account_key = redis.key(&format!("accounts:limit:account:{}", sha256_hex(email.as_str())));
    let client_key = redis.key(&format!("accounts:limit:client:{}", sha256_hex(&client.to_string())));
    let attempt = Attempt { redis, account_key, client_key };
    let by_account = claim(&attempt.redis, &attempt.account_key, &PER_ACCOUNT, now_ms)?;
    let by_client = claim(&attempt.redis, &attempt.client_key, &PER_CLIENT, now_ms)?;
    match stricter(by_account.decision, by_client.decision) {
        Decision::Allowed => {
            record(&attempt.redis, &attempt.account_key, now_ms)?;
            record(&attempt.redis, &attempt.client_key, now_ms)?;
            Ok(attempt)
        }
        Decision::Refused { retry_after_seconds } => {
            give_back(&attempt.redis, &attempt.account_key, &PER_ACCOUNT, by_account.turn.as_deref())?;
            give_back(&attempt.redis, &attempt.client_key, &PER_CLIENT, by_client.turn.as_deref())?;
            Err(ShopError::new(ErrorCode::TooManyRequests, refusal_message(retry_after_seconds)))
        }
    }
}

/// Counts a sign-up from `client` at `now_ms`, for good; 429 (counting nothing) when it has to
/// wait.
pub fn count_sign_up(client: &ClientAddr, now_ms: i64) -> Result<(), ShopError> {
    let redis = Redis::open()?;
    let key = redis.key(&format!("accounts:limit:signup:{}", sha256_hex(&client.to_string())));
    let claimed = claim(&redis, &key, &SIGN_UPS_PER_CLIENT, now_ms)?;
    match claimed.decision {
        Decision::Allowed => record(&redis, &key, now_ms),
        Decision::Refused { retry_after_seconds } => {
            give_back(&redis, &key, &SIGN_UPS_PER_CLIENT, claimed.turn.as_deref())?;
            Err(ShopError::new(ErrorCode::TooManyRequests, sign_up_refusal_message(retry_after_seconds)))
        }
    }
}

impl Attempt {
    /// The password was right: the account starts afresh, and the client is not charged.
    pub fn succeeded(self) -> Result<(), ShopError> {
        self.redis.exec("DEL", &[text_arg(&self.account_key)])?;
        give_back(&self.redis, &self.client_key, &PER_CLIENT, None)
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// The password could not be checked (a store failed): the attempt is not counted.
    pub fn cancel(self) -> Result<(), ShopError> {
        give_back(&self.redis, &self.account_key, &PER_ACCOUNT, None)?;
        give_back(&self.redis, &self.client_key, &PER_CLIENT, None)
    }
}

/// Counts one attempt on `key` and decides it, taking the wait's turn when it needs one.
fn claim(redis: &Redis, key: &str, limit: &Limit, now_ms: i64) -> Result<Claim, ShopError> {
    let count = redis.exec_int("HINCRBY", &[text_arg(key), text_arg("n"), RedisParameter::Int64(1)])?;
    let keep = limit.keep_ms(u32::try_from(count).unwrap_or(u32::MAX));
    redis.exec("PEXPIRE", &[text_arg(key), RedisParameter::Int64(keep)])?;
    let last = match redis.exec("HGET", &[text_arg(key), text_arg("last")])?.as_slice() {
        [RedisResult::Binary(b)] => String::from_utf8_lossy(b).parse::<i64>().ok(),
        _ => None,
    };
    let mut turn = None;
    let decision = limit.decide_in_turn(count, last, now_ms, |t: Turn| {
        let name = format!("{key}:turn:{}", t.after_ms);
        // `SET` answers `OK` when it stored the turn, nil when another attempt holds it.
        let reply = redis.exec("SET", &[text_arg(&name), text_arg("1"), text_arg("NX"), text_arg("PX"), RedisParameter::Int64(t.keep_ms)])?;
        let taken = reply.iter().any(|r| matches!(r, RedisResult::Status(s) if s == "OK"));
        if taken {
            turn = Some(name);
        }
        Ok::<_, ShopError>(taken)
    })?;
    Ok(Claim { decision, turn })
}

/// Records that the attempt counted on `key` went ahead at `now_ms`: the next wait runs from it.
fn record(redis: &Redis, key: &str, now_ms: i64) -> Result<(), ShopError> {
    redis.exec("HSET", &[text_arg(key), text_arg("last"), RedisParameter::Int64(now_ms)]).map(drop)
}

/// Uncounts one attempt, and frees the turn it took (the attempt did not go ahead, so the wait
/// is still there for another). The key gets a time to live again: if it had expired
/// meanwhile, `HINCRBY` made a new one without.
fn give_back(redis: &Redis, key: &str, limit: &Limit, turn: Option<&str>) -> Result<(), ShopError> {
    if let Some(turn) = turn {
        redis.exec("DEL", &[text_arg(turn)])?;
    }
    let count = redis.exec_int("HINCRBY", &[text_arg(key), text_arg("n"), RedisParameter::Int64(-1)])?;
    let keep = limit.keep_ms(u32::try_from(count).unwrap_or(0));
    redis.exec("PEXPIRE", &[text_arg(key), RedisParameter::Int64(keep)]).map(drop)
}
