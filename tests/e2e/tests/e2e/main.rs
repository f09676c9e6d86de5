//! The end-to-end tests of the shop, one module per concern, in one test binary: each file used
//! to be a binary of its own, and each linked wasmtime again (docs/reliability.md lists them).
//! Run a part with a filter, e.g. `cargo test -p shop-e2e --test e2e -- dependencies::`.
mod support;

mod account_journey;
mod accounts;
mod api_fuzz;
mod bad_input;
mod checkout_invariants;
mod commerce_catalog;
mod concurrency;
mod currency_orders;
mod dependencies;
mod fuzz_bodies;
mod hardening;
mod imports;
mod inventory;
mod openapi;
mod orders_by_account;
mod otlp;
mod reconcile;
mod services;
mod shop;
mod split;
mod tracing;
