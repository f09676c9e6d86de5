//! The edge between the contract's wire types and the domain's checked types: parse on the way
//! in (collecting field errors), convert back on the way out. Every service uses these, so a
//! wire shape is read and written the same way everywhere.
use std::time::{SystemTime, UNIX_EPOCH};

use shop_contract::{FieldError, ShopError};
use shop_domain::card_details::parse_card_details;
use shop_domain::{Address, AddressInput, Card, Currency, Money, MoneyError, YearMonth};

/// A domain amount on the wire.
pub fn money_to_wire(m: Money) -> shop_contract::Money {
    shop_contract::Money { minor: m.minor(), currency: m.currency().code().to_string() }
}

/// A wire amount checked: a supported currency and a non-negative amount.
pub fn money_from_wire(m: &shop_contract::Money) -> Result<Money, MoneyError> {
    Currency::parse(&m.currency).and_then(|c| Money::new(m.minor, c))
}

/// A domain address on the wire.
pub fn address_to_wire(a: &Address) -> shop_contract::Address {
    let i = a.to_input();
    shop_contract::Address { name: i.name, street: i.street, city: i.city, postal_code: i.postal_code, country: i.country }
}

/// Parses a wire address; each problem is added to `errors` on the field `{prefix}{name}`.
pub fn address_from_wire(a: shop_contract::Address, prefix: &str, errors: &mut Vec<FieldError>) -> Option<Address> {
    let input =
        AddressInput { name: a.name, street: a.street, city: a.city, postal_code: a.postal_code, country: a.country };
    Address::parse(input).map_err(|fields| errors.extend(prefixed(prefix, fields))).ok()
}

/// A wire order status as the domain's (whose `as_str` is its API name, `label` its words).
pub fn order_status_from_wire(status: shop_contract::OrderStatus) -> shop_domain::OrderStatus {
    match status {
        shop_contract::OrderStatus::Pending => shop_domain::OrderStatus::Pending,
        shop_contract::OrderStatus::Paid => shop_domain::OrderStatus::Paid,
        shop_contract::OrderStatus::Completed => shop_domain::OrderStatus::Completed,
        shop_contract::OrderStatus::Failed => shop_domain::OrderStatus::Failed,
    }
}

/// Parses a wire card against this month; each problem is added to `errors` on the field
/// `card.{name}`.
pub fn card_from_wire(c: &shop_contract::CardDetails, errors: &mut Vec<FieldError>) -> Option<Card> {
    parse_card_details(&c.number, c.expiry_month, c.expiry_year, &c.cvv, this_month())
        .map_err(|fields| errors.extend(prefixed("card.", fields)))
        .ok()
}

/// 400 naming each field the domain refused: how every service answers a request it can't parse.
pub fn invalid_fields(fields: Vec<shop_domain::FieldError>) -> ShopError {
    ShopError::invalid_fields(prefixed("", fields).collect())
}

/// 409 naming each line of an order that can't be held: `(sku, message)` pairs become the
/// messages joined with "; " and a field error `lines.<sku>` each.
pub fn short_of_stock(lines: Vec<(String, String)>) -> ShopError {
    let message = if lines.is_empty() {
        "Some products have too few units left".to_string()
    } else {
        lines.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ")
    };
    ShopError {
        code: shop_contract::ErrorCode::Conflict,
        message,
        fields: lines.into_iter().map(|(sku, m)| FieldError::new(format!("lines.{sku}"), m)).collect(),
    }
}

/// Domain field errors as wire field errors named `{prefix}{field}`.
pub fn prefixed(prefix: &str, fields: Vec<shop_domain::FieldError>) -> impl Iterator<Item = FieldError> + '_ {
    fields.into_iter().map(move |e| FieldError::new(format!("{prefix}{}", e.field), e.message))
}

/// The current month in UTC, which card expiry dates are checked against.
pub fn this_month() -> YearMonth {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (year, month, _) = crate::log::civil_from_days(days);
    YearMonth::new(u16::try_from(year).unwrap_or(u16::MAX), u8::try_from(month).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_and_bad_wire_money_is_refused() {
        let wire = shop_contract::Money { minor: 1999, currency: "usd".into() };
        let money = money_from_wire(&wire).unwrap();
        assert_eq!(money_to_wire(money), shop_contract::Money { minor: 1999, currency: "USD".into() });
        assert!(money_from_wire(&shop_contract::Money { minor: -1, currency: "USD".into() }).is_err());
        assert!(money_from_wire(&shop_contract::Money { minor: 1, currency: "XXX".into() }).is_err());
    }

    #[test]
    fn address_errors_are_prefixed() {
        let wire = shop_contract::Address {
            name: "Ada".into(),
            street: "".into(),
            city: "London".into(),
            postal_code: "N1 9GU".into(),
            country: "ZZ".into(),
        };
        let mut errors = Vec::new();
        assert!(address_from_wire(wire, "address.", &mut errors).is_none());
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"address.street") && fields.contains(&"address.country"), "{fields:?}");
    }

    #[test]
    fn this_month_is_plausible() {
        let m = this_month();
        assert!(m.year >= 2025 && (1..=12).contains(&m.month));
    }
}
