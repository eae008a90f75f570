//! SAML single sign-on for an organisation: its IdP configuration (validated exactly alike from the
//! screen and the CLI), SP-initiated requests, and the ACS outcome — sign-in, JIT provisioning,
//! Test sign-in results — with every outcome recorded as an event.
//!
//! `config` holds the organisation's IdP settings and their validation, `start` the SP-initiated
//! requests, `acs` the assertion consumer (every refusal goes through one path) and `reporting`
//! what the screens read back (Test sign-in results, recent failures) and the cleanup job.

mod acs;
mod config;
mod reporting;
mod start;

pub use acs::*;
pub use config::*;
pub use reporting::*;
pub use start::*;

use serde::{Deserialize, Serialize};

use crate::Services;

/// Clock skew tolerated on every time in an assertion.
pub const SKEW_MS: i64 = 180_000;
/// How long an AuthnRequest may wait for its answer.
pub const REQUEST_TTL_MS: i64 = 10 * 60_000;
/// Certificates are flagged this long before they expire.
pub const EXPIRY_WARNING_MS: i64 = 30 * 24 * 3_600_000;

/// The URLs an IdP needs, all derived from `PUBLIC_URL` and the Org ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpUrls {
    pub entity_id: String,
    pub acs_url: String,
    pub login_url: String,
    pub metadata_url: String,
}

pub fn sp_urls(svc: &Services, org_id: &str) -> SpUrls {
    let base = format!("{}/saml/{}", svc.settings.public_url, org_id);
    SpUrls {
        entity_id: format!("{base}/metadata"),
        acs_url: format!("{base}/acs"),
        login_url: format!("{base}/login"),
        metadata_url: format!("{base}/metadata"),
    }
}
