//! Trace context through the shop (docs/observability.md): one shopper action is one trace id on
//! every service's log line, in the split topology (services in apps of their own, calling each
//! other over HTTP) as in one app (service chaining). runtime-local exports no OTel, like Spin
//! with OTel off: what keeps the chain is the shop's own propagation (`shop_spin::trace`), and
//! runtime-local passing the guests' `traceparent` / `tracestate` on untouched.
use std::collections::{BTreeSet, HashMap};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, placed_order_id, GOOD_CARD, MUG, TEE};
use shop_e2e::upstream::FaultyService;
use shop_e2e::{rawhttp, Shop, ShopOptions};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";
const STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

async fn shop(split: bool) -> Result<Shop> {
    Shop::start_with_options(ShopOptions { split, capture_logs: true, ..ShopOptions::default() }).await
}

fn is_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) && value.bytes().any(|b| b != b'0')
}

fn field<'a>(line: &'a Value, name: &str) -> &'a str {
    line[name].as_str().unwrap_or_default()
}

/// The request log lines written since line `from`, as `(service, line)`.
fn requests_since(shop: &Shop, from: usize) -> Vec<(String, Value)> {
    shop.log_lines()
        .into_iter()
        .skip(from)
        .filter(|l| l["msg"] == "request")
        .map(|l| (field(&l, "service").to_string(), l))
        .collect()
}

