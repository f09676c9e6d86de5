//! Shopper accounts end to end, as HTML pages with a cookie jar per device: real components on
//! runtime-local, real PostgreSQL and Redis. Sign up takes the guest's orders and cart along (and
//! the old session id reads them no more); another device signed in to the account sees the same
//! orders and cart; signing in takes the cart but not the browser's guest orders, and rotates the
//! session id; no `sid` cookie reaches an account's cart or orders; a password change and signing
//! out end sessions for good; every form needs its CSRF token; bad input is a 4xx page that
//! stores nothing.
use anyhow::{Context, Result};
use redis::AsyncCommands;
use shop_e2e::browser::{Browser, Page};
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, placed_order_id, GOOD_CARD, MUG, TEE};
use shop_e2e::upstream::{FaultyService, Mode};
use shop_e2e::{html, Shop, ShopOptions};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "mauve otter kettle 17";
const NEW_PASSWORD: &str = "seven quiet lanterns";

async fn sign_up(b: &mut Browser, email: &str, password: &str) -> Result<Page> {
    b.post("/account/sign-up", &[("email", email), ("password", password)]).await
}

async fn sign_in(b: &mut Browser, email: &str, password: &str) -> Result<Page> {
    b.post("/account/sign-in", &[("email", email), ("password", password)]).await
}

/// The header says who is signed in (the email, for screen readers prefixed like this).
fn signed_in(page: &Page) -> bool {
    page.body.contains("Signed in as ")
}

/// Places an order from the browser's cart; returns its id.
async fn place_order(b: &mut Browser) -> Result<String> {
    let attempt = checkout_attempt(b).await?;
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    anyhow::ensure!(placed.status == 303, "checkout answered {}: {}", placed.status, placed.body);
    placed_order_id(&placed).context("checkout redirected to no order")
}

