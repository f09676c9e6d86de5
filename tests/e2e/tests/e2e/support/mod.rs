//! Shared by the OpenAPI tests: reading `docs/openapi.yaml`, making example values from its
//! schemas, validating answers against them, and a small seeded PRNG for generated requests.
#![allow(dead_code)]
use serde_json::{json, Map, Value};

/// `docs/openapi.yaml` as JSON.
pub fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("docs/openapi.yaml is readable");
    serde_yaml::from_str(&text).expect("docs/openapi.yaml is valid YAML")
}

/// Follows `$ref`s (local ones only), and `allOf` of one schema (how OpenAPI 3.0 writes a
/// nullable `$ref`: `{allOf: [{$ref: ...}], nullable: true}`; [`validate`] reads the `nullable`).
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some([one]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        return resolve(doc, one);
    }
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local $ref");
            resolve(doc, doc.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {r}")))
        }
        None => schema,
    }
}

/// The operation object at `path` / `method`.
pub fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> Option<&'a Value> {
    doc["paths"].get(path)?.get(method)
}

/// The request body schema of an operation.
pub fn request_schema<'a>(doc: &'a Value, op: &'a Value) -> &'a Value {
    resolve(doc, &op["requestBody"]["content"]["application/json"]["schema"])
}

/// The schema of the answer with `status` (falls back to `default`), if documented.
pub fn response_schema<'a>(doc: &'a Value, op: &'a Value, status: u16) -> Option<&'a Value> {
    let responses = &op["responses"];
    let r = responses.get(status.to_string()).or_else(|| responses.get("default"))?;
    let r = resolve(doc, r);
    Some(resolve(doc, &r["content"]["application/json"]["schema"]))
}

/// An example of `schema`: with every property (`full`) or only the required ones; arrays get
/// one item; enums their `pick`-th value (wrapping).
pub fn example(doc: &Value, schema: &Value, full: bool, pick: usize) -> Value {
    let schema = resolve(doc, schema);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[pick % values.len()].clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let required: Vec<&str> = schema["required"].as_array().map_or(vec![], |r| r.iter().filter_map(Value::as_str).collect());
            let mut out = Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, p) in props {
                    if full || required.contains(&k.as_str()) {
                        out.insert(k.clone(), example(doc, p, full, pick));
                    }
                }
            }
            Value::Object(out)
        }
        Some("array") => json!([example(doc, &schema["items"], full, pick)]),
        Some("string") => json!("x"),
        Some("integer") => json!(schema["minimum"].as_i64().unwrap_or(0).max(1)),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        other => panic!("example: unsupported schema type {other:?}: {schema}"),
    }
}

/// Checks `value` against `schema` (the subset of JSON Schema the document uses).
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if value.is_null() && schema["nullable"].as_bool() == Some(true) {
        return Ok(());
    }
    let schema = resolve(doc, schema);
    if value.is_null() {
        return if schema["nullable"].as_bool() == Some(true) { Ok(()) } else { Err(format!("{at}: null is not allowed")) };
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    match schema["type"].as_str() {
        Some("object") => {
            let obj = value.as_object().ok_or(format!("{at}: not an object: {value}"))?;
            let props = schema["properties"].as_object().cloned().unwrap_or_default();
            for r in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return Err(format!("{at}: required property `{r}` missing"));
                }
            }
            for (k, v) in obj {
                match props.get(k) {
                    Some(p) => validate(doc, p, v, &format!("{at}.{k}"))?,
                    None if schema["additionalProperties"] == json!(false) => return Err(format!("{at}: undocumented property `{k}`")),
                    None => {}
                }
            }
            Ok(())
        }
        Some("array") => {
            let items = value.as_array().ok_or(format!("{at}: not an array"))?;
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    return Err(format!("{at}: more than {max} items"));
                }
            }
            items.iter().enumerate().try_for_each(|(i, v)| validate(doc, &schema["items"], v, &format!("{at}[{i}]")))
        }
        Some("string") => {
            let s = value.as_str().ok_or(format!("{at}: not a string: {value}"))?;
            if let Some(max) = schema["maxLength"].as_u64() {
                if s.chars().count() as u64 > max {
                    return Err(format!("{at}: longer than {max}"));
                }
            }
            Ok(())
        }
        Some("integer") => {
            let n = value.as_i64().map(i128::from).or(value.as_u64().map(i128::from)).ok_or(format!("{at}: not an integer: {value}"))?;
            if schema["minimum"].as_i64().is_some_and(|m| n < i128::from(m)) || schema["maximum"].as_i64().is_some_and(|m| n > i128::from(m)) {
                return Err(format!("{at}: {n} out of range"));
            }
            Ok(())
        }
        Some("boolean") => value.is_boolean().then_some(()).ok_or(format!("{at}: not a boolean")),
        Some("number") => value.is_number().then_some(()).ok_or(format!("{at}: not a number")),
        other => Err(format!("{at}: unsupported schema type {other:?}")),
    }
}

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// The seed from `SHOP_FUZZ_SEED`, else from the clock (printed so a failure can be replayed).
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("SHOP_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
        });
        println!("{what}: SHOP_FUZZ_SEED={seed}");
        Rng::new(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
