//! The HTTP listener (hyper, HTTP/1.1 and h2c) with per-request logging and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app::AppInner;

/// A running server. Dropping it without [`Server::shutdown`] keeps serving until the runtime
/// stops.
pub struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    app: Arc<AppInner>,
}

impl Server {
    pub(crate) async fn start(app: Arc<AppInner>, addr: SocketAddr) -> Result<Server> {
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("Unable to listen on {addr}")
        })?;
        let addr = listener.local_addr()?;
        app.set_self_origin(addr);
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(app.clone(), listener, rx));
        Ok(Server { addr, shutdown: tx, task, app })
    }

    /// The bound address (with the real port when port 0 was requested).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to 10 s), then returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        // Spin flushes its OTel providers on exit: export what is queued and the metrics now.
        if let Some(t) = &self.app.telemetry {
            t.flush().await;
        }
    }

    /// Waits until the server stops (it only stops through [`Server::shutdown`]).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Serves until Ctrl-C (SIGINT) or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn accept_loop(app: Arc<AppInner>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, client_addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => { tracing::warn!("accept failed: {e}"); continue; }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let mut shutdown = shutdown.clone();
                conns.spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let app = app.clone();
                        async move { serve_one(app, req, client_addr).await }
                    });
                    // HTTP/1.1 and HTTP/2 with prior knowledge (h2c), like Spin's listener.
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let mut conn = std::pin::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => if let Err(e) = r { tracing::debug!("connection error: {e}"); },
                        _ = shutdown.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain).await.is_err() {
        tracing::warn!("some connections did not finish within 10 s; closing them");
        conns.abort_all();
    }
}

async fn serve_one(
    app: Arc<AppInner>,
    req: hyper::Request<Incoming>,
    client_addr: SocketAddr,
) -> Result<hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let req = req.map(|b| b.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
    match app.handle(req, client_addr).await {
        Ok((resp, component)) => {
            tracing::info!(
                target: "runtime_local::request",
                "{method} {path} {} {} {:.1}ms",
                component.as_deref().unwrap_or("-"),
                resp.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            Ok(resp)
        }
        Err(e) => {
            tracing::warn!(target: "runtime_local::request", "{method} {path} - dropped: {e:#}");
            Err(e)
        }
    }
}
