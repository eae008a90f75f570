//! Passkeys (WebAuthn) as an admin's second factor, with `webauthn-rs`: the relying party is the
//! host of `PUBLIC_URL` and the only accepted origin is `PUBLIC_URL` itself. A ceremony's state
//! (its challenge) lives in the server-side session (`session::put_passkey_ceremony`), is bound
//! to the admin it was started for, expires with the pending sign-in, and is taken out when
//! answered, so each challenge is answered at most once.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use webauthn_rs::prelude::{
    CredentialID, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::admins::Admin;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::{Db, Services};

pub const MAX_NAME_LEN: usize = 60;
pub const MAX_PASSKEYS_PER_ADMIN: i64 = 10;
/// How long a browser has to answer a challenge.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// A credential JSON larger than this is refused before parsing.
const MAX_CREDENTIAL_JSON: usize = 64 * 1024;

/// A registered passkey as the screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What the session keeps between a challenge and its answer.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ceremony {
    Register {
        admin_id: String,
        name: String,
        expires_at: i64,
        state: PasskeyRegistration,
    },
    SignIn {
        admin_id: String,
        expires_at: i64,
        state: PasskeyAuthentication,
    },
}

/// The relying party of this deployment, or a clear refusal when `PUBLIC_URL` cannot be one
/// (WebAuthn needs a domain name: an IP address is not a valid relying-party id).
pub fn relying_party(svc: &Services) -> CoreResult<Webauthn> {
    let unavailable = || {
        CoreError::Conflict(
            "Passkeys need the portal to be served under a domain name (PUBLIC_URL); ask your \
             operator. Use an authenticator app instead."
                .into(),
        )
    };
    let origin = Url::parse(&svc.settings.public_url).map_err(|_| unavailable())?;
    let rp_id = origin.domain().ok_or_else(unavailable)?.to_string();
    WebauthnBuilder::new(&rp_id, &origin)
        .map_err(|_| unavailable())?
        .rp_name(crate::two_factor::ISSUER)
        .build()
        .map_err(|_| unavailable())
}

/// Whether passkeys can be used on this deployment.
pub fn available(svc: &Services) -> bool {
    relying_party(svc).is_ok()
}

pub fn validate_name(raw: &str) -> CoreResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(CoreError::invalid(
            "Name the passkey, for example \"Work laptop\".",
        ));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(CoreError::invalid(format!(
            "The passkey's name must be at most {MAX_NAME_LEN} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "The passkey's name contains control characters.",
        ));
    }
    Ok(name.to_string())
}

/// The WebAuthn user handle of an admin: their id when it is a UUID (it always is), else a
/// stable hash of it.
fn user_handle(admin_id: &str) -> Uuid {
    Uuid::parse_str(admin_id).unwrap_or_else(|_| {
        let digest = crate::secret::sha256_hex(admin_id);
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).unwrap_or(0);
        }
        Uuid::from_bytes(bytes)
    })
}

fn credential_key(id: &CredentialID) -> String {
    hex::encode(id.as_ref())
}

