//! Placing an order, idempotently per checkout attempt `(session, attempt_id)`.
//!
//! 1. Validate everything first (session, attempt id, email, address, card): 400 with every
//!    field error, nothing stored, nothing called.
//! 2. If the attempt already has an order, pick up where it is (`shop_domain::checkout::resume_from`):
//!    completed or failed → answer with it (nothing is charged again; a new try is a new attempt);
//!    pending → resume at the charge; paid → resume at the shipment. The same attempt with
//!    another email or address → 409.
//! 3. Otherwise read the cart (empty → 422), price all lines with one catalog call (a SKU no
//!    longer sold → 409), quote shipping, and total it with shop-domain in integer minor units.
//! 4. Save the order as `pending` with its lines in one statement. Of two concurrent requests
//!    for one attempt, one loses on the unique (session, attempt_id) and continues with the
//!    winner's order as in step 2.
//! 5. Charge the total with the order id as idempotency key, so no retry can charge twice.
//!    Declined → order `failed` with the reason, 402. Payment unreachable → the order stays
//!    `pending`, 503: repeating the attempt resumes here.
//! 6. Record the transaction (`paid`) and ship with the order id as idempotency key. Shipping
//!    fails → refund, order `failed`, 503 (carrier unreachable) or 422 (refused). If the refund
//!    fails too, the order stays `paid` (a charge always has its order) and a repeat resumes at 6.
//! 7. Record the tracking id (`completed`), then empty the cart and send the confirmation, both
//!    at once. These last two only log their failures: the order is placed (`email_sent` tells,
//!    and a repeat of the attempt retries the email).
//!
//! A status change that finds the order already moved on (a concurrent request for the same
//! attempt) answers with the order as stored.

use serde_json::{json, Map, Value};
use shop_contract::checkout::PlaceOrderRequest;
use shop_contract::{carts, catalog, email, payment, shipping};
use shop_contract::{CardDetails, ErrorCode, FieldError, Order, OrderLine, OrderStatus, ShopError};
use shop_spin::wire::{address_from_wire, address_to_wire, card_from_wire, money_to_wire};
use shop_domain::checkout::{recovery, resume_from, Failure, Recovery, Resume, Step};
use shop_domain::{
    order, Address, Currency, EmailAddress, IdempotencyKey, Money, OrderId,
    PricingError, Quantity, SessionId, Sku,
};

use crate::services::Services;
use crate::store::Store;

/// A place-order request that passed validation.
struct Checkout {
    session: SessionId,
    attempt: IdempotencyKey,
    email: EmailAddress,
    address: Address,
    /// Checked here; sent on to payment as typed (payment validates it again).
    card: CardDetails,
}

/// One request placing an order: the validated input and what it works with.
struct PlaceOrder {
    checkout: Checkout,
    store: Store,
    services: Services,
}

pub async fn place_order(req: PlaceOrderRequest) -> Result<Order, ShopError> {
    let checkout = validate(req)?;
    let run = PlaceOrder {
        checkout,
        store: Store::open()?,
        services: Services::from_config()?,
    };
    let order = match run.existing_order()? {
        Some(order) => order,
        None => run.create_order().await?,
    };
    run.continue_order(order).await
}

/// Step 1: every field, all problems at once.
fn validate(req: PlaceOrderRequest) -> Result<Checkout, ShopError> {
    let mut errors = Vec::new();
    let session = SessionId::parse(&req.session)
        .map_err(|e| errors.push(FieldError::new("session", e.to_string())))
        .ok();
    let attempt = IdempotencyKey::parse(&req.attempt_id)
        .map_err(|e| errors.push(FieldError::new("attempt_id", e.to_string())))
        .ok();
    let email = EmailAddress::parse(&req.email)
        .map_err(|e| errors.push(FieldError::new("email", e.to_string())))
        .ok();
    let address = address_from_wire(req.address, "address.", &mut errors);
    let card_ok = card_from_wire(&req.card, &mut errors).is_some();
    match (session, attempt, email, address) {
        (Some(session), Some(attempt), Some(email), Some(address)) if card_ok => Ok(Checkout {
            session,
            attempt,
            email,
            address,
            card: req.card,
        }),
        _ => Err(ShopError::invalid_fields(errors)),
    }
}

