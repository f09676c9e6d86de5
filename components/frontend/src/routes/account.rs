//! The account pages and actions: sign up, sign in, sign out, "Your account", changing the
//! password and deleting a saved address.
//!
//! Signing up takes the guest's cart and orders along (carts.merge-cart, checkout.claim-orders);
//! signing in takes the cart only: on a shared computer, the guest orders in the browser may be
//! someone else's. Either then rotates the `sid` and `csrf` cookies: the session id the browser
//! had before carries nothing afterwards, so one planted by someone else (session fixation) is
//! worthless.
//! Entries are checked with shop-domain first, so most mistakes never reach the accounts service.
use shop_contract::accounts::{ops, ChangePasswordRequest, Credentials, DeleteAddressRequest, SignedIn};
use shop_contract::carts::{ops as carts_ops, MergeCartRequest};
use shop_contract::checkout::{ops as checkout_ops, ClaimOrdersRequest};
use shop_contract::{ErrorCode, ShopError};
use shop_domain::account::{AccountEmail, AddressId};
use shop_domain::password::Password;

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::http::Outgoing;
use crate::identity::{Member, Who};
use crate::next_path::NextPath;
use crate::session::{clear_cookie, random_token, rotated, set_cookie, AUTH_COOKIE};
use crate::views::account::{self as view, AccountNotice, AccountView, AuthForm, AuthKind, Problems};
use crate::views::layout::Section;

/// The one answer to a wrong password and to an email with no account (no enumeration).
pub use shop_domain::password::WRONG_CREDENTIALS as SIGN_IN_FAILED;

pub async fn sign_up_form<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    show_form(ctx, AuthKind::SignUp).await
}

pub async fn sign_in_form<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    show_form(ctx, AuthKind::SignIn).await
}

async fn show_form<B: Backend>(ctx: &Ctx<'_, B>, kind: AuthKind) -> PageResult {
    let next = ctx.query.get("next").and_then(NextPath::parse);
    if ctx.member().is_some() {
        return Ok(already_signed_in(next));
    }
    render_form(ctx, kind, &AuthForm { next, ..AuthForm::default() }, 200).await
}

async fn render_form<B: Backend>(ctx: &Ctx<'_, B>, kind: AuthKind, form: &AuthForm, status: u16) -> PageResult {
    let count = ctx.cart_count().await;
    let chrome = ctx.chrome(count, Section::Other);
    let title = if kind == AuthKind::SignIn { "Sign in" } else { "Create an account" };
    let notice = ctx.query.get("notice");
    Ok(ctx.page(status, &chrome, title, view::auth_page(kind, form, ctx.csrf(), notice)))
}

fn already_signed_in(next: Option<NextPath>) -> Outgoing {
    Outgoing::see_other(next.as_ref().map_or("/account", NextPath::as_str))
}

/// What the shopper typed, to show again (never the password).
fn typed<B>(ctx: &Ctx<'_, B>) -> AuthForm {
    AuthForm {
        email: ctx.form.text("email").trim().chars().take(300).collect(),
        next: ctx.form.get("next").and_then(NextPath::parse),
        problems: Problems::default(),
    }
}

pub async fn sign_up<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let mut form = typed(ctx);
    if ctx.member().is_some() {
        return Ok(already_signed_in(form.next));
    }
    let password = ctx.form.text("password");
    let email = AccountEmail::parse(ctx.form.text("email")).map_err(|e| form.problems.add("email", &e.to_string())).ok();
    let checked = Password::parse_new(password, email.as_ref()).map_err(|e| form.problems.add("password", &e.to_string()));
    let (Some(email), Ok(_)) = (email, checked) else {
        return render_form(ctx, AuthKind::SignUp, &form, 400).await;
    };
    let req = Credentials { email: email.to_string(), password: password.to_string(), client: ctx.client() };
    match ctx.backend.call(Service::Accounts, ops::sign_up, &req).await {
        Ok(signed_in) => signed_in_now(ctx, signed_in, form.next, AuthKind::SignUp).await,
        Err(e) => refused(ctx, AuthKind::SignUp, form, e).await,
    }
}

