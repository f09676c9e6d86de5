//! `spin:postgres/postgres@4.0.0` on tokio-postgres with a deadpool pool per connection string.
//!
//! Behaviour follows Spin 3.x (`crates/factor-outbound-pg`): the address is checked against
//! `allowed_outbound_hosts` (`connection-failed("address postgres://<host[:port]> is not
//! permitted")`), clients come from a pool keyed by the exact connection string (max 64, reset
//! with deadpool's `Clean` statements between users), columns are inferred from the first row,
//! and values map as in Spin.
//!
//! Resetting: Spin's pool runs `Clean` when a client is checked *out* again, so every `open` but
//! the first on a connection waits for that round trip. runtime-local runs the same statements
//! when the guest *returns* the client (resource dropped, or its store dropped), in a task of its
//! own, and only then gives the client back to the pool (which checks it with `Fast`). The next
//! user gets the same clean session, without the wait. A client whose reset fails or times out
//! is closed instead of reused, as Spin's recycle would discard it.
//!
//! TLS: only `sslmode=disable` is supported. Any other mode (including tokio-postgres's default
//! `prefer`) is refused with `connection-failed` naming the mode, because Spin would then verify
//! the server certificate with native-tls and runtime-local does not ship a TLS stack for Postgres.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::pin::pin;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::TryStreamExt;
use tokio_postgres::config::{Host as PgHost, SslMode};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{NoTls, Row};
use wasmtime::component::Resource;

use crate::bindings::postgres::{
    self as pg, Column, DbDataType, DbError, DbValue, Error, ParameterValue, QueryError, RowSet,
};
use crate::state::StoreState;

const POOL_SIZE: usize = 64;
/// Spin's `MAX_HOST_BUFFERED_BYTES`.
const MAX_RESULT_BYTES: usize = 128 << 20;

/// The host-side value behind a guest `connection` resource: a pooled client.
pub struct PgConnection {
    /// Always `Some` until dropped.
    client: Option<deadpool_postgres::Object>,
    address: String,
    reset_timeout: Duration,
}

impl PgConnection {
    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("a live connection has its client")
    }
}

impl Drop for PgConnection {
    /// Resets the session (Spin's `Clean`) off the request path, then returns the client to the pool.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime to reset it on: close it rather than return a dirty session.
            drop(deadpool_postgres::Object::take(client));
            return;
        };
        let timeout = self.reset_timeout;
        let reset = async move {
            let sql = deadpool_postgres::RecyclingMethod::Clean.query().unwrap_or_default();
            match tokio::time::timeout(timeout, client.simple_query(sql)).await {
                Ok(Ok(_)) => drop(client),
                Ok(Err(e)) => {
                    tracing::warn!("Postgres connection could not be reset, closing it: {e}");
                    drop(deadpool_postgres::Object::take(client));
                }
                Err(_) => {
                    tracing::warn!("Postgres connection reset timed out after {timeout:?}, closing it");
                    drop(deadpool_postgres::Object::take(client));
                }
            }
        };
        drop(rt.spawn(reset));
    }
}

/// Connection pools shared by all requests of an app, keyed by connection string.
#[derive(Default)]
pub struct PgPools {
    pools: Mutex<HashMap<String, deadpool_postgres::Pool>>,
}

