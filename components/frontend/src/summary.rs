//! A cart joined with its products and priced: what the cart page and the checkout summary show.
//!
//! Arithmetic is shop-domain's (integer money, one currency per order); the shipping estimate is
//! its quote (the same one the shipping service charges) for the default destination, the United
//! States, or for the country the checkout form names, so no service call is needed.
use shop_contract::carts::Cart;
use shop_contract::Product;
use shop_domain::{order, shipping, Country, Money, OrderLine, Quantity, Sku};

use crate::views::format;

/// The country the cart page estimates shipping for.
pub const ESTIMATE_COUNTRY: Country = Country::US;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub name: String,
    pub image: String,
    pub unit_price: String,
    pub quantity: u32,
    pub line_total: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: String,
    pub shipping: String,
    pub total: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub lines: Vec<Line>,
    /// SKUs in the cart that the catalog no longer has (or cannot price), with their quantity.
    pub unavailable: Vec<(String, u32)>,
    /// Items that can be bought (sum of quantities of `lines`).
    pub item_count: u32,
    /// `None` when there is nothing to price, or prices are in several currencies.
    pub totals: Option<Totals>,
    /// Where the shipping in `totals` is estimated to.
    pub shipping_country: Country,
}

impl Default for Summary {
    fn default() -> Self {
        Summary { lines: Vec::new(), unavailable: Vec::new(), item_count: 0, totals: None, shipping_country: ESTIMATE_COUNTRY }
    }
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.unavailable.is_empty()
    }

    /// The name of a line, for notices.
    pub fn name_of(&self, sku: &str) -> Option<&str> {
        self.lines.iter().find(|l| l.sku.eq_ignore_ascii_case(sku)).map(|l| l.name.as_str())
    }
}

/// The cart priced, with shipping estimated to the United States.
pub fn build(cart: &Cart, products: &[Product]) -> Summary {
    build_for(cart, products, ESTIMATE_COUNTRY)
}

/// The cart priced, with shipping estimated to `country`.
pub fn build_for(cart: &Cart, products: &[Product], country: Country) -> Summary {
    let mut summary = Summary { shipping_country: country, ..Summary::default() };
    let mut priced: Vec<OrderLine> = Vec::new();
    for cart_line in &cart.lines {
        let product = products.iter().find(|p| p.sku.eq_ignore_ascii_case(&cart_line.sku));
        let domain_line = product.and_then(|p| {
            Some(OrderLine {
                sku: Sku::parse(&p.sku).ok()?,
                name: p.name.clone(),
                unit_price: format::money(&p.price)?,
                quantity: Quantity::new(cart_line.quantity).ok()?,
            })
        });
        match (product, domain_line) {
            (Some(p), Some(line)) => {
                let line_total = line.line_total().map_or_else(|_| "—".to_string(), |m| m.format());
                summary.lines.push(Line {
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    image: p.image.clone(),
                    unit_price: line.unit_price.format(),
                    quantity: cart_line.quantity,
                    line_total,
                });
                priced.push(line);
            }
            _ => summary.unavailable.push((cart_line.sku.clone(), cart_line.quantity)),
        }
    }
    summary.item_count = order::item_count(&priced);
    summary.totals = priced.first().and_then(|first| {
        let currency = first.unit_price.currency();
        let shipping: Money = shipping::quote(country, summary.item_count, currency);
        order::price_order(&priced, shipping).ok().map(|t| Totals {
            subtotal: t.subtotal().format(),
            shipping: t.shipping().format(),
            total: t.total().format(),
        })
    });
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_contract::carts::CartLine;

    pub fn product(sku: &str, minor: i64, currency: &str) -> Product {
        Product {
            sku: sku.into(),
            name: format!("Product {sku}"),
            description: String::new(),
            price: shop_contract::Money { minor, currency: currency.into() },
            category: "kitchen".into(),
            image: "mug-teal".into(),
        }
    }

    fn cart(lines: &[(&str, u32)]) -> Cart {
        Cart {
            session: "s".into(),
            lines: lines.iter().map(|(s, q)| CartLine { sku: s.to_string(), quantity: *q }).collect(),
            item_count: lines.iter().map(|(_, q)| q).sum(),
        }
    }

    #[test]
    fn prices_lines_and_estimates_us_shipping() {
        let s = build(&cart(&[("MUG-1", 2), ("TEE-1", 1)]), &[product("MUG-1", 1250, "USD"), product("TEE-1", 1999, "USD")]);
        assert_eq!(s.item_count, 3);
        assert_eq!(s.lines[0].line_total, "$25.00");
        assert_eq!(s.lines[0].unit_price, "$12.50");
        let expected_shipping = shipping::quote(Country::US, 3, shop_domain::Currency::Usd);
        let totals = s.totals.clone().unwrap();
        assert_eq!(totals.subtotal, "$44.99");
        assert_eq!(totals.shipping, expected_shipping.format());
        let total = Money::new(4499 + expected_shipping.minor(), shop_domain::Currency::Usd).unwrap();
        assert_eq!(totals.total, total.format());
        assert_eq!(s.name_of("mug-1"), Some("Product MUG-1"));
    }

    #[test]
    fn shipping_is_estimated_for_the_country_given() {
        let c = cart(&[("MUG-1", 2)]);
        let p = [product("MUG-1", 1000, "USD")];
        assert_eq!(build(&c, &p).shipping_country, Country::US);
        let gb = build_for(&c, &p, Country::GB);
        assert_eq!(gb.shipping_country, Country::GB);
        assert_eq!(gb.totals.unwrap().shipping, shipping::quote(Country::GB, 2, shop_domain::Currency::Usd).format());
    }

    #[test]
    fn missing_products_are_listed_apart_and_not_charged() {
        let s = build(&cart(&[("GONE-1", 4), ("MUG-1", 1)]), &[product("MUG-1", 1000, "USD")]);
        assert_eq!(s.unavailable, vec![("GONE-1".to_string(), 4)]);
        assert_eq!(s.item_count, 1);
        assert_eq!(s.totals.unwrap().subtotal, "$10.00");
    }

    #[test]
    fn mixed_currencies_have_no_total_and_empty_carts_nothing() {
        let s = build(&cart(&[("A-1", 1), ("B-1", 1)]), &[product("A-1", 100, "USD"), product("B-1", 100, "EUR")]);
        assert!(s.totals.is_none());
        assert_eq!(s.lines.len(), 2);
        let empty = build(&cart(&[]), &[]);
        assert!(empty.is_empty() && empty.totals.is_none());
    }
}
