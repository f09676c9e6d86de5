//! The email operations: `send_confirmation`, `send_failure_notice` and `list_outbox`.
use serde_json::{json, Map};
use shop_contract::email::{
    ConfirmationRequest, FailureNoticeRequest, Outbox, OutboxRequest, SentEmail,
};
use shop_contract::{FieldError, Order, OrderStatus, ShopError};
use shop_domain::{Currency, EmailAddress, OrderId, PerUsd};
use shop_spin::store::Commands;

use crate::outbox;
use crate::render::{Confirmation, Email, FailureNotice, Line};

/// Most emails one `list_outbox` call returns.
const MAX_LIMIT: u32 = 100;

/// Sends the confirmation of an order, once: a repeat for the same order answers with the
/// email sent the first time and sends nothing.
pub async fn send_confirmation(req: ConfirmationRequest) -> Result<SentEmail, ShopError> {
    let order = validate(req.order)?;
    let (id, to) = (order.id.clone(), order.to.clone());
    send_once("confirmation", &id, &to, &order.confirmation())
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
    let (id, to) = (order.id.clone(), order.to.clone());
    send_once("failure notice", &id, &to, &order.failure_notice())
}

/// Sends `email` as the one email of `order`, unless one was sent already (that one answers).
fn send_once(kind: &str, order: &OrderId, to: &EmailAddress, email: &dyn Email) -> Result<SentEmail, ShopError> {
    send_with(&outbox::Outbox::open()?, kind, order, to, email)
}

