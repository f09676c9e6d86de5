//! `/checkout`: the form (GET) and placing the order (POST).
//!
//! Entries are checked here first with shop-domain's parsers, so most mistakes are shown without
//! calling checkout at all; checkout checks again and its field errors land beside the same
//! inputs. The card number and security code are never written back into the page.
//!
//! The form shows the cart priced in the shopper's currency and carries that total in hidden
//! fields (`expected_total` in minor units, `expected_currency`, and the item count and country
//! its shipping was quoted for); placing the order sends the currency and that total, with the
//! shipping re-quoted for the country chosen in the form (the page can't update it without a
//! script). Checkout refuses a total that moved (409): the form comes back with the new one.
//!
//! A signed-in shopper's form starts with their email and most recently used saved address, and
//! the address of each order they place is saved for the next one. A guest is offered to sign
//! in, never required to.
use shop_contract::accounts::{ops as accounts_ops, SaveAddressRequest, SavedAddress};
use shop_contract::carts::Cart;
use shop_contract::checkout::{ops, PlaceOrderRequest};
use shop_contract::{Address, CardDetails, ErrorCode, ShopError};
use shop_domain::card_details::parse_card_details;
use shop_domain::{AddressInput, Country, Currency, EmailAddress, IdempotencyKey, Money, YearMonth};

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::forms::Form;
use crate::http::Outgoing;
use crate::identity::{Member, Who};
use crate::routes::cart::load_summary_for;
use crate::session::random_token;
use crate::summary::{parse_confirmed_lines, Expected};
use crate::views::cart::Notice;
use crate::views::checkout::{self as view, CheckoutForm};
use crate::views::layout::Section;
use crate::views::orders::order_url;

pub async fn form<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let mut form = CheckoutForm { attempt: random_token(), country: "US".into(), offer_sign_in: offer_sign_in(ctx), ..CheckoutForm::default() };
    let saved = async {
        match ctx.member() {
            Some(m) => ctx.backend.call(Service::Accounts, accounts_ops::list_addresses, &m.token_ref()).await.ok(),
            None => None,
        }
    };
    let (cart, saved) = futures::join!(ctx.cart(), saved);
    if let Some(member) = ctx.member() {
        prefill(&mut form, member, saved.map(|list| list.addresses).as_deref().unwrap_or_default());
    }
    render_cart_form(ctx, &form, cart?, 200).await
}

/// Only a guest is asked (not a shopper whose sign-in accounts can't check right now).
fn offer_sign_in<B>(ctx: &Ctx<'_, B>) -> bool {
    matches!(ctx.who, Who::Guest)
}

/// The account's email and its most recently used saved address.
pub fn prefill(form: &mut CheckoutForm, member: &Member, saved: &[SavedAddress]) {
    form.email.clone_from(&member.email);
    if let Some(latest) = saved.iter().max_by(|a, b| a.last_used_at.cmp(&b.last_used_at)) {
        let a = &latest.address;
        form.name.clone_from(&a.name);
        form.street.clone_from(&a.street);
        form.city.clone_from(&a.city);
        form.postal_code.clone_from(&a.postal_code);
        form.country.clone_from(&a.country);
    }
}

/// The form with the cart priced afresh beside it (two calls: the cart, its products).
async fn render_with_summary<B: Backend>(ctx: &Ctx<'_, B>, form: &CheckoutForm, status: u16) -> PageResult {
    let cart = ctx.cart().await?;
    render_cart_form(ctx, form, cart, status).await
}

async fn render_cart_form<B: Backend>(ctx: &Ctx<'_, B>, form: &CheckoutForm, cart: Cart, status: u16) -> PageResult {
    // Shipping for the country the form names (the quote checkout will charge), else the default.
    let country = shop_domain::Country::parse(&form.country).unwrap_or(crate::summary::ESTIMATE_COUNTRY);
    let summary = load_summary_for(ctx, &cart, country, 0).await?;
    if summary.item_count == 0 {
        return Ok(Outgoing::see_other("/cart"));
    }
    let chrome = ctx.chrome(Some(cart.item_count), Section::Other);
    let body = view::render(form, Some(&summary), Some(cart.item_count), ctx.csrf(), ctx.config.today.0);
    Ok(ctx.page(status, &chrome, "Checkout", body))
}

/// The form after checkout refused the order (one more call: the cart, for its item count).
async fn render_after_refusal<B: Backend>(ctx: &Ctx<'_, B>, form: &CheckoutForm, status: u16) -> PageResult {
    let count = ctx.cart_count().await;
    let chrome = ctx.chrome(count, Section::Other);
    let body = view::render(form, None, count, ctx.csrf(), ctx.config.today.0);
    Ok(ctx.page(status, &chrome, "Checkout", body))
}