impl PlaceOrder {
    /// Step 2: the attempt's order, if it has one.
    fn existing_order(&self) -> Result<Option<Order>, ShopError> {
        let Some(order) = self
            .store
            .find_attempt(self.session(), self.checkout.attempt.as_str())?
        else {
            return Ok(None);
        };
        if order.email != self.checkout.email.as_str()
            || order.address != address_to_wire(&self.checkout.address)
        {
            return Err(ShopError::conflict(
                "This checkout was already used to place an order with other details; reload the checkout page and try again",
            ));
        }
        Ok(Some(order))
    }

    /// Steps 3 and 4: price the cart and save the order as pending.
    async fn create_order(&self) -> Result<Order, ShopError> {
        let (lines, totals) = self.price_cart().await?;
        let order = Order {
            order_id: new_order_id().to_string(),
            session: self.session().to_string(),
            status: OrderStatus::Pending,
            email: self.checkout.email.to_string(),
            address: address_to_wire(&self.checkout.address),
            lines,
            subtotal: money_to_wire(totals.subtotal()),
            shipping: money_to_wire(totals.shipping()),
            total: money_to_wire(totals.total()),
            transaction_id: None,
            tracking_id: None,
            failure: None,
            created_at: String::new(),
            email_sent: false,
        };
        if let Some(created_at) = self.store.insert_pending(&order, self.checkout.attempt.as_str())? {
            log("info", "order created", &order, []);
            return Ok(Order { created_at, ..order });
        }
        // A concurrent request for the same attempt saved its order first: go on with that one.
        self.existing_order()?.ok_or_else(|| {
            ShopError::internal("The order of this checkout attempt vanished while it was placed")
        })
    }