/// Order ids linked from a page of `/orders`.
fn listed_orders(page: &Page) -> Vec<String> {
    page.body.split("href=\"/order/").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

/// The cart stored under `key` (a session id or an account's cart key): SKU → quantity.
async fn stored_cart(shop: &Shop, key: &str) -> Result<std::collections::BTreeMap<String, u32>> {
    Ok(shop.redis().await?.hgetall(format!("{}shop:cart:{key}", shop.redis_prefix)).await?)
}

/// An account's cart key (64 hex digits: not a shape any `sid` cookie is taken in).
fn account_cart(account: &str) -> Result<String> {
    Ok(shop_domain::account::AccountId::parse(account)?.cart_key().to_string())
}

async fn order_owner(shop: &Shop, order_id: &str) -> Result<Option<String>> {
    Ok(shop.db().await?.query_one("SELECT account_id FROM orders WHERE order_id = $1", &[&order_id]).await?.get(0))
}

async fn account_id(shop: &Shop, email: &str) -> Result<String> {
    let row = shop.db().await?.query_one("SELECT account_id FROM accounts WHERE email = $1", &[&email]).await?;
    Ok(row.get(0))
}

async fn session_keys(shop: &Shop) -> Result<usize> {
    let keys: Vec<String> = shop.redis().await?.keys(format!("{}shop:accounts:session:*", shop.redis_prefix)).await?;
    Ok(keys.len())
}

async fn accounts_stored(shop: &Shop) -> Result<i64> {
    Ok(shop.db().await?.query_one("SELECT count(*) FROM accounts", &[]).await?.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_takes_the_guest_order_along_and_another_device_sees_the_same_orders_cart_and_address() -> Result<()> {
    let shop = Shop::start().await?;

    // Device A: a guest order, then something in the cart, then an account.
    let mut a = shop.browser();
    add(&mut a, MUG, 1).await?;
    let guest_order = place_order(&mut a).await?;
    add(&mut a, TEE, 2).await?;
    let guest_sid = a.session().context("a session")?;
    let form = a.get("/account/sign-up").await?;
    assert_eq!(form.status, 200);
    assert!(!signed_in(&form));
    let created = sign_up(&mut a, EMAIL, PASSWORD).await?;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some("/account?notice=welcome&claimed=1"));
    let welcome = a.follow(&created).await?;
    assert!(signed_in(&welcome) && welcome.body.contains(EMAIL));
    assert!(welcome.body.contains("the 1 order placed in this browser"), "{}", welcome.body);
    let account = account_id(&shop, EMAIL).await?;
    let cart_key = account_cart(&account)?;
    assert_eq!(order_owner(&shop, &guest_order).await?.as_deref(), Some(account.as_str()), "the guest order is the account's now");
    assert_eq!(listed_orders(&a.get("/orders").await?), [guest_order.as_str()]);
    assert_eq!(stored_cart(&shop, &cart_key).await?.get(TEE), Some(&2), "the guest cart went into the account's");
    assert!(stored_cart(&shop, &account).await?.is_empty(), "nothing under the bare account id");

    // The pre-sign-up session id (maybe planted by someone else) reads the claimed order no more;
    // nor does a `sid` equal to the account id (or its cart key) reach the account's cart or orders.
    for sid in [guest_sid.as_str(), account.as_str(), cart_key.as_str()] {
        let mut replay = Browser::with_cookies(&shop.base, &[("sid", sid)]);
        let orders = replay.get("/orders").await?;
        assert!(!signed_in(&orders) && listed_orders(&orders).is_empty(), "sid {sid}: {}", orders.body);
        assert_eq!(replay.get(&format!("/order/{guest_order}")).await?.status, 404, "sid {sid}");
        assert!(replay.get("/cart").await?.body.contains("Your cart is empty"), "sid {sid}");
    }

    // Device B: signs in, and sees A's order and cart.
    let mut b = shop.browser();
    let page = sign_in(&mut b, EMAIL, PASSWORD).await?;
    assert_eq!(page.status, 303, "{}", page.body);
    let orders = b.get("/orders").await?;
    assert!(signed_in(&orders));
    assert_eq!(listed_orders(&orders), [guest_order.as_str()], "A's order, on B");
    assert_eq!(b.get(&format!("/order/{guest_order}")).await?.status, 200);
    assert!(b.get("/cart").await?.body.contains("Classic Crew T-Shirt"), "the account's cart on B");

    // B orders (the address is saved); A sees that order, and its checkout starts with the address.
    let b_order = place_order(&mut b).await?;
    let on_a = listed_orders(&a.get("/orders").await?);
    assert_eq!(on_a, [b_order.clone(), guest_order.clone()], "newest first, from both devices");
    let stored: Option<String> = shop.db().await?.query_one("SELECT account_id FROM orders WHERE order_id = $1", &[&b_order]).await?.get(0);
    assert_eq!(stored.as_deref(), Some(account.as_str()));
    add(&mut a, MUG, 1).await?;
    let checkout = a.get("/checkout").await?;
    assert_eq!(html::input_value(&checkout.body, "email").as_deref(), Some(EMAIL));
    assert_eq!(html::input_value(&checkout.body, "street").as_deref(), Some("12 Analytical Row"));
    assert!(!checkout.body.contains("Have an account?"));

    // The saved address is on the account page, and can be deleted.
    let account_page = a.get("/account").await?;
    assert!(account_page.body.contains("12 Analytical Row"));
    let address_id = html::input_value(&account_page.body, "address_id").context("a delete button")?;
    let deleted = a.post("/account/addresses/delete", &[("address_id", &address_id)]).await?;
    assert_eq!(deleted.location.as_deref(), Some("/account?notice=address-deleted"));
    assert!(!a.get("/account").await?.body.contains("12 Analytical Row"));
    let checkout = a.get("/checkout").await?;
    assert_eq!(html::input_value(&checkout.body, "street").as_deref(), Some(""), "no address left to start from");

    // A guest elsewhere sees none of it, and is offered to sign in at checkout.
    let mut guest = shop.browser();
    assert!(listed_orders(&guest.get("/orders").await?).is_empty());
    assert_eq!(guest.get(&format!("/order/{guest_order}")).await?.status, 404);
    add(&mut guest, MUG, 1).await?;
    assert!(guest.get("/checkout").await?.body.contains("Have an account?"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_merges_the_guest_cart_capped_leaves_guest_orders_and_the_old_session_id_carries_nothing() -> Result<()> {
    let shop = Shop::start().await?;
    let mut a = shop.browser();
    sign_up(&mut a, EMAIL, PASSWORD).await?;
    add(&mut a, MUG, 95).await?;
    let account = account_id(&shop, EMAIL).await?;
    let cart_key = account_cart(&account)?;

    // A shared computer: someone's guest order, then a cart, then Ada signs in.
    let mut c = shop.browser();
    add(&mut c, MUG, 1).await?;
    let someones_order = place_order(&mut c).await?;
    add(&mut c, MUG, 9).await?;
    add(&mut c, TEE, 1).await?;
    let (old_sid, old_csrf) = (c.session().context("a session")?, c.cookie("csrf").context("a csrf cookie")?);
    let page = sign_in(&mut c, EMAIL, PASSWORD).await?;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/account?notice=signed-in"));
    assert_eq!(order_owner(&shop, &someones_order).await?, None, "signing in claims no guest order");
    assert!(listed_orders(&c.get("/orders").await?).is_empty(), "not among the account's orders");

    let merged = stored_cart(&shop, &cart_key).await?;
    assert_eq!(merged.get(MUG), Some(&99), "95 + 9, capped at the cart's 99");
    assert_eq!(merged.get(TEE), Some(&1));
    assert!(stored_cart(&shop, &old_sid).await?.is_empty(), "the guest cart is gone");

    // Rotation: new cookies; the old session id, replayed alone, is an empty guest session.
    let (new_sid, new_csrf) = (c.session().context("a session")?, c.cookie("csrf").context("a csrf cookie")?);
    assert!(new_sid != old_sid && new_csrf != old_csrf);
    assert!(c.cookie("auth").is_some());
    let mut replay = Browser::with_cookies(&shop.base, &[("sid", &old_sid)]);
    let cart = replay.get("/cart").await?;
    assert_eq!(cart.status, 200);
    assert!(!signed_in(&cart) && cart.body.contains("Your cart is empty"));
    // Even with its old CSRF secret, it acts on a guest cart of its own, never on the account's.
    let mut replay = Browser::with_cookies(&shop.base, &[("sid", &old_sid), ("csrf", &old_csrf)]);
    add(&mut replay, TEE, 3).await?;
    assert_eq!(stored_cart(&shop, &cart_key).await?.get(TEE), Some(&1));
    assert!(signed_in(&c.get("/").await?), "C is still signed in");

    // Signed in, the cart follows the account: C sees A's mugs.
    assert!(c.get("/cart").await?.body.contains("Stoneware Coffee Mug"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_out_every_other_session() -> Result<()> {
    let shop = Shop::start_with_options(ShopOptions { capture_logs: true, ..ShopOptions::default() }).await?;
    let mut a = shop.browser();
    sign_up(&mut a, EMAIL, PASSWORD).await?;
    let mut b = shop.browser();
    sign_in(&mut b, EMAIL, PASSWORD).await?;
    assert!(signed_in(&b.get("/").await?));

    let wrong = a.post("/account/password", &[("current_password", "not the password"), ("new_password", NEW_PASSWORD)]).await?;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains(r#"id="current_password-error">This is not your current password"#), "{}", wrong.body);
    assert!(signed_in(&b.get("/").await?), "a refused change ends nothing");

    let changed = a.post("/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]).await?;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(changed.location.as_deref(), Some("/account?notice=password-changed&ended=1"));
    assert!(a.follow(&changed).await?.body.contains("We signed you out of 1 other session."));

    let page = b.get("/").await?;
    assert_eq!(page.status, 200);
    assert!(!signed_in(&page), "B's next page is a guest's");
    assert!(b.cookie("auth").is_none(), "and B's browser forgot the ended session");
    assert_eq!(b.get("/account").await?.location.as_deref(), Some("/account/sign-in?next=%2Faccount"));
    assert!(signed_in(&a.get("/").await?), "A stays signed in");

    assert_eq!(sign_in(&mut shop.browser(), EMAIL, PASSWORD).await?.status, 401, "the old password is gone");
    assert_eq!(sign_in(&mut shop.browser(), EMAIL, NEW_PASSWORD).await?.status, 303);

    // Nothing secret reached a log line: no password, no session token.
    let logs = String::from_utf8_lossy(&shop.log_bytes()).into_owned();
    assert!(logs.contains("/account/password"), "the requests were logged");
    let token = a.cookie("auth").context("A is signed in")?;
    for secret in [PASSWORD, NEW_PASSWORD, "not the password", token.as_str()] {
        assert!(!logs.contains(secret), "a log line holds a secret");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_deletes_the_session_so_its_cookie_means_nothing() -> Result<()> {
    let shop = Shop::start().await?;
    let mut a = shop.browser();
    sign_up(&mut a, EMAIL, PASSWORD).await?;
    let token = a.cookie("auth").context("signed up, so an auth cookie")?;
    assert_eq!(session_keys(&shop).await?, 1);
    add(&mut a, MUG, 1).await?;

    let out = a.post("/account/sign-out", &[]).await?;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/account/sign-in?notice=signed-out"));
    assert_eq!(session_keys(&shop).await?, 0, "the server-side session is deleted");
    assert!(a.cookie("auth").is_none());
    let home = a.get("/").await?;
    assert!(!signed_in(&home) && !home.body.contains("cart-count\" aria-hidden=\"true\">1<"), "a new guest, empty cart");

    let mut replay = Browser::with_cookies(&shop.base, &[("auth", &token)]);
    let page = replay.get("/orders").await?;
    assert_eq!(page.status, 200);
    assert!(!signed_in(&page), "the old auth cookie is a guest's");
    assert!(replay.cookie("auth").is_none(), "and is cleared");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_account_form_needs_its_csrf_token() -> Result<()> {
    let shop = Shop::start().await?;
    let mut a = shop.browser();
    sign_up(&mut a, EMAIL, PASSWORD).await?;
    let forms: [(&str, Vec<(&str, &str)>); 5] = [
        ("/account/sign-up", vec![("email", "eve@example.com"), ("password", PASSWORD)]),
        ("/account/sign-in", vec![("email", EMAIL), ("password", PASSWORD)]),
        ("/account/sign-out", vec![]),
        ("/account/password", vec![("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]),
        ("/account/addresses/delete", vec![("address_id", "0123456789abcdef0123456789abcdef")]),
    ];
    for (path, fields) in &forms {
        let tokenless = a.post_raw(path, fields).await?;
        assert_eq!(tokenless.status, 403, "{path} without a token");
        let mut forged = vec![("csrf", "0123456789abcdef0123456789abcdef")];
        forged.extend_from_slice(fields);
        assert_eq!(a.post_raw(path, &forged).await?.status, 403, "{path} with a forged token");
    }
    assert_eq!(accounts_stored(&shop).await?, 1, "no account was created");
    assert_eq!(session_keys(&shop).await?, 1, "no session was started or ended");
    assert!(signed_in(&a.get("/").await?));
    assert_eq!(sign_in(&mut shop.browser(), EMAIL, PASSWORD).await?.status, 303, "the password is unchanged");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_4xx_page_and_nothing_is_stored() -> Result<()> {
    let shop = Shop::start().await?;
    let overlong_email = format!("{}@example.com", "a".repeat(250));
    let long_password = "p".repeat(20 * 1024);
    let megabyte = "p".repeat(1 << 20);
    let cases: [(&str, &str, &str, u16); 6] = [
        ("overlong email", &overlong_email, PASSWORD, 400),
        ("NUL in the email", "ada\0@example.com", PASSWORD, 400),
        ("NUL in the password", EMAIL, "mauve otter\0kettle 17", 400),
        ("no email", "", PASSWORD, 400),
        ("257-byte password", EMAIL, &long_password[..257], 400),
        // Over the frontend's 16 KiB form limit: its 413 page, the body left unread.
        ("20 KiB password", EMAIL, &long_password, 413),
    ];
    for (what, email, password, status) in cases {
        for path in ["/account/sign-up", "/account/sign-in"] {
            // A browser per request: a refused upload closes its connection.
            let mut b = shop.browser();
            b.get("/").await?;
            let page = b.post(path, &[("email", email), ("password", password)]).await?;
            assert_eq!(page.status, status, "{what} at {path}");
            if status == 400 {
                assert!(page.body.contains("Wasm Goods") && page.body.contains("field-error"), "{what} at {path}: said beside the field");
                assert!(!page.body.contains(&format!("value=\"{password}\"")), "{what}: the password is never echoed");
            }
            assert!(b.cookie("auth").is_none());
        }
    }
    // Over the runtime's 1 MiB body limit: the runtime's own 413, before the body is read. Raw:
    // the runtime answers and closes mid-upload, which a pooled client can see as a broken pipe.
    let form = [("content-type", b"application/x-www-form-urlencoded".as_slice())];
    for path in ["/account/sign-up", "/account/sign-in"] {
        let body = format!("email=ada%40example.com&password={megabyte}");
        let r = shop_e2e::rawhttp::request(&shop.base, "POST", path.as_bytes(), &form, body.as_bytes()).await?;
        assert_eq!(r.status, 413, "1 MB password at {path}");
    }
    assert_eq!(accounts_stored(&shop).await?, 0);
    assert_eq!(session_keys(&shop).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_failing_never_takes_the_catalogue_or_a_placed_order_down() -> Result<()> {
    let accounts = FaultyService::start("accounts").await?;
    let carts = FaultyService::start("carts").await?;
    let overrides = [accounts.variable(), carts.variable()].into_iter().collect();
    let (attach_accounts, attach_carts) = (accounts.attacher(), carts.attacher());
    let on_load: std::sync::Arc<dyn Fn(&runtime_local::App) + Send + Sync> = std::sync::Arc::new(move |app: &runtime_local::App| {
        attach_accounts(app);
        attach_carts(app);
    });
    let shop = Shop::start_with_options(ShopOptions { overrides, on_load: Some(on_load), ..ShopOptions::default() }).await?;
    let mut a = shop.browser();
    add(&mut a, MUG, 1).await?;
    sign_up(&mut a, EMAIL, PASSWORD).await?;

    // The address can't be saved: the order is placed all the same.
    accounts.set("/api/accounts/save_address", Mode::Fail(503));
    let order = place_order(&mut a).await?;
    assert_eq!(a.get(&format!("/order/{order}")).await?.status, 200);
    let saved: i64 = shop.db().await?.query_one("SELECT count(*) FROM addresses", &[]).await?.get(0);
    assert_eq!(saved, 0);

    // Accounts can't say who is signed in: the catalogue still renders, what depends on who is a 503.
    accounts.set("/api/accounts/get_session", Mode::Fail(503));
    let home = a.get("/").await?;
    assert_eq!(home.status, 200);
    assert!(!signed_in(&home) && !home.body.contains("Sign in</a>"), "no account links that could be wrong");
    for page in ["/cart", "/orders", "/account"] {
        assert_eq!(a.get(page).await?.status, 503, "{page}");
    }
    accounts.heal();
    assert!(signed_in(&a.get("/").await?), "the cookie was kept: signed in again once accounts is back");

    // A sign-in whose guest cart can't be merged is undone (its session ended), and can be tried again.
    let mut b = shop.browser();
    add(&mut b, TEE, 1).await?;
    carts.set("/api/carts/merge_cart", Mode::Fail(503));
    let refused = sign_in(&mut b, EMAIL, PASSWORD).await?;
    assert_eq!(refused.status, 503);
    assert!(b.cookie("auth").is_none());
    assert_eq!(session_keys(&shop).await?, 1, "only A's session: B's new one was ended again");
    assert!(b.get("/cart").await?.body.contains("Classic Crew T-Shirt"), "B is still the same guest, cart and all");
    carts.heal();
    assert_eq!(sign_in(&mut b, EMAIL, PASSWORD).await?.status, 303);
    assert!(b.get("/cart").await?.body.contains("Classic Crew T-Shirt"), "the guest cart came along on the second try");
    Ok(())
}
