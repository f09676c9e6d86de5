//! Loading an app (manifest, variables, components) and executing requests.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use futures::FutureExt;
use http::uri::{Authority, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full, Limited};
use tokio::sync::oneshot;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme as WasiScheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::cache::{build_engine, CacheOutcome, CompileCache};
use crate::chaining::OutboundHttp;
use crate::host::postgres::PgPools;
use crate::host::redis::RedisClients;
use crate::imports::check_component;
use crate::limits::{Limits, EPOCH_TICK};
use crate::manifest::{Manifest, StaticResponse, TriggerHandler};
use crate::outbound_hosts::{service_chaining_target, AllowedHosts};
use crate::routes::{RouteMatch, Router, WELL_KNOWN_PREFIX};
use crate::server::Server;
use crate::state::StoreState;
use crate::telemetry::{finalize_server_span, Kind, LogSink, OtlpConfig, Span, Telemetry, Tracer};
use crate::variables::{env_snapshot, Resolver};

/// Client address Spin reports for chained requests.
const CHAINED_CLIENT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// Options for [`App::load`].
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Variable values that win over everything else (like `spin up --variable name=value`).
    pub variables: HashMap<String, String>,
    /// Read `SPIN_VARIABLE_<NAME>` from the process environment (default `true`).
    pub env_variables: bool,
    /// Compile cache directory; `None` = `<manifest dir>/.cache/runtime-local/`.
    pub cache_dir: Option<PathBuf>,
    /// Disable the on-disk compile cache.
    pub no_cache: bool,
    /// Resource limits.
    pub limits: Limits,
    /// Run only these components and their triggers (selective deployment, like
    /// `spin up --component-id`); empty = all.
    pub components: Vec<String>,
    /// Fail every Postgres `query` whose result has no rows, with an error that names the defect,
    /// instead of returning the empty set (default `false`, as Spin 3.6 and fixed 4.x behave).
    /// Spin 4.0.0-4.0.2 never return from such a query (spinframework/spin#3671); with this on,
    /// a test run proves an app never sends one.
    pub refuse_empty_query_results: bool,
    /// Where guests' stdout and stderr go: `None` (default) = this process's stdout, like
    /// `spin up`'s terminal echo; `Some` = collected in memory, for tests that read the
    /// services' log lines ([`GuestOutput::contents`]).
    pub guest_output: Option<GuestOutput>,
    /// Export OTLP traces like Spin with OTel on (`None`, the default: off, no span is built).
    /// The CLI fills it from the `OTEL_*` variables ([`OtlpConfig::from_env`]); the library
    /// never reads them, so tests in one process do not interfere.
    pub otlp: Option<OtlpConfig>,
}

/// Guest stdout and stderr collected in memory, shared by every instance of the app (and by any
/// other app given a clone). Each write of a guest is appended whole; a guest writing past
/// the capacity gets a write error (a Rust guest's `println!` then panics), so size it for
/// the test.
#[derive(Clone, Debug)]
pub struct GuestOutput(wasmtime_wasi::p2::pipe::MemoryOutputPipe);

impl GuestOutput {
    /// A collector that holds at most `capacity_bytes`.
    pub fn new(capacity_bytes: usize) -> GuestOutput {
        GuestOutput(wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(capacity_bytes))
    }

    /// Everything written so far.
    pub fn contents(&self) -> Bytes {
        self.0.contents()
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            variables: HashMap::new(),
            env_variables: true,
            cache_dir: None,
            no_cache: false,
            limits: Limits::default(),
            components: Vec::new(),
            refuse_empty_query_results: false,
            guest_output: None,
            otlp: None,
        }
    }
}

/// A loaded application, ready to serve. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<AppInner>,
}