/// Every line since `from` (requests and errors alike) names `trace_id`; every service line has
/// a parent span id of its own (each hop is distinct); returns the services that logged.
fn all_in_one_trace(shop: &Shop, from: usize, trace_id: &str, what: &str) -> Result<BTreeSet<String>> {
    let lines: Vec<Value> = shop.log_lines().into_iter().skip(from).collect();
    ensure!(!lines.is_empty(), "{what}: nothing was logged");
    let mut parents = BTreeSet::new();
    let mut services = BTreeSet::new();
    for line in &lines {
        ensure!(field(line, "trace_id") == trace_id, "{what}: a line of another trace (want {trace_id}): {line}");
        if line["msg"] == "request" {
            let service = field(line, "service");
            services.insert(service.to_string());
            if service != "frontend" {
                let parent = field(line, "parent_span_id");
                ensure!(is_hex(parent, 16), "{what}: {service} logged no parent span id: {line}");
                ensure!(parents.insert(parent.to_string()), "{what}: two hops share the parent span id {parent}");
            }
        }
    }
    Ok(services)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_checkout_in_a_split_shop_is_one_trace_on_every_service() -> Result<()> {
    let shop = shop(true).await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    add(&mut b, TEE, 2).await?;
    let attempt = checkout_attempt(&mut b).await?;

    let from = shop.log_lines().len();
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(placed.status == 303 && placed_order_id(&placed).is_some(), "checkout: {} {}", placed.status, placed.body);

    let requests = requests_since(&shop, from);
    let edge = requests
        .iter()
        .find(|(s, l)| s == "frontend" && l["path"] == "/checkout" && l["method"] == "POST")
        .map(|(_, l)| l.clone())
        .context("the frontend logged the checkout")?;
    let trace_id = field(&edge, "trace_id").to_string();
    ensure!(is_hex(&trace_id, 32), "the frontend minted no trace id: {edge}");
    ensure!(edge.get("parent_span_id").is_none(), "nothing came in, so no parent: {edge}");
    // No x-request-id came in either: the request id is the trace id, on every line.
    ensure!(field(&edge, "request_id") == trace_id, "request id {} vs trace id {trace_id}", edge["request_id"]);
    ensure!(requests.iter().all(|(_, l)| field(l, "request_id") == trace_id), "a line with another request id: {requests:?}");

    let services = all_in_one_trace(&shop, from, &trace_id, "POST /checkout")?;
    for service in ["frontend", "checkout", "carts", "products", "payment", "shipping", "email"] {
        ensure!(services.contains(service), "{service} logged no request line for the checkout: {services:?}");
    }
    // Each shopper action is its own trace.
    let from = shop.log_lines().len();
    ensure!(b.get("/cart").await?.status == 200, "the cart answers");
    let next = requests_since(&shop, from);
    let (_, cart_line) = next.iter().find(|(s, _)| s == "frontend").context("the frontend logged the cart")?;
    ensure!(field(cart_line, "trace_id") != trace_id, "two actions share a trace id");
    all_in_one_trace(&shop, from, field(cart_line, "trace_id"), "GET /cart")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_traceparent_is_kept_across_the_split_shop() -> Result<()> {
    let shop = shop(true).await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("traceparent", format!("00-{TRACE}-{PARENT}-01").parse()?);
    headers.insert("tracestate", STATE.parse()?);
    let mut b = shop_e2e::browser::Browser::with_headers(&shop.base, headers);
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;

    let from = shop.log_lines().len();
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(placed.status == 303, "checkout: {} {}", placed.status, placed.body);
    let services = all_in_one_trace(&shop, from, TRACE, "POST /checkout with a traceparent")?;
    ensure!(services.len() == 7, "every service took part: {services:?}");
    for (service, line) in requests_since(&shop, from) {
        let parent = field(&line, "parent_span_id");
        if service == "frontend" {
            ensure!(parent == PARENT, "the frontend's parent is the caller's span: {line}");
        } else {
            ensure!(parent != PARENT, "{service}: the shop's hops have span ids of their own: {line}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_traceparent_is_replaced_and_never_echoed() -> Result<()> {
    let shop = shop(true).await?;
    let good = format!("00-{TRACE}-{PARENT}-01");
    // A CR/LF in the value splits it into a short traceparent and a header of its own.
    let crlf = format!("{}\r\nx-split: {}", &good[..40], &good[40..]).into_bytes();
    let mut lone_lf = good.clone().into_bytes();
    lone_lf[40] = b'\n';
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("another version", good.replacen("00-", "01-", 1).into_bytes()),
        ("version ff", good.replacen("00-", "ff-", 1).into_bytes()),
        ("all-zero trace id", format!("00-{}-{PARENT}-01", "0".repeat(32)).into_bytes()),
        ("all-zero parent id", format!("00-{TRACE}-{}-01", "0".repeat(16)).into_bytes()),
        ("uppercase", good.to_uppercase().into_bytes()),
        ("overlong", format!("{good}-00").into_bytes()),
        ("CR/LF splitting it", crlf),
        ("a lone LF", lone_lf),
    ];
    for (what, value) in bad {
        let from = shop.log_lines().len();
        let headers: Vec<(&str, &[u8])> = vec![("traceparent", value.as_slice()), ("tracestate", STATE.as_bytes())];
        let r = rawhttp::request(&shop.base, "GET", b"/", &headers, b"").await?;
        let echoed = |text: &str| text.contains(TRACE) || text.contains(&TRACE.to_uppercase()) || text.contains(STATE);
        ensure!(!r.headers.iter().any(|(k, v)| echoed(k) || echoed(v)), "{what}: echoed in the answer's headers");
        ensure!(!echoed(&r.text()), "{what}: echoed in the page");
        if r.status == 400 && what == "a lone LF" {
            // hyper refuses the header block (a bare LF ends a line, and the rest has no
            // colon): nothing reached the shop.
            ensure!(shop.log_lines().len() == from, "{what}: a refused request was logged");
            continue;
        }
        ensure!(r.status == 200, "{what}: GET / answered {}", r.status);
        let requests = requests_since(&shop, from);
        let (_, edge) = requests.iter().find(|(s, _)| s == "frontend").with_context(|| format!("{what}: no frontend line"))?;
        let trace_id = field(edge, "trace_id").to_string();
        ensure!(is_hex(&trace_id, 32) && trace_id != TRACE, "{what}: not replaced by a fresh trace id: {edge}");
        ensure!(edge.get("parent_span_id").is_none(), "{what}: a parent was taken from it: {edge}");
        let services = all_in_one_trace(&shop, from, &trace_id, what)?;
        ensure!(services.contains("products") && services.contains("carts"), "{what}: the home page calls products and carts: {services:?}");
        let logged = String::from_utf8_lossy(&shop.log_bytes()[..]).into_owned();
        ensure!(!echoed(&logged), "{what}: the malformed context reached a log line");
    }
    Ok(())
}

/// One app, services chained in-process by runtime-local, and `carts` behind a stand-in that
/// records the headers as they arrive over the network: both paths pass the guest's trace
/// headers on untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_local_passes_trace_headers_on_untouched() -> Result<()> {
    let carts = FaultyService::start("carts").await?;
    let overrides: HashMap<String, String> = [carts.variable()].into_iter().collect();
    let hook = carts.attacher();
    let shop = Shop::start_with_options(ShopOptions {
        overrides,
        capture_logs: true,
        on_load: Some(std::sync::Arc::new(hook)),
        ..ShopOptions::default()
    })
    .await?;

    let from = shop.log_lines().len();
    let seen_before = carts.seen().len();
    let tp = format!("00-{TRACE}-{PARENT}-01");
    let headers: Vec<(&str, &[u8])> = vec![("traceparent", tp.as_bytes()), ("tracestate", STATE.as_bytes())];
    let r = rawhttp::request(&shop.base, "GET", b"/", &headers, b"").await?;
    ensure!(r.status == 200, "GET / answered {}", r.status);

    let services = all_in_one_trace(&shop, from, TRACE, "GET / in one app")?;
    ensure!(services.contains("products") && services.contains("carts"), "chained calls logged: {services:?}");
    let seen = carts.seen();
    let call = seen.get(seen_before).context("the frontend called carts through the stand-in")?;
    let sent = call.traceparent.as_deref().context("the call carried a traceparent")?;
    let parent = sent.strip_prefix(&format!("00-{TRACE}-")).and_then(|r| r.strip_suffix("-01"));
    let parent = parent.with_context(|| format!("the trace id and sampled flag were passed on: {sent}"))?;
    ensure!(is_hex(parent, 16) && parent != PARENT, "a fresh parent span id per call: {sent}");
    ensure!(call.tracestate.as_deref() == Some(STATE), "tracestate passed on exactly: {:?}", call.tracestate);
    // What the stand-in forwarded (in-process, as chaining does) is what carts logged.
    let (_, carts_line) = requests_since(&shop, from)
        .into_iter()
        .find(|(s, _)| s == "carts")
        .context("carts logged the call")?;
    ensure!(field(&carts_line, "parent_span_id") == parent, "carts saw another parent: {carts_line} vs {sent}");
    Ok(())
}
