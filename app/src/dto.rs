//! Wire types of the server functions, and their one home: the domain crate has its own read
//! models, and each screen's server-side code converts them to these. Nothing here may ever hold a
//! secret, except [`NewScimToken`], which exists only in the one response that shows the token once.
//! (Second factor: [`TotpSetupView`] and [`RecoveryCodes`] likewise, on the admin's own screen.)

use serde::{Deserialize, Serialize};

/// The Users screen's filters, sort and page (all in the page's URL query).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersQuery {
    pub search: String,
    /// None: any status.
    pub status: Option<UserStatus>,
    /// None: any source.
    pub source: Option<UserSource>,
    pub sort: UserSort,
    pub desc: bool,
    pub page: i64,
    /// SCIM Groups (issue 13): only members of this group (its id); empty: any.
    #[serde(default)]
    pub group: String,
}

impl UsersQuery {
    /// Reads the query from the page's URL parameters (`q`, `status`, `source`, `sort`, `dir`,
    /// `page`); unknown values mean "any" / the default.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).unwrap_or_default();
        Self {
            search: get("q"),
            status: UserStatus::parse(&get("status")),
            source: UserSource::parse(&get("source")),
            sort: UserSort::parse(&get("sort")).unwrap_or_default(),
            desc: get("dir") == "desc",
            page: get("page").parse().unwrap_or(1),
            group: get("group"),
        }
    }
}

/// Defines a unit enum whose serde name, URL value and SQL value is one snake_case string.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }
        }
    };
}

str_enum!(
    /// A user's lifecycle state, as the Users screen filters it.
    UserStatus {
        Active = "active",
        Deactivated = "deactivated",
        /// Soft-deleted, waiting for the purge.
        Deleted = "deleted",
    }
);

str_enum!(
    /// Where a user came from (the `users.source` column).
    UserSource {
        Scim = "scim",
        SsoJit = "sso_jit",
        Admin = "admin",
    }
);

str_enum!(
    /// The Users table's sort column.
    #[derive(Default)]
    UserSort {
        #[default]
        UserName = "user_name",
        Name = "name",
        Updated = "updated",
        Created = "created",
    }
);

