//! The cart operations. Input is parsed into shop-domain types first (400 naming every bad
//! field, nothing stored), then a fixed handful of Redis commands runs; every write restarts
//! the cart's expiry.
use shop_contract::carts::{
    AddItemRequest, Cart, CartLine as LineOut, CartRef, MergeCartRequest, RemoveItemRequest,
    SetQuantityRequest,
};
use shop_contract::catalog::{self, GetProductRequest};
use shop_contract::{ErrorCode, FieldError, Product, ShopError};
use shop_domain::cart::{combine_quantities, merge_lines};
use shop_domain::{CartError, CartLine, ErrorCollector, Quantity, SessionId, Sku, MAX_LINES};
use shop_spin::rpc::Upstream;

use crate::lines::{item_count, Stored};
use crate::store::CartStore;

pub async fn get_cart(req: CartRef) -> Result<Cart, ShopError> {
    let session = parse_session(&req.session)?;
    let store = CartStore::open(&session)?;
    Ok(reply(&session, store.lines()?))
}

/// Adds `quantity` of a product that exists in the catalog, merging with its line.
///
/// Concurrency: the increment itself is one `HINCRBY`, which Redis applies atomically, so two
/// concurrent adds both count and neither overwrites the other (a read-modify-`HSET` would lose
/// one). The 99 limit is first checked against the stored quantity (`HGET`), so the usual
/// refusal writes nothing. Only when a concurrent add slipped in between does the increment
/// overshoot; it is then undone with `HINCRBY -quantity`, again a relative atomic change that
/// removes exactly what this request added and leaves the other request's addition intact. The
/// line never stays above 99; the worst case is that, for that instant, a racing add is also
/// refused, which errs on the safe side.
///
/// The line limit is checked before a new line is created (`HGET` says absent, then `HLEN`);
/// two simultaneous adds of different new products to a full cart can both pass that check, so
/// one session's racing requests may exceed [`MAX_LINES`] by a line or two. Reads tolerate that.
///
/// Stock: the line may not grow past the units the catalog says are left (409, "sold out" or
/// "only N left"). That check is advice to the shopper, read without a lock; checkout's
/// reservation is what guarantees nothing is oversold. `set_quantity` does not ask the catalog
/// (it would add a call to every change): the cart page shows a line over the stock, and
/// checkout refuses it.
pub async fn add_item(req: AddItemRequest) -> Result<Cart, ShopError> {
    let (session, sku, quantity) = parse_line(&req.session, &req.sku, req.quantity)?;
    let product = catalog_product(&sku).await?;

    let store = CartStore::open(&session)?;
    let add = i64::from(quantity.get());
    match store.quantity(&sku)? {
        Stored::Valid(in_cart) => {
            let wanted = combine_quantities(in_cart, quantity).map_err(item_limit)?;
            ensure_in_stock(&product, wanted.get())?;
        }
        Stored::Absent => {
            ensure_in_stock(&product, quantity.get())?;
            if store.line_count()? >= i64::try_from(MAX_LINES).unwrap_or(i64::MAX) {
                return Err(ShopError::unprocessable(
                    CartError::TooManyLines.to_string(),
                ));
            }
        }
        // Above 99 only while a concurrent add is being undone: adding more cannot fit.
        Stored::OutOfRange(n) if n > i64::from(Quantity::MAX_VALUE) => {
            return Err(item_limit(CartError::ItemLimit {
                in_cart: Quantity::MAX,
            }));
        }
        // Not a usable quantity (e.g. left over from an interrupted compensation): replace it.
        Stored::OutOfRange(_) | Stored::Garbage(_) => {
            return repair(&session, &store, &sku, quantity)
        }
    }
    let total = store.increment(&sku, add)?;
    if total > i64::from(Quantity::MAX_VALUE) {
        store.increment(&sku, -add)?;
        let in_cart = total.saturating_sub(add);
        return Err(Quantity::from_i64(in_cart).map_or_else(
            |_| item_limit_plain(),
            |in_cart| item_limit(CartError::ItemLimit { in_cart }),
        ));
    }
    if total < add {
        // The value went below zero between the read and the increment; the shopper's intent is clear.
        return repair(&session, &store, &sku, quantity);
    }
    store.touch()?;
    Ok(reply(&session, store.lines()?))
}

/// Sets the quantity (1..=99) of a line that is in the cart; 404 if it is not.
///
/// `HEXISTS` then `HSET` is not atomic: a line removed in between comes back. Both requests
/// come from the same shopper, and the cart then shows the line, so nothing is hidden.
pub async fn set_quantity(req: SetQuantityRequest) -> Result<Cart, ShopError> {
    let (session, sku, quantity) = parse_line(&req.session, &req.sku, req.quantity)?;
    let store = CartStore::open(&session)?;
    if !store.has_line(&sku)? {
        return Err(ShopError::not_found(format!(
            "{sku} is not in the cart; add it first"
        )));
    }
    store.set(&sku, quantity)?;
    store.touch()?;
    Ok(reply(&session, store.lines()?))
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
    store.remove(&sku)?;
    store.touch()?;
    Ok(reply(&session, store.lines()?))
}

/// Removes every line (e.g. after an order is placed). Idempotent.
pub async fn empty_cart(req: CartRef) -> Result<Cart, ShopError> {
    let session = parse_session(&req.session)?;
    CartStore::open(&session)?.clear()?;
    Ok(reply(&session, Vec::new()))
}

/// Moves a guest cart (`from`) into a signed-in shopper's cart (`into`) and deletes it; answers
/// the merged cart. The rules are `shop_domain::cart::merge_lines`: quantities added and capped
/// at 99, and new lines that would take the cart past 50 lines are dropped (logged), so a
/// sign-in never fails over its cart. `from` = `into` is refused (400).
///
/// At most five commands whatever the sizes: `HGETALL` of each cart, one `HSET` of every changed
/// line, `EXPIRE`, then `DEL` of `from`. `into` is written before `from` is deleted, so a failure
/// in between loses nothing (a repeated merge then adds the guest lines again, still within the
/// caps). The `HSET` writes absolute quantities, so an `add_item` to `into` landing between the
/// read and the write, on a line the merge also changes, is overwritten: that needs the same
/// account adding on another device during this sign-in, and leaves a valid cart.
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
    let guest = CartStore::open(&from)?;
    let target = guest.sibling(&into);
    let merged = merge_lines(&target.lines()?, &guest.lines()?);
    if !merged.dropped.is_empty() {
        let skus: Vec<String> = merged.dropped.iter().map(|l| l.sku.to_string()).collect();
        shop_spin::log::info(&format!(
            "cart merge: the cart is full; left out {}",
            skus.join(", ")
        ));
    }
    if !merged.changed.is_empty() {
        target.set_lines(&merged.changed)?;
        target.touch()?;
    }
    guest.clear()?;
    let mut lines = merged.lines;
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(reply(&into, lines))
}

/// Overwrites a damaged stored value with the quantity being added.
fn repair(
    session: &SessionId,
    store: &CartStore,
    sku: &Sku,
    quantity: Quantity,
) -> Result<Cart, ShopError> {
    shop_spin::log::error(&format!(
        "cart line {sku} held an invalid quantity; replaced with {quantity}"
    ));
    store.set(sku, quantity)?;
    store.touch()?;
    Ok(reply(session, store.lines()?))
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
