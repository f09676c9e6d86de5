//! Answering the contract's operations: `POST /api/<interface>/<function>`, JSON in and out.
use std::cell::RefCell;
use std::time::Instant;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Map};
use shop_contract::{Operation, ShopError};
use spin_sdk::http::{Method, Request, Response};

use crate::trace::{TraceContext, TRACEPARENT, TRACESTATE};

/// Largest request body an operation accepts; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The JSON body of a successful answer, or the error to answer with.
pub type Reply = Result<Vec<u8>, ShopError>;

thread_local! {
    static CURRENT: RefCell<RequestStats> = RefCell::new(RequestStats::default());
}

/// What the current request did, for its log line. Components run one request per instance.
#[derive(Default)]
struct RequestStats {
    request_id: String,
    /// The request's trace context (`None` outside a request) and its trace id in hex.
    trace: Option<TraceContext>,
    trace_id: String,
    upstream_calls: u32,
    upstream_ms: u128,
    /// When the request started (`None` outside a request, e.g. in native unit tests).
    started: Option<Instant>,
    /// A budget for its upstream calls shorter than `rpc::REQUEST_BUDGET`, if one was set.
    budget: Option<std::time::Duration>,
}

/// Shortens the time all upstream calls of the current request may take together (counted from
/// its start), e.g. for an operation whose caller waits at most `rpc::CALL_TIMEOUT` for it.
pub fn limit_request_budget(budget: std::time::Duration) {
    CURRENT.with(|c| c.borrow_mut().budget = Some(budget));
}

/// What is left of the current request's budget for upstream calls.
pub fn request_budget_left() -> std::time::Duration {
    let (budget, elapsed) = CURRENT.with(|c| {
        let c = c.borrow();
        (c.budget.unwrap_or(crate::rpc::REQUEST_BUDGET).min(crate::rpc::REQUEST_BUDGET), c.started.map(|s| s.elapsed()))
    });
    budget.saturating_sub(elapsed.unwrap_or_default())
}

/// The request id of the request being answered (propagated to other services).
pub fn request_id() -> String {
    CURRENT.with(|c| c.borrow().request_id.clone())
}

/// Starts the accounting of a request answered without [`serve`] (the HTML frontend, the shop's
/// edge): takes the incoming trace context (a valid `traceparent`, with its `tracestate`) or
/// mints one, keeps a well-formed incoming `x-request-id` (else the trace id is the request id)
/// for propagation, and zeroes the upstream counters. Returns the request id.
pub fn begin_request(incoming_id: Option<&str>, traceparent: Option<&str>, tracestate: Option<&str>) -> String {
    start(Instant::now(), incoming_id, traceparent, tracestate)
}

fn start(started: Instant, incoming_id: Option<&str>, traceparent: Option<&str>, tracestate: Option<&str>) -> String {
    crate::config::forget_variables();
    let trace = TraceContext::from_headers(traceparent, tracestate, random16());
    let trace_id = trace.trace_id.to_hex();
    let request_id = incoming_id
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| trace_id.clone(), str::to_string);
    CURRENT.with(|c| {
        *c.borrow_mut() = RequestStats {
            request_id: request_id.clone(),
            trace: Some(trace),
            trace_id,
            started: Some(started),
            ..Default::default()
        }
    });
    request_id
}

/// 16 random bytes from the host (`wasi:random` in a component).
fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the host's random source");
    b
}

/// The trace headers of one outgoing call: `traceparent` with the current trace id and a fresh
/// parent span id, and `tracestate` if one came in. Outside a request, a fresh trace.
pub(crate) fn outgoing_trace_headers() -> (String, Option<String>) {
    // Eight random bytes make the span id (the same eight as when they came from a v4 UUID,
    // whose bytes 6 and 8 held its version and variant).
    let b = random16();
    let span = [b[0], b[1], b[2], b[3], b[4], b[5], b[9], b[10]];
    CURRENT.with(|c| match &c.borrow().trace {
        Some(trace) => (trace.outgoing_traceparent(span), trace.state.clone()),
        None => (crate::trace::mint(random16()).outgoing_traceparent(span), None),
    })
}

/// Calls `f` with what ties a log line to its request (`None` outside a request).
pub(crate) fn with_line_context<T>(f: impl FnOnce(Option<crate::log::LineContext<'_>>) -> T) -> T {
    CURRENT.with(|c| {
        let c = c.borrow();
        let parent = c.trace.as_ref().and_then(|t| t.parent_id).map(|p| p.to_hex());
        match &c.trace {
            Some(_) => f(Some(crate::log::LineContext {
                request_id: &c.request_id,
                trace_id: &c.trace_id,
                parent_span_id: parent.as_deref(),
            })),
            None => f(None),
        }
    })
}

/// Upstream calls made so far for the current request, and the milliseconds spent in them.
pub fn upstream_stats() -> (u32, u128) {
    CURRENT.with(|c| {
        let c = c.borrow();
        (c.upstream_calls, c.upstream_ms)
    })
}

pub(crate) fn record_upstream(started: Instant) {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        c.upstream_calls += 1;
        c.upstream_ms += started.elapsed().as_millis();
    });
}