pub(crate) struct AppInner {
    pub(crate) engine: Engine,
    pub(crate) manifest: Manifest,
    pub(crate) router: Router,
    pub(crate) components: HashMap<String, Arc<ComponentRuntime>>,
    /// Components that are the target of some `[[trigger.http]]` (public or private).
    chainable: HashSet<String>,
    pub(crate) resolver: Resolver,
    pub(crate) limits: Limits,
    /// [`RuntimeOptions::refuse_empty_query_results`].
    pub(crate) refuse_empty_query_results: bool,
    /// [`RuntimeOptions::guest_output`].
    guest_output: Option<GuestOutput>,
    /// [`RuntimeOptions::otlp`]: `Some` when traces are exported.
    pub(crate) tracer: Option<Tracer>,
    /// [`RuntimeOptions::otlp`]: logs, metrics and the flush of all signals.
    pub(crate) telemetry: Option<Telemetry>,
    pub(crate) pg: PgPools,
    pub(crate) redis: RedisClients,
    self_origin: RwLock<Option<SocketAddr>>,
    epoch_stop: Arc<AtomicBool>,
}

impl Drop for AppInner {
    fn drop(&mut self) {
        self.epoch_stop.store(true, Ordering::Relaxed);
    }
}

/// A component prepared for fast per-request instantiation.
pub struct ComponentRuntime {
    pub(crate) id: String,
    pub(crate) pre: ProxyPre<StoreState>,
    pub(crate) allowed_hosts: AllowedHosts,
    environment: Vec<(String, String)>,
}

