//! The stock's SQL: reservations for orders (one atomic statement each way) and the operator's
//! stock levels.
//!
//! **Lock order.** Every statement that changes stock locks the `products` rows it needs first,
//! sorted by SKU (`ORDER BY sku FOR UPDATE`), and only then touches reservations and
//! `co_purchases` rows, whose products it already holds. Two orders whose SKUs overlap therefore
//! wait for each other in the same order and never deadlock.
//!
//! **Idempotency.** A reservation is keyed by order id, and `stock_orders` holds one row per
//! order, written with its reservation rows (reserve) or marking it released (release). Rows are
//! never deleted, so a released order id cannot reserve again, even one released before it ever
//! reserved. A reserve locks the order's row first (`FOR UPDATE`), so it waits for a release in
//! flight and then refuses; a release upserts the row first, which waits for a reserve in flight,
//! and frees the units in a second statement that sees what that reserve committed. Two
//! concurrent first reserves of one order id meet on `stock_orders`' primary key: only the
//! winner inserts reservation rows and moves stock.
//!
//! **Arithmetic on locked rows.** The new stock is computed from the row `FOR UPDATE` returned
//! (its latest committed version), not from the statement's snapshot: PostgreSQL checks
//! `CHECK (stock >= 0)` on the computed value before it re-reads a row a concurrent transaction
//! changed, so a snapshot value would fail the check exactly when stock was just raised.
use shop_contract::ShopError;
use shop_domain::{OrderId, Quantity, Sku};
use shop_spin::store::{column, read_one_row};
use spin_sdk::pg4::{Connection, ParameterValue};

use crate::db::stock_units;

/// One line of a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// A line that cannot be reserved: the product's name and the units left, or no product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    pub sku: String,
    /// `None`: no product has this SKU.
    pub name: Option<String>,
    pub available: u32,
}

/// What the reserve statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Every line is now held for the order (sorted by SKU).
    Now(Vec<(String, u32)>),
    /// The order already held these lines (sorted by SKU); nothing changed.
    Already(Vec<(String, u32)>),
    /// The order's reservation was released; nothing changed.
    Released,
    /// These lines (in the order asked) have too few units; nothing changed.
    Short(Vec<Short>),
    /// Another reserve of the same order id committed while this one waited for its locks:
    /// what the order holds must be read again.
    Raced,
}

/// The reserve statement. `$1` order id, `$2` SKUs, `$3` quantities (parallel arrays, SKUs
/// distinct). Returns exactly one row.
const RESERVE: &str = "WITH lines AS ( \
        SELECT l.sku, l.quantity, l.ord \
        FROM unnest($2::text[], $3::int4[]) WITH ORDINALITY AS l(sku, quantity, ord) \
    ), prior AS MATERIALIZED ( \
        SELECT released FROM stock_orders WHERE order_id = $1 FOR UPDATE \
    ), existing AS MATERIALIZED ( \
        SELECT sku, quantity FROM stock_reservations WHERE order_id = $1 AND NOT released \
    ), locked AS MATERIALIZED ( \
        SELECT p.sku, p.name, p.stock, p.units_sold FROM products p \
        WHERE p.sku = ANY($2::text[]) AND NOT EXISTS (SELECT 1 FROM prior) \
        ORDER BY p.sku FOR UPDATE \
    ), checked AS ( \
        SELECT count(*) FILTER (WHERE k.stock >= l.quantity) AS enough \
        FROM lines l JOIN locked k ON k.sku = l.sku \
    ), decision AS MATERIALIZED ( \
        SELECT CASE \
            WHEN EXISTS (SELECT 1 FROM prior WHERE released) THEN 'released' \
            WHEN EXISTS (SELECT 1 FROM prior) THEN 'held' \
            WHEN (SELECT enough FROM checked) = (SELECT count(*) FROM lines) THEN 'go' \
            ELSE 'short' END AS outcome \
    ), claimed AS MATERIALIZED ( \
        INSERT INTO stock_orders (order_id) SELECT $1 WHERE (SELECT outcome FROM decision) = 'go' \
        ON CONFLICT (order_id) DO NOTHING \
        RETURNING order_id \
    ), inserted AS ( \
        INSERT INTO stock_reservations (order_id, sku, quantity) \
        SELECT $1, l.sku, l.quantity FROM lines l WHERE EXISTS (SELECT 1 FROM claimed) \
        ORDER BY l.sku \
        ON CONFLICT (order_id, sku) DO NOTHING \
        RETURNING sku, quantity \
    ), taken AS ( \
        UPDATE products p SET stock = k.stock - i.quantity, units_sold = k.units_sold + i.quantity \
        FROM inserted i JOIN locked k ON k.sku = i.sku WHERE p.sku = i.sku \
        RETURNING p.sku \
    ), paired AS ( \
        INSERT INTO co_purchases AS c (sku, other, orders) \
        SELECT a.sku, b.sku, 1 FROM inserted a JOIN inserted b ON a.sku <> b.sku \
        ORDER BY a.sku, b.sku \
        ON CONFLICT (sku, other) DO UPDATE SET orders = c.orders + 1 \
        RETURNING c.sku \
    ), short AS ( \
        SELECT l.ord, l.sku, k.name, coalesce(k.stock, 0) AS stock FROM lines l LEFT JOIN locked k ON k.sku = l.sku \
        WHERE (SELECT outcome FROM decision) = 'short' AND (k.sku IS NULL OR k.stock < l.quantity) \
    ) \
    SELECT (SELECT outcome FROM decision) AS outcome, \
        (SELECT count(*) FROM lines) AS asked, \
        (SELECT count(*) FROM inserted) AS inserted, \
        (SELECT count(*) FROM taken) AS taken, \
        (SELECT array_agg(sku ORDER BY sku) FROM existing) AS held_skus, \
        (SELECT array_agg(quantity ORDER BY sku) FROM existing) AS held_quantities, \
        (SELECT array_agg(sku ORDER BY ord) FROM short) AS short_skus, \
        (SELECT array_agg(name ORDER BY ord) FROM short) AS short_names, \
        (SELECT array_agg(stock ORDER BY ord) FROM short) AS short_stock, \
        (SELECT count(*) FROM paired) AS pairs";

