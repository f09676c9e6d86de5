//! A test harness for the whole shop: each [`Shop`] is the real `spin.toml` served by
//! runtime-local on a random loopback port, with its own PostgreSQL database and Redis key
//! prefix, migrated and seeded through the operator API, and cleaned up when dropped.
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use runtime_local::{App, GuestOutput, Limits, RuntimeOptions, Server};

pub mod admin;
pub mod browser;
pub mod html;
pub mod rawhttp;
pub mod reliability;
pub mod stores;
pub mod upstream;

/// Where the stores are: `SHOP_PG_ADDR` / `SHOP_REDIS_ADDR` (set by scripts/test), else the defaults.
pub fn pg_addr() -> String {
    std::env::var("SHOP_PG_ADDR").unwrap_or_else(|_| "127.0.0.1:5432".into())
}
pub fn redis_addr() -> String {
    std::env::var("SHOP_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Serialises app loading: the first load compiles the components into the disk cache, the
/// others read it.
static LOAD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One isolated shop.
pub struct Shop {
    server: Option<Server>,
    /// In a split shop, the servers of the services other than the frontend.
    services: Vec<Server>,
    /// The loaded app, for in-process calls ([`Shop::call_internal`]).
    pub app: App,
    pub base: String,
    pub database: String,
    pub redis_prefix: String,
    pub operator_token: String,
    /// The shared secret the services send each other (`shop-internal-token`).
    pub internal_token: String,
    /// Where this shop's PostgreSQL and Redis are (`host:port`).
    pub pg_addr: String,
    pub redis_addr: String,
    /// What the shop's components wrote to stdout and stderr, when [`ShopOptions::capture_logs`].
    logs: Option<GuestOutput>,
}

/// How to start a [`Shop`] other than the default: other stores, other variables, other limits.
#[derive(Clone, Default)]
pub struct ShopOptions {
    /// PostgreSQL `host:port` (default [`pg_addr`]).
    pub pg_addr: Option<String>,
    /// Redis `host:port` (default [`redis_addr`]).
    pub redis_addr: Option<String>,
    /// Variables overridden after the defaults (e.g. a service URL pointed elsewhere).
    pub overrides: HashMap<String, String>,
    /// runtime-local limits (default [`Limits::default`]).
    pub limits: Option<Limits>,
    /// Called with the loaded app before it serves (e.g. to attach `upstream::FaultyService`s,
    /// which the migrations may already go through).
    pub on_load: Option<std::sync::Arc<dyn Fn(&App) + Send + Sync>>,
    /// Deploy the services apart, like runtime-k8s/overlays/split: one app per component
    /// (selective deployment), each on its own port, reaching the others over HTTP through the
    /// `<service>_url` variables. [`Shop::app`] is then the frontend's.
    pub split: bool,
    /// Collect the components' stdout and stderr (their JSON log lines) in memory instead of
    /// printing them: [`Shop::log_lines`] reads them. One collector for every app of the shop.
    pub capture_logs: bool,
    /// Export OTLP traces from every app of the shop (runtime-local's `RuntimeOptions::otlp`;
    /// default off).
    pub otlp: Option<runtime_local::telemetry::OtlpConfig>,
}

/// The services other than the frontend, each reached at the variable `<id>_url`.
pub const SERVICES: [&str; 7] = ["products", "carts", "checkout", "payment", "shipping", "email", "accounts"];

impl Shop {
    /// Starts a shop with a fresh database and key prefix, and applies the migrations.
    pub async fn start() -> Result<Shop> {
        Self::start_with(HashMap::new()).await
    }

    /// As [`Shop::start`], with some variables overridden (e.g. a service URL pointed elsewhere).
    pub async fn start_with(overrides: HashMap<String, String>) -> Result<Shop> {
        Self::start_with_options(ShopOptions { overrides, ..ShopOptions::default() }).await
    }

    /// As [`Shop::start`], with other stores, variables or limits.
    pub async fn start_with_options(opts: ShopOptions) -> Result<Shop> {
        let ShopOptions { pg_addr: pg, redis_addr: redis, overrides, limits, on_load, split, capture_logs, otlp } = opts;
        let logs = capture_logs.then(|| GuestOutput::new(64 << 20));
        let (pg, redis) = (pg.unwrap_or_else(pg_addr), redis.unwrap_or_else(redis_addr));
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let database = format!("shop_e2e_{id}");
        let redis_prefix = format!("e2e:{id}:");
        let operator_token = uuid::Uuid::new_v4().simple().to_string();
        let internal_token = uuid::Uuid::new_v4().simple().to_string();
        admin_sql_at(&pg, &format!("CREATE DATABASE {database}")).await?;

        let mut variables: HashMap<String, String> = [
            ("db_url", format!("postgres://postgres@{pg}/{database}?sslmode=disable")),
            ("db_host", pg.clone()),
            ("redis_url", format!("redis://{redis}")),
            ("redis_host", redis.clone()),
            ("redis_prefix", redis_prefix.clone()),
            ("operator_token", operator_token.clone()),
            ("internal_token", internal_token.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // Split: the ports are chosen first, since the variables name them.
        let ports = if split { free_ports(SERVICES.len())? } else { Vec::new() };
        for (service, port) in SERVICES.iter().zip(&ports) {
            variables.insert(format!("{service}_url"), format!("http://127.0.0.1:{port}"));
        }
        variables.extend(overrides);

        let load = |components: Vec<String>| {
            let options = RuntimeOptions {
                variables: variables.clone(),
                env_variables: false,
                limits: limits.clone().unwrap_or_default(),
                components,
                // Every e2e test proves the shop never sends a query that matches no rows
                // (Spin 4.0.0-4.0.2 hang on one: shop_spin::store::wrap_read).
                refuse_empty_query_results: true,
                guest_output: logs.clone(),
                otlp: otlp.clone(),
                ..RuntimeOptions::default()
            };
            async move {
                let _guard = LOAD.lock().await;
                App::load(repo_root().join("spin.toml"), options).await.context("loading spin.toml")
            }
        };
        let mut services = Vec::new();
        for (service, port) in SERVICES.iter().zip(&ports) {
            let app = load(vec![service.to_string()]).await?;
            services.push(app.serve(([127, 0, 0, 1], *port).into()).await?);
        }
        let app = load(if split { vec!["frontend".into()] } else { Vec::new() }).await?;
        if let Some(on_load) = on_load {
            on_load(&app);
        }
        let server = app.serve("127.0.0.1:0".parse()?).await?;
        let base = format!("http://{}", server.addr());
        let shop = Shop {
            server: Some(server),
            services,
            app,
            base,
            database,
            redis_prefix,
            operator_token,
            internal_token,
            pg_addr: pg,
            redis_addr: redis,
            logs,
        };

        admin::migrate(&shop.base, &shop.operator_token).await?;
        Ok(shop)
    }

    /// A new shopper.
    pub fn browser(&self) -> browser::Browser {
        browser::Browser::new(&self.base)
    }

    /// In a split shop, where `service` (one of [`SERVICES`]) answers on its own.
    pub fn service_url(&self, service: &str) -> Option<String> {
        let i = SERVICES.iter().position(|s| *s == service)?;
        self.services.get(i).map(|s| s.url())
    }

    /// The JSON lines the components have logged so far (other output is skipped); empty unless
    /// started with [`ShopOptions::capture_logs`].
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        let Some(logs) = &self.logs else { return Vec::new() };
        let bytes = logs.contents();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(serde_json::Value::is_object)
            .collect()
    }

    /// The raw bytes the components have written so far (for "is this string anywhere").
    pub fn log_bytes(&self) -> bytes::Bytes {
        self.logs.as_ref().map(GuestOutput::contents).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A connection to this shop's own database.
    pub async fn db(&self) -> Result<tokio_postgres::Client> {
        connect_at(&self.pg_addr, &self.database).await
    }

    /// A Redis connection; keys of this shop start with [`Shop::redis_prefix`].
    pub async fn redis(&self) -> Result<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(format!("redis://{}", self.redis_addr))?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    /// Calls a component in-process the way another service does over service chaining: `method
    /// <path>` with `body`, `headers` and the internal token. Returns status, headers and body.
    pub async fn call_internal(
        &self,
        component: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Result<http::Response<bytes::Bytes>> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(shop_contract::INTERNAL_TOKEN_HEADER, &self.internal_token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(bytes::Bytes::from(body.into()))?;
        self.app.handle_chained(component, req).await
    }

    /// POSTs a JSON body to an internal operation of `component`: the status and the JSON answer.
    pub async fn call_json(&self, component: &str, path: &str, body: impl Into<Vec<u8>>) -> Result<(u16, serde_json::Value)> {
        let r = self.call_internal(component, "POST", path, &[("content-type", "application/json")], body).await?;
        let status = r.status().as_u16();
        let answer = serde_json::from_slice(r.body()).with_context(|| format!("{path}: {status}, not JSON"))?;
        Ok((status, answer))
    }

    /// Stops serving; the database and keys are removed on drop.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        for server in self.services.drain(..) {
            server.shutdown().await;
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        // Clean up on a thread of its own: Drop cannot await, and may run inside a runtime.
        let (database, prefix) = (self.database.clone(), self.redis_prefix.clone());
        let (pg, redis) = (self.pg_addr.clone(), self.redis_addr.clone());
        let server = self.server.take();
        let services = std::mem::take(&mut self.services);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                drop(server);
                drop(services);
                let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                let drop_db = admin_sql_at(&pg, &sql);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), drop_db).await;
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), delete_keys_at(&redis, &prefix)).await;
            });
            Some(())
        })
        .join();
    }
}

