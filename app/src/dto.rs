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
    pub state: CertState,
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

/// What the certificate buttons of the Single Sign-On screen do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateAction {
    /// The next certificate becomes the current one (the current one is removed).
    Promote,
    RemoveNext,
    /// Turns SSO off for the organisation.
    Deactivate,
}

impl CertificateAction {
    /// The value of the form's hidden `action` input (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::RemoveNext => "remove_next",
            Self::Deactivate => "deactivate",
        }
    }
}

/// What the buttons of a user's page do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAction {
    Deactivate,
    Reactivate,
    Delete,
    Restore,
}

impl UserAction {
    /// The value of the form's hidden `action` input (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::Delete => "delete",
            Self::Restore => "restore",
        }
    }
}

/// The state of an IdP certificate on the Single Sign-On screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertState {
    Ok,
    /// Expires within 30 days.
    Expiring,
    Expired,
}

/// The Single Sign-On form. Its fields are flattened into the server function's arguments, so the
/// inputs keep their plain names (`sso_url`, …) and the form works without JavaScript.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettingsForm {
    pub sso_url: String,
    pub certificate: String,
    pub next_certificate: String,
    pub idp_entity_id: String,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub jit_enabled: bool,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub require_sso: bool,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub refuse_unsolicited: bool,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub accept_expired: bool,
}

/// A user as an admin adds or edits one by hand (flattened like [`SsoSettingsForm`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFormInput {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub department: String,
    pub country: String,
    pub locality: String,
}

/// The first-run setup form (flattened like [`SsoSettingsForm`]). Not `Debug`: it holds a
/// password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupForm {
    pub token: String,
    pub org_name: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
}

impl std::fmt::Debug for SetupForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupForm")
            .field("org_name", &self.org_name)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// An HTML checkbox as a `bool`: a form sends `on` when it is ticked and nothing when it is not;
/// the hydrated page serialises it the same way.
mod checkbox {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "on" } else { "" })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match String::deserialize(d)?.as_str() {
            "on" | "true" => Ok(true),
            "" | "off" | "false" => Ok(false),
            other => Err(de::Error::invalid_value(
                de::Unexpected::Str(other),
                &"a checkbox value (on)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_values_are_their_serde_names() {
        for a in [
            CertificateAction::Promote,
            CertificateAction::RemoveNext,
            CertificateAction::Deactivate,
        ] {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
        }
        for a in [
            UserAction::Deactivate,
            UserAction::Reactivate,
            UserAction::Delete,
            UserAction::Restore,
        ] {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
        }
    }
}
