//! Reading a session's orders, and the schema migration.
use shop_contract::checkout::{ListOrdersRequest, OrderList, OrderRef};
use shop_contract::{FieldError, MigrationReport, Order, ShopError};
use shop_domain::{OrderId, SessionId};

use crate::store::Store;

/// One order of the session; another session's order is "not found", like a missing one.
pub async fn get_order(req: OrderRef) -> Result<Order, ShopError> {
    let session =
        SessionId::parse(&req.session).map_err(|e| FieldError::new("session", e.to_string()));
    let order_id =
        OrderId::parse(&req.order_id).map_err(|e| FieldError::new("order_id", e.to_string()));
    let (session, order_id) = match (session, order_id) {
        (Ok(s), Ok(o)) => (s, o),
        (s, o) => {
            return Err(ShopError::invalid_fields(
                s.err().into_iter().chain(o.err()).collect(),
            ))
        }
    };
    Store::open()?
        .get(session.as_str(), order_id.as_str())?
        .ok_or_else(|| ShopError::not_found(format!("There is no order {order_id}")))
}

/// The session's newest orders (at most 50), newest first, with their lines.
pub async fn list_orders(req: ListOrdersRequest) -> Result<OrderList, ShopError> {
    let session = SessionId::parse(&req.session)
        .map_err(|e| ShopError::invalid_fields(vec![FieldError::new("session", e.to_string())]))?;
    Ok(OrderList {
        orders: Store::open()?.list(session.as_str())?,
    })
}

/// Applies the schema migrations; operator token required.
pub fn migrate(authorization: Option<&str>) -> Result<MigrationReport, ShopError> {
    shop_spin::config::require_operator(authorization)?;
    Store::open()?.migrate()
}
