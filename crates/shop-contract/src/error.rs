//! The error envelope every service answers with, and what each error code means in HTTP.
use serde::{Deserialize, Serialize};

use crate::{ErrorCode, FieldError, ShopError};

/// `{"error": {"code": "not_found", "message": "...", "fields": [...]}}` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// Snake-case error code, e.g. `payment_declined`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

const CODES: [(ErrorCode, &str, u16); 11] = [
    (ErrorCode::BadRequest, "bad_request", 400),
    (ErrorCode::Unauthorized, "unauthorized", 401),
    (ErrorCode::PaymentDeclined, "payment_declined", 402),
    (ErrorCode::NotFound, "not_found", 404),
    (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
    (ErrorCode::Conflict, "conflict", 409),
    (ErrorCode::PayloadTooLarge, "payload_too_large", 413),
    (ErrorCode::Unprocessable, "unprocessable", 422),
    (ErrorCode::TooManyRequests, "too_many_requests", 429),
    (ErrorCode::Internal, "internal", 500),
    (ErrorCode::Unavailable, "unavailable", 503),
];

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        CODES.iter().find(|(c, _, _)| *c == self).map_or(500, |(_, _, s)| *s)
    }

    /// The snake-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        CODES.iter().find(|(c, _, _)| *c == self).map_or("internal", |(_, n, _)| n)
    }

    /// Parses a wire name; unknown names are `None`.
    pub fn from_wire(name: &str) -> Option<Self> {
        CODES.iter().find(|(_, n, _)| *n == name).map(|(c, _, _)| *c)
    }

    /// The code a status maps to when a response carries no recognisable error body.
    pub fn from_status(status: u16) -> Self {
        CODES.iter().find(|(_, _, s)| *s == status).map_or(
            if status >= 500 { ErrorCode::Unavailable } else { ErrorCode::BadRequest },
            |(c, _, _)| *c,
        )
    }
}

impl ShopError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ShopError { code, message: message.into(), fields: Vec::new() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unprocessable, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
    /// A 400 listing every invalid field, for forms to show beside each input.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            _ => "Some fields are not valid".to_string(),
        };
        ShopError { code: ErrorCode::BadRequest, message, fields }
    }

    /// Puts a field name in front of each field error, e.g. `address.` + `city`.
    pub fn prefix_fields(mut self, prefix: &str) -> Self {
        for f in &mut self.fields {
            f.field = format!("{prefix}{}", f.field);
        }
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The wire envelope.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetails {
                code: self.code.as_str().to_string(),
                message: self.message.clone(),
                fields: self.fields.clone(),
            },
        }
    }

    /// Reads an error response; a body that is not an envelope still yields a useful error.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => ShopError {
                code: ErrorCode::from_wire(&error.code).unwrap_or(ErrorCode::from_status(status)),
                message: error.message,
                fields: error.fields,
            },
            Err(_) => ShopError::new(
                ErrorCode::from_status(status),
                format!("unexpected {status} response from a service"),
            ),
        }
    }
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_distinct_status() {
        let mut statuses = std::collections::HashSet::new();
        for (code, name, status) in CODES {
            assert_eq!(ErrorCode::from_wire(name), Some(code));
            assert_eq!(code.as_str(), name);
            assert_eq!(code.status(), status);
            assert!(statuses.insert(status), "status {status} used twice");
        }
    }

    #[test]
    fn envelope_has_the_documented_shape() {
        let err = ShopError::invalid_fields(vec![FieldError::new("email", "Enter an email address")]);
        let json = serde_json::to_value(err.to_body()).unwrap();
        assert_eq!(json["error"]["code"], "bad_request");
        assert_eq!(json["error"]["message"], "Enter an email address");
        assert_eq!(json["error"]["fields"][0]["field"], "email");
        let back = ShopError::from_response(400, json.to_string().as_bytes());
        assert_eq!(back, err);
    }

    #[test]
    fn a_body_that_is_not_an_envelope_maps_by_status() {
        let err = ShopError::from_response(503, b"upstream connect error");
        assert_eq!(err.code, ErrorCode::Unavailable);
        let err = ShopError::from_response(418, b"");
        assert_eq!(err.code, ErrorCode::BadRequest);
    }
}
