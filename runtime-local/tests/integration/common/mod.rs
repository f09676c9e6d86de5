//! Shared helpers for runtime-local's integration tests: building the test components,
//! loading the test app, a tiny HTTP client, and per-test Postgres databases / Redis prefixes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use runtime_local::{App, Limits, RuntimeOptions, Server};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn workspace_dir() -> PathBuf {
    crate_dir().parent().unwrap().to_path_buf()
}

/// Builds the wasm test components once per test process, in the workspace's own target dir
/// (beside the shop's components, so their dependencies are compiled once; scripts/test builds
/// them before the tests, and this finds them fresh). `cargo test` holds no lock on the
/// wasm32-wasip2 release directory while tests run.
pub fn build_test_components() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(workspace_dir())
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release", "-p", "rl-test-app", "-p", "rl-test-kv"])
            .status()
            .expect("failed to run cargo to build the test components");
        assert!(status.success(), "building the test components failed");
    });
}

pub fn manifest(name: &str) -> PathBuf {
    crate_dir().join("tests").join("apps").join(name)
}

/// PostgreSQL `host:port` (`SHOP_PG_ADDR`, as exported by scripts/lib.sh; default 127.0.0.1:5432).
pub fn pg_addr() -> String {
    std::env::var("SHOP_PG_ADDR").unwrap_or_else(|_| "127.0.0.1:5432".into())
}

/// Redis `host:port` (`SHOP_REDIS_ADDR`; default 127.0.0.1:6379).
pub fn redis_addr() -> String {
    std::env::var("SHOP_REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

fn split_addr(a: &str) -> (String, String) {
    let (h, p) = a.rsplit_once(':').expect("host:port");
    (h.to_string(), p.to_string())
}

/// Options used by most tests: deterministic variables (no process env), a shared compile cache.
pub fn options() -> RuntimeOptions {
    let mut variables = HashMap::new();
    variables.insert("api_key".to_string(), "sekret".to_string());
    variables.insert("pg_host".to_string(), pg_addr());
    variables.insert("redis_host".to_string(), redis_addr());
    RuntimeOptions {
        variables,
        env_variables: false,
        cache_dir: Some(workspace_dir().join("target").join("rl-test-cache")),
        no_cache: false,
        limits: Limits { max_instances: 32, ..Limits::default() },
        components: Vec::new(),
        refuse_empty_query_results: false,
        guest_output: None,
        otlp: None,
    }
}

pub async fn load(opts: RuntimeOptions) -> App {
    build_test_components();
    App::load(manifest("spin.toml"), opts).await.expect("test app should load")
}

pub async fn start(opts: RuntimeOptions) -> (App, Server) {
    let app = load(opts).await;
    let server = app.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    (app, server)
}

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    /// Headers the echo endpoint saw, as (name, value) pairs in order.
    pub fn echoed_headers(&self) -> Vec<(String, String)> {
        self.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
            .collect()
    }
    pub fn echoed(&self, name: &str) -> Vec<String> {
        self.echoed_headers().into_iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect()
    }
}

/// Sends one HTTP/1.1 request to `addr` with `Host: <addr>`.
pub async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let mut b = http::Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(body.into())).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(60), sender.send_request(req))
        .await
        .expect("request timed out")
        .expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    Resp { status, headers, body }
}

pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    send(addr, "GET", path, &[], Bytes::new()).await
}

pub async fn post_json(addr: SocketAddr, path: &str, v: &serde_json::Value) -> Resp {
    send(addr, "POST", path, &[("content-type", "application/json")], v.to_string()).await
}

/// Admin connection (database `postgres`, which every cluster has).
pub fn pg_admin() -> String {
    let (h, p) = split_addr(&pg_addr());
    format!("host={h} port={p} user=postgres dbname=postgres sslmode=disable")
}

/// A uniquely named Postgres database, dropped on `drop_db`.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("rl_test_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) = tokio_postgres::connect(&pg_admin(), tokio_postgres::NoTls).await.expect("connect to local Postgres");
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
        TestDb { name }
    }

    /// Connection string a guest uses (key/value form).
    pub fn conn(&self) -> String {
        let (h, p) = split_addr(&pg_addr());
        format!("host={h} port={p} user=postgres dbname={} sslmode=disable", self.name)
    }

    pub async fn drop_db(self) {
        let (client, conn) = tokio_postgres::connect(&pg_admin(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await.expect("drop database");
    }
}

/// A unique Redis key prefix; `cleanup` deletes every key under it.
pub fn redis_prefix() -> String {
    format!("rl-test:{}:", uuid::Uuid::new_v4().simple())
}

pub async fn redis_cleanup(prefix: &str) {
    let client = redis::Client::open(format!("redis://{}", redis_addr())).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
