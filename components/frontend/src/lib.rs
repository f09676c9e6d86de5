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
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

use crate::http::{Incoming, Outgoing};

// Only the wasm build exports the handler: its export name can't be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
    let started = Instant::now();
    let method = request.method().to_string();
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let route = router::Route::resolve(router::Verb::parse(&method), path_of(&path_and_query));
    let is_static = matches!(route, router::Route::Static(_));
    let raw_headers = read_headers(&request, is_static);
    let request_id = shop_spin::serve::begin_request(
        first_header(&raw_headers, "x-request-id").as_deref(),
        only_header(&raw_headers, shop_spin::trace::TRACEPARENT).as_deref(),
        joined_header(&raw_headers, shop_spin::trace::TRACESTATE).as_deref(),
    );
    let (incoming, too_large) = read_request(request, method, path_and_query, raw_headers, is_static).await;
    // Static files and the operator API never look at the configuration: no variable is read
    // for them.
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
    send(out.with_header("x-request-id", request_id), response_out);
}

/// The path of a path-with-query.
fn path_of(path_and_query: &str) -> &str {
    path_and_query.split_once('?').map_or(path_and_query, |(p, _)| p)
}

/// The headers a static file's answer and its request id depend on: nothing else is read for
/// it (`app::static_file`; the `static_answers_read_only_their_headers` test holds it to that).
const STATIC_FILE_HEADERS: [&str; 4] = ["x-request-id", "traceparent", "tracestate", "if-none-match"];

/// The request's headers as the host lists them (names in lowercase, each name's values in
/// order): for a static file only [`STATIC_FILE_HEADERS`], one small host call each, instead of
/// every header at once (one call, but a string allocated in the guest for each name and value).
fn read_headers(request: &IncomingRequest, is_static: bool) -> Vec<(String, Vec<u8>)> {
    let fields = request.headers();
    if !is_static {
        return fields.entries();
    }
    let mut headers = Vec::new();
    for name in STATIC_FILE_HEADERS {
        headers.extend(fields.get(name).into_iter().map(|v| (name.to_string(), v)));
    }
    headers
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

/// Reads the body of a request (at most [`forms::MAX_FORM_BYTES`]: a longer body is not read
/// further and flagged, so a huge upload can't exhaust the instance's memory) and puts it
/// together with its method, path, query and headers (`raw_headers`, as the host listed them).
async fn read_request(
    request: IncomingRequest,
    method: String,
    path_and_query: String,
    raw_headers: Vec<(String, Vec<u8>)>,
    is_static: bool,
) -> (Incoming, bool) {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (path_and_query, String::new()),
    };
    let mut headers: Vec<(String, String)> = raw_headers
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), String::from_utf8(v).ok()?)))
        .collect();
    // The host does not pass `Host` on as a header but as the request's authority; the CSRF
    // check compares `Origin` with it, so put it back where that check looks (a static file
    // has no use for it).
    if !is_static && !headers.iter().any(|(k, _)| k == "host") {
        if let Some(authority) = request.authority() {
            headers.push(("host".to_string(), authority));
        }
    }
    let mut incoming = Incoming { method, path, query, headers, body: Vec::new() };
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

/// Sends the answer as `ResponseOutparam::set_with_body` does (take the body and its stream, set
/// the response, write, finish), with one host call per 4 KiB written (`blocking-write-and-flush`)
/// where the SDK's body sink makes four (check, write, flush, check again).
fn send(out: Outgoing, response_out: ResponseOutparam) {
    let headers: Vec<(String, Vec<u8>)> = out.headers.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(out.status);
    let body = response.body().expect("response body was already taken");
    let stream = body.write().expect("response body should be writable");
    response_out.set(response);
    // `blocking-write-and-flush` takes at most 4096 bytes a call.
    let written = out.body.chunks(4096).try_for_each(|chunk| stream.blocking_write_and_flush(chunk));
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
    if let Err(e) = written {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::tests::block_on;

    /// A static file's answer is the same whether the request carries every header or only
    /// [`STATIC_FILE_HEADERS`], so the guest may read only those for it.
    #[test]
    fn static_answers_read_only_their_headers() {
        let etag = assets::lookup("favicon.svg").unwrap().etag;
        let all = |if_none_match: &str| {
            vec![
                ("host".to_string(), "shop.example".to_string()),
                ("accept".to_string(), "image/*".to_string()),
                ("cookie".to_string(), "sid=0123456789abcdef0123456789abcdef; currency=EUR".to_string()),
                ("if-none-match".to_string(), if_none_match.to_string()),
                ("x-request-id".to_string(), "r1".to_string()),
                ("origin".to_string(), "https://elsewhere.example".to_string()),
                ("sec-fetch-site".to_string(), "cross-site".to_string()),
                ("spin-client-addr".to_string(), "127.0.0.1:5000".to_string()),
                ("spin-full-url".to_string(), "http://shop.example/static/favicon.svg".to_string()),
                ("accept-language".to_string(), "de".to_string()),
            ]
        };
        for method in ["GET", "HEAD"] {
            for path in ["/static/favicon.svg", "/favicon.ico", "/static/shop.css", "/static/img/mug-teal.svg", "/static/nope"] {
                for if_none_match in [etag.as_str(), "\"other\"", "*", ""] {
                    let route = router::Route::resolve(router::Verb::parse(method), path);
                    assert!(matches!(route, router::Route::Static(_)), "{method} {path}");
                    let request = |headers: Vec<(String, String)>| Incoming {
                        method: method.to_string(),
                        path: path.to_string(),
                        query: "v=1".to_string(),
                        headers,
                        body: Vec::new(),
                    };
                    let only: Vec<(String, String)> =
                        all(if_none_match).into_iter().filter(|(k, _)| STATIC_FILE_HEADERS.contains(&k.as_str())).collect();
                    let config = app::Config { secure_cookies: true, today: (2026, 1), client_ip_header: Some("x-real-ip".into()) };
                    let full = block_on(app::respond(&backend::Remote, &config, &request(all(if_none_match)), false));
                    let read = block_on(app::respond(&backend::Remote, &app::Config::default(), &request(only), false));
                    assert_eq!(full, read, "{method} {path} {if_none_match}");
                }
            }
        }
    }

    #[test]
    fn paths_of_paths_with_queries() {
        assert_eq!(path_of("/static/x?v=1"), "/static/x");
        assert_eq!(path_of("/static/x"), "/static/x");
        assert_eq!(path_of("/?"), "/");
    }
}
