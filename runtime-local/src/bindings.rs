//! Host bindings generated from the Spin WIT files in `runtime-local/wit/`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "runtime-local:host/spin-host",
    imports: { default: async | trappable },
    with: {
        "spin:postgres/postgres.connection": crate::host::postgres::PgConnection,
        "fermyon:spin/redis.connection": crate::host::redis::RedisConnection,
    },
});

pub use fermyon::spin::{redis, variables};
pub use spin::postgres::postgres;
