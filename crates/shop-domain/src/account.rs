//! Shoppers' accounts: the sign-in email, the account id, the session token and the client a
//! sign-in comes from, each parsed at the edge.
//!
//! An account's email is normalised to lowercase as a whole: "Ada@Example.com" and
//! "ada@example.com" are one account. (Mail servers may treat the local part case-sensitively,
//! but no shopper expects two accounts that differ only in case.)

use crate::codes::hex_lower;
use crate::email::{EmailAddress, EmailError};
use crate::ids::{string_id_impls, IdError, SessionId};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The email an account signs in with: a valid [`EmailAddress`], lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountEmail(String);

impl AccountEmail {
    /// Validates (as [`EmailAddress::parse`]: at most 254 characters, no control characters)
    /// and lowercases the whole address.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let typed = EmailAddress::parse(input)?;
        // Lowercasing may change a few non-ASCII letters' length: check the result again.
        let lower = EmailAddress::parse(&typed.as_str().to_lowercase())?;
        Ok(AccountEmail(lower.as_str().to_owned()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `input` is exactly 32 hex digits (any case); returns it lowercased.
fn parse_hex32(input: &str, kind: &'static str) -> Result<String, IdError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(IdError::Missing { kind });
    }
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(IdError::Invalid { kind })
    }
}

/// An account's id: 32 lowercase hex digits (128 random bits). Its cart, and the orders placed
/// while signed in, are keyed by [`AccountId::cart_key`], never by the id itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    const KIND: &'static str = "Account id";

    /// Builds an id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(hex_lower(&bytes))
    }

    /// Validates 32 hex digits (any case; kept lowercase).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_hex32(input, Self::KIND).map(Self)
    }

    /// An id that may be absent (a guest has none): `Ok(None)` when absent, else as [`Self::parse`].
    pub fn parse_optional(input: Option<&str>) -> Result<Option<Self>, IdError> {
        input.map(Self::parse).transpose()
    }

    /// The key of the account's cart, and the `session` of the orders placed while signed in:
    /// the id followed by 32 zeros, 64 hex digits. A guest's session id comes from the `sid`
    /// cookie, which the shop issues and accepts only as exactly 32 hex digits; so no cookie a
    /// guest can set ever names an account's cart or orders (with the bare id as the key, a
    /// planted `sid` equal to an account id would read them). 64 is still a valid [`SessionId`]
    /// length, so carts and checkout take it like any session.
    pub fn cart_key(&self) -> SessionId {
        SessionId::from_valid_hex(format!("{}{}", self.0, "0".repeat(32)))
    }
}
string_id_impls!(AccountId);

/// A saved address's id: 32 lowercase hex digits (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressId(String);

impl AddressId {
    const KIND: &'static str = "Address id";

    /// Builds an id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(hex_lower(&bytes))
    }

    /// Validates 32 hex digits (any case; kept lowercase).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_hex32(input, Self::KIND).map(Self)
    }
}
string_id_impls!(AddressId);

/// A signed-in session's secret: 32 lowercase hex digits (128 random bits), which only the
/// shopper's cookie holds. The server keeps a hash of it, never the token itself; `Debug` shows
/// none of it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    const KIND: &'static str = "Session token";

    /// Builds a token from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(hex_lower(&bytes))
    }

    /// Validates 32 hex digits (any case; kept lowercase).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_hex32(input, Self::KIND).map(Self)
    }

    /// The token itself: for the answer that hands it to the shopper, and for hashing.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<secret>)")
    }
}

/// Who is signing in, for the per-client sign-in limit: an IP address, as the frontend reads it
/// from `spin-client-addr` (a socket address `ip:port` / `[ip]:port` is accepted too; the port
/// is dropped, since each connection has another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

/// Why a client address was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientAddrError {
    /// Blank input.
    #[error("The client address is missing")]
    Missing,
    /// Not an IP address.
    #[error("The client address must be an IP address")]
    Invalid,
}

impl ClientAddr {
    /// Longest accepted input (an IPv6 socket address with a zone fits well within it).
    const MAX_LEN: usize = 64;

