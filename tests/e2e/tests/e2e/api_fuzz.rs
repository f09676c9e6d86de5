//! A property-based run against the public JSON surface, driven by `docs/openapi.yaml`: for
//! each public operation (products' `/api/catalog/*` and the operator API `/admin/*`), requests
//! are generated from the documented request schema — mostly well-typed values drawn from
//! interesting pools (real SKUs, limits and one past them, empty, long, markup, SQL, control
//! characters), some with a field dropped, an unknown field added or a type changed — and sent
//! over HTTP. Every answer must be documented: never a 5xx, a status the operation lists, and a
//! body that validates against that status's schema. Afterwards the shop still renders.
//!
//! Bounded (`SHOP_FUZZ_REQUESTS`, default 3000 requests, at most 60 s); the seed is printed and
//! can be replayed with `SHOP_FUZZ_SEED`. This is the Rust equivalent of a schemathesis run.
use crate::support;

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use serde_json::{json, Map, Value};
use shop_e2e::Shop;
use support::{operation, request_schema, resolve, response_schema, validate, Rng};

const STRINGS: &[&str] = &[
    "KIT-MUG-TEAL", "APP-TEE-TEAL", "kit-mug-teal", "NOPE-123", "FUZZ-ITEM-1", "kitchen", "office", "tech", "apparel", "home",
    "USD", "EUR", "JPY", "KWD", "CHF", "XXX", "usd", "0.9215", "151.25", "0", "-1", "1e3", "0.0000001", "sticker-rose", "mug-teal", "lamp-sky", "nope-nope", "mug", "", " ", "a",
    "<script>alert(1)</script>", "'; DROP TABLE products; --", "%", "_", "\\", "\u{0}", "tab\tnew\nline", "\u{7f}",
    "ünïcødé ✓", "\u{202e}rtl", "../../etc/passwd", "Stoneware Coffee Mug",
];

fn random_string(rng: &mut Rng, schema: &Value) -> Value {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if rng.chance(85) {
            return rng.pick(values).clone();
        }
    }
    let s = match rng.below(10) {
        0 => "x".repeat(rng.pick(&[99, 100, 101, 2000, 2001, 5000]).to_owned()),
        1 => (0..rng.below(20)).map(|_| char::from(32 + rng.below(95) as u8)).collect(),
        _ => rng.pick(STRINGS).to_string(),
    };
    json!(s)
}

fn random_integer(rng: &mut Rng) -> Value {
    let pool: [i64; 14] = [0, 1, 2, 3, 12, 47, 48, 49, 99, 100, 500, 10_000, 10_001, 4_294_967_295];
    match rng.below(20) {
        0 => json!(-1),
        1 => json!(4_294_967_296u64),
        2 => json!(99_999_999),
        3 => json!(100_000_000),
        _ => json!(*rng.pick(&pool)),
    }
}

fn wrong_type(rng: &mut Rng) -> Value {
    rng.pick(&[json!(null), json!(true), json!(1.5), json!("7"), json!([]), json!({}), json!(-5)]).clone()
}

/// A value for `schema`: well-typed with high probability, sometimes broken.
fn generate(doc: &Value, schema: &Value, rng: &mut Rng, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if rng.chance(3) {
        return wrong_type(rng);
    }
    if schema["nullable"] == true && rng.chance(30) {
        return Value::Null;
    }
    match schema["type"].as_str() {
        Some("object") => {
            let required: Vec<&str> = schema["required"].as_array().map_or(vec![], |r| r.iter().filter_map(Value::as_str).collect());
            let mut out = Map::new();
            for (k, p) in schema["properties"].as_object().into_iter().flatten() {
                let keep = if required.contains(&k.as_str()) { rng.chance(96) } else { rng.chance(60) };
                if keep {
                    out.insert(k.clone(), generate(doc, p, rng, depth + 1));
                }
            }
            if rng.chance(4) {
                out.insert("unexpected".into(), json!(1));
            }
            Value::Object(out)
        }
        Some("array") => {
            let max = schema["maxItems"].as_u64().unwrap_or(5) as usize;
            let len = if rng.chance(5) { max + 1 } else { rng.below(4) };
            Value::Array((0..len).map(|_| generate(doc, &schema["items"], rng, depth + 1)).collect())
        }
        Some("string") => random_string(rng, schema),
        Some("integer") => random_integer(rng),
        Some("boolean") => json!(rng.chance(50)),
        _ => json!(null),
    }
}

