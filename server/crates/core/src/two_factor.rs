//! The admins' second factor: an authenticator app (TOTP, RFC 6238) with single-use recovery
//! codes, and passkeys (`crate::passkeys`). After a correct password an admin with a factor is
//! not signed in yet: the session holds a pending second factor (`crate::session`) until one of
//! [`verify_sign_in`] or `passkeys::finish_authentication` succeeds.
//!
//! One-time use is enforced by the database, not by a read-then-write: a TOTP code is accepted by
//! an `UPDATE … WHERE last_used_step < $step` and a recovery code by an
//! `UPDATE … WHERE used_at IS NULL`, so of two racing submissions of one code exactly one
//! changes a row (SQLite: the single writer; PostgreSQL: the row lock).

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::admins::Admin;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::secret::{sha256_hex, Secret};
use crate::throttle::Limit;
use crate::{Db, Services};

/// RFC 6238 defaults, which every authenticator app understands.
pub const TOTP_STEP_MS: i64 = 30_000;
pub const TOTP_DIGITS: usize = 6;
/// Steps either side of now that are still accepted (clock drift, a code typed at the turn).
pub const TOTP_SKEW_STEPS: i64 = 1;
/// 160 random bits, the size RFC 4226 recommends for HMAC-SHA1.
const TOTP_SECRET_BYTES: usize = 20;
pub const RECOVERY_CODE_COUNT: usize = 10;
/// How long the second step of a sign-in may take after the password.
pub const PENDING_TTL_MS: i64 = 5 * 60 * 1000;
/// Wrong second-factor codes per admin within [`FAILURE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// What the authenticator app shows as the account's issuer.
pub const ISSUER: &str = "Identity portal";

/// The message for a wrong, reused or malformed code (never says which).
pub const BAD_CODE: &str = "That code is not correct, or it was already used. Try the next code.";

// ---- TOTP, pure ---------------------------------------------------------------------------------

/// The code of `step` for a raw secret (RFC 4226 dynamic truncation, 6 digits).
pub fn totp_code(secret: &[u8], step: i64) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        // HMAC takes keys of any length; unreachable, and never a valid code.
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let bin = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// The TOTP step of a moment (unix milliseconds).
pub fn step_at(now_ms: i64) -> i64 {
    now_ms.div_euclid(TOTP_STEP_MS)
}

/// A submitted code with spaces removed, when it is six digits.
pub fn normalise_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The latest step within the accepted window (now ± [`TOTP_SKEW_STEPS`]) whose code is `code`,
/// compared in constant time.
pub fn matching_step(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let now = step_at(now_ms);
    let mut found = None;
    for step in (now - TOTP_SKEW_STEPS)..=(now + TOTP_SKEW_STEPS) {
        if bool::from(totp_code(secret, step).as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

fn decode_secret(stored: &str) -> CoreResult<Vec<u8>> {
    data_encoding::BASE32_NOPAD
        .decode(stored.as_bytes())
        .map_err(|_| CoreError::Internal("a stored TOTP secret is not base32".into()))
}

/// `otpauth://totp/Issuer:email?secret=…`, what the QR code carries.
pub fn otpauth_uri(secret_b32: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={}",
        enc(ISSUER),
        enc(account),
        enc(ISSUER),
        TOTP_STEP_MS / 1000
    )
}

/// The URI as a QR code: an SVG image in a `data:` URL (the page's CSP allows `img-src data:`;
/// no markup of ours is injected into the page).
pub fn qr_data_url(uri: &str) -> CoreResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| CoreError::Internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// A secret split in groups of four for reading and typing.
fn grouped(secret_b32: &str) -> String {
    secret_b32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- recovery codes, pure ----------------------------------------------------------------------

/// 80 random bits as 16 lower-case base32 characters in groups of four (`abcd-efgh-ijkl-mnop`).
fn new_recovery_code() -> String {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let raw = data_encoding::BASE32_NOPAD
        .encode(&bytes)
        .to_ascii_lowercase();
    raw.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// A submitted recovery code without separators and case, when it could be one of ours.
pub fn normalise_recovery_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (code.len() == 16
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)))
    .then_some(code)
}

fn recovery_hash(admin_id: &str, normalised: &str) -> String {
    sha256_hex(&format!("{admin_id}:{normalised}"))
}

// ---- status ------------------------------------------------------------------------------------

/// Whether the admin has a confirmed authenticator app or at least one passkey.
pub async fn has_factor(db: &Db, admin_id: &str) -> CoreResult<bool> {
    let row = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL) AS totp, \
           (SELECT COUNT(*) FROM admin_passkeys WHERE admin_id = $1) AS passkeys",
    )
    .bind(admin_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>("totp")? > 0 || row.try_get::<i64, _>("passkeys")? > 0)
}

