//! The cart page: lines with quantity forms, the totals with a shipping estimate, and notices
//! carried in the URL after a cart change (Post/Redirect/Get without server-side flash state).
use maud::{html, Markup};

use crate::forms::encode_component;
use crate::summary::{Summary, Totals};
use crate::views::{format, parts};

/// What the cart page reports after a change. Only these fixed texts can appear, so a crafted
/// link cannot make the shop say anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Added,
    Updated,
    Removed,
    Limit,
    BadQuantity,
    Gone,
    NothingToOrder,
}

const NOTICES: [(Notice, &str); 7] = [
    (Notice::Added, "added"),
    (Notice::Updated, "updated"),
    (Notice::Removed, "removed"),
    (Notice::Limit, "limit"),
    (Notice::BadQuantity, "bad-quantity"),
    (Notice::Gone, "gone"),
    (Notice::NothingToOrder, "nothing-to-order"),
];

impl Notice {
    pub fn parse(code: &str) -> Option<Notice> {
        NOTICES.iter().find(|(_, c)| *c == code).map(|(n, _)| *n)
    }

    pub fn code(self) -> &'static str {
        NOTICES.iter().find(|(n, _)| *n == self).map_or("updated", |(_, c)| c)
    }

    /// `/cart?notice=…[&sku=…]`, where the action redirects to.
    pub fn url(self, sku: Option<&str>) -> String {
        match sku {
            Some(sku) => format!("/cart?notice={}&sku={}", self.code(), encode_component(sku)),
            None => format!("/cart?notice={}", self.code()),
        }
    }

    fn render(self, item: &str) -> Markup {
        match self {
            Notice::Added => parts::notice(&format!("Added {item} to your cart.")),
            Notice::Updated => parts::notice(&format!("Updated the quantity of {item}.")),
            Notice::Removed => parts::notice("Removed the item from your cart."),
            Notice::Gone => parts::notice("That item is no longer in your cart."),
            Notice::Limit => parts::alert(
                "We couldn't change your cart",
                "You can have up to 99 of each item, and up to 50 different items in your cart.",
            ),
            Notice::BadQuantity => parts::alert(
                "Please check the quantity",
                "Enter a whole number from 0 to 99. Choosing 0 removes the item.",
            ),
            Notice::NothingToOrder => parts::alert(
                "There was nothing to order",
                "Your cart is empty or its items are no longer available, so we didn't place an order. Please check your cart.",
            ),
        }
    }
}

pub fn render(summary: &Summary, csrf: &str, notice: Option<(Notice, Option<&str>)>) -> Markup {
    html! {
        div.page-head { h1 { "Your cart" } }
        @if let Some((notice, sku)) = notice {
            (notice.render(sku.and_then(|s| summary.name_of(s)).unwrap_or("the item")))
        }
        @if summary.is_empty() {
            div.empty {
                h2 { "Your cart is empty" }
                p { "Find something you like and it will wait for you here." }
                a.btn href="/" { "Browse the catalog" }
            }
        } @else {
            div.layout-2 {
                section aria-labelledby="lines-title" {
                    h2.visually-hidden #lines-title { "Items" }
                    ul.lines {
                        @for line in &summary.lines {
                            li.line {
                                img src=(parts::image_url(&line.image)) alt=(line.name) width="88" height="88";
                                div {
                                    h3 { a href=(parts::product_url(&line.sku)) { (line.name) } }
                                    p.line-meta { (line.unit_price) " each" }
                                    @if let Some(note) = line.stock_note() {
                                        p.line-stock.short[!line.in_stock()] { (note) }
                                    }
                                    div.line-actions {
                                        form.qty method="post" action="/cart/update" {
                                            (parts::csrf_field(csrf))
                                            input type="hidden" name="sku" value=(line.sku);
                                            div {
                                                label for={ "qty-" (line.sku) } { "Quantity" }
                                                input id={ "qty-" (line.sku) } type="number" name="quantity" min="0" max="99"
                                                    inputmode="numeric" value=(line.quantity) required;
                                            }
                                            button.btn-quiet type="submit" { "Update" span.visually-hidden { " quantity of " (line.name) } }
                                        }
                                        form method="post" action="/cart/remove" {
                                            (parts::csrf_field(csrf))
                                            input type="hidden" name="sku" value=(line.sku);
                                            button.link-button type="submit" { "Remove" span.visually-hidden { " " (line.name) } }
                                        }
                                    }
                                }
                                p.line-total { (line.line_total) }
                            }
                        }
                        @for (sku, quantity) in &summary.unavailable {
                            li.line {
                                img src=(parts::image_url("")) alt="" width="88" height="88";
                                div {
                                    h3 { "Item " (sku) }
                                    p.line-meta { "Sorry, this item is no longer available (" (format::count(*quantity, "piece", "pieces")) "). It won't be charged." }
                                    div.line-actions {
                                        form method="post" action="/cart/remove" {
                                            (parts::csrf_field(csrf))
                                            input type="hidden" name="sku" value=(sku);
                                            button.link-button type="submit" { "Remove" span.visually-hidden { " item " (sku) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    p { a href="/" { "← Continue shopping" } }
                }
                aside.summary aria-labelledby="summary-title" {
                    h2 #summary-title { "Order summary" }
                    (totals(summary))
                    @if summary.item_count > 0 {
                        @if !summary.all_in_stock() {
                            p.short { "Some items have sold out or have fewer left than your cart holds. Change them before you check out." }
                        }
                        a.btn.btn-large href="/checkout" { "Go to checkout" }
                        p.small { "Shipping is confirmed for your address at checkout." }
                    }
                }
            }
            (parts::recommendations(&summary.recommendations))
        }
    }
}

/// Subtotal, shipping estimate and total, or why they can't be shown.
pub fn totals(summary: &Summary) -> Markup {
    html! {
        @match &summary.totals {
            Some(Totals { subtotal, shipping, total, .. }) => {
                dl.totals {
                    div { dt { "Subtotal (" (format::count(summary.item_count, "item", "items")) ")" } dd { (subtotal) } }
                    div { dt { "Estimated shipping to " (summary.shipping_country.name()) } dd { (shipping) } }
                    div.grand { dt { "Total" } dd { (total) } }
                }
            }
            None => {
                @if summary.item_count > 0 {
                    p { "We can't total this cart: its items are priced in different currencies." }
                } @else {
                    p { "There is nothing in your cart that can be bought right now." }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_codes_round_trip_and_unknown_ones_are_ignored() {
        for (notice, code) in NOTICES {
            assert_eq!(Notice::parse(code), Some(notice));
            assert_eq!(notice.code(), code);
        }
        assert_eq!(Notice::parse("<script>"), None);
        assert_eq!(Notice::Added.url(Some("MUG 1")), "/cart?notice=added&sku=MUG%201");
        assert_eq!(Notice::Gone.url(None), "/cart?notice=gone");
    }
}
