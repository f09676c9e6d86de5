//! Orders in the shopper's currency: checkout prices the cart with one catalog call in that
//! currency and stores each line's converted unit price, its catalog price and the rates used;
//! the charge is the order's total in that currency; the confirmation shows it; a total that
//! moved since the shopper saw it (a rate changed) is refused with nothing stored; and an order's
//! numbers never change afterwards, whatever happens to rates and prices.
use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use redis::AsyncCommands;
use serde_json::{json, Value};
use shop_domain::exchange::{convert, PerUsd};
use shop_domain::{Currency, Money};
use shop_e2e::reliability::{outbox, GOOD_CARD, MUG, TEE};
use shop_e2e::stores::Snapshotter;
use shop_e2e::Shop;

const ADD: &str = "/api/carts/add_item";
const PLACE: &str = "/api/checkout/place_order";
const GET: &str = "/api/checkout/get_order";
const LIST: &str = "/api/checkout/list_orders";

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn operator(shop: &Shop, path: &str, body: Value) -> Result<(u16, Value)> {
    let auth = format!("Bearer {}", shop.operator_token);
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let r = shop.call_internal("products", "POST", path, &headers, body.to_string()).await?;
    Ok((r.status().as_u16(), serde_json::from_slice(r.body()).unwrap_or_default()))
}

/// The operator sets rates that take effect now (products' `set_rates`).
async fn set_rate(shop: &Shop, currency: &str, per_usd: &str) -> Result<()> {
    let (status, table) = operator(shop, "/api/catalog_admin/set_rates", json!({"valid_from": null, "rates": [{"currency": currency, "per_usd": per_usd}]})).await?;
    ensure!(status == 200, "set_rates {currency} {per_usd}: {status} {table}");
    Ok(())
}

async fn fill_cart(shop: &Shop, session: &str, lines: &[(&str, u32)]) -> Result<()> {
    for (sku, quantity) in lines {
        let (status, cart) = shop.call_json("carts", ADD, json!({"session": session, "sku": sku, "quantity": quantity}).to_string()).await?;
        ensure!(status == 200, "add_item {sku}: {status} {cart}");
    }
    Ok(())
}

fn money(v: &Value) -> Result<Money> {
    let currency = Currency::parse(v["currency"].as_str().context("a currency")?)?;
    Ok(Money::new(v["minor"].as_i64().context("minor units")?, currency)?)
}

fn wire(m: Money) -> Value {
    json!({"minor": m.minor(), "currency": m.currency().code()})
}

/// What the checkout page shows the shopper before they confirm: the catalog in their currency
/// (one call, with the rates it used) and the shipping quote. The lines, the rates and the total.
struct Shown {
    catalog: Value,
    total: Money,
}

async fn shown(shop: &Shop, lines: &[(&str, u32)], currency: Currency) -> Result<Shown> {
    let skus: Vec<&str> = lines.iter().map(|(s, _)| *s).collect();
    let (status, catalog) =
        shop.call_json("products", "/api/catalog/get_products", json!({"skus": skus, "currency": currency.code(), "recommendations": 0}).to_string()).await?;
    ensure!(status == 200, "get_products in {currency}: {status} {catalog}");
    let mut total = Money::zero(currency);
    for (sku, quantity) in lines {
        let p = catalog["products"].as_array().into_iter().flatten().find(|p| p["sku"] == *sku).context("the product")?;
        total = total.checked_add(money(&p["display_price"])?.multiply(shop_domain::Quantity::new(*quantity)?)?)?;
    }
    let items: u32 = lines.iter().map(|(_, q)| q).sum();
    let (status, quote) =
        shop.call_json("shipping", "/api/shipping/get_quote", json!({"country": "GB", "item_count": items, "currency": currency.code()}).to_string()).await?;
    ensure!(status == 200, "get_quote: {status} {quote}");
    Ok(Shown { total: total.checked_add(money(&quote["cost"])?)?, catalog })
}

