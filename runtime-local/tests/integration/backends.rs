//! `spin:postgres/postgres@4.0.0` and `fermyon:spin/redis@2.0.0` against the real local
//! PostgreSQL (127.0.0.1:5432, one database per test) and Redis (127.0.0.1:6379, one key prefix
//! per test).

use crate::common::*;
use runtime_local::RuntimeOptions;
use serde_json::{json, Value};

async fn pg(a: std::net::SocketAddr, component: &str, body: Value) -> (u16, Value) {
    let r = post_json(a, &format!("/{component}/pg"), &body).await;
    (r.status, r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_type_round_trips() {
    let db = TestDb::create().await;
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let conn = db.conn();

    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "CREATE TABLE t (
        b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, s text, vc varchar(20), bin bytea,
        d date, tm time, dt timestamp, tstz timestamptz, u uuid, j jsonb, n numeric, ai4 int4[], at text[],
        iv interval, ch \"char\")" })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["affected"], 0);

    let params = json!([
        {"t":"bool","v":true}, {"t":"int16","v":-12}, {"t":"int32","v":123456}, {"t":"int64","v":9007199254740993i64},
        {"t":"f32","v":1.5}, {"t":"f64","v":2.25}, {"t":"str","v":"héllo"}, {"t":"str","v":"vc"},
        {"t":"binary","v":"bytes"}, {"t":"date","v":[2024,2,29]}, {"t":"time","v":[13,14,15,500000000]},
        {"t":"datetime","v":[2024,12,31,23,59,58,123456000]}, {"t":"timestamp","v":86400},
        {"t":"uuid","v":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, {"t":"jsonb","v":"{\"a\": [1, 2]}"},
        {"t":"decimal","v":"12345.678901"}, {"t":"array_int32","v":[1,null,3]}, {"t":"array_str","v":["x",null]},
        {"t":"interval","v":[1000000, 2, 3]}, {"t":"int8","v":65}
    ]);
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "params": params,
        "sql": "INSERT INTO t VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)" })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["affected"], 1);
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true,
        "sql": "INSERT INTO t (b) VALUES ($1)", "params": [{"t":"null"}] })).await;
    assert_eq!((s, v["affected"].as_u64()), (200, Some(1)));

    let (s, v) = pg(a, "api", json!({ "conn": conn,
        "sql": "SELECT b,i2,i4,i8,f4,f8,s,vc,bin,d,tm,dt,u,j,n,ai4,at,iv,ch FROM t ORDER BY b NULLS LAST" })).await;
    assert_eq!(s, 200, "{v}");
    let types: Vec<&str> = v["columns"].as_array().unwrap().iter().map(|c| c[1].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec![
            "DbDataType::Boolean", "DbDataType::Int16", "DbDataType::Int32", "DbDataType::Int64",
            "DbDataType::Floating32", "DbDataType::Floating64", "DbDataType::Str", "DbDataType::Str",
            "DbDataType::Binary", "DbDataType::Date", "DbDataType::Time", "DbDataType::Datetime",
            "DbDataType::Uuid", "DbDataType::Jsonb", "DbDataType::Decimal", "DbDataType::ArrayInt32",
            "DbDataType::ArrayStr", "DbDataType::Interval", "DbDataType::Other(\"char\")",
        ]
    );
    let row = &v["rows"][0];
    assert_eq!(row[0], json!({"t":"bool","v":true}));
    assert_eq!(row[1], json!({"t":"int16","v":-12}));
    assert_eq!(row[2], json!({"t":"int32","v":123456}));
    assert_eq!(row[3], json!({"t":"int64","v":9007199254740993i64}));
    assert_eq!(row[4], json!({"t":"f32","v":1.5}));
    assert_eq!(row[5], json!({"t":"f64","v":2.25}));
    assert_eq!(row[6], json!({"t":"str","v":"héllo"}));
    assert_eq!(row[7], json!({"t":"str","v":"vc"}));
    assert_eq!(row[8], json!({"t":"binary","v":"bytes"}));
    assert_eq!(row[9], json!({"t":"date","v":[2024,2,29]}));
    assert_eq!(row[10], json!({"t":"time","v":[13,14,15,500000000]}));
    assert_eq!(row[11], json!({"t":"datetime","v":[2024,12,31,23,59,58,123456000]}));
    assert_eq!(row[12], json!({"t":"uuid","v":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}));
    assert_eq!(row[13], json!({"t":"jsonb","v":"{\"a\":[1,2]}"}));
    assert_eq!(row[14], json!({"t":"decimal","v":"12345.678901"}));
    assert_eq!(row[15], json!({"t":"array_int32","v":[1,null,3]}));
    assert_eq!(row[16], json!({"t":"array_str","v":["x",null]}));
    assert_eq!(row[17], json!({"t":"interval","v":[1000000,2,3]}));
    assert_eq!(row[18], json!({"t":"unsupported","len":1}), "\"char\" has no WIT mapping");
    // The NULL row: every column is db-null.
    assert!(v["rows"][1].as_array().unwrap().iter().skip(1).all(|x| x == &json!({"t":"null"})));

    // timestamp parameter = unix seconds into timestamptz; reading timestamptz fails like Spin 3.x.
    let (s, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT extract(epoch from tstz)::int8 AS e FROM t WHERE tstz IS NOT NULL" })).await;
    assert_eq!((s, &v["rows"][0][0]), (200, &json!({"t":"int64","v":86400})));
    let (s, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT tstz FROM t WHERE tstz IS NOT NULL" })).await;
    assert_eq!(s, 500);
    assert!(v["error"].as_str().unwrap().starts_with("Error::QueryFailed(QueryError::Text("), "{v}");

    // Zero rows: no columns (Spin infers columns from the first row).
    let (s, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT i4 FROM t WHERE false" })).await;
    assert_eq!((s, v), (200, json!({"columns": [], "rows": []})));
    server.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ranges() {
    let db = TestDb::create().await;
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let conn = db.conn();
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "CREATE TABLE r (a int4range, b int8range, c numrange)" })).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "INSERT INTO r VALUES ($1, $2, $3)", "params": [
        {"t":"range_int32","v":[[1,"inc"],[5,"inc"]]},
        {"t":"range_int64","v":[[10,"exc"],null]},
        {"t":"range_decimal","v":[["1.5","inc"],["2.25","exc"]]},
    ] })).await;
    assert_eq!((s, &v["affected"]), (200, &json!(1)), "{v}");
    let (s, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT a, b, c FROM r" })).await;
    assert_eq!(s, 200, "{v}");
    let types: Vec<&str> = v["columns"].as_array().unwrap().iter().map(|c| c[1].as_str().unwrap()).collect();
    assert_eq!(types, vec!["DbDataType::RangeInt32", "DbDataType::RangeInt64", "DbDataType::RangeDecimal"]);
    // Postgres canonicalises discrete ranges to [lower, upper).
    assert_eq!(v["rows"][0][0], json!({"t":"range_int32","v":[[1,"inc"],[6,"exc"]]}));
    assert_eq!(v["rows"][0][1], json!({"t":"range_int64","v":[[11,"inc"],null]}));
    assert_eq!(v["rows"][0][2], json!({"t":"range_decimal","v":[["1.5","inc"],["2.25","exc"]]}));
    server.shutdown().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_and_denials() {
    let db = TestDb::create().await;
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let conn = db.conn();
    let (s, _) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "CREATE TABLE u (id int8 PRIMARY KEY)" })).await;
    assert_eq!(s, 200);
    let ins = json!({ "conn": conn, "execute": true, "sql": "INSERT INTO u VALUES ($1)", "params": [{"t":"int64","v":1}] });
    assert_eq!(pg(a, "api", ins.clone()).await.0, 200);
    let (s, v) = pg(a, "api", ins).await;
    assert_eq!(s, 500);
    let e = v["error"].as_str().unwrap();
    assert!(e.starts_with("Error::QueryFailed(QueryError::DbError(DbError {"), "{e}");
    assert!(e.contains("code: \"23505\""), "{e}");
    assert!(e.contains("(\"constraint\", \"u_pkey\")"), "{e}");

    // Wrong Rust type for the column: a client-side conversion error, not a DB error.
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "INSERT INTO u VALUES ($1)", "params": [{"t":"int32","v":2}] })).await;
    assert_eq!(s, 500);
    assert!(v["error"].as_str().unwrap().starts_with("Error::QueryFailed(QueryError::Text("), "{v}");
    // Invalid parameter values: bad-parameter in query, value-conversion-failed in execute (Spin 3.x).
    let (_, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT $1::uuid", "params": [{"t":"uuid","v":"nope"}] })).await;
    assert!(v["error"].as_str().unwrap().starts_with("Error::BadParameter("), "{v}");
    let (_, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "SELECT $1::uuid", "params": [{"t":"uuid","v":"nope"}] })).await;
    assert!(v["error"].as_str().unwrap().starts_with("Error::ValueConversionFailed("), "{v}");

    // Denied host: the component has no postgres:// entry.
    let (s, v) = pg(a, "deny", json!({ "conn": conn, "sql": "SELECT 1" })).await;
    assert_eq!(s, 500);
    assert_eq!(v["error"], format!("Error::ConnectionFailed(\"address postgres://{} is not permitted\")", pg_addr()));
    let (_, v) = pg(a, "api", json!({ "conn": "host=db.example.invalid user=postgres sslmode=disable", "sql": "SELECT 1" })).await;
    assert_eq!(v["error"], "Error::ConnectionFailed(\"address postgres://db.example.invalid is not permitted\")");
    // TLS modes are refused clearly.
    let tls_conn = db.conn().replace(" sslmode=disable", "");
    let (_, v) = pg(a, "api", json!({ "conn": tls_conn, "sql": "SELECT 1" })).await;
    let e = v["error"].as_str().unwrap();
    assert!(e.starts_with("Error::ConnectionFailed(") && e.contains("sslmode=disable"), "{e}");
    // URL-form connection strings work too.
    let (s, v) = pg(a, "api", json!({ "conn": format!("postgres://postgres@{}/{}?sslmode=disable", pg_addr(), db.name), "sql": "SELECT count(*) AS c FROM u" })).await;
    assert_eq!((s, &v["rows"][0][0]), (200, &json!({"t":"int64","v":1})));
    server.shutdown().await;
    db.drop_db().await;
}

