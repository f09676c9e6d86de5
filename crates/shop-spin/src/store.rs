//! Opening the shop's stores, and applying a service's schema migrations.
//!
//! Addresses come from variables: `db_url` (Postgres, secret: it holds credentials), `redis_url`,
//! and `redis_prefix`, which namespaces every key so tests and tenants can share one Redis.
use shop_contract::{MigrationReport, ShopError};
use spin_sdk::pg4::{self, Decode, ParameterValue};
use spin_sdk::redis;

/// Opens the Postgres database of this component.
pub fn postgres() -> Result<pg4::Connection, ShopError> {
    let url = crate::config::var("db_url")?;
    pg4::Connection::open(&url).map_err(|e| pg_error("connect", e))
}

/// A Redis connection and the key namespace to use on it.
pub struct Redis {
    pub conn: redis::Connection,
    prefix: String,
}

impl Redis {
    /// Opens Redis at `redis_url`, keys under `redis_prefix` (may be empty).
    pub fn open() -> Result<Self, ShopError> {
        let url = crate::config::var("redis_url")?;
        let prefix = crate::config::optional_var("redis_prefix").unwrap_or_default();
        let conn = redis::Connection::open(&url).map_err(|e| redis_error("connect", e))?;
        Ok(Redis { conn, prefix })
    }

    /// The full key for `name`, e.g. `shop:cart:<session>`.
    pub fn key(&self, name: &str) -> String {
        format!("{}shop:{name}", self.prefix)
    }

    /// Runs one command; its replies flattened as Spin returns them.
    pub fn exec(&self, command: &str, args: &[redis::RedisParameter]) -> Result<Vec<redis::RedisResult>, ShopError> {
        self.conn.execute(command, args).map_err(|e| redis_error(command, e))
    }
}