/// Holds `lines` for `order`, all or nothing, in one statement.
pub fn reserve(conn: &Connection, order: &OrderId, lines: &[Line]) -> Result<Reserved, ShopError> {
    let skus = lines.iter().map(|l| Some(l.sku.to_string())).collect();
    let quantities = lines
        .iter()
        .map(|l| Some(i32::try_from(l.quantity.get()).unwrap_or(i32::MAX)))
        .collect();
    let rows = read_one_row(
        conn,
        "reserve stock",
        RESERVE,
        &[
            ParameterValue::Str(order.to_string()),
            ParameterValue::ArrayStr(skus),
            ParameterValue::ArrayInt32(quantities),
        ],
    )?;
    let Some(row) = rows.rows().next() else {
        return Err(ShopError::internal("A database operation failed"));
    };
    let outcome: String = column(&row, "outcome")?;
    let asked: i64 = column(&row, "asked")?;
    let inserted: i64 = column(&row, "inserted")?;
    let taken: i64 = column(&row, "taken")?;
    match outcome.as_str() {
        "released" => Ok(Reserved::Released),
        "held" => {
            let skus: Vec<Option<String>> =
                column::<Option<_>>(&row, "held_skus")?.unwrap_or_default();
            let quantities: Vec<Option<i32>> =
                column::<Option<_>>(&row, "held_quantities")?.unwrap_or_default();
            Ok(Reserved::Already(pair_lines(skus, quantities)))
        }
        "short" => {
            let skus: Vec<Option<String>> =
                column::<Option<_>>(&row, "short_skus")?.unwrap_or_default();
            let names: Vec<Option<String>> =
                column::<Option<_>>(&row, "short_names")?.unwrap_or_default();
            let stock: Vec<Option<i32>> =
                column::<Option<_>>(&row, "short_stock")?.unwrap_or_default();
            let short = skus
                .into_iter()
                .zip(names)
                .zip(stock)
                .filter_map(|((sku, name), stock)| {
                    Some(Short {
                        sku: sku?,
                        name,
                        available: stock_units(stock.unwrap_or(0)),
                    })
                })
                .collect();
            Ok(Reserved::Short(short))
        }
        "go" if inserted == asked && taken == asked => {
            let mut held: Vec<(String, u32)> = lines
                .iter()
                .map(|l| (l.sku.to_string(), l.quantity.get()))
                .collect();
            held.sort();
            Ok(Reserved::Now(held))
        }
        "go" if taken == inserted => Ok(Reserved::Raced),
        other => {
            shop_spin::log::error(&format!(
                "reserve of {order}: outcome {other:?}, {asked} lines, {inserted} inserted, {taken} taken"
            ));
            Err(ShopError::internal(
                "A stock reservation went wrong; nothing was charged",
            ))
        }
    }
}

/// What an order holds or held: `(lines sorted by SKU, any released)`. A read, for the rare
/// answers of [`reserve`] that a concurrent reserve of the same order may have made stale.
pub fn stored(conn: &Connection, order: &OrderId) -> Result<(Vec<(String, u32)>, bool), ShopError> {
    let rows = crate::db::query(
        conn,
        "SELECT r.sku, r.quantity, o.released FROM stock_orders o \
         JOIN stock_reservations r ON r.order_id = o.order_id AND NOT r.released \
         WHERE o.order_id = $1 ORDER BY r.sku",
        &[ParameterValue::Str(order.to_string())],
    )?;
    let released_rows = crate::db::query(
        conn,
        "SELECT released FROM stock_orders WHERE order_id = $1",
        &[ParameterValue::Str(order.to_string())],
    )?;
    let mut released = false;
    for row in released_rows.rows() {
        released |= column::<bool>(&row, "released")?;
    }
    let mut lines = Vec::new();
    for row in rows.rows() {
        let quantity: i32 = column(&row, "quantity")?;
        lines.push((column::<String>(&row, "sku")?, stock_units(quantity)));
    }
    Ok((lines, released))
}

