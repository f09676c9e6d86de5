//! Opening the shop's stores, reading PostgreSQL, and applying a service's schema migrations.
//!
//! Addresses come from variables: `db_url` (Postgres, secret: it holds credentials), `redis_url`,
//! and `redis_prefix`, which namespaces every key so tests and tenants can share one Redis.
//!
//! Every PostgreSQL read goes through [`read`] (or [`read_one_row`]): nothing else calls
//! `Connection::query`, and a test below keeps it that way.
//!
//! Redis stores are written against [`Commands`] (one command, one round trip): [`Redis`] in
//! the components, [`Recorder`] in native tests that count the commands an operation sends.
//! Multi-key scripts ([`Commands::eval`]) need their keys on one Redis node: true of the shop's
//! single-shard ElastiCache and in-cluster Redis (a cluster-mode Redis would need hash tags).
use shop_contract::{MigrationReport, ShopError};
use spin_sdk::pg4::{self, DbValue, Decode, ParameterValue, RowSet};
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

    /// Runs a command that answers one integer (`HINCRBY`, `DEL`, `HLEN`...) and returns it.
    pub fn exec_int(&self, command: &str, args: &[redis::RedisParameter]) -> Result<i64, ShopError> {
        match self.exec(command, args)?.as_slice() {
            [redis::RedisResult::Int64(n)] => Ok(*n),
            other => {
                // The kinds of values only: a reply may hold a shopper's data.
                let kinds: Vec<&str> = other.iter().map(reply_kind).collect();
                crate::log::error(&format!("redis {command} answered {kinds:?} where an integer was expected"));
                Err(ShopError::internal("Unexpected answer from a data store"))
            }
        }
    }
}

/// A text argument of a Redis command (a key, a field, a value).
pub fn text_arg(text: &str) -> redis::RedisParameter {
    redis::RedisParameter::Binary(text.as_bytes().to_vec())
}

fn reply_kind(reply: &redis::RedisResult) -> &'static str {
    match reply {
        redis::RedisResult::Nil => "nil",
        redis::RedisResult::Status(_) => "status",
        redis::RedisResult::Int64(_) => "integer",
        redis::RedisResult::Binary(_) => "bulk string",
    }
}

