//! Placing an order, idempotently per checkout attempt `(session, attempt_id)`.
//!
//! 1. Validate everything first (session, attempt id, email, address, card, currency, expected
//!    total, confirmed lines): 400 with every field error, nothing stored, nothing called.
//! 2. Take the lines the shopper confirmed (sent with the request by the checkout page), or
//!    read the cart when none were sent (empty → 422). Price all lines with ONE catalog call in
//!    the order's currency (a SKU no longer sold → 409): each line's unit price is the catalog's
//!    `display_price` (checked against its `price` and the rates the catalog answered, by
//!    `shop_domain::exchange`'s rounding rule), the line total is unit price × quantity. Lines
//!    the catalog already shows short of stock → 409, nothing stored. Shipping is priced by
//!    shop-domain's table (the one the shipping service quotes from) in the order's currency,
//!    and totalled in integer minor units. An `expected_total` that is not this total (amount or
//!    currency) → 409 "The total changed ...", nothing stored.
//! 3. Save the order as `pending` with its lines, their catalog prices and the rates in one
//!    statement. When the attempt already has an order (a repeat; the unique (session,
//!    attempt_id) refuses the insert), or step 2 refused a repeat whose order exists, pick up
//!    where that order is (`shop_domain::checkout::resume_from`): completed or failed → answer
//!    with it (nothing is charged again; a new try is a new attempt); pending → resume at the
//!    reservation; paid → resume at the shipment. The same attempt with another email, address,
//!    currency or expected total → 409. The attempt is looked up only then: a first submission
//!    makes no read.
//! 4. Reserve the lines' stock at products (`inventory.reserve`, idempotent per order id: a
//!    resumed order reserves again and gets the same reservation). Short (409) → close the
//!    payment key (`payment.settle`, so no charge can follow from a concurrent request of the
//!    same attempt), fail the order with products' message (no notice email: the shopper sees
//!    it), release, answer 409. Products unreachable → the order stays `pending`, 503.
//! 5. Charge the total with the order id as idempotency key, so no retry can charge twice.
//!    Declined → order `failed` with the reason (its stock released), 402. Payment unreachable →
//!    the order stays `pending`, 503: repeating the attempt resumes at 4.
//! 6. Ship with the order id as idempotency key. Shipping fails → record the transaction
//!    (`paid`), refund, order `failed` (its stock released), 503 (carrier unreachable) or 422
//!    (refused). If the refund fails too, the order stays `paid` (a charge always has its order)
//!    and a repeat resumes at 6.
//! 7. Shipped: record the charge and the shipment (`completed`) in ONE statement, then take the
//!    ordered lines out of the cart (once per order) and send the confirmation, both at once;
//!    the email's success is recorded (`email_sent`). These last two only log their failures:
//!    the order is placed (a repeat of the attempt or the reconciler retries the email; email is
//!    idempotent per order). Nothing reaches the shopper before `completed` is stored: a
//!    concurrent request of the same attempt whose shipment failed may be refunding the order.
//!    Until that statement the stored order is `pending` (or `paid`): should the request end
//!    there, the reconciler settles the key, finds the charge and finishes the order with the
//!    same keys, so nothing is charged or shipped twice.
//!
//! A status change that finds the order already moved on (a concurrent request for the same
//! attempt) answers with the order as stored. Every order that becomes `failed` gives its stock
//! back (`Fulfilment::fail`); money is never converted here or later: an order's numbers are
//! the ones stored with it.

use shop_contract::checkout::PlaceOrderRequest;
use shop_contract::{carts, catalog, inventory, payment};
use shop_contract::{CardDetails, ErrorCode, FieldError, Order, OrderLine, OrderStatus, RateUsed, ShopError};
use shop_spin::wire::{
    address_from_wire, address_to_wire, card_from_wire, money_from_wire, money_to_wire, order_status_from_wire,
};
use shop_domain::account::AccountId;
use shop_domain::checkout::{resume_from, Resume, Step};
use shop_domain::{
    order, Address, Currency, EmailAddress, IdempotencyKey, Money, MoneyError, OrderId, PerUsd,
    PricingError, Quantity, Rates, SessionId, Sku,
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
    /// What the shopper pays in.
    currency: Currency,
    /// The total the shopper saw and confirmed, if the caller sent it.
    expected_total: Option<Money>,
    /// The lines the shopper confirmed (cart rules checked), if the caller sent them.
    lines: Option<Vec<carts::CartLine>>,
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
    match run.create_order().await? {
        Created::New(order) => run.continue_order(order).await,
        Created::Earlier(order) => run.resume(order).await,
    }
}

