//! The steps after the charge, shared by a shopper's checkout (`place_order.rs`) and the
//! reconciler (`reconcile.rs`): ship with the order id as idempotency key, refund and fail when
//! shipping fails, then take the ordered lines out of the cart and send the one final email.
//! Failing an order gives its stock back (products' `inventory.release`), whichever path failed it.
use serde_json::{json, Map, Value};
use shop_contract::{carts, email, inventory, payment, shipping};
use shop_contract::{ErrorCode, Order, OrderStatus, ShopError};
use shop_domain::checkout::{reconciler_recovery, recovery, Failure, Recovery, Step};

use crate::services::Services;
use crate::store::Store;

/// Who the outcome is for: the shopper waiting on the page, or nobody (the reconciler, whose
/// failures owe the shopper a failure notice).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Shopper,
    Reconciler,
}

pub struct Fulfilment {
    pub store: Store,
    pub services: Services,
    pub audience: Audience,
}

impl Fulfilment {
    pub fn open(audience: Audience) -> Result<Self, ShopError> {
        Ok(Fulfilment {
            store: Store::open()?,
            services: Services::from_config()?,
            audience,
        })
    }

    /// Ship a paid order's lines, once per order (paid → completed, or failed and refunded).
    pub async fn ship(&self, order: Order) -> Result<Order, ShopError> {
        match self.shipment(&order).await {
            Ok(shipment) => {
                let order = Order {
                    status: OrderStatus::Completed,
                    tracking_id: Some(shipment.tracking_id),
                    ..order
                };
                if !self.store.complete(&order)? {
                    return self.reload(&order.order_id);
                }
                log("info", "order completed", &order, []);
                Ok(order)
            }
            Err(e) => match self.recover(&order, Step::Ship, e).await {
                Recovered::Answer(e) => Err(e),
                Recovered::MovedOn => self.reload(&order.order_id),
            },
        }
    }

