//! Checkout's money invariants under a failure at every point of placing an order — before the
//! charge, after the charge (answer lost), after the shipment (answer lost), after the order is
//! stored (the frontend loses checkout's answer, or the database goes away between charge and
//! record), during the email — each followed by a retry of the same checkout attempt:
//!
//! - never a charge without an order, never an order without its charge,
//! - never two charges for one attempt, never a lost order,
//!
//! checked against what is stored: orders in PostgreSQL, payment's `charge:*` / `txn:*` /
//! `refund:*` records in Redis (`shop_e2e::reliability::Books`).
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use shop_e2e::reliability::{
    add, books, cart, charge_then_lose_the_database, checkout_attempt, checkout_fields, outbox_len, placed_order_id, world, Books, GOOD_CARD, MUG, TEE,
};
use shop_e2e::stores::PrivatePostgres;
use shop_e2e::upstream::Mode;
use shop_e2e::Shop;

use shop_e2e::reliability::{CHARGE, PLACE, REFUND, SEND, SHIP};

/// One failure point: set the faults, check out, check the books; heal, retry the same attempt,
/// check that it settled with the expected outcome.
struct Point {
    name: &'static str,
    faults: Vec<(&'static str, &'static str, Mode)>,
    /// Status of the first submission.
    first: u16,
    /// What the retry of the same attempt leaves: `completed` (one charge kept) or `failed`
    /// (charge refunded, the shopper starts a new attempt).
    settles: &'static str,
}