fn place_request(session: &str, attempt: &str, currency: &str, expected: Option<Money>) -> Value {
    json!({
        "session": session, "attempt_id": attempt, "email": "ada@example.com",
        "address": {"name": "Ada Lovelace", "street": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
        "card": {"number": GOOD_CARD, "expiry_month": 12, "expiry_year": 2035, "cvv": "123"},
        "currency": currency,
        "expected_total": expected.map(wire),
    })
}

async fn place(shop: &Shop, session: &str, attempt: &str, currency: &str, expected: Option<Money>) -> Result<(u16, Value)> {
    shop.call_json("checkout", PLACE, place_request(session, attempt, currency, expected).to_string()).await
}

/// The receipt payment stored for an order's charge (`charge:<order id>`).
async fn charge_of(shop: &Shop, order_id: &str) -> Result<Value> {
    let raw: Option<String> = shop.redis().await?.get(format!("{}shop:charge:{order_id}", shop.redis_prefix)).await?;
    serde_json::from_str(&raw.with_context(|| format!("no charge for {order_id}"))?).context("a receipt")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_in_yen_and_dinars_record_their_prices_rates_and_charge() -> Result<()> {
    let shop = Shop::start().await?;
    let lines = [(MUG, 2), (TEE, 1)];
    for (currency, rate) in [(Currency::Jpy, "151.25"), (Currency::Kwd, "0.3075")] {
        let session = new_id();
        fill_cart(&shop, &session, &lines).await?;
        let shown = shown(&shop, &lines, currency).await?;
        let (status, order) = place(&shop, &session, &new_id(), currency.code(), Some(shown.total)).await?;
        ensure!(status == 200 && order["status"] == "Completed", "{currency}: {status} {order}");
        let order_id = order["order_id"].as_str().context("an order id")?.to_string();

        // The totals, in the shopper's currency, as shown.
        ensure!(money(&order["total"])? == shown.total, "{currency}: total {} (shown {})", order["total"], shown.total);
        ensure!(money(&order["subtotal"])?.checked_add(money(&order["shipping"])?)? == shown.total, "{currency}: {order}");
        // The rates: what the catalog converted with, the seeded rate of this currency.
        ensure!(order["rates"] == shown.catalog["rates"], "{currency}: rates {} vs the catalog's {}", order["rates"], shown.catalog["rates"]);
        let used = order["rates"].as_array().into_iter().flatten().find(|r| r["currency"] == currency.code()).context("the order's rate")?;
        let per_usd = PerUsd::parse(used["per_usd"].as_str().unwrap_or_default())?;
        ensure!(per_usd == PerUsd::parse(rate)?, "{currency}: rate {used}");
        // Each line: the catalog's USD price, converted per unit by the rounding rule, times the quantity.
        let mut subtotal = Money::zero(currency);
        let ordered = order["lines"].as_array().context("lines")?;
        ensure!(ordered.len() == lines.len(), "{currency}: {} lines", ordered.len());
        for (sku, quantity) in lines {
            let line = ordered.iter().find(|l| l["sku"] == sku).with_context(|| format!("{currency}: no line of {sku}"))?;
            ensure!(line["quantity"] == quantity, "{currency}: {line}");
            let catalog = money(&line["catalog_unit_price"])?;
            let product = shown.catalog["products"].as_array().into_iter().flatten().find(|p| p["sku"] == sku).context("shown")?;
            ensure!(catalog == money(&product["price"])? && catalog.currency() == Currency::Usd, "{currency}: catalog price {line}");
            let unit = money(&line["unit_price"])?;
            ensure!(unit == convert(catalog, PerUsd::ONE, currency, per_usd)?, "{currency}: {catalog} converts to {unit}?");
            ensure!(unit == money(&product["display_price"])?, "{currency}: the unit price shown was {}", product["display_price"]);
            let line_total = money(&line["line_total"])?;
            ensure!(line_total == unit.multiply(shop_domain::Quantity::new(quantity)?)?, "{currency}: line total {line}");
            subtotal = subtotal.checked_add(line_total)?;
        }
        ensure!(money(&order["subtotal"])? == subtotal, "{currency}: subtotal");

        // Read back, from the API and from the tables: the same numbers.
        let (status, read) = shop.call_json("checkout", GET, json!({"session": session, "order_id": order_id}).to_string()).await?;
        ensure!(status == 200, "get_order: {status} {read}");
        for field in ["lines", "subtotal", "shipping", "total", "rates"] {
            ensure!(read[field] == order[field], "{currency}: {field} read back as {} (placed {})", read[field], order[field]);
        }
        let db = shop.db().await?;
        let rows = db
            .query("SELECT catalog_unit_price_minor, catalog_currency, unit_price_minor FROM order_lines WHERE order_id = $1 ORDER BY line_no", &[&order_id])
            .await?;
        for (row, line) in rows.iter().zip(order["lines"].as_array().into_iter().flatten()) {
            let (catalog_minor, catalog_currency, unit_minor): (Option<i64>, Option<String>, i64) = (row.get(0), row.get(1), row.get(2));
            ensure!(catalog_minor == line["catalog_unit_price"]["minor"].as_i64() && catalog_currency.as_deref() == Some("USD"), "{currency}: stored catalog price");
            ensure!(Some(unit_minor) == line["unit_price"]["minor"].as_i64(), "{currency}: stored unit price");
        }
        let stored_rates: String = db.query_one("SELECT rates FROM orders WHERE order_id = $1", &[&order_id]).await?.get(0);
        ensure!(serde_json::from_str::<Value>(&stored_rates)? == order["rates"], "{currency}: stored rates {stored_rates}");

        // The charge: the order's total, in its currency.
        let receipt = charge_of(&shop, &order_id).await?;
        ensure!(receipt["amount"] == order["total"], "{currency}: charged {} for a total of {}", receipt["amount"], order["total"]);
        ensure!(receipt["transaction_id"] == order["transaction_id"], "{currency}: {receipt}");

        // The confirmation: the shopper's money, with its decimals, and the rate.
        let sent = outbox(&shop).await?;
        let email = sent.iter().find(|e| e["subject"].as_str().is_some_and(|s| s.contains(&order_id))).context("the confirmation")?;
        let text = email["text_body"].as_str().unwrap_or_default();
        let html = email["html_body"].as_str().unwrap_or_default();
        let unit = money(&order["lines"][0]["unit_price"])?.format();
        for body in [text, html] {
            for want in [shown.total.format(), unit.clone(), format!("Paid in {currency} at 1 USD = {per_usd} {currency}")] {
                ensure!(body.contains(&want), "{currency}: {want} missing from the confirmation: {body}");
            }
            ensure!(!body.contains('$'), "{currency}: dollars in the confirmation: {body}");
        }
    }
    // The same amounts formatted their own way: no decimals in yen, three in dinars.
    let totals: Vec<String> = outbox(&shop).await?.iter().map(|e| e["text_body"].as_str().unwrap_or_default().to_string()).collect();
    ensure!(totals.iter().any(|t| t.contains("¥")) && totals.iter().any(|t| t.contains("KWD\u{a0}")), "{totals:?}");
    Ok(())
}

/// The shopper saw a total; a rate changed before they confirmed: 409 naming both totals, and
/// nothing stored or charged. Confirming the new total places the order at the new rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_that_moved_with_a_rate_is_refused_and_nothing_is_stored() -> Result<()> {
    let shop = Shop::start().await?;
    let lines = [(MUG, 1), (TEE, 2)];
    let session = new_id();
    fill_cart(&shop, &session, &lines).await?;
    let before = shown(&shop, &lines, Currency::Eur).await?;
    set_rate(&shop, "EUR", "0.95").await?;
    let now = shown(&shop, &lines, Currency::Eur).await?;
    ensure!(now.total != before.total, "the rate change moved nothing: {}", now.total);

    let mut snapshots = Snapshotter::new(&shop).await?;
    let untouched = snapshots.snapshot().await?;
    let attempt = new_id();
    let (status, refused) = place(&shop, &session, &attempt, "EUR", Some(before.total)).await?;
    ensure!(status == 409 && refused["error"]["code"] == "conflict", "{status} {refused}");
    let want = format!(
        "The total changed since you opened checkout (prices or exchange rates moved): it is now {}, not {}. Please review your order and confirm again.",
        now.total.format(),
        before.total.format()
    );
    ensure!(refused["error"]["message"] == want.as_str(), "the message: {refused}\nexpected: {want}");
    // Another currency than the one the total was shown in is a different total, too.
    let dollars = shown(&shop, &lines, Currency::Usd).await?.total;
    let (status, other) = place(&shop, &session, &new_id(), "EUR", Some(dollars)).await?;
    ensure!(status == 409 && other["error"]["message"].as_str().is_some_and(|m| m.contains(&format!("not {}", dollars.format()))), "{status} {other}");
    // Bad values are 400 naming the field, before anything is asked.
    for (currency, expected, field) in [
        ("XXX", json!(null), "currency"),
        ("", json!(null), "currency"),
        ("EUR", json!({"minor": -1, "currency": "EUR"}), "expected_total.minor"),
        ("EUR", json!({"minor": 100, "currency": "EURO"}), "expected_total.currency"),
    ] {
        let mut req = place_request(&session, &new_id(), currency, None);
        req["expected_total"] = expected;
        let (status, bad) = shop.call_json("checkout", PLACE, req.to_string()).await?;
        ensure!(status == 400 && bad["error"]["fields"][0]["field"] == field, "{currency} {req}: {status} {bad}");
    }
    let after = snapshots.snapshot().await?;
    ensure!(after == untouched, "refusals changed the stores:\n{}", untouched.diff(&after));

    // The shopper confirms the total shown now: the order is placed, at the new rate.
    let (status, order) = place(&shop, &session, &attempt, "EUR", Some(now.total)).await?;
    ensure!(status == 200 && order["status"] == "Completed", "{status} {order}");
    ensure!(money(&order["total"])? == now.total, "{order}");
    let eur = order["rates"].as_array().into_iter().flatten().find(|r| r["currency"] == "EUR").context("the EUR rate")?;
    ensure!(PerUsd::parse(eur["per_usd"].as_str().unwrap_or_default())? == PerUsd::parse("0.95")?, "{eur}");
    ensure!(charge_of(&shop, order["order_id"].as_str().unwrap_or_default()).await?["amount"] == order["total"], "the charge");
    // No expected total (an API caller that showed none): the order is priced as it is now.
    let session = new_id();
    fill_cart(&shop, &session, &lines).await?;
    let (status, order) = place(&shop, &session, &new_id(), "EUR", None).await?;
    ensure!(status == 200 && money(&order["total"])? == now.total, "{status} {order}");
    Ok(())
}

/// An order as `get_order` answers it, and its session's `list_orders` page.
async fn read_order(shop: &Shop, session: &str, order_id: &str) -> Result<(Value, Value)> {
    let (status, one) = shop.call_json("checkout", GET, json!({"session": session, "order_id": order_id}).to_string()).await?;
    ensure!(status == 200, "get_order: {status} {one}");
    let (status, list) = shop.call_json("checkout", LIST, json!({"session": session, "limit": 10}).to_string()).await?;
    ensure!(status == 200, "list_orders: {status} {list}");
    Ok((one, list))
}

/// All `€…` amounts of a page, in order.
fn euro_amounts(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('€') {
        let tail = &rest[at + '€'.len_utf8()..];
        let end = tail.find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.')).unwrap_or(tail.len());
        out.push(format!("€{}", tail[..end].trim_end_matches('.')));
        rest = &tail[end..];
    }
    out
}

/// An order's numbers are read from its rows, never recomputed: after the rate and the catalog
/// price change, the API and the order page show exactly what they showed before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_numbers_never_change_when_rates_and_prices_do() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    let home = b.get("/").await?;
    ensure!(home.status == 200, "home: {}", home.status);
    let session = b.session().context("the shop set a session")?;
    fill_cart(&shop, &session, &[(MUG, 2)]).await?;
    let (status, order) = place(&shop, &session, &new_id(), "EUR", None).await?;
    ensure!(status == 200 && order["status"] == "Completed", "{status} {order}");
    let order_id = order["order_id"].as_str().context("an order id")?.to_string();
    let (one, list) = read_order(&shop, &session, &order_id).await?;
    let page = b.get(&format!("/order/{order_id}")).await?;
    ensure!(page.status == 200, "the order page: {} {}", page.status, page.body);
    let total = money(&order["total"])?.format();
    let unit = money(&order["lines"][0]["unit_price"])?.format();
    for want in [total.as_str(), unit.as_str(), "Paid in EUR at 1 USD = 0.92 EUR"] {
        ensure!(page.body.contains(want), "the order page does not show {want}");
    }
    let amounts = euro_amounts(&page.body);

    // The euro falls and the mug gets dearer.
    set_rate(&shop, "EUR", "0.5").await?;
    let (status, updated) = operator(
        &shop,
        "/api/catalog_admin/update_product",
        json!({"sku": MUG, "name": "Stoneware Coffee Mug", "description": "A hand-glazed 350 ml stoneware mug that keeps coffee warm. Dishwasher and microwave safe.",
               "price": {"minor": 9999, "currency": "USD"}, "category": "kitchen", "image": "mug-teal"}),
    )
    .await?;
    ensure!(status == 200, "update_product: {status} {updated}");
    let (status, catalog) = shop.call_json("products", "/api/catalog/get_products", json!({"skus": [MUG], "currency": "EUR", "recommendations": 0}).to_string()).await?;
    ensure!(status == 200 && catalog["products"][0]["display_price"] == json!({"minor": 5000, "currency": "EUR"}), "the catalog moved: {catalog}");

    let (one_after, list_after) = read_order(&shop, &session, &order_id).await?;
    ensure!(one_after == one, "get_order changed:\n{one}\n{one_after}");
    ensure!(list_after == list, "list_orders changed:\n{list}\n{list_after}");
    let page_after = b.get(&format!("/order/{order_id}")).await?;
    ensure!(page_after.status == 200, "the order page: {}", page_after.status);
    ensure!(euro_amounts(&page_after.body) == amounts, "the order page's amounts changed: {amounts:?} -> {:?}", euro_amounts(&page_after.body));
    ensure!(page_after.body.contains("Paid in EUR at 1 USD = 0.92 EUR") && !page_after.body.contains("0.5 EUR"), "the order page's rate changed");
    let stored: BTreeMap<String, i64> = shop
        .db()
        .await?
        .query("SELECT sku, catalog_unit_price_minor FROM order_lines WHERE order_id = $1", &[&order_id])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    ensure!(stored.get(MUG) == Some(&1299), "the catalog price at the time of purchase: {stored:?}");
    Ok(())
}

