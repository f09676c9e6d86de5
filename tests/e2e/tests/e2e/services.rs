//! payment's `settle` and email's `send_failure_notice`, called directly the way checkout's
//! reconciler calls them (in-process service chaining with the internal token), against real
//! Redis: a closed key refuses every later charge, a charged key is settled as that charge, a
//! settle racing a charge never contradicts it, and a failed order gets one notice saying
//! whether money moved.
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use redis::AsyncCommands;
use serde_json::{json, Value};
use shop_e2e::reliability::MUG;
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
