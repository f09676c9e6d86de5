//! Payment cards: number (Luhn + brand), expiry, security code, and the test-card rules of the fake processor.
//!
//! Card data is sensitive: [`CardNumber`], [`Cvv`], [`Card`] and [`CardInput`] never print
//! the full number or the security code through `Debug`/`Display`, and the validated
//! types deliberately have no `Serialize`, so they can't end up in logs or storage by accident.
//!
//! # Test cards
//!
//! The shop's payment service is a simulator; [`test_card_outcome`] decides a charge
//! from the card number alone (any future expiry and any well-formed security code):
//!
//! | Card number           | Decision | Code                 | Message shown to the shopper                               |
//! |-----------------------|----------|----------------------|------------------------------------------------------------|
//! | `4000 0000 0000 0002` | declined | `card_declined`      | Your card was declined                                     |
//! | `4000 0000 0000 9995` | declined | `insufficient_funds` | Your card has insufficient funds                           |
//! | `4000 0000 0000 0069` | declined | `expired_card`       | Your card has expired                                      |
//! | `4000 0000 0000 0127` | declined | `incorrect_cvc`      | Your card's security code is incorrect                     |
//! | `4000 0000 0000 0119` | declined | `processing_error`   | We couldn't process your card. Please try again in a moment |
//! | any other valid card  | approved |                      |                                                            |
//!
//! Handy approving numbers: Visa `4242 4242 4242 4242`, Mastercard `5555 5555 5555 4444`
//! or `2223 0031 2200 3222`, American Express `3782 822463 10005`, Discover `6011 1111 1111 1117`.

use crate::validation::{ErrorCollector, FieldError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Card networks the shop accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    /// Visa: IIN 4; 13, 16 or 19 digits.
    Visa,
    /// Mastercard: IIN 51–55 and 2221–2720; 16 digits.
    Mastercard,
    /// American Express: IIN 34, 37; 15 digits.
    Amex,
    /// Discover: IIN 6011, 644–649, 65, 622126–622925; 16–19 digits.
    Discover,
}

impl CardBrand {
    /// Name to show the shopper, e.g. `"American Express"`.
    pub const fn name(self) -> &'static str {
        match self {
            CardBrand::Visa => "Visa",
            CardBrand::Mastercard => "Mastercard",
            CardBrand::Amex => "American Express",
            CardBrand::Discover => "Discover",
        }
    }

    /// Stable lowercase identifier, e.g. `"amex"` (same as the serde form).
    pub const fn code(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
        }
    }

    /// Digits in this brand's security code: 4 for Amex, 3 for the others.
    pub const fn cvv_len(self) -> usize {
        match self {
            CardBrand::Amex => 4,
            CardBrand::Visa | CardBrand::Mastercard | CardBrand::Discover => 3,
        }
    }

    /// Whether a card number of `len` digits is valid for this brand.
    const fn accepts_len(self, len: usize) -> bool {
        match self {
            CardBrand::Visa => matches!(len, 13 | 16 | 19),
            CardBrand::Mastercard => len == 16,
            CardBrand::Amex => len == 15,
            CardBrand::Discover => matches!(len, 16..=19),
        }
    }

    /// Brand from the leading digits (issuer identification number), if accepted.
    pub fn detect(digits: &str) -> Option<CardBrand> {
        // Numeric value of the first `n` digits (0 if the number is shorter or not digits).
        let prefix =
            |n: usize| -> u32 { digits.get(..n).and_then(|p| p.parse().ok()).unwrap_or(0) };
        if prefix(1) == 4 {
            Some(CardBrand::Visa)
        } else if matches!(prefix(2), 34 | 37) {
            Some(CardBrand::Amex)
        } else if matches!(prefix(2), 51..=55) || matches!(prefix(4), 2221..=2720) {
            Some(CardBrand::Mastercard)
        } else if prefix(4) == 6011
            || matches!(prefix(3), 644..=649)
            || prefix(2) == 65
            || matches!(prefix(6), 622_126..=622_925)
        {
            Some(CardBrand::Discover)
        } else {
            None
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a card number was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardNumberError {
    /// Blank input.
    #[error("Enter a card number")]
    Missing,
    /// Something other than digits, spaces and dashes.
    #[error("Card number may only contain digits")]
    NotDigits,
    /// Not issued by an accepted network.
    #[error("We accept Visa, Mastercard, American Express and Discover")]
    UnsupportedBrand,
    /// Wrong length or failed the Luhn checksum (most often a typo).
    #[error("This card number is not valid")]
    Invalid,
}

/// A card number that passed length, brand and Luhn checks. Displays masked (`•••• 4242`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber {
    digits: String,
    brand: CardBrand,
}

impl CardNumber {
    /// Fewest digits of any card number (ISO/IEC 7812).
    pub const MIN_DIGITS: usize = 12;
    /// Most digits of any card number.
    pub const MAX_DIGITS: usize = 19;

    /// Strips spaces and dashes, then checks digits, length (12–19 and per brand), brand and Luhn checksum.
    pub fn parse(input: &str) -> Result<Self, CardNumberError> {
        let digits: String = input
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        if digits.is_empty() {
            return Err(CardNumberError::Missing);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardNumberError::NotDigits);
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(CardNumberError::Invalid);
        }
        let brand = CardBrand::detect(&digits).ok_or(CardNumberError::UnsupportedBrand)?;
        if !brand.accepts_len(digits.len()) || !luhn_valid(&digits) {
            return Err(CardNumberError::Invalid);
        }
        Ok(CardNumber { digits, brand })
    }

    /// The card network.
    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    /// Last four digits, e.g. `"4242"` (safe to store and show).
    pub fn last4(&self) -> &str {
        let start = self.digits.len().saturating_sub(4);
        self.digits.get(start..).unwrap_or_default()
    }

    /// Masked form for receipts and logs: `"•••• 4242"`.
    pub fn masked(&self) -> String {
        format!("•••• {}", self.last4())
    }

    /// The full digits. Only for handing to a real processor; never log or store them.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({} {})", self.brand.code(), self.masked())
    }
}

