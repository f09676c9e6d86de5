//! Imports `fermyon:spin/key-value@2.0.0`, which runtime-local refuses at start-up.
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    let store = spin_sdk::key_value::Store::open_default()?;
    let v = store.get("k")?.unwrap_or_default();
    Ok(Response::new(200, v))
}
