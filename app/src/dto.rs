//! Wire types of the server functions. Nothing here may ever hold a secret.

use serde::{Deserialize, Serialize};

/// The signed-in admin and their organisation, for the admin shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub admin_email: String,
    pub org_id: String,
    pub org_name: String,
}