/// Whether the admin's organisation requires a second factor and the admin has none yet: then
/// everything but the enrolment screen is refused (`app::ssr`'s `CurrentAdmin`).
pub async fn enrolment_required(db: &Db, admin_id: &str, org_id: &str) -> CoreResult<bool> {
    let row = sqlx::query(&format!(
        "SELECT {REQUIRED_SQL} AS required, \
           (SELECT COUNT(*) FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL) AS totp, \
           (SELECT COUNT(*) FROM admin_passkeys WHERE admin_id = $1) AS passkeys"
    ))
    .bind(admin_id)
    .bind(org_id)
    .fetch_one(&db.pool)
    .await?;
    let required = row.try_get::<Option<i64>, _>("required")?.unwrap_or(0) != 0;
    Ok(required && row.try_get::<i64, _>("totp")? == 0 && row.try_get::<i64, _>("passkeys")? == 0)
}

/// Whether admin `$1` of organisation `$2` must have a second factor: the organisation requires
/// one for every admin, or it requires SSO for admins and this admin is an Owner (whose password
/// stays the break-glass path, `admins::SSO_REQUIRED`, and so needs a second factor).
const REQUIRED_SQL: &str = "(SELECT CASE WHEN o.require_2fa <> 0 \
     OR (o.require_sso_for_admins <> 0 AND a.role = 'owner') THEN 1 ELSE 0 END \
     FROM orgs o JOIN admins a ON a.org_id = o.id WHERE o.id = $2 AND a.id = $1)";

/// An authenticator app being set up: what the admin scans or types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// Base32, in groups of four.
    pub manual_key: String,
    pub uri: String,
    pub qr_data_url: String,
}

/// Which methods an admin has, as the enrolment screen and the sign-in step show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub totp_enabled: bool,
    /// Set up but not confirmed yet.
    pub totp_setup: Option<TotpSetup>,
    pub recovery_codes_left: i64,
    pub passkeys: i64,
    pub org_requires: bool,
}

pub async fn status(db: &Db, admin: &Admin) -> CoreResult<Status> {
    let totp = sqlx::query("SELECT secret, confirmed_at FROM admin_totp WHERE admin_id = $1")
        .bind(&admin.id)
        .fetch_optional(&db.pool)
        .await?;
    let (totp_enabled, totp_setup) = match totp {
        Some(r) => {
            let confirmed: Option<i64> = r.try_get("confirmed_at")?;
            if confirmed.is_some() {
                (true, None)
            } else {
                let secret: String = r.try_get("secret")?;
                let uri = otpauth_uri(&secret, &admin.email);
                let setup = TotpSetup {
                    manual_key: grouped(&secret),
                    qr_data_url: qr_data_url(&uri)?,
                    uri,
                };
                (false, Some(setup))
            }
        }
        None => (false, None),
    };
    let counts = sqlx::query(&format!(
        "SELECT \
           (SELECT COUNT(*) FROM admin_recovery_codes WHERE admin_id = $1 AND used_at IS NULL) AS codes, \
           (SELECT COUNT(*) FROM admin_passkeys WHERE admin_id = $1) AS passkeys, \
           {REQUIRED_SQL} AS required"
    ))
    .bind(&admin.id)
    .bind(&admin.org_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(Status {
        totp_enabled,
        totp_setup,
        recovery_codes_left: counts.try_get("codes")?,
        passkeys: counts.try_get("passkeys")?,
        org_requires: counts.try_get::<Option<i64>, _>("required")?.unwrap_or(0) != 0,
    })
}

// ---- enrolment ---------------------------------------------------------------------------------

/// Starts (or restarts) setting up an authenticator app: a new unconfirmed secret replaces an
/// unconfirmed one. Refused while an app is already confirmed (turn it off first).
pub async fn begin_totp(svc: &Services, admin: &Admin) -> CoreResult<()> {
    let mut bytes = [0u8; TOTP_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = data_encoding::BASE32_NOPAD.encode(&bytes);
    // One statement, so two concurrent starts cannot collide: a confirmed app is never replaced.
    let done = sqlx::query(
        "INSERT INTO admin_totp (admin_id, secret, created_at, confirmed_at, last_used_step) \
         VALUES ($1, $2, $3, NULL, NULL) \
         ON CONFLICT (admin_id) DO UPDATE SET secret = excluded.secret, \
           created_at = excluded.created_at, last_used_step = NULL \
         WHERE admin_totp.confirmed_at IS NULL",
    )
    .bind(&admin.id)
    .bind(&secret)
    .bind(svc.now())
    .execute(&svc.db.pool)
    .await?;
    if done.rows_affected() != 1 {
        return Err(CoreError::Conflict(
            "An authenticator app is already set up. Turn it off first to set up another.".into(),
        ));
    }
    Ok(())
}

/// Confirms the app with a current code: it is on from now, and the admin gets a fresh set of
/// recovery codes (returned once; only their hashes are kept).
pub async fn confirm_totp(svc: &Services, admin: &Admin, code: &str) -> CoreResult<Vec<Secret>> {
    let code = normalise_code(code)
        .ok_or_else(|| CoreError::invalid("Enter the 6-digit code your app shows."))?;
    let now = svc.now();
    let limit = [Limit::new(
        format!("2fa-setup:{}", admin.id),
        MAX_FAILURES * 2,
        FAILURE_WINDOW_MS,
    )];
    if let Some(secs) = crate::throttle::take(&svc.db, &limit, now).await? {
        return Err(CoreError::Throttled {
            retry_after_secs: secs,
        });
    }
    let row =
        sqlx::query("SELECT secret FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NULL")
            .bind(&admin.id)
            .fetch_optional(&svc.db.pool)
            .await?
            .ok_or_else(|| {
                CoreError::Conflict(
                    "There is no authenticator app being set up. Start again.".into(),
                )
            })?;
    let secret = decode_secret(&row.try_get::<String, _>("secret")?)?;
    let step = matching_step(&secret, &code, now).ok_or_else(|| CoreError::invalid(BAD_CODE))?;
    let mut tx = svc.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE admin_totp SET confirmed_at = $2, last_used_step = $3 \
         WHERE admin_id = $1 AND confirmed_at IS NULL",
    )
    .bind(&admin.id)
    .bind(now)
    .bind(step)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(CoreError::Conflict(
            "The authenticator app was already confirmed. Reload the page.".into(),
        ));
    }
    let codes = replace_recovery_codes_in_tx(&mut tx, &admin.id, now).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_2fa_totp_enabled",
            "Authenticator app turned on for two-factor sign-in",
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    crate::throttle::clear(&svc.db, &limit[0].key).await?;
    Ok(codes)
}