/// Luhn (mod 10) checksum over ASCII digits: catches single-digit typos and most transpositions.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum: u32 = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let d = u32::from(b.saturating_sub(b'0'));
        // Every second digit from the right is doubled; a two-digit result contributes its digit sum.
        let d = if i % 2 == 1 {
            let doubled = d.saturating_mul(2);
            if doubled > 9 {
                doubled.saturating_sub(9)
            } else {
                doubled
            }
        } else {
            d
        };
        sum = sum.saturating_add(d);
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A calendar month, used for "today" when checking expiry (the caller reads the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    /// Four-digit year; compared before the month, so the field order matters for `Ord`.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
}

impl YearMonth {
    /// A year and month.
    pub const fn new(year: u16, month: u8) -> Self {
        Self { year, month }
    }
}

impl From<(u16, u8)> for YearMonth {
    fn from((year, month): (u16, u8)) -> Self {
        Self { year, month }
    }
}

/// Why an expiry date was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// Blank month.
    #[error("Enter the expiry month")]
    MissingMonth,
    /// Month not 1–12.
    #[error("Expiry month must be from 01 to 12")]
    InvalidMonth,
    /// Blank year.
    #[error("Enter the expiry year")]
    MissingYear,
    /// Year not `YY` or `20YY`.
    #[error("Enter a valid expiry year")]
    InvalidYear,
    /// Combined text not `MM/YY` or `MM/YYYY`.
    #[error("Enter the expiry date as MM/YY")]
    InvalidFormat,
    /// Before the current month.
    #[error("This card has expired")]
    Expired,
    /// Implausibly far in the future (more than [`Expiry::MAX_YEARS_AHEAD`] years).
    #[error("Check the expiry year")]
    TooFarAhead,
}

/// A card's expiry month; the card is valid through the last day of that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Expiry {
    year: u16,
    month: u8,
}

impl Expiry {
    /// Furthest ahead an expiry may be; cards are issued for at most a few years, so more is a typo.
    pub const MAX_YEARS_AHEAD: u16 = 20;