fn points() -> Vec<Point> {
    use Mode::*;
    vec![
        Point { name: "payment unreachable before the charge", faults: vec![("payment", CHARGE, Fail(503))], first: 503, settles: "completed" },
        Point { name: "payment connection dropped before the charge", faults: vec![("payment", CHARGE, Reset)], first: 503, settles: "completed" },
        Point { name: "payment hangs", faults: vec![("payment", CHARGE, Hang)], first: 503, settles: "completed" },
        Point { name: "charged, answer lost (connection dropped)", faults: vec![("payment", CHARGE, ForwardThenReset)], first: 503, settles: "completed" },
        Point { name: "charged, answer lost (500)", faults: vec![("payment", CHARGE, ForwardThenFail(500))], first: 503, settles: "completed" },
        Point { name: "charged, shipping down: refunded", faults: vec![("shipping", SHIP, Fail(503))], first: 503, settles: "failed" },
        Point { name: "charged, shipping refused: refunded", faults: vec![("shipping", SHIP, Fail(400))], first: 422, settles: "failed" },
        Point { name: "shipped, answer lost: refunded", faults: vec![("shipping", SHIP, ForwardThenReset)], first: 503, settles: "failed" },
        // A refund that may have happened (its answer is unknown) is never followed by a
        // shipment: the retry repeats the idempotent refund and fails the order.
        Point {
            name: "shipping and refund both down: kept paid, then refunded on the retry",
            faults: vec![("shipping", SHIP, Fail(503)), ("payment", REFUND, Fail(503))],
            first: 503,
            settles: "failed",
        },
        Point { name: "order completed, checkout's answer lost", faults: vec![("checkout", PLACE, ForwardThenReset)], first: 503, settles: "completed" },
        Point { name: "order completed, checkout's answer a 500", faults: vec![("checkout", PLACE, ForwardThenFail(500))], first: 503, settles: "completed" },
        Point { name: "email down", faults: vec![("email", SEND, Fail(503))], first: 303, settles: "completed" },
        Point { name: "email sent, answer lost", faults: vec![("email", SEND, ForwardThenReset)], first: 303, settles: "completed" },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_invariants_hold_at_every_failure_point_and_after_a_retry() -> Result<()> {
    let w = world(None).await?;
    let mut expected_orders = 0;
    for point in points() {
        let what = point.name;
        let mut b = w.shop.browser();
        add(&mut b, MUG, 2).await?;
        add(&mut b, TEE, 1).await?;
        let attempt = checkout_attempt(&mut b).await?;
        let fields = checkout_fields(GOOD_CARD, &attempt);
        for (service, path, mode) in &point.faults {
            let s = w.service(service);
            s.set(path, mode.clone());
        }
        let first = b.post("/checkout", &fields).await?;
        for (service, path, mode) in &point.faults {
            let s = w.service(service);
            ensure!(s.seen().iter().any(|c| c.path == *path && c.mode == *mode), "{what}: the fault at {path} was never hit");
        }
        let first_status = first.status;
        ensure!(first_status == point.first, "{what}: first submission answered {} (expected {}): {}", first.status, point.first, first.body);
        let after_failure = books(&w.shop).await?;
        after_failure.check_safe().with_context(|| format!("{what}: right after the failure"))?;

        w.heal();
        // The shopper presses the button again (the browser re-sends the same form).
        let retry = b.post("/checkout", &fields).await?;
        ensure!(retry.status == 303, "{what}: the retry answered {}: {}", retry.status, retry.body);
        let order_id = placed_order_id(&retry).with_context(|| format!("{what}: the retry lands on an order"))?;
        if first.status == 303 {
            ensure!(placed_order_id(&first).as_deref() == Some(order_id.as_str()), "{what}: the retry answered another order");
        }
        // A third submission changes nothing.
        let third = b.post("/checkout", &fields).await?;
        ensure!(placed_order_id(&third).as_deref() == Some(order_id.as_str()), "{what}: a third submission answered another order");

        let settled = books(&w.shop).await?;
        settled.check_settled().with_context(|| format!("{what}: after the retry"))?;
        expected_orders += 1;
        ensure!(settled.orders.len() == expected_orders, "{what}: {} orders for {expected_orders} attempts", settled.orders.len());
        let order = settled.orders.iter().find(|o| o.order_id == order_id).context("the order is stored")?;
        ensure!(order.attempt_id == attempt, "{what}: the order belongs to another attempt");
        ensure!(order.status == point.settles, "{what}: settled as {} (expected {})", order.status, point.settles);
        let charges: Vec<_> = settled.charges.iter().filter(|c| c.key == order_id).collect();
        ensure!(charges.len() == 1, "{what}: {} charges for the attempt", charges.len());
        let refunded = settled.refunds.contains(&charges[0].transaction_id);
        ensure!(refunded == (point.settles == "failed"), "{what}: refunded = {refunded}");
        if point.settles == "completed" {
            ensure!(order.email_sent, "{what}: the confirmation was not sent after the retry");
            ensure!(cart(&w.shop, &b).await?.is_empty(), "{what}: the cart was not emptied");
            let page = b.follow(&retry).await?;
            ensure!(page.status == 200 && page.body.contains(&order_id), "{what}: the confirmation page");
        } else {
            ensure!(cart(&w.shop, &b).await?.get(MUG) == Some(&2), "{what}: the cart was not kept for another try");
            // A new attempt goes through.
            let attempt = checkout_attempt(&mut b).await?;
            let again = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
            ensure!(again.status == 303, "{what}: a new attempt: {} {}", again.status, again.body);
            expected_orders += 1;
            books(&w.shop).await?.check_settled().with_context(|| format!("{what}: after a new attempt"))?;
        }
    }
    // Exactly one email per completed order, however often answers were lost.
    let stored = books(&w.shop).await?;
    ensure!(outbox_len(&w.shop).await? == stored.completed().len(), "one email per completed order");
    Ok(())
}

/// The database goes away after the charge and before it is recorded: the order stays pending
/// with a charge that names it; when the database is back, the retry records that same charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_lost_between_charge_and_record() -> Result<()> {
    let mut pg = PrivatePostgres::start()?;
    let w = world(Some(pg.addr())).await?;
    let (mut b, fields) = charge_then_lose_the_database(&w, &mut pg).await?;
    let stored = books_when_up(&w.shop).await?;
    stored.check_safe()?;
    ensure!(stored.orders.len() == 1 && stored.orders[0].status == "pending" && stored.charges.len() == 1, "{stored:#?}");

    w.heal();
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let retry = b.post("/checkout", &fields).await?;
    ensure!(retry.status == 303, "the retry: {} {}", retry.status, retry.body);
    let stored = books(&w.shop).await?;
    stored.check_settled()?;
    ensure!(stored.completed().len() == 1 && stored.charges.len() == 1 && stored.transactions.len() == 1, "{stored:#?}");
    Ok(())
}

/// The books once the restarted database answers (up to 60 s: a busy machine's margin).
async fn books_when_up(shop: &Shop) -> Result<Books> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(b) = books(shop).await {
            return Ok(b);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    books(shop).await
}
