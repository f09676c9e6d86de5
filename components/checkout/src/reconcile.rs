//! The reconciler: drives orders that outages left `pending` or `paid` to a final state, with
//! the same idempotency keys checkout uses (the order id), so it never charges or ships twice.
//!
//! - pending → payment's ledger settles the key (`payment.settle`): the charge made with it
//!   (→ paid, then shipped as below), or none, and then no charge can ever be made with it
//!   (→ failed, "not charged"). The reconciler never charges: it has no card.
//! - paid → ship; shipping refuses → refund and fail; shipping unreachable, or the refund fails
//!   → stays paid for the next run (a charge always has its order). A paid order whose refund
//!   was started is only ever refunded and failed.
//! - completed, or failed by the reconciler → take the ordered items out of the cart (completed)
//!   and send the one final email: the confirmation, or the failure notice.
//! - failed with its stock still held (`stock_release_due`: the request that failed it could not
//!   release it) → release it at products (idempotent). Every order the reconciler fails has its
//!   stock released at once, too: a pending order that never completes is how reserved stock
//!   comes back (there is no clock-based release in products).
//!
//! Safe with shoppers retrying the same attempt and with other reconcilers: orders are taken
//! after a grace period under a lease (claimed with `FOR UPDATE SKIP LOCKED`; a shopper's request
//! resuming an order holds one too); every status change is conditional; payment, shipping and
//! email are idempotent per order. Only orders created within `RECONCILE_MAX_AGE` are driven;
//! older unfinished ones are reported stuck, for an operator.
use std::time::Duration;

use serde_json::json;
use shop_contract::checkout::{ReconcileReport, ReconcileRequest, ReconciledOrder};
use shop_contract::{payment, FieldError, Order, OrderStatus, ShopError};
use shop_domain::checkout::{
    reconcile as step_for, Reconcile, RECONCILE_ALERT_MAX, RECONCILE_ALERT_MIN, RECONCILE_GRACE_MAX,
    RECONCILE_LIMIT_MAX, RECONCILE_MAX_AGE,
};
use shop_spin::wire::order_status_from_wire;

use crate::fulfil::{log, Audience, Failed, Fulfilment};
use crate::store::{Claim, Claimed};

/// How long a reconciler holds an order it took: longer than its slowest path (settle, ship,
/// refund and email, all inside the run's budget below).
const LEASE_SECONDS: u32 = 120;

/// The run's budget for its calls to other services, counted from the request's start: the
/// operator API waits at most `shop_spin::rpc::CALL_TIMEOUT` (10 s) for the report.
const RUN_BUDGET: Duration = Duration::from_secs(7);

/// No new order is started with less than this left of the budget.
const ORDER_RESERVE: Duration = Duration::from_secs(2);

/// The failure recorded when the ledger shows no charge for a pending order.
const NOT_CHARGED: &str = "We could not confirm your payment in time, so we cancelled this order";