    /// From numbers: month 1–12; year as `YY` (0–99, meaning 20YY) or `YYYY` (2000–2099).
    pub fn new(month: u32, year: u32) -> Result<Self, ExpiryError> {
        let month = u8::try_from(month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or(ExpiryError::InvalidMonth)?;
        let year = match year {
            0..=99 => 2000_u32.saturating_add(year),
            2000..=2099 => year,
            _ => return Err(ExpiryError::InvalidYear),
        };
        let year = u16::try_from(year).map_err(|_| ExpiryError::InvalidYear)?;
        Ok(Self { year, month })
    }

    /// From separate month and year form fields (`"7"`/`"07"`, `"29"`/`"2029"`).
    pub fn from_fields(month: &str, year: &str) -> Result<Self, ExpiryError> {
        Self::new(parse_month(month)?, parse_year(year)?)
    }

    /// From text `"MM/YY"` or `"MM/YYYY"` (spaces around the slash allowed).
    pub fn parse(input: &str) -> Result<Self, ExpiryError> {
        let (month, year) = input
            .trim()
            .split_once('/')
            .ok_or(ExpiryError::InvalidFormat)?;
        let month = digits_value(month.trim(), 2).ok_or(ExpiryError::InvalidFormat)?;
        let year = year.trim();
        if year.len() != 2 && year.len() != 4 {
            return Err(ExpiryError::InvalidFormat);
        }
        let year = digits_value(year, 4).ok_or(ExpiryError::InvalidFormat)?;
        Self::new(month, year)
    }

    /// Month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Four-digit year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// True once `today` is after the expiry month (a card expiring 05/26 still works in May 2026).
    pub fn is_expired(&self, today: impl Into<YearMonth>) -> bool {
        YearMonth::new(self.year, self.month) < today.into()
    }

    /// Checks the card is usable in `today`'s month: not expired, not implausibly far ahead.
    pub fn check_current(&self, today: impl Into<YearMonth>) -> Result<(), ExpiryError> {
        let today = today.into();
        if self.is_expired(today) {
            Err(ExpiryError::Expired)
        } else if self.year > today.year.saturating_add(Self::MAX_YEARS_AHEAD) {
            Err(ExpiryError::TooFarAhead)
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Expiry {
    /// `MM/YY`, as printed on cards.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year % 100)
    }
}

/// Value of 1..=`max_len` ASCII digits.
fn digits_value(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_month(input: &str) -> Result<u32, ExpiryError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ExpiryError::MissingMonth);
    }
    digits_value(text, 2)
        .filter(|m| (1..=12).contains(m))
        .ok_or(ExpiryError::InvalidMonth)
}

fn parse_year(input: &str) -> Result<u32, ExpiryError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ExpiryError::MissingYear);
    }
    if text.len() != 2 && text.len() != 4 {
        return Err(ExpiryError::InvalidYear);
    }
    digits_value(text, 4).ok_or(ExpiryError::InvalidYear)
}

/// Why a security code was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CvvError {
    /// Blank input.
    #[error("Enter the security code")]
    Missing,
    /// Wrong length for the brand, or not digits. `brand` is `None` when the card number was itself invalid.
    #[error("{}", cvv_message(*.brand))]
    Invalid {
        /// Brand whose length rule applied, if known.
        brand: Option<CardBrand>,
    },
}

fn cvv_message(brand: Option<CardBrand>) -> &'static str {
    match brand {
        Some(CardBrand::Amex) => "Security code must be the 4 digits on the front of the card",
        Some(_) => "Security code must be the 3 digits on the back of the card",
        None => "Security code must be 3 or 4 digits",
    }
}

/// A card security code (CVV/CVC/CID) of the right length for its brand. Never displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvv(String);

impl Cvv {
    /// Checks digits and length: 4 for Amex, 3 for other brands, 3 or 4 when the brand is unknown.
    pub fn parse(input: &str, brand: Option<CardBrand>) -> Result<Self, CvvError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(CvvError::Missing);
        }
        let len_ok = match brand {
            Some(b) => text.len() == b.cvv_len(),
            None => matches!(text.len(), 3 | 4),
        };
        if len_ok && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Cvv(text.to_owned()))
        } else {
            Err(CvvError::Invalid { brand })
        }
    }

    /// The code. Only for handing to a real processor; never log or store it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvv(***)")
    }
}

/// Raw card form input, exactly as submitted. Missing JSON fields default to empty (reported as "Enter …").
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CardInput {
    /// Card number, spaces and dashes allowed.
    pub number: String,
    /// Expiry month, `"7"` or `"07"`.
    pub expiry_month: String,
    /// Expiry year, `"29"` or `"2029"`.
    pub expiry_year: String,
    /// Security code.
    pub cvv: String,
}