/// `n` distinct loopback ports that were free a moment ago (bound together, then released).
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<std::net::TcpListener> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

#[allow(dead_code)]
async fn connect(database: &str) -> Result<tokio_postgres::Client> {
    connect_at(&pg_addr(), database).await
}

/// A connection to `database` on the PostgreSQL at `addr` (`host:port`).
pub async fn connect_at(addr: &str, database: &str) -> Result<tokio_postgres::Client> {
    let (host, port) = addr.rsplit_once(':').context("SHOP_PG_ADDR must be host:port")?;
    connect_to(host, port, "postgres", database).await
}

pub(crate) async fn connect_to(host: &str, port: &str, user: &str, database: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(
        &format!("host={host} port={port} user={user} dbname={database}"),
        tokio_postgres::NoTls,
    )
    .await
    .with_context(|| format!("connecting to PostgreSQL at {host}:{port}"))?;
    tokio::spawn(conn);
    Ok(client)
}

#[allow(dead_code)]
async fn admin_sql(sql: &str) -> Result<()> {
    admin_sql_at(&pg_addr(), sql).await
}

async fn admin_sql_at(addr: &str, sql: &str) -> Result<()> {
    connect_at(addr, "postgres").await?.batch_execute(sql).await.with_context(|| sql.to_string())?;
    Ok(())
}

async fn delete_keys_at(addr: &str, prefix: &str) -> Result<()> {
    let client = redis::Client::open(format!("redis://{addr}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
    }
    Ok(())
}
