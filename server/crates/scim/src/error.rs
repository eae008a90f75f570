//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType` and a detail an IdP admin
//! can act on.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", .scim_type.map(|t| t.as_str()).unwrap_or("-"))]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn bad_request(t: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(t), detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }
    pub fn precondition_failed() -> Self {
        Self::new(
            412,
            None,
            "The resource changed since you read it (If-Match does not match its current version).",
        )
    }
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            None,
            "Authentication failed: send the organisation's current SCIM token as 'Authorization: Bearer <token>'.",
        )
    }
    pub fn payload_too_large() -> Self {
        Self::new(413, None, "The request body is larger than 1 MiB.")
    }
    pub fn internal() -> Self {
        Self::new(
            500,
            None,
            "An internal error occurred; the request changed nothing. Retry later.",
        )
    }
    pub fn unavailable() -> Self {
        Self::new(
            503,
            None,
            "The service is temporarily unavailable; the request changed nothing. Retry later.",
        )
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "schemas": [crate::ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            v["scimType"] = Value::String(t.as_str().to_string());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_string_status_and_optional_scim_type() {
        let e = ScimError::invalid_value("bad").to_json();
        assert_eq!(e["status"], "400");
        assert_eq!(e["scimType"], "invalidValue");
        assert_eq!(e["schemas"][0], crate::ERROR_URN);
        let e = ScimError::not_found("gone").to_json();
        assert_eq!(e["status"], "404");
        assert!(e.get("scimType").is_none());
    }
}
