//! Accounts through `app::respond`: who is signed in (one call, none for guests), signing up,
//! in and out (cart merge, order claim at sign-up only, cookie rotation, `next`), "Your account",
//! what a signed-in shopper's checkout and orders look like, and that no guest cookie reaches them.
use super::*;

/// A request with the test session's cookies, plus `auth` when given.
fn send(fake: &Fake, method: &str, target: &str, body: &str, auth: Option<&str>) -> (Outgoing, String) {
    fake.reset_calls();
    let mut req = request(method, target, body, false);
    let auth = auth.map_or_else(String::new, |token| format!("; auth={token}"));
    req.headers.push(("cookie".into(), format!("sid={SID}; csrf={CSRF}{auth}")));
    req.headers.push(("spin-client-addr".into(), "192.0.2.7:51000".into()));
    let out = block_on(respond(fake, &config(), &req, false));
    let html = String::from_utf8(out.body.clone()).unwrap();
    (out, html)
}

fn get_as(fake: &Fake, target: &str) -> (Outgoing, String) {
    send(fake, "GET", target, "", Some(TOKEN))
}

fn post_as(fake: &Fake, target: &str, body: &str) -> (Outgoing, String) {
    send(fake, "POST", target, &format!("csrf={CSRF}&{body}"), Some(TOKEN))
}

fn member() -> Fake {
    let fake = Fake::default();
    fake.world.borrow_mut().with_member();
    fake
}

fn set_cookies(out: &Outgoing) -> Vec<&str> {
    out.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect()
}

/// The value a `Set-Cookie` of `name` sets, if any.
fn cookie_value<'a>(out: &'a Outgoing, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    set_cookies(out).into_iter().find_map(|c| c.strip_prefix(prefix.as_str())).map(|rest| rest.split(';').next().unwrap())
}

fn calls(fake: &Fake) -> Vec<String> {
    fake.world.borrow().calls.clone()
}

fn accounts_calls(fake: &Fake) -> usize {
    calls(fake).iter().filter(|c| c.starts_with("/api/accounts/")).count()
}

#[test]
fn the_sign_in_limit_counts_the_address_a_trusted_proxy_names_or_else_the_hosts() {
    let fake = Fake::default();
    let attempt = |config: &Config, forwarded: Option<&str>| {
        let mut req = request("POST", "/account/sign-in", &format!("csrf={CSRF}&email=ada%40example.com&password=wrong"), false);
        req.headers.push(("cookie".into(), format!("sid={SID}; csrf={CSRF}")));
        if let Some(addr) = forwarded {
            req.headers.push(("x-envoy-external-address".into(), addr.into()));
        }
        req.headers.push(("spin-client-addr".into(), "10.1.2.3:40000".into()));
        block_on(respond(&fake, config, &req, false));
    };
    let behind_gateway = Config { client_ip_header: Some("x-envoy-external-address".into()), ..config() };
    attempt(&behind_gateway, Some("203.0.113.9"));
    attempt(&behind_gateway, None);
    attempt(&behind_gateway, Some("not an address"));
    attempt(&config(), Some("203.0.113.9"));
    assert_eq!(
        fake.world.borrow().sign_in_clients,
        ["203.0.113.9", "10.1.2.3", "10.1.2.3", "10.1.2.3"],
        "the proxy's header when configured and valid; otherwise, and always when not configured, the host's peer"
    );
}

