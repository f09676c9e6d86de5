//! Stock-keeping unit codes identifying a product.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a SKU was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    /// Blank input.
    #[error("Enter a SKU")]
    Missing,
    /// Fewer than [`Sku::MIN_LEN`] or more than [`Sku::MAX_LEN`] characters.
    #[error("SKU must be {}–{} characters", Sku::MIN_LEN, Sku::MAX_LEN)]
    Length,
    /// A character other than a letter, digit or '-'.
    #[error("SKU may only contain letters, digits and '-'")]
    InvalidCharacter,
}

/// A product code: 3..=32 characters of `A–Z`, `0–9` and `-`, stored uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    /// Fewest characters in a SKU.
    pub const MIN_LEN: usize = 3;
    /// Most characters in a SKU.
    pub const MAX_LEN: usize = 32;

    /// Trims and uppercases `input`, then checks length and characters (`" tee-blk-m "` → `TEE-BLK-M`).
    pub fn parse(input: &str) -> Result<Self, SkuError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(SkuError::Missing);
        }
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(SkuError::InvalidCharacter);
        }
        // All ASCII from here, so bytes == characters.
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) {
            return Err(SkuError::Length);
        }
        Ok(Sku(text.to_ascii_uppercase()))
    }

    /// The canonical (uppercase) code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Sku {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Sku {
    type Err = SkuError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Sku {
    type Error = SkuError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Sku> for String {
    fn from(s: Sku) -> Self {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_uppercase_and_trims() {
        assert_eq!(Sku::parse("  tee-blk-m ").unwrap().as_str(), "TEE-BLK-M");
        assert_eq!(Sku::parse("abc").unwrap().to_string(), "ABC");
        assert_eq!("mug-01".parse::<Sku>().unwrap().as_ref(), "MUG-01");
    }

    #[test]
    fn length_limits() {
        assert_eq!(Sku::parse("AB"), Err(SkuError::Length));
        assert!(Sku::parse("ABC").is_ok());
        assert!(Sku::parse(&"A".repeat(32)).is_ok());
        assert_eq!(Sku::parse(&"A".repeat(33)), Err(SkuError::Length));
    }

    #[test]
    fn rejects_bad_characters() {
        assert_eq!(Sku::parse(""), Err(SkuError::Missing));
        assert_eq!(Sku::parse("   "), Err(SkuError::Missing));
        for bad in ["TEE BLK", "TEE_BLK", "TÉE-1", "ABC/1", "AB\nC", "ＡＢＣ"] {
            assert_eq!(Sku::parse(bad), Err(SkuError::InvalidCharacter), "{bad:?}");
        }
    }

    #[test]
    fn equal_after_normalisation() {
        assert_eq!(Sku::parse("tee-1").unwrap(), Sku::parse("TEE-1").unwrap());
    }

    #[test]
    fn messages() {
        assert_eq!(SkuError::Length.to_string(), "SKU must be 3–32 characters");
    }

    #[test]
    fn serde_validates_and_normalises() {
        let sku: Sku = serde_json::from_str(r#""tee-1""#).unwrap();
        assert_eq!(serde_json::to_string(&sku).unwrap(), r#""TEE-1""#);
        assert!(serde_json::from_str::<Sku>(r#""x""#).is_err());
    }
}