impl PgPools {
    fn pool(&self, address: &str) -> anyhow::Result<deadpool_postgres::Pool> {
        let mut pools = self.pools.lock().unwrap();
        if let Some(p) = pools.get(address) {
            return Ok(p.clone());
        }
        let config = tokio_postgres::Config::from_str(address)?;
        if config.get_ssl_mode() != SslMode::Disable {
            anyhow::bail!(
                "runtime-local supports only unencrypted Postgres connections: add sslmode=disable to the connection string (got sslmode={:?})",
                config.get_ssl_mode()
            );
        }
        let mgr = deadpool_postgres::Manager::from_config(
            config,
            NoTls,
            // `Clean` runs when a client is returned (see `PgConnection`'s Drop); `Fast` only
            // checks that it is still open.
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let pool = deadpool_postgres::Pool::builder(mgr).max_size(POOL_SIZE).build()?;
        pools.insert(address.to_string(), pool.clone());
        Ok(pool)
    }
}

fn conn_failed(m: impl Into<String>) -> Error {
    Error::ConnectionFailed(m.into())
}

impl StoreState {
    #[allow(clippy::result_large_err)]
    fn ensure_pg_address_allowed(&self, address: &str) -> Result<(), Error> {
        let config = address.parse::<tokio_postgres::Config>().map_err(|e| conn_failed(e.to_string()))?;
        for (i, host) in config.get_hosts().iter().enumerate() {
            match host {
                PgHost::Tcp(h) => {
                    let port = config.get_ports().get(i).map(|p| format!(":{p}")).unwrap_or_default();
                    let url = format!("{h}{port}");
                    if !self.component.allowed_hosts.check_url(&url, "postgres") {
                        return Err(conn_failed(format!("address postgres://{url} is not permitted")));
                    }
                }
                #[cfg(unix)]
                PgHost::Unix(_) => return Err(conn_failed("Unix sockets are not supported on WebAssembly")),
            }
        }
        Ok(())
    }

