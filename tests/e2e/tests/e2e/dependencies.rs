//! Failing dependencies: Redis down or frozen, PostgreSQL down, payment / shipping / email
//! failing or slow. The shopper gets a clear 503 page (or 503 JSON error) within a bounded time,
//! nothing half-done is left behind, and the shop recovers by itself when the dependency returns.
//!
//! Redis and PostgreSQL here are private instances started by the test (never the machine's
//! shared ones); the services are replaced by a stand-in on a loopback port that forwards to the
//! real component or fails on purpose. runtime-local's timeouts are lowered for the test.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use shop_e2e::browser::{Browser, Page};
use shop_e2e::reliability::{
    add, books, checkout_attempt, checkout_fields, failure_test_limits, placed_order_id, GOOD_CARD, MUG, SHOPPER_WAIT_BOUND, TEE,
};
use shop_e2e::stores::{PrivatePostgres, PrivateRedis};
use shop_e2e::upstream::{FaultyService, Mode};
use shop_e2e::{Shop, ShopOptions};

const BOUND: Duration = SHOPPER_WAIT_BOUND;

/// A page answered within [`BOUND`].
async fn timed(what: &str, fut: impl std::future::Future<Output = Result<Page>>) -> Result<Page> {
    let started = Instant::now();
    let page = tokio::time::timeout(BOUND * 2, fut).await.with_context(|| format!("{what}: no answer within {:?}", BOUND * 2))??;
    let took = started.elapsed();
    ensure!(took <= BOUND, "{what}: took {took:?}, more than {BOUND:?}");
    Ok(page)
}

fn assert_unavailable_page(what: &str, page: &Page) -> Result<()> {
    ensure!(page.status == 503, "{what}: expected the 503 page, got {}: {}", page.status, &page.body[..page.body.len().min(400)]);
    ensure!(page.body.contains("try again in a moment"), "{what}: the 503 page explains nothing");
    Ok(())
}

/// Polls `f` until it holds (the shop recovering by itself), for up to 60 s: recovery takes about
/// a second on an idle machine, and the bound is for a busy one, not a speed target.
async fn eventually<F, Fut>(what: &str, mut f: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let started = Instant::now();
    loop {
        if f().await.unwrap_or(false) {
            return Ok(());
        }
        ensure!(started.elapsed() < Duration::from_secs(60), "{what}: did not recover within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_or_frozen_gives_503_and_the_shop_recovers() -> Result<()> {
    let mut redis = PrivateRedis::start()?;
    let shop = Shop::start_with_options(ShopOptions {
        redis_addr: Some(redis.addr()),
        limits: Some(failure_test_limits()),
        ..ShopOptions::default()
    })
    .await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;

    for outage in ["stopped", "frozen"] {
        if outage == "stopped" { redis.stop()? } else { redis.freeze()? }
        // The catalogue does not need Redis: it still renders (without the cart count).
        let home = timed("home", b.get("/")).await?;
        ensure!(home.status == 200, "{outage}: the catalogue answered {}", home.status);
        let cart = timed("cart", b.get("/cart")).await?;
        assert_unavailable_page(&format!("{outage}: GET /cart"), &cart)?;
        let added = timed("add", b.post("/cart/add", &[("sku", TEE), ("quantity", "1")])).await?;
        assert_unavailable_page(&format!("{outage}: POST /cart/add"), &added)?;
        let placed = timed("checkout", b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt))).await?;
        assert_unavailable_page(&format!("{outage}: POST /checkout"), &placed)?;
        if outage == "stopped" { redis.restart()? } else { redis.thaw()? }
        // Nothing half-done: no order was created, nothing charged.
        let orders = books_without_redis(&shop).await?;
        ensure!(orders.is_empty(), "{outage}: orders were stored while the cart could not be read: {orders:?}");
        eventually(&format!("{outage}: cart page"), || async { Ok(b.clone_session().get("/cart").await?.status == 200) }).await?;
    }
    // Recovered: the cart works again (a restarted Redis kept nothing, so add and buy again).
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(placed.status == 303 && placed_order_id(&placed).is_some(), "after recovery: {} {}", placed.status, placed.body);
    books(&shop).await?.check_settled()?;
    Ok(())
}

