//! Per-request store data.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::app::{AppInner, ComponentRuntime};
use crate::chaining::OutboundHttp;

/// The `T` of every `Store<T>`: one per request (and per chained request).
pub struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) outbound: OutboundHttp,
    pub(crate) app: Arc<AppInner>,
    pub(crate) component: Arc<ComponentRuntime>,
    /// Number of open Redis connection resources (Spin caps them per instance).
    pub(crate) redis_connections: u32,
    /// The execution span, when traces are on: the parent of Postgres and Redis spans.
    pub(crate) span: Option<crate::telemetry::Span>,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}
