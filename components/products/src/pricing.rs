//! Prices in the shopper's currency and the operator's rates: parsing and conversion, no SQL.
//!
//! Every conversion is `shop_domain::exchange::Rates::convert` of a unit price (exact integer
//! arithmetic, rounded once, half to even): no floats, and no arithmetic on money in SQL.
use std::collections::BTreeSet;

use shop_contract::{FieldError, RateUsed, ShopError};
use shop_domain::exchange::{ExchangeError, PerUsd, Rates};
use shop_domain::{Currency, ErrorCollector, Money};

/// One stored rate, as read from `exchange_rates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRate {
    pub currency: Currency,
    pub per_usd: PerUsd,
    /// RFC 3339 UTC, to the second.
    pub valid_from: String,
}

impl StoredRate {
    /// Checks a stored row; `None` (and a log line) for one that breaks the rules, so a bad row
    /// makes its currency unavailable (422) instead of failing every read.
    pub fn from_row(currency: &str, micros: i64, valid_from: String) -> Option<StoredRate> {
        let parsed = Currency::parse(currency)
            .ok()
            .filter(|c| *c != Currency::Usd)
            .zip(PerUsd::from_micros(micros).ok());
        match parsed {
            Some((currency, per_usd)) => Some(StoredRate {
                currency,
                per_usd,
                valid_from,
            }),
            None => {
                shop_spin::log::error(&format!(
                    "stored exchange rate {currency:?} {micros} from {valid_from} is invalid; ignored"
                ));
                None
            }
        }
    }

    /// The wire form (`per_usd` always with 6 decimals).
    pub fn to_wire(&self) -> RateUsed {
        RateUsed {
            currency: self.currency.code().to_string(),
            per_usd: self.per_usd.to_decimal_string(),
            valid_from: self.valid_from.clone(),
        }
    }
}

/// The `currency` of a catalog read: none, or a supported code (400 on the field otherwise).
pub fn parse_currency(raw: Option<&str>) -> Result<Option<Currency>, FieldError> {
    raw.map(|code| {
        Currency::parse(code).map_err(|_| {
            let codes: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
            FieldError::new(
                "currency",
                format!("Choose one of the shop's currencies: {}", codes.join(", ")),
            )
        })
    })
    .transpose()
}

/// Converts the catalog's prices into the currency a read asked for, with the rates in force,
/// and remembers which rates it used.
#[derive(Debug)]
pub struct Pricing {
    target: Option<Currency>,
    rates: Rates,
    current: Vec<StoredRate>,
    used: BTreeSet<Currency>,
}

impl Pricing {
    /// Pricing into `target` (none: prices as stored) with the `current` rates. A target that
    /// has no rate in force is refused (422) before any product is looked at.
    pub fn new(target: Option<Currency>, current: Vec<StoredRate>) -> Result<Pricing, ShopError> {
        let rates = Rates::new(current.iter().map(|r| (r.currency, r.per_usd))).map_err(|e| {
            ShopError::internal(format!("The stored exchange rates are invalid: {e}"))
        })?;
        if let Some(target) = target {
            rates.per_usd(target).map_err(exchange_error)?;
        }
        Ok(Pricing {
            target,
            rates,
            current,
            used: BTreeSet::new(),
        })
    }

    /// `price` in the target currency (itself when none was asked for).
    pub fn display(&mut self, price: Money) -> Result<Money, ShopError> {
        let Some(target) = self.target else {
            return Ok(price);
        };
        if price.currency() == target {
            return Ok(price);
        }
        let converted = self.rates.convert(price, target).map_err(exchange_error)?;
        for c in [price.currency(), target] {
            if c != Currency::Usd {
                self.used.insert(c);
            }
        }
        Ok(converted)
    }

    /// The rates [`Pricing::display`] converted with, by currency code; empty when none.
    pub fn rates_used(&self) -> Vec<RateUsed> {
        self.current
            .iter()
            .filter(|r| self.used.contains(&r.currency))
            .map(StoredRate::to_wire)
            .collect()
    }
}

/// A conversion the rates cannot make: 422 with the domain's words.
fn exchange_error(e: ExchangeError) -> ShopError {
    ShopError::unprocessable(match e {
        ExchangeError::Overflow => "A price is too large to show in that currency".to_string(),
        other => other.to_string(),
    })
}

/// A validated `set_rates` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRates {
    /// RFC 3339 text PostgreSQL reads exactly (`T` and `Z` uppercase); none: now.
    pub valid_from: Option<String>,
    pub rates: Vec<(Currency, PerUsd)>,
}

/// Most rates one `set_rates` call takes (one per currency but USD is all there can be).
const MAX_RATES: usize = Currency::ALL.len() - 1;

