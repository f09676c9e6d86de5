//! OTLP trace export, like Spin 3.6.3 with OTel on (SPIN-SEMANTICS.md §11).
//!
//! Off unless [`OtlpConfig`] is given (the CLI reads it from the same `OTEL_*` variables as Spin,
//! [`OtlpConfig::from_env`]). When off, the app holds no [`Tracer`] and no span is ever built:
//! every hook is an `Option` check. When on, spans are recorded explicitly (no `tracing` layer),
//! sent to a bounded queue, and a background task batches them into an OTLP
//! `ExportTraceServiceRequest` POSTed as `application/x-protobuf` to the traces endpoint. Export
//! never blocks or fails a request: a full queue drops the span, a failed POST is logged.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, ResourceSpans, ScopeSpans, Span as ProtoSpan};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

/// opentelemetry_sdk 0.28 `BatchConfig` defaults: queue 2048, batch 512, delay 5 s.
const MAX_QUEUE: usize = 2048;
const MAX_BATCH: usize = 512;
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how traces are exported.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    /// The full URL spans are POSTed to (e.g. `http://127.0.0.1:4318/v1/traces`); `None`: no spans.
    pub traces_endpoint: Option<String>,
    /// The full URL guest log records are POSTed to (`.../v1/logs`); `None`: no log records.
    pub logs_endpoint: Option<String>,
    /// The full URL `spin.request_count` is POSTed to (`.../v1/metrics`); `None`: no metrics.
    pub metrics_endpoint: Option<String>,
    /// Resource attributes (`service.name` first).
    pub resource: Vec<(String, String)>,
    /// How long spans wait before a batch is sent (`OTEL_BSP_SCHEDULE_DELAY`, default 5 s).
    pub schedule_delay: Duration,
    /// How long log records wait before a batch is sent (`OTEL_BLRP_SCHEDULE_DELAY`, default 1 s).
    pub log_schedule_delay: Duration,
    /// The metric export period (`OTEL_METRIC_EXPORT_INTERVAL`, default 60 s); also exported at shutdown.
    pub metric_export_interval: Duration,
}

