//! Hardening: CSRF on every POST, cookie flags, security headers on every kind of answer, the
//! operator API's token, the internal operations' token, no secrets in the repository.
//!
//! runtime-local's own limits are tested in `runtime-local/tests/integration/serving.rs`: `memory_limit`
//! (per-instance memory: a guest allocating past it fails its request), `execution_deadline`
//! (a guest past its deadline is stopped) and `request_body_limit` (413 before the guest runs).
//! Against the shop: the 1 MiB runtime body limit and the shop's own 256 KiB / 16 KiB limits are
//! in `bad_input.rs`; the execution deadline bounding a hung dependency is below.
use std::collections::HashMap;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use runtime_local::Limits;
use shop_e2e::rawhttp::{self, RawResponse};
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, GOOD_CARD, MUG, SHOPPER_WAIT_BOUND};
use shop_e2e::stores::snapshot;
use shop_e2e::upstream::{FaultyService, Mode};
use shop_e2e::{Shop, ShopOptions};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", "default-src 'self'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
];

fn assert_secured(what: &str, r: &RawResponse) -> Result<()> {
    for (name, starts) in SECURITY_HEADERS {
        let v = r.header(name).with_context(|| format!("{what} ({}): no {name} header", r.status))?;
        ensure!(v.starts_with(starts), "{what}: {name}: {v}");
    }
    ensure!(!r.headers.iter().any(|(k, _)| k == "server" || k == "x-powered-by"), "{what}: names its software");
    Ok(())
}

