//! What a browser session holds and who it belongs to: the keys, the stored values and the one
//! place that turns a session into a signed-in admin or employee. The HTTP side (`app::ssr`'s
//! `CurrentAdmin` / `CurrentEmployee` extractors) calls these for server functions and axum
//! routes alike.
//!
//! A failure to read the session or the database is an error (`CoreError`), never "not signed
//! in": a database outage must not look like a sign-out.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::admins::Admin;
use crate::employees::Employee;
use crate::error::{CoreError, CoreResult};
use crate::Services;

/// The signed-in admin's id.
pub const ADMIN_ID_KEY: &str = "admin_id";
/// How and from where the admin signed in ([`AdminSessionMeta`]); the session store copies it
/// into the `sessions` row for "Your sessions".
pub const ADMIN_META_KEY: &str = "admin_meta";
/// Employee sign-ins live under their own key, apart from the admin's.
pub const EMPLOYEE_KEY: &str = "employee";

/// How an admin signed in. Stored in the session and the `sessions` row in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminSignInMethod {
    Password,
    /// Password, then a code from an authenticator app.
    PasswordTotp,
    /// Password, then a single-use recovery code.
    PasswordRecoveryCode,
    /// Password, then a passkey.
    PasswordPasskey,
    /// An invitation or password-reset link, after which the admin chose a password.
    Link,
    /// A SAML assertion from the organisation's identity provider.
    Sso,
}

impl AdminSignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::PasswordTotp => "password_totp",
            Self::PasswordRecoveryCode => "password_recovery_code",
            Self::PasswordPasskey => "password_passkey",
            Self::Link => "link",
            Self::Sso => "sso",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_string())).ok()
    }

    /// What "Your sessions" shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Password => "Password",
            Self::PasswordTotp => "Password + authenticator app",
            Self::PasswordRecoveryCode => "Password + recovery code",
            Self::PasswordPasskey => "Password + passkey",
            Self::Link => "Invitation or reset link",
            Self::Sso => "Single sign-on",
        }
    }
}

/// The value stored under [`ADMIN_META_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSessionMeta {
    pub method: AdminSignInMethod,
    /// The browser (User-Agent, shortened) and address it signed in from.
    pub client: String,
    pub started_at: i64,
    /// When this session last proved the password (a password change on it), if after it
    /// started.
    #[serde(default)]
    pub reauthenticated_at: Option<i64>,
}

impl AdminSessionMeta {
    /// A session is valid only if it proved the admin's current password: one that started (or
    /// last proved it) before the password last changed is over, even if a request in flight
    /// wrote its row back after a reset deleted it.
    pub fn current_for(&self, password_changed_at: Option<i64>) -> bool {
        let proved = self.reauthenticated_at.unwrap_or(0).max(self.started_at);
        password_changed_at.is_none_or(|changed| proved >= changed)
    }
}

/// "Firefox on Windows": a short, human description of a User-Agent header (never the raw
/// header, which the client controls and can make arbitrarily long).
pub fn describe_user_agent(ua: &str) -> String {
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        "Unknown browser"
    } else {
        "Other browser"
    };
    let os = if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some("Linux")
    } else {
        None
    };
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

/// How often a request refreshes its session's `last_seen_at` (and no more often).
pub const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

/// How an employee signed in. Stored in the session as `"magic_link"` / `"sso"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    MagicLink,
    Sso,
}

impl SignInMethod {
    /// What the employee is shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::MagicLink => "Magic link",
            Self::Sso => "Single sign-on",
        }
    }
}

/// The value stored under [`EMPLOYEE_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeSession {
    pub user_id: String,
    pub org_id: String,
    pub method: SignInMethod,
}

fn session_error(e: tower_sessions::session::Error) -> CoreError {
    CoreError::Internal(format!("session store: {e}"))
}

