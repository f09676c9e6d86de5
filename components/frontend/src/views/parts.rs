//! Small pieces several pages use.
use maud::{html, Markup};
use shop_contract::Product;
use shop_domain::catalog::{Category, ProductImage};
use shop_domain::stock::StockLevel;

use crate::csrf;
use crate::views::format;

/// URL of a product picture; an unknown picture name falls back to a neutral one.
pub fn image_url(image: &str) -> String {
    let name = ProductImage::parse(image).map_or_else(|_| "tote-slate".to_string(), |i| i.to_string());
    format!("/static/img/{name}.svg")
}

pub fn product_url(sku: &str) -> String {
    format!("/product/{}", crate::forms::encode_component(sku))
}

/// The shopper-facing name of a category slug (unknown slugs are shown as stored).
pub fn category_name(slug: &str) -> String {
    Category::parse(slug).map_or_else(|_| slug.to_string(), |c| c.name().to_string())
}

/// The heading level of a card's name: h2 in the catalogue grid, h3 under a section's h2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardHeading {
    H2,
    H3,
}

/// A product in a grid: picture, name (linking to its page), category, price in the shopper's
/// currency, and the stock when few or none are left.
pub fn product_card(p: &Product) -> Markup {
    product_card_at(p, CardHeading::H2)
}

pub fn product_card_at(p: &Product, heading: CardHeading) -> Markup {
    let link = html! { a href=(product_url(&p.sku)) { (p.name) } };
    let level = StockLevel::of(p.stock);
    html! {
        article.card {
            img src=(image_url(&p.image)) alt=(p.name) width="240" height="240" loading="lazy";
            div.card-body {
                @match heading {
                    CardHeading::H2 => h2 { (link) },
                    CardHeading::H3 => h3 { (link) },
                }
                span.category { (category_name(&p.category)) }
                span.price { (format::price(&p.display_price)) }
                @if level != StockLevel::InStock {
                    span.card-stock.sold-out[level.is_sold_out()] { (level.label()) }
                }
            }
        }
    }
}

/// "Often bought together": a row of up to four cards; nothing at all when there are none.
pub fn recommendations(products: &[Product]) -> Markup {
    html! {
        @if !products.is_empty() {
            section.recommendations aria-labelledby="recommendations-title" {
                h2 #recommendations-title { "Often bought together" }
                ul.grid.grid-row {
                    @for p in products.iter().take(4) {
                        li { (product_card_at(p, CardHeading::H3)) }
                    }
                }
            }
        }
    }
}

/// The hidden CSRF token every POST form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(token); }
}

/// A green notice (something worked) or a red alert (something needs attention).
pub fn notice(text: &str) -> Markup {
    html! { div.notice role="status" { p { (text) } } }
}

pub fn alert(title: &str, text: &str) -> Markup {
    html! {
        div.alert role="alert" {
            h2 { (title) }
            p { (text) }
        }
    }
}

/// The error message beside a field, linked to the input with `aria-describedby`.
pub fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = error {
            p.field-error id={ (id) "-error" } { (message) }
        }
    }
}

/// The list of a form's problems above it: those of a field in `fields` (in that order) link to
/// it, the others are plain text first.
pub fn error_summary(errors: &[(String, String)], fields: &[&str]) -> Markup {
    let other = errors.iter().filter(|(f, _)| !fields.contains(&f.as_str()));
    html! {
        @if !errors.is_empty() {
            div.alert role="alert" {
                h2 { "Please check your details" }
                ul {
                    @for (_, message) in other { li { (message) } }
                    @for field in fields {
                        @if let Some((_, message)) = errors.iter().find(|(f, _)| f == field) {
                            li { a href={ "#" (field) } { (message) } }
                        }
                    }
                }
            }
        }
    }
}

/// One input with its label, hint and error (tied to it with `aria-describedby`).
pub struct Input<'a> {
    pub id: &'a str,
    pub label: &'a str,
    /// What to show in it; password inputs always get `""`.
    pub value: &'a str,
    pub kind: &'a str,
    pub autocomplete: &'a str,
    pub inputmode: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub fn input(i: &Input<'_>) -> Markup {
    html! {
        div.field {
            label for=(i.id) { (i.label) }
            @if let Some(hint) = i.hint { p.hint id={ (i.id) "-hint" } { (hint) } }
            input id=(i.id) name=(i.id) type=(i.kind) value=(i.value) autocomplete=(i.autocomplete) inputmode=[i.inputmode]
                required aria-invalid=[i.error.map(|_| "true")] aria-describedby=[described_by(i.id, i.error, i.hint.is_some())];
            (field_error(i.id, i.error))
        }
    }
}

/// `aria-describedby` value for an input with an optional error and hint.
pub fn described_by(id: &str, error: Option<&str>, hint: bool) -> Option<String> {
    let mut ids = Vec::new();
    if hint {
        ids.push(format!("{id}-hint"));
    }
    if error.is_some() {
        ids.push(format!("{id}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}