/// What steps 2 and 3 found: a new pending order, or the attempt's earlier one.
enum Created {
    New(Order),
    Earlier(Order),
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
    let currency = Currency::parse(&req.currency)
        .map_err(|e| errors.push(FieldError::new("currency", e.to_string())))
        .ok();
    let expected_total = match &req.expected_total {
        None => Some(None),
        Some(wire) => money_from_wire(wire)
            .map_err(|e| {
                let field = match e {
                    MoneyError::UnsupportedCurrency => "expected_total.currency",
                    _ => "expected_total.minor",
                };
                errors.push(FieldError::new(field, e.to_string()));
            })
            .ok()
            .map(Some),
    };
    let lines = match &req.lines {
        None => Some(None),
        Some(wire) => confirmed_lines(wire).map_err(|e| errors.push(e)).ok().map(Some),
    };
    match (session, account, attempt, email, address, currency, expected_total, lines) {
        (
            Some(session),
            Some(account),
            Some(attempt),
            Some(email),
            Some(address),
            Some(currency),
            Some(expected_total),
            Some(lines),
        ) if card_ok => {
            Ok(Checkout {
                session,
                account,
                attempt,
                email,
                address,
                card: req.card,
                currency,
                expected_total,
                lines,
            })
        }
        _ => Err(ShopError::invalid_fields(errors)),
    }
}

/// The confirmed lines under the cart's rules (valid SKUs, 1..=99 of each, one line per SKU, at
/// most 50 lines): what the cart could hold. An empty list is an empty cart (422 later).
fn confirmed_lines(wire: &[carts::CartLine]) -> Result<Vec<carts::CartLine>, FieldError> {
    let mut lines = Vec::with_capacity(wire.len());
    for (i, line) in wire.iter().enumerate() {
        let sku = Sku::parse(&line.sku).map_err(|e| FieldError::new(format!("lines[{i}].sku"), e.to_string()))?;
        let quantity =
            Quantity::new(line.quantity).map_err(|e| FieldError::new(format!("lines[{i}].quantity"), e.to_string()))?;
        lines.push(shop_domain::CartLine { sku, quantity });
    }
    let cart = shop_domain::Cart::from_lines(lines).map_err(|e| FieldError::new("lines", e.to_string()))?;
    Ok(cart
        .into_lines()
        .into_iter()
        .map(|l| carts::CartLine { sku: l.sku.to_string(), quantity: l.quantity.get() })
        .collect())
}

impl PlaceOrder {
    /// Step 3: the attempt's order, if it has one (the same details, or 409).
    fn existing_order(&self) -> Result<Option<Order>, ShopError> {
        let Some(order) = self
            .fulfil
            .store
            .find_attempt(self.session(), self.checkout.attempt.as_str())?
        else {
            return Ok(None);
        };
        let expected = self.checkout.expected_total.map(money_to_wire);
        if order.email != self.checkout.email.as_str()
            || order.address != address_to_wire(&self.checkout.address)
            || order.total.currency != self.checkout.currency.code()
            || expected.is_some_and(|expected| expected != order.total)
        {
            return Err(ShopError::conflict(
                "This checkout was already used to place an order with other details; reload the checkout page and try again",
            ));
        }
        Ok(Some(order))
    }

