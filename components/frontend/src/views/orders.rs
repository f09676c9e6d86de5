//! The order confirmation and the list of the shopper's orders.
use maud::{html, Markup};
use shop_contract::{Address, Order, OrderStatus, RateUsed};
use shop_domain::{Country, PerUsd};

use crate::views::{format, parts};

pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Confirming payment",
        OrderStatus::Paid => "Payment received — shipping is delayed",
        OrderStatus::Completed => "Paid and shipped",
        OrderStatus::Failed => "Not completed",
    }
}

fn status_badge(status: OrderStatus) -> Markup {
    let failed = status == OrderStatus::Failed;
    html! { span.status.status-failed[failed] { (status_label(status)) } }
}

/// What an unfinished order (left behind by an outage) means for the shopper: the shop finishes
/// it by itself (the reconciler) and emails the outcome.
fn delay_text(status: OrderStatus) -> Option<&'static str> {
    match status {
        OrderStatus::Pending => Some("We're still confirming your payment. We'll finish this order for you and email you the outcome; you will never be charged twice."),
        OrderStatus::Paid => Some("We've received your payment, but shipping is delayed. We'll ship it as soon as we can and email you; if we can't, we'll refund you in full."),
        OrderStatus::Completed | OrderStatus::Failed => None,
    }
}

/// The charge's transaction id; while pending, whether there is one is still being confirmed.
fn payment_reference(order: &Order) -> &str {
    match (&order.transaction_id, order.status) {
        (Some(id), _) => id,
        (None, OrderStatus::Pending) => "Being confirmed",
        (None, _) => "Not charged",
    }
}

pub fn item_count(order: &Order) -> u32 {
    order.lines.iter().fold(0u32, |n, l| n.saturating_add(l.quantity))
}

pub fn order_url(order_id: &str) -> String {
    format!("/order/{}", crate::forms::encode_component(order_id))
}

pub fn confirmation(order: &Order, just_placed: bool) -> Markup {
    let failed = order.status == OrderStatus::Failed;
    html! {
        @if just_placed && !failed {
            (parts::notice("Thank you! Your order is placed."))
        }
        div.page-head {
            h1 { "Order " span.nowrap { (order.order_id) } }
            (status_badge(order.status))
        }
        @if let Some(reason) = &order.failure {
            (parts::alert("This order could not be completed", &failure_text(order, reason)))
        }
        @if let Some(text) = delay_text(order.status) {
            (parts::notice(text))
        }
        // An unfinished order's notice already says an email will follow.
        @if !failed && delay_text(order.status).is_none() {
            p {
                @if order.email_sent {
                    "We've sent a confirmation to " strong { (order.email) } "."
                } @else {
                    "A confirmation will be sent to " strong { (order.email) } "."
                }
            }
        }
        dl.facts {
            div { dt { "Order number" } dd.code { (order.order_id) } }
            div { dt { "Placed on" } dd { (format::date(&order.created_at)) } }
            div { dt { "Payment reference" } dd.code[order.transaction_id.is_some()] { (payment_reference(order)) } }
            div { dt { "Tracking number" } dd.code[order.tracking_id.is_some()] { (order.tracking_id.as_deref().unwrap_or("Not shipped yet")) } }
            div { dt { "Confirmation email" } dd { (order.email) } }
        }
        div.layout-2 {
            section aria-labelledby="items-title" {
                h2 #items-title { "Items" }
                ul.lines {
                    @for line in &order.lines {
                        li.line {
                            img src=(parts::image_url(&line.image)) alt=(line.name) width="88" height="88";
                            div {
                                h3 { (line.name) }
                                p.line-meta { (line.quantity) " × " (format::price(&line.unit_price)) }
                            }
                            p.line-total { (format::price(&line.line_total)) }
                        }
                    }
                }
            }
            aside.summary aria-labelledby="totals-title" {
                h2 #totals-title { "Totals" }
                dl.totals {
                    div { dt { "Subtotal (" (format::count(item_count(order), "item", "items")) ")" } dd { (format::price(&order.subtotal)) } }
                    div { dt { "Shipping" } dd { (format::price(&order.shipping)) } }
                    div.grand { dt { "Total" } dd { (format::price(&order.total)) } }
                }
                @if let Some(text) = rates_text(order) {
                    p.small.rates { (text) }
                }
                h2 { "Shipping to" }
                address {
                    @for (i, line) in address_lines(&order.address).iter().enumerate() {
                        @if i > 0 { br; }
                        (line)
                    }
                }
                p.small { a href="/orders" { "See all your orders" } }
            }
        }
    }
}

