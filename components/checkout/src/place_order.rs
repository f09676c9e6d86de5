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

use shop_contract::checkout::PlaceOrderRequest;
use shop_contract::{carts, catalog, payment, shipping};
use shop_contract::{CardDetails, ErrorCode, FieldError, Order, OrderLine, OrderStatus, ShopError};
use shop_spin::wire::{address_from_wire, address_to_wire, card_from_wire, money_to_wire, order_status_from_wire};
use shop_domain::account::AccountId;
use shop_domain::checkout::{resume_from, Resume, Step};
use shop_domain::{
    order, Address, Currency, EmailAddress, IdempotencyKey, Money, OrderId,
    PricingError, Quantity, SessionId, Sku,
};

use crate::fulfil::{log, Audience, Fulfilment, Recovered};

/// A place-order request that passed validation.
struct Checkout {
    session: SessionId,
    /// The signed-in shopper's account, recorded on the order.
    account: Option<AccountId>,
    attempt: IdempotencyKey,
    email: EmailAddress,
    address: Address,
    /// Checked here; sent on to payment as typed (payment validates it again).
    card: CardDetails,
}

/// One request placing an order: the validated input and what it works with.
struct PlaceOrder {
    checkout: Checkout,
    fulfil: Fulfilment,
}

pub async fn place_order(req: PlaceOrderRequest) -> Result<Order, ShopError> {
    let checkout = validate(req)?;
    let run = PlaceOrder {
        checkout,
        fulfil: Fulfilment::open(Audience::Shopper)?,
    };
    let order = match run.existing_order()? {
        Some(order) => return run.resume(order).await,
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
    let account = AccountId::parse_optional(req.account_id.as_deref())
        .map_err(|e| errors.push(FieldError::new("account_id", e.to_string())))
        .ok();
    let attempt = IdempotencyKey::parse(&req.attempt_id)
        .map_err(|e| errors.push(FieldError::new("attempt_id", e.to_string())))
        .ok();
    let email = EmailAddress::parse(&req.email)
        .map_err(|e| errors.push(FieldError::new("email", e.to_string())))
        .ok();
    let address = address_from_wire(req.address, "address.", &mut errors);
    let card_ok = card_from_wire(&req.card, &mut errors).is_some();
    match (session, account, attempt, email, address) {
        (Some(session), Some(account), Some(attempt), Some(email), Some(address)) if card_ok => Ok(Checkout {
            session,
            account,
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
            .fulfil
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
            account_id: self.checkout.account.as_ref().map(AccountId::to_string),
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
        if let Some(created_at) = self.fulfil.store.insert_pending(&order, self.checkout.attempt.as_str())? {
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
            .fulfil
            .services
            .carts
            .call(carts::ops::get_cart, &cart_ref)
            .await?;
        if cart.lines.is_empty() {
            return Err(ShopError::unprocessable("Your cart is empty"));
        }
        let skus = cart.lines.iter().map(|l| l.sku.clone()).collect();
        let found = self
            .fulfil
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
            .fulfil
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
    /// Step 2, for an unfinished order: take it over from the reconciler's lease (or wait for
    /// it), and finish a refund that was started rather than ship.
    async fn resume(&self, order: Order) -> Result<Order, ShopError> {
        if !matches!(order.status, OrderStatus::Pending | OrderStatus::Paid) {
            return self.continue_order(order).await;
        }
        match self.fulfil.store.lease_for_shopper(&order.order_id)? {
            None => Err(ShopError::unavailable(
                "We're finishing this order right now. Please look at your orders in a moment; you won't be charged twice",
            )),
            Some(true) if order.status == OrderStatus::Paid => self.fulfil.finish_refund(order).await,
            Some(_) => self.continue_order(order).await,
        }
    }

    async fn continue_order(&self, mut order: Order) -> Result<Order, ShopError> {
        if resume_from(order_status_from_wire(order.status)) == Resume::Charge {
            order = self.charge(order).await?;
        }
        let mut shipped_now = false;
        if resume_from(order_status_from_wire(order.status)) == Resume::Ship {
            order = self.fulfil.ship(order).await?;
            shipped_now = order.status == OrderStatus::Completed;
        }
        let email_due = order.status == OrderStatus::Completed && !order.email_sent;
        // Emptying the cart and the confirmation are independent: both at once.
        let empty_cart = async {
            if shipped_now {
                self.fulfil.empty_cart(self.session()).await;
            }
        };
        let confirmation = async {
            if email_due {
                self.fulfil.send_final_email(order).await
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
        match self.fulfil.services.payment.call(payment::ops::charge, &req).await {
            Ok(receipt) => {
                if !self
                    .fulfil
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
            // Payment refuses a key the reconciler closed (it found no charge and cancelled).
            Err(e) if e.code == ErrorCode::Conflict => {
                let reason = "This order was cancelled while we were confirming your payment";
                self.fulfil.fail(&order, reason, "charge");
                Err(ShopError::unprocessable(format!(
                    "{reason}. Nothing was charged: please place your order again"
                )))
            }
            Err(e) => match self.fulfil.recover(&order, Step::Charge, e).await {
                Recovered::Answer(e) => Err(e),
                Recovered::MovedOn => self.reload(&order.order_id),
            },
        }
    }

    fn reload(&self, order_id: &str) -> Result<Order, ShopError> {
        self.fulfil.reload(order_id)
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

fn new_order_id() -> OrderId {
    let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
    // XOR mixes away the UUID's fixed version bits, leaving 64 random bits for the 60 used.
    OrderId::from_random((high ^ low).to_be_bytes())
}