    /// Steps 2 and 3: price the lines and save the order as pending, or find the attempt's
    /// earlier order.
    async fn create_order(&self) -> Result<Created, ShopError> {
        let priced = self.price_cart().await.and_then(|priced| match self.checkout.expected_total {
            Some(expected) if expected != priced.totals.total() => Err(total_changed(priced.totals.total(), expected)),
            _ => Ok(priced),
        });
        // A refusal may be a repeat of an attempt that was placed meanwhile: its lines left the
        // cart, its units the stock, or prices moved since. Then the order answers.
        let Priced { lines, totals, rates } = match priced {
            Ok(priced) => priced,
            Err(refusal) => return self.existing_order()?.map(Created::Earlier).ok_or(refusal),
        };
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
            rates,
        };
        if let Some(created_at) = self.fulfil.store.insert_pending(&order, self.checkout.attempt.as_str())? {
            log("info", "order created", &order, []);
            return Ok(Created::New(Order { created_at, ..order }));
        }
        // The attempt has an order already (a repeat, or a concurrent request saved it first).
        self.existing_order()?.map(Created::Earlier).ok_or_else(|| {
            ShopError::internal("The order of this checkout attempt vanished while it was placed")
        })
    }

    /// The lines the shopper confirmed, or else the cart's.
    async fn lines_to_order(&self) -> Result<Vec<carts::CartLine>, ShopError> {
        let lines = match &self.checkout.lines {
            Some(lines) => lines.clone(),
            None => {
                let cart_ref = carts::CartRef { session: self.session().to_string() };
                let lines = self.fulfil.services.carts.call(carts::ops::get_cart, &cart_ref).await?.lines;
                // A cart that outgrew the rules (a race of the old add) is refused with the rule.
                confirmed_lines(&lines).map_err(|e| ShopError::unprocessable(e.message))?
            }
        };
        if lines.is_empty() {
            return Err(ShopError::unprocessable("Your cart is empty"));
        }
        Ok(lines)
    }

    /// Step 2: the lines at catalog prices in the order's currency, and the order totals.
    async fn price_cart(&self) -> Result<Priced, ShopError> {
        let cart_lines = self.lines_to_order().await?;
        let currency = self.checkout.currency;
        let skus = cart_lines.iter().map(|l| l.sku.clone()).collect();
        let found = self
            .fulfil
            .services
            .products
            .call(
                catalog::ops::get_products,
                &catalog::GetProductsRequest {
                    skus,
                    currency: Some(currency.code().to_string()),
                    recommendations: 0,
                },
            )
            .await?;
        let rates = rates_from_catalog(&found.rates)?;

        let mut priced = Vec::with_capacity(cart_lines.len());
        let mut missing = Vec::new();
        let mut short = Vec::new();
        for line in &cart_lines {
            match found
                .products
                .iter()
                .find(|p| p.sku.trim().eq_ignore_ascii_case(line.sku.trim()))
            {
                Some(product) => {
                    if product.stock < line.quantity {
                        short.push(product);
                    }
                    priced.push(price_line(product, line, currency, &rates)?);
                }
                None => missing.push(line.sku.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(ShopError::conflict(format!(
                "Some items in your cart are no longer sold ({}); remove them and try again",
                missing.join(", ")
            )));
        }
        if !short.is_empty() {
            return Err(short_of_stock(&short));
        }
        let domain_lines: Vec<shop_domain::OrderLine> =
            priced.iter().map(|l| l.line.clone()).collect();
        let shipping = self.shipping_cost(order::item_count(&domain_lines), currency)?;
        let totals = order::price_order(&domain_lines, shipping).map_err(|e| match e {
            PricingError::CurrencyMismatch { .. } => ShopError::conflict(e.to_string()),
            _ => ShopError::unprocessable(e.to_string()),
        })?;
        let lines = priced
            .into_iter()
            .map(|PricedLine { line, catalog_unit_price, image }| {
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
                    catalog_unit_price: money_to_wire(catalog_unit_price),
                })
            })
            .collect::<Result<Vec<_>, ShopError>>()?;
        Ok(Priced {
            lines,
            totals,
            rates: found.rates,
        })
    }

    /// Shipping by shop-domain's table, the one the shipping service quotes and charges from
    /// (no call: the price is a pure function of country, item count and currency).
    fn shipping_cost(&self, item_count: u32, currency: Currency) -> Result<Money, ShopError> {
        shop_domain::shipping::quote_within_limits(self.checkout.address.country(), item_count, currency)
            .map_err(|e| ShopError::unprocessable(format!("We can't ship this order: {e}")))
    }

    /// Step 3, for an unfinished order: take it over from the reconciler's lease (or wait for
    /// it), and finish a refund that was started rather than ship.
    async fn resume(&self, order: Order) -> Result<Order, ShopError> {
        if !matches!(order.status, OrderStatus::Pending | OrderStatus::Paid) {
            return self.continue_order(order).await;
        }
        match self.fulfil.store.lease_for_shopper(&order.order_id)? {
            None => Err(finishing_elsewhere()),
            // The order as it is now that this request holds it (a reconciler may have moved it
            // on between the read and the lease).
            Some(took_over) => {
                let order = self.reload(&order.order_id)?;
                match order.status {
                    OrderStatus::Paid if took_over => self.fulfil.finish_refund(order).await,
                    _ => self.continue_order(order).await,
                }
            }
        }
    }

    /// Steps 4 to 7, from wherever the order is.
    async fn continue_order(&self, mut order: Order) -> Result<Order, ShopError> {
        // Whether `order.status` is what is stored: a fresh charge is recorded with the shipment.
        let mut stored = true;
        if resume_from(order_status_from_wire(order.status)) == Resume::Charge {
            order = self.reserve(order).await?;
        }
        if resume_from(order_status_from_wire(order.status)) == Resume::Charge {
            (order, stored) = self.charge(order).await?;
        }
        if resume_from(order_status_from_wire(order.status)) == Resume::Ship {
            return self.ship_and_complete(order, stored).await;
        }
        // Finished earlier: a confirmation that could not be sent then is tried again.
        if order.status == OrderStatus::Completed && !order.email_sent {
            return Ok(self.fulfil.send_final_email(order).await);
        }
        Ok(order)
    }

    /// Steps 6 and 7 for a charged order (`stored`: its `paid` status is stored, else it is
    /// stored as `pending` and recorded paid only should shipping fail, before the refund).
    async fn ship_and_complete(&self, order: Order, stored: bool) -> Result<Order, ShopError> {
        let shipment = match self.fulfil.shipment(&order).await {
            Ok(shipment) => shipment,
            Err(e) => {
                if !stored && !self.record_paid(&order)? {
                    // Another request of this attempt recorded the charge first: it completes
                    // the order, or refunds it.
                    let now = self.reload(&order.order_id)?;
                    return match now.status {
                        OrderStatus::Completed => Ok(now),
                        _ => Err(finishing_elsewhere()),
                    };
                }
                return match self.fulfil.recover(&order, Step::Ship, e).await {
                    Recovered::Answer(e) => Err(e),
                    Recovered::MovedOn => self.reload(&order.order_id),
                };
            }
        };
        let order = Order {
            status: OrderStatus::Completed,
            tracking_id: Some(shipment.tracking_id),
            ..order
        };
        // Recorded before anything reaches the shopper: a concurrent request of this attempt
        // whose shipment failed may be refunding it, and then nothing must say it was placed.
        if !self.fulfil.store.complete(&order)? {
            return self.reload(&order.order_id);
        }
        log("info", "order completed", &order, []);
        // The lines leave the cart (once per order) and the confirmation goes, both at once.
        let (_, order) = futures::join!(
            self.fulfil.take_out_of_cart(&order),
            self.fulfil.send_final_email(order.clone())
        );
        Ok(order)
    }

    /// Stores the charge of `order` (pending → paid); false when the order had moved on.
    fn record_paid(&self, order: &Order) -> Result<bool, ShopError> {
        let transaction_id = order
            .transaction_id
            .as_deref()
            .ok_or_else(|| ShopError::internal("A charged order has no transaction id"))?;
        self.fulfil.store.mark_paid(&order.order_id, transaction_id)
    }

    /// Step 4: hold the order's units at products, once per order (a repeat with the same
    /// order id answers the same reservation and takes nothing more).
    async fn reserve(&self, order: Order) -> Result<Order, ShopError> {
        let req = inventory::ReserveRequest {
            order_id: order.order_id.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| inventory::StockLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
        };
        match self.fulfil.services.inventory.call(inventory::ops::reserve, &req).await {
            Ok(_) => Ok(order),
            // A definite "no" about this order: short of stock (409), or lines products refuses.
            Err(e) if matches!(e.code, ErrorCode::Conflict | ErrorCode::Unprocessable | ErrorCode::BadRequest) => {
                self.refused_reservation(order, e).await
            }
            // Unreachable, broken or not (yet) serving reservations: whether the units are held
            // is unknown; the order stays pending (a repeat reserves again, idempotently; the
            // reconciler fails it and releases whatever is held).
            Err(e) => {
                log("error", "stock not reserved", &order, [("error", serde_json::json!(e.message))]);
                Err(ShopError::unavailable(
                    "We couldn't reserve your items right now. Please try again in a moment; nothing was charged",
                ))
            }
        }
    }

    /// Products refused to hold the order's units: the order fails (409 or 422 with products'
    /// words and fields), unless [`Self::settle_then_fail`] finds it charged meanwhile.
    async fn refused_reservation(&self, order: Order, refusal: ShopError) -> Result<Order, ShopError> {
        let code = if refusal.code == ErrorCode::Conflict {
            ErrorCode::Conflict
        } else {
            ErrorCode::Unprocessable
        };
        let answer = ShopError {
            code,
            message: refusal.message.clone(),
            fields: refusal.fields,
        };
        self.settle_then_fail(order, &refusal.message, "reserve", answer).await
    }

    /// Fails an order for `reason`, answering `answer`, after closing its payment key
    /// (`payment.settle`): a concurrent request of the same attempt (another card, or the one
    /// whose reservation went through) may be about to charge, and a failed order must never be
    /// charged. Should that request have charged already, the order goes on with its charge
    /// instead. Payment unreachable: the order stays pending, for a retry or the reconciler.
    async fn settle_then_fail(&self, order: Order, reason: &str, step: &str, answer: ShopError) -> Result<Order, ShopError> {
        let req = payment::SettleRequest {
            idempotency_key: order.order_id.clone(),
        };
        match self.fulfil.services.payment.call(payment::ops::settle, &req).await {
            Ok(payment::Settlement { charged: None }) => {
                self.fulfil.fail(&order, reason, step).await;
                Err(answer)
            }
            Ok(payment::Settlement { charged: Some(receipt) }) => {
                log("info", "refused, but the order was charged meanwhile: going on", &order, [("step", serde_json::json!(step))]);
                self.record_charge(order, receipt)
            }
            Err(e) => {
                log("error", "refused; payment could not be settled", &order, [("step", serde_json::json!(step)), ("error", serde_json::json!(e.message))]);
                Err(ShopError::unavailable(
                    "We couldn't confirm your order right now. Please try again in a moment; nothing was charged",
                ))
            }
        }
    }

    /// The order is paid with `receipt`'s charge (or, when another request recorded it first,
    /// as stored).
    fn record_charge(&self, order: Order, receipt: payment::Receipt) -> Result<Order, ShopError> {
        if !self.fulfil.store.mark_paid(&order.order_id, &receipt.transaction_id)? {
            return self.reload(&order.order_id);
        }
        Ok(Order {
            status: OrderStatus::Paid,
            transaction_id: Some(receipt.transaction_id),
            ..order
        })
    }

    /// Step 5: charge the total, once per order. Answers the order as paid, and whether that
    /// is stored (a fresh charge is not yet: see [`Self::ship_and_complete`]).
    async fn charge(&self, order: Order) -> Result<(Order, bool), ShopError> {
        let req = payment::ChargeRequest {
            idempotency_key: order.order_id.clone(),
            amount: order.total.clone(),
            card: self.checkout.card.clone(),
        };
        let stored = |order: Result<Order, ShopError>| order.map(|o| (o, true));
        match self.fulfil.services.payment.call(payment::ops::charge, &req).await {
            Ok(receipt) => Ok((
                Order {
                    status: OrderStatus::Paid,
                    transaction_id: Some(receipt.transaction_id),
                    ..order
                },
                false,
            )),
            // Payment refuses a key the reconciler closed (it found no charge and cancelled), or
            // another request of this attempt closed when its reservation was refused.
            Err(e) if e.code == ErrorCode::Conflict => {
                let reason = "This order was cancelled while we were confirming your payment";
                self.fulfil.fail(&order, reason, "charge").await;
                Err(ShopError::unprocessable(format!(
                    "{reason}. Nothing was charged: please place your order again"
                )))
            }
            // Declined (or otherwise refused): nothing was charged with this card, but the key
            // is closed before the order fails, as another card may be charging it right now.
            Err(e) if !matches!(e.code, ErrorCode::Unavailable | ErrorCode::Internal) => {
                let reason = e.message.clone();
                stored(self.settle_then_fail(order, &reason, "charge", e).await)
            }
            Err(e) => match self.fulfil.recover(&order, Step::Charge, e).await {
                Recovered::Answer(e) => Err(e),
                Recovered::MovedOn => stored(self.reload(&order.order_id)),
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

/// What step 2 makes of the lines: the order's lines, its totals, and the rates the catalog
/// converted with.
struct Priced {
    lines: Vec<OrderLine>,
    totals: shop_domain::OrderTotals,
    rates: Vec<RateUsed>,
}

/// A cart line priced in the order's currency, with the catalog price it was converted from.
struct PricedLine {
    line: shop_domain::OrderLine,
    catalog_unit_price: Money,
    image: String,
}

/// The rates the catalog answered, checked. USD's rate is 1 by definition (a stated 1 is
/// accepted and skipped). Upstream data that breaks the rules is a bug (500).
fn rates_from_catalog(rates: &[RateUsed]) -> Result<Rates, ShopError> {
    let mut table = Vec::with_capacity(rates.len());
    for rate in rates {
        let currency = Currency::parse(&rate.currency).map_err(|e| {
            ShopError::internal(format!("the catalog answered a rate of an invalid currency: {e}"))
        })?;
        let per_usd = PerUsd::parse(&rate.per_usd).map_err(|e| {
            ShopError::internal(format!("the catalog answered an invalid rate for {currency}: {e}"))
        })?;
        match currency {
            Currency::Usd if per_usd == PerUsd::ONE => {}
            Currency::Usd => return Err(ShopError::internal("the catalog answered a USD rate other than 1")),
            _ => table.push((currency, per_usd)),
        }
    }
    Rates::new(table).map_err(|e| ShopError::internal(format!("the catalog answered invalid rates: {e}")))
}

/// A cart line at the product's price in the order's currency. The catalog converts; its
/// `display_price` must be its `price` converted by the rates it answered (the domain's rounding
/// rule), so that the rates stored with the order explain every number on it. Upstream data
/// that breaks the rules is a bug (500).
fn price_line(
    product: &shop_contract::Product,
    line: &carts::CartLine,
    currency: Currency,
    rates: &Rates,
) -> Result<PricedLine, ShopError> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        ShopError::internal(format!("product {} has an invalid {what}: {e}", product.sku))
    };
    let catalog_unit_price = money_from_wire(&product.price).map_err(|e| invalid("price", &e))?;
    let unit_price = money_from_wire(&product.display_price).map_err(|e| invalid("display price", &e))?;
    if unit_price.currency() != currency {
        return Err(ShopError::internal(format!(
            "the catalog priced {} in {} when asked for {currency}",
            product.sku,
            unit_price.currency()
        )));
    }
    let converted = rates.convert(catalog_unit_price, currency).map_err(|e| invalid("conversion", &e))?;
    if converted != unit_price {
        shop_spin::log::error(&format!(
            "the catalog's price of {} in {currency} is {}, but its rates make {} of {}",
            product.sku,
            unit_price.format(),
            converted.format(),
            catalog_unit_price.format()
        ));
        return Err(ShopError::internal("The catalog answered a price that does not match its exchange rate"));
    }
    Ok(PricedLine {
        line: shop_domain::OrderLine {
            sku: Sku::parse(&product.sku)
                .map_err(|e| ShopError::internal(format!("invalid SKU from the catalog: {e}")))?,
            name: product.name.clone(),
            unit_price,
            quantity: Quantity::new(line.quantity)
                .map_err(|e| ShopError::internal(format!("invalid quantity in the cart: {e}")))?,
        },
        catalog_unit_price,
        image: product.image.clone(),
    })
}

/// 503 while another request of the same attempt finishes the order.
fn finishing_elsewhere() -> ShopError {
    ShopError::unavailable(
        "We're finishing this order right now. Please look at your orders in a moment; you won't be charged twice",
    )
}

/// 409 when the order would cost another amount (or be in another currency) than the shopper
/// confirmed: a price or an exchange rate moved since the checkout page was shown.
fn total_changed(now: Money, expected: Money) -> ShopError {
    ShopError::conflict(format!(
        "The total changed since you opened checkout (prices or exchange rates moved): it is now {}, not {}. \
         Please review your order and confirm again.",
        now.format(),
        expected.format()
    ))
}

/// 409 naming each line the catalog shows short of stock, worded as products' reservation
/// refusal: "Sold out: Stoneware Coffee Mug; Only 2 left of Linen Apron", a field error per line.
fn short_of_stock(short: &[&shop_contract::Product]) -> ShopError {
    shop_spin::wire::short_of_stock(
        short
            .iter()
            .map(|p| (p.sku.clone(), shop_domain::stock::short_message(&p.name, p.stock)))
            .collect(),
    )
}

fn new_order_id() -> OrderId {
    let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
    // XOR mixes away the UUID's fixed version bits, leaving 64 random bits for the 60 used.
    OrderId::from_random((high ^ low).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_contract::{Address as WireAddress, Money as WireMoney, Product};

    fn wire(minor: i64, currency: &str) -> WireMoney {
        WireMoney { minor, currency: currency.into() }
    }

    fn money(minor: i64, currency: Currency) -> Money {
        Money::new(minor, currency).unwrap()
    }

    fn request() -> PlaceOrderRequest {
        PlaceOrderRequest {
            session: "0123456789abcdef0123456789abcdef".into(),
            account_id: None,
            attempt_id: "attempt-1".into(),
            email: "ada@example.com".into(),
            address: WireAddress {
                name: "Ada Lovelace".into(),
                street: "12 Analytical Row".into(),
                city: "London".into(),
                postal_code: "N1 9GU".into(),
                country: "GB".into(),
            },
            card: CardDetails {
                number: "4242424242424242".into(),
                expiry_month: 12,
                expiry_year: 2035,
                cvv: "123".into(),
            },
            currency: "jpy".into(),
            expected_total: None,
            lines: None,
        }
    }

    fn line(sku: &str, quantity: u32) -> carts::CartLine {
        carts::CartLine { sku: sku.into(), quantity }
    }

    #[test]
    fn confirmed_lines_follow_the_cart_rules() {
        let ok = validate(PlaceOrderRequest { lines: Some(vec![line("kit-mug-teal", 2), line("HOM-APRON-LINEN", 99)]), ..request() }).unwrap();
        assert_eq!(ok.lines, Some(vec![line("KIT-MUG-TEAL", 2), line("HOM-APRON-LINEN", 99)]));
        assert_eq!(validate(request()).unwrap().lines, None);
        assert_eq!(validate(PlaceOrderRequest { lines: Some(Vec::new()), ..request() }).unwrap().lines, Some(Vec::new()));

        let bad = |lines: Vec<carts::CartLine>| validate(PlaceOrderRequest { lines: Some(lines), ..request() }).err().unwrap();
        let e = bad(vec![line("KIT-MUG-TEAL", 0)]);
        assert_eq!((e.code, fields(&e)), (ErrorCode::BadRequest, vec!["lines[0].quantity"]));
        assert_eq!(fields(&bad(vec![line("KIT-MUG-TEAL", 1), line("no sku!", 1)])), ["lines[1].sku"]);
        assert_eq!(fields(&bad(vec![line("KIT-MUG-TEAL", 100)])), ["lines[0].quantity"]);
        let twice = bad(vec![line("KIT-MUG-TEAL", 1), line("kit-mug-teal", 2)]);
        assert_eq!(fields(&twice), ["lines"]);
        assert_eq!(twice.fields[0].message, "KIT-MUG-TEAL appears more than once in the cart");
        let too_many: Vec<_> = (0..51).map(|i| line(&format!("SKU-{i}"), 1)).collect();
        assert_eq!(bad(too_many).fields[0].message, "Your cart can hold at most 50 different items");
        // Reported with the other fields' problems.
        let both = validate(PlaceOrderRequest { email: "nope".into(), lines: Some(vec![line("KIT-MUG-TEAL", 0)]), ..request() }).err().unwrap();
        assert_eq!(fields(&both), ["email", "lines[0].quantity"]);
    }

    fn rate(currency: &str, per_usd: &str) -> RateUsed {
        RateUsed { currency: currency.into(), per_usd: per_usd.into(), valid_from: "2026-01-01T00:00:00Z".into() }
    }

    fn product(price: WireMoney, display_price: WireMoney, stock: u32) -> Product {
        Product {
            sku: "KIT-MUG-TEAL".into(),
            name: "Stoneware Coffee Mug".into(),
            description: "A mug.".into(),
            price,
            display_price,
            category: "kitchen".into(),
            image: "mug".into(),
            stock,
        }
    }

    fn cart_line(quantity: u32) -> carts::CartLine {
        carts::CartLine { sku: "KIT-MUG-TEAL".into(), quantity }
    }

    fn fields(e: &ShopError) -> Vec<&str> {
        e.fields.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn currency_and_expected_total_are_validated_with_the_other_fields() {
        let ok = validate(PlaceOrderRequest { expected_total: Some(wire(3023, "JPY")), ..request() }).unwrap();
        assert_eq!(ok.currency, Currency::Jpy);
        assert_eq!(ok.expected_total, Some(money(3023, Currency::Jpy)));
        assert_eq!(validate(request()).unwrap().expected_total, None);

        let bad = validate(PlaceOrderRequest {
            email: "nope".into(),
            currency: "XXX".into(),
            expected_total: Some(wire(100, "DOGE")),
            ..request()
        })
        .err().unwrap();
        assert_eq!(bad.code, ErrorCode::BadRequest);
        assert_eq!(fields(&bad), ["email", "currency", "expected_total.currency"]);
        let currency = bad.fields.iter().find(|f| f.field == "currency").unwrap();
        assert_eq!(currency.message, "Currency must be one of USD, EUR, GBP, JPY, CAD, CHF or KWD");

        let negative = validate(PlaceOrderRequest { expected_total: Some(wire(-1, "JPY")), ..request() }).err().unwrap();
        assert_eq!(fields(&negative), ["expected_total.minor"]);
        assert_eq!(negative.message, "Amount can't be negative");
        let blank = validate(PlaceOrderRequest { currency: String::new(), ..request() }).err().unwrap();
        assert_eq!(fields(&blank), ["currency"]);
    }

    #[test]
    fn a_line_is_priced_at_the_catalogs_converted_price_and_keeps_the_catalog_price() {
        let rates = rates_from_catalog(&[rate("JPY", "151.250000"), rate("KWD", "0.3075")]).unwrap();
        // 19.99 × 151.25 = 3023.4875 → ¥3,023; 19.99 × 0.3075 = 6.146925 → KWD 6.147
        let mug = product(wire(1999, "USD"), wire(3023, "JPY"), 10);
        let priced = price_line(&mug, &cart_line(3), Currency::Jpy, &rates).unwrap();
        assert_eq!(priced.line.unit_price, money(3023, Currency::Jpy));
        assert_eq!(priced.line.line_total(), Ok(money(9069, Currency::Jpy)));
        assert_eq!(priced.catalog_unit_price, money(1999, Currency::Usd));
        let mug = product(wire(1999, "USD"), wire(6147, "KWD"), 10);
        let priced = price_line(&mug, &cart_line(2), Currency::Kwd, &rates).unwrap();
        assert_eq!(priced.line.line_total(), Ok(money(12_294, Currency::Kwd)));
        // Same currency: no rate needed.
        let mug = product(wire(1999, "USD"), wire(1999, "USD"), 10);
        assert!(price_line(&mug, &cart_line(1), Currency::Usd, &Rates::default()).is_ok());
    }

    #[test]
    fn a_catalog_price_that_its_rates_do_not_explain_is_refused() {
        let rates = rates_from_catalog(&[rate("JPY", "151.25")]).unwrap();
        for (display, currency) in [(wire(3024, "JPY"), Currency::Jpy), (wire(3023, "JPY"), Currency::Eur), (wire(1999, "USD"), Currency::Jpy)] {
            let mug = product(wire(1999, "USD"), display, 10);
            let e = price_line(&mug, &cart_line(1), currency, &rates).err().unwrap();
            assert_eq!(e.code, ErrorCode::Internal, "{e:?}");
        }
        // No rate answered for the currency converted to.
        let mug = product(wire(1999, "USD"), wire(1842, "EUR"), 10);
        assert_eq!(price_line(&mug, &cart_line(1), Currency::Eur, &rates).err().unwrap().code, ErrorCode::Internal);
    }

    #[test]
    fn the_catalogs_rates_are_checked() {
        assert!(rates_from_catalog(&[]).is_ok());
        let with_usd = rates_from_catalog(&[rate("USD", "1"), rate("EUR", "0.92")]).unwrap();
        assert_eq!(with_usd.per_usd(Currency::Eur), Ok(PerUsd::parse("0.92").unwrap()));
        for bad in [rate("USD", "2"), rate("XXX", "1"), rate("EUR", "0.92e0"), rate("EUR", "0")] {
            assert_eq!(rates_from_catalog(&[bad]).err().unwrap().code, ErrorCode::Internal);
        }
    }

    #[test]
    fn short_lines_are_named_like_the_reservation_refusal() {
        let sold_out = product(wire(1999, "USD"), wire(1999, "USD"), 0);
        let low = Product { sku: "HOM-APRON-LINEN".into(), name: "Linen Apron".into(), ..product(wire(2500, "USD"), wire(2500, "USD"), 2) };
        let e = short_of_stock(&[&sold_out, &low]);
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(e.message, "Sold out: Stoneware Coffee Mug; Only 2 left of Linen Apron");
        assert_eq!(fields(&e), ["lines.KIT-MUG-TEAL", "lines.HOM-APRON-LINEN"]);
    }

    #[test]
    fn a_changed_total_is_a_conflict_naming_both_totals() {
        let e = total_changed(money(2140, Currency::Eur), money(2138, Currency::Eur));
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(
            e.message,
            "The total changed since you opened checkout (prices or exchange rates moved): it is now €21.40, not €21.38. \
             Please review your order and confirm again."
        );
        let e = total_changed(money(3023, Currency::Jpy), money(6147, Currency::Kwd));
        assert!(e.message.contains("it is now ¥3,023, not KWD\u{a0}6.147."), "{}", e.message);
    }
}
