//! The cart operations. Input is parsed into shop-domain types first (400 naming every bad
//! field, nothing stored), then one Redis command runs (two to merge carts; see `store`);
//! every write restarts the cart's expiry.
use shop_contract::carts::{
    AddItemRequest, Cart, CartLine as LineOut, CartRef, MergeCartRequest, RemoveItemRequest,
    RemoveLinesRequest, SetQuantityRequest,
};
use shop_contract::catalog::{self, GetProductRequest};
use shop_contract::{ErrorCode, FieldError, Product, ShopError};
use shop_domain::cart::merge_lines;
use shop_domain::{CartError, CartLine, ErrorCollector, OrderId, Quantity, SessionId, Sku, MAX_LINES};
use shop_spin::rpc::Upstream;
use shop_spin::store::Commands;

use crate::lines::item_count;
use crate::store::{Added, CartStore};

pub async fn get_cart(req: CartRef) -> Result<Cart, ShopError> {
    let session = parse_session(&req.session)?;
    let store = CartStore::open(&session)?;
    Ok(reply(&session, store.lines()?))
}

/// Adds `quantity` of a product that exists in the catalog, merging with its line.
///
/// One Lua script (`store::scripts::ADD`) reads the line, checks the rules against it, writes
/// the new quantity and answers the cart, atomically: two concurrent adds both count (neither
/// overwrites the other), the line never goes above 99, and the 50-line limit is exact.
///
/// Stock: the line may not grow past the units the catalog says are left (409, "sold out" or
/// "only N left"). That check is advice to the shopper, read without a lock; checkout's
/// reservation is what guarantees nothing is oversold. `set_quantity` does not ask the catalog
/// (it would add a call to every change): the cart page shows a line over the stock, and
/// checkout refuses it.
pub async fn add_item(req: AddItemRequest) -> Result<Cart, ShopError> {
    let (session, sku, quantity) = parse_line(&req.session, &req.sku, req.quantity)?;
    let product = catalog_product(&sku).await?;
    add_to(&CartStore::open(&session)?, &session, &sku, quantity, &product)
}

/// The Redis part of [`add_item`]: one command.
fn add_to<R: Commands>(
    store: &CartStore<R>,
    session: &SessionId,
    sku: &Sku,
    quantity: Quantity,
    product: &Product,
) -> Result<Cart, ShopError> {
    match store.add(sku, quantity, product.stock)? {
        Added::Lines(lines) => Ok(reply(session, lines)),
        Added::Repaired(lines) => {
            // Not a usable quantity (e.g. left over from an interrupted compensation of older code).
            shop_spin::log::error(&format!(
                "cart line {sku} held an invalid quantity; replaced with {quantity}"
            ));
            Ok(reply(session, lines))
        }
        Added::ItemLimit(in_cart) => Err(Quantity::from_i64(in_cart).map_or_else(
            |_| item_limit_plain(),
            |in_cart| item_limit(CartError::ItemLimit { in_cart }),
        )),
        Added::ShortOfStock(wanted) => {
            let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
            ensure_in_stock(product, wanted)?;
            // The script and `check_available` apply the same rule; they cannot disagree.
            Err(ShopError::internal("The cart store and the catalog disagree on the stock"))
        }
        Added::TooManyLines => Err(ShopError::unprocessable(CartError::TooManyLines.to_string())),
    }
}

/// Sets the quantity (1..=99) of a line that is in the cart; 404 if it is not. One script
/// (`store::scripts::SET_QUANTITY`) checks and writes, so a line removed meanwhile stays removed.
pub async fn set_quantity(req: SetQuantityRequest) -> Result<Cart, ShopError> {
    let (session, sku, quantity) = parse_line(&req.session, &req.sku, req.quantity)?;
    let store = CartStore::open(&session)?;
    match store.set_existing(&sku, quantity)? {
        Some(lines) => Ok(reply(&session, lines)),
        None => Err(ShopError::not_found(format!(
            "{sku} is not in the cart; add it first"
        ))),
    }
}

/// Removes a line. Idempotent: removing a line that is not there answers 200 with the cart,
/// so a retried or double-clicked "remove" is not an error.
pub async fn remove_item(req: RemoveItemRequest) -> Result<Cart, ShopError> {
    let mut errors = ErrorCollector::new();
    let session = errors.check("session", SessionId::parse(&req.session));
    let sku = errors.check("sku", Sku::parse(&req.sku));
    let (Some(session), Some(sku)) = (session, sku) else {
        return Err(invalid(errors));
    };
    let store = CartStore::open(&session)?;
    Ok(reply(&session, store.remove(&sku)?))
}

/// Removes every line. Idempotent.
pub async fn empty_cart(req: CartRef) -> Result<Cart, ShopError> {
    let session = parse_session(&req.session)?;
    CartStore::open(&session)?.clear()?;
    Ok(reply(&session, Vec::new()))
}