/// Orders in the database (statuses), read without touching Redis.
async fn books_without_redis(shop: &Shop) -> Result<Vec<(String, String)>> {
    let rows = shop.db().await?.query("SELECT order_id, status FROM orders", &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_gives_503_and_the_shop_recovers() -> Result<()> {
    let mut pg = PrivatePostgres::start()?;
    let shop = Shop::start_with_options(ShopOptions {
        pg_addr: Some(pg.addr()),
        limits: Some(failure_test_limits()),
        ..ShopOptions::default()
    })
    .await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let client = reqwest::Client::new();

    pg.stop()?;
    let home = timed("home", b.get("/")).await?;
    assert_unavailable_page("GET /", &home)?;
    let product = timed("product", b.get(&format!("/product/{MUG}"))).await?;
    assert_unavailable_page("GET /product", &product)?;
    let added = timed("add", b.post("/cart/add", &[("sku", TEE), ("quantity", "1")])).await?;
    assert_unavailable_page("POST /cart/add", &added)?;
    let placed = timed("checkout", b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt))).await?;
    assert_unavailable_page("POST /checkout", &placed)?;
    // The public JSON API says the same, as JSON.
    for (path, body) in [("/api/catalog/list_categories", serde_json::json!({})), ("/api/catalog/get_product", serde_json::json!({"sku": MUG, "recommendations": 4}))] {
        let started = Instant::now();
        let r = client.post(shop.url(path)).json(&body).send().await?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        ensure!(started.elapsed() <= BOUND, "{path}: took {:?}", started.elapsed());
        ensure!(status == 503 && body["error"]["code"] == "unavailable", "{path} with the database down: {status} {body}");
    }
    let operator = client.post(shop.url("/admin/migrate")).bearer_auth(&shop.operator_token).send().await?;
    ensure!(operator.status() == 503, "operator migrate with the database down: {}", operator.status());
    // The cart (Redis) is untouched by the outage.
    let cart: std::collections::BTreeMap<String, u32> = redis::AsyncCommands::hgetall(
        &mut shop.redis().await?,
        format!("{}shop:cart:{}", shop.redis_prefix, b.session().unwrap()),
    )
    .await?;
    ensure!(cart.get(MUG) == Some(&1) && cart.len() == 1, "the cart changed: {cart:?}");
    ensure!(books_in_redis(&shop).await? == 0, "something was charged while the database was down");

    pg.restart()?;
    eventually("home page", || async { Ok(b.clone_session().get("/").await?.status == 200) }).await?;
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(placed.status == 303, "the same attempt after recovery: {} {}", placed.status, placed.body);
    let stored = books(&shop).await?;
    stored.check_settled()?;
    ensure!(stored.completed().len() == 1 && stored.kept_charges() == 1, "{stored:#?}");

    // Frozen rather than stopped: queries hang until the runtime's backend timeout, and the
    // answer is still a 503, not a 500.
    pg.freeze()?;
    let home = timed("home, database frozen", b.get("/")).await?;
    assert_unavailable_page("GET / with the database frozen", &home)?;
    for (path, body) in [("/api/catalog/list_categories", serde_json::json!({})), ("/api/catalog/get_product", serde_json::json!({"sku": MUG, "recommendations": 4}))] {
        let started = Instant::now();
        let r = client.post(shop.url(path)).json(&body).send().await?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        ensure!(started.elapsed() <= BOUND, "{path}: took {:?}", started.elapsed());
        ensure!(status == 503 && body["error"]["code"] == "unavailable", "{path} with the database frozen: {status} {body}");
    }
    pg.thaw()?;
    eventually("home page after the freeze", || async { Ok(b.clone_session().get("/").await?.status == 200) }).await?;
    Ok(())
}

async fn books_in_redis(shop: &Shop) -> Result<usize> {
    let keys: Vec<String> = redis::AsyncCommands::keys(&mut shop.redis().await?, format!("{}shop:txn:*", shop.redis_prefix)).await?;
    Ok(keys.len())
}