/// One incoming operation call.
pub struct Call {
    req: Request,
}

impl Call {
    pub fn path(&self) -> &str {
        self.req.path()
    }

    /// The `authorization` header, for operator operations.
    pub fn authorization(&self) -> Option<&str> {
        self.req.header("authorization").and_then(|v| v.as_str())
    }

    /// Decodes the body as the operation's request, runs `handler`, encodes its answer.
    pub async fn run<Req, Resp>(
        &self,
        _op: Operation<Req, Resp>,
        handler: impl AsyncFnOnce(Req) -> Result<Resp, ShopError>,
    ) -> Reply
    where
        Req: DeserializeOwned + Serialize,
        Resp: Serialize,
    {
        let req: Req = crate::json::decode(self.req.body())?;
        let resp = handler(req).await?;
        Ok(crate::json::encode(&resp))
    }

    /// The answer for a path that is no operation of this service.
    pub fn no_such_operation(&self) -> ShopError {
        ShopError::not_found(format!("No operation at {}", self.path()))
    }
}

/// Routes a call to the first operation whose path matches.
///
/// ```ignore
/// dispatch!(call, { ops::get_cart => get_cart, ops::add_item => add_item })
/// ```
#[macro_export]
macro_rules! dispatch {
    ($call:expr, { $($op:expr => $handler:expr),* $(,)? }) => {{
        let call: &$crate::serve::Call = $call;
        $( if call.path() == $op.path { call.run($op, $handler).await } else )*
        { Err(call.no_such_operation()) }
    }};
}

/// What every operation checks before it runs: the internal token (all but the public catalog
/// reads; first, so a caller without it learns nothing about the operations), the method and
/// the body size.
fn admit(req: &Request) -> Result<(), ShopError> {
    if !shop_contract::is_public_path(req.path()) {
        crate::config::require_internal(req.header(shop_contract::INTERNAL_TOKEN_HEADER).and_then(|v| v.as_str()))?;
    }
    if *req.method() != Method::Post {
        return Err(ShopError::new(shop_contract::ErrorCode::MethodNotAllowed, "Operations are called with POST"));
    }
    if req.body().len() > MAX_BODY_BYTES {
        return Err(ShopError::new(
            shop_contract::ErrorCode::PayloadTooLarge,
            format!("The request body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Answers one HTTP request for `service`: checks it ([`admit`]), calls `route`, writes one log line.
pub async fn serve(service: &str, req: Request, route: impl AsyncFnOnce(&Call) -> Reply) -> Response {
    let started = Instant::now();
    let header = |name: &str| req.header(name).and_then(|v| v.as_str());
    let request_id = start(started, header("x-request-id"), header(TRACEPARENT), header(TRACESTATE));
    let method = req.method().to_string();
    let path = req.path().to_string();

    let reply = match admit(&req) {
        Ok(()) => route(&Call { req }).await,
        Err(refused) => Err(refused),
    };

    let (status, body) = match &reply {
        Ok(body) => (200, body.clone()),
        Err(e) => (e.status(), crate::json::encode(&e.to_body())),
    };
    let mut fields = Map::new();
    fields.insert("service".into(), json!(service));
    fields.insert("request_id".into(), json!(request_id));
    fields.insert("method".into(), json!(method));
    fields.insert("path".into(), json!(path));
    fields.insert("status".into(), json!(status));
    fields.insert("duration_ms".into(), json!(started.elapsed().as_secs_f64() * 1000.0));
    CURRENT.with(|c| {
        let c = c.borrow();
        fields.insert("upstream_calls".into(), json!(c.upstream_calls));
        fields.insert("upstream_ms".into(), json!(c.upstream_ms));
    });
    if let Err(e) = &reply {
        fields.insert("error".into(), json!(e.code.as_str()));
        fields.insert("error_message".into(), json!(e.message));
    }
    let level = if status >= 500 { "error" } else { "info" };
    crate::log::line(level, "request", fields);

    let mut builder = Response::builder();
    builder.status(status).header("content-type", "application/json").header("x-request-id", request_id);
    if status == 405 {
        builder.header("allow", "POST");
    }
    builder.body(body).build()
}
