//! Multi-purpose test component for runtime-local's integration tests.
//!
//! Dispatches on the first segment of `spin-path-info` (wildcard routes) — or echoes for exact
//! routes — so one Wasm file can serve many manifest components with different ids, variables
//! and allowed hosts:
//!
//! * `/echo...`          JSON: env NAME, method, uri, path, headers, body length
//! * `/var/<name>`       `variables::get(name)` -> `{"value"}` or `{"error"}`
//! * `/http?url=U`       outbound GET U -> `{"status","body"}` or `{"error"}`
//! * `/pg` (POST JSON)   `{conn, sql, params:[{t,v}], execute?, read?}` -> rows/affected or `{"error"}`;
//!   `read: true` sends the query through the shop's `shop_spin::store::read`
//! * `/redis` (POST JSON) `{addr, op, key?, value?, values?, keys?, command?, args?}`
//! * `/alloc/<mib>`      allocates and touches MiB of memory
//! * `/loop`             spins forever
//! * `/late/<ms>?url=U`  sleeps `ms` milliseconds, then does what `/http` does
//! * `/body`             echoes the body length

use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::pg4::{self as pg, DbValue, ParameterValue};
use spin_sdk::redis::{self, RedisParameter, RedisResult};

fn json_response(status: u16, v: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(v.to_string())
        .build()
}

fn header(req: &Request, name: &str) -> String {
    req.header(name).and_then(|h| h.as_str()).unwrap_or_default().to_string()
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let info = header(&req, "spin-path-info");
    let info = info.trim_start_matches('/').to_string();
    let (op, rest) = info.split_once('/').unwrap_or((info.as_str(), ""));
    let op = op.split('?').next().unwrap_or_default().to_string();
    Ok(match op.as_str() {
        "var" => match spin_sdk::variables::get(rest) {
            Ok(v) => json_response(200, json!({ "value": v })),
            Err(e) => json_response(500, json!({ "error": format!("{e:?}") })),
        },
        "http" => outbound(&req).await,
        "pg" => postgres(&req),
        "redis" => redis_op(&req),
        "alloc" => {
            let mib: usize = rest.parse().unwrap_or(1);
            let mut v: Vec<u8> = Vec::new();
            v.resize(mib << 20, 1);
            let sum: u64 = v.iter().step_by(4096).map(|b| *b as u64).sum();
            json_response(200, json!({ "allocated_mib": mib, "sum": sum }))
        }
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "late" => {
            std::thread::sleep(std::time::Duration::from_millis(rest.parse().unwrap_or(100)));
            outbound(&req).await
        }
        "body" => json_response(200, json!({ "len": req.body().len() })),
        "tcp" => tcp(&req),
        "status" => Response::new(rest.parse::<u16>().unwrap_or(200), "status"),
        _ => echo(&req),
    })
}

fn echo(req: &Request) -> Response {
    let headers: Vec<Value> = req
        .headers()
        .map(|(k, v)| json!([k, v.as_str().unwrap_or("<non-utf8>")]))
        .collect();
    json_response(
        200,
        json!({
            "name": std::env::var("NAME").unwrap_or_default(),
            "env_count": std::env::vars().count(),
            "method": format!("{:?}", req.method()),
            "uri": req.uri(),
            "path_and_query": req.path_and_query(),
            "headers": headers,
            "body_len": req.body().len(),
        }),
    )
}

async fn outbound(req: &Request) -> Response {
    let query = req.query().to_string();
    let url = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("url="))
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%2F", "/")
        .replace("%3F", "?")
        .replace("%3D", "=")
        .replace("%26", "&");
    let out = Request::builder()
        .method(Method::Get)
        .uri(url)
        .header("x-from", "rl-test-app")
        .build();
    match spin_sdk::http::send::<_, Response>(out).await {
        Ok(resp) => json_response(
            200,
            json!({
                "status": *resp.status(),
                "body": String::from_utf8_lossy(resp.body()),
            }),
        ),
        Err(e) => json_response(502, json!({ "error": format!("{e:?}") })),
    }
}

/// Connects to `?addr=host:port` with std's TcpStream (wasi:sockets), sends "ping\n", reads a line.
fn tcp(req: &Request) -> Response {
    use std::io::{BufRead, BufReader, Write};
    let addr = req.query().split('&').find_map(|kv| kv.strip_prefix("addr=")).unwrap_or_default().to_string();
    let result = (|| -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(addr.as_str())?;
        s.write_all(b"ping\n")?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line)?;
        Ok(line.trim().to_string())
    })();
    match result {
        Ok(line) => json_response(200, json!({ "reply": line })),
        Err(e) => json_response(502, json!({ "error": e.kind().to_string() })),
    }
}

fn bound<T>(v: &Value, f: impl Fn(&Value) -> T) -> Option<(T, pg::RangeBoundKind)> {
    if v.is_null() {
        return None;
    }
    let kind = if v[1] == "inc" { pg::RangeBoundKind::Inclusive } else { pg::RangeBoundKind::Exclusive };
    Some((f(&v[0]), kind))
}

