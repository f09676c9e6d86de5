//! payment (private): a fake card processor. Validates cards, decides charges by the
//! shop-domain test-card table, and keeps receipts in Redis so retries never charge twice.
mod handlers;
mod ledger;

use shop_contract::payment::ops;
use spin_sdk::http::{Request, Response};

#[spin_sdk::http_component]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("payment", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::charge => handlers::charge,
            ops::refund => handlers::refund,
        })
    })
    .await
}
