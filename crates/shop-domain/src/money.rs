//! Money as integer minor units of a supported currency: exact, checked, never negative.
//!
//! Floats can't represent 0.10 exactly, so every amount is an `i64` count of the
//! currency's minor unit (cents, pence; yen have none). All arithmetic is checked and
//! returns [`MoneyError`] instead of wrapping or panicking.

use crate::quantity::Quantity;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// A currency the shop sells in (ISO 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Currency {
    /// US dollar, 2 decimals.
    Usd,
    /// Euro, 2 decimals.
    Eur,
    /// Pound sterling, 2 decimals.
    Gbp,
    /// Japanese yen, no minor unit.
    Jpy,
    /// Canadian dollar, 2 decimals.
    Cad,
    /// Swiss franc, 2 decimals.
    Chf,
    /// Kuwaiti dinar, 3 decimals (1 dinar = 1000 fils).
    Kwd,
}

impl Currency {
    /// Every supported currency.
    pub const ALL: [Currency; 7] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Jpy,
        Currency::Cad,
        Currency::Chf,
        Currency::Kwd,
    ];

    /// ISO 4217 code, e.g. `"USD"`.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Jpy => "JPY",
            Currency::Cad => "CAD",
            Currency::Chf => "CHF",
            Currency::Kwd => "KWD",
        }
    }

    /// Number of decimal places of the minor unit (ISO 4217 exponent): 0 for JPY, 3 for KWD,
    /// 2 otherwise.
    pub const fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Kwd => 3,
            Currency::Usd | Currency::Eur | Currency::Gbp | Currency::Cad | Currency::Chf => 2,
        }
    }

    /// Minor units per major unit (1, 100 or 1000).
    pub const fn minor_per_major(self) -> i64 {
        10_i64.pow(self.exponent())
    }

    /// English name, for the currency picker.
    pub const fn name(self) -> &'static str {
        match self {
            Currency::Usd => "US dollar",
            Currency::Eur => "Euro",
            Currency::Gbp => "British pound",
            Currency::Jpy => "Japanese yen",
            Currency::Cad => "Canadian dollar",
            Currency::Chf => "Swiss franc",
            Currency::Kwd => "Kuwaiti dinar",
        }
    }

    /// Display symbol; `"CA$"` keeps Canadian dollars distinct from US dollars; francs and
    /// dinars have no one-character symbol, so their code leads (`"CHF 19.99"`, `"KWD 6.150"`).
    pub const fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
            Currency::Jpy => "¥",
            Currency::Cad => "CA$",
            Currency::Chf => "CHF\u{a0}",
            Currency::Kwd => "KWD\u{a0}",
        }
    }

    /// Parses an ISO code in any letter case, ignoring surrounding whitespace (`"usd"` → USD).
    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        let code = input.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code))
            .ok_or(MoneyError::UnsupportedCurrency)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Currency> for &'static str {
    fn from(c: Currency) -> Self {
        c.code()
    }
}

/// Why an amount or a calculation was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// A price or total below zero.
    #[error("Amount can't be negative")]
    Negative,
    /// Two amounts in different currencies were combined.
    #[error("Amounts must all be in {expected}, but one is in {found}")]
    CurrencyMismatch {
        /// The currency the calculation is in.
        expected: Currency,
        /// The currency of the odd one out.
        found: Currency,
    },
    /// The result doesn't fit in an `i64` of minor units.
    #[error("Amount is too large")]
    Overflow,
    /// Blank amount input.
    #[error("Enter an amount")]
    MissingAmount,
    /// Amount input isn't a plain decimal number.
    #[error("Enter an amount like {}", example_amount(*.currency))]
    InvalidAmount {
        /// Currency the amount was meant to be in (decides the example shown).
        currency: Currency,
    },
    /// More decimal places than the currency has.
    #[error("{}", too_many_decimals_message(*.currency))]
    TooManyDecimals {
        /// Currency the amount was meant to be in.
        currency: Currency,
    },
    /// Currency code not in [`Currency::ALL`].
    #[error("Currency must be one of USD, EUR, GBP, JPY, CAD, CHF or KWD")]
    UnsupportedCurrency,
}

fn example_amount(currency: Currency) -> &'static str {
    match currency.exponent() {
        0 => "1999",
        3 => "19.990",
        _ => "19.99",
    }
}