str_enum!(
    /// The Activity screen's result filter.
    EventResult {
        Success = "success",
        Failure = "failure",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub user_name: String,
    pub email: Option<String>,
    pub department: Option<String>,
    pub country: Option<String>,
    pub locality: Option<String>,
    /// "Active", "Deactivated", "Deleted"
    pub status: String,
    pub source: String,
    pub last_sign_in_at: Option<i64>,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersPage {
    pub rows: Vec<UserRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The search matched more than `total` users (the count stops there): the pages hold the
    /// first `total`.
    pub more: bool,
    /// Soft-deleted users waiting for the purge, and the earliest purge time.
    pub deleted_count: i64,
    pub next_purge_at: Option<i64>,
    pub scim_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub at: i64,
    /// The event's kind, as the Activity filter names it (`admin`, `sso`, …).
    pub kind: String,
    pub name: String,
    pub success: bool,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub actor: String,
    pub scim_type: Option<String>,
    pub message: String,
    /// Plain-words advice for the IdP admin, for failures.
    pub fix: Option<String>,
    /// SCIM request log (issue 13): the logged request a SCIM event came from.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The Activity screen's filters as the URL carries them, unparsed: the server reads them with the
/// one parser the exports use too (`portal_core::audit::ActivityQuery::parse`), so a bad value
/// gets the same message everywhere. Empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventsQuery {
    /// Kinds, comma-separated.
    pub kind: String,
    pub result: String,
    pub name: String,
    pub actor: String,
    /// A user id or a userName.
    pub user: String,
    /// UTC dates `YYYY-MM-DD`, inclusive.
    pub from: String,
    pub to: String,
    pub page: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    pub rows: Vec<EventRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDetail {
    pub id: String,
    pub user_name: String,
    pub status: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub purge_at: Option<i64>,
    pub last_sign_in_at: Option<i64>,
    /// The SCIM representation, pretty-printed.
    pub scim_json: String,
    /// (attribute path, value) for every attribute.
    pub attributes: Vec<(String, String)>,
    pub timeline: Vec<EventRow>,
    /// For optimistic concurrency of the admin's edits.
    pub version: i64,
    /// SCIM is on and owns this user: the screen shows its fields read-only.
    pub scim_managed: bool,
    pub edit: UserEdit,
}

/// The hand-editable fields, as currently stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEdit {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub department: String,
    pub country: String,
    pub locality: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningStatus {
    pub token: Option<TokenStatus>,
    pub rejected_count: i64,
    pub last_rejected_at: Option<i64>,
    /// No successful request for more than two 40-minute IdP cycles while a token is active.
    pub stale_since: Option<i64>,
    /// Token rotation (issue 13): the next token beside the current one.
    pub rotation: Option<RotationStatus>,
    /// Token rotation (issue 13): the token the current one replaced through a rotation.
    pub last_retired: Option<RetiredToken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStatus {
    pub id: String,
    pub created_at: i64,
    pub created_by: String,
    pub first_used_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_user_agent: Option<String>,
}

/// The signed-in admin and their organisation, for the admin shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub admin_email: String,
    pub org_id: String,
    pub org_name: String,
    pub role: AdminRole,
    /// Second factor (issue 12, two-factor): the organisation requires one and this admin has
    /// none yet; the shell sends them to the enrolment screen.
    #[serde(default)]
    pub second_factor_required: bool,
}

/// What a control needs, mirroring `portal_core::admins::Permission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Change SSO, provisioning, users.
    Manage,
    /// Change the admin team and the organisation's settings.
    Own,
}

/// Which controls the signed-in admin's role shows (the server refuses the rest anyway:
/// `portal_core::admins::Role`).
impl AdminRole {
    pub fn allows(self, need: Need) -> bool {
        match need {
            Need::Manage => matches!(self, Self::Owner | Self::Admin),
            Need::Own => self == Self::Owner,
        }
    }
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

// ---- Organisation settings (issue 12, settings) ----

/// The Organisation settings screen. `can_edit`: the caller is an Owner (others see the values
/// without inputs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettingsView {
    pub can_edit: bool,
    pub name: String,
    pub user_retention_days: i64,
    pub event_retention_days: i64,
    pub allowed_domains: Vec<String>,
    pub username_equals_work_email: bool,
    pub require_2fa: bool,
    pub require_sso_for_admins: bool,
    pub max_user_retention_days: i64,
    pub max_event_retention_days: i64,
}

/// The Organisation settings form (flattened like [`SsoSettingsForm`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettingsForm {
    pub name: String,
    pub user_retention_days: String,
    pub event_retention_days: String,
    pub allowed_domains: String,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub username_equals_work_email: bool,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub require_2fa: bool,
    #[serde(default, with = "checkbox", skip_serializing_if = "std::ops::Not::not")]
    pub require_sso_for_admins: bool,
}

/// What a save changed, in words ("retention for events 365 → 90 days"); empty: nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettingsSaved {
    pub changes: Vec<String>,
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

// ---- Issue 12, your account: password change and reset, "Your sessions" ----------------------

/// "Your account": who the admin is and their sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub email: String,
    /// "Owner", "Admin" or "Viewer".
    pub role: String,
    pub created_at: i64,
    pub password_changed_at: Option<i64>,
    pub sessions: Vec<AdminSessionView>,
}

/// One of the admin's sessions. `reference` is a one-way hash of the session id (never the id,
/// which is the cookie's bearer credential): what "End" sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSessionView {
    pub reference: String,
    pub started_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    /// "Chrome on Linux · 203.0.113.7".
    pub client: String,
    /// How it signed in ("Password", "Password + authenticator app", …).
    pub method: String,
    /// The session of this browser.
    pub current: bool,
}

/// The change-password form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChangeForm {
    pub current_password: String,
    pub new_password: String,
    pub new_password_confirm: String,
}

/// The form of `/admin/reset-password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetForm {
    pub token: String,
    pub password: String,
    pub password_confirm: String,
}

// ---- Second factor (issue 12, two-factor) -----------------------------------------------------

/// The two-factor screen of the signed-in admin's own account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorView {
    pub totp_enabled: bool,
    /// An authenticator app being set up (not confirmed yet).
    pub totp_setup: Option<TotpSetupView>,
    pub recovery_codes_left: i64,
    pub passkeys: Vec<PasskeyView>,
    /// False when `PUBLIC_URL` is not a domain name (WebAuthn needs one).
    pub passkeys_available: bool,
    pub org_requires: bool,
    /// A confirmed app or at least one passkey.
    pub has_factor: bool,
}

/// The key of an authenticator app being set up. A secret, shown only to the admin it belongs
/// to, on their own screen, until they confirm it with a code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetupView {
    /// Base32 in groups of four, for typing into the app.
    pub manual_key: String,
    /// The `otpauth://` URI as a QR code (`data:image/svg+xml;base64,…`).
    pub qr_data_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Recovery codes, in the one response that shows them (only their hashes are kept).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

