//! The shopper's currency: the `currency` cookie holds an ISO 4217 code the shop sells in; absent
//! or anything else reads as US dollars. The header's picker sets it (`GET /currency?code=EUR&next=/cart`),
//! and every catalog call asks for prices in it.
use shop_domain::Currency;

use crate::forms::Form;
use crate::http::Incoming;
use crate::next_path::NextPath;
use crate::router::{Route, Verb};
use crate::session::cookie;

pub const COOKIE: &str = "currency";

/// Prices are shown in US dollars until the shopper picks another currency.
pub const DEFAULT: Currency = Currency::Usd;

/// The choice is kept for a year.
const MAX_AGE_SECONDS: u32 = 365 * 24 * 60 * 60;

/// Query parameters worth keeping when the page is shown again in another currency; the others
/// (`notice`, `sku`, `error`, `placed`) report something that just happened and would repeat it.
const KEPT_PARAMS: [&str; 5] = ["q", "category", "page", "before", "next"];

/// The currency the request's cookie names, or [`DEFAULT`].
pub fn of_request(req: &Incoming) -> Currency {
    req.header_values("cookie")
        .find_map(|header| cookie(Some(header), COOKIE))
        .and_then(|code| Currency::parse(code).ok())
        .unwrap_or(DEFAULT)
}

/// `SameSite=Lax`, `Path=/`; `HttpOnly` as no script needs it (there are none).
pub fn set_cookie(currency: Currency, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={}; Max-Age={MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax{secure}", currency.code())
}

/// Where the picker comes back to: this page as it was read (its lasting query parameters only),
/// or, for a page that answered a form, that page's own address when it can be read with GET.
pub fn here(req: &Incoming) -> Option<NextPath> {
    let readable = |path: &str| !matches!(Route::resolve(Verb::Get, path), Route::NotFound | Route::MethodNotAllowed { .. });
    match Verb::parse(&req.method) {
        Verb::Get | Verb::Head => {
            let kept: Vec<&str> = req
                .query
                .split('&')
                .filter(|pair| {
                    let name = pair.split('=').next().unwrap_or_default();
                    // A sign-in page's own `next` only when it would be followed (never carry an unsafe one on).
                    let safe_next = || Form::parse(pair.as_bytes()).ok().and_then(|f| f.get("next").and_then(NextPath::parse)).is_some();
                    KEPT_PARAMS.contains(&name) && (name != "next" || safe_next())
                })
                .collect();
            let target = if kept.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, kept.join("&")) };
            NextPath::page(&target).or_else(|| NextPath::page(&req.path))
        }
        Verb::Post if readable(&req.path) => NextPath::page(&req.path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, query: &str, cookie: Option<&str>) -> Incoming {
        let headers = cookie.map(|c| vec![("cookie".to_string(), c.to_string())]).unwrap_or_default();
        Incoming { method: method.into(), path: path.into(), query: query.into(), headers, body: Vec::new() }
    }

    #[test]
    fn the_cookie_names_a_currency_or_dollars_are_shown() {
        assert_eq!(of_request(&req("GET", "/", "", Some("sid=x; currency=JPY"))), Currency::Jpy);
        assert_eq!(of_request(&req("GET", "/", "", Some("currency=kwd"))), Currency::Kwd);
        for odd in ["currency=XXX", "currency=", "currency=<b>", "xcurrency=EUR"] {
            assert_eq!(of_request(&req("GET", "/", "", Some(odd))), Currency::Usd, "{odd}");
        }
        assert_eq!(of_request(&req("GET", "/", "", None)), Currency::Usd);
    }

    #[test]
    fn the_cookie_lasts_a_year_for_the_whole_shop() {
        assert_eq!(set_cookie(Currency::Eur, false), "currency=EUR; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax");
        assert!(set_cookie(Currency::Chf, true).ends_with("; Secure"));
    }

    #[test]
    fn the_picker_comes_back_to_the_page_without_one_off_notices() {
        let here_of = |method: &str, path: &str, query: &str| here(&req(method, path, query, None)).map(|n| n.as_str().to_string());
        assert_eq!(here_of("GET", "/", "category=home&page=2").as_deref(), Some("/?category=home&page=2"));
        assert_eq!(here_of("GET", "/cart", "notice=added&sku=MUG-1").as_deref(), Some("/cart"));
        assert_eq!(here_of("GET", "/product/MUG-1", "error=stock").as_deref(), Some("/product/MUG-1"));
        assert_eq!(here_of("GET", "/account/sign-in", "next=%2Fcheckout").as_deref(), Some("/account/sign-in?next=%2Fcheckout"));
        assert_eq!(here_of("GET", "/account/sign-in", "next=%2F%2Fevil.example").as_deref(), Some("/account/sign-in"));
        assert_eq!(here_of("POST", "/checkout", "").as_deref(), Some("/checkout"));
        assert_eq!(here_of("POST", "/cart/add", ""), None, "an action is no page to come back to");
        assert_eq!(here_of("GET", "//evil.example", ""), None);
    }
}
