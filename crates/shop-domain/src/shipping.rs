//! Shipping zones and the flat-rate shipping price table.
//!
//! The shop ships from the United States. The price is a base price covering the first
//! item plus a fee for each additional item. Prices are fixed price points per currency,
//! not exchange-rate conversions, so a quote never changes between page loads:
//!
//! | Zone          | Countries                                  | USD / EUR / GBP / CAD  | JPY            | Delivery           |
//! |---------------|--------------------------------------------|------------------------|----------------|--------------------|
//! | Domestic      | US                                         | 5.00 + 1.00 per extra  | ¥750 + ¥150    | 2–5 business days  |
//! | North America | CA                                         | 10.00 + 2.00 per extra | ¥1,500 + ¥300  | 4–8 business days  |
//! | Europe        | GB, IE, DE, FR, NL, BE, ES, IT, SE, CH     | 15.00 + 3.00 per extra | ¥2,250 + ¥450  | 5–10 business days |
//! | Rest of world | JP, AU, NZ                                 | 20.00 + 4.00 per extra | ¥3,000 + ¥600  | 7–14 business days |
//!
//! CHF uses the USD/EUR/GBP/CAD column; KWD is 0.3 of it (domestic: KWD 1.500 + 0.300).
//!
//! Example: 3 items to Germany in EUR = 15.00 + 2 × 3.00 = €21.00.

use crate::address::Country;
use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A group of destinations sharing one shipping price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingZone {
    /// Within the United States.
    Domestic,
    /// Canada (the rest of North America the shop ships to).
    NorthAmerica,
    /// European countries.
    Europe,
    /// Everywhere else the shop ships to.
    RestOfWorld,
}

impl ShippingZone {
    /// The zone a country belongs to.
    pub const fn for_country(country: Country) -> Self {
        match country {
            Country::US => ShippingZone::Domestic,
            Country::CA => ShippingZone::NorthAmerica,
            Country::GB
            | Country::IE
            | Country::DE
            | Country::FR
            | Country::NL
            | Country::BE
            | Country::ES
            | Country::IT
            | Country::SE
            | Country::CH => ShippingZone::Europe,
            Country::JP | Country::AU | Country::NZ => ShippingZone::RestOfWorld,
        }
    }

    /// Name to show the shopper.
    pub const fn name(self) -> &'static str {
        match self {
            ShippingZone::Domestic => "Domestic",
            ShippingZone::NorthAmerica => "North America",
            ShippingZone::Europe => "Europe",
            ShippingZone::RestOfWorld => "Rest of world",
        }
    }

    /// Estimated delivery time in business days, `(min, max)`.
    pub const fn delivery_days(self) -> (u8, u8) {
        match self {
            ShippingZone::Domestic => (2, 5),
            ShippingZone::NorthAmerica => (4, 8),
            ShippingZone::Europe => (5, 10),
            ShippingZone::RestOfWorld => (7, 14),
        }
    }

    /// `(base, per additional item)` in hundredths of the major unit — the table's USD/EUR/GBP/CAD column.
    const fn price_points(self) -> (i64, i64) {
        match self {
            ShippingZone::Domestic => (500, 100),
            ShippingZone::NorthAmerica => (1_000, 200),
            ShippingZone::Europe => (1_500, 300),
            ShippingZone::RestOfWorld => (2_000, 400),
        }
    }
}

impl fmt::Display for ShippingZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Price points → minor units: same number for 2-decimal currencies; yen are ×1.5 whole units
/// (all price points are multiples of 100, so this is exact); dinars are 0.3 of the number in
/// fils-per-hundredth terms (×3 fils: 5.00 → KWD 1.500).
fn to_minor(points: i64, currency: Currency) -> i64 {
    match currency {
        Currency::Jpy => points.saturating_mul(3) / 2,
        Currency::Kwd => points.saturating_mul(3),
        Currency::Usd | Currency::Eur | Currency::Gbp | Currency::Cad | Currency::Chf => points,
    }
}

/// Shipping price for `item_count` items (sum of quantities) to `country`, in `currency`; zero for no items.
pub fn quote(country: Country, item_count: u32, currency: Currency) -> Money {
    let (base, per_extra) = ShippingZone::for_country(country).price_points();
    let points = match item_count {
        0 => 0,
        n => base.saturating_add(per_extra.saturating_mul(i64::from(n.saturating_sub(1)))),
    };
    // Can't be negative (all table entries are positive) and can't realistically saturate.
    Money::new(to_minor(points, currency), currency).unwrap_or(Money::zero(currency))
}

/// Items (sum of quantities) one quote, and so one shipment, may cover.
pub const QUOTE_ITEMS: std::ops::RangeInclusive<u32> = 1..=999;