impl App {
    /// Loads `spin.toml`, resolves variables, compiles (or loads from cache) every component that
    /// an HTTP trigger uses, checks their imports, and pre-instantiates them.
    ///
    /// Fails like `spin up` would: invalid manifest, unsupported feature, required variable
    /// without value, unknown variable in a template, invalid `allowed_outbound_hosts`,
    /// unsupported import, missing `wasi:http/incoming-handler` export.
    pub async fn load(manifest_path: impl AsRef<Path>, options: RuntimeOptions) -> Result<App> {
        let started = Instant::now();
        let manifest_path = manifest_path.as_ref();
        let mut manifest = Manifest::from_file(manifest_path)?;
        if !options.components.is_empty() {
            manifest
                .retain_components(&options.components)
                .context("failed to resolve application with only components selected with --component")?;
        }

        let env = if options.env_variables { env_snapshot() } else { HashMap::new() };
        let mut resolver = Resolver::new(manifest.variables.clone(), options.variables.clone(), env)?;
        for (id, c) in &manifest.components {
            resolver.add_component(id, &c.variables).with_context(|| format!("component {id:?}"))?;
        }
        resolver.ensure_required_resolvable()?;

        let (router, duplicates) =
            Router::build(manifest.http_triggers.iter().enumerate().map(|(i, t)| (i, &t.route)))?;
        if !duplicates.is_empty() {
            tracing::error!("The following component routes are duplicates and will never be used:");
            for d in &duplicates {
                tracing::error!(
                    "  {}: {} (duplicate of {})",
                    trigger_label(&manifest, d.replaced),
                    if d.route.is_empty() { "/" } else { &d.route },
                    trigger_label(&manifest, d.effective)
                );
            }
        }
        if router.contains_reserved_route() {
            tracing::error!(
                "Routes under {WELL_KNOWN_PREFIX} are handled by the Spin runtime and will never be reached"
            );
        }

        let chainable: HashSet<String> = manifest
            .http_triggers
            .iter()
            .filter_map(|t| match &t.handler {
                TriggerHandler::Component(c) => Some(c.clone()),
                TriggerHandler::Static(_) => None,
            })
            .collect();

        let limits = options.limits.clone();
        let engine = build_engine(&limits)?;
        let cache_dir = if options.no_cache {
            None
        } else {
            Some(options.cache_dir.clone().unwrap_or_else(|| manifest.base_dir.join(".cache").join("runtime-local")))
        };
        let cache = CompileCache::new(cache_dir, &limits);

        let mut linker: Linker<StoreState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        crate::bindings::postgres::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        crate::bindings::redis::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        crate::bindings::variables::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;

        let component_ids: Vec<String> = manifest.components.keys().cloned().collect();
        let mut components = HashMap::new();
        for id in manifest.components.keys().filter(|id| chainable.contains(*id)) {
            let decl = &manifest.components[id];
            let allowed_hosts = AllowedHosts::parse(&decl.allowed_outbound_hosts, &resolver, &component_ids)
                .with_context(|| format!("component {id:?}: invalid allowed_outbound_hosts"))?;
            let t = Instant::now();
            let (engine2, cache2, source) = (engine.clone(), cache.clone(), decl.source.clone());
            let (component, outcome): (Component, CacheOutcome) =
                tokio::task::spawn_blocking(move || cache2.load(&engine2, &source))
                    .await?
                    .with_context(|| format!("component {id:?}"))?;
            check_component(&engine, &component, id)?;
            let pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id:?} cannot be linked"))?;
            let pre = ProxyPre::new(pre)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id:?} does not export wasi:http/incoming-handler@0.2.x"))?;
            tracing::debug!(component = %id, ?outcome, elapsed_ms = t.elapsed().as_millis() as u64, "component ready");
            components.insert(
                id.clone(),
                Arc::new(ComponentRuntime {
                    id: id.clone(),
                    pre,
                    allowed_hosts,
                    environment: decl.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                }),
            );
        }

        let epoch_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = epoch_stop.clone();
            std::thread::Builder::new()
                .name("runtime-local-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })?;
        }

        tracing::info!(
            app = %manifest.application.name,
            components = components.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "app loaded"
        );
        let mut telemetry = options.otlp.as_ref().map(|c| Telemetry::start(c, &manifest.application.name));
        let tracer = telemetry.as_mut().and_then(|t| t.tracer.take());
        Ok(App {
            inner: Arc::new(AppInner {
                engine,
                manifest,
                router,
                components,
                chainable,
                resolver,
                limits,
                refuse_empty_query_results: options.refuse_empty_query_results,
                guest_output: options.guest_output.clone(),
                tracer,
                telemetry,
                pg: PgPools::default(),
                redis: RedisClients::default(),
                self_origin: RwLock::new(None),
                epoch_stop,
            }),
        })
    }

    /// Starts serving on `addr` (use port 0 for an ephemeral port). Returns once listening.
    pub async fn serve(&self, addr: SocketAddr) -> Result<Server> {
        Server::start(self.inner.clone(), addr).await
    }

    /// The routes as `(route, component id or "static")`, in routing order.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .router
            .routes()
            .iter()
            .map(|(route, t)| (route.clone(), handler_label(&self.inner.manifest, *t)))
            .collect()
    }

    /// The application name from `[application]`.
    pub fn name(&self) -> &str {
        &self.inner.manifest.application.name
    }

    /// Handles one request in-process, without a socket, exactly as the server would
    /// (routing, well-known routes, spin-* headers, limits). `client_addr` is reported in
    /// `spin-client-addr`. The response body is fully buffered.
    pub async fn handle(&self, req: Request<Bytes>, client_addr: SocketAddr) -> Result<Response<Bytes>> {
        let req = req.map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
        let (resp, _) = self.inner.handle(req, client_addr).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| anyhow!("response body error: {e}"))?.to_bytes();
        Ok(Response::from_parts(parts, body))
    }

    /// Test and tooling only (no guest can reach it): dispatches one request to the component
    /// `component_id` exactly as service chaining does (`http://<id>.spin.internal/...` from a
    /// guest), so private components can be called directly without a public route. The
    /// request's path is the whole path the component sees (e.g. `/api/carts/add_item`); any
    /// authority is replaced by `<id>.spin.internal` and the `Host` header is dropped, like a
    /// chained request. Limits apply as usual. The response body is fully buffered.
    pub async fn handle_chained(&self, component_id: &str, req: Request<Bytes>) -> Result<Response<Bytes>> {
        let (mut parts, body) = req.into_parts();
        let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        parts.uri = Uri::builder()
            .scheme("http")
            .authority(format!("{component_id}.spin.internal"))
            .path_and_query(path_and_query)
            .build()
            .with_context(|| format!("invalid component id {component_id:?}"))?;
        parts.headers.remove(http::header::HOST);
        let req = Request::from_parts(parts, Full::new(body).map_err(|never| match never {}).boxed_unsync());
        let resp = self.inner.handle_chained(component_id, req, None).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| anyhow!("response body error: {e}"))?.to_bytes();
        Ok(Response::from_parts(parts, body))
    }
}

