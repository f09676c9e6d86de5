//! Currency conversion, exactly: rates are fixed-point decimals, arithmetic is integer.
//!
//! Every rate is quoted against one base currency, USD: `per_usd` units of a currency buy 1 USD
//! (EUR 0.9215, JPY 151.23). A rate has at most 6 decimal places and is held as an integer
//! count of millionths, so `"0.9215"` is exactly 921_500 and no float is ever involved.
//!
//! **The rounding rule:** an amount converts from currency A to currency B as
//! `minor_A × per_usd(B) × 10^exp(B) / (per_usd(A) × 10^exp(A))`, computed exactly in 128-bit
//! integers and rounded once, half to even, to B's minor unit. Prices convert per unit; a line
//! total is the converted unit price times the quantity, so what the shopper reads on a line
//! always multiplies out, and the order total is the sum of what is shown.

use crate::money::{Currency, Money, MoneyError};
use std::fmt;

/// Millionths in one unit of a rate.
const SCALE: i64 = 1_000_000;
/// The largest rate accepted: a million units of a currency per dollar.
const MAX_MICROS: i64 = 1_000_000 * SCALE;

/// Units of a currency per 1 USD, exact to 6 decimal places; always more than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PerUsd(i64);

/// Why a rate or a conversion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The rate text isn't a plain decimal number.
    #[error("Enter the rate as a decimal number like 0.9215 (units of the currency per 1 USD)")]
    InvalidRate,
    /// Zero or too many decimals or too large.
    #[error("A rate must be more than 0 and at most 1000000, with at most 6 decimal places")]
    RateOutOfRange,
    /// USD is the base: its rate is 1 by definition.
    #[error("USD is the base currency: its rate is always 1")]
    BaseRate,
    /// No rate is on record for a currency.
    #[error("There is no exchange rate for {0} yet")]
    NoRate(Currency),
    /// The converted amount doesn't fit.
    #[error("Amount is too large")]
    Overflow,
}

impl From<ExchangeError> for MoneyError {
    fn from(_: ExchangeError) -> Self {
        MoneyError::Overflow
    }
}

impl PerUsd {
    /// The base currency's own rate.
    pub const ONE: PerUsd = PerUsd(SCALE);

    /// Parses `"0.9215"`, `"151.23"`, `"1"`: digits, an optional point and at most 6 decimals.
    pub fn parse(text: &str) -> Result<PerUsd, ExchangeError> {
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || (text.contains('.') && fraction.is_empty()) {
            return Err(ExchangeError::InvalidRate);
        }
        if fraction.len() > 6 || whole.len() > 7 {
            return Err(ExchangeError::RateOutOfRange);
        }
        let padded = format!("{whole}{fraction:0<6}");
        let micros = padded.parse::<i64>().map_err(|_| ExchangeError::RateOutOfRange)?;
        PerUsd::from_micros(micros)
    }

    /// A rate from its millionths, as stored; refuses zero and more than 1,000,000.
    pub fn from_micros(micros: i64) -> Result<PerUsd, ExchangeError> {
        if micros <= 0 || micros > MAX_MICROS {
            return Err(ExchangeError::RateOutOfRange);
        }
        Ok(PerUsd(micros))
    }

    /// Millionths, for storage.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Always 6 decimals (`"0.921500"`), the form orders and the API carry.
    pub fn to_decimal_string(self) -> String {
        format!("{}.{:06}", self.0 / SCALE, self.0 % SCALE)
    }

    /// Without trailing zeros (`"0.9215"`, `"151"`), for people.
    pub fn to_short_string(self) -> String {
        let full = self.to_decimal_string();
        full.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl fmt::Display for PerUsd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_short_string())
    }
}

/// The rates in force: one per currency, USD always 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rates {
    rates: Vec<(Currency, PerUsd)>,
}

impl Rates {
    /// The table from stored rates; a USD entry is refused (its rate is fixed), a later entry
    /// for the same currency replaces an earlier one.
    pub fn new<I: IntoIterator<Item = (Currency, PerUsd)>>(rates: I) -> Result<Rates, ExchangeError> {
        let mut table = Rates::default();
        for (currency, rate) in rates {
            if currency == Currency::Usd {
                return Err(ExchangeError::BaseRate);
            }
            table.rates.retain(|(c, _)| *c != currency);
            table.rates.push((currency, rate));
        }
        Ok(table)
    }

