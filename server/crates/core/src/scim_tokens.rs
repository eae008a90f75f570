//! SCIM bearer tokens: 256-bit random values, stored as SHA-256 hashes, one active token per org.

use sqlx::Row;

use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::secret::{digest_eq, sha256_hex, Secret};
use crate::Services;

/// How often `last_used_at` is written for a busy token: each IdP sync cycle touches it, but a
/// burst of 1,000 requests does not cost 1,000 writes.
const LAST_USED_RESOLUTION_MS: i64 = 30_000;

/// Replaces the org's token (revoking the old one at once) and returns the new secret — the only
/// time it exists outside the client's hands.
pub async fn generate(svc: &Services, org_id: &str, actor: &str) -> CoreResult<Secret> {
    let now = svc.now();
    let token = Secret::generate();
    let mut tx = svc.db.begin_write().await?;
    if !lock_org(&mut tx, svc, org_id).await? {
        return Err(CoreError::NotFound);
    }
    let replaced = sqlx::query(
        "UPDATE scim_tokens SET revoked_at = $1 WHERE org_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(
        "INSERT INTO scim_tokens (id, org_id, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id())
    .bind(org_id)
    .bind(token.hash())
    .bind(now)
    .bind(actor)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        // The partial unique index keeps one active token per org even if the lock were missed.
        if CoreError::is_unique_violation(&e) {
            CoreError::Conflict("Another token was generated at the same moment; reload.".into())
        } else {
            e.into()
        }
    })?;
    let (name, message) = if replaced > 0 {
        (
            "idm_integration_reauth",
            "SCIM token replaced; the previous token stopped working",
        )
    } else {
        ("idm_integration_activate", "SCIM provisioning activated")
    };
    events::record_in_tx(&mut tx, NewEvent::admin(org_id, actor, name, message), now).await?;
    tx.commit().await?;
    Ok(token)
}

/// Serialises token changes of one org: on PostgreSQL a row lock on the org (two concurrent
/// generations would otherwise each revoke the old token and both insert a new one); SQLite runs
/// one write transaction at a time. False when the org does not exist.
async fn lock_org(tx: &mut crate::db::WriteTx, svc: &Services, org_id: &str) -> CoreResult<bool> {
    let sql = if svc.db.backend == crate::Backend::Postgres {
        "SELECT id FROM orgs WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM orgs WHERE id = $1"
    };
    let org: Option<(String,)> = sqlx::query_as(sql)
        .bind(org_id)
        .fetch_optional(&mut ***tx)
        .await?;
    Ok(org.is_some())
}

