//! payment's `settle` and email's `send_failure_notice`, called directly the way checkout's
//! reconciler calls them (in-process service chaining with the internal token), against real
//! Redis: a closed key refuses every later charge, a charged key is settled as that charge, a
//! settle racing a charge never contradicts it, and a failed order gets one notice saying
//! whether money moved.
//!
//! And carts' Lua scripts against real Redis: `remove_lines` takes an order's quantities out
//! (a line partly, a line wholly, an absent SKU skipped, a line added meanwhile kept);
//! `add_item` keeps the 99-per-line, 50-line and stock rules exactly under concurrent adds and
//! repairs a damaged line; `set_quantity`, `remove_item` and `merge_cart` as before.
use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use redis::AsyncCommands;
use serde_json::{json, Value};
use shop_e2e::reliability::{MUG, TEE};
use shop_e2e::Shop;

const CHARGE: &str = "/api/payment/charge";
const SETTLE: &str = "/api/payment/settle";
const NOTICE: &str = "/api/email/send_failure_notice";
const CONFIRM: &str = "/api/email/send_confirmation";
const OUTBOX: &str = "/api/email/list_outbox";

/// Calls an operation; its status and JSON answer.
async fn call(shop: &Shop, component: &str, path: &str, body: &Value) -> Result<(u16, Value)> {
    shop.call_json(component, path, body.to_string()).await
}

fn charge_request(key: &str) -> Value {
    json!({
        "idempotency_key": key,
        "amount": {"minor": 4598, "currency": "USD"},
        "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"},
    })
}

fn fresh_key() -> String {
    format!("order-{}", uuid::Uuid::new_v4().simple())
}

/// The raw `charge:<key>` record, if any.
async fn key_record(shop: &Shop, key: &str) -> Result<Option<Value>> {
    let raw: Option<String> = shop.redis().await?.get(format!("{}shop:charge:{key}", shop.redis_prefix)).await?;
    raw.map(|r| serde_json::from_str(&r).context("a JSON record")).transpose()
}