/// A valid request for a target (varied), which the run then mutates a little.
fn valid_template(path: &str, rng: &mut Rng, n: usize) -> Value {
    let categories = ["apparel", "kitchen", "office", "home", "tech"];
    let kinds = ["mug", "tshirt", "lamp", "sticker", "notebook"];
    let colors = ["teal", "coral", "rose", "sky"];
    let product = |rng: &mut Rng, sku: String| {
        json!({
            "sku": sku,
            "name": rng.pick(&["Fuzzed thing", "<b>Bold</b> & \"quoted\"", "Ünïcødé lamp", "x"]).to_string(),
            "description": rng.pick(&["", "Plain.", "'; DROP TABLE products; --", "<script>alert(1)</script>"]).to_string(),
            "price": {"minor": 1 + (rng.next() % 99_999_999) as i64, "currency": rng.pick(&["USD", "EUR", "GBP", "JPY"]).to_string()},
            "category": rng.pick(&categories).to_string(),
            "image": format!("{}-{}", rng.pick(&kinds), rng.pick(&colors)),
        })
    };
    match path {
        "/api/catalog/list_products" => json!({
            "category": if rng.chance(50) { json!(rng.pick(&categories)) } else { json!(null) },
            "query": if rng.chance(50) { json!(rng.pick(&["mug", "a", "%", "_", "lamp"])) } else { json!(null) },
            "page": 1 + rng.below(3), "page_size": 1 + rng.below(48),
            "currency": currency(rng),
        }),
        "/api/catalog/get_product" => json!({
            "sku": rng.pick(&["KIT-MUG-TEAL", "kit-mug-teal", "APP-TEE-TEAL", "HOM-LAMP-AMBER"]),
            "currency": currency(rng),
            "recommendations": rng.below(14),
        }),
        "/api/catalog/get_products" => json!({
            "skus": ["KIT-MUG-TEAL", "APP-TEE-TEAL", "NOPE-123"],
            "currency": currency(rng),
            "recommendations": rng.below(14),
        }),
        "/admin/rates" => {
            let mut rates = Map::new();
            for _ in 0..=rng.below(3) {
                let code = rng.pick(&["EUR", "JPY", "KWD", "CHF", "GBP", "CAD", "USD", "XXX", "eur"]).to_string();
                let rate = rng.pick(&["0.9215", "151.25", "0.3075", "1", "0", "0.0000001", "1000001", "abc", ""]).to_string();
                rates.insert(code, if rng.chance(10) { json!(0.92) } else { json!(rate) });
            }
            let valid_from = rng.pick(&["2026-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "yesterday", ""]).to_string();
            json!({"valid_from": if rng.chance(50) { json!(valid_from) } else { json!(null) }, "rates": rates})
        }
        "/admin/stock/{sku}" => json!({"sku": rng.pick(&["KIT-MUG-TEAL", "APP-TEE-TEAL", "NOPE-1"]), "stock": rng.pick(&[0, 1, 5, 1000, 4_294_967_295_u32])}),
        "/admin/products" => product(rng, format!("FUZZ-{n}")),
        "/admin/products/{sku}" => {
            let sku = rng.pick(&["KIT-MUG-TEAL", "APP-TEE-TEAL"]).to_string();
            product(rng, sku)
        }
        _ => json!({}),
    }
}

/// A request body: `generated_percent` of the time one generated from the schema, otherwise
/// `valid` with up to `max_mutations - 1` of its leaves replaced.
fn fuzzed(doc: &Value, operation: &Value, valid: Value, generated_percent: u64, max_mutations: usize, rng: &mut Rng) -> Value {
    if rng.chance(generated_percent) {
        return generate(doc, request_schema(doc, operation), rng, 0);
    }
    let mut body = valid;
    for _ in 0..rng.below(max_mutations) {
        mutate_leaf(doc, request_schema(doc, operation), &mut body, rng);
    }
    body
}

/// How many answers of each status each operation gave, for the log of a run.
fn print_statuses(sent: usize, statuses: &std::collections::BTreeMap<(String, u16), usize>) {
    println!("{sent} requests; answers by operation and status:");
    for ((op, status), n) in statuses {
        println!("  {op} {status}: {n}");
    }
}

/// An answer as documented: never a 5xx, a status the operation lists, a body of its schema.
fn check_answer(doc: &Value, operation: &Value, what: &str, status: u16, text: &str) -> Result<()> {
    ensure!(status < 500, "{what}: answered {status}: {text}");
    let schema = response_schema(doc, operation, status);
    let Some(schema) = schema else {
        anyhow::bail!("{what}: answered {status}, which the operation does not document: {text}");
    };
    let answer: Value = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{what}: answer is not JSON ({e}): {text}"))?;
    if let Err(e) = validate(doc, schema, &answer, "$") {
        anyhow::bail!("{what}: answered {status} with a body that does not match the document: {e}\n{text}");
    }
    Ok(())
}

/// A display currency for a catalog read: mostly supported ones, sometimes none or nonsense.
fn currency(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!(null),
        1 => json!(rng.pick(&["XXX", "", "usd", "€"])),
        _ => json!(rng.pick(&["USD", "EUR", "GBP", "JPY", "CAD", "CHF", "KWD"])),
    }
}

/// Replaces one leaf of `value` (chosen at random) with a generated value of its schema.
fn mutate_leaf(doc: &Value, schema: &Value, value: &mut Value, rng: &mut Rng) {
    let schema = resolve(doc, schema);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            let prop = schema["properties"].get(&key).cloned().unwrap_or(json!({"type": "string"}));
            if rng.chance(50) {
                mutate_leaf(doc, &prop, map.get_mut(&key).unwrap(), rng);
            } else {
                map.insert(key, generate(doc, &prop, rng, 1));
            }
        }
        other => *other = generate(doc, schema, rng, 1),
    }
}

