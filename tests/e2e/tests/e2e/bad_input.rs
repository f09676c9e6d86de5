//! Bad input, on every JSON API and every form: malformed JSON, wrong types, missing and unknown
//! fields, empty and oversized bodies, invalid UTF-8, unknown SKUs, impossible quantities,
//! over-long strings, control characters, SQL and HTML payloads, path traversal and header
//! injection. Each is answered with a clear 4xx (JSON error envelope with a message, or an HTML
//! page / redirect for forms), never a 5xx, and leaves every stored thing as it was (Redis keys
//! and PostgreSQL rows compared before and after).
//!
//! Public JSON (products' `/api/catalog/*`, the frontend's operator API `/admin/*`) is sent over
//! the socket; the internal operations are called the way service chaining calls them
//! (`App::handle_chained`, with the internal token), as the other services do.
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use shop_e2e::rawhttp;
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, GOOD_CARD, MUG};
use shop_e2e::stores::{snapshot, Snapshot, Snapshotter};
use shop_e2e::Shop;

const SESSION: &str = "0123456789abcdef0123456789abcdef";
/// An account id, which is also the key of the account's cart.
const ACCOUNT: &str = "fedcba9876543210fedcba9876543210";
/// A session token of accounts that names no session.
const TOKEN: &str = "00112233445566778899aabbccddeeff";

/// A valid request for every operation, keyed by component and path: the mutations start here.
fn valid_requests() -> Vec<(&'static str, &'static str, Value)> {
    let address = json!({"name": "Ada Lovelace", "street": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"});
    let card = json!({"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"});
    let money = json!({"minor": 1299, "currency": "USD"});
    let order = json!({
        "order_id": "ORD-0123456789AB", "session": SESSION, "status": "Completed", "email": "ada@example.com",
        "address": address, "lines": [{"sku": MUG, "name": "Mug", "image": "mug-teal", "unit_price": money, "quantity": 1, "line_total": money, "catalog_unit_price": money}],
        "subtotal": money, "shipping": {"minor": 0, "currency": "USD"}, "total": money,
        "transaction_id": "txn_0123456789abcdef0123456789abcdef", "tracking_id": "TRK-0123456789AB", "failure": null,
        "created_at": "2030-01-01T00:00:00Z", "email_sent": false, "rates": []
    });
    let mut failed = order.clone();
    failed["order_id"] = json!("ORD-0123456789AC");
    failed["status"] = json!("Failed");
    failed["tracking_id"] = Value::Null;
    failed["failure"] = json!("Shipping was unavailable");
    vec![
        ("products", "/api/catalog/list_categories", json!({})),
        ("products", "/api/catalog/list_products", json!({"category": "kitchen", "query": "mug", "page": 1, "page_size": 12})),
        ("products", "/api/catalog/get_product", json!({"sku": MUG, "currency": "JPY", "recommendations": 4})),
        ("products", "/api/catalog/get_products", json!({"skus": [MUG], "currency": "KWD", "recommendations": 4})),
        ("products", "/api/catalog/get_rates", json!({})),
        // A reservation of more than there is (refused: sold out), and a release of nothing.
        ("products", "/api/inventory/reserve", json!({"order_id": "ORD-0123456789AB", "lines": [{"sku": MUG, "quantity": 99}, {"sku": "HOM-LAMP-AMBER", "quantity": 1}]})),
        ("products", "/api/inventory/release", json!({"order_id": "ORD-0123456789AB"})),
        ("carts", "/api/carts/get_cart", json!({"session": SESSION})),
        ("carts", "/api/carts/add_item", json!({"session": SESSION, "sku": MUG, "quantity": 1})),
        ("carts", "/api/carts/set_quantity", json!({"session": SESSION, "sku": MUG, "quantity": 2})),
        ("carts", "/api/carts/remove_item", json!({"session": SESSION, "sku": MUG})),
        ("carts", "/api/carts/empty_cart", json!({"session": SESSION})),
        ("carts", "/api/carts/remove_lines", json!({"session": SESSION, "lines": [{"sku": MUG, "quantity": 1}]})),
        ("carts", "/api/carts/merge_cart", json!({"from": SESSION, "into": ACCOUNT})),
        ("payment", "/api/payment/charge", json!({"idempotency_key": "key-1", "amount": money, "card": card})),
        ("payment", "/api/payment/refund", json!({"transaction_id": "txn_0123456789abcdef0123456789abcdef", "reason": "test"})),
        ("payment", "/api/payment/settle", json!({"idempotency_key": "key-1"})),
        ("shipping", "/api/shipping/get_quote", json!({"country": "GB", "item_count": 1, "currency": "USD"})),
        ("shipping", "/api/shipping/ship_order", json!({"idempotency_key": "key-1", "address": address, "items": [{"sku": MUG, "quantity": 1}], "currency": "USD"})),
        ("email", "/api/email/send_confirmation", json!({"order": order})),
        ("email", "/api/email/send_failure_notice", json!({"order": failed})),
        ("email", "/api/email/list_outbox", json!({"limit": 10})),
        ("checkout", "/api/checkout/place_order", json!({"session": SESSION, "account_id": ACCOUNT, "attempt_id": "attempt-1", "email": "ada@example.com", "address": address, "card": card, "currency": "EUR", "expected_total": {"minor": 1, "currency": "EUR"}})),
        ("checkout", "/api/checkout/get_order", json!({"session": SESSION, "account_id": ACCOUNT, "order_id": "ORD-0123456789AB"})),
        ("checkout", "/api/checkout/list_orders", json!({"session": SESSION, "account_id": ACCOUNT, "before": "1767225600000000.ORD-0123456789AB", "limit": 10})),
        ("checkout", "/api/checkout/claim_orders", json!({"session": SESSION, "account_id": ACCOUNT})),
        // Not sign_in nor sign_up: a refused sign-in that checked a password counts a failure in
        // Redis (the sign-in limit), and so does a sign-up refused because its email is taken
        // (the sign-up limit), so "a refusal changes nothing" does not hold for them by design;
        // tests/e2e/tests/e2e/accounts.rs covers their bad input (nothing stored or counted).
        ("accounts", "/api/accounts/get_session", json!({"token": TOKEN})),
        ("accounts", "/api/accounts/sign_out", json!({"token": TOKEN})),
        ("accounts", "/api/accounts/change_password", json!({"token": TOKEN, "current_password": "correct horse battery staple", "new_password": "a brand new passphrase", "client": "127.0.0.1"})),
        ("accounts", "/api/accounts/list_addresses", json!({"token": TOKEN})),
        ("accounts", "/api/accounts/save_address", json!({"token": TOKEN, "address": address})),
        ("accounts", "/api/accounts/delete_address", json!({"token": TOKEN, "address_id": ACCOUNT})),
    ]
}

/// Values that are wrong for any field, or hostile in a string field.
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(4294967296u64),
        json!(-9223372036854775808i64),
        json!(1e300),
        json!(""),
        json!("not a number"),
        json!("x".repeat(10_000)),
        json!("tab\there\u{0}nul\u{7f}"),
        json!("line\r\nX-Injected: 1"),
        json!("'; DROP TABLE products; --"),
        json!("\" OR 1=1 --"),
        json!("<script>alert(1)</script>"),
        json!("../../../../etc/passwd"),
        json!("\u{202e}evil\u{feff}"),
        json!([]),
        json!({}),
    ]
}

