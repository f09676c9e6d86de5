//! One product: picture, description, price and the "Add to cart" form.
use maud::{html, Markup};
use shop_contract::Product;
use shop_domain::{shipping, Country, ShippingZone};

use crate::views::{format, parts};

/// Largest quantity offered in the selector (the cart itself allows up to 99 of an item).
pub const MAX_SELECTABLE: u32 = 10;

pub fn render(p: &Product, csrf: &str, quantity_error: bool) -> Markup {
    let category = shop_domain::catalog::Category::parse(&p.category).ok();
    let error = quantity_error.then_some("Choose a quantity from 1 to 10");
    let (min_days, max_days) = ShippingZone::Domestic.delivery_days();
    let shipping_from = format::money(&p.price).map(|m| shipping::quote(Country::US, 1, m.currency()));
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            ol {
                li { a href="/" { "Shop" } }
                @if let Some(c) = category {
                    li { a href={ "/?category=" (c.slug()) } { (c.name()) } }
                }
                li aria-current="page" { (p.name) }
            }
        }
        article.product {
            div.product-image {
                img src=(parts::image_url(&p.image)) alt=(p.name) width="480" height="480";
            }
            div {
                h1 { (p.name) }
                p.price { (format::price(&p.price)) }
                @if !p.description.is_empty() {
                    p.description { (p.description) }
                }
                form.buy method="post" action="/cart/add" {
                    (parts::csrf_field(csrf))
                    input type="hidden" name="sku" value=(p.sku);
                    div.field {
                        label for="quantity" { "Quantity" }
                        select #quantity name="quantity" aria-invalid=[error.map(|_| "true")]
                            aria-describedby=[parts::described_by("quantity", error, false)] {
                            @for n in 1..=MAX_SELECTABLE {
                                option value=(n) selected[n == 1] { (n) }
                            }
                        }
                    }
                    button.btn-large type="submit" { "Add to cart" }
                }
                (parts::field_error("quantity", error))
                ul.perks {
                    @if let Some(cost) = shipping_from {
                        li { "Shipping to the United States from " (cost.format()) }
                    }
                    li { "Delivered in " (min_days) "–" (max_days) " business days in the United States" }
                    li { "Free returns within 30 days" }
                }
                p.hint { "Item code " (p.sku) }
            }
        }
    }
}