impl fmt::Debug for CardInput {
    /// Redacts the number (keeps the last four) and the security code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits: Vec<char> = self.number.chars().filter(char::is_ascii_digit).collect();
        let last4: String = digits.iter().skip(digits.len().saturating_sub(4)).collect();
        f.debug_struct("CardInput")
            .field("number", &format_args!("•••• {last4}"))
            .field("expiry_month", &self.expiry_month)
            .field("expiry_year", &self.expiry_year)
            .field("cvv", &format_args!("***"))
            .finish()
    }
}

/// A fully validated, unexpired card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    number: CardNumber,
    expiry: Expiry,
    cvv: Cvv,
}

impl Card {
    /// Validates every field against `today` (supplied by the caller), returning all problems at once.
    ///
    /// Field names match [`CardInput`]: `number`, `expiry_month`, `expiry_year`, `cvv`. An expired
    /// card is reported on `expiry_year` if the year is past, otherwise on `expiry_month`.
    pub fn parse(input: &CardInput, today: impl Into<YearMonth>) -> Result<Card, Vec<FieldError>> {
        let today = today.into();
        let mut errors = ErrorCollector::new();
        let number = errors.check("number", CardNumber::parse(&input.number));
        let month = errors.check("expiry_month", parse_month(&input.expiry_month));
        let year = errors.check("expiry_year", parse_year(&input.expiry_year));
        let expiry = match (month, year) {
            (Some(month), Some(year)) => match Expiry::new(month, year) {
                Ok(expiry) => match expiry.check_current(today) {
                    Ok(()) => Some(expiry),
                    Err(e) => {
                        let field = if e == ExpiryError::Expired && expiry.year() >= today.year {
                            "expiry_month"
                        } else {
                            "expiry_year"
                        };
                        errors.push(field, e.to_string());
                        None
                    }
                },
                Err(e @ ExpiryError::InvalidMonth) => errors.check("expiry_month", Err(e)),
                Err(e) => errors.check("expiry_year", Err(e)),
            },
            _ => None,
        };
        let brand = number.as_ref().map(CardNumber::brand);
        let cvv = errors.check("cvv", Cvv::parse(&input.cvv, brand));
        match (number, expiry, cvv) {
            (Some(number), Some(expiry), Some(cvv)) => Ok(Card {
                number,
                expiry,
                cvv,
            }),
            _ => Err(errors.into_errors()),
        }
    }

    /// The card number.
    pub fn number(&self) -> &CardNumber {
        &self.number
    }

    /// The expiry month.
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// The security code.
    pub fn cvv(&self) -> &Cvv {
        &self.cvv
    }

    /// The card network.
    pub fn brand(&self) -> CardBrand {
        self.number.brand()
    }

    /// Last four digits.
    pub fn last4(&self) -> &str {
        self.number.last4()
    }

    /// Masked number, `"•••• 4242"`.
    pub fn masked(&self) -> String {
        self.number.masked()
    }
}

/// Why the (simulated) processor declined a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// Generic decline.
    CardDeclined,
    /// Not enough funds.
    InsufficientFunds,
    /// The issuer considers the card expired.
    ExpiredCard,
    /// Wrong security code.
    IncorrectCvc,
    /// Temporary processor failure; retrying may succeed.
    ProcessingError,
}

impl DeclineReason {
    /// Machine-readable code, e.g. `"card_declined"` (same as the serde form).
    pub const fn code(self) -> &'static str {
        match self {
            DeclineReason::CardDeclined => "card_declined",
            DeclineReason::InsufficientFunds => "insufficient_funds",
            DeclineReason::ExpiredCard => "expired_card",
            DeclineReason::IncorrectCvc => "incorrect_cvc",
            DeclineReason::ProcessingError => "processing_error",
        }
    }

    /// Message for the shopper.
    pub const fn message(self) -> &'static str {
        match self {
            DeclineReason::CardDeclined => "Your card was declined",
            DeclineReason::InsufficientFunds => "Your card has insufficient funds",
            DeclineReason::ExpiredCard => "Your card has expired",
            DeclineReason::IncorrectCvc => "Your card's security code is incorrect",
            DeclineReason::ProcessingError => {
                "We couldn't process your card. Please try again in a moment"
            }
        }
    }

    /// Parses a code produced by [`DeclineReason::code`].
    pub fn from_code(code: &str) -> Option<Self> {
        [
            DeclineReason::CardDeclined,
            DeclineReason::InsufficientFunds,
            DeclineReason::ExpiredCard,
            DeclineReason::IncorrectCvc,
            DeclineReason::ProcessingError,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }

    /// Whether the same card may succeed if retried later (only for processing errors).
    pub const fn is_retryable(self) -> bool {
        matches!(self, DeclineReason::ProcessingError)
    }
}