/// The value under `key`. A value that no longer reads as `T` (written by another version) counts
/// as absent; a store that cannot be read is an error.
async fn read<T: serde::de::DeserializeOwned>(
    session: &Session,
    key: &str,
) -> CoreResult<Option<T>> {
    let Some(value) = session.get_value(key).await.map_err(session_error)? else {
        return Ok(None);
    };
    match serde_json::from_value(value) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            tracing::warn!(key, error = %e, "ignoring an unreadable session value");
            Ok(None)
        }
    }
}

/// The admin this session is signed in as, while that admin exists. A session whose admin was
/// removed is ended here.
pub async fn admin(svc: &Services, session: &Session) -> CoreResult<Option<Admin>> {
    let Some(admin_id) = read::<String>(session, ADMIN_ID_KEY).await? else {
        return Ok(None);
    };
    // One read per request: the admin and when their password last changed.
    let row = sqlx::query(
        "SELECT id, org_id, email, role, password_changed_at FROM admins WHERE id = $1",
    )
    .bind(&admin_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let found = match &row {
        Some(r) => {
            use sqlx::Row;
            let changed: Option<i64> = r.try_get("password_changed_at")?;
            let current = match read::<AdminSessionMeta>(session, ADMIN_META_KEY).await? {
                Some(meta) => meta.current_for(changed),
                // Sessions from before sign-in methods were recorded: valid until a change.
                None => changed.is_none(),
            };
            if !current {
                session.flush().await.map_err(session_error)?;
                return Ok(None);
            }
            Some(crate::admins::admin_from_row(r)?)
        }
        None => None,
    };
    match found {
        Some(admin) => {
            if let Some(id) = session.id() {
                let now = svc.now();
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 \
                     AND (last_seen_at IS NULL OR last_seen_at < $3)",
                )
                .bind(now)
                .bind(id.to_string())
                .bind(now - LAST_SEEN_RESOLUTION_MS)
                .execute(&svc.db.pool)
                .await?;
            }
            Ok(Some(admin))
        }
        None => {
            session.flush().await.map_err(session_error)?;
            Ok(None)
        }
    }
}

/// The employee this session is signed in as, re-checked against the user on every call: a user
/// deactivated or deleted since sign-in loses the session here.
pub async fn employee(
    svc: &Services,
    session: &Session,
) -> CoreResult<Option<(EmployeeSession, Employee)>> {
    let Some(stored) = read::<EmployeeSession>(session, EMPLOYEE_KEY).await? else {
        return Ok(None);
    };
    let mut conn = svc.db.pool.acquire().await?;
    match crate::employees::employee(&mut conn, &stored.org_id, &stored.user_id).await? {
        Some(found) => Ok(Some((stored, found))),
        None => {
            end_employee(session).await?;
            Ok(None)
        }
    }
}

/// Marks this session as having just proved the admin's password (after a password change on
/// it), so it stays valid under the new password.
pub async fn reauthenticated(session: &Session, now: i64) -> CoreResult<()> {
    if let Some(mut meta) = read::<AdminSessionMeta>(session, ADMIN_META_KEY).await? {
        meta.reauthenticated_at = Some(now);
        session
            .insert(ADMIN_META_KEY, meta)
            .await
            .map_err(session_error)?;
    }
    Ok(())
}

/// Signs the admin in on this session, under a fresh session id (a planted id is useless).
pub async fn start_admin(
    session: &Session,
    admin_id: &str,
    meta: AdminSessionMeta,
) -> CoreResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(ADMIN_META_KEY, meta)
        .await
        .map_err(session_error)?;
    session
        .insert(ADMIN_ID_KEY, admin_id.to_string())
        .await
        .map_err(session_error)
}

/// Signs the employee in on this session, under a fresh session id.
pub async fn start_employee(
    session: &Session,
    employee: &Employee,
    method: SignInMethod,
) -> CoreResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(
            EMPLOYEE_KEY,
            EmployeeSession {
                user_id: employee.user_id.clone(),
                org_id: employee.org_id.clone(),
                method,
            },
        )
        .await
        .map_err(session_error)
}

