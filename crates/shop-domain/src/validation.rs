//! Field-level validation errors and the free-text cleaner shared by all input parsers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one form field, worded so it can be shown to the shopper beside that field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldError {
    /// Name of the form field (matches the input struct's field name, e.g. `"postal_code"`).
    pub field: String,
    /// Human-readable message, e.g. `"Enter a postal code"`.
    pub message: String,
}

impl FieldError {
    /// Builds a field error from a field name and a message.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins field errors into one line (`"name: Enter your name; city: Enter a city"`) for logs and serde errors.
pub fn join_messages(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects errors from several fields so a form can report all of them at once, not just the first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorCollector {
    errors: Vec<FieldError>,
}

impl ErrorCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the value if `result` is `Ok`; otherwise records its message under `field` and returns `None`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.push(field, err.to_string());
                None
            }
        }
    }

    /// Records an error for `field`.
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// True when no error has been recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// True when an error has been recorded for `field`.
    pub fn has_error_for(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// The recorded errors, in the order they were found.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Why a free-text field was rejected by [`clean_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace was entered.
    #[error("This field is required")]
    Missing,
    /// Longer than the field allows (counted in characters, after trimming).
    #[error("Must be at most {max} characters")]
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// Contains control or invisible text-direction characters.
    #[error("Contains characters that aren't allowed")]
    ForbiddenCharacter,
}

impl TextError {
    /// The message with the field's label, e.g. `message("City")` → `"City must be at most 100 characters"`.
    pub fn message(&self, label: &str) -> String {
        match self {
            TextError::Missing => format!("{label} is required"),
            TextError::TooLong { max } => format!("{label} must be at most {max} characters"),
            TextError::ForbiddenCharacter => {
                format!("{label} contains characters that aren't allowed")
            }
        }
    }
}

/// True for characters never accepted in shopper text.
///
/// Control characters (newlines, tabs, NUL…) break one-line fields, logs and emails;
/// bidirectional overrides and zero-width characters let text render differently from
/// what it contains (spoofing), so they are rejected too.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Trims `input` and checks it is non-empty, at most `max_chars` characters and free of forbidden characters.
pub fn clean_text(input: &str, max_chars: usize) -> Result<String, TextError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(TextError::Missing);
    }
    if trimmed.chars().any(is_forbidden_char) {
        return Err(TextError::ForbiddenCharacter);
    }
    if trimmed.chars().count() > max_chars {
        return Err(TextError::TooLong { max: max_chars });
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_trims() {
        assert_eq!(
            clean_text("  Ada Lovelace \n", 100),
            Ok("Ada Lovelace".into())
        );
    }

    #[test]
    fn clean_text_rejects_blank() {
        assert_eq!(clean_text("", 10), Err(TextError::Missing));
        assert_eq!(clean_text(" \t \n", 10), Err(TextError::Missing));
    }

    #[test]
    fn clean_text_counts_characters_not_bytes() {
        assert_eq!(clean_text("ééééé", 5), Ok("ééééé".into()));
        assert_eq!(clean_text("éééééé", 5), Err(TextError::TooLong { max: 5 }));
    }

    #[test]
    fn clean_text_rejects_control_and_bidi_characters() {
        for bad in [
            "a\nb",
            "a\tb",
            "a\0b",
            "a\u{7f}b",
            "abc\u{202E}def",
            "zero\u{200B}width",
        ] {
            assert_eq!(
                clean_text(bad, 100),
                Err(TextError::ForbiddenCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn clean_text_accepts_unicode_letters() {
        assert_eq!(
            clean_text("Zoë Ñúñez 山田", 100),
            Ok("Zoë Ñúñez 山田".into())
        );
    }

    #[test]
    fn text_error_messages_use_label() {
        assert_eq!(TextError::Missing.message("City"), "City is required");
        assert_eq!(
            TextError::TooLong { max: 100 }.message("City"),
            "City must be at most 100 characters"
        );
        assert_eq!(
            TextError::ForbiddenCharacter.message("Name"),
            "Name contains characters that aren't allowed"
        );
    }

    #[test]
    fn collector_keeps_all_errors_in_order() {
        let mut c = ErrorCollector::new();
        assert!(c.is_empty());
        let a: Option<u8> = c.check("a", Err::<u8, _>("first"));
        let b = c.check("b", Ok::<u8, &str>(7));
        c.push("c", "third");
        assert_eq!(a, None);
        assert_eq!(b, Some(7));
        assert!(c.has_error_for("a"));
        assert!(!c.has_error_for("b"));
        assert_eq!(
            c.into_errors(),
            vec![FieldError::new("a", "first"), FieldError::new("c", "third")]
        );
    }

    #[test]
    fn join_messages_formats_fields() {
        let errs = [
            FieldError::new("name", "Enter your name"),
            FieldError::new("city", "Enter a city"),
        ];
        assert_eq!(
            join_messages(&errs),
            "name: Enter your name; city: Enter a city"
        );
    }
}
