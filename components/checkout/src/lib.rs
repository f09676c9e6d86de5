//! checkout (private): places orders across carts, products, payment, shipping and email, and
//! keeps them in PostgreSQL. See `place_order.rs` for the algorithm.
mod fulfil;
mod orders;
mod place_order;
mod reconcile;
mod services;
mod store;

use shop_contract::checkout::ops;
use shop_contract::NoParams;
use spin_sdk::http::{Request, Response};

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("checkout", req, async |call| {
        let authorization = call.authorization();
        shop_spin::dispatch!(call, {
            ops::place_order => place_order::place_order,
            ops::get_order => orders::get_order,
            ops::list_orders => orders::list_orders,
            ops::claim_orders => orders::claim_orders,
            ops::migrate => async |_: NoParams| orders::migrate(authorization),
            ops::reconcile => async |req| reconcile::reconcile(authorization, req).await,
        })
    })
    .await
}
