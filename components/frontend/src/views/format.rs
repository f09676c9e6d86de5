//! Turning contract values into shopper-facing text. Money goes through shop-domain's exact
//! integer formatting; nothing here uses floating point.
use shop_domain::Money;

/// A contract amount as domain money, when it is valid (known currency, not negative).
pub fn money(m: &shop_contract::Money) -> Option<Money> {
    shop_spin::wire::money_from_wire(m).ok()
}

/// `$1,234.50`, `¥1,999`, `CA$19.99`; amounts a service should never send are shown as unknown.
pub fn price(m: &shop_contract::Money) -> String {
    money(m).map_or_else(|| "Price unavailable".to_string(), |m| m.format())
}

/// `1 item`, `3 items`.
pub fn count(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The date of an RFC 3339 timestamp, e.g. `2025-03-07T10:00:00Z` → `7 March 2025`.
pub fn date(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ];
    let parts = rfc3339.get(..10).map(|d| {
        let mut it = d.split('-');
        (it.next(), it.next(), it.next())
    });
    if let Some((Some(y), Some(m), Some(d))) = parts {
        if let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<usize>(), d.parse::<u32>()) {
            if let Some(month) = m.checked_sub(1).and_then(|i| MONTHS.get(i)) {
                return format!("{d} {month} {y}");
            }
        }
    }
    rfc3339.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(minor: i64, currency: &str) -> shop_contract::Money {
        shop_contract::Money { minor, currency: currency.into() }
    }

    #[test]
    fn prices_use_each_currencys_rules() {
        assert_eq!(price(&m(1999, "USD")), "$19.99");
        assert_eq!(price(&m(123450, "usd")), "$1,234.50");
        assert_eq!(price(&m(1999, "JPY")), "¥1,999");
        assert_eq!(price(&m(5, "EUR")), "€0.05");
        assert_eq!(price(&m(1999, "CAD")), "CA$19.99");
        assert_eq!(price(&m(-1, "USD")), "Price unavailable");
        assert_eq!(price(&m(100, "XXX")), "Price unavailable");
    }

    #[test]
    fn counts_and_dates() {
        assert_eq!(count(1, "item", "items"), "1 item");
        assert_eq!(count(0, "item", "items"), "0 items");
        assert_eq!(date("2025-03-07T10:00:00Z"), "7 March 2025");
        assert_eq!(date("2025-13-07T10:00:00Z"), "2025-13-07T10:00:00Z");
        assert_eq!(date("soon"), "soon");
    }
}
