//! Sign-in throttling, per account and per client address, stored in the database so that every
//! server instance sees the same counts.

use crate::error::CoreResult;
use crate::ids::new_id;
use crate::Db;

#[derive(Clone, Copy, Debug)]
pub struct ThrottlePolicy {
    pub window_ms: i64,
    pub max_per_account: i64,
    pub max_per_client: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_ms: 15 * 60 * 1000,
            max_per_account: 5,
            max_per_client: 20,
        }
    }
}

/// Returns the number of seconds until the key may try again, or None when it may try now.
pub async fn retry_after(
    db: &Db,
    key: &str,
    max: i64,
    window_ms: i64,
    now: i64,
) -> CoreResult<Option<i64>> {
    let since = now - window_ms;
    let row: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(at) FROM auth_failures WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(&db.pool)
            .await?;
    if row.0 >= max {
        let oldest = row.1.unwrap_or(now);
        let secs = ((oldest + window_ms - now) / 1000).max(1);
        return Ok(Some(secs));
    }
    Ok(None)
}

pub async fn record_failure(db: &Db, key: &str, now: i64) -> CoreResult<()> {
    sqlx::query("INSERT INTO auth_failures (id, key, at) VALUES ($1, $2, $3)")
        .bind(new_id())
        .bind(key)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn clear(db: &Db, key: &str) -> CoreResult<()> {
    sqlx::query("DELETE FROM auth_failures WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Housekeeping: forget failures older than the window.
pub async fn prune(db: &Db, window_ms: i64, now: i64) -> CoreResult<u64> {
    let r = sqlx::query("DELETE FROM auth_failures WHERE at <= $1")
        .bind(now - window_ms)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}
