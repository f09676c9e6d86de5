//! The order confirmation and the list of this session's orders.
use maud::{html, Markup};
use shop_contract::{Order, OrderStatus};

use crate::views::{format, parts};

pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Being processed",
        OrderStatus::Paid => "Paid",
        OrderStatus::Completed => "Paid and shipped",
        OrderStatus::Failed => "Not completed",
    }
}

fn status_badge(status: OrderStatus) -> Markup {
    let failed = status == OrderStatus::Failed;
    html! { span.status.status-failed[failed] { (status_label(status)) } }
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
            h1 { "Order " (order.order_id) }
            (status_badge(order.status))
        }
        @if let Some(reason) = &order.failure {
            (parts::alert("This order could not be completed", reason))
        }
        @if !failed {
            p {
                @if order.email_sent {
                    "We've sent a confirmation to " strong { (order.email) } "."
                } @else {
                    "A confirmation will be sent to " strong { (order.email) } "."
                }
            }
        }
        dl.facts {
            div { dt { "Order number" } dd { (order.order_id) } }
            div { dt { "Placed on" } dd { (format::date(&order.created_at)) } }
            div { dt { "Payment reference" } dd { (order.transaction_id.as_deref().unwrap_or("Not charged")) } }
            div { dt { "Tracking number" } dd { (order.tracking_id.as_deref().unwrap_or("Not shipped yet")) } }
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
                h2 { "Shipping to" }
                address {
                    (order.address.name) br;
                    (order.address.street) br;
                    (order.address.postal_code) " " (order.address.city) br;
                    (shop_domain::Country::parse(&order.address.country).map_or(order.address.country.as_str(), |c| c.name()))
                }
                p.small { a href="/orders" { "See all your orders" } }
            }
        }
    }
}

/// Newest first; RFC 3339 UTC timestamps sort as text.
pub fn newest_first(orders: &mut [Order]) {
    orders.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.order_id.cmp(&a.order_id)));
}

pub fn list(orders: &[Order]) -> Markup {
    html! {
        div.page-head { h1 { "Your orders" } }
        @if orders.is_empty() {
            div.empty {
                h2 { "No orders yet" }
                p { "Orders you place in this browser will be listed here." }
                a.btn href="/" { "Start shopping" }
            }
        } @else {
            ul.order-list {
                @for order in orders {
                    li {
                        a href=(order_url(&order.order_id)) {
                            strong { "Order " (order.order_id) }
                            span.amount { (format::price(&order.total)) }
                            span.meta { (format::date(&order.created_at)) " · " (format::count(item_count(order), "item", "items")) }
                            span { (status_badge(order.status)) }
                        }
                    }
                }
            }
        }
    }
}
