//! shipping (private): a fake carrier. Quotes by the shop-domain price table and "ships"
//! orders, keeping each shipment in Redis under its idempotency key.
mod handlers;

use shop_contract::shipping::ops;
use spin_sdk::http::{Request, Response};

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("shipping", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::get_quote => handlers::get_quote,
            ops::ship_order => handlers::ship_order,
        })
    })
    .await
}
