//! Calling another service's operation: `POST {base}{path}` with JSON.
//!
//! `base` comes from the variable `<service>_url`: `http://<service>.spin.internal` for service
//! chaining in one Spin app, or a cluster DNS name when the services are deployed apart. Every
//! call carries the shop's internal token: the internal operations have routable routes (split
//! deployments reach them over the network), and the token is what keeps strangers out.
//!
//! Every call carries the request's `x-request-id` and its trace context: `traceparent` with the
//! same trace id and a fresh parent span id per call, and the incoming `tracestate` (see
//! [`crate::trace`]; with OTel on, Spin replaces both with its own client span's, which is fine).
//!
//! Every call has timeouts of its own ([`CONNECT_TIMEOUT`], [`CALL_TIMEOUT`]), and all the calls
//! of one request share a budget ([`REQUEST_BUDGET`]): a service that does not answer makes the
//! caller answer 503 in bounded time, well before a platform deadline would end the request
//! without an answer (runtime-local: 30 s). Without them the host's defaults apply: 600 s in
//! wasmtime-wasi-http, on which Spin and runtime-local build (runtime-local lowers it to 30 s).
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde::{de::DeserializeOwned, Serialize};
use shop_contract::{Operation, ShopError};
use spin_sdk::http::conversions::{TryFromIncomingResponse, TryIntoOutgoingRequest};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::wit::wasi::http0_2_0::{outgoing_handler, types::RequestOptions};

/// Longest wait for a connection to another service.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for the first byte of an answer, and between two of its bytes.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// What all upstream calls of one request may take together, counted from its start.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(20);

/// Another service, reachable at a base URL.
#[derive(Debug, Clone)]
pub struct Upstream {
    name: &'static str,
    base: String,
    /// The shop's internal token, sent on every call.
    internal_token: String,
}

impl Upstream {
    /// The service whose base URL is in the variable `<name>_url`.
    pub fn from_config(name: &'static str) -> Result<Self, ShopError> {
        let base = crate::config::var(&format!("{name}_url"))?;
        let internal_token = crate::config::var("internal_token")?;
        Ok(Upstream { name, base: base.trim_end_matches('/').to_string(), internal_token })
    }

    /// Calls `op` with `req`.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        op: Operation<Req, Resp>,
        req: &Req,
    ) -> Result<Resp, ShopError> {
        self.call_with(op, req, &[]).await
    }

    /// Calls `op` with `req` and extra headers (e.g. `authorization`).
    pub async fn call_with<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        op: Operation<Req, Resp>,
        req: &Req,
        headers: &[(&str, &str)],
    ) -> Result<Resp, ShopError> {
        // Only the JSON in and out depends on the operation's types: the exchange is one
        // function for all of them (one copy in the wasm, not one per operation).
        let body = self.exchange(op.path, crate::json::encode(req), headers).await?;
        serde_json::from_slice(&body).map_err(|e| {
            crate::log::error(&format!("{} {} answered an unexpected body: {e}", self.name, op.path));
            ShopError::internal(format!("The {} service answered in an unexpected format", self.name))
        })
    }

    /// `POST {base}{path}` with a JSON body and the shop's headers; the body of a 2xx answer,
    /// or the error to answer with.
    async fn exchange(&self, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Result<Vec<u8>, ShopError> {
        let started = Instant::now();
        let (traceparent, tracestate) = crate::serve::outgoing_trace_headers();
        let mut builder = Request::builder();
        builder
            .method(Method::Post)
            .uri(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .header("x-request-id", crate::serve::request_id())
            .header(crate::trace::TRACEPARENT, traceparent)
            .header(shop_contract::INTERNAL_TOKEN_HEADER, &self.internal_token);
        if let Some(state) = tracestate {
            builder.header(crate::trace::TRACESTATE, state);
        }
        for (k, v) in headers {
            builder.header(*k, *v);
        }
        let request = builder.body(body).build();
        let remaining = crate::serve::request_budget_left();
        if remaining < Duration::from_millis(100) {
            crate::log::error(&format!("not calling {} {path}: the request's time budget is spent", self.name));
            return Err(self.unavailable());
        }
        let timeout = CALL_TIMEOUT.min(remaining);
        let sent = send(request, CONNECT_TIMEOUT.min(timeout), timeout).await;
        crate::serve::record_upstream(started);
        let response = sent.map_err(|e| {
            crate::log::error(&format!("calling {} {path} failed: {e}", self.name));
            self.unavailable()
        })?;
        let status = *response.status();
        if (200..300).contains(&status) {
            Ok(response.into_body())
        } else if status >= 500 {
            let err = ShopError::from_response(status, response.body());
            crate::log::error(&format!("{} {path} answered {status}: {}", self.name, err.message));
            Err(self.unavailable())
        } else {
            Err(ShopError::from_response(status, response.body()))
        }
    }

    fn unavailable(&self) -> ShopError {
        ShopError::unavailable(format!("The {} service is unavailable; try again in a moment", self.name))
    }
}

/// `spin_sdk::http::send` with request options: the connect, first-byte and between-bytes
/// timeouts of `wasi:http/outgoing-handler`.
async fn send(request: Request, connect: Duration, idle: Duration) -> Result<Response, String> {
    let (outgoing, body) = request.try_into_outgoing_request().map_err(|e| e.to_string())?;
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // A host that cannot honour a timeout refuses to set it; the call then runs without it.
    let _ = options.set_connect_timeout(Some(nanos(connect)));
    let _ = options.set_first_byte_timeout(Some(nanos(idle)));
    let _ = options.set_between_bytes_timeout(Some(nanos(idle)));
    // As spin-sdk does: take the body sink, start the request, then write the body.
    let sink = body.as_ref().map(|_| outgoing.take_body());
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| format!("{e:?}"))?;
    if let (Some(mut sink), Some(body)) = (sink, body) {
        sink.send(body).await.map_err(|e| format!("writing the request body: {e:?}"))?;
        drop(sink);
    }
    let incoming = std::future::poll_fn(|cx| match future.get() {
        Some(result) => Poll::Ready(result),
        None => {
            spin_executor::push_waker(future.subscribe(), cx.waker().clone());
            Poll::Pending
        }
    })
    .await
    .map_err(|()| "the response was already taken".to_string())?
    .map_err(|e| format!("{e:?}"))?;
    Response::try_from_incoming_response(incoming).await.map_err(|e| e.to_string())
}
