//! One product: picture, description, price in the shopper's currency, how many are left, the
//! "Add to cart" form (none when sold out) and what others bought with it.
use maud::{html, Markup};
use shop_contract::Product;
use shop_domain::stock::StockLevel;
use shop_domain::{shipping, Country, ShippingZone};

use crate::views::{format, parts};

/// Largest quantity offered in the selector (the cart itself allows up to 99 of an item).
pub const MAX_SELECTABLE: u32 = 10;

/// Why the last "Add to cart" did not add anything (a fixed code in the URL, never its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddProblem {
    /// The quantity sent was not one the selector offers.
    Quantity,
    /// The cart refused it: sold out, or fewer left than the cart would then hold.
    Stock,
}

pub struct ProductView<'a> {
    pub product: &'a Product,
    /// "Often bought together", from the same catalog call.
    pub recommendations: &'a [Product],
    /// Units of this product already in the shopper's cart.
    pub in_cart: u32,
    pub problem: Option<AddProblem>,
    pub csrf: &'a str,
}

impl ProductView<'_> {
    /// Units that can still be added: what is left less what the cart holds already.
    pub fn addable(&self) -> u32 {
        self.product.stock.saturating_sub(self.in_cart)
    }

    /// The refusal of the last addition, explained with the stock as it is now.
    fn stock_problem(&self) -> Option<String> {
        if self.problem != Some(AddProblem::Stock) {
            return None;
        }
        let p = self.product;
        let text = match (StockLevel::of(p.stock), self.addable()) {
            (StockLevel::SoldOut, _) => format!("{} is sold out.", p.name),
            (_, 0) => format!("Only {} of {} are left, and they are all in your cart already.", p.stock, p.name),
            (StockLevel::Low(n), addable) if self.in_cart > 0 => {
                format!("Only {n} of {} are left and your cart has {}, so you can add up to {addable} more.", p.name, self.in_cart)
            }
            (StockLevel::Low(n), _) => format!("Only {n} of {} are left, so you can add up to {n}.", p.name),
            (StockLevel::InStock, _) => "The stock changed while you were choosing. Please choose the quantity again.".to_string(),
        };
        Some(text)
    }
}

/// The stock label's look: a class per level (colour is never the only signal: the text says it).
fn stock_class(level: StockLevel) -> &'static str {
    match level {
        StockLevel::InStock => "stock stock-in",
        StockLevel::Low(_) => "stock stock-low",
        StockLevel::SoldOut => "stock stock-out",
    }
}

pub fn render(view: &ProductView<'_>) -> Markup {
    let p = view.product;
    let category = shop_domain::catalog::Category::parse(&p.category).ok();
    let error = (view.problem == Some(AddProblem::Quantity)).then_some("Choose a quantity from the list");
    let level = StockLevel::of(p.stock);
    let selectable = MAX_SELECTABLE.min(view.addable());
    let (min_days, max_days) = ShippingZone::Domestic.delivery_days();
    let shipping_from = format::money(&p.display_price).map(|m| shipping::quote(Country::US, 1, m.currency()));
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
        @if let Some(text) = view.stock_problem() {
            (parts::alert("We couldn't add that to your cart", &text))
        }
        article.product {
            div.product-image {
                img src=(parts::image_url(&p.image)) alt=(p.name) width="480" height="480";
            }
            div {
                h1 { (p.name) }
                div.price-row {
                    p.price { (format::price(&p.display_price)) }
                    p class=(stock_class(level)) { (level.label()) }
                }
                @if !p.description.is_empty() {
                    p.description { (p.description) }
                }
                @if level.is_sold_out() {
                    div.unavailable {
                        p { strong { "Sold out" } " — this item can't be added to your cart right now." }
                    }
                } @else if selectable == 0 {
                    div.unavailable {
                        p { "All " (p.stock) " that are left are in your cart already. " a href="/cart" { "View your cart" } }
                    }
                } @else {
                    form.buy method="post" action="/cart/add" {
                        (parts::csrf_field(view.csrf))
                        input type="hidden" name="sku" value=(p.sku);
                        div.field {
                            label for="quantity" { "Quantity" }
                            select #quantity name="quantity" aria-invalid=[error.map(|_| "true")]
                                aria-describedby=[parts::described_by("quantity", error, false)] {
                                @for n in 1..=selectable {
                                    option value=(n) selected[n == 1] { (n) }
                                }
                            }
                        }
                        button.btn-large type="submit" { "Add to cart" }
                    }
                    (parts::field_error("quantity", error))
                }
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
        (parts::recommendations(view.recommendations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(stock: u32) -> Product {
        Product {
            sku: "MUG-1".into(),
            name: "Mug & Co".into(),
            description: String::new(),
            price: shop_contract::Money { minor: 1999, currency: "USD".into() },
            display_price: shop_contract::Money { minor: 3023, currency: "JPY".into() },
            category: "kitchen".into(),
            image: "mug-teal".into(),
            stock,
        }
    }

    fn page(stock: u32, in_cart: u32, problem: Option<AddProblem>) -> String {
        let p = product(stock);
        render(&ProductView { product: &p, recommendations: &[], in_cart, problem, csrf: "t" }).into_string()
    }

    #[test]
    fn the_price_is_the_display_price_and_the_stock_is_labelled() {
        let html = page(500, 0, None);
        assert!(html.contains(r#"<p class="price">¥3,023</p>"#) && !html.contains("$19.99"));
        assert!(html.contains(r#"<p class="stock stock-in">In stock</p>"#));
        assert!(html.contains(r#"<option value="10">10</option>"#));
        let low = page(3, 0, None);
        assert!(low.contains(r#"<p class="stock stock-low">Only 3 left</p>"#));
        assert!(low.contains(r#"<option value="3">3</option>"#) && !low.contains(r#"<option value="4">"#), "no more than are left");
    }

    #[test]
    fn a_sold_out_product_has_no_form_and_says_so() {
        let html = page(0, 0, None);
        assert!(!html.contains("/cart/add") && !html.contains("Add to cart"));
        assert!(html.contains(r#"<p class="stock stock-out">Sold out</p>"#));
        assert!(html.contains("<strong>Sold out</strong> — this item can't be added to your cart right now."));
    }

    #[test]
    fn all_that_are_left_being_in_the_cart_already_leaves_nothing_to_add() {
        let html = page(3, 3, None);
        assert!(!html.contains("/cart/add") && html.contains("All 3 that are left are in your cart already."));
    }

    #[test]
    fn a_refused_addition_is_explained_with_the_stock_as_it_is_now() {
        let alert = |stock, in_cart| page(stock, in_cart, Some(AddProblem::Stock));
        assert!(alert(0, 0).contains("Mug &amp; Co is sold out."));
        assert!(alert(2, 0).contains("Only 2 of Mug &amp; Co are left, so you can add up to 2."));
        assert!(alert(4, 1).contains("Only 4 of Mug &amp; Co are left and your cart has 1, so you can add up to 3 more."));
        assert!(alert(2, 2).contains("they are all in your cart already"));
        assert!(alert(900, 0).contains("The stock changed while you were choosing."));
        assert!(alert(0, 0).contains(r#"role="alert""#));
        assert!(!page(0, 0, None).contains(r#"role="alert""#), "no alert without a refusal");
    }
}
