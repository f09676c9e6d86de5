//! The operator API, served by the frontend because it is the shop's public entry point: the
//! catalog writes and migrations live on private routes of products and checkout.
//!
//! JSON in and out, authenticated by `authorization: Bearer <operator token>`, which is forwarded
//! to the owning service and checked there (the frontend holds no token). No session cookie is
//! involved, so CSRF does not apply.
use serde::{Deserialize, Serialize};
use shop_contract::{accounts, catalog_admin, checkout, MigrationReport, NoParams, ShopError};

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