fn trigger_label(m: &Manifest, i: usize) -> String {
    let route = match &m.http_triggers[i].route {
        crate::routes::RouteConfig::Route(r) => r.clone(),
        crate::routes::RouteConfig::Private { .. } => "<private>".into(),
    };
    format!("{} {}", handler_label(m, i), route)
}

fn handler_label(m: &Manifest, i: usize) -> String {
    match &m.http_triggers[i].handler {
        TriggerHandler::Component(c) => c.clone(),
        TriggerHandler::Static(_) => format!("{} (static)", m.http_triggers[i].id),
    }
}

/// A response plus the component that produced it (for the request log).
pub(crate) type Handled = (Response<HyperOutgoingBody>, Option<String>);

pub(crate) fn empty_body() -> HyperOutgoingBody {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()
}

fn full_body(b: impl Into<Bytes>) -> HyperOutgoingBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed_unsync()
}

fn status_only(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut r = Response::new(empty_body());
    *r.status_mut() = status;
    r
}

impl AppInner {
    pub(crate) fn set_self_origin(&self, addr: SocketAddr) {
        *self.self_origin.write().unwrap() = Some(addr);
    }

    pub(crate) fn self_origin(&self) -> Option<SocketAddr> {
        *self.self_origin.read().unwrap()
    }

    /// Spin's `instrumented_service_fn`: the server span around [`AppInner::handle_routed`]
    /// when traces are on.
    pub(crate) async fn handle(
        self: &Arc<Self>,
        req: Request<HyperIncomingBody>,
        client_addr: SocketAddr,
    ) -> Result<Handled> {
        let Some(tracer) = &self.tracer else {
            return self.handle_routed(req, client_addr, None, &mut None).await;
        };
        let span = tracer.server_span(&req, client_addr);
        let method = req.method().to_string();
        let mut route = None;
        let result = self.handle_routed(req, client_addr, Some(&span), &mut route).await;
        finalize_server_span(&span, &method, route.as_deref(), result.as_ref().ok().map(|(r, _)| r.status().as_u16()));
        result
    }