/// The exchange rates stored with the order, when its prices were converted from the catalog's:
/// "Paid in EUR at 1 USD = 0.92 EUR" (and any other rate a catalog price was converted with).
pub fn rates_text(order: &Order) -> Option<String> {
    let paid = shop_domain::Currency::parse(&order.total.currency).map_or_else(|_| order.total.currency.clone(), |c| c.code().to_string());
    let quote = |r: &RateUsed| PerUsd::parse(&r.per_usd).ok().map(|rate| format!("1 USD = {rate} {}", r.currency.trim()));
    let is_paid = |r: &&RateUsed| r.currency.trim().eq_ignore_ascii_case(&paid);
    let main = order.rates.iter().find(is_paid).and_then(quote);
    let others: Vec<String> = order.rates.iter().filter(|r| !is_paid(r)).filter_map(quote).collect();
    let others = (!others.is_empty()).then(|| format!("catalog prices converted at {}", others.join(", ")));
    match (main, others) {
        (Some(main), None) => Some(format!("Paid in {paid} at {main}")),
        (Some(main), Some(others)) => Some(format!("Paid in {paid} at {main}; {others}")),
        (None, Some(others)) => Some(format!("Paid in {paid}; {others}")),
        (None, None) => None,
    }
}

/// Why an order failed, as a sentence, and that nothing was charged when no payment was taken.
pub fn failure_text(order: &Order, reason: &str) -> String {
    let reason = reason.trim();
    let mut text = if reason.ends_with(['.', '!', '?']) { reason.to_string() } else { format!("{reason}.") };
    if order.transaction_id.is_none() {
        text.push_str(" Nothing was charged.");
    }
    text
}

/// A postal address the way it is written in its country: the postal code before the city in
/// continental Europe, on a line of its own in the UK and Ireland, after the city elsewhere.
pub fn address_lines(address: &Address) -> Vec<String> {
    let country = Country::parse(&address.country).ok();
    let (city, postal) = (address.city.as_str(), address.postal_code.as_str());
    let mut lines = vec![address.name.clone(), address.street.clone()];
    match country {
        Some(Country::GB | Country::IE) => {
            lines.push(city.to_string());
            lines.push(postal.to_string());
        }
        Some(Country::DE | Country::FR | Country::NL | Country::BE | Country::ES | Country::IT | Country::SE | Country::CH) => {
            lines.push(format!("{postal} {city}"));
        }
        _ => lines.push(format!("{city} {postal}")),
    }
    lines.push(country.map_or_else(|| address.country.clone(), |c| c.name().to_string()));
    lines.retain(|l| !l.trim().is_empty());
    lines
}

/// Where a page of `/orders` sits, and whose orders they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paging {
    /// A signed-in shopper's orders are the account's, from every device; a guest's, this browser's.
    pub signed_in: bool,
    /// The cursor of the next (older) page, when there is one.
    pub older: Option<String>,
    /// The newest page (no cursor given).
    pub first: bool,
}

pub fn older_url(cursor: &str) -> String {
    format!("/orders?before={}", crate::forms::encode_component(cursor))
}