/// Turns SCIM off for the org: every request answers 401 afterwards.
pub async fn revoke(svc: &Services, org_id: &str, actor: &str) -> CoreResult<bool> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    lock_org(&mut tx, svc, org_id).await?;
    let n = sqlx::query(
        "UPDATE scim_tokens SET revoked_at = $1 WHERE org_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n > 0 {
        events::record_in_tx(
            &mut tx,
            NewEvent::admin(
                org_id,
                actor,
                "idm_integration_delete",
                "SCIM provisioning turned off",
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// The organisation's SCIM token, as the admin screens describe it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    pub id: String,
    pub created_at: i64,
    pub created_by: String,
    pub first_used_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_user_agent: Option<String>,
    /// The last request this token made that was answered below 400 (to the resolution of
    /// [`LAST_USED_RESOLUTION_MS`]); `last_used_at` counts failures too.
    pub last_success_at: Option<i64>,
}

pub async fn status(svc: &Services, org_id: &str) -> CoreResult<Option<TokenStatus>> {
    let row = sqlx::query(
        "SELECT id, created_at, created_by, first_used_at, last_used_at, last_user_agent, \
         last_success_at FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL",
    )
    .bind(org_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    row.map(|r| {
        Ok(TokenStatus {
            id: r.try_get("id")?,
            created_at: r.try_get("created_at")?,
            created_by: r.try_get("created_by")?,
            first_used_at: r.try_get("first_used_at")?,
            last_used_at: r.try_get("last_used_at")?,
            last_user_agent: r.try_get("last_user_agent")?,
            last_success_at: r.try_get("last_success_at")?,
        })
    })
    .transpose()
}

/// A request authenticated by an org's current token, for [`record_success`] once it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    id: String,
    last_success_at: Option<i64>,
}

/// Checks a presented bearer token for an org. Only a hash lookup (SHA-256, indexed) and a
/// constant-time comparison; a token of another org never matches because the org is part of the
/// query. A revoked token of this org is counted, so the admin can see an IdP still using it.
/// Returns the token's use (pass it to [`record_success`] when the request is answered below
/// 400), or None when the token is not this org's current one.
pub async fn authenticate(
    svc: &Services,
    org_id: &str,
    presented: &str,
    user_agent: Option<&str>,
) -> CoreResult<Option<TokenUse>> {
    if presented.is_empty() || presented.len() > 512 {
        return Ok(None);
    }
    let hash = sha256_hex(presented);
    let row = sqlx::query(
        "SELECT id, token_hash, revoked_at, first_used_at, last_used_at, last_success_at \
         FROM scim_tokens \
         WHERE token_hash = $1 AND org_id = $2",
    )
    .bind(&hash)
    .bind(org_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored: String = row.try_get("token_hash")?;
    if !digest_eq(&stored, &hash) {
        return Ok(None);
    }
    let id: String = row.try_get("id")?;
    let now = svc.now();
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    if revoked_at.is_some() {
        sqlx::query(
            "UPDATE scim_tokens SET rejected_count = rejected_count + 1, last_rejected_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(&id)
        .execute(&svc.db.pool)
        .await?;
        return Ok(None);
    }
    let first_used_at: Option<i64> = row.try_get("first_used_at")?;
    let last_used_at: Option<i64> = row.try_get("last_used_at")?;
    if first_used_at.is_none() || last_used_at.is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS) {
        let ua: String = user_agent
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        sqlx::query(
            "UPDATE scim_tokens SET last_used_at = $1, last_user_agent = $2, \
             first_used_at = COALESCE(first_used_at, $3) WHERE id = $4",
        )
        .bind(now)
        .bind(if ua.is_empty() { None } else { Some(ua) })
        .bind(now)
        .bind(&id)
        .execute(&svc.db.pool)
        .await?;
    }
    Ok(Some(TokenUse {
        id,
        last_success_at: row.try_get("last_success_at")?,
    }))
}

/// Notes that a request authenticated as `used` was answered successfully (below 400), at most
/// once per [`LAST_USED_RESOLUTION_MS`]: the "no successful request" warning must not be
/// silenced by a token whose requests all fail, and a burst must not cost one write per request.
pub async fn record_success(svc: &Services, used: &TokenUse) -> CoreResult<()> {
    let now = svc.now();
    if used
        .last_success_at
        .is_some_and(|t| now - t < LAST_USED_RESOLUTION_MS)
    {
        return Ok(());
    }
    sqlx::query(
        "UPDATE scim_tokens SET last_success_at = $1 WHERE id = $2 \
         AND (last_success_at IS NULL OR last_success_at < $1)",
    )
    .bind(now)
    .bind(&used.id)
    .execute(&svc.db.pool)
    .await?;
    Ok(())
}

/// Requests still arriving with replaced or revoked tokens: (count, last time).
pub async fn rejected_summary(svc: &Services, org_id: &str) -> CoreResult<(i64, Option<i64>)> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT CAST(SUM(rejected_count) AS BIGINT), MAX(last_rejected_at) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NOT NULL",
    )
    .bind(org_id)
    .fetch_one(&svc.db.pool)
    .await?;
    Ok((row.0.unwrap_or(0), row.1))
}
