//! Concurrency: many simultaneous submissions of one checkout make one order and one charge
//! (also while payment is slow, which widens every race window); and a bounded soak of shopper
//! traffic over loopback ends with the stored orders matching the successful answers exactly.
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use shop_e2e::browser::Browser;
use shop_e2e::reliability::{add, books, checkout_attempt, checkout_fields, placed_order_id, DECLINED_CARD, GOOD_CARD, MUG, TEE};
use shop_e2e::upstream::{FaultyService, Mode};
use shop_e2e::{Shop, ShopOptions};

async fn submit_together(b: &Browser, fields: &[(&str, &str)], n: usize) -> Result<Vec<shop_e2e::browser::Page>> {
    let posts = (0..n).map(|_| {
        let mut tab = b.clone_session();
        async move { tab.post("/checkout", fields).await }
    });
    futures::future::join_all(posts).await.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_submissions_of_one_checkout_make_one_order_and_one_charge() -> Result<()> {
    let payment = FaultyService::start("payment").await?;
    let shipping = FaultyService::start("shipping").await?;
    let hooks = [payment.attacher(), shipping.attacher()];
    let shop = Shop::start_with_options(ShopOptions {
        overrides: [payment.variable(), shipping.variable()].into_iter().collect::<HashMap<_, _>>(),
        on_load: Some(Arc::new(move |app: &runtime_local::App| hooks.iter().for_each(|h| h(app)))),
        ..ShopOptions::default()
    })
    .await?;
    // Fast services, then slow charge, then slow shipment: the duplicates meet at each step.
    for (round, slow) in [None, Some((&payment, "/api/payment/charge")), Some((&shipping, "/api/shipping/ship_order"))].into_iter().enumerate() {
        payment.heal();
        shipping.heal();
        if let Some((service, path)) = slow {
            service.set(path, Mode::Slow(Duration::from_millis(400)));
        }
        let mut b = shop.browser();
        add(&mut b, MUG, 1).await?;
        add(&mut b, TEE, 2).await?;
        let attempt = checkout_attempt(&mut b).await?;
        let fields = checkout_fields(GOOD_CARD, &attempt);
        let pages = submit_together(&b, &fields, 8).await?;
        let placed: BTreeSet<Option<String>> = pages.iter().map(placed_order_id).collect();
        for p in &pages {
            ensure!(p.status == 303, "round {round}: a duplicate answered {}: {}", p.status, p.body);
        }
        ensure!(placed.len() == 1, "round {round}: duplicates landed on different orders: {placed:?}");
        let stored = books(&shop).await?;
        stored.check_settled()?;
        ensure!(stored.orders.len() == round + 1, "round {round}: {} orders", stored.orders.len());
        ensure!(stored.charges.len() == round + 1 && stored.transactions.len() == round + 1, "round {round}: {stored:#?}");
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    placed: BTreeSet<String>,
    declined: usize,
    requests: usize,
    server_errors: Vec<String>,
}

/// One shopper's visit: browse, fill the cart, maybe change it, check out (one in ten with a
/// card that is declined, then with a good one).
async fn visit(shop_base: &str, n: usize, tally: &Mutex<Tally>) -> Result<()> {
    let mut b = Browser::new(shop_base);
    let note = |status: u16, what: &str| {
        let mut t = tally.lock().unwrap();
        t.requests += 1;
        if status >= 500 {
            t.server_errors.push(format!("{what} answered {status}"));
        }
    };
    let home = b.get("/").await?;
    note(home.status, "home");
    let product = b.get(&format!("/product/{MUG}")).await?;
    note(product.status, "product");
    let added = b.post("/cart/add", &[("sku", MUG), ("quantity", &(1 + n % 3).to_string())]).await?;
    note(added.status, "add");
    if n % 2 == 0 {
        let p = b.post("/cart/add", &[("sku", TEE), ("quantity", "1")]).await?;
        note(p.status, "add tee");
        let p = b.post("/cart/update", &[("sku", TEE), ("quantity", "2")]).await?;
        note(p.status, "update");
    }
    let cart = b.get("/cart").await?;
    note(cart.status, "cart");
    let form = b.get("/checkout").await?;
    note(form.status, "checkout form");
    let Some(attempt) = shop_e2e::html::input_value(&form.body, "attempt") else { return Ok(()) };
    if n % 10 == 3 {
        let declined = b.post("/checkout", &checkout_fields(DECLINED_CARD, &attempt)).await?;
        note(declined.status, "declined checkout");
        if declined.status == 402 {
            tally.lock().unwrap().declined += 1;
        }
        let retry = checkout_attempt(&mut b).await?;
        let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &retry)).await?;
        note(placed.status, "checkout after decline");
        if let Some(id) = placed_order_id(&placed) {
            tally.lock().unwrap().placed.insert(id);
        }
        return Ok(());
    }
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    note(placed.status, "checkout");
    if let Some(id) = placed_order_id(&placed) {
        tally.lock().unwrap().placed.insert(id.clone());
        let order = b.get(&format!("/order/{id}")).await?;
        note(order.status, "order page");
    }
    Ok(())
}

/// `SHOP_SOAK_SECS` (default 20) of 8 concurrent shoppers; then every successful answer is a
/// completed order, every completed order was a successful answer, one kept charge each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_of_concurrent_shoppers_ends_with_orders_matching_the_answers() -> Result<()> {
    let secs: u64 = std::env::var("SHOP_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let shoppers = 8;
    let shop = Shop::start().await?;
    // The soak is about concurrency, not stock: the seeded 1000 mugs can run out in a long or
    // fast run, and an order refused at its reservation is a failed order that no decline made.
    for sku in [MUG, TEE] {
        let r = reqwest::Client::new()
            .put(shop.url(&format!("/admin/stock/{sku}")))
            .bearer_auth(&shop.operator_token)
            .header("content-type", "application/json")
            .body(r#"{"stock": 1000000}"#)
            .send()
            .await?;
        let status = r.status();
        ensure!(status.is_success(), "setting the stock of {sku}: {status} {}", r.text().await?);
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for s in 0..shoppers {
        let (base, tally) = (shop.base.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = s;
            while Instant::now() < deadline {
                visit(&base, n, &tally).await?;
                n += shoppers;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let tally = Arc::try_unwrap(tally).ok().expect("all shoppers done").into_inner().unwrap();
    println!("{} requests, {} orders placed, {} declines", tally.requests, tally.placed.len(), tally.declined);
    ensure!(tally.server_errors.is_empty(), "server errors: {:?}", tally.server_errors);
    ensure!(tally.placed.len() >= shoppers, "too few orders to mean anything: {}", tally.placed.len());

    let stored = books(&shop).await?;
    stored.check_settled()?;
    let completed: BTreeSet<String> = stored.completed().iter().map(|o| o.order_id.clone()).collect();
    ensure!(completed == tally.placed, "stored completed orders differ from the successful answers:\n stored-only {:?}\n answered-only {:?}",
        completed.difference(&tally.placed).collect::<Vec<_>>(), tally.placed.difference(&completed).collect::<Vec<_>>());
    let failed = stored.orders.iter().filter(|o| o.status == "failed").count();
    ensure!(failed == tally.declined, "{failed} failed orders for {} declines", tally.declined);
    ensure!(stored.kept_charges() == completed.len(), "{} charges kept for {} orders", stored.kept_charges(), completed.len());
    Ok(())
}
