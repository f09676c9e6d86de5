//! One cart in Redis: the hash `cart:<session>` (field = SKU, value = quantity), expiring
//! [`TTL_SECONDS`] after its last change.
//!
//! Each operation is **one** Redis command (merging two carts is two), whatever the cart's size:
//! a read is `HGETALL`, emptying is `DEL`, and every change is a Lua script ([`scripts`]) run with
//! `EVAL`, which checks the cart rules against what is stored, writes, restarts the expiry and
//! answers the cart, all atomically: no other command on the cart runs in between.
use std::rc::Rc;

use shop_contract::ShopError;
use shop_domain::{CartLine, OrderId, Quantity, SessionId, Sku, MAX_LINES};
use shop_spin::store::{text_arg, unexpected_reply, Commands, Redis};
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::lines::{decode_hash, split_flag};

/// An abandoned cart is forgotten a week after its last change.
pub const TTL_SECONDS: i64 = 7 * 24 * 60 * 60;

/// What [`CartStore::add`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Added; the cart's lines now.
    Lines(Vec<CartLine>),
    /// The line held something that is not a quantity and was replaced by the quantity added.
    Repaired(Vec<CartLine>),
    /// Refused: the line would go above 99; what it holds (99 when it holds more).
    ItemLimit(i64),
    /// Refused: the line would hold this many, more than the catalog has left.
    ShortOfStock(i64),
    /// Refused: a new line, and the cart has [`MAX_LINES`] already.
    TooManyLines,
}

pub struct CartStore<R: Commands = Redis> {
    /// Shared by the carts of one request ([`CartStore::sibling`]): one connection.
    redis: Rc<R>,
    key: String,
}

impl CartStore {
    pub fn open(session: &SessionId) -> Result<Self, ShopError> {
        Ok(Self::at(Rc::new(Redis::open()?), session))
    }
}

impl<R: Commands> CartStore<R> {
    /// The cart of `session` on `redis`.
    pub fn at(redis: Rc<R>, session: &SessionId) -> Self {
        let key = redis.key(&format!("cart:{session}"));
        CartStore { redis, key }
    }

    /// Another session's cart, on the same connection.
    pub fn sibling(&self, session: &SessionId) -> Self {
        Self::at(Rc::clone(&self.redis), session)
    }

    /// `HGETALL`: the valid lines sorted by SKU; anything else is logged and skipped.
    pub fn lines(&self) -> Result<Vec<CartLine>, ShopError> {
        let replies = self.redis.run("HGETALL", &[self.key_arg()])?;
        Ok(cart_lines(&replies))
    }

    /// Adds `quantity` of `sku` within the cart rules and the `stock` the catalog has left
    /// ([`scripts::ADD`]): one `EVAL`.
    pub fn add(&self, sku: &Sku, quantity: Quantity, stock: u32) -> Result<Added, ShopError> {
        let args = vec![
            sku_arg(sku),
            RedisParameter::Int64(i64::from(quantity.get())),
            RedisParameter::Int64(i64::from(stock)),
            RedisParameter::Int64(i64::from(Quantity::MAX_VALUE)),
            RedisParameter::Int64(i64::try_from(MAX_LINES).unwrap_or(i64::MAX)),
            RedisParameter::Int64(TTL_SECONDS),
        ];
        let replies = self.redis.eval(&scripts::ADD, &[self.key.clone()], args)?;
        match split_flag(&replies) {
            Some((0, hash)) => Ok(Added::Lines(cart_lines(hash))),
            Some((4, hash)) => Ok(Added::Repaired(cart_lines(hash))),
            Some((1, [RedisResult::Int64(in_cart)])) => Ok(Added::ItemLimit(*in_cart)),
            Some((2, [RedisResult::Int64(wanted)])) => Ok(Added::ShortOfStock(*wanted)),
            Some((3, [])) => Ok(Added::TooManyLines),
            _ => Err(unexpected_reply("cart add script", &replies)),
        }
    }

