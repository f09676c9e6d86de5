//! # runtime-local
//!
//! Runs a Spin 3.x application (`spin.toml`, manifest version 2, HTTP trigger, WASI 0.2
//! components built with spin-sdk 5.x) on an embedded wasmtime 48 — the shop's local runner and
//! in-process integration-test engine. Spin remains the production engine: everything
//! runtime-local implements behaves like Spin 3.x, and everything it does not implement is
//! refused at start-up with an error that names the feature.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use runtime_local::{App, RuntimeOptions};
//! let mut options = RuntimeOptions::default();
//! options.variables.insert("db_url".into(), "host=127.0.0.1 user=postgres dbname=test sslmode=disable".into());
//! let app = App::load("spin.toml", options).await?;
//! let server = app.serve("127.0.0.1:0".parse()?).await?;
//! println!("listening on {}", server.url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Modules: [`manifest`] (spin.toml), [`variables`] (app/component variables), [`routes`]
//! (routing and spin-* headers), [`outbound_hosts`] (allowed_outbound_hosts), [`host`]
//! (Postgres, Redis, variables interfaces), [`chaining`] (outbound HTTP and service chaining),
//! [`cache`] (engine and compile cache), [`limits`], [`imports`] (start-up import check),
//! [`cli`].

#![warn(missing_docs)]

mod app;
#[allow(missing_docs)]
pub mod bindings;
pub mod cache;
pub mod chaining;
pub mod cli;
pub mod host;
pub mod imports;
pub mod limits;
pub mod manifest;
pub mod outbound_hosts;
pub mod routes;
mod server;
mod state;
pub mod telemetry;
pub mod variables;

pub use app::{App, ComponentRuntime, GuestOutput, RuntimeOptions};
pub use limits::Limits;
pub use server::Server;
pub use state::StoreState;
