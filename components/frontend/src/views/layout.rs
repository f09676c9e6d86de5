//! The page shell every shop page shares: head, header (account links, brand, search,
//! categories, cart) and footer.
use maud::{html, Markup, DOCTYPE};
use shop_domain::catalog::Category;
use shop_domain::Currency;

use crate::assets::CSS_ETAG;
use crate::next_path::NextPath;
use crate::views::{format, parts};

/// The shop's name, shown in the header and every title.
pub const SHOP_NAME: &str = "Wasm Goods";

/// What the header shows besides the fixed links.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// Items in the cart; `None` when the cart could not be read (the link still works).
    pub cart_count: Option<u32>,
    /// The current search text, kept in the search box.
    pub search: String,
    /// The category being browsed, marked in the category bar.
    pub category: Option<Category>,
    /// Which top-level page this is, for `aria-current`.
    pub section: Section,
    /// The header's account links.
    pub account: AccountLinks,
    /// The currency prices are shown in, selected in the header's picker; `None` hides the
    /// picker (pages that know nothing of the request).
    pub currency: Option<Currency>,
    /// Where the picker comes back to (the home page when `None`).
    pub currency_next: Option<NextPath>,
}

/// The top of the header: how to sign in, or who is signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccountLinks {
    /// Nothing (error pages that know nothing of the request; or accounts can't be asked).
    #[default]
    Hidden,
    /// "Sign in" and "Create account", coming back to `next` afterwards.
    Guest { next: Option<NextPath> },
    /// The email, "Your account", and a "Sign out" button (a POST form, so it needs the token).
    SignedIn { email: String, csrf: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Section {
    #[default]
    Other,
    Catalog,
    Cart,
    Orders,
    Account,
}

fn account_bar(links: &AccountLinks, current: Option<&str>) -> Markup {
    html! {
        @match links {
            AccountLinks::Hidden => {}
            AccountLinks::Guest { next } => {
                nav.account-bar aria-label="Account" {
                    a href={ "/account/sign-in" (NextPath::query(next.as_ref())) } { "Sign in" }
                    a href={ "/account/sign-up" (NextPath::query(next.as_ref())) } { "Create account" }
                }
            }
            AccountLinks::SignedIn { email, csrf } => {
                nav.account-bar aria-label="Account" {
                    span.account-email { span.visually-hidden { "Signed in as " } (email) }
                    a href="/account" aria-current=[current] { "Your account" }
                    form method="post" action="/account/sign-out" {
                        (parts::csrf_field(csrf))
                        button.text-button type="submit" { "Sign out" }
                    }
                }
            }
        }
    }
}

/// The currency picker: a plain GET form (no script), coming back to this page.
pub fn currency_picker(current: Currency, next: Option<&NextPath>) -> Markup {
    html! {
        form.currency-picker method="get" action="/currency" {
            // On a phone the word is left to screen readers: the list's entries name currencies.
            label.hide-narrow for="currency-code" { "Currency" }
            select #currency-code name="code" {
                @for c in Currency::ALL {
                    option value=(c.code()) selected[c == current] { (c.code()) " — " (c.name()) }
                }
            }
            @if let Some(next) = next {
                input type="hidden" name="next" value=(next.as_str());
            }
            button.btn-quiet type="submit" { "Change" span.visually-hidden { " currency" } }
        }
    }
}

/// The slim bar above the header: the currency picker and the account links.
fn top_bar(chrome: &Chrome, current: Option<&str>) -> Markup {
    let links = account_bar(&chrome.account, current);
    html! {
        @if chrome.currency.is_some() || chrome.account != AccountLinks::Hidden {
            div.top-bar {
                div.wrap {
                    @if let Some(currency) = chrome.currency {
                        (currency_picker(currency, chrome.currency_next.as_ref()))
                    }
                    (links)
                }
            }
        }
    }
}

pub fn page(chrome: &Chrome, title: &str, content: Markup) -> Markup {
    let current = |s: Section| (chrome.section == s).then_some("page");
    let all_current = (chrome.section == Section::Catalog && chrome.category.is_none() && chrome.search.is_empty())
        .then_some("page");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (SHOP_NAME) }
                meta name="description" content="Wasm Goods: mugs, tees, notebooks, lamps and other small things, well made.";
                link rel="stylesheet" href={ "/static/shop.css?v=" (format!("{CSS_ETAG:016x}")) };
                link rel="icon" type="image/svg+xml" href="/static/favicon.svg";
            }
            body {
                a.skip-link href="#main" { "Skip to main content" }
                header.site-header {
                    (top_bar(chrome, current(Section::Account)))
                    div.wrap.header-row {
                        a.brand href="/" {
                            span.brand-mark aria-hidden="true" { "W" }
                            (SHOP_NAME)
                        }
                        form.search role="search" action="/" method="get" {
                            label.visually-hidden for="site-search" { "Search products" }
                            input #site-search type="search" name="q" value=(chrome.search) maxlength="100"
                                placeholder="Search mugs, tees, lamps…" autocomplete="off";
                            button type="submit" { "Search" }
                        }
                        nav.header-links aria-label="Your shopping" {
                            // "Orders" on a phone, so the links fit beside the brand; still "Your orders" when read aloud.
                            a href="/orders" aria-current=[current(Section::Orders)] { span.hide-narrow { "Your " } span.cap-narrow { "orders" } }
                            a.cart-link href="/cart" aria-current=[current(Section::Cart)] {
                                "Cart"
                                @if let Some(n) = chrome.cart_count {
                                    span.cart-count aria-hidden="true" { (n) }
                                    span.visually-hidden { ", " (format::count(n, "item", "items")) }
                                }
                            }
                        }
                    }
                    nav.categories aria-label="Categories" {
                        div.wrap {
                            ul {
                                li { a href="/" aria-current=[all_current] { "All products" } }
                                @for c in Category::ALL {
                                    li {
                                        a href={ "/?category=" (c.slug()) }
                                            aria-current=[(chrome.category == Some(c)).then_some("page")] { (c.name()) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    div.wrap { (content) }
                }
                footer.site-footer {
                    div.wrap {
                        p { (SHOP_NAME) " · Small things, well made. Free returns within 30 days · Secure checkout." }
                    }
                }
            }
        }
    }
}
