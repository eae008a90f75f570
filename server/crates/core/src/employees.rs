//! Who an employee is, for both ways of signing in (magic links and SAML SSO): the active,
//! not-deleted user behind a session, and whether the organisation lets them use a link at all.
//! Both sign-in modules depend on this one, never on each other.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::CoreResult;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub user_id: String,
    pub org_id: String,
    pub org_name: String,
    pub user_name: String,
    pub name: String,
}

/// The employee behind a session, only while active and not deleted.
pub async fn employee(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_id: &str,
) -> CoreResult<Option<Employee>> {
    let row = sqlx::query(
        "SELECT u.id, u.org_id, o.name AS org_name, u.user_name, u.given_name, u.family_name FROM users u \
         JOIN orgs o ON o.id = u.org_id WHERE u.id = $1 AND u.org_id = $2 AND u.active = 1 AND u.deleted_at IS NULL",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let given: Option<String> = r.try_get("given_name")?;
    let family: Option<String> = r.try_get("family_name")?;
    let user_name: String = r.try_get("user_name")?;
    let name = [given, family]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(Employee {
        user_id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        name: if name.is_empty() {
            user_name.clone()
        } else {
            name
        },
        user_name,
    }))
}

/// Whether employees of this org must use SSO (magic links off).
pub async fn requires_sso(conn: &mut sqlx::AnyConnection, org_id: &str) -> CoreResult<bool> {
    let row = sqlx::query("SELECT require_sso FROM sso_configs WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("require_sso")? != 0,
        None => false,
    })
}
