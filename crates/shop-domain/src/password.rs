//! Passwords: the policy a new one must meet, and the checks a typed one gets before it is hashed.
//!
//! The policy follows NIST SP 800-63B: a minimum length ([`MIN_CHARS`], counted in characters,
//! not bytes), no composition rules, and a refusal of passwords that are common or trivially
//! guessable (`password_common.txt`, sequences, repetitions). A maximum ([`MAX_BYTES`]) keeps
//! hashing bounded: a longer input is refused before any hashing, so a 1 MB "password" costs
//! nothing. Control characters (NUL, newlines, ...) are refused: no keyboard types them, and a
//! NUL would be cut off by some other system holding the same password.
//!
//! [`Password`] never shows its text in `Debug`, so it cannot reach a log by accident.

use crate::account::AccountEmail;
use std::fmt;

/// The fewest characters a new password may have.
pub const MIN_CHARS: usize = 12;
/// The most bytes (UTF-8) any password may have.
pub const MAX_BYTES: usize = 256;

/// The one answer to a sign-in with an unknown email and to one with a wrong password alike:
/// nothing tells them apart (the accounts service sends it, the frontend shows it).
pub const WRONG_CREDENTIALS: &str = "Email or password is incorrect.";

/// Why a password was refused, worded for the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Nothing typed.
    #[error("Enter a password")]
    Missing,
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("Password must be at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_BYTES`] bytes.
    #[error("Password must be at most {MAX_BYTES} bytes")]
    TooLong,
    /// A control character (NUL, a newline, ...).
    #[error("Password contains characters that aren't allowed")]
    ForbiddenCharacter,
    /// On the common-passwords list, or a sequence or repetition.
    #[error("This password is too common or too easy to guess; choose another")]
    Common,
    /// The account's own email address (or the part before the `@`).
    #[error("Password must not be your email address")]
    IsEmail,
}

/// A password as typed (checked for size and characters only); the text is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A password typed to sign in (or as the current one): not empty, at most [`MAX_BYTES`],
    /// no control characters. Its strength is not judged: it was judged when it was set.
    pub fn parse_given(input: &str) -> Result<Self, PasswordError> {
        if input.is_empty() {
            return Err(PasswordError::Missing);
        }
        if input.len() > MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        if input.chars().any(char::is_control) {
            return Err(PasswordError::ForbiddenCharacter);
        }
        Ok(Password(input.to_owned()))
    }

    /// A new password for the account with `email`: [`Password::parse_given`], then at least
    /// [`MIN_CHARS`] characters, not common, not the email.
    pub fn parse_new(input: &str, email: Option<&AccountEmail>) -> Result<Self, PasswordError> {
        let password = Self::parse_given(input)?;
        if input.chars().count() < MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        let lower = input.to_lowercase();
        if let Some(email) = email {
            let local = email.as_str().split('@').next().unwrap_or_default();
            if lower.trim() == email.as_str() || lower.trim() == local {
                return Err(PasswordError::IsEmail);
            }
        }
        if is_common(&lower) {
            return Err(PasswordError::Common);
        }
        Ok(password)
    }

    /// The password's bytes, for the hash function only.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<secret>)")
    }
}

/// The embedded list (see the file's header).
const COMMON: &str = include_str!("password_common.txt");

fn on_list(word: &str) -> bool {
    !word.is_empty() && COMMON.lines().any(|line| line == word)
}

/// Keyboard rows, the alphabet and digits, forwards; their reverses are checked too.
const WALKS: [&str; 6] = [
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "01234567890123456789012345678901234567890123456789",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
];

/// True for a lowercase password that is common or trivially guessable.
fn is_common(lower: &str) -> bool {
    let core = strip_decoration(lower);
    let distinct = {
        let mut chars: Vec<char> = lower.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars.len()
    };
    on_list(lower)
        || on_list(core)
        || distinct < 5
        || is_walk(lower)
        || is_walk(core)
        || is_repetition(lower)
        || is_repetition(core)
}

/// The password without the digits, symbols and spaces around it ("!!Password2024" → "password").
fn strip_decoration(lower: &str) -> &str {
    lower.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace())
}

/// A run along a keyboard row, the alphabet or the digits (either way), of 4 characters or more.
fn is_walk(text: &str) -> bool {
    text.chars().count() >= 4
        && WALKS.iter().any(|walk| {
            let reversed: String = walk.chars().rev().collect();
            walk.contains(text) || reversed.contains(text)
        })
}

