//! Stock and checkout together: an order holds its units from just after it is saved (products'
//! `inventory.reserve`, before the charge) until it fails (`inventory.release`); a flash sale of
//! 40 shoppers for 10 units ends with exactly 10 orders and 10 charges; and at every failure
//! point of placing an order, and after the reconciler has finished what was left, the stock
//! adds up, read straight from checkout's and products' tables:
//!
//! - for every SKU, `products.stock` + its unreleased reservations = what the operator set;
//! - the units an order holds are its lines while it is paid or completed (all or none while it
//!   is pending), and none once it failed — unless its release is still due (`stock_release_due`),
//!   which the reconciler then finishes.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use shop_e2e::reliability::{books, failure_test_limits, outbox, Books, CHARGE, GOOD_CARD, MUG, REFUND, SETTLE, SHIP, TEE};
use shop_e2e::stores::PrivatePostgres;
use shop_e2e::upstream::{FaultyService, Mode};
use shop_e2e::{Shop, ShopOptions};

const RESERVE: &str = "/api/inventory/reserve";
const RELEASE: &str = "/api/inventory/release";
const ADD: &str = "/api/carts/add_item";
const PLACE: &str = "/api/checkout/place_order";
const DECLINED: &str = "4000000000000002";
/// The seeded name of `MUG`, as products words a refusal ("Sold out: Stoneware Coffee Mug").
const MUG_NAME: &str = "Stoneware Coffee Mug";

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The operator sets a product's stock (products' `set_stock`, operator token); the stock level.
async fn set_stock(shop: &Shop, sku: &str, stock: u32) -> Result<Value> {
    let auth = format!("Bearer {}", shop.operator_token);
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let body = json!({"sku": sku, "stock": stock}).to_string();
    let r = shop.call_internal("products", "POST", "/api/catalog_admin/set_stock", &headers, body).await?;
    let (status, answer) = (r.status().as_u16(), serde_json::from_slice::<Value>(r.body()).unwrap_or_default());
    ensure!(status == 200 && answer["stock"] == stock, "set_stock {sku} {stock}: {status} {answer}");
    Ok(answer)
}

async fn fill_cart(shop: &Shop, session: &str, lines: &[(&str, u32)]) -> Result<()> {
    for (sku, quantity) in lines {
        let (status, cart) = shop.call_json("carts", ADD, json!({"session": session, "sku": sku, "quantity": quantity}).to_string()).await?;
        ensure!(status == 200, "add_item {sku}: {status} {cart}");
    }
    Ok(())
}