    /// Spin's `HttpServer::handle`: well-known routes, routing, 404, then the trigger. `route`
    /// gets Spin's `MatchedRoute` (for `http.route`).
    async fn handle_routed(
        self: &Arc<Self>,
        mut req: Request<HyperIncomingBody>,
        client_addr: SocketAddr,
        server_span: Option<&Span>,
        route: &mut Option<String>,
    ) -> Result<Handled> {
        // strip_forbidden_headers: a Host that names a chaining host is removed.
        if let Some(host) = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()) {
            if service_chaining_target(host).is_some() {
                req.headers_mut().remove(http::header::HOST);
            }
        }
        let path = req.uri().path().to_string();
        if let Some(well_known) = path.strip_prefix(WELL_KNOWN_PREFIX) {
            if matches!(well_known, "health" | "info") {
                *route = Some(path.clone());
            }
            return Ok((
                match well_known {
                    "health" => Response::new(full_body(Bytes::from_static(b"OK"))),
                    "info" => self.app_info()?,
                    _ => status_only(StatusCode::NOT_FOUND),
                },
                None,
            ));
        }
        let Some(route_match) = self.router.route(&path) else {
            return Ok((status_only(StatusCode::NOT_FOUND), None));
        };
        let trigger = &self.manifest.http_triggers[route_match.trigger];
        if let Some(t) = &self.telemetry {
            // Spin's `handle_trigger_route`: before the lookup, for static responses too (the
            // lookup key is then the trigger id).
            t.count_request(match &trigger.handler {
                TriggerHandler::Component(id) => id,
                TriggerHandler::Static(_) => &trigger.id,
            });
        }
        match &trigger.handler {
            TriggerHandler::Static(sr) => {
                set_req_uri(&mut req)?;
                Ok((static_response(sr)?, None))
            }
            TriggerHandler::Component(id) => {
                let component = self
                    .components
                    .get(id)
                    .cloned()
                    .ok_or_else(|| anyhow!("unknown routing destination '{id}'"))?;
                *route = Some(route_match.raw_route.clone());
                let resp =
                    self.handle_component(req, &route_match, client_addr, &component, server_span, server_span).await?;
                Ok((resp, Some(id.clone())))
            }
        }
    }

    /// Service chaining: `http://<target>.spin.internal/...`, dispatched in-process as if the
    /// whole path matched `/...` on the target (Spin's `RouteMatch::synthetic`).
    pub(crate) async fn handle_chained(
        self: &Arc<Self>,
        target: &str,
        req: Request<HyperIncomingBody>,
        parent: Option<&Span>,
    ) -> Result<Response<HyperOutgoingBody>> {
        if !self.chainable.contains(target) {
            bail!("unknown routing destination '{target}'");
        }
        let component = self
            .components
            .get(target)
            .cloned()
            .ok_or_else(|| anyhow!("unknown routing destination '{target}'"))?;
        let trigger = self
            .manifest
            .http_triggers
            .iter()
            .position(|t| matches!(&t.handler, TriggerHandler::Component(c) if c == target))
            .unwrap_or(0);
        let route_match = RouteMatch::synthetic(trigger, req.uri().path());
        // Chained requests go through Spin's `handle_trigger_route` too, so they are counted.
        if let Some(t) = &self.telemetry {
            t.count_request(target);
        }
        // Spin's interceptor calls `handle_trigger_route` directly: no server span, the
        // execution span is a child of the caller's outbound span.
        self.handle_component(req, &route_match, CHAINED_CLIENT_ADDR, &component, parent, None).await
    }

    /// Spin's `handle_trigger_route` + `WasiHttpExecutor`: set the URI, add spin-* headers,
    /// run the component; any failure becomes an empty 500.
    async fn handle_component(
        self: &Arc<Self>,
        mut req: Request<HyperIncomingBody>,
        route_match: &RouteMatch,
        client_addr: SocketAddr,
        component: &Arc<ComponentRuntime>,
        parent: Option<&Span>,
        server_span: Option<&Span>,
    ) -> Result<Response<HyperOutgoingBody>> {
        set_req_uri(&mut req)?;

        // Request body limit (runtime-local addition; Spin has none): 413 before running anything.
        let limit = self.limits.max_request_body_bytes;
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Ok(status_only(StatusCode::PAYLOAD_TOO_LARGE));
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, limit).collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return Ok(status_only(StatusCode::PAYLOAD_TOO_LARGE));
            }
            Err(e) => bail!("failed to read request body: {e}"),
        };
        let mut req = Request::from_parts(parts, Full::new(body).map_err(|never| match never {}).boxed_unsync());

        if let Err(e) = prepare_headers(&mut req, route_match, client_addr) {
            tracing::error!(component = %component.id, "Error processing request: {e:#}");
            return Ok(status_only(StatusCode::INTERNAL_SERVER_ERROR));
        }
        // Spin's `#[instrument(name = "spin_trigger_http.execute_wasm", fields(otel.name =
        // "execute_wasm_component <id>"))]` (crates/trigger-http/src/wasi.rs).
        let exec_span = parent.map(|p| p.child(format!("execute_wasm_component {}", component.id), Kind::Internal));
        match self.execute(component, req, exec_span).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                tracing::error!(component = %component.id, "Error processing request: {e:#}");
                // Spin's `instrument_error` on the current (server) span.
                if let Some(s) = server_span {
                    s.set("error.type", format!("{e:?}"));
                }
                Ok(status_only(StatusCode::INTERNAL_SERVER_ERROR))
            }
        }
    }

    /// Instantiates the component in a fresh store and calls `wasi:http/incoming-handler`.
    async fn execute(
        self: &Arc<Self>,
        component: &Arc<ComponentRuntime>,
        req: Request<HyperIncomingBody>,
        span: Option<Span>,
    ) -> Result<Response<HyperOutgoingBody>> {
        let mut wasi = WasiCtx::builder();
        // Guest stdout and stderr both go to our stdout, next to the request log (or to the
        // in-memory collector a test asked for).
        // With OTLP logs on, each write is also one log record (Spin's `ComponentStdioWriter`).
        match (&self.guest_output, self.telemetry.as_ref().and_then(|t| t.logs.clone())) {
            (None, None) => wasi.stdout(std::io::stdout()).stderr(std::io::stdout()),
            (Some(GuestOutput(pipe)), None) => wasi.stdout(pipe.clone()).stderr(pipe.clone()),
            (None, Some(l)) => wasi
                .stdout(LoggedOutput(std::io::stdout(), l.clone()))
                .stderr(LoggedOutput(std::io::stdout(), l)),
            (Some(GuestOutput(pipe)), Some(l)) => wasi
                .stdout(LoggedOutput(pipe.clone(), l.clone()))
                .stderr(LoggedOutput(pipe.clone(), l)),
        };
        wasi.envs(&component.environment);
        // wasi:sockets like Spin: TCP connect / UDP only to `tcp://` / `udp://` allowed hosts;
        // no listening and no explicit TCP bind (the implicit wildcard bind of a connect is
        // allowed); no name lookup.
        let sockets_component = component.clone();
        wasi.allow_tcp(true).allow_udp(true).socket_addr_check(move |addr, addr_use| {
            let component = sockets_component.clone();
            Box::pin(async move {
                let implicit_bind = addr.ip().is_unspecified() && addr.port() == 0;
                let scheme = match addr_use {
                    SocketAddrUse::TcpBind => return implicit_bind,
                    SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => return false,
                    SocketAddrUse::TcpConnect => "tcp",
                    SocketAddrUse::UdpBind if implicit_bind => return true,
                    SocketAddrUse::UdpBind | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => "udp",
                };
                component.allowed_hosts.check_url(&addr.to_string(), scheme)
            })
        });
        let state = StoreState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(self.limits.max_memory_bytes).build(),
            outbound: OutboundHttp { app: self.clone(), component: component.clone(), span: span.clone() },
            app: self.clone(),
            component: component.clone(),
            span,
            redis_connections: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.limits.deadline_ticks());
        store.epoch_deadline_trap();

        let req = store.data_mut().http().new_incoming_request(WasiScheme::Http, req).map_err(anyhow::Error::from)?;
        let (tx, rx) = oneshot::channel();
        let out = store.data_mut().http().new_response_outparam(tx).map_err(anyhow::Error::from)?;
        let pre = component.pre.clone();
        let deadline = self.limits.execution_time;
        let runtime = component.clone();
        let run = async move {
            let run = async {
                let started = Instant::now();
                let proxy = pre.instantiate_async(&mut store).await?;
                let instantiated = started.elapsed();
                let result = proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await;
                // Where a request's time goes, per instance: creating it, and running the guest
                // (including the chained calls, SQL and Redis it waited for, each logged too).
                tracing::debug!(
                    component = %runtime.id,
                    instantiate_ms = instantiated.as_secs_f64() * 1000.0,
                    handler_ms = (started.elapsed() - instantiated).as_secs_f64() * 1000.0,
                    ok = result.is_ok(),
                    "instance"
                );
                result
            };
            match tokio::time::timeout(deadline, run).await {
                Ok(r) => r.map_err(anyhow::Error::from),
                Err(_) => Err(anyhow!("request exceeded the execution deadline of {deadline:?}")),
            }
        };

        // Spin runs each instance on a task of its own and waits for its response. Here the
        // instance runs in the caller's task until it has answered: a guest that answers and
        // finishes in one go (most do) costs no task, no wake-up of another worker and no
        // second task to reap it. One that is still running when its response arrives (a
        // streamed body, work after the response), or whose caller goes away before, goes on
        // on a task of its own, to completion, as in Spin.
        let mut guest = Guest(Some(Box::pin(run)));
        let mut rx = rx;
        let step = std::future::poll_fn(|cx| {
            if let Poll::Ready(done) = guest.poll_run(cx) {
                return Poll::Ready(Step::Finished(done));
            }
            Pin::new(&mut rx).poll(cx).map(Step::Answered)
        })
        .await;
        let no_response = |done: Result<()>| match done {
            Ok(()) => Err(anyhow!("guest failed to produce a response prior to returning")),
            Err(e) => Err(e.context("guest failed to produce a response")),
        };
        match step {
            Step::Finished(done) => match rx.try_recv() {
                Ok(Ok(resp)) => {
                    if let Err(e) = done {
                        tracing::error!(component = %component.id, "Component error after response started: {e:#}");
                    }
                    Ok(resp)
                }
                Ok(Err(code)) => bail!("guest responded with error code {code:?}"),
                Err(_) => no_response(done),
            },
            Step::Answered(Ok(Ok(resp))) => {
                let id = component.id.clone();
                guest.detach(move |done| {
                    if let Err(e) = done {
                        tracing::error!(component = %id, "Component error after response started: {e:#}");
                    }
                });
                Ok(resp)
            }
            Step::Answered(Ok(Err(code))) => {
                guest.detach(|_| {});
                bail!("guest responded with error code {code:?}")
            }
            Step::Answered(Err(_)) => no_response(std::future::poll_fn(|cx| guest.poll_run(cx)).await),
        }
    }

    fn app_info(&self) -> Result<Response<HyperOutgoingBody>> {
        #[derive(serde::Serialize)]
        struct AppInfo<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            version: Option<&'a str>,
        }
        let app = &self.manifest.application;
        let info = AppInfo {
            name: &app.name,
            version: (!app.version.is_empty()).then_some(app.version.as_str()),
        };
        let body = serde_json::to_vec_pretty(&info)?;
        Ok(Response::builder().header("content-type", "application/json").body(full_body(body))?)
    }
}

