//! Employee sign-in by magic link: a 256-bit single-use token, stored as a hash, bound to the
//! user, expiring after a few minutes, redeemed only by an explicit POST.

use sqlx::Row;

pub use crate::employees::Employee;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::secret::{sha256_hex, Secret};
use crate::throttle::Limit;
use crate::Services;

/// The one answer `/login` gives, whatever happened.
pub const GENERIC_ANSWER: &str =
    "If that address belongs to an active account, a link is on its way. Check your inbox.";

/// The accounts an address typed at `/login` reaches, in every organisation: by sign-in name only
/// (never by the secondary emails an organisation's IdP can set), active and not deleted. Served
/// by the `users_user_name_ci` index (checked by the query-plan test).
pub const ACCOUNTS_BY_SIGN_IN_NAME: &str =
    "SELECT u.id, u.org_id, o.name AS org_name, u.given_name, u.user_name, s.require_sso FROM users u \
     JOIN orgs o ON o.id = u.org_id LEFT JOIN sso_configs s ON s.org_id = u.org_id \
     WHERE lower(u.user_name) = lower($1) AND u.active = 1 AND u.deleted_at IS NULL ORDER BY o.name";

/// Links one client may request for one address per hour.
pub const MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR: i64 = 3;
/// Mails one address receives per hour, whoever asks (a mail-bombing cap). Higher than the limit
/// above, so a stranger asking for someone's address from one or two networks does not use up
/// that person's own requests.
pub const MAX_PER_ADDRESS_PER_HOUR: i64 = 20;
/// Requests from one client per hour, whatever the address.
pub const MAX_PER_CLIENT_PER_HOUR: i64 = 30;
const HOUR: i64 = 3_600_000;

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
///
/// Accounts are matched by their sign-in identity (`userName`, case-insensitive) only — never by
/// the secondary emails an organisation's SCIM client can set to anything — and each account's
/// link is mailed to that account's own `userName`, one message per account: a link that signs
/// into account X only ever travels to X's address.
pub async fn request(svc: &Services, email: &str, client: &str) -> CoreResult<()> {
    let email = crate::admins::validate_email(email)?;
    let now = svc.now();
    let address = email.to_lowercase();
    let limits = [
        Limit::new(
            format!("ml-addr-ip:{address}:{client}"),
            MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR,
            HOUR,
        ),
        Limit::new(format!("ml-addr:{address}"), MAX_PER_ADDRESS_PER_HOUR, HOUR),
        Limit::new(format!("ml-ip:{client}"), MAX_PER_CLIENT_PER_HOUR, HOUR),
    ];
    if crate::throttle::take(&svc.db, &limits, now)
        .await?
        .is_some()
    {
        tracing::info!(client = %client, "magic link request throttled");
        return Ok(());
    }
    let rows = sqlx::query(ACCOUNTS_BY_SIGN_IN_NAME)
        .bind(&email)
        .fetch_all(&svc.db.pool)
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let ttl = svc.settings.magic_link_ttl_ms;
    let minutes = ttl / 60_000;
    let mut tx = svc.db.begin_write().await?;
    for r in &rows {
        let user_id: String = r.try_get("id")?;
        let org_id: String = r.try_get("org_id")?;
        let org_name: String = r.try_get("org_name")?;
        // The account's own address, as stored — not the spelling that was typed.
        let recipient: String = r.try_get("user_name")?;
        let greeting = greeting(r.try_get::<Option<String>, _>("given_name")?.as_deref());
        // An org that requires SSO gets no magic link: the mail points at its SSO sign-in.
        let sso = r.try_get::<Option<i64>, _>("require_sso")?.unwrap_or(0) != 0;
        let link = if sso {
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
            format!("{}/saml/{}/login", svc.settings.public_url, org_id)
        } else {
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
            format!(
                "{}/login/link?token={}",
                svc.settings.public_url,
                token.expose()
            )
        };
        let how = if sso {
            " (your organisation signs in with single sign-on)"
        } else {
            ""
        };
        let subject = format!("Your sign-in link for {org_name}");
        let text = format!(
            "{greeting}\n\nUse this link to sign in. It works once and expires in {minutes} minutes.\n\n\
             {org_name}{how}:\n{link}\n\n\
             If you did not ask for this, ignore this email: nobody can sign in without the link.\n"
        );
        let html = format!(
            "<p>{}</p><p>Use this link to sign in. It works once and expires in {minutes} minutes.</p>\
             <p><strong>{}</strong>{}: <a href=\"{}\">Sign in to {}</a></p>\
             <p>If you did not ask for this, ignore this email: nobody can sign in without the link.</p>",
            html_escape(&greeting),
            html_escape(&org_name),
            html_escape(how),
            html_escape(&link),
            html_escape(&org_name)
        );
        crate::mail::queue(&mut tx, &recipient, &subject, &text, &html, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Longest first name a greeting repeats.
const MAX_GREETING_NAME: usize = 40;

/// "Hello Ann," — the name is set by the organisation's IdP, so it is reduced to one short line of
/// letters, digits, spaces, hyphens and apostrophes: no line breaks, no dots (so no links), no
/// control characters.
pub fn greeting(given_name: Option<&str>) -> String {
    let cleaned: String = given_name
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, ' ' | '-' | '\'') {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let name: String = words.join(" ").chars().take(MAX_GREETING_NAME).collect();
    let name = name.trim();
    if name.is_empty() {
        "Hello,".to_string()
    } else {
        format!("Hello {name},")
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether the landing page should offer the Sign in button (does not consume the link).
pub async fn is_valid(svc: &Services, token: &str) -> CoreResult<bool> {
    if !crate::secret::is_well_formed(token) {
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
    if !crate::secret::is_well_formed(token) {
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
    // The claim itself decides who redeems: of two requests racing past the read above, the
    // database lets exactly one update the row (PostgreSQL re-checks `used_at` after the first
    // commits; SQLite runs one writer at a time).
    let claimed = sqlx::query(
        "UPDATE magic_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        events::record_in_tx(&mut tx, refuse("the link was already used"), now).await?;
        tx.commit().await?;
        return Err(CoreError::LinkInvalid);
    }
    if crate::employees::requires_sso(&mut tx, &org_id).await? {
        events::record_in_tx(
            &mut tx,
            refuse("the organisation now requires single sign-on"),
            now,
        )
        .await?;
        tx.commit().await?;
        return Err(CoreError::LinkInvalid);
    }
    let Some(emp) = crate::employees::employee(&mut tx, &org_id, &user_id).await? else {
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