impl std::fmt::Debug for TotpSetupView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetupView(***)")
    }
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} × ***)", self.codes.len())
    }
}

/// The second sign-in step: which methods the pending admin can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorOptions {
    pub email: String,
    pub totp: bool,
    pub recovery_codes: bool,
    pub passkeys: bool,
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

    #[test]
    fn filter_values_round_trip_through_url_and_serde() {
        for s in UserStatus::ALL {
            assert_eq!(UserStatus::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for s in UserSource::ALL {
            assert_eq!(UserSource::parse(s.as_str()), Some(*s));
        }
        for s in UserSort::ALL {
            assert_eq!(UserSort::parse(s.as_str()), Some(*s));
        }
        assert_eq!(UserStatus::parse(""), None);
        assert_eq!(UserStatus::parse("Active"), None);
    }

    #[test]
    fn users_query_from_url_params() {
        let params = [
            ("status", "deleted"),
            ("source", "bogus"),
            ("sort", "name"),
            ("dir", "desc"),
            ("page", "x"),
        ];
        let q = UsersQuery::from_params(|k| {
            params
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(q.status, Some(UserStatus::Deleted));
        assert_eq!(q.source, None);
        assert_eq!(q.sort, UserSort::Name);
        assert!(q.desc);
        assert_eq!(q.page, 1);
    }
}

// --- Issue 12, audit trail and overview: the Overview checklist ---------------------------------

/// One IdP certificate as the Overview shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewCert {
    /// The certificate in use (false: the next one, for rollover).
    pub current: bool,
    pub subject: String,
    pub not_after: i64,
    /// `valid`, `expires_soon` (within 30 days) or `expired`.
    pub state: String,
}

/// Failed events of one kind in the Overview's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewFailures {
    /// The Activity filter's kind (`sso`, `scim`, …).
    pub kind: String,
    pub count: i64,
}

/// The Overview: the organisation's setup as a checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewView {
    pub sso_configured: bool,
    pub sso_last_success_at: Option<i64>,
    pub certificates: Vec<OverviewCert>,
    pub scim_active: bool,
    pub scim_token_created_at: Option<i64>,
    /// The IdP's last authenticated SCIM request.
    pub scim_last_request_at: Option<i64>,
    /// The IdP's last successful change.
    pub scim_last_success_at: Option<i64>,
    pub users_active: i64,
    pub users_deactivated: i64,
    pub users_deleted: i64,
    pub failures: Vec<OverviewFailures>,
    /// Start of the failure window (the last 24 hours).
    pub failures_since: i64,
    /// `configure_sso`, `test_sso`, `generate_scim_token`, `connect_idp`, `renew_certificate`,
    /// `review_failures` or `done`.
    pub next_step: String,
}

// ---- Admin team: the admins list, roles, invitations (issue 12, team) ----------------------------

str_enum!(
    /// An admin's role (`portal_core::admins::Role` on the wire).
    AdminRole {
        Owner = "owner",
        Admin = "admin",
        Viewer = "viewer",
    }
);

impl AdminRole {
    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Viewer => "Viewer",
        }
    }

    /// What the role may do, in a few words.
    pub fn summary(self) -> &'static str {
        match self {
            Self::Owner => "everything, including the admin team",
            Self::Admin => "single sign-on, provisioning and users",
            Self::Viewer => "reads every screen and exports; changes nothing",
        }
    }
}

/// One admin of the org on the Admins screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub id: String,
    pub email: String,
    pub role: AdminRole,
    /// A confirmed authenticator app or a passkey.
    pub two_factor: bool,
    pub last_sign_in_at: Option<i64>,
    pub invited_by: Option<String>,
    pub created_at: i64,
    /// The signed-in admin's own row.
    pub is_me: bool,
}

/// An invitation not yet accepted or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInvitation {
    pub id: String,
    pub email: String,
    pub role: AdminRole,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub expired: bool,
}

/// The Admins screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub my_role: AdminRole,
    /// Whether the signed-in admin may invite, change roles and remove (an Owner).
    pub can_manage: bool,
    pub members: Vec<TeamMember>,
    pub invitations: Vec<TeamInvitation>,
}

/// What the accept page shows about a valid invitation (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationInfo {
    pub org_name: String,
    pub email: String,
    pub role: AdminRole,
    pub invited_by: String,
    pub expires_at: i64,
}

