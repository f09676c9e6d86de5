//! shipping (private): a fake carrier. Quotes by the shop-domain price table and "ships"
//! orders, keeping each shipment in Redis under its idempotency key.
mod handlers;

use shop_contract::shipping::ops;
use spin_sdk::http::{Request, Response};

#[spin_sdk::http_component]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("shipping", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::get_quote => handlers::get_quote,
            ops::ship_order => handlers::ship_order,
        })
    })
    .await
}