/// The Redis part of [`send_once`]: one command, which records the email as the order's and
/// pushes it to the outbox, or answers the email recorded first (a repeat, a concurrent
/// duplicate, or the other kind for the same order) and pushes nothing.
fn send_with<R: Commands>(
    outbox: &outbox::Outbox<R>,
    kind: &str,
    order: &OrderId,
    to: &EmailAddress,
    email: &dyn Email,
) -> Result<SentEmail, ShopError> {
    let email = SentEmail {
        message_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        to: to.to_string(),
        subject: email.subject(),
        text_body: email.text(),
        html_body: email.html(),
        sent_at: shop_spin::log::now(),
    };
    if let Some(sent) = outbox.send_once(order, &email)? {
        return Ok(sent);
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

/// An order whose shown values passed validation, formatted for an email: every amount exactly
/// as the order stored it, in the order's (the shopper's) currency, with that currency's
/// decimals (¥3,023; KWD 6.147). Nothing is converted here.
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
    /// "Paid in EUR at 1 USD = 0.92 EUR", when the order's prices were converted.
    rate: Option<String>,
}

impl ValidOrder {
    fn confirmation(self) -> Confirmation {
        Confirmation {
            order_id: self.id.to_string(),
            lines: self.lines,
            subtotal: self.subtotal,
            shipping: self.shipping,
            total: self.total,
            address: self.address,
            transaction_id: self.transaction_id,
            tracking_id: self.tracking_id,
            rate: self.rate,
        }
    }

    fn failure_notice(self) -> FailureNotice {
        FailureNotice {
            order_id: self.id.to_string(),
            lines: self.lines,
            total: self.total,
            refunded: self.transaction_id.is_some(),
            failure: self.failure,
        }
    }
}

/// The rate the order's currency was converted at, in words, from the rates stored with it;
/// none when its prices needed no conversion (or the rate is not one the shop could have used).
fn rate_sentence(order: &Order) -> Option<String> {
    let currency = Currency::parse(&order.total.currency).ok()?;
    let rate = order.rates.iter().find(|r| Currency::parse(&r.currency).ok() == Some(currency))?;
    let per_usd = PerUsd::parse(&rate.per_usd).ok()?;
    (currency != Currency::Usd).then(|| format!("Paid in {currency} at 1 USD = {per_usd} {currency}"))
}

/// Checks what the emails show and formats it; every problem is reported at once, on fields
/// named after the request (`order.email`, `order.address.city`, `order.lines[0].line_total`...).
fn validate(order: Order) -> Result<ValidOrder, ShopError> {
    let mut errors = Vec::new();
    let rate = rate_sentence(&order);
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
            rate,
        }),
        _ => Err(ShopError::invalid_fields(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Email;
    use shop_contract::{Address, Money, OrderLine, RateUsed};

    fn m(minor: i64, currency: &str) -> Money {
        Money { minor, currency: currency.into() }
    }

    /// An order as checkout stores and sends it: lines in the shopper's currency, the catalog's
    /// USD prices and the rate used alongside.
    fn order(currency: &str, per_usd: &str, unit: i64, shipping: i64, status: OrderStatus) -> Order {
        let line = OrderLine {
            sku: "KIT-MUG-TEAL".into(),
            name: "Stoneware Coffee Mug".into(),
            image: "mug".into(),
            unit_price: m(unit, currency),
            quantity: 2,
            line_total: m(unit * 2, currency),
            catalog_unit_price: m(1999, "USD"),
        };
        Order {
            order_id: "ORD-0123456789AB".into(),
            session: "0123456789abcdef0123456789abcdef".into(),
            account_id: None,
            status,
            email: "ada@example.com".into(),
            address: Address {
                name: "Ada Lovelace".into(),
                street: "12 Analytical Row".into(),
                city: "London".into(),
                postal_code: "N1 9GU".into(),
                country: "GB".into(),
            },
            lines: vec![line],
            subtotal: m(unit * 2, currency),
            shipping: m(shipping, currency),
            total: m(unit * 2 + shipping, currency),
            transaction_id: Some("txn_0123".into()),
            tracking_id: None,
            failure: Some("Shipping refused".into()),
            created_at: "2026-12-01T10:00:00Z".into(),
            email_sent: false,
            rates: vec![RateUsed { currency: currency.into(), per_usd: per_usd.into(), valid_from: "2026-01-01T00:00:00Z".into() }],
        }
    }

    fn bodies(email: &dyn Email) -> [String; 2] {
        [email.text(), email.html()]
    }

    #[test]
    fn yen_and_dinar_orders_render_their_own_amounts_with_their_own_decimals() {
        // ¥3,023 a mug (19.99 USD at 151.25), ¥2,250 shipping to GB.
        let yen = validate(order("JPY", "151.250000", 3023, 2250, OrderStatus::Completed)).unwrap().confirmation();
        for body in bodies(&yen) {
            for want in ["¥3,023", "¥6,046", "¥2,250", "¥8,296", "Paid in JPY at 1 USD = 151.25 JPY"] {
                assert!(body.contains(want), "{want} missing from {body}");
            }
            assert!(!body.contains("$") && !body.contains("3,023.") && !body.contains("19.99"), "{body}");
        }
        assert!(yen.text().contains("2 x Stoneware Coffee Mug (¥3,023 each): ¥6,046"));

        // KWD 6.147 a mug (19.99 USD at 0.3075): three decimals, never rounded to two.
        let kwd = validate(order("KWD", "0.307500", 6147, 4500, OrderStatus::Completed)).unwrap().confirmation();
        for body in bodies(&kwd) {
            for want in ["KWD\u{a0}6.147", "KWD\u{a0}12.294", "KWD\u{a0}4.500", "KWD\u{a0}16.794", "Paid in KWD at 1 USD = 0.3075 KWD"] {
                assert!(body.contains(want), "{want} missing from {body}");
            }
            assert!(!body.contains("6.15 ") && !body.contains("$"), "{body}");
        }

        let notice = validate(order("KWD", "0.3075", 6147, 4500, OrderStatus::Failed)).unwrap().failure_notice();
        for body in bodies(&notice) {
            assert!(body.contains("Your payment of KWD\u{a0}16.794 was refunded."), "{body}");
            assert!(body.contains("KWD\u{a0}6.147"), "{body}");
        }
        let notice = validate(order("JPY", "151.25", 3023, 2250, OrderStatus::Failed)).unwrap().failure_notice();
        assert!(notice.text().contains("Your payment of ¥8,296 was refunded."), "{}", notice.text());
    }

    #[test]
    fn an_order_in_the_catalogs_currency_has_no_rate_line() {
        let mut usd = order("USD", "1", 1999, 1500, OrderStatus::Completed);
        usd.rates.clear();
        let c = validate(usd).unwrap().confirmation();
        for body in bodies(&c) {
            assert!(body.contains("$19.99") && body.contains("$54.98") && !body.contains("Paid in"), "{body}");
        }
        // A rate of another currency than the order's does not describe it.
        let mut eur = order("EUR", "0.92", 1839, 1500, OrderStatus::Completed);
        eur.rates[0].currency = "GBP".into();
        assert!(!validate(eur).unwrap().confirmation().text().contains("Paid in"));
    }

    /// Sending an order's email is one Redis command (issue 16).
    #[test]
    fn an_email_is_sent_with_one_redis_command() {
        use shop_spin::store::Recorder;
        use spin_sdk::redis::RedisResult;

        let valid = validate(order("USD", "1", 1999, 1500, OrderStatus::Completed)).unwrap();
        let (id, to) = (valid.id.clone(), valid.to.clone());
        let confirmation = valid.confirmation();
        let outbox = outbox::Outbox::on(Recorder::new(vec![vec![RedisResult::Int64(1)]]));
        let sent = send_with(&outbox, "confirmation", &id, &to, &confirmation).unwrap();
        assert_eq!(sent.subject, confirmation.subject());
        let redis = outbox.into_redis();
        let calls = redis.calls();
        assert_eq!(redis.commands(), ["EVAL"]);
        assert_eq!(calls[0][2..5], ["2", "test:shop:email:ORD-0123456789AB", "test:shop:outbox"]);
        assert_eq!(serde_json::from_str::<SentEmail>(&calls[0][5]).unwrap(), sent);
        assert_eq!(calls[0][6..], ["2592000", "999"]);

        // Sent before: that email answers, and nothing else is sent.
        let earlier = RedisResult::Binary(calls[0][5].clone().into_bytes());
        let outbox = outbox::Outbox::on(Recorder::new(vec![vec![RedisResult::Int64(0), earlier]]));
        assert_eq!(send_with(&outbox, "confirmation", &id, &to, &confirmation).unwrap(), sent);
        assert_eq!(outbox.into_redis().commands(), ["EVAL"]);
        let outbox = outbox::Outbox::on(Recorder::new(vec![vec![RedisResult::Int64(0), RedisResult::Binary(b"{".to_vec())]]));
        assert!(send_with(&outbox, "confirmation", &id, &to, &confirmation).is_err());
    }

    #[test]
    fn an_amount_in_an_unsupported_currency_is_refused_by_field() {
        let mut bad = order("JPY", "151.25", 3023, 2250, OrderStatus::Completed);
        bad.lines[0].unit_price = m(3023, "XXX");
        bad.total = m(-1, "JPY");
        let e = validate(bad).err().unwrap();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["order.lines[0].unit_price", "order.total"]);
    }
}