    /// Sets the quantity of a line the cart holds ([`scripts::SET_QUANTITY`]): the cart's lines
    /// after, or none (nothing written) when it does not hold `sku`. One `EVAL`.
    pub fn set_existing(&self, sku: &Sku, quantity: Quantity) -> Result<Option<Vec<CartLine>>, ShopError> {
        let args = vec![sku_arg(sku), RedisParameter::Int64(i64::from(quantity.get())), RedisParameter::Int64(TTL_SECONDS)];
        let replies = self.redis.eval(&scripts::SET_QUANTITY, &[self.key.clone()], args)?;
        match split_flag(&replies) {
            Some((1, hash)) => Ok(Some(cart_lines(hash))),
            Some((0, [])) => Ok(None),
            _ => Err(unexpected_reply("cart set-quantity script", &replies)),
        }
    }

    /// Removes the line if present ([`scripts::REMOVE_ITEM`]): the cart's lines after. One `EVAL`.
    pub fn remove(&self, sku: &Sku) -> Result<Vec<CartLine>, ShopError> {
        let args = vec![sku_arg(sku), RedisParameter::Int64(TTL_SECONDS)];
        let replies = self.redis.eval(&scripts::REMOVE_ITEM, &[self.key.clone()], args)?;
        self.answered_lines("cart remove script", &replies)
    }

    /// Takes each line's quantity out of the cart ([`scripts::REMOVE_LINES`]), once per `order`
    /// when one is given (marker `cart-removed:<order>`): the cart's lines after. One `EVAL`,
    /// whatever the number of lines.
    pub fn remove_lines(&self, lines: &[CartLine], order: Option<&OrderId>) -> Result<Vec<CartLine>, ShopError> {
        let mut args = Vec::with_capacity(lines.len().saturating_mul(2).saturating_add(2));
        args.push(RedisParameter::Int64(i64::from(Quantity::MAX_VALUE)));
        args.push(RedisParameter::Int64(TTL_SECONDS));
        for line in lines {
            args.push(sku_arg(&line.sku));
            args.push(RedisParameter::Int64(i64::from(line.quantity.get())));
        }
        let mut keys = vec![self.key.clone()];
        keys.extend(order.map(|order| self.redis.key(&format!("cart-removed:{order}"))));
        let replies = self.redis.eval(&scripts::REMOVE_LINES, &keys, args)?;
        self.answered_lines("cart remove-lines script", &replies)
    }

    /// `DEL`: removes every line.
    pub fn clear(&self) -> Result<(), ShopError> {
        self.redis.run("DEL", &[self.key_arg()]).map(drop)
    }

    /// The lines of this cart and of `other`, read together ([`scripts::READ_TWO`]): one `EVAL`.
    pub fn lines_with(&self, other: &CartStore<R>) -> Result<(Vec<CartLine>, Vec<CartLine>), ShopError> {
        let replies = self.redis.eval(&scripts::READ_TWO, &[self.key.clone(), other.key.clone()], Vec::new())?;
        let split = match replies.split_first() {
            Some((RedisResult::Int64(n), rest)) => usize::try_from(*n).ok().filter(|n| *n <= rest.len()).map(|n| rest.split_at(n)),
            _ => None,
        };
        let Some((mine, theirs)) = split else {
            return Err(unexpected_reply("cart read-two script", &replies));
        };
        Ok((cart_lines(mine), cart_lines(theirs)))
    }

    /// Stores `lines` (absolute quantities) in this cart and restarts its expiry when there are
    /// any, then deletes `gone` ([`scripts::MERGE`]): one `EVAL`, so a failure leaves both or
    /// neither done.
    pub fn merge_in(&self, lines: &[CartLine], gone: &CartStore<R>) -> Result<(), ShopError> {
        let mut args = Vec::with_capacity(lines.len().saturating_mul(2).saturating_add(1));
        args.push(RedisParameter::Int64(TTL_SECONDS));
        for line in lines {
            args.push(sku_arg(&line.sku));
            args.push(RedisParameter::Int64(i64::from(line.quantity.get())));
        }
        self.redis.eval(&scripts::MERGE, &[self.key.clone(), gone.key.clone()], args).map(drop)
    }

