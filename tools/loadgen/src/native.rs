//! The frontend's static route served natively: the same Rust code the wasm component runs
//! (`frontend::app::respond`, the request id, the JSON log line), behind a plain hyper server
//! like runtime-local's listener. Comparing the two gives the runtime's per-request overhead.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Map};
use shop_contract::{Operation, ShopError};

use frontend::backend::{Backend, Service};
use frontend::http::Incoming;

/// No services: the static route never calls one.
struct NoServices;

impl Backend for NoServices {
    async fn call<Req, Resp>(&self, service: Service, _op: Operation<Req, Resp>, _req: &Req) -> Result<Resp, ShopError> {
        Err(ShopError::unavailable(format!("{} is not part of the native benchmark", service.name())))
    }

    async fn call_as_operator<Req, Resp>(
        &self,
        service: Service,
        _op: Operation<Req, Resp>,
        _req: &Req,
        _authorization: &str,
    ) -> Result<Resp, ShopError> {
        Err(ShopError::unavailable(format!("{} is not part of the native benchmark", service.name())))
    }
}

async fn answer(req: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let request_id = shop_spin::serve::begin_request(header("x-request-id"), header("traceparent"), header("tracestate"));
    let incoming = Incoming {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
            .collect(),
        body: Vec::new(),
    };
    let body_too_large = req.into_body().collect().await.map(|b| b.to_bytes().len() > 16 * 1024).unwrap_or(true);
    let config = frontend::app::Config { secure_cookies: false, today: (2026, 1), client_ip_header: None };
    let out = frontend::app::respond(&NoServices, &config, &incoming, body_too_large).await;

    let mut fields = Map::new();
    fields.insert("service".into(), json!("frontend"));
    fields.insert("request_id".into(), json!(request_id));
    fields.insert("method".into(), json!(incoming.method));
    fields.insert("path".into(), json!(incoming.path));
    fields.insert("status".into(), json!(out.status));
    fields.insert("duration_ms".into(), json!(started.elapsed().as_secs_f64() * 1000.0));
    fields.insert("upstream_calls".into(), json!(0));
    fields.insert("upstream_ms".into(), json!(0));
    shop_spin::log::line("info", "request", fields);

    let out = out.with_header("x-request-id", request_id);
    let mut builder = hyper::Response::builder().status(out.status);
    for (k, v) in &out.headers {
        builder = builder.header(k, v);
    }
    Ok(builder.body(Full::new(Bytes::from(out.body))).expect("valid response"))
}

/// Serves until killed; prints `listening on <addr>` first.
pub async fn serve(addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(crate::target::loopback_listen(addr)?).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let _ = builder.serve_connection(TokioIo::new(stream), service_fn(answer)).await;
        });
    }
}