pub async fn sign_in<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let mut form = typed(ctx);
    if ctx.member().is_some() {
        return Ok(already_signed_in(form.next));
    }
    let password = ctx.form.text("password");
    let email = AccountEmail::parse(ctx.form.text("email")).map_err(|e| form.problems.add("email", &e.to_string())).ok();
    let checked = Password::parse_given(password).map_err(|e| form.problems.add("password", &e.to_string()));
    let (Some(email), Ok(_)) = (email, checked) else {
        return render_form(ctx, AuthKind::SignIn, &form, 400).await;
    };
    let req = Credentials { email: email.to_string(), password: password.to_string(), client: ctx.client() };
    match ctx.backend.call(Service::Accounts, ops::sign_in, &req).await {
        Ok(signed_in) => signed_in_now(ctx, signed_in, form.next, AuthKind::SignIn).await,
        Err(e) => refused(ctx, AuthKind::SignIn, form, e).await,
    }
}

/// The form again, saying why accounts said no; anything else is an error page.
async fn refused<B: Backend>(ctx: &Ctx<'_, B>, kind: AuthKind, mut form: AuthForm, e: ShopError) -> PageResult {
    let problems = &mut form.problems;
    match e.code {
        ErrorCode::Unauthorized => problems.alert = Some(("We couldn't sign you in".into(), SIGN_IN_FAILED.into())),
        ErrorCode::Conflict => problems.add("email", "An account with this email address already exists. Sign in instead, or use another address."),
        ErrorCode::TooManyRequests => problems.alert = Some(("Please wait a moment".into(), e.message.clone())),
        ErrorCode::BadRequest if e.fields.is_empty() => problems.alert = Some(("Please check your details".into(), e.message.clone())),
        ErrorCode::BadRequest => e.fields.iter().for_each(|f| problems.add(&f.field, &f.message)),
        _ => return Err(e),
    }
    render_form(ctx, kind, &form, e.status()).await
}

/// After accounts said yes: the guest's cart goes to the account (and, for a new account, the
/// guest's orders), then the cookies change. If a move fails, the new session is ended again
/// (best effort) and the shopper gets the error page, still signed out: nothing is half done, and
/// trying again works.
async fn signed_in_now<B: Backend>(ctx: &Ctx<'_, B>, signed_in: SignedIn, next: Option<NextPath>, kind: AuthKind) -> PageResult {
    let member = Member::from_signed_in(signed_in)?;
    let merge = MergeCartRequest { from: ctx.session.id.clone(), into: member.account_id.cart_key().to_string() };
    let merged = ctx.backend.call(Service::Carts, carts_ops::merge_cart, &merge);
    let moved = match kind {
        AuthKind::SignUp => {
            let claim = ClaimOrdersRequest { session: ctx.session.id.clone(), account_id: member.account_id.to_string() };
            let (merged, claimed) = futures::join!(merged, ctx.backend.call(Service::Checkout, checkout_ops::claim_orders, &claim));
            merged.and(claimed).map(|claimed| AccountNotice::Welcome { claimed: claimed.claimed })
        }
        AuthKind::SignIn => merged.await.map(|_| AccountNotice::SignedIn),
    };
    let notice = match moved {
        Ok(notice) => notice,
        Err(e) => {
            let _ = ctx.backend.call(Service::Accounts, ops::sign_out, &member.token_ref()).await;
            return Err(e);
        }
    };
    let location = next.map_or_else(|| notice.url(), |n| n.as_str().to_string());
    let secure = ctx.config.secure_cookies;
    let mut out = Outgoing::see_other(&location).with_header("set-cookie", set_cookie(AUTH_COOKIE, member.token.expose_secret(), secure));
    for cookie in rotated(secure, random_token) {
        out = out.with_header("set-cookie", cookie);
    }
    Ok(out)
}

/// Ends the session (accounts deletes it), forgets the `auth` cookie and rotates the others, so
/// the browser is a new guest with an empty cart.
pub async fn sign_out<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    match ctx.who {
        Who::Member(member) => match ctx.backend.call(Service::Accounts, ops::sign_out, &member.token_ref()).await {
            // Unauthorized: it had ended already.
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::Unauthorized => {}
            Err(e) => return Err(e),
        },
        // Keep the cookie until the session can really be ended.
        Who::Unknown => return Err(ShopError::unavailable("The accounts service can't end the session")),
        Who::Guest => {}
    }
    let secure = ctx.config.secure_cookies;
    let mut out = Outgoing::see_other(&format!("/account/sign-in?notice={}", view::SIGNED_OUT))
        .with_header("set-cookie", clear_cookie(AUTH_COOKIE, secure));
    for cookie in rotated(secure, random_token) {
        out = out.with_header("set-cookie", cookie);
    }
    Ok(out)
}

