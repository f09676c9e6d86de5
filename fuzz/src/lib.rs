//! The fuzz targets' bodies, shared with the stable randomized run in
//! `tests/e2e/tests/e2e/fuzz_bodies.rs` (which includes `bodies.rs` by path).
pub mod bodies;
