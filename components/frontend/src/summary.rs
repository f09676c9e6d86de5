//! A cart joined with its products and priced: what the cart page and the checkout summary show.
//!
//! Prices are the catalog's `display_price`, in the shopper's currency; arithmetic is
//! shop-domain's (integer money, one currency per order); the shipping estimate is its quote
//! (the same one the shipping service charges, in every currency the shop sells in) for the
//! default destination, the United States, or for the country the checkout form names, so no
//! service call is needed.
use shop_contract::carts::{Cart, CartLine};
use shop_contract::Product;
use shop_domain::stock::StockLevel;
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
    /// Units the catalog can still sell.
    pub stock: u32,
}

impl Line {
    /// What the shopper must know about the stock of this line: sold out, fewer left than the
    /// line holds, or only a few left; nothing when plenty are.
    pub fn stock_note(&self) -> Option<String> {
        match StockLevel::of(self.stock) {
            StockLevel::SoldOut => Some("Sold out — remove it to check out".to_string()),
            StockLevel::Low(n) if self.quantity > n => {
                Some(format!("Only {n} left — lower the quantity to {n} or fewer to check out"))
            }
            level @ StockLevel::Low(_) => Some(level.label()),
            StockLevel::InStock if self.quantity > self.stock => {
                Some(format!("Only {} left — lower the quantity to check out", self.stock))
            }
            StockLevel::InStock => None,
        }
    }

    /// Checkout can reserve this line as it is.
    pub fn in_stock(&self) -> bool {
        self.quantity <= self.stock
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: String,
    pub shipping: String,
    pub total: String,
    /// The same total as numbers, for the checkout form to send back as the one it showed.
    pub expected: Expected,
}

/// The total a checkout form showed, and what its shipping was quoted for. The shipping part
/// follows the country the shopper then picks (the page can't update without a script, so it
/// lists the total for every destination: [`Expected::by_zone`]); the goods' part must not move,
/// or checkout refuses the order (409) and the page shows the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub total: Money,
    pub items: u32,
    pub country: Country,
}

impl Expected {
    /// The total with the shipping quoted to `country` instead (the same when it is the one shown).
    pub fn shipped_to(self, country: Country) -> Option<Money> {
        let currency = self.total.currency();
        let shown = shipping::quote(self.country, self.items, currency);
        let wanted = shipping::quote(country, self.items, currency);
        self.total.checked_sub(shown).ok()?.checked_add(wanted).ok()
    }

    /// The total for each shipping zone, with the countries it covers, in the zones' order: what
    /// the checkout page lists, so that whichever country is chosen, the charge is a figure the
    /// page showed.
    pub fn by_zone(self) -> Vec<(Vec<Country>, Money)> {
        let mut zones: Vec<(shipping::ShippingZone, Vec<Country>)> = Vec::new();
        for country in Country::ALL {
            let zone = shipping::ShippingZone::for_country(country);
            match zones.iter_mut().find(|(z, _)| *z == zone) {
                Some((_, countries)) => countries.push(country),
                None => zones.push((zone, vec![country])),
            }
        }
        zones
            .into_iter()
            .filter_map(|(_, countries)| Some((self.shipped_to(*countries.first()?)?, countries)))
            .map(|(total, countries)| (countries, total))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
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
    /// "Often bought together", from the same catalog call (the cart page asks for them).
    pub recommendations: Vec<Product>,
}

impl Summary {
    /// The lines this page shows, as the checkout form's hidden `lines` field carries them:
    /// `SKU:quantity` joined by commas, unavailable ones too (checkout names them).
    pub fn confirmed_lines(&self) -> String {
        let priced = self.lines.iter().map(|l| (l.sku.as_str(), l.quantity));
        let unavailable = self.unavailable.iter().map(|(sku, quantity)| (sku.as_str(), *quantity));
        priced.chain(unavailable).map(|(sku, quantity)| format!("{sku}:{quantity}")).collect::<Vec<_>>().join(",")
    }
}

/// The hidden `lines` field read back: `None` when it is not one this shop wrote. Checkout checks
/// the SKUs and quantities against the cart rules.
pub fn parse_confirmed_lines(text: &str) -> Option<Vec<CartLine>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|pair| {
            let (sku, quantity) = pair.split_once(':')?;
            let quantity = quantity.parse::<u32>().ok().filter(|_| quantity.bytes().all(|b| b.is_ascii_digit()))?;
            Some(CartLine { sku: sku.to_string(), quantity })
        })
        .collect()
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            lines: Vec::new(),
            unavailable: Vec::new(),
            item_count: 0,
            totals: None,
            shipping_country: ESTIMATE_COUNTRY,
            recommendations: Vec::new(),
        }
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

    /// Every line can be reserved as it is (none sold out, none over the stock).
    pub fn all_in_stock(&self) -> bool {
        self.lines.iter().all(Line::in_stock)
    }
}

/// The cart priced, with shipping estimated to the United States.
pub fn build(cart: &Cart, products: &[Product]) -> Summary {
    build_for(cart, products, ESTIMATE_COUNTRY)
}

