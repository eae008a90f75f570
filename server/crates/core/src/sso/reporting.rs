//! What the screens read back (Test sign-in results, recent failures) and the cleanup job.

use super::*;
use crate::error::CoreError;
use crate::error::CoreResult;
use crate::Services;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The stored result of a Test sign-in, for the admin of that org only.
pub async fn test_result(
    svc: &Services,
    org_id: &str,
    request_id: &str,
) -> CoreResult<Option<TestResult>> {
    let row = sqlx::query(
        "SELECT result FROM saml_requests WHERE id = $1 AND org_id = $2 AND purpose = 'test'",
    )
    .bind(request_id)
    .bind(org_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(r) = row else {
        return Err(CoreError::NotFound);
    };
    let raw: Option<String> = r.try_get("result")?;
    raw.map(|s| serde_json::from_str(&s).map_err(|e| CoreError::Internal(e.to_string())))
        .transpose()
}

/// One failure for the Single Sign-On screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRow {
    pub at: i64,
    pub reason: String,
}

pub async fn recent_failures(
    svc: &Services,
    org_id: &str,
    limit: i64,
) -> CoreResult<Vec<FailureRow>> {
    let rows = sqlx::query(
        "SELECT at, detail, message FROM events WHERE org_id = $1 AND name = 'sso_sign_in' \
         AND success = 0 ORDER BY at DESC, seq DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: Option<String> = r.try_get("detail")?;
            let message: String = r.try_get("message")?;
            Ok(FailureRow {
                at: r.try_get("at")?,
                reason: detail.unwrap_or(message),
            })
        })
        .collect()
}

/// Drops expired requests and replay-cache entries.
pub async fn purge_expired(svc: &Services) -> CoreResult<u64> {
    let now = svc.now();
    let a = sqlx::query("DELETE FROM saml_requests WHERE expires_at <= $1")
        .bind(now - 24 * 3_600_000)
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    let b = sqlx::query("DELETE FROM saml_replay WHERE expires_at <= $1")
        .bind(now)
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    Ok(a + b)
}
