//! `docs/openapi.yaml` is true to the contract: every operation of `shop-contract` (one per WIT
//! function) is in the document and nothing else under `/api/`; the operator API is there; and
//! each documented request and response schema has exactly the property names and types of the
//! Rust type that goes over the wire (examples made from the schema decode strictly into the
//! type, unknown fields refused, and encode back to the same JSON, which validates).
use crate::support;

use std::collections::BTreeSet;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use shop_contract::{accounts, catalog, catalog_admin, carts, checkout, email, inventory, payment, shipping, ErrorBody, Operation};
use support::{example, operation, request_schema, resolve, response_schema, validate};

/// The operator API's migrate answer (`components/frontend/src/routes/admin.rs`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Migrations {
    migrations: Vec<shop_contract::MigrationReport>,
}

/// The operator API's reconcile body (`components/frontend/src/routes/admin.rs`): all optional.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconcileInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    grace_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

/// The operator API's rates body (`components/frontend/src/routes/admin.rs`): rates by currency,
/// each a decimal string.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_from: Option<String>,
    rates: std::collections::BTreeMap<String, String>,
}

/// The operator API's stock body.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StockInput {
    stock: u32,
}

fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, drop_nulls(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(drop_nulls).collect()),
        other => other,
    }
}

/// How many distinct examples make every enum value appear at least once.
fn enum_spread(doc: &Value, schema: &Value, seen: &mut BTreeSet<String>) -> usize {
    let schema = resolve(doc, schema);
    let mut n = schema.get("enum").and_then(Value::as_array).map_or(1, Vec::len);
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if !seen.insert(r.to_string()) {
            return 1;
        }
    }
    for p in schema["properties"].as_object().into_iter().flat_map(|m| m.values()) {
        n = n.max(enum_spread(doc, p, seen));
    }
    if schema["type"] == "array" {
        n = n.max(enum_spread(doc, &schema["items"], seen));
    }
    n
}

/// Examples of `schema` decode strictly into `T` and encode back unchanged.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value, schema: &Value, what: &str, errors: &mut Vec<String>) {
    let spread = enum_spread(doc, schema, &mut BTreeSet::new());
    for full in [true, false] {
        for pick in 0..spread {
            let ex = example(doc, schema, full, pick);
            let label = format!("{what} ({} example #{pick})", if full { "full" } else { "minimal" });
            let decoded: T = match shop_spin::json::decode(ex.to_string().as_bytes()) {
                Ok(d) => d,
                Err(e) => {
                    errors.push(format!("{label}: the schema's example does not decode: {} — {ex}", e.message));
                    continue;
                }
            };
            let back = serde_json::to_value(&decoded).expect("encodes");
            let compared = if full { back.clone() } else { drop_nulls(back.clone()) };
            if compared != ex {
                errors.push(format!("{label}: property names or types differ:\n  schema: {ex}\n  rust:   {back}"));
            }
            if let Err(e) = validate(doc, schema, &back, "$") {
                errors.push(format!("{label}: the Rust encoding does not validate: {e}"));
            }
        }
    }
}

fn check<Req, Resp>(doc: &Value, path: &str, method: &str, errors: &mut Vec<String>)
where
    Req: DeserializeOwned + Serialize,
    Resp: DeserializeOwned + Serialize,
{
    let Some(op) = operation(doc, path, method) else {
        errors.push(format!("{method} {path} is not documented"));
        return;
    };
    round_trip::<Req>(doc, request_schema(doc, op), &format!("{path} request"), errors);
    let responses = op["responses"].as_object().cloned().unwrap_or_default();
    if !responses.contains_key("200") {
        errors.push(format!("{path}: no 200 answer documented"));
    }
    for status in responses.keys() {
        let Ok(code) = status.parse::<u16>() else {
            errors.push(format!("{path}: response `{status}` is not a status"));
            continue;
        };
        let schema = response_schema(doc, op, code).expect("documented");
        if code == 200 {
            round_trip::<Resp>(doc, schema, &format!("{path} 200"), errors);
        } else {
            if shop_contract::ErrorCode::from_status(code).status() != code {
                errors.push(format!("{path}: {code} is no status of an error code"));
            }
            round_trip::<ErrorBody>(doc, schema, &format!("{path} {code}"), errors);
        }
    }
}