impl OtlpConfig {
    /// From the process environment, like Spin's `spin_telemetry::init` (`None` = traces off).
    pub fn from_env() -> Result<Option<OtlpConfig>> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// From the variables `get` returns. On when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set and not empty, unless `OTEL_SDK_DISABLED` is
    /// set and not empty (Spin `crates/telemetry/src/env.rs`). Protocol `grpc` is refused (not
    /// implemented here), `http/json` too (Spin refuses it); anything else is http/protobuf.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<OtlpConfig>> {
        let set = |k: &str| get(k).filter(|v| !v.is_empty());
        if set("OTEL_SDK_DISABLED").is_some() {
            return Ok(None);
        }
        // Each signal on or off by itself (Spin `env.rs otel_{tracing,logs,metrics}_enabled`); the
        // signal's endpoint as given, else `<endpoint>/v1/<signal>` (opentelemetry-otlp).
        let mut any = false;
        let mut endpoint = |signal: &str| -> Result<Option<String>> {
            let upper = signal.to_uppercase();
            let url = match (set(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")), set("OTEL_EXPORTER_OTLP_ENDPOINT")) {
                (Some(t), _) => t,
                (None, Some(base)) => format!("{}/v1/{signal}", base.trim_end_matches('/')),
                (None, None) => return Ok(None),
            };
            let protocol = get(&format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"))
                .or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"))
                .unwrap_or_else(|| "http/protobuf".into());
            match protocol.as_str() {
                "grpc" => bail!("OTEL_EXPORTER_OTLP_PROTOCOL=grpc: runtime-local exports OTLP over http/protobuf only"),
                "http/json" => bail!("http/json OTLP protocol is not supported"),
                _ => {}
            }
            if !url.starts_with("http://") {
                bail!("OTLP {signal} endpoint {url:?}: runtime-local exports to http:// endpoints only");
            }
            any = true;
            Ok(Some(url))
        };
        let traces_endpoint = endpoint("traces")?;
        let logs_endpoint = endpoint("logs")?;
        let metrics_endpoint = endpoint("metrics")?;
        if !any {
            return Ok(None);
        }
        let env_resource = parse_resource_attributes(get("OTEL_RESOURCE_ATTRIBUTES").as_deref().unwrap_or(""));
        let service_name = set("OTEL_SERVICE_NAME")
            .or_else(|| env_resource.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.clone()))
            .unwrap_or_else(|| "spin".into());
        let mut resource = vec![
            ("service.name".to_string(), service_name),
            ("service.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ];
        for (k, v) in env_resource {
            if !resource.iter().any(|(rk, _)| *rk == k) {
                resource.push((k, v));
            }
        }
        let schedule_delay = get("OTEL_BSP_SCHEDULE_DELAY")
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(5));
        let millis = |k: &str, default: u64| {
            Duration::from_millis(get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(default))
        };
        Ok(Some(OtlpConfig {
            traces_endpoint,
            logs_endpoint,
            metrics_endpoint,
            resource,
            schedule_delay,
            // opentelemetry_sdk 0.28 BatchLogProcessor / PeriodicReader defaults.
            log_schedule_delay: millis("OTEL_BLRP_SCHEDULE_DELAY", 1000),
            metric_export_interval: millis("OTEL_METRIC_EXPORT_INTERVAL", 60_000),
        }))
    }
}

/// `k1=v1,k2=v2` (OTEL_RESOURCE_ATTRIBUTES); malformed pairs are skipped.
fn parse_resource_attributes(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// A span's identity as propagated in `traceparent` / `tracestate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// The sampled flag.
    pub sampled: bool,
    /// The `tracestate` carried along (maybe empty).
    pub trace_state: String,
}

impl SpanContext {
    /// Parses W3C `traceparent` (version `00` exactly 4 fields; a higher version at least 4;
    /// `ff` invalid; lowercase hex; ids not all zero) and keeps `tracestate` as given.
    pub fn extract(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
        let parts: Vec<&str> = traceparent.trim().split('-').collect();
        if parts.len() < 4 {
            return None;
        }
        let version = u8::from_str_radix(parts[0], 16).ok().filter(|_| parts[0].len() == 2)?;
        if version == 0xff || (version == 0 && parts.len() != 4) {
            return None;
        }
        let trace_id: [u8; 16] = hex_lower(parts[1])?.try_into().ok()?;
        let span_id: [u8; 8] = hex_lower(parts[2])?.try_into().ok()?;
        let flags = hex_lower(parts[3]).filter(|f| f.len() == 1)?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(SpanContext { trace_id, span_id, sampled: flags & 1 == 1, trace_state: tracestate.unwrap_or("").to_string() })
    }

    /// `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.span_id), self.sampled as u8)
    }
}

fn hex_lower(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<u16> for AttrValue {
    fn from(v: u16) -> Self {
        AttrValue::Int(v.into())
    }
}

/// Span kinds Spin uses (`otel.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `otel.kind = "server"`.
    Server,
    /// `otel.kind = "client"`.
    Client,
    /// No `otel.kind`.
    Internal,
}

struct SpanData {
    name: String,
    kind: Kind,
    parent: Option<[u8; 8]>,
    start: SystemTime,
    attrs: Vec<(String, AttrValue)>,
}

struct SpanInner {
    ctx: SpanContext,
    data: Mutex<SpanData>,
    tx: mpsc::Sender<ProtoSpan>,
}

impl Drop for SpanInner {
    /// The span ends when its last handle goes (like a `tracing` span closing).
    fn drop(&mut self) {
        if !self.ctx.sampled {
            return;
        }
        let data = self.data.get_mut().unwrap_or_else(|e| e.into_inner());
        let span = to_proto(&self.ctx, data, SystemTime::now());
        // Full queue or exporter gone: the span is dropped, never the request.
        let _ = self.tx.try_send(span);
    }
}

/// A recording span; clones share it, and it ends when the last clone is dropped.
#[derive(Clone)]
pub struct Span(Arc<SpanInner>);

impl Span {
    /// Its context (for children and for `traceparent`).
    pub fn context(&self) -> &SpanContext {
        &self.0.ctx
    }

