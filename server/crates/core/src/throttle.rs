//! Rate limits for sign-in and other unauthenticated actions, stored in the database so that every
//! server instance sees the same counts.
//!
//! A limit is *taken* in one step: the counts of every key are read and, when all are under their
//! maximum, one hit is recorded against each key, in one transaction that holds each key's lock
//! (SQLite: the single writer; PostgreSQL: a transaction-scoped advisory lock per key). So a
//! hundred concurrent requests can never all see "four so far" — exactly `max` of them go ahead.
//! Refused attempts record nothing, so a flood cannot extend its own lock-out; each hit carries
//! the moment it stops counting, so every key keeps its own window when old hits are pruned.

use crate::db::Backend;
use crate::error::CoreResult;
use crate::ids::new_id;
use crate::Db;

/// Admin password sign-in. An account is limited per client (`max_per_account_client`), each
/// client overall (`max_per_client`), and the account from everywhere by a slower limit that a
/// browser which signed in to the account before (a trusted device) does not share: an attacker
/// elsewhere cannot keep the real admin out.
#[derive(Clone, Copy, Debug)]
pub struct ThrottlePolicy {
    pub window_ms: i64,
    pub max_per_account_client: i64,
    pub max_per_client: i64,
    pub account_window_ms: i64,
    pub max_per_account: i64,
    /// Attempts from one trusted device for its account.
    pub max_per_device: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_ms: 15 * 60 * 1000,
            max_per_account_client: 5,
            max_per_client: 20,
            account_window_ms: 60 * 60 * 1000,
            max_per_account: 20,
            max_per_device: 10,
        }
    }
}

/// One limit: at most `max` hits of `key` within `window_ms`.
#[derive(Clone, Debug)]
pub struct Limit {
    pub key: String,
    pub max: i64,
    pub window_ms: i64,
}

impl Limit {
    pub fn new(key: impl Into<String>, max: i64, window_ms: i64) -> Self {
        Self {
            key: key.into(),
            max,
            window_ms,
        }
    }
}

/// Checks every limit and, when all allow it, records one hit against each — atomically.
/// Returns None when the attempt may go ahead, or the seconds until the tightest limit frees a slot
/// (nothing is recorded then).
pub async fn take(db: &Db, limits: &[Limit], now: i64) -> CoreResult<Option<i64>> {
    Ok(take_hits(db, limits, now).await?.err())
}

/// `take`, returning the ids of the hits it recorded (for `give_back`), or the seconds to wait.
pub async fn take_hits(
    db: &Db,
    limits: &[Limit],
    now: i64,
) -> CoreResult<Result<Vec<String>, i64>> {
    let mut tx = db.begin_write_no_credentials().await?;
    if db.backend == Backend::Postgres {
        // Lock the keys in one order so two requests with overlapping keys cannot deadlock.
        let mut keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            sqlx::query("SELECT 1 AS one FROM pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
    }
    let mut wait: Option<i64> = None;
    for l in limits {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM auth_failures WHERE key = $1 AND at > $2",
        )
        .bind(&l.key)
        .bind(now - l.window_ms)
        .fetch_one(&mut **tx)
        .await?;
        if count >= l.max {
            let oldest = oldest.unwrap_or(now);
            let secs = ((oldest + l.window_ms - now + 999) / 1000).max(1);
            wait = Some(wait.map_or(secs, |w| w.max(secs)));
        }
    }
    if let Some(wait) = wait {
        // Ended explicitly, so the advisory locks are released now rather than whenever the
        // connection's pending rollback is flushed.
        tx.rollback().await?;
        return Ok(Err(wait));
    }
    let mut ids = Vec::with_capacity(limits.len());
    for l in limits {
        let id = new_id();
        sqlx::query("INSERT INTO auth_failures (id, key, at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(&l.key)
            .bind(now)
            .bind(now + l.window_ms)
            .execute(&mut **tx)
            .await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(Ok(ids))
}

/// Gives back the hits one `take_hits` recorded (the attempt could not be carried out, e.g. the
/// server was too busy to check the password, so it must not count against the user).
pub async fn give_back(db: &Db, hits: &[String]) -> CoreResult<()> {
    for id in hits {
        sqlx::query("DELETE FROM auth_failures WHERE id = $1")
            .bind(id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// Forgets every hit of a key (after a successful sign-in).
pub async fn clear(db: &Db, key: &str) -> CoreResult<()> {
    sqlx::query("DELETE FROM auth_failures WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Housekeeping: forget hits whose own window has passed.
pub async fn prune(db: &Db, now: i64) -> CoreResult<u64> {
    let r = sqlx::query("DELETE FROM auth_failures WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}
