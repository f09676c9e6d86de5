//! The reconciler (`POST /admin/reconcile`, checkout's `reconcile`): orders that a failure left
//! pending or paid — and that no shopper retried — are driven to a final state, and the books
//! settle: every charge has a completed order or a refund, never two charges or two shipments,
//! the cart emptied for a completed order, exactly one final email per order.
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use shop_e2e::browser::Browser;
use shop_e2e::reliability::{
    add, books, cart, charge_then_lose_the_database, checkout_attempt, checkout_fields, outbox, world, Books, World, CHARGE, GOOD_CARD, MUG, NOTICE,
    REFUND, SEND, SETTLE, SHIP, TEE,
};
use shop_e2e::stores::PrivatePostgres;
use shop_e2e::upstream::Mode;
use shop_e2e::Shop;

/// A product the shopper adds after leaving an order behind.
const NOTEBOOK: &str = "OFF-NOTEBOOK-INDIGO";

/// Runs the reconciler through the operator API (default grace period of 5 minutes); returns
/// its report.
async fn reconcile(shop: &Shop) -> Result<Value> {
    let (status, body) = admin(shop, Some(&shop.operator_token), r#"{"limit": 100}"#).await?;
    ensure!(status == 200, "reconcile answered {status}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// Ten minutes pass for the orders: past the grace period and the shoppers' leases.
async fn ten_minutes_pass(shop: &Shop) -> Result<()> {
    shop_e2e::admin::let_time_pass(&shop.db().await?, 600).await?;
    Ok(())
}

/// A later run: time passes, then the reconciler runs.
async fn reconcile_later(shop: &Shop) -> Result<Value> {
    ten_minutes_pass(shop).await?;
    reconcile(shop).await
}

async fn admin(shop: &Shop, token: Option<&str>, body: &str) -> Result<(u16, String)> {
    let mut req = reqwest::Client::new()
        .post(shop.url("/admin/reconcile"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// A shopper who fills a cart and presses "Place order" once, with `faults` set; they never
/// retry. Returns the browser and the order id the attempt left in the database.
async fn leave_an_order(w: &World, faults: &[(&str, &str, Mode)], first: u16) -> Result<(Browser, String)> {
    let mut b = w.shop.browser();
    add(&mut b, MUG, 2).await?;
    add(&mut b, TEE, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    for (service, path, mode) in faults {
        w.service(service).set(path, mode.clone());
    }
    let page = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    ensure!(page.status == first, "the checkout answered {} (expected {first}): {}", page.status, page.body);
    let stored = books(&w.shop).await?;
    stored.check_safe()?;
    let order = stored
        .orders
        .iter()
        .find(|o| o.attempt_id == attempt)
        .context("the attempt left an order")?;
    Ok((b, order.order_id.clone()))
}

/// The final emails for `order_id` in the outbox (subject, text).
async fn emails_for(shop: &Shop, order_id: &str) -> Result<Vec<(String, String)>> {
    Ok(outbox(shop)
        .await?
        .into_iter()
        .filter(|e| e["subject"].as_str().unwrap_or_default().contains(order_id))
        .map(|e| (e["subject"].as_str().unwrap_or_default().to_string(), e["text_body"].as_str().unwrap_or_default().to_string()))
        .collect())
}

fn entry<'a>(report: &'a Value, order_id: &str) -> Option<&'a Value> {
    report["orders"].as_array()?.iter().find(|o| o["order_id"] == order_id)
}

/// The status the reconciler left an order in, lower case as stored ("completed", ...).
fn after(report: &Value, order_id: &str) -> Option<String> {
    entry(report, order_id)?["after"].as_str().map(str::to_lowercase)
}

/// One stuck order per failure point the checkout failure tests inject; each is left alone by
/// its shopper, the services are healed (but for what `still` keeps broken), and one reconciler
/// run must settle it as `settles`.
struct Stuck {
    name: &'static str,
    faults: Vec<(&'static str, &'static str, Mode)>,
    first: u16,
    /// Left as this status before the reconciler runs.
    left: &'static str,
    /// Faults kept while the reconciler runs.
    still: Vec<(&'static str, &'static str, Mode)>,
    settles: &'static str,
    /// What the final email says: a confirmation, "not charged" or "refunded".
    email: &'static str,
}

fn stuck_orders() -> Vec<Stuck> {
    use Mode::*;
    vec![
        Stuck { name: "payment unreachable: never charged", faults: vec![("payment", CHARGE, Fail(503))], first: 503, left: "pending", still: vec![], settles: "failed", email: "not charged" },
        Stuck { name: "payment hangs: never charged", faults: vec![("payment", CHARGE, Hang)], first: 503, left: "pending", still: vec![], settles: "failed", email: "not charged" },
        Stuck { name: "charged, answer lost", faults: vec![("payment", CHARGE, ForwardThenReset)], first: 503, left: "pending", still: vec![], settles: "completed", email: "confirmation" },
        Stuck { name: "charged, answer a 500", faults: vec![("payment", CHARGE, ForwardThenFail(500))], first: 503, left: "pending", still: vec![], settles: "completed", email: "confirmation" },
        Stuck {
            name: "shipping and refund down: paid with its refund started, then refunded",
            faults: vec![("shipping", SHIP, Fail(503)), ("payment", REFUND, Fail(503))],
            first: 503,
            left: "paid",
            still: vec![],
            settles: "failed",
            email: "refunded",
        },
        Stuck {
            name: "shipping refuses and refund down: paid, then refunded",
            faults: vec![("shipping", SHIP, Fail(400)), ("payment", REFUND, Fail(503))],
            first: 503,
            left: "paid",
            still: vec![("shipping", SHIP, Fail(400))],
            settles: "failed",
            email: "refunded",
        },
        Stuck { name: "completed, email down", faults: vec![("email", SEND, Fail(503))], first: 303, left: "completed", still: vec![], settles: "completed", email: "confirmation" },
    ]
}

fn check_email(what: &str, emails: &[(String, String)], kind: &str) -> Result<()> {
    ensure!(emails.len() == 1, "{what}: {} final emails: {emails:?}", emails.len());
    let (subject, text) = &emails[0];
    let says = |s: &str| text.to_lowercase().contains(s) || subject.to_lowercase().contains(s);
    match kind {
        "confirmation" => ensure!(!says("could not complete"), "{what}: a confirmation was expected: {subject}"),
        "not charged" => ensure!(says("not charged") && !says("refunded"), "{what}: the notice must say not charged: {text}"),
        _ => ensure!(says("refunded"), "{what}: the notice must say refunded: {text}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stuck_order_settles_and_the_shopper_is_told_once() -> Result<()> {
    let w = world(None).await?;
    for s in stuck_orders() {
        let what = s.name;
        let (b, order_id) = leave_an_order(&w, &s.faults, s.first).await?;
        let before = books(&w.shop).await?;
        let left = before.orders.iter().find(|o| o.order_id == order_id).context("stored")?;
        ensure!(left.status == s.left, "{what}: left as {} (expected {})", left.status, s.left);

        // Meanwhile the shopper fills the cart again: a reconciled order takes out only its items.
        let mut b = b;
        add(&mut b, MUG, 1).await?;
        add(&mut b, NOTEBOOK, 1).await?;
        let cart_before = cart(&w.shop, &b).await?;
        w.heal();
        for (service, path, mode) in &s.still {
            w.service(service).set(path, mode.clone());
        }
        let report = reconcile_later(&w.shop).await?;
        let done = after(&report, &order_id).with_context(|| format!("{what}: the reconciler did not take the order: {report}"))?;
        ensure!(done == s.settles, "{what}: reconciled to {done} (expected {}): {report}", s.settles);

        let settled = books(&w.shop).await?;
        settled.check_settled().with_context(|| format!("{what}: after the reconciler"))?;
        let order = settled.orders.iter().find(|o| o.order_id == order_id).context("stored")?;
        ensure!(order.status == s.settles && order.email_sent, "{what}: {order:?}");
        let charges: Vec<_> = settled.charges.iter().filter(|c| c.key == order_id).collect();
        match (s.settles, s.email) {
            ("completed", _) => {
                ensure!(charges.len() == 1 && !settled.refunds.contains(&charges[0].transaction_id), "{what}: one kept charge");
                let left = cart(&w.shop, &b).await?;
                let expected = [(MUG.to_string(), 1), (NOTEBOOK.to_string(), 1)].into_iter().collect();
                ensure!(left == expected, "{what}: the cart after the order is {left:?} (expected only what was added since)");
            }
            (_, "not charged") => {
                ensure!(charges.is_empty(), "{what}: charged {charges:?}");
                ensure!(settled.closed.contains(&order_id), "{what}: the charge key was not closed");
            }
            _ => ensure!(charges.len() == 1 && settled.refunds.contains(&charges[0].transaction_id), "{what}: refunded"),
        }
        if s.settles == "failed" {
            ensure!(cart(&w.shop, &b).await? == cart_before, "{what}: a failed order changed the cart");
        }
        check_email(what, &emails_for(&w.shop, &order_id).await?, s.email)?;

        // Twice is safe: a second run takes nothing and changes nothing.
        w.heal();
        let again = reconcile_later(&w.shop).await?;
        ensure!(entry(&again, &order_id).is_none(), "{what}: taken again: {again}");
        let after = books(&w.shop).await?;
        ensure!(after.charges.len() == settled.charges.len() && after.refunds.len() == settled.refunds.len(), "{what}: the second run moved money");
        ensure!(emails_for(&w.shop, &order_id).await?.len() == 1, "{what}: a second email");
        // A closed key refuses the shopper's late charge: nothing is charged after the fact.
        if s.email == "not charged" {
            let body = json!({
                "idempotency_key": order_id, "amount": {"minor": 100, "currency": "USD"},
                "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"}
            });
            let late = w.shop.call_internal("payment", "POST", CHARGE, &[("content-type", "application/json")], body.to_string()).await?;
            let text = String::from_utf8_lossy(late.body()).to_string();
            ensure!(late.status() == 409, "{what}: a charge after the key was closed answered {}: {text}", late.status());
            ensure!(books(&w.shop).await?.charges.iter().all(|c| c.key != order_id), "{what}: charged after all");
        }
    }
    Ok(())
}

/// A refund that keeps failing leaves the order paid (a charge always has its order), counted as
/// unfinished and, once older than the alert threshold, as stuck; when payment is back, it settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_refund_keeps_failing_is_reported_stuck_then_settles() -> Result<()> {
    let w = world(None).await?;
    let faults = [("shipping", SHIP, Mode::Fail(400)), ("payment", REFUND, Mode::Fail(503))];
    let (_b, order_id) = leave_an_order(&w, &faults, 503).await?;
    // Still broken while the reconciler runs.
    let report = reconcile_later(&w.shop).await?;
    ensure!(after(&report, &order_id).as_deref() == Some("paid") && report["unfinished"] == 1, "{report}");
    ensure!(report["stuck"] == 0, "not old enough to be stuck yet: {report}");
    // An hour later (the order's clock moved back), it counts as stuck.
    w.shop.db().await?.execute("UPDATE orders SET created_at = created_at - interval '2 hours' WHERE order_id = $1", &[&order_id]).await?;
    let report = reconcile_later(&w.shop).await?;
    ensure!(report["stuck"] == 1 && report["unfinished"] == 1, "{report}");
    books(&w.shop).await?.check_safe()?;
    w.heal();
    w.shipping.set(SHIP, Mode::Fail(400));
    let report = reconcile_later(&w.shop).await?;
    ensure!(after(&report, &order_id).as_deref() == Some("failed") && report["stuck"] == 0, "{report}");
    books(&w.shop).await?.check_settled()?;
    check_email("refund back", &emails_for(&w.shop, &order_id).await?, "refunded")
}

/// The grace period keeps the reconciler off orders a shopper may still be working on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_protects_recent_orders() -> Result<()> {
    let w = world(None).await?;
    let (_b, order_id) = leave_an_order(&w, &[("payment", CHARGE, Mode::Fail(503))], 503).await?;
    w.heal();
    // Right after the shopper's request, its lease keeps even a zero grace period off the order.
    let (status, body) = admin(&w.shop, Some(&w.shop.operator_token), r#"{"grace_seconds": 0}"#).await?;
    ensure!(status == 200 && entry(&serde_json::from_str(&body)?, &order_id).is_none(), "taken under the shopper's lease: {body}");
    // Ten minutes later: not yet for a 15-minute grace period, but for a 5-minute one.
    ten_minutes_pass(&w.shop).await?;
    let (status, body) = admin(&w.shop, Some(&w.shop.operator_token), r#"{"grace_seconds": 900}"#).await?;
    ensure!(status == 200 && entry(&serde_json::from_str(&body)?, &order_id).is_none(), "a recent order was taken: {body}");
    ensure!(w.payment.calls(SETTLE) == 0, "the ledger was asked about a recent order");
    let stored = books(&w.shop).await?;
    ensure!(stored.orders.iter().any(|o| o.order_id == order_id && o.status == "pending"), "{stored:#?}");
    let report = reconcile(&w.shop).await?;
    ensure!(after(&report, &order_id).as_deref() == Some("failed"), "{report}");
    Ok(())
}

/// A store outage: the database goes away after the charge and before it is recorded. Nobody
/// retries; when the database is back, the reconciler finds the charge in payment's ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_lost_to_a_database_outage_is_found_and_shipped() -> Result<()> {
    let mut pg = PrivatePostgres::start()?;
    let w = world(Some(pg.addr())).await?;
    // Nobody retries: the shopper's browser and form are not used again.
    let _ = charge_then_lose_the_database(&w, &mut pg).await?;
    w.heal();
    let report = reconcile_when_up(&w.shop).await?;
    ensure!(report["completed"] == 1, "{report}");
    let stored = books(&w.shop).await?;
    stored.check_settled()?;
    ensure!(stored.completed().len() == 1 && stored.charges.len() == 1 && stored.transactions.len() == 1, "{stored:#?}");
    Ok(())
}

/// The reconciler once the restarted database answers (up to 60 s: a busy machine's margin).
async fn reconcile_when_up(shop: &Shop) -> Result<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match reconcile_later(shop).await {
            Ok(r) => return Ok(r),
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Shoppers retrying their own stuck attempts while two reconcilers run at the same time: each
/// order ends in one final state with at most one kept charge, one shipment and one email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_retrying_while_two_reconcilers_run_settle_once() -> Result<()> {
    let w = world(None).await?;
    let mut shoppers = Vec::new();
    for fault in [Mode::Fail(503), Mode::ForwardThenReset, Mode::Fail(503), Mode::ForwardThenReset] {
        let mut b = w.shop.browser();
        add(&mut b, MUG, 1).await?;
        let attempt = checkout_attempt(&mut b).await?;
        w.payment.set(CHARGE, fault);
        let first = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
        ensure!(first.status == 503, "{} {}", first.status, first.body);
        shoppers.push((b, attempt));
    }
    w.heal();
    ten_minutes_pass(&w.shop).await?;
    let retries = shoppers.into_iter().map(|(mut b, attempt)| {
        tokio::spawn(async move {
            let page = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
            anyhow::Ok(page.status)
        })
    });
    let retries: Vec<_> = retries.collect();
    let (one, two) = tokio::join!(reconcile(&w.shop), reconcile(&w.shop));
    let (one, two) = (one?, two?);
    for r in retries {
        let status = r.await??;
        // The retry completed the order, found it cancelled by the reconciler (422), or found a
        // reconciler working on it (503: "look at your orders in a moment").
        ensure!(status == 303 || status == 422 || status == 503, "a retry answered {status}");
    }
    // Whatever the two runs left unfinished (orders the shoppers still held), a later run settles.
    let _ = reconcile_later(&w.shop).await?;
    let settled: Books = books(&w.shop).await?;
    settled.check_settled()?;
    ensure!(settled.orders.len() == 4, "{settled:#?}");
    for o in &settled.orders {
        let kept = settled.charges.iter().filter(|c| c.key == o.order_id && !settled.refunds.contains(&c.transaction_id)).count();
        ensure!(kept == usize::from(o.status == "completed"), "order {o:?}: {kept} kept charges");
        ensure!(emails_for(&w.shop, &o.order_id).await?.len() <= 1, "two emails for {}", o.order_id);
    }
    // No order was taken by both runs at once.
    for o in one["orders"].as_array().into_iter().flatten() {
        ensure!(entry(&two, o["order_id"].as_str().unwrap_or_default()).is_none(), "both reconcilers took {o}");
    }
    let shipments = w.shipping.calls(SHIP);
    ensure!(shipments <= settled.completed().len() * 2, "{shipments} shipment calls");
    Ok(())
}

/// The operator API refuses bad requests clearly and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reconcile_requests_are_refused_and_change_nothing() -> Result<()> {
    let w = world(None).await?;
    let (_b, order_id) = leave_an_order(&w, &[("payment", CHARGE, Mode::Fail(503))], 503).await?;
    w.heal();
    ten_minutes_pass(&w.shop).await?;
    let cases: [(Option<&str>, &str, u16, &str); 10] = [
        (None, "{}", 401, "operator token"),
        (Some("wrong-token"), "{}", 401, "unauthorized"),
        (Some("TOKEN"), "{not json", 400, "not valid JSON"),
        (Some("TOKEN"), r#"{"grace_seconds": 0, "extra": 1}"#, 400, "extra"),
        (Some("TOKEN"), r#"{"grace_seconds": -1}"#, 400, "-1"),
        (Some("TOKEN"), r#"{"grace_seconds": 86401}"#, 400, "grace_seconds"),
        (Some("TOKEN"), r#"{"grace_seconds": 0, "limit": 0}"#, 400, "limit"),
        (Some("TOKEN"), r#"{"grace_seconds": 0, "limit": 101}"#, 400, "limit"),
        (Some("TOKEN"), r#"{"grace_seconds": 0, "alert_seconds": 5}"#, 400, "alert_seconds"),
        (Some("TOKEN"), r#"{"grace_seconds": 0, "alert_seconds": 2592001}"#, 400, "alert_seconds"),
    ];
    for (token, body, want, says) in cases {
        let token = token.map(|t| if t == "TOKEN" { w.shop.operator_token.as_str() } else { t });
        let (status, text) = admin(&w.shop, token, body).await?;
        ensure!(status == want, "{body}: answered {status} (expected {want}): {text}");
        ensure!(text.contains(says), "{body}: the message does not mention `{says}`: {text}");
    }
    ensure!(w.payment.calls(SETTLE) == 0, "a refused request reached the ledger");
    let stored = books(&w.shop).await?;
    ensure!(stored.orders.iter().any(|o| o.order_id == order_id && o.status == "pending"), "{stored:#?}");
    ensure!(outbox(&w.shop).await?.is_empty() && w.email.calls(NOTICE) == 0, "an email was sent");
    Ok(())
}

/// Shipping unreachable while the reconciler runs: a paid order is kept for the next run, not
/// refunded (the order page promises to ship it); when shipping is back, it ships.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_carrier_is_retried_not_refunded() -> Result<()> {
    let w = world(None).await?;
    // Charged, the answer lost: pending. The reconciler finds the charge while shipping is down.
    let (_b, order_id) = leave_an_order(&w, &[("payment", CHARGE, Mode::ForwardThenReset)], 503).await?;
    w.heal();
    w.shipping.set(SHIP, Mode::Fail(503));
    let report = reconcile_later(&w.shop).await?;
    ensure!(after(&report, &order_id).as_deref() == Some("paid") && report["unfinished"] == 1, "{report}");
    ensure!(w.payment.calls(REFUND) == 0, "refunded while shipping was only unreachable");
    books(&w.shop).await?.check_safe()?;
    w.heal();
    let report = reconcile_later(&w.shop).await?;
    ensure!(after(&report, &order_id).as_deref() == Some("completed"), "{report}");
    let settled = books(&w.shop).await?;
    settled.check_settled()?;
    ensure!(settled.refunds.is_empty(), "{settled:#?}");
    check_email("shipped later", &emails_for(&w.shop, &order_id).await?, "confirmation")
}

/// Once a refund was started, an order can only fail: if recording the failure was lost (the
/// flag is all that is left), the next run repeats the refund and never ships.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_refund_is_finished_and_never_shipped() -> Result<()> {
    let w = world(None).await?;
    let faults = [("shipping", SHIP, Mode::Fail(503)), ("payment", REFUND, Mode::Fail(503))];
    let (_b, order_id) = leave_an_order(&w, &faults, 503).await?;
    // The shopper's attempt started the refund (it failed): the order is paid, refund started.
    let flagged: bool = w.shop.db().await?.query_one("SELECT refund_started FROM orders WHERE order_id = $1", &[&order_id]).await?.get(0);
    ensure!(flagged, "the failed refund left no mark");
    w.heal();
    let ships_before = w.shipping.calls(SHIP);
    let report = reconcile_later(&w.shop).await?;
    ensure!(after(&report, &order_id).as_deref() == Some("failed"), "{report}");
    ensure!(w.shipping.calls(SHIP) == ships_before, "shipped an order whose refund was started");
    let settled = books(&w.shop).await?;
    settled.check_settled()?;
    ensure!(settled.refunds.len() == 1, "{settled:#?}");
    check_email("refund finished", &emails_for(&w.shop, &order_id).await?, "refunded")
}

/// A hanging payment does not hold the report back past the operator API's wait: the run stops
/// taking orders when its time is up and answers, the rest deferred to the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_payment_does_not_hold_up_the_report() -> Result<()> {
    let w = world(None).await?;
    for _ in 0..3 {
        leave_an_order(&w, &[("payment", CHARGE, Mode::Fail(503))], 503).await?;
    }
    w.heal();
    w.payment.set(SETTLE, Mode::Hang);
    let started = std::time::Instant::now();
    let report = reconcile_later(&w.shop).await?;
    let took = started.elapsed();
    ensure!(report["unfinished"] == 3 && report["orders"].as_array().map_or(0, Vec::len) == 3, "{report}");
    ensure!(took < Duration::from_secs(10), "the report took {took:?}, longer than the operator API waits");
    books(&w.shop).await?.check_safe()?;
    // Every order was released: the next run takes them all again.
    w.heal();
    let report = reconcile_later(&w.shop).await?;
    ensure!(report["failed"] == 3, "{report}");
    books(&w.shop).await?.check_settled()
}
