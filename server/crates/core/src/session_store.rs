//! tower-sessions store on our own `sessions` table, for SQLite and PostgreSQL alike, so several
//! server instances share sessions and sign-out deletes the session server-side.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::Db;

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn expires_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The columns copied out of the session's data: whose admin session it is, and how and from
/// where it signed in (`crate::session`'s keys).
struct Owner {
    admin_id: Option<String>,
    client: Option<String>,
    method: Option<String>,
}

fn owner(record: &Record) -> Owner {
    let admin_id = record
        .data
        .get(crate::session::ADMIN_ID_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let meta = admin_id.as_ref().and_then(|_| {
        record
            .data
            .get(crate::session::ADMIN_META_KEY)
            .and_then(|v| {
                serde_json::from_value::<crate::session::AdminSessionMeta>(v.clone()).ok()
            })
    });
    Owner {
        admin_id,
        client: meta.as_ref().map(|m| m.client.clone()),
        method: meta.map(|m| m.method.as_str().to_string()),
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id that happens to exist already gets another one.
        loop {
            let data = serde_json::to_string(&record.data).map_err(backend)?;
            let owner = owner(record);
            let now = now_ms();
            let inserted = sqlx::query(
                "INSERT INTO sessions (id, data, expires_at, admin_id, client, method, created_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(data)
            .bind(expires_ms(record))
            .bind(owner.admin_id)
            .bind(owner.client)
            .bind(owner.method)
            .bind(now)
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates a session that exists. A row that is gone was ended elsewhere ("Sign out
    /// everywhere", a password reset, its expiry) while this request ran: it stays gone, so a
    /// request in flight cannot bring an ended session back.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(backend)?;
        let owner = owner(record);
        sqlx::query(
            "UPDATE sessions SET data = $2, expires_at = $3, admin_id = $4, client = $5, method = $6 \
             WHERE id = $1",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(expires_ms(record))
        .bind(owner.admin_id)
        .bind(owner.client)
        .bind(owner.method)
        .execute(&self.db.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now_ms())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data = serde_json::from_str(&data).map_err(backend)?;
        let expiry_date = tower_sessions::cookie::time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(expires_at) * 1_000_000,
        )
        .map_err(backend)?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
