//! Shopper accounts in carts and checkout, called the way the frontend calls them (service
//! chaining with the internal token), against real PostgreSQL and Redis: a guest cart merged
//! into the account's cart within the cart rules; a guest session's orders claimed by an account
//! (only the unowned ones, once); "your orders" of an account across sessions, newest first, in
//! cursor pages without duplicates or gaps (also when orders share a creation time); an order
//! found through its account from another session, but never by a stranger; and an order an
//! account owns is never read through a session alone (a claimed guest session reads nothing).
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{ensure, Context, Result};
use redis::AsyncCommands;
use serde_json::{json, Value};
use shop_e2e::reliability::{MUG, TEE};
use shop_e2e::Shop;

const MERGE: &str = "/api/carts/merge_cart";
const ADD: &str = "/api/carts/add_item";
const PLACE: &str = "/api/checkout/place_order";
const GET: &str = "/api/checkout/get_order";
const LIST: &str = "/api/checkout/list_orders";
const CLAIM: &str = "/api/checkout/claim_orders";

/// Calls an operation; its status and JSON answer.
async fn call(shop: &Shop, component: &str, path: &str, body: &Value) -> Result<(u16, Value)> {
    shop.call_json(component, path, body.to_string()).await
}

/// A new 32-hex id (a session, or an account id: they have the same shape).
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The cart key of an account, and the `session` of the orders placed while signed in (as the
/// frontend sends it): 64 hex digits, which no guest's 32-hex `sid` can be.
fn account_cart(account: &str) -> String {
    shop_domain::account::AccountId::parse(account).expect("an account id").cart_key().to_string()
}

fn cart_key(shop: &Shop, session: &str) -> String {
    format!("{}shop:cart:{session}", shop.redis_prefix)
}

async fn stored_cart(shop: &Shop, session: &str) -> Result<BTreeMap<String, String>> {
    Ok(shop.redis().await?.hgetall(cart_key(shop, session)).await?)
}

/// Places an order of one mug from `session` (its cart), for `account` when signed in.
async fn place(shop: &Shop, session: &str, account: Option<&str>) -> Result<Value> {
    let (status, cart) = call(shop, "carts", ADD, &json!({"session": session, "sku": MUG, "quantity": 1})).await?;
    ensure!(status == 200, "add_item: {status} {cart}");
    let req = json!({
        "session": session, "account_id": account, "attempt_id": format!("attempt-{}", new_id()),
        "email": "ada@example.com",
        "address": {"name": "Ada Lovelace", "street": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
        "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2035, "cvv": "123"},
        "currency": "USD",
    });
    let (status, order) = call(shop, "checkout", PLACE, &req).await?;
    ensure!(status == 200 && order["status"] == "Completed", "place_order: {status} {order}");
    ensure!(order["account_id"] == json!(account), "the order records its account: {order}");
    Ok(order)
}

fn id_of(order: &Value) -> String {
    order["order_id"].as_str().unwrap_or_default().to_string()
}

/// Every page of a list, following `next`; the order ids of each page.
async fn pages(shop: &Shop, session: &str, account: Option<&str>, limit: u32) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let req = json!({"session": session, "account_id": account, "before": before, "limit": limit});
        let (status, page) = call(shop, "checkout", LIST, &req).await?;
        ensure!(status == 200, "list_orders {req}: {status} {page}");
        let orders = page["orders"].as_array().context("orders")?;
        ensure!(orders.len() <= limit as usize, "a page over its limit: {page}");
        ensure!(orders.iter().all(|o| !o["lines"].as_array().is_some_and(Vec::is_empty)), "orders come with their lines");
        out.push(orders.iter().map(id_of).collect());
        match page["next"].as_str() {
            Some(next) => {
                ensure!(!orders.is_empty(), "a next cursor after an empty page: {page}");
                before = Some(next.to_string());
            }
            None => return Ok(out),
        }
        ensure!(out.len() <= 100, "paging does not end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_cart_adds_within_the_cart_rules_and_deletes_the_guest_cart() -> Result<()> {
    let shop = Shop::start().await?;
    let (guest, account) = (new_id(), new_id());
    let mut redis = shop.redis().await?;
    // The account's cart: 49 lines, one of them 60 mugs; the guest's: 60 more mugs, a line
    // already at 99 elsewhere, and three new lines of which only the first fits (line 50).
    let mut into: Vec<(String, u32)> = (0..48).map(|i| (format!("SKU-{i:02}"), 1)).collect();
    into.push((MUG.to_string(), 60));
    let _: () = redis.hset_multiple(cart_key(&shop, &account), &into).await?;
    let from = [(MUG, 60), ("SKU-00", 99), ("AAA-NEW-1", 2), ("AAA-NEW-2", 3), ("ZZZ-NEW-3", 4)];
    let _: () = redis.hset_multiple(cart_key(&shop, &guest), &from).await?;

    let (status, cart) = call(&shop, "carts", MERGE, &json!({"from": guest, "into": account})).await?;
    ensure!(status == 200, "merge_cart: {status} {cart}");
    let lines: BTreeMap<String, u64> = cart["lines"]
        .as_array()
        .context("lines")?
        .iter()
        .map(|l| (l["sku"].as_str().unwrap_or_default().to_string(), l["quantity"].as_u64().unwrap_or_default()))
        .collect();
    ensure!(cart["session"] == account.as_str(), "the answer is the account's cart: {cart}");
    ensure!(lines.len() == 50, "capped at 50 lines: {}", lines.len());
    ensure!(lines[MUG] == 99 && lines["SKU-00"] == 99, "quantities added, capped at 99: {lines:?}");
    ensure!(lines.get("AAA-NEW-1") == Some(&2), "the first new line fits: {lines:?}");
    ensure!(!lines.contains_key("AAA-NEW-2") && !lines.contains_key("ZZZ-NEW-3"), "lines past the 50th are dropped: {lines:?}");
    let skus: Vec<&String> = lines.keys().collect();
    ensure!(cart["lines"].as_array().is_some_and(|a| a.iter().map(|l| l["sku"].as_str().unwrap_or_default()).eq(skus.iter().map(|s| s.as_str()))), "sorted by SKU like get_cart");
    ensure!(cart["item_count"] == lines.values().sum::<u64>(), "item_count: {cart}");

    let stored = stored_cart(&shop, &account).await?;
    let stored: BTreeMap<String, u64> = stored.into_iter().map(|(k, v)| (k, v.parse().unwrap_or(0))).collect();
    ensure!(stored == lines, "stored as answered: {stored:?}");
    let exists: bool = redis.exists(cart_key(&shop, &guest)).await?;
    ensure!(!exists, "the guest cart is deleted");
    let ttl: i64 = redis.ttl(cart_key(&shop, &account)).await?;
    ensure!((600_000..=604_800).contains(&ttl), "the merged cart expires a week after the change: {ttl}");

    // Again (a retried sign-in): the guest cart is gone, so the account's cart stays as it is.
    let (status, again) = call(&shop, "carts", MERGE, &json!({"from": guest, "into": account})).await?;
    ensure!(status == 200 && again == cart, "a repeated merge: {status} {again}");
    // A real add then merge, through the catalog: the guest's line moves over whole.
    let other = new_id();
    let (status, _) = call(&shop, "carts", ADD, &json!({"session": other, "sku": TEE, "quantity": 3})).await?;
    ensure!(status == 200);
    let fresh = new_id();
    let (status, merged) = call(&shop, "carts", MERGE, &json!({"from": other, "into": fresh})).await?;
    ensure!(status == 200 && merged["lines"] == json!([{"sku": TEE, "quantity": 3}]) && merged["item_count"] == 3, "into an empty cart: {status} {merged}");

    // Refusals: the same cart, bad ids (each named), nothing changed.
    let before = stored_cart(&shop, &account).await?;
    let (status, refused) = call(&shop, "carts", MERGE, &json!({"from": account, "into": account.to_uppercase()})).await?;
    ensure!(status == 400 && refused["error"]["fields"][0]["field"] == "into", "merging a cart into itself: {status} {refused}");
    let (status, refused) = call(&shop, "carts", MERGE, &json!({"from": "x", "into": "../../y"})).await?;
    let fields: Vec<&str> = refused["error"]["fields"].as_array().into_iter().flatten().filter_map(|f| f["field"].as_str()).collect();
    ensure!(status == 400 && fields == ["from", "into"], "bad ids: {status} {refused}");
    ensure!(stored_cart(&shop, &account).await? == before, "a refusal changed the cart");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_orders_attaches_only_the_unowned_orders_of_that_session() -> Result<()> {
    let shop = Shop::start().await?;
    let (guest, elsewhere, account, other_account) = (new_id(), new_id(), new_id(), new_id());
    let guest_orders = [place(&shop, &guest, None).await?, place(&shop, &guest, None).await?];
    let owned = place(&shop, &guest, Some(&other_account)).await?;
    let unrelated = place(&shop, &elsewhere, None).await?;

    let (status, claimed) = call(&shop, "checkout", CLAIM, &json!({"session": guest, "account_id": account})).await?;
    ensure!(status == 200 && claimed == json!({"claimed": 2}), "claim: {status} {claimed}");
    let (status, again) = call(&shop, "checkout", CLAIM, &json!({"session": guest, "account_id": account})).await?;
    ensure!(status == 200 && again == json!({"claimed": 0}), "a repeated claim: {status} {again}");
    let (status, none) = call(&shop, "checkout", CLAIM, &json!({"session": new_id(), "account_id": account})).await?;
    ensure!(status == 200 && none == json!({"claimed": 0}), "a session without orders: {status} {none}");

    let rows = shop.db().await?.query("SELECT order_id, account_id FROM orders", &[]).await?;
    let owners: BTreeMap<String, Option<String>> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for o in &guest_orders {
        ensure!(owners[&id_of(o)].as_deref() == Some(account.as_str()), "a guest order was claimed: {owners:?}");
    }
    ensure!(owners[&id_of(&owned)].as_deref() == Some(other_account.as_str()), "an owned order keeps its account");
    ensure!(owners[&id_of(&unrelated)].is_none(), "another session's order is untouched");

    // The account now lists them from a new device; the claimed orders answer with it.
    let listed: Vec<String> = pages(&shop, &new_id(), Some(&account), 50).await?.concat();
    let mut want: Vec<String> = guest_orders.iter().map(id_of).collect();
    want.reverse();
    ensure!(listed == want, "the account's orders, newest first: {listed:?} vs {want:?}");
    let (status, order) = call(&shop, "checkout", GET, &json!({"session": new_id(), "account_id": account, "order_id": id_of(&guest_orders[0])})).await?;
    ensure!(status == 200 && order["account_id"] == account.as_str(), "a claimed order: {status} {order}");

    // The guest session they came from (whose id someone may have planted) reads them no more.
    let old_session: Vec<String> = pages(&shop, &guest, None, 50).await?.concat();
    ensure!(old_session.is_empty(), "the claimed session lists nothing: {old_session:?}");
    for o in guest_orders.iter().chain([&owned]) {
        let (status, answer) = call(&shop, "checkout", GET, &json!({"session": guest, "order_id": id_of(o)})).await?;
        ensure!(status == 404 && answer["error"]["code"] == "not_found", "an owned order by its old session: {status} {answer}");
    }
    let (status, order) = call(&shop, "checkout", GET, &json!({"session": guest, "account_id": account, "order_id": id_of(&guest_orders[1])})).await?;
    ensure!(status == 200 && order["account_id"] == account.as_str(), "through the account, from any session: {status} {order}");
    let (status, found) = call(&shop, "checkout", GET, &json!({"session": elsewhere, "order_id": id_of(&unrelated)})).await?;
    ensure!(status == 200 && found["account_id"].is_null(), "an unclaimed guest order is still its session's: {status} {found}");

    for bad in [json!({"session": "x", "account_id": account}), json!({"session": guest, "account_id": "nope"}), json!({"session": guest})] {
        let (status, refused) = call(&shop, "checkout", CLAIM, &bad).await?;
        ensure!(status == 400 && refused["error"]["code"] == "bad_request", "{bad}: {status} {refused}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_orders_are_listed_across_sessions_newest_first_in_pages() -> Result<()> {
    let shop = Shop::start().await?;
    let (phone, laptop, account) = (new_id(), new_id(), new_id());
    // Five orders of the account from two devices and its cart key (the `session` the frontend
    // sends when signed in; any session works), one guest order on the phone, one of another account.
    let cart = account_cart(&account);
    let mut placed = Vec::new();
    for session in [&phone, &laptop, &phone, &cart, &laptop] {
        placed.push(id_of(&place(&shop, session, Some(&account)).await?));
    }
    let guest_order = id_of(&place(&shop, &phone, None).await?);
    let stranger = id_of(&place(&shop, &new_id(), Some(&new_id())).await?);
    let newest_first: Vec<String> = placed.iter().rev().cloned().collect();

    let paged = pages(&shop, &new_id(), Some(&account), 2).await?;
    ensure!(paged.iter().map(Vec::len).collect::<Vec<_>>() == [2, 2, 1], "3 pages of 2, 2, 1: {paged:?}");
    ensure!(paged.concat() == newest_first, "no duplicates, no gaps, newest first: {paged:?} vs {newest_first:?}");
    ensure!(pages(&shop, &laptop, Some(&account), 50).await? == [newest_first.clone()], "one page holds them all");
    ensure!(pages(&shop, &new_id(), Some(&account), 5).await? == [newest_first.clone()], "exactly a page: no empty page after it");

    // Without the account: only the session's orders that no account owns (the phone's guest order).
    let phone_orders = pages(&shop, &phone, None, 50).await?.concat();
    ensure!(phone_orders == [guest_order.clone()], "the phone's guest orders: {phone_orders:?}");
    ensure!(pages(&shop, &cart, None, 50).await?.concat().is_empty(), "the cart key alone reads no order of the account");
    ensure!(!pages(&shop, &new_id(), Some(&account), 50).await?.concat().contains(&stranger), "another account's order is not listed");

    // Orders created at the same instant page exactly too (ties are broken by order number).
    shop.db().await?.execute("UPDATE orders SET created_at = '2030-01-01T00:00:00.123456Z' WHERE account_id = $1", &[&account]).await?;
    let tied = pages(&shop, &new_id(), Some(&account), 2).await?;
    let mut all = tied.concat();
    ensure!(tied.len() == 3 && all.len() == 5, "5 tied orders in 3 pages: {tied:?}");
    ensure!(all.windows(2).all(|w| w[0] > w[1]), "ties newest first by order number: {all:?}");
    all.sort();
    let mut want = placed.clone();
    want.sort();
    ensure!(all == want, "every tied order once: {all:?}");

    // Refusals: a cursor that is not one, limits outside 1..=50, a bad account id.
    let base = json!({"session": phone, "account_id": account, "limit": 2});
    for (field, value) in [
        ("before", json!("garbage")),
        ("before", json!(format!("1.{}", placed[0].to_lowercase()))),
        ("before", json!("-1.ORD-0123456789AB")),
        ("before", json!("")),
        ("limit", json!(0)),
        ("limit", json!(51)),
        ("account_id", json!("not-an-account")),
    ] {
        let mut req = base.clone();
        req[field] = value;
        let (status, refused) = call(&shop, "checkout", LIST, &req).await?;
        let fields: BTreeSet<&str> = refused["error"]["fields"].as_array().into_iter().flatten().filter_map(|f| f["field"].as_str()).collect();
        ensure!(status == 400 && fields == BTreeSet::from([field]), "{req}: {status} {refused}");
    }
    let (status, refused) = call(&shop, "checkout", LIST, &json!({"session": phone})).await?;
    ensure!(status == 400, "a list without a limit: {status} {refused}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_found_through_its_account_but_not_by_a_stranger() -> Result<()> {
    let shop = Shop::start().await?;
    let (laptop, account) = (new_id(), new_id());
    let cart = account_cart(&account);
    let order = place(&shop, &cart, Some(&account)).await?;
    ensure!(order["session"] == cart.as_str(), "placed signed in, from the account's cart: {order}");
    let id = id_of(&order);
    let get = |session: &str, account: Option<&str>| json!({"session": session, "account_id": account, "order_id": id});

    let (status, found) = call(&shop, "checkout", GET, &get(&cart, Some(&account))).await?;
    ensure!(status == 200 && found == order, "signed in: {status} {found}");
    let (status, found) = call(&shop, "checkout", GET, &get(&laptop, Some(&account))).await?;
    ensure!(status == 200 && found == order, "from another session, through the account: {status} {found}");
    for (who, req) in [
        ("its own session, no account", get(&cart, None)),
        ("another session, no account", get(&laptop, None)),
        ("another session, another account", get(&laptop, Some(&new_id()))),
        ("another account's own session", get(&new_id(), Some(&new_id()))),
    ] {
        let (status, answer) = call(&shop, "checkout", GET, &req).await?;
        ensure!(status == 404 && answer["error"]["code"] == "not_found", "{who}: {status} {answer}");
    }
    let (status, refused) = call(&shop, "checkout", GET, &get(&laptop, Some("nope"))).await?;
    ensure!(status == 400 && refused["error"]["fields"][0]["field"] == "account_id", "a bad account id: {status} {refused}");
    Ok(())
}
