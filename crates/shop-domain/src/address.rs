//! Shipping addresses and the countries the shop ships to.

use crate::validation::{clean_text, join_messages, ErrorCollector, FieldError, TextError};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// A country the shop ships to (ISO 3166-1 alpha-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
// Variants are the ISO codes themselves, so code and data read the same (`Country::GB`).
pub enum Country {
    /// United States.
    US,
    /// Canada.
    CA,
    /// United Kingdom.
    GB,
    /// Ireland.
    IE,
    /// Germany.
    DE,
    /// France.
    FR,
    /// Netherlands.
    NL,
    /// Belgium.
    BE,
    /// Spain.
    ES,
    /// Italy.
    IT,
    /// Sweden.
    SE,
    /// Switzerland.
    CH,
    /// Japan.
    JP,
    /// Australia.
    AU,
    /// New Zealand.
    NZ,
}

/// Why a country was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    /// Nothing chosen.
    #[error("Choose a country")]
    Missing,
    /// A code not in [`Country::ALL`].
    #[error("Sorry, we don't ship to that country yet")]
    Unsupported,
}

impl Country {
    /// Every supported country, in a sensible order for a drop-down.
    pub const ALL: [Country; 15] = [
        Country::US,
        Country::CA,
        Country::GB,
        Country::IE,
        Country::DE,
        Country::FR,
        Country::NL,
        Country::BE,
        Country::ES,
        Country::IT,
        Country::SE,
        Country::CH,
        Country::JP,
        Country::AU,
        Country::NZ,
    ];

    /// Two-letter ISO code, e.g. `"GB"`.
    pub const fn code(self) -> &'static str {
        match self {
            Country::US => "US",
            Country::CA => "CA",
            Country::GB => "GB",
            Country::IE => "IE",
            Country::DE => "DE",
            Country::FR => "FR",
            Country::NL => "NL",
            Country::BE => "BE",
            Country::ES => "ES",
            Country::IT => "IT",
            Country::SE => "SE",
            Country::CH => "CH",
            Country::JP => "JP",
            Country::AU => "AU",
            Country::NZ => "NZ",
        }
    }

    /// English display name, e.g. `"United Kingdom"`.
    pub const fn name(self) -> &'static str {
        match self {
            Country::US => "United States",
            Country::CA => "Canada",
            Country::GB => "United Kingdom",
            Country::IE => "Ireland",
            Country::DE => "Germany",
            Country::FR => "France",
            Country::NL => "Netherlands",
            Country::BE => "Belgium",
            Country::ES => "Spain",
            Country::IT => "Italy",
            Country::SE => "Sweden",
            Country::CH => "Switzerland",
            Country::JP => "Japan",
            Country::AU => "Australia",
            Country::NZ => "New Zealand",
        }
    }

    /// Parses a two-letter code in any case (`"gb"` → GB). `"UK"` is accepted as an alias for GB
    /// because shoppers and old data use it.
    pub fn parse(input: &str) -> Result<Self, CountryError> {
        let code = input.trim();
        if code.is_empty() {
            return Err(CountryError::Missing);
        }
        if code.eq_ignore_ascii_case("UK") {
            return Ok(Country::GB);
        }
        Self::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code))
            .ok_or(CountryError::Unsupported)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Country {
    type Err = CountryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Country {
    type Error = CountryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Country> for &'static str {
    fn from(c: Country) -> Self {
        c.code()
    }
}

/// Raw address form input, exactly as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressInput {
    /// Recipient's full name.
    pub name: String,
    /// Street address (one line).
    pub street: String,
    /// City or town.
    pub city: String,
    /// Postal or ZIP code.
    pub postal_code: String,
    /// Two-letter country code.
    pub country: String,
}

/// A validated shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Address {
    name: String,
    street: String,
    city: String,
    postal_code: String,
    country: Country,
}

impl Address {
    /// Longest recipient name, in characters.
    pub const NAME_MAX: usize = 100;
    /// Longest street line, in characters.
    pub const STREET_MAX: usize = 200;
    /// Longest city, in characters.
    pub const CITY_MAX: usize = 100;
    /// Shortest postal code.
    pub const POSTAL_MIN: usize = 3;
    /// Longest postal code.
    pub const POSTAL_MAX: usize = 10;