/// Takes an order's quantities out of the cart, in one step (after an order is placed): each
/// named line goes down by its quantity and goes when none is left; SKUs the cart does not hold
/// are skipped; lines added meanwhile, and the rest of a line that held more, stay. One script
/// (`store::scripts::REMOVE_LINES`), whatever the number of lines. Answers the cart.
///
/// With an `order_id` it happens once per order (the script sets `cart-removed:<order>` first,
/// for as long as a cart lives): every request that finishes the order, and the reconciler, may
/// call it. Without one, a repeat takes the quantities again. A SKU named twice is taken twice,
/// as two calls would.
pub async fn remove_lines(req: RemoveLinesRequest) -> Result<Cart, ShopError> {
    let (session, lines, order) = parse_remove_lines(&req)?;
    let store = CartStore::open(&session)?;
    Ok(reply(&session, store.remove_lines(&lines, order.as_ref())?))
}

/// The session, lines and order of a `remove_lines` request: at most [`MAX_LINES`] lines, each a
/// SKU and a quantity of 1..=99, and an order number when given; every problem named
/// (`session`, `lines`, `lines[i].sku`, `lines[i].quantity`, `order_id`).
fn parse_remove_lines(req: &RemoveLinesRequest) -> Result<(SessionId, Vec<CartLine>, Option<OrderId>), ShopError> {
    let mut errors = ErrorCollector::new();
    let session = errors.check("session", SessionId::parse(&req.session));
    let order = match &req.order_id {
        Some(raw) => errors.check("order_id", OrderId::parse(raw)).map(Some),
        None => Some(None),
    };
    if req.lines.len() > MAX_LINES {
        errors.push(
            "lines",
            format!("A cart holds at most {MAX_LINES} lines; send at most {MAX_LINES}"),
        );
    }
    let mut lines = Vec::with_capacity(req.lines.len().min(MAX_LINES));
    for (i, line) in req.lines.iter().enumerate().take(MAX_LINES) {
        let sku = errors.check(&format!("lines[{i}].sku"), Sku::parse(&line.sku));
        let quantity = errors.check(&format!("lines[{i}].quantity"), Quantity::new(line.quantity));
        if let (Some(sku), Some(quantity)) = (sku, quantity) {
            lines.push(CartLine { sku, quantity });
        }
    }
    match (session, order) {
        (Some(session), Some(order)) if errors.is_empty() => Ok((session, lines, order)),
        _ => Err(invalid(errors)),
    }
}

/// Moves a guest cart (`from`) into a signed-in shopper's cart (`into`) and deletes it; answers
/// the merged cart. The rules are `shop_domain::cart::merge_lines`: quantities added and capped
/// at 99, and new lines that would take the cart past 50 lines are dropped (logged), so a
/// sign-in never fails over its cart. `from` = `into` is refused (400).
///
/// Two commands whatever the sizes: one script reads both carts, another writes every changed
/// line of `into` in one `HSET` with its `EXPIRE` and deletes `from`, atomically (a failure
/// leaves both carts as they were, and a repeated merge then does it all). The `HSET` writes
/// absolute quantities, so an `add_item` to `into` landing between the read and the write, on a
/// line the merge also changes, is overwritten: that needs the same account adding on another
/// device during this sign-in, and leaves a valid cart.
pub async fn merge_cart(req: MergeCartRequest) -> Result<Cart, ShopError> {
    let mut errors = ErrorCollector::new();
    let from = errors.check("from", SessionId::parse(&req.from));
    let into = errors.check("into", SessionId::parse(&req.into));
    let (Some(from), Some(into)) = (from, into) else {
        return Err(invalid(errors));
    };
    if from == into {
        return Err(ShopError::invalid_fields(vec![FieldError::new(
            "into",
            "A cart cannot be merged into itself",
        )]));
    }
    let target = CartStore::open(&into)?;
    merge_into(&target, &into, &target.sibling(&from))
}

/// The Redis part of [`merge_cart`]: two commands.
fn merge_into<R: Commands>(target: &CartStore<R>, into: &SessionId, guest: &CartStore<R>) -> Result<Cart, ShopError> {
    let (held, guest_lines) = target.lines_with(guest)?;
    let merged = merge_lines(&held, &guest_lines);
    if !merged.dropped.is_empty() {
        let skus: Vec<String> = merged.dropped.iter().map(|l| l.sku.to_string()).collect();
        shop_spin::log::info(&format!(
            "cart merge: the cart is full; left out {}",
            skus.join(", ")
        ));
    }
    target.merge_in(&merged.changed, guest)?;
    let mut lines = merged.lines;
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(reply(into, lines))
}

