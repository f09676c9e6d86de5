//! A small OTLP/HTTP receiver for the tracing-cost runs of the suite: it answers `POST
//! /v1/traces`, `/v1/logs` and `/v1/metrics` (`application/x-protobuf`) with `200` and an empty
//! protobuf body (an empty `Export*ServiceResponse`), decodes every body with opentelemetry-proto's
//! types and counts posts, bytes, spans (root spans apart: one per request the shop received from
//! outside, as the load generator sends no `traceparent`), log records and metric posts.
//!
//! It runs on a thread of its own with a single-threaded Tokio runtime, so its CPU is not mixed
//! with the load generator's tasks and can be read by itself ([`OtlpSink::cpu_seconds`]).
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// What the sink received so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkCounts {
    pub trace_posts: u64,
    pub log_posts: u64,
    pub metric_posts: u64,
    /// Request bodies, all signals.
    pub bytes: u64,
    pub spans: u64,
    /// Spans without a parent.
    pub root_spans: u64,
    pub log_records: u64,
    /// Posts that were not protobuf to a known path, or did not decode.
    pub bad_posts: u64,
}

impl SinkCounts {
    pub fn posts(&self) -> u64 {
        self.trace_posts + self.log_posts + self.metric_posts
    }

    /// What arrived between `before` and `self`.
    pub fn since(&self, before: &SinkCounts) -> SinkCounts {
        SinkCounts {
            trace_posts: self.trace_posts - before.trace_posts,
            log_posts: self.log_posts - before.log_posts,
            metric_posts: self.metric_posts - before.metric_posts,
            bytes: self.bytes - before.bytes,
            spans: self.spans - before.spans,
            root_spans: self.root_spans - before.root_spans,
            log_records: self.log_records - before.log_records,
            bad_posts: self.bad_posts - before.bad_posts,
        }
    }

    /// Counts one POST (`path`, `protobuf`: its content type was `application/x-protobuf`).
    /// Returns false for a post that was not understood.
    fn record(&mut self, path: &str, protobuf: bool, body: &[u8]) -> bool {
        self.bytes += body.len() as u64;
        let ok = protobuf
            && match path {
                "/v1/traces" => ExportTraceServiceRequest::decode(body).is_ok_and(|r| {
                    self.trace_posts += 1;
                    for ss in r.resource_spans.iter().flat_map(|rs| &rs.scope_spans) {
                        self.spans += ss.spans.len() as u64;
                        self.root_spans += ss.spans.iter().filter(|s| s.parent_span_id.is_empty()).count() as u64;
                    }
                    true
                }),
                "/v1/logs" => ExportLogsServiceRequest::decode(body).is_ok_and(|r| {
                    self.log_posts += 1;
                    self.log_records +=
                        r.resource_logs.iter().flat_map(|rl| &rl.scope_logs).map(|sl| sl.log_records.len() as u64).sum::<u64>();
                    true
                }),
                "/v1/metrics" => ExportMetricsServiceRequest::decode(body).is_ok_and(|_| {
                    self.metric_posts += 1;
                    true
                }),
                _ => false,
            };
        if !ok {
            self.bad_posts += 1;
        }
        ok
    }
}

/// The running sink; it serves until the process ends.
pub struct OtlpSink {
    addr: SocketAddr,
    counts: Arc<Mutex<SinkCounts>>,
    /// `/proc/self/task/<tid>/stat` of its thread.
    thread_stat: Option<String>,
}

impl OtlpSink {
    /// Binds 127.0.0.1 on a free port and starts serving on a thread of its own.
    pub fn start() -> Result<OtlpSink> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Mutex::new(SinkCounts::default()));
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let c = counts.clone();
        std::thread::Builder::new().name("otlp-sink".into()).spawn(move || {
            // `/proc/thread-self` links to `<pid>/task/<tid>`.
            let _ = tid_tx.send(std::fs::read_link("/proc/thread-self").ok());
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return eprintln!("otlp sink: {e}"),
            };
            rt.block_on(serve(listener, c));
        })?;
        let thread_stat = tid_rx
            .recv()
            .ok()
            .flatten()
            .and_then(|p| p.file_name().map(|tid| format!("/proc/self/task/{}/stat", tid.to_string_lossy())));
        Ok(OtlpSink { addr, counts, thread_stat })
    }

    /// `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> SinkCounts {
        *self.counts.lock().unwrap()
    }

    /// CPU seconds (user + system) its thread has used (0 when `/proc` cannot tell).
    pub fn cpu_seconds(&self) -> f64 {
        let Some(stat) = self.thread_stat.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else { return 0.0 };
        let Some((_, rest)) = stat.rsplit_once(") ") else { return 0.0 };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0 // USER_HZ
    }
}

async fn serve(listener: std::net::TcpListener, counts: Arc<Mutex<SinkCounts>>) {
    let listener = match tokio::net::TcpListener::from_std(listener).context("otlp sink listener") {
        Ok(l) => l,
        Err(e) => return eprintln!("{e:#}"),
    };
    while let Ok((stream, _)) = listener.accept().await {
        let counts = counts.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let counts = counts.clone();
                async move {
                    let post = req.method() == hyper::Method::POST;
                    let protobuf = req.headers().get("content-type").is_some_and(|v| v == "application/x-protobuf");
                    let path = req.uri().path().to_string();
                    let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                    // Counted before answering, so a runtime that has exited has been counted.
                    let ok = post && counts.lock().unwrap().record(&path, protobuf, &body);
                    let status = if ok { 200 } else { 400 };
                    let resp = hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/x-protobuf")
                        .body(Full::new(Bytes::new()))
                        .expect("valid response");
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn traces(parents: &[&[u8]]) -> Vec<u8> {
        let spans = parents.iter().map(|p| Span { parent_span_id: p.to_vec(), ..Default::default() }).collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[tokio::test]
    async fn counts_what_it_decodes() -> Result<()> {
        let sink = OtlpSink::start()?;
        let client = reqwest::Client::new();
        let post = |path: &str, body: Vec<u8>, ct: &str| {
            client.post(format!("{}{path}", sink.endpoint())).header("content-type", ct).body(body).send()
        };
        let r = post("/v1/traces", traces(&[b"", b"12345678", b"12345678"]), "application/x-protobuf").await?;
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await?.is_empty());
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs { log_records: vec![LogRecord::default(); 4], ..Default::default() }],
                ..Default::default()
            }],
        };
        assert_eq!(post("/v1/logs", logs.encode_to_vec(), "application/x-protobuf").await?.status(), 200);
        assert_eq!(post("/v1/metrics", Vec::new(), "application/x-protobuf").await?.status(), 200);
        assert_eq!(post("/v1/traces", traces(&[b""]), "application/json").await?.status(), 400);
        assert_eq!(post("/v1/traces", vec![0xff, 0xff], "application/x-protobuf").await?.status(), 400);
        let c = sink.counts();
        assert_eq!((c.trace_posts, c.log_posts, c.metric_posts, c.bad_posts), (1, 1, 1, 2));
        assert_eq!((c.spans, c.root_spans, c.log_records), (3, 1, 4));
        assert_eq!(c.since(&c), SinkCounts::default());
        assert!(c.bytes > 0);
        assert!(sink.cpu_seconds() >= 0.0);
        Ok(())
    }
}