fn check_op<Req, Resp>(doc: &Value, op: Operation<Req, Resp>, errors: &mut Vec<String>)
where
    Req: DeserializeOwned + Serialize,
    Resp: DeserializeOwned + Serialize,
{
    check::<Req, Resp>(doc, op.path, "post", errors);
    if let Some(o) = operation(doc, op.path, "post") {
        let internal = !shop_contract::is_public_path(op.path);
        if (o["x-internal"] == true) != internal {
            errors.push(format!("{}: `x-internal: true` must be there exactly when the operation is internal", op.path));
        }
        let needs_token = o["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("internalToken").is_some()));
        if needs_token != internal {
            errors.push(format!("{}: the internalToken requirement must be there exactly when the operation is internal", op.path));
        }
    }
}

#[test]
fn every_operation_is_documented_and_nothing_else() {
    let doc = support::load();
    let contract: BTreeSet<&str> = shop_contract::all_operation_paths().into_iter().collect();
    let documented: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let api: BTreeSet<&str> = documented.iter().copied().filter(|p| p.starts_with("/api/")).collect();
    let missing: Vec<_> = contract.difference(&api).collect();
    let extra: Vec<_> = api.difference(&contract).collect();
    assert!(missing.is_empty(), "operations missing from docs/openapi.yaml: {missing:?}");
    assert!(extra.is_empty(), "docs/openapi.yaml documents operations the contract does not have: {extra:?}");
    let others: BTreeSet<&str> = documented.difference(&api).copied().collect();
    assert_eq!(
        others,
        BTreeSet::from(["/admin/migrate", "/admin/products", "/admin/products/{sku}", "/admin/rates", "/admin/reconcile", "/admin/stock/{sku}"]),
        "the operator API"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        let methods: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        let expected = match path.as_str() {
            "/admin/products/{sku}" | "/admin/stock/{sku}" | "/admin/rates" => vec!["put"],
            _ => vec!["post"],
        };
        assert_eq!(methods, expected, "{path}: its methods");
    }
}

#[test]
fn schemas_match_the_wire_types() {
    let doc = support::load();
    let mut errors = Vec::new();
    let e = &mut errors;
    check_op(&doc, catalog::ops::list_categories, e);
    check_op(&doc, catalog::ops::list_products, e);
    check_op(&doc, catalog::ops::get_product, e);
    check_op(&doc, catalog::ops::get_products, e);
    check_op(&doc, catalog::ops::get_rates, e);
    check_op(&doc, catalog_admin::ops::create_product, e);
    check_op(&doc, catalog_admin::ops::update_product, e);
    check_op(&doc, catalog_admin::ops::migrate, e);
    check_op(&doc, catalog_admin::ops::set_rates, e);
    check_op(&doc, catalog_admin::ops::set_stock, e);
    check_op(&doc, inventory::ops::reserve, e);
    check_op(&doc, inventory::ops::release, e);
    check_op(&doc, carts::ops::get_cart, e);
    check_op(&doc, carts::ops::add_item, e);
    check_op(&doc, carts::ops::set_quantity, e);
    check_op(&doc, carts::ops::remove_item, e);
    check_op(&doc, carts::ops::empty_cart, e);
    check_op(&doc, carts::ops::remove_lines, e);
    check_op(&doc, carts::ops::merge_cart, e);
    check_op(&doc, payment::ops::charge, e);
    check_op(&doc, payment::ops::refund, e);
    check_op(&doc, payment::ops::settle, e);
    check_op(&doc, shipping::ops::get_quote, e);
    check_op(&doc, shipping::ops::ship_order, e);
    check_op(&doc, email::ops::send_confirmation, e);
    check_op(&doc, email::ops::send_failure_notice, e);
    check_op(&doc, email::ops::list_outbox, e);
    check_op(&doc, checkout::ops::place_order, e);
    check_op(&doc, checkout::ops::get_order, e);
    check_op(&doc, checkout::ops::list_orders, e);
    check_op(&doc, checkout::ops::claim_orders, e);
    check_op(&doc, checkout::ops::migrate, e);
    check_op(&doc, checkout::ops::reconcile, e);
    check_op(&doc, accounts::ops::sign_up, e);
    check_op(&doc, accounts::ops::sign_in, e);
    check_op(&doc, accounts::ops::get_session, e);
    check_op(&doc, accounts::ops::sign_out, e);
    check_op(&doc, accounts::ops::change_password, e);
    check_op(&doc, accounts::ops::list_addresses, e);
    check_op(&doc, accounts::ops::save_address, e);
    check_op(&doc, accounts::ops::delete_address, e);
    check_op(&doc, accounts::ops::migrate, e);
    check::<ReconcileInput, checkout::ReconcileReport>(&doc, "/admin/reconcile", "post", e);
    check::<shop_contract::NoParams, Migrations>(&doc, "/admin/migrate", "post", e);
    check::<catalog_admin::ProductInput, shop_contract::Product>(&doc, "/admin/products", "post", e);
    check::<catalog_admin::ProductInput, shop_contract::Product>(&doc, "/admin/products/{sku}", "put", e);
    check::<RatesInput, catalog::RateTable>(&doc, "/admin/rates", "put", e);
    check::<StockInput, catalog_admin::StockLevel>(&doc, "/admin/stock/{sku}", "put", e);
    assert!(errors.is_empty(), "docs/openapi.yaml disagrees with the contract:\n{}", errors.join("\n"));
}

#[test]
fn the_error_envelope_lists_every_code() {
    let doc = support::load();
    let codes = doc.pointer("/components/schemas/ErrorBody/properties/error/properties/code/enum").unwrap().as_array().unwrap();
    let names: BTreeSet<&str> = codes.iter().filter_map(Value::as_str).collect();
    assert_eq!(names.len(), 11, "every error code (too_many_requests included)");
    for name in names {
        let code = shop_contract::ErrorCode::from_wire(name).unwrap_or_else(|| panic!("unknown code {name}"));
        assert_eq!(code.as_str(), name);
    }
}
