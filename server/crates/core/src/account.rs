//! The admin's own account: changing the password, resetting it by mail, and "Your sessions"
//! (list, end one, sign out everywhere).
//!
//! Sessions are found through the `sessions.admin_id` column the session store fills from the
//! session's data (`session_store`), and rows written before that column existed by the admin id
//! in their data ([`OWNED_BY`]). A session is named to the browser only by its *reference*,
//! a SHA-256 of its id: the id itself is the bearer credential in the cookie and never leaves the
//! server. Ending a session deletes its row; the store's `save` only updates, so a request of
//! that session still in flight cannot bring it back.
//!
//! Password reset links are 256-bit single-use tokens stored as SHA-256, valid
//! [`RESET_TTL_MS`]; a newer request replaces older unused links. Using one is a single
//! `UPDATE … WHERE used_at IS NULL AND expires_at > now` whose row count decides, so two racing
//! uses give one success. A reset ends every session of the admin and forgets every trusted
//! device; it never signs the admin in (the sign-in, and any second factor, still apply).

use sqlx::Row;

use crate::admins::Admin;
use crate::error::{CoreError, CoreResult, Field};
use crate::events::{self, NewEvent};
use crate::password::{self, PasswordHash};
use crate::secret::{sha256_hex, Secret};
use crate::session::AdminSignInMethod;
use crate::throttle::Limit;
use crate::Services;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// How long a password reset link works.
pub const RESET_TTL_MS: i64 = 30 * MINUTE;
/// Reset links one client may request for one address per hour.
pub const RESET_MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR: i64 = 3;
/// Reset mails one address receives per hour, whoever asks (a mail-bombing cap).
pub const RESET_MAX_PER_ADDRESS_PER_HOUR: i64 = 10;
/// Reset requests from one client per hour, whatever the address.
pub const RESET_MAX_PER_CLIENT_PER_HOUR: i64 = 30;
/// Checks of the current password (changing it) per admin in [`PASSWORD_CHECK_WINDOW_MS`]: a
/// stolen session cannot be used to guess the password.
pub const PASSWORD_CHECKS_PER_WINDOW: i64 = 5;
pub const PASSWORD_CHECK_WINDOW_MS: i64 = 15 * MINUTE;

/// The one answer `/admin/forgot-password` gives, whatever happened.
pub const RESET_REQUEST_ANSWER: &str = "If that address belongs to an administrator, a link to \
     choose a new password is on its way. Check your inbox.";
/// What a used, expired, unknown or tampered reset link gets.
pub const RESET_LINK_INVALID: &str =
    "This password reset link is invalid, has expired or was already used. Request a new one.";

// ---- sessions ---------------------------------------------------------------------------------

/// The reference of a session: what the browser is shown and sends back to end it. A one-way
/// function of the id, so it opens nothing.
pub fn session_reference(session_id: &str) -> String {
    sha256_hex(&format!("portal-session-reference:{session_id}"))
}

/// Whether a presented reference could be one (64 lower-case hex digits).
fn is_reference(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One of the admin's sessions, as "Your sessions" shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub reference: String,
    pub started_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    /// "Chrome on Linux · 203.0.113.7" (None: the session predates the column).
    pub client: Option<String>,
    pub method: Option<AdminSignInMethod>,
    /// The session this request came with.
    pub current: bool,
}

/// The rows of `admin_id`'s sessions, with `$1` the admin's id and `$2` [`data_pattern`]: by the
/// owner column the store fills, and rows written before that column existed (their owner is only
/// in the session's data) so that a password reset or "Sign out everywhere" ends those too.
const OWNED_BY: &str = "(admin_id = $1 OR (admin_id IS NULL AND data LIKE $2))";

/// How the admin's id appears in a session's stored data (JSON, as the store writes it). Admin
/// ids are UUIDs: no `%` or `_` to escape.
fn data_pattern(admin_id: &str) -> String {
    format!(
        "%{}%",
        serde_json::json!({ crate::session::ADMIN_ID_KEY: admin_id })
            .to_string()
            .trim_start_matches('{')
            .trim_end_matches('}')
    )
}

