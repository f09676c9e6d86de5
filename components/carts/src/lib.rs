//! carts (private): one shopping cart per session, as a Redis hash `cart:<session>` whose
//! fields are SKUs and values quantities. Products are checked against the catalog when added.
mod handlers;
mod lines;
mod store;

use shop_contract::carts::ops;
use spin_sdk::http::{Request, Response};

#[spin_sdk::http_component]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("carts", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::get_cart => handlers::get_cart,
            ops::add_item => handlers::add_item,
            ops::set_quantity => handlers::set_quantity,
            ops::remove_item => handlers::remove_item,
            ops::empty_cart => handlers::empty_cart,
        })
    })
    .await
}
