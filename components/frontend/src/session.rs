//! The shopper's session: a random id in the `sid` cookie, plus the CSRF secret in `csrf`.
//!
//! Both are 128 random bits as 32 lowercase hex digits. A cookie whose value is not exactly
//! that shape is ignored and replaced, so nothing a client sends is trusted as a session id.

/// Keeps a cart across browser restarts for a month.
const MAX_AGE_SECONDS: u32 = 30 * 24 * 60 * 60;

pub const SESSION_COOKIE: &str = "sid";
pub const CSRF_COOKIE: &str = "csrf";

/// The session of one request, and the cookies to set when any value is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub csrf: String,
    /// `Set-Cookie` header values to send with the response.
    pub set_cookies: Vec<String>,
}

impl Session {
    /// Reads both cookies from a `Cookie` header, minting what is missing or malformed.
    /// A new session always gets a new CSRF secret, so a secret never outlives its session.
    pub fn from_cookie_header(header: Option<&str>, secure: bool, mut random: impl FnMut() -> String) -> Session {
        let sid = cookie(header, SESSION_COOKIE).filter(|v| is_token(v));
        let csrf = cookie(header, CSRF_COOKIE).filter(|v| is_token(v));
        let mut set_cookies = Vec::new();
        let (id, csrf) = match (sid, csrf) {
            (Some(id), Some(csrf)) => (id.to_string(), csrf.to_string()),
            (Some(id), None) => {
                let csrf = random();
                set_cookies.push(set_cookie(CSRF_COOKIE, &csrf, secure));
                (id.to_string(), csrf)
            }
            (None, _) => {
                let (id, csrf) = (random(), random());
                set_cookies.push(set_cookie(SESSION_COOKIE, &id, secure));
                set_cookies.push(set_cookie(CSRF_COOKIE, &csrf, secure));
                (id, csrf)
            }
        };
        Session { id, csrf, set_cookies }
    }
}

/// A fresh 128-bit random token as 32 lowercase hex digits.
pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Exactly 32 lowercase hex digits: the only shape the shop ever issues.
pub fn is_token(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The first value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// `HttpOnly` so page scripts (there are none, but injected ones could be) can't read it;
/// `SameSite=Lax` so other sites' forms don't carry it on POST.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Max-Age={MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> String {
        let mut n = 0u8;
        move || {
            n += 1;
            format!("{n:032x}")
        }
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn existing_valid_cookies_are_kept_without_set_cookie() {
        let header = format!("theme=dark; sid={A}; csrf={B}");
        let s = Session::from_cookie_header(Some(&header), false, counter());
        assert_eq!((s.id.as_str(), s.csrf.as_str()), (A, B));
        assert!(s.set_cookies.is_empty());
    }

    #[test]
    fn missing_or_invalid_session_is_replaced_with_both_cookies() {
        for header in [None, Some("sid=../../etc"), Some("sid=0123456789ABCDEF0123456789ABCDEF"), Some("sid=")] {
            let s = Session::from_cookie_header(header, true, counter());
            assert!(is_token(&s.id) && is_token(&s.csrf) && s.id != s.csrf);
            assert_eq!(s.set_cookies.len(), 2);
            assert!(s.set_cookies[0].starts_with(&format!("sid={}", s.id)));
            assert!(s.set_cookies.iter().all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")
                && c.contains("Path=/") && c.ends_with("; Secure")));
        }
    }

    #[test]
    fn a_missing_csrf_secret_is_minted_for_the_existing_session() {
        let s = Session::from_cookie_header(Some(&format!("sid={A}")), false, counter());
        assert_eq!(s.id, A);
        assert_eq!(s.set_cookies.len(), 1);
        assert!(s.set_cookies[0].starts_with("csrf=") && !s.set_cookies[0].contains("Secure"));
    }

    #[test]
    fn random_tokens_have_the_issued_shape() {
        let (a, b) = (random_token(), random_token());
        assert!(is_token(&a) && is_token(&b) && a != b);
    }

    #[test]
    fn cookie_lookup_matches_whole_names() {
        assert_eq!(cookie(Some("xsid=1; sid=2"), "sid"), Some("2"));
        assert_eq!(cookie(Some("sid"), "sid"), None);
        assert_eq!(cookie(None, "sid"), None);
    }
}