/// What was typed, to show again; the next rendering gets a new attempt id.
fn entries<B>(ctx: &Ctx<'_, B>) -> CheckoutForm {
    let f = &ctx.form;
    let text = |name: &str| f.text(name).trim().chars().take(300).collect::<String>();
    CheckoutForm {
        attempt: random_token(),
        email: text("email"),
        name: text("name"),
        street: text("street"),
        city: text("city"),
        postal_code: text("postal_code"),
        country: text("country"),
        expiry_month: text("expiry_month"),
        expiry_year: text("expiry_year"),
        errors: Vec::new(),
        alert: None,
        offer_sign_in: offer_sign_in(ctx),
        expected: None,
        lines: f.get("lines").map(str::to_string),
    }
}

/// The hidden fields that name the total the form showed: all four, or none (a form rendered
/// before they existed); anything else was not made by this shop.
pub fn expected_total(form: &Form) -> Result<Option<Expected>, ShopError> {
    let fields = ["expected_total", "expected_currency", "expected_items", "expected_country"].map(|name| form.get(name));
    let [total, currency, items, country] = match fields {
        [None, None, None, None] => return Ok(None),
        [Some(total), Some(currency), Some(items), Some(country)] => [total, currency, items, country],
        _ => return Err(incomplete_form()),
    };
    let currency = Currency::parse(currency).map_err(|_| incomplete_form())?;
    let total = whole_number(total).and_then(|n| i64::try_from(n).ok()).and_then(|minor| Money::new(minor, currency).ok()).ok_or_else(incomplete_form)?;
    let items = whole_number(items).and_then(|n| u32::try_from(n).ok()).ok_or_else(incomplete_form)?;
    let country = Country::parse(country).map_err(|_| incomplete_form())?;
    Ok(Some(Expected { total, items, country }))
}

/// 400 for a form whose hidden fields this shop did not write.
fn incomplete_form() -> ShopError {
    ShopError::bad_request("This checkout form is incomplete. Please reload the checkout page and try again.")
}

/// Digits only (no sign, no spaces), as the form wrote them; `None` when empty or too large.
fn whole_number(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| b.is_ascii_digit().then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))?)
}

/// The checked order request, or the form with every problem marked.
pub fn validate(form: &mut CheckoutForm, card_number: &str, cvv: &str, today: (u32, u32)) -> Option<(String, Address, CardDetails)> {
    let email = EmailAddress::parse(&form.email).map_err(|e| form.add_error("email", &e.to_string())).ok();
    let address = shop_domain::Address::parse(AddressInput {
        name: form.name.clone(),
        street: form.street.clone(),
        city: form.city.clone(),
        postal_code: form.postal_code.clone(),
        country: form.country.clone(),
    })
    .map_err(|errors| errors.iter().for_each(|e| form.add_error(&e.field, &e.message)))
    .ok();
    let year_month = YearMonth::new(u16::try_from(today.0).unwrap_or(u16::MAX), u8::try_from(today.1).unwrap_or(1));
    let month = form.expiry_month.parse::<u32>().ok().filter(|m| (1..=12).contains(m));
    let year = form.expiry_year.parse::<u32>().ok();
    let card = match (month, year) {
        (Some(month), Some(year)) => parse_card_details(card_number, month, year, cvv, year_month)
            .map(|card| (card, month, year))
            .map_err(|errors| errors.iter().for_each(|e| form.add_error(&format!("card.{}", e.field), &e.message)))
            .ok(),
        _ => {
            form.add_error("expiry", "Choose the expiry month and year shown on your card");
            // Still check the number and code, with a stand-in expiry, so all problems show at once.
            let stand_in = today.0.saturating_add(1);
            if let Err(errors) = parse_card_details(card_number, 12, stand_in, cvv, year_month) {
                errors.iter().filter(|e| e.field != "expiry").for_each(|e| form.add_error(&format!("card.{}", e.field), &e.message));
            }
            None
        }
    };
    let (email, address, (card, month, year)) = (email?, address?, card?);
    let address = Address {
        name: address.name().to_string(),
        street: address.street().to_string(),
        city: address.city().to_string(),
        postal_code: address.postal_code().to_string(),
        country: address.country().code().to_string(),
    };
    let year = if year < 100 { year + 2000 } else { year };
    let card = CardDetails {
        number: card.number().expose_digits().to_string(),
        expiry_month: month,
        expiry_year: year,
        cvv: card.cvv().expose_secret().to_string(),
    };
    Some((email.as_str().to_string(), address, card))
}