/// The session store writes `expires_at` from the system clock, so live sessions are told
/// apart by the system clock too (the services' clock is manual in tests).
fn wall_clock_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Ids of the admin's live sessions.
async fn session_ids(svc: &Services, admin_id: &str) -> CoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT id FROM sessions WHERE {OWNED_BY} AND expires_at > $3"
    ))
    .bind(admin_id)
    .bind(data_pattern(admin_id))
    .bind(wall_clock_ms())
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The admin's live sessions: this one first, then the most recently seen.
pub async fn sessions(
    svc: &Services,
    admin_id: &str,
    current_session_id: Option<&str>,
) -> CoreResult<Vec<AdminSession>> {
    let rows = sqlx::query(&format!(
        "SELECT id, created_at, last_seen_at, client, method FROM sessions \
         WHERE {OWNED_BY} AND expires_at > $3"
    ))
    .bind(admin_id)
    .bind(data_pattern(admin_id))
    .bind(wall_clock_ms())
    .fetch_all(&svc.db.pool)
    .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(AdminSession {
                reference: session_reference(&id),
                current: current_session_id == Some(id.as_str()),
                started_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                client: r.try_get("client")?,
                method: r
                    .try_get::<Option<String>, _>("method")?
                    .as_deref()
                    .and_then(AdminSignInMethod::parse),
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
    out.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(
                b.last_seen_at
                    .or(b.started_at)
                    .cmp(&a.last_seen_at.or(a.started_at)),
            )
            .then(a.reference.cmp(&b.reference))
    });
    Ok(out)
}

/// What ending a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Another session of the admin.
    Other,
    /// The session this request came with.
    This,
}

/// Ends one of the admin's own sessions, named by its reference. Anything else — another
/// admin's session, a raw session id, a reference that matches nothing — is `NotFound`, and
/// nothing changes.
pub async fn end_session(
    svc: &Services,
    admin: &Admin,
    reference: &str,
    current_session_id: Option<&str>,
) -> CoreResult<Ended> {
    let reference = reference.trim();
    if !is_reference(reference) {
        return Err(CoreError::NotFound);
    }
    let found = session_ids(svc, &admin.id)
        .await?
        .into_iter()
        .find(|id| crate::secret::digest_eq(&session_reference(id), reference));
    let Some(id) = found else {
        return Err(CoreError::NotFound);
    };
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let deleted = sqlx::query(&format!(
        "DELETE FROM sessions WHERE {OWNED_BY} AND id = $3"
    ))
    .bind(&admin.id)
    .bind(data_pattern(&admin.id))
    .bind(&id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if deleted != 1 {
        // Ended meanwhile (by another request, or it expired): nothing to record.
        return Err(CoreError::NotFound);
    }
    let this = current_session_id == Some(id.as_str());
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_session_end",
            if this {
                "Ended this session from Your sessions"
            } else {
                "Ended one of their other sessions"
            },
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(if this { Ended::This } else { Ended::Other })
}

/// Ends every session of the admin, the caller's own included. Returns how many ended.
pub async fn sign_out_everywhere(svc: &Services, admin: &Admin) -> CoreResult<u64> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let ended = sqlx::query(&format!("DELETE FROM sessions WHERE {OWNED_BY}"))
        .bind(&admin.id)
        .bind(data_pattern(&admin.id))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_sign_out_everywhere",
            &format!("Signed out everywhere ({ended} session(s) ended)"),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

// ---- changing the password ----------------------------------------------------------------------

/// The admin's account as "Your account" shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub admin: Admin,
    pub password_changed_at: Option<i64>,
    pub created_at: i64,
}

pub async fn account(svc: &Services, admin: &Admin) -> CoreResult<Account> {
    let row = sqlx::query("SELECT created_at, password_changed_at FROM admins WHERE id = $1")
        .bind(&admin.id)
        .fetch_optional(&svc.db.pool)
        .await?
        .ok_or(CoreError::NotFound)?;
    Ok(Account {
        admin: admin.clone(),
        created_at: row.try_get("created_at")?,
        password_changed_at: row.try_get("password_changed_at")?,
    })
}