    /// The lines of a script's answer that is a 1 flag then the cart's hash.
    fn answered_lines(&self, what: &str, replies: &[RedisResult]) -> Result<Vec<CartLine>, ShopError> {
        match split_flag(replies) {
            Some((1, hash)) => Ok(cart_lines(hash)),
            _ => Err(unexpected_reply(what, replies)),
        }
    }

    fn key_arg(&self) -> RedisParameter {
        text_arg(&self.key)
    }
}

/// The valid lines of an `HGETALL` reply, sorted by SKU; anything else is logged and skipped.
fn cart_lines(hash: &[RedisResult]) -> Vec<CartLine> {
    let (lines, skipped) = decode_hash(hash);
    for problem in skipped {
        shop_spin::log::error(&format!("cart data skipped: {problem}"));
    }
    lines
}

fn sku_arg(sku: &Sku) -> RedisParameter {
    text_arg(sku.as_str())
}

/// The Lua scripts of the cart operations. Each names its keys in `KEYS` and takes its values
/// in `ARGV` (so the text never changes and Redis compiles it once), and answers a flat list
/// (Spin flattens nested replies): an integer flag first, then what the flag says, e.g. the
/// cart's `HGETALL` pairs.
pub mod scripts {
    use shop_spin::store::Script;

    /// Shared by the scripts that read a stored quantity: what a value says, as
    /// `lines::stored_quantity` reads it (ASCII white space around an optionally signed
    /// integer that fits 64 bits): `'absent'`, `'valid'` and the quantity (1..`max`), `'high'`
    /// (an integer above `max`), `'low'` (0 or below) or `'garbage'`.
    macro_rules! classify {
        () => {
            r#"
local function classify(v, max)
  if not v then return 'absent', 0 end
  local sign, digits = string.match(v, '^%s*([+-]?)(%d+)%s*$')
  if not digits then return 'garbage', 0 end
  digits = string.gsub(digits, '^0+', '')
  if digits == '' then return 'low', 0 end
  if #digits > 19 or (#digits == 19 and digits > '9223372036854775807') then return 'garbage', 0 end
  if sign == '-' then return 'low', 0 end
  if #digits > 15 then return 'high', 0 end
  local n = tonumber(digits)
  if n > max then return 'high', 0 end
  return 'valid', n
end
"#
        };
    }