/// A `timestamptz` column (a literal name) as RFC 3339 text in UTC, e.g. `2025-01-31T09:05:00Z`,
/// for `concat!` into SQL: Spin cannot read `timestamptz`.
#[macro_export]
macro_rules! rfc3339_utc {
    ($column:literal) => {
        concat!("to_char(", $column, r#" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"#)
    };
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

/// What a store needs from Redis: its key namespace and one command at a time, each a round
/// trip. [`Redis`] is the real thing; [`Recorder`] stands in for it in native tests, so that a
/// test can say which commands (and how many) an operation sends.
///
/// The provided methods are the one-command forms the stores use instead of read-then-write
/// pairs: [`Commands::eval`] (a Lua script: several keys, decided and written atomically) and
/// [`Commands::set_nx_get`] (claim a key, or read what holds it).
pub trait Commands {
    /// The full key for `name`, e.g. `<redis_prefix>shop:cart:<session>`.
    fn key(&self, name: &str) -> String;

    /// Runs one command; its replies flattened as Spin returns them.
    fn run(&self, command: &str, args: &[redis::RedisParameter]) -> Result<Vec<redis::RedisResult>, ShopError>;

    /// `EVAL script numkeys keys... args...`: one round trip, run atomically by Redis.
    ///
    /// The text is sent every time (no `EVALSHA` / `NOSCRIPT` exchange, which would cost a round
    /// trip whenever Redis lost its script cache; Redis compiles a text once and caches it). Every key the script touches must be in
    /// `keys`. Spin flattens the reply: nested arrays become one list, a Lua `false` (a nil
    /// reply) is a `Nil` entry, and a Lua table ends at its first nil, so scripts answer flat
    /// lists of integers and strings, with 0/1 integers for flags.
    fn eval(&self, script: &Script, keys: &[String], args: Vec<redis::RedisParameter>) -> Result<Vec<redis::RedisResult>, ShopError> {
        let mut all = Vec::with_capacity(keys.len().saturating_add(args.len()).saturating_add(2));
        all.push(text_arg(script.lua));
        all.push(redis::RedisParameter::Int64(i64::try_from(keys.len()).unwrap_or(i64::MAX)));
        all.extend(keys.iter().map(|k| text_arg(k)));
        all.extend(args);
        self.run("EVAL", &all).map_err(|e| {
            crate::log::error(&format!("redis script `{}` failed", script.name));
            e
        })
    }

    /// `SET key value NX GET [EX ttl_seconds]` (Redis 7.0 and later), one command: stores `value`
    /// only if `key` is absent and answers what the key held before. `None`: this call stored
    /// it (of two concurrent claims exactly one gets `None`); `Some(earlier)`: the key was taken
    /// and is left as it was, `earlier` being its value.
    fn set_nx_get(&self, key: &str, value: &[u8], ttl_seconds: Option<i64>) -> Result<Option<Vec<u8>>, ShopError> {
        let mut args = vec![text_arg(key), redis::RedisParameter::Binary(value.to_vec()), text_arg("NX"), text_arg("GET")];
        if let Some(ttl) = ttl_seconds {
            args.push(text_arg("EX"));
            args.push(redis::RedisParameter::Int64(ttl));
        }
        let replies = self.run("SET", &args)?;
        single_value("SET NX GET", replies)
    }

    /// `GET key`: the value, if any.
    fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, ShopError> {
        let replies = self.run("GET", &[text_arg(key)])?;
        single_value("GET", replies)
    }
}

impl Commands for Redis {
    fn key(&self, name: &str) -> String {
        Redis::key(self, name)
    }

    fn run(&self, command: &str, args: &[redis::RedisParameter]) -> Result<Vec<redis::RedisResult>, ShopError> {
        self.exec(command, args)
    }
}

/// A Lua script for [`Commands::eval`]: its name (for logs and tests) and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    pub name: &'static str,
    pub lua: &'static str,
}

/// The one value of a reply that is a bulk string or nil (`GET`, `SET ... GET`).
fn single_value(what: &str, replies: Vec<redis::RedisResult>) -> Result<Option<Vec<u8>>, ShopError> {
    match <[redis::RedisResult; 1]>::try_from(replies) {
        Ok([redis::RedisResult::Nil]) => Ok(None),
        Ok([redis::RedisResult::Binary(value)]) => Ok(Some(value)),
        Ok([other]) => Err(unexpected_reply(what, &[other])),
        Err(other) => Err(unexpected_reply(what, &other)),
    }
}

/// Logs a reply of an unexpected shape (the kinds of its values only: a reply may hold a
/// shopper's data) and answers 500: a bug, not an outage.
pub fn unexpected_reply(what: &str, replies: &[redis::RedisResult]) -> ShopError {
    let kinds: Vec<&str> = replies.iter().map(reply_kind).collect();
    crate::log::error(&format!("redis {what} answered {kinds:?}, which it never should"));
    ShopError::internal("Unexpected answer from a data store")
}

/// A stand-in for [`Redis`] in native tests: records every command and answers each with the
/// next of the replies it was given (panicking when it has none left, so a test also fails on
/// a command it did not expect). Keys are under `test:shop:`.
pub struct Recorder {
    replies: std::cell::RefCell<std::collections::VecDeque<Vec<redis::RedisResult>>>,
    calls: std::cell::RefCell<Vec<Vec<String>>>,
}

impl Recorder {
    /// A recorder answering `replies`, in order.
    pub fn new(replies: Vec<Vec<redis::RedisResult>>) -> Self {
        Recorder { replies: std::cell::RefCell::new(replies.into()), calls: std::cell::RefCell::default() }
    }

    /// The commands sent so far, by name (`["EVAL"]`, `["SET", "GET"]`...).
    pub fn commands(&self) -> Vec<String> {
        self.calls.borrow().iter().filter_map(|call| call.first().cloned()).collect()
    }

    /// Every command sent so far with its arguments as text (integers in decimal; a script's
    /// text stands as `<script>`).
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.calls.borrow().clone()
    }

    /// Whether every reply given was used.
    pub fn is_done(&self) -> bool {
        self.replies.borrow().is_empty()
    }
}

impl Commands for Recorder {
    fn key(&self, name: &str) -> String {
        format!("test:shop:{name}")
    }

    fn run(&self, command: &str, args: &[redis::RedisParameter]) -> Result<Vec<redis::RedisResult>, ShopError> {
        let mut call = vec![command.to_string()];
        for (i, arg) in args.iter().enumerate() {
            call.push(match arg {
                redis::RedisParameter::Int64(n) => n.to_string(),
                redis::RedisParameter::Binary(_) if command == "EVAL" && i == 0 => "<script>".to_string(),
                redis::RedisParameter::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            });
        }
        let reply = self.replies.borrow_mut().pop_front();
        let Some(reply) = reply else {
            panic!("unexpected command {call:?} (after {:?})", self.calls.borrow());
        };
        self.calls.borrow_mut().push(call);
        Ok(reply)
    }
}