/// Ends the employee's sign-in on this session (an admin sign-in on it stays).
pub async fn end_employee(session: &Session) -> CoreResult<()> {
    session
        .remove_value(EMPLOYEE_KEY)
        .await
        .map(|_| ())
        .map_err(session_error)
}

// ---- Second factor (issue 12, two-factor) ----------------------------------------------------
//
// After a correct password an admin with a second factor is not signed in: the session holds a
// pending second factor (its own key, never `ADMIN_ID_KEY`, so no admin screen or server function
// sees a signed-in admin) until `two_factor` or `passkeys` accepts the second step.

/// The admin whose password was accepted and who still owes the second step.
pub const PENDING_SECOND_FACTOR_KEY: &str = "pending_second_factor";
/// A passkey ceremony in progress (its challenge), single-use: taken out when answered.
pub const PASSKEY_CEREMONY_KEY: &str = "passkey_ceremony";

/// The value stored under [`PENDING_SECOND_FACTOR_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSecondFactor {
    pub admin_id: String,
    pub expires_at: i64,
}

/// Puts the session in the "password accepted, second step owed" state for `admin_id`, under a
/// fresh session id; an admin signed in on this session before is signed out.
pub async fn start_pending_second_factor(
    session: &Session,
    admin_id: &str,
    expires_at: i64,
) -> CoreResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    for key in [ADMIN_ID_KEY, ADMIN_META_KEY, PASSKEY_CEREMONY_KEY] {
        session.remove_value(key).await.map_err(session_error)?;
    }
    session
        .insert(
            PENDING_SECOND_FACTOR_KEY,
            PendingSecondFactor {
                admin_id: admin_id.to_string(),
                expires_at,
            },
        )
        .await
        .map_err(session_error)
}

/// The admin of this session's pending second step, while it has not expired and the admin
/// exists. An expired one is removed here.
pub async fn pending_second_factor(svc: &Services, session: &Session) -> CoreResult<Option<Admin>> {
    let Some(pending) = read::<PendingSecondFactor>(session, PENDING_SECOND_FACTOR_KEY).await?
    else {
        return Ok(None);
    };
    if pending.expires_at <= svc.now() {
        end_pending_second_factor(session).await?;
        return Ok(None);
    }
    crate::admins::admin_by_id(&svc.db, &pending.admin_id).await
}

/// Forgets the pending second step and any passkey ceremony.
pub async fn end_pending_second_factor(session: &Session) -> CoreResult<()> {
    for key in [PENDING_SECOND_FACTOR_KEY, PASSKEY_CEREMONY_KEY] {
        session.remove_value(key).await.map_err(session_error)?;
    }
    Ok(())
}

/// Keeps a passkey ceremony's state (`passkeys::Ceremony`) in the session, replacing any other.
pub async fn put_passkey_ceremony<T: Serialize>(session: &Session, ceremony: &T) -> CoreResult<()> {
    session
        .insert(PASSKEY_CEREMONY_KEY, ceremony)
        .await
        .map_err(session_error)
}

/// Takes the passkey ceremony out of the session: each challenge is answered at most once.
pub async fn take_passkey_ceremony<T: serde::de::DeserializeOwned>(
    session: &Session,
) -> CoreResult<Option<T>> {
    let value = read::<T>(session, PASSKEY_CEREMONY_KEY).await?;
    session
        .remove_value(PASSKEY_CEREMONY_KEY)
        .await
        .map_err(session_error)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_method_keeps_its_stored_spelling() {
        // Sessions written before the enum stored these strings.
        let s: EmployeeSession =
            serde_json::from_str(r#"{"user_id":"u","org_id":"o","method":"sso"}"#).unwrap();
        assert_eq!(s.method, SignInMethod::Sso);
        let s: EmployeeSession =
            serde_json::from_str(r#"{"user_id":"u","org_id":"o","method":"magic_link"}"#).unwrap();
        assert_eq!(s.method, SignInMethod::MagicLink);
        assert_eq!(
            serde_json::to_value(SignInMethod::MagicLink).unwrap(),
            "magic_link"
        );
    }
}