/// Keeps the order's address for the next checkout. The order is placed whatever happens here:
/// a failure only costs the shopper some typing next time, so it is logged, not shown.
async fn save_address<B: Backend>(ctx: &Ctx<'_, B>, member: &Member, address: &Address, order_id: &str) {
    let req = SaveAddressRequest { token: member.token.expose_secret().to_string(), address: address.clone() };
    if let Err(e) = ctx.backend.call(Service::Accounts, accounts_ops::save_address, &req).await {
        shop_spin::log::error(&format!("order {order_id}: could not save its address for the account: {} {}", e.code.as_str(), e.message));
    }
}

pub async fn place<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let Ok(attempt) = IdempotencyKey::parse(ctx.form.text("attempt")) else {
        return Err(incomplete_form());
    };
    let mut form = entries(ctx);
    form.expected = expected_total(&ctx.form)?;
    let Some((email, address, card)) =
        validate(&mut form, ctx.form.text("card_number"), ctx.form.text("cvv"), ctx.config.today)
    else {
        return render_with_summary(ctx, &form, 400).await;
    };
    // The order is in the currency the form showed its total in (the picker may have changed
    // since, in another tab); the shipping follows the country chosen in the form.
    let currency = form.expected.map_or(ctx.currency, |e| e.total.currency());
    let country = Country::parse(&address.country).ok();
    let expected = form.expected.map(|e| country.and_then(|c| e.shipped_to(c)).unwrap_or(e.total));
    let lines = match form.lines.as_deref().map(parse_confirmed_lines) {
        None => None,
        Some(Some(lines)) => Some(lines),
        Some(None) => return Err(incomplete_form()),
    };
    let req = PlaceOrderRequest {
        session: ctx.cart_key()?,
        account_id: ctx.account_id(),
        attempt_id: attempt.to_string(),
        email,
        address,
        card,
        currency: currency.code().to_string(),
        expected_total: expected.map(shop_spin::wire::money_to_wire),
        lines,
    };
    let e = match ctx.backend.call(Service::Checkout, ops::place_order, &req).await {
        Ok(order) => {
            if let Some(member) = ctx.member() {
                save_address(ctx, member, &req.address, &order.order_id).await;
            }
            return Ok(Outgoing::see_other(&format!("{}?placed=1", order_url(&order.order_id))));
        }
        Err(e) => e,
    };
    match e.code {
        ErrorCode::PaymentDeclined => {
            let reason = e.message.trim_end_matches('.');
            form.alert = Some((
                "Your payment didn't go through".into(),
                format!("{reason}. Nothing was charged. Check the card details, or use a different card."),
            ));
            render_after_refusal(ctx, &form, 402).await
        }
        // 422 is an empty cart, or an order that cannot be fulfilled (e.g. too many items to ship,
        // or shipping refused it after the charge, which was refunded). With lines sent, it is
        // never the cart's emptiness: the message is shown, whatever the cart holds now.
        ErrorCode::Unprocessable if req.lines.as_ref().is_none_or(Vec::is_empty) && ctx.cart_count().await == Some(0) => {
            Ok(Outgoing::see_other(&Notice::NothingToOrder.url(None)))
        }
        ErrorCode::Unprocessable => {
            form.alert = Some(("We couldn't place your order".into(), e.message.clone()));
            render_after_refusal(ctx, &form, 422).await
        }
        // The total moved (a price or a rate), or stock ran out: the page again, priced afresh,
        // saying why, so the shopper can look and confirm again (nothing was charged).
        ErrorCode::Conflict => {
            let short = e.fields.iter().any(|f| f.field.starts_with("lines"));
            let text = if short {
                format!("{}. Change your cart, then place your order again.", e.message.trim_end_matches('.'))
            } else {
                e.message.clone()
            };
            let title = if short { "Some items are sold out or running low" } else { "Please review your order" };
            form.alert = Some((title.into(), text));
            render_with_summary(ctx, &form, 409).await
        }
        ErrorCode::BadRequest | ErrorCode::NotFound => {
            if e.fields.is_empty() {
                form.alert = Some(("We couldn't place your order".into(), format!("{} Please check the details and place your order again.", e.message)));
            } else {
                e.fields.iter().for_each(|f| form.add_error(&f.field, &f.message));
            }
            render_after_refusal(ctx, &form, e.status()).await
        }
        _ => Err(e),
    }
}
