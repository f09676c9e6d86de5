//! Reading a shopper's orders, attaching a guest's orders to an account, and the schema
//! migration.
use shop_contract::checkout::{
    ClaimOrdersRequest, ClaimedOrders, ListOrdersRequest, OrderList, OrderRef,
};
use shop_contract::{MigrationReport, Order, ShopError};
use shop_domain::account::AccountId;
use shop_domain::{ErrorCollector, OrderCursor, OrderId, OrderPageSize, SessionId};

use crate::store::{Owner, Store};

/// An order placed from the session that no account owns, or one belonging to the account; any
/// other order is "not found", like a missing one.
pub async fn get_order(req: OrderRef) -> Result<Order, ShopError> {
    let mut errors = ErrorCollector::new();
    let session = errors.check("session", SessionId::parse(&req.session));
    let account = errors.check(
        "account_id",
        AccountId::parse_optional(req.account_id.as_deref()),
    );
    let order_id = errors.check("order_id", OrderId::parse(&req.order_id));
    let (Some(session), Some(account), Some(order_id)) = (session, account, order_id) else {
        return Err(invalid(errors));
    };
    Store::open()?
        .get(
            session.as_str(),
            account.as_ref().map(AccountId::as_str),
            order_id.as_str(),
        )?
        .ok_or_else(|| ShopError::not_found(format!("There is no order {order_id}")))
}

/// One page of orders, newest first, with their lines: the account's (from every session) when
/// `account_id` is given, else the session's that no account owns. `next` is the cursor of the
/// following page.
pub async fn list_orders(req: ListOrdersRequest) -> Result<OrderList, ShopError> {
    let mut errors = ErrorCollector::new();
    let session = errors.check("session", SessionId::parse(&req.session));
    let account = errors.check(
        "account_id",
        AccountId::parse_optional(req.account_id.as_deref()),
    );
    let before = errors.check(
        "before",
        req.before.as_deref().map(OrderCursor::parse).transpose(),
    );
    let size = errors.check("limit", OrderPageSize::new(req.limit));
    let (Some(session), Some(account), Some(before), Some(size)) = (session, account, before, size)
    else {
        return Err(invalid(errors));
    };
    let owner = match &account {
        Some(account) => Owner::Account(account.as_str()),
        None => Owner::Session(session.as_str()),
    };
    let (orders, next) = Store::open()?.list_page(&owner, before.as_ref(), size)?;
    Ok(OrderList {
        orders,
        next: next.map(|cursor| cursor.to_string()),
    })
}

/// Gives the account every order of the (guest) session that has no account yet, when the
/// shopper signs up. Idempotent: answers how many it attached this time.
pub async fn claim_orders(req: ClaimOrdersRequest) -> Result<ClaimedOrders, ShopError> {
    let mut errors = ErrorCollector::new();
    let session = errors.check("session", SessionId::parse(&req.session));
    let account = errors.check("account_id", AccountId::parse(&req.account_id));
    let (Some(session), Some(account)) = (session, account) else {
        return Err(invalid(errors));
    };
    let claimed = Store::open()?.claim_for_account(session.as_str(), account.as_str())?;
    if claimed > 0 {
        shop_spin::log::info(&format!("claimed {claimed} guest orders for an account"));
    }
    Ok(ClaimedOrders {
        claimed: u32::try_from(claimed).unwrap_or(u32::MAX),
    })
}

/// Applies the schema migrations; operator token required.
pub fn migrate(authorization: Option<&str>) -> Result<MigrationReport, ShopError> {
    shop_spin::config::require_operator(authorization)?;
    Store::open()?.migrate()
}

/// A 400 naming every field that was refused.
fn invalid(errors: ErrorCollector) -> ShopError {
    shop_spin::wire::invalid_fields(errors.into_errors())
}
