//! The `inventory` interface (internal token): checkout holds an order's units with `reserve`
//! and gives them back with `release` when the order fails. The requests are parsed and the
//! refusals worded here; `crate::stock` has the statements.
use shop_contract::inventory::{ReleaseRequest, Released, Reservation, ReserveRequest, StockLine};
use shop_contract::{FieldError, ShopError};
use shop_domain::{ErrorCollector, OrderId, Quantity, Sku};

use crate::stock::{self, Line, Reserved, Short};

/// Most lines one reservation holds: as many as a cart can (50).
pub const MAX_LINES: usize = shop_domain::MAX_LINES;

/// Holds every line's units for the order, or none (409 naming the short lines).
pub async fn reserve(req: ReserveRequest) -> Result<Reservation, ShopError> {
    let (order, lines) = parse_reserve(&req).map_err(shop_spin::wire::invalid_fields)?;
    let conn = shop_spin::store::postgres()?;
    let outcome = stock::reserve(&conn, &order, &lines)?;
    let held = match outcome {
        Reserved::Now(held) => {
            shop_spin::log::info(&format!("order {order}: {} lines reserved", held.len()));
            held
        }
        Reserved::Already(held) => held,
        Reserved::Released => return Err(released(&order)),
        // A concurrent reserve of this order id may have taken the units this one found short,
        // or won the race to insert: what is stored now is the answer.
        Reserved::Short(short) => match stock::stored(&conn, &order)? {
            (_, true) => return Err(released(&order)),
            (held, false) if !held.is_empty() => {
                shop_spin::log::info(&format!(
                    "order {order}: a concurrent reserve of it holds the units"
                ));
                held
            }
            _ => return Err(short_lines(&short)),
        },
        Reserved::Raced => match stock::stored(&conn, &order)? {
            (_, true) => return Err(released(&order)),
            (held, false) if !held.is_empty() => {
                shop_spin::log::info(&format!(
                    "order {order}: a concurrent reserve of it holds the units"
                ));
                held
            }
            _ => {
                return Err(ShopError::unavailable(
                    "The stock changed while it was reserved; try again",
                ))
            }
        },
    };
    Ok(Reservation {
        order_id: order.to_string(),
        lines: held
            .into_iter()
            .map(|(sku, quantity)| StockLine { sku, quantity })
            .collect(),
    })
}

/// Gives back what the order holds; `released: false` when it held nothing (never reserved,
/// or released already).
pub async fn release(req: ReleaseRequest) -> Result<Released, ShopError> {
    let order = parse_order_id(&req.order_id).map_err(|e| ShopError::invalid_fields(vec![e]))?;
    let conn = shop_spin::store::postgres()?;
    let released = stock::release(&conn, &order)?;
    if released {
        shop_spin::log::info(&format!("order {order}: stock released"));
    }
    Ok(Released { released })
}

fn parse_order_id(raw: &str) -> Result<OrderId, FieldError> {
    OrderId::parse(raw)
        .map_err(|e| FieldError::new("order_id", format!("{e} (it looks like ORD-7K3M9Q2X4B1C)")))
}

/// Checks a reserve request: an order number, 1..=[`MAX_LINES`] lines, each a valid SKU (once)
/// and a quantity of 1..=99. Every problem is named (`order_id`, `lines`, `lines[i].sku`,
/// `lines[i].quantity`).
pub fn parse_reserve(
    req: &ReserveRequest,
) -> Result<(OrderId, Vec<Line>), Vec<shop_domain::FieldError>> {
    let mut errors = ErrorCollector::new();
    let order = match parse_order_id(&req.order_id) {
        Ok(id) => Some(id),
        Err(e) => {
            errors.push(&e.field, e.message);
            None
        }
    };
    if req.lines.is_empty() {
        errors.push("lines", "An order needs at least one line to reserve");
    } else if req.lines.len() > MAX_LINES {
        errors.push(
            "lines",
            format!("An order can reserve at most {MAX_LINES} lines"),
        );
    }
    let mut lines: Vec<Line> = Vec::with_capacity(req.lines.len().min(MAX_LINES));
    let mut seen: Vec<Sku> = Vec::with_capacity(req.lines.len().min(MAX_LINES));
    for (i, line) in req.lines.iter().enumerate().take(MAX_LINES) {
        let sku_field = format!("lines[{i}].sku");
        let sku = errors
            .check(&sku_field, Sku::parse(&line.sku))
            .and_then(|sku| {
                if seen.contains(&sku) {
                    errors.push(
                        &sku_field,
                        format!("{sku} is on two lines; put each product on one line"),
                    );
                    None
                } else {
                    seen.push(sku.clone());
                    Some(sku)
                }
            });
        let quantity = errors.check(
            &format!("lines[{i}].quantity"),
            Quantity::new(line.quantity),
        );
        if let (Some(sku), Some(quantity)) = (sku, quantity) {
            lines.push(Line { sku, quantity });
        }
    }
    match order {
        Some(order) if errors.is_empty() => Ok((order, lines)),
        _ => Err(errors.into_errors()),
    }
}

