//! OTLP traces from runtime-local (runtime-local/SPIN-SEMANTICS.md §11): a small OTLP/HTTP
//! receiver on a loopback port decodes what the shop's apps export (opentelemetry-proto), with
//! the shop in the split topology (each service an app of its own, called over HTTP).
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, Span};
use prost::Message;
use runtime_local::telemetry::OtlpConfig;
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, GOOD_CARD, MUG};
use shop_e2e::{Shop, ShopOptions};

const COMPONENTS: [&str; 7] = ["frontend", "carts", "products", "checkout", "payment", "shipping", "email"];

/// Every POST it received, decoded (a body that does not decode is kept as an error).
#[derive(Clone, Default)]
struct Receiver {
    posts: Arc<Mutex<Vec<Result<ExportTraceServiceRequest, String>>>>,
}

impl Receiver {
    async fn start() -> Result<(Receiver, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let receiver = Receiver::default();
        let posts = receiver.posts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let posts = posts.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let posts = posts.clone();
                        async move {
                            let ok = req.method() == hyper::Method::POST
                                && req.uri().path() == "/v1/traces"
                                && req.headers().get("content-type").is_some_and(|v| v == "application/x-protobuf");
                            let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                            let decoded = if ok {
                                ExportTraceServiceRequest::decode(body.as_ref()).map_err(|e| e.to_string())
                            } else {
                                Err("not a POST of application/x-protobuf to /v1/traces".to_string())
                            };
                            posts.lock().unwrap().push(decoded);
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok((receiver, addr))
    }

    fn post_count(&self) -> usize {
        self.posts.lock().unwrap().len()
    }

    fn spans(&self) -> Result<Vec<Span>> {
        let mut spans = Vec::new();
        for post in self.posts.lock().unwrap().iter() {
            let request = post.as_ref().map_err(|e| anyhow::anyhow!("a bad export: {e}"))?;
            for rs in &request.resource_spans {
                let service = rs.resource.as_ref().and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"));
                ensure!(service.is_some(), "an export without service.name");
                for ss in &rs.scope_spans {
                    spans.extend(ss.spans.iter().cloned());
                }
            }
        }
        Ok(spans)
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()).and_then(|v| v.value.as_ref())
}

fn attr_str<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// The component whose execution span is `span` or its nearest ancestor.
fn component_of<'a>(span: &'a Span, by_id: &HashMap<&[u8], &'a Span>) -> Option<&'a str> {
    let mut cur = span;
    loop {
        if let Some(c) = cur.name.strip_prefix("execute_wasm_component ") {
            return Some(c);
        }
        cur = by_id.get(cur.parent_span_id.as_slice())?;
    }
}

/// Places one order (two pages before it), returning once the confirmation redirect came.
async fn place_order(shop: &Shop) -> Result<()> {
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(placed.status == 303, "checkout: {} {}", placed.status, placed.body);
    Ok(())
}

fn otlp_to(addr: SocketAddr) -> Result<OtlpConfig> {
    let endpoint = format!("http://{addr}");
    let mut config = OtlpConfig::from_vars(|k| (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| endpoint.clone()))?
        .context("an endpoint turns traces on")?;
    config.schedule_delay = Duration::from_millis(100);
    Ok(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_one_trace_across_the_split_shop() -> Result<()> {
    let (receiver, addr) = Receiver::start().await?;
    let shop = Shop::start_with_options(ShopOptions { split: true, otlp: Some(otlp_to(addr)?), ..ShopOptions::default() }).await?;
    place_order(&shop).await?;

    // The checkout's trace: rooted at the frontend's server span for POST /checkout.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (trace, spans) = loop {
        let spans = receiver.spans()?;
        let root = spans.iter().find(|s| {
            s.kind == SpanKind::Server as i32
                && attr_str(s, "url.path") == Some("/checkout")
                && attr_str(s, "http.request.method") == Some("POST")
        });
        if let Some(root) = root {
            let trace = root.trace_id.clone();
            let in_trace: Vec<Span> = spans.into_iter().filter(|s| s.trace_id == trace).collect();
            let executed: HashSet<&str> =
                in_trace.iter().filter_map(|s| s.name.strip_prefix("execute_wasm_component ")).collect();
            if COMPONENTS.iter().all(|c| executed.contains(c)) || Instant::now() > deadline {
                break (trace, in_trace);
            }
        }
        ensure!(Instant::now() < deadline, "no POST /checkout server span exported ({} spans)", receiver.spans()?.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    ensure!(trace.len() == 16 && spans.iter().all(|s| s.span_id.len() == 8), "OTLP id sizes");

    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    ensure!(by_id.len() == spans.len(), "span ids are unique");
    // One root (the browser sent no traceparent); every other span's parent is in the trace.
    let roots: Vec<&Span> = spans.iter().filter(|s| s.parent_span_id.is_empty()).collect();
    // Its name is Spin's `"<method> <route>"`: the frontend's route is `/...`.
    ensure!(
        roots.len() == 1 && attr_str(roots[0], "url.path") == Some("/checkout") && roots[0].name == "POST /...",
        "roots: {:?}",
        roots.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for s in &spans {
        ensure!(
            s.parent_span_id.is_empty() || by_id.contains_key(s.parent_span_id.as_slice()),
            "span {:?} has a parent outside the trace",
            s.name
        );
        ensure!(s.end_time_unix_nano >= s.start_time_unix_nano, "span {:?} ends before it starts", s.name);
    }
    // Every component ran in the trace; each execution span sits under its app's server span,
    // and each service's server span under an outbound client span of the caller.
    for c in COMPONENTS {
        let exec = spans
            .iter()
            .find(|s| s.name == format!("execute_wasm_component {c}"))
            .with_context(|| format!("no execute span of {c}"))?;
        let server = by_id.get(exec.parent_span_id.as_slice()).context("execute span's parent")?;
        ensure!(server.kind == SpanKind::Server as i32, "{c}: execute span not under a server span");
        ensure!(attr(server, "http.response.status_code").is_some(), "{c}: server span without a status");
        if c != "frontend" {
            let client = by_id.get(server.parent_span_id.as_slice()).context("service server span's parent")?;
            ensure!(client.kind == SpanKind::Client as i32, "{c}: server span not under a client span");
            ensure!(attr_str(client, "http.request.method") == Some(client.name.as_str()), "{c}: client span name");
            ensure!(attr_str(client, "url.full").is_some_and(|u| u.starts_with("http://127.0.0.1:")), "{c}: url.full");
            let caller = component_of(client, &by_id).context("client span's component")?;
            ensure!(caller != c, "{c} called itself");
        }
    }
    // Postgres under products or checkout; Redis under carts.
    let db = |system: &str| -> Vec<(&str, &Span)> {
        spans
            .iter()
            .filter(|s| attr_str(s, "db.system") == Some(system))
            .filter_map(|s| component_of(s, &by_id).map(|c| (c, s)))
            .collect()
    };
    let pg = db("postgresql");
    ensure!(
        pg.iter().any(|(c, s)| matches!(*c, "products" | "checkout") && s.kind == SpanKind::Client as i32),
        "no Postgres span under products or checkout: {:?}",
        pg.iter().map(|(c, s)| (c, &s.name)).collect::<Vec<_>>()
    );
    ensure!(pg.iter().all(|(c, _)| matches!(*c, "products" | "checkout")), "a Postgres span outside products/checkout");
    let redis = db("redis");
    ensure!(redis.iter().any(|(c, _)| *c == "carts"), "no Redis span under carts");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_exported_when_otlp_is_unset() -> Result<()> {
    let (receiver, addr) = Receiver::start().await?;
    // OTEL_SDK_DISABLED wins over an endpoint, like Spin: no config, so the same as unset.
    let endpoint = format!("http://{addr}");
    let disabled = OtlpConfig::from_vars(|k| match k {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_SDK_DISABLED" => Some("true".into()),
        _ => None,
    })?;
    ensure!(disabled.is_none(), "OTEL_SDK_DISABLED turns traces off");
    let shop = Shop::start_with_options(ShopOptions { split: true, otlp: disabled, ..ShopOptions::default() }).await?;
    place_order(&shop).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ensure!(receiver.post_count() == 0, "{} exports with OTLP unset", receiver.post_count());
    Ok(())
}
