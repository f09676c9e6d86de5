//! The email operations: `send_confirmation`, `send_failure_notice` and `list_outbox`.
use serde_json::{json, Map};
use shop_contract::email::{
    ConfirmationRequest, FailureNoticeRequest, Outbox, OutboxRequest, SentEmail,
};
use shop_contract::{FieldError, Order, OrderStatus, ShopError};
use shop_domain::{EmailAddress, OrderId};

use crate::outbox;
use crate::render::{Confirmation, Email, FailureNotice, Line};

/// Most emails one `list_outbox` call returns.
const MAX_LIMIT: u32 = 100;

/// Sends the confirmation of an order, once: a repeat for the same order answers with the
/// email sent the first time and sends nothing.
pub async fn send_confirmation(req: ConfirmationRequest) -> Result<SentEmail, ShopError> {
    let order = validate(req.order)?;
    let confirmation = Confirmation {
        order_id: order.id.to_string(),
        lines: order.lines,
        subtotal: order.subtotal,
        shipping: order.shipping,
        total: order.total,
        address: order.address,
        transaction_id: order.transaction_id,
        tracking_id: order.tracking_id,
    };
    send_once("confirmation", &order.id, &order.to, &confirmation)
}

/// Tells the shopper a failed order could not be completed, and whether a charge was refunded.
/// At most one email per order, confirmation or notice: a repeat (or a notice for an order
/// whose confirmation went out) answers with the email sent first and sends nothing.
pub async fn send_failure_notice(req: FailureNoticeRequest) -> Result<SentEmail, ShopError> {
    let order = validate(req.order)?;
    if order.status != OrderStatus::Failed {
        return Err(ShopError::unprocessable(format!(
            "A failure notice is only sent for a failed order; order {} is {}",
            order.id,
            shop_spin::wire::order_status_from_wire(order.status).as_str()
        )));
    }
    let notice = FailureNotice {
        order_id: order.id.to_string(),
        lines: order.lines,
        total: order.total,
        refunded: order.transaction_id.is_some(),
        failure: order.failure,
    };
    send_once("failure notice", &order.id, &order.to, &notice)
}

/// Sends `email` as the one email of `order`, unless one was sent already (that one answers).
fn send_once(kind: &str, order: &OrderId, to: &EmailAddress, email: &dyn Email) -> Result<SentEmail, ShopError> {
    let outbox = outbox::Outbox::open()?;
    if let Some(sent) = outbox.sent_for(order)? {
        return Ok(sent);
    }
    let email = SentEmail {
        message_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        to: to.to_string(),
        subject: email.subject(),
        text_body: email.text(),
        html_body: email.html(),
        sent_at: shop_spin::log::now(),
    };
    if !outbox.put(order, &email)? {
        // A concurrent request for the same order sent it first: answer with that one.
        return outbox
            .sent_for(order)?
            .ok_or_else(|| ShopError::unavailable("The email could not be recorded; try again"));
    }
    // "Sending": the delivery log line (the bodies are in the outbox).
    let mut fields = Map::new();
    fields.insert("message_id".into(), json!(email.message_id));
    fields.insert("kind".into(), json!(kind));
    fields.insert("order_id".into(), json!(order.as_str()));
    fields.insert("to".into(), json!(email.to));
    fields.insert("subject".into(), json!(email.subject));
    shop_spin::log::line("info", "email sent", fields);
    Ok(email)
}

/// The newest sent emails, newest first.
pub async fn list_outbox(req: OutboxRequest) -> Result<Outbox, ShopError> {
    if !(1..=MAX_LIMIT).contains(&req.limit) {
        return Err(ShopError::invalid_fields(vec![FieldError::new(
            "limit",
            format!("The limit must be from 1 to {MAX_LIMIT}"),
        )]));
    }
    let messages = outbox::Outbox::open()?.newest(req.limit)?;
    Ok(Outbox { messages })
}

/// An order whose shown values passed validation, formatted for an email.
struct ValidOrder {
    id: OrderId,
    to: EmailAddress,
    status: OrderStatus,
    lines: Vec<Line>,
    subtotal: String,
    shipping: String,
    total: String,
    /// Name, street, "postal code city", country.
    address: Vec<String>,
    transaction_id: Option<String>,
    tracking_id: Option<String>,
    /// Why it failed; none when absent or blank.
    failure: Option<String>,
}

/// Checks what the emails show and formats it; every problem is reported at once, on fields
/// named after the request (`order.email`, `order.address.city`, `order.lines[0].line_total`...).
fn validate(order: Order) -> Result<ValidOrder, ShopError> {
    let mut errors = Vec::new();
    let order_id = OrderId::parse(&order.order_id)
        .map_err(|e| errors.push(FieldError::new("order.order_id", e.to_string())))
        .ok();
    let to = EmailAddress::parse(&order.email)
        .map_err(|e| errors.push(FieldError::new("order.email", e.to_string())))
        .ok();
    let address = shop_spin::wire::address_from_wire(order.address, "order.address.", &mut errors);
    if order.lines.is_empty() {
        errors.push(FieldError::new(
            "order.lines",
            "An order email needs at least one line",
        ));
    }
    let mut money = |field: String, m: &shop_contract::Money| match shop_spin::wire::money_from_wire(m) {
        Ok(m) => m.format(),
        Err(e) => {
            errors.push(FieldError::new(field, e.to_string()));
            String::new()
        }
    };
    let lines = order
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| Line {
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price: money(format!("order.lines[{i}].unit_price"), &l.unit_price),
            line_total: money(format!("order.lines[{i}].line_total"), &l.line_total),
        })
        .collect();
    let subtotal = money("order.subtotal".into(), &order.subtotal);
    let shipping = money("order.shipping".into(), &order.shipping);
    let total = money("order.total".into(), &order.total);
    match (order_id, to, address) {
        (Some(id), Some(to), Some(address)) if errors.is_empty() => Ok(ValidOrder {
            id,
            to,
            status: order.status,
            lines,
            subtotal,
            shipping,
            total,
            address: address.lines().to_vec(),
            transaction_id: order.transaction_id,
            tracking_id: order.tracking_id,
            failure: order.failure.map(|f| f.trim().to_string()).filter(|f| !f.is_empty()),
        }),
        _ => Err(ShopError::invalid_fields(errors)),
    }
}