/// Serialises the second-factor (and reset-link) changes of one admin ([`crate::db::lock_row`]).
/// Without it two changes at once each acted on what they read on PostgreSQL: a double click on
/// "new recovery codes" left twenty working codes, and removing the app and the last passkey at
/// once left no factor in an org that requires one.
pub(crate) async fn lock_admin_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    admin_id: &str,
) -> CoreResult<()> {
    crate::db::lock_row(tx, crate::db::Locked::Admin, admin_id).await?;
    Ok(())
}

async fn replace_recovery_codes_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    admin_id: &str,
    now: i64,
) -> CoreResult<Vec<Secret>> {
    lock_admin_in_tx(tx, admin_id).await?;
    sqlx::query("DELETE FROM admin_recovery_codes WHERE admin_id = $1")
        .bind(admin_id)
        .execute(&mut **tx)
        .await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let code = new_recovery_code();
        let normalised = normalise_recovery_code(&code)
            .ok_or_else(|| CoreError::Internal("a generated recovery code is malformed".into()))?;
        sqlx::query(
            "INSERT INTO admin_recovery_codes (id, admin_id, code_hash, created_at, used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(new_id())
        .bind(admin_id)
        .bind(recovery_hash(admin_id, &normalised))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        codes.push(Secret::from_string(code));
    }
    Ok(codes)
}