    /// Parses an IP address or a socket address.
    pub fn parse(input: &str) -> Result<Self, ClientAddrError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ClientAddrError::Missing);
        }
        if text.len() > Self::MAX_LEN {
            return Err(ClientAddrError::Invalid);
        }
        IpAddr::from_str(text)
            .or_else(|_| SocketAddr::from_str(text).map(|s| s.ip()))
            .map(|ip| ClientAddr(ip.to_canonical()))
            .map_err(|_| ClientAddrError::Invalid)
    }

    /// The address in its canonical text form (IPv4-mapped IPv6 addresses as IPv4).
    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_emails_are_lowercased_whole() {
        let e = AccountEmail::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
        assert_eq!(AccountEmail::parse("ADA@EXAMPLE.COM").unwrap().as_str(), "ada@example.com");
        assert_eq!(AccountEmail::parse("Zoë@Bücher.de").unwrap().as_str(), "zoë@bücher.de");
    }

    #[test]
    fn account_emails_are_validated_like_every_email() {
        assert_eq!(AccountEmail::parse(""), Err(EmailError::Missing));
        assert_eq!(AccountEmail::parse("nope"), Err(EmailError::Invalid));
        assert_eq!(AccountEmail::parse("ada\0@example.com"), Err(EmailError::Invalid));
        assert_eq!(AccountEmail::parse("ada@exam\u{202e}ple.com"), Err(EmailError::Invalid));
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert_eq!(AccountEmail::parse(&long), Err(EmailError::TooLong));
        assert_eq!(AccountEmail::parse(&"a".repeat(100_000)), Err(EmailError::TooLong));
    }

    #[test]
    fn ids_and_tokens_are_32_hex_digits() {
        let bytes = [0xab; 16];
        let id = AccountId::from_random(bytes);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(AccountId::parse(&"AB".repeat(16)), Ok(id.clone()));
        assert_eq!(AddressId::parse(AddressId::from_random(bytes).as_str()).map(String::from), Ok("ab".repeat(16)));
        let token = SessionToken::from_random([1; 16]);
        assert_eq!(SessionToken::parse(token.expose_secret()), Ok(token.clone()));
        for bad in ["a".repeat(31), "a".repeat(33), "g".repeat(32), format!("{}\0", "a".repeat(31))] {
            assert_eq!(AccountId::parse(&bad), Err(IdError::Invalid { kind: "Account id" }), "{bad:?}");
            assert!(SessionToken::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(SessionToken::parse(" "), Err(IdError::Missing { kind: "Session token" }));
        assert_eq!(AccountId::parse_optional(None), Ok(None));
        assert_eq!(AccountId::parse_optional(Some(&"AB".repeat(16))), Ok(Some(id)));
        assert_eq!(AccountId::parse_optional(Some("")), Err(IdError::Missing { kind: "Account id" }));
        assert_eq!(AccountId::parse_optional(Some("nope")), Err(IdError::Invalid { kind: "Account id" }));
    }

    #[test]
    fn an_accounts_cart_key_is_a_session_id_no_cookie_can_be() {
        let id = AccountId::from_random([0xab; 16]);
        let key = id.cart_key();
        assert_eq!(key.as_str(), format!("{}{}", "ab".repeat(16), "0".repeat(32)));
        assert_eq!(SessionId::parse(key.as_str()), Ok(key.clone()), "carts and checkout take it");
        // The frontend's `sid` cookie is exactly 32 hex digits: a cart key is never one.
        assert_eq!(key.as_str().len(), 2 * 32);
        assert_ne!(key.as_str().len(), id.as_str().len());
        assert!(AccountId::parse(key.as_str()).is_err() && SessionToken::parse(key.as_str()).is_err());
        let other = AccountId::from_random([0xac; 16]);
        assert_ne!(other.cart_key(), key, "distinct accounts, distinct carts");
        assert_eq!(AccountId::parse(&"AB".repeat(16)).map(|a| a.cart_key()), Ok(key), "one key per account");
    }

    #[test]
    fn a_token_never_shows_in_debug() {
        let token = SessionToken::from_random([0x5a; 16]);
        assert!(!format!("{token:?}").contains("5a5a"), "{token:?}");
    }

    #[test]
    fn clients_are_ip_addresses() {
        assert_eq!(ClientAddr::parse("127.0.0.1").unwrap().to_string(), "127.0.0.1");
        assert_eq!(ClientAddr::parse("127.0.0.1:52311").unwrap().to_string(), "127.0.0.1");
        assert_eq!(ClientAddr::parse("[::1]:8080").unwrap().to_string(), "::1");
        assert_eq!(ClientAddr::parse("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1");
        assert_eq!(ClientAddr::parse(" 2001:db8::1 ").unwrap().to_string(), "2001:db8::1");
        assert_eq!(ClientAddr::parse(""), Err(ClientAddrError::Missing));
        for bad in ["localhost", "1.2.3", "1.2.3.4.5", "1.2.3.4:99999", "x".repeat(1000).as_str(), "1.2.3.4\0"] {
            assert_eq!(ClientAddr::parse(bad), Err(ClientAddrError::Invalid), "{bad:?}");
        }
    }
}