pub async fn list(db: &Db, admin_id: &str) -> CoreResult<Vec<PasskeyInfo>> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_used_at FROM admin_passkeys WHERE admin_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(admin_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PasskeyInfo {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// The admin's passkeys with their stored id.
async fn stored(db: &Db, admin_id: &str) -> CoreResult<Vec<(String, String, Passkey)>> {
    let rows = sqlx::query("SELECT id, passkey FROM admin_passkeys WHERE admin_id = $1")
        .bind(admin_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            let raw: String = r.try_get("passkey")?;
            let pk: Passkey = serde_json::from_str(&raw)
                .map_err(|e| CoreError::Internal(format!("stored passkey: {e}")))?;
            Ok((r.try_get("id")?, raw, pk))
        })
        .collect()
}

/// Starts registering a passkey named `name`: the options for `navigator.credentials.create`
/// (JSON) and the state to keep in the session.
pub async fn begin_registration(
    svc: &Services,
    admin: &Admin,
    name: &str,
) -> CoreResult<(String, Ceremony)> {
    let name = validate_name(name)?;
    let rp = relying_party(svc)?;
    let existing = stored(&svc.db, &admin.id).await?;
    if existing.len() as i64 >= MAX_PASSKEYS_PER_ADMIN {
        return Err(CoreError::Conflict(format!(
            "You have {MAX_PASSKEYS_PER_ADMIN} passkeys, the most an account may have. Remove one first."
        )));
    }
    let exclude: Vec<CredentialID> = existing
        .iter()
        .map(|(_, _, pk)| pk.cred_id().clone())
        .collect();
    let (options, state) = rp
        .start_passkey_registration(
            user_handle(&admin.id),
            &admin.email,
            &admin.email,
            Some(exclude),
        )
        .map_err(|e| CoreError::Internal(format!("passkey registration: {e}")))?;
    let json = serde_json::to_string(&options)
        .map_err(|e| CoreError::Internal(format!("passkey options: {e}")))?;
    Ok((
        json,
        Ceremony::Register {
            admin_id: admin.id.clone(),
            name,
            expires_at: svc.now() + CEREMONY_TTL_MS,
            state,
        },
    ))
}

/// Finishes a registration with the browser's answer (JSON of the `PublicKeyCredential`).
pub async fn finish_registration(
    svc: &Services,
    admin: &Admin,
    ceremony: Option<Ceremony>,
    credential_json: &str,
) -> CoreResult<PasskeyInfo> {
    let expired =
        || CoreError::invalid("The passkey request expired or was already answered. Try again.");
    let Some(Ceremony::Register {
        admin_id,
        name,
        expires_at,
        state,
    }) = ceremony
    else {
        return Err(expired());
    };
    let now = svc.now();
    if admin_id != admin.id || expires_at <= now {
        return Err(expired());
    }
    let credential: RegisterPublicKeyCredential = parse_credential(credential_json)?;
    let rp = relying_party(svc)?;
    let passkey = rp
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            CoreError::invalid("The passkey could not be verified. Try again.")
        })?;
    let json = serde_json::to_string(&passkey)
        .map_err(|e| CoreError::Internal(format!("passkey: {e}")))?;
    let info = PasskeyInfo {
        id: new_id(),
        name,
        created_at: now,
        last_used_at: None,
    };
    let mut tx = svc.db.begin_write().await?;
    // Counted after any other add of this admin's has committed: adds at once cannot pass the
    // limit together.
    crate::two_factor::lock_admin_in_tx(&mut tx, &admin.id).await?;
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM admin_passkeys WHERE admin_id = $1")
        .bind(&admin.id)
        .fetch_one(&mut **tx)
        .await?;
    if count.0 >= MAX_PASSKEYS_PER_ADMIN {
        return Err(CoreError::Conflict(format!(
            "You have {MAX_PASSKEYS_PER_ADMIN} passkeys, the most an account may have. Remove one first."
        )));
    }
    sqlx::query(
        "INSERT INTO admin_passkeys (id, admin_id, name, credential_id, passkey, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(&info.id)
    .bind(&admin.id)
    .bind(&info.name)
    .bind(credential_key(passkey.cred_id()))
    .bind(&json)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if CoreError::is_unique_violation(&e) {
            CoreError::Conflict("This passkey is already registered.".into())
        } else {
            e.into()
        }
    })?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_2fa_passkey_added",
            &format!("Passkey \"{}\" added for two-factor sign-in", info.name),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(info)
}