    fn pg_timeout(&self) -> Duration {
        self.app.limits.backend_timeout
    }
}

/// The error of a query with no rows under `RuntimeOptions::refuse_empty_query_results`.
pub const EMPTY_RESULT_REFUSED: &str = "refused: the query returned no rows, and Spin 4.0.0-4.0.2 never return from such a \
     query (spinframework/spin#3671); read through a statement that always returns a row \
     (runtime-local --refuse-empty-query-results)";

impl pg::Host for StoreState {}

impl pg::HostConnection for StoreState {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        // Spin's `#[instrument(name = "spin_outbound_pg.open", fields(otel.kind = "client",
        // db.system = "postgresql", db.address, server.port, db.namespace))]` (factor-outbound-pg host.rs).
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_pg.open", None, "postgresql");
            s.record_address_fields(&address);
            s
        });
        if let Err(e) = self.ensure_pg_address_allowed(&address) {
            return Ok(Err(e));
        }
        let started = Instant::now();
        let pool = match self.app.pg.pool(&address) {
            Ok(p) => p,
            Err(e) => return Ok(Err(conn_failed(format!("{e:#}")))),
        };
        let client = match tokio::time::timeout(self.pg_timeout(), pool.get()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Ok(Err(conn_failed(format!("{e:?}")))),
            Err(_) => return Ok(Err(conn_failed(format!("timed out after {:?} connecting to Postgres", self.pg_timeout())))),
        };
        tracing::debug!(component = %self.component.id, elapsed_ms = ms(started), "pg open");
        let reset_timeout = self.pg_timeout();
        match self.table.push(PgConnection { client: Some(client), address, reset_timeout }) {
            Ok(r) => Ok(Ok(r)),
            Err(_) => Ok(Err(conn_failed("too many connections"))),
        }
    }

    async fn query(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        // Spin's `#[instrument(name = "spin_outbound_pg.query", fields(otel.kind = "client",
        // db.system = "postgresql", otel.name = statement))]`; `statement` is recorded too.
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_pg.query", Some(statement.clone()), "postgresql");
            s.set("statement", statement.as_str());
            s
        });
        let timeout = self.pg_timeout();
        let component = self.component.id.clone();
        let Ok(c) = self.table.get(&conn) else {
            return Ok(Err(conn_failed("no connection found")));
        };
        let params = match params.iter().map(to_sql_parameter).collect::<anyhow::Result<Vec<_>>>() {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::BadParameter(format!("{e:?}")))),
        };
        let refuse_empty = self.app.refuse_empty_query_results;
        let started = Instant::now();
        let fut = async {
            let stream = c.client().query_raw(&statement, params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync))).await.map_err(query_failed)?;
            let mut stream = pin!(stream);
            let mut columns = None;
            let mut rows = Vec::new();
            let mut bytes = 0usize;
            let r: anyhow::Result<()> = async {
                while let Some(row) = stream.try_next().await? {
                    if columns.is_none() {
                        columns = Some(infer_columns(&row));
                    }
                    let row = convert_row(&row)?;
                    bytes += row.iter().map(value_size).sum::<usize>();
                    if bytes > MAX_RESULT_BYTES {
                        anyhow::bail!("query result exceeds limit of {MAX_RESULT_BYTES} bytes");
                    }
                    rows.push(row);
                }
                Ok(())
            }
            .await;
            r.map_err(|e| Error::QueryFailed(QueryError::Text(format!("{e:?}"))))?;
            if rows.is_empty() && refuse_empty {
                return Err(Error::QueryFailed(QueryError::Text(EMPTY_RESULT_REFUSED.to_string())));
            }
            Ok(RowSet { columns: columns.unwrap_or_default(), rows })
        };
        let result = match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::QueryFailed(QueryError::Text(format!("query timed out after {timeout:?}")))),
        };
        tracing::debug!(%component, address = %redact(&c.address), sql = %statement, ok = result.is_ok(), elapsed_ms = ms(started), "pg query");
        Ok(result)
    }

    async fn execute(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        // Spin's `#[instrument(name = "spin_outbound_pg.execute", fields(otel.kind = "client",
        // db.system = "postgresql", otel.name = statement))]`; `statement` is recorded too.
        let _span = self.span.as_ref().map(|p| {
            let s = p.db_child("spin_outbound_pg.execute", Some(statement.clone()), "postgresql");
            s.set("statement", statement.as_str());
            s
        });
        let timeout = self.pg_timeout();
        let component = self.component.id.clone();
        let Ok(c) = self.table.get(&conn) else {
            return Ok(Err(conn_failed("no connection found")));
        };
        let params = match params.iter().map(to_sql_parameter).collect::<anyhow::Result<Vec<_>>>() {
            Ok(p) => p,
            Err(e) => return Ok(Err(Error::ValueConversionFailed(format!("{e:?}")))),
        };
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, c.client().execute(&statement, &refs)).await {
            Ok(r) => r.map_err(query_failed),
            Err(_) => Err(Error::QueryFailed(QueryError::Text(format!("statement timed out after {timeout:?}")))),
        };
        tracing::debug!(%component, sql = %statement, ok = result.is_ok(), elapsed_ms = ms(started), "pg execute");
        Ok(result)
    }

    async fn drop(&mut self, conn: Resource<PgConnection>) -> wasmtime::Result<()> {
        let _ = self.table.delete(conn);
        Ok(())
    }
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// Connection string without password, for logs.
fn redact(address: &str) -> String {
    match tokio_postgres::Config::from_str(address) {
        Ok(c) => format!("{:?}/{:?}", c.get_hosts(), c.get_dbname()),
        Err(_) => "<invalid>".into(),
    }
}

fn pg_extras(dbe: &tokio_postgres::error::DbError) -> Vec<(String, String)> {
    let mut extras = vec![];
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            extras.push((k.to_string(), v));
        }
    };
    push("column", dbe.column().map(str::to_string));
    push("constraint", dbe.constraint().map(str::to_string));
    push("routine", dbe.routine().map(str::to_string));
    push("hint", dbe.hint().map(str::to_string));
    push("table", dbe.table().map(str::to_string));
    push("datatype", dbe.datatype().map(str::to_string));
    push("schema", dbe.schema().map(str::to_string));
    push("file", dbe.file().map(str::to_string));
    push("line", dbe.line().map(|l| l.to_string()));
    push("where_", dbe.where_().map(str::to_string));
    extras
}

