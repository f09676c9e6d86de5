//! `fermyon:spin/variables@2.0.0`.

use crate::bindings::variables::{self, Error};
use crate::state::StoreState;
use crate::variables::VariableError;

impl variables::Host for StoreState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        let result = self.app.resolver.get(&self.component.id, &name);
        Ok(result.map_err(|e| match e {
            VariableError::InvalidName(m) => Error::InvalidName(m),
            VariableError::Undefined(m) => Error::Undefined(m),
            VariableError::Provider(m) => Error::Provider(m),
            VariableError::Other(m) => Error::Other(m),
        }))
    }
}
