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