    /// The rate of `currency`: 1 for USD.
    pub fn per_usd(&self, currency: Currency) -> Result<PerUsd, ExchangeError> {
        if currency == Currency::Usd {
            return Ok(PerUsd::ONE);
        }
        self.rates
            .iter()
            .find(|(c, _)| *c == currency)
            .map(|(_, r)| *r)
            .ok_or(ExchangeError::NoRate(currency))
    }

    /// `amount` in `to`, by the rounding rule in the module documentation.
    pub fn convert(&self, amount: Money, to: Currency) -> Result<Money, ExchangeError> {
        let from = amount.currency();
        if from == to {
            return Ok(amount);
        }
        convert(amount, self.per_usd(from)?, to, self.per_usd(to)?)
    }
}

/// `amount` (at `from_rate` per USD) in `to` (at `to_rate` per USD), rounded half to even.
pub fn convert(amount: Money, from_rate: PerUsd, to: Currency, to_rate: PerUsd) -> Result<Money, ExchangeError> {
    let pow = |exp: u32| 10_i128.pow(exp);
    let numerator = i128::from(amount.minor())
        .checked_mul(i128::from(to_rate.0))
        .and_then(|n| n.checked_mul(pow(to.exponent())))
        .ok_or(ExchangeError::Overflow)?;
    let denominator = i128::from(from_rate.0)
        .checked_mul(pow(amount.currency().exponent()))
        .ok_or(ExchangeError::Overflow)?;
    let minor = div_round_half_even(numerator, denominator).ok_or(ExchangeError::Overflow)?;
    let minor = i64::try_from(minor).map_err(|_| ExchangeError::Overflow)?;
    Money::new(minor, to).map_err(|_| ExchangeError::Overflow)
}

