//! The activity log: one row per provisioning operation, sign-in and configuration change.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::CoreResult;
use crate::ids::new_id;
use crate::Db;

static SEQ: AtomicI64 = AtomicI64::new(0);

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub org_id: String,
    pub name: String,
    pub success: bool,
    pub user_id: Option<String>,
    /// Who acted: an admin's email, `scim:<user-agent>`, `system`, or the employee.
    pub actor: String,
    pub scim_type: Option<String>,
    pub message: String,
    pub detail: Option<String>,
}

impl NewEvent {
    pub fn admin(org_id: &str, admin_email: &str, name: &str, message: &str) -> Self {
        Self {
            org_id: org_id.to_string(),
            name: name.to_string(),
            success: true,
            user_id: None,
            actor: admin_email.to_string(),
            scim_type: None,
            message: message.to_string(),
            detail: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub at: i64,
    pub name: String,
    pub success: bool,
    pub user_id: Option<String>,
    pub actor: String,
    pub scim_type: Option<String>,
    pub message: String,
}

const INSERT: &str = "INSERT INTO events (id, org_id, at, seq, name, success, user_id, actor, scim_type, message, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

fn bind_event<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    e: NewEvent,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(new_id())
        .bind(e.org_id)
        .bind(now)
        .bind(SEQ.fetch_add(1, Ordering::Relaxed))
        .bind(e.name)
        .bind(i64::from(e.success))
        .bind(e.user_id)
        .bind(truncate(e.actor, 300))
        .bind(e.scim_type)
        .bind(truncate(e.message, 2000))
        .bind(e.detail.map(|d| truncate(d, 8000)))
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// The INSERT of one event, to run in a [`crate::sql::Script`] with the write it records.
pub fn insert_statement(e: NewEvent, now: i64) -> crate::sql::SqlBuilder {
    let mut b = crate::sql::SqlBuilder::new(
        "INSERT INTO events (id, org_id, at, seq, name, success, user_id, actor, scim_type, message, detail) VALUES (",
    );
    b.push_binds(
        [
            crate::sql::SqlValue::from(new_id()),
            e.org_id.into(),
            now.into(),
            SEQ.fetch_add(1, Ordering::Relaxed).into(),
            e.name.into(),
            e.success.into(),
            e.user_id.into(),
            truncate(e.actor, 300).into(),
            e.scim_type.into(),
            truncate(e.message, 2000).into(),
            e.detail.map(|d| truncate(d, 8000)).into(),
        ],
        ", ",
    )
    .push(")");
    b
}

pub async fn record(db: &Db, e: NewEvent, now: i64) -> CoreResult<()> {
    bind_event(sqlx::query(INSERT), e, now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn record_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: NewEvent,
    now: i64,
) -> CoreResult<()> {
    bind_event(sqlx::query(INSERT), e, now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Newest first.
pub async fn recent(db: &Db, org_id: &str, limit: i64) -> CoreResult<Vec<Event>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT id, at, name, success, user_id, actor, scim_type, message FROM events \
         WHERE org_id = $1 ORDER BY at DESC, seq DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Event {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                name: r.try_get("name")?,
                success: r.try_get::<i64, _>("success")? != 0,
                user_id: r.try_get("user_id")?,
                actor: r.try_get("actor")?,
                scim_type: r.try_get("scim_type")?,
                message: r.try_get("message")?,
            })
        })
        .collect()
}