    /// Step 3: the cart's lines at catalog prices, and the order totals.
    async fn price_cart(&self) -> Result<(Vec<OrderLine>, shop_domain::OrderTotals), ShopError> {
        let cart_ref = carts::CartRef {
            session: self.session().to_string(),
        };
        let cart = self
            .services
            .carts
            .call(carts::ops::get_cart, &cart_ref)
            .await?;
        if cart.lines.is_empty() {
            return Err(ShopError::unprocessable("Your cart is empty"));
        }
        let skus = cart.lines.iter().map(|l| l.sku.clone()).collect();
        let found = self
            .services
            .products
            .call(
                catalog::ops::get_products,
                &catalog::GetProductsRequest { skus },
            )
            .await?;

        let mut priced = Vec::with_capacity(cart.lines.len());
        let mut missing = Vec::new();
        for line in &cart.lines {
            match found
                .products
                .iter()
                .find(|p| p.sku.trim().eq_ignore_ascii_case(line.sku.trim()))
            {
                Some(product) => priced.push((domain_line(product, line)?, product.image.clone())),
                None => missing.push(line.sku.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(ShopError::conflict(format!(
                "Some items in your cart are no longer sold ({}); remove them and try again",
                missing.join(", ")
            )));
        }
        let domain_lines: Vec<shop_domain::OrderLine> =
            priced.iter().map(|(l, _)| l.clone()).collect();
        let currency = domain_lines
            .first()
            .map(|l| l.unit_price.currency())
            .ok_or_else(|| ShopError::unprocessable("Your cart is empty"))?;
        let shipping = self
            .quote_shipping(order::item_count(&domain_lines), currency)
            .await?;
        let totals = order::price_order(&domain_lines, shipping).map_err(|e| match e {
            PricingError::CurrencyMismatch { .. } => ShopError::conflict(e.to_string()),
            _ => ShopError::unprocessable(e.to_string()),
        })?;
        let lines = priced
            .into_iter()
            .map(|(line, image)| {
                let line_total = line
                    .line_total()
                    .map_err(|_| ShopError::unprocessable("Order total is too large"))?;
                Ok(OrderLine {
                    sku: line.sku.to_string(),
                    name: line.name,
                    image,
                    unit_price: money_to_wire(line.unit_price),
                    quantity: line.quantity.get(),
                    line_total: money_to_wire(line_total),
                })
            })
            .collect::<Result<Vec<_>, ShopError>>()?;
        Ok((lines, totals))
    }

    async fn quote_shipping(
        &self,
        item_count: u32,
        currency: Currency,
    ) -> Result<Money, ShopError> {
        let req = shipping::QuoteRequest {
            country: self.checkout.address.country().code().to_string(),
            item_count,
            currency: currency.code().to_string(),
        };
        let quote = self
            .services
            .shipping
            .call(shipping::ops::get_quote, &req)
            .await
            .map_err(|e| match e.code {
                ErrorCode::Unavailable | ErrorCode::Internal => e,
                _ => ShopError::unprocessable(format!("We can't ship this order: {}", e.message)),
            })?;
        Currency::parse(&quote.cost.currency)
            .ok()
            .filter(|c| *c == currency)
            .and_then(|c| Money::new(quote.cost.minor, c).ok())
            .ok_or_else(|| {
                ShopError::internal("The shipping service answered with an unexpected price")
            })
    }

    /// Steps 5 to 7, from wherever the order is.
    async fn continue_order(&self, mut order: Order) -> Result<Order, ShopError> {
        if resume_from(domain_status(order.status)) == Resume::Charge {
            order = self.charge(order).await?;
        }
        let mut shipped_now = false;
        if resume_from(domain_status(order.status)) == Resume::Ship {
            order = self.ship(order).await?;
            shipped_now = order.status == OrderStatus::Completed;
        }
        let email_due = order.status == OrderStatus::Completed && !order.email_sent;
        // Emptying the cart and the confirmation are independent: both at once.
        let empty_cart = async {
            if shipped_now {
                self.empty_cart().await;
            }
        };
        let confirmation = async {
            if email_due {
                self.send_confirmation(order).await
            } else {
                order
            }
        };
        Ok(futures::join!(empty_cart, confirmation).1)
    }

    /// Step 5: charge the total, once per order.
    async fn charge(&self, order: Order) -> Result<Order, ShopError> {
        let req = payment::ChargeRequest {
            idempotency_key: order.order_id.clone(),
            amount: order.total.clone(),
            card: self.checkout.card.clone(),
        };
        match self.services.payment.call(payment::ops::charge, &req).await {
            Ok(receipt) => {
                if !self
                    .store
                    .mark_paid(&order.order_id, &receipt.transaction_id)?
                {
                    return self.reload(&order.order_id);
                }
                Ok(Order {
                    status: OrderStatus::Paid,
                    transaction_id: Some(receipt.transaction_id),
                    ..order
                })
            }
            Err(e) => Err(self.recover(&order, Step::Charge, e).await),
        }
    }

    /// Step 6: ship the lines, once per order.
    async fn ship(&self, order: Order) -> Result<Order, ShopError> {
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
        match self
            .services
            .shipping
            .call(shipping::ops::ship_order, &req)
            .await
        {
            Ok(shipment) => {
                if !self
                    .store
                    .mark_completed(&order.order_id, &shipment.tracking_id)?
                {
                    return self.reload(&order.order_id);
                }
                let order = Order {
                    status: OrderStatus::Completed,
                    tracking_id: Some(shipment.tracking_id),
                    ..order
                };
                log("info", "order completed", &order, []);
                Ok(order)
            }
            Err(e) => Err(self.recover(&order, Step::Ship, e).await),
        }
    }

    /// After a failed step: apply the recovery shop-domain decides, and return what to answer.
    async fn recover(&self, order: &Order, step: Step, error: ShopError) -> ShopError {
        let failure = match error.code {
            ErrorCode::Unavailable | ErrorCode::Internal => Failure::Unknown,
            _ => Failure::Refused,
        };
        match recovery(step, failure) {
            // A decline keeps its 402 and reason, so the form can show it.
            Recovery::Fail => {
                self.fail(order, &error.message);
                error
            }
            Recovery::KeepForRetry => ShopError::unavailable(
                "We couldn't reach the payment service. Please try again in a moment; you won't be charged twice",
            ),
            Recovery::RefundThenFail => self.refund_and_fail(order, failure, error).await,
        }
    }

    async fn refund_and_fail(
        &self,
        order: &Order,
        failure: Failure,
        error: ShopError,
    ) -> ShopError {
        let Some(transaction_id) = order.transaction_id.clone() else {
            return ShopError::internal("A paid order has no transaction id");
        };
        let req = payment::RefundRequest {
            transaction_id,
            reason: format!("shipping failed: {}", error.message),
        };
        if let Err(refund_error) = self.services.payment.call(payment::ops::refund, &req).await {
            let extra = [
                ("shipping_error", json!(error.message)),
                ("refund_error", json!(refund_error.message)),
            ];
            log(
                "error",
                "shipping and refund failed; order kept as paid",
                order,
                extra,
            );
            return ShopError::unavailable(
                "We couldn't arrange shipping right now. Your order is saved: please try again in a moment",
            );
        }
        match failure {
            Failure::Unknown => {
                let message = "We couldn't arrange shipping right now, so we refunded your payment. Please try again in a moment";
                self.fail(order, message);
                ShopError::unavailable(message)
            }
            Failure::Refused => {
                let message = format!(
                    "We couldn't ship your order ({}), so we refunded your payment",
                    error.message
                );
                self.fail(order, &message);
                ShopError::unprocessable(message)
            }
        }
    }

    /// Marks the order failed; if that cannot be stored, the order stays as it was (logged).
    fn fail(&self, order: &Order, message: &str) {
        let outcome = self.store.mark_failed(&order.order_id, message);
        let extra = [
            ("failure", json!(message)),
            ("stored", json!(outcome.is_ok())),
        ];
        log(
            if outcome.is_ok() { "info" } else { "error" },
            "order failed",
            order,
            extra,
        );
    }

    /// Step 7: the bought items leave the cart; failing that does not undo the order.
    async fn empty_cart(&self) {
        let cart_ref = carts::CartRef {
            session: self.session().to_string(),
        };
        if let Err(e) = self
            .services
            .carts
            .call(carts::ops::empty_cart, &cart_ref)
            .await
        {
            shop_spin::log::error(&format!(
                "could not empty the cart after an order: {}",
                e.message
            ));
        }
    }

    /// Step 7: the confirmation email; failing it does not undo the order (`email_sent` stays false).
    async fn send_confirmation(&self, order: Order) -> Order {
        let req = email::ConfirmationRequest {
            order: order.clone(),
        };
        match self
            .services
            .email
            .call(email::ops::send_confirmation, &req)
            .await
        {
            Ok(_) => match self.store.mark_email_sent(&order.order_id) {
                Ok(_) => Order {
                    email_sent: true,
                    ..order
                },
                Err(_) => order,
            },
            Err(e) => {
                log(
                    "error",
                    "confirmation email not sent",
                    &order,
                    [("error", json!(e.message))],
                );
                order
            }
        }
    }

    fn reload(&self, order_id: &str) -> Result<Order, ShopError> {
        self.store
            .get(self.session(), order_id)?
            .ok_or_else(|| ShopError::internal("An order vanished while it was placed"))
    }

    fn session(&self) -> &str {
        self.checkout.session.as_str()
    }
}

/// A cart line at the product's catalog price. Upstream data that breaks the rules is a bug (500).
fn domain_line(
    product: &shop_contract::Product,
    line: &carts::CartLine,
) -> Result<shop_domain::OrderLine, ShopError> {
    let unit_price = Currency::parse(&product.price.currency)
        .and_then(|c| Money::new(product.price.minor, c))
        .map_err(|e| {
            ShopError::internal(format!("product {} has an invalid price: {e}", product.sku))
        })?;
    Ok(shop_domain::OrderLine {
        sku: Sku::parse(&product.sku)
            .map_err(|e| ShopError::internal(format!("invalid SKU from the catalog: {e}")))?,
        name: product.name.clone(),
        unit_price,
        quantity: Quantity::new(line.quantity)
            .map_err(|e| ShopError::internal(format!("invalid quantity in the cart: {e}")))?,
    })
}

fn domain_status(status: OrderStatus) -> shop_domain::OrderStatus {
    match status {
        OrderStatus::Pending => shop_domain::OrderStatus::Pending,
        OrderStatus::Paid => shop_domain::OrderStatus::Paid,
        OrderStatus::Completed => shop_domain::OrderStatus::Completed,
        OrderStatus::Failed => shop_domain::OrderStatus::Failed,
    }
}

fn new_order_id() -> OrderId {
    let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
    // XOR mixes away the UUID's fixed version bits, leaving 64 random bits for the 60 used.
    OrderId::from_random((high ^ low).to_be_bytes())
}

/// One log line about an order (never the card or the address).
fn log<const N: usize>(level: &str, msg: &str, order: &Order, extra: [(&str, Value); N]) {
    let mut fields = Map::new();
    fields.insert("order_id".into(), json!(order.order_id));
    fields.insert("total_minor".into(), json!(order.total.minor));
    fields.insert("currency".into(), json!(order.total.currency));
    for (k, v) in extra {
        fields.insert(k.into(), v);
    }
    shop_spin::log::line(level, msg, fields);
}