pub async fn reconcile(authorization: Option<&str>, req: ReconcileRequest) -> Result<ReconcileReport, ShopError> {
    shop_spin::config::require_operator(authorization)?;
    validate(&req)?;
    shop_spin::serve::limit_request_budget(RUN_BUDGET);
    let run = Fulfilment::open(Audience::Reconciler)?;
    let lease = format!("reconciler:{}", uuid::Uuid::new_v4().simple());
    let Claimed { orders: taken, refunding, release_due } = run.store.claim_unfinished(&Claim {
        grace_seconds: req.grace_seconds,
        limit: req.limit,
        lease_seconds: LEASE_SECONDS,
        lease: &lease,
        max_age_seconds: RECONCILE_MAX_AGE,
    })?;
    let mut report = ReconcileReport {
        orders: Vec::with_capacity(taken.len()),
        completed: 0,
        failed: 0,
        unfinished: 0,
        emails_sent: 0,
        stuck: 0,
    };
    for order in taken {
        let order_id = order.order_id.clone();
        let before = order.status;
        let emailed_before = order.email_sent;
        let (after, action) = if shop_spin::serve::request_budget_left() < ORDER_RESERVE {
            (order, "deferred to the next run (this run's time is up)".to_string())
        } else {
            drive(&run, order, refunding.contains(&order_id), release_due.contains(&order_id)).await
        };
        match after.status {
            OrderStatus::Pending | OrderStatus::Paid => report.unfinished += 1,
            OrderStatus::Completed if before != OrderStatus::Completed => report.completed += 1,
            OrderStatus::Failed if before != OrderStatus::Failed => report.failed += 1,
            OrderStatus::Completed | OrderStatus::Failed => {}
        }
        if after.email_sent && !emailed_before {
            report.emails_sent += 1;
        }
        // The lease ends either way: an unfinished order is taken again by a later run.
        if let Err(e) = run.store.release(&order_id, &lease) {
            shop_spin::log::error(&format!("could not release the reconciler's lease on {order_id}: {}", e.message));
        }
        log("info", "order reconciled", &after, [("before", json!(status_name(before))), ("action", json!(action))]);
        report.orders.push(ReconciledOrder {
            order_id,
            before,
            after: after.status,
            action,
        });
    }
    // After the run, so that what it settled is not counted. (Each order's outcome is logged
    // above, so should this fail, nothing done is unrecorded.)
    let (stuck, oldest) = run.store.stuck(req.alert_seconds)?;
    report.stuck = stuck;
    if stuck > 0 {
        let mut fields = serde_json::Map::new();
        fields.insert("stuck".into(), json!(stuck));
        fields.insert("alert_seconds".into(), json!(req.alert_seconds));
        fields.insert("oldest_order_ids".into(), json!(oldest));
        shop_spin::log::line("error", "orders stuck beyond the alert threshold", fields);
    }
    Ok(report)
}

fn validate(req: &ReconcileRequest) -> Result<(), ShopError> {
    let mut errors = Vec::new();
    if req.grace_seconds > RECONCILE_GRACE_MAX {
        errors.push(FieldError::new("grace_seconds", format!("The grace period must be from 0 to {RECONCILE_GRACE_MAX} seconds")));
    }
    if !(RECONCILE_ALERT_MIN..=RECONCILE_ALERT_MAX).contains(&req.alert_seconds) {
        errors.push(FieldError::new(
            "alert_seconds",
            format!("The alert threshold must be from {RECONCILE_ALERT_MIN} to {RECONCILE_ALERT_MAX} seconds"),
        ));
    }
    if !(1..=RECONCILE_LIMIT_MAX).contains(&req.limit) {
        errors.push(FieldError::new("limit", format!("The limit must be from 1 to {RECONCILE_LIMIT_MAX}")));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ShopError::invalid_fields(errors))
    }
}

/// Takes one order as far as it can go now; returns it as stored and what was done, in words.
async fn drive(run: &Fulfilment, order: Order, refund_started: bool, release_due: bool) -> (Order, String) {
    let email_owed = !order.email_sent;
    let step = step_for(order_status_from_wire(order.status), email_owed);
    if release_due && order.status == OrderStatus::Failed {
        let released = match run.release_stock(&order).await {
            Ok(()) => "stock released".to_string(),
            Err(e) => format!("stock release failed, kept for the next run: {}", e.message),
        };
        return match step {
            Reconcile::Email => email(run, order, &format!("failed; {released}")).await,
            _ => (order, released),
        };
    }
    match step {
        Reconcile::Settle => settle(run, order).await,
        Reconcile::Ship if refund_started => refund(run, order).await,
        Reconcile::Ship => ship(run, order, "charged").await,
        Reconcile::Email => email(run, order, "finished").await,
        Reconcile::Nothing => (order, "nothing to do".into()),
    }
}