    /// Sets (or replaces) an attribute, like `Span::record`.
    pub fn set(&self, key: &str, value: impl Into<AttrValue>) {
        let mut d = self.0.data.lock().unwrap_or_else(|e| e.into_inner());
        let value = value.into();
        match d.attrs.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => d.attrs.push((key.to_string(), value)),
        }
    }

    /// Renames the span (Spin's `otel.name`).
    pub fn set_name(&self, name: impl Into<String>) {
        self.0.data.lock().unwrap_or_else(|e| e.into_inner()).name = name.into();
    }

    /// A child span in the same trace.
    pub fn child(&self, name: impl Into<String>, kind: Kind) -> Span {
        let ctx = &self.0.ctx;
        new_span(
            self.0.tx.clone(),
            SpanContext { trace_id: ctx.trace_id, span_id: random_span_id(), sampled: ctx.sampled, trace_state: ctx.trace_state.clone() },
            Some(ctx.span_id),
            name.into(),
            kind,
        )
    }

    /// A client span for a Postgres or Redis call: Spin's `#[instrument(name = .., fields(otel.kind =
    /// "client", db.system = .., otel.name = ..))]`.
    pub fn db_child(&self, name: &str, otel_name: Option<String>, system: &str) -> Span {
        let s = self.child(otel_name.unwrap_or_else(|| name.to_string()), Kind::Client);
        s.set("db.system", system);
        s
    }

    /// Spin's `record_address_fields` (`crates/factor-outbound-networking/src/lib.rs`): from a URL
    /// address, `db.address`, `server.port` (0 when none) and `db.namespace`.
    pub fn record_address_fields(&self, address: &str) {
        if let Ok(url) = url::Url::parse(address) {
            self.set("db.address", url.host_str().unwrap_or_default());
            self.set("server.port", url.port().unwrap_or_default());
            self.set("db.namespace", url.path().trim_start_matches('/'));
        }
    }
}

fn new_span(tx: mpsc::Sender<ProtoSpan>, ctx: SpanContext, parent: Option<[u8; 8]>, name: String, kind: Kind) -> Span {
    Span(Arc::new(SpanInner {
        ctx,
        data: Mutex::new(SpanData { name, kind, parent, start: SystemTime::now(), attrs: Vec::new() }),
        tx,
    }))
}

