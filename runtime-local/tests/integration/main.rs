//! runtime-local's integration tests, in one binary (one link of wasmtime instead of one per file):
//! `serving` (routing, headers, chaining, outbound HTTP, variables, limits, refusals) and
//! `backends` (Postgres and Redis), against the test components in `test-components/`.
mod common;

mod backends;
mod serving;
