//! Routing, spin-* headers, well-known routes, static responses, chaining, outbound HTTP,
//! variables, limits and start-up refusals — against the real test component.

use std::time::{Duration, Instant};

use bytes::Bytes;
use crate::common::*;
use runtime_local::{App, Limits, RuntimeOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_precedence_private_and_404() {
    let (_app, server) = start(options()).await;
    let a = server.addr();

    let r = get(a, "/api/echo/x?q=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "api");

    let r = get(a, "/api/exact").await;
    assert_eq!(r.json()["name"], "exact", "exact route beats /api/...");
    let r = get(a, "/api/exact/").await;
    assert_eq!(r.json()["name"], "exact", "trailing slash is ignored for exact routes");
    let r = get(a, "/api/exactly").await;
    assert_eq!(r.json()["name"], "api");

    let r = get(a, "/api/deeper/a/b").await;
    assert_eq!(r.json()["name"], "deeper", "longest wildcard prefix wins");
    assert_eq!(r.echoed("spin-path-info"), vec!["/a/b"]);
    let r = get(a, "/api/deeper").await;
    assert_eq!(r.json()["name"], "deeper");
    assert_eq!(r.echoed("spin-path-info"), vec![""]);

    let r = get(a, "/users/42").await;
    assert_eq!(r.json()["name"], "users");
    assert_eq!(r.echoed("spin-path-match-user-id"), vec!["42"]);
    assert_eq!(get(a, "/users/42/more").await.status, 404);

    let r = get(a, "/").await;
    assert_eq!(r.json()["name"], "root");
    assert_eq!(r.echoed("spin-matched-route"), vec![""]);
    assert_eq!(r.echoed("spin-raw-component-route"), vec!["/"]);

    for path in ["/nope", "/internal", "/internal/x", "/apix", "/static/x"] {
        let r = get(a, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.is_empty(), "{path}: 404 has an empty body");
    }

    let r = get(a, "/static").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.headers["x-static"], "yes");
    assert_eq!(r.text(), "static!");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_known_routes() {
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let r = get(a, "/.well-known/spin/health").await;
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert!(r.headers.get("content-type").is_none());
    let r = send(a, "POST", "/.well-known/spin/health", &[], "x").await;
    assert_eq!(r.status, 200, "any method");
    let r = get(a, "/.well-known/spin/info").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.text(), "{\n  \"name\": \"rl-test\",\n  \"version\": \"0.1.0\"\n}");
    assert_eq!(get(a, "/.well-known/spin/other").await.status, 404);
    assert_eq!(get(a, "/.well-known/spin/health/").await.status, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_headers_like_spin() {
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let r = send(a, "GET", "/api/echo/css/a.css?v=2", &[("x-custom", "1"), ("spin-full-url", "client")], Bytes::new()).await;
    let host = a.to_string();
    assert_eq!(r.json()["uri"], format!("http://{host}/api/echo/css/a.css?v=2"));
    assert_eq!(r.json()["path_and_query"], "/api/echo/css/a.css?v=2");
    assert_eq!(r.echoed("spin-path-info"), vec!["/echo/css/a.css"]);
    // Client-supplied spin-* headers are kept and Spin's value is appended after them (see the
    // unit test in app.rs); spin-sdk's Request keeps the last value of a repeated header.
    assert_eq!(r.echoed("spin-full-url"), vec![format!("http://{host}/api/echo/css/a.css?v=2")]);
    assert_eq!(r.echoed("spin-matched-route"), vec!["/api/..."]);
    assert_eq!(r.echoed("spin-base-path"), vec!["/"]);
    assert_eq!(r.echoed("spin-raw-component-route"), vec!["/api/..."]);
    assert_eq!(r.echoed("spin-component-route"), vec!["/api"]);
    let client_addr = r.echoed("spin-client-addr");
    assert_eq!(client_addr.len(), 1);
    assert!(client_addr[0].starts_with("127.0.0.1:"), "{client_addr:?}");
    assert_eq!(r.echoed("x-custom"), vec!["1"]);
    assert!(r.echoed("host").is_empty(), "guests do not see the Host header");
    assert_eq!(r.json()["env_count"], 1, "the guest environment is exactly [component.x] environment");

    // Exact route: empty path info, component route == raw route.
    let r = get(a, "/api/exact?x=y").await;
    assert_eq!(r.echoed("spin-path-info"), vec![""]);
    assert_eq!(r.echoed("spin-component-route"), vec!["/api/exact"]);

    // Request without Host: the connection is dropped like Spin does (no response).
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /api/exact HTTP/1.0\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_chaining_and_self_requests() {
    let (_app, server) = start(options()).await;
    let a = server.addr();

    // In-process chaining to a private component.
    let r = get(a, "/api/http?url=http://internal.spin.internal/echo/abc?z=1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let inner: serde_json::Value = serde_json::from_str(r.json()["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["name"], "internal");
    assert_eq!(inner["uri"], "http://internal.spin.internal/echo/abc?z=1");
    let h: Vec<(String, String)> = inner["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    let get_h = |n: &str| h.iter().filter(|(k, _)| k == n).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    assert_eq!(get_h("spin-path-info"), vec!["/echo/abc"]);
    assert_eq!(get_h("spin-matched-route"), vec!["/..."]);
    assert_eq!(get_h("spin-raw-component-route"), vec!["/..."]);
    assert_eq!(get_h("spin-component-route"), vec![""]);
    assert_eq!(get_h("spin-client-addr"), vec!["0.0.0.0:0"]);
    assert_eq!(get_h("spin-full-url"), vec!["http://localhost/echo/abc?z=1"]);
    assert_eq!(get_h("x-from"), vec!["rl-test-app"]);

    // Chaining to itself (api allows http://api.spin.internal).
    let r = get(a, "/api/http?url=http://api.spin.internal/var/greeting").await;
    let inner: serde_json::Value = serde_json::from_str(r.json()["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["value"], "hello, world");

    // Self requests: http://self.alt/... and a relative URL go through the listener.
    for url in ["http://self.alt/api/exact", "/api/exact"] {
        let r = get(a, &format!("/api/http?url={url}")).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let inner: serde_json::Value = serde_json::from_str(r.json()["body"].as_str().unwrap()).unwrap();
        assert_eq!(inner["name"], "exact", "{url}");
        assert_eq!(inner["uri"], format!("http://{a}/api/exact"));
    }

    // Chaining requires allowed_outbound_hosts; `deny` has none.
    let r = get(a, "/deny/http?url=http://internal.spin.internal/x").await;
    assert_eq!(r.json()["error"], "Http(ErrorCode::HttpRequestDenied)");
    let r = get(a, "/deny/http?url=/api/exact").await;
    assert_eq!(r.json()["error"], "Http(ErrorCode::HttpRequestDenied)");
    // Not listed -> denied before dispatch.
    let r = get(a, "/api/http?url=http://root.spin.internal/").await;
    assert_eq!(r.json()["error"], "Http(ErrorCode::HttpRequestDenied)");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_http_to_network_and_denials() {
    // A plain upstream HTTP server on loopback that echoes the Host header and x-from.
    let upstream = upstream_server(|req| {
        let header = |n: &str| req.headers().get(n).map(|h| h.to_str().unwrap().to_string()).unwrap_or_default();
        format!("{}|{}|{}", header("host"), header("x-from"), req.uri())
    })
    .await;
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let r = get(a, &format!("/api/http?url=http://{upstream}/up?x=1")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], 200);
    assert_eq!(r.json()["body"], format!("{upstream}|rl-test-app|/up?x=1"));

    for url in ["http://example.com/", "https://127.0.0.1:1/", "http://localhost:80/"] {
        let r = get(a, &format!("/api/http?url={url}")).await;
        assert_eq!(r.json()["error"], "Http(ErrorCode::HttpRequestDenied)", "{url}");
    }
    let r = get(a, &format!("/deny/http?url=http://{upstream}/up")).await;
    assert_eq!(r.json()["error"], "Http(ErrorCode::HttpRequestDenied)");
    server.shutdown().await;
}

/// Like a Spin instance on its own task, an instance runs to completion when the client that
/// asked for it goes away first: runtime-local runs it in the connection's task until it
/// answers, and hands it to a task of its own when that task is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_outlives_its_client() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let upstream = upstream_server(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        "hit".to_string()
    })
    .await;
    let (_app, server) = start(options()).await;
    let a = server.addr();
    // Sanity: the route calls the upstream when the client waits for it.
    let r = get(a, &format!("/api/late/10?url=http://{upstream}/hit")).await;
    assert_eq!(r.json()["body"], "hit", "{}", r.text());
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A client that leaves while the instance sleeps.
    let mut client = tokio::net::TcpStream::connect(a).await.unwrap();
    let request = format!("GET /api/late/300?url=http://{upstream}/hit HTTP/1.1\r\nhost: {a}\r\n\r\n");
    client.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(client);
    let t = Instant::now();
    while hits.load(Ordering::SeqCst) < 2 && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "the instance went on after its client left");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_sockets_follow_allowed_hosts() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(r).read_line(&mut line).await.is_ok() {
                    let _ = w.write_all(format!("pong:{}\n", line.trim()).as_bytes()).await;
                }
            });
        }
    });
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let r = get(a, &format!("/api/tcp?addr={echo}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["reply"], "pong:ping");
    let r = get(a, &format!("/deny/tcp?addr={echo}")).await;
    assert_eq!(r.status, 502, "tcp:// not allowed for `deny`: {}", r.text());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_prior_knowledge() {
    let (_app, server) = start(options()).await;
    let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(format!("http://{}/api/var/greeting", server.addr()))
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"value":"hello, world"}"#);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_defaults_overrides_and_errors() {
    let (_app, server) = start(options()).await;
    let a = server.addr();
    assert_eq!(get(a, "/api/var/greeting").await.json()["value"], "hello, world");
    assert_eq!(get(a, "/api/var/key").await.json()["value"], "sekret");
    assert_eq!(get(a, "/api/var/plain").await.json()["value"], "literal");
    assert_eq!(get(a, "/deny/var/greeting").await.json()["value"], "hello");
    let r = get(a, "/api/var/nope").await;
    assert_eq!(r.json()["error"], "Error::Undefined(\"no variable for \\\"api\\\".\\\"nope\\\"\")");
    // App variables are not visible unless the component maps them.
    let r = get(a, "/api/var/api_key").await;
    assert_eq!(r.json()["error"], "Error::Undefined(\"no variable for \\\"api\\\".\\\"api_key\\\"\")");
    let r = get(a, "/api/var/Bad").await;
    assert_eq!(
        r.json()["error"],
        "Error::InvalidName(\"\\\"Bad\\\": invalid character 'B'. Variable names may contain only lower-case letters, numbers, and underscores.\")"
    );
    server.shutdown().await;

    let mut opts = options();
    opts.variables.insert("greeting".into(), "hi".into());
    let (_app, server) = start(opts).await;
    assert_eq!(get(server.addr(), "/api/var/greeting").await.json()["value"], "hi, world");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_variable_without_value_refuses_to_start() {
    build_test_components();
    let mut opts = options();
    opts.variables.clear();
    let err = App::load(manifest("spin.toml"), opts).await.err().expect("must refuse");
    let msg = format!("{err:#}");
    assert!(msg.contains("no provider resolved required variable(s): [Key(\"api_key\")]"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_import_is_refused_at_startup() {
    build_test_components();
    let err = App::load(manifest("kv.toml"), options()).await.err().expect("must refuse");
    let msg = format!("{err:#}");
    assert!(msg.contains("fermyon:spin/key-value@2.0.0"), "{msg}");
    assert!(msg.contains("\"kv\""), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_manifest_feature_is_refused() {
    build_test_components();
    let dir = std::env::temp_dir().join(format!("rl-manifest-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(manifest("spin.toml"))
        .unwrap()
        .replace("[component.deny]\n", "[component.deny]\nkey_value_stores = [\"default\"]\n");
    std::fs::write(dir.join("spin.toml"), text).unwrap();
    let err = App::load(dir.join("spin.toml"), options()).await.err().expect("must refuse");
    assert!(format!("{err:#}").contains("key_value_stores"), "{err:#}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit() {
    let mut opts = options();
    opts.limits.max_memory_bytes = 32 << 20;
    let (_app, server) = start(opts).await;
    let a = server.addr();
    let r = get(a, "/api/alloc/8").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sum"], 2048);
    let r = get(a, "/api/alloc/48").await;
    assert_eq!(r.status, 500, "allocating beyond the memory limit fails the request");
    assert!(r.body.is_empty());
    // The server keeps working afterwards.
    assert_eq!(get(a, "/api/alloc/8").await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_deadline() {
    let mut opts = options();
    opts.limits.execution_time = Duration::from_millis(1500);
    let (_app, server) = start(opts).await;
    let a = server.addr();
    let t = Instant::now();
    let r = get(a, "/api/loop").await;
    let took = t.elapsed();
    assert_eq!(r.status, 500);
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(get(a, "/api/exact").await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_body_limit() {
    let mut opts = options();
    opts.limits.max_request_body_bytes = 64 * 1024;
    let (_app, server) = start(opts).await;
    let a = server.addr();
    let r = send(a, "POST", "/api/body", &[], vec![7u8; 64 * 1024]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["len"], 64 * 1024);
    let r = send(a, "POST", "/api/body", &[], vec![7u8; 64 * 1024 + 1]).await;
    assert_eq!(r.status, 413);
    // Static responses and 404s do not read the body.
    assert_eq!(send(a, "POST", "/nope", &[], vec![0u8; 200_000]).await.status, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_cache_is_written_and_reused() {
    build_test_components();
    let dir = std::env::temp_dir().join(format!("rl-cache-{}", uuid::Uuid::new_v4().simple()));
    let opts = RuntimeOptions { cache_dir: Some(dir.clone()), ..options() };
    let t = Instant::now();
    let _app = App::load(manifest("spin.toml"), opts.clone()).await.unwrap();
    let first = t.elapsed();
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(entries.len(), 1, "one artifact for the one distinct wasm file");
    let modified = entries[0].metadata().unwrap().modified().unwrap();
    let t = Instant::now();
    let _app2 = App::load(manifest("spin.toml"), opts).await.unwrap();
    let second = t.elapsed();
    let again = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
    assert_eq!(again.metadata().unwrap().modified().unwrap(), modified, "artifact reused, not rewritten");
    eprintln!("cold load {first:?}, cached load {second:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_handle_and_graceful_shutdown() {
    let (app, server) = start(options()).await;
    let req = http::Request::builder()
        .uri("/api/var/greeting")
        .header("host", "example.test")
        .body(Bytes::new())
        .unwrap();
    let resp = app.handle(req, "10.1.2.3:4".parse().unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v, json!({ "value": "hello, world" }));
    let addr = server.addr();
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener closed after shutdown");
}

#[test]
fn limits_defaults() {
    let l = Limits::default();
    assert_eq!(l.max_memory_bytes, 64 << 20);
    assert_eq!(l.execution_time, Duration::from_secs(30));
    assert_eq!(l.max_request_body_bytes, 1 << 20);
}

/// An HTTP/1 server on loopback answering every request `200` with `answer`'s text; its address.
async fn upstream_server(
    answer: impl Fn(&hyper::Request<hyper::body::Incoming>) -> String + Clone + Send + Sync + 'static,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let body = answer(&req);
                    async move { Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(Bytes::from(body)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}