    /// Shared by the scripts that answer the cart: a flag, then the cart's `HGETALL` pairs.
    macro_rules! answer {
        () => {
            r#"
local function answer(flag, key)
  local out = {flag}
  for _, x in ipairs(redis.call('HGETALL', key)) do out[#out + 1] = x end
  return out
end
"#
        };
    }

    /// Adds to a line. `KEYS[1]` the cart; `ARGV`: SKU, quantity to add, units the catalog has
    /// left, most of one item (99), most lines (50), time to live.
    ///
    /// - the line holds a quantity: the sum must stay within 99 (else `{1, held}`) and within
    ///   the stock (else `{2, sum}`);
    /// - no such line: the quantity must be within the stock (else `{2, quantity}`) and the
    ///   cart must have fewer than 50 lines (else `{3}`);
    /// - the line holds more than 99 (never written by this script; kept from older code):
    ///   `{1, 99}`;
    /// - the line holds 0 or less, or no number: it is replaced by the quantity (`{4, ...}`,
    ///   which carts logs), with no stock check, as before.
    ///
    /// When it writes: `HSET` the line's new quantity, `EXPIRE`, and `{0 or 4, cart pairs...}`.
    /// A refusal writes nothing. Atomic, so concurrent adds both count and the checks are exact.
    pub const ADD: Script = Script {
        name: "carts add",
        lua: concat!(
            classify!(),
            answer!(),
            r#"
local key, sku = KEYS[1], ARGV[1]
local add, stock, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local max_lines, ttl = tonumber(ARGV[5]), ARGV[6]
local kind, held = classify(redis.call('HGET', key, sku), max)
local flag, total = 0, add
if kind == 'valid' then
  total = held + add
  if total > max then return {1, held} end
  if total > stock then return {2, total} end
elseif kind == 'absent' then
  if add > stock then return {2, add} end
  if redis.call('HLEN', key) >= max_lines then return {3} end
elseif kind == 'high' then
  return {1, max}
else
  flag = 4
end
redis.call('HSET', key, sku, total)
redis.call('EXPIRE', key, ttl)
return answer(flag, key)
"#
        ),
    };

    /// Sets a line the cart holds. `KEYS[1]` the cart; `ARGV`: SKU, quantity, time to live.
    /// `{0}` (nothing written) when the line is not there; else `HSET`, `EXPIRE`, and
    /// `{1, cart pairs...}`.
    pub const SET_QUANTITY: Script = Script {
        name: "carts set_quantity",
        lua: concat!(
            answer!(),
            r#"
local key = KEYS[1]
if redis.call('HEXISTS', key, ARGV[1]) == 0 then return {0} end
redis.call('HSET', key, ARGV[1], ARGV[2])
redis.call('EXPIRE', key, ARGV[3])
return answer(1, key)
"#
        ),
    };

    /// Removes a line if it is there. `KEYS[1]` the cart; `ARGV`: SKU, time to live. `HDEL`,
    /// `EXPIRE` (a no-op once the last line is gone: Redis deletes an empty hash), and
    /// `{1, cart pairs...}`.
    pub const REMOVE_ITEM: Script = Script {
        name: "carts remove_item",
        lua: concat!(
            answer!(),
            r#"
local key = KEYS[1]
redis.call('HDEL', key, ARGV[1])
redis.call('EXPIRE', key, ARGV[2])
return answer(1, key)
"#
        ),
    };

    /// Takes an order's quantities out of the cart. `KEYS[1]` the cart; `ARGV`: most of one item
    /// (99), time to live, then SKU, quantity pairs. For each pair in turn: a line holding more
    /// than the quantity keeps the difference (`HSET`); a line holding it or less goes (`HDEL`),
    /// and so does a line whose value is no quantity of 1..99 (the cart never showed it); a SKU
    /// the cart does not hold is skipped. Other lines stay. Then `EXPIRE` and
    /// `{1, cart pairs...}`. With `KEYS[2]` (the order's marker): only when it sets the marker
    /// (`SET NX`, the cart's time to live), else the cart as it is.
    pub const REMOVE_LINES: Script = Script {
        name: "carts remove_lines",
        lua: concat!(
            classify!(),
            answer!(),
            r#"
local key, max, ttl = KEYS[1], tonumber(ARGV[1]), ARGV[2]
if KEYS[2] and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ttl) then
  return answer(1, key)
end
for i = 3, #ARGV - 1, 2 do
  local sku, take = ARGV[i], tonumber(ARGV[i + 1])
  local kind, held = classify(redis.call('HGET', key, sku), max)
  if kind == 'valid' and held > take then
    redis.call('HSET', key, sku, held - take)
  elseif kind ~= 'absent' then
    redis.call('HDEL', key, sku)
  end
end
redis.call('EXPIRE', key, ttl)
return answer(1, key)
"#
        ),
    };

