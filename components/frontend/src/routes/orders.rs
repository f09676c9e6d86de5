//! `/order/{id}` (the confirmation) and `/orders` (the shopper's orders, newest first, a page at
//! a time): a signed-in shopper's from every device, a guest's from this browser.
use shop_contract::checkout::{ops, ListOrdersRequest, OrderRef};
use shop_contract::{ErrorCode, ShopError};
use shop_domain::OrderId;

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::views::layout::Section;
use crate::views::orders::Paging;
use crate::views::{errors, orders};

/// Orders per page of `/orders`.
pub const PAGE_SIZE: u32 = 10;

/// Longest `before` cursor passed on (checkout's cursors are far shorter; it checks them).
const MAX_CURSOR: usize = 200;

pub async fn order<B: Backend>(ctx: &Ctx<'_, B>, raw_id: &str) -> PageResult {
    let id = OrderId::parse(raw_id).ok();
    let fetch = async {
        match &id {
            Some(id) => {
                let req = OrderRef { session: ctx.cart_key()?, account_id: ctx.account_id(), order_id: id.to_string() };
                ctx.backend.call(Service::Checkout, ops::get_order, &req).await.map(Some)
            }
            None => Ok(None),
        }
    };
    let (count, found) = futures::join!(ctx.cart_count(), fetch);
    let chrome = ctx.chrome(count, Section::Orders);
    let signed_in = ctx.member().is_some();
    match found {
        Ok(Some(order)) => {
            let placed = ctx.query.get("placed") == Some("1");
            let title = format!("Order {}", order.order_id);
            Ok(ctx.page(200, &chrome, &title, orders::confirmation(&order, placed)))
        }
        Ok(None) => Ok(not_found(&chrome, signed_in)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(not_found(&chrome, signed_in)),
        Err(e) => Err(e),
    }
}

fn not_found(chrome: &crate::views::layout::Chrome, signed_in: bool) -> crate::http::Outgoing {
    let message = if signed_in {
        "It isn't one of your account's orders, or of this browser's. Check the order number, or see your orders."
    } else {
        "Orders can only be seen in the browser they were placed from, or after signing in to the account they belong to. Check the order number, or see your orders."
    };
    errors::not_found(chrome, "We couldn't find that order", message)
}

pub async fn list<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let before = ctx.query.get("before").filter(|b| !b.is_empty());
    if before.is_some_and(|b| b.len() > MAX_CURSOR || !b.bytes().all(|c| c.is_ascii_graphic())) {
        return Err(ShopError::bad_request("That link looks damaged. Please go back to your orders and try again."));
    }
    let req = ListOrdersRequest {
        session: ctx.cart_key()?,
        account_id: ctx.account_id(),
        before: before.map(str::to_string),
        limit: PAGE_SIZE,
    };
    let (count, found) = futures::join!(ctx.cart_count(), ctx.backend.call(Service::Checkout, ops::list_orders, &req));
    // Newest first as checkout sorts them (to the microsecond; the page shows only the date).
    let found = found?;
    let chrome = ctx.chrome(count, Section::Orders);
    let paging = Paging { signed_in: ctx.member().is_some(), older: found.next, first: before.is_none() };
    Ok(ctx.page(200, &chrome, "Your orders", orders::list(&found.orders, &paging)))
}