/// A new set of recovery codes; the old ones stop working. Only for an admin with a factor.
pub async fn regenerate_recovery_codes(svc: &Services, admin: &Admin) -> CoreResult<Vec<Secret>> {
    if !has_factor(&svc.db, &admin.id).await? {
        return Err(CoreError::Conflict(
            "Set up an authenticator app or a passkey first.".into(),
        ));
    }
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let codes = replace_recovery_codes_in_tx(&mut tx, &admin.id, now).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_2fa_recovery_regenerated",
            "New recovery codes generated; the previous ones no longer work",
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Refuses to take away an admin's last factor while their organisation requires one.
pub(crate) async fn keep_required_factor_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    admin: &Admin,
) -> CoreResult<()> {
    // Counted after any other removal of this admin's factors has committed (see
    // `lock_admin_in_tx`): this transaction's own removal is already made, so the count sees
    // both.
    lock_admin_in_tx(tx, &admin.id).await?;
    let row = sqlx::query(&format!(
        "SELECT {REQUIRED_SQL} AS required, \
           (SELECT COUNT(*) FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL) AS totp, \
           (SELECT COUNT(*) FROM admin_passkeys WHERE admin_id = $1) AS passkeys"
    ))
    .bind(&admin.id)
    .bind(&admin.org_id)
    .fetch_one(&mut **tx)
    .await?;
    let required = row.try_get::<Option<i64>, _>("required")?.unwrap_or(0) != 0;
    let left = row.try_get::<i64, _>("totp")? + row.try_get::<i64, _>("passkeys")?;
    if required && left == 0 {
        return Err(CoreError::Conflict(
            "Your organisation requires two-factor authentication: add another method before \
             removing this one."
                .into(),
        ));
    }
    if left == 0 {
        // Recovery codes stand in for a factor; with none left they would be a way round nothing.
        sqlx::query("DELETE FROM admin_recovery_codes WHERE admin_id = $1")
            .bind(&admin.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Turns the authenticator app off (or abandons an unconfirmed setup). Needs a current code from
/// the app or the admin's password; wrong proofs are throttled like sign-in codes.
pub async fn disable_totp(svc: &Services, admin: &Admin, proof: &str) -> CoreResult<()> {
    let now = svc.now();
    let enabled = sqlx::query(
        "SELECT secret FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(&admin.id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(row) = enabled else {
        // Only an unconfirmed setup (or nothing): nothing to protect.
        sqlx::query("DELETE FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NULL")
            .bind(&admin.id)
            .execute(&svc.db.pool)
            .await?;
        return Ok(());
    };
    if proof.trim().is_empty() {
        return Err(CoreError::invalid(
            "Enter a current code from your app, or your password.",
        ));
    }
    let key = failure_key(&admin.id);
    let limit = [Limit::new(key.clone(), MAX_FAILURES, FAILURE_WINDOW_MS)];
    if let Some(secs) = crate::throttle::take(&svc.db, &limit, now).await? {
        return Err(CoreError::Throttled {
            retry_after_secs: secs,
        });
    }
    let ok = match normalise_code(proof) {
        Some(code) => {
            let secret = decode_secret(&row.try_get::<String, _>("secret")?)?;
            match matching_step(&secret, &code, now) {
                Some(step) => use_step(&svc.db, &admin.id, step).await?,
                None => false,
            }
        }
        None => password_matches(svc, &admin.id, proof).await?,
    };
    if !ok {
        return Err(CoreError::invalid(
            "That is neither a current code from your app nor your password.",
        ));
    }
    crate::throttle::clear(&svc.db, &key).await?;
    let mut tx = svc.db.begin_write().await?;
    sqlx::query("DELETE FROM admin_totp WHERE admin_id = $1")
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    keep_required_factor_in_tx(&mut tx, admin).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_2fa_totp_disabled",
            "Authenticator app turned off for two-factor sign-in",
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn password_matches(svc: &Services, admin_id: &str, password: &str) -> CoreResult<bool> {
    if password.chars().count() > crate::password::MAX_PASSWORD_LEN {
        return Ok(false);
    }
    let row = sqlx::query("SELECT password_hash FROM admins WHERE id = $1")
        .bind(admin_id)
        .fetch_optional(&svc.db.pool)
        .await?
        .ok_or(CoreError::NotFound)?;
    let stored = crate::password::PasswordHash::from_stored(row.try_get("password_hash")?);
    svc.argon2.verify(password.to_string(), stored).await
}

/// Marks `step` used, atomically: false when it (or a later step) was used already.
async fn use_step(db: &Db, admin_id: &str, step: i64) -> CoreResult<bool> {
    let done = sqlx::query(
        "UPDATE admin_totp SET last_used_step = $2 WHERE admin_id = $1 \
         AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)",
    )
    .bind(admin_id)
    .bind(step)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- the second step of a sign-in ----------------------------------------------------------------

/// The throttle key of an admin's second-factor attempts.
pub fn failure_key(admin_id: &str) -> String {
    format!("2fa:{admin_id}")
}

/// What the admin presented at the second step.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

/// Takes one attempt from the admin's second-factor budget.
pub(crate) async fn take_attempt(svc: &Services, admin_id: &str) -> CoreResult<()> {
    let limit = [Limit::new(
        failure_key(admin_id),
        MAX_FAILURES,
        FAILURE_WINDOW_MS,
    )];
    match crate::throttle::take(&svc.db, &limit, svc.now()).await? {
        None => Ok(()),
        Some(secs) => Err(CoreError::Throttled {
            retry_after_secs: secs,
        }),
    }
}

/// Records a refused second step in the admin's organisation's activity.
pub(crate) async fn record_failure(svc: &Services, admin: &Admin, what: &str) -> CoreResult<()> {
    let mut e = NewEvent::admin(
        &admin.org_id,
        &admin.email,
        "admin_sign_in_2fa_failed",
        &format!("Second sign-in step refused ({what})"),
    );
    e.success = false;
    events::record(&svc.db, e, svc.now()).await
}

/// Checks a TOTP or recovery code for the admin of a pending sign-in. Every attempt counts
/// against [`MAX_FAILURES`] per [`FAILURE_WINDOW_MS`]; a success clears the count. Each code is
/// accepted once.
pub async fn verify_sign_in(
    svc: &Services,
    admin: &Admin,
    presented: Presented<'_>,
) -> CoreResult<()> {
    take_attempt(svc, &admin.id).await?;
    let now = svc.now();
    let (ok, what) = match presented {
        Presented::Totp(raw) => {
            let ok = match normalise_code(raw) {
                Some(code) => {
                    let row = sqlx::query(
                        "SELECT secret FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL",
                    )
                    .bind(&admin.id)
                    .fetch_optional(&svc.db.pool)
                    .await?;
                    match row {
                        Some(r) => {
                            let secret = decode_secret(&r.try_get::<String, _>("secret")?)?;
                            match matching_step(&secret, &code, now) {
                                Some(step) => use_step(&svc.db, &admin.id, step).await?,
                                None => false,
                            }
                        }
                        None => false,
                    }
                }
                None => false,
            };
            (ok, "authenticator code")
        }
        Presented::RecoveryCode(raw) => {
            let ok = match normalise_recovery_code(raw) {
                Some(code) => {
                    let done = sqlx::query(
                        "UPDATE admin_recovery_codes SET used_at = $3 \
                         WHERE admin_id = $1 AND code_hash = $2 AND used_at IS NULL",
                    )
                    .bind(&admin.id)
                    .bind(recovery_hash(&admin.id, &code))
                    .bind(now)
                    .execute(&svc.db.pool)
                    .await?;
                    done.rows_affected() == 1
                }
                None => false,
            };
            (ok, "recovery code")
        }
    };
    if !ok {
        record_failure(svc, admin, what).await?;
        return Err(CoreError::invalid(BAD_CODE));
    }
    crate::throttle::clear(&svc.db, &failure_key(&admin.id)).await?;
    let (name, message) = match presented {
        Presented::Totp(_) => (
            "admin_sign_in_2fa",
            "Second sign-in step passed with an authenticator code".to_string(),
        ),
        Presented::RecoveryCode(_) => {
            let left: (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM admin_recovery_codes WHERE admin_id = $1 AND used_at IS NULL",
            )
            .bind(&admin.id)
            .fetch_one(&svc.db.pool)
            .await?;
            (
                "admin_2fa_recovery_used",
                format!(
                    "Recovery code used for the second sign-in step ({} left)",
                    left.0
                ),
            )
        }
    };
    events::record(
        &svc.db,
        NewEvent::admin(&admin.org_id, &admin.email, name, &message),
        now,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit values' last six digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp_code(secret, step_at(t * 1000)), code, "t = {t}");
        }
    }

    #[test]
    fn window_is_one_step_either_side() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111_000;
        let s = step_at(now);
        for d in -1..=1 {
            assert_eq!(
                matching_step(secret, &totp_code(secret, s + d), now),
                Some(s + d)
            );
        }
        assert_eq!(matching_step(secret, &totp_code(secret, s - 2), now), None);
        assert_eq!(matching_step(secret, &totp_code(secret, s + 2), now), None);
    }

    #[test]
    fn codes_are_normalised_and_malformed_ones_refused() {
        assert_eq!(normalise_code(" 123 456 ").as_deref(), Some("123456"));
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(normalise_code(bad), None, "{bad}");
        }
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        let n = normalise_recovery_code(&code.to_uppercase()).unwrap();
        assert_eq!(normalise_recovery_code(&code).unwrap(), n);
        assert_eq!(normalise_recovery_code("abcd-efgh-ijkl-mno1"), None);
        assert_eq!(normalise_recovery_code("abcd"), None);
    }

    #[test]
    fn otpauth_uri_escapes_the_account() {
        let uri = otpauth_uri("ABC", "a b+c@example.com");
        assert!(uri.starts_with("otpauth://totp/Identity%20portal:a%20b%2Bc%40example.com?secret=ABC&issuer=Identity%20portal"));
        assert!(qr_data_url(&uri)
            .unwrap()
            .starts_with("data:image/svg+xml;base64,"));
    }
}