/// The accept page's form. Debug leaves the token and passwords out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptInvitationForm {
    pub token: String,
    pub password: String,
    pub password_confirm: String,
}

impl std::fmt::Debug for AcceptInvitationForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptInvitationForm")
            .finish_non_exhaustive()
    }
}

// Token rotation (issue 13).

/// A rotation in progress: the next token and the current token's deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationStatus {
    pub next: TokenStatus,
    pub retire_at: i64,
}

/// The token retired by the last rotation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredToken {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_user_agent: Option<String>,
    pub retired_at: i64,
    /// An admin's email, or `system` when the portal retired it.
    pub retired_by: String,
    pub reason: String,
}

/// The grace periods "Rotate" offers, in hours (1 hour … 30 days), and the default (7 days).
pub const GRACE_HOURS: &[(i64, &str)] = &[
    (1, "1 hour"),
    (24, "1 day"),
    (72, "3 days"),
    (168, "7 days"),
    (336, "14 days"),
    (720, "30 days"),
];
pub const GRACE_HOURS_DEFAULT: i64 = 168;
// ---- SCIM request log (issue 13) ----

/// The request log's filters as the URL carries them, unparsed (the server parses them with
/// `portal_core::scim_requests::Query::parse`). Empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScimRequestsQuery {
    /// `success`, `4xx` or `5xx`.
    pub status: String,
    /// A user id or a userName.
    pub user: String,
    pub page: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimRequestRow {
    pub id: String,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub duration_us: i64,
    pub client: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimRequestsPage {
    pub rows: Vec<ScimRequestRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Days the deployment keeps requests.
    pub retention_days: u32,
}

/// One request with its bodies (redacted when stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimRequestDetail {
    pub row: ScimRequestRow,
    /// The kept request headers, as a JSON object.
    pub request_headers: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

// --- SCIM Groups (issue 13, groups) ------------------------------------------------------------

/// A group as the Groups screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_count: i64,
    pub updated_at: i64,
}

/// One member of a group on the Groups screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMemberRow {
    pub user_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub active: bool,
}

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembers {
    pub id: String,
    pub display_name: String,
    pub members: Vec<GroupMemberRow>,
}

// --- Setup links for outside IT contacts (issue 13) --------------------------------------------

/// What a setup link opens (`portal_core::setup_links::Scope` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupScope {
    Sso,
    Provisioning,
    Both,
}

impl SetupScope {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sso => "Single sign-on",
            Self::Provisioning => "Provisioning",
            Self::Both => "Single sign-on and provisioning",
        }
    }
    pub fn sso(self) -> bool {
        matches!(self, Self::Sso | Self::Both)
    }
    pub fn provisioning(self) -> bool {
        matches!(self, Self::Provisioning | Self::Both)
    }
}

/// A setup link as the admin's Setup links screen lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkRow {
    pub id: String,
    pub label: String,
    pub scope: SetupScope,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub use_count: i64,
    /// "Active", "Expired", "Revoked by …", "Stopped: its sender is no longer an admin".
    pub state: String,
    pub active: bool,
}

/// The admin's Setup links screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinksView {
    pub links: Vec<SetupLinkRow>,
    pub default_hours: i64,
    pub max_hours: i64,
}

/// A link just made: its address exists only in this one response.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSetupLink {
    pub url: String,
    pub label: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for NewSetupLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSetupLink(***)")
    }
}

/// The single sign-on part of a setup link's screens: our values and the IdP's, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkSso {
    pub entity_id: String,
    pub acs_url: String,
    pub login_url: String,
    pub metadata_url: String,
    pub org_id: String,
    pub employee_login_url: String,
    /// The IdP's SAML 2.0 endpoint, entity ID and certificate subject, when configured.
    pub configured: Option<SetupLinkSsoConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkSsoConfig {
    pub sso_url: String,
    pub idp_entity_id: String,
    pub certificate_subject: String,
    pub certificate_not_after: i64,
    pub updated_at: i64,
    pub last_success_at: Option<i64>,
}

/// The provisioning part of a setup link's screens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkProvisioning {
    pub scim_base_url: String,
    /// A token exists (a new one then starts a rotation: the old keeps working until the IdP's
    /// first successful request with the new one).
    pub token_active: bool,
    pub last_success_at: Option<i64>,
}

/// What a setup link shows its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkPage {
    pub org_name: String,
    pub label: String,
    pub sent_by: String,
    pub scope: SetupScope,
    pub expires_at: i64,
    pub sso: Option<SetupLinkSso>,
    pub provisioning: Option<SetupLinkProvisioning>,
}
