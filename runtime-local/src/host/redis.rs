//! `fermyon:spin/redis@2.0.0` on the `redis` crate.
//!
//! Result and error mapping follow Spin 3.x (`crates/factor-outbound-redis/src/host.rs`): a denied
//! or unparseable address is `invalid-address`, connection failures and command errors are
//! `other(<redis error text>)`, `sadd` maps redis type errors to `type-error`, and `execute`
//! flattens replies into `nil | status | int64 | binary`.
//!
//! Unlike Spin (a new multiplexed connection per `open`), runtime-local shares one
//! auto-reconnecting [`redis::aio::ConnectionManager`] per address across requests; guests cannot
//! observe the difference (commands are independent; no `SELECT`/`MULTI` state leaks because
//! each guest call is a single command).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, RedisResult as RResult, Value};
use tokio::sync::Mutex;
use wasmtime::component::Resource;

use crate::bindings::redis::{self as r, Error, RedisParameter, RedisResult};
use crate::state::StoreState;

/// Spin's per-instance cap on open connections.
const MAX_CONNECTIONS: u32 = 1024;
/// Spin's `MAX_HOST_BUFFERED_BYTES`.
const MAX_RESULT_BYTES: usize = 128 << 20;

/// The host-side value behind a guest `connection` resource.
pub struct RedisConnection {
    conn: ConnectionManager,
}

/// Connections shared by all requests of an app, keyed by address.
#[derive(Default)]
pub struct RedisClients {
    managers: Mutex<HashMap<String, ConnectionManager>>,
}

impl RedisClients {
    async fn get(&self, address: &str, timeout: Duration) -> Result<ConnectionManager, Error> {
        let mut managers = self.managers.lock().await;
        if let Some(m) = managers.get(address) {
            return Ok(m.clone());
        }
        if address.starts_with("rediss:") {
            // Spin verifies the server with native-tls; runtime-local ships no TLS stack (as for
            // Postgres), so say so instead of redis-rs's "feature not enabled" parse error.
            return Err(Error::Other(
                "runtime-local supports only unencrypted Redis connections: use a redis:// URL (got rediss://)".into(),
            ));
        }
        let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1);
        let m = match tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config)).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(other(e)),
            Err(_) => return Err(Error::Other(format!("timed out after {timeout:?} connecting to Redis"))),
        };
        managers.insert(address.to_string(), m.clone());
        Ok(m)
    }
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

impl StoreState {
    fn redis_conn(&self, c: &Resource<RedisConnection>) -> Result<ConnectionManager, Error> {
        self.table
            .get(c)
            .map(|c| c.conn.clone())
            .map_err(|_| Error::Other("could not find connection for resource".into()))
    }

    /// Runs one command with the backend timeout; logs its round trip at debug level.
    fn redis_run<T: FromRedisValue>(
        &self,
        c: &Resource<RedisConnection>,
        name: &str,
        cmd: redis::Cmd,
    ) -> impl std::future::Future<Output = Result<RResult<T>, Error>> + Send + 'static {
        let conn = self.redis_conn(c);
        let timeout = self.app.limits.backend_timeout;
        let component = self.component.id.clone();
        let name = name.to_string();
        async move {
            let mut conn = conn?;
            let started = Instant::now();
            let r = match tokio::time::timeout(timeout, cmd.query_async::<T>(&mut conn)).await {
                Ok(r) => r,
                Err(_) => return Err(Error::Other(format!("Redis command {name} timed out after {timeout:?}"))),
            };
            tracing::debug!(
                %component, command = %name, ok = r.is_ok(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "redis"
            );
            Ok(r)
        }
    }
}

impl r::Host for StoreState {}

impl r::HostConnection for StoreState {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<RedisConnection>, Error>> {
        // Spin's `#[instrument(name = "spin_outbound_redis.open_connection", fields(otel.kind =
        // "client", db.system = "redis", db.address, server.port, db.namespace))]` (factor-outbound-redis
        // host.rs); Spin declares the address fields but never records them for Redis.
        let _span = self.span.as_ref().map(|p| p.db_child("spin_outbound_redis.open_connection", None, "redis"));
        if !self.component.allowed_hosts.check_url(&address, "redis") {
            return Ok(Err(Error::InvalidAddress));
        }
        if self.redis_connections >= MAX_CONNECTIONS {
            return Ok(Err(Error::TooManyConnections));
        }
        let conn = match self.app.redis.get(&address, self.app.limits.backend_timeout).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        match self.table.push(RedisConnection { conn }) {
            Ok(res) => {
                self.redis_connections += 1;
                Ok(Ok(res))
            }
            Err(_) => Ok(Err(Error::TooManyConnections)),
        }
    }