fn place_request(session: &str, attempt: &str, card: &str) -> Value {
    json!({
        "session": session, "attempt_id": attempt, "email": "ada@example.com",
        "address": {"name": "Ada Lovelace", "street": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
        "card": {"number": card, "expiry_month": 12, "expiry_year": 2035, "cvv": "123"},
        "currency": "USD",
    })
}

/// Checkout's `place_order`, as the frontend calls it: status and answer.
async fn place(shop: &Shop, session: &str, attempt: &str, card: &str) -> Result<(u16, Value)> {
    shop.call_json("checkout", PLACE, place_request(session, attempt, card).to_string()).await
}

/// The order an attempt left, as stored: id and status.
async fn stored_order(shop: &Shop, session: &str, attempt: &str) -> Result<Option<(String, String)>> {
    let row = shop
        .db()
        .await?
        .query_opt("SELECT order_id, status FROM orders WHERE session = $1 AND attempt_id = $2", &[&session, &attempt])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// What the stock tables say about one order: its status, whether its release is due, and per
/// line (SKU) the quantity ordered and the quantity it holds unreleased.
#[derive(Debug)]
struct OrderStock {
    order_id: String,
    status: String,
    release_due: bool,
    lines: Vec<(String, i32, i64)>,
}

async fn orders_stock(shop: &Shop) -> Result<Vec<OrderStock>> {
    let rows = shop
        .db()
        .await?
        .query(
            "SELECT o.order_id, o.status, o.stock_release_due, l.sku, l.quantity, \
                 coalesce((SELECT sum(r.quantity) FROM stock_reservations r \
                           WHERE r.order_id = o.order_id AND r.sku = l.sku AND NOT r.released), 0)::int8 \
             FROM orders o JOIN order_lines l USING (order_id) ORDER BY o.created_at, o.order_id, l.line_no",
            &[],
        )
        .await?;
    let mut out: Vec<OrderStock> = Vec::new();
    for r in rows {
        let order_id: String = r.get(0);
        if out.last().map(|o| &o.order_id) != Some(&order_id) {
            out.push(OrderStock { order_id, status: r.get(1), release_due: r.get(2), lines: Vec::new() });
        }
        if let Some(o) = out.last_mut() {
            o.lines.push((r.get(3), r.get(4), r.get(5)));
        }
    }
    Ok(out)
}

/// The stock of `sku` and the units its unreleased reservations hold.
async fn stock_and_held(shop: &Shop, sku: &str) -> Result<(i64, i64)> {
    let row = shop
        .db()
        .await?
        .query_one(
            "SELECT (SELECT stock FROM products WHERE sku = $1)::int8, \
                    (SELECT coalesce(sum(quantity), 0) FROM stock_reservations WHERE sku = $1 AND NOT released)::int8",
            &[&sku],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The stock invariants, at any moment (`settled` = false) or once nothing is left half-way
/// (`settled`: no pending or paid order, no release due).
async fn check_stock(shop: &Shop, set: &BTreeMap<&str, i64>, settled: bool) -> Result<()> {
    for (sku, units) in set {
        let (stock, held) = stock_and_held(shop, sku).await?;
        ensure!(stock + held == *units, "{sku}: stock {stock} + held {held} is not the {units} the operator set");
    }
    let orders = orders_stock(shop).await?;
    let mut held_by_orders: BTreeMap<String, i64> = BTreeMap::new();
    for o in &orders {
        let holds_all = o.lines.iter().all(|(_, q, held)| i64::from(*q) == *held);
        let holds_none = o.lines.iter().all(|(_, _, held)| *held == 0);
        match o.status.as_str() {
            "paid" | "completed" => ensure!(holds_all, "a {} order must hold its lines: {o:?}", o.status),
            "pending" => ensure!(!settled && (holds_all || holds_none), "a pending order holds part of its lines (or is left): {o:?}"),
            "failed" if o.release_due => ensure!(!settled && (holds_all || holds_none), "a failed order's release is still due: {o:?}"),
            _ => ensure!(holds_none, "a failed order still holds stock: {o:?}"),
        }
        for (sku, _, held) in &o.lines {
            *held_by_orders.entry(sku.clone()).or_default() += held;
        }
    }
    // No reservation without its order.
    for sku in set.keys() {
        let (_, held) = stock_and_held(shop, sku).await?;
        ensure!(held_by_orders.get(*sku).copied().unwrap_or(0) == held, "{sku}: {held} units held by reservations of no stored order line");
    }
    Ok(())
}

/// A shop whose payment, shipping, email and products (as checkout and the frontend reach them)
/// sit behind faulty proxies.
struct World {
    shop: Shop,
    payment: FaultyService,
    shipping: FaultyService,
    email: FaultyService,
    products: FaultyService,
}

impl World {
    async fn start() -> Result<World> {
        let payment = FaultyService::start("payment").await?;
        let shipping = FaultyService::start("shipping").await?;
        let email = FaultyService::start("email").await?;
        let products = FaultyService::start("products").await?;
        let overrides = [payment.variable(), shipping.variable(), email.variable(), products.variable()].into_iter().collect();
        let hooks = [payment.attacher(), shipping.attacher(), email.attacher(), products.attacher()];
        let shop = Shop::start_with_options(ShopOptions {
            overrides,
            limits: Some(failure_test_limits()),
            on_load: Some(Arc::new(move |app: &runtime_local::App| hooks.iter().for_each(|h| h(app)))),
            ..ShopOptions::default()
        })
        .await?;
        Ok(World { shop, payment, shipping, email, products })
    }

    fn service(&self, name: &str) -> &FaultyService {
        match name {
            "payment" => &self.payment,
            "shipping" => &self.shipping,
            "email" => &self.email,
            _ => &self.products,
        }
    }

    fn heal(&self) {
        for s in [&self.payment, &self.shipping, &self.email, &self.products] {
            s.heal();
        }
    }
}

/// Time passes for the orders (past the grace period and the shoppers' leases), then the
/// reconciler runs; its report.
async fn reconcile_later(shop: &Shop) -> Result<Value> {
    shop_e2e::admin::let_time_pass(&shop.db().await?, 600).await?;
    let report = shop_e2e::admin::reconcile(&shop.base, &shop.operator_token, r#"{"limit": 100}"#).await?;
    Ok(serde_json::from_str(&report)?)
}

/// Reconciler runs until nothing is left (a run's budget may defer orders to the next one).
async fn reconcile_until_settled(shop: &Shop) -> Result<Vec<Value>> {
    let mut reports = Vec::new();
    for _ in 0..5 {
        reports.push(reconcile_later(shop).await?);
        let left = shop
            .db()
            .await?
            .query_one("SELECT count(*) FROM orders WHERE status IN ('pending', 'paid') OR (status = 'failed' AND stock_release_due)", &[])
            .await?
            .get::<_, i64>(0);
        if left == 0 {
            return Ok(reports);
        }
    }
    anyhow::bail!("the reconciler left orders unfinished after 5 runs: {reports:#?}")
}

fn entry<'a>(report: &'a Value, order_id: &str) -> Option<&'a Value> {
    report["orders"].as_array()?.iter().find(|o| o["order_id"] == order_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_shoppers_for_ten_units_make_ten_orders_and_thirty_sold_out_answers() -> Result<()> {
    // A PostgreSQL of the test's own: 40 checkouts at once each hold a connection while products
    // answers on another, which the machine's shared server (and whoever else uses it) need not
    // have room for.
    let pg = PrivatePostgres::start()?;
    let shop = Arc::new(Shop::start_with_options(ShopOptions { pg_addr: Some(pg.addr()), ..ShopOptions::default() }).await?);
    set_stock(&shop, MUG, 10).await?;
    let sessions: Vec<String> = (0..40).map(|_| new_id()).collect();
    for s in &sessions {
        fill_cart(&shop, s, &[(MUG, 1)]).await?;
    }
    let started = Instant::now();
    let tasks: Vec<_> = sessions
        .iter()
        .map(|session| {
            let (shop, session) = (shop.clone(), session.clone());
            tokio::spawn(async move { place(&shop, &session, &new_id(), GOOD_CARD).await.map(|(status, answer)| (session, status, answer)) })
        })
        .collect();
    let mut completed = Vec::new();
    let mut sold_out = Vec::new();
    let mut other = Vec::new();
    for t in tasks {
        let (session, status, answer) = t.await??;
        match status {
            200 if answer["status"] == "Completed" => completed.push(answer["order_id"].as_str().unwrap_or_default().to_string()),
            409 if answer["error"]["message"].as_str().is_some_and(|m| m.to_lowercase().contains("sold out")) => sold_out.push(session),
            _ => other.push(format!("{status} {answer}")),
        }
    }
    println!("40 checkouts in {:?}", started.elapsed());
    ensure!(other.is_empty(), "answers neither completed nor sold out: {other:#?}");
    ensure!(completed.len() == 10 && sold_out.len() == 30, "{} completed, {} sold out", completed.len(), sold_out.len());

    let (stock, held) = stock_and_held(&shop, MUG).await?;
    ensure!(stock == 0 && held == 10, "stock {stock}, reserved {held}: expected 0 and 10");
    check_stock(&shop, &[(MUG, 10)].into_iter().collect(), true).await?;
    let stored: Books = books(&shop).await?;
    stored.check_settled()?;
    ensure!(stored.charges.len() == 10 && stored.kept_charges() == 10, "{} charges ({} kept) for 10 orders", stored.charges.len(), stored.kept_charges());
    let mut charged: Vec<String> = stored.charges.iter().map(|c| c.key.clone()).collect();
    charged.sort();
    completed.sort();
    ensure!(charged == completed, "the charges are not exactly the completed orders:\n{charged:?}\n{completed:?}");
    // Every refusal left nothing charged; whatever order it stored is failed, holds nothing and
    // owes no email; the shoppers keep their carts.
    for o in stored.orders.iter().filter(|o| o.status != "completed") {
        ensure!(o.status == "failed" && o.transaction_id.is_none() && !o.email_sent, "a sold-out order: {o:?}");
    }
    ensure!(outbox(&shop).await?.len() == 10, "one confirmation per completed order, no notices");
    // A shopper who was told "sold out" still has the mug in the cart, and cannot buy it.
    let (status, again) = place(&shop, &sold_out[0], &new_id(), GOOD_CARD).await?;
    ensure!(status == 409 && again["error"]["message"].as_str().is_some_and(|m| m.contains(&format!("Sold out: {MUG_NAME}"))), "{status} {again}");
    ensure!(again["error"]["fields"][0]["field"] == format!("lines.{MUG}"), "the short line is named: {again}");
    ensure!(stock_and_held(&shop, MUG).await? == (0, 10), "a refusal moved stock");
    Ok(())
}

/// One failure point: faults while a shopper places an order (once; they never come back), the
/// answer they get and the status the order is left in.
struct Point {
    name: &'static str,
    faults: Vec<(&'static str, &'static str, Mode)>,
    card: &'static str,
    first: u16,
    left: &'static str,
    /// `stock_release_due` right after (the release failed).
    release_due: bool,
    /// The status the reconciler leaves it in.
    settles: &'static str,
}

fn points() -> Vec<Point> {
    use Mode::*;
    let p = |name, faults, card, first, left, release_due, settles| Point { name, faults, card, first, left, release_due, settles };
    vec![
        p("payment unreachable: pending, units held", vec![("payment", CHARGE, Fail(503))], GOOD_CARD, 503, "pending", false, "failed"),
        p("payment hangs: pending, units held", vec![("payment", CHARGE, Hang)], GOOD_CARD, 503, "pending", false, "failed"),
        p("declined: failed, released", vec![], DECLINED, 402, "failed", false, "failed"),
        p("charged, answer lost: pending", vec![("payment", CHARGE, ForwardThenReset)], GOOD_CARD, 503, "pending", false, "completed"),
        p("shipping down: refunded, failed, released", vec![("shipping", SHIP, Fail(503))], GOOD_CARD, 503, "failed", false, "failed"),
        p("shipping refused: refunded, failed, released", vec![("shipping", SHIP, Fail(400))], GOOD_CARD, 422, "failed", false, "failed"),
        p(
            "shipping and refund down: paid, units held",
            vec![("shipping", SHIP, Fail(503)), ("payment", REFUND, Fail(503))],
            GOOD_CARD,
            503,
            "paid",
            false,
            "failed",
        ),
        p("products down at reserve: pending, nothing held", vec![("products", RESERVE, Fail(503))], GOOD_CARD, 503, "pending", false, "failed"),
        p("reserved, the answer lost: pending, units held", vec![("products", RESERVE, ForwardThenReset)], GOOD_CARD, 503, "pending", false, "failed"),
        p("declined, release failing: failed, release due", vec![("products", RELEASE, Fail(503))], DECLINED, 402, "failed", true, "failed"),
        p(
            "shipping refused, release failing: failed, release due",
            vec![("shipping", SHIP, Fail(400)), ("products", RELEASE, Fail(503))],
            GOOD_CARD,
            422,
            "failed",
            true,
            "failed",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_adds_up_at_every_failure_point_and_after_the_reconciler() -> Result<()> {
    let w = World::start().await?;
    let set: BTreeMap<&str, i64> = [(MUG, 60), (TEE, 40)].into_iter().collect();
    for (sku, units) in &set {
        set_stock(&w.shop, sku, u32::try_from(*units)?).await?;
    }
    let mut left = Vec::new();
    for point in points() {
        let what = point.name;
        w.heal();
        let (session, attempt) = (new_id(), new_id());
        fill_cart(&w.shop, &session, &[(MUG, 2), (TEE, 1)]).await?;
        for (service, path, mode) in &point.faults {
            w.service(service).set(path, mode.clone());
        }
        let (status, answer) = place(&w.shop, &session, &attempt, point.card).await?;
        ensure!(status == point.first, "{what}: answered {status} (expected {}): {answer}", point.first);
        for (service, path, mode) in &point.faults {
            ensure!(w.service(service).seen().iter().any(|c| c.path == *path && c.mode == *mode), "{what}: the fault at {path} was never hit");
        }
        let (order_id, status) = stored_order(&w.shop, &session, &attempt).await?.with_context(|| format!("{what}: no order stored"))?;
        ensure!(status == point.left, "{what}: left {status} (expected {})", point.left);
        let due: bool = w.shop.db().await?.query_one("SELECT stock_release_due FROM orders WHERE order_id = $1", &[&order_id]).await?.get(0);
        ensure!(due == point.release_due, "{what}: stock_release_due = {due}");
        check_stock(&w.shop, &set, false).await.with_context(|| format!("{what}: right after the failure"))?;
        books(&w.shop).await?.check_safe().with_context(|| format!("{what}: the money"))?;
        // The reconciler gives back what it takes: a release left due, or a pending order it fails.
        let released_by_reconciler = point.release_due || (point.left == "pending" && point.settles == "failed");
        left.push((what, order_id, point.settles, released_by_reconciler));
    }
    // Nobody comes back: the reconciler finishes every order and gives back what failed ones held.
    w.heal();
    let reports = reconcile_until_settled(&w.shop).await?;
    check_stock(&w.shop, &set, true).await.context("after the reconciler")?;
    let settled = books(&w.shop).await?;
    settled.check_settled()?;
    for (what, order_id, settles, released_by_reconciler) in &left {
        let o = settled.orders.iter().find(|o| &o.order_id == order_id).context("stored")?;
        ensure!(o.status == *settles, "{what}: settled {} (expected {settles})", o.status);
        if *released_by_reconciler {
            let actions: Vec<&str> = reports.iter().filter_map(|r| entry(r, order_id)?["action"].as_str()).collect();
            ensure!(actions.iter().any(|a| a.contains("stock released")), "{what}: the report does not say the stock was released: {actions:?}");
        }
    }
    // Now exactly the completed orders hold stock: put back what the failed ones held.
    let completed_units: i64 = orders_stock(&w.shop).await?.iter().filter(|o| o.status == "completed").flat_map(|o| o.lines.iter().filter(|l| l.0 == MUG).map(|l| i64::from(l.1))).sum();
    ensure!(stock_and_held(&w.shop, MUG).await? == (60 - completed_units, completed_units), "the mugs after settling");
    // A second run takes nothing and moves no stock.
    let before = (stock_and_held(&w.shop, MUG).await?, stock_and_held(&w.shop, TEE).await?);
    let again = reconcile_later(&w.shop).await?;
    ensure!(again["orders"].as_array().is_some_and(Vec::is_empty), "a second run took orders: {again}");
    ensure!((stock_and_held(&w.shop, MUG).await?, stock_and_held(&w.shop, TEE).await?) == before, "a second run moved stock");
    Ok(())
}

/// Retrying an attempt that was left pending reserves again — the same reservation, nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_attempt_reserves_once_and_completes() -> Result<()> {
    let w = World::start().await?;
    // Exactly enough for three orders of two: a retry that held its mugs twice would leave the
    // last order short.
    let set: BTreeMap<&str, i64> = [(MUG, 6)].into_iter().collect();
    set_stock(&w.shop, MUG, 6).await?;
    for fault in [("payment", CHARGE, Mode::Fail(503)), ("products", RESERVE, Mode::Fail(503)), ("products", RESERVE, Mode::ForwardThenReset)] {
        w.heal();
        let (session, attempt) = (new_id(), new_id());
        fill_cart(&w.shop, &session, &[(MUG, 2)]).await?;
        w.service(fault.0).set(fault.1, fault.2.clone());
        let (status, first) = place(&w.shop, &session, &attempt, GOOD_CARD).await?;
        ensure!(status == 503, "{fault:?}: {status} {first}");
        check_stock(&w.shop, &set, false).await?;
        w.heal();
        let (status, order) = place(&w.shop, &session, &attempt, GOOD_CARD).await?;
        ensure!(status == 200 && order["status"] == "Completed", "{fault:?}: the retry {status} {order}");
        let (status, again) = place(&w.shop, &session, &attempt, GOOD_CARD).await?;
        ensure!(status == 200 && again["order_id"] == order["order_id"], "{fault:?}: a third submission {status} {again}");
        check_stock(&w.shop, &set, true).await.with_context(|| format!("{fault:?}"))?;
    }
    ensure!(stock_and_held(&w.shop, MUG).await? == (0, 6), "{:?}", stock_and_held(&w.shop, MUG).await?);
    books(&w.shop).await?.check_settled()?;
    check_stock(&w.shop, &set, true).await
}

/// Products refuses the reservation after checkout priced the cart (another shopper took the last
/// unit meanwhile): the order fails with products' words and holds nothing, nothing is charged
/// (payment's key is closed first), no email, and the shopper gets 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_refused_after_pricing_fails_the_order_and_charges_nothing() -> Result<()> {
    let w = World::start().await?;
    set_stock(&w.shop, MUG, 1).await?;
    let (late, first) = (new_id(), new_id());
    fill_cart(&w.shop, &late, &[(MUG, 1)]).await?;
    fill_cart(&w.shop, &first, &[(MUG, 1)]).await?;
    // The late shopper's reservation waits while the first buys the last mug.
    w.products.set(RESERVE, Mode::Held);
    let late_attempt = new_id();
    let late_call = {
        let body = place_request(&late, &late_attempt, GOOD_CARD).to_string();
        let app = w.shop.app.clone();
        let token = w.shop.internal_token.clone();
        tokio::spawn(async move {
            let req = http::Request::builder()
                .method("POST")
                .uri(PLACE)
                .header("content-type", "application/json")
                .header(shop_contract::INTERNAL_TOKEN_HEADER, token)
                .body(bytes::Bytes::from(body))?;
            let r = app.handle_chained("checkout", req).await?;
            anyhow::Ok((r.status().as_u16(), serde_json::from_slice::<Value>(r.body())?))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.products.calls(RESERVE) == 0 {
        ensure!(Instant::now() < deadline, "the late reservation never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.products.set(RESERVE, Mode::Forward);
    let (status, bought) = place(&w.shop, &first, &new_id(), GOOD_CARD).await?;
    ensure!(status == 200 && bought["status"] == "Completed", "the first shopper: {status} {bought}");
    w.products.release();
    let (status, refused) = late_call.await??;
    ensure!(status == 409, "the late shopper: {status} {refused}");
    ensure!(refused["error"]["message"] == format!("Sold out: {MUG_NAME}"), "products' words: {refused}");
    let (order_id, status) = stored_order(&w.shop, &late, &late_attempt).await?.context("the late order is stored")?;
    ensure!(status == "failed", "the late order is {status}");
    let failure: Option<String> = w.shop.db().await?.query_one("SELECT failure FROM orders WHERE order_id = $1", &[&order_id]).await?.get(0);
    ensure!(failure.as_deref() == Some(&format!("Sold out: {MUG_NAME}")[..]), "the reason stored: {failure:?}");
    let stored = books(&w.shop).await?;
    stored.check_settled()?;
    ensure!(stored.charges.iter().all(|c| c.key != order_id), "the refused order was charged");
    ensure!(stored.closed.contains(&order_id), "the refused order's payment key was not closed");
    ensure!(w.payment.calls(SETTLE) == 1 && w.payment.calls(CHARGE) == 1, "settle {} charge {}", w.payment.calls(SETTLE), w.payment.calls(CHARGE));
    ensure!(outbox(&w.shop).await?.len() == 1, "a notice was sent for a refusal the shopper saw");
    check_stock(&w.shop, &[(MUG, 1)].into_iter().collect(), true).await?;
    // The reconciler owes it nothing.
    let report = reconcile_later(&w.shop).await?;
    ensure!(entry(&report, &order_id).is_none(), "{report}");
    Ok(())
}

/// A pending order whose shopper never comes back holds its units until the reconciler, after its
/// grace period, fails it (nothing was charged) and releases them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_pending_order_is_failed_after_the_grace_period_and_its_stock_released() -> Result<()> {
    let w = World::start().await?;
    set_stock(&w.shop, MUG, 3).await?;
    let (session, attempt) = (new_id(), new_id());
    fill_cart(&w.shop, &session, &[(MUG, 3)]).await?;
    w.payment.set(CHARGE, Mode::Fail(503));
    let (status, answer) = place(&w.shop, &session, &attempt, GOOD_CARD).await?;
    ensure!(status == 503, "{status} {answer}");
    let (order_id, status) = stored_order(&w.shop, &session, &attempt).await?.context("stored")?;
    ensure!(status == "pending" && stock_and_held(&w.shop, MUG).await? == (0, 3), "the order holds all three");
    w.heal();
    // Sold out meanwhile: another shopper cannot even put one in the cart.
    let (status, refused) = w.shop.call_json("carts", ADD, json!({"session": new_id(), "sku": MUG, "quantity": 1}).to_string()).await?;
    ensure!(status == 409 && refused["error"]["message"].as_str().is_some_and(|m| m.contains("sold out")), "{status} {refused}");
    // Within the grace period (and the shopper's lease) the reconciler leaves it alone.
    let report: Value = serde_json::from_str(&shop_e2e::admin::reconcile(&w.shop.base, &w.shop.operator_token, r#"{"grace_seconds": 0}"#).await?)?;
    ensure!(entry(&report, &order_id).is_none(), "taken within its lease: {report}");
    let report: Value = {
        shop_e2e::admin::let_time_pass(&w.shop.db().await?, 120).await?;
        serde_json::from_str(&shop_e2e::admin::reconcile(&w.shop.base, &w.shop.operator_token, "{}").await?)?
    };
    ensure!(entry(&report, &order_id).is_none(), "taken within the 5-minute grace period: {report}");
    ensure!(stock_and_held(&w.shop, MUG).await? == (0, 3), "released too early");
    // After it: failed, not charged, released; the shopper gets the notice.
    let report = reconcile_later(&w.shop).await?;
    let done = entry(&report, &order_id).context("the reconciler took it")?;
    ensure!(done["after"] == "Failed", "{report}");
    ensure!(done["action"].as_str().is_some_and(|a| a.contains("stock released")), "the report says so: {done}");
    ensure!(stock_and_held(&w.shop, MUG).await? == (3, 0), "not released: {:?}", stock_and_held(&w.shop, MUG).await?);
    check_stock(&w.shop, &[(MUG, 3)].into_iter().collect(), true).await?;
    let stored = books(&w.shop).await?;
    stored.check_settled()?;
    ensure!(stored.charges.is_empty() && stored.closed.contains(&order_id), "{stored:#?}");
    let notice = outbox(&w.shop).await?;
    ensure!(notice.len() == 1 && notice[0]["text_body"].as_str().is_some_and(|t| t.contains("not charged")), "{notice:?}");
    // The units can be bought again.
    let (status, bought) = place(&w.shop, &session, &new_id(), GOOD_CARD).await?;
    ensure!(status == 200 && bought["status"] == "Completed", "{status} {bought}");
    check_stock(&w.shop, &[(MUG, 3)].into_iter().collect(), true).await
}