async fn stored_hash(svc: &Services, admin_id: &str) -> CoreResult<PasswordHash> {
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM admins WHERE id = $1")
        .bind(admin_id)
        .fetch_optional(&svc.db.pool)
        .await?
        .ok_or(CoreError::NotFound)?;
    Ok(PasswordHash::from_stored(hash))
}

/// What a password change did besides changing the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// The admin's other sessions that ended.
    pub sessions_ended: u64,
    /// Trusted devices (other browsers) forgotten.
    pub devices_forgotten: u64,
}

/// Changes the signed-in admin's password. The current password is required (checked at most
/// [`PASSWORD_CHECKS_PER_WINDOW`] times per window); the new one must pass the policy of setup
/// and differ from it. On success every *other* session of the admin ends, the trusted devices
/// of other browsers are forgotten (this browser's, `this_device`, stays) and unused reset links
/// stop working. All of it in one transaction.
pub async fn change_password(
    svc: &Services,
    admin: &Admin,
    current_password: &str,
    new_password: &str,
    this_session_id: Option<&str>,
    this_device: Option<&str>,
) -> CoreResult<Changed> {
    if current_password.is_empty() {
        return Err(CoreError::invalid_field(
            Field::CurrentPassword,
            "Enter your current password.",
        ));
    }
    password::validate_new_password(new_password).map_err(|e| e.in_field(Field::Password))?;
    if new_password == current_password {
        return Err(CoreError::invalid_field(
            Field::Password,
            "Choose a new password that differs from the current one.",
        ));
    }
    let wrong_current =
        || CoreError::invalid_field(Field::CurrentPassword, "The current password is incorrect.");
    if current_password.chars().count() > password::MAX_PASSWORD_LEN {
        return Err(wrong_current());
    }
    let now = svc.now();
    let key = format!("pw-change:{}", admin.id);
    let limits = [Limit::new(
        key.clone(),
        PASSWORD_CHECKS_PER_WINDOW,
        PASSWORD_CHECK_WINDOW_MS,
    )];
    let hits = match crate::throttle::take_hits(&svc.db, &limits, now).await? {
        Ok(hits) => hits,
        Err(secs) => {
            return Err(CoreError::Throttled {
                retry_after_secs: secs,
            })
        }
    };
    let stored = stored_hash(svc, &admin.id).await?;
    let verified_hash = stored.as_str().to_string();
    let ok = match svc
        .argon2
        .verify(current_password.to_string(), stored)
        .await
    {
        Ok(ok) => ok,
        Err(busy @ CoreError::Busy { .. }) => {
            crate::throttle::give_back(&svc.db, &hits).await?;
            return Err(busy);
        }
        Err(e) => return Err(e),
    };
    if !ok {
        events::record(
            &svc.db,
            NewEvent {
                success: false,
                ..NewEvent::admin(
                    &admin.org_id,
                    &admin.email,
                    "admin_password_change",
                    "Password change refused: the current password was incorrect",
                )
            },
            now,
        )
        .await?;
        return Err(wrong_current());
    }
    let hash = svc.argon2.hash(new_password.to_string()).await?;
    let keep_device = this_device
        .filter(|d| crate::secret::is_well_formed(d))
        .map(sha256_hex)
        .unwrap_or_default();
    let mut tx = svc.db.begin_write().await?;
    // The session asking must still exist (a reset or "Sign out everywhere" may have ended it
    // while the password was being checked), and the password changed must be the one checked:
    // a reset that landed meanwhile is not overwritten.
    if let Some(id) = this_session_id {
        let alive: Option<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        if alive.is_none() {
            return Err(CoreError::Stale);
        }
    }
    let changed = sqlx::query(
        "UPDATE admins SET password_hash = $1, password_changed_at = $2 \
         WHERE id = $3 AND password_hash = $4",
    )
    .bind(hash.as_str())
    .bind(now)
    .bind(&admin.id)
    .bind(&verified_hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(CoreError::Stale);
    }
    let sessions_ended = sqlx::query(&format!(
        "DELETE FROM sessions WHERE {OWNED_BY} AND id <> $3"
    ))
    .bind(&admin.id)
    .bind(data_pattern(&admin.id))
    .bind(this_session_id.unwrap_or(""))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let devices_forgotten =
        sqlx::query("DELETE FROM admin_devices WHERE admin_id = $1 AND token_hash <> $2")
            .bind(&admin.id)
            .bind(&keep_device)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    // Reset links stay valid: they prove the mailbox, and a reset must stay possible against
    // someone who holds a session and the password (it ends every session).
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_password_change",
            &format!(
                "Changed their password; {sessions_ended} other session(s) ended, \
                 {devices_forgotten} other browser(s) forgotten"
            ),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    crate::throttle::clear(&svc.db, &key).await?;
    Ok(Changed {
        sessions_ended,
        devices_forgotten,
    })
}

