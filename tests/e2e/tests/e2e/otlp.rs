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
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, AggregationTemporality};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, Span};
use prost::Message;
use runtime_local::telemetry::OtlpConfig;
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, GOOD_CARD, MUG};
use shop_e2e::upstream::{FaultyService, Mode};
use shop_e2e::{Shop, ShopOptions};

const COMPONENTS: [&str; 7] = ["frontend", "carts", "products", "checkout", "payment", "shipping", "email"];

/// Every POST it received, decoded (a body that does not decode is kept as an error).
#[derive(Clone, Default)]
struct Receiver {
    posts: Arc<Mutex<Vec<Result<ExportTraceServiceRequest, String>>>>,
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

impl Receiver {
    async fn start() -> Result<(Receiver, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let receiver = Receiver::default();
        let r = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (posts, logs, metrics) = (r.posts.clone(), r.logs.clone(), r.metrics.clone());
                        async move {
                            let proto = req.method() == hyper::Method::POST
                                && req.headers().get("content-type").is_some_and(|v| v == "application/x-protobuf");
                            let path = req.uri().path().to_string();
                            let ok = proto && path == "/v1/traces";
                            let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                            if proto && path == "/v1/logs" {
                                if let Ok(l) = ExportLogsServiceRequest::decode(body.as_ref()) {
                                    logs.lock().unwrap().push(l);
                                    return Ok(hyper::Response::new(Full::new(Bytes::new())));
                                }
                            }
                            if proto && path == "/v1/metrics" {
                                if let Ok(m) = ExportMetricsServiceRequest::decode(body.as_ref()) {
                                    metrics.lock().unwrap().push(m);
                                    return Ok(hyper::Response::new(Full::new(Bytes::new())));
                                }
                            }
                            let decoded = if ok {
                                ExportTraceServiceRequest::decode(body.as_ref()).map_err(|e| e.to_string())
                            } else {
                                Err(format!("not a POST of application/x-protobuf to /v1/{{traces,logs,metrics}}: {path}"))
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
        self.posts.lock().unwrap().len() + self.logs.lock().unwrap().len() + self.metrics.lock().unwrap().len()
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
    config.log_schedule_delay = Duration::from_millis(100);
    config.metric_export_interval = Duration::from_millis(300);
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

/// The metrics test: after N requests of which K were forced to fail with a 5xx, the
/// exported `spin.request_count` of the frontend says N, and the frontend's request log lines
/// exported as OTLP log records say N, K of them with a status >= 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_count_and_log_records_after_forced_errors() -> Result<()> {
    const N: usize = 8;
    const K: usize = 3;
    let (receiver, addr) = Receiver::start().await?;
    let products = FaultyService::start("products").await?;
    let overrides = [products.variable()].into_iter().collect();
    let mut shop = Shop::start_with_options(ShopOptions {
        overrides,
        on_load: Some(Arc::new(products.attacher())),
        otlp: Some(otlp_to(addr)?),
        ..ShopOptions::default()
    })
    .await?;
    let mut statuses = Vec::new();
    for i in 0..N {
        if i < K {
            products.set("*", Mode::Fail(500));
        } else {
            products.heal();
        }
        let mut b = shop.browser();
        let page = b.get("/").await?;
        statuses.push(page.status);
    }
    ensure!(
        statuses.iter().filter(|s| **s >= 500).count() == K && statuses.iter().all(|s| *s < 500 || *s == 503),
        "forced failures: {statuses:?}"
    );
    shop.stop().await; // flushes logs and exports the metrics once more

    // The last data point of the frontend's cumulative spin.request_count.
    let mut count = None;
    for req in receiver.metrics.lock().unwrap().iter() {
        for rm in &req.resource_metrics {
            for sm in &rm.scope_metrics {
                for m in sm.metrics.iter().filter(|m| m.name == "spin.request_count") {
                    let Some(metric::Data::Sum(sum)) = &m.data else { anyhow::bail!("spin.request_count is not a sum") };
                    ensure!(sum.is_monotonic && sum.aggregation_temporality == AggregationTemporality::Cumulative as i32);
                    for dp in &sum.data_points {
                        let a = |k: &str| {
                            dp.attributes.iter().find(|a| a.key == k).and_then(|a| a.value.as_ref()).and_then(|v| v.value.clone())
                        };
                        if a("component_id") == Some(AnyValue::StringValue("frontend".into())) {
                            ensure!(a("trigger_type") == Some(AnyValue::StringValue("http".into())), "trigger_type");
                            ensure!(a("app_id") == Some(AnyValue::StringValue("shop".into())), "app_id");
                            if let Some(number_data_point::Value::AsInt(n)) = dp.value {
                                count = Some(n);
                            }
                        }
                    }
                }
            }
        }
    }
    let mut lines = Vec::new();
    for req in receiver.logs.lock().unwrap().iter() {
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    if let Some(AnyValue::StringValue(body)) = r.body.as_ref().and_then(|b| b.value.as_ref()) {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(body.trim_end()) {
                            lines.push(v);
                        }
                    }
                }
            }
        }
    }
    // The shop's start-up migration (`POST /admin/migrate`) is a frontend request too.
    let setup = lines.iter().filter(|v| v["msg"] == "request" && v["service"] == "frontend" && v["path"] == "/admin/migrate").count();
    ensure!(count == Some((N + setup) as i64), "frontend spin.request_count: {count:?}, sent {N} + {setup} at start-up");
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["msg"] == "request" && v["service"] == "frontend" && v["path"] != "/admin/migrate")
        .collect();
    let failed = requests.iter().filter(|v| v["status"].as_u64().is_some_and(|s| s >= 500)).count();
    ensure!(requests.len() == N && failed == K, "frontend request log records: {} ({failed} >= 500)", requests.len());
    Ok(())
}