fn random_span_id() -> [u8; 8] {
    let b = *uuid::Uuid::new_v4().as_bytes();
    b[..8].try_into().expect("8 bytes")
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn kv(k: &str, v: &AttrValue) -> KeyValue {
    let value = match v {
        AttrValue::Str(s) => any_value::Value::StringValue(s.clone()),
        AttrValue::Int(i) => any_value::Value::IntValue(*i),
    };
    KeyValue { key: k.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn to_proto(ctx: &SpanContext, d: &SpanData, end: SystemTime) -> ProtoSpan {
    ProtoSpan {
        trace_id: ctx.trace_id.to_vec(),
        span_id: ctx.span_id.to_vec(),
        trace_state: ctx.trace_state.clone(),
        parent_span_id: d.parent.map(|p| p.to_vec()).unwrap_or_default(),
        flags: 0x100 | ctx.sampled as u32,
        name: d.name.clone(),
        kind: match d.kind {
            Kind::Server => SpanKind::Server,
            Kind::Client => SpanKind::Client,
            Kind::Internal => SpanKind::Internal,
        } as i32,
        start_time_unix_nano: unix_nanos(d.start),
        end_time_unix_nano: unix_nanos(end).max(unix_nanos(d.start)),
        attributes: d.attrs.iter().map(|(k, v)| kv(k, v)).collect(),
        ..Default::default()
    }
}

/// Builds the export request for a batch (pure; unit-tested).
pub fn export_request(resource: &[(String, String)], spans: Vec<ProtoSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource.iter().map(|(k, v)| kv(k, &AttrValue::Str(v.clone()))).collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                // Spin's tracer: `tracer_provider.tracer("spin")` (crates/telemetry/src/traces.rs).
                scope: Some(InstrumentationScope { name: "spin".into(), ..Default::default() }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// An app's span factory and exporter queue.
pub struct Tracer {
    tx: mpsc::Sender<ProtoSpan>,
}

impl Tracer {
    /// Starts the background exporter (needs a Tokio runtime). It sends what is queued and stops
    /// once the tracer and all its spans are gone; `flush` sends what is queued now.
    fn start(endpoint: String, config: &OtlpConfig, flush: mpsc::UnboundedReceiver<Flush>) -> Tracer {
        let (tx, rx) = mpsc::channel(MAX_QUEUE);
        let resource = config.resource.clone();
        let encode = move |spans| export_request(&resource, spans).encode_to_vec();
        tokio::spawn(batch_loop(endpoint, config.schedule_delay, rx, flush, encode, "spans"));
        Tracer { tx }
    }

    /// Spin's `http_span!` for a request received by the listener
    /// (`crates/trigger-http/src/instrument.rs`), parented on a valid incoming `traceparent`
    /// (`server.rs` `extract_trace_context`), else the root of a new sampled trace
    /// (`ParentBased(AlwaysOn)`).
    pub fn server_span<B>(&self, req: &http::Request<B>, client_addr: SocketAddr) -> Span {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        let parent = header("traceparent").and_then(|tp| SpanContext::extract(tp, header("tracestate")));
        let (ctx, parent_id) = match parent {
            Some(p) => (SpanContext { span_id: random_span_id(), ..p.clone() }, Some(p.span_id)),
            None => (
                SpanContext {
                    trace_id: *uuid::Uuid::new_v4().as_bytes(),
                    span_id: random_span_id(),
                    sampled: true,
                    trace_state: String::new(),
                },
                None,
            ),
        };
        let span = new_span(self.tx.clone(), ctx, parent_id, "spin_trigger_http.handle_http_request".into(), Kind::Server);
        span.set("http.request.method", req.method().as_str());
        span.set("network.peer.address", client_addr.ip().to_string());
        span.set("network.peer.port", client_addr.port());
        span.set("network.protocol.name", "http");
        span.set("url.path", req.uri().path());
        span.set("url.query", req.uri().query().unwrap_or(""));
        span.set("url.scheme", req.uri().scheme_str().unwrap_or(""));
        if let Some(xff) = header("x-forwarded-for") {
            span.set("client.address", xff);
        }
        span
    }
}

/// Spin's `finalize_http_span`: `http.route` and `otel.name = "<method> <route>"` when a route
/// matched, else `otel.name = <method>`; `http.response.status_code`.
pub fn finalize_server_span(span: &Span, method: &str, route: Option<&str>, status: Option<u16>) {
    match route {
        Some(route) => {
            span.set("http.route", route);
            span.set_name(format!("{method} {route}"));
        }
        None => span.set_name(method),
    }
    span.set("http.response.status_code", status.unwrap_or(500));
}

type Flush = oneshot::Sender<()>;

/// A BatchSpanProcessor / BatchLogProcessor: gathers items for `delay` (or a full batch), POSTs
/// them; a flush request sends everything queued at once. Ends when every sender is gone.
async fn batch_loop<T: Send + 'static>(
    endpoint: String,
    delay: Duration,
    mut rx: mpsc::Receiver<T>,
    mut flush: mpsc::UnboundedReceiver<Flush>,
    encode: impl Fn(Vec<T>) -> Vec<u8> + Send + 'static,
    what: &'static str,
) {
    let mut flush_open = true;
    loop {
        let mut batch = Vec::new();
        let mut reply = None;
        tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => if n == 0 { return },
            f = flush.recv(), if flush_open => match f {
                Some(f) => reply = Some(f),
                None => { flush_open = false; continue }
            },
        }
        let mut closed = false;
        if reply.is_none() {
            // Gather for the schedule delay, up to a full batch, or until every sender is gone.
            let deadline = tokio::time::sleep(delay);
            tokio::pin!(deadline);
            while batch.len() < MAX_BATCH {
                tokio::select! {
                    _ = &mut deadline => break,
                    n = { let room = MAX_BATCH - batch.len(); rx.recv_many(&mut batch, room) } => if n == 0 {
                        closed = true;
                        break;
                    },
                    f = flush.recv(), if flush_open => match f {
                        Some(f) => { reply = Some(f); break }
                        None => flush_open = false,
                    },
                }
            }
        }
        if reply.is_some() {
            while let Ok(x) = rx.try_recv() {
                batch.push(x);
            }
        }
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            export(&endpoint, batch.len(), encode(batch), what).await;
            batch = rest;
        }
        if let Some(r) = reply {
            let _ = r.send(());
        }
        if closed {
            return;
        }
    }
}

async fn export(endpoint: &str, n: usize, body: Vec<u8>, what: &str) {
    match tokio::time::timeout(EXPORT_TIMEOUT, post(endpoint, body)).await {
        Ok(Ok(status)) if status.is_success() => tracing::debug!(n, what, "OTLP export"),
        Ok(Ok(status)) => tracing::warn!(n, what, %status, "OTLP export refused"),
        Ok(Err(e)) => tracing::warn!(n, what, "OTLP export failed: {e:#}"),
        Err(_) => tracing::warn!(n, what, "OTLP export timed out"),
    }
}

/// The logs and metrics signals, and a flush of all three (SPIN-SEMANTICS.md §11).
pub struct Telemetry {
    /// Spans, when traces are on.
    pub tracer: Option<Tracer>,
    /// Guest output as log records, when logs are on.
    pub logs: Option<LogSink>,
    metrics: Option<Arc<RequestCounter>>,
    flushes: Vec<mpsc::UnboundedSender<Flush>>,
}

impl Telemetry {
    /// Starts an exporter task for each signal that is on (needs a Tokio runtime). `app_id`
    /// is the manifest's application name (Spin's `APP_NAME_KEY` metadata).
    pub fn start(config: &OtlpConfig, app_id: &str) -> Telemetry {
        let mut flushes = Vec::new();
        let mut flush = || {
            let (tx, rx) = mpsc::unbounded_channel();
            flushes.push(tx);
            rx
        };
        let tracer = config.traces_endpoint.clone().map(|e| Tracer::start(e, config, flush()));
        let logs = config.logs_endpoint.clone().map(|endpoint| {
            let (tx, rx) = mpsc::channel(MAX_QUEUE);
            let resource = config.resource.clone();
            let encode = move |records| logs_request(&resource, records).encode_to_vec();
            tokio::spawn(batch_loop(endpoint, config.log_schedule_delay, rx, flush(), encode, "log records"));
            LogSink { tx }
        });
        let metrics = config.metrics_endpoint.clone().map(|endpoint| {
            let counter = Arc::new(RequestCounter { app_id: app_id.to_string(), series: Mutex::new(Vec::new()) });
            tokio::spawn(metrics_loop(endpoint, config.metric_export_interval, counter.clone(), config.resource.clone(), flush()));
            counter
        });
        Telemetry { tracer, logs, metrics, flushes }
    }

    /// Spin's `monotonic_counter!(spin.request_count = 1, trigger_type = "http", app_id, component_id)`
    /// (`crates/trigger-http/src/server.rs handle_trigger_route`).
    pub fn count_request(&self, component_id: &str) {
        if let Some(m) = &self.metrics {
            m.add(component_id);
        }
    }

    /// Exports everything queued and the metrics now, and waits for those exports.
    pub async fn flush(&self) {
        let mut waits = Vec::new();
        for f in &self.flushes {
            let (tx, rx) = oneshot::channel();
            if f.send(tx).is_ok() {
                waits.push(rx);
            }
        }
        for w in waits {
            let _ = w.await;
        }
    }
}

/// Where guest output becomes log records (Spin `crates/telemetry/src/logs.rs app_log_to_otel`).
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::Sender<LogRecord>,
}

impl LogSink {
    /// One record per write, body = the bytes written (non-UTF-8: the first 50 bytes escaped and
    /// `app_log_non_utf8 = true`); no severity, no timestamp but the observed one, no trace
    /// context. A full queue drops the record.
    pub fn emit(&self, buf: &[u8]) {
        let _ = self.tx.try_send(log_record(buf, SystemTime::now()));
    }
}

/// The record Spin's `handle_app_log` builds for one write (pure; unit-tested).
pub fn log_record(buf: &[u8], now: SystemTime) -> LogRecord {
    let (body, attributes) = match std::str::from_utf8(buf) {
        Ok(s) => (s.to_string(), Vec::new()),
        Err(_) => (
            buf.iter().take(50).map(|&b| std::ascii::escape_default(b).to_string()).collect(),
            vec![KeyValue {
                key: "app_log_non_utf8".into(),
                value: Some(AnyValue { value: Some(any_value::Value::BoolValue(true)) }),
                ..Default::default()
            }],
        ),
    };
    LogRecord {
        observed_time_unix_nano: unix_nanos(now),
        body: Some(AnyValue { value: Some(any_value::Value::StringValue(body)) }),
        attributes,
        ..Default::default()
    }
}

fn resource_proto(resource: &[(String, String)]) -> Option<Resource> {
    Some(Resource {
        attributes: resource.iter().map(|(k, v)| kv(k, &AttrValue::Str(v.clone()))).collect(),
        ..Default::default()
    })
}

/// The logs export request (Spin's logger: `provider.logger("spin")`).
pub fn logs_request(resource: &[(String, String)], log_records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource_proto(resource),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope { name: "spin".into(), ..Default::default() }),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The cumulative `spin.request_count` series, one per component id.
struct RequestCounter {
    app_id: String,
    /// (component id, start time, count)
    series: Mutex<Vec<(String, SystemTime, u64)>>,
}

impl RequestCounter {
    fn add(&self, component_id: &str) {
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        match s.iter_mut().find(|(c, _, _)| c == component_id) {
            Some(slot) => slot.2 += 1,
            None => s.push((component_id.to_string(), SystemTime::now(), 1)),
        }
    }

    /// `None` before the first request (the SDK exports nothing then).
    fn request(&self, resource: &[(String, String)], now: SystemTime) -> Option<ExportMetricsServiceRequest> {
        let s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if s.is_empty() {
            return None;
        }
        let data_points = s
            .iter()
            .map(|(component, start, n)| NumberDataPoint {
                attributes: vec![
                    kv("trigger_type", &"http".into()),
                    kv("app_id", &AttrValue::Str(self.app_id.clone())),
                    kv("component_id", &AttrValue::Str(component.clone())),
                ],
                start_time_unix_nano: unix_nanos(*start),
                time_unix_nano: unix_nanos(now),
                value: Some(number_data_point::Value::AsInt(*n as i64)),
                ..Default::default()
            })
            .collect();
        Some(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource_proto(resource),
                scope_metrics: vec![ScopeMetrics {
                    // tracing-opentelemetry 0.29 `MetricsLayer`'s meter.
                    scope: Some(InstrumentationScope {
                        name: "tracing/tracing-opentelemetry".into(),
                        version: "0.29.0".into(),
                        ..Default::default()
                    }),
                    metrics: vec![Metric {
                        name: "spin.request_count".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points,
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        })
    }
}

/// opentelemetry_sdk's `PeriodicReader`: exports every `interval`, on a flush, and once more when
/// the app goes.
async fn metrics_loop(
    endpoint: String,
    interval: Duration,
    counter: Arc<RequestCounter>,
    resource: Vec<(String, String)>,
    mut flush: mpsc::UnboundedReceiver<Flush>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        let (reply, last) = tokio::select! {
            _ = tick.tick() => (None, false),
            f = flush.recv() => { let last = f.is_none(); (f, last) }
        };
        if let Some(req) = counter.request(&resource, SystemTime::now()) {
            export(&endpoint, 1, req.encode_to_vec(), "metrics").await;
        }
        if let Some(r) = reply {
            let _ = r.send(());
        }
        if last {
            return;
        }
    }
}

async fn post(endpoint: &str, body: Vec<u8>) -> Result<http::StatusCode> {
    let uri: http::Uri = endpoint.parse()?;
    let authority = uri.authority().ok_or_else(|| anyhow::anyhow!("no host in {endpoint}"))?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((authority.host().trim_matches(|c| c == '[' || c == ']'), port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::post(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn on_only_with_an_endpoint_and_not_disabled() {
        assert_eq!(OtlpConfig::from_vars(vars(&[])).unwrap(), None);
        assert_eq!(OtlpConfig::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])).unwrap(), None);
        let c = OtlpConfig::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/")])).unwrap().unwrap();
        assert_eq!(c.traces_endpoint.as_deref(), Some("http://h:4318/v1/traces"));
        assert_eq!(c.logs_endpoint.as_deref(), Some("http://h:4318/v1/logs"));
        assert_eq!(c.metrics_endpoint.as_deref(), Some("http://h:4318/v1/metrics"));
        assert_eq!(c.metric_export_interval, Duration::from_secs(60));
        let l = OtlpConfig::from_vars(vars(&[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:1/x")])).unwrap().unwrap();
        assert_eq!((l.traces_endpoint, l.logs_endpoint.as_deref(), l.metrics_endpoint), (None, Some("http://l:1/x"), None));
        assert_eq!(c.resource[0], ("service.name".into(), "spin".into()));
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop,deployment.environment=dev"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.traces_endpoint.as_deref(), Some("http://t:1/x"));
        assert_eq!(c.resource[0].1, "shop");
        assert!(c.resource.contains(&("deployment.environment".into(), "dev".into())));
        let c = OtlpConfig::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"), ("OTEL_SERVICE_NAME", "svc")]));
        assert_eq!(c.unwrap().unwrap().resource[0].1, "svc");
        let off = vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"), ("OTEL_SDK_DISABLED", "true")]);
        assert_eq!(OtlpConfig::from_vars(off).unwrap(), None);
        let json = vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
        assert!(OtlpConfig::from_vars(json).is_err());
        let grpc = vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")]);
        assert!(OtlpConfig::from_vars(grpc).is_err());
    }

    #[test]
    fn traceparent_round_trip_and_rejects() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let c = SpanContext::extract(tp, Some("k=v")).unwrap();
        assert!(c.sampled);
        assert_eq!(c.trace_state, "k=v");
        assert_eq!(c.traceparent(), tp);
        for bad in [
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        ] {
            assert_eq!(SpanContext::extract(bad, None), None, "{bad}");
        }
        assert!(SpanContext::extract("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-x", None).is_some());
    }

    #[test]
    fn log_records_and_request_counts() {
        let r = log_record(b"{\"msg\":\"request\"}\n", UNIX_EPOCH + Duration::from_secs(1));
        assert_eq!(r.body.unwrap().value, Some(any_value::Value::StringValue("{\"msg\":\"request\"}\n".into())));
        assert!(r.attributes.is_empty() && r.severity_number == 0 && r.trace_id.is_empty() && r.time_unix_nano == 0);
        let bad = log_record(&[0xff, b'a'], UNIX_EPOCH);
        assert_eq!(bad.body.unwrap().value, Some(any_value::Value::StringValue("\\xffa".into())));
        assert_eq!(bad.attributes[0].key, "app_log_non_utf8");
        let c = RequestCounter { app_id: "shop".into(), series: Mutex::new(Vec::new()) };
        assert!(c.request(&[], SystemTime::now()).is_none());
        c.add("frontend");
        c.add("frontend");
        c.add("carts");
        let req = c.request(&[], SystemTime::now()).unwrap();
        let m = &req.resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!(m.name, "spin.request_count");
        let Some(metric::Data::Sum(sum)) = &m.data else { panic!("not a sum") };
        assert!(sum.is_monotonic && sum.aggregation_temporality == AggregationTemporality::Cumulative as i32);
        assert_eq!(sum.data_points[0].value, Some(number_data_point::Value::AsInt(2)));
        assert_eq!(sum.data_points[0].attributes.len(), 3);
    }

    #[tokio::test]
    async fn spans_end_into_the_queue_with_parent_links() {
        let (tx, mut rx) = mpsc::channel(16);
        let tracer = Tracer { tx };
        let req = http::Request::get("/a?b=1").header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").body(()).unwrap();
        let server = tracer.server_span(&req, "127.0.0.1:9".parse().unwrap());
        let exec = server.child("execute_wasm_component c", Kind::Internal);
        let db = exec.db_child("spin_outbound_redis.get", Some("GET k".into()), "redis");
        finalize_server_span(&server, "GET", Some("/a"), Some(200));
        drop((db, exec, server));
        let spans: Vec<ProtoSpan> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
        assert_eq!(spans[0].name, "GET k");
        assert_eq!(spans[2].name, "GET /a");
        assert_eq!(spans[2].parent_span_id, vec![0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]);
        assert_eq!(spans[1].parent_span_id, spans[2].span_id);
        assert_eq!(spans[0].parent_span_id, spans[1].span_id);
        assert!(spans.iter().all(|s| s.trace_id == spans[2].trace_id));
        let bytes = export_request(&[("service.name".into(), "spin".into())], spans).encode_to_vec();
        let back = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(back.resource_spans[0].scope_spans[0].spans.len(), 3);
        // Not sampled upstream: nothing is queued.
        let req = http::Request::get("/").header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").body(()).unwrap();
        drop(tracer.server_span(&req, "127.0.0.1:9".parse().unwrap()));
        assert!(rx.try_recv().is_err());
    }
}
