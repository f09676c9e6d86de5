//! products: the catalog in PostgreSQL, with its stock, exchange rates and recommendations.
//! Public reads (`/api/catalog/...`), operator-only writes and migrations
//! (`/api/catalog_admin/...`) and checkout's stock reservations (`/api/inventory/...`), the
//! last two reachable only with the internal token (checked by `shop_spin::serve`).
mod db;
mod handlers;
mod inventory;
mod pricing;
mod recommend;
mod stock;

use shop_contract::{catalog, catalog_admin, inventory as inventory_api};
use spin_sdk::http::{Request, Response};

/// Routes under this prefix need the operator token.
const ADMIN_PREFIX: &str = "/api/catalog_admin/";

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("products", req, async |call| {
        // Checked before the body is even decoded, so a caller without the token learns nothing
        // about the request format and nothing is changed.
        if call.path().starts_with(ADMIN_PREFIX) {
            shop_spin::config::require_operator(call.authorization())?;
        }
        shop_spin::dispatch!(call, {
            catalog::ops::list_categories => handlers::list_categories,
            catalog::ops::list_products => handlers::list_products,
            catalog::ops::get_product => handlers::get_product,
            catalog::ops::get_products => handlers::get_products,
            catalog::ops::get_rates => handlers::get_rates,
            catalog_admin::ops::create_product => handlers::create_product,
            catalog_admin::ops::update_product => handlers::update_product,
            catalog_admin::ops::migrate => handlers::migrate,
            catalog_admin::ops::set_rates => handlers::set_rates,
            catalog_admin::ops::set_stock => handlers::set_stock,
            inventory_api::ops::reserve => inventory::reserve,
            inventory_api::ops::release => inventory::release,
        })
    })
    .await
}