/// The `sid` and `csrf` cookies of a fresh visit.
async fn fresh_cookies(base: &str) -> Result<(String, String, Vec<String>)> {
    let r = rawhttp::request(base, "GET", b"/", &[], b"").await?;
    let set: Vec<String> = r.headers_named("set-cookie").map(str::to_string).collect();
    let value = |name: &str| {
        set.iter().find_map(|c| c.strip_prefix(&format!("{name}=")).map(|v| v.split(';').next().unwrap_or_default().to_string()))
    };
    Ok((value("sid").context("sid")?, value("csrf").context("csrf")?, set))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_the_sessions_csrf_token() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let sid = b.session().context("sid")?;
    let cart = b.get("/cart").await?;
    let csrf = shop_e2e::html::input_value(&cart.body, "csrf").context("csrf")?;
    let (_, other_csrf, _) = fresh_cookies(&shop.base).await?;
    let before = snapshot(&shop).await?;

    let checkout: Vec<(&str, &str)> = checkout_fields(GOOD_CARD, &attempt);
    let checkout_body: String = checkout.iter().map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('@', "%40"))).collect::<Vec<_>>().join("&");
    let forms: [(&str, String); 4] = [
        ("/cart/add", format!("sku={MUG}&quantity=1")),
        ("/cart/update", format!("sku={MUG}&quantity=5")),
        ("/cart/remove", format!("sku={MUG}")),
        ("/checkout", checkout_body),
    ];
    let cookie = format!("sid={sid}; csrf={csrf}");
    for (path, fields) in &forms {
        // (what, cookie header, token field, extra headers)
        let cases: Vec<(&str, String, Option<&str>, Vec<(&str, &[u8])>)> = vec![
            ("no token", cookie.clone(), None, vec![]),
            ("empty token", cookie.clone(), Some(""), vec![]),
            ("wrong token", cookie.clone(), Some("0123456789abcdef0123456789abcdef"), vec![]),
            ("another session's token", cookie.clone(), Some(other_csrf.as_str()), vec![]),
            ("token without the cookie", format!("sid={sid}"), Some(csrf.as_str()), vec![]),
            ("cross-site fetch", cookie.clone(), Some(csrf.as_str()), vec![("Sec-Fetch-Site", b"cross-site")]),
            ("foreign origin", cookie.clone(), Some(csrf.as_str()), vec![("Origin", b"https://evil.example")]),
            ("null origin", cookie.clone(), Some(csrf.as_str()), vec![("Origin", b"null")]),
        ];
        for (what, cookie, token, extra) in cases {
            let body = match token {
                Some(t) => format!("csrf={t}&{fields}"),
                None => fields.clone(),
            };
            let mut headers: Vec<(&str, &[u8])> = vec![("Content-Type", b"application/x-www-form-urlencoded"), ("Cookie", cookie.as_bytes())];
            headers.extend(extra);
            let r = rawhttp::request(&shop.base, "POST", path.as_bytes(), &headers, body.as_bytes()).await?;
            ensure!(r.status == 403, "POST {path} with {what}: expected 403, got {}", r.status);
            ensure!(r.text().contains("This form has expired"), "POST {path} with {what}: no explanation");
            assert_secured(&format!("403 {path}"), &r)?;
        }
    }
    let diff = before.diff(&snapshot(&shop).await?);
    ensure!(diff.is_empty(), "refused posts changed the stores:\n{diff}");
    // With the token, the same form works (the refusals were about the token).
    let ok = rawhttp::request(
        &shop.base,
        "POST",
        b"/cart/update",
        &[("Content-Type", b"application/x-www-form-urlencoded"), ("Cookie", cookie.as_bytes()), ("Origin", shop.base.as_bytes())],
        format!("csrf={csrf}&sku={MUG}&quantity=5").as_bytes(),
    )
    .await?;
    ensure!(ok.status == 303, "the genuine form: {}", ok.status);
    // Every page route refuses POST (without a token: 403 first; static files: 405).
    for path in ["/", "/cart", "/orders", "/product/KIT-MUG-TEAL", "/static/shop.css"] {
        let r = rawhttp::request(&shop.base, "POST", path.as_bytes(), &[("Cookie", cookie.as_bytes())], b"").await?;
        ensure!(r.status == 403 || r.status == 405, "POST {path}: {}", r.status);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_httponly_samesite_lax_and_secure_when_configured() -> Result<()> {
    for secure in [false, true] {
        let overrides: HashMap<String, String> = [("secure_cookies".to_string(), secure.to_string())].into_iter().collect();
        let shop = Shop::start_with(overrides).await?;
        let (sid, csrf, set) = fresh_cookies(&shop.base).await?;
        ensure!(set.len() == 2, "secure={secure}: {set:?}");
        ensure!(sid.len() == 32 && csrf.len() == 32 && sid != csrf, "secure={secure}: 128-bit tokens");
        for c in &set {
            let attrs: Vec<&str> = c.split(';').map(str::trim).collect();
            for needed in ["HttpOnly", "SameSite=Lax", "Path=/"] {
                ensure!(attrs.contains(&needed), "secure={secure}: {c} lacks {needed}");
            }
            ensure!(attrs.contains(&"Secure") == secure, "secure={secure}: {c}");
        }
        // A forged or malformed session id is replaced, never adopted.
        for forged in ["../../etc", "0123456789ABCDEF0123456789ABCDEF", "x; Domain=evil.example"] {
            let cookie = format!("sid={forged}");
            let r = rawhttp::request(&shop.base, "GET", b"/", &[("Cookie", cookie.as_bytes())], b"").await?;
            let new_sid = r.headers_named("set-cookie").find(|c| c.starts_with("sid=")).context("a new sid")?;
            ensure!(!new_sid.contains(forged), "secure={secure}: the forged id {forged} was adopted");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_kind_of_answer() -> Result<()> {
    // carts behind a stand-in, so the 503 page can be had on demand.
    let carts = FaultyService::start("carts").await?;
    let hook = carts.attacher();
    let shop = Shop::start_with_options(ShopOptions {
        overrides: [carts.variable()].into_iter().collect(),
        on_load: Some(std::sync::Arc::new(hook)),
        ..ShopOptions::default()
    })
    .await?;
    let (sid, csrf, _) = fresh_cookies(&shop.base).await?;
    let cookie = format!("sid={sid}; csrf={csrf}");
    let form: Vec<(&str, &[u8])> = vec![("Content-Type", b"application/x-www-form-urlencoded"), ("Cookie", cookie.as_bytes())];
    let css = rawhttp::request(&shop.base, "GET", b"/static/shop.css", &[], b"").await?;
    let etag = css.header("etag").context("an etag")?.to_string();
    let answers: Vec<(&str, RawResponse, u16)> = vec![
        ("page", rawhttp::request(&shop.base, "GET", b"/", &[], b"").await?, 200),
        ("HEAD page", rawhttp::request(&shop.base, "HEAD", b"/cart", &[("Cookie", cookie.as_bytes())], b"").await?, 200),
        ("redirect", rawhttp::request(&shop.base, "POST", b"/cart/add", &form, format!("csrf={csrf}&sku={MUG}&quantity=1").as_bytes()).await?, 303),
        ("static", css, 200),
        ("static 304", rawhttp::request(&shop.base, "GET", b"/static/shop.css", &[("If-None-Match", etag.as_bytes())], b"").await?, 304),
        ("svg", rawhttp::request(&shop.base, "GET", b"/static/img/mug-teal.svg", &[], b"").await?, 200),
        ("404 page", rawhttp::request(&shop.base, "GET", b"/nope", &[], b"").await?, 404),
        ("404 static", rawhttp::request(&shop.base, "GET", b"/static/nope.css", &[], b"").await?, 404),
        ("405", rawhttp::request(&shop.base, "DELETE", b"/cart", &[], b"").await?, 405),
        ("400", rawhttp::request(&shop.base, "GET", b"/?q=%zz", &[], b"").await?, 400),
        ("403", rawhttp::request(&shop.base, "POST", b"/cart/add", &form, b"sku=x").await?, 403),
        ("413", rawhttp::request(&shop.base, "POST", b"/cart/add", &form, &vec![b'a'; 20_000]).await?, 413),
        ("operator 401", rawhttp::request(&shop.base, "POST", b"/admin/migrate", &[], b"").await?, 401),
    ];
    for (what, r, status) in &answers {
        ensure!(r.status == *status, "{what}: expected {status}, got {}", r.status);
        assert_secured(what, r)?;
        if r.header("content-type").is_some_and(|c| c.starts_with("text/html")) || *status == 303 {
            ensure!(r.header("cache-control") == Some("no-store"), "{what}: pages are not cached: {:?}", r.header("cache-control"));
        }
    }
    carts.set("*", Mode::Fail(503));
    let down = rawhttp::request(&shop.base, "GET", b"/cart", &[("Cookie", cookie.as_bytes())], b"").await?;
    ensure!(down.status == 503 && down.header("retry-after").is_some(), "503 page: {}", down.status);
    assert_secured("503 page", &down)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_api_without_the_right_token_is_401_and_changes_nothing() -> Result<()> {
    let shop = Shop::start().await?;
    // Drop the migrations' record so that a wrongly accepted migrate would show in the snapshot.
    shop.db().await?.batch_execute("DELETE FROM schema_migrations WHERE service = 'checkout'").await?;
    let before = snapshot(&shop).await?;
    let token = shop.operator_token.clone();
    let product = serde_json::json!({"sku": "NEW-THING-1", "name": "A thing", "description": "", "price": {"minor": 500, "currency": "USD"}, "category": "office", "image": "sticker-rose"});
    let mut update = product.clone();
    update["sku"] = serde_json::json!(MUG);
    let auths: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some("Bearer wrong".into()),
        Some(format!("Bearer {token}x")),
        Some(format!("Bearer {}", &token[..token.len() - 1])),
        Some(format!("bearer {token}")),
        Some(format!("Basic {token}")),
        Some(token.clone()),
        Some(format!("Bearer  {token}")),
        Some(format!("Bearer {}", token.to_uppercase())),
    ];
    let client = reqwest::Client::new();
    for auth in &auths {
        for (method, path, body) in [
            (reqwest::Method::POST, "/admin/migrate".to_string(), serde_json::json!({})),
            (reqwest::Method::POST, "/admin/reconcile".to_string(), serde_json::json!({"grace_seconds": 0})),
            (reqwest::Method::POST, "/admin/products".to_string(), product.clone()),
            (reqwest::Method::PUT, format!("/admin/products/{MUG}"), update.clone()),
        ] {
            let mut req = client.request(method.clone(), shop.url(&path)).json(&body);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await?;
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            ensure!(status == 401 && body["error"]["code"] == "unauthorized", "{method} {path} with {auth:?}: {status} {body}");
        }
        // The private operator operations check the token themselves (chaining bypasses the frontend).
        for (component, path, body) in [
            ("products", "/api/catalog_admin/migrate", "{}".to_string()),
            ("checkout", "/api/checkout/migrate", "{}".to_string()),
            ("checkout", "/api/checkout/reconcile", r#"{"grace_seconds":0,"alert_seconds":3600,"limit":10}"#.to_string()),
            ("products", "/api/catalog_admin/create_product", product.to_string()),
            ("products", "/api/catalog_admin/update_product", update.to_string()),
        ] {
            let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
            let r = shop.call_internal(component, "POST", path, &headers, body).await?;
            ensure!(r.status() == 401, "{path} with {auth:?}: {}", r.status());
        }
    }
    let diff = before.diff(&snapshot(&shop).await?);
    ensure!(diff.is_empty(), "refused operator calls changed the stores:\n{diff}");
    let ok = client.post(shop.url("/admin/migrate")).bearer_auth(&token).send().await?;
    ensure!(ok.status() == 200, "the right token works: {}", ok.status());
    Ok(())
}

/// With runtime-local's default limits (execution deadline and outbound timeout both 30 s), a
/// dependency that never answers still gives the shopper a 503 page, from the services' own call
/// timeouts (`shop_spin::rpc::CALL_TIMEOUT`, 10 s), before the deadline ends the request with an
/// empty 500.
/// The internal operations have routable routes (a split deployment reaches them over the
/// network), so the token is what keeps strangers out: every one of them, whatever the method,
/// answers 401 without it or with a wrong one and changes nothing; with it, it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_operations_over_the_network_need_the_internal_token() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 2).await?;
    let session = b.session().context("sid")?;
    let before = snapshot(&shop).await?;
    let client = reqwest::Client::new();
    let internal: Vec<&str> =
        shop_contract::all_operation_paths().into_iter().filter(|p| !shop_contract::is_public_path(p)).collect();
    ensure!(internal.len() >= 15, "the internal operations: {internal:?}");
    let body = serde_json::json!({"session": session}).to_string();
    for path in internal {
        for token in [None, Some(""), Some("wrong"), Some(&shop.operator_token[..])] {
            for method in [reqwest::Method::POST, reqwest::Method::GET] {
                let mut req = client.request(method.clone(), shop.url(path)).body(body.clone());
                if let Some(t) = token {
                    req = req.header(shop_contract::INTERNAL_TOKEN_HEADER, t);
                }
                let r = req.bearer_auth(&shop.operator_token).send().await?;
                let status = r.status().as_u16();
                let answer: serde_json::Value = r.json().await.unwrap_or_default();
                ensure!(
                    status == 401 && answer["error"]["code"] == "unauthorized"
                        && answer["error"]["message"].as_str().is_some_and(|m| m.contains("internal")),
                    "{method} {path} with token {token:?}: {status} {answer}"
                );
            }
        }
    }
    let diff = before.diff(&snapshot(&shop).await?);
    ensure!(diff.is_empty(), "refused internal calls changed the stores:\n{diff}");

    // The same route answers the shop's own services, over the network too.
    let r = client
        .post(shop.url("/api/carts/get_cart"))
        .header(shop_contract::INTERNAL_TOKEN_HEADER, &shop.internal_token)
        .body(body)
        .send()
        .await?;
    ensure!(r.status() == 200, "get_cart with the token: {}", r.status());
    let cart: serde_json::Value = r.json().await?;
    ensure!(cart["lines"][0]["quantity"] == 2, "the shopper's cart: {cart}");
    // The catalog reads stay public.
    let r = client.post(shop.url("/api/catalog/list_categories")).body("{}").send().await?;
    ensure!(r.status() == 200, "list_categories without a token: {}", r.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_dependency_answers_503_before_the_execution_deadline() -> Result<()> {
    let payment = FaultyService::start("payment").await?;
    let hook = payment.attacher();
    let shop = Shop::start_with_options(ShopOptions {
        overrides: [payment.variable()].into_iter().collect(),
        on_load: Some(std::sync::Arc::new(hook)),
        limits: Some(Limits::default()),
        ..ShopOptions::default()
    })
    .await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    payment.set("/api/payment/charge", Mode::Hang);
    let started = Instant::now();
    let page = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    let took = started.elapsed();
    ensure!(page.status == 503, "a hung payment answered {} after {took:?}: {:?}", page.status, &page.body[..page.body.len().min(300)]);
    // The bound tells one timeout (the guest's own) from two served one after the other.
    let one_timeout = shop_spin::rpc::CALL_TIMEOUT;
    ensure!(one_timeout < SHOPPER_WAIT_BOUND && SHOPPER_WAIT_BOUND < 2 * one_timeout, "SHOPPER_WAIT_BOUND no longer fits CALL_TIMEOUT");
    ensure!(took < SHOPPER_WAIT_BOUND, "took {took:?}");
    Ok(())
}

/// No private key, token or password is committed.
#[test]
fn no_secrets_in_tracked_files() -> Result<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::process::Command::new("git").args(["-C", root, "ls-files", "-z"]).output()?;
    ensure!(out.status.success(), "git ls-files failed");
    let patterns: [(&str, fn(&str) -> bool); 7] = [
        // A PEM header on a line of its own (this file only names the parts, so it does not match).
        ("a private key", |t| t.lines().map(str::trim).any(|l| l.starts_with("-----BEGIN ") && l.ends_with("PRIVATE KEY-----"))),
        ("an AWS access key", |t| has_token(t, "AKIA", 16, |c| c.is_ascii_uppercase() || c.is_ascii_digit())),
        ("a GitHub token", |t| ["ghp_", "gho_", "ghs_", "github_pat_"].iter().any(|p| has_token(t, p, 30, |c| c.is_ascii_alphanumeric() || c == '_'))),
        ("a Slack token", |t| ["xoxb-", "xoxp-"].iter().any(|p| has_token(t, p, 20, |c| c.is_ascii_alphanumeric() || c == '-'))),
        ("an OpenAI-style key", |t| has_token(t, "sk-", 40, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')),
        ("a password in a URL", |t| t.lines().any(|l| url_with_password(l))),
        ("an operator token value", |t| t.lines().any(|l| {
            let l = l.trim();
            (l.starts_with("operator_token") || l.starts_with("SPIN_VARIABLE_OPERATOR_TOKEN")) && l.contains('=')
                && l.split('=').nth(1).is_some_and(|v| { let v = v.trim().trim_matches('"'); v.len() >= 16 && v.chars().all(|c| c.is_ascii_hexdigit()) })
        })),
    ];
    let mut found = Vec::new();
    for path in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        let Ok(text) = std::fs::read_to_string(format!("{root}/{path}")) else { continue };
        for (what, matches) in &patterns {
            if matches(&text) {
                found.push(format!("{path}: {what}"));
            }
        }
    }
    ensure!(found.is_empty(), "possible secrets in tracked files:\n{}", found.join("\n"));
    Ok(())
}

/// `prefix` followed by at least `len` characters of a token alphabet.
fn has_token(text: &str, prefix: &str, len: usize, ok: fn(char) -> bool) -> bool {
    text.match_indices(prefix).any(|(i, _)| text[i + prefix.len()..].chars().take_while(|c| ok(*c)).count() >= len)
}

/// `scheme://user:password@host` with a real-looking password (not a placeholder or template).
fn url_with_password(line: &str) -> bool {
    line.match_indices("://").any(|(i, _)| {
        let rest = &line[i + 3..];
        let authority = rest.split(['/', ' ', '"', '\'', '`']).next().unwrap_or_default();
        match authority.rsplit_once('@').and_then(|(userinfo, _)| userinfo.split_once(':')) {
            // Real credentials are long; short ones are test fixtures (e.g. `user:p@ss`).
            Some((_, password)) => {
                password.chars().count() >= 8
                    && !password.contains(['{', '$', '<', '*'])
                    && !["password", "pass", "secret", "changeme", "postgres"].contains(&password.to_ascii_lowercase().as_str())
            }
            None => false,
        }
    })
}