struct Target {
    method: reqwest::Method,
    path: &'static str,
    operator: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_json_api_answers_only_as_documented() -> Result<()> {
    let doc = support::load();
    let shop = Shop::start().await?;
    // A fresh connection per request: the server closes a connection after refusing a body it
    // did not read (413), and a pooled client could race that close on its next request.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let mut rng = Rng::from_env("api_fuzz");
    let budget: usize = std::env::var("SHOP_FUZZ_REQUESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(3000);
    let deadline = Instant::now() + Duration::from_secs(60);
    let targets = [
        Target { method: reqwest::Method::POST, path: "/api/catalog/list_categories", operator: false },
        Target { method: reqwest::Method::POST, path: "/api/catalog/list_products", operator: false },
        Target { method: reqwest::Method::POST, path: "/api/catalog/get_product", operator: false },
        Target { method: reqwest::Method::POST, path: "/api/catalog/get_products", operator: false },
        Target { method: reqwest::Method::POST, path: "/admin/migrate", operator: true },
        Target { method: reqwest::Method::POST, path: "/admin/reconcile", operator: true },
        Target { method: reqwest::Method::POST, path: "/admin/products", operator: true },
        Target { method: reqwest::Method::PUT, path: "/admin/products/{sku}", operator: true },
        Target { method: reqwest::Method::POST, path: "/api/catalog/get_rates", operator: false },
        Target { method: reqwest::Method::PUT, path: "/admin/rates", operator: true },
        Target { method: reqwest::Method::PUT, path: "/admin/stock/{sku}", operator: true },
    ];
    let mut statuses = std::collections::BTreeMap::<(String, u16), usize>::new();
    let mut sent = 0;
    while sent < budget && Instant::now() < deadline {
        let t = &targets[sent % targets.len()];
        sent += 1;
        let op = operation(&doc, t.path, &t.method.as_str().to_ascii_lowercase()).expect("documented");
        let valid = valid_template(t.path, &mut rng, sent);
        let body = fuzzed(&doc, op, valid, 50, 3, &mut rng);
        let url_path = if t.path.contains("{sku}") {
            let from_body = body.get("sku").and_then(Value::as_str).unwrap_or("X").to_string();
            let sku = if rng.chance(85) { from_body } else { rng.pick(&["KIT-MUG-TEAL", "NOPE-1", "a_b", "x"]).to_string() };
            // Only characters a URL client sends as they are (no normalisation of `..` or `%`).
            let sku: String = sku.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            t.path.replace("{sku}", if sku.is_empty() { "X" } else { &sku })
        } else {
            t.path.to_string()
        };
        let mut req = client.request(t.method.clone(), shop.url(&url_path)).header("content-type", "application/json");
        req = req.body(if rng.chance(2) { String::new() } else { body.to_string() });
        if t.operator {
            req = match rng.below(20) {
                0 => req,
                1 => req.bearer_auth("wrong-token"),
                2 => req.header("authorization", shop.operator_token.clone()),
                _ => req.bearer_auth(&shop.operator_token),
            };
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let what = format!("{} {url_path} {body}", t.method);
        check_answer(&doc, op, &what, status, &text)?;
        *statuses.entry((t.path.to_string(), status)).or_default() += 1;
    }
    print_statuses(sent, &statuses);
    ensure!(statuses.keys().any(|(_, s)| *s == 200) && statuses.keys().any(|(_, s)| *s == 400), "the run saw both successes and refusals");

    // Whatever the operator API accepted, the shop still renders every catalog page.
    let mut b = shop.browser();
    for page in 1..=5 {
        let p = b.get(&format!("/?page={page}")).await?;
        ensure!(p.status == 200, "catalogue page {page} answered {}", p.status);
    }
    for category in ["apparel", "kitchen", "office", "home", "tech"] {
        ensure!(b.get(&format!("/?category={category}")).await?.status == 200);
    }
    let all = client
        .post(shop.url("/api/catalog/list_products"))
        .json(&json!({"page": 1, "page_size": 48}))
        .send()
        .await?
        .json::<Value>()
        .await?;
    for product in all["products"].as_array().into_iter().flatten() {
        let sku = product["sku"].as_str().unwrap_or_default();
        let p = b.get(&format!("/product/{sku}")).await?;
        ensure!(p.status == 200, "/product/{sku} answered {}", p.status);
    }
    Ok(())
}

/// The same property-based run against the accounts service's internal operations (called as
/// the frontend calls them, with the internal token): requests generated from the documented
/// schemas or mutated from valid ones (a live session's token, taken and fresh emails, good,
/// weak and hostile passwords). Every answer is documented and never a 5xx. Bounded
/// (`SHOP_FUZZ_REQUESTS` / 4, at most 40 s): a successful sign-up or sign-in hashes a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_api_answers_only_as_documented() -> Result<()> {
    let doc = support::load();
    let shop = Shop::start().await?;
    let mut rng = Rng::from_env("api_fuzz accounts");
    let budget: usize = std::env::var("SHOP_FUZZ_REQUESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(3000) / 4;
    let deadline = Instant::now() + Duration::from_secs(40);
    let call = |path: String, body: Vec<u8>| {
        let shop = &shop;
        async move { shop.call_internal("accounts", "POST", &path, &[("content-type", "application/json")], body).await }
    };
    let password = "correct horse battery staple";
    let signed_up = call("/api/accounts/sign_up".into(), json!({"email": "fuzz@example.com", "password": password, "client": "127.0.0.1"}).to_string().into_bytes()).await?;
    ensure!(signed_up.status() == 200, "sign_up: {}", String::from_utf8_lossy(signed_up.body()));
    let token = serde_json::from_slice::<Value>(signed_up.body())?["token"].as_str().unwrap_or_default().to_string();
    let ops = ["sign_up", "sign_in", "get_session", "sign_out", "change_password", "list_addresses", "save_address", "delete_address", "migrate"];
    let emails = ["fuzz@example.com", "FUZZ@example.com", "other@example.com", "nobody@example.com", "x@y.zz", "not-an-email", ""];
    let passwords = [password, "another good passphrase", "password1234", "short", "", "correct horse\u{0}battery", "ünïcødé passphrase ✓"];
    let clients = ["127.0.0.1", "::1", "10.0.0.1:5000", "", "nowhere"];
    let address = json!({"name": "Ada Lovelace", "street": "1 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"});
    let mut statuses = std::collections::BTreeMap::<(String, u16), usize>::new();
    let mut sent = 0;
    while sent < budget && Instant::now() < deadline {
        let op = ops[sent % ops.len()];
        sent += 1;
        let path = format!("/api/accounts/{op}");
        let operation = operation(&doc, &path, "post").expect("documented");
        let t = if rng.chance(70) { token.clone() } else { rng.pick(&["", "00112233445566778899aabbccddeeff", "x"]).to_string() };
        let valid = match op {
            "sign_up" | "sign_in" => {
                let email = if rng.chance(30) { format!("new{sent}@example.com") } else { rng.pick(&emails).to_string() };
                json!({"email": email, "password": rng.pick(&passwords).to_string(), "client": rng.pick(&clients).to_string()})
            }
            "change_password" => {
                json!({"token": t, "current_password": rng.pick(&passwords).to_string(), "new_password": rng.pick(&passwords).to_string(), "client": rng.pick(&clients).to_string()})
            }
            "save_address" => json!({"token": t, "address": address}),
            "delete_address" => json!({"token": t, "address_id": rng.pick(&["00112233445566778899aabbccddeeff", "x", ""]).to_string()}),
            "migrate" => json!({}),
            // Never the live session's token: the other operations use it.
            "sign_out" => json!({"token": rng.pick(&["00112233445566778899aabbccddeeff", "", "x"]).to_string()}),
            _ => json!({"token": t}),
        };
        let body = fuzzed(&doc, operation, valid, 30, 2, &mut rng);
        let resp = call(path.clone(), body.to_string().into_bytes()).await?;
        let status = resp.status().as_u16();
        let text = String::from_utf8_lossy(resp.body()).into_owned();
        let what = format!("{path} {body}");
        check_answer(&doc, operation, &what, status, &text)?;
        *statuses.entry((op.to_string(), status)).or_default() += 1;
    }
    print_statuses(sent, &statuses);
    ensure!(statuses.keys().any(|(_, s)| *s == 200) && statuses.keys().any(|(_, s)| *s == 400), "the run saw both successes and refusals");
    Ok(())
}

/// The same run against products' stock reservations (`/api/inventory/*`, called as checkout
/// calls them): reserves and releases of a small pool of order ids over three SKUs whose stock
/// the operator set, valid and mutated. Besides "only documented answers, never a 5xx", the
/// stock must add up afterwards: for each SKU, what is left plus what orders still hold is what
/// the operator set, and nothing went below zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_api_answers_only_as_documented_and_stock_adds_up() -> Result<()> {
    const SKUS: [&str; 3] = ["KIT-MUG-TEAL", "APP-TEE-TEAL", "OFF-STICKER-LIME"];
    const SET: u32 = 40;
    let doc = support::load();
    let shop = Shop::start().await?;
    let mut rng = Rng::from_env("api_fuzz inventory");
    let budget: usize = std::env::var("SHOP_FUZZ_REQUESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(3000) / 3;
    let deadline = Instant::now() + Duration::from_secs(40);
    let client = reqwest::Client::new();
    for sku in SKUS {
        let resp = client.put(shop.url(&format!("/admin/stock/{sku}"))).bearer_auth(&shop.operator_token).json(&json!({"stock": SET})).send().await?;
        ensure!(resp.status() == 200, "set stock of {sku}: {}", resp.text().await?);
    }
    let orders: Vec<String> = (0..12).map(|i| format!("ORD-FAZE{i:08}")).collect();
    let mut statuses = std::collections::BTreeMap::<(String, u16), usize>::new();
    let mut sent = 0;
    while sent < budget && Instant::now() < deadline {
        let op = if rng.chance(60) { "reserve" } else { "release" };
        sent += 1;
        let path = format!("/api/inventory/{op}");
        let operation = operation(&doc, &path, "post").expect("documented");
        let order_id = if rng.chance(90) { rng.pick(&orders).clone() } else { rng.pick(&["", "x", "ORD-", "ORD-0000000000000"]).to_string() };
        let valid = match op {
            "reserve" => {
                let mut lines = Vec::new();
                for sku in SKUS {
                    if rng.chance(60) {
                        lines.push(json!({"sku": sku, "quantity": 1 + rng.below(12)}));
                    }
                }
                json!({"order_id": order_id, "lines": lines})
            }
            _ => json!({"order_id": order_id}),
        };
        let body = fuzzed(&doc, operation, valid, 25, 2, &mut rng);
        let resp = shop.call_internal("products", "POST", &path, &[("content-type", "application/json")], body.to_string().into_bytes()).await?;
        let status = resp.status().as_u16();
        let text = String::from_utf8_lossy(resp.body()).into_owned();
        let what = format!("{path} {body}");
        check_answer(&doc, operation, &what, status, &text)?;
        *statuses.entry((op.to_string(), status)).or_default() += 1;
    }
    print_statuses(sent, &statuses);
    for (op, code) in [("reserve", 200), ("reserve", 409), ("reserve", 400), ("release", 200)] {
        ensure!(statuses.contains_key(&(op.to_string(), code)), "the run never saw {op} answer {code}");
    }
    let db = shop.db().await?;
    for sku in SKUS {
        let row = db
            .query_one(
                "SELECT p.stock::bigint, COALESCE((SELECT sum(quantity) FROM stock_reservations r WHERE r.sku = p.sku AND NOT r.released), 0)::bigint \
                 FROM products p WHERE p.sku = $1",
                &[&sku],
            )
            .await?;
        let (left, held): (i64, i64) = (row.get(0), row.get(1));
        ensure!(left >= 0 && held >= 0, "{sku}: {left} left, {held} held");
        ensure!(left + held == i64::from(SET), "{sku}: {left} left + {held} held by orders ≠ the {SET} the operator set");
    }
    Ok(())
}