/// The signed-in shopper, or where a guest goes instead (sign in, then back to the account).
fn member_or_sign_in<'a, B>(ctx: &'a Ctx<'_, B>) -> Result<&'a Member, PageResult> {
    match ctx.who {
        Who::Member(member) => Ok(member),
        Who::Guest => Err(Ok(Outgoing::see_other("/account/sign-in?next=%2Faccount"))),
        Who::Unknown => Err(Err(ShopError::unavailable("The accounts service can't say who is signed in"))),
    }
}

pub async fn page<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let member = match member_or_sign_in(ctx) {
        Ok(member) => member,
        Err(answer) => return answer,
    };
    render_account(ctx, member, AccountNotice::parse(&ctx.query), &Problems::default(), 200).await
}

/// "Your account" (two calls: the cart count, the saved addresses).
async fn render_account<B: Backend>(
    ctx: &Ctx<'_, B>,
    member: &Member,
    notice: Option<AccountNotice>,
    password: &Problems,
    status: u16,
) -> PageResult {
    let token = member.token_ref();
    let (count, addresses) = futures::join!(ctx.cart_count(), ctx.backend.call(Service::Accounts, ops::list_addresses, &token));
    let addresses = addresses.ok().map(|list| list.addresses);
    let chrome = ctx.chrome(count, Section::Account);
    let body = view::account_page(&AccountView {
        email: &member.email,
        created_at: &member.created_at,
        addresses: addresses.as_deref(),
        notice,
        password,
        csrf: ctx.csrf(),
    });
    Ok(ctx.page(status, &chrome, "Your account", body))
}

pub async fn change_password<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let member = match member_or_sign_in(ctx) {
        Ok(member) => member,
        Err(answer) => return answer,
    };
    let (current, new) = (ctx.form.text("current_password"), ctx.form.text("new_password"));
    let mut problems = Problems::default();
    if let Err(e) = Password::parse_given(current) {
        problems.add("current_password", &e.to_string());
    }
    if let Err(e) = Password::parse_new(new, AccountEmail::parse(&member.email).ok().as_ref()) {
        problems.add("new_password", &e.to_string());
    }
    if !problems.is_empty() {
        return render_account(ctx, member, None, &problems, 400).await;
    }
    let req = ChangePasswordRequest {
        token: member.token.expose_secret().to_string(),
        current_password: current.to_string(),
        new_password: new.to_string(),
        client: ctx.client(),
    };
    let e = match ctx.backend.call(Service::Accounts, ops::change_password, &req).await {
        Ok(changed) => {
            return Ok(Outgoing::see_other(&AccountNotice::PasswordChanged { others_ended: changed.other_sessions_ended }.url()))
        }
        Err(e) => e,
    };
    match e.code {
        // The session ended meanwhile (e.g. a password change elsewhere): sign in again.
        ErrorCode::Unauthorized => {
            let clear = clear_cookie(AUTH_COOKIE, ctx.config.secure_cookies);
            return Ok(Outgoing::see_other("/account/sign-in?next=%2Faccount").with_header("set-cookie", clear));
        }
        // A wrong current password is a 400 with the `current_password` field.
        ErrorCode::TooManyRequests => problems.alert = Some(("Please wait a moment".into(), e.message.clone())),
        ErrorCode::BadRequest if e.fields.is_empty() => problems.alert = Some(("Please check your details".into(), e.message.clone())),
        ErrorCode::BadRequest => e.fields.iter().for_each(|f| problems.add(&f.field, &f.message)),
        _ => return Err(e),
    }
    render_account(ctx, member, None, &problems, e.status()).await
}

pub async fn delete_address<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let member = match member_or_sign_in(ctx) {
        Ok(member) => member,
        Err(answer) => return answer,
    };
    let Ok(address_id) = AddressId::parse(ctx.form.text("address_id")) else {
        return Err(ShopError::bad_request("That form didn't say which address to delete. Please go back and try again."));
    };
    let req = DeleteAddressRequest { token: member.token.expose_secret().to_string(), address_id: address_id.to_string() };
    match ctx.backend.call(Service::Accounts, ops::delete_address, &req).await {
        // Not found: already deleted (e.g. the form was sent twice), which is what was wanted.
        Ok(_) => Ok(Outgoing::see_other(&AccountNotice::AddressDeleted.url())),
        Err(e) if e.code == ErrorCode::NotFound => Ok(Outgoing::see_other(&AccountNotice::AddressDeleted.url())),
        Err(e) => Err(e),
    }
}