fn query_failed(e: tokio_postgres::Error) -> Error {
    let text = format!("{e:?}");
    match e.as_db_error() {
        None => Error::QueryFailed(QueryError::Text(text)),
        Some(dbe) => Error::QueryFailed(QueryError::DbError(DbError {
            as_text: text,
            severity: dbe.severity().to_string(),
            code: dbe.code().code().to_string(),
            message: dbe.message().to_string(),
            detail: dbe.detail().map(str::to_string),
            extras: pg_extras(dbe),
        })),
    }
}

// ---------------------------------------------------------------------------------------------
// Type mapping
// ---------------------------------------------------------------------------------------------

/// Maps a Postgres column type to the WIT data type (Spin's `convert_data_type`).
pub fn convert_data_type(t: &Type) -> DbDataType {
    match *t {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(t.name().to_string()),
    }
}

fn infer_columns(row: &Row) -> Vec<Column> {
    row.columns()
        .iter()
        .map(|c| Column { name: c.name().to_string(), data_type: convert_data_type(c.type_()) })
        .collect()
}

fn convert_row(row: &Row) -> anyhow::Result<Vec<DbValue>> {
    (0..row.len()).map(|i| convert_entry(row, i)).collect()
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize, f: impl FnOnce(T) -> anyhow::Result<DbValue>) -> anyhow::Result<DbValue> {
    let v: Option<T> = row.try_get(i)?;
    match v {
        Some(v) => f(v),
        None => Ok(DbValue::DbNull),
    }
}