pub fn list(orders: &[Order], paging: &Paging) -> Markup {
    html! {
        div.page-head {
            h1 { "Your orders" }
            @if paging.signed_in {
                p { "Orders from all your devices, newest first." }
            } @else {
                p { "Orders placed in this browser. " a href="/account/sign-in?next=%2Forders" { "Sign in" } " to see your account's orders on any device." }
            }
        }
        @if orders.is_empty() {
            div.empty {
                @if paging.first {
                    h2 { "No orders yet" }
                    @if paging.signed_in {
                        p { "Orders you place while signed in, on any device, will be listed here." }
                    } @else {
                        p { "Orders you place in this browser will be listed here." }
                    }
                    a.btn href="/" { "Start shopping" }
                } @else {
                    h2 { "No older orders" }
                    a.btn href="/orders" { "Back to your latest orders" }
                }
            }
        } @else {
            ul.order-list {
                @for order in orders {
                    li {
                        a href=(order_url(&order.order_id)) {
                            strong { "Order " span.nowrap { (order.order_id) } }
                            span.amount { (format::price(&order.total)) }
                            span.meta { (format::date(&order.created_at)) " · " (format::count(item_count(order), "item", "items")) }
                            span { (status_badge(order.status)) }
                        }
                    }
                }
            }
            @if paging.older.is_some() || !paging.first {
                nav.pager aria-label="More orders" {
                    @if !paging.first { a.btn.btn-quiet href="/orders" { "Newest orders" } }
                    @if let Some(cursor) = &paging.older { a.btn.btn-quiet href=(older_url(cursor)) { "Older orders" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(city: &str, postal_code: &str, country: &str) -> Address {
        Address {
            name: "Ada Lovelace".into(),
            street: "12 Analytical Row".into(),
            city: city.into(),
            postal_code: postal_code.into(),
            country: country.into(),
        }
    }

    #[test]
    fn a_failure_reads_as_a_sentence_and_says_whether_anything_was_charged() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "order_id": "ORD-000000000001", "session": "s", "status": "Failed", "email": "a@b.example",
            "address": {"name": "n", "street": "s", "city": "c", "postal_code": "p", "country": "US"},
            "lines": [], "subtotal": {"minor": 0, "currency": "USD"}, "shipping": {"minor": 0, "currency": "USD"},
            "total": {"minor": 0, "currency": "USD"}, "created_at": "2026-01-01T00:00:00Z", "email_sent": false,
            "failure": "Your card was declined", "rates": []
        }))
        .expect("an order");
        assert_eq!(failure_text(&order, "Your card was declined"), "Your card was declined. Nothing was charged.");
        let refunded = Order { transaction_id: Some("txn_1".into()), ..order };
        assert_eq!(failure_text(&refunded, "We refunded your payment."), "We refunded your payment.");
    }

    #[test]
    fn the_rates_the_order_was_converted_with_are_named() {
        let order = |rates: serde_json::Value, currency: &str| -> Order {
            serde_json::from_value(serde_json::json!({
                "order_id": "ORD-000000000001", "session": "s", "status": "Completed", "email": "a@b.example",
                "address": {"name": "n", "street": "s", "city": "c", "postal_code": "p", "country": "US"},
                "lines": [], "subtotal": {"minor": 0, "currency": currency}, "shipping": {"minor": 0, "currency": currency},
                "total": {"minor": 0, "currency": currency}, "created_at": "2026-01-01T00:00:00Z", "email_sent": true,
                "rates": rates
            }))
            .expect("an order")
        };
        let eur = serde_json::json!([{"currency": "EUR", "per_usd": "0.920000", "valid_from": "2026-01-01T00:00:00Z"}]);
        assert_eq!(rates_text(&order(eur.clone(), "EUR")).as_deref(), Some("Paid in EUR at 1 USD = 0.92 EUR"));
        assert_eq!(rates_text(&order(eur, "USD")).as_deref(), Some("Paid in USD; catalog prices converted at 1 USD = 0.92 EUR"));
        let two = serde_json::json!([
            {"currency": "JPY", "per_usd": "151.250000", "valid_from": "2026-01-01T00:00:00Z"},
            {"currency": "EUR", "per_usd": "0.92", "valid_from": "2026-01-01T00:00:00Z"}
        ]);
        assert_eq!(
            rates_text(&order(two, "JPY")).as_deref(),
            Some("Paid in JPY at 1 USD = 151.25 JPY; catalog prices converted at 1 USD = 0.92 EUR")
        );
        assert_eq!(rates_text(&order(serde_json::json!([]), "USD")), None);
        let junk = serde_json::json!([{"currency": "EUR", "per_usd": "lots", "valid_from": ""}]);
        assert_eq!(rates_text(&order(junk, "EUR")), None, "a rate that isn't one is not shown");
    }

    #[test]
    fn addresses_are_written_the_way_each_country_writes_them() {
        assert_eq!(
            address_lines(&address("London", "N1 9GU", "GB")),
            ["Ada Lovelace", "12 Analytical Row", "London", "N1 9GU", "United Kingdom"]
        );
        assert_eq!(address_lines(&address("Paris", "75001", "FR"))[2..], ["75001 Paris", "France"]);
        assert_eq!(address_lines(&address("Springfield", "12345", "US"))[2..], ["Springfield 12345", "United States"]);
        assert_eq!(address_lines(&address("Somewhere", "999", "XX"))[2..], ["Somewhere 999", "XX"]);
    }
}