// ---- password reset by mail -----------------------------------------------------------------------

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Handles a reset request from `/admin/forgot-password`. Ok(()) means "show
/// [`RESET_REQUEST_ANSWER`]" — also when the address is unknown or the request is throttled;
/// only a malformed address is an error. A known admin gets one mail with a link valid
/// [`RESET_TTL_MS`]; older unused links of that admin stop working.
pub async fn request_reset(svc: &Services, email: &str, client: &str) -> CoreResult<()> {
    let email = crate::admins::validate_email(email).map_err(|e| e.in_field(Field::Email))?;
    let now = svc.now();
    let address = email.to_lowercase();
    let limits = [
        Limit::new(
            format!("pr-addr-ip:{address}:{client}"),
            RESET_MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR,
            HOUR,
        ),
        Limit::new(
            format!("pr-addr:{address}"),
            RESET_MAX_PER_ADDRESS_PER_HOUR,
            HOUR,
        ),
        Limit::new(
            format!("pr-ip:{client}"),
            RESET_MAX_PER_CLIENT_PER_HOUR,
            HOUR,
        ),
    ];
    if crate::throttle::take(&svc.db, &limits, now)
        .await?
        .is_some()
    {
        tracing::info!(client = %client, "password reset request throttled");
        return Ok(());
    }
    let row = sqlx::query(
        "SELECT a.id, a.org_id, a.email, a.role, o.name AS org_name FROM admins a \
         JOIN orgs o ON o.id = a.org_id WHERE lower(a.email) = lower($1)",
    )
    .bind(&email)
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let admin = crate::admins::admin_from_row(&row)?;
    let org_name: String = row.try_get("org_name")?;
    let token = Secret::generate();
    let mut tx = svc.db.begin_write().await?;
    // The newest link is the one that works: after any other request for this admin has
    // committed, so two at once cannot leave two working links.
    crate::two_factor::lock_admin_in_tx(&mut tx, &admin.id).await?;
    sqlx::query("DELETE FROM password_resets WHERE admin_id = $1 AND used_at IS NULL")
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO password_resets (token_hash, admin_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token.hash())
    .bind(&admin.id)
    .bind(now)
    .bind(now + RESET_TTL_MS)
    .execute(&mut **tx)
    .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_password_reset_requested",
            "Someone asked for a password reset link for this admin; it was mailed to the admin's own address",
        ),
        now,
    )
    .await?;
    let link = format!(
        "{}/admin/reset-password?token={}",
        svc.settings.public_url,
        token.expose()
    );
    let minutes = RESET_TTL_MS / MINUTE;
    let subject = format!("Reset your administrator password for {org_name}");
    let text = format!(
        "Hello,\n\nSomeone (hopefully you) asked to reset the password of your administrator \
         account for {org_name}. Use this link to choose a new password. It works once and \
         expires in {minutes} minutes.\n\n{link}\n\n\
         Choosing a new password signs your account out everywhere.\n\n\
         If you did not ask for this, ignore this email: your password stays as it is.\n"
    );
    let html = format!(
        "<p>Hello,</p><p>Someone (hopefully you) asked to reset the password of your \
         administrator account for <strong>{}</strong>. Use this link to choose a new password. \
         It works once and expires in {minutes} minutes.</p>\
         <p><a href=\"{}\">Choose a new password</a></p>\
         <p>Choosing a new password signs your account out everywhere.</p>\
         <p>If you did not ask for this, ignore this email: your password stays as it is.</p>",
        html_escape(&org_name),
        html_escape(&link)
    );
    crate::mail::queue(&mut tx, &admin.email, &subject, &text, &html, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The admin a usable (unused, unexpired) reset link belongs to, without using it.
async fn usable_reset(svc: &Services, token: &str) -> CoreResult<Option<String>> {
    if !crate::secret::is_well_formed(token) {
        return Ok(None);
    }
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT admin_id FROM password_resets \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(sha256_hex(token))
    .bind(svc.now())
    .fetch_optional(&svc.db.pool)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Whether the reset page should offer the form (does not use the link).
pub async fn reset_link_is_valid(svc: &Services, token: &str) -> CoreResult<bool> {
    Ok(usable_reset(svc, token).await?.is_some())
}

/// Sets a new password with a reset link. The link is used up, every session of the admin ends
/// and every trusted device is forgotten, in one transaction; the admin is *not* signed in.
/// A used, expired, unknown or tampered link is `Invalid(RESET_LINK_INVALID)`; a password the
/// policy refuses leaves the link usable.
pub async fn reset_password(svc: &Services, token: &str, new_password: &str) -> CoreResult<Admin> {
    let invalid = || CoreError::invalid(RESET_LINK_INVALID);
    if usable_reset(svc, token).await?.is_none() {
        return Err(invalid());
    }
    password::validate_new_password(new_password).map_err(|e| e.in_field(Field::Password))?;
    let hash = svc.argon2.hash(new_password.to_string()).await?;
    let now = svc.now();
    let token_hash = sha256_hex(token);
    let mut tx = svc.db.begin_write().await?;
    // The claim decides: of two uses racing past the check above, the database lets exactly one
    // update the row (PostgreSQL re-checks `used_at` after the first commits; SQLite has one
    // writer).
    let claimed = sqlx::query(
        "UPDATE password_resets SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&token_hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Err(invalid());
    }
    let (admin_id,): (String,) =
        sqlx::query_as("SELECT admin_id FROM password_resets WHERE token_hash = $1")
            .bind(&token_hash)
            .fetch_one(&mut **tx)
            .await?;
    let row = sqlx::query("SELECT id, org_id, email, role FROM admins WHERE id = $1")
        .bind(&admin_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else {
        return Err(invalid());
    };
    let admin = crate::admins::admin_from_row(&row)?;
    sqlx::query("UPDATE admins SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
        .bind(hash.as_str())
        .bind(now)
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    let sessions_ended = sqlx::query(&format!("DELETE FROM sessions WHERE {OWNED_BY}"))
        .bind(&admin.id)
        .bind(data_pattern(&admin.id))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM admin_devices WHERE admin_id = $1")
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE admin_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_password_reset",
            &format!(
                "Set a new password with a reset link; {sessions_ended} session(s) ended, \
                 trusted browsers forgotten"
            ),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(admin)
}

/// Housekeeping: forget reset links that expired more than a day ago.
pub async fn prune_resets(svc: &Services, now: i64) -> CoreResult<u64> {
    let r = sqlx::query("DELETE FROM password_resets WHERE expires_at <= $1")
        .bind(now - 24 * HOUR)
        .execute(&svc.db.pool)
        .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_a_one_way_hex_name_of_the_session() {
        let r = session_reference("abc");
        assert!(is_reference(&r), "{r}");
        assert_ne!(r, sha256_hex("abc"));
        assert!(!r.contains("abc"));
        assert_eq!(r, session_reference("abc"));
        assert_ne!(r, session_reference("abd"));
        assert!(!is_reference(&r.to_uppercase()));
        assert!(!is_reference(&r[1..]));
        assert!(!is_reference("abc"));
    }

    #[test]
    fn the_data_pattern_matches_what_the_store_writes() {
        let id = "0b7c6f0e-1b2a-4c3d-9e8f-0123456789ab";
        let mut data = std::collections::HashMap::new();
        data.insert("admin_meta", serde_json::json!({"method": "password"}));
        data.insert(crate::session::ADMIN_ID_KEY, serde_json::json!(id));
        let stored = serde_json::to_string(&data).unwrap();
        let pattern = data_pattern(id);
        assert_eq!(pattern, format!("%\"admin_id\":\"{id}\"%"));
        assert!(stored.contains(pattern.trim_matches('%')), "{stored}");
    }
}
