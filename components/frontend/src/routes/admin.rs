//! The operator API, served by the frontend because it is the shop's public entry point: the
//! catalog writes and migrations live on private routes of products and checkout.
//!
//! JSON in and out, authenticated by `authorization: Bearer <operator token>`, which is forwarded
//! to the owning service and checked there (the frontend holds no token). No session cookie is
//! involved, so CSRF does not apply.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shop_contract::{accounts, catalog_admin, checkout, FieldError, MigrationReport, NoParams, ShopError};
use shop_domain::{Currency, PerUsd, Sku};

use crate::backend::{Backend, Service};
use crate::http::{Incoming, Outgoing};
use crate::router::Route;

#[derive(Serialize)]
struct Migrations {
    migrations: Vec<MigrationReport>,
}

pub async fn respond<B: Backend>(backend: &B, route: &Route, req: &Incoming, body_too_large: bool) -> Outgoing {
    let answer = match authorization(req, body_too_large) {
        Err(e) => Err(e),
        Ok(auth) => match route {
            Route::AdminMigrate => migrate(backend, auth).await,
            Route::AdminReconcile => reconcile(backend, auth, req).await,
            Route::AdminCreateProduct => create_product(backend, auth, req).await,
            Route::AdminUpdateProduct(sku) => update_product(backend, auth, sku, req).await,
            Route::AdminSetRates => set_rates(backend, auth, req).await,
            Route::AdminSetStock(sku) => set_stock(backend, auth, sku, req).await,
            _ => Err(ShopError::not_found("No such operator operation")),
        },
    };
    match answer {
        Ok(body) => json(200, body),
        Err(e) => json(e.status(), shop_spin::json::encode(&e.to_body())),
    }
}

fn authorization(req: &Incoming, body_too_large: bool) -> Result<&str, ShopError> {
    if body_too_large {
        return Err(ShopError::new(shop_contract::ErrorCode::PayloadTooLarge, "The request body is too large"));
    }
    req.header("authorization")
        .filter(|v| v.starts_with("Bearer "))
        .ok_or_else(|| ShopError::unauthorized("A valid operator token is required"))
}

/// Applies the migrations of products, checkout and accounts, in that order.
async fn migrate<B: Backend>(backend: &B, auth: &str) -> Result<Vec<u8>, ShopError> {
    let products = backend.call_as_operator(Service::Products, catalog_admin::ops::migrate, &NoParams {}, auth).await?;
    let orders = backend.call_as_operator(Service::Checkout, checkout::ops::migrate, &NoParams {}, auth).await?;
    let accounts = backend.call_as_operator(Service::Accounts, accounts::ops::migrate, &NoParams {}, auth).await?;
    Ok(shop_spin::json::encode(&Migrations { migrations: vec![products, orders, accounts] }))
}

/// `POST /admin/reconcile` body; every field optional (an empty body takes the defaults).
#[derive(Deserialize, Serialize)]
struct ReconcileInput {
    grace_seconds: Option<u32>,
    alert_seconds: Option<u32>,
    limit: Option<u32>,
}

/// Defaults: orders untouched for 5 minutes, stuck after an hour, 50 per call.
const RECONCILE_DEFAULTS: checkout::ReconcileRequest = checkout::ReconcileRequest {
    grace_seconds: 300,
    alert_seconds: 3600,
    limit: 50,
};

/// Drives orders left pending or paid to a final state (checkout checks the token and bounds).
async fn reconcile<B: Backend>(backend: &B, auth: &str, req: &Incoming) -> Result<Vec<u8>, ShopError> {
    let input: ReconcileInput = shop_spin::json::decode(&req.body)?;
    let d = RECONCILE_DEFAULTS;
    let request = checkout::ReconcileRequest {
        grace_seconds: input.grace_seconds.unwrap_or(d.grace_seconds),
        alert_seconds: input.alert_seconds.unwrap_or(d.alert_seconds),
        limit: input.limit.unwrap_or(d.limit),
    };
    let report = backend.call_as_operator(Service::Checkout, checkout::ops::reconcile, &request, auth).await?;
    Ok(shop_spin::json::encode(&report))
}

async fn create_product<B: Backend>(backend: &B, auth: &str, req: &Incoming) -> Result<Vec<u8>, ShopError> {
    let input: catalog_admin::ProductInput = shop_spin::json::decode(&req.body)?;
    let product = backend.call_as_operator(Service::Products, catalog_admin::ops::create_product, &input, auth).await?;
    Ok(shop_spin::json::encode(&product))
}

async fn update_product<B: Backend>(backend: &B, auth: &str, sku: &str, req: &Incoming) -> Result<Vec<u8>, ShopError> {
    let input: catalog_admin::ProductInput = shop_spin::json::decode(&req.body)?;
    if !input.sku.eq_ignore_ascii_case(sku) {
        return Err(ShopError::bad_request("The SKU in the body must match the SKU in the path"));
    }
    let product = backend.call_as_operator(Service::Products, catalog_admin::ops::update_product, &input, auth).await?;
    Ok(shop_spin::json::encode(&product))
}

/// The message for a rate sent as a JSON number: a float would lose digits on the way.
pub const RATE_AS_STRING: &str = "Give each rate as a string like \"0.9215\"";