/// The catalog's product (404 unless it knows `sku`); other catalog failures pass through (e.g. 503).
async fn catalog_product(sku: &Sku) -> Result<Product, ShopError> {
    let products = Upstream::from_config("products")?;
    let req = GetProductRequest {
        sku: sku.to_string(),
        currency: None,
        recommendations: 0,
    };
    match products.call(catalog::ops::get_product, &req).await {
        Ok(details) => Ok(details.product),
        Err(e) if e.code == ErrorCode::NotFound => {
            Err(ShopError::not_found(format!("No product with SKU {sku}")))
        }
        Err(e) => Err(e),
    }
}

/// 409 when a line of `wanted` units would hold more than the catalog has left.
fn ensure_in_stock(product: &Product, wanted: u32) -> Result<(), ShopError> {
    shop_domain::stock::check_available(&product.name, wanted, product.stock).map_err(ShopError::conflict)
}

fn parse_session(raw: &str) -> Result<SessionId, ShopError> {
    let mut errors = ErrorCollector::new();
    errors
        .check("session", SessionId::parse(raw))
        .ok_or_else(|| invalid(errors))
}

/// The session, SKU and quantity of a request about one line, every problem at once.
fn parse_line(session: &str, sku: &str, quantity: u32) -> Result<(SessionId, Sku, Quantity), ShopError> {
    let mut errors = ErrorCollector::new();
    let session = errors.check("session", SessionId::parse(session));
    let sku = errors.check("sku", Sku::parse(sku));
    let quantity = errors.check("quantity", Quantity::new(quantity));
    match (session, sku, quantity) {
        (Some(session), Some(sku), Some(quantity)) => Ok((session, sku, quantity)),
        _ => Err(invalid(errors)),
    }
}

fn invalid(errors: ErrorCollector) -> ShopError {
    shop_spin::wire::invalid_fields(errors.into_errors())
}

fn item_limit(e: CartError) -> ShopError {
    ShopError::unprocessable(format!(
        "You can have at most {} of one item. {e}",
        Quantity::MAX_VALUE
    ))
}

fn item_limit_plain() -> ShopError {
    ShopError::unprocessable(format!(
        "You can have at most {} of one item",
        Quantity::MAX_VALUE
    ))
}