async fn settle(run: &Fulfilment, order: Order) -> (Order, String) {
    let req = payment::SettleRequest {
        idempotency_key: order.order_id.clone(),
    };
    match run.services.payment.call(payment::ops::settle, &req).await {
        Ok(payment::Settlement { charged: Some(receipt) }) => match run.store.mark_paid(&order.order_id, &receipt.transaction_id) {
            Ok(true) => {
                let paid = Order {
                    status: OrderStatus::Paid,
                    transaction_id: Some(receipt.transaction_id),
                    ..order
                };
                ship(run, paid, "charge found").await
            }
            // Under the lease nothing else moves it; a lost update leaves it for the next run.
            Ok(false) => as_stored(run, order, "charge found; not recorded"),
            Err(e) => (order, format!("charge found; not recorded: {}", e.message)),
        },
        Ok(payment::Settlement { charged: None }) => match run.fail(&order, NOT_CHARGED, "settle").await {
            Failed::Now { stock_released } => {
                let so_far = if stock_released {
                    "no charge: failed, stock released"
                } else {
                    "no charge: failed, stock release kept for the next run"
                };
                match run.reload(&order.order_id) {
                    Ok(now) => email(run, now, so_far).await,
                    Err(e) => (order, format!("{so_far}; {}", e.message)),
                }
            }
            Failed::NotByThisCall => as_stored(run, order, "no charge; not recorded"),
        },
        Err(e) => (order, format!("payment unavailable: {}", e.message)),
    }
}

async fn ship(run: &Fulfilment, order: Order, so_far: &str) -> (Order, String) {
    match run.ship(order.clone()).await {
        Ok(shipped) if shipped.status == OrderStatus::Completed => {
            run.take_out_of_cart(&shipped).await;
            email(run, shipped, &format!("{so_far}: shipped")).await
        }
        Ok(other) => (other, format!("{so_far}: moved on meanwhile")),
        Err(e) => after_failure(run, order, so_far, e).await,
    }
}

/// A paid order whose refund was started before: refund (idempotent) and fail, never ship.
async fn refund(run: &Fulfilment, order: Order) -> (Order, String) {
    match run.finish_refund(order.clone()).await {
        Ok(now) if now.status == OrderStatus::Failed => email(run, now, "refund finished: failed").await,
        Ok(now) => (now, "refund started earlier; moved on meanwhile".into()),
        Err(e) => (order, format!("refund started earlier; still failing: {}", e.message)),
    }
}

/// After a failed shipment: refunded and failed, or kept paid for the next run, as stored now.
async fn after_failure(run: &Fulfilment, order: Order, so_far: &str, e: ShopError) -> (Order, String) {
    match run.reload(&order.order_id) {
        Ok(now) if now.status == OrderStatus::Failed => email(run, now, &format!("{so_far}: shipping refused, refunded")).await,
        Ok(now) => (now, format!("{so_far}: kept for the next run ({})", e.message)),
        Err(_) => (order, format!("{so_far}: kept for the next run ({})", e.message)),
    }
}

fn as_stored(run: &Fulfilment, order: Order, so_far: &str) -> (Order, String) {
    match run.reload(&order.order_id) {
        Ok(now) => (now, so_far.into()),
        Err(e) => (order, format!("{so_far}: {}", e.message)),
    }
}

/// The final email, if one is owed: the confirmation of a completed order, or the notice of an
/// order the reconciler failed (a shopper's own failures were shown on the page).
async fn email(run: &Fulfilment, order: Order, so_far: &str) -> (Order, String) {
    let owed = !order.email_sent
        && match order.status {
            OrderStatus::Completed => true,
            OrderStatus::Failed => run.store.notice_due(&order.order_id).unwrap_or(false),
            OrderStatus::Pending | OrderStatus::Paid => false,
        };
    if !owed {
        return (order, so_far.into());
    }
    let sent = run.send_final_email(order).await;
    let outcome = if sent.email_sent { "email sent" } else { "email not sent" };
    (sent, format!("{so_far}; {outcome}"))
}

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "pending",
        OrderStatus::Paid => "paid",
        OrderStatus::Completed => "completed",
        OrderStatus::Failed => "failed",
    }
}