/// A pooled connection is handed to the next request with its session reset (Spin's `Clean`:
/// settings, advisory locks, temp tables...), however the previous request left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_are_reset_between_requests() {
    let db = TestDb::create().await;
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let conn = db.conn();
    let (s, v) = pg(a, "api", json!({ "conn": conn,
        "sql": "SELECT pg_backend_pid() AS pid, set_config('application_name', 'dirty', false) AS name, \
                pg_try_advisory_lock(42) AS locked" })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rows"][0][1], json!({"t":"str","v":"dirty"}));
    assert_eq!(v["rows"][0][2], json!({"t":"bool","v":true}));
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "CREATE TEMP TABLE scratch (x int)" })).await;
    assert_eq!(s, 200, "{v}");
    // The reset runs when the connection is returned; give it a moment, then the next request
    // gets the same connection back (one per pool here), clean.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (s, v) = pg(a, "api", json!({ "conn": conn,
        "sql": "SELECT current_setting('application_name') AS name, \
                (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks, \
                to_regclass('pg_temp.scratch') IS NULL AS no_temp" })).await;
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["rows"][0][0], json!({"t":"str","v":"dirty"}), "{v}");
    assert_eq!(v["rows"][0][1], json!({"t":"int64","v":0}), "{v}");
    assert_eq!(v["rows"][0][2], json!({"t":"bool","v":true}), "{v}");
    server.shutdown().await;
    db.drop_db().await;
}