/// A short unit (at most 4 characters, or a common word) repeated, e.g. "abcabcabcabc",
/// "monkeymonkey".
fn is_repetition(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    (1..=n / 2).any(|len| {
        let Some(unit) = chars.get(..len).filter(|_| n.checked_rem(len) == Some(0)) else {
            return false;
        };
        let repeated = chars.chunks(len).all(|chunk| chunk == unit);
        let unit: String = unit.iter().collect();
        repeated && (len <= 4 || on_list(&unit) || on_list(strip_decoration(&unit)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(p: &str) -> Result<Password, PasswordError> {
        Password::parse_new(p, None)
    }

    #[test]
    fn good_passwords_pass() {
        for ok in [
            "correct horse battery staple",
            "Tr0ub4dor&3xyz",
            "mauve-otter-17-kettle",
            "zoë bücher straße",
            "日本語のパスワードです、長い",
            "a1s2d3f4g5h6j7",
            "my shop password 2030",
        ] {
            assert!(new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn length_is_counted_in_characters_and_bytes_are_capped() {
        assert_eq!(new(""), Err(PasswordError::Missing));
        assert_eq!(new("Xk3#vq9!Lm2"), Err(PasswordError::TooShort), "11 characters");
        assert!(new("Xk3#vq9!Lm2z").is_ok(), "12 characters");
        // 11 characters of 2 bytes each: 22 bytes, still too short.
        assert_eq!(new("éàüöïçñøåæœ"), Err(PasswordError::TooShort));
        assert!(new(&format!("Xk3#vq9!{}", "é".repeat(124))).is_ok(), "256 bytes");
        assert_eq!(new(&format!("Xk3#vq9!{}x", "é".repeat(124))), Err(PasswordError::TooLong));
        assert_eq!(new(&"x".repeat(1 << 20)), Err(PasswordError::TooLong));
        assert_eq!(Password::parse_given(&"x".repeat(257)), Err(PasswordError::TooLong));
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["correct horse\0battery", "correct horse\nbattery", "correct\thorse battery", "\u{7f}correct horse battery"] {
            assert_eq!(new(bad), Err(PasswordError::ForbiddenCharacter), "{bad:?}");
            assert_eq!(Password::parse_given(bad), Err(PasswordError::ForbiddenCharacter), "{bad:?}");
        }
    }

    #[test]
    fn common_and_guessable_passwords_are_refused() {
        for bad in [
            "password1234",
            "Password123!",
            "PASSWORD2024!!",
            "2024qwerty!!",
            "iloveyou1234",
            "passwordpassword",
            "monkeymonkey",
            "123456789012",
            "1234567890123",
            "098765432109",
            "qwertyuiopas",
            "QWERTYUIOPASDF",
            "abcdefghijklm",
            "zyxwvutsrqpon",
            "1qaz2wsx3edc",
            "aaaaaaaaaaaa",
            "abcabcabcabc",
            "121212121212",
            "            ",
            "aabbaabbaabb",
            "letmein12345",
            "welcome2030!",
            "wasmgoods123",
            "Starwars1977",
        ] {
            assert_eq!(new(bad), Err(PasswordError::Common), "{bad:?}");
        }
    }

    #[test]
    fn the_email_is_no_password() {
        let email = AccountEmail::parse("ada.lovelace@example.com").unwrap();
        assert_eq!(Password::parse_new("Ada.Lovelace@Example.com", Some(&email)), Err(PasswordError::IsEmail));
        assert_eq!(Password::parse_new("ada.lovelace", Some(&email)), Err(PasswordError::IsEmail));
        assert!(Password::parse_new("ada.lovelace rides bikes", Some(&email)).is_ok());
    }

    #[test]
    fn a_given_password_is_not_judged_for_strength() {
        assert!(Password::parse_given("short").is_ok());
        assert!(Password::parse_given("password").is_ok());
        assert_eq!(Password::parse_given(""), Err(PasswordError::Missing));
    }

    #[test]
    fn the_list_is_lowercase_and_has_no_duplicates() {
        let words: Vec<&str> = COMMON.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        assert!(words.len() >= 300, "{}", words.len());
        let mut sorted = words.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), words.len(), "duplicates");
        for w in words {
            assert_eq!(w, w.to_lowercase(), "{w}");
            assert_eq!(w, w.trim(), "{w:?}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let p = new("correct horse battery staple").unwrap();
        assert_eq!(format!("{p:?}"), "Password(<secret>)");
        assert_eq!(p.expose_secret(), b"correct horse battery staple");
    }

    #[test]
    fn messages() {
        assert_eq!(PasswordError::TooShort.to_string(), "Password must be at least 12 characters");
        assert_eq!(PasswordError::TooLong.to_string(), "Password must be at most 256 bytes");
        assert_eq!(PasswordError::Common.to_string(), "This password is too common or too easy to guess; choose another");
    }
}