/// The whole journey through the shop's pages in yen: the picker, the cart, the checkout form
/// (which sends the total it showed), the order page and the email all in yen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_paying_in_yen_sees_yen_from_the_form_to_the_email() -> Result<()> {
    let shop = Shop::start().await?;
    let mut b = shop.browser();
    b.get("/").await?;
    let picked = b.get("/currency?code=JPY&next=/").await?;
    ensure!(picked.status == 303 && b.cookie("currency").as_deref() == Some("JPY"), "the picker: {} {:?}", picked.status, b.cookie("currency"));
    shop_e2e::reliability::add(&mut b, MUG, 2).await?;
    let form = b.get("/checkout").await?;
    ensure!(form.status == 200 && form.body.contains('¥'), "the checkout page in yen: {}", form.status);
    let attempt = shop_e2e::html::input_value(&form.body, "attempt").context("an attempt id")?;
    let hidden: Vec<(String, String)> = ["expected_total", "expected_currency", "expected_items", "expected_country"]
        .iter()
        .filter_map(|name| Some((name.to_string(), shop_e2e::html::input_value(&form.body, name)?)))
        .collect();
    ensure!(hidden.iter().any(|(k, v)| k == "expected_currency" && v == "JPY"), "the form names the total it showed: {hidden:?}");
    let mut fields: Vec<(String, String)> =
        shop_e2e::reliability::checkout_fields(GOOD_CARD, &attempt).iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    fields.extend(hidden);
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let placed = b.post("/checkout", &f).await?;
    ensure!(placed.status == 303, "checkout: {} {}", placed.status, placed.body);
    let order_id = shop_e2e::reliability::placed_order_id(&placed).context("an order")?;
    let session = b.session().context("a session")?;
    let (status, order) = shop.call_json("checkout", GET, json!({"session": session, "order_id": order_id}).to_string()).await?;
    ensure!(status == 200 && order["total"]["currency"] == "JPY", "{status} {order}");
    let total = money(&order["total"])?.format();
    let page = b.follow(&placed).await?;
    ensure!(page.body.contains(&total), "the order page shows {total}");
    ensure!(charge_of(&shop, &order_id).await?["amount"] == order["total"], "the charge is the yen total");
    let sent = outbox(&shop).await?;
    ensure!(sent.len() == 1 && sent[0]["text_body"].as_str().is_some_and(|t| t.contains(&total)), "the email shows {total}: {sent:?}");
    Ok(())
}

