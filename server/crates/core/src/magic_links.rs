//! Employee sign-in by magic link: a 256-bit single-use token, stored as a hash, bound to the
//! user, expiring after a few minutes, redeemed only by an explicit POST.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::secret::{sha256_hex, Secret};
use crate::Services;

/// The one answer `/login` gives, whatever happened.
pub const GENERIC_ANSWER: &str =
    "If that address belongs to an active account, a link is on its way. Check your inbox.";

pub const MAX_PER_ADDRESS_PER_HOUR: i64 = 5;
pub const MAX_PER_CLIENT_PER_HOUR: i64 = 20;
const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub user_id: String,
    pub org_id: String,
    pub org_name: String,
    pub user_name: String,
    pub name: String,
}

fn event(
    org_id: &str,
    user_id: &str,
    actor: &str,
    name: &str,
    success: bool,
    message: String,
) -> NewEvent {
    NewEvent {
        org_id: org_id.into(),
        name: name.into(),
        success,
        user_id: Some(user_id.into()),
        actor: actor.into(),
        scim_type: None,
        message,
        detail: None,
    }
}

/// Handles a link request. Ok(()) means "show the generic answer" — also when the address is
/// unknown, deactivated or throttled. Only a malformed address is an error.
pub async fn request(svc: &Services, email: &str, client: &str) -> CoreResult<()> {
    let email = crate::admins::validate_email(email)?;
    let now = svc.now();
    let addr_key = format!("ml-addr:{}", email.to_lowercase());
    let client_key = format!("ml-ip:{client}");
    let throttled =
        crate::throttle::retry_after(&svc.db, &addr_key, MAX_PER_ADDRESS_PER_HOUR, HOUR, now)
            .await?
            .is_some()
            || crate::throttle::retry_after(
                &svc.db,
                &client_key,
                MAX_PER_CLIENT_PER_HOUR,
                HOUR,
                now,
            )
            .await?
            .is_some();
    crate::throttle::record_failure(&svc.db, &addr_key, now).await?;
    crate::throttle::record_failure(&svc.db, &client_key, now).await?;
    if throttled {
        tracing::info!(client = %client, "magic link request throttled");
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT u.id, u.org_id, o.name AS org_name, u.given_name, u.user_name, s.require_sso FROM users u \
         JOIN orgs o ON o.id = u.org_id LEFT JOIN sso_configs s ON s.org_id = u.org_id \
         WHERE (lower(u.user_name) = lower($1) OR lower(u.email) = lower($1)) \
         AND u.active = 1 AND u.deleted_at IS NULL ORDER BY o.name",
    )
    .bind(&email)
    .fetch_all(&svc.db.pool)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    // Mail goes to the address the account holds, not to the spelling that was typed.
    let recipient: String = rows[0].try_get("user_name")?;
    let ttl = svc.settings.magic_link_ttl_ms;
    let mut tx = svc.db.begin_write().await?;
    let mut links = Vec::new();
    let mut first_name = None;
    for r in &rows {
        let user_id: String = r.try_get("id")?;
        let org_id: String = r.try_get("org_id")?;
        let org_name: String = r.try_get("org_name")?;
        first_name = first_name.or(r.try_get::<Option<String>, _>("given_name")?);
        // An org that requires SSO gets no magic link: the mail points at its SSO sign-in.
        if r.try_get::<Option<i64>, _>("require_sso")?.unwrap_or(0) != 0 {
            events::record_in_tx(
                &mut tx,
                event(
                    &org_id,
                    &user_id,
                    &email,
                    "magic_link_requested",
                    false,
                    "Requested a sign-in link; the organisation requires SSO, so the email points to SSO instead".into(),
                ),
                now,
            )
            .await?;
            links.push((
                org_name,
                format!("{}/saml/{}/login", svc.settings.public_url, org_id),
                true,
            ));
            continue;
        }
        let token = Secret::generate();
        sqlx::query("INSERT INTO magic_links (token_hash, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token.hash())
            .bind(&user_id)
            .bind(&org_id)
            .bind(now)
            .bind(now + ttl)
            .execute(&mut **tx)
            .await?;
        events::record_in_tx(
            &mut tx,
            event(
                &org_id,
                &user_id,
                &email,
                "magic_link_requested",
                true,
                "Requested a sign-in link".into(),
            ),
            now,
        )
        .await?;
        links.push((
            org_name,
            format!(
                "{}/login/link?token={}",
                svc.settings.public_url,
                token.expose()
            ),
            false,
        ));
    }
    let minutes = ttl / 60_000;
    let greeting = first_name
        .map(|n| format!("Hello {n},"))
        .unwrap_or_else(|| "Hello,".into());
    let subject = if links.len() == 1 {
        format!("Your sign-in link for {}", links[0].0)
    } else {
        "Your sign-in links".to_string()
    };
    let mut text = format!("{greeting}\n\nUse this link to sign in. It works once and expires in {minutes} minutes.\n\n");
    let mut html = format!("<p>{}</p><p>Use this link to sign in. It works once and expires in {minutes} minutes.</p><ul>", html_escape(&greeting));
    for (org, link, sso) in &links {
        let how = if *sso {
            " (your organisation signs in with single sign-on)"
        } else {
            ""
        };
        text.push_str(&format!("{org}{how}:\n{link}\n\n"));
        html.push_str(&format!(
            "<li><strong>{}</strong>{}: <a href=\"{}\">Sign in to {}</a></li>",
            html_escape(org),
            html_escape(how),
            html_escape(link),
            html_escape(org)
        ));
    }
    text.push_str(
        "If you did not ask for this, ignore this email: nobody can sign in without the link.\n",
    );
    html.push_str("</ul><p>If you did not ask for this, ignore this email: nobody can sign in without the link.</p>");
    crate::mail::queue(&mut tx, &recipient, &subject, &text, &html, now).await?;
    tx.commit().await?;
    Ok(())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn plausible(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 100
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the landing page should offer the Sign in button (does not consume the link).
pub async fn is_valid(svc: &Services, token: &str) -> CoreResult<bool> {
    if !plausible(token) {
        return Ok(false);
    }
    let row = sqlx::query("SELECT 1 AS one FROM magic_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
        .bind(sha256_hex(token))
        .bind(svc.now())
        .fetch_optional(&svc.db.pool)
        .await?;
    Ok(row.is_some())
}

/// Consumes the link and returns who signs in. Used, expired, unknown or tampered links, and links
/// of users who are no longer active, all fail the same way.
pub async fn redeem(svc: &Services, token: &str) -> CoreResult<Employee> {
    if !plausible(token) {
        return Err(CoreError::LinkInvalid);
    }
    let now = svc.now();
    let hash = sha256_hex(token);
    let mut tx = svc.db.begin_write().await?;
    let row = sqlx::query(
        "SELECT user_id, org_id, expires_at, used_at FROM magic_links WHERE token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Err(CoreError::LinkInvalid);
    };
    let user_id: String = row.try_get("user_id")?;
    let org_id: String = row.try_get("org_id")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let used_at: Option<i64> = row.try_get("used_at")?;
    let refuse = |why: &str| {
        event(
            &org_id,
            &user_id,
            "employee",
            "employee_sign_in",
            false,
            format!("Magic-link sign-in refused: {why}"),
        )
    };
    if used_at.is_some() || expires_at <= now {
        let why = if used_at.is_some() {
            "the link was already used"
        } else {
            "the link had expired"
        };
        events::record_in_tx(&mut tx, refuse(why), now).await?;
        tx.commit().await?;
        return Err(CoreError::LinkInvalid);
    }
    sqlx::query("UPDATE magic_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    if crate::sso::requires_sso(&mut tx, &org_id).await? {
        events::record_in_tx(
            &mut tx,
            refuse("the organisation now requires single sign-on"),
            now,
        )
        .await?;
        tx.commit().await?;
        return Err(CoreError::LinkInvalid);
    }
    let Some(emp) = employee(&mut tx, &org_id, &user_id).await? else {
        events::record_in_tx(
            &mut tx,
            refuse("the account is deactivated or deleted"),
            now,
        )
        .await?;
        tx.commit().await?;
        return Err(CoreError::LinkInvalid);
    };
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&user_id)
        .execute(&mut **tx)
        .await?;
    events::record_in_tx(
        &mut tx,
        event(
            &org_id,
            &user_id,
            &emp.user_name,
            "employee_sign_in",
            true,
            "Signed in with a magic link".into(),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(emp)
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
