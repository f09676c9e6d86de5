//! carts (private): one shopping cart per session, as a Redis hash `cart:<session>` whose
//! fields are SKUs and values quantities. Products are checked against the catalog when added.
mod handlers;
mod lines;
mod store;

use shop_contract::carts::ops;
use spin_sdk::http::{Request, Response};

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("carts", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::get_cart => handlers::get_cart,
            ops::add_item => handlers::add_item,
            ops::set_quantity => handlers::set_quantity,
            ops::remove_item => handlers::remove_item,
            ops::empty_cart => handlers::empty_cart,
            ops::remove_lines => handlers::remove_lines,
            ops::merge_cart => handlers::merge_cart,
        })
    })
    .await
}
