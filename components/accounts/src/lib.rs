//! accounts (private): shoppers' accounts (PostgreSQL), their sessions and sign-in limits
//! (Redis). See README.md for the operations, the stores and the choice of hash parameters.
mod addresses;
mod credentials;
pub mod hashing;
mod limit_store;
mod parse;
mod session_store;
mod sessions;
mod store;
mod world;

use shop_contract::accounts::ops;
use shop_contract::NoParams;
use spin_sdk::http::{Request, Response};

// Only the wasm build exports the handler: its export name cannot be linked into a native library.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
async fn handle(req: Request) -> Response {
    shop_spin::serve::serve("accounts", req, async |call| {
        let authorization = call.authorization();
        shop_spin::dispatch!(call, {
            ops::sign_up => credentials::sign_up,
            ops::sign_in => credentials::sign_in,
            ops::get_session => sessions::get_session,
            ops::sign_out => sessions::sign_out,
            ops::change_password => credentials::change_password,
            ops::list_addresses => addresses::list_addresses,
            ops::save_address => addresses::save_address,
            ops::delete_address => addresses::delete_address,
            ops::migrate => async |_: NoParams| migrate(authorization),
        })
    })
    .await
}

/// Applies the schema migrations; operator token required.
fn migrate(authorization: Option<&str>) -> Result<shop_contract::MigrationReport, shop_contract::ShopError> {
    shop_spin::config::require_operator(authorization)?;
    store::Store::open()?.migrate()
}
