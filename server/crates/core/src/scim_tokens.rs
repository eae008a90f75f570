//! SCIM bearer tokens: 256-bit random values, stored as SHA-256 hashes, one current token per
//! org — and, during a rotation (issue 13), one next token beside it.
//!
//! Rotation: [`rotate`] adds a next token and gives the current one a deadline (`retire_at`).
//! The current token is retired ([`cut_over`]) at the IdP's first successful request with the
//! next one, by hand ([`retire_old`]) or when the deadline passes ([`retire_expired`], and at
//! authentication time). Every change of an org's tokens holds the org's row lock (PostgreSQL)
//! or the one write transaction (SQLite), and the partial unique indexes
//! `scim_tokens_one_current` / `scim_tokens_one_next` keep the invariant even if it were missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use sqlx::Row;

use crate::db::Db;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::secret::{digest_eq, sha256_hex, Secret};
use crate::sql::{Script, SqlBuilder};
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
    if !tx.lock_org(org_id).await? {
        return Err(CoreError::NotFound);
    }
    let replaced = sqlx::query(
        "UPDATE scim_tokens SET revoked_at = $1, retire_at = NULL WHERE org_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    insert_token(&mut tx, org_id, &token, actor, now, false).await?;
    let (name, message) = if replaced > 1 {
        (
            "idm_integration_reauth",
            "SCIM token replaced during a rotation; both previous tokens stopped working",
        )
    } else if replaced > 0 {
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

/// Stores a new token of the org (current, or the next one of a rotation) inside the caller's
/// locked transaction.
async fn insert_token(
    tx: &mut crate::db::WriteTx,
    org_id: &str,
    token: &Secret,
    actor: &str,
    now: i64,
    is_next: bool,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO scim_tokens (id, org_id, token_hash, created_at, created_by, is_next) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(org_id)
    .bind(token.hash())
    .bind(now)
    .bind(actor)
    .bind(i64::from(is_next))
    .execute(&mut ***tx)
    .await
    .map_err(|e| {
        // The partial unique indexes keep one current and one next token per org even if the
        // lock were missed.
        if CoreError::is_unique_violation(&e) {
            CoreError::Conflict("Another token was generated at the same moment; reload.".into())
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Turns SCIM off for the org: every request answers 401 afterwards.
pub async fn revoke(svc: &Services, org_id: &str, actor: &str) -> CoreResult<bool> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    tx.lock_org(org_id).await?;
    let n = sqlx::query(
        "UPDATE scim_tokens SET revoked_at = $1, retire_at = NULL WHERE org_id = $2 AND revoked_at IS NULL",
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

/// Whether the org has a current token (SCIM is on). Writes no waiting token use, so it may be
/// called from inside a write (a batched write's plan holds SQLite's write turn, which
/// [`flush_usage`] would wait for).
pub async fn is_on(svc: &Services, org_id: &str) -> CoreResult<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 0",
    )
    .bind(org_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    Ok(row.is_some())
}

/// The org's current token with its use: what is waiting to be written is written first
/// ([`flush_usage`]), so never call it while holding the write turn (use [`is_on`]).
pub async fn status(svc: &Services, org_id: &str) -> CoreResult<Option<TokenStatus>> {
    flush_usage(&svc.db).await?;
    let row = sqlx::query(
        "SELECT id, created_at, created_by, first_used_at, last_used_at, last_user_agent, \
         last_success_at FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 0",
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

/// A presented token that matched one of the org's live tokens.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token_id: String,
    /// The next token of a rotation: the request's success retires the current one
    /// ([`cut_over`]).
    pub is_next: bool,
    /// When a request with this token was last answered below 400 ([`record_success`]).
    pub last_success_at: Option<i64>,
    /// Whether the org had any SCIM group when the token was checked (read in the same
    /// statement): a read of its users then needs no query for their `groups`.
    pub org_has_groups: bool,
    /// The organisation's user rules, read in the same statement (a write needs them; reading
    /// them here saves it a round trip to the database).
    pub policy: crate::org_settings::UserPolicy,
    /// The token as held in memory (`crate::token_cache`): its use marks.
    held: Arc<crate::token_cache::Entry>,
}

impl Authenticated {
    fn from_entry(held: Arc<crate::token_cache::Entry>) -> Self {
        Self {
            token_id: held.token_id.clone(),
            is_next: held.is_next,
            last_success_at: held.last_success_at(),
            org_has_groups: held.org_has_groups,
            policy: held.policy.clone(),
            held,
        }
    }
}

/// Checks a presented bearer token for an org. Only a hash lookup (SHA-256, indexed) and a
/// constant-time comparison; a token of another org never matches because the org is part of the
/// query. A revoked token of this org is counted, so the admin can see an IdP still using it, and
/// so is a current token whose rotation deadline has passed (it is retired here, before the
/// housekeeping job gets to it). Pass the result to [`record_success`] when the request is
/// answered below 400.
///
/// A token that checked out is held in memory and answered from there until anything the check
/// reads may have changed (`crate::token_cache`: at once for a change made by this process,
/// within about 100 ms for one made by another instance or process).
pub async fn authenticate(
    svc: &Services,
    org_id: &str,
    presented: &str,
    user_agent: Option<&str>,
) -> CoreResult<Option<Authenticated>> {
    if presented.is_empty() || presented.len() > 512 {
        return Ok(None);
    }
    let hash = sha256_hex(presented);
    let now = svc.now();
    let cache = &svc.db.token_cache;
    if let Some(held) = cache.get(&svc.db.pool, org_id, &hash).await {
        // A passed rotation deadline goes through the database, which retires the token.
        if held.retire_at.is_none_or(|t| t > now) {
            note_use(svc, &held, now, user_agent);
            return Ok(Some(Authenticated::from_entry(held)));
        }
    }
    let generation = cache.generation();
    let row = sqlx::query(
        "SELECT t.id, t.token_hash, t.revoked_at, t.first_used_at, t.last_used_at, t.is_next, \
         t.retire_at, t.last_success_at, CAST(CASE WHEN EXISTS (SELECT 1 FROM groups g \
         WHERE g.org_id = $2) THEN 1 ELSE 0 END AS BIGINT) AS org_has_groups, \
         o.allowed_domains, o.username_equals_work_email \
         FROM scim_tokens t JOIN orgs o ON o.id = t.org_id \
         WHERE t.token_hash = $1 AND t.org_id = $2",
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
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let retire_at: Option<i64> = row.try_get("retire_at")?;
    let expired = revoked_at.is_none() && retire_at.is_some_and(|t| t <= now);
    if expired {
        finish(svc, org_id, Retire::GraceEnded).await?;
    }
    if revoked_at.is_some() || expired {
        note(&svc.db, &id, |p| {
            p.rejected += 1;
            p.last_rejected_at = p.last_rejected_at.max(now);
        });
        return Ok(None);
    }
    let held = Arc::new(crate::token_cache::Entry::new(
        org_id,
        &hash,
        &id,
        row.try_get::<i64, _>("is_next")? == 1,
        retire_at,
        row.try_get::<i64, _>("org_has_groups")? == 1,
        crate::org_settings::policy_from(
            &row.try_get::<String, _>("allowed_domains")?,
            row.try_get::<i64, _>("username_equals_work_email")?,
        ),
        (row.try_get("first_used_at")?, row.try_get("last_used_at")?),
        row.try_get("last_success_at")?,
    ));
    note_use(svc, &held, now, user_agent);
    cache.keep(generation, held.clone());
    Ok(Some(Authenticated::from_entry(held)))
}

/// Notes a request with the token (first use, last use and client), at most once per
/// [`LAST_USED_RESOLUTION_MS`].
fn note_use(svc: &Services, held: &crate::token_cache::Entry, now: i64, user_agent: Option<&str>) {
    let (first_used_at, last_used_at) = held.used();
    if first_used_at.is_some() && last_used_at.is_some_and(|t| now - t < LAST_USED_RESOLUTION_MS) {
        return;
    }
    held.mark_used(now);
    let ua: String = user_agent
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    note(&svc.db, &held.token_id, |p| {
        let ua = if ua.is_empty() { None } else { Some(ua) };
        p.used = Some(match p.used.take() {
            Some(u) if u.last > now => Used {
                first: u.first.min(now),
                ..u
            },
            Some(u) => Used {
                first: u.first.min(now),
                last: now,
                user_agent: ua,
            },
            None => Used {
                first: now,
                last: now,
                user_agent: ua,
            },
        });
    });
}

/// Notes that a request authenticated as `used` was answered successfully (below 400), at most
/// once per [`LAST_USED_RESOLUTION_MS`]: the "no successful request" warning must not be
/// silenced by a token whose requests all fail, and a burst must not cost one write per request.
/// Written with the token's other bookkeeping ([`Usage`]), off the request path.
pub fn record_success(svc: &Services, used: &Authenticated) {
    let now = svc.now();
    if used
        .held
        .last_success_at()
        .is_some_and(|t| now - t < LAST_USED_RESOLUTION_MS)
    {
        return;
    }
    used.held.mark_success(now);
    note(&svc.db, &used.token_id, |p| {
        p.success = Some(p.success.map_or(now, |t| t.max(now)));
    });
}

/// Requests still arriving with replaced or revoked tokens: (count, last time).
pub async fn rejected_summary(svc: &Services, org_id: &str) -> CoreResult<(i64, Option<i64>)> {
    flush_usage(&svc.db).await?;
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT CAST(SUM(rejected_count) AS BIGINT), MAX(last_rejected_at) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NOT NULL",
    )
    .bind(org_id)
    .fetch_one(&svc.db.pool)
    .await?;
    Ok((row.0.unwrap_or(0), row.1))
}

// Zero-downtime rotation (issue 13).

/// The shortest grace period a rotation may give the current token: 1 hour.
pub const GRACE_MIN_MS: i64 = 3_600_000;
/// The longest: 30 days.
pub const GRACE_MAX_MS: i64 = 30 * 86_400_000;
/// The screen's default: 7 days.
pub const GRACE_DEFAULT_MS: i64 = 7 * 86_400_000;

/// Starts a rotation: a next token that works beside the current one, returned once. The current
/// token is retired at the IdP's first successful request with the next one, by hand, or after
/// `grace_ms`. Rotating again during a rotation replaces the next token (the IdP has not made a
/// successful request with it yet, or it would be current) and restarts the grace period.
pub async fn rotate(
    svc: &Services,
    org_id: &str,
    actor: &str,
    grace_ms: i64,
) -> CoreResult<Secret> {
    rotate_as(svc, org_id, actor, grace_ms, false).await
}

/// A setup link's "Generate token" (issue 13): turns provisioning on when it is off, and starts
/// a rotation (default grace period) when a token exists — decided under the org's lock, so it
/// never replaces a working token at once. While a rotation is pending it refuses (409) instead
/// of replacing the next token an admin has just handed to the IdP.
pub async fn issue_through_setup_link(
    svc: &Services,
    org_id: &str,
    actor: &str,
) -> CoreResult<Secret> {
    rotate_as(svc, org_id, actor, GRACE_DEFAULT_MS, true).await
}

async fn rotate_as(
    svc: &Services,
    org_id: &str,
    actor: &str,
    grace_ms: i64,
    through_link: bool,
) -> CoreResult<Secret> {
    if !(GRACE_MIN_MS..=GRACE_MAX_MS).contains(&grace_ms) {
        return Err(CoreError::Invalid(
            "The grace period must be between 1 hour and 30 days.".into(),
        ));
    }
    let now = svc.now();
    let token = Secret::generate();
    let mut tx = svc.db.begin_write().await?;
    if !tx.lock_org(org_id).await? {
        return Err(CoreError::NotFound);
    }
    let current: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 0",
    )
    .bind(org_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((current_id,)) = current else {
        if through_link {
            insert_token(&mut tx, org_id, &token, actor, now, false).await?;
            events::record_in_tx(
                &mut tx,
                NewEvent::admin(
                    org_id,
                    actor,
                    "idm_integration_activate",
                    "SCIM provisioning activated",
                ),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(token);
        }
        return Err(CoreError::Conflict(
            "There is no token to rotate: generate one to turn SCIM provisioning on.".into(),
        ));
    };
    if through_link {
        let pending: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 1",
        )
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?;
        if pending.is_some() {
            return Err(CoreError::Conflict(
                "A token rotation is already in progress: the identity provider has a new token \
                 it has not used yet. Ask the admin who sent this link to finish or cancel it first."
                    .into(),
            ));
        }
    }
    let restarted = sqlx::query(
        "UPDATE scim_tokens SET revoked_at = $1, retired_by = $2, \
         retired_reason = 'replaced by a newer rotation before the IdP used it' \
         WHERE org_id = $3 AND revoked_at IS NULL AND is_next = 1",
    )
    .bind(now)
    .bind(actor)
    .bind(org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    insert_token(&mut tx, org_id, &token, actor, now, true).await?;
    sqlx::query("UPDATE scim_tokens SET retire_at = $1 WHERE id = $2")
        .bind(now + grace_ms)
        .bind(&current_id)
        .execute(&mut **tx)
        .await?;
    let message =
        format!(
        "SCIM token rotation {}: a new token works beside the current one, which is retired at \
         the IdP's first successful request with the new token or after {}",
        if restarted > 0 { "restarted" } else { "started" },
        grace_label(grace_ms)
    );
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(org_id, actor, "idm_integration_rotate", &message),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// "1 hour", "7 days", "36 hours".
pub fn grace_label(ms: i64) -> String {
    let hours = ms / 3_600_000;
    match hours {
        1 => "1 hour".into(),
        24 => "1 day".into(),
        h if h % 24 == 0 => format!("{} days", h / 24),
        h => format!("{h} hours"),
    }
}

/// Why the current token of a rotation is retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire<'a> {
    /// The IdP's first successful request with this next token.
    CutOver { next_id: &'a str },
    /// An admin's "Retire old token now", naming the token they saw.
    ByHand { old_id: &'a str, actor: &'a str },
    /// The grace period ended.
    GraceEnded,
}

/// Retires the org's current token and makes the next one current, if the rotation is still the
/// one `how` speaks of. Under the org's lock, so concurrent callers (two first requests with the
/// new token, the job and a request) retire the old token exactly once: the others find it done
/// and return false.
pub async fn finish(svc: &Services, org_id: &str, how: Retire<'_>) -> CoreResult<bool> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    if !tx.lock_org(org_id).await? {
        return Ok(false);
    }
    let rows = sqlx::query(
        "SELECT id, is_next, retire_at FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL",
    )
    .bind(org_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut current: Option<(String, Option<i64>)> = None;
    let mut next: Option<String> = None;
    for r in rows {
        let id: String = r.try_get("id")?;
        let is_next: i64 = r.try_get("is_next")?;
        if is_next == 1 {
            next = Some(id);
        } else {
            current = Some((id, r.try_get("retire_at")?));
        }
    }
    let (Some((current_id, retire_at)), Some(next_id)) = (current, next) else {
        return Ok(false);
    };
    let (actor, reason, message) = match how {
        Retire::CutOver { next_id: n } if n == next_id => (
            "system",
            "the IdP's first successful request with the new token",
            "Previous SCIM token retired: the IdP made its first successful request with the new token",
        ),
        Retire::ByHand { old_id, actor } if old_id == current_id => (
            actor,
            "retired by hand",
            "Previous SCIM token retired by hand; only the new token works now",
        ),
        Retire::GraceEnded if retire_at.is_some_and(|t| t <= now) => (
            "system",
            "the grace period ended",
            "Previous SCIM token retired: its grace period ended; only the new token works now",
        ),
        _ => return Ok(false),
    };
    let retired = sqlx::query(
        "UPDATE scim_tokens SET revoked_at = $1, retire_at = NULL, retired_by = $2, retired_reason = $3 \
         WHERE id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(actor)
    .bind(reason)
    .bind(&current_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let promoted = sqlx::query(
        "UPDATE scim_tokens SET is_next = 0 WHERE id = $1 AND revoked_at IS NULL AND is_next = 1",
    )
    .bind(&next_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if retired != 1 || promoted != 1 {
        // Only reachable if the lock were missed; nothing is written.
        return Err(CoreError::Conflict(
            "The SCIM tokens changed at the same moment; reload.".into(),
        ));
    }
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(org_id, actor, "idm_integration_retire", message),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The IdP's first successful request with the next token: retires the current one.
pub async fn cut_over(svc: &Services, org_id: &str, next_id: &str) -> CoreResult<bool> {
    finish(svc, org_id, Retire::CutOver { next_id }).await
}

/// "Retire old token now": `old_id` must be the org's current token during a rotation — another
/// org's token id, or a token that is no longer current, is not found.
pub async fn retire_old(svc: &Services, org_id: &str, old_id: &str, actor: &str) -> CoreResult<()> {
    if finish(svc, org_id, Retire::ByHand { old_id, actor }).await? {
        return Ok(());
    }
    let current = status(svc, org_id).await?;
    match current {
        Some(t) if t.id == old_id => Err(CoreError::Conflict(
            "No rotation is in progress: this token is the only one your IdP can use.".into(),
        )),
        _ => Err(CoreError::NotFound),
    }
}

/// The housekeeping job: retires every current token whose grace period has ended. Returns how
/// many were retired.
pub async fn retire_expired(svc: &Services) -> CoreResult<usize> {
    let orgs: Vec<(String,)> = sqlx::query_as(
        "SELECT org_id FROM scim_tokens WHERE retire_at IS NOT NULL AND revoked_at IS NULL AND retire_at <= $1",
    )
    .bind(svc.now())
    .fetch_all(&svc.db.pool)
    .await?;
    let mut n = 0;
    for (org_id,) in orgs {
        if finish(svc, &org_id, Retire::GraceEnded).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// A rotation in progress: the next token and the current token's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub next: TokenStatus,
    pub retire_at: i64,
}

pub async fn rotation(svc: &Services, org_id: &str) -> CoreResult<Option<Rotation>> {
    flush_usage(&svc.db).await?;
    let row = sqlx::query(
        "SELECT n.id, n.created_at, n.created_by, n.first_used_at, n.last_used_at, n.last_user_agent, \
         n.last_success_at, c.retire_at FROM scim_tokens n JOIN scim_tokens c ON c.org_id = n.org_id \
         AND c.revoked_at IS NULL AND c.is_next = 0 \
         WHERE n.org_id = $1 AND n.revoked_at IS NULL AND n.is_next = 1",
    )
    .bind(org_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    row.map(|r| {
        Ok(Rotation {
            next: TokenStatus {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                first_used_at: r.try_get("first_used_at")?,
                last_used_at: r.try_get("last_used_at")?,
                last_user_agent: r.try_get("last_user_agent")?,
                last_success_at: r.try_get("last_success_at")?,
            },
            // Set whenever a next token exists; "now" would only show if the row were edited by hand.
            retire_at: r.try_get::<Option<i64>, _>("retire_at")?.unwrap_or(0),
        })
    })
    .transpose()
}

/// The token retired by the last rotation of the current token, as the screen reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredToken {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_user_agent: Option<String>,
    pub retired_at: i64,
    /// An admin's email, or `system`.
    pub retired_by: String,
    pub reason: String,
}

/// The token the current one replaced through a rotation (none after "Generate new token").
pub async fn last_retired(svc: &Services, org_id: &str) -> CoreResult<Option<RetiredToken>> {
    let Some(current) = status(svc, org_id).await? else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT id, created_at, last_used_at, last_user_agent, revoked_at, retired_by, retired_reason \
         FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NOT NULL AND retired_reason IS NOT NULL \
         AND revoked_at >= $2 AND created_at <= $2 AND id <> $3 AND is_next = 0 \
         ORDER BY revoked_at DESC, id DESC LIMIT 1",
    )
    .bind(org_id)
    .bind(current.created_at)
    .bind(&current.id)
    .fetch_optional(&svc.db.pool)
    .await?;
    row.map(|r| {
        Ok(RetiredToken {
            id: r.try_get("id")?,
            created_at: r.try_get("created_at")?,
            last_used_at: r.try_get("last_used_at")?,
            last_user_agent: r.try_get("last_user_agent")?,
            retired_at: r.try_get("revoked_at")?,
            retired_by: r.try_get("retired_by")?,
            reason: r.try_get("retired_reason")?,
        })
    })
    .transpose()
}

// Token bookkeeping off the request path (issue 11).
//
// A request used to write its token's row itself (first / last use, client, last success,
// rejections) straight through the pool: on SQLite behind the one writer, so the first request of
// each of 2,000 tokens waited for the write turn (a p99 near a second). What a request decides to
// note is now kept in memory, coalesced per token, and written by one task in one transaction per
// tick ([`Usage::flush_interval`]); what reads it ([`status`], [`rotation`], [`last_retired`],
// [`rejected_summary`]) writes what is waiting first, and the server writes it when it stops.
// Only bookkeeping waits: whether a token is accepted is still read from its row on every request.

/// How long noted use may wait to be written when nothing reads it: the screens of another
/// instance see it this much later.
pub const USAGE_FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Token rows per script (one round trip to SQLite's connection thread).
const USAGE_CHUNK: usize = 100;

/// A token's use, waiting to be written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Pending {
    used: Option<Used>,
    success: Option<i64>,
    rejected: i64,
    last_rejected_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Used {
    first: i64,
    last: i64,
    /// Of the request at `last`.
    user_agent: Option<String>,
}

impl Pending {
    /// `self` and then `later` (what was noted after `self` was taken to be written).
    fn merge(&mut self, later: Pending) {
        self.used = match (self.used.take(), later.used) {
            (Some(a), Some(b)) => Some(if b.last >= a.last {
                Used {
                    first: a.first.min(b.first),
                    ..b
                }
            } else {
                Used {
                    first: a.first.min(b.first),
                    ..a
                }
            }),
            (a, b) => a.or(b),
        };
        self.success = self.success.max(later.success);
        self.rejected += later.rejected;
        self.last_rejected_at = self.last_rejected_at.max(later.last_rejected_at);
    }
}

/// The process's noted token use (one per [`Db`]) and the task that writes it.
#[derive(Debug)]
pub struct Usage {
    pending: std::sync::Mutex<HashMap<String, Pending>>,
    /// One write at a time; a reader that flushes waits for a write in progress, so that it sees
    /// what was taken before it came.
    writing: Arc<tokio::sync::Mutex<()>>,
    wake: tokio::sync::Notify,
    task: std::sync::OnceLock<()>,
    interval_ms: AtomicU64,
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            pending: Default::default(),
            writing: Default::default(),
            wake: Default::default(),
            task: Default::default(),
            interval_ms: AtomicU64::new(USAGE_FLUSH_INTERVAL.as_millis() as u64),
        }
    }
}

impl Usage {
    /// How long noted use may wait before the background task writes it.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.load(Ordering::Relaxed))
    }

    /// Changes [`Self::flush_interval`] (from the next tick on).
    pub fn set_flush_interval(&self, every: Duration) {
        self.interval_ms.store(
            u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1),
            Ordering::Relaxed,
        );
    }

    /// Tokens with use waiting to be written.
    pub fn waiting(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Db {
    /// SCIM token bookkeeping waiting to be written ([`Usage`]).
    pub fn token_usage(&self) -> &Usage {
        &self.token_usage
    }
}

/// Notes a token's use; the background task (started here the first time) writes it.
fn note(db: &Db, token_id: &str, f: impl FnOnce(&mut Pending)) {
    let usage = &db.token_usage;
    {
        let mut pending = usage.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.get_mut(token_id) {
            Some(p) => f(p),
            None => {
                let mut p = Pending::default();
                f(&mut p);
                pending.insert(token_id.to_string(), p);
            }
        }
    }
    usage.task.get_or_init(|| {
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                db.token_usage.wake.notified().await;
                tokio::time::sleep(db.token_usage.flush_interval()).await;
                if let Err(e) = flush_usage(&db).await {
                    tracing::warn!(error = %e, "could not write SCIM token use (retried at the next tick)");
                }
            }
        });
    });
    usage.wake.notify_one();
}

/// Writes the noted token use now, in one transaction. Cheap when nothing waits. On failure what
/// was taken is put back, to be written with the next flush. On SQLite it takes the write turn:
/// never call it (or a read that flushes) while holding it.
pub async fn flush_usage(db: &Db) -> CoreResult<()> {
    let usage = db.token_usage.clone();
    if let Ok(_idle) = usage.writing.try_lock() {
        if usage.waiting() == 0 {
            return Ok(());
        }
    }
    let db = db.clone();
    // In a task of its own: a caller that goes away must not drop what it took.
    tokio::spawn(async move {
        let _writing = usage.writing.clone().lock_owned().await;
        let taken =
            std::mem::take(&mut *usage.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if taken.is_empty() {
            return Ok(());
        }
        match write_usage(&db, &taken).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut pending = usage.pending.lock().unwrap_or_else(PoisonError::into_inner);
                for (id, mut p) in taken {
                    if let Some(later) = pending.remove(&id) {
                        p.merge(later);
                    }
                    pending.insert(id, p);
                }
                Err(e.into())
            }
        }
    })
    .await
    .map_err(|e| CoreError::Db(sqlx::Error::Protocol(format!("token use writer: {e}"))))?
}

/// One transaction; token rows in id order (two instances writing the same rows on PostgreSQL
/// take their locks in the same order). Every update only moves a time forward, so a late write
/// from another instance cannot put one back.
async fn write_usage(db: &Db, taken: &HashMap<String, Pending>) -> Result<(), sqlx::Error> {
    let mut rows: Vec<(&String, &Pending)> = taken.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut tx = db.begin_write_no_credentials().await?;
    for chunk in rows.chunks(USAGE_CHUNK) {
        let mut script = Script::new();
        for (id, p) in chunk {
            if let Some(u) = &p.used {
                let mut b = SqlBuilder::new("");
                let last = b.bind(u.last);
                let ua = b.bind(u.user_agent.clone());
                let first = b.bind(u.first);
                let id = b.bind(id.as_str());
                b.push(&format!(
                    "UPDATE scim_tokens SET last_used_at = {last}, last_user_agent = {ua}, \
                     first_used_at = COALESCE(first_used_at, {first}) \
                     WHERE id = {id} AND (last_used_at IS NULL OR last_used_at < {last})"
                ));
                script.push(b);
            }
            if let Some(at) = p.success {
                let mut b = SqlBuilder::new("");
                let at = b.bind(at);
                let id = b.bind(id.as_str());
                b.push(&format!(
                    "UPDATE scim_tokens SET last_success_at = {at} \
                     WHERE id = {id} AND (last_success_at IS NULL OR last_success_at < {at})"
                ));
                script.push(b);
            }
            if p.rejected > 0 {
                let mut b = SqlBuilder::new("");
                let n = b.bind(p.rejected);
                let at = b.bind(p.last_rejected_at);
                let id = b.bind(id.as_str());
                b.push(&format!(
                    "UPDATE scim_tokens SET rejected_count = rejected_count + {n}, \
                     last_rejected_at = CASE WHEN last_rejected_at IS NULL OR last_rejected_at < {at} \
                     THEN {at} ELSE last_rejected_at END WHERE id = {id}"
                ));
                script.push(b);
            }
        }
        if !script.is_empty() {
            script.run_once().run(&mut tx).await?;
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod usage_tests {
    use super::*;

    fn used(first: i64, last: i64, ua: &str) -> Option<Used> {
        Some(Used {
            first,
            last,
            user_agent: Some(ua.into()),
        })
    }

    #[test]
    fn merging_keeps_the_earliest_first_use_the_latest_use_and_sums_rejections() {
        let mut a = Pending {
            used: used(10, 20, "a"),
            success: Some(15),
            rejected: 2,
            last_rejected_at: 18,
        };
        a.merge(Pending {
            used: used(5, 30, "b"),
            success: None,
            rejected: 3,
            last_rejected_at: 12,
        });
        assert_eq!(
            a,
            Pending {
                used: used(5, 30, "b"),
                success: Some(15),
                rejected: 5,
                last_rejected_at: 18,
            }
        );
        // An older use does not replace the newer one's time or client.
        a.merge(Pending {
            used: used(1, 25, "c"),
            success: Some(40),
            ..Default::default()
        });
        assert_eq!(a.used, used(1, 30, "b"));
        assert_eq!(a.success, Some(40));
    }
}
