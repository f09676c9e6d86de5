//! products' part of issue 15, against real PostgreSQL: catalog reads priced in the shopper's
//! currency with the rates in force (and a rate change taking effect at its `valid_from`), the
//! operator's rates and stock, the `inventory` interface checkout reserves an order's units with
//! (all or nothing, idempotent per order id, never below zero under contention, no deadlock
//! between orders listing the same products in opposite orders), and the recommendations kept
//! in the same statements (bought together, then the anchor's category, then best sellers).
//!
//! Calls go in-process the way the shop's services call products (`Shop::call_internal`, with
//! the internal token); the operator's calls add `authorization: Bearer <operator token>`.
use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use shop_domain::{exchange::PerUsd, Currency, Money, OrderId};
use shop_e2e::Shop;

const MUG: &str = "KIT-MUG-TEAL"; // $12.99, kitchen
const TEE: &str = "APP-TEE-TEAL"; // $19.99, apparel
const KEYBOARD: &str = "TEC-KEYBOARD-SLATE"; // tech
const CLOCK: &str = "OFF-CLOCK-TEAL"; // office
const TOTE: &str = "KIT-TOTE-AMBER"; // kitchen
const LATTE: &str = "KIT-MUG-CORAL"; // kitchen
const PLANT: &str = "HOM-PLANT-LIME"; // home
const STICKER: &str = "OFF-STICKER-CORAL"; // seeded with 3 units
const LAMP: &str = "HOM-LAMP-AMBER"; // seeded sold out

const RESERVE: &str = "/api/inventory/reserve";
const RELEASE: &str = "/api/inventory/release";

/// A public catalog read (`/api/catalog/<op>`): status and JSON answer.
async fn catalog(shop: &Shop, op: &str, body: Value) -> Result<(u16, Value)> {
    shop.call_json("products", &format!("/api/catalog/{op}"), body.to_string()).await
}

/// An operator write (`/api/catalog_admin/<op>`) with the operator token.
async fn admin(shop: &Shop, op: &str, body: Value) -> Result<(u16, Value)> {
    admin_raw(shop, op, body.to_string()).await
}

async fn admin_raw(shop: &Shop, op: &str, body: String) -> Result<(u16, Value)> {
    let auth = format!("Bearer {}", shop.operator_token);
    let r = shop
        .call_internal(
            "products",
            "POST",
            &format!("/api/catalog_admin/{op}"),
            &[("authorization", &auth), ("content-type", "application/json")],
            body,
        )
        .await?;
    let status = r.status().as_u16();
    Ok((status, serde_json::from_slice(r.body()).with_context(|| format!("{op}: {status}, not JSON"))?))
}

async fn inventory(shop: &Shop, path: &str, body: Value) -> Result<(u16, Value)> {
    shop.call_json("products", path, body.to_string()).await
}

fn order_id() -> String {
    let b = *uuid::Uuid::new_v4().as_bytes();
    OrderId::from_random([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]).to_string()
}

fn reserve_body(order: &str, lines: &[(&str, u32)]) -> Value {
    let lines: Vec<Value> = lines.iter().map(|(sku, q)| json!({"sku": sku, "quantity": q})).collect();
    json!({"order_id": order, "lines": lines})
}

async fn reserve(shop: &Shop, order: &str, lines: &[(&str, u32)]) -> Result<(u16, Value)> {
    inventory(shop, RESERVE, reserve_body(order, lines)).await
}

async fn release(shop: &Shop, order: &str) -> Result<(u16, Value)> {
    inventory(shop, RELEASE, json!({"order_id": order})).await
}

async fn get_product(shop: &Shop, sku: &str, currency: Option<&str>, recommendations: u32) -> Result<(u16, Value)> {
    catalog(shop, "get_product", json!({"sku": sku, "currency": currency, "recommendations": recommendations})).await
}