/// What came first when running an instance: its response (or the outparam dropped without
/// one), or its end.
enum Step {
    Answered(std::result::Result<std::result::Result<Response<HyperOutgoingBody>, ErrorCode>, oneshot::error::RecvError>),
    Finished(Result<()>),
}

/// An instance's run (instantiate, call, drop), polled in place until it is detached. Dropped
/// unfinished (the request's caller went away), it goes on on a task of its own, like a
/// spawned Spin instance that nobody waits for any more.
struct Guest(Option<Pin<Box<dyn Future<Output = Result<()>> + Send>>>);

impl Guest {
    /// Polls the run; a panic in it (a host function's) ends it with an error, as a panicking
    /// task would. Pending forever once it has finished.
    fn poll_run(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<()>> {
        let Some(run) = self.0.as_mut() else { return Poll::Pending };
        let done = match std::panic::catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(done)) => done,
            Err(panic) => Err(anyhow!("guest task failed: {}", panic_message(&panic))),
        };
        self.0 = None;
        Poll::Ready(done)
    }

    /// Lets the run finish on a task of its own, then hands its result to `finished`.
    fn detach(mut self, finished: impl FnOnce(Result<()>) + Send + 'static) {
        if let Some(run) = self.0.take() {
            tokio::spawn(async move {
                let done = match AssertUnwindSafe(run).catch_unwind().await {
                    Ok(done) => done,
                    Err(panic) => Err(anyhow!("guest task failed: {}", panic_message(&panic))),
                };
                finished(done);
            });
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Some(run) = self.0.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = AssertUnwindSafe(run).catch_unwind().await;
                });
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