/// The cart priced in the products' display prices, with shipping estimated to `country`.
pub fn build_for(cart: &Cart, products: &[Product], country: Country) -> Summary {
    let mut summary = Summary { shipping_country: country, ..Summary::default() };
    let mut priced: Vec<OrderLine> = Vec::new();
    for cart_line in &cart.lines {
        let product = products.iter().find(|p| p.sku.eq_ignore_ascii_case(&cart_line.sku));
        let domain_line = product.and_then(|p| {
            Some(OrderLine {
                sku: Sku::parse(&p.sku).ok()?,
                name: p.name.clone(),
                unit_price: format::money(&p.display_price)?,
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
                    stock: p.stock,
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
            expected: Expected { total: t.total(), items: summary.item_count, country },
        })
    });
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_domain::Currency;

    pub fn product(sku: &str, minor: i64, currency: &str) -> Product {
        let price = shop_contract::Money { minor, currency: currency.into() };
        Product {
            sku: sku.into(),
            name: format!("Product {sku}"),
            description: String::new(),
            display_price: price.clone(),
            price,
            category: "kitchen".into(),
            image: "mug-teal".into(),
            stock: 1000,
        }
    }

    /// A USD product shown in another currency.
    fn shown_in(sku: &str, usd_minor: i64, minor: i64, currency: &str, stock: u32) -> Product {
        Product { display_price: shop_contract::Money { minor, currency: currency.into() }, stock, ..product(sku, usd_minor, "USD") }
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

    #[test]
    fn lines_are_priced_in_the_display_price_and_shipping_in_that_currency() {
        let c = cart(&[("MUG-1", 2), ("TEE-1", 1)]);
        let jpy = build(&c, &[shown_in("MUG-1", 1250, 1891, "JPY", 1000), shown_in("TEE-1", 1999, 3023, "JPY", 1000)]);
        assert_eq!(jpy.lines[0].unit_price, "¥1,891");
        assert_eq!(jpy.lines[0].line_total, "¥3,782");
        let totals = jpy.totals.unwrap();
        assert_eq!(totals.subtotal, "¥6,805");
        let shipping = shipping::quote(Country::US, 3, Currency::Jpy);
        assert_eq!(totals.shipping, shipping.format());
        assert_eq!(totals.expected.total, Money::new(6805 + shipping.minor(), Currency::Jpy).unwrap());
        assert_eq!((totals.expected.items, totals.expected.country), (3, Country::US));

        let kwd = build(&cart(&[("MUG-1", 3)]), &[shown_in("MUG-1", 1999, 6147, "KWD", 1000)]);
        assert_eq!(kwd.lines[0].unit_price, "KWD\u{a0}6.147");
        assert_eq!(kwd.lines[0].line_total, "KWD\u{a0}18.441");
        let totals = kwd.totals.unwrap();
        assert_eq!(totals.shipping, shipping::quote(Country::US, 3, Currency::Kwd).format());
        assert!(totals.total.starts_with("KWD\u{a0}") && totals.total.split('.').nth(1).map(str::len) == Some(3));
    }

    #[test]
    fn the_expected_total_follows_the_country_the_shopper_picks_for_shipping_only() {
        let s = build(&cart(&[("MUG-1", 2)]), &[shown_in("MUG-1", 1000, 922, "EUR", 1000)]);
        let expected = s.totals.unwrap().expected;
        assert_eq!(expected.shipped_to(Country::US), Some(expected.total));
        let gb = build_for(&cart(&[("MUG-1", 2)]), &[shown_in("MUG-1", 1000, 922, "EUR", 1000)], Country::GB);
        assert_eq!(expected.shipped_to(Country::GB), Some(gb.totals.unwrap().expected.total));
    }

    #[test]
    fn stock_notes_say_what_stops_a_line_from_being_ordered() {
        let c = cart(&[("A-1", 1), ("B-1", 3), ("C-1", 2), ("D-1", 12), ("E-1", 1)]);
        let s = build(&c, &[
            shown_in("A-1", 100, 100, "USD", 0),
            shown_in("B-1", 100, 100, "USD", 2),
            shown_in("C-1", 100, 100, "USD", 3),
            shown_in("D-1", 100, 100, "USD", 8),
            shown_in("E-1", 100, 100, "USD", 500),
        ]);
        let notes: Vec<Option<String>> = s.lines.iter().map(Line::stock_note).collect();
        assert_eq!(notes, [
            Some("Sold out — remove it to check out".to_string()),
            Some("Only 2 left — lower the quantity to 2 or fewer to check out".to_string()),
            Some("Only 3 left".to_string()),
            Some("Only 8 left — lower the quantity to check out".to_string()),
            None,
        ]);
        assert!(!s.all_in_stock());
        let fine = build(&cart(&[("C-1", 2)]), &[shown_in("C-1", 100, 100, "USD", 3)]);
        assert!(fine.all_in_stock());
    }

    #[test]
    fn the_confirmed_lines_round_trip_through_the_form_and_nothing_else_is_read() {
        let summary = Summary {
            lines: vec![Line { sku: "KIT-MUG-TEAL".into(), name: String::new(), image: String::new(), unit_price: String::new(), quantity: 2, line_total: String::new(), stock: 9 }],
            unavailable: vec![("OLD-THING".into(), 1)],
            ..Summary::default()
        };
        let text = summary.confirmed_lines();
        assert_eq!(text, "KIT-MUG-TEAL:2,OLD-THING:1");
        let lines = parse_confirmed_lines(&text).unwrap();
        assert_eq!(lines, vec![CartLine { sku: "KIT-MUG-TEAL".into(), quantity: 2 }, CartLine { sku: "OLD-THING".into(), quantity: 1 }]);
        assert_eq!(parse_confirmed_lines(""), Some(Vec::new()));
        for bad in ["KIT-MUG-TEAL", "KIT-MUG-TEAL:", "A:1,", "A:-1", "A:+1", "A:1:2", "A:99999999999"] {
            assert_eq!(parse_confirmed_lines(bad), None, "{bad}");
        }
    }
}