/// The column [`wrap_read`] puts first: `true` on each row of the statement, NULL on the one row
/// that stands for "no rows".
pub const PRESENT_COLUMN: &str = "shop_row_present";

/// A read in a form that always returns at least one row on the wire.
///
/// Why: Spin 4.0.0 to 4.0.2 never return from `spin:postgres/postgres` `query` when a statement
/// matches no rows (the host waits for column metadata that only a first row delivers:
/// spinframework/spin issue #3671, fixed by PR #3673). A guest cannot time out a host call, so
/// on such a Spin every "not found" would hang its request. Spin 3.6 (in containerd-shim-spin
/// v0.24) and fixed 4.x handle empty results, and this form costs them one trivial join.
///
/// How: the statement becomes the inner side of a `LEFT JOIN LATERAL` against a one-row
/// relation, with a marker column of its own. Its rows come back marked `true`; when it has none,
/// the outer row comes back alone, every column NULL. The column types stay the statement's
/// (no UNION with typeless NULLs), and the rows keep the statement's order: a join with no join
/// clause is a nested loop whose outer side is the single row, so the inner rows pass in order.
/// `sql` must be one query usable as a subquery (SELECT, VALUES; not a data-modifying WITH,
/// which PostgreSQL allows only at the top level: see [`read_one_row`]).
pub fn wrap_read(sql: &str) -> String {
    // The newline ends a `--` comment the statement may end with.
    format!(
        "SELECT q.* FROM (SELECT 1) AS one LEFT JOIN LATERAL \
         (SELECT true AS {PRESENT_COLUMN}, r.* FROM ({sql}\n) AS r) AS q ON true"
    )
}

/// Runs a read (see [`wrap_read`]) and returns the statement's rows, none for "no rows".
/// `what` names it in the error log.
pub fn read(conn: &pg4::Connection, what: &str, sql: &str, params: &[ParameterValue]) -> Result<RowSet, ShopError> {
    let mut rows = conn.query(&wrap_read(sql), params).map_err(|e| pg_error(what, e))?;
    keep_present_rows(&mut rows);
    Ok(rows)
}

/// Drops the row that stands for "no rows" (its marker is NULL).
fn keep_present_rows(rows: &mut RowSet) {
    rows.rows.retain(|row| matches!(row.first(), Some(DbValue::Boolean(true))));
}

