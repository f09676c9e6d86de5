//! Cross-site request forgery defence for every POST (double-submit, bound to the session).
//!
//! The token is the session's random `csrf` cookie, repeated in a hidden form field. Another site
//! can make a browser send the cookie but can neither read it nor the page that holds the field,
//! so it cannot fill the field in. A new session mints a new secret, so tokens die with sessions.
//! Browsers' `Sec-Fetch-Site` and `Origin` headers, when present, reject cross-site posts early.

/// Name of the hidden form field.
pub const FIELD: &str = "csrf";

/// True when the submitted token matches the session's secret.
pub fn token_matches(secret: &str, submitted: Option<&str>) -> bool {
    match submitted {
        Some(token) => !secret.is_empty() && constant_time_eq(secret.as_bytes(), token.as_bytes()),
        None => false,
    }
}

/// Compares without an early exit, so response timing does not reveal how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the browser says about where a request came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Provenance<'a> {
    pub sec_fetch_site: Option<&'a str>,
    pub origin: Option<&'a str>,
    /// Hosts this request may legitimately come from (`Host`, `X-Forwarded-Host`).
    pub hosts: &'a [&'a str],
}

/// False when the browser tells us the request was started by another site.
pub fn same_origin(p: Provenance<'_>) -> bool {
    if let Some(site) = p.sec_fetch_site {
        if !matches!(site.trim().to_ascii_lowercase().as_str(), "same-origin" | "none") {
            return false;
        }
    }
    match p.origin.map(str::trim) {
        None => true,
        // Sent by privacy-sensitive contexts; a form of ours never produces it.
        Some("null") => false,
        Some(origin) => {
            let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/');
            // Without a Host header there is nothing to compare with; the token still protects.
            p.hosts.is_empty() || p.hosts.iter().any(|h| h.trim().eq_ignore_ascii_case(authority))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_match_exactly() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert!(token_matches(secret, Some(secret)));
        assert!(!token_matches(secret, Some("0123456789abcdef0123456789abcdee")));
        assert!(!token_matches(secret, Some("")));
        assert!(!token_matches(secret, None));
        assert!(!token_matches("", Some("")));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let hosts = ["shop.example:3000"];
        let p = |site, origin| Provenance { sec_fetch_site: site, origin, hosts: &hosts };
        assert!(same_origin(p(None, None)));
        assert!(same_origin(p(Some("same-origin"), Some("http://shop.example:3000"))));
        assert!(same_origin(p(Some("none"), None)));
        assert!(same_origin(p(None, Some("https://SHOP.example:3000"))));
        assert!(!same_origin(p(Some("cross-site"), None)));
        assert!(!same_origin(p(Some("same-site"), Some("http://shop.example:3000"))));
        assert!(!same_origin(p(None, Some("http://evil.example"))));
        assert!(!same_origin(p(None, Some("http://shop.example:3000.evil.example"))));
        assert!(!same_origin(p(None, Some("null"))));
    }
}
