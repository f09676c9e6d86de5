//! The request and response as the shop's pages see them: plain data, no Spin types, so the
//! whole app can be driven by unit tests.
use maud::Markup;

/// An incoming request, body already read (and capped).
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    /// Without the `?`; empty when absent.
    pub query: String,
    /// Names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lowercase).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An answer; the same header may appear more than once (`set-cookie`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Outgoing {
    /// An HTML page. Pages show session data (the cart), so no cache may keep them.
    pub fn html(status: u16, markup: Markup) -> Outgoing {
        Outgoing {
            status,
            headers: vec![
                ("content-type".into(), "text/html; charset=utf-8".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: markup.into_string().into_bytes(),
        }
    }

    /// Post/Redirect/Get: `303 See Other` to a path of this shop.
    pub fn see_other(location: &str) -> Outgoing {
        Outgoing {
            status: 303,
            headers: vec![("location".into(), location.into()), ("cache-control".into(), "no-store".into())],
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Outgoing {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Adds the headers every answer carries (and replaces any earlier value of them).
    pub fn secured(mut self) -> Outgoing {
        for (name, value) in SECURITY_HEADERS {
            self.headers.retain(|(k, _)| k != name);
            self.headers.push((name.to_string(), value.to_string()));
        }
        self
    }
}

/// Sent with every response. No inline scripts or styles anywhere, so the CSP can be strict.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
];