fn bound_json<T: serde::Serialize>(b: &Option<(T, pg::RangeBoundKind)>) -> Value {
    match b {
        None => Value::Null,
        Some((v, k)) => json!([v, if matches!(k, pg::RangeBoundKind::Inclusive) { "inc" } else { "exc" }]),
    }
}

fn param(p: &Value) -> ParameterValue {
    let t = p["t"].as_str().unwrap_or_default();
    let v = &p["v"];
    let s = || v.as_str().unwrap_or_default().to_string();
    let tuple = |i: usize| v[i].as_i64().unwrap_or_default();
    match t {
        "bool" => ParameterValue::Boolean(v.as_bool().unwrap_or_default()),
        "int8" => ParameterValue::Int8(v.as_i64().unwrap_or_default() as i8),
        "int16" => ParameterValue::Int16(v.as_i64().unwrap_or_default() as i16),
        "int32" => ParameterValue::Int32(v.as_i64().unwrap_or_default() as i32),
        "int64" => ParameterValue::Int64(v.as_i64().unwrap_or_default()),
        "f32" => ParameterValue::Floating32(v.as_f64().unwrap_or_default() as f32),
        "f64" => ParameterValue::Floating64(v.as_f64().unwrap_or_default()),
        "str" => ParameterValue::Str(s()),
        "binary" => ParameterValue::Binary(s().into_bytes()),
        "date" => ParameterValue::Date((tuple(0) as i32, tuple(1) as u8, tuple(2) as u8)),
        "time" => ParameterValue::Time((tuple(0) as u8, tuple(1) as u8, tuple(2) as u8, tuple(3) as u32)),
        "datetime" => ParameterValue::Datetime((
            tuple(0) as i32,
            tuple(1) as u8,
            tuple(2) as u8,
            tuple(3) as u8,
            tuple(4) as u8,
            tuple(5) as u8,
            tuple(6) as u32,
        )),
        "timestamp" => ParameterValue::Timestamp(v.as_i64().unwrap_or_default()),
        "uuid" => ParameterValue::Uuid(s()),
        "jsonb" => ParameterValue::Jsonb(s().into_bytes()),
        "decimal" => ParameterValue::Decimal(s()),
        "array_int32" => ParameterValue::ArrayInt32(
            v.as_array().unwrap().iter().map(|x| x.as_i64().map(|x| x as i32)).collect(),
        ),
        "array_str" => ParameterValue::ArrayStr(
            v.as_array().unwrap().iter().map(|x| x.as_str().map(str::to_string)).collect(),
        ),
        "range_int32" => ParameterValue::RangeInt32((
            bound(&v[0], |x| x.as_i64().unwrap_or_default() as i32),
            bound(&v[1], |x| x.as_i64().unwrap_or_default() as i32),
        )),
        "range_int64" => ParameterValue::RangeInt64((
            bound(&v[0], |x| x.as_i64().unwrap_or_default()),
            bound(&v[1], |x| x.as_i64().unwrap_or_default()),
        )),
        "range_decimal" => ParameterValue::RangeDecimal((
            bound(&v[0], |x| x.as_str().unwrap_or_default().to_string()),
            bound(&v[1], |x| x.as_str().unwrap_or_default().to_string()),
        )),
        "interval" => ParameterValue::Interval(pg::Interval {
            micros: tuple(0),
            days: tuple(1) as i32,
            months: tuple(2) as i32,
        }),
        _ => ParameterValue::DbNull,
    }
}

fn db_value(v: &DbValue) -> Value {
    match v {
        DbValue::Boolean(b) => json!({ "t": "bool", "v": b }),
        DbValue::Int8(n) => json!({ "t": "int8", "v": n }),
        DbValue::Int16(n) => json!({ "t": "int16", "v": n }),
        DbValue::Int32(n) => json!({ "t": "int32", "v": n }),
        DbValue::Int64(n) => json!({ "t": "int64", "v": n }),
        DbValue::Floating32(n) => json!({ "t": "f32", "v": n }),
        DbValue::Floating64(n) => json!({ "t": "f64", "v": n }),
        DbValue::Str(s) => json!({ "t": "str", "v": s }),
        DbValue::Binary(b) => json!({ "t": "binary", "v": String::from_utf8_lossy(b) }),
        DbValue::Date((y, m, d)) => json!({ "t": "date", "v": [y, m, d] }),
        DbValue::Time((h, m, s, ns)) => json!({ "t": "time", "v": [h, m, s, ns] }),
        DbValue::Datetime((y, mo, d, h, mi, s, ns)) => json!({ "t": "datetime", "v": [y, mo, d, h, mi, s, ns] }),
        DbValue::Timestamp(n) => json!({ "t": "timestamp", "v": n }),
        DbValue::Uuid(s) => json!({ "t": "uuid", "v": s }),
        DbValue::Jsonb(b) => json!({ "t": "jsonb", "v": String::from_utf8_lossy(b) }),
        DbValue::Decimal(s) => json!({ "t": "decimal", "v": s }),
        DbValue::ArrayInt32(a) => json!({ "t": "array_int32", "v": a }),
        DbValue::ArrayInt64(a) => json!({ "t": "array_int64", "v": a }),
        DbValue::ArrayDecimal(a) => json!({ "t": "array_decimal", "v": a }),
        DbValue::ArrayStr(a) => json!({ "t": "array_str", "v": a }),
        DbValue::Interval(i) => json!({ "t": "interval", "v": [i.micros, i.days, i.months] }),
        DbValue::RangeInt32((lo, hi)) => json!({ "t": "range_int32", "v": [bound_json(lo), bound_json(hi)] }),
        DbValue::RangeInt64((lo, hi)) => json!({ "t": "range_int64", "v": [bound_json(lo), bound_json(hi)] }),
        DbValue::RangeDecimal((lo, hi)) => json!({ "t": "range_decimal", "v": [bound_json(lo), bound_json(hi)] }),
        DbValue::DbNull => json!({ "t": "null" }),
        DbValue::Unsupported(b) => json!({ "t": "unsupported", "len": b.len() }),
    }
}