/// Orders stored before orders had currencies of their own (migration 0004) read back as they
/// were: the catalog price is the unit price, and no rates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_stored_before_currencies_reads_back_with_its_unit_price_as_catalog_price() -> Result<()> {
    let shop = Shop::start().await?;
    let session = new_id();
    let db = shop.db().await?;
    db.batch_execute(&format!(
        "INSERT INTO orders (order_id, session, attempt_id, status, email, ship_name, ship_street, ship_city, ship_postal_code, \
             ship_country, currency, subtotal_minor, shipping_minor, total_minor, transaction_id, tracking_id, email_sent) \
         VALUES ('ORD-0123456789AB', '{session}', 'old-attempt', 'completed', 'ada@example.com', 'Ada Lovelace', '12 Analytical Row', \
             'London', 'N1 9GU', 'GB', 'GBP', 2598, 1500, 4098, 'txn_00112233445566778899aabbccddeeff', 'TRK-0123456789AB', true); \
         INSERT INTO order_lines (order_id, line_no, sku, name, image, unit_price_minor, quantity, line_total_minor) \
         VALUES ('ORD-0123456789AB', 1, '{MUG}', 'Stoneware Coffee Mug', 'mug-teal', 1299, 2, 2598);"
    ))
    .await?;
    let (order, _) = read_order(&shop, &session, "ORD-0123456789AB").await?;
    let line = &order["lines"][0];
    ensure!(line["catalog_unit_price"] == json!({"minor": 1299, "currency": "GBP"}), "{order}");
    ensure!(line["unit_price"] == line["catalog_unit_price"] && order["rates"] == json!([]), "{order}");
    ensure!(order["total"] == json!({"minor": 4098, "currency": "GBP"}), "{order}");
    Ok(())
}