fn too_many_decimals_message(currency: Currency) -> String {
    match currency.exponent() {
        0 => format!("{currency} amounts can't have decimal places"),
        n => format!("{currency} amounts can have at most {n} decimal places"),
    }
}

/// A non-negative amount of money: integer minor units plus currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount of `minor` units (cents for USD); rejects negative amounts.
    pub const fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self { minor, currency })
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// The amount in minor units (always ≥ 0).
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// True for a zero amount.
    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            })
        }
    }

    /// `self + other`; errors on different currencies or overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `self - other`; errors on different currencies or a negative result.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Money::new(minor, self.currency)
    }

    /// `self × quantity` (a line total); errors on overflow.
    pub fn multiply(self, quantity: Quantity) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity.get()))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Sum of `amounts`, all of which must be in `currency`; zero for none.
    pub fn sum<I: IntoIterator<Item = Money>>(
        currency: Currency,
        amounts: I,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }

    /// Shopper-facing text with symbol and thousands separators: `"$1,234.50"`, `"¥1,999"`, `"CA$19.99"`.
    pub fn format(&self) -> String {
        format!("{}{}", self.currency.symbol(), self.decimal_text(true))
    }

    /// Plain decimal text without symbol or separators, as [`Money::parse_decimal`] accepts: `"1234.50"`.
    pub fn to_decimal_string(&self) -> String {
        self.decimal_text(false)
    }

    fn decimal_text(&self, group_thousands: bool) -> String {
        // `minor` is never negative, so the unsigned value is exact.
        let minor = self.minor.unsigned_abs();
        let per_major = self.currency.minor_per_major().unsigned_abs();
        let major = minor.checked_div(per_major).unwrap_or_default();
        let fraction = minor.checked_rem(per_major).unwrap_or_default();
        let major = if group_thousands {
            with_thousands_separators(major)
        } else {
            major.to_string()
        };
        match self.currency.exponent() {
            0 => major,
            exp => format!("{major}.{fraction:0width$}", width = exp as usize),
        }
    }

    /// Parses operator input like `"19.99"`, `"19.9"` or `"19"` exactly; rejects signs, symbols, separators
    /// and more decimals than the currency has.
    pub fn parse_decimal(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(MoneyError::MissingAmount);
        }
        if text.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let invalid = MoneyError::InvalidAmount { currency };
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        if !is_digits(whole) {
            return Err(invalid);
        }
        let mut minor = digits_value(whole)?
            .checked_mul(currency.minor_per_major())
            .ok_or(MoneyError::Overflow)?;
        if let Some(fraction) = fraction {
            if !is_digits(fraction) {
                return Err(invalid);
            }
            let exponent = currency.exponent() as usize;
            if fraction.len() > exponent {
                return Err(MoneyError::TooManyDecimals { currency });
            }
            // Right-pad so "19.9" means 19.90, not 19.09.
            let padded = format!("{fraction:0<exponent$}");
            minor = minor
                .checked_add(digits_value(&padded)?)
                .ok_or(MoneyError::Overflow)?;
        }
        Money::new(minor, currency)
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Value of an ASCII digit string (already checked by [`is_digits`]), with overflow checking.
fn digits_value(s: &str) -> Result<i64, MoneyError> {
    s.bytes().try_fold(0_i64, |acc, b| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b.saturating_sub(b'0'))))
            .ok_or(MoneyError::Overflow)
    })
}