/// The release statement. `$1` order id. Returns exactly one row.
const RELEASE: &str = "WITH targets AS ( \
        SELECT sku FROM stock_reservations WHERE order_id = $1 AND NOT released \
    ), locked AS MATERIALIZED ( \
        SELECT p.sku FROM products p WHERE p.sku IN (SELECT sku FROM targets) \
        ORDER BY p.sku FOR UPDATE \
    ), freed AS ( \
        UPDATE stock_reservations r SET released = true, released_at = now() \
        WHERE r.order_id = $1 AND NOT r.released AND (SELECT count(*) FROM locked) >= 0 \
        RETURNING r.sku, r.quantity \
    ), restocked AS ( \
        UPDATE products p SET stock = p.stock + f.quantity, units_sold = greatest(p.units_sold - f.quantity, 0) \
        FROM freed f WHERE p.sku = f.sku \
        RETURNING p.sku \
    ), pairs AS ( \
        SELECT c.sku, c.other FROM co_purchases c \
        JOIN freed a ON a.sku = c.sku JOIN freed b ON b.sku = c.other \
        ORDER BY c.sku, c.other FOR UPDATE OF c \
    ), unpaired AS ( \
        UPDATE co_purchases c SET orders = greatest(c.orders - 1, 0) \
        FROM pairs x WHERE c.sku = x.sku AND c.other = x.other \
        RETURNING c.sku \
    ) \
    SELECT (SELECT count(*) FROM freed) AS freed, (SELECT count(*) FROM restocked) AS restocked, \
        (SELECT count(*) FROM unpaired) AS unpaired";

/// Marks an order released (waiting for a reserve of it still in flight). Upsert: an order
/// released before it reserved is marked too, so it never reserves afterwards.
const MARK_RELEASED: &str = "INSERT INTO stock_orders (order_id, released) VALUES ($1, true) \
    ON CONFLICT (order_id) DO UPDATE SET released = true, updated_at = now()";

/// Gives back what `order` holds: whether anything was held. Two statements: the mark, then the
/// restock, whose snapshot includes whatever a reserve that the mark waited for committed. A
/// failure between them leaves the order marked and its units held; the caller's retry (checkout
/// keeps the release due) repeats both.
pub fn release(conn: &Connection, order: &OrderId) -> Result<bool, ShopError> {
    conn.execute(MARK_RELEASED, &[ParameterValue::Str(order.to_string())])
        .map_err(|e| shop_spin::store::pg_error("mark the order released", e))?;
    let rows = read_one_row(
        conn,
        "release stock",
        RELEASE,
        &[ParameterValue::Str(order.to_string())],
    )?;
    let Some(row) = rows.rows().next() else {
        return Err(ShopError::internal("A database operation failed"));
    };
    let freed: i64 = column(&row, "freed")?;
    let restocked: i64 = column(&row, "restocked")?;
    if freed != restocked {
        shop_spin::log::error(&format!(
            "release of {order}: {freed} lines freed but {restocked} restocked"
        ));
    }
    Ok(freed > 0)
}

/// Sets the units `sku` can sell from now on; `(stock, reserved)`, or `None` when no product has
/// that SKU. `reserved` is what unreleased reservations hold.
pub fn set(conn: &Connection, sku: &Sku, stock: u32) -> Result<Option<(u32, u32)>, ShopError> {
    let rows = read_one_row(
        conn,
        "set stock",
        "WITH updated AS (UPDATE products SET stock = $2, updated_at = now() WHERE sku = $1 RETURNING stock) \
         SELECT (SELECT stock FROM updated) AS stock, \
         (SELECT coalesce(sum(quantity), 0) FROM stock_reservations WHERE sku = $1 AND NOT released) AS reserved",
        &[
            ParameterValue::Str(sku.to_string()),
            ParameterValue::Int32(i32::try_from(stock).unwrap_or(i32::MAX)),
        ],
    )?;
    let Some(row) = rows.rows().next() else {
        return Ok(None);
    };
    let Some(stock) = column::<Option<i32>>(&row, "stock")? else {
        return Ok(None);
    };
    let reserved: i64 = column(&row, "reserved")?;
    Ok(Some((
        stock_units(stock),
        u32::try_from(reserved).unwrap_or(u32::MAX),
    )))
}

fn pair_lines(skus: Vec<Option<String>>, quantities: Vec<Option<i32>>) -> Vec<(String, u32)> {
    skus.into_iter()
        .zip(quantities)
        .filter_map(|(s, q)| Some((s?, stock_units(q?))))
        .collect()
}