/// Checks every rate of a `set_rates` request; all the problems at once, on fields
/// `valid_from`, `rates`, `rates[i].currency` and `rates[i].per_usd`.
pub fn parse_set_rates(
    valid_from: Option<&str>,
    rates: &[(String, String)],
) -> Result<NewRates, Vec<shop_domain::FieldError>> {
    let mut errors = ErrorCollector::new();
    let valid_from = valid_from.and_then(|t| errors.check("valid_from", parse_rfc3339(t)));
    if rates.is_empty() {
        errors.push("rates", "Give at least one rate, e.g. EUR \"0.9215\"");
    } else if rates.len() > MAX_RATES {
        errors.push(
            "rates",
            format!("Give at most {MAX_RATES} rates, one per currency"),
        );
    }
    let mut parsed: Vec<(Currency, PerUsd)> = Vec::with_capacity(rates.len());
    let mut seen: Vec<Currency> = Vec::with_capacity(rates.len());
    for (i, (code, rate)) in rates.iter().enumerate() {
        let field = format!("rates[{i}].currency");
        let currency = errors.check(&field, Currency::parse(code)).and_then(|c| {
            if c == Currency::Usd {
                errors.push(&field, ExchangeError::BaseRate.to_string());
                None
            } else if seen.contains(&c) {
                errors.push(
                    &field,
                    format!("{c} is given twice; give each currency's rate once"),
                );
                None
            } else {
                seen.push(c);
                Some(c)
            }
        });
        let per_usd = errors.check(&format!("rates[{i}].per_usd"), PerUsd::parse(rate));
        if let (Some(c), Some(r)) = (currency, per_usd) {
            parsed.push((c, r));
        }
    }
    if errors.is_empty() {
        Ok(NewRates {
            valid_from: valid_from.flatten(),
            rates: parsed,
        })
    } else {
        Err(errors.into_errors())
    }
}

const RFC3339_HINT: &str =
    "Give the time in RFC 3339 form, like 2026-07-01T00:00:00Z or 2026-07-01T02:00:00+02:00";