    /// The shipment of the order's lines, with the order id as idempotency key (a repeat
    /// answers the same shipment).
    pub async fn shipment(&self, order: &Order) -> Result<shipping::Shipment, ShopError> {
        let items = order
            .lines
            .iter()
            .map(|l| shipping::ShipItem {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect();
        let req = shipping::ShipRequest {
            idempotency_key: order.order_id.clone(),
            address: order.address.clone(),
            items,
            currency: order.total.currency.clone(),
        };
        self.services.shipping.call(shipping::ops::ship_order, &req).await
    }

    /// A paid order whose refund was started (and whose failure was not recorded): repeat the
    /// idempotent refund and record the failure; never ship it.
    pub async fn finish_refund(&self, order: Order) -> Result<Order, ShopError> {
        let failed = ShopError::unavailable("the shipment could not be arranged");
        if let Recovered::Answer(e) = self.refund_and_fail(&order, Failure::Unknown, failed).await {
            let now = self.reload(&order.order_id)?;
            // Still paid: the refund failed again; otherwise answer with the failed order.
            return if now.status == OrderStatus::Paid { Err(e) } else { Ok(now) };
        }
        self.reload(&order.order_id)
    }

    /// After a failed step: apply the recovery shop-domain decides, and return what to answer.
    pub async fn recover(&self, order: &Order, step: Step, error: ShopError) -> Recovered {
        let failure = match error.code {
            ErrorCode::Unavailable | ErrorCode::Internal => Failure::Unknown,
            _ => Failure::Refused,
        };
        let decided = match self.audience {
            Audience::Shopper => recovery(step, failure),
            Audience::Reconciler => reconciler_recovery(step, failure),
        };
        match decided {
            // A decline keeps its 402 and reason, so the form can show it.
            Recovery::Fail => {
                self.fail(order, &error.message, step_name(step)).await;
                Recovered::Answer(error)
            }
            Recovery::KeepForRetry => Recovered::Answer(match step {
                Step::Charge => ShopError::unavailable(
                    "We couldn't reach the payment service. Please try again in a moment; you won't be charged twice",
                ),
                Step::Ship => ShopError::unavailable(format!("shipping unavailable, kept for the next run: {}", error.message)),
            }),
            Recovery::RefundThenFail => self.refund_and_fail(order, failure, error).await,
        }
    }

    async fn refund_and_fail(&self, order: &Order, failure: Failure, error: ShopError) -> Recovered {
        let Some(transaction_id) = order.transaction_id.clone() else {
            return Recovered::Answer(ShopError::internal("A paid order has no transaction id"));
        };
        // First mark it as being refunded, so that it can never complete afterwards (another
        // request's shipment, or a retry after the failure could not be recorded).
        match self.store.start_refund(&order.order_id) {
            Ok(true) => {}
            Ok(false) => return Recovered::MovedOn,
            Err(e) => return Recovered::Answer(e),
        }
        let req = payment::RefundRequest {
            transaction_id,
            reason: format!("shipping failed: {}", error.message),
        };
        if let Err(refund_error) = self.services.payment.call(payment::ops::refund, &req).await {
            let extra = [
                ("shipping_error", json!(error.message)),
                ("refund_error", json!(refund_error.message)),
            ];
            log("error", "shipping and refund failed; order kept as paid", order, extra);
            return Recovered::Answer(ShopError::unavailable(
                "We couldn't arrange shipping right now. Your order is saved: please try again in a moment",
            ));
        }
        Recovered::Answer(match failure {
            Failure::Unknown => {
                let message = "We couldn't arrange shipping right now, so we refunded your payment. Please try again in a moment";
                self.fail(order, message, "ship").await;
                ShopError::unavailable(message)
            }
            Failure::Refused => {
                let message = format!(
                    "We couldn't ship your order ({}), so we refunded your payment",
                    error.message
                );
                self.fail(order, &message, "ship").await;
                ShopError::unprocessable(message)
            }
        })
    }

    /// Marks the order failed (and its stock due for release, in the same statement), then gives
    /// the stock back; if the failure cannot be stored, the order stays as it was (logged).
    /// `step` names the step that failed (`reserve`, `charge`, `ship`, `settle`), for the log
    /// line operators count. Only the call that failed the order releases its stock: another
    /// request that failed it first does so itself (or, if it could not, the reconciler does).
    pub async fn fail(&self, order: &Order, message: &str, step: &str) -> Failed {
        let notice_due = self.audience == Audience::Reconciler;
        let outcome = self.store.mark_failed(&order.order_id, message, notice_due);
        let extra = [
            ("failure", json!(message)),
            ("step", json!(step)),
            ("stored", json!(matches!(outcome, Ok(true)))),
        ];
        log(
            if outcome.is_ok() { "info" } else { "error" },
            "order failed",
            order,
            extra,
        );
        match outcome {
            Ok(true) => Failed::Now {
                stock_released: self.release_stock(order).await.is_ok(),
            },
            Ok(false) | Err(_) => Failed::NotByThisCall,
        }
    }

    /// Gives a failed order's units back to the stock (idempotent: products releases an order
    /// once) and records that nothing is due any more. On failure the flag stays set and the
    /// reconciler tries again on its next run.
    pub async fn release_stock(&self, order: &Order) -> Result<(), ShopError> {
        let req = inventory::ReleaseRequest {
            order_id: order.order_id.clone(),
        };
        let released = match self.services.inventory.call(inventory::ops::release, &req).await {
            Ok(released) => released.released,
            Err(e) => {
                log("error", "stock not released; the reconciler will retry", order, [("error", json!(e.message))]);
                return Err(e);
            }
        };
        if let Err(e) = self.store.stock_released(&order.order_id) {
            // Released, but still flagged: the reconciler's release finds nothing held (harmless).
            log("error", "stock released; the flag could not be cleared", order, [("error", json!(e.message))]);
            return Err(e);
        }
        log("info", "stock released", order, [("held", json!(released))]);
        Ok(())
    }

    /// The ordered quantities leave the order's cart (one atomic carts call, once per order:
    /// a retried checkout or the reconciler takes nothing more); what the shopper added
    /// meanwhile stays. Failing that does not undo the order (logged).
    pub async fn take_out_of_cart(&self, order: &Order) {
        let req = carts::RemoveLinesRequest {
            session: order.session.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| carts::CartLine { sku: l.sku.clone(), quantity: l.quantity })
                .collect(),
            order_id: Some(order.order_id.clone()),
        };
        if let Err(e) = self.services.carts.call(carts::ops::remove_lines, &req).await {
            log("error", "could not take the ordered lines out of the cart", order, [("error", json!(e.message))]);
        }
    }

    /// Sends a completed order's confirmation; whether it went (failures are logged, and
    /// retried by a repeat of the attempt or the reconciler: email is idempotent per order).
    pub async fn send_confirmation(&self, order: &Order) -> bool {
        let req = email::ConfirmationRequest { order: order.clone() };
        match self.services.email.call(email::ops::send_confirmation, &req).await {
            Ok(_) => true,
            Err(e) => {
                log("error", "order email not sent", order, [("error", json!(e.message))]);
                false
            }
        }
    }

    /// The order's one final email: the confirmation of a completed order, or the failure
    /// notice of one the reconciler failed. Failing it does not undo anything (`email_sent`
    /// stays false and the next reconciler run tries again).
    pub async fn send_final_email(&self, order: Order) -> Order {
        let sent = match order.status {
            OrderStatus::Completed => {
                if !self.send_confirmation(&order).await {
                    return order;
                }
                Ok(())
            }
            OrderStatus::Failed => {
                let req = email::FailureNoticeRequest { order: order.clone() };
                self.services.email.call(email::ops::send_failure_notice, &req).await.map(|_| ())
            }
            OrderStatus::Pending | OrderStatus::Paid => return order,
        };
        match sent {
            Ok(()) => match self.store.mark_email_sent(&order.order_id) {
                Ok(_) => Order {
                    email_sent: true,
                    ..order
                },
                Err(_) => order,
            },
            Err(e) => {
                log("error", "order email not sent", &order, [("error", json!(e.message))]);
                order
            }
        }
    }

    pub fn reload(&self, order_id: &str) -> Result<Order, ShopError> {
        self.store
            .get_by_id(order_id)?
            .ok_or_else(|| ShopError::internal("An order vanished while it was placed"))
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Charge => "charge",
        Step::Ship => "ship",
    }
}

/// What came of [`Fulfilment::fail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// This call failed the order; `stock_released` when its units are back in stock already
    /// (otherwise the reconciler releases them).
    Now { stock_released: bool },
    /// The order had moved on (another request finished or failed it), or the failure could
    /// not be stored: the order is as it was.
    NotByThisCall,
}

/// What came of a failed step.
pub enum Recovered {
    /// Answer with this error (the order was failed, refunded, or kept for a retry).
    Answer(ShopError),
    /// Another request moved the order on meanwhile: answer with it as stored.
    MovedOn,
}

/// One log line about an order (never the card or the address).
pub fn log<const N: usize>(level: &str, msg: &str, order: &Order, extra: [(&str, Value); N]) {
    let mut fields = Map::new();
    fields.insert("order_id".into(), json!(order.order_id));
    fields.insert("total_minor".into(), json!(order.total.minor));
    fields.insert("currency".into(), json!(order.total.currency));
    for (k, v) in extra {
        fields.insert(k.into(), v);
    }
    shop_spin::log::line(level, msg, fields);
}