/// A shop whose payment, shipping and email are reached through stand-ins.
async fn shop_with_stand_ins() -> Result<(Shop, FaultyService, FaultyService, FaultyService)> {
    let payment = FaultyService::start("payment").await?;
    let shipping = FaultyService::start("shipping").await?;
    let email = FaultyService::start("email").await?;
    let overrides: HashMap<String, String> = [payment.variable(), shipping.variable(), email.variable()].into_iter().collect();
    let shop = Shop::start_with_options(ShopOptions { overrides, limits: Some(failure_test_limits()), ..ShopOptions::default() }).await?;
    for s in [&payment, &shipping, &email] {
        s.attach(&shop.app);
    }
    Ok((shop, payment, shipping, email))
}

async fn shopper_ready(shop: &Shop) -> Result<(Browser, String)> {
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    Ok((b, attempt))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_or_slow_services_give_503_within_bounds_and_recover() -> Result<()> {
    let (shop, payment, shipping, email) = shop_with_stand_ins().await?;
    const CHARGE: &str = "/api/payment/charge";
    const SHIP: &str = "/api/shipping/ship_order";
    const SEND: &str = "/api/email/send_confirmation";

    // Each way a service can fail, at each service that checkout needs before the order is done.
    // (A hung payment is in checkout_invariants.rs and hardening.rs; each hang costs 10 s.)
    // Shipping's price needs no call: checkout prices it with shop-domain's table, the one the
    // shipping service quotes from.
    let failures = [Mode::Fail(500), Mode::Fail(503), Mode::Reset];
    let cases = [(&payment, CHARGE), (&shipping, SHIP)]
        .into_iter()
        .flat_map(|(s, p)| failures.iter().cloned().map(move |m| (s, p, m)))
        .chain([(&shipping, SHIP, Mode::Hang)]);
    for (service, path, mode) in cases {
        {
            let mode = &mode;
            let (mut b, attempt) = shopper_ready(&shop).await?;
            service.set(path, mode.clone());
            let what = format!("{path} {mode:?}");
            let page = timed(&what, b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt))).await?;
            assert_unavailable_page(&what, &page)?;
            ensure!(page.body.contains("try again"), "{what}: no advice");
            books(&shop).await?.check_safe().with_context(|| what.clone())?;
            service.heal();
            // Recovered: the same attempt (the shopper pressing the button again) or, when the
            // order was failed and refunded, a new one, completes with exactly one kept charge.
            let again = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
            let order = if again.status == 303 {
                placed_order_id(&again)
            } else {
                let attempt = checkout_attempt(&mut b).await?;
                placed_order_id(&b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?)
            };
            ensure!(order.is_some(), "{what}: no order after the service came back");
            books(&shop).await?.check_settled().with_context(|| format!("{what}, then healed"))?;
        }
    }

    // Slow but within the timeout: the order goes through.
    let (mut b, attempt) = shopper_ready(&shop).await?;
    payment.set(CHARGE, Mode::Slow(Duration::from_millis(700)));
    shipping.set(SHIP, Mode::Slow(Duration::from_millis(700)));
    let page = timed("slow services", b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt))).await?;
    ensure!(page.status == 303, "slow services: {} {}", page.status, page.body);
    payment.heal();
    shipping.heal();

    // Email failing or hanging: the order is placed all the same (the email is not the order),
    // `email_sent` stays false, and the next submission of the attempt sends it.
    for mode in [Mode::Fail(500), Mode::Hang] {
        let (mut b, attempt) = shopper_ready(&shop).await?;
        email.set(SEND, mode.clone());
        let page = timed("email down", b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt))).await?;
        ensure!(page.status == 303, "email {mode:?}: {} {}", page.status, page.body);
        let order_id = placed_order_id(&page).unwrap();
        let stored = books(&shop).await?;
        let order = stored.orders.iter().find(|o| o.order_id == order_id).unwrap();
        ensure!(order.status == "completed" && !order.email_sent, "email {mode:?}: {order:?}");
        email.heal();
        let again = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
        ensure!(placed_order_id(&again).as_deref() == Some(order_id.as_str()), "the same order answers");
        let stored = books(&shop).await?;
        ensure!(stored.orders.iter().any(|o| o.order_id == order_id && o.email_sent), "email {mode:?}: the repeat sent it");
    }
    let stored = books(&shop).await?;
    stored.check_settled()?;
    println!("{} orders, {} completed, {} kept charges", stored.orders.len(), stored.completed().len(), stored.kept_charges());
    Ok(())
}