    /// Validates every field, returning all problems at once (field names match [`AddressInput`]).
    pub fn parse(input: AddressInput) -> Result<Address, Vec<FieldError>> {
        let mut errors = ErrorCollector::new();
        let name = errors.check(
            "name",
            text_field(
                &input.name,
                Self::NAME_MAX,
                "Name",
                "Enter the recipient's name",
            ),
        );
        let street = errors.check(
            "street",
            text_field(
                &input.street,
                Self::STREET_MAX,
                "Street address",
                "Enter a street address",
            ),
        );
        let city = errors.check(
            "city",
            text_field(&input.city, Self::CITY_MAX, "City", "Enter a city"),
        );
        let postal_code = errors.check("postal_code", parse_postal_code(&input.postal_code));
        let country = errors.check("country", Country::parse(&input.country));
        match (name, street, city, postal_code, country) {
            (Some(name), Some(street), Some(city), Some(postal_code), Some(country)) => {
                Ok(Address {
                    name,
                    street,
                    city,
                    postal_code,
                    country,
                })
            }
            _ => Err(errors.into_errors()),
        }
    }

    /// Recipient's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Street line.
    pub fn street(&self) -> &str {
        &self.street
    }

    /// City.
    pub fn city(&self) -> &str {
        &self.city
    }

    /// Postal code, uppercased with single spaces (e.g. `"SW1A 1AA"`).
    pub fn postal_code(&self) -> &str {
        &self.postal_code
    }

    /// Destination country.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The address as form input again (for re-filling a form).
    pub fn to_input(&self) -> AddressInput {
        AddressInput {
            name: self.name.clone(),
            street: self.street.clone(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.code().to_owned(),
        }
    }

    /// Lines for a label or an email: name, street, "postal city", country name.
    pub fn lines(&self) -> [String; 4] {
        [
            self.name.clone(),
            self.street.clone(),
            format!("{} {}", self.postal_code, self.city),
            self.country.name().to_owned(),
        ]
    }
}

fn text_field(input: &str, max: usize, label: &str, missing: &str) -> Result<String, String> {
    clean_text(input, max).map_err(|e| match e {
        TextError::Missing => missing.to_owned(),
        other => other.message(label),
    })
}

/// Why a postal code was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostalCodeError {
    /// Blank input.
    #[error("Enter a postal code")]
    Missing,
    /// Wrong length or characters.
    #[error(
        "Postal code must be {}–{} letters or digits",
        Address::POSTAL_MIN,
        Address::POSTAL_MAX
    )]
    Invalid,
}