/// `n / d` for `n ≥ 0`, `d > 0`, rounded to the nearest integer, ties to the even one; `None`
/// only for `d = 0` (a rate is never zero) or a result past `i128`.
fn div_round_half_even(n: i128, d: i128) -> Option<i128> {
    let (q, r) = (n.checked_div(d)?, n.checked_rem(d)?);
    let round_up = match r.checked_mul(2)?.cmp(&d) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q & 1 == 1,
    };
    if round_up {
        q.checked_add(1)
    } else {
        Some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(minor: i64, c: Currency) -> Money {
        Money::new(minor, c).unwrap()
    }
    fn rate(text: &str) -> PerUsd {
        PerUsd::parse(text).unwrap()
    }
    fn table() -> Rates {
        Rates::new([
            (Currency::Eur, rate("0.9215")),
            (Currency::Jpy, rate("151.23")),
            (Currency::Kwd, rate("0.3075")),
            (Currency::Gbp, rate("0.79")),
        ])
        .unwrap()
    }

    #[test]
    fn parses_rates_exactly() {
        assert_eq!(rate("0.9215").micros(), 921_500);
        assert_eq!(rate("151.23").micros(), 151_230_000);
        assert_eq!(rate("1").micros(), 1_000_000);
        assert_eq!(rate(" 0.000001 ").micros(), 1);
        assert_eq!(rate("1000000").micros(), MAX_MICROS);
        assert_eq!(rate("0.9215").to_decimal_string(), "0.921500");
        assert_eq!(rate("0.9215").to_short_string(), "0.9215");
        assert_eq!(rate("151").to_short_string(), "151");
    }

    #[test]
    fn refuses_bad_rates() {
        for bad in ["", ".5", "5.", "-1", "1e3", "0,92", "1.2.3", "abc", " ", "+1", "NaN"] {
            assert_eq!(PerUsd::parse(bad), Err(ExchangeError::InvalidRate), "{bad:?}");
        }
        for out in ["0", "0.000000", "0.0000001", "1000000.000001", "99999999"] {
            assert_eq!(PerUsd::parse(out), Err(ExchangeError::RateOutOfRange), "{out:?}");
        }
        assert_eq!(Rates::new([(Currency::Usd, rate("2"))]), Err(ExchangeError::BaseRate));
    }

    #[test]
    fn usd_to_eur_rounds_half_even_to_the_cent() {
        let t = table();
        // 19.99 × 0.9215 = 18.420785 → 18.42
        assert_eq!(t.convert(m(1999, Currency::Usd), Currency::Eur), Ok(m(1842, Currency::Eur)));
        // 10.00 × 0.9215 = 921.5 cents, a tie: to the even neighbour, 922
        assert_eq!(t.convert(m(1000, Currency::Usd), Currency::Eur), Ok(m(922, Currency::Eur)));
        // 0.10 × 0.9215 = 0.09215 → 9.215 cents → 9
        assert_eq!(t.convert(m(10, Currency::Usd), Currency::Eur), Ok(m(9, Currency::Eur)));
    }

    #[test]
    fn ties_go_to_the_even_neighbour() {
        let half = rate("0.5");
        // 1 cent × 0.5 = 0.5 cent → 0; 3 cents × 0.5 = 1.5 → 2; 5 × 0.5 = 2.5 → 2
        for (minor, want) in [(1, 0), (3, 2), (5, 2), (7, 4), (9, 4)] {
            let got = convert(m(minor, Currency::Usd), PerUsd::ONE, Currency::Eur, half).unwrap();
            assert_eq!(got.minor(), want, "{minor} × 0.5");
        }
    }

    #[test]
    fn yen_have_no_minor_unit() {
        let t = table();
        // 19.99 × 151.23 = 3023.0877 → ¥3,023
        assert_eq!(t.convert(m(1999, Currency::Usd), Currency::Jpy), Ok(m(3023, Currency::Jpy)));
        // ¥3,023 back to USD: 3023 / 151.23 = 19.98942... → $19.99
        assert_eq!(t.convert(m(3023, Currency::Jpy), Currency::Usd), Ok(m(1999, Currency::Usd)));
        // A cent is ¥1.5123 → ¥2
        assert_eq!(t.convert(m(1, Currency::Usd), Currency::Jpy), Ok(m(2, Currency::Jpy)));
    }

    #[test]
    fn dinars_have_three_decimals() {
        let t = table();
        // 19.99 × 0.3075 = 6.146925 → KWD 6.147 (6147 fils)
        assert_eq!(t.convert(m(1999, Currency::Usd), Currency::Kwd), Ok(m(6147, Currency::Kwd)));
        assert_eq!(t.convert(m(1999, Currency::Usd), Currency::Kwd).unwrap().format(), "KWD\u{a0}6.147");
    }

    #[test]
    fn cross_rates_round_once() {
        let t = table();
        // EUR 10.00 → GBP: 1000 × 0.79 / 0.9215 = 857.297... → 857
        assert_eq!(t.convert(m(1000, Currency::Eur), Currency::Gbp), Ok(m(857, Currency::Gbp)));
        // JPY → KWD: ¥10,000 × 0.3075 / 151.23 = 20.3332... dinars → KWD 20.333
        assert_eq!(t.convert(m(10_000, Currency::Jpy), Currency::Kwd), Ok(m(20_333, Currency::Kwd)));
    }

    #[test]
    fn same_currency_is_untouched_and_missing_rates_are_named() {
        let t = table();
        assert_eq!(t.convert(m(1999, Currency::Usd), Currency::Usd), Ok(m(1999, Currency::Usd)));
        assert_eq!(t.convert(m(1999, Currency::Usd), Currency::Chf), Err(ExchangeError::NoRate(Currency::Chf)));
        assert_eq!(ExchangeError::NoRate(Currency::Chf).to_string(), "There is no exchange rate for CHF yet");
    }

    #[test]
    fn large_amounts_convert_exactly_or_refuse() {
        let t = table();
        // The largest amount converts at a rate below 1 without loss.
        let max = m(i64::MAX, Currency::Usd);
        let eur = t.convert(max, Currency::Eur).unwrap();
        assert_eq!(i128::from(eur.minor()), (i128::from(i64::MAX) * 921_500 + 500_000) / 1_000_000);
        // ... and overflows at a rate above 1, refused instead of wrapping.
        assert_eq!(t.convert(max, Currency::Jpy), Err(ExchangeError::Overflow));
        // A million-dollar order at the largest rate still fits.
        let big = convert(m(100_000_000, Currency::Usd), PerUsd::ONE, Currency::Kwd, rate("1000000")).unwrap();
        assert_eq!(big.minor(), 100_000_000_i64 * 1_000_000 * 10);
    }

    #[test]
    fn a_later_rate_replaces_an_earlier_one() {
        let t = Rates::new([(Currency::Eur, rate("0.9")), (Currency::Eur, rate("0.95"))]).unwrap();
        assert_eq!(t.per_usd(Currency::Eur), Ok(rate("0.95")));
        assert_eq!(t.per_usd(Currency::Usd), Ok(PerUsd::ONE));
    }
}