/// The stock column of each product, straight from the database.
async fn stock_in_db(shop: &Shop) -> Result<BTreeMap<String, i32>> {
    let rows = shop.db().await?.query("SELECT sku, stock FROM products", &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Units held by unreleased reservations, per SKU.
async fn held_in_db(shop: &Shop) -> Result<BTreeMap<String, i64>> {
    let rows = shop
        .db()
        .await?
        .query("SELECT sku, sum(quantity)::int8 FROM stock_reservations WHERE NOT released GROUP BY sku", &[])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn reservation_rows(shop: &Shop) -> Result<i64> {
    Ok(shop.db().await?.query_one("SELECT count(*) FROM stock_reservations", &[]).await?.get(0))
}

/// An RFC 3339 UTC time `seconds` from the database's now (may be negative).
async fn db_time(shop: &Shop, seconds: i32) -> Result<String> {
    let row = shop
        .db()
        .await?
        .query_one(
            r#"SELECT to_char((now() + make_interval(secs => $1::int4)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"#,
            &[&seconds],
        )
        .await?;
    Ok(row.get(0))
}

fn money(v: &Value) -> Result<(i64, String)> {
    Ok((v["minor"].as_i64().context("minor")?, v["currency"].as_str().context("currency")?.to_string()))
}

fn skus(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().filter_map(|p| p["sku"].as_str().map(str::to_string)).collect()
}

fn field_names(answer: &Value) -> Vec<String> {
    answer["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["field"].as_str().map(str::to_string))
        .collect()
}

/// `price` (a product's stored price) at `per_usd` units of `to` per USD, by the domain's rule.
fn converted(price: &Value, to: Currency, per_usd: &str) -> Result<(i64, String)> {
    let (minor, code) = money(price)?;
    let from = Currency::parse(&code)?;
    ensure!(from == Currency::Usd, "the seed is in USD: {price}");
    let m = shop_domain::exchange::convert(Money::new(minor, from)?, PerUsd::ONE, to, PerUsd::parse(per_usd)?)?;
    Ok((m.minor(), to.code().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_convert_with_the_rates_in_force_and_a_new_rate_takes_effect_at_its_time() -> Result<()> {
    let shop = Shop::start().await?;

    // Hand-computed from the seeded rates (per unit, half to even, in the currency's minor unit).
    for (currency, minor) in [
        ("JPY", 1965), // 12.99 × 151.25 = 1964.7375 → ¥1965
        ("KWD", 3994), // 12.99 × 0.3075 = 3.994425 → KWD 3.994
        ("EUR", 1195), // 12.99 × 0.92 = 11.9508 → €11.95
        ("USD", 1299),
    ] {
        let (status, details) = get_product(&shop, MUG, Some(currency), 0).await?;
        ensure!(status == 200, "{currency}: {status} {details}");
        let p = &details["product"];
        ensure!(money(&p["display_price"])? == (minor, currency.to_string()), "{currency}: {p}");
        ensure!(money(&p["price"])? == (1299, "USD".to_string()), "the stored price stays: {p}");
        ensure!(p["stock"] == 1000 && details["recommendations"] == json!([]), "{details}");
    }
    let (_, plain) = get_product(&shop, MUG, None, 0).await?;
    ensure!(plain["product"]["display_price"] == plain["product"]["price"], "no currency: as stored: {plain}");
    let (_, lower) = get_product(&shop, "kit-mug-teal", Some("jpy"), 0).await?;
    ensure!(money(&lower["product"]["display_price"])? == (1965, "JPY".into()), "codes in any case: {lower}");

    // A whole page, each product by the domain's rule; the stock states of the seed.
    let (status, page) = catalog(
        &shop,
        "list_products",
        json!({"category": null, "query": null, "page": 1, "page_size": 48, "currency": "KWD"}),
    )
    .await?;
    ensure!(status == 200, "{status} {page}");
    let products = page["products"].as_array().context("products")?;
    ensure!(products.len() == 32 && page["total"] == 32, "the whole seed: {}", products.len());
    for p in products {
        ensure!(money(&p["display_price"])? == converted(&p["price"], Currency::Kwd, "0.3075")?, "{p}");
        let expected_stock = match p["sku"].as_str() {
            Some(STICKER) => 3,
            Some(LAMP) => 0,
            _ => 1000,
        };
        ensure!(p["stock"] == expected_stock, "{p}");
    }

    // get_products answers the rate it used; none without conversion.
    let (status, batch) =
        catalog(&shop, "get_products", json!({"skus": [MUG, TEE, "NOPE-123"], "currency": "EUR", "recommendations": 0}))
            .await?;
    ensure!(status == 200, "{status} {batch}");
    ensure!(skus(&batch["products"]) == [MUG, TEE] && batch["missing"] == json!(["NOPE-123"]), "{batch}");
    ensure!(money(&batch["products"][1]["display_price"])? == (1839, "EUR".into()), "19.99 × 0.92 = 18.3908: {batch}");
    ensure!(
        batch["rates"] == json!([{"currency": "EUR", "per_usd": "0.920000", "valid_from": "2026-01-01T00:00:00Z"}]),
        "{batch}"
    );
    let (_, usd) = catalog(&shop, "get_products", json!({"skus": [MUG], "currency": "USD", "recommendations": 0})).await?;
    ensure!(usd["rates"] == json!([]), "USD to USD uses no rate: {usd}");

    // A rate scheduled a day ahead changes nothing yet; one that started an hour ago is in force
    // at once; one older than the rate in force never is.
    let tomorrow = db_time(&shop, 86_400).await?;
    let (status, table) = admin(&shop, "set_rates", json!({"valid_from": tomorrow, "rates": [{"currency": "EUR", "per_usd": "0.5"}]})).await?;
    ensure!(status == 200, "{status} {table}");
    ensure!(
        table["scheduled"] == json!([{"currency": "EUR", "per_usd": "0.500000", "valid_from": tomorrow}]),
        "scheduled: {table}"
    );
    let (_, details) = get_product(&shop, MUG, Some("EUR"), 0).await?;
    ensure!(money(&details["product"]["display_price"])? == (1195, "EUR".into()), "still 0.92: {details}");

    let an_hour_ago = db_time(&shop, -3600).await?;
    let (status, table) = admin(
        &shop,
        "set_rates",
        json!({"valid_from": an_hour_ago, "rates": [{"currency": "EUR", "per_usd": "0.9215"}, {"currency": "JPY", "per_usd": "150"}]}),
    )
    .await?;
    ensure!(status == 200, "{status} {table}");
    let current: Vec<(String, String)> = table["current"]
        .as_array()
        .context("current")?
        .iter()
        .map(|r| (r["currency"].as_str().unwrap_or("").to_string(), r["per_usd"].as_str().unwrap_or("").to_string()))
        .collect();
    ensure!(current.contains(&("EUR".into(), "0.921500".into())) && current.contains(&("JPY".into(), "150.000000".into())), "{table}");
    ensure!(current.len() == 6, "one current rate per currency: {table}");
    let (_, details) = get_product(&shop, MUG, Some("EUR"), 0).await?;
    // 12.99 × 0.9215 = 11.970285 → €11.97
    ensure!(money(&details["product"]["display_price"])? == (1197, "EUR".into()), "0.9215 in force: {details}");
    let (_, details) = get_product(&shop, MUG, Some("JPY"), 0).await?;
    // 12.99 × 150 = 1948.5, a tie: to the even neighbour, ¥1948.
    ensure!(money(&details["product"]["display_price"])? == (1948, "JPY".into()), "150 in force: {details}");

    let (status, _) = admin(&shop, "set_rates", json!({"valid_from": "2025-06-01T00:00:00Z", "rates": [{"currency": "EUR", "per_usd": "2"}]})).await?;
    ensure!(status == 200);
    let (_, details) = get_product(&shop, MUG, Some("EUR"), 0).await?;
    ensure!(money(&details["product"]["display_price"])? == (1197, "EUR".into()), "an older rate never wins: {details}");

    // A rate scheduled a few seconds ahead takes effect when its time comes.
    let soon = db_time(&shop, 4).await?;
    let (status, table) = admin(&shop, "set_rates", json!({"valid_from": soon, "rates": [{"currency": "KWD", "per_usd": "0.31"}]})).await?;
    ensure!(status == 200 && table["scheduled"].as_array().is_some_and(|s| s.len() == 2), "{status} {table}");
    let (_, before) = get_product(&shop, MUG, Some("KWD"), 0).await?;
    ensure!(money(&before["product"]["display_price"])? == (3994, "KWD".into()), "{before}");
    tokio::time::sleep(std::time::Duration::from_millis(5500)).await;
    let (_, after) = get_product(&shop, MUG, Some("KWD"), 0).await?;
    // 12.99 × 0.31 = 4.0269 → KWD 4.027
    ensure!(money(&after["product"]["display_price"])? == (4027, "KWD".into()), "0.31 in force now: {after}");
    let (status, rates) = catalog(&shop, "get_rates", json!({})).await?;
    ensure!(status == 200, "{status} {rates}");
    ensure!(
        rates["scheduled"].as_array().is_some_and(|s| s.len() == 1 && s[0]["currency"] == "EUR"),
        "only tomorrow's EUR is still scheduled: {rates}"
    );
    ensure!(rates["current"].as_array().is_some_and(|c| c.iter().any(|r| r["currency"] == "KWD" && r["per_usd"] == "0.310000")), "{rates}");

    // The public route answers without any token.
    let r = reqwest::Client::new().post(shop.url("/api/catalog/get_rates")).body("{}").send().await?;
    ensure!(r.status() == 200, "get_rates is public: {}", r.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currencies_without_a_rate_or_unknown_are_refused_clearly() -> Result<()> {
    let shop = Shop::start().await?;
    // CHF has only a rate for tomorrow: none in force.
    shop.db().await?.execute("DELETE FROM exchange_rates WHERE currency = 'CHF'", &[]).await?;
    let tomorrow = db_time(&shop, 86_400).await?;
    let (status, _) = admin(&shop, "set_rates", json!({"valid_from": tomorrow, "rates": [{"currency": "CHF", "per_usd": "0.9"}]})).await?;
    ensure!(status == 200);
    let list = json!({"category": null, "query": null, "page": 1, "page_size": 12, "currency": "CHF"});
    for (op, body) in [
        ("get_product", json!({"sku": MUG, "currency": "CHF", "recommendations": 4})),
        ("get_products", json!({"skus": [MUG], "currency": "chf", "recommendations": 0})),
        ("list_products", list),
    ] {
        let (status, answer) = catalog(&shop, op, body).await?;
        ensure!(
            status == 422 && answer["error"]["message"] == "There is no exchange rate for CHF yet",
            "{op}: {status} {answer}"
        );
    }
    for (op, body) in [
        ("get_product", json!({"sku": MUG, "currency": "XBT", "recommendations": 0})),
        ("get_products", json!({"skus": [MUG], "currency": "", "recommendations": 0})),
        ("list_products", json!({"category": null, "query": null, "page": 1, "page_size": 12, "currency": "euro"})),
    ] {
        let (status, answer) = catalog(&shop, op, body).await?;
        ensure!(status == 400 && field_names(&answer) == ["currency"], "{op}: {status} {answer}");
        ensure!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("USD, EUR")), "{answer}");
    }
    // Every bad field at once.
    let (status, answer) = get_product(&shop, "no such sku!", Some("XBT"), 13).await?;
    ensure!(status == 400 && field_names(&answer) == ["sku", "currency", "recommendations"], "{status} {answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_rates_takes_exact_decimal_strings_all_or_nothing_and_needs_the_operator() -> Result<()> {
    let shop = Shop::start().await?;
    let (_, before) = catalog(&shop, "get_rates", json!({})).await?;
    ensure!(before["current"].as_array().is_some_and(|c| c.len() == 6) && before["scheduled"] == json!([]), "{before}");

    // Numbers are refused by the contract itself: a rate is a string.
    for number in ["0.92", "1", "1e3"] {
        let body = format!(r#"{{"valid_from": null, "rates": [{{"currency": "EUR", "per_usd": {number}}}]}}"#);
        let (status, answer) = admin_raw(&shop, "set_rates", body).await?;
        ensure!(status == 400 && answer["error"]["code"] == "bad_request", "{number}: {status} {answer}");
    }
    let cases = [
        (json!([{"currency": "EUR", "per_usd": "0,92"}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "EUR", "per_usd": "1e3"}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "EUR", "per_usd": "-1"}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "EUR", "per_usd": "0"}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "EUR", "per_usd": "0.0000001"}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "EUR", "per_usd": "1000000.5"}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "EUR", "per_usd": ""}]), vec!["rates[0].per_usd"]),
        (json!([{"currency": "USD", "per_usd": "1"}]), vec!["rates[0].currency"]),
        (json!([{"currency": "XBT", "per_usd": "1"}]), vec!["rates[0].currency"]),
        (json!([]), vec!["rates"]),
        // One bad rate among good ones: none is stored.
        (
            json!([{"currency": "GBP", "per_usd": "0.8"}, {"currency": "EUR", "per_usd": "abc"}, {"currency": "GBP", "per_usd": "0.81"}]),
            vec!["rates[1].per_usd", "rates[2].currency"],
        ),
    ];
    for (rates, fields) in cases {
        let (status, answer) = admin(&shop, "set_rates", json!({"valid_from": null, "rates": rates})).await?;
        ensure!(status == 400 && field_names(&answer) == fields, "{rates}: {status} {answer}");
        ensure!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    let (status, answer) = admin(&shop, "set_rates", json!({"valid_from": "2026-02-30T00:00:00Z", "rates": [{"currency": "EUR", "per_usd": "0.9"}]})).await?;
    ensure!(status == 400 && field_names(&answer) == ["valid_from"], "{status} {answer}");
    let (status, answer) = admin(&shop, "set_rates", json!({"valid_from": "next week", "rates": [{"currency": "EUR", "per_usd": "0.9"}]})).await?;
    ensure!(status == 400 && answer["error"]["message"].as_str().is_some_and(|m| m.contains("RFC 3339")), "{status} {answer}");
    let (status, answer) = admin(&shop, "set_rates", json!({"valid_from": null, "rates": [{"currency": "USD", "per_usd": "1"}]})).await?;
    ensure!(answer["error"]["message"] == "USD is the base currency: its rate is always 1", "{status} {answer}");

    // Without the operator token: 401, nothing stored.
    let r = shop
        .call_internal(
            "products",
            "POST",
            "/api/catalog_admin/set_rates",
            &[("authorization", "Bearer wrong")],
            json!({"valid_from": null, "rates": [{"currency": "EUR", "per_usd": "5"}]}).to_string(),
        )
        .await?;
    ensure!(r.status() == 401, "{}", r.status());
    let (_, after) = catalog(&shop, "get_rates", json!({})).await?;
    ensure!(after == before, "refused rates changed nothing:\n{before}\n{after}");

    // A good one, with an offset: stored as UTC; the same instant again replaces it.
    let (status, table) = admin(
        &shop,
        "set_rates",
        json!({"valid_from": "2099-01-01T02:00:00+02:00", "rates": [{"currency": "gbp", "per_usd": " 0.8 "}]}),
    )
    .await?;
    ensure!(status == 200, "{status} {table}");
    ensure!(table["scheduled"] == json!([{"currency": "GBP", "per_usd": "0.800000", "valid_from": "2099-01-01T00:00:00Z"}]), "{table}");
    let (_, table) = admin(&shop, "set_rates", json!({"valid_from": "2099-01-01T00:00:00Z", "rates": [{"currency": "GBP", "per_usd": "0.85"}]})).await?;
    ensure!(table["scheduled"] == json!([{"currency": "GBP", "per_usd": "0.850000", "valid_from": "2099-01-01T00:00:00Z"}]), "{table}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_is_all_or_nothing_idempotent_and_release_gives_the_units_back() -> Result<()> {
    let shop = Shop::start().await?;
    let start = stock_in_db(&shop).await?;

    // Bad requests: 400 naming each field, nothing stored.
    let fifty_one: Vec<(String, u32)> = (0..51).map(|i| (format!("SKU-{i:03}"), 1)).collect();
    let fifty_one: Vec<(&str, u32)> = fifty_one.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let order = order_id();
    for (body, fields) in [
        (reserve_body("ORD-1", &[(MUG, 1)]), vec!["order_id"]),
        (reserve_body(&order, &[]), vec!["lines"]),
        (reserve_body(&order, &fifty_one), vec!["lines"]),
        (reserve_body(&order, &[("bad sku!", 1), (MUG, 0), (TEE, 100)]), vec!["lines[0].sku", "lines[1].quantity", "lines[2].quantity"]),
        (reserve_body(&order, &[(MUG, 1), ("kit-mug-teal", 1)]), vec!["lines[1].sku"]),
    ] {
        let (status, answer) = inventory(&shop, RESERVE, body.clone()).await?;
        ensure!(status == 400 && field_names(&answer) == fields, "{body}: {status} {answer}");
    }
    let (status, answer) = release(&shop, "nope").await?;
    ensure!(status == 400 && field_names(&answer) == ["order_id"], "{status} {answer}");
    ensure!(reservation_rows(&shop).await? == 0 && stock_in_db(&shop).await? == start, "refusals stored nothing");

    // One short line refuses the whole order: 409 naming every short line, stock untouched.
    let (status, answer) = reserve(&shop, &order, &[(MUG, 2), (STICKER, 4), (TEE, 1), (LAMP, 1)]).await?;
    ensure!(status == 409, "{status} {answer}");
    ensure!(
        answer["error"]["message"] == "Only 3 left of Holographic Logo Sticker; Sold out: Arc Reading Lamp",
        "{answer}"
    );
    ensure!(field_names(&answer) == [format!("lines.{STICKER}"), format!("lines.{LAMP}")], "{answer}");
    ensure!(reservation_rows(&shop).await? == 0 && stock_in_db(&shop).await? == start, "a refused order changed nothing");

    // All lines fit: held at once; the same order again is the same hold.
    let lines = [(MUG, 2), (STICKER, 3), (TEE, 1)];
    let (status, held) = reserve(&shop, &order, &lines).await?;
    ensure!(status == 200, "{status} {held}");
    let expected = json!({"order_id": order, "lines": [
        {"sku": TEE, "quantity": 1}, {"sku": MUG, "quantity": 2}, {"sku": STICKER, "quantity": 3}
    ]});
    ensure!(held == expected, "{held}");
    let (status, again) = reserve(&shop, &order.to_lowercase(), &lines).await?;
    ensure!(status == 200 && again == expected, "reserve twice = one hold: {status} {again}");
    let stock = stock_in_db(&shop).await?;
    ensure!(stock[MUG] == 998 && stock[STICKER] == 0 && stock[TEE] == 999, "{stock:?}");
    let (_, mug) = get_product(&shop, MUG, None, 0).await?;
    ensure!(mug["product"]["stock"] == 998, "reads show what is left: {mug}");
    let (status, level) = admin(&shop, "set_stock", json!({"sku": STICKER, "stock": 0})).await?;
    ensure!(status == 200 && level == json!({"sku": STICKER, "stock": 0, "reserved": 3}), "{status} {level}");

    // A second order finds the sticker sold out.
    let other = order_id();
    let (status, answer) = reserve(&shop, &other, &[(STICKER, 1)]).await?;
    ensure!(status == 409 && answer["error"]["message"] == "Sold out: Holographic Logo Sticker", "{status} {answer}");

    // Release gives everything back once; the order can never reserve again.
    let (status, released) = release(&shop, &order).await?;
    ensure!(status == 200 && released == json!({"released": true}), "{status} {released}");
    let (status, released) = release(&shop, &order).await?;
    ensure!(status == 200 && released == json!({"released": false}), "release twice = one release: {released}");
    ensure!(stock_in_db(&shop).await? == start, "every unit is back");
    let (status, answer) = reserve(&shop, &order, &lines).await?;
    ensure!(
        status == 409 && answer["error"]["message"] == "This order's reservation was released; place the order again",
        "reserve after release: {status} {answer}"
    );
    ensure!(stock_in_db(&shop).await? == start, "and takes nothing");
    // An order released before it ever reserved (a checkout that failed before its reservation
    // arrived) holds nothing, and its late reservation is refused: it can never hold units.
    let early = order_id();
    let (_, released) = release(&shop, &early).await?;
    ensure!(released == json!({"released": false}), "an order that held nothing: {released}");
    let (status, answer) = reserve(&shop, &early, &[(MUG, 1)]).await?;
    ensure!(status == 409, "a reserve after its release: {status} {answer}");
    ensure!(stock_in_db(&shop).await? == start, "and takes nothing");

    // set_stock: 404 for an unknown SKU, 400 for nonsense, and reserved counts held units only.
    let (status, answer) = admin(&shop, "set_stock", json!({"sku": "NOPE-123", "stock": 5})).await?;
    ensure!(status == 404 && answer["error"]["message"].as_str().is_some_and(|m| m.contains("NOPE-123")), "{status} {answer}");
    let (status, answer) = admin(&shop, "set_stock", json!({"sku": "x", "stock": 2_000_000})).await?;
    ensure!(status == 400 && field_names(&answer) == ["sku", "stock"], "{status} {answer}");
    let (status, answer) = admin_raw(&shop, "set_stock", json!({"sku": MUG, "stock": -1}).to_string()).await?;
    ensure!(status == 400, "{status} {answer}");
    let (status, level) = admin(&shop, "set_stock", json!({"sku": "kit-mug-teal", "stock": 7})).await?;
    ensure!(status == 200 && level == json!({"sku": MUG, "stock": 7, "reserved": 0}), "{status} {level}");

    // The inventory is internal: over the network without the token, 401.
    let r = reqwest::Client::new().post(shop.url(RESERVE)).json(&reserve_body(&order_id(), &[(MUG, 1)])).send().await?;
    ensure!(r.status() == 401, "{}", r.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reserves_of_the_last_units_never_oversell_and_opposite_orders_never_deadlock() -> Result<()> {
    let shop = Shop::start().await?;
    let (status, _) = admin(&shop, "set_stock", json!({"sku": MUG, "stock": 5})).await?;
    ensure!(status == 200);

    // 20 orders want the last 5 mugs at once: exactly 5 get one.
    let orders: Vec<String> = (0..20).map(|_| order_id()).collect();
    let answers = futures::future::join_all(orders.iter().map(|o| reserve(&shop, o, &[(MUG, 1)]))).await;
    let mut won = 0;
    for answer in answers {
        let (status, body) = answer?;
        match status {
            200 => won += 1,
            409 => ensure!(
                body["error"]["message"] == "Sold out: Stoneware Coffee Mug",
                "a loser is told it is sold out: {body}"
            ),
            _ => anyhow::bail!("a reserve answered {status}: {body}"),
        }
    }
    ensure!(won == 5, "{won} reserves won 5 mugs");
    ensure!(stock_in_db(&shop).await?[MUG] == 0 && held_in_db(&shop).await?[MUG] == 5, "never below zero");

    // The same order id 10 times at once: one hold.
    let (status, _) = admin(&shop, "set_stock", json!({"sku": TEE, "stock": 10})).await?;
    ensure!(status == 200);
    let same = order_id();
    let answers = futures::future::join_all((0..10).map(|_| reserve(&shop, &same, &[(TEE, 3)]))).await;
    for answer in answers {
        let (status, body) = answer?;
        ensure!(status == 200 && body["lines"] == json!([{"sku": TEE, "quantity": 3}]), "{status} {body}");
    }
    ensure!(stock_in_db(&shop).await?[TEE] == 7, "one hold of 3");

    // Two orders naming three products in opposite orders, at once, again and again: both always
    // go through (the rows are locked in SKU order), and release at once too.
    let forward = [(CLOCK, 1), (KEYBOARD, 1), (PLANT, 1)];
    let backward = [(PLANT, 1), (KEYBOARD, 1), (CLOCK, 1)];
    let before = stock_in_db(&shop).await?;
    for round in 0..30 {
        let (a, b) = (order_id(), order_id());
        let (ra, rb) = tokio::join!(reserve(&shop, &a, &forward), reserve(&shop, &b, &backward));
        let ((sa, ba), (sb, bb)) = (ra?, rb?);
        ensure!(sa == 200 && sb == 200, "round {round}: {sa} {ba} / {sb} {bb}");
        let (ra, rb) = tokio::join!(release(&shop, &a), release(&shop, &b));
        let ((sa, ba), (sb, bb)) = (ra?, rb?);
        ensure!(sa == 200 && sb == 200 && ba["released"] == true && bb["released"] == true, "round {round}: {ba} {bb}");
    }
    ensure!(stock_in_db(&shop).await? == before, "every round gave its units back");

    // Overlapping multi-line orders at once, half of them released at once: the counts the
    // recommendations read are exactly what the held reservations imply (co-purchase pairs,
    // units sold), the aggregate `scripts/bench` uses to add its 100k orders in bulk.
    let shapes: [&[(&str, u32)]; 4] = [&[(CLOCK, 1), (KEYBOARD, 2)], &[(KEYBOARD, 1), (PLANT, 1), (CLOCK, 3)], &[(PLANT, 2)], &[(PLANT, 1), (CLOCK, 1)]];
    let mixed: Vec<(String, &[(&str, u32)])> = (0..24).map(|i| (order_id(), shapes[i % shapes.len()])).collect();
    for answer in futures::future::join_all(mixed.iter().map(|(o, lines)| reserve(&shop, o, lines))).await {
        let (status, body) = answer?;
        ensure!(status == 200, "{status} {body}");
    }
    for answer in futures::future::join_all(mixed.iter().step_by(2).map(|(o, _)| release(&shop, o))).await {
        let (status, body) = answer?;
        ensure!(status == 200 && body["released"] == true, "{status} {body}");
    }
    let db = shop.db().await?;
    let drift: i64 = db
        .query_one(
            "WITH held AS (SELECT a.sku, b.sku AS other, count(*)::int AS orders FROM stock_reservations a \
               JOIN stock_reservations b ON a.order_id = b.order_id AND a.sku <> b.sku \
               WHERE NOT a.released AND NOT b.released GROUP BY a.sku, b.sku), \
             kept AS (SELECT sku, other, orders FROM co_purchases WHERE orders > 0) \
             SELECT (SELECT count(*) FROM ((SELECT * FROM held EXCEPT SELECT * FROM kept) \
                                   UNION ALL (SELECT * FROM kept EXCEPT SELECT * FROM held)) d) \
                  + (SELECT count(*) FROM products p WHERE p.units_sold <> coalesce((SELECT sum(quantity) \
                       FROM stock_reservations r WHERE r.sku = p.sku AND NOT r.released), 0))",
            &[],
        )
        .await?
        .get(0);
    ensure!(drift == 0, "{drift} co-purchase or units-sold counts differ from the held reservations");

    // The invariant: stock + held = what the operator set, for every product touched.
    let (stock, held) = (stock_in_db(&shop).await?, held_in_db(&shop).await?);
    for (sku, set) in [(MUG, 5), (TEE, 10), (CLOCK, 1000), (KEYBOARD, 1000), (PLANT, 1000)] {
        let total = i64::from(stock[sku]) + held.get(sku).copied().unwrap_or(0);
        ensure!(total == set, "{sku}: {} + {:?} != {set}", stock[sku], held.get(sku));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_rank_bought_together_then_category_then_best_sellers_and_follow_releases() -> Result<()> {
    let shop = Shop::start().await?;
    // Nothing sold yet: the anchor's category (never itself, never sold out), then by SKU.
    let (status, details) = get_product(&shop, MUG, Some("EUR"), 5).await?;
    ensure!(status == 200, "{status} {details}");
    ensure!(
        skus(&details["recommendations"]) == ["KIT-BOTTLE-LIME", "KIT-BOTTLE-SKY", LATTE, "KIT-MUG-SLATE", TOTE],
        "{details}"
    );

    let o1 = order_id();
    let o2 = order_id();
    for (order, lines) in [
        (&o1, vec![(MUG, 1), (KEYBOARD, 1), (CLOCK, 1)]),
        (&o2, vec![(KEYBOARD, 1), (MUG, 1)]),
        (&order_id(), vec![(TOTE, 5)]),
        (&order_id(), vec![(PLANT, 7)]),
    ] {
        let (status, answer) = reserve(&shop, order, &lines).await?;
        ensure!(status == 200, "{status} {answer}");
    }
    let (status, _) = admin(&shop, "set_stock", json!({"sku": LATTE, "stock": 0})).await?;
    ensure!(status == 200);

    // Bought together (2, then 1), then the kitchen by units sold then SKU (the sold-out latte
    // mug left out), then the best seller, then the rest by SKU.
    let (status, details) = get_product(&shop, MUG, Some("EUR"), 12).await?;
    ensure!(status == 200, "{status} {details}");
    let want = [
        KEYBOARD,
        CLOCK,
        TOTE,
        "KIT-BOTTLE-LIME",
        "KIT-BOTTLE-SKY",
        "KIT-MUG-SLATE",
        PLANT,
        "APP-BACKPACK-SKY",
        "APP-CAP-AMBER",
        "APP-HOODIE-INDIGO",
        "APP-HOODIE-SLATE",
        "APP-SOCKS-LIME",
    ];
    ensure!(skus(&details["recommendations"]) == want, "{details}");
    for p in details["recommendations"].as_array().context("recommendations")? {
        ensure!(p["display_price"]["currency"] == "EUR", "converted too: {p}");
        ensure!(money(&p["display_price"])? == converted(&p["price"], Currency::Eur, "0.92")?, "{p}");
        ensure!(p["stock"].as_u64().is_some_and(|s| s > 0), "never sold out: {p}");
    }
    let (_, three) = get_product(&shop, MUG, None, 3).await?;
    ensure!(skus(&three["recommendations"]) == [KEYBOARD, CLOCK, TOTE], "{three}");
    let (_, none) = get_product(&shop, MUG, None, 0).await?;
    ensure!(none["recommendations"] == json!([]), "{none}");
    let (status, answer) = get_product(&shop, MUG, None, 13).await?;
    ensure!(status == 400 && field_names(&answer) == ["recommendations"], "{status} {answer}");

    // A cart's lines as anchors: the clock was bought with both (1 + 1), then the anchors'
    // categories (kitchen, tech), never an anchor.
    let (status, batch) = catalog(
        &shop,
        "get_products",
        json!({"skus": [MUG, KEYBOARD], "currency": null, "recommendations": 4}),
    )
    .await?;
    ensure!(status == 200, "{status} {batch}");
    ensure!(skus(&batch["recommendations"]) == [CLOCK, TOTE, "KIT-BOTTLE-LIME", "KIT-BOTTLE-SKY"], "{batch}");
    ensure!(batch["rates"] == json!([]), "no conversion, no rates: {batch}");
    let (_, empty_cart) = catalog(&shop, "get_products", json!({"skus": [], "currency": "JPY", "recommendations": 2})).await?;
    ensure!(skus(&empty_cart["recommendations"]) == [PLANT, TOTE], "an empty cart gets the best sellers: {empty_cart}");
    ensure!(empty_cart["rates"].as_array().is_some_and(|r| r.len() == 1 && r[0]["currency"] == "JPY"), "{empty_cart}");
    let (status, answer) =
        catalog(&shop, "get_products", json!({"skus": [MUG], "currency": null, "recommendations": 99})).await?;
    ensure!(status == 400 && field_names(&answer) == ["recommendations"], "{status} {answer}");

    // Releasing the two orders takes their pairs and units back out of the counts.
    for order in [&o1, &o2] {
        let (status, answer) = release(&shop, order).await?;
        ensure!(status == 200 && answer["released"] == true, "{status} {answer}");
    }
    let (_, details) = get_product(&shop, MUG, None, 6).await?;
    ensure!(
        skus(&details["recommendations"]) == [TOTE, "KIT-BOTTLE-LIME", "KIT-BOTTLE-SKY", "KIT-MUG-SLATE", PLANT, "APP-BACKPACK-SKY"],
        "{details}"
    );
    let db = shop.db().await?;
    let pairs: i64 = db.query_one("SELECT coalesce(sum(orders), 0)::int8 FROM co_purchases", &[]).await?.get(0);
    ensure!(pairs == 0, "no pair is counted any more: {pairs}");
    let sold: Vec<(String, i32)> = db
        .query("SELECT sku, units_sold FROM products WHERE units_sold > 0 ORDER BY sku", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    ensure!(sold == [(PLANT.to_string(), 7), (TOTE.to_string(), 5)], "{sold:?}");
    Ok(())
}