/// An item count outside [`QUOTE_ITEMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("The item count must be from {} to {}", QUOTE_ITEMS.start(), QUOTE_ITEMS.end())]
pub struct ItemCountError;

/// [`quote`] for a shipment the carrier takes: 1 to 999 items.
pub fn quote_within_limits(country: Country, item_count: u32, currency: Currency) -> Result<Money, ItemCountError> {
    if QUOTE_ITEMS.contains(&item_count) {
        Ok(quote(country, item_count, currency))
    } else {
        Err(ItemCountError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_cover_one_to_999_items() {
        let de = Country::parse("DE").unwrap();
        assert_eq!(quote_within_limits(de, 3, Currency::Eur), Ok(money(2100, Currency::Eur)));
        assert_eq!(quote_within_limits(de, 999, Currency::Eur), Ok(quote(de, 999, Currency::Eur)));
        for count in [0, 1000, u32::MAX] {
            let e = quote_within_limits(de, count, Currency::Eur).unwrap_err();
            assert_eq!(e.to_string(), "The item count must be from 1 to 999");
        }
    }

    fn money(minor: i64, c: Currency) -> Money {
        Money::new(minor, c).unwrap()
    }

    #[test]
    fn zones() {
        assert_eq!(
            ShippingZone::for_country(Country::US),
            ShippingZone::Domestic
        );
        assert_eq!(
            ShippingZone::for_country(Country::CA),
            ShippingZone::NorthAmerica
        );
        assert_eq!(ShippingZone::for_country(Country::DE), ShippingZone::Europe);
        assert_eq!(ShippingZone::for_country(Country::CH), ShippingZone::Europe);
        assert_eq!(ShippingZone::for_country(Country::GB), ShippingZone::Europe);
        assert_eq!(
            ShippingZone::for_country(Country::JP),
            ShippingZone::RestOfWorld
        );
        assert_eq!(
            ShippingZone::for_country(Country::NZ),
            ShippingZone::RestOfWorld
        );
        assert_eq!(ShippingZone::NorthAmerica.to_string(), "North America");
        assert_eq!(ShippingZone::Europe.delivery_days(), (5, 10));
    }

    #[test]
    fn quotes_match_the_documented_table() {
        assert_eq!(
            quote(Country::US, 1, Currency::Usd),
            money(500, Currency::Usd)
        );
        assert_eq!(
            quote(Country::US, 3, Currency::Usd),
            money(700, Currency::Usd)
        );
        assert_eq!(
            quote(Country::CA, 2, Currency::Cad),
            money(1_200, Currency::Cad)
        );
        assert_eq!(
            quote(Country::DE, 3, Currency::Eur),
            money(2_100, Currency::Eur)
        );
        assert_eq!(
            quote(Country::GB, 1, Currency::Gbp),
            money(1_500, Currency::Gbp)
        );
        assert_eq!(
            quote(Country::AU, 2, Currency::Usd),
            money(2_400, Currency::Usd)
        );
        assert_eq!(
            quote(Country::US, 1, Currency::Jpy),
            money(750, Currency::Jpy)
        );
        assert_eq!(
            quote(Country::CA, 1, Currency::Jpy),
            money(1_500, Currency::Jpy)
        );
        assert_eq!(
            quote(Country::FR, 2, Currency::Jpy),
            money(2_700, Currency::Jpy)
        );
        assert_eq!(
            quote(Country::JP, 3, Currency::Jpy),
            money(4_200, Currency::Jpy)
        );
        assert_eq!(quote(Country::DE, 3, Currency::Eur).format(), "€21.00");
    }

    #[test]
    fn zero_items_ship_free() {
        assert!(quote(Country::US, 0, Currency::Usd).is_zero());
    }

    #[test]
    fn huge_counts_do_not_panic() {
        let q = quote(Country::NZ, u32::MAX, Currency::Jpy);
        assert!(q.minor() > 0);
    }

    #[test]
    fn quote_is_monotonic_and_in_requested_currency() {
        for country in Country::ALL {
            for currency in Currency::ALL {
                let mut previous = 0;
                for items in 1..=120 {
                    let q = quote(country, items, currency);
                    assert_eq!(q.currency(), currency);
                    assert!(q.minor() > previous, "{country:?} {currency:?} {items}");
                    previous = q.minor();
                }
            }
        }
    }

    #[test]
    fn farther_zones_cost_more() {
        let zones = [Country::US, Country::CA, Country::DE, Country::JP];
        for pair in zones.windows(2) {
            assert!(
                quote(pair[0], 2, Currency::Usd).minor() < quote(pair[1], 2, Currency::Usd).minor()
            );
        }
    }
}