fn convert_entry(row: &Row, i: usize) -> anyhow::Result<DbValue> {
    use chrono::{Datelike, Timelike};
    let column = &row.columns()[i];
    match *column.type_() {
        Type::BOOL => get(row, i, |v| Ok(DbValue::Boolean(v))),
        Type::BYTEA => get(row, i, |v| Ok(DbValue::Binary(v))),
        Type::FLOAT4 => get(row, i, |v| Ok(DbValue::Floating32(v))),
        Type::FLOAT8 => get(row, i, |v| Ok(DbValue::Floating64(v))),
        Type::INT2 => get(row, i, |v| Ok(DbValue::Int16(v))),
        Type::INT4 => get(row, i, |v| Ok(DbValue::Int32(v))),
        Type::INT8 => get(row, i, |v| Ok(DbValue::Int64(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, i, |v| Ok(DbValue::Str(v))),
        // Spin decodes both as a naive timestamp; for TIMESTAMPTZ tokio-postgres refuses the
        // conversion, so such columns fail the query exactly as they do on Spin 3.x.
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get(row, i, |v: chrono::NaiveDateTime| {
            Ok(DbValue::Datetime((
                v.year(),
                v.month().try_into()?,
                v.day().try_into()?,
                v.hour().try_into()?,
                v.minute().try_into()?,
                v.second().try_into()?,
                v.nanosecond(),
            )))
        }),
        Type::DATE => get(row, i, |v: chrono::NaiveDate| {
            Ok(DbValue::Date((v.year(), v.month().try_into()?, v.day().try_into()?)))
        }),
        Type::TIME => get(row, i, |v: chrono::NaiveTime| {
            Ok(DbValue::Time((v.hour().try_into()?, v.minute().try_into()?, v.second().try_into()?, v.nanosecond())))
        }),
        Type::UUID => get(row, i, |v: uuid::Uuid| Ok(DbValue::Uuid(v.to_string()))),
        Type::JSONB => get(row, i, |v: serde_json::Value| {
            Ok(DbValue::Jsonb(serde_json::to_vec(&v).map_err(|e| anyhow::anyhow!("invalid JSON from database: {e}"))?))
        }),
        Type::NUMERIC => get(row, i, |v: rust_decimal::Decimal| Ok(DbValue::Decimal(v.to_string()))),
        Type::INT4_ARRAY => get(row, i, |v| Ok(DbValue::ArrayInt32(v))),
        Type::INT8_ARRAY => get(row, i, |v| Ok(DbValue::ArrayInt64(v))),
        Type::NUMERIC_ARRAY => get(row, i, |v: Vec<Option<rust_decimal::Decimal>>| {
            Ok(DbValue::ArrayDecimal(v.into_iter().map(|d| d.map(|d| d.to_string())).collect()))
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => get(row, i, |v| Ok(DbValue::ArrayStr(v))),
        Type::INTERVAL => get(row, i, |v: Interval| Ok(DbValue::Interval(v.0))),
        Type::INT4_RANGE => get(row, i, |v: postgres_range::Range<i32>| Ok(DbValue::RangeInt32(range_to_wit(&v, |x| *x)))),
        Type::INT8_RANGE => get(row, i, |v: postgres_range::Range<i64>| Ok(DbValue::RangeInt64(range_to_wit(&v, |x| *x)))),
        Type::NUM_RANGE => get(row, i, |v: postgres_range::Range<RangeableDecimal>| {
            Ok(DbValue::RangeDecimal(range_to_wit(&v, |d| d.0.to_string())))
        }),
        _ => get(row, i, |v: Other| Ok(DbValue::Unsupported(v.0))),
    }
}

fn value_size(v: &DbValue) -> usize {
    std::mem::size_of::<DbValue>()
        + match v {
            DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => s.len(),
            DbValue::Binary(b) | DbValue::Jsonb(b) | DbValue::Unsupported(b) => b.len(),
            DbValue::ArrayStr(a) | DbValue::ArrayDecimal(a) => a.iter().map(|s| s.as_ref().map_or(0, |s| s.len()) + 24).sum(),
            DbValue::ArrayInt32(a) => a.len() * 8,
            DbValue::ArrayInt64(a) => a.len() * 16,
            _ => 0,
        }
}

type BoxedParam = Box<dyn ToSql + Send + Sync>;

/// Converts a guest parameter to a tokio-postgres parameter (Spin's `to_sql_parameter`).
pub fn to_sql_parameter(value: &ParameterValue) -> anyhow::Result<BoxedParam> {
    use anyhow::{anyhow, Context};
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::Date((y, m, d)) => Box::new(
            chrono::NaiveDate::from_ymd_opt(*y, (*m).into(), (*d).into())
                .ok_or_else(|| anyhow!("invalid date y={y}, m={m}, d={d}"))?,
        ),
        ParameterValue::Time((h, mi, s, ns)) => Box::new(
            chrono::NaiveTime::from_hms_nano_opt((*h).into(), (*mi).into(), (*s).into(), *ns)
                .ok_or_else(|| anyhow!("invalid time {h}:{mi}:{s}:{ns}"))?,
        ),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            let date = chrono::NaiveDate::from_ymd_opt(*y, (*mo).into(), (*d).into())
                .ok_or_else(|| anyhow!("invalid date y={y}, m={mo}, d={d}"))?;
            let time = chrono::NaiveTime::from_hms_nano_opt((*h).into(), (*mi).into(), (*s).into(), *ns)
                .ok_or_else(|| anyhow!("invalid time {h}:{mi}:{s}:{ns}"))?;
            Box::new(chrono::NaiveDateTime::new(date, time))
        }
        ParameterValue::Timestamp(v) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*v, 0).ok_or_else(|| anyhow!("invalid epoch timestamp {v}"))?,
        ),
        ParameterValue::Uuid(v) => Box::new(uuid::Uuid::parse_str(v).with_context(|| format!("invalid UUID {v}"))?),
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(v)
                .with_context(|| format!("invalid JSON {}", String::from_utf8_lossy(v)))?,
        ),
        ParameterValue::Decimal(v) => {
            Box::new(rust_decimal::Decimal::from_str_exact(v).with_context(|| format!("invalid decimal {v}"))?)
        }
        ParameterValue::ArrayInt32(v) => Box::new(v.clone()),
        ParameterValue::ArrayInt64(v) => Box::new(v.clone()),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| d.as_ref().map(|d| rust_decimal::Decimal::from_str_exact(d).with_context(|| format!("invalid decimal {d}"))).transpose())
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v.clone()),
        ParameterValue::Interval(v) => Box::new(Interval(*v)),
        ParameterValue::DbNull => Box::new(PgNull),
        ParameterValue::RangeInt32(r) => Box::new(range_from_wit(*r)),
        ParameterValue::RangeInt64(r) => Box::new(range_from_wit(*r)),
        ParameterValue::RangeDecimal((lo, hi)) => {
            let dec = |b: &Option<(String, pg::RangeBoundKind)>| -> anyhow::Result<Option<(RangeableDecimal, pg::RangeBoundKind)>> {
                b.as_ref()
                    .map(|(v, k)| {
                        rust_decimal::Decimal::from_str_exact(v)
                            .with_context(|| format!("invalid decimal {v}"))
                            .map(|d| (RangeableDecimal(d), *k))
                    })
                    .transpose()
            };
            Box::new(range_from_wit((dec(lo)?, dec(hi)?)))
        }
    })
}

