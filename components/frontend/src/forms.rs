//! Strict `application/x-www-form-urlencoded` decoding, for POST bodies and query strings.
//!
//! Strict means: a malformed `%` escape or bytes that are not UTF-8 reject the whole input
//! (the shopper gets a 400 page) instead of being guessed at, and a field given twice is refused
//! so two conflicting values can never be read differently by two parts of the code.

/// Largest form body the shop reads; its biggest form (checkout) is well under 2 KiB.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Why a form could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// The same field name appears twice.
    Duplicate(String),
    /// Larger than [`MAX_FORM_BYTES`].
    TooLarge,
}

/// Decoded fields, in the order they were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Decodes `input` (a body or a query string without the `?`).
    pub fn parse(input: &[u8]) -> Result<Form, FormError> {
        if input.len() > MAX_FORM_BYTES {
            return Err(FormError::TooLarge);
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (pair.get(..at).unwrap_or_default(), pair.get(at + 1..).unwrap_or_default()),
                None => (pair, &[][..]),
            };
            let name = decode_component(name)?;
            let value = decode_component(value)?;
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Duplicate(name));
            }
            fields.push((name, value));
        }
        Ok(Form { fields })
    }

    /// The value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `""` when absent (forms treat both as "not filled in").
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }
}

/// Percent-decodes one name or value; `+` means a space.
fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|h| hex_value(*h));
                let lo = bytes.next().and_then(|l| hex_value(*l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::BadEscape),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes a value for a URL query or path segment (everything but unreserved characters).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let form = Form::parse(b"q=red+mug&name=J%C3%BCrgen%20M&empty=&flag").unwrap();
        assert_eq!(form.get("q"), Some("red mug"));
        assert_eq!(form.get("name"), Some("Jürgen M"));
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form.get("flag"), Some(""));
        assert_eq!(form.get("missing"), None);
        assert_eq!(form.text("missing"), "");
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(Form::parse(b"a=%zz"), Err(FormError::BadEscape));
        assert_eq!(Form::parse(b"a=%4"), Err(FormError::BadEscape));
        assert_eq!(Form::parse(b"a=%ff%fe"), Err(FormError::NotUtf8));
        assert_eq!(Form::parse(b"a=1&a=2"), Err(FormError::Duplicate("a".into())));
        assert_eq!(Form::parse(&vec![b'a'; MAX_FORM_BYTES + 1]), Err(FormError::TooLarge));
    }

    #[test]
    fn empty_and_stray_separators_are_harmless() {
        assert_eq!(Form::parse(b"").unwrap(), Form::default());
        assert_eq!(Form::parse(b"&&a=1&").unwrap().get("a"), Some("1"));
        assert_eq!(Form::parse(b"a==b").unwrap().get("a"), Some("=b"));
    }

    #[test]
    fn encoding_round_trips() {
        let original = "mugs & more/<tag> ünï";
        let encoded = encode_component(original);
        assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        let form = Form::parse(format!("x={encoded}").as_bytes()).unwrap();
        assert_eq!(form.get("x"), Some(original));
    }
}