/// The message of one short line: "Sold out: Stoneware Coffee Mug", "Only 2 left of
/// Stoneware Coffee Mug", or no such product.
pub fn short_message(line: &Short) -> String {
    match &line.name {
        None => format!("There is no product {} in the catalog", line.sku),
        Some(name) => shop_domain::stock::short_message(name, line.available),
    }
}

/// 409 naming every short line (`shop_spin::wire::short_of_stock`).
pub fn short_lines(short: &[Short]) -> ShopError {
    shop_spin::wire::short_of_stock(short.iter().map(|line| (line.sku.clone(), short_message(line))).collect())
}

fn released(order: &OrderId) -> ShopError {
    shop_spin::log::info(&format!(
        "order {order}: reserve refused, its reservation was released"
    ));
    ShopError::conflict("This order's reservation was released; place the order again")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "ORD-7K3M9Q2X4B1C";

    fn req(order: &str, lines: &[(&str, u32)]) -> ReserveRequest {
        ReserveRequest {
            order_id: order.into(),
            lines: lines
                .iter()
                .map(|(s, q)| StockLine {
                    sku: s.to_string(),
                    quantity: *q,
                })
                .collect(),
        }
    }

    fn fields(r: Result<(OrderId, Vec<Line>), Vec<shop_domain::FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_good_request_parses_to_canonical_values() {
        let (order, lines) = parse_reserve(&req(
            "ord-7k3m9q2x4b1c",
            &[(" kit-mug-teal ", 2), ("APP-TEE-TEAL", 99)],
        ))
        .unwrap();
        assert_eq!(order.as_str(), ORDER);
        assert_eq!(lines[0].sku.as_str(), "KIT-MUG-TEAL");
        assert_eq!(lines[0].quantity.get(), 2);
        assert_eq!(lines[1].quantity.get(), 99);
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            fields(parse_reserve(&req(
                "42",
                &[("KIT-MUG-TEAL", 0), ("no way", 1), ("kit-mug-teal", 100)]
            ))),
            [
                "order_id",
                "lines[0].quantity",
                "lines[1].sku",
                "lines[2].sku",
                "lines[2].quantity"
            ]
        );
        assert_eq!(fields(parse_reserve(&req(ORDER, &[]))), ["lines"]);
        let many: Vec<(String, u32)> = (0..51).map(|i| (format!("SKU-{i}"), 1)).collect();
        let many: Vec<(&str, u32)> = many.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        assert_eq!(fields(parse_reserve(&req(ORDER, &many))), ["lines"]);
        let fifty = &many[..50];
        assert_eq!(parse_reserve(&req(ORDER, fifty)).unwrap().1.len(), 50);
    }

    #[test]
    fn a_duplicate_sku_is_refused_whatever_its_case() {
        let errors =
            parse_reserve(&req(ORDER, &[("KIT-MUG-TEAL", 1), ("kit-mug-teal", 2)])).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "lines[1].sku");
        assert!(
            errors[0].message.contains("KIT-MUG-TEAL is on two lines"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn short_lines_are_named_one_by_one() {
        let short = [
            Short {
                sku: "KIT-MUG-TEAL".into(),
                name: Some("Stoneware Coffee Mug".into()),
                available: 0,
            },
            Short {
                sku: "APP-TEE-TEAL".into(),
                name: Some("Classic Crew T-Shirt".into()),
                available: 2,
            },
            Short {
                sku: "NOPE-1".into(),
                name: None,
                available: 0,
            },
        ];
        let e = short_lines(&short);
        assert_eq!(e.status(), 409);
        assert_eq!(
            e.message,
            "Sold out: Stoneware Coffee Mug; Only 2 left of Classic Crew T-Shirt; There is no product NOPE-1 in the catalog"
        );
        let f: Vec<(&str, &str)> = e
            .fields
            .iter()
            .map(|f| (f.field.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            f,
            [
                ("lines.KIT-MUG-TEAL", "Sold out: Stoneware Coffee Mug"),
                ("lines.APP-TEE-TEAL", "Only 2 left of Classic Crew T-Shirt"),
                ("lines.NOPE-1", "There is no product NOPE-1 in the catalog"),
            ]
        );
    }

    #[test]
    fn release_needs_an_order_number() {
        assert!(parse_order_id(ORDER).is_ok());
        let e = parse_order_id("ORD-1").unwrap_err();
        assert_eq!(e.field, "order_id");
        assert!(
            e.message.starts_with("Order number is not valid"),
            "{}",
            e.message
        );
    }
}