#[test]
fn a_guest_pays_no_call_and_sees_sign_in_links_that_come_back() {
    let fake = Fake::default();
    let (out, html) = send(&fake, "GET", "/product/MUG-TEAL", "", None);
    assert_eq!(out.status, 200);
    assert_eq!(accounts_calls(&fake), 0);
    assert!(fake.calls() <= 2);
    assert!(html.contains(r#"<nav class="account-bar" aria-label="Account">"#));
    assert!(html.contains(r#"<a href="/account/sign-in?next=%2Fproduct%2FMUG-TEAL">Sign in</a>"#), "{html}");
    assert!(html.contains(r#"<a href="/account/sign-up?next=%2Fproduct%2FMUG-TEAL">Create account</a>"#));
    let (_, html) = send(&fake, "GET", "/", "", None);
    assert!(html.contains(r#"<a href="/account/sign-in">Sign in</a>"#), "home is where a sign-in goes anyway");
}

#[test]
fn a_member_costs_one_call_and_sees_their_email_account_link_and_sign_out_button() {
    let fake = member();
    fake.world.borrow_mut().other_carts.insert(ACCOUNT_CART.into(), vec![("MUG-TEAL".into(), 4)]);
    let (out, html) = get_as(&fake, "/");
    assert_eq!(out.status, 200);
    assert_eq!(calls(&fake).iter().filter(|c| *c == "/api/accounts/get_session").count(), 1);
    assert_eq!(fake.calls(), 3, "the session, the catalogue and the cart count");
    assert!(html.contains("ada@example.com") && html.contains(r#"<a href="/account">Your account</a>"#));
    assert!(html.contains(r#"<form method="post" action="/account/sign-out"><input type="hidden" name="csrf" value="fedcba9876543210fedcba9876543210">"#));
    assert!(html.contains(r#"<span class="cart-count" aria-hidden="true">4</span>"#), "the account's cart, not the browser's");
    assert!(!html.contains("Create account"));
    assert!(set_cookies(&out).is_empty());
}

#[test]
fn an_ended_or_forged_session_is_forgotten_and_the_shopper_is_a_guest() {
    let fake = member();
    fake.world.borrow_mut().sessions.clear();
    let (out, html) = get_as(&fake, "/cart");
    assert_eq!(out.status, 200);
    assert_eq!(set_cookies(&out), ["auth=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"]);
    assert!(html.contains("Sign in") && !html.contains("ada@example.com"));

    let (out, _) = send(&fake, "GET", "/", "", Some("../../admin"));
    assert_eq!(set_cookies(&out), ["auth=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"]);
    assert_eq!(accounts_calls(&fake), 0, "a malformed token is not even asked about");
}

#[test]
fn accounts_being_down_keeps_the_catalogue_up_but_not_the_pages_that_need_to_know_who() {
    let fake = member();
    fake.world.borrow_mut().down = vec!["accounts"];
    let (out, html) = get_as(&fake, "/");
    assert_eq!(out.status, 200);
    assert!(!html.contains("account-bar") && !html.contains("cart-count"), "no links that could be wrong");
    assert!(set_cookies(&out).is_empty(), "the cookie is kept for when accounts is back");
    for page in ["/cart", "/orders", "/checkout", "/account"] {
        assert_eq!(get_as(&fake, page).0.status, 503, "{page}");
    }
    let (out, _) = post_as(&fake, "/account/sign-out", "");
    assert_eq!(out.status, 503);
    assert!(set_cookies(&out).is_empty(), "not signed out until the session really ends");
}

#[test]
fn signing_up_checks_entries_first_and_shows_problems_beside_the_fields() {
    let fake = Fake::default();
    let (out, html) = send(&fake, "GET", "/account/sign-up?next=%2Fcheckout", "", None);
    assert_eq!(out.status, 200);
    assert!(html.contains(r#"<input type="hidden" name="next" value="/checkout">"#));
    let (out, html) = post(&fake, "/account/sign-up", "email=ada%40example&password=short&next=%2Fcheckout");
    assert_eq!(out.status, 400);
    assert!(html.contains(r#"<p class="field-error" id="email-error">"#) && html.contains(r#"<p class="field-error" id="password-error">"#));
    assert!(html.contains("at least 12 characters"));
    assert!(html.contains(r#"value="ada@example""#) && !html.contains(r#"value="short""#), "the email is kept, the password never");
    assert_eq!(accounts_calls(&fake), 0);
    let (out, html) = post(&fake, "/account/sign-up", "email=ada%40example.com&password=password1234");
    assert_eq!(out.status, 400);
    assert!(html.contains("too common"));
    let (out, html) = post(&fake, "/account/sign-up", "email=ada%40exa%00mple.com&password=correct+horse%00battery");
    assert_eq!(out.status, 400);
    assert!(html.contains("email-error") && html.contains("password-error"));
    let long = format!("email={}%40example.com&password=correct+horse+battery", "a".repeat(300));
    assert_eq!(post(&fake, "/account/sign-up", &long).0.status, 400);
    assert!(fake.world.borrow().accounts.is_empty(), "nothing stored");
}

#[test]
fn signing_up_moves_the_guest_cart_and_orders_into_the_account_and_rotates_the_cookies() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    post(&fake, "/checkout", &format!("attempt=a1&{GOOD}"));
    fake.world.borrow_mut().cart = vec![("TEE-CORAL".into(), 2)];

    let (out, _) = post(&fake, "/account/sign-up", "email=Grace%40Example.com&password=correct+horse+battery");
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/account?notice=welcome&claimed=1"));
    let w = fake.world.borrow();
    let (email, _, account) = w.accounts[0].clone();
    assert_eq!(email, "grace@example.com", "the email is sent normalised");
    let cart_key = shop_domain::account::AccountId::parse(&account).unwrap().cart_key().to_string();
    assert_eq!(w.other_carts[&cart_key], vec![("TEE-CORAL".to_string(), 2)], "the guest cart was merged into the account's");
    assert!(!w.other_carts.contains_key(&account), "never under the bare account id, which a sid cookie could name");
    assert!(w.cart.is_empty());
    assert_eq!(w.orders[0]["account_id"], account.as_str(), "the guest's order was claimed");
    let token = w.sessions[0].0.clone();
    drop(w);

    let cookies = set_cookies(&out);
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    assert_eq!(cookie_value(&out, "auth"), Some(token.as_str()));
    let (sid, csrf) = (cookie_value(&out, "sid").unwrap(), cookie_value(&out, "csrf").unwrap());
    assert!(crate::session::is_token(sid) && crate::session::is_token(csrf));
    assert!(sid != SID && csrf != CSRF && sid != csrf, "a new session id and CSRF secret");
    assert!(cookies.iter().all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/") && !c.contains("Secure")));

    let (_, html) = send(&fake, "GET", "/account?notice=welcome&claimed=1", "", Some(&token));
    assert!(html.contains("Welcome! Your account is ready") && html.contains("the 1 order placed in this browser"));
}

#[test]
fn signing_in_merges_the_guest_cart_but_leaves_the_browsers_guest_orders_alone() {
    // A shared computer: someone ordered as a guest, then Ada signs in on the same browser.
    let fake = member();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    post(&fake, "/checkout", &format!("attempt=a1&{GOOD}"));
    fake.world.borrow_mut().cart = vec![("TEE-CORAL".into(), 2)];

    let (out, _) = post(&fake, "/account/sign-in", "email=ada%40example.com&password=correct+horse+battery");
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/account?notice=signed-in"));
    assert!(!calls(&fake).iter().any(|c| c == "/api/checkout/claim_orders"), "{:?}", calls(&fake));
    let w = fake.world.borrow();
    assert!(w.orders[0]["account_id"].is_null(), "the guest's order is not Ada's");
    assert_eq!(w.other_carts[ACCOUNT_CART], vec![("TEE-CORAL".to_string(), 2)], "the cart came along");
    let token = cookie_value(&out, "auth").unwrap().to_string();
    drop(w);
    let (_, html) = send(&fake, "GET", "/account?notice=signed-in&claimed=3", "", Some(&token));
    assert!(html.contains("You're signed in.") && !html.contains("placed in this browser"));
    let (_, html) = send(&fake, "GET", "/orders", "", Some(&token));
    assert!(html.contains("No orders yet"), "{html}");
}

#[test]
fn a_guest_cookie_can_never_name_an_accounts_cart_or_orders() {
    let fake = member();
    fake.world.borrow_mut().other_carts.insert(ACCOUNT_CART.into(), vec![("MUG-TEAL".into(), 1)]);
    post_as(&fake, "/checkout", &format!("attempt=m1&{GOOD}"));
    let order = fake.world.borrow().orders[0]["order_id"].as_str().unwrap().to_string();
    fake.world.borrow_mut().other_carts.insert(ACCOUNT_CART.into(), vec![("TEE-CORAL".into(), 5)]);
    // The account id and the cart key as a guest's `sid`: the first is a guest session of its
    // own, the second is not a session id the shop takes at all (a new one is minted).
    for planted in [ACCOUNT, ACCOUNT_CART] {
        let visit = |target: &str| {
            let mut req = request("GET", target, "", false);
            req.headers.push(("cookie".into(), format!("sid={planted}; csrf={CSRF}")));
            let out = block_on(respond(&fake, &config(), &req, false));
            let html = String::from_utf8(out.body.clone()).unwrap();
            (out, html)
        };
        let (_, html) = visit("/cart");
        assert!(html.contains("Your cart is empty"), "{planted}: {html}");
        let (_, html) = visit("/orders");
        assert!(html.contains("No orders yet"), "{planted}");
        assert_eq!(visit(&format!("/order/{order}")).0.status, 404, "{planted}");
    }
    assert_eq!(shop_domain::account::AccountId::parse(ACCOUNT).unwrap().cart_key().as_str(), ACCOUNT_CART);
    assert!(!crate::session::is_token(ACCOUNT_CART));
}

#[test]
fn cookies_are_secure_when_the_shop_says_so() {
    let fake = Fake::default();
    let mut req = request("POST", "/account/sign-up", &format!("csrf={CSRF}&email=ada%40example.com&password=correct+horse+battery"), true);
    req.headers.push(("spin-client-addr".into(), "192.0.2.7:1".into()));
    let out = block_on(respond(&fake, &Config { secure_cookies: true, ..config() }, &req, false));
    assert_eq!(out.status, 303);
    assert!(set_cookies(&out).iter().all(|c| c.ends_with("; Secure")));
}

#[test]
fn an_email_in_use_is_said_beside_the_field() {
    let fake = member();
    let (out, html) = post(&fake, "/account/sign-up", "email=ada%40example.com&password=another+good+password");
    assert_eq!(out.status, 409);
    assert!(html.contains(r#"id="email-error">An account with this email address already exists"#));
    assert!(set_cookies(&out).is_empty());
}

#[test]
fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let fake = member();
    let (wrong, wrong_html) = post(&fake, "/account/sign-in", "email=ada%40example.com&password=not+my+password");
    let (unknown, unknown_html) = post(&fake, "/account/sign-in", "email=bob%40example.com&password=not+my+password");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong_html.replace("ada@example.com", "X"), unknown_html.replace("bob@example.com", "X"));
    assert!(wrong_html.contains("Email or password is incorrect."));
    assert!(set_cookies(&wrong).is_empty());
    assert_eq!(fake.world.borrow().sessions.len(), 1, "no new session");
}

#[test]
fn too_many_attempts_are_explained() {
    let fake = member();
    fake.world.borrow_mut().limited = true;
    let (out, html) = post(&fake, "/account/sign-in", "email=ada%40example.com&password=correct+horse+battery");
    assert_eq!(out.status, 429);
    assert!(html.contains(r#"<div class="alert" role="alert"><h2>Please wait a moment</h2><p>Too many sign-in attempts. Try again in 32 seconds.</p>"#));
}

#[test]
fn signing_in_goes_back_to_a_safe_next_page_only() {
    for (next, location) in [
        ("%2Fcheckout", "/checkout"),
        ("%2F%2Fevil.example", "/account?notice=signed-in"),
        ("https%3A%2F%2Fevil.example", "/account?notice=signed-in"),
        ("%2F%5Cevil.example", "/account?notice=signed-in"),
    ] {
        let fake = member();
        let (out, _) = post(&fake, "/account/sign-in", &format!("email=ADA%40example.com&password=correct+horse+battery&next={next}"));
        assert_eq!(out.header("location"), Some(location), "{next}");
        assert!(cookie_value(&out, "auth").is_some_and(|t| t != TOKEN), "a new session");
    }
    let fake = member();
    let (_, html) = send(&fake, "GET", "/account/sign-in?next=%2F%2Fevil.example", "", None);
    assert!(!html.contains("evil.example"), "an unsafe next is dropped, not carried on");
    let (out, _) = get_as(&fake, "/account/sign-in?next=%2Forders");
    assert_eq!(out.header("location"), Some("/orders"), "already signed in");
}

#[test]
fn a_sign_in_whose_cart_cannot_be_merged_is_undone() {
    let fake = member();
    fake.world.borrow_mut().failing = vec!["/api/carts/merge_cart"];
    let (out, html) = post(&fake, "/account/sign-in", "email=ada%40example.com&password=correct+horse+battery");
    assert_eq!(out.status, 503);
    assert!(html.contains("taking a break"));
    assert!(set_cookies(&out).is_empty(), "still signed out, same session");
    assert_eq!(fake.world.borrow().sessions.len(), 1, "the new session was ended again");
    assert!(calls(&fake).contains(&"/api/accounts/sign_out".to_string()));
}

#[test]
fn every_account_form_needs_the_csrf_token() {
    let fake = member();
    for (path, body) in [
        ("/account/sign-up", "email=new%40example.com&password=correct+horse+battery"),
        ("/account/sign-in", "email=ada%40example.com&password=correct+horse+battery"),
        ("/account/sign-out", ""),
        ("/account/password", "current_password=correct+horse+battery&new_password=another+good+password"),
        ("/account/addresses/delete", "address_id=0000000000000000000000000000ad00"),
    ] {
        let (out, _) = send(&fake, "POST", path, body, Some(TOKEN));
        assert_eq!(out.status, 403, "{path}");
        let (out, _) = send(&fake, "POST", path, &format!("csrf=fedcba9876543210fedcba9876543211&{body}"), Some(TOKEN));
        assert_eq!(out.status, 403, "{path}");
        assert!(calls(&fake).iter().all(|c| c == "/api/accounts/get_session" || c == "/api/carts/get_cart"), "{path}: {:?}", calls(&fake));
    }
    let w = fake.world.borrow();
    assert_eq!((w.accounts.len(), w.sessions.len(), w.accounts[0].1.as_str()), (1, 1, PASSWORD));
}

#[test]
fn signing_out_ends_the_session_and_leaves_a_new_guest() {
    let fake = member();
    let (out, _) = post_as(&fake, "/account/sign-out", "");
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/account/sign-in?notice=signed-out"));
    assert!(fake.world.borrow().sessions.is_empty());
    assert_eq!(cookie_value(&out, "auth"), Some(""));
    assert!(set_cookies(&out).iter().any(|c| c.starts_with("auth=;") && c.contains("Max-Age=0")));
    assert!(cookie_value(&out, "sid").is_some_and(|s| s != SID) && cookie_value(&out, "csrf").is_some_and(|c| c != CSRF));
    let (_, html) = send(&fake, "GET", "/account/sign-in?notice=signed-out", "", None);
    assert!(html.contains("You're signed out."));
    let (out, _) = get_as(&fake, "/");
    assert!(set_cookies(&out).iter().any(|c| c.starts_with("auth=;")), "the old token now means nothing");
}

#[test]
fn the_account_page_is_for_members_and_shows_details_addresses_and_the_password_form() {
    let fake = member();
    let (out, _) = send(&fake, "GET", "/account", "", None);
    assert_eq!(out.header("location"), Some("/account/sign-in?next=%2Faccount"));
    let (out, _) = send(&fake, "POST", "/account/password", &format!("csrf={CSRF}&current_password=x&new_password=y"), None);
    assert_eq!(out.header("location"), Some("/account/sign-in?next=%2Faccount"));

    let (_, html) = get_as(&fake, "/account");
    assert!(html.contains("None yet. The address of your next order is saved here"));
    fake.world.borrow_mut().addresses.push((
        ACCOUNT.into(),
        json!({"address_id": "0000000000000000000000000000ad00", "last_used_at": "2026-03-01T10:00:00Z",
               "address": {"name": "Ada <b>Lovelace</b>", "street": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}}),
    ));
    let (out, html) = get_as(&fake, "/account");
    assert_eq!(out.status, 200);
    assert!(fake.calls() <= 3, "the session, the cart count, the addresses");
    assert!(html.contains("<h1>Your account</h1>") && html.contains("ada@example.com") && html.contains("3 February 2026"));
    assert!(html.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt;<br>12 Analytical Row<br>London<br>N1 9GU<br>United Kingdom"));
    assert!(html.contains(r#"<input type="hidden" name="address_id" value="0000000000000000000000000000ad00">"#));
    assert!(html.contains(r#"<span class="visually-hidden"> the address Ada &lt;b&gt;Lovelace&lt;/b&gt;, 12 Analytical Row</span>"#));
    assert!(html.contains(r#"id="current_password" name="current_password" type="password" value="""#));
    assert!(html.contains(r#"aria-current="page">Your account</a>"#));
}

#[test]
fn changing_the_password_checks_it_and_says_how_many_sessions_ended() {
    let fake = member();
    fake.world.borrow_mut().sessions.push(("72000000000000000000000000000002".into(), ACCOUNT.into()));
    let (out, html) = post_as(&fake, "/account/password", "current_password=&new_password=ada%40example.com");
    assert_eq!(out.status, 400);
    assert!(html.contains(r#"id="current_password-error">Enter a password"#) && html.contains(r#"id="new_password-error""#));
    let (out, html) = post_as(&fake, "/account/password", "current_password=wrong+one+entirely&new_password=another+good+password");
    assert_eq!(out.status, 400);
    assert!(html.contains(r#"id="current_password-error">This is not your current password"#));
    assert!(!html.contains("another good password") && !html.contains("wrong one entirely"));
    assert_eq!(fake.world.borrow().sessions.len(), 2);

    let (out, _) = post_as(&fake, "/account/password", "current_password=correct+horse+battery&new_password=another+good+password");
    assert_eq!(out.header("location"), Some("/account?notice=password-changed&ended=1"));
    assert_eq!(fake.world.borrow().sessions, vec![(TOKEN.to_string(), ACCOUNT.to_string())], "only this session is left");
    let (_, html) = get_as(&fake, "/account?notice=password-changed&ended=1");
    assert!(html.contains("Your password is changed. We signed you out of 1 other session."));

    // Ended between the page's check and the change (signed out elsewhere): sign in again.
    fake.world.borrow_mut().ended_meanwhile = true;
    let (out, _) = post_as(&fake, "/account/password", "current_password=another+good+password&new_password=a+third+good+password");
    assert_eq!(out.header("location"), Some("/account/sign-in?next=%2Faccount"));
    assert_eq!(set_cookies(&out), ["auth=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"]);
}

#[test]
fn deleting_a_saved_address() {
    let fake = member();
    fake.world.borrow_mut().addresses.push((ACCOUNT.into(), json!({"address_id": "0000000000000000000000000000ad00"})));
    let (out, _) = post_as(&fake, "/account/addresses/delete", "address_id=0000000000000000000000000000ad00");
    assert_eq!(out.header("location"), Some("/account?notice=address-deleted"));
    assert!(fake.world.borrow().addresses.is_empty());
    let (again, _) = post_as(&fake, "/account/addresses/delete", "address_id=0000000000000000000000000000ad00");
    assert_eq!(again.header("location"), out.header("location"), "already gone is fine");
    assert_eq!(post_as(&fake, "/account/addresses/delete", "address_id=..%2F1").0.status, 400);
}

#[test]
fn a_members_checkout_is_prefilled_and_saves_the_address_of_the_order() {
    let fake = member();
    fake.world.borrow_mut().other_carts.insert(ACCOUNT_CART.into(), vec![("MUG-TEAL".into(), 1)]);
    for (i, city) in ["Paris", "Lyon"].iter().enumerate() {
        fake.world.borrow_mut().addresses.push((
            ACCOUNT.into(),
            json!({"address_id": format!("{i:032x}"), "last_used_at": format!("2026-03-0{}T10:00:00Z", i + 1),
                   "address": {"name": "Ada L", "street": "1 Rue", "city": city, "postal_code": "75001", "country": "FR"}}),
        ));
    }
    let (out, html) = get_as(&fake, "/checkout");
    assert_eq!(out.status, 200);
    assert!(html.contains(r#"id="email" name="email" type="email" value="ada@example.com""#));
    assert!(html.contains(r#"value="Lyon""#) && html.contains(r#"<option value="FR" selected>France</option>"#), "the latest address");
    assert!(!html.contains("Have an account?"));
    assert!(fake.calls() <= 4, "the session, the cart, its products, the addresses");

    fake.world.borrow_mut().addresses.clear();
    let (out, _) = post_as(&fake, "/checkout", &format!("attempt=m1&{GOOD}"));
    assert_eq!(out.status, 303);
    let w = fake.world.borrow();
    assert_eq!((w.orders[0]["session"].as_str(), w.orders[0]["account_id"].as_str()), (Some(ACCOUNT_CART), Some(ACCOUNT)));
    assert!(w.other_carts[ACCOUNT_CART].is_empty());
    assert_eq!(w.addresses[0].1["address"]["city"], "Springfield", "the order's address is saved");
}

#[test]
fn a_failure_to_save_the_address_does_not_fail_the_order() {
    let fake = member();
    fake.world.borrow_mut().other_carts.insert(ACCOUNT_CART.into(), vec![("MUG-TEAL".into(), 1)]);
    fake.world.borrow_mut().failing = vec!["/api/accounts/save_address"];
    let (out, _) = post_as(&fake, "/checkout", &format!("attempt=m2&{GOOD}"));
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/order/ORD-000000000001?placed=1"));
}

#[test]
fn a_guest_checkout_offers_to_sign_in_but_never_requires_it() {
    let fake = Fake::default();
    fake.world.borrow_mut().cart = vec![("MUG-TEAL".into(), 1)];
    let (_, html) = get(&fake, "/checkout");
    assert!(html.contains(r#"Have an account? <a href="/account/sign-in?next=%2Fcheckout">Sign in</a>"#));
    assert_eq!(accounts_calls(&fake), 0);
    let (out, _) = post(&fake, "/checkout", &format!("attempt=g1&{GOOD}"));
    assert_eq!(out.status, 303);
    assert!(fake.world.borrow().orders[0]["account_id"].is_null());
}

#[test]
fn a_members_orders_come_from_every_device_a_page_at_a_time() {
    let fake = member();
    {
        let mut w = fake.world.borrow_mut();
        for n in 1..=12 {
            // Placed from other devices' sessions, but all the account's.
            w.orders.push(json!({"order_id": format!("ORD-{n:012}"), "session": format!("{n:032x}"), "account_id": ACCOUNT,
                "status": "Completed", "email": "ada@example.com",
                "address": {"name": "n", "street": "s", "city": "c", "postal_code": "p", "country": "US"},
                "lines": [], "subtotal": {"minor": 0, "currency": "USD"}, "shipping": {"minor": 0, "currency": "USD"},
                "total": {"minor": 0, "currency": "USD"}, "created_at": format!("2026-01-{n:02}T00:00:00Z"), "email_sent": true, "rates": []}));
        }
    }
    let (out, html) = get_as(&fake, "/orders");
    assert_eq!(out.status, 200);
    assert!(html.contains("Orders from all your devices"));
    assert_eq!(html.matches("href=\"/order/").count(), 10);
    assert!(html.find("ORD-000000000012").unwrap() < html.find("ORD-000000000011").unwrap());
    assert!(html.contains(r#"<a class="btn btn-quiet" href="/orders?before=ORD-000000000003">Older orders</a>"#));
    let (_, html) = get_as(&fake, "/orders?before=ORD-000000000003");
    assert_eq!(html.matches("href=\"/order/").count(), 2);
    assert!(html.contains(r#"href="/orders">Newest orders</a>"#) && !html.contains("Older orders"));
    let (out, html) = get_as(&fake, "/order/ORD-000000000005");
    assert_eq!(out.status, 200, "an order of the account, placed elsewhere");
    assert!(html.contains("<h1>Order"));
    assert_eq!(send(&fake, "GET", "/order/ORD-000000000005", "", None).0.status, 404, "not a guest's");
    assert_eq!(get_as(&fake, &format!("/orders?before={}", "x".repeat(300))).0.status, 400);
    let (_, html) = get(&fake, "/orders");
    assert!(html.contains("No orders yet") && html.contains(r#"<a href="/account/sign-in?next=%2Forders">Sign in</a>"#));
}