/// `1234567` → `"1,234,567"`.
fn with_thousands_separators(n: u64) -> String {
    let digits = n.to_string();
    let len = digits.len();
    let mut out = String::with_capacity(len.saturating_add(len / 3));
    for (i, c) in digits.chars().enumerate() {
        let remaining = len.saturating_sub(i);
        if i > 0 && remaining % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            minor: i64,
            currency: Currency,
        }
        let raw = Raw::deserialize(deserializer)?;
        Money::new(raw.minor, raw.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd).unwrap()
    }

    fn q(n: u32) -> Quantity {
        Quantity::new(n).unwrap()
    }

    #[test]
    fn currency_parse_is_case_insensitive() {
        assert_eq!(Currency::parse("usd"), Ok(Currency::Usd));
        assert_eq!(Currency::parse(" EUR "), Ok(Currency::Eur));
        assert_eq!("gBp".parse::<Currency>(), Ok(Currency::Gbp));
        assert_eq!(Currency::parse("jpy"), Ok(Currency::Jpy));
        assert_eq!(Currency::parse("CAD"), Ok(Currency::Cad));
        assert_eq!(Currency::parse("XYZ"), Err(MoneyError::UnsupportedCurrency));
        assert_eq!(Currency::parse(""), Err(MoneyError::UnsupportedCurrency));
    }

    #[test]
    fn currency_exponents() {
        assert_eq!(Currency::Jpy.exponent(), 0);
        for c in [Currency::Usd, Currency::Eur, Currency::Gbp, Currency::Cad] {
            assert_eq!(c.exponent(), 2);
            assert_eq!(c.minor_per_major(), 100);
        }
        assert_eq!(Currency::Jpy.minor_per_major(), 1);
    }

    #[test]
    fn currency_code_round_trips() {
        for c in Currency::ALL {
            assert_eq!(Currency::parse(c.code()), Ok(c));
            assert_eq!(c.to_string(), c.code());
        }
    }

    #[test]
    fn new_rejects_negative() {
        assert_eq!(Money::new(-1, Currency::Usd), Err(MoneyError::Negative));
        assert_eq!(Money::new(0, Currency::Usd), Ok(Money::zero(Currency::Usd)));
        assert!(Money::zero(Currency::Eur).is_zero());
    }

    #[test]
    fn formats_each_currency() {
        assert_eq!(usd(1999).format(), "$19.99");
        assert_eq!(Money::new(1999, Currency::Eur).unwrap().format(), "€19.99");
        assert_eq!(Money::new(1999, Currency::Gbp).unwrap().format(), "£19.99");
        assert_eq!(Money::new(1999, Currency::Jpy).unwrap().format(), "¥1,999");
        assert_eq!(
            Money::new(1999, Currency::Cad).unwrap().format(),
            "CA$19.99"
        );
    }

    #[test]
    fn formats_small_and_large_amounts() {
        assert_eq!(usd(0).format(), "$0.00");
        assert_eq!(usd(5).format(), "$0.05");
        assert_eq!(usd(50).format(), "$0.50");
        assert_eq!(usd(100).format(), "$1.00");
        assert_eq!(usd(99_999).format(), "$999.99");
        assert_eq!(usd(100_000).format(), "$1,000.00");
        assert_eq!(usd(123_456_789).format(), "$1,234,567.89");
        assert_eq!(
            Money::new(1_000_000, Currency::Jpy).unwrap().format(),
            "¥1,000,000"
        );
        assert_eq!(Money::new(0, Currency::Jpy).unwrap().format(), "¥0");
        assert_eq!(usd(i64::MAX).format(), "$92,233,720,368,547,758.07");
        assert_eq!(usd(1999).to_string(), "$19.99");
    }

    #[test]
    fn thousands_separators() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1000, "1,000"),
            (12_345, "12,345"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
        ];
        for (n, want) in cases {
            assert_eq!(with_thousands_separators(n), want);
        }
    }

    #[test]
    fn parse_decimal_accepts_exact_amounts() {
        assert_eq!(Money::parse_decimal("19.99", Currency::Usd), Ok(usd(1999)));
        assert_eq!(Money::parse_decimal("19.9", Currency::Usd), Ok(usd(1990)));
        assert_eq!(Money::parse_decimal("19", Currency::Usd), Ok(usd(1900)));
        assert_eq!(Money::parse_decimal(" 0.05 ", Currency::Usd), Ok(usd(5)));
        assert_eq!(Money::parse_decimal("0", Currency::Usd), Ok(usd(0)));
        assert_eq!(
            Money::parse_decimal("1999", Currency::Jpy),
            Ok(Money::new(1999, Currency::Jpy).unwrap())
        );
    }

    #[test]
    fn parse_decimal_rejects_bad_input() {
        let usd_ = Currency::Usd;
        assert_eq!(
            Money::parse_decimal("", usd_),
            Err(MoneyError::MissingAmount)
        );
        assert_eq!(
            Money::parse_decimal("  ", usd_),
            Err(MoneyError::MissingAmount)
        );
        assert_eq!(
            Money::parse_decimal("-1.00", usd_),
            Err(MoneyError::Negative)
        );
        assert_eq!(
            Money::parse_decimal("19.999", usd_),
            Err(MoneyError::TooManyDecimals { currency: usd_ })
        );
        assert_eq!(
            Money::parse_decimal("19.5", Currency::Jpy),
            Err(MoneyError::TooManyDecimals {
                currency: Currency::Jpy
            })
        );
        for bad in [
            "abc", "$19.99", "19,99", "1,999.00", "+5", "19.", ".99", "1.2.3", "1 000", "1e3",
        ] {
            assert_eq!(
                Money::parse_decimal(bad, usd_),
                Err(MoneyError::InvalidAmount { currency: usd_ }),
                "{bad}"
            );
        }
        assert_eq!(
            Money::parse_decimal("99999999999999999999", usd_),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::parse_decimal("92233720368547758.08", usd_),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::parse_decimal("92233720368547758.07", usd_),
            Ok(usd(i64::MAX))
        );
    }

    #[test]
    fn parse_decimal_round_trips_with_to_decimal_string() {
        // Cheap property test: a deterministic pseudo-random walk over amounts.
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let minor = i64::try_from(x >> 20).unwrap();
            for currency in Currency::ALL {
                let m = Money::new(minor, currency).unwrap();
                assert_eq!(
                    Money::parse_decimal(&m.to_decimal_string(), currency),
                    Ok(m)
                );
            }
        }
    }

    #[test]
    fn error_messages_are_readable() {
        assert_eq!(
            MoneyError::InvalidAmount {
                currency: Currency::Usd
            }
            .to_string(),
            "Enter an amount like 19.99"
        );
        assert_eq!(
            MoneyError::InvalidAmount {
                currency: Currency::Jpy
            }
            .to_string(),
            "Enter an amount like 1999"
        );
        assert_eq!(
            MoneyError::TooManyDecimals {
                currency: Currency::Usd
            }
            .to_string(),
            "USD amounts can have at most 2 decimal places"
        );
        assert_eq!(
            MoneyError::TooManyDecimals {
                currency: Currency::Jpy
            }
            .to_string(),
            "JPY amounts can't have decimal places"
        );
        assert_eq!(
            MoneyError::CurrencyMismatch {
                expected: Currency::Usd,
                found: Currency::Eur
            }
            .to_string(),
            "Amounts must all be in USD, but one is in EUR"
        );
    }

    #[test]
    fn checked_add_and_sub() {
        assert_eq!(usd(150).checked_add(usd(250)), Ok(usd(400)));
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(
            usd(1).checked_add(Money::new(1, Currency::Eur).unwrap()),
            Err(MoneyError::CurrencyMismatch {
                expected: Currency::Usd,
                found: Currency::Eur
            })
        );
        assert_eq!(usd(400).checked_sub(usd(150)), Ok(usd(250)));
        assert_eq!(usd(150).checked_sub(usd(400)), Err(MoneyError::Negative));
    }

    #[test]
    fn multiply_by_quantity() {
        assert_eq!(usd(1999).multiply(q(3)), Ok(usd(5997)));
        assert_eq!(usd(0).multiply(q(99)), Ok(usd(0)));
        assert_eq!(usd(i64::MAX).multiply(q(1)), Ok(usd(i64::MAX)));
        assert_eq!(
            usd(i64::MAX / 2 + 1).multiply(q(2)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn sum_requires_one_currency() {
        assert_eq!(Money::sum(Currency::Usd, []), Ok(usd(0)));
        assert_eq!(
            Money::sum(Currency::Usd, [usd(1), usd(2), usd(3)]),
            Ok(usd(6))
        );
        assert_eq!(
            Money::sum(
                Currency::Usd,
                [usd(1), Money::new(2, Currency::Gbp).unwrap()]
            ),
            Err(MoneyError::CurrencyMismatch {
                expected: Currency::Usd,
                found: Currency::Gbp
            })
        );
        assert_eq!(
            Money::sum(Currency::Eur, [usd(1)]),
            Err(MoneyError::CurrencyMismatch {
                expected: Currency::Eur,
                found: Currency::Usd
            })
        );
        assert_eq!(
            Money::sum(Currency::Usd, [usd(i64::MAX), usd(1)]),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let m = usd(1999);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"minor":1999,"currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert_eq!(
            serde_json::from_str::<Money>(r#"{"minor":5,"currency":"eur"}"#).unwrap(),
            Money::new(5, Currency::Eur).unwrap()
        );
        assert!(serde_json::from_str::<Money>(r#"{"minor":-5,"currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"minor":5,"currency":"XXX"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"minor":1.5,"currency":"USD"}"#).is_err());
    }
}