/// Trims, uppercases and collapses inner spaces, then checks 3..=10 ASCII letters, digits, spaces or hyphens.
pub fn parse_postal_code(input: &str) -> Result<String, PostalCodeError> {
    let normalised = input
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    if normalised.is_empty() {
        return Err(PostalCodeError::Missing);
    }
    let chars_ok = normalised
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    let has_alnum = normalised.chars().any(|c| c.is_ascii_alphanumeric());
    // All ASCII once `chars_ok` holds, so byte length == character count.
    let len_ok = (Address::POSTAL_MIN..=Address::POSTAL_MAX).contains(&normalised.len());
    if chars_ok && has_alnum && len_ok {
        Ok(normalised)
    } else {
        Err(PostalCodeError::Invalid)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let input = AddressInput::deserialize(deserializer)?;
        Address::parse(input).map_err(|errors| serde::de::Error::custom(join_messages(&errors)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AddressInput {
        AddressInput {
            name: " Ada Lovelace ".into(),
            street: "12 St James's Square".into(),
            city: "London".into(),
            postal_code: "sw1y   4jh".into(),
            country: "gb".into(),
        }
    }

    fn messages_for(errors: &[FieldError], field: &str) -> Vec<String> {
        errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect()
    }

    #[test]
    fn parses_and_normalises() {
        let a = Address::parse(input()).unwrap();
        assert_eq!(a.name(), "Ada Lovelace");
        assert_eq!(a.street(), "12 St James's Square");
        assert_eq!(a.city(), "London");
        assert_eq!(a.postal_code(), "SW1Y 4JH");
        assert_eq!(a.country(), Country::GB);
        assert_eq!(
            a.lines(),
            [
                "Ada Lovelace",
                "12 St James's Square",
                "SW1Y 4JH London",
                "United Kingdom"
            ]
            .map(String::from)
        );
        assert_eq!(Address::parse(a.to_input()), Ok(a));
    }

    #[test]
    fn collects_every_field_error() {
        let errors = Address::parse(AddressInput::default()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "street", "city", "postal_code", "country"]);
        assert_eq!(
            messages_for(&errors, "name"),
            ["Enter the recipient's name"]
        );
        assert_eq!(messages_for(&errors, "street"), ["Enter a street address"]);
        assert_eq!(messages_for(&errors, "city"), ["Enter a city"]);
        assert_eq!(
            messages_for(&errors, "postal_code"),
            ["Enter a postal code"]
        );
        assert_eq!(messages_for(&errors, "country"), ["Choose a country"]);
    }

    #[test]
    fn length_limits() {
        let mut i = input();
        i.name = "n".repeat(100);
        i.street = "s".repeat(200);
        i.city = "c".repeat(100);
        assert!(Address::parse(i.clone()).is_ok());
        i.name = "n".repeat(101);
        i.street = "s".repeat(201);
        i.city = "c".repeat(101);
        let errors = Address::parse(i).unwrap_err();
        assert_eq!(
            messages_for(&errors, "name"),
            ["Name must be at most 100 characters"]
        );
        assert_eq!(
            messages_for(&errors, "street"),
            ["Street address must be at most 200 characters"]
        );
        assert_eq!(
            messages_for(&errors, "city"),
            ["City must be at most 100 characters"]
        );
    }

    #[test]
    fn rejects_control_characters() {
        let mut i = input();
        i.street = "1 Main St\r\nX-Injected: yes".into();
        let errors = Address::parse(i).unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new(
                "street",
                "Street address contains characters that aren't allowed"
            )]
        );
    }

    #[test]
    fn postal_codes() {
        for (raw, want) in [
            ("94103", "94103"),
            ("94103-1234", "94103-1234"),
            (" k1a 0b1 ", "K1A 0B1"),
            ("100-0001", "100-0001"),
            ("1012", "1012"),
            ("D02 X285", "D02 X285"),
        ] {
            assert_eq!(parse_postal_code(raw).as_deref(), Ok(want), "{raw}");
        }
        assert_eq!(parse_postal_code("  "), Err(PostalCodeError::Missing));
        for bad in [
            "12",
            "12345678901",
            "---",
            "941#03",
            "SW1A\u{0}1AA",
            "９４１０３",
        ] {
            assert_eq!(
                parse_postal_code(bad),
                Err(PostalCodeError::Invalid),
                "{bad:?}"
            );
        }
        assert_eq!(
            PostalCodeError::Invalid.to_string(),
            "Postal code must be 3–10 letters or digits"
        );
    }

    #[test]
    fn countries() {
        assert_eq!(Country::parse("us"), Ok(Country::US));
        assert_eq!(Country::parse(" Uk "), Ok(Country::GB));
        assert_eq!(Country::parse("XX"), Err(CountryError::Unsupported));
        assert_eq!(
            Country::parse("United States"),
            Err(CountryError::Unsupported)
        );
        assert_eq!(Country::parse(""), Err(CountryError::Missing));
        for c in Country::ALL {
            assert_eq!(Country::parse(c.code()), Ok(c));
            assert_eq!(c.code().len(), 2);
            assert_eq!(c.to_string(), c.name());
        }
        let mut codes: Vec<&str> = Country::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Country::ALL.len());
    }

    #[test]
    fn unsupported_country_message() {
        let mut i = input();
        i.country = "BR".into();
        assert_eq!(
            Address::parse(i).unwrap_err(),
            vec![FieldError::new(
                "country",
                "Sorry, we don't ship to that country yet"
            )]
        );
    }

    #[test]
    fn serde_round_trip_validates() {
        let a = Address::parse(input()).unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"name":"Ada Lovelace","street":"12 St James's Square","city":"London","postal_code":"SW1Y 4JH","country":"GB"}"#
        );
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        let err = serde_json::from_str::<Address>(
            r#"{"name":"","street":"x","city":"y","postal_code":"1","country":"GB"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("name: Enter the recipient's name"), "{err}");
        assert!(err.contains("postal_code: Postal code must be"), "{err}");
    }
}
