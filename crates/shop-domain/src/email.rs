//! Email addresses, validated pragmatically.
//!
//! Full RFC 5322 accepts addresses no mail provider hands out (quoted strings,
//! comments); shoppers benefit more from catching typos like a missing dot or a
//! stray space. The domain is lowercased (it is case-insensitive); the local part
//! is kept as typed because some servers treat it case-sensitively.

use crate::validation::is_forbidden_char;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why an email address was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Blank input.
    #[error("Enter an email address")]
    Missing,
    /// More than [`EmailAddress::MAX_LEN`] characters.
    #[error("Email address must be at most {} characters", EmailAddress::MAX_LEN)]
    TooLong,
    /// Not shaped like `name@example.com`.
    #[error("Enter a valid email address, like name@example.com")]
    Invalid,
}

/// A syntactically plausible email address: `local@domain.tld`, trimmed, domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Longest accepted address (the SMTP path limit).
    pub const MAX_LEN: usize = 254;
    /// Longest local part (before the `@`) allowed by SMTP.
    const MAX_LOCAL_LEN: usize = 64;

    /// Validates and normalises an address typed by a shopper.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(EmailError::Missing);
        }
        if text.chars().count() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if text
            .chars()
            .any(|c| c.is_whitespace() || is_forbidden_char(c))
        {
            return Err(EmailError::Invalid);
        }
        let (local, domain) = text.split_once('@').ok_or(EmailError::Invalid)?;
        if local.is_empty()
            || local.chars().count() > Self::MAX_LOCAL_LEN
            || domain.contains('@')
            || !is_valid_domain(domain)
        {
            return Err(EmailError::Invalid);
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The whole address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }

    /// The (lowercase) part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }
}

/// Dot-separated labels of letters, digits and inner hyphens, at least two labels, alphabetic TLD.
/// Non-ASCII letters are allowed so internationalised domains typed in Unicode pass.
fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.chars().count() <= 63
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> Self {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_addresses() {
        for ok in [
            "ada@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.ie",
            "x@a-b.io",
            "user_1@xn--bcher-kva.de",
            "zoë@bücher.de",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn normalises_domain_only() {
        let e = EmailAddress::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ada.Lovelace@example.com");
        assert_eq!(e.local_part(), "Ada.Lovelace");
        assert_eq!(e.domain(), "example.com");
        assert_eq!(e.to_string(), "Ada.Lovelace@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        assert_eq!(EmailAddress::parse(""), Err(EmailError::Missing));
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Missing));
        for bad in [
            "plainaddress",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "ada@ex@ample.com",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            "ada@example..com",
            "ada@.example.com",
            "ada@example.com.",
            "ada@-example.com",
            "ada@example-.com",
            "ada@example.c",
            "ada@example.123",
            "ada@exa_mple.com",
            "ada\n@example.com",
            "ada@example.com\u{202E}",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailError::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn length_limits() {
        let local64 = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local64}@example.com")).is_ok());
        let local65 = "a".repeat(65);
        assert_eq!(
            EmailAddress::parse(&format!("{local65}@example.com")),
            Err(EmailError::Invalid)
        );
        // 254 characters total is fine, 255 is not.
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57)
        );
        let ok = format!("{local64}@{domain}");
        assert_eq!(ok.len(), 254);
        assert!(EmailAddress::parse(&ok).is_ok());
        assert_eq!(
            EmailAddress::parse(&format!("a{ok}")),
            Err(EmailError::TooLong)
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            EmailError::TooLong.to_string(),
            "Email address must be at most 254 characters"
        );
        assert_eq!(
            EmailError::Invalid.to_string(),
            "Enter a valid email address, like name@example.com"
        );
    }

    #[test]
    fn serde_validates() {
        let e: EmailAddress = serde_json::from_str(r#""ada@EXAMPLE.com""#).unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), r#""ada@example.com""#);
        assert!(serde_json::from_str::<EmailAddress>(r#""nope""#).is_err());
    }
}
