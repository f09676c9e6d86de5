//! Calling another service's operation: `POST {base}{path}` with JSON.
//!
//! `base` comes from the variable `<service>_url`: `http://<service>.spin.internal` for service
//! chaining in one Spin app, or a cluster DNS name when the services are deployed apart.
use std::time::Instant;

use serde::{de::DeserializeOwned, Serialize};
use shop_contract::{Operation, ShopError};
use spin_sdk::http::{Method, Request, Response};

/// Another service, reachable at a base URL.
#[derive(Debug, Clone)]
pub struct Upstream {
    name: &'static str,
    base: String,
}

impl Upstream {
    /// The service whose base URL is in the variable `<name>_url`.
    pub fn from_config(name: &'static str) -> Result<Self, ShopError> {
        let base = crate::config::var(&format!("{name}_url"))?;
        Ok(Upstream { name, base: base.trim_end_matches('/').to_string() })
    }

    /// Calls `op` with `req`.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        op: Operation<Req, Resp>,
        req: &Req,
    ) -> Result<Resp, ShopError> {
        self.call_with(op, req, &[]).await
    }

    /// Calls `op` with `req` and extra headers (e.g. `authorization`).
    pub async fn call_with<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        op: Operation<Req, Resp>,
        req: &Req,
        headers: &[(&str, &str)],
    ) -> Result<Resp, ShopError> {
        let started = Instant::now();
        let mut builder = Request::builder();
        builder
            .method(Method::Post)
            .uri(format!("{}{}", self.base, op.path))
            .header("content-type", "application/json")
            .header("x-request-id", crate::serve::request_id());
        for (k, v) in headers {
            builder.header(*k, *v);
        }
        let request = builder.body(crate::json::encode(req)).build();
        let sent: Result<Response, _> = spin_sdk::http::send(request).await;
        crate::serve::record_upstream(started);
        let response = sent.map_err(|e| {
            crate::log::error(&format!("calling {} {} failed: {e}", self.name, op.path));
            self.unavailable()
        })?;
        let status = *response.status();
        if (200..300).contains(&status) {
            serde_json::from_slice(response.body()).map_err(|e| {
                crate::log::error(&format!("{} {} answered an unexpected body: {e}", self.name, op.path));
                ShopError::internal(format!("The {} service answered in an unexpected format", self.name))
            })
        } else if status >= 500 {
            let err = ShopError::from_response(status, response.body());
            crate::log::error(&format!("{} {} answered {status}: {}", self.name, op.path, err.message));
            Err(self.unavailable())
        } else {
            Err(ShopError::from_response(status, response.body()))
        }
    }

    fn unavailable(&self) -> ShopError {
        ShopError::unavailable(format!("The {} service is unavailable; try again in a moment", self.name))
    }
}
