//! One cart in Redis: the hash `cart:<session>` (field = SKU, value = quantity), expiring
//! [`TTL_SECONDS`] after its last change. Every operation is a fixed number of commands,
//! whatever the cart's size.
use std::rc::Rc;

use shop_contract::ShopError;
use shop_domain::{Quantity, SessionId, Sku};
use shop_spin::store::{text_arg, Redis};
use spin_sdk::redis::{RedisParameter, RedisResult};

use crate::lines::{decode_hash, stored_quantity, Stored};
use shop_domain::CartLine;

/// An abandoned cart is forgotten a week after its last change.
pub const TTL_SECONDS: i64 = 7 * 24 * 60 * 60;

pub struct CartStore {
    /// Shared by the carts of one request ([`CartStore::sibling`]): one connection.
    redis: Rc<Redis>,
    key: String,
}

impl CartStore {
    pub fn open(session: &SessionId) -> Result<Self, ShopError> {
        Ok(Self::at(Rc::new(Redis::open()?), session))
    }

    /// Another session's cart, on the same connection.
    pub fn sibling(&self, session: &SessionId) -> Self {
        Self::at(Rc::clone(&self.redis), session)
    }

    fn at(redis: Rc<Redis>, session: &SessionId) -> Self {
        let key = redis.key(&format!("cart:{session}"));
        CartStore { redis, key }
    }

    /// `HGETALL`: the valid lines sorted by SKU; anything else is logged and skipped.
    pub fn lines(&self) -> Result<Vec<CartLine>, ShopError> {
        let replies = self.exec("HGETALL", vec![self.key_arg()])?;
        let (lines, skipped) = decode_hash(&replies);
        for problem in skipped {
            shop_spin::log::error(&format!("cart data skipped: {problem}"));
        }
        Ok(lines)
    }

    /// `HGET`: what is stored for `sku`.
    pub fn quantity(&self, sku: &Sku) -> Result<Stored, ShopError> {
        match self
            .exec("HGET", vec![self.key_arg(), sku_arg(sku)])?
            .as_slice()
        {
            [RedisResult::Nil] => Ok(Stored::Absent),
            [RedisResult::Binary(value)] => Ok(stored_quantity(Some(value))),
            other => Err(unexpected("HGET", other)),
        }
    }

    /// `HLEN`: the number of lines.
    pub fn line_count(&self) -> Result<i64, ShopError> {
        self.int("HLEN", vec![self.key_arg()])
    }

    /// `HEXISTS`.
    pub fn has_line(&self, sku: &Sku) -> Result<bool, ShopError> {
        Ok(self.int("HEXISTS", vec![self.key_arg(), sku_arg(sku)])? == 1)
    }

    /// `HINCRBY`: adds `by` (may be negative) atomically, returning the new value.
    pub fn increment(&self, sku: &Sku, by: i64) -> Result<i64, ShopError> {
        self.int(
            "HINCRBY",
            vec![self.key_arg(), sku_arg(sku), RedisParameter::Int64(by)],
        )
    }

    /// `HSET`: sets the line's quantity.
    pub fn set(&self, sku: &Sku, quantity: Quantity) -> Result<(), ShopError> {
        let value = RedisParameter::Int64(i64::from(quantity.get()));
        self.int("HSET", vec![self.key_arg(), sku_arg(sku), value])
            .map(drop)
    }

    /// `HSET` of several lines at once (nothing when `lines` is empty).
    pub fn set_lines(&self, lines: &[CartLine]) -> Result<(), ShopError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut args = Vec::with_capacity(lines.len().saturating_mul(2).saturating_add(1));
        args.push(self.key_arg());
        for line in lines {
            args.push(sku_arg(&line.sku));
            args.push(RedisParameter::Int64(i64::from(line.quantity.get())));
        }
        self.int("HSET", args).map(drop)
    }

    /// `HDEL`: removes the line if present (Redis deletes the key with its last field).
    pub fn remove(&self, sku: &Sku) -> Result<(), ShopError> {
        self.int("HDEL", vec![self.key_arg(), sku_arg(sku)])
            .map(drop)
    }

    /// `DEL`: removes every line.
    pub fn clear(&self) -> Result<(), ShopError> {
        self.int("DEL", vec![self.key_arg()]).map(drop)
    }

    /// `EXPIRE`: restarts the cart's time to live (a no-op when the cart is empty).
    pub fn touch(&self) -> Result<(), ShopError> {
        self.int(
            "EXPIRE",
            vec![self.key_arg(), RedisParameter::Int64(TTL_SECONDS)],
        )
        .map(drop)
    }

    fn key_arg(&self) -> RedisParameter {
        text_arg(&self.key)
    }

    fn exec(
        &self,
        command: &str,
        args: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, ShopError> {
        self.redis.exec(command, &args)
    }

    fn int(&self, command: &str, args: Vec<RedisParameter>) -> Result<i64, ShopError> {
        self.redis.exec_int(command, &args)
    }
}

fn sku_arg(sku: &Sku) -> RedisParameter {
    text_arg(sku.as_str())
}

fn unexpected(command: &str, reply: &[RedisResult]) -> ShopError {
    shop_spin::log::error(&format!("redis {command} answered unexpectedly: {reply:?}"));
    ShopError::internal("Unexpected answer from the cart store")
}