fn static_response(sr: &StaticResponse) -> Result<Response<HyperOutgoingBody>> {
    let mut b = Response::builder().status(sr.status_code.unwrap_or(200));
    for (k, v) in &sr.headers {
        b = b.header(k, v);
    }
    let body = match &sr.body {
        Some(s) => full_body(s.clone()),
        None => empty_body(),
    };
    Ok(b.body(body)?)
}

/// Spin's `set_req_uri`: scheme `http` and the authority from the `Host` header or the URI.
fn set_req_uri<B>(req: &mut Request<B>) -> Result<()> {
    let mut parts = req.uri().clone().into_parts();
    let header_authority = req
        .headers()
        .get(http::header::HOST)
        .map(|h| -> Result<Authority> {
            let s = h.to_str().context("'Host' header is not valid UTF-8")?;
            s.parse().context("'Host' header contains an invalid authority")
        })
        .transpose()?;
    let authority = match (header_authority, parts.authority.take()) {
        (None, None) => bail!("no 'Host' header present in request"),
        (None, Some(a)) | (Some(a), None) => a,
        (Some(a1), Some(a2)) => {
            if a1 != a2 {
                bail!("authority in 'Host' header does not match authority in URI");
            }
            a1
        }
    };
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some("/".parse()?);
    }
    *req.uri_mut() = Uri::from_parts(parts)?;
    Ok(())
}