async fn redis(a: std::net::SocketAddr, component: &str, mut body: Value) -> (u16, Value) {
    if body.get("addr").is_none() {
        body["addr"] = json!(format!("redis://{}", redis_addr()));
    }
    let r = post_json(a, &format!("/{component}/redis"), &body).await;
    (r.status, r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_commands() {
    let p = redis_prefix();
    let (_app, server) = start(options()).await;
    let a = server.addr();
    let k = |s: &str| format!("{p}{s}");

    assert_eq!(redis(a, "api", json!({"op":"get","key":k("missing")})).await, (200, json!({"ok": null})));
    assert_eq!(redis(a, "api", json!({"op":"set","key":k("s"),"value":"v1"})).await.0, 200);
    assert_eq!(redis(a, "api", json!({"op":"get","key":k("s")})).await, (200, json!({"ok": "v1"})));
    assert_eq!(redis(a, "api", json!({"op":"incr","key":k("n")})).await, (200, json!({"ok": 1})));
    assert_eq!(redis(a, "api", json!({"op":"incr","key":k("n")})).await, (200, json!({"ok": 2})));
    let (s, v) = redis(a, "api", json!({"op":"incr","key":k("s")})).await;
    assert_eq!(s, 500);
    assert!(v["error"].as_str().unwrap().starts_with("Error::Other("), "incr on a non-integer is other(..): {v}");
    assert_eq!(redis(a, "api", json!({"op":"sadd","key":k("set"),"values":["a","b","c"]})).await, (200, json!({"ok": 3})));
    assert_eq!(redis(a, "api", json!({"op":"sadd","key":k("set"),"values":["a","d"]})).await, (200, json!({"ok": 1})));
    assert_eq!(redis(a, "api", json!({"op":"srem","key":k("set"),"values":["b","zz"]})).await, (200, json!({"ok": 1})));
    assert_eq!(redis(a, "api", json!({"op":"smembers","key":k("set")})).await, (200, json!({"ok": ["a","c","d"]})));
    assert_eq!(redis(a, "api", json!({"op":"publish","key":k("chan"),"value":"msg"})).await.0, 200);
    assert_eq!(redis(a, "api", json!({"op":"del","keys":[k("s"),k("n"),k("none")]})).await, (200, json!({"ok": 2})));

    // execute: status, int, bulk, nil and flattened arrays.
    let ex = |cmd: &str, args: Value| json!({"op":"execute","command":cmd,"args":args});
    assert_eq!(redis(a, "api", ex("SET", json!([k("e"), "x"]))).await, (200, json!({"ok": [{"status":"OK"}]})));
    assert_eq!(redis(a, "api", ex("HSET", json!([k("h"), "f1", "v1", "f2", 7]))).await, (200, json!({"ok": [{"int64":2}]})));
    assert_eq!(redis(a, "api", ex("HINCRBY", json!([k("h"), "f2", 5]))).await, (200, json!({"ok": [{"int64":12}]})));
    let (s, v) = redis(a, "api", ex("HGETALL", json!([k("h")]))).await;
    assert_eq!(s, 200);
    let mut flat: Vec<String> = v["ok"].as_array().unwrap().iter().map(|x| x["binary"].as_str().unwrap().to_string()).collect();
    flat.sort();
    assert_eq!(flat, vec!["12", "f1", "f2", "v1"]);
    assert_eq!(redis(a, "api", ex("GET", json!([k("nothing")]))).await, (200, json!({"ok": [{"nil":null}]})));
    assert_eq!(redis(a, "api", ex("EXPIRE", json!([k("h"), 100]))).await, (200, json!({"ok": [{"int64":1}]})));
    let (s, v) = redis(a, "api", ex("NOSUCHCOMMAND", json!([]))).await;
    assert_eq!(s, 500);
    assert!(v["error"].as_str().unwrap().starts_with("Error::Other("), "{v}");

    // Denials and bad addresses.
    assert_eq!(redis(a, "deny", json!({"op":"get","key":k("x")})).await, (500, json!({"error": "Error::InvalidAddress"})));
    let (host, port) = redis_addr().rsplit_once(':').map(|(h, p)| (h.to_string(), p.parse::<u16>().unwrap())).unwrap();
    assert_eq!(
        redis(a, "api", json!({"op":"get","key":k("x"),"addr":format!("redis://{host}:{}", port + 1)})).await,
        (500, json!({"error": "Error::InvalidAddress"})),
        "only the allowed port is reachable"
    );
    // TLS is allowed by the manifest (as Spin would) but refused clearly: runtime-local has no TLS stack.
    let (s, v) = redis(a, "api", json!({"op":"get","key":k("x"),"addr":format!("rediss://{}", redis_addr())})).await;
    assert_eq!(s, 500);
    let e = v["error"].as_str().unwrap();
    assert!(e.starts_with("Error::Other(") && e.contains("use a redis:// URL"), "{e}");
    assert_eq!(
        redis(a, "deny", json!({"op":"get","key":k("x"),"addr":format!("rediss://{}", redis_addr())})).await,
        (500, json!({"error": "Error::InvalidAddress"})),
        "the allowed-hosts check comes first, as in Spin"
    );
    server.shutdown().await;

    // Side effects are real: check with an independent client.
    let client = ::redis::Client::open(format!("redis://{}", redis_addr())).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let v: Option<String> = ::redis::cmd("GET").arg(k("e")).query_async(&mut c).await.unwrap();
    assert_eq!(v.as_deref(), Some("x"));
    redis_cleanup(&p).await;
}

/// `refuse_empty_query_results` stands in for Spin 4.0.0-4.0.2, which never return from a query
/// that matches no rows (spinframework/spin#3671): such a query fails, naming the defect; a query
/// with rows, and `execute`, are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_empty_query_results_fails_only_row_less_queries() {
    let db = TestDb::create().await;
    let (_app, server) = start(RuntimeOptions { refuse_empty_query_results: true, ..options() }).await;
    let a = server.addr();
    let conn = db.conn();
    let (s, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT 1 AS one WHERE false" })).await;
    assert_eq!(s, 500, "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("QueryFailed") && e.contains("spinframework/spin#3671"), "{e}");
    let (s, v) = pg(a, "api", json!({ "conn": conn, "sql": "SELECT 1 AS one" })).await;
    assert_eq!((s, &v["rows"][0][0]), (200, &json!({"t":"int32","v":1})), "{v}");
    let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": "CREATE TABLE nothing (x int)" })).await;
    assert_eq!(s, 200, "{v}");
    server.shutdown().await;
    // Off (the default, as Spin 3.6 and fixed 4.x): the empty set comes back.
    let (_app, server) = start(options()).await;
    let (s, v) = pg(server.addr(), "api", json!({ "conn": conn, "sql": "SELECT 1 AS one WHERE false" })).await;
    assert_eq!((s, v["rows"].as_array().map(Vec::len)), (200, Some(0)), "{v}");
    server.shutdown().await;
    db.drop_db().await;
}

/// The shop's read helper (`shop_spin::store::read`) against real PostgreSQL, under the Spin
/// 4.0.x stand-in: whatever a statement matches — nothing, one row, many, NULLs, a page past the
/// end — the wire carries a row, and the helper hands back exactly the statement's rows, in its
/// order, with its column names and types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_read_helper_never_sends_a_row_less_query() {
    let db = TestDb::create().await;
    let (_app, server) = start(RuntimeOptions { refuse_empty_query_results: true, ..options() }).await;
    let a = server.addr();
    let conn = db.conn();
    let read = |sql: &str, params: Value| pg(a, "api", json!({ "conn": conn, "read": true, "sql": sql, "params": params }));
    for sql in ["CREATE TABLE t (n int4 NOT NULL, s text, d numeric)", "INSERT INTO t VALUES (1, 'one', 1.5), (2, NULL, NULL), (3, 'three', 3.25)"] {
        let (s, v) = pg(a, "api", json!({ "conn": conn, "execute": true, "sql": sql })).await;
        assert_eq!(s, 200, "{v}");
    }
    let values = |v: &Value| -> Vec<Vec<Value>> {
        // Each row without the marker column (first), which is `true` on every row handed back.
        v["rows"].as_array().unwrap().iter().map(|r| {
            let r = r.as_array().unwrap();
            assert_eq!(r[0], json!({"t":"bool","v":true}), "{v}");
            r[1..].to_vec()
        }).collect()
    };

    // Nothing matches: no rows, and the statement's columns with their types.
    let (s, v) = read("SELECT n, s FROM t WHERE n > $1", json!([{"t":"int32","v":10}])).await;
    assert_eq!(s, 200, "{v}");
    assert!(values(&v).is_empty(), "{v}");
    assert_eq!(v["columns"], json!([["shop_row_present", "DbDataType::Boolean"], ["n", "DbDataType::Int32"], ["s", "DbDataType::Str"]]));

    // One row with NULL columns.
    let (s, v) = read("SELECT n, s, d FROM t WHERE n = $1", json!([{"t":"int32","v":2}])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(values(&v), vec![vec![json!({"t":"int32","v":2}), json!({"t":"null"}), json!({"t":"null"})]]);

    // Many rows, in the statement's order.
    let (s, v) = read("SELECT n, s FROM t ORDER BY n DESC", json!([])).await;
    assert_eq!(s, 200, "{v}");
    let ns: Vec<Value> = values(&v).into_iter().map(|r| r[0]["v"].clone()).collect();
    assert_eq!(ns, vec![json!(3), json!(2), json!(1)]);

    // A page past the end, an aggregate over nothing, and a statement ending in a comment.
    let (s, v) = read("SELECT n FROM t ORDER BY n LIMIT 2 OFFSET $1", json!([{"t":"int64","v":5}])).await;
    assert_eq!((s, values(&v).len()), (200, 0), "{v}");
    let (s, v) = read("SELECT count(*) AS c FROM t WHERE s = 'none'", json!([])).await;
    assert_eq!((s, values(&v)), (200, vec![vec![json!({"t":"int64","v":0})]]), "{v}");
    let (s, v) = read("SELECT n FROM t WHERE n = 1 -- one", json!([])).await;
    assert_eq!((s, values(&v).len()), (200, 1), "{v}");

    // A bad statement is still the database's error, not a hang or an empty answer.
    let (s, v) = read("SELECT nope FROM t", json!([])).await;
    assert_eq!(s, 500, "{v}");
    assert!(v["error"].as_str().unwrap().contains("Internal"), "{v}");
    server.shutdown().await;
    db.drop_db().await;
}
