//! The shop's storefront: server-rendered HTML pages for browsers, working without JavaScript.
//!
//! `app` is the whole shop as a function of the request (over a [`backend::Backend`] seam, so it
//! is unit-tested natively); this file is only the Spin entry point: read the request with a body
//! limit, answer, and write one structured log line (naming the request's trace id: the shop's
//! edge takes a valid incoming `traceparent` or mints one, `shop_spin::serve::begin_request`).
pub mod app;
pub mod assets;
pub mod backend;
pub mod csrf;
pub mod currency;
pub mod forms;
pub mod http;
pub mod identity;
pub mod next_path;
pub mod router;
pub mod routes;
pub mod session;
pub mod summary;
pub mod views;

use std::time::Instant;

use futures::StreamExt;
use serde_json::{json, Map};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

use crate::http::{Incoming, Outgoing};

// Only the wasm build exports the handler: its export name can't be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
    let started = Instant::now();
    // Every header in one host call (each `headers().get(..)` is three: the fields, the get and
    // the drop), read as the host lists them: names in lowercase, values in order.
    let raw_headers = request.headers().entries();
    let request_id = shop_spin::serve::begin_request(
        first_header(&raw_headers, "x-request-id").as_deref(),
        only_header(&raw_headers, shop_spin::trace::TRACEPARENT).as_deref(),
        joined_header(&raw_headers, shop_spin::trace::TRACESTATE).as_deref(),
    );
    let (incoming, too_large) = read_request(request, raw_headers).await;
    // Static files and the operator API never look at the configuration: no variable is read
    // for them.
    let route = router::Route::resolve(router::Verb::parse(&incoming.method), &incoming.path);
    let config = if route.needs_session() {
        app::Config {
            secure_cookies: shop_spin::config::optional_var("secure_cookies").is_some_and(|v| v.trim() == "true"),
            today: today(),
            client_ip_header: shop_spin::config::optional_var("client_ip_header")
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| !v.is_empty()),
        }
    } else {
        app::Config::default()
    };
    let out = app::respond(&backend::Remote, &config, &incoming, too_large).await;
    log_request(&request_id, &incoming, &out, started);
    send(out.with_header("x-request-id", request_id), response_out).await;
}

/// The values of header `name` (lowercase), in order.
fn header_values<'a>(headers: &'a [(String, Vec<u8>)], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_slice())
}

fn first_header(headers: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    header_values(headers, name).next().and_then(|v| String::from_utf8(v.to_vec()).ok())
}

/// The value of a header sent exactly once (a repeated `traceparent` is ambiguous: ignored).
fn only_header(headers: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    let mut values = header_values(headers, name);
    match (values.next(), values.next()) {
        (Some(v), None) => String::from_utf8(v.to_vec()).ok(),
        _ => None,
    }
}

/// Every value of a list header joined with commas, as HTTP defines (a `tracestate` may come in
/// several lines); the result is checked like one value.
fn joined_header(headers: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    let values: Vec<String> = header_values(headers, name).filter_map(|v| String::from_utf8(v.to_vec()).ok()).collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Reads method, path, headers (`raw_headers`, as the host listed them) and at most
/// [`forms::MAX_FORM_BYTES`] of body; a longer body is not read further and flagged, so a huge
/// upload can't exhaust the instance's memory.
async fn read_request(request: IncomingRequest, raw_headers: Vec<(String, Vec<u8>)>) -> (Incoming, bool) {
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (path_and_query, String::new()),
    };
    let mut headers: Vec<(String, String)> = raw_headers
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), String::from_utf8(v).ok()?)))
        .collect();
    // The host does not pass `Host` on as a header but as the request's authority; the CSRF
    // check compares `Origin` with it, so put it back where that check looks.
    if !headers.iter().any(|(k, _)| k == "host") {
        if let Some(authority) = request.authority() {
            headers.push(("host".to_string(), authority));
        }
    }
    let mut incoming = Incoming { method: request.method().to_string(), path, query, headers, body: Vec::new() };
    let mut too_large = false;
    if incoming.method == "POST" || incoming.method == "PUT" {
        let mut stream = request.into_body_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) if incoming.body.len() + bytes.len() <= forms::MAX_FORM_BYTES => incoming.body.extend(bytes),
                Ok(_) => {
                    too_large = true;
                    break;
                }
                // A broken upload reads as an empty form, which then fails its CSRF check.
                Err(_) => break,
            }
        }
    }
    (incoming, too_large)
}

async fn send(out: Outgoing, response_out: ResponseOutparam) {
    let headers: Vec<(String, Vec<u8>)> = out.headers.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(out.status);
    if let Err(e) = response_out.set_with_body(response, out.body).await {
        shop_spin::log::error(&format!("could not send the response: {e:?}"));
    }
}

fn log_request(request_id: &str, req: &Incoming, out: &Outgoing, started: Instant) {
    let (upstream_calls, upstream_ms) = shop_spin::serve::upstream_stats();
    let mut fields = Map::new();
    fields.insert("service".into(), json!("frontend"));
    fields.insert("request_id".into(), json!(request_id));
    fields.insert("method".into(), json!(req.method));
    fields.insert("path".into(), json!(req.path));
    fields.insert("status".into(), json!(out.status));
    fields.insert("duration_ms".into(), json!(started.elapsed().as_secs_f64() * 1000.0));
    fields.insert("upstream_calls".into(), json!(upstream_calls));
    fields.insert("upstream_ms".into(), json!(upstream_ms));
    let level = if out.status >= 500 { "error" } else { "info" };
    shop_spin::log::line(level, "request", fields);
}

/// The current UTC year and month.
fn today() -> (u32, u32) {
    let m = shop_spin::wire::this_month();
    (u32::from(m.year), u32::from(m.month))
}