/// Every single-field mutation of `valid`: each field removed, replaced by each hostile value,
/// and (for objects) an unknown field added; recursively into nested objects and arrays.
fn mutations(valid: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    mutate(valid, "", &mut |path, v| out.push((path, v)), valid);
    out
}

fn mutate(node: &Value, path: &str, out: &mut dyn FnMut(String, Value), root: &Value) {
    let set = |root: &Value, path: &str, new: Option<Value>| -> Value {
        let mut copy = root.clone();
        let pointer: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (last, parents) = pointer.split_last().expect("a path");
        let mut at = &mut copy;
        for p in parents {
            at = match at {
                Value::Object(m) => m.get_mut(*p).expect("exists"),
                Value::Array(a) => &mut a[p.parse::<usize>().expect("index")],
                _ => unreachable!(),
            };
        }
        match (at, new) {
            (Value::Object(m), Some(v)) => {
                m.insert(last.to_string(), v);
            }
            (Value::Object(m), None) => {
                m.remove(*last);
            }
            (Value::Array(a), Some(v)) => a[last.parse::<usize>().expect("index")] = v,
            (Value::Array(a), None) => {
                a.remove(last.parse::<usize>().expect("index"));
            }
            _ => unreachable!(),
        }
        copy
    };
    match node {
        Value::Object(map) => {
            let unknown = format!("{path}/unexpected_field");
            out(format!("{unknown} added"), set(root, &unknown, Some(json!("surprise"))));
            for (k, child) in map {
                let p = format!("{path}/{k}");
                out(format!("{p} missing"), set(root, &p, None));
                for v in hostile_values() {
                    out(format!("{p} = {}", short(&v)), set(root, &p, Some(v)));
                }
                mutate(child, &p, out, root);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                let p = format!("{path}/0");
                for v in hostile_values() {
                    out(format!("{p} = {}", short(&v)), set(root, &p, Some(v)));
                }
                mutate(first, &p, out, root);
            }
        }
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 { format!("{}…({} bytes)", &s[..40], s.len()) } else { s }
}

/// Bodies that are wrong whatever the operation.
fn malformed_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    vec![
        ("truncated JSON", b"{\"session\": ".to_vec()),
        ("not JSON", b"hello".to_vec()),
        ("a JSON array", b"[]".to_vec()),
        ("a JSON string", b"\"x\"".to_vec()),
        ("a JSON number", b"42".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("trailing garbage", b"{} {}".to_vec()),
        ("invalid UTF-8", b"{\"sku\": \"\xff\xfe\"}".to_vec()),
        ("a UTF-8 BOM", b"\xef\xbb\xbf{}".to_vec()),
        ("a lone surrogate escape", br#"{"sku": "\ud800"}"#.to_vec()),
        ("100000 nested arrays", deep.into_bytes()),
        ("a duplicate key", br#"{"limit": 1, "limit": 2}"#.to_vec()),
    ]
}

/// A 4xx with the JSON error envelope and a message.
fn assert_client_error(what: &str, status: u16, content_type: Option<&str>, body: &[u8]) -> Result<Value> {
    ensure!((400..500).contains(&status), "{what}: expected a 4xx, got {status}: {}", String::from_utf8_lossy(body));
    ensure!(content_type.is_some_and(|c| c.starts_with("application/json")), "{what}: content-type {content_type:?}");
    let v: Value = serde_json::from_slice(body).with_context(|| format!("{what}: the error body is not JSON"))?;
    let message = v["error"]["message"].as_str().unwrap_or_default();
    ensure!(!message.trim().is_empty(), "{what}: the error has no message: {v}");
    ensure!(v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: no error code: {v}");
    Ok(v)
}

async fn internal(shop: &Shop, component: &str, path: &str, body: Vec<u8>) -> Result<(u16, Option<String>, Vec<u8>)> {
    let resp = shop.call_internal(component, "POST", path, &[("content-type", "application/json")], body).await?;
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok((resp.status().as_u16(), ct, resp.body().to_vec()))
}

/// The answers to a run of bad requests: never a 5xx; an accepted one (2xx) was still valid and
/// its effect is legitimate; every refusal is a 4xx envelope that changed no store.
struct Tally {
    refused: usize,
    accepted: usize,
    /// The stores after the previous request.
    before: Snapshot,
}

impl Tally {
    fn new(before: Snapshot) -> Self {
        Tally { refused: 0, accepted: 0, before }
    }

    /// Judges one answer, given the stores right after it.
    fn record(&mut self, what: &str, status: u16, ct: Option<&str>, answer: &[u8], after: Snapshot) -> Result<()> {
        ensure!(status < 500, "{what}: answered {status}: {}", String::from_utf8_lossy(answer));
        if (200..300).contains(&status) {
            self.accepted += 1;
        } else {
            assert_client_error(what, status, ct, answer)?;
            let diff = self.before.diff(&after);
            ensure!(diff.is_empty(), "{what}: refused with {status}, but the stores changed:\n{diff}");
            self.refused += 1;
        }
        self.before = after;
        Ok(())
    }
}

/// Every operation of every service, given malformed bodies and every single-field mutation of
/// a valid request: never a 5xx; every refusal is a 4xx envelope that changed nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_operation_refuses_bad_input_and_changes_nothing() -> Result<()> {
    let shop = Shop::start().await?;
    let mut snap = Snapshotter::new(&shop).await?;
    let mut tally = Tally::new(snap.snapshot().await?);
    for (component, path, valid) in valid_requests() {
        let mut cases: Vec<(String, Vec<u8>)> =
            malformed_bodies().into_iter().map(|(n, b)| (n.to_string(), b)).collect();
        cases.extend(mutations(&valid).into_iter().map(|(n, v)| (n, v.to_string().into_bytes())));
        for (name, body) in cases {
            let what = format!("{component} {path}: {name}");
            let (status, ct, answer) = internal(&shop, component, path, body).await?;
            // Accepted: still a valid request (e.g. an SQL payload as a search text).
            tally.record(&what, status, ct.as_deref(), &answer, snap.snapshot().await?)?;
        }
    }
    let Tally { refused, accepted, .. } = tally;
    println!("{refused} refused, {accepted} accepted");
    ensure!(refused > 1000 && refused > accepted * 5, "most mutations must be refused: {refused} refused, {accepted} accepted");
    Ok(())
}

/// Exact answers for the cases the READMEs name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_refusals_have_their_documented_status() -> Result<()> {
    let shop = Shop::start().await?;
    let before = snapshot(&shop).await?;
    let long = "A".repeat(300);
    let notice = valid_requests()
        .into_iter()
        .find_map(|(_, path, body)| (path == "/api/email/send_failure_notice").then_some(body))
        .context("a valid failure notice")?;
    let mut completed = notice.clone();
    completed["order"]["status"] = json!("Completed");
    let mut malformed = notice.clone();
    malformed["order"]["email"] = json!("nope");
    malformed["order"]["lines"] = json!([]);
    let cases: Vec<(&str, &str, Value, u16)> = vec![
        ("products", "/api/catalog/get_product", json!({"sku": "NOPE-123", "recommendations": 0}), 404),
        ("products", "/api/catalog/get_product", json!({"sku": "../../etc/passwd", "recommendations": 0}), 400),
        ("products", "/api/catalog/get_product", json!({"sku": long, "recommendations": 0}), 400),
        ("products", "/api/catalog/list_products", json!({"category": "weapons", "query": null, "page": 1, "page_size": 12}), 400),
        ("products", "/api/catalog/list_products", json!({"category": null, "query": null, "page": 0, "page_size": 12}), 400),
        ("products", "/api/catalog/list_products", json!({"category": null, "query": null, "page": 1, "page_size": 49}), 400),
        ("products", "/api/catalog/list_products", json!({"category": null, "query": "x".repeat(101), "page": 1, "page_size": 12}), 400),
        ("products", "/api/catalog/list_products", json!({"category": null, "query": "a\u{7}b", "page": 1, "page_size": 12}), 400),
        ("products", "/api/catalog/get_products", json!({"skus": vec![MUG; 101], "recommendations": 0}), 400),
        ("products", "/api/catalog/get_product", json!({"sku": MUG, "currency": "XXX", "recommendations": 0}), 400),
        ("products", "/api/catalog/get_product", json!({"sku": MUG, "currency": null, "recommendations": 13}), 400),
        ("products", "/api/catalog/get_products", json!({"skus": [MUG], "currency": "€", "recommendations": 0}), 400),
        ("products", "/api/catalog/list_products", json!({"page": 1, "page_size": 12, "currency": "usdollars"}), 400),
        ("products", "/api/catalog_admin/set_rates", json!({"rates": [{"currency": "EUR", "per_usd": "0.92"}]}), 401),
        ("products", "/api/catalog_admin/set_stock", json!({"sku": MUG, "stock": 5}), 401),
        ("products", "/api/inventory/reserve", json!({"order_id": "ORD-0123456789AB", "lines": [{"sku": "HOM-LAMP-AMBER", "quantity": 1}]}), 409),
        ("products", "/api/inventory/reserve", json!({"order_id": "ORD-0123456789AB", "lines": [{"sku": MUG, "quantity": 0}]}), 400),
        ("products", "/api/inventory/reserve", json!({"order_id": "ORD-0123456789AB", "lines": [{"sku": MUG, "quantity": 1}, {"sku": MUG, "quantity": 2}]}), 400),
        ("products", "/api/inventory/reserve", json!({"order_id": "ORD-0123456789AB", "lines": []}), 400),
        ("products", "/api/inventory/reserve", json!({"order_id": "../x", "lines": [{"sku": MUG, "quantity": 1}]}), 400),
        ("carts", "/api/carts/add_item", json!({"session": SESSION, "sku": "HOM-LAMP-AMBER", "quantity": 1}), 409),
        ("products", "/api/catalog_admin/create_product", json!({}), 401),
        ("products", "/api/catalog_admin/migrate", json!({}), 401),
        ("carts", "/api/carts/add_item", json!({"session": SESSION, "sku": "NOPE-123", "quantity": 1}), 404),
        ("carts", "/api/carts/add_item", json!({"session": SESSION, "sku": MUG, "quantity": 0}), 400),
        ("carts", "/api/carts/add_item", json!({"session": SESSION, "sku": MUG, "quantity": 100}), 400),
        ("carts", "/api/carts/add_item", json!({"session": "../../x", "sku": MUG, "quantity": 1}), 400),
        ("carts", "/api/carts/set_quantity", json!({"session": SESSION, "sku": MUG, "quantity": 0}), 400),
        ("carts", "/api/carts/set_quantity", json!({"session": SESSION, "sku": MUG, "quantity": 5}), 404),
        ("carts", "/api/carts/remove_lines", json!({"session": SESSION, "lines": [{"sku": MUG, "quantity": 0}]}), 400),
        ("carts", "/api/carts/remove_lines", json!({"session": SESSION, "lines": vec![json!({"sku": MUG, "quantity": 1}); 51]}), 400),
        ("carts", "/api/carts/merge_cart", json!({"from": SESSION, "into": SESSION.to_uppercase()}), 400),
        ("carts", "/api/carts/merge_cart", json!({"from": "../../x", "into": ACCOUNT}), 400),
        ("payment", "/api/payment/charge", json!({"idempotency_key": "k", "amount": {"minor": 0, "currency": "USD"},
            "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"}}), 400),
        ("payment", "/api/payment/charge", json!({"idempotency_key": "k", "amount": {"minor": 100, "currency": "XXX"},
            "card": {"number": "4242424242424241", "expiry_month": 13, "expiry_year": 2035, "cvv": "1"}}), 400),
        ("payment", "/api/payment/refund", json!({"transaction_id": "txn_0123456789abcdef0123456789abcdef", "reason": ""}), 404),
        ("payment", "/api/payment/refund", json!({"transaction_id": "txn_x", "reason": "a\u{0}b"}), 400),
        ("shipping", "/api/shipping/get_quote", json!({"country": "ZZ", "item_count": 0, "currency": "XYZ"}), 400),
        ("shipping", "/api/shipping/ship_order", json!({"idempotency_key": "k", "address": {"name": "", "street": "", "city": "", "postal_code": "", "country": ""}, "items": [], "currency": "USD"}), 400),
        ("payment", "/api/payment/settle", json!({"idempotency_key": ""}), 400),
        ("payment", "/api/payment/settle", json!({"idempotency_key": "key with spaces"}), 400),
        ("email", "/api/email/send_failure_notice", completed, 422),
        ("email", "/api/email/send_failure_notice", malformed, 400),
        ("email", "/api/email/list_outbox", json!({"limit": 0}), 400),
        ("email", "/api/email/list_outbox", json!({"limit": 101}), 400),
        ("checkout", "/api/checkout/place_order", json!({"session": SESSION, "attempt_id": "a-1", "email": "ada@example.com",
            "address": {"name": "Ada", "street": "1 Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
            "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"}, "currency": "USD"}), 422),
        // Confirmed lines: none is an empty cart (422); a bad SKU, a quantity over 99 or a SKU twice is refused (400).
        ("checkout", "/api/checkout/place_order", json!({"session": SESSION, "attempt_id": "a-2", "email": "ada@example.com",
            "address": {"name": "Ada", "street": "1 Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
            "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"}, "currency": "USD", "lines": []}), 422),
        ("checkout", "/api/checkout/place_order", json!({"session": SESSION, "attempt_id": "a-3", "email": "ada@example.com",
            "address": {"name": "Ada", "street": "1 Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
            "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"}, "currency": "USD",
            "lines": [{"sku": "../x", "quantity": 1}, {"sku": MUG, "quantity": 100}]}), 400),
        ("checkout", "/api/checkout/place_order", json!({"session": SESSION, "attempt_id": "a-4", "email": "ada@example.com",
            "address": {"name": "Ada", "street": "1 Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
            "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"}, "currency": "USD",
            "lines": [{"sku": MUG, "quantity": 1}, {"sku": MUG, "quantity": 2}]}), 400),
        ("checkout", "/api/checkout/place_order", json!({"session": "x", "attempt_id": "", "email": "nope",
            "address": {"name": "", "street": "", "city": "", "postal_code": "", "country": "ZZ"},
            "card": {"number": "1", "expiry_month": 0, "expiry_year": 1999, "cvv": ""}, "currency": "XXX"}), 400),
        ("checkout", "/api/checkout/get_order", json!({"session": SESSION, "order_id": "ORD-0123456789AB"}), 404),
        ("checkout", "/api/checkout/get_order", json!({"session": SESSION, "order_id": "'; DROP TABLE orders; --"}), 400),
        ("checkout", "/api/checkout/get_order", json!({"session": SESSION, "account_id": ACCOUNT, "order_id": "ORD-0123456789AB"}), 404),
        ("checkout", "/api/checkout/get_order", json!({"session": SESSION, "account_id": "x", "order_id": "ORD-0123456789AB"}), 400),
        ("checkout", "/api/checkout/list_orders", json!({"session": SESSION, "limit": 0}), 400),
        ("checkout", "/api/checkout/list_orders", json!({"session": SESSION, "limit": 51}), 400),
        ("checkout", "/api/checkout/list_orders", json!({"session": SESSION, "before": "not a cursor", "limit": 10}), 400),
        ("checkout", "/api/checkout/claim_orders", json!({"session": SESSION, "account_id": "' OR 1=1 --"}), 400),
        ("checkout", "/api/checkout/migrate", json!({}), 401),
        ("checkout", "/api/checkout/reconcile", json!({"grace_seconds": 0, "alert_seconds": 3600, "limit": 10}), 401),
        ("accounts", "/api/accounts/sign_up", json!({"email": "ada@example.com", "password": "password1234", "client": "127.0.0.1"}), 400),
        ("accounts", "/api/accounts/sign_up", json!({"email": "ada@example.com", "password": "short", "client": "127.0.0.1"}), 400),
        ("accounts", "/api/accounts/sign_up", json!({"email": format!("{long}@example.com"), "password": "correct horse battery staple", "client": "127.0.0.1"}), 400),
        ("accounts", "/api/accounts/sign_up", json!({"email": "ada@example.com", "password": "x".repeat(300), "client": "nowhere"}), 400),
        ("accounts", "/api/accounts/sign_in", json!({"email": "ada@example.com", "password": "", "client": "127.0.0.1"}), 400),
        ("accounts", "/api/accounts/sign_in", json!({"email": "ada\u{0}@example.com", "password": "correct horse\u{0}", "client": "127.0.0.1"}), 400),
        ("accounts", "/api/accounts/get_session", json!({"token": TOKEN}), 401),
        ("accounts", "/api/accounts/get_session", json!({"token": "../../etc/passwd"}), 401),
        ("accounts", "/api/accounts/change_password", json!({"token": TOKEN, "current_password": "correct horse battery staple", "new_password": "a brand new passphrase", "client": "127.0.0.1"}), 401),
        ("accounts", "/api/accounts/change_password", json!({"token": TOKEN, "current_password": "", "new_password": "short", "client": ""}), 400),
        ("accounts", "/api/accounts/list_addresses", json!({"token": TOKEN}), 401),
        ("accounts", "/api/accounts/save_address", json!({"token": TOKEN, "address": {"name": "", "street": "", "city": "", "postal_code": "", "country": "ZZ"}}), 400),
        ("accounts", "/api/accounts/delete_address", json!({"token": TOKEN, "address_id": "'; DROP TABLE addresses; --"}), 400),
        ("accounts", "/api/accounts/delete_address", json!({"token": TOKEN, "address_id": ACCOUNT}), 401),
        ("accounts", "/api/accounts/migrate", json!({}), 401),
    ];
    for (component, path, body, expected) in cases {
        let what = format!("{component} {path} {}", short(&body));
        let (status, ct, answer) = internal(&shop, component, path, body.to_string().into_bytes()).await?;
        ensure!(status == expected, "{what}: expected {expected}, got {status}: {}", String::from_utf8_lossy(&answer));
        let v = assert_client_error(&what, status, ct.as_deref(), &answer)?;
        if expected == 400 && path != "/api/catalog/get_product" {
            ensure!(v["error"]["fields"].as_array().is_some_and(|f| !f.is_empty()), "{what}: 400 names no field: {v}");
        }
    }
    // Wrong method, unknown operation, body over the documented 256 KiB limit.
    let get = shop.call_internal("carts", "GET", "/api/carts/get_cart", &[], Vec::new()).await?;
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    let (status, ct, answer) = internal(&shop, "carts", "/api/carts/steal_cart", b"{}".to_vec()).await?;
    assert_eq!(status, 404);
    assert_client_error("unknown operation", status, ct.as_deref(), &answer)?;
    let big = format!("{{\"session\": \"{}\"}}", "a".repeat(300 * 1024));
    let (status, ct, answer) = internal(&shop, "carts", "/api/carts/get_cart", big.into_bytes()).await?;
    assert_eq!(status, 413, "over 256 KiB");
    assert_client_error("256 KiB", status, ct.as_deref(), &answer)?;

    let diff = before.diff(&snapshot(&shop).await?);
    ensure!(diff.is_empty(), "refusals changed the stores:\n{diff}");
    Ok(())
}

/// The public JSON surfaces over the socket: `/api/catalog/*` and the operator API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_json_apis_refuse_bad_input_over_http() -> Result<()> {
    let shop = Shop::start().await?;
    // A fresh connection per request: the server closes a connection after refusing a body it
    // did not read (413), and a pooled client could race that close on its next request.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let mut snap = Snapshotter::new(&shop).await?;
    let mut tally = Tally::new(snap.snapshot().await?);
    let post = |path: &str, body: Vec<u8>, token: Option<&str>, method: reqwest::Method| {
        let mut r = client.request(method, shop.url(path)).header("content-type", "application/json").body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let token = Some(shop.operator_token.as_str());
    let product = json!({"sku": "NEW-THING-1", "name": "A thing", "description": "Nice", "price": {"minor": 500, "currency": "USD"}, "category": "office", "image": "sticker-rose"});
    let mut requests: Vec<(String, reqwest::Method, String, Vec<u8>, Option<&str>)> = Vec::new();
    for (_, path, valid) in valid_requests().into_iter().filter(|(c, _, _)| *c == "products") {
        for (name, body) in malformed_bodies() {
            requests.push((name.into(), reqwest::Method::POST, path.into(), body, None));
        }
        for (name, v) in mutations(&valid) {
            requests.push((name, reqwest::Method::POST, path.into(), v.to_string().into_bytes(), None));
        }
    }
    for (name, body) in malformed_bodies() {
        requests.push((name.into(), reqwest::Method::POST, "/admin/products".into(), body.clone(), token));
        requests.push((name.into(), reqwest::Method::PUT, format!("/admin/products/{MUG}"), body, token));
    }
    for (name, v) in mutations(&product) {
        requests.push((name, reqwest::Method::POST, "/admin/products".into(), v.to_string().into_bytes(), token));
    }
    let mut update = product.clone();
    update["sku"] = json!(MUG);
    for (name, v) in mutations(&update) {
        requests.push((name, reqwest::Method::PUT, format!("/admin/products/{MUG}"), v.to_string().into_bytes(), token));
    }
    for (path, valid) in [
        ("/admin/rates".to_string(), json!({"valid_from": "2026-06-01T00:00:00Z", "rates": {"EUR": "0.9215", "JPY": "151.25"}})),
        (format!("/admin/stock/{MUG}"), json!({"stock": 7})),
    ] {
        for (name, body) in malformed_bodies() {
            requests.push((name.into(), reqwest::Method::PUT, path.clone(), body, token));
        }
        for (name, v) in mutations(&valid) {
            requests.push((name, reqwest::Method::PUT, path.clone(), v.to_string().into_bytes(), token));
        }
    }
    for (name, rates) in [
        ("a rate as a JSON number (a float)", json!({"EUR": 0.9215})),
        ("a negative rate", json!({"EUR": "-0.9"})),
        ("a zero rate", json!({"EUR": "0"})),
        ("seven decimals", json!({"EUR": "0.1234567"})),
        ("the base currency", json!({"USD": "1"})),
        ("an unknown currency", json!({"XXX": "2"})),
        ("one good and one bad rate (all or nothing)", json!({"GBP": "0.5", "EUR": "abc"})),
    ] {
        requests.push((name.into(), reqwest::Method::PUT, "/admin/rates".into(), json!({"rates": rates}).to_string().into_bytes(), token));
    }
    requests.push(("stock of an unknown SKU".into(), reqwest::Method::PUT, "/admin/stock/NOPE-123".into(), json!({"stock": 1}).to_string().into_bytes(), token));
    requests.push(("negative stock".into(), reqwest::Method::PUT, format!("/admin/stock/{MUG}"), json!({"stock": -1}).to_string().into_bytes(), token));
    // The operator API's own refusals.
    requests.push(("SKU in path and body differ".into(), reqwest::Method::PUT, "/admin/products/KIT-MUG-CORAL".into(), update.to_string().into_bytes(), token));
    requests.push(("unknown SKU".into(), reqwest::Method::PUT, "/admin/products/NOPE-123".into(), json!({"sku": "NOPE-123", "name": "x", "description": "", "price": {"minor": 1, "currency": "USD"}, "category": "office", "image": "sticker-rose"}).to_string().into_bytes(), token));
    requests.push(("existing SKU".into(), reqwest::Method::POST, "/admin/products".into(), update.to_string().into_bytes(), token));
    requests.push(("over the form limit".into(), reqwest::Method::POST, "/admin/products".into(), vec![b' '; 20 * 1024], token));
    requests.push(("wrong token".into(), reqwest::Method::POST, "/admin/products".into(), product.to_string().into_bytes(), Some("wrong")));
    requests.push(("over 256 KiB".into(), reqwest::Method::POST, "/api/catalog/get_product".into(), vec![b' '; 300 * 1024], None));

    for (name, method, path, body, token) in requests {
        let what = format!("{method} {path}: {name}");
        let resp = post(&path, body, token, method).await?;
        let status = resp.status().as_u16();
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let answer = resp.bytes().await?;
        // Accepted: still valid (e.g. an empty description).
        tally.record(&what, status, ct.as_deref(), &answer, snap.snapshot().await?)?;
    }
    println!("{} refused, {} accepted", tally.refused, tally.accepted);
    // Beyond the runtime's request body limit (1 MiB), the runtime answers 413 itself.
    // (Raw: the runtime answers before reading the body and closes, which a pooled client
    // can see as a broken pipe instead of the answer.)
    let json = [("content-type", b"application/json".as_slice())];
    let huge = rawhttp::request(&shop.base, "POST", b"/api/catalog/get_product", &json, &vec![b' '; (1 << 20) + 1]).await?;
    assert_eq!(huge.status, 413);
    let get = client.get(shop.url("/api/catalog/list_categories")).send().await?;
    assert_eq!(get.status(), 405);
    let diff = tally.before.diff(&snapshot(&shop).await?);
    ensure!(diff.is_empty(), "refused operator requests changed the stores:\n{diff}");
    Ok(())
}

/// Every form with bad values (a valid CSRF token, so the values themselves are judged):
/// never a 5xx, never a redirect off the shop, and the cart and orders unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_refuse_bad_values_and_change_nothing() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 2).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let before = snapshot(&shop).await?;

    let quantities = ["-1", "100", "99999999999999999999", "abc", "", "1.5", "1e2", "0x10", "+1", "１", "2147483648", "-0"];
    let skus = [
        "", "NOPE-123", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1--", "KIT-MUG-TEAL\r\nX-Injected: 1",
        "KIT-MUG-TEAL\u{0}", "KIT MUG TEAL", "/cart", "//evil.example", "https://evil.example/", "kit-mug-teal/../x",
    ];
    let long = "A".repeat(5000);
    let mut cases: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
    for q in quantities {
        cases.push(("/cart/add", vec![("sku", MUG.into()), ("quantity", q.into())]));
        cases.push(("/cart/update", vec![("sku", MUG.into()), ("quantity", q.into())]));
    }
    for s in skus.iter().copied().chain([long.as_str()]) {
        cases.push(("/cart/add", vec![("sku", s.into()), ("quantity", "1".into())]));
        cases.push(("/cart/update", vec![("sku", s.into()), ("quantity", "1".into())]));
        cases.push(("/cart/remove", vec![("sku", s.into())]));
    }
    cases.push(("/cart/add", vec![]));
    cases.push(("/cart/add", vec![("quantity", "1".into())]));
    // Checkout: each field blanked, made hostile or over-long; and the attempt id missing or forged.
    let fields = checkout_fields(GOOD_CARD, &attempt);
    // Values no field accepts (markup and SQL are valid text in a name: see the end of this test).
    let hostile = ["", "a\u{0}b\u{7}", "x\r\nX-Injected: 1", "\u{202e}\u{200b}", long.as_str()];
    for (name, _) in &fields {
        for h in hostile {
            let mut f: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
            f.iter_mut().filter(|(k, _)| k == name).for_each(|(_, v)| *v = h.to_string());
            cases.push(("/checkout", f));
        }
        let f: Vec<(&str, String)> = fields.iter().filter(|(k, _)| k != name).map(|(k, v)| (*k, v.to_string())).collect();
        cases.push(("/checkout", f));
    }
    for (path, form) in cases {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = b.post(path, &fields).await?;
        let what = format!("POST {path} {form:?}");
        ensure!(page.status < 500, "{what}: answered {}: {}", page.status, page.body);
        ensure!(page.status != 200, "{what}: answered 200");
        if page.status == 303 {
            let location = page.location.clone().unwrap_or_default();
            ensure!(location.starts_with('/') && !location.starts_with("//"), "{what}: redirect off the shop: {location}");
            ensure!(!location.contains(['\r', '\n']), "{what}: header injection in {location:?}");
            ensure!(!location.starts_with("/order/"), "{what}: an order was placed");
        } else {
            ensure!(page.body.contains("Wasm Goods"), "{what}: the answer is not a shop page");
            ensure!(!page.body.contains("<script>alert(1)"), "{what}: markup echoed unescaped");
        }
        let diff = before.diff(&snapshot(&shop).await?);
        ensure!(diff.is_empty(), "{what}: the stores changed:\n{diff}");
    }

    // Markup and SQL are valid text in an address: stored as typed, shown escaped, harmless.
    let mut f = checkout_fields(GOOD_CARD, &attempt);
    f.retain(|(k, _)| *k != "name" && *k != "street");
    f.push(("name", "<script>alert(1)</script>"));
    f.push(("street", "1'); DROP TABLE orders; --"));
    let placed = b.post("/checkout", &f).await?;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let confirmation = b.follow(&placed).await?;
    assert_eq!(confirmation.status, 200);
    assert!(confirmation.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !confirmation.body.contains("<script>alert(1)"));
    let stored: String = shop.db().await?.query_one("SELECT ship_street FROM orders", &[]).await?.get(0);
    assert_eq!(stored, "1'); DROP TABLE orders; --");
    Ok(())
}

