//! The one error type of the server functions: the words a page shows, the form field they are
//! about (if any) and the HTTP status. Causes (database errors, internal failures) never get in
//! here: `crate::ssr::to_client` logs them and keeps a generic line.

use leptos::prelude::{FromServerFnError, ServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

/// A field of a form the server validates (serialised as its snake_case name). Each screen maps
/// it to its own input, so the message lands next to the right field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldName {
    SsoUrl,
    Certificate,
    NextCertificate,
    IdpEntityId,
    Email,
    GivenName,
    FamilyName,
    Department,
    Country,
    Locality,
    OrgName,
    Password,
    PasswordConfirm,
    // Issue 12, your account: the current password when changing it.
    CurrentPassword,
    // Organisation settings (issue 12, settings).
    UserRetentionDays,
    EventRetentionDays,
    AllowedDomains,
}

/// What a failed server function tells the page. Travels as JSON: in the error response's body,
/// or (a form posted without JavaScript) in the `__err` query parameter of the page it returns to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// The words to show; never a cause meant for the log.
    pub message: String,
    /// The form field to fix, when the error is about one.
    pub field: Option<FieldName>,
    /// The HTTP status of the response (0: no response arrived).
    pub status: u16,
}

pub const GENERIC_MESSAGE: &str = "Something went wrong. Reload the page and try again.";
const UNREACHABLE_MESSAGE: &str =
    "The server could not be reached. Check your connection and try again.";
const MALFORMED_MESSAGE: &str =
    "The form was incomplete or not understood. Reload the page and try again.";

impl AppError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: None,
            status,
        }
    }

    pub fn in_field(mut self, field: FieldName) -> Self {
        self.field = Some(field);
        self
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Failures of the server-function machinery itself: arguments that do not deserialise are
    /// the client's mistake (400, never a 500); the rest get a generic line (their text is for
    /// developers, not for the page).
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                #[cfg(feature = "ssr")]
                crate::ssr::respond_with(http::StatusCode::BAD_REQUEST);
                Self::new(400, MALFORMED_MESSAGE)
            }
            // On the server: the request body could not be read as text.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(_) if crate::ssr::in_server_fn_call() => {
                crate::ssr::respond_with(http::StatusCode::BAD_REQUEST);
                Self::new(400, MALFORMED_MESSAGE)
            }
            ServerFnErrorErr::Request(_) => Self::new(0, UNREACHABLE_MESSAGE),
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                Self::new(500, GENERIC_MESSAGE)
            }
        }
    }
}

/// Helpers that still return `ServerFnError` (the session plumbing) keep their words; the HTTP
/// status they chose is already on the response.
impl From<ServerFnError> for AppError {
    fn from(err: ServerFnError) -> Self {
        match err {
            ServerFnError::ServerError(msg) => Self::new(500, msg),
            ServerFnError::Request(_) => Self::new(0, UNREACHABLE_MESSAGE),
            ServerFnError::Args(_) | ServerFnError::MissingArg(_) => {
                Self::new(400, MALFORMED_MESSAGE)
            }
            _ => Self::new(500, GENERIC_MESSAGE),
        }
    }
}

/// The message to show for a failed server function.
pub fn message(err: &AppError) -> String {
    err.message.clone()
}
