//! Host implementations of the Spin interfaces: Postgres, Redis and variables.

pub mod postgres;
pub mod redis;
pub mod variables;
