//! One error type for the domain. `Display` is what a person may be shown; the `Db` variant's cause
//! is logged, never shown.

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Bad input; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// Bad input in one field of a form; the screen shows the message next to that field.
    #[error("{message}")]
    InvalidField { field: Field, message: String },
    /// A uniqueness rule was broken; the message says which.
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// The caller may not do this; the message says why and what to do instead.
    #[error("{0}")]
    Forbidden(String),
    /// Credentials did not match. Deliberately says nothing about which part was wrong.
    #[error("The email or password is incorrect.")]
    BadCredentials,
    #[error("Too many attempts. Try again in {} minute(s).", (.retry_after_secs + 59) / 60)]
    Throttled { retry_after_secs: i64 },
    /// Too much work is queued (e.g. password checks); the client should retry shortly.
    #[error("The service is busy. Try again in a few seconds.")]
    Busy { retry_after_secs: i64 },
    #[error("The setup link is invalid or has already been used.")]
    SetupTokenInvalid,
    #[error("This sign-in link is invalid, has expired or was already used. Request a new one.")]
    LinkInvalid,
    #[error("The record was changed by someone else; reload and try again.")]
    Stale,
    #[error("A temporary problem occurred; please try again.")]
    Db(#[from] sqlx::Error),
    #[error("A temporary problem occurred; please try again.")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    pub fn invalid_field(field: Field, msg: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            message: msg.into(),
        }
    }

    /// Names the field a bad-input error is about (other errors are left as they are), for
    /// validators shared by several forms.
    pub fn in_field(self, field: Field) -> Self {
        match self {
            Self::Invalid(message) | Self::InvalidField { message, .. } => {
                Self::InvalidField { field, message }
            }
            other => other,
        }
    }

    /// The same error without its field, for callers that report the message only.
    pub fn without_field(self) -> Self {
        match self {
            Self::InvalidField { message, .. } => Self::Invalid(message),
            other => other,
        }
    }

    /// The field a bad-input error is about, if it names one.
    pub fn field(&self) -> Option<Field> {
        match self {
            Self::InvalidField { field, .. } => Some(*field),
            _ => None,
        }
    }

    /// True when the database refused a row because of a unique index.
    pub fn is_unique_violation(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::Database(db) => {
                db.is_unique_violation()
                    || db.code().as_deref() == Some("23505")
                    || db.message().contains("UNIQUE constraint failed")
            }
            _ => false,
        }
    }
}

/// The fields of the forms the domain validates (SSO settings, a user added or edited by an admin,
/// the first setup). The UI maps each to its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
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
    // Issue 12, your account: the current password when changing it.
    CurrentPassword,
    // Organisation settings (issue 12, settings).
    UserRetentionDays,
    EventRetentionDays,
    AllowedDomains,
}

pub type CoreResult<T> = Result<T, CoreError>;