/// Spin's `prepare_request`: client headers (must be UTF-8) followed by the spin-* headers.
///
/// Spin copies the client headers out, clears the map and appends them back followed by its own;
/// appending its own to the map in place gives the same map (same names, values and order)
/// without copying every header twice.
fn prepare_headers<B>(req: &mut Request<B>, route_match: &RouteMatch, client_addr: SocketAddr) -> Result<()> {
    for (name, value) in req.headers() {
        std::str::from_utf8(value.as_bytes()).with_context(|| format!("header {name} is not valid UTF-8"))?;
    }
    let host = match req.headers().get(http::header::HOST) {
        Some(h) => std::str::from_utf8(h.as_bytes())?,
        None => "localhost",
    };
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let scheme = req.uri().scheme_str().unwrap_or("http");
    let full_url = format!("{scheme}://{host}{path_and_query}");
    route_match.append_spin_headers(req.headers_mut(), full_url, client_addr);
    Ok(())
}

/// Guest output written to `S` as before, and each write also sent to the OTLP log sink.
struct LoggedOutput<S>(S, LogSink);

impl<S: wasmtime_wasi::cli::IsTerminal> wasmtime_wasi::cli::IsTerminal for LoggedOutput<S> {
    fn is_terminal(&self) -> bool {
        self.0.is_terminal()
    }
}

impl<S: wasmtime_wasi::cli::StdoutStream> wasmtime_wasi::cli::StdoutStream for LoggedOutput<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // WASIp3 only (not linked by runtime-local): not logged.
        self.0.async_stream()
    }

    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(LoggedStream(self.0.p2_stream(), self.1.clone()))
    }
}

struct LoggedStream(Box<dyn wasmtime_wasi::p2::OutputStream>, LogSink);

impl wasmtime_wasi::p2::Pollable for LoggedStream {
    fn ready<'a, 'b>(&'a mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        self.0.ready()
    }
}

impl wasmtime_wasi::p2::OutputStream for LoggedStream {
    fn write(&mut self, bytes: Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        self.1.emit(&bytes);
        self.0.write(bytes)
    }

    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        self.0.flush()
    }

    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        self.0.check_write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn headers_are_appended_after_client_headers() {
        let (router, _) = Router::build([(0usize, &crate::routes::RouteConfig::Route("/api/...".into()))]).unwrap();
        let m = router.route("/api/x").unwrap();
        let mut req = Request::builder()
            .uri("http://h:1/api/x?y")
            .header("host", "h:1")
            .header("spin-full-url", "client")
            .body(())
            .unwrap();
        prepare_headers(&mut req, &m, "1.2.3.4:5".parse().unwrap()).unwrap();
        let values: Vec<_> = req.headers().get_all("spin-full-url").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(values, vec!["client", "http://h:1/api/x?y"]);
        assert_eq!(req.headers()["spin-path-info"], "/x");
        assert_eq!(req.headers()["spin-client-addr"], "1.2.3.4:5");
        assert_eq!(req.headers()["host"], "h:1");

        let mut bad = Request::builder().uri("/api/x").header("x", HeaderValue::from_bytes(b"\xff").unwrap()).body(()).unwrap();
        assert!(prepare_headers(&mut bad, &m, "1.2.3.4:5".parse().unwrap()).is_err(), "non-UTF-8 header values fail the request");
    }

    #[test]
    fn set_req_uri_rules() {
        let mut r = Request::builder().uri("/p?q").header("host", "a:1").body(()).unwrap();
        set_req_uri(&mut r).unwrap();
        assert_eq!(r.uri().to_string(), "http://a:1/p?q");
        let mut r = Request::builder().uri("/p").body(()).unwrap();
        assert!(set_req_uri(&mut r).is_err());
        let mut r = Request::builder().uri("http://b/p").header("host", "a").body(()).unwrap();
        assert!(set_req_uri(&mut r).is_err());
    }
}
