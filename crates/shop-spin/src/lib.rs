//! The Spin glue every shop component shares, kept thin: domain rules live in `shop-domain`.
//!
//! - [`serve`]: answers the contract's operations (JSON in, JSON or error envelope out, one log line).
//! - [`rpc`]: calls another service's operation over HTTP (service chaining or cluster DNS).
//! - [`config`]: Spin variables with errors a person can act on.
//! - [`store`]: opening Postgres and Redis, schema migrations.
//! - [`log`]: structured JSON log lines on stdout, each naming its request's trace id.
//! - [`trace`]: W3C Trace Context: reading, minting and passing on `traceparent` / `tracestate`.
pub mod config;
pub mod json;
pub mod log;
pub mod rpc;
pub mod serve;
pub mod store;
pub mod trace;
pub mod wire;

pub use shop_contract::{ErrorCode, FieldError, ShopError};
