//! A stand-in for one of the shop's services, on a loopback port of the test process: point the
//! shop's `<service>_url` variable at it ([`FaultyService::url`]) and it forwards each call to the
//! real component in-process (the chaining path, `App::handle_chained`), or fails it on purpose:
//! an error status, a hang, a dropped connection, or a dropped connection after the real
//! component has done the work (the answer is lost, the effect is not).
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runtime_local::App;

/// What the stand-in does with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Pass it to the real component and return its answer.
    Forward,
    /// Answer this status with a JSON error envelope, without calling the component.
    Fail(u16),
    /// Never answer (the caller's timeout must fire).
    Hang,
    /// Close the connection without answering.
    Reset,
    /// Pass it to the real component, then close the connection without its answer.
    ForwardThenReset,
    /// Pass it to the real component, then answer this status instead of its answer.
    ForwardThenFail(u16),
    /// Pass it on after a delay.
    Slow(Duration),
    /// Hold it until [`FaultyService::release`], then pass it on: the test does something while
    /// the call is in flight, whatever the machine's speed.
    Held,
}

/// One call the stand-in received: the operation path, what it did, and the trace headers it
/// carried (exactly as received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub mode: Mode,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

#[derive(Default)]
struct State {
    app: Option<App>,
    /// Mode per operation path; `*` for any path not listed.
    modes: HashMap<String, Mode>,
    /// One-shot modes per path, used before `modes`.
    once: HashMap<String, Vec<Mode>>,
    seen: Vec<Seen>,
    /// Opened (set to true) by [`FaultyService::release`]; held calls wait for it.
    released: tokio::sync::watch::Sender<bool>,
}

/// The stand-in server; stops when dropped.
pub struct FaultyService {
    component: String,
    port: u16,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultyService {
    /// Listens on a free loopback port, standing in for `component` (e.g. `payment`).
    pub async fn start(component: &str) -> Result<FaultyService> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        state.lock().unwrap().modes.insert("*".into(), Mode::Forward);
        let (st, comp) = (state.clone(), component.to_string());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (st, comp) = (st.clone(), comp.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(st.clone(), comp.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(FaultyService { component: component.to_string(), port, state, accept })
    }

    /// The base URL to give the shop as `<service>_url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `(variable, value)` override pointing the shop at this stand-in.
    pub fn variable(&self) -> (String, String) {
        (format!("{}_url", self.component), self.url())
    }

    /// The app whose component calls are forwarded to (set once the shop has started).
    pub fn attach(&self, app: &App) {
        self.state.lock().unwrap().app = Some(app.clone());
    }

    /// A hook for `ShopOptions::on_load` that attaches the app as soon as it is loaded.
    pub fn attacher(&self) -> impl Fn(&App) + Send + Sync + 'static {
        let state = self.state.clone();
        move |app: &App| state.lock().unwrap().app = Some(app.clone())
    }

    /// What to do with calls to `path` (`*`: every path without a mode of its own).
    pub fn set(&self, path: &str, mode: Mode) {
        self.state.lock().unwrap().modes.insert(path.to_string(), mode);
    }

    /// What to do with the next call to `path` only (queued: one per call).
    pub fn once(&self, path: &str, mode: Mode) {
        self.state.lock().unwrap().once.entry(path.to_string()).or_default().push(mode);
    }

    /// Lets every held call (and any later one in [`Mode::Held`]) go on.
    pub fn release(&self) {
        self.state.lock().unwrap().released.send_replace(true);
    }

    /// Back to forwarding everything.
    pub fn heal(&self) {
        let mut s = self.state.lock().unwrap();
        s.modes.clear();
        s.once.clear();
        s.modes.insert("*".into(), Mode::Forward);
    }

    /// Every call received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many calls to `path` were received.
    pub fn calls(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }
}

impl Drop for FaultyService {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

type Answer = Result<hyper::Response<Full<Bytes>>, std::io::Error>;

async fn handle(state: Arc<Mutex<State>>, component: String, req: hyper::Request<hyper::body::Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path().to_string();
    let (mode, app, mut released) = {
        let mut s = state.lock().unwrap();
        let once = s.once.get_mut(&path).and_then(|q| (!q.is_empty()).then(|| q.remove(0)));
        let mode = once
            .or_else(|| s.modes.get(&path).cloned())
            .or_else(|| s.modes.get("*").cloned())
            .unwrap_or(Mode::Forward);
        let header = |name: &str| parts.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        s.seen.push(Seen { path: path.clone(), mode: mode.clone(), traceparent: header("traceparent"), tracestate: header("tracestate") });
        let released = s.released.subscribe();
        (mode, s.app.clone(), released)
    };
    let forward = async {
        let Some(app) = app else { return Ok::<_, Infallible>(error(503, "the stand-in has no app attached yet")) };
        let mut builder = http::Request::builder().method(parts.method.clone()).uri(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
        for (k, v) in &parts.headers {
            if k != http::header::HOST {
                builder = builder.header(k, v);
            }
        }
        let req = builder.body(body.clone()).expect("a request builds");
        Ok(match app.handle_chained(&component, req).await {
            Ok(resp) => {
                let (p, b) = resp.into_parts();
                hyper::Response::from_parts(p, Full::new(b))
            }
            Err(e) => error(500, &format!("forwarding failed: {e:#}")),
        })
    };
    let lost = || Err(std::io::Error::other("connection dropped on purpose"));
    match mode {
        Mode::Forward => Ok(forward.await.unwrap_or_else(|never| match never {})),
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Ok(forward.await.unwrap_or_else(|never| match never {}))
        }
        Mode::Held => {
            let _ = released.wait_for(|open| *open).await;
            Ok(forward.await.unwrap_or_else(|never| match never {}))
        }
        Mode::Fail(status) => Ok(error(status, "failed on purpose by the test")),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            lost()
        }
        Mode::Reset => lost(),
        Mode::ForwardThenReset => {
            let _ = forward.await;
            lost()
        }
        Mode::ForwardThenFail(status) => {
            let _ = forward.await;
            Ok(error(status, "failed on purpose by the test, after the work was done"))
        }
    }
}

fn error(status: u16, message: &str) -> hyper::Response<Full<Bytes>> {
    let code = match status {
        503 => "unavailable",
        500 => "internal",
        _ => "bad_request",
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a response builds")
}