    /// Reads two carts at once. `KEYS`: the two carts. `{n, first cart's n pair entries...,
    /// second cart's pairs...}`.
    pub const READ_TWO: Script = Script {
        name: "carts read two",
        lua: r#"
local first = redis.call('HGETALL', KEYS[1])
local second = redis.call('HGETALL', KEYS[2])
local out = {#first}
for _, x in ipairs(first) do out[#out + 1] = x end
for _, x in ipairs(second) do out[#out + 1] = x end
return out
"#,
    };

    /// Finishes a merge. `KEYS`: the receiving cart, the cart that goes; `ARGV`: time to live,
    /// then SKU, quantity pairs. When there are pairs: one `HSET` of them all and `EXPIRE` of
    /// the receiving cart. Then `DEL` of the other. Answers 1.
    pub const MERGE: Script = Script {
        name: "carts merge",
        lua: r#"
if #ARGV > 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
redis.call('DEL', KEYS[2])
return 1
"#,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_spin::store::Recorder;

    fn bin(s: &str) -> RedisResult {
        RedisResult::Binary(s.as_bytes().to_vec())
    }

    fn session(c: char) -> SessionId {
        SessionId::parse(&c.to_string().repeat(32)).unwrap()
    }

    fn line(sku: &str, quantity: u32) -> CartLine {
        CartLine { sku: Sku::parse(sku).unwrap(), quantity: Quantity::new(quantity).unwrap() }
    }

    fn store(replies: Vec<Vec<RedisResult>>) -> (Rc<Recorder>, CartStore<Recorder>) {
        let redis = Rc::new(Recorder::new(replies));
        let store = CartStore::at(Rc::clone(&redis), &session('a'));
        (redis, store)
    }

    #[test]
    fn an_add_is_one_eval_with_the_rules_as_arguments() {
        let (redis, cart) = store(vec![vec![RedisResult::Int64(0), bin("KIT-MUG-TEAL"), bin("3")]]);
        let sku = Sku::parse("kit-mug-teal").unwrap();
        let added = cart.add(&sku, Quantity::new(2).unwrap(), 40).unwrap();
        assert_eq!(added, Added::Lines(vec![line("KIT-MUG-TEAL", 3)]));
        let key = format!("test:shop:cart:{}", "a".repeat(32));
        assert_eq!(
            redis.calls(),
            [vec!["EVAL", "<script>", "1", key.as_str(), "KIT-MUG-TEAL", "2", "40", "99", "50", "604800"]]
        );
    }

    #[test]
    fn the_add_scripts_refusals_and_repairs_are_read() {
        let sku = Sku::parse("KIT-MUG-TEAL").unwrap();
        let q = Quantity::new(1).unwrap();
        for (reply, want) in [
            (vec![RedisResult::Int64(1), RedisResult::Int64(98)], Added::ItemLimit(98)),
            (vec![RedisResult::Int64(2), RedisResult::Int64(7)], Added::ShortOfStock(7)),
            (vec![RedisResult::Int64(3)], Added::TooManyLines),
            (vec![RedisResult::Int64(4), bin("KIT-MUG-TEAL"), bin("1")], Added::Repaired(vec![line("KIT-MUG-TEAL", 1)])),
        ] {
            let (redis, cart) = store(vec![reply]);
            assert_eq!(cart.add(&sku, q, 5).unwrap(), want);
            assert_eq!(redis.commands(), ["EVAL"]);
        }
        for odd in [vec![], vec![RedisResult::Int64(1)], vec![RedisResult::Int64(9)], vec![bin("0")], vec![RedisResult::Nil]] {
            let (_, cart) = store(vec![odd.clone()]);
            assert!(cart.add(&sku, q, 5).is_err(), "{odd:?}");
        }
    }

    #[test]
    fn changes_are_one_eval_each_and_merging_is_two() {
        let sku = Sku::parse("APP-TEE-TEAL").unwrap();
        let (redis, cart) = store(vec![vec![RedisResult::Int64(0)], vec![RedisResult::Int64(1), bin("APP-TEE-TEAL"), bin("4")]]);
        assert_eq!(cart.set_existing(&sku, Quantity::new(4).unwrap()).unwrap(), None);
        assert_eq!(cart.set_existing(&sku, Quantity::new(4).unwrap()).unwrap(), Some(vec![line("APP-TEE-TEAL", 4)]));
        assert_eq!(redis.commands(), ["EVAL", "EVAL"]);

        let (redis, cart) = store(vec![vec![RedisResult::Int64(1)]]);
        assert_eq!(cart.remove(&sku).unwrap(), vec![]);
        assert_eq!(redis.commands(), ["EVAL"]);

        let (redis, cart) = store(vec![vec![RedisResult::Int64(1), bin("KIT-MUG-TEAL"), bin("1")]]);
        let lines: Vec<CartLine> = (0..20).map(|i| line(&format!("SKU-{i}"), 2)).collect();
        assert_eq!(cart.remove_lines(&lines, None).unwrap(), vec![line("KIT-MUG-TEAL", 1)]);
        let calls = redis.calls();
        assert_eq!(calls.len(), 1, "one command for 20 lines");
        let key = format!("test:shop:cart:{}", "a".repeat(32));
        assert_eq!(calls[0][..6], ["EVAL", "<script>", "1", key.as_str(), "99", "604800"]);
        assert_eq!(calls[0][6..], lines.iter().flat_map(|l| [l.sku.to_string(), "2".to_string()]).collect::<Vec<_>>()[..]);
        // Once per order: the order's marker is the script's second key.
        let (redis, cart) = store(vec![vec![RedisResult::Int64(1)]]);
        let order = OrderId::parse("ORD-0123456789AB").unwrap();
        assert_eq!(cart.remove_lines(&lines, Some(&order)).unwrap(), vec![]);
        assert_eq!(redis.calls()[0][2..5], ["2", key.as_str(), "test:shop:cart-removed:ORD-0123456789AB"]);

        let (redis, into) = store(vec![
            vec![RedisResult::Int64(2), bin("APP-TEE-TEAL"), bin("1"), bin("KIT-MUG-TEAL"), bin("2")],
            vec![RedisResult::Int64(1)],
        ]);
        let from = into.sibling(&session('b'));
        let (mine, theirs) = into.lines_with(&from).unwrap();
        assert_eq!((mine, theirs), (vec![line("APP-TEE-TEAL", 1)], vec![line("KIT-MUG-TEAL", 2)]));
        into.merge_in(&[line("KIT-MUG-TEAL", 2)], &from).unwrap();
        assert_eq!(redis.commands(), ["EVAL", "EVAL"]);
        let merge = &redis.calls()[1];
        assert_eq!(merge[2..], ["2", into.key.as_str(), from.key.as_str(), "604800", "KIT-MUG-TEAL", "2"]);
    }

    #[test]
    fn a_read_of_two_carts_checks_its_count() {
        for odd in [vec![], vec![RedisResult::Int64(3), bin("A"), bin("1")], vec![RedisResult::Int64(-1)], vec![bin("x")]] {
            let (_, into) = store(vec![odd.clone()]);
            let from = into.sibling(&session('b'));
            assert!(into.lines_with(&from).is_err(), "{odd:?}");
        }
        let (_, into) = store(vec![vec![RedisResult::Int64(0)]]);
        let from = into.sibling(&session('b'));
        assert_eq!(into.lines_with(&from).unwrap(), (vec![], vec![]));
    }

    #[test]
    fn scripts_name_their_keys_and_keep_their_text_fixed() {
        for script in [scripts::ADD, scripts::SET_QUANTITY, scripts::REMOVE_ITEM, scripts::REMOVE_LINES, scripts::READ_TWO, scripts::MERGE] {
            // Keys come in KEYS; no key is built inside a script (they would be unknown to Redis).
            assert!(!script.lua.contains("shop:") && !script.lua.contains(".."), "{}", script.name);
            // Nothing returns a Lua table with a nil inside or a boolean: Spin would cut or change it.
            assert!(!script.lua.contains("return nil") && !script.lua.contains("return false"), "{}", script.name);
        }
    }
}