    async fn publish(&mut self, c: Resource<RedisConnection>, channel: String, payload: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.publish", Some(format!("PUBLISH {channel}")), "redis");
            s.set("channel", channel.as_str());
            s
        });
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&channel).arg(&payload);
        Ok(match self.redis_run::<Value>(&c, "PUBLISH", cmd).await {
            Ok(r) => r.map(|_| ()).map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn get(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.get", Some(format!("GET {key}")), "redis");
            s.set("key", key.as_str());
            s
        });
        let mut cmd = redis::cmd("GET");
        cmd.arg(&key);
        Ok(match self.redis_run::<Option<Vec<u8>>>(&c, "GET", cmd).await {
            Ok(Ok(v)) if v.as_ref().map_or(0, |v| v.len()) > MAX_RESULT_BYTES => {
                Err(Error::Other(format!("query result exceeds limit of {MAX_RESULT_BYTES} bytes")))
            }
            Ok(r) => r.map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn set(&mut self, c: Resource<RedisConnection>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.set", Some(format!("SET {key}")), "redis");
            s.set("key", key.as_str());
            s
        });
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(&value);
        Ok(match self.redis_run::<()>(&c, "SET", cmd).await {
            Ok(r) => r.map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<i64, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.incr", Some(format!("INCRBY {key} 1")), "redis");
            s.set("key", key.as_str());
            s
        });
        let mut cmd = redis::cmd("INCRBY");
        cmd.arg(&key).arg(1);
        Ok(match self.redis_run::<i64>(&c, "INCRBY", cmd).await {
            Ok(r) => r.map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn del(&mut self, c: Resource<RedisConnection>, keys: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.del", Some(format!("DEL {}", keys.join(" "))), "redis");
            s.set("keys", format!("{keys:?}"));
            s
        });
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&keys);
        Ok(match self.redis_run::<u32>(&c, "DEL", cmd).await {
            Ok(r) => r.map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn sadd(&mut self, c: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.sadd", Some(format!("SADD {key} {}", values.join(" "))), "redis");
            s.set("key", key.as_str());
            s
        });
        let mut cmd = redis::cmd("SADD");
        cmd.arg(&key).arg(&values);
        Ok(match self.redis_run::<u32>(&c, "SADD", cmd).await {
            Ok(r) => r.map_err(|e| if e.kind() == redis::ErrorKind::TypeError { Error::TypeError } else { other(e) }),
            Err(e) => Err(e),
        })
    }

    async fn smembers(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.smembers", Some(format!("SMEMBERS {key}")), "redis");
            s.set("key", key.as_str());
            s
        });
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(&key);
        Ok(match self.redis_run::<Vec<String>>(&c, "SMEMBERS", cmd).await {
            Ok(r) => r.map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn srem(&mut self, c: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.srem", Some(format!("SREM {key} {}", values.join(" "))), "redis");
            s.set("key", key.as_str());
            s
        });
        let mut cmd = redis::cmd("SREM");
        cmd.arg(&key).arg(&values);
        Ok(match self.redis_run::<u32>(&c, "SREM", cmd).await {
            Ok(r) => r.map_err(other),
            Err(e) => Err(e),
        })
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_redis.execute", Some(command.clone()), "redis");
            s.set("command", command.as_str());
            s
        });
        let mut cmd = redis::cmd(&command);
        for a in &arguments {
            match a {
                RedisParameter::Int64(v) => cmd.arg(v),
                RedisParameter::Binary(v) => cmd.arg(v),
            };
        }
        Ok(match self.redis_run::<Value>(&c, &command.to_ascii_uppercase(), cmd).await {
            Ok(Ok(v)) => {
                let mut out = Vec::new();
                match flatten(v, &mut out) {
                    Ok(()) => {
                        let size: usize = out
                            .iter()
                            .map(|r| match r {
                                RedisResult::Status(s) => s.len(),
                                RedisResult::Binary(b) => b.len(),
                                _ => 0,
                            } + std::mem::size_of::<RedisResult>())
                            .sum();
                        if size > MAX_RESULT_BYTES {
                            Err(Error::Other(format!("query result exceeds limit of {MAX_RESULT_BYTES} bytes")))
                        } else {
                            Ok(out)
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            Ok(Err(e)) => Err(other(e)),
            Err(e) => Err(e),
        })
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        if self.table.delete(c).is_ok() {
            self.redis_connections = self.redis_connections.saturating_sub(1);
        }
        Ok(())
    }
}

/// Spin's reply flattening for `execute` (error texts are those of Spin's `RedisResults`).
fn flatten(v: Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    let unsupported = |what: &str| {
        other(redis::RedisError::from((
            redis::ErrorKind::TypeError,
            "Could not convert Redis response",
            what.to_string(),
        )))
    };
    match v {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(n) => out.push(RedisResult::Int64(n)),
        Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".to_string())),
        Value::Map(_) => return Err(unsupported("Redis Map type is not supported")),
        Value::Attribute { .. } => return Err(unsupported("Redis Attribute type is not supported")),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                flatten(item, out)?;
            }
        }
        Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        Value::VerbatimString { .. } => return Err(unsupported("Redis string with format attribute is not supported")),
        Value::Boolean(b) => out.push(RedisResult::Int64(b as i64)),
        Value::BigNumber(n) => out.push(RedisResult::Binary(n.to_string().into_bytes())),
        Value::Push { .. } => return Err(unsupported("Redis Pub/Sub types are not supported")),
        Value::ServerError(e) => {
            return Err(other(redis::RedisError::from((
                redis::ErrorKind::ResponseError,
                "Server error",
                format!("{e:?}"),
            ))))
        }
        #[allow(unreachable_patterns)]
        _ => return Err(unsupported("Redis response type is not supported")),
    }
    Ok(())
}
