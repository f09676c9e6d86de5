//! The reconciler: drives orders that outages left `pending` or `paid` to a final state, with
//! the same idempotency keys checkout uses (the order id), so it never charges or ships twice.
//!
//! - pending → payment's ledger settles the key (`payment.settle`): the charge made with it
//!   (→ paid, then shipped as below), or none, and then no charge can ever be made with it
//!   (→ failed, "not charged"). The reconciler never charges: it has no card.
//! - paid → ship; shipping refuses or is down → refund and fail; the refund fails → stays paid
//!   for the next run (a charge always has its order).
//! - completed/failed by the reconciler → empty the cart (completed) and send the one final
//!   email: the confirmation, or the failure notice.
//!
//! Safe with shoppers retrying the same attempt and with other reconcilers: orders are taken
//! only after a grace period, with a lease claimed under `FOR UPDATE SKIP LOCKED`; every
//! status change is conditional; payment, shipping and email are idempotent per order.
use serde_json::json;
use shop_contract::checkout::{ReconcileReport, ReconcileRequest, ReconciledOrder};
use shop_contract::{payment, ErrorCode, FieldError, Order, OrderStatus, ShopError};
use shop_domain::checkout::{
    reconcile as step_for, Reconcile, RECONCILE_ALERT_MAX, RECONCILE_ALERT_MIN, RECONCILE_GRACE_MAX,
    RECONCILE_LIMIT_MAX,
};

use crate::fulfil::{log, Audience, Fulfilment};

/// How long a reconciler holds an order it took: longer than its slowest path (settle, ship,
/// refund and email, each bounded by the RPC timeout), so two runs never overlap on it.
const LEASE_SECONDS: u32 = 120;

/// The failure recorded when the ledger shows no charge for a pending order.
const NOT_CHARGED: &str = "We could not confirm your payment in time, so we cancelled this order";

pub async fn reconcile(authorization: Option<&str>, req: ReconcileRequest) -> Result<ReconcileReport, ShopError> {
    shop_spin::config::require_operator(authorization)?;
    validate(&req)?;
    let run = Fulfilment::open(Audience::Reconciler)?;
    let taken = run.store.claim_unfinished(req.grace_seconds, req.limit, LEASE_SECONDS)?;
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
        let (after, action) = drive(&run, order).await;
        match after.status {
            OrderStatus::Pending | OrderStatus::Paid => report.unfinished += 1,
            OrderStatus::Completed if before != OrderStatus::Completed => report.completed += 1,
            OrderStatus::Failed if before != OrderStatus::Failed => report.failed += 1,
            OrderStatus::Completed | OrderStatus::Failed => {}
        }
        if after.email_sent && !emailed_before {
            report.emails_sent += 1;
        }
        // The lease ends either way: an unfinished order is taken again by the next run.
        if let Err(e) = run.store.release(&order_id) {
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
async fn drive(run: &Fulfilment, order: Order) -> (Order, String) {
    let email_owed = !order.email_sent;
    match step_for(shop_spin::wire::order_status_from_wire(order.status), email_owed) {
        Reconcile::Settle => settle(run, order).await,
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
            // Moved on meanwhile (the shopper's retry): take it from where it is now.
            Ok(false) => match run.reload(&order.order_id) {
                Ok(now) if now.status == OrderStatus::Paid => ship(run, now, "charge found").await,
                Ok(now) => (now, "charge found; moved on meanwhile".into()),
                Err(e) => (order, format!("charge found; not recorded: {}", e.message)),
            },
            Err(e) => (order, format!("charge found; not recorded: {}", e.message)),
        },
        Ok(payment::Settlement { charged: None }) => {
            run.fail(&order, NOT_CHARGED);
            match run.reload(&order.order_id) {
                Ok(now) if now.status == OrderStatus::Failed => email(run, now, "no charge: failed").await,
                Ok(now) => (now, "no charge; moved on meanwhile".into()),
                Err(e) => (order, format!("no charge; not recorded: {}", e.message)),
            }
        }
        Err(e) => (order, format!("payment unavailable: {}", e.message)),
    }
}

async fn ship(run: &Fulfilment, order: Order, so_far: &str) -> (Order, String) {
    let order_id = order.order_id.clone();
    match run.ship(order.clone()).await {
        Ok(shipped) if shipped.status == OrderStatus::Completed => {
            run.empty_cart(&shipped.session).await;
            email(run, shipped, &format!("{so_far}: shipped")).await
        }
        Ok(other) => (other, format!("{so_far}: moved on meanwhile")),
        // Refunded and failed, or kept paid because the refund failed: as stored now.
        Err(e) => match run.reload(&order_id) {
            Ok(now) if now.status == OrderStatus::Failed => email(run, now, &format!("{so_far}: shipping failed, refunded")).await,
            Ok(now) => (now, format!("{so_far}: {}", unfinished_reason(&e))),
            Err(_) => (order, format!("{so_far}: {}", unfinished_reason(&e))),
        },
    }
}

async fn email(run: &Fulfilment, order: Order, so_far: &str) -> (Order, String) {
    // Only the reconciler's own failures owe a notice; checkout's were shown on the page.
    let owed = !order.email_sent && (order.status == OrderStatus::Completed || order.status == OrderStatus::Failed);
    if !owed {
        return (order, so_far.into());
    }
    let sent = run.send_final_email(order).await;
    let outcome = if sent.email_sent { "email sent" } else { "email not sent" };
    (sent, format!("{so_far}; {outcome}"))
}

fn unfinished_reason(e: &ShopError) -> String {
    match e.code {
        ErrorCode::Unavailable => format!("unfinished, kept for the next run ({})", e.message),
        _ => format!("unfinished ({})", e.message),
    }
}

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "pending",
        OrderStatus::Paid => "paid",
        OrderStatus::Completed => "completed",
        OrderStatus::Failed => "failed",
    }
}