async fn transactions(shop: &Shop) -> Result<Vec<String>> {
    let prefix = format!("{}shop:txn:", shop.redis_prefix);
    let keys: Vec<String> = shop.redis().await?.keys(format!("{prefix}*")).await?;
    Ok(keys.into_iter().map(|k| k[prefix.len()..].to_string()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_closes_an_unknown_key_and_a_later_charge_is_refused() -> Result<()> {
    let shop = Shop::start().await?;
    let key = fresh_key();
    let (status, settled) = call(&shop, "payment", SETTLE, &json!({"idempotency_key": key})).await?;
    ensure!(status == 200 && settled == json!({"charged": null}), "settle of an unknown key: {status} {settled}");
    let record = key_record(&shop, &key).await?.context("settle stored nothing")?;
    ensure!(record["closed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "the closed marker: {record}");
    let ttl: i64 = shop.redis().await?.ttl(format!("{}shop:charge:{key}", shop.redis_prefix)).await?;
    ensure!((2_591_000..=2_592_000).contains(&ttl), "the closed key lives as long as a charge key (30 days): {ttl}");

    let (status, refused) = call(&shop, "payment", CHARGE, &charge_request(&key)).await?;
    ensure!(status == 409 && refused["error"]["code"] == "conflict", "a charge with a closed key: {status} {refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    ensure!(message.contains("nothing was charged"), "the refusal in words: {message}");
    ensure!(transactions(&shop).await?.is_empty(), "a refused charge left a transaction");
    ensure!(key_record(&shop, &key).await? == Some(record.clone()), "the closed marker changed");

    // Settling again answers the same; the key stays closed.
    let (status, again) = call(&shop, "payment", SETTLE, &json!({"idempotency_key": key})).await?;
    ensure!(status == 200 && again == json!({"charged": null}), "a repeated settle: {status} {again}");
    ensure!(key_record(&shop, &key).await? == Some(record), "a repeated settle rewrote the marker");
    // Other keys charge as before.
    let (status, receipt) = call(&shop, "payment", CHARGE, &charge_request(&fresh_key())).await?;
    ensure!(status == 200, "a charge with another key: {status} {receipt}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_after_a_charge_returns_that_receipt_every_time() -> Result<()> {
    let shop = Shop::start().await?;
    let key = fresh_key();
    let (status, receipt) = call(&shop, "payment", CHARGE, &charge_request(&key)).await?;
    ensure!(status == 200, "charge: {status} {receipt}");
    let id = receipt["transaction_id"].as_str().context("a transaction id")?.to_string();
    for round in 0..2 {
        let (status, settled) = call(&shop, "payment", SETTLE, &json!({"idempotency_key": key})).await?;
        ensure!(status == 200 && settled["charged"] == receipt, "settle #{round}: {status} {settled}, charged {receipt}");
    }
    // A lost transaction record is healed, as a replayed charge heals it, so the charge stays refundable.
    let _: () = shop.redis().await?.del(format!("{}shop:txn:{id}", shop.redis_prefix)).await?;
    let (status, settled) = call(&shop, "payment", SETTLE, &json!({"idempotency_key": key})).await?;
    ensure!(status == 200 && settled["charged"]["transaction_id"] == id.as_str(), "settle: {status} {settled}");
    ensure!(transactions(&shop).await? == vec![id.clone()], "the transaction record is back");
    let (status, refund) =
        call(&shop, "payment", "/api/payment/refund", &json!({"transaction_id": id, "reason": "reconciled"})).await?;
    ensure!(status == 200 && refund["amount"] == receipt["amount"], "refund after settle: {status} {refund}");
    // A repeated charge still answers the receipt.
    let (status, replay) = call(&shop, "payment", CHARGE, &charge_request(&key)).await?;
    ensure!(status == 200 && replay == receipt, "a repeated charge: {status} {replay}");
    Ok(())
}

/// A settle and a charge on the same fresh key, at once, many times over: each pair ends one of
/// two ways: charged, and settle answers that charge; or closed, and the charge is refused with
/// nothing charged. Never a charge that settle reported absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_settle_and_charge_end_consistently() -> Result<()> {
    let shop = Arc::new(Shop::start().await?);
    let (mut charged, mut closed) = (0, 0);
    let mut kept = Vec::new();
    for round in 0..40 {
        let key = fresh_key();
        let settle = {
            let (shop, key) = (shop.clone(), key.clone());
            tokio::spawn(async move { call(&shop, "payment", SETTLE, &json!({"idempotency_key": key})).await })
        };
        let charge = {
            let (shop, key) = (shop.clone(), key.clone());
            tokio::spawn(async move { call(&shop, "payment", CHARGE, &charge_request(&key)).await })
        };
        // Alternate which one is awaited first (both run already).
        let ((s_status, settled), (c_status, receipt)) = if round % 2 == 0 {
            let s = settle.await??;
            (s, charge.await??)
        } else {
            let c = charge.await??;
            (settle.await??, c)
        };
        ensure!(s_status == 200, "round {round}: settle answered {s_status} {settled}");
        match (c_status, settled["charged"].is_null()) {
            (200, false) => {
                ensure!(settled["charged"] == receipt, "round {round}: settle {settled} is not the charge {receipt}");
                kept.push(receipt["transaction_id"].as_str().context("an id")?.to_string());
                charged += 1;
            }
            (409, true) => {
                ensure!(receipt["error"]["code"] == "conflict", "round {round}: {receipt}");
                ensure!(key_record(&shop, &key).await?.is_some_and(|r| r["closed_at"].is_string()), "round {round}: not closed");
                closed += 1;
            }
            _ => anyhow::bail!("round {round}: inconsistent: charge {c_status} {receipt}, settle {settled}"),
        }
        // Whatever happened, a later settle agrees with it.
        let (_, later) = call(&shop, "payment", SETTLE, &json!({"idempotency_key": key})).await?;
        ensure!(later == settled, "round {round}: a later settle {later} disagrees with {settled}");
    }
    let mut stored = transactions(&shop).await?;
    stored.sort();
    kept.sort();
    ensure!(stored == kept, "the transactions are exactly the charges that were answered: {stored:?} vs {kept:?}");
    println!("{charged} charged first, {closed} closed first");
    Ok(())
}

fn failed_order(order_id: &str, transaction_id: Option<&str>, failure: Option<&str>) -> Value {
    let address = json!({"name": "Ada <b>Lovelace</b>", "street": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"});
    let unit = json!({"minor": 1999, "currency": "USD"});
    json!({
        "order_id": order_id, "session": "0123456789abcdef0123456789abcdef", "status": "Failed", "email": "ada@example.com",
        "address": address,
        "lines": [{"sku": MUG, "name": "Teal <Mug>", "image": "mug-teal", "unit_price": unit, "quantity": 2, "line_total": {"minor": 3998, "currency": "USD"}, "catalog_unit_price": unit}],
        "subtotal": {"minor": 3998, "currency": "USD"}, "shipping": {"minor": 600, "currency": "USD"}, "total": {"minor": 4598, "currency": "USD"},
        "transaction_id": transaction_id, "tracking_id": null, "failure": failure,
        "created_at": "2030-01-01T00:00:00Z", "email_sent": false, "rates": []
    })
}

async fn outbox(shop: &Shop) -> Result<Vec<Value>> {
    let (status, answer) = call(shop, "email", OUTBOX, &json!({"limit": 100})).await?;
    ensure!(status == 200, "list_outbox: {status} {answer}");
    Ok(answer["messages"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_notice_says_whether_money_moved_and_is_sent_once() -> Result<()> {
    let shop = Shop::start().await?;
    let refunded = failed_order("ORD-0123456789AB", Some("txn_0123456789abcdef0123456789abcdef"), Some("Shipping is down & out"));
    let unpaid = failed_order("ORD-0123456789AC", None, None);

    let (status, first) = call(&shop, "email", NOTICE, &json!({"order": refunded})).await?;
    ensure!(status == 200, "notice with a refund: {status} {first}");
    ensure!(first["to"] == "ada@example.com", "{first}");
    ensure!(first["subject"] == "We could not complete your order ORD-0123456789AB", "{first}");
    for body in ["text_body", "html_body"] {
        let text = first[body].as_str().unwrap_or_default();
        ensure!(text.contains("Your payment of $45.98 was refunded."), "{body}: {text}");
        ensure!(!text.contains("not charged") && text.contains("ORD-0123456789AB"), "{body}: {text}");
    }
    ensure!(first["text_body"].as_str().is_some_and(|t| t.contains("2 x Teal <Mug> ($19.99 each): $39.98")), "{first}");
    ensure!(first["text_body"].as_str().is_some_and(|t| t.contains("Shipping is down & out")), "the failure reason: {first}");
    let html = first["html_body"].as_str().unwrap_or_default();
    ensure!(html.contains("Teal &lt;Mug&gt;") && !html.contains("<Mug>"), "escaped: {html}");
    ensure!(html.contains("Shipping is down &amp; out"), "the reason, escaped: {html}");

    let (status, other) = call(&shop, "email", NOTICE, &json!({"order": unpaid})).await?;
    ensure!(status == 200, "notice without a charge: {status} {other}");
    for body in ["text_body", "html_body"] {
        let text = other[body].as_str().unwrap_or_default();
        ensure!(text.contains("You were not charged.") && !text.contains("refunded"), "{body}: {text}");
    }

    // Once per order: a repeat, and a confirmation after the notice, answer the first email.
    let (status, repeat) = call(&shop, "email", NOTICE, &json!({"order": refunded})).await?;
    ensure!(status == 200 && repeat == first, "a repeated notice: {status} {repeat}");
    let mut completed = refunded.clone();
    completed["status"] = json!("Completed");
    let (status, confirmation) = call(&shop, "email", CONFIRM, &json!({"order": completed})).await?;
    ensure!(status == 200 && confirmation == first, "a confirmation after the notice: {status} {confirmation}");
    let sent = outbox(&shop).await?;
    ensure!(sent.len() == 2, "one email per order in the outbox: {sent:?}");
    ensure!(sent.iter().filter(|m| m["message_id"] == first["message_id"]).count() == 1, "the notice once: {sent:?}");

    // Refusals send nothing: an order that did not fail (422), and bad fields (400, all named).
    for status_name in ["Pending", "Paid", "Completed"] {
        let mut order = failed_order("ORD-0123456789AD", None, None);
        order["status"] = json!(status_name);
        let (status, refused) = call(&shop, "email", NOTICE, &json!({"order": order})).await?;
        ensure!(status == 422 && refused["error"]["code"] == "unprocessable", "{status_name}: {status} {refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        ensure!(message.contains("failed order") && message.contains(&status_name.to_lowercase()), "{message}");
    }
    let mut bad = failed_order("nope", None, None);
    bad["email"] = json!("not-an-email");
    bad["lines"] = json!([]);
    bad["total"] = json!({"minor": 100, "currency": "XXX"});
    bad["address"]["city"] = json!("");
    let (status, refused) = call(&shop, "email", NOTICE, &json!({"order": bad})).await?;
    ensure!(status == 400 && refused["error"]["code"] == "bad_request", "bad input: {status} {refused}");
    let fields: Vec<&str> =
        refused["error"]["fields"].as_array().into_iter().flatten().filter_map(|f| f["field"].as_str()).collect();
    for want in ["order.order_id", "order.email", "order.lines", "order.total", "order.address.city"] {
        ensure!(fields.contains(&want), "{want} not named: {fields:?}");
    }
    ensure!(outbox(&shop).await?.len() == 2, "a refusal sent something");
    Ok(())
}

const ADD: &str = "/api/carts/add_item";
const GET_CART: &str = "/api/carts/get_cart";
const REMOVE_LINES: &str = "/api/carts/remove_lines";
const SET_QUANTITY: &str = "/api/carts/set_quantity";
const REMOVE_ITEM: &str = "/api/carts/remove_item";
const MERGE: &str = "/api/carts/merge_cart";
const BOTTLE: &str = "KIT-BOTTLE-SKY";
const CLOCK: &str = "OFF-CLOCK-TEAL";
/// Seeded with 3 units.
const STICKER: &str = "OFF-STICKER-CORAL";
/// Seeded sold out.
const LAMP: &str = "HOM-LAMP-AMBER";
const WEEK: i64 = 7 * 24 * 60 * 60;

fn new_session() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn cart_key(shop: &Shop, session: &str) -> String {
    format!("{}shop:cart:{session}", shop.redis_prefix)
}

async fn stored_cart(shop: &Shop, session: &str) -> Result<BTreeMap<String, String>> {
    Ok(shop.redis().await?.hgetall(cart_key(shop, session)).await?)
}

async fn cart_ttl(shop: &Shop, session: &str) -> Result<i64> {
    Ok(shop.redis().await?.ttl(cart_key(shop, session)).await?)
}

async fn add_item(shop: &Shop, session: &str, sku: &str, quantity: u32) -> Result<(u16, Value)> {
    call(shop, "carts", ADD, &json!({"session": session, "sku": sku, "quantity": quantity})).await
}

async fn remove_lines(shop: &Shop, session: &str, lines: &[(&str, u32)]) -> Result<(u16, Value)> {
    let lines: Vec<Value> = lines.iter().map(|(sku, q)| json!({"sku": sku, "quantity": q})).collect();
    call(shop, "carts", REMOVE_LINES, &json!({"session": session, "lines": lines})).await
}

/// `[(sku, quantity)]` of a cart answer.
fn lines_of(cart: &Value) -> Vec<(String, u64)> {
    cart["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| (l["sku"].as_str().unwrap_or_default().to_string(), l["quantity"].as_u64().unwrap_or(0)))
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(s, q)| (s.to_string(), *q)).collect()
}

fn stored(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_lines_takes_an_orders_quantities_out_and_keeps_the_rest() -> Result<()> {
    let shop = Shop::start().await?;
    let session = new_session();
    for (sku, quantity) in [(MUG, 5), (TEE, 2)] {
        let (status, cart) = add_item(&shop, &session, sku, quantity).await?;
        ensure!(status == 200, "add {sku}: {status} {cart}");
    }
    // What checkout ordered: 3 of the 5 mugs, both tees, and a clock the cart does not hold.
    let ordered = [(MUG, 3), (TEE, 2), (CLOCK, 1)];
    // Meanwhile the shopper adds a bottle, in another tab.
    let (status, cart) = add_item(&shop, &session, BOTTLE, 1).await?;
    ensure!(status == 200, "add the bottle: {status} {cart}");
    // The expiry is restarted by the removal: shorten it first to see that.
    let _: () = shop.redis().await?.expire(cart_key(&shop, &session), 60).await?;

    let (status, cart) = remove_lines(&shop, &session, &ordered).await?;
    ensure!(status == 200, "remove_lines: {status} {cart}");
    ensure!(cart["session"] == session.as_str(), "{cart}");
    // The mug partly (2 left), the tee wholly, the clock skipped, the bottle kept.
    ensure!(lines_of(&cart) == pairs(&[(BOTTLE, 1), (MUG, 2)]), "the cart after: {cart}");
    ensure!(cart["item_count"] == 3, "{cart}");
    ensure!(stored_cart(&shop, &session).await? == stored(&[(BOTTLE, "1"), (MUG, "2")]), "stored");
    let ttl = cart_ttl(&shop, &session).await?;
    ensure!((WEEK - 60..=WEEK).contains(&ttl), "the expiry restarts: {ttl}");
    let (status, read) = call(&shop, "carts", GET_CART, &json!({"session": session})).await?;
    ensure!(status == 200 && read == cart, "get_cart agrees: {read} vs {cart}");

    // More than the line holds takes the line; lower-case SKUs are the same products.
    let (status, cart) = remove_lines(&shop, &session, &[("kit-mug-teal", 5)]).await?;
    ensure!(status == 200 && lines_of(&cart) == pairs(&[(BOTTLE, 1)]), "{status} {cart}");
    // The last line: the cart is gone, and no empty key is left behind.
    let (status, cart) = remove_lines(&shop, &session, &[(BOTTLE, 1)]).await?;
    ensure!(status == 200 && lines_of(&cart).is_empty() && cart["item_count"] == 0, "{status} {cart}");
    let exists: bool = shop.redis().await?.exists(cart_key(&shop, &session)).await?;
    ensure!(!exists, "the emptied cart's key is deleted");
    // A cart that does not exist: an empty answer, nothing created; so for no lines at all.
    let other = new_session();
    for lines in [&[(MUG, 1)][..], &[][..]] {
        let (status, cart) = remove_lines(&shop, &other, lines).await?;
        ensure!(status == 200 && lines_of(&cart).is_empty(), "a missing cart: {status} {cart}");
    }
    let exists: bool = shop.redis().await?.exists(cart_key(&shop, &other)).await?;
    ensure!(!exists, "removing from a missing cart created it");
    Ok(())
}

/// With an order id, an order's lines leave the cart once, however often checkout (a retried or
/// doubled submission) or the reconciler asks: a mug added meanwhile is never taken too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_lines_of_one_order_happens_once() -> Result<()> {
    let shop = Shop::start().await?;
    let session = new_session();
    let (status, cart) = add_item(&shop, &session, MUG, 2).await?;
    ensure!(status == 200, "add: {status} {cart}");
    let req = json!({"session": session, "lines": [{"sku": MUG, "quantity": 1}], "order_id": "ORD-0123456789AB"});
    for round in 0..3 {
        let (status, cart) = call(&shop, "carts", REMOVE_LINES, &req).await?;
        ensure!(status == 200 && lines_of(&cart) == pairs(&[(MUG, 1)]), "round {round}: {status} {cart}");
    }
    // Another order takes its own lines.
    let other = json!({"session": session, "lines": [{"sku": MUG, "quantity": 1}], "order_id": "ORD-0123456789AC"});
    let (status, cart) = call(&shop, "carts", REMOVE_LINES, &other).await?;
    ensure!(status == 200 && lines_of(&cart).is_empty(), "another order: {status} {cart}");
    let bad = json!({"session": session, "lines": [], "order_id": "ORD-1"});
    let (status, answer) = call(&shop, "carts", REMOVE_LINES, &bad).await?;
    ensure!(status == 400 && answer["error"]["fields"][0]["field"] == "order_id", "{status} {answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_lines_refuses_bad_input_by_field_and_touches_nothing() -> Result<()> {
    let shop = Shop::start().await?;
    let session = new_session();
    let (status, _) = add_item(&shop, &session, MUG, 4).await?;
    ensure!(status == 200, "add: {status}");
    let before = stored_cart(&shop, &session).await?;
    let many: Vec<Value> = (0..51).map(|i| json!({"sku": format!("SKU-{i}"), "quantity": 1})).collect();
    let cases = [
        (json!({"session": "../x", "lines": [{"sku": MUG, "quantity": 1}]}), vec!["session"]),
        (json!({"session": session, "lines": [{"sku": MUG, "quantity": 0}, {"sku": "no way", "quantity": 1}, {"sku": TEE, "quantity": 100}]}),
            vec!["lines[0].quantity", "lines[1].sku", "lines[2].quantity"]),
        (json!({"session": session, "lines": many}), vec!["lines"]),
    ];
    for (body, want) in cases {
        let (status, refused) = call(&shop, "carts", REMOVE_LINES, &body).await?;
        ensure!(status == 400 && refused["error"]["code"] == "bad_request", "{status} {refused}");
        let fields: Vec<&str> = refused["error"]["fields"].as_array().into_iter().flatten().filter_map(|f| f["field"].as_str()).collect();
        ensure!(fields == want, "fields {fields:?}, wanted {want:?}: {refused}");
        ensure!(stored_cart(&shop, &session).await? == before, "a refusal changed the cart");
    }
    Ok(())
}

/// The add script against real Redis: the cart rules hold exactly, also for adds at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_item_keeps_the_cart_rules_exactly() -> Result<()> {
    let shop = Arc::new(Shop::start().await?);
    let session = new_session();
    let (status, cart) = add_item(&shop, &session, MUG, 98).await?;
    ensure!(status == 200 && lines_of(&cart) == pairs(&[(MUG, 98)]), "{status} {cart}");
    ensure!((WEEK - 5..=WEEK).contains(&cart_ttl(&shop, &session).await?), "an add sets the expiry");
    let (status, refused) = add_item(&shop, &session, MUG, 2).await?;
    ensure!(status == 422, "past 99: {status} {refused}");
    ensure!(
        refused["error"]["message"] == "You can have at most 99 of one item. You already have 98 of this item in your cart; you can add 1 more",
        "{refused}"
    );
    let (status, cart) = add_item(&shop, &session, MUG, 1).await?;
    ensure!(status == 200 && lines_of(&cart) == pairs(&[(MUG, 99)]), "{status} {cart}");

    // Stock: 3 stickers; none of the lamp.
    let (status, cart) = add_item(&shop, &session, STICKER, 2).await?;
    ensure!(status == 200 && cart["item_count"] == 101, "{status} {cart}");
    let (status, refused) = add_item(&shop, &session, STICKER, 2).await?;
    ensure!(status == 409 && refused["error"]["message"].as_str().is_some_and(|m| m.starts_with("Only 3 of ") && m.ends_with("you can have at most 3")), "{status} {refused}");
    let (status, refused) = add_item(&shop, &session, LAMP, 1).await?;
    ensure!(status == 409 && refused["error"]["message"].as_str().is_some_and(|m| m.ends_with("is sold out")), "{status} {refused}");
    ensure!(stored_cart(&shop, &session).await? == stored(&[(STICKER, "2"), (MUG, "99")]), "refusals wrote nothing");

    // Damaged lines: a value that is no quantity is replaced; one above 99 refuses more.
    let key = cart_key(&shop, &session);
    let _: () = shop.redis().await?.hset(&key, TEE, "lots").await?;
    let (status, cart) = add_item(&shop, &session, TEE, 2).await?;
    ensure!(status == 200 && lines_of(&cart).contains(&(TEE.to_string(), 2)), "repaired: {status} {cart}");
    let _: () = shop.redis().await?.hset(&key, TEE, "0").await?;
    let (status, cart) = add_item(&shop, &session, TEE, 3).await?;
    ensure!(status == 200 && lines_of(&cart).contains(&(TEE.to_string(), 3)), "repaired: {status} {cart}");
    let _: () = shop.redis().await?.hset(&key, TEE, "150").await?;
    let (status, refused) = add_item(&shop, &session, TEE, 1).await?;
    ensure!(status == 422 && refused["error"]["message"].as_str().is_some_and(|m| m.contains("maximum of 99")), "{status} {refused}");
    ensure!(stored_cart(&shop, &session).await?.get(TEE).map(String::as_str) == Some("150"), "a refusal wrote nothing");
    let _: () = shop.redis().await?.hdel(&key, TEE).await?;

    // 50 lines: a 51st is refused; adding to a line the cart holds still works.
    let full = new_session();
    let fake: Vec<(String, String)> = (0..49).map(|i| (format!("ZZZ-LINE-{i}"), "1".to_string())).collect();
    let _: () = shop.redis().await?.hset_multiple(cart_key(&shop, &full), &fake).await?;
    let (status, cart) = add_item(&shop, &full, MUG, 1).await?;
    ensure!(status == 200 && cart["lines"].as_array().map(Vec::len) == Some(50), "the 50th line: {status}");
    let (status, refused) = add_item(&shop, &full, TEE, 1).await?;
    ensure!(status == 422 && refused["error"]["message"] == "Your cart can hold at most 50 different items", "{status} {refused}");
    let (status, cart) = add_item(&shop, &full, MUG, 1).await?;
    ensure!(status == 200 && lines_of(&cart).contains(&(MUG.to_string(), 2)), "{status}");

    // At once: 12 adds of 10 tees to an empty line: exactly 9 fit (90), 3 are refused; and 20
    // adds of 1 bottle all count.
    let racing = new_session();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (shop, racing) = (shop.clone(), racing.clone());
        let (sku, quantity) = if i % 8 < 3 { (TEE, 10) } else { (BOTTLE, 1) };
        tasks.push(tokio::spawn(async move { add_item(&shop, &racing, sku, quantity).await.map(|(s, _)| (sku, s)) }));
    }
    let mut tally: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for t in tasks {
        *tally.entry(t.await??).or_default() += 1;
    }
    ensure!(tally == BTreeMap::from([((BOTTLE, 200), 20), ((TEE, 200), 9), ((TEE, 422), 3)]), "answers: {tally:?}");
    ensure!(stored_cart(&shop, &racing).await? == stored(&[(BOTTLE, "20"), (TEE, "90")]), "the racing cart");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_quantity_remove_item_and_merge_keep_their_answers() -> Result<()> {
    let shop = Shop::start().await?;
    let session = new_session();
    // A line that is not there: 404, and no cart is created.
    let (status, refused) = call(&shop, "carts", SET_QUANTITY, &json!({"session": session, "sku": MUG, "quantity": 3})).await?;
    ensure!(status == 404 && refused["error"]["message"] == format!("{MUG} is not in the cart; add it first"), "{status} {refused}");
    let exists: bool = shop.redis().await?.exists(cart_key(&shop, &session)).await?;
    ensure!(!exists, "a refused set_quantity created the cart");
    add_item(&shop, &session, MUG, 1).await?;
    add_item(&shop, &session, TEE, 1).await?;
    let _: () = shop.redis().await?.expire(cart_key(&shop, &session), 60).await?;
    let (status, cart) = call(&shop, "carts", SET_QUANTITY, &json!({"session": session, "sku": "kit-mug-teal", "quantity": 7})).await?;
    ensure!(status == 200 && lines_of(&cart) == pairs(&[(TEE, 1), (MUG, 7)]) && cart["item_count"] == 8, "{status} {cart}");
    ensure!(cart_ttl(&shop, &session).await? > 60, "set_quantity restarts the expiry");
    for _ in 0..2 {
        let (status, cart) = call(&shop, "carts", REMOVE_ITEM, &json!({"session": session, "sku": TEE})).await?;
        ensure!(status == 200 && lines_of(&cart) == pairs(&[(MUG, 7)]), "remove_item (idempotent): {status} {cart}");
    }

    // Merge: sums capped at 99, new lines added, the guest cart deleted, the expiry restarted.
    let guest = new_session();
    add_item(&shop, &guest, MUG, 95).await?;
    add_item(&shop, &guest, BOTTLE, 2).await?;
    let _: () = shop.redis().await?.expire(cart_key(&shop, &session), 60).await?;
    let (status, cart) = call(&shop, "carts", MERGE, &json!({"from": guest, "into": session})).await?;
    ensure!(status == 200 && lines_of(&cart) == pairs(&[(BOTTLE, 2), (MUG, 99)]), "merge: {status} {cart}");
    ensure!(stored_cart(&shop, &session).await? == stored(&[(BOTTLE, "2"), (MUG, "99")]), "stored after the merge");
    ensure!(cart_ttl(&shop, &session).await? > 60, "a merge restarts the expiry");
    let exists: bool = shop.redis().await?.exists(cart_key(&shop, &guest)).await?;
    ensure!(!exists, "the guest cart is deleted");
    // Merging a missing cart answers `into` as it is.
    let (status, again) = call(&shop, "carts", MERGE, &json!({"from": guest, "into": session})).await?;
    ensure!(status == 200 && again == cart, "{status} {again}");
    Ok(())
}
