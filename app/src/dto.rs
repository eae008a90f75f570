//! Wire types of the server functions. Nothing here may ever hold a secret, except
//! [`NewScimToken`], which exists only in the one response that shows the token once.

use serde::{Deserialize, Serialize};

pub use portal_dto::*;

/// The signed-in admin and their organisation, for the admin shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub admin_email: String,
    pub org_id: String,
    pub org_name: String,
}

/// The provisioning screen: the SCIM base URL and the token's status (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningView {
    pub scim_base_url: String,
    pub status: ProvisioningStatus,
    pub now: i64,
}

/// The response of "Generate new token": the only time the token leaves the server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewScimToken {
    pub token: String,
}

impl std::fmt::Debug for NewScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewScimToken(***)")
    }
}

/// An IdP certificate as the Single Sign-On screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertView {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    pub key: String,
    pub fingerprint: String,
    /// "ok", "expiring" (within 30 days) or "expired".
    pub state: String,
    /// The PEM (public; it refills the form).
    pub pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConfigView {
    pub sso_url: String,
    pub idp_entity_id: String,
    pub certificate: CertView,
    pub next_certificate: Option<CertView>,
    pub jit_enabled: bool,
    pub require_sso: bool,
    pub refuse_unsolicited: bool,
    pub updated_at: i64,
    pub updated_by: String,
    pub last_success_at: Option<i64>,
    /// Which certificate verified the last successful sign-in, in words.
    pub last_success_certificate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoFailureView {
    pub at: i64,
    pub reason: String,
}

/// The Single Sign-On screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoView {
    pub org_id: String,
    pub entity_id: String,
    pub acs_url: String,
    pub login_url: String,
    pub metadata_url: String,
    /// The employee sign-in page for this org (offers "Sign in with SSO").
    pub employee_login_url: String,
    pub config: Option<SsoConfigView>,
    pub failures: Vec<SsoFailureView>,
}

/// What an IdP metadata import would fill in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataPreviewView {
    pub sso_url: String,
    pub idp_entity_id: String,
    pub certificate: CertView,
    pub next_certificate: Option<CertView>,
    pub changes: Vec<String>,
}

/// One user field of a Test sign-in: its value and the attribute it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldView {
    pub label: String,
    pub value: Option<String>,
    pub from: Option<String>,
    pub expected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoTestView {
    /// None while the IdP has not answered yet.
    pub done: bool,
    pub success: bool,
    pub failure: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub issuer: Option<String>,
    pub certificate_fingerprint: Option<String>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub fields: Vec<FieldView>,
    pub at: i64,
}
