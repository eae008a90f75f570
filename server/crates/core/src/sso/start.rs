//! SP-initiated sign-in: an AuthnRequest bound to the browser that started it.

use super::*;
use crate::error::CoreError;
use crate::error::CoreResult;
use crate::throttle::Limit;
use crate::Services;
use sha2::{Digest, Sha256};

pub fn browser_hash(browser_secret: &str) -> String {
    hex::encode(Sha256::digest(browser_secret.as_bytes()))
}

/// A RelayState we will redirect to: a local path only (`/…`, not `//…`, no scheme, no
/// backslashes or control characters), else nothing.
pub fn local_path(relay: Option<&str>) -> Option<String> {
    let r = relay?.trim();
    if r.len() > 1024
        || !r.starts_with('/')
        || r.starts_with("//")
        || r.contains('\\')
        || r.chars().any(|c| c.is_control())
    {
        return None;
    }
    Some(r.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An employee's sign-in.
    Login,
    /// An admin's Test sign-in: the result is shown, nobody is signed in.
    Test,
    /// An admin of the organisation signing in to the portal (`/admin/sso-login`). Only an
    /// SP-initiated response answering such a request of the same browser signs an admin in.
    AdminLogin,
}

impl Purpose {
    /// As stored in `saml_requests.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Test => "test",
            Self::AdminLogin => "admin_login",
        }
    }
}

/// Starts SP-initiated sign-in: stores the request (single use, bound to the browser) and returns
/// the IdP URL to redirect to.
/// Sign-in starts per client address and organisation (each stores a request row).
pub const MAX_STARTS_PER_CLIENT: i64 = 30;
pub const STARTS_WINDOW_MS: i64 = 10 * 60_000;

#[allow(clippy::too_many_arguments)]
pub async fn start(
    svc: &Services,
    org_id: &str,
    browser_secret: &str,
    relay_state: Option<&str>,
    purpose: Purpose,
    admin_id: Option<&str>,
    client: &str,
) -> CoreResult<String> {
    let cfg = get(svc, org_id).await?.ok_or(CoreError::NotFound)?;
    let urls = sp_urls(svc, org_id);
    let now = svc.now();
    let key = format!("saml-start:{org_id}:{client}");
    let limit = [Limit::new(key, MAX_STARTS_PER_CLIENT, STARTS_WINDOW_MS)];
    if let Some(secs) = crate::throttle::take(&svc.db, &limit, now).await? {
        return Err(CoreError::Throttled {
            retry_after_secs: secs,
        });
    }
    let id = portal_saml::authn::new_request_id();
    // An admin's sign-in always lands in the admin shell.
    let relay = match purpose {
        Purpose::AdminLogin => None,
        _ => local_path(relay_state),
    };
    let xml = portal_saml::authn::authn_request_xml(
        &id,
        &crate::clock::rfc3339(now),
        &cfg.sso_url,
        &urls.acs_url,
        &urls.entity_id,
    );
    let url = portal_saml::authn::redirect_url(&cfg.sso_url, &xml, relay.as_deref())
        .map_err(|e| CoreError::Internal(format!("stored SSO URL: {e}")))?;
    let mut tx = svc.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO saml_requests (id, org_id, browser_hash, purpose, admin_id, relay_state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(browser_hash(browser_secret))
    .bind(purpose.as_str())
    .bind(admin_id)
    .bind(&relay)
    .bind(now)
    .bind(now + REQUEST_TTL_MS)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(url)
}
