//! Error pages in the shop's look. Each says what happened in plain words and where to go next.
use maud::{html, Markup};

use crate::http::Outgoing;
use crate::views::layout::{page, Chrome};

fn error_page(chrome: &Chrome, status: u16, title: &str, message: &str, extra: Markup) -> Outgoing {
    let content = html! {
        section.error-page aria-labelledby="error-title" {
            p.code aria-hidden="true" { (status) }
            h1 #error-title { (title) }
            p { (message) }
            (extra)
            div.actions {
                a.btn href="/" { "Continue shopping" }
                a.btn.btn-quiet href="/cart" { "View your cart" }
            }
        }
    };
    Outgoing::html(status, page(chrome, title, content))
}

pub fn not_found(chrome: &Chrome, title: &str, message: &str) -> Outgoing {
    error_page(chrome, 404, title, message, html! {})
}

pub fn page_not_found(chrome: &Chrome) -> Outgoing {
    not_found(
        chrome,
        "We couldn't find that page",
        "The link may be old or mistyped. Try searching above, or browse our categories.",
    )
}

pub fn unavailable(chrome: &Chrome) -> Outgoing {
    error_page(
        chrome,
        503,
        "Sorry, part of the shop is taking a break",
        "We can't reach part of the shop right now — try again in a moment. Nothing in your cart is lost.",
        html! {},
    )
    .with_header("retry-after", "5")
}

pub fn bad_request(chrome: &Chrome, message: &str) -> Outgoing {
    error_page(chrome, 400, "Something in that request wasn't right", message, html! {})
}

pub fn form_expired(chrome: &Chrome) -> Outgoing {
    error_page(
        chrome,
        403,
        "This form has expired, please try again",
        "For your security, forms only work for a while and only from this shop. Go back, reload the page and send it again.",
        html! {},
    )
}

pub fn method_not_allowed(chrome: &Chrome, allow: &'static str) -> Outgoing {
    error_page(
        chrome,
        405,
        "That doesn't work here",
        "This address is for sending a form, not for opening in the browser.",
        html! {},
    )
    .with_header("allow", allow)
}

pub fn too_large(chrome: &Chrome) -> Outgoing {
    error_page(chrome, 413, "That was too much to send", "The form you sent was far larger than any of ours. Please try again.", html! {})
}

/// 429: the accounts service's message says when to try again (e.g. after failed sign-ins).
pub fn too_many_requests(chrome: &Chrome, message: &str) -> Outgoing {
    error_page(chrome, 429, "Please wait a moment", message, html! {})
}
