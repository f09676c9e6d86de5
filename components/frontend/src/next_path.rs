//! Where to go after signing in: a `next` path carried by the sign-in link and form.
//!
//! It comes from the request, so anyone can craft one; only a path of this shop is followed
//! (no open redirect): it must start with one `/` (not `//` or `/\`, which browsers read as
//! another host), hold printable ASCII only (browsers drop tabs and newlines, which would turn
//! `/\t/evil.example` into `//evil.example`), and be of a sane length.

/// A path of this shop, safe to put in a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPath(String);

impl NextPath {
    pub const MAX_LEN: usize = 512;

    /// The path, or `None` when it is not a same-site path worth going back to after signing in.
    pub fn parse(raw: &str) -> Option<NextPath> {
        // Back to the sign-in pages themselves would be a loop, or a surprise.
        let path = raw.split(['?', '#']).next().unwrap_or_default();
        let account_form = matches!(path, "/account/sign-in" | "/account/sign-up" | "/account/sign-out");
        if account_form {
            return None;
        }
        NextPath::page(raw)
    }

    /// Any path of this shop, the sign-in pages included: where the currency picker goes back to
    /// (changing the currency on the sign-in page stays there, no loop).
    pub fn page(raw: &str) -> Option<NextPath> {
        let mut bytes = raw.bytes();
        let safe = bytes.next() == Some(b'/')
            && !matches!(bytes.next(), Some(b'/' | b'\\'))
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
        safe.then(|| NextPath(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `?next=<encoded>` for a link to a sign-in page.
    pub fn query(next: Option<&NextPath>) -> String {
        next.map_or_else(String::new, |n| format!("?next={}", crate::forms::encode_component(&n.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_this_shop_are_kept() {
        for ok in ["/", "/checkout", "/orders?before=abc", "/product/KIT-MUG-TEAL", "/?q=red+mug&page=2", "/account"] {
            assert_eq!(NextPath::parse(ok).map(|n| n.as_str().to_string()), Some(ok.to_string()), "{ok}");
        }
    }

    #[test]
    fn anything_that_could_leave_the_shop_is_refused() {
        for bad in [
            "",
            "checkout",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " /checkout",
            "/check out",
            "/ünï",
            "/path\\with\\backslash",
            "javascript:alert(1)",
            "/account/sign-in",
            "/account/sign-up?next=/",
            "/account/sign-out",
        ] {
            assert_eq!(NextPath::parse(bad), None, "{bad:?}");
        }
        assert_eq!(NextPath::parse(&format!("/{}", "a".repeat(NextPath::MAX_LEN))), None, "too long");
    }

    #[test]
    fn any_page_of_the_shop_is_a_place_to_come_back_to_from_the_currency_picker() {
        assert_eq!(NextPath::page("/account/sign-in?next=%2Fcart").map(|n| n.as_str().to_string()).as_deref(), Some("/account/sign-in?next=%2Fcart"));
        for bad in ["", "//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example", "/ünï"] {
            assert_eq!(NextPath::page(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_query_encodes_the_path() {
        let next = NextPath::parse("/?q=red+mug&page=2").unwrap();
        assert_eq!(NextPath::query(Some(&next)), "?next=%2F%3Fq%3Dred%2Bmug%26page%3D2");
        assert_eq!(NextPath::query(None), "");
    }
}
