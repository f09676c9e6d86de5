//! `/order/{id}` (the confirmation) and `/orders` (this session's orders, newest first).
use shop_contract::checkout::{ops, ListOrdersRequest, OrderRef};
use shop_contract::ErrorCode;
use shop_domain::OrderId;

use crate::app::{Ctx, PageResult};
use crate::backend::{Backend, Service};
use crate::views::layout::Section;
use crate::views::{errors, orders};

pub async fn order<B: Backend>(ctx: &Ctx<'_, B>, raw_id: &str) -> PageResult {
    let id = OrderId::parse(raw_id).ok();
    let fetch = async {
        match &id {
            Some(id) => {
                let req = OrderRef { session: ctx.session.id.clone(), order_id: id.to_string() };
                ctx.backend.call(Service::Checkout, ops::get_order, &req).await.map(Some)
            }
            None => Ok(None),
        }
    };
    let (count, found) = futures::join!(ctx.cart_count(), fetch);
    let chrome = ctx.chrome(count, Section::Orders);
    match found {
        Ok(Some(order)) => {
            let placed = ctx.query.get("placed") == Some("1");
            let title = format!("Order {}", order.order_id);
            Ok(ctx.page(200, &chrome, &title, orders::confirmation(&order, placed)))
        }
        Ok(None) => Ok(not_found(&chrome)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(not_found(&chrome)),
        Err(e) => Err(e),
    }
}

fn not_found(chrome: &crate::views::layout::Chrome) -> crate::http::Outgoing {
    errors::not_found(
        chrome,
        "We couldn't find that order",
        "Orders can only be seen in the browser they were placed from. Check the order number, or see your orders.",
    )
}

pub async fn list<B: Backend>(ctx: &Ctx<'_, B>) -> PageResult {
    let req = ListOrdersRequest { session: ctx.session.id.clone() };
    let (count, found) = futures::join!(ctx.cart_count(), ctx.backend.call(Service::Checkout, ops::list_orders, &req));
    let mut list = found?.orders;
    orders::newest_first(&mut list);
    let chrome = ctx.chrome(count, Section::Orders);
    Ok(ctx.page(200, &chrome, "Your orders", orders::list(&list)))
}