type WitRange<T> = (Option<(T, pg::RangeBoundKind)>, Option<(T, pg::RangeBoundKind)>);

fn bound_kind(k: postgres_range::BoundType) -> pg::RangeBoundKind {
    match k {
        postgres_range::BoundType::Inclusive => pg::RangeBoundKind::Inclusive,
        postgres_range::BoundType::Exclusive => pg::RangeBoundKind::Exclusive,
    }
}

fn range_to_wit<T, W>(r: &postgres_range::Range<T>, f: impl Fn(&T) -> W) -> WitRange<W>
where
    T: PartialOrd + postgres_range::Normalizable,
{
    (
        r.lower().map(|b| (f(&b.value), bound_kind(b.type_))),
        r.upper().map(|b| (f(&b.value), bound_kind(b.type_))),
    )
}

fn range_from_wit<T>((lo, hi): WitRange<T>) -> postgres_range::Range<T>
where
    T: PartialOrd + postgres_range::Normalizable,
{
    let kind = |k: pg::RangeBoundKind| match k {
        pg::RangeBoundKind::Inclusive => postgres_range::BoundType::Inclusive,
        pg::RangeBoundKind::Exclusive => postgres_range::BoundType::Exclusive,
    };
    postgres_range::Range::new(
        lo.map(|(v, k)| postgres_range::RangeBound::new(v, kind(k))),
        hi.map(|(v, k)| postgres_range::RangeBound::new(v, kind(k))),
    )
}

/// `Decimal` usable inside `postgres_range::Range` (numrange).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
struct RangeableDecimal(rust_decimal::Decimal);

impl ToSql for RangeableDecimal {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        self.0.to_sql(ty, out)
    }
    fn accepts(ty: &Type) -> bool {
        <rust_decimal::Decimal as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for RangeableDecimal {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(RangeableDecimal(<rust_decimal::Decimal as FromSql>::from_sql(ty, raw)?))
    }
    fn accepts(ty: &Type) -> bool {
        <rust_decimal::Decimal as FromSql>::accepts(ty)
    }
}

impl postgres_range::Normalizable for RangeableDecimal {
    fn normalize<S: postgres_range::BoundSided>(b: postgres_range::RangeBound<S, Self>) -> postgres_range::RangeBound<S, Self> {
        b
    }
}

/// SQL NULL of any type.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// Postgres `interval` (binary: micros i64, days i32, months i32).
#[derive(Debug)]
struct Interval(pg::Interval);

impl ToSql for Interval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Interval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        if raw.len() != 16 {
            return Err("invalid interval encoding".into());
        }
        let micros = i64::from_be_bytes(raw[0..8].try_into()?);
        let days = i32::from_be_bytes(raw[8..12].try_into()?);
        let months = i32::from_be_bytes(raw[12..16].try_into()?);
        Ok(Interval(pg::Interval { micros, days, months }))
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
}

/// Any other type: the raw binary wire bytes.
struct Other(Vec<u8>);

impl<'a> FromSql<'a> for Other {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Other(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}
