//! payment (private): a fake card processor. Validates cards, decides charges by the
//! shop-domain test-card table, and keeps receipts in Redis so retries never charge twice.
mod handlers;
mod ledger;
mod record;

use shop_contract::payment::ops;
use spin_sdk::http::{Request, Response};

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("payment", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::charge => handlers::charge,
            ops::refund => handlers::refund,
            ops::settle => handlers::settle,
        })
    })
    .await
}