fn postgres(req: &Request) -> Response {
    let input: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
    let conn_str = input["conn"].as_str().unwrap_or_default();
    let conn = match pg::Connection::open(conn_str) {
        Ok(c) => c,
        Err(e) => return json_response(500, json!({ "error": format!("{e:?}") })),
    };
    let params: Vec<ParameterValue> = input["params"].as_array().map(|a| a.iter().map(param).collect()).unwrap_or_default();
    let sql = input["sql"].as_str().unwrap_or_default();
    if input["execute"].as_bool().unwrap_or(false) {
        match conn.execute(sql, &params) {
            Ok(n) => json_response(200, json!({ "affected": n })),
            Err(e) => json_response(500, json!({ "error": format!("{e:?}") })),
        }
    } else {
        let result = if input["read"].as_bool().unwrap_or(false) {
            shop_spin::store::read(&conn, "test read", sql, &params).map_err(|e| format!("{e:?}"))
        } else {
            conn.query(sql, &params).map_err(|e| format!("{e:?}"))
        };
        match result {
            Ok(rs) => {
                let columns: Vec<Value> = rs
                    .columns
                    .iter()
                    .map(|c| json!([c.name, format!("{:?}", c.data_type)]))
                    .collect();
                let rows: Vec<Value> = rs.rows.iter().map(|r| Value::Array(r.iter().map(db_value).collect())).collect();
                json_response(200, json!({ "columns": columns, "rows": rows }))
            }
            Err(e) => json_response(500, json!({ "error": e })),
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

fn redis_op(req: &Request) -> Response {
    let input: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
    let conn = match redis::Connection::open(input["addr"].as_str().unwrap_or_default()) {
        Ok(c) => c,
        Err(e) => return json_response(500, json!({ "error": format!("{e:?}") })),
    };
    let key = input["key"].as_str().unwrap_or_default().to_string();
    let value = input["value"].as_str().unwrap_or_default().as_bytes().to_vec();
    let result: Result<Value, redis::Error> = match input["op"].as_str().unwrap_or_default() {
        "get" => conn.get(&key).map(|v| json!(v.map(|v| String::from_utf8_lossy(&v).to_string()))),
        "set" => conn.set(&key, &value).map(|_| json!(null)),
        "incr" => conn.incr(&key).map(|n| json!(n)),
        "del" => conn.del(&strings(&input["keys"])).map(|n| json!(n)),
        "sadd" => conn.sadd(&key, &strings(&input["values"])).map(|n| json!(n)),
        "srem" => conn.srem(&key, &strings(&input["values"])).map(|n| json!(n)),
        "smembers" => conn.smembers(&key).map(|mut m| {
            m.sort();
            json!(m)
        }),
        "publish" => conn.publish(&key, &value).map(|_| json!(null)),
        "execute" => {
            let args: Vec<RedisParameter> = input["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| match x.as_i64() {
                            Some(n) => RedisParameter::Int64(n),
                            None => RedisParameter::Binary(x.as_str().unwrap_or_default().as_bytes().to_vec()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            conn.execute(input["command"].as_str().unwrap_or_default(), &args).map(|rs| {
                Value::Array(
                    rs.iter()
                        .map(|r| match r {
                            RedisResult::Nil => json!({ "nil": null }),
                            RedisResult::Status(s) => json!({ "status": s }),
                            RedisResult::Int64(n) => json!({ "int64": n }),
                            RedisResult::Binary(b) => json!({ "binary": String::from_utf8_lossy(b) }),
                        })
                        .collect(),
                )
            })
        }
        other => return json_response(400, json!({ "error": format!("unknown op {other}") })),
    };
    match result {
        Ok(v) => json_response(200, json!({ "ok": v })),
        Err(e) => json_response(500, json!({ "error": format!("{e:?}") })),
    }
}