/// Bytes no browser sends: malformed form encodings, non-UTF-8, duplicated fields, oversized
/// bodies, un-normalised and non-UTF-8 paths, traversal on `/static/`, injected header text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_requests_are_refused_and_static_files_do_not_traverse() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let sid = b.session().context("a session")?;
    // The csrf cookie, read back from the cart page's hidden field.
    let cart = b.get("/cart").await?;
    let csrf = shop_e2e::html::input_value(&cart.body, "csrf").context("a csrf field")?;
    let cookie = format!("sid={sid}; csrf={csrf}");
    let before = snapshot(&shop).await?;
    let form_headers: Vec<(&str, &[u8])> =
        vec![("Content-Type", b"application/x-www-form-urlencoded"), ("Cookie", cookie.as_bytes())];

    let bodies: Vec<(&str, Vec<u8>, u16)> = vec![
        ("bad escape", format!("csrf={csrf}&sku=%zz&quantity=1").into_bytes(), 400),
        ("truncated escape", format!("csrf={csrf}&sku={MUG}&quantity=%4").into_bytes(), 400),
        ("non-UTF-8 escape", format!("csrf={csrf}&sku=%ff%fe&quantity=1").into_bytes(), 400),
        ("raw non-UTF-8", [format!("csrf={csrf}&sku=").into_bytes(), vec![0xff, 0xfe], b"&quantity=1".to_vec()].concat(), 400),
        ("duplicate field", format!("csrf={csrf}&sku={MUG}&quantity=1&quantity=50").into_bytes(), 400),
        ("duplicate csrf", format!("csrf={csrf}&csrf=x&sku={MUG}&quantity=1").into_bytes(), 400),
        ("over 16 KiB", format!("csrf={csrf}&sku={MUG}&quantity=1&pad={}", "a".repeat(20 * 1024)).into_bytes(), 413),
        ("JSON instead of a form", format!("{{\"csrf\": \"{csrf}\", \"sku\": \"{MUG}\"}}").into_bytes(), 403),
    ];
    for (name, body, expected) in bodies {
        let r = rawhttp::request(&shop.base, "POST", b"/cart/add", &form_headers, &body).await?;
        ensure!(r.status == expected, "{name}: expected {expected}, got {}: {}", r.status, r.text());
        ensure!(r.header("content-type").is_some_and(|c| c.starts_with("text/html")), "{name}: a page");
    }
    // Over the runtime's 1 MiB body limit.
    let r = rawhttp::request(&shop.base, "POST", b"/cart/add", &form_headers, &vec![b'a'; (1 << 20) + 1]).await?;
    assert_eq!(r.status, 413);

    // Traversal and odd paths on /static/: a 404 page, never a file from disk.
    let traversals: [&[u8]; 12] = [
        b"/static/../Cargo.toml",
        b"/static/../../spin.toml",
        b"/static/..%2f..%2fspin.toml",
        b"/static/%2e%2e/%2e%2e/spin.toml",
        b"/static/img/../../../../etc/passwd",
        b"/static//etc/passwd",
        b"/static/..\\..\\spin.toml",
        b"/static/shop.css%00.svg",
        b"/static/img/mug-teal.svg/..",
        b"/static/",
        b"/static/img/",
        b"/static/%252e%252e/spin.toml",
    ];
    for path in traversals {
        let r = rawhttp::request(&shop.base, "GET", path, &[], b"").await?;
        let what = String::from_utf8_lossy(path).into_owned();
        ensure!(r.status == 404, "{what}: expected 404, got {}", r.status);
        let text = r.text();
        ensure!(!text.contains("[package]") && !text.contains("root:") && !text.contains("spin_manifest_version"), "{what}: leaked a file");
    }
    // Bytes that are not a valid request target are refused by the HTTP layer.
    let r = rawhttp::request(&shop.base, "GET", b"/product/\xff\xfe", &[], b"").await?;
    ensure!((400..500).contains(&r.status), "a non-UTF-8 path: {}", r.status);
    let r = rawhttp::request(&shop.base, "GET", b"/?q=%ff%fe", &[], b"").await?;
    assert_eq!(r.status, 400, "a query that is not UTF-8");

    // Header injection: text that would make a header, wherever a value may be reflected.
    let injected: [&[u8]; 4] = [
        b"/?q=%0d%0aX-Injected:%201",
        b"/product/KIT-MUG-TEAL%0d%0aX-Injected:%201",
        b"/cart?notice=added&sku=KIT-MUG-TEAL%0d%0aX-Injected:%201",
        b"/order/ORD-%0d%0aX-Injected:%201",
    ];
    for path in injected {
        let r = rawhttp::request(&shop.base, "GET", path, &[("X-Request-Id", b"abc%0d%0aX-Injected:%201")], b"").await?;
        let what = String::from_utf8_lossy(path).into_owned();
        ensure!(r.status < 500, "{what}: {}", r.status);
        ensure!(r.header("x-injected").is_none(), "{what}: a header was injected");
    }
    let r = rawhttp::request(
        &shop.base,
        "POST",
        b"/cart/add",
        &form_headers,
        format!("csrf={csrf}&sku=KIT-MUG-TEAL%0d%0aX-Injected:%201&quantity=1").as_bytes(),
    )
    .await?;
    ensure!(r.status < 500 && r.header("x-injected").is_none(), "form sku with CR/LF: {}", r.status);
    if let Some(location) = r.header("location") {
        ensure!(!location.contains("Injected"), "the location repeats the injected text: {location}");
    }
    // A request id that is not plain printable ASCII is not echoed.
    let r = rawhttp::request(&shop.base, "GET", b"/", &[("X-Request-Id", b"a b\tc")], b"").await?;
    ensure!(r.header("x-request-id").is_some_and(|id| id != "a b\tc"), "an unsafe request id was echoed");

    let diff = before.diff(&snapshot(&shop).await?);
    ensure!(diff.is_empty(), "raw requests changed the stores:\n{diff}");
    Ok(())
}
