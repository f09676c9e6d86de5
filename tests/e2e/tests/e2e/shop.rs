//! The shop end to end, as a shopper uses it: real components on runtime-local, real PostgreSQL
//! and Redis. Each test gets its own shop (database + key prefix).
use anyhow::Result;
use redis::AsyncCommands;
use shop_e2e::reliability::{add, checkout_attempt, checkout_fields, DECLINED_CARD, GOOD_CARD, MUG, TEE};
use shop_e2e::{browser::Browser, Shop};

/// The cart as stored in Redis: SKU → quantity.
async fn stored_cart(shop: &Shop, b: &Browser) -> Result<std::collections::BTreeMap<String, u32>> {
    let session = b.session().expect("the shop set a session cookie");
    let key = format!("{}shop:cart:{session}", shop.redis_prefix);
    Ok(shop.redis().await?.hgetall(key).await?)
}

async fn orders_in_db(shop: &Shop) -> Result<Vec<(String, String)>> {
    let rows = shop.db().await?.query("SELECT order_id, status FROM orders ORDER BY created_at", &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn count_keys(shop: &Shop, pattern: &str) -> Result<usize> {
    let keys: Vec<String> = shop.redis().await?.keys(format!("{}shop:{pattern}", shop.redis_prefix)).await?;
    Ok(keys.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_search_and_product_pages() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();

    let home = b.get("/").await?;
    assert_eq!(home.status, 200);
    assert!(home.body.matches("href=\"/product/").count() >= 6, "the home page shows a grid of products");

    let kitchen = b.get("/?category=kitchen").await?;
    assert!(kitchen.body.contains(MUG) && !kitchen.body.contains(TEE), "the category filter keeps only kitchen");

    let search = b.get("/?q=mug").await?;
    assert!(search.body.contains(MUG) && !search.body.contains(TEE));
    let nothing = b.get("/?q=zzzznothing").await?;
    assert_eq!(nothing.status, 200);
    assert!(!nothing.body.contains("/product/"));

    let product = b.get(&format!("/product/{MUG}")).await?;
    assert_eq!(product.status, 200);
    assert!(product.body.contains("Stoneware Coffee Mug") && product.body.contains("$12.99"));

    let missing = b.get("/product/NO-SUCH-THING").await?;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Wasm Goods"), "the 404 page has the shop's look");

    let image = b.get("/static/img/mug-teal.svg").await?;
    assert_eq!(image.status, 200);
    assert!(image.body.contains("<svg"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_add_update_and_remove() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 2).await?;
    add(&mut b, MUG, 1).await?;
    add(&mut b, TEE, 1).await?;
    let stored = stored_cart(&shop, &b).await?;
    assert_eq!(stored.get(MUG), Some(&3));
    assert_eq!(stored.get(TEE), Some(&1));

    let cart = b.get("/cart").await?;
    assert!(cart.body.contains("Stoneware Coffee Mug") && cart.body.contains("Classic Crew T-Shirt"));
    assert!(cart.body.contains("$38.97"), "3 × $12.99 = $38.97 as the mug line total");

    let updated = b.post("/cart/update", &[("sku", MUG), ("quantity", "5")]).await?;
    assert_eq!(updated.status, 303);
    assert_eq!(stored_cart(&shop, &b).await?.get(MUG), Some(&5));

    let removed = b.post("/cart/remove", &[("sku", TEE)]).await?;
    assert_eq!(removed.status, 303);
    let stored = stored_cart(&shop, &b).await?;
    assert_eq!(stored.len(), 1);
    assert!(!stored.contains_key(TEE));

    // Bad input is refused and changes nothing.
    let too_many = b.post("/cart/update", &[("sku", MUG), ("quantity", "1000")]).await?;
    assert!(too_many.status == 303 || too_many.status == 400, "refused, not a 5xx: {}", too_many.status);
    let unknown = b.post("/cart/add", &[("sku", "NOPE-123"), ("quantity", "1")]).await?;
    assert!(unknown.status < 500);
    let forged = b.post_raw("/cart/add", &[("csrf", "forged"), ("sku", MUG), ("quantity", "1")]).await?;
    assert_eq!(forged.status, 403, "a POST without the session's CSRF token is refused");
    let tokenless = b.post_raw("/cart/add", &[("sku", MUG), ("quantity", "1")]).await?;
    assert_eq!(tokenless.status, 403);
    assert_eq!(stored_cart(&shop, &b).await?, [(MUG.to_string(), 5)].into_iter().collect());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_stores_the_order_charges_once_empties_the_cart_and_sends_the_email() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 2).await?;
    add(&mut b, TEE, 1).await?;

    // A validation error first: messages beside the fields, entries kept except the card.
    let attempt = checkout_attempt(&mut b).await?;
    let mut fields = checkout_fields(GOOD_CARD, &attempt);
    fields.retain(|(k, _)| *k != "city");
    fields.push(("city", ""));
    fields.retain(|(k, _)| *k != "email");
    fields.push(("email", "not-an-email"));
    let invalid = b.post("/checkout", &fields).await?;
    assert_eq!(invalid.status, 400);
    assert!(invalid.body.contains("Ada Lovelace"), "entries are kept");
    assert!(!invalid.body.contains("4242 4242"), "the card number is not echoed");
    assert!(orders_in_db(&shop).await?.is_empty());

    let attempt = checkout_attempt(&mut b).await?;
    let placed = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let confirmation = b.follow(&placed).await?;
    assert_eq!(confirmation.status, 200);
    assert!(confirmation.body.contains("ada@example.com"));

    let orders = orders_in_db(&shop).await?;
    assert_eq!(orders.len(), 1);
    let (order_id, status) = &orders[0];
    assert_eq!(status, "completed");
    assert!(confirmation.body.contains(order_id.as_str()));
    let db = shop.db().await?;
    let row = db
        .query_one("SELECT subtotal_minor, transaction_id, tracking_id FROM orders WHERE order_id = $1", &[order_id])
        .await?;
    let (subtotal, txn, tracking): (i64, Option<String>, Option<String>) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(subtotal, 2 * 1299 + 1999);
    assert!(txn.is_some_and(|t| confirmation.body.contains(&t)));
    assert!(tracking.is_some_and(|t| confirmation.body.contains(&t)));
    let lines: i64 = db.query_one("SELECT count(*) FROM order_lines WHERE order_id = $1", &[order_id]).await?.get(0);
    assert_eq!(lines, 2);

    assert!(stored_cart(&shop, &b).await?.is_empty(), "the cart is emptied");
    assert_eq!(count_keys(&shop, "txn:*").await?, 1, "one charge");
    let outbox: Vec<String> = shop.redis().await?.lrange(format!("{}shop:outbox", shop.redis_prefix), 0, -1).await?;
    assert_eq!(outbox.len(), 1);
    assert!(outbox[0].contains(order_id.as_str()) && outbox[0].contains("ada@example.com"));

    let orders_page = b.get("/orders").await?;
    assert!(orders_page.body.contains(order_id.as_str()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_checkout_yields_one_order_and_one_charge() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let fields = checkout_fields(GOOD_CARD, &attempt);
    // A double-submitted form: the same attempt twice at once, then once more.
    let (first, second) = tokio::join!(
        async { Browser::clone_session(&b).post("/checkout", &fields).await },
        async { Browser::clone_session(&b).post("/checkout", &fields).await },
    );
    let (first, second) = (first?, second?);
    let third = b.post("/checkout", &fields).await?;
    for page in [&first, &second, &third] {
        assert_eq!(page.status, 303, "every submission lands on the confirmation: {}", page.body);
    }
    assert_eq!(first.location, second.location);
    assert_eq!(first.location, third.location);
    assert_eq!(orders_in_db(&shop).await?.len(), 1);
    assert_eq!(count_keys(&shop, "txn:*").await?, 1, "one charge");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_is_explained_and_the_cart_is_kept() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 1).await?;
    let attempt = checkout_attempt(&mut b).await?;
    let declined = b.post("/checkout", &checkout_fields(DECLINED_CARD, &attempt)).await?;
    assert_eq!(declined.status, 402);
    assert!(declined.body.to_lowercase().contains("declined"));
    assert!(declined.body.contains("Ada Lovelace"), "entries are kept");
    assert_eq!(count_keys(&shop, "txn:*").await?, 0, "nothing charged");
    assert!(orders_in_db(&shop).await?.iter().all(|(_, status)| status != "completed"));
    assert_eq!(stored_cart(&shop, &b).await?.get(MUG), Some(&1), "the cart is kept for another try");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checking_out_an_empty_cart_leads_back_to_the_cart() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    b.get("/").await?;
    let attempt = uuid_like();
    let page = b.post("/checkout", &checkout_fields(GOOD_CARD, &attempt)).await?;
    assert_eq!(page.status, 303);
    assert!(page.location.as_deref().is_some_and(|l| l.starts_with("/cart")));
    assert!(orders_in_db(&shop).await?.is_empty());
    assert_eq!(count_keys(&shop, "txn:*").await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_names_are_shown_as_text_and_the_operator_api_needs_the_token() -> Result<()> {
    let shop = Shop::start().await?;
    let client = reqwest::Client::new();
    let product = serde_json::json!({
        "sku": "XSS-1", "name": "<script>alert(1)</script>", "description": "A \"quoted\" <b>thing</b>",
        "price": {"minor": 500, "currency": "USD"}, "category": "office", "image": "sticker-rose"
    });
    let refused = client.post(shop.url("/admin/products")).bearer_auth("wrong").json(&product).send().await?;
    assert_eq!(refused.status(), 401);
    let refused = client.post(shop.url("/admin/products")).json(&product).send().await?;
    assert_eq!(refused.status(), 401);
    let created = client.post(shop.url("/admin/products")).bearer_auth(&shop.operator_token).json(&product).send().await?;
    assert_eq!(created.status(), 200, "{}", created.text().await?);

    let mut b = shop.browser();
    let page = b.get("/product/XSS-1").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>alert(1)"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_adds_to_one_cart_lose_no_update() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    b.get("/").await?;
    let adds = (0..12).map(|_| {
        let mut shopper = Browser::clone_session(&b);
        async move { shopper.post("/cart/add", &[("sku", MUG), ("quantity", "2")]).await }
    });
    for page in futures::future::join_all(adds).await {
        assert_eq!(page?.status, 303);
    }
    assert_eq!(stored_cart(&shop, &b).await?.get(MUG), Some(&24));
    Ok(())
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}


/// The checkout page sends back the lines it showed (hidden `lines`, beside the total): those are
/// what is ordered, without checkout reading the cart. An item added in another tab after the page
/// was opened is not bought and stays in the cart; only the ordered quantities leave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lines_the_checkout_page_showed_are_ordered_and_only_they_leave_the_cart() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    add(&mut b, MUG, 2).await?;
    let form = b.get("/checkout").await?;
    assert_eq!(form.status, 200);
    let hidden = ["attempt", "expected_total", "expected_currency", "expected_items", "expected_country", "lines"]
        .map(|name| (name, shop_e2e::html::input_value(&form.body, name).unwrap_or_else(|| panic!("the form has no {name}"))));
    assert_eq!(hidden[5].1, format!("{MUG}:2"));
    // Another tab: one more mug, and a tee.
    add(&mut b, MUG, 1).await?;
    add(&mut b, TEE, 1).await?;

    let mut fields: Vec<(&str, &str)> = checkout_fields(GOOD_CARD, &hidden[0].1).into_iter().filter(|(k, _)| *k != "attempt").collect();
    fields.extend(hidden.iter().map(|(k, v)| (*k, v.as_str())));
    let placed = b.post("/checkout", &fields).await?;
    assert_eq!(placed.status, 303, "{}", placed.body);
    let db = shop.db().await?;
    let order = db.query_one("SELECT order_id, total_minor, status FROM orders", &[]).await?;
    let (order_id, total, status): (String, i64, String) = (order.get(0), order.get(1), order.get(2));
    assert_eq!(status, "completed");
    // The page listed a total for each shipping zone; the order (shipped to GB) costs one of them.
    let shown = format!("${}.{:02}", total / 100, total % 100);
    assert!(form.body.contains(&shown), "the order costs {shown}, which the page did not show");
    let lines = db.query("SELECT sku, quantity FROM order_lines WHERE order_id = $1", &[&order_id]).await?;
    let lines: Vec<(String, i32)> = lines.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(lines, [(MUG.to_string(), 2)], "only the lines the page showed are ordered");
    let cart = stored_cart(&shop, &b).await?;
    assert_eq!(cart.into_iter().collect::<Vec<_>>(), [(TEE.to_string(), 1), (MUG.to_string(), 1)], "what was added meanwhile stays");

    // A form whose lines this shop did not write is refused, and nothing is ordered.
    let form = b.get("/checkout").await?;
    let attempt = shop_e2e::html::input_value(&form.body, "attempt").unwrap();
    let mut fields = checkout_fields(GOOD_CARD, &attempt);
    fields.push(("lines", "KIT-MUG-TEAL:two"));
    let refused = b.post("/checkout", &fields).await?;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(orders_in_db(&shop).await?.len(), 1);
    Ok(())
}
