//! An operation of the contract: one HTTP route with a typed request and response.
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::ShopError;

/// Every operation's route starts with this.
pub const ANY_OPERATION_PREFIX: &str = "/api/";

/// The only operations anyone may call: the catalog's reads. Every other operation is internal
/// to the shop and needs the shared internal token in [`INTERNAL_TOKEN_HEADER`].
pub const PUBLIC_OPERATION_PREFIX: &str = "/api/catalog/";

/// The request header that carries the shop's internal token from one service to another.
pub const INTERNAL_TOKEN_HEADER: &str = "shop-internal-token";

/// Whether `path` is a public operation (callable without the internal token).
pub fn is_public_path(path: &str) -> bool {
    path.starts_with(PUBLIC_OPERATION_PREFIX)
}

/// The request of a WIT function without parameters: sent as `{}` (an empty body is accepted too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `POST {path}` with a JSON `Req`, answered by a JSON `Resp` or a [`ShopError`].
pub struct Operation<Req, Resp> {
    /// `/api/<interface>/<function>`.
    pub path: &'static str,
    types: PhantomData<fn(Req) -> Resp>,
}

/// Implemented by a generated WIT function taking `Req` (by reference or, for plain-data records,
/// by value) and returning `Result<Resp, ShopError>`. `M` only keeps the two impls apart.
pub trait WitFunction<Req, Resp, M> {}

pub enum ByRef {}
pub enum ByValue {}

impl<F: Fn(&Req) -> Result<Resp, ShopError>, Req, Resp> WitFunction<Req, Resp, ByRef> for F {}
impl<F: Fn(Req) -> Result<Resp, ShopError>, Req, Resp> WitFunction<Req, Resp, ByValue> for F {}

impl<Req, Resp> Operation<Req, Resp> {
    /// Ties the operation to the generated function, so a WIT change that disagrees with the
    /// declared types does not compile. The function is never called.
    pub const fn with_params<M, F: WitFunction<Req, Resp, M>>(wit: F, path: &'static str) -> Self {
        std::mem::forget(wit);
        Operation { path, types: PhantomData }
    }
}

impl<Resp> Operation<NoParams, Resp> {
    /// As [`Operation::with_params`], for a WIT function without parameters.
    pub const fn without_params(_wit: fn() -> Result<Resp, ShopError>, path: &'static str) -> Self {
        Operation { path, types: PhantomData }
    }
}

impl<Req, Resp> Clone for Operation<Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Req, Resp> Copy for Operation<Req, Resp> {}

impl<Req, Resp> std::fmt::Debug for Operation<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "POST {}", self.path)
    }
}
