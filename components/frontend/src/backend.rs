//! The services behind the shop, as one narrow seam: the Spin build calls them over HTTP
//! (`shop_spin::rpc`), unit tests answer from memory.
use std::future::Future;

use serde::{de::DeserializeOwned, Serialize};
use shop_contract::{Operation, ShopError};

/// A service the frontend calls; its base URL is the variable `<name>_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Products,
    Carts,
    Checkout,
    Accounts,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Products => "products",
            Service::Carts => "carts",
            Service::Checkout => "checkout",
            Service::Accounts => "accounts",
        }
    }
}

/// Calls one operation of one service.
pub trait Backend {
    fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        service: Service,
        op: Operation<Req, Resp>,
        req: &Req,
    ) -> impl Future<Output = Result<Resp, ShopError>>;

    /// As [`Backend::call`], forwarding the operator's `authorization` header (the called
    /// service checks the token; the frontend holds none).
    fn call_as_operator<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        service: Service,
        op: Operation<Req, Resp>,
        req: &Req,
        authorization: &str,
    ) -> impl Future<Output = Result<Resp, ShopError>>;
}

/// The real services, over HTTP.
pub struct Remote;

impl Backend for Remote {
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        service: Service,
        op: Operation<Req, Resp>,
        req: &Req,
    ) -> Result<Resp, ShopError> {
        shop_spin::rpc::Upstream::from_config(service.name())?.call(op, req).await
    }

    async fn call_as_operator<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        service: Service,
        op: Operation<Req, Resp>,
        req: &Req,
        authorization: &str,
    ) -> Result<Resp, ShopError> {
        shop_spin::rpc::Upstream::from_config(service.name())?
            .call_with(op, req, &[("authorization", authorization)])
            .await
    }
}
