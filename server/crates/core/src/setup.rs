//! First run: a one-time setup link that creates the first organisation and its admin.

use crate::admins::{self, Admin, NewAdmin, Org};
use crate::error::{CoreError, CoreResult, Field};
use crate::secret::{digest_eq, Secret};
use crate::Services;

/// On an empty database, issues a new setup token (and retires earlier unused ones) and returns it
/// so the caller can print the URL. Returns None once any organisation exists.
pub async fn issue_token_if_empty(svc: &Services) -> CoreResult<Option<Secret>> {
    if admins::org_count(&svc.db).await? > 0 {
        return Ok(None);
    }
    let now = svc.now();
    let token = Secret::generate();
    let mut tx = svc.db.begin_write().await?;
    sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token.hash())
    .bind(now)
    .bind(now + svc.settings.setup_token_ttl_ms)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Whether a token would be accepted right now (for rendering the setup page).
pub async fn token_is_valid(svc: &Services, token: &str) -> CoreResult<bool> {
    if token.is_empty() || token.len() > 100 {
        return Ok(false);
    }
    let hash = Secret::from_string(token.to_string()).hash();
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT token_hash FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(&hash)
    .bind(svc.now())
    .fetch_optional(&svc.db.pool)
    .await?;
    Ok(row.is_some_and(|(h,)| digest_eq(&h, &hash)))
}

/// Consumes the token and creates the organisation and admin, all in one transaction: a reused or
/// wrong token, or any invalid field, changes nothing.
pub async fn complete(
    svc: &Services,
    token: &str,
    input: NewAdmin<'_>,
) -> CoreResult<(Org, Admin)> {
    if token.is_empty() || token.len() > 100 {
        return Err(CoreError::SetupTokenInvalid);
    }
    // The same checks as `admins::validate_new_admin`, each naming its field on the setup form.
    let org_name =
        admins::validate_org_name(input.org_name).map_err(|e| e.in_field(Field::OrgName))?;
    let email = admins::validate_email(input.email).map_err(|e| e.in_field(Field::Email))?;
    crate::password::validate_new_password(input.password)
        .map_err(|e| e.in_field(Field::Password))?;
    let hash = svc.argon2.hash(input.password.to_string()).await?;
    let now = svc.now();
    let token_hash = Secret::from_string(token.to_string()).hash();
    let mut tx = svc.db.begin_write().await?;
    let consumed = sqlx::query(
        "UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(now)
    .bind(&token_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if consumed.rows_affected() != 1 {
        return Err(CoreError::SetupTokenInvalid);
    }
    // Setup is for the very first organisation only; later ones come from `create-admin`.
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orgs")
        .fetch_one(&mut **tx)
        .await?;
    if count > 0 {
        return Err(CoreError::SetupTokenInvalid);
    }
    let (org, admin, _) =
        admins::create_admin_in_tx(&mut tx, &org_name, &email, &hash, now).await?;
    tx.commit().await?;
    Ok((org, admin))
}