/// Removes one of the caller's own passkeys; another admin's (any org's) is "not found".
pub async fn remove(svc: &Services, admin: &Admin, passkey_id: &str) -> CoreResult<()> {
    if passkey_id.is_empty() || passkey_id.len() > 64 {
        return Err(CoreError::NotFound);
    }
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let row = sqlx::query("SELECT name FROM admin_passkeys WHERE id = $1 AND admin_id = $2")
        .bind(passkey_id)
        .bind(&admin.id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CoreError::NotFound)?;
    let name: String = row.try_get("name")?;
    sqlx::query("DELETE FROM admin_passkeys WHERE id = $1 AND admin_id = $2")
        .bind(passkey_id)
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    crate::two_factor::keep_required_factor_in_tx(&mut tx, admin).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_2fa_passkey_removed",
            &format!("Passkey \"{name}\" removed"),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts the passkey step of a pending sign-in: the options for `navigator.credentials.get`
/// (JSON) and the state to keep in the session.
pub async fn begin_authentication(svc: &Services, admin: &Admin) -> CoreResult<(String, Ceremony)> {
    let rp = relying_party(svc)?;
    let keys: Vec<Passkey> = stored(&svc.db, &admin.id)
        .await?
        .into_iter()
        .map(|(_, _, pk)| pk)
        .collect();
    if keys.is_empty() {
        return Err(CoreError::Conflict(
            "This account has no passkey. Use your authenticator app or a recovery code.".into(),
        ));
    }
    let (options, state) = rp
        .start_passkey_authentication(&keys)
        .map_err(|e| CoreError::Internal(format!("passkey authentication: {e}")))?;
    let json = serde_json::to_string(&options)
        .map_err(|e| CoreError::Internal(format!("passkey options: {e}")))?;
    Ok((
        json,
        Ceremony::SignIn {
            admin_id: admin.id.clone(),
            expires_at: svc.now() + CEREMONY_TTL_MS,
            state,
        },
    ))
}

/// Finishes the passkey step of a pending sign-in. Counts against the admin's second-factor
/// budget like a code; the stored credential (its signature counter) is updated only if nobody
/// else updated it meanwhile, so one assertion cannot be accepted twice by racing requests.
pub async fn finish_authentication(
    svc: &Services,
    admin: &Admin,
    ceremony: Option<Ceremony>,
    credential_json: &str,
) -> CoreResult<()> {
    crate::two_factor::take_attempt(svc, &admin.id).await?;
    let now = svc.now();
    let refused =
        || CoreError::invalid("The passkey was not accepted. Try again, or use another method.");
    let state = match ceremony {
        Some(Ceremony::SignIn {
            admin_id,
            expires_at,
            state,
        }) if admin_id == admin.id && expires_at > now => state,
        _ => {
            crate::two_factor::record_failure(svc, admin, "passkey challenge expired").await?;
            return Err(refused());
        }
    };
    let credential: PublicKeyCredential = match parse_credential(credential_json) {
        Ok(c) => c,
        Err(e) => {
            crate::two_factor::record_failure(svc, admin, "malformed passkey answer").await?;
            return Err(e);
        }
    };
    let rp = relying_party(svc)?;
    let result = match rp.finish_passkey_authentication(&credential, &state) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            crate::two_factor::record_failure(svc, admin, "passkey").await?;
            return Err(refused());
        }
    };
    let used = credential_key(result.cred_id());
    let mut found = None;
    for (id, raw, pk) in stored(&svc.db, &admin.id).await? {
        if credential_key(pk.cred_id()) == used {
            found = Some((id, raw, pk));
        }
    }
    let Some((id, raw, mut pk)) = found else {
        crate::two_factor::record_failure(svc, admin, "passkey removed").await?;
        return Err(refused());
    };
    pk.update_credential(&result);
    let json =
        serde_json::to_string(&pk).map_err(|e| CoreError::Internal(format!("passkey: {e}")))?;
    let mut tx = svc.db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE admin_passkeys SET passkey = $1, last_used_at = $2 \
         WHERE id = $3 AND admin_id = $4 AND passkey = $5",
    )
    .bind(&json)
    .bind(now)
    .bind(&id)
    .bind(&admin.id)
    .bind(&raw)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        drop(tx);
        crate::two_factor::record_failure(svc, admin, "passkey used concurrently").await?;
        return Err(refused());
    }
    let name: (String,) = sqlx::query_as("SELECT name FROM admin_passkeys WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut **tx)
        .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_sign_in_2fa",
            &format!("Second sign-in step passed with passkey \"{}\"", name.0),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    crate::throttle::clear(&svc.db, &crate::two_factor::failure_key(&admin.id)).await?;
    Ok(())
}

fn parse_credential<T: serde::de::DeserializeOwned>(raw: &str) -> CoreResult<T> {
    if raw.len() > MAX_CREDENTIAL_JSON {
        return Err(CoreError::invalid("The passkey answer is too large."));
    }
    serde_json::from_str(raw).map_err(|_| CoreError::invalid("The passkey answer is malformed."))
}