/// Runs a statement that must stay at the top level (a data-modifying `WITH`) and is written to
/// return exactly one row whatever it matches, e.g. `... SELECT (SELECT x FROM inserted) AS x`:
/// a scalar subquery is one row, NULL when the inner query has none. See [`wrap_read`] for why.
pub fn read_one_row(conn: &pg4::Connection, what: &str, sql: &str, params: &[ParameterValue]) -> Result<RowSet, ShopError> {
    let rows = conn.query(sql, params).map_err(|e| pg_error(what, e))?;
    if rows.rows.len() != 1 {
        crate::log::error(&format!("postgres {what} returned {} rows where its statement guarantees one", rows.rows.len()));
        return Err(ShopError::internal("A database operation failed"));
    }
    Ok(rows)
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
            let done = read(
                conn,
                "migration",
                "SELECT 1 AS done FROM schema_migrations WHERE service = $1 AND version = $2",
                &[ParameterValue::Str(service.to_string()), ParameterValue::Int32(m.version as i32)],
            )?;
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
    fn a_timestamptz_column_reads_as_rfc3339_utc_text() {
        assert_eq!(
            concat!("SELECT ", crate::rfc3339_utc!("created_at"), " AS created_at"),
            r#"SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at"#
        );
    }

    #[test]
    fn text_arguments_are_their_bytes() {
        assert!(matches!(text_arg("shop:k"), redis::RedisParameter::Binary(b) if b == b"shop:k"));
        assert_eq!(reply_kind(&redis::RedisResult::Nil), "nil");
    }

    #[test]
    fn set_nx_get_is_one_command_that_answers_the_earlier_value() {
        let r = Recorder::new(vec![vec![redis::RedisResult::Nil], vec![redis::RedisResult::Binary(b"old".to_vec())]]);
        assert_eq!(r.set_nx_get("test:shop:k", b"new", Some(60)).ok(), Some(None));
        assert_eq!(r.set_nx_get("test:shop:k", b"new", None).ok(), Some(Some(b"old".to_vec())));
        assert_eq!(r.calls(), [vec!["SET", "test:shop:k", "new", "NX", "GET", "EX", "60"], vec!["SET", "test:shop:k", "new", "NX", "GET"]]);
        assert!(r.is_done());
        // Any other shape (e.g. `OK` from a Redis that ignored GET) is an error, never a claim.
        for odd in [vec![redis::RedisResult::Status("OK".into())], vec![], vec![redis::RedisResult::Nil, redis::RedisResult::Nil]] {
            let r = Recorder::new(vec![odd]);
            assert!(r.set_nx_get("k", b"v", None).is_err());
        }
    }

    #[test]
    fn eval_sends_the_script_its_key_count_keys_and_arguments() {
        const S: Script = Script { name: "test", lua: "return {1}" };
        let r = Recorder::new(vec![vec![redis::RedisResult::Int64(1)]]);
        let keys = [r.key("a"), r.key("b")];
        let reply = r.eval(&S, &keys, vec![text_arg("x"), redis::RedisParameter::Int64(7)]).ok();
        assert_eq!(reply, Some(vec![redis::RedisResult::Int64(1)]));
        assert_eq!(r.calls(), [vec!["EVAL", "<script>", "2", "test:shop:a", "test:shop:b", "x", "7"]]);
        let r = Recorder::new(vec![vec![redis::RedisResult::Binary(b"v".to_vec())], vec![redis::RedisResult::Nil]]);
        assert_eq!(r.get_value("k").ok(), Some(Some(b"v".to_vec())));
        assert_eq!(r.get_value("k").ok(), Some(None));
        assert_eq!(r.commands(), ["GET", "GET"]);
    }

    #[test]
    #[should_panic(expected = "unexpected command")]
    fn a_recorder_refuses_a_command_it_has_no_reply_for() {
        let _ = Recorder::new(Vec::new()).get_value("k");
    }

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
    fn a_wrapped_read_keeps_the_statement_whole_and_marks_its_rows() {
        let sql = "SELECT a, b FROM t WHERE a = $1 ORDER BY b LIMIT 2 -- the last line";
        let wrapped = wrap_read(sql);
        assert!(wrapped.contains(&format!("(SELECT true AS {PRESENT_COLUMN}, r.* FROM ({sql}\n) AS r)")), "{wrapped}");
        assert!(wrapped.starts_with("SELECT q.* FROM (SELECT 1) AS one LEFT JOIN LATERAL"), "{wrapped}");
        assert!(wrapped.ends_with(") AS q ON true"), "{wrapped}");
    }

    #[test]
    fn the_row_that_stands_for_no_rows_is_dropped_and_only_it() {
        let column = |name: &str| pg4::Column { name: name.into(), data_type: pg4::DbDataType::Str };
        let mut rows = RowSet {
            columns: vec![column(PRESENT_COLUMN), column("x")],
            rows: vec![vec![DbValue::DbNull, DbValue::DbNull]],
        };
        keep_present_rows(&mut rows);
        assert!(rows.rows.is_empty());
        let mut rows = RowSet {
            columns: vec![column(PRESENT_COLUMN), column("x")],
            rows: vec![vec![DbValue::Boolean(true), DbValue::DbNull], vec![DbValue::Boolean(true), DbValue::Str("b".into())]],
        };
        keep_present_rows(&mut rows);
        assert_eq!(rows.rows.len(), 2, "rows with NULL columns are rows");
        assert_eq!(rows.rows().nth(1).and_then(|r| r.get::<String>("x")).as_deref(), Some("b"));
    }

    /// Spin 4.0.0-4.0.2 hang on a `query` that matches no rows (spinframework/spin#3671): every
    /// read must go through `read` / `read_one_row`, so no other code may call `query`.
    #[test]
    fn no_code_but_the_read_helpers_calls_postgres_query() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut offenders = Vec::new();
        let mut files = Vec::new();
        for dir in ["components", "crates"] {
            rust_files(&std::path::Path::new(root).join(dir), &mut files);
        }
        assert!(files.len() > 20, "found only {} source files", files.len());
        // Spelt in two parts so that this test does not count itself.
        let needle = concat!(".", "query(");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let allowed = if file.ends_with("shop-spin/src/store.rs") { 2 } else { 0 };
            let calls = text.matches(needle).count();
            if calls != allowed {
                offenders.push(format!("{}: {calls} calls of `{needle}`", file.display()));
            }
        }
        assert!(offenders.is_empty(), "PostgreSQL reads must use shop_spin::store::read: {offenders:#?}");
    }

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("target") {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn statements_split_at_line_ending_semicolons_only() {
        let sql = "-- comment\nCREATE TABLE a (x text);\n\nINSERT INTO a VALUES ('one; two'),\n ('three');\n";
        let got = statements(sql);
        assert_eq!(got, vec!["CREATE TABLE a (x text)".to_string(), "INSERT INTO a VALUES ('one; two'),\n ('three')".to_string()]);
    }
}
