//! Wire types shared by the server functions, the domain crate and the browser. Nothing here may
//! ever hold a secret (the one-time SCIM token travels in its own type in the app crate).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersQuery {
    pub search: String,
    /// "", "active", "deactivated", "deleted"
    pub status: String,
    /// "", "scim", "sso_jit", "admin"
    pub source: String,
    /// "name", "user_name", "updated", "created"
    pub sort: String,
    pub desc: bool,
    pub page: i64,
}

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
    /// Soft-deleted users waiting for the purge, and the earliest purge time.
    pub deleted_count: i64,
    pub next_purge_at: Option<i64>,
    pub scim_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub at: i64,
    pub name: String,
    pub success: bool,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub actor: String,
    pub scim_type: Option<String>,
    pub message: String,
    /// Plain-words advice for the IdP admin, for failures.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsQuery {
    /// "", "success", "failure"
    pub result: String,
    pub name: String,
    pub user_id: String,
    pub page: i64,
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
