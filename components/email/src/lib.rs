//! email (private): renders order confirmations and failure notices as text and HTML and
//! "sends" them: one structured log line plus a copy in the Redis outbox (newest 1000 kept), at
//! most one email per order.
mod handlers;
mod outbox;
mod render;

use shop_contract::email::ops;
use spin_sdk::http::{Request, Response};

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("email", req, async |call| {
        shop_spin::dispatch!(call, {
            ops::send_confirmation => handlers::send_confirmation,
            ops::send_failure_notice => handlers::send_failure_notice,
            ops::list_outbox => handlers::list_outbox,
        })
    })
    .await
}