/// The body of a request, as a JSON object (an empty body is `{}`, as for the other inputs).
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ShopError> {
    let text = std::str::from_utf8(body).map_err(|_| ShopError::bad_request("The request body is not valid UTF-8"))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    // From bytes (UTF-8 checked above), as every other body: one JSON reader in the wasm, not two.
    match serde_json::from_slice::<Value>(text.as_bytes()) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ShopError::bad_request("The request body must be a JSON object")),
        Err(e) => Err(ShopError::bad_request(format!("The request body is not valid JSON: {e}"))),
    }
}

fn refuse_unknown(fields: &serde_json::Map<String, Value>, known: &[&str]) -> Result<(), ShopError> {
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(ShopError::bad_request(format!("Unknown field `{key}` in the request body"))),
        None => Ok(()),
    }
}

/// `PUT /admin/rates` `{"valid_from": "2026-06-01T00:00:00Z", "rates": {"EUR": "0.9215", ...}}`:
/// each rate is units of the currency per 1 USD, as a decimal string (never a JSON number); every
/// code and rate is checked here, each problem named by its field, before products is asked.
pub fn rates_input(body: &[u8]) -> Result<catalog_admin::SetRatesRequest, ShopError> {
    let fields = json_object(body)?;
    refuse_unknown(&fields, &["valid_from", "rates"])?;
    let valid_from = match fields.get("valid_from") {
        None | Some(Value::Null) => None,
        Some(Value::String(at)) => Some(at.trim().to_string()),
        Some(_) => return Err(ShopError::bad_request("Give valid_from as an RFC 3339 time like \"2026-06-01T00:00:00Z\", or leave it out for now")),
    };
    let Some(Value::Object(given)) = fields.get("rates") else {
        return Err(ShopError::bad_request("Give the rates as an object like {\"EUR\": \"0.9215\"}"));
    };
    if given.is_empty() {
        return Err(ShopError::bad_request("Give at least one rate, like {\"EUR\": \"0.9215\"}"));
    }
    // Checked one by one, each problem named by its field; then listed in the shop's order of
    // currencies (the object's own order means nothing in JSON).
    let mut problems = Vec::new();
    let mut checked: Vec<(Currency, PerUsd)> = Vec::new();
    for (code, rate) in given {
        let field = format!("rates.{code}");
        let currency = match Currency::parse(code) {
            Ok(Currency::Usd) => Err(shop_domain::ExchangeError::BaseRate.to_string()),
            Ok(c) if checked.iter().any(|(seen, _)| *seen == c) => Err(format!("{c} is given more than once")),
            Ok(c) => Ok(c),
            Err(e) => Err(e.to_string()),
        };
        // A JSON number is a float to most JSON tools: its digits are not to be trusted.
        let per_usd = match rate {
            Value::String(text) => PerUsd::parse(text).map_err(|e| e.to_string()),
            _ => Err(RATE_AS_STRING.to_string()),
        };
        match (currency, per_usd) {
            (Ok(c), Ok(per_usd)) => checked.push((c, per_usd)),
            (Err(message), _) | (_, Err(message)) => problems.push(FieldError::new(&field, message)),
        }
    }
    if !problems.is_empty() {
        let as_number = problems.iter().any(|p| p.message == RATE_AS_STRING);
        let mut e = ShopError::invalid_fields(problems);
        if as_number {
            e.message = RATE_AS_STRING.to_string();
        }
        return Err(e);
    }
    let rates = Currency::ALL
        .into_iter()
        .filter_map(|c| checked.iter().find(|(seen, _)| *seen == c))
        .map(|(c, per_usd)| catalog_admin::RateInput { currency: c.code().to_string(), per_usd: per_usd.to_decimal_string() })
        .collect();
    Ok(catalog_admin::SetRatesRequest { valid_from, rates })
}

async fn set_rates<B: Backend>(backend: &B, auth: &str, req: &Incoming) -> Result<Vec<u8>, ShopError> {
    let input = rates_input(&req.body)?;
    let table = backend.call_as_operator(Service::Products, catalog_admin::ops::set_rates, &input, auth).await?;
    Ok(shop_spin::json::encode(&table))
}

/// `PUT /admin/stock/<sku>` `{"stock": 10}`: the units that can be sold from now on.
pub fn stock_input(sku: &str, body: &[u8]) -> Result<catalog_admin::SetStockRequest, ShopError> {
    let sku = Sku::parse(sku).map_err(|e| ShopError::bad_request(format!("The SKU in the path isn't one: {e}")))?;
    let fields = json_object(body)?;
    refuse_unknown(&fields, &["stock"])?;
    // Products checks the largest stock it keeps.
    let stock = fields.get("stock").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
        ShopError::invalid_fields(vec![FieldError::new("stock", "Give the stock as a whole number of units, like {\"stock\": 10}")])
    })?;
    Ok(catalog_admin::SetStockRequest { sku: sku.to_string(), stock })
}

async fn set_stock<B: Backend>(backend: &B, auth: &str, sku: &str, req: &Incoming) -> Result<Vec<u8>, ShopError> {
    let input = stock_input(sku, &req.body)?;
    let level = backend.call_as_operator(Service::Products, catalog_admin::ops::set_stock, &input, auth).await?;
    Ok(shop_spin::json::encode(&level))
}

fn json(status: u16, body: Vec<u8>) -> Outgoing {
    Outgoing {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body,
    }
}