/// Checks an RFC 3339 date-time (`2026-07-01T00:00:00Z`, `...T02:00:00.5+02:00`) and answers it
/// with `T` and `Z` uppercase; a calendar date that does not exist or a leap second is refused.
pub fn parse_rfc3339(input: &str) -> Result<Option<String>, String> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    let b = upper.as_bytes();
    let fail = || Err(RFC3339_HINT.to_string());
    if b.len() < 20 || !b.is_ascii() {
        return fail();
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = upper.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let shape = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return fail();
    };
    if !shape {
        return fail();
    }
    // Optional fraction, then the offset.
    let mut at = 19;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 {
            return fail();
        }
        at += 1 + digits;
    }
    let offset_ok = match &b[at..] {
        [b'Z'] => true,
        [sign, ..]
            if (*sign == b'+' || *sign == b'-') && b.len() == at + 6 && b[at + 3] == b':' =>
        {
            matches!((num(at + 1, 2), num(at + 4, 2)), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    let valid = offset_ok
        && year >= 1970
        && (1..=days_in_month).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 59;
    if valid {
        Ok(Some(upper))
    } else {
        fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(currency: Currency, text: &str) -> StoredRate {
        StoredRate {
            currency,
            per_usd: PerUsd::parse(text).unwrap(),
            valid_from: "2026-01-01T00:00:00Z".into(),
        }
    }
    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd).unwrap()
    }
    fn seeded() -> Vec<StoredRate> {
        vec![
            rate(Currency::Eur, "0.92"),
            rate(Currency::Jpy, "151.25"),
            rate(Currency::Kwd, "0.3075"),
        ]
    }

    #[test]
    fn currencies_parse_or_name_the_field() {
        assert_eq!(parse_currency(None), Ok(None));
        assert_eq!(parse_currency(Some(" eur ")), Ok(Some(Currency::Eur)));
        let e = parse_currency(Some("XBT")).unwrap_err();
        assert_eq!(e.field, "currency");
        assert!(
            e.message.contains("USD, EUR, GBP, JPY, CAD, CHF, KWD"),
            "{}",
            e.message
        );
    }

    #[test]
    fn prices_convert_per_unit_and_remember_the_rates_used() {
        let mut p = Pricing::new(Some(Currency::Jpy), seeded()).unwrap();
        // $12.99 × 151.25 = ¥1964.7375 → ¥1965
        assert_eq!(
            p.display(usd(1299)).unwrap(),
            Money::new(1965, Currency::Jpy).unwrap()
        );
        let used = p.rates_used();
        assert_eq!(used.len(), 1);
        assert_eq!(
            (used[0].currency.as_str(), used[0].per_usd.as_str()),
            ("JPY", "151.250000")
        );

        let mut p = Pricing::new(Some(Currency::Kwd), seeded()).unwrap();
        // $19.99 × 0.3075 = KWD 6.146925 → 6.147
        assert_eq!(
            p.display(usd(1999)).unwrap(),
            Money::new(6147, Currency::Kwd).unwrap()
        );

        let mut p = Pricing::new(Some(Currency::Eur), seeded()).unwrap();
        // $10.00 × 0.92 = €9.20 exactly
        assert_eq!(
            p.display(usd(1000)).unwrap(),
            Money::new(920, Currency::Eur).unwrap()
        );
    }

    #[test]
    fn no_currency_or_the_same_one_converts_nothing() {
        let mut p = Pricing::new(None, Vec::new()).unwrap();
        assert_eq!(p.display(usd(1299)).unwrap(), usd(1299));
        assert!(p.rates_used().is_empty());
        let mut p = Pricing::new(Some(Currency::Usd), seeded()).unwrap();
        assert_eq!(p.display(usd(1299)).unwrap(), usd(1299));
        assert!(p.rates_used().is_empty(), "USD to USD uses no rate");
    }

    #[test]
    fn a_currency_without_a_rate_is_unprocessable() {
        let e = Pricing::new(Some(Currency::Chf), seeded()).unwrap_err();
        assert_eq!(
            (e.status(), e.message.as_str()),
            (422, "There is no exchange rate for CHF yet")
        );
        // A product stored in a currency without a rate cannot be shown in another one.
        let mut p = Pricing::new(Some(Currency::Eur), seeded()).unwrap();
        let gbp = Money::new(500, Currency::Gbp).unwrap();
        assert_eq!(p.display(gbp).unwrap_err().status(), 422);
    }

    #[test]
    fn cross_currency_prices_name_both_rates() {
        let mut p = Pricing::new(Some(Currency::Jpy), seeded()).unwrap();
        let eur = Money::new(920, Currency::Eur).unwrap();
        // €9.20 = $10.00 = ¥1512.5 → ¥1512 (half to even)
        assert_eq!(
            p.display(eur).unwrap(),
            Money::new(1512, Currency::Jpy).unwrap()
        );
        let codes: Vec<String> = p.rates_used().into_iter().map(|r| r.currency).collect();
        assert_eq!(codes, ["EUR", "JPY"]);
    }

    #[test]
    fn stored_rows_are_checked() {
        assert!(StoredRate::from_row("EUR", 920_000, "t".into()).is_some());
        assert!(StoredRate::from_row("USD", 1_000_000, "t".into()).is_none());
        assert!(StoredRate::from_row("XXX", 1_000_000, "t".into()).is_none());
        assert!(StoredRate::from_row("EUR", 0, "t".into()).is_none());
    }

    fn rates(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(c, r)| (c.to_string(), r.to_string()))
            .collect()
    }

    #[test]
    fn set_rates_takes_exact_decimals() {
        let ok = parse_set_rates(
            Some("2026-07-01T00:00:00z"),
            &rates(&[("eur", "0.9215"), ("JPY", "151.23")]),
        )
        .unwrap();
        assert_eq!(ok.valid_from.as_deref(), Some("2026-07-01T00:00:00Z"));
        assert_eq!(
            ok.rates,
            vec![
                (Currency::Eur, PerUsd::parse("0.9215").unwrap()),
                (Currency::Jpy, PerUsd::parse("151.23").unwrap())
            ]
        );
        assert_eq!(
            parse_set_rates(None, &rates(&[("KWD", "0.3075")]))
                .unwrap()
                .valid_from,
            None
        );
        assert_eq!(
            parse_set_rates(Some(" "), &rates(&[("KWD", "0.3075")]))
                .unwrap()
                .valid_from,
            None
        );
    }

    #[test]
    fn set_rates_names_every_bad_field() {
        let errors = parse_set_rates(
            Some("tomorrow"),
            &rates(&[
                ("USD", "1"),
                ("EUR", "0,92"),
                ("XBT", "1"),
                ("GBP", "0"),
                ("GBP", "0.79"),
                ("JPY", "1.0000001"),
            ]),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "valid_from",
                "rates[0].currency",
                "rates[1].per_usd",
                "rates[2].currency",
                "rates[3].per_usd",
                "rates[4].currency",
                "rates[5].per_usd"
            ]
        );
        assert_eq!(
            errors[1].message,
            "USD is the base currency: its rate is always 1"
        );
        assert!(errors[5].message.contains("twice"), "{}", errors[5].message);
        assert_eq!(parse_set_rates(None, &[]).unwrap_err()[0].field, "rates");
    }

    #[test]
    fn rfc3339_times_are_checked() {
        for ok in [
            "2026-07-01T00:00:00Z",
            "2026-07-01t12:30:59.123456z",
            "2024-02-29T23:59:59+14:00",
            "2026-12-31T00:00:00-05:30",
            "2026-01-01T00:00:00.5Z",
        ] {
            assert!(matches!(parse_rfc3339(ok), Ok(Some(_))), "{ok}");
        }
        assert_eq!(
            parse_rfc3339("2026-07-01t00:00:00z"),
            Ok(Some("2026-07-01T00:00:00Z".into()))
        );
        for bad in [
            "2026-07-01",
            "2026-07-01 00:00:00Z",
            "2026-07-01T00:00:00",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-07-01T24:00:00Z",
            "2026-07-01T00:60:00Z",
            "2026-07-01T00:00:60Z",
            "2026-07-01T00:00:00.Z",
            "2026-07-01T00:00:00+0200",
            "2026-07-01T00:00:00+24:00",
            "1969-12-31T23:59:59Z",
            "+2026-07-01T00:00:00Z",
            "2026-07-01T00:00:00Zjunk",
            "２026-07-01T00:00:00Z",
            "now",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