impl Redis {
    /// `SET key value NX [EX ttl_seconds]`: stores `value` only if `key` is absent, atomically.
    /// Returns whether this call stored it (the basis of idempotent operations: of two
    /// concurrent requests with one key, exactly one wins).
    pub fn set_nx(&self, key: &str, value: &[u8], ttl_seconds: Option<i64>) -> Result<bool, ShopError> {
        let mut args = vec![
            redis::RedisParameter::Binary(key.as_bytes().to_vec()),
            redis::RedisParameter::Binary(value.to_vec()),
            redis::RedisParameter::Binary(b"NX".to_vec()),
        ];
        if let Some(ttl) = ttl_seconds {
            args.push(redis::RedisParameter::Binary(b"EX".to_vec()));
            args.push(redis::RedisParameter::Int64(ttl));
        }
        // Redis answers `OK` when it stored the value and nil when the key already existed.
        let reply = self.exec("SET", &args)?;
        Ok(reply.iter().any(|r| matches!(r, redis::RedisResult::Status(s) if s == "OK")))
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ShopError> {
        self.conn.get(key).map_err(|e| redis_error("GET", e))
    }
}

/// Maps a Postgres error: the database being unreachable, slow or overloaded is 503 (the shop
/// recovers when the database does), everything else is a bug and logged in full.
pub fn pg_error(what: &str, e: pg4::PgError) -> ShopError {
    crate::log::error(&format!("postgres {what} failed: {e:?}"));
    if pg_unavailable(&e) {
        ShopError::unavailable("The database is unavailable; try again in a moment")
    } else {
        ShopError::internal("A database operation failed")
    }
}

/// True when the error says the database could not answer, rather than that it refused the
/// statement: no connection; a query failure without a database error (the connection broke or
/// the host's timeout fired); or a SQLSTATE of connection exceptions (`08`), insufficient
/// resources (`53`), operator intervention (`57P01`–`57P05`: shutdown, cannot connect now...) or
/// a transaction the database gave up on (`40001` serialization, `40P01` deadlock).
fn pg_unavailable(e: &pg4::PgError) -> bool {
    match e {
        pg4::PgError::ConnectionFailed(_) => true,
        pg4::PgError::QueryFailed(pg4::QueryError::Text(_)) => true,
        pg4::PgError::QueryFailed(pg4::QueryError::DbError(db)) => {
            let code = db.code.as_str();
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "40001" || code == "40P01"
        }
        _ => false,
    }
}

/// Maps a Redis error the same way.
pub fn redis_error(what: &str, e: redis::Error) -> ShopError {
    crate::log::error(&format!("redis {what} failed: {e:?}"));
    match e {
        redis::Error::TypeError => ShopError::internal("Unexpected data in a data store"),
        _ => ShopError::unavailable("A data store is unavailable; try again in a moment"),
    }
}

/// A column of a row, with a clear error when it is missing or of another type.
pub fn column<T: Decode>(row: &pg4::Row<'_>, name: &str) -> Result<T, ShopError> {
    row.get::<T>(name).ok_or_else(|| {
        crate::log::error(&format!("column `{name}` is missing or of an unexpected type"));
        ShopError::internal("Unexpected data in the database")
    })
}

/// One versioned migration: single SQL statements separated by lines ending in `;`.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Splits a migration file into statements (each ends with `;` at the end of a line).
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Applies the migrations of `service` not applied yet, each in its own transaction, in order.
///
/// Safe to run concurrently and repeatedly: a transaction-scoped advisory lock serialises
/// runners, and `schema_migrations` records what is done.
pub fn migrate(conn: &pg4::Connection, service: &str, migrations: &[Migration]) -> Result<MigrationReport, ShopError> {
    let exec = |sql: &str, params: &[ParameterValue]| conn.execute(sql, params).map_err(|e| pg_error("migration", e));
    exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (service text NOT NULL, version integer NOT NULL, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, version))",
        &[],
    )?;
    let mut applied = Vec::new();
    let mut version = 0;
    for m in migrations {
        exec("BEGIN", &[])?;
        let outcome = (|| {
            exec("SELECT pg_advisory_xact_lock(hashtext('shop-migrations'))", &[])?;
            let done = conn
                .query(
                    "SELECT 1 AS done FROM schema_migrations WHERE service = $1 AND version = $2",
                    &[ParameterValue::Str(service.to_string()), ParameterValue::Int32(m.version as i32)],
                )
                .map_err(|e| pg_error("migration", e))?;
            if done.rows.is_empty() {
                for statement in statements(m.sql) {
                    exec(&statement, &[])?;
                }
                exec(
                    "INSERT INTO schema_migrations (service, version, name) VALUES ($1, $2, $3)",
                    &[
                        ParameterValue::Str(service.to_string()),
                        ParameterValue::Int32(m.version as i32),
                        ParameterValue::Str(m.name.to_string()),
                    ],
                )?;
                return Ok(true);
            }
            Ok(false)
        })();
        match outcome {
            Ok(newly) => {
                exec("COMMIT", &[])?;
                if newly {
                    applied.push(format!("{:04}_{}", m.version, m.name));
                }
                version = m.version;
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK", &[]);
                return Err(e);
            }
        }
    }
    Ok(MigrationReport { service: service.to_string(), applied, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_or_overloaded_database_is_unavailable_and_a_bad_statement_is_a_bug() {
        let db = |code: &str| {
            pg4::PgError::QueryFailed(pg4::QueryError::DbError(pg4::DbError {
                as_text: String::new(),
                severity: "FATAL".into(),
                code: code.into(),
                message: String::new(),
                detail: None,
                extras: Vec::new(),
            }))
        };
        assert!(pg_unavailable(&pg4::PgError::ConnectionFailed("refused".into())));
        assert!(pg_unavailable(&pg4::PgError::QueryFailed(pg4::QueryError::Text("query timed out after 10s".into()))));
        for code in ["08006", "57P01", "57P03", "53300", "40001", "40P01"] {
            assert!(pg_unavailable(&db(code)), "{code}");
        }
        for code in ["42601", "23505", "22P02", "42P01"] {
            assert!(!pg_unavailable(&db(code)), "{code}");
        }
        assert!(!pg_unavailable(&pg4::PgError::BadParameter("x".into())));
    }

    #[test]
    fn statements_split_at_line_ending_semicolons_only() {
        let sql = "-- comment\nCREATE TABLE a (x text);\n\nINSERT INTO a VALUES ('one; two'),\n ('three');\n";
        let got = statements(sql);
        assert_eq!(got, vec!["CREATE TABLE a (x text)".to_string(), "INSERT INTO a VALUES ('one; two'),\n ('three')".to_string()]);
    }
}
