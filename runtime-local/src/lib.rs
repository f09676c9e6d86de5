//! runtime-local: runs a Spin 3.x `spin.toml` HTTP application on an embedded wasmtime.
