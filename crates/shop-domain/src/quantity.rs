//! How many of one item a shopper buys: a whole number from 1 to [`Quantity::MAX`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a quantity was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Blank input.
    #[error("Enter a quantity")]
    Missing,
    /// Not a whole number (letters, decimals, signs other than a leading minus).
    #[error("Quantity must be a whole number")]
    NotANumber,
    /// Below zero.
    #[error("Quantity can't be negative")]
    Negative,
    /// Exactly zero (removing a line is a separate action).
    #[error("Quantity must be at least 1")]
    Zero,
    /// Above [`Quantity::MAX`], either as entered or after adding to a cart line.
    #[error("Quantity can be at most {}", Quantity::MAX_VALUE)]
    TooMany,
}

/// A quantity of one item, 1..=99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u8);

impl Quantity {
    /// Largest allowed quantity, as a number.
    pub const MAX_VALUE: u32 = 99;
    /// One item.
    pub const ONE: Quantity = Quantity(1);
    /// The largest allowed quantity.
    pub const MAX: Quantity = Quantity(99);

    /// Validates a count: 0 and anything above 99 are rejected.
    pub fn new(n: u32) -> Result<Self, QuantityError> {
        match n {
            0 => Err(QuantityError::Zero),
            n if n > Self::MAX_VALUE => Err(QuantityError::TooMany),
            n => u8::try_from(n)
                .map(Quantity)
                .map_err(|_| QuantityError::TooMany),
        }
    }

    /// Validates a signed count (e.g. from JSON), with a distinct error for negatives.
    pub fn from_i64(n: i64) -> Result<Self, QuantityError> {
        if n < 0 {
            return Err(QuantityError::Negative);
        }
        u32::try_from(n)
            .map_err(|_| QuantityError::TooMany)
            .and_then(Self::new)
    }

    /// Parses form input such as `" 3 "`; accepts only plain decimal digits (and reports a leading `-`).
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(QuantityError::Missing);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QuantityError::NotANumber);
        }
        let significant = digits.trim_start_matches('0');
        if negative && !significant.is_empty() {
            return Err(QuantityError::Negative);
        }
        // More than three significant digits is always too many, and can't overflow the parse below.
        if significant.len() > 3 {
            return Err(QuantityError::TooMany);
        }
        let n = significant.parse::<u32>().unwrap_or(0);
        Self::new(n)
    }

    /// The count.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }

    /// `self + other`, or [`QuantityError::TooMany`] above 99 (never clamps).
    pub fn checked_add(self, other: Quantity) -> Result<Quantity, QuantityError> {
        Self::new(self.get().saturating_add(other.get()))
    }

    /// How many more can be added before reaching [`Quantity::MAX`] (0 when full).
    pub const fn headroom(self) -> u32 {
        Self::MAX_VALUE.saturating_sub(self.get())
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<u32> for Quantity {
    type Error = QuantityError;
    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::from_i64(n)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> Self {
        q.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_accepts_one_to_ninety_nine() {
        for n in 1..=99 {
            assert_eq!(Quantity::new(n).unwrap().get(), n);
        }
        assert_eq!(Quantity::new(0), Err(QuantityError::Zero));
        assert_eq!(Quantity::new(100), Err(QuantityError::TooMany));
        assert_eq!(Quantity::new(u32::MAX), Err(QuantityError::TooMany));
        assert_eq!(Quantity::MAX.get(), Quantity::MAX_VALUE);
        assert_eq!(Quantity::ONE.get(), 1);
    }

    #[test]
    fn from_i64_reports_negatives() {
        assert_eq!(Quantity::from_i64(-1), Err(QuantityError::Negative));
        assert_eq!(Quantity::from_i64(i64::MIN), Err(QuantityError::Negative));
        assert_eq!(Quantity::from_i64(0), Err(QuantityError::Zero));
        assert_eq!(Quantity::from_i64(5).map(Quantity::get), Ok(5));
        assert_eq!(Quantity::from_i64(i64::MAX), Err(QuantityError::TooMany));
        assert_eq!(Quantity::try_from(7_u32).map(Quantity::get), Ok(7));
        assert_eq!(Quantity::try_from(-7_i64), Err(QuantityError::Negative));
    }

    #[test]
    fn parse_form_input() {
        assert_eq!(Quantity::parse(" 3 ").map(Quantity::get), Ok(3));
        assert_eq!(Quantity::parse("099").map(Quantity::get), Ok(99));
        assert_eq!("12".parse::<Quantity>().map(Quantity::get), Ok(12));
        assert_eq!(Quantity::parse(""), Err(QuantityError::Missing));
        assert_eq!(Quantity::parse("0"), Err(QuantityError::Zero));
        assert_eq!(Quantity::parse("000"), Err(QuantityError::Zero));
        assert_eq!(Quantity::parse("-0"), Err(QuantityError::Zero));
        assert_eq!(Quantity::parse("-2"), Err(QuantityError::Negative));
        assert_eq!(Quantity::parse("100"), Err(QuantityError::TooMany));
        assert_eq!(
            Quantity::parse("99999999999999999999999"),
            Err(QuantityError::TooMany)
        );
        for bad in ["abc", "1.5", "+1", "1e2", "--1", "-", "1 2", "٣"] {
            assert_eq!(
                Quantity::parse(bad),
                Err(QuantityError::NotANumber),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_agrees_with_new_for_all_small_numbers() {
        for n in 0..=1_000_u32 {
            assert_eq!(Quantity::parse(&n.to_string()), Quantity::new(n), "{n}");
        }
    }

    #[test]
    fn checked_add_errors_above_max() {
        let q = |n| Quantity::new(n).unwrap();
        assert_eq!(q(40).checked_add(q(59)), Ok(q(99)));
        assert_eq!(q(40).checked_add(q(60)), Err(QuantityError::TooMany));
        assert_eq!(
            Quantity::MAX.checked_add(Quantity::MAX),
            Err(QuantityError::TooMany)
        );
        assert_eq!(q(97).headroom(), 2);
        assert_eq!(Quantity::MAX.headroom(), 0);
    }

    #[test]
    fn messages() {
        assert_eq!(
            QuantityError::TooMany.to_string(),
            "Quantity can be at most 99"
        );
        assert_eq!(
            QuantityError::Zero.to_string(),
            "Quantity must be at least 1"
        );
    }

    #[test]
    fn serde_validates() {
        let q: Quantity = serde_json::from_str("5").unwrap();
        assert_eq!(q.get(), 5);
        assert_eq!(serde_json::to_string(&q).unwrap(), "5");
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert!(serde_json::from_str::<Quantity>("100").is_err());
        assert!(serde_json::from_str::<Quantity>("\"5\"").is_err());
    }
}