impl fmt::Display for DeclineReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Outcome of a charge attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeDecision {
    /// The charge went through.
    Approved,
    /// The charge was refused, with the reason.
    Declined(DeclineReason),
}

impl ChargeDecision {
    /// True for [`ChargeDecision::Approved`].
    pub const fn is_approved(self) -> bool {
        matches!(self, ChargeDecision::Approved)
    }
}

/// The simulated processor's decision for a card number (see the test-card table in the module docs).
pub fn test_card_outcome(number: &CardNumber) -> ChargeDecision {
    let reason = match number.expose_digits() {
        "4000000000000002" => DeclineReason::CardDeclined,
        "4000000000009995" => DeclineReason::InsufficientFunds,
        "4000000000000069" => DeclineReason::ExpiredCard,
        "4000000000000127" => DeclineReason::IncorrectCvc,
        "4000000000000119" => DeclineReason::ProcessingError,
        _ => return ChargeDecision::Approved,
    };
    ChargeDecision::Declined(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: YearMonth = YearMonth::new(2026, 5);

    fn card_input(number: &str) -> CardInput {
        CardInput {
            number: number.into(),
            expiry_month: "12".into(),
            expiry_year: "30".into(),
            cvv: "123".into(),
        }
    }

    fn field_messages(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect()
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4242424242424242"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("42a2"));
    }

    #[test]
    fn luhn_detects_every_single_digit_change() {
        let valid = "4242424242424242";
        for pos in 0..valid.len() {
            for d in b'0'..=b'9' {
                let mut bytes = valid.as_bytes().to_vec();
                if bytes[pos] == d {
                    continue;
                }
                bytes[pos] = d;
                assert!(!luhn_valid(std::str::from_utf8(&bytes).unwrap()));
            }
        }
    }

    #[test]
    fn brands_by_iin() {
        let cases = [
            ("4242424242424242", CardBrand::Visa),
            ("4222222222222", CardBrand::Visa),
            ("5555555555554444", CardBrand::Mastercard),
            ("5105105105105100", CardBrand::Mastercard),
            ("2223003122003222", CardBrand::Mastercard),
            ("378282246310005", CardBrand::Amex),
            ("371449635398431", CardBrand::Amex),
            ("6011111111111117", CardBrand::Discover),
            ("6445644564456445", CardBrand::Discover),
            ("6500000000000002", CardBrand::Discover),
            ("6221260000000000", CardBrand::Discover),
        ];
        for (number, brand) in cases {
            let n = CardNumber::parse(number).unwrap_or_else(|e| panic!("{number}: {e}"));
            assert_eq!(n.brand(), brand, "{number}");
        }
    }

    #[test]
    fn mastercard_2_series_boundaries() {
        assert_eq!(CardBrand::detect("2220990000000000"), None);
        assert_eq!(
            CardBrand::detect("2221000000000000"),
            Some(CardBrand::Mastercard)
        );
        assert_eq!(
            CardBrand::detect("2720990000000000"),
            Some(CardBrand::Mastercard)
        );
        assert_eq!(CardBrand::detect("2721000000000000"), None);
        assert_eq!(CardBrand::detect("5000000000000000"), None);
        assert_eq!(CardBrand::detect("5600000000000000"), None);
        assert_eq!(CardBrand::detect("6221250000000000"), None);
        assert_eq!(
            CardBrand::detect("6229250000000000"),
            Some(CardBrand::Discover)
        );
        assert_eq!(CardBrand::detect("6229260000000000"), None);
        assert_eq!(CardBrand::detect("6430000000000000"), None);
        assert_eq!(CardBrand::detect(""), None);
    }

    #[test]
    fn number_strips_spaces_and_dashes() {
        let n = CardNumber::parse(" 4242 4242-4242 4242 ").unwrap();
        assert_eq!(n.expose_digits(), "4242424242424242");
        assert_eq!(n.last4(), "4242");
        assert_eq!(n.masked(), "•••• 4242");
        assert_eq!(n.to_string(), "•••• 4242");
    }

    #[test]
    fn number_errors() {
        assert_eq!(CardNumber::parse(""), Err(CardNumberError::Missing));
        assert_eq!(CardNumber::parse(" - "), Err(CardNumberError::Missing));
        assert_eq!(
            CardNumber::parse("4242.4242"),
            Err(CardNumberError::NotDigits)
        );
        assert_eq!(
            CardNumber::parse("4242x4242"),
            Err(CardNumberError::NotDigits)
        );
        assert_eq!(
            CardNumber::parse("42424242424"),
            Err(CardNumberError::Invalid)
        );
        assert_eq!(
            CardNumber::parse(&"4".repeat(20)),
            Err(CardNumberError::Invalid)
        );
        assert_eq!(
            CardNumber::parse("4242424242424241"),
            Err(CardNumberError::Invalid)
        );
        // JCB: valid Luhn, brand we don't take.
        assert_eq!(
            CardNumber::parse("3566002020360505"),
            Err(CardNumberError::UnsupportedBrand)
        );
        // Amex prefix with 16 digits: wrong length for the brand.
        assert_eq!(
            CardNumber::parse("3782822463100050"),
            Err(CardNumberError::Invalid)
        );
        assert_eq!(CardNumberError::Missing.to_string(), "Enter a card number");
        assert_eq!(
            CardNumberError::Invalid.to_string(),
            "This card number is not valid"
        );
    }

    #[test]
    fn debug_never_shows_full_number_or_cvv() {
        let card = Card::parse(&card_input("4242424242424242"), TODAY).unwrap();
        let dbg = format!("{card:?}");
        assert!(!dbg.contains("4242424242424242"), "{dbg}");
        assert!(!dbg.contains("123"), "{dbg}");
        assert!(dbg.contains("•••• 4242"), "{dbg}");
        let dbg_input = format!("{:?}", card_input("4242 4242 4242 4242"));
        assert!(!dbg_input.contains("4242 4242 4242 4242"), "{dbg_input}");
        assert!(!dbg_input.contains("123"), "{dbg_input}");
        assert!(dbg_input.contains("•••• 4242"), "{dbg_input}");
    }

    #[test]
    fn expiry_from_numbers_and_text() {
        assert_eq!(Expiry::new(7, 29).unwrap(), Expiry::new(7, 2029).unwrap());
        assert_eq!(Expiry::new(0, 29), Err(ExpiryError::InvalidMonth));
        assert_eq!(Expiry::new(13, 29), Err(ExpiryError::InvalidMonth));
        assert_eq!(Expiry::new(1, 100), Err(ExpiryError::InvalidYear));
        assert_eq!(Expiry::new(1, 1999), Err(ExpiryError::InvalidYear));
        assert_eq!(Expiry::new(1, 2100), Err(ExpiryError::InvalidYear));
        let e = Expiry::parse("07/29").unwrap();
        assert_eq!((e.month(), e.year()), (7, 2029));
        assert_eq!(e.to_string(), "07/29");
        assert_eq!(
            Expiry::parse(" 7 / 2031 ").unwrap(),
            Expiry::new(7, 2031).unwrap()
        );
        for bad in [
            "0729", "07-29", "07/2", "07/202", "/29", "07/", "aa/bb", "123/29",
        ] {
            assert_eq!(Expiry::parse(bad), Err(ExpiryError::InvalidFormat), "{bad}");
        }
        assert_eq!(Expiry::parse("13/29"), Err(ExpiryError::InvalidMonth));
        assert_eq!(
            Expiry::from_fields("07", "2029"),
            Ok(Expiry::new(7, 2029).unwrap())
        );
        assert_eq!(
            Expiry::from_fields("", "29"),
            Err(ExpiryError::MissingMonth)
        );
        assert_eq!(
            Expiry::from_fields("7", "2029x"),
            Err(ExpiryError::InvalidYear)
        );
    }

    #[test]
    fn expiry_is_valid_through_end_of_month() {
        let e = Expiry::new(5, 2026).unwrap();
        assert!(!e.is_expired((2026, 5)));
        assert!(!e.is_expired((2026, 4)));
        assert!(!e.is_expired((2025, 12)));
        assert!(e.is_expired((2026, 6)));
        assert!(e.is_expired((2027, 1)));
        assert_eq!(e.check_current(TODAY), Ok(()));
        assert_eq!(e.check_current((2026, 6)), Err(ExpiryError::Expired));
        assert_eq!(Expiry::new(12, 2046).unwrap().check_current(TODAY), Ok(()));
        assert_eq!(
            Expiry::new(1, 2047).unwrap().check_current(TODAY),
            Err(ExpiryError::TooFarAhead)
        );
    }

    #[test]
    fn cvv_length_by_brand() {
        assert!(Cvv::parse("123", Some(CardBrand::Visa)).is_ok());
        assert!(Cvv::parse("1234", Some(CardBrand::Amex)).is_ok());
        assert_eq!(
            Cvv::parse("123", Some(CardBrand::Amex)),
            Err(CvvError::Invalid {
                brand: Some(CardBrand::Amex)
            })
        );
        assert_eq!(
            Cvv::parse("1234", Some(CardBrand::Mastercard)),
            Err(CvvError::Invalid {
                brand: Some(CardBrand::Mastercard)
            })
        );
        assert_eq!(
            Cvv::parse("12a", Some(CardBrand::Visa)),
            Err(CvvError::Invalid {
                brand: Some(CardBrand::Visa)
            })
        );
        assert!(Cvv::parse("123", None).is_ok());
        assert!(Cvv::parse("1234", None).is_ok());
        assert_eq!(
            Cvv::parse("12", None),
            Err(CvvError::Invalid { brand: None })
        );
        assert_eq!(Cvv::parse("  ", None), Err(CvvError::Missing));
        assert_eq!(
            Cvv::parse(" 123 ", Some(CardBrand::Visa))
                .unwrap()
                .expose_secret(),
            "123"
        );
        assert_eq!(
            CvvError::Invalid {
                brand: Some(CardBrand::Amex)
            }
            .to_string(),
            "Security code must be the 4 digits on the front of the card"
        );
    }

    #[test]
    fn card_parse_success() {
        let card = Card::parse(&card_input("4242 4242 4242 4242"), TODAY).unwrap();
        assert_eq!(card.brand(), CardBrand::Visa);
        assert_eq!(card.last4(), "4242");
        assert_eq!(card.masked(), "•••• 4242");
        assert_eq!(card.expiry(), Expiry::new(12, 2030).unwrap());
        assert_eq!(card.number().brand(), CardBrand::Visa);
        assert_eq!(card.cvv().expose_secret(), "123");
        let mut amex = card_input("3782 822463 10005");
        amex.cvv = "1234".into();
        assert_eq!(Card::parse(&amex, TODAY).unwrap().brand(), CardBrand::Amex);
    }

    #[test]
    fn card_parse_collects_all_errors() {
        let errors = Card::parse(&CardInput::default(), TODAY).unwrap_err();
        assert_eq!(
            field_messages(&errors),
            [
                ("number", "Enter a card number"),
                ("expiry_month", "Enter the expiry month"),
                ("expiry_year", "Enter the expiry year"),
                ("cvv", "Enter the security code"),
            ]
        );
        let bad = CardInput {
            number: "4242 4242 4242 4241".into(),
            expiry_month: "13".into(),
            expiry_year: "2x".into(),
            cvv: "12".into(),
        };
        assert_eq!(
            field_messages(&Card::parse(&bad, TODAY).unwrap_err()),
            [
                ("number", "This card number is not valid"),
                ("expiry_month", "Expiry month must be from 01 to 12"),
                ("expiry_year", "Enter a valid expiry year"),
                ("cvv", "Security code must be 3 or 4 digits"),
            ]
        );
    }

    #[test]
    fn card_parse_expiry_errors_point_at_the_wrong_part() {
        let mut input = card_input("4242424242424242");
        input.expiry_month = "04".into();
        input.expiry_year = "2026".into();
        assert_eq!(
            field_messages(&Card::parse(&input, TODAY).unwrap_err()),
            [("expiry_month", "This card has expired")]
        );
        input.expiry_month = "12".into();
        input.expiry_year = "25".into();
        assert_eq!(
            field_messages(&Card::parse(&input, TODAY).unwrap_err()),
            [("expiry_year", "This card has expired")]
        );
        input.expiry_year = "2099".into();
        assert_eq!(
            field_messages(&Card::parse(&input, TODAY).unwrap_err()),
            [("expiry_year", "Check the expiry year")]
        );
        input.expiry_year = "1999".into();
        assert_eq!(
            field_messages(&Card::parse(&input, TODAY).unwrap_err()),
            [("expiry_year", "Enter a valid expiry year")]
        );
    }

    #[test]
    fn card_parse_checks_cvv_against_brand() {
        let mut input = card_input("378282246310005");
        input.cvv = "123".into();
        assert_eq!(
            field_messages(&Card::parse(&input, TODAY).unwrap_err()),
            [(
                "cvv",
                "Security code must be the 4 digits on the front of the card"
            )]
        );
    }

    #[test]
    fn card_input_missing_json_fields_default_to_empty() {
        let input: CardInput = serde_json::from_str(r#"{"number":"4242424242424242"}"#).unwrap();
        assert_eq!(input.cvv, "");
        assert_eq!(Card::parse(&input, TODAY).unwrap_err().len(), 3);
    }

    #[test]
    fn test_cards() {
        let outcome = |n: &str| test_card_outcome(&CardNumber::parse(n).unwrap());
        assert_eq!(
            outcome("4000 0000 0000 0002"),
            ChargeDecision::Declined(DeclineReason::CardDeclined)
        );
        assert_eq!(
            outcome("4000 0000 0000 9995"),
            ChargeDecision::Declined(DeclineReason::InsufficientFunds)
        );
        assert_eq!(
            outcome("4000 0000 0000 0069"),
            ChargeDecision::Declined(DeclineReason::ExpiredCard)
        );
        assert_eq!(
            outcome("4000 0000 0000 0127"),
            ChargeDecision::Declined(DeclineReason::IncorrectCvc)
        );
        assert_eq!(
            outcome("4000 0000 0000 0119"),
            ChargeDecision::Declined(DeclineReason::ProcessingError)
        );
        for ok in [
            "4242 4242 4242 4242",
            "5555 5555 5555 4444",
            "2223 0031 2200 3222",
            "3782 822463 10005",
            "6011 1111 1111 1117",
        ] {
            assert!(outcome(ok).is_approved(), "{ok}");
        }
    }

    #[test]
    fn decline_reasons() {
        let r = DeclineReason::CardDeclined;
        assert_eq!(
            format!("{}: {}", r.code(), r),
            "card_declined: Your card was declined"
        );
        for r in [
            DeclineReason::CardDeclined,
            DeclineReason::InsufficientFunds,
            DeclineReason::ExpiredCard,
            DeclineReason::IncorrectCvc,
            DeclineReason::ProcessingError,
        ] {
            assert_eq!(DeclineReason::from_code(r.code()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
        assert!(DeclineReason::ProcessingError.is_retryable());
        assert!(!DeclineReason::InsufficientFunds.is_retryable());
        assert_eq!(DeclineReason::from_code("nope"), None);
        assert_eq!(
            serde_json::to_string(&ChargeDecision::Declined(DeclineReason::InsufficientFunds))
                .unwrap(),
            r#"{"declined":"insufficient_funds"}"#
        );
        assert_eq!(
            serde_json::to_string(&ChargeDecision::Approved).unwrap(),
            r#""approved""#
        );
    }

    #[test]
    fn generated_numbers_with_correct_check_digit_are_accepted() {
        // Cheap property test: append the right Luhn digit to pseudo-random Visa bodies.
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let body = format!("4{:014}", x % 100_000_000_000_000);
            let check = (0..=9).find(|d| luhn_valid(&format!("{body}{d}"))).unwrap();
            let number = format!("{body}{check}");
            assert_eq!(CardNumber::parse(&number).unwrap().brand(), CardBrand::Visa);
            let wrong = format!("{body}{}", (check + 1) % 10);
            assert_eq!(CardNumber::parse(&wrong), Err(CardNumberError::Invalid));
        }
    }
}