fn reply(session: &SessionId, lines: Vec<CartLine>) -> Cart {
    Cart {
        session: session.to_string(),
        item_count: item_count(&lines),
        lines: lines
            .into_iter()
            .map(|l| LineOut {
                sku: l.sku.to_string(),
                quantity: l.quantity.get(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_contract::carts::CartLine as LineIn;
    use shop_contract::Money;
    use shop_spin::store::Recorder;
    use spin_sdk::redis::RedisResult;
    use std::rc::Rc;

    const SESSION: &str = "0123456789abcdef0123456789abcdef";

    fn bin(s: &str) -> RedisResult {
        RedisResult::Binary(s.as_bytes().to_vec())
    }

    fn mug(stock: u32) -> Product {
        let price = Money { minor: 1999, currency: "USD".into() };
        Product {
            sku: "KIT-MUG-TEAL".into(),
            name: "Stoneware Coffee Mug".into(),
            description: String::new(),
            price: price.clone(),
            display_price: price,
            category: "kitchen".into(),
            image: "mug-teal".into(),
            stock,
        }
    }

    fn add(reply: Vec<RedisResult>, quantity: u32, stock: u32) -> (Result<Cart, ShopError>, Vec<String>) {
        let redis = Rc::new(Recorder::new(vec![reply]));
        let session = SessionId::parse(SESSION).unwrap();
        let store = CartStore::at(Rc::clone(&redis), &session);
        let sku = Sku::parse("KIT-MUG-TEAL").unwrap();
        let result = add_to(&store, &session, &sku, Quantity::new(quantity).unwrap(), &mug(stock));
        assert!(redis.is_done());
        (result, redis.commands())
    }

    /// The number of Redis commands of an add is part of its contract (issue 16): one.
    #[test]
    fn an_add_is_one_redis_command_whatever_it_answers() {
        let (cart, commands) = add(vec![RedisResult::Int64(0), bin("KIT-MUG-TEAL"), bin("3"), bin("APP-TEE-TEAL"), bin("1")], 2, 10);
        let cart = cart.unwrap();
        assert_eq!(commands, ["EVAL"]);
        assert_eq!(cart.item_count, 4);
        assert_eq!(cart.lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect::<Vec<_>>(), [("APP-TEE-TEAL", 1), ("KIT-MUG-TEAL", 3)]);

        let (repaired, commands) = add(vec![RedisResult::Int64(4), bin("KIT-MUG-TEAL"), bin("2")], 2, 10);
        assert_eq!((repaired.unwrap().item_count, commands), (2, vec!["EVAL".to_string()]));
    }

    #[test]
    fn an_adds_refusals_are_worded_as_before() {
        let (e, commands) = add(vec![RedisResult::Int64(1), RedisResult::Int64(98)], 2, 500);
        let e = e.unwrap_err();
        assert_eq!(commands, ["EVAL"]);
        assert_eq!(e.code, ErrorCode::Unprocessable);
        assert_eq!(e.message, "You can have at most 99 of one item. You already have 98 of this item in your cart; you can add 1 more");
        let e = add(vec![RedisResult::Int64(1), RedisResult::Int64(99)], 1, 500).0.unwrap_err();
        assert_eq!(e.message, "You can have at most 99 of one item. You already have the maximum of 99 of this item in your cart");

        let e = add(vec![RedisResult::Int64(2), RedisResult::Int64(5)], 2, 3).0.unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Conflict, "Only 3 of Stoneware Coffee Mug left: you can have at most 3"));
        let e = add(vec![RedisResult::Int64(2), RedisResult::Int64(1)], 1, 0).0.unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Conflict, "Stoneware Coffee Mug is sold out"));
        // A stock refusal the catalog's numbers do not back is a bug, not a 409.
        let e = add(vec![RedisResult::Int64(2), RedisResult::Int64(1)], 1, 5).0.unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal);

        let e = add(vec![RedisResult::Int64(3)], 1, 5).0.unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Unprocessable, "Your cart can hold at most 50 different items"));
    }

    #[test]
    fn a_merge_is_two_redis_commands() {
        // The read answers `into`'s entry count (one pair: 2), its pairs, then `from`'s.
        let read = vec![RedisResult::Int64(2), bin("KIT-MUG-TEAL"), bin("98"), bin("KIT-MUG-TEAL"), bin("5"), bin("APP-TEE-TEAL"), bin("1")];
        let redis = Rc::new(Recorder::new(vec![read, vec![RedisResult::Int64(1)]]));
        let into = SessionId::parse(SESSION).unwrap();
        let target = CartStore::at(Rc::clone(&redis), &into);
        let guest = target.sibling(&SessionId::parse(&"f".repeat(32)).unwrap());
        let cart = merge_into(&target, &into, &guest).unwrap();
        assert_eq!(redis.commands(), ["EVAL", "EVAL"]);
        assert_eq!(cart.lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect::<Vec<_>>(), [("APP-TEE-TEAL", 1), ("KIT-MUG-TEAL", 99)]);
        let write = &redis.calls()[1];
        assert_eq!(write[5..], ["604800", "KIT-MUG-TEAL", "99", "APP-TEE-TEAL", "1"]);
    }

    #[test]
    fn remove_lines_names_every_bad_field() {
        let req = |session: &str, lines: &[(&str, u32)]| RemoveLinesRequest {
            session: session.into(),
            lines: lines.iter().map(|(s, q)| LineIn { sku: s.to_string(), quantity: *q }).collect(),
            order_id: None,
        };
        let fields = |r: &RemoveLinesRequest| -> Vec<String> {
            let e = parse_remove_lines(r).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadRequest);
            e.fields.into_iter().map(|f| f.field).collect()
        };
        let (session, lines, order) = parse_remove_lines(&req(SESSION, &[(" kit-mug-teal ", 2), ("APP-TEE-TEAL", 99)])).unwrap();
        assert_eq!(order, None);
        assert_eq!(session.as_str(), SESSION);
        assert_eq!(lines.iter().map(|l| (l.sku.as_str(), l.quantity.get())).collect::<Vec<_>>(), [("KIT-MUG-TEAL", 2), ("APP-TEE-TEAL", 99)]);
        assert!(parse_remove_lines(&req(SESSION, &[])).unwrap().1.is_empty(), "nothing to take is no error");
        assert_eq!(
            fields(&req("../x", &[("KIT-MUG-TEAL", 0), ("no way", 1), ("x", 100)])),
            ["session", "lines[0].quantity", "lines[1].sku", "lines[2].sku", "lines[2].quantity"]
        );
        let many: Vec<(String, u32)> = (0..51).map(|i| (format!("SKU-{i}"), 1)).collect();
        let many: Vec<(&str, u32)> = many.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        assert_eq!(fields(&req(SESSION, &many)), ["lines"]);
        assert_eq!(parse_remove_lines(&req(SESSION, &many[..50])).unwrap().1.len(), 50);
        let with_order = |order: &str| RemoveLinesRequest { order_id: Some(order.into()), ..req(SESSION, &[("KIT-MUG-TEAL", 1)]) };
        assert_eq!(parse_remove_lines(&with_order("ORD-0123456789AB")).unwrap().2.map(|o| o.to_string()).as_deref(), Some("ORD-0123456789AB"));
        assert_eq!(fields(&with_order("../x")), ["order_id"]);
    }
}
