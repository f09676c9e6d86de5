//! Outbound HTTP: `allowed_outbound_hosts` enforcement, service chaining and self requests.
//!
//! Mirrors Spin's outbound request pipeline: undo empty authorities, classify "self" requests
//! (no authority, or host `self.alt`), check allowed hosts (denied -> `HTTP-request-denied`),
//! rewrite self requests to the listener's address, drop the guest's `Host` header, then either
//! dispatch `http://<component>.spin.internal/...` in-process (no socket) or send over the
//! network with timeouts.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use http::header::HOST;
use http::{HeaderValue, Uri};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::{AppInner, ComponentRuntime};
use crate::outbound_hosts::service_chaining_target;
use crate::telemetry::{Kind, Span};

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

/// The [`WasiHttpHooks`] of one store.
pub struct OutboundHttp {
    pub(crate) app: Arc<AppInner>,
    pub(crate) component: Arc<ComponentRuntime>,
    /// The execution span, when traces are on: the parent of outbound spans.
    pub(crate) span: Option<Span>,
}

/// wasmtime-wasi-http's default forbidden headers (`DEFAULT_FORBIDDEN_HEADERS`), which Spin
/// keeps, matched by name: the default builds that list and a closure on every call, and it
/// is asked about every header of every request and response.
fn is_default_forbidden(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "http2-settings"
    )
}

impl WasiHttpHooks for OutboundHttp {
    fn is_forbidden_header(&mut self, name: &http::HeaderName) -> bool {
        is_default_forbidden(name)
    }

    fn forbidden_header_filter(&mut self) -> wasmtime_wasi_http::ForbiddenHeaderFilter {
        Arc::new(is_default_forbidden)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let app = self.app.clone();
        let component = self.component.clone();
        // Spin's `#[instrument(name = "spin_outbound_http.send_request", fields(otel.kind =
        // "client", http.request.method, otel.name = method))]` (factor-outbound-http wasi.rs);
        // it lasts until the response head (the send future runs `in_current_span`).
        let span = self.span.as_ref().map(|p| {
            let s = p.child(request.method().as_str(), Kind::Client);
            s.set("http.request.method", request.method().as_str());
            s
        });
        Box::new(async move { send(app, component, request, options, span).await })
    }
}

async fn send(
    app: Arc<AppInner>,
    component: Arc<ComponentRuntime>,
    mut req: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    span: Option<Span>,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let started = Instant::now();
    // wasmtime-wasi-http fills in a scheme and an empty authority for relative URLs; undo that.
    if req.uri().authority().is_some_and(|a| a.host().is_empty()) {
        let pq = req.uri().path_and_query().cloned();
        let mut b = Uri::builder();
        if let Some(pq) = pq {
            b = b.path_and_query(pq);
        }
        *req.uri_mut() = b.build().map_err(|_| Error::HttpRequestUriInvalid)?;
    }
    if let Some(s) = &span {
        s.set("url.full", req.uri().to_string());
    }
    let is_self = match req.uri().authority() {
        Some(a) => a.host() == "self.alt",
        None => true,
    };
    let allowed = if is_self {
        component.allowed_hosts.check_relative(&["http", "https"])
    } else {
        component.allowed_hosts.check_url(&req.uri().to_string(), "https")
    };
    if !allowed {
        tracing::debug!(component = %component.id, uri = %req.uri(), "outbound HTTP denied");
        return Err(Error::HttpRequestDenied);
    }
    if is_self {
        let Some(origin) = app.self_origin() else {
            tracing::error!("Couldn't handle outbound HTTP request to relative URI; no origin set");
            return Err(Error::HttpRequestUriInvalid);
        };
        let pq = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        *req.uri_mut() = Uri::builder()
            .scheme("http")
            .authority(origin.to_string())
            .path_and_query(pq)
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
    }
    req.headers_mut().remove(HOST);
    // Spin's `inject_trace_context` after `prepare_request`, before the chaining interceptor:
    // `HeaderMap::insert` replaces the guest's `traceparent` and `tracestate`.
    if let Some(s) = &span {
        let ctx = s.context();
        if let Ok(v) = HeaderValue::from_str(&ctx.traceparent()) {
            req.headers_mut().insert("traceparent", v);
        }
        if let Ok(v) = HeaderValue::from_str(&ctx.trace_state) {
            req.headers_mut().insert("tracestate", v);
        }
    }

    if let Some(target) = req.uri().host().and_then(service_chaining_target) {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let resp = app.handle_chained(&target, req, span.as_ref()).await;
        return match resp {
            Ok(resp) => {
                tracing::debug!(
                    caller = %component.id, target = %target, %method, %path,
                    status = resp.status().as_u16(),
                    elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "chained request"
                );
                Ok((resp, Box::new(async { Ok(()) })))
            }
            Err(e) => {
                tracing::error!(caller = %component.id, target = %target, "chained request failed: {e:#}");
                Err(Error::InternalError(Some(e.to_string())))
            }
        };
    }

    // Network send. Spin's HTTP client adds a `Host` header derived from the URI.
    if let Some(auth) = req.uri().authority() {
        let default_port = match req.uri().scheme_str() {
            Some("https") => 443,
            _ => 80,
        };
        let host = match auth.port_u16() {
            Some(p) if p != default_port => format!("{}:{p}", auth.host()),
            _ => auth.host().to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&host) {
            req.headers_mut().insert(HOST, v);
        }
    }
    let t = app.limits.outbound_http_timeout;
    let opts = RequestOptions {
        connect_timeout: options.and_then(|o| o.connect_timeout).or(Some(t)),
        first_byte_timeout: options.and_then(|o| o.first_byte_timeout).or(Some(t)),
        between_bytes_timeout: options.and_then(|o| o.between_bytes_timeout).or(Some(t)),
    };
    let uri = req.uri().to_string();
    // Backfilled after the interceptor (network requests only), like Spin.
    if let (Some(s), Some(auth)) = (&span, req.uri().authority()) {
        s.set("server.address", auth.host());
        if let Some(port) = auth.port_u16() {
            s.set("server.port", port);
        }
    }
    let (resp, io) = wasmtime_wasi_http::default_send_request(req, Some(opts)).await?;
    if let Some(s) = &span {
        s.set("http.response.status_code", resp.status().as_u16());
    }
    tracing::debug!(
        component = %component.id, %uri, status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "outbound HTTP"
    );
    Ok((resp.map(|b| b.boxed_unsync()), Box::new(io)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_headers_are_wasmtimes_defaults() {
        for name in wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS {
            assert!(is_default_forbidden(&name), "{name}");
        }
        for name in ["content-type", "x-request-id", "spin-full-url", "hosts", "te", "authorization"] {
            let name = http::HeaderName::from_static(name);
            assert_eq!(is_default_forbidden(&name), wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(&name), "{name}");
        }
    }
}
