//! SAML single sign-on for an organisation: its IdP configuration (validated exactly alike from the
//! screen and the CLI), SP-initiated requests, and the ACS outcome — sign-in, JIT provisioning,
//! Test sign-in results — with every outcome recorded as an event.

use portal_saml::attributes::{profile, Profile};
use portal_saml::cert::{parse_certificate, CertInfo};
use portal_saml::response::{self, Expectations, Failure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::magic_links::Employee;
use crate::manage::UserForm;
use crate::throttle::Limit;
use crate::users::{self, Source};
use crate::Services;

/// Clock skew tolerated on every time in an assertion.
pub const SKEW_MS: i64 = 180_000;
/// How long an AuthnRequest may wait for its answer.
pub const REQUEST_TTL_MS: i64 = 10 * 60_000;
/// Certificates are flagged this long before they expire.
pub const EXPIRY_WARNING_MS: i64 = 30 * 24 * 3_600_000;

/// The URLs an IdP needs, all derived from `PUBLIC_URL` and the Org ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpUrls {
    pub entity_id: String,
    pub acs_url: String,
    pub login_url: String,
    pub metadata_url: String,
}

pub fn sp_urls(svc: &Services, org_id: &str) -> SpUrls {
    let base = format!("{}/saml/{}", svc.settings.public_url, org_id);
    SpUrls {
        entity_id: format!("{base}/metadata"),
        acs_url: format!("{base}/acs"),
        login_url: format!("{base}/login"),
        metadata_url: format!("{base}/metadata"),
    }
}

/// What an admin (or the `sso-config` command) submits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoInput {
    pub sso_url: String,
    pub certificate: String,
    /// Empty = none.
    pub next_certificate: String,
    /// Empty = do not check Issuer.
    pub idp_entity_id: String,
    pub jit_enabled: bool,
    pub require_sso: bool,
    /// Refuse IdP-initiated (unsolicited) responses: every sign-in must answer a request this
    /// browser started (no login CSRF). Off by default: IdP dashboards launch IdP-initiated.
    pub refuse_unsolicited: bool,
    /// The admin acknowledged that a certificate is already expired.
    pub accept_expired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConfig {
    pub org_id: String,
    pub sso_url: String,
    pub idp_entity_id: Option<String>,
    pub certificate: CertInfo,
    pub next_certificate: Option<CertInfo>,
    pub jit_enabled: bool,
    pub require_sso: bool,
    pub refuse_unsolicited: bool,
    pub updated_at: i64,
    pub updated_by: String,
    pub last_success_at: Option<i64>,
    pub last_success_fingerprint: Option<String>,
}

fn cert_error(which: &str, e: portal_saml::cert::CertError) -> CoreError {
    CoreError::invalid(format!("{which}: {e}"))
}

/// Validates the input; nothing is stored when this fails.
pub fn validate_input(
    input: &SsoInput,
    now: i64,
) -> CoreResult<(String, Option<String>, CertInfo, Option<CertInfo>)> {
    let url = portal_saml::check_sso_url(&input.sso_url).map_err(CoreError::invalid)?;
    let cert =
        parse_certificate(&input.certificate).map_err(|e| cert_error("Public certificate", e))?;
    let next = if input.next_certificate.trim().is_empty() {
        None
    } else {
        Some(
            parse_certificate(&input.next_certificate)
                .map_err(|e| cert_error("Next certificate", e))?,
        )
    };
    if let Some(n) = &next {
        if n.fingerprint == cert.fingerprint {
            return Err(CoreError::invalid(
                "The next certificate is the same as the current one.",
            ));
        }
    }
    for (which, c) in std::iter::once(("public certificate", &cert))
        .chain(next.iter().map(|n| ("next certificate", n)))
    {
        if c.expired_at(now) && !input.accept_expired {
            return Err(CoreError::invalid(format!(
                "The {which} expired on {}. Sign-ins signed with it will keep failing once the IdP \
                 rotates; tick “I understand the certificate has expired” to save it anyway.",
                crate::clock::rfc3339(c.not_after)
            )));
        }
    }
    let issuer = input.idp_entity_id.trim();
    if issuer.chars().count() > 1024 || issuer.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "The IdP entity ID must be a single line of at most 1024 characters.",
        ));
    }
    Ok((
        url.to_string(),
        (!issuer.is_empty()).then(|| issuer.to_string()),
        cert,
        next,
    ))
}

fn describe_change(old: Option<&SsoConfig>, new: &SsoConfig) -> String {
    let Some(old) = old else {
        return format!(
            "SSO configured: endpoint {}, certificate {}",
            new.sso_url, new.certificate.fingerprint
        );
    };
    let mut parts = Vec::new();
    if old.sso_url != new.sso_url {
        parts.push(format!("endpoint {} → {}", old.sso_url, new.sso_url));
    }
    if old.certificate.fingerprint != new.certificate.fingerprint {
        parts.push(format!(
            "certificate {} → {}",
            old.certificate.fingerprint, new.certificate.fingerprint
        ));
    }
    let fp = |c: &Option<CertInfo>| c.as_ref().map(|c| c.fingerprint.clone());
    if fp(&old.next_certificate) != fp(&new.next_certificate) {
        parts.push(format!(
            "next certificate {}",
            fp(&new.next_certificate).unwrap_or_else(|| "removed".into())
        ));
    }
    if old.idp_entity_id != new.idp_entity_id {
        parts.push(format!(
            "IdP entity ID {}",
            new.idp_entity_id
                .clone()
                .unwrap_or_else(|| "cleared".into())
        ));
    }
    if old.jit_enabled != new.jit_enabled {
        parts.push(format!(
            "JIT provisioning {}",
            if new.jit_enabled { "on" } else { "off" }
        ));
    }
    if old.require_sso != new.require_sso {
        parts.push(format!(
            "Require SSO {}",
            if new.require_sso { "on" } else { "off" }
        ));
    }
    if old.refuse_unsolicited != new.refuse_unsolicited {
        parts.push(format!(
            "IdP-initiated sign-in {}",
            if new.refuse_unsolicited {
                "refused"
            } else {
                "accepted"
            }
        ));
    }
    if parts.is_empty() {
        "SSO configuration saved (no changes)".into()
    } else {
        format!("SSO configuration changed: {}", parts.join("; "))
    }
}

fn row_to_config(r: &sqlx::any::AnyRow) -> CoreResult<SsoConfig> {
    let pem: String = r.try_get("cert_pem")?;
    let next: Option<String> = r.try_get("next_cert_pem")?;
    let parse = |p: &str| {
        parse_certificate(p).map_err(|e| CoreError::Internal(format!("stored certificate: {e}")))
    };
    Ok(SsoConfig {
        org_id: r.try_get("org_id")?,
        sso_url: r.try_get("sso_url")?,
        idp_entity_id: r.try_get("idp_entity_id")?,
        certificate: parse(&pem)?,
        next_certificate: next.as_deref().map(parse).transpose()?,
        jit_enabled: r.try_get::<i64, _>("jit_enabled")? != 0,
        require_sso: r.try_get::<i64, _>("require_sso")? != 0,
        refuse_unsolicited: r.try_get::<i64, _>("refuse_unsolicited")? != 0,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
        last_success_at: r.try_get("last_success_at")?,
        last_success_fingerprint: r.try_get("last_success_fingerprint")?,
    })
}

const SELECT: &str = "SELECT org_id, sso_url, idp_entity_id, cert_pem, next_cert_pem, jit_enabled, \
     require_sso, refuse_unsolicited, updated_at, updated_by, last_success_at, last_success_fingerprint FROM sso_configs \
     WHERE org_id = $1";

pub async fn get(svc: &Services, org_id: &str) -> CoreResult<Option<SsoConfig>> {
    let row = sqlx::query(SELECT)
        .bind(org_id)
        .fetch_optional(&svc.db.pool)
        .await?;
    row.as_ref().map(row_to_config).transpose()
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

/// Saves the configuration (create or replace) after validating all of it.
pub async fn save(
    svc: &Services,
    org_id: &str,
    actor: &str,
    input: &SsoInput,
) -> CoreResult<SsoConfig> {
    let now = svc.now();
    let (sso_url, issuer, cert, next) = validate_input(input, now)?;
    let mut tx = svc.db.begin_write().await?;
    let old = sqlx::query(SELECT)
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(row_to_config)
        .transpose()?;
    let org_exists = sqlx::query("SELECT 1 FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    if !org_exists {
        return Err(CoreError::NotFound);
    }
    sqlx::query("DELETE FROM sso_configs WHERE org_id = $1")
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO sso_configs (org_id, sso_url, idp_entity_id, cert_pem, next_cert_pem, jit_enabled, \
         require_sso, created_at, updated_at, updated_by, last_success_at, last_success_fingerprint, \
         refuse_unsolicited) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(org_id)
    .bind(&sso_url)
    .bind(&issuer)
    .bind(&cert.pem)
    .bind(next.as_ref().map(|n| n.pem.clone()))
    .bind(i64::from(input.jit_enabled))
    .bind(i64::from(input.require_sso))
    .bind(old.as_ref().map(|o| o.updated_at).unwrap_or(now))
    .bind(now)
    .bind(actor)
    .bind(old.as_ref().and_then(|o| o.last_success_at))
    .bind(old.as_ref().and_then(|o| o.last_success_fingerprint.clone()))
    .bind(i64::from(input.refuse_unsolicited))
    .execute(&mut **tx)
    .await?;
    let new = SsoConfig {
        org_id: org_id.to_string(),
        sso_url,
        idp_entity_id: issuer,
        certificate: cert,
        next_certificate: next,
        jit_enabled: input.jit_enabled,
        require_sso: input.require_sso,
        refuse_unsolicited: input.refuse_unsolicited,
        updated_at: now,
        updated_by: actor.to_string(),
        last_success_at: old.as_ref().and_then(|o| o.last_success_at),
        last_success_fingerprint: old
            .as_ref()
            .and_then(|o| o.last_success_fingerprint.clone()),
    };
    let message = describe_change(old.as_ref(), &new);
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(org_id, actor, "sso_config_update", &message),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Rollover: the next certificate becomes the only one.
pub async fn promote_next(svc: &Services, org_id: &str, actor: &str) -> CoreResult<SsoConfig> {
    let cfg = get(svc, org_id).await?.ok_or(CoreError::NotFound)?;
    let next = cfg
        .next_certificate
        .clone()
        .ok_or_else(|| CoreError::invalid("There is no next certificate to promote."))?;
    save(
        svc,
        org_id,
        actor,
        &SsoInput {
            certificate: next.pem,
            next_certificate: String::new(),
            accept_expired: true,
            ..input_of(&cfg)
        },
    )
    .await
}

/// Rollover: forget the next certificate.
pub async fn remove_next(svc: &Services, org_id: &str, actor: &str) -> CoreResult<SsoConfig> {
    let cfg = get(svc, org_id).await?.ok_or(CoreError::NotFound)?;
    save(
        svc,
        org_id,
        actor,
        &SsoInput {
            next_certificate: String::new(),
            accept_expired: true,
            ..input_of(&cfg)
        },
    )
    .await
}

/// Turns JIT and Require SSO on or off.
pub async fn set_options(
    svc: &Services,
    org_id: &str,
    actor: &str,
    jit_enabled: bool,
    require_sso: bool,
) -> CoreResult<SsoConfig> {
    let cfg = get(svc, org_id).await?.ok_or(CoreError::NotFound)?;
    save(
        svc,
        org_id,
        actor,
        &SsoInput {
            jit_enabled,
            require_sso,
            accept_expired: true,
            ..input_of(&cfg)
        },
    )
    .await
}

pub fn input_of(cfg: &SsoConfig) -> SsoInput {
    SsoInput {
        sso_url: cfg.sso_url.clone(),
        certificate: cfg.certificate.pem.clone(),
        next_certificate: cfg
            .next_certificate
            .as_ref()
            .map(|c| c.pem.clone())
            .unwrap_or_default(),
        idp_entity_id: cfg.idp_entity_id.clone().unwrap_or_default(),
        jit_enabled: cfg.jit_enabled,
        require_sso: cfg.require_sso,
        refuse_unsolicited: cfg.refuse_unsolicited,
        accept_expired: false,
    }
}

/// Deactivates SSO: the configuration is removed and employees sign in by magic link again.
pub async fn deactivate(svc: &Services, org_id: &str, actor: &str) -> CoreResult<()> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let gone = sqlx::query("DELETE FROM sso_configs WHERE org_id = $1")
        .bind(org_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(CoreError::NotFound);
    }
    sqlx::query("DELETE FROM saml_requests WHERE org_id = $1")
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            org_id,
            actor,
            "sso_deactivate",
            "SSO deactivated; employees sign in by magic link",
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What an IdP metadata import would set, and what would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataPreview {
    pub sso_url: String,
    pub idp_entity_id: String,
    pub certificate: CertInfo,
    pub next_certificate: Option<CertInfo>,
    pub changes: Vec<String>,
}

pub async fn preview_metadata(
    svc: &Services,
    org_id: &str,
    xml: &str,
) -> CoreResult<MetadataPreview> {
    let md = portal_saml::metadata::parse_idp_metadata(xml)
        .map_err(|e| CoreError::invalid(e.to_string()))?;
    portal_saml::check_sso_url(&md.sso_url)
        .map_err(|e| CoreError::invalid(format!("The metadata's SSO endpoint: {e}")))?;
    let mut certs = md.certificates.into_iter();
    let certificate = certs.next().expect("at least one certificate");
    let next_certificate = certs.next();
    let old = get(svc, org_id).await?;
    let mut changes = Vec::new();
    let sso_before = old.as_ref().map(|o| o.sso_url.as_str());
    if sso_before != Some(md.sso_url.as_str()) {
        changes.push(format!(
            "SAML 2.0 endpoint: {} → {}",
            sso_before.unwrap_or("(none)"),
            md.sso_url
        ));
    }
    let issuer_before = old.as_ref().and_then(|o| o.idp_entity_id.clone());
    if issuer_before.as_deref() != Some(md.entity_id.as_str()) {
        changes.push(format!(
            "IdP entity ID: {} → {}",
            issuer_before.as_deref().unwrap_or("(none)"),
            md.entity_id
        ));
    }
    let cert_before = old.as_ref().map(|o| o.certificate.fingerprint.clone());
    if cert_before.as_deref() != Some(certificate.fingerprint.as_str()) {
        changes.push(format!(
            "Public certificate: {} → {}",
            cert_before.as_deref().unwrap_or("(none)"),
            certificate.fingerprint
        ));
    }
    let next_before = old
        .as_ref()
        .and_then(|o| o.next_certificate.as_ref().map(|c| c.fingerprint.clone()));
    let next_after = next_certificate.as_ref().map(|c| c.fingerprint.clone());
    if next_before != next_after {
        changes.push(format!(
            "Next certificate: {} → {}",
            next_before.as_deref().unwrap_or("(none)"),
            next_after.as_deref().unwrap_or("(none)")
        ));
    }
    Ok(MetadataPreview {
        sso_url: md.sso_url,
        idp_entity_id: md.entity_id,
        certificate,
        next_certificate,
        changes,
    })
}

// ---- SP-initiated requests --------------------------------------------------------------------

pub fn browser_hash(browser_secret: &str) -> String {
    hex::encode(Sha256::digest(browser_secret.as_bytes()))
}

/// A RelayState we will redirect to: a local path only (`/…`, not `//…`, no scheme, no
/// backslashes or control characters), else nothing.
pub fn local_path(relay: Option<&str>) -> Option<String> {
    let r = relay?.trim();
    if r.len() > 1024
        || !r.starts_with('/')
        || r.starts_with("//")
        || r.contains('\\')
        || r.chars().any(|c| c.is_control())
    {
        return None;
    }
    Some(r.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Test,
}

/// Starts SP-initiated sign-in: stores the request (single use, bound to the browser) and returns
/// the IdP URL to redirect to.
/// Sign-in starts per client address and organisation (each stores a request row).
pub const MAX_STARTS_PER_CLIENT: i64 = 30;
pub const STARTS_WINDOW_MS: i64 = 10 * 60_000;

#[allow(clippy::too_many_arguments)]
pub async fn start(
    svc: &Services,
    org_id: &str,
    browser_secret: &str,
    relay_state: Option<&str>,
    purpose: Purpose,
    admin_id: Option<&str>,
    client: &str,
) -> CoreResult<String> {
    let cfg = get(svc, org_id).await?.ok_or(CoreError::NotFound)?;
    let urls = sp_urls(svc, org_id);
    let now = svc.now();
    let key = format!("saml-start:{org_id}:{client}");
    let limit = [Limit::new(key, MAX_STARTS_PER_CLIENT, STARTS_WINDOW_MS)];
    if let Some(secs) = crate::throttle::take(&svc.db, &limit, now).await? {
        return Err(CoreError::Throttled {
            retry_after_secs: secs,
        });
    }
    let id = portal_saml::authn::new_request_id();
    let relay = local_path(relay_state);
    let xml = portal_saml::authn::authn_request_xml(
        &id,
        &crate::clock::rfc3339(now),
        &cfg.sso_url,
        &urls.acs_url,
        &urls.entity_id,
    );
    let url = portal_saml::authn::redirect_url(&cfg.sso_url, &xml, relay.as_deref())
        .map_err(|e| CoreError::Internal(format!("stored SSO URL: {e}")))?;
    let mut tx = svc.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO saml_requests (id, org_id, browser_hash, purpose, admin_id, relay_state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(browser_hash(browser_secret))
    .bind(match purpose {
        Purpose::Login => "login",
        Purpose::Test => "test",
    })
    .bind(admin_id)
    .bind(&relay)
    .bind(now)
    .bind(now + REQUEST_TTL_MS)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(url)
}

// ---- the ACS ----------------------------------------------------------------------------------

/// What Test sign-in shows the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub success: bool,
    /// The precise failure, when it failed.
    pub failure: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub issuer: Option<String>,
    pub certificate_fingerprint: Option<String>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub profile: Option<Profile>,
    pub at: i64,
}

#[derive(Debug)]
pub enum AcsOutcome {
    SignedIn {
        employee: Employee,
        redirect: String,
    },
    /// An admin's Test sign-in finished; its result is stored under the request ID.
    Tested { request_id: String },
    /// Refused; the message is for the employee's page (the admin sees the detail in Recent SSO
    /// failures).
    Refused { message: String },
}

struct Pending {
    id: String,
    purpose: String,
    relay_state: Option<String>,
}

async fn pending_request(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    id: &str,
    browser: Option<&str>,
    now: i64,
) -> CoreResult<Option<Pending>> {
    let Some(browser) = browser else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT id, purpose, relay_state FROM saml_requests WHERE id = $1 AND org_id = $2 \
         AND browser_hash = $3 AND consumed_at IS NULL AND expires_at > $4",
    )
    .bind(id)
    .bind(org_id)
    .bind(browser_hash(browser))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Pending {
            id: r.try_get("id")?,
            purpose: r.try_get("purpose")?,
            relay_state: r.try_get("relay_state")?,
        })
    })
    .transpose()
}

fn failure_event(org_id: &str, user_id: Option<String>, reason: &str) -> NewEvent {
    NewEvent {
        org_id: org_id.to_string(),
        name: "sso_sign_in".into(),
        success: false,
        user_id,
        actor: "idp".into(),
        scim_type: None,
        message: format!("SSO sign-in refused: {reason}"),
        detail: Some(reason.to_string()),
    }
}

/// Failure events an ACS records per client and org, and per org.
pub const MAX_FAILURE_EVENTS_PER_CLIENT: i64 = 20;
pub const FAILURE_EVENTS_CLIENT_WINDOW_MS: i64 = 10 * 60_000;
pub const MAX_FAILURE_EVENTS_PER_ORG: i64 = 200;
pub const FAILURE_EVENTS_ORG_WINDOW_MS: i64 = 3_600_000;

const GENERIC_REFUSAL: &str = "Single sign-on did not work. Ask your administrator to check the \
     Single Sign-On settings (Recent SSO failures names the reason).";

/// Handles a POST to the ACS. Never trusts the message before it is verified; InResponseTo and
/// the replay cache are checked here, in the same transaction that acts on the assertion.
pub async fn acs(
    svc: &Services,
    org_id: &str,
    saml_response: &str,
    posted_relay_state: Option<&str>,
    browser_secret: Option<&str>,
    client: &str,
) -> CoreResult<AcsOutcome> {
    let now = svc.now();
    let Some(cfg) = get(svc, org_id).await? else {
        // Unknown orgs and orgs without SSO look the same from outside.
        return Ok(AcsOutcome::Refused {
            message: "Single sign-on is not set up for this organisation.".into(),
        });
    };
    let urls = sp_urls(svc, org_id);
    let certs: Vec<Vec<u8>> = std::iter::once(&cfg.certificate)
        .chain(cfg.next_certificate.iter())
        .map(|c| c.der())
        .collect();
    let decoded = response::decode(saml_response);
    // Signature verification is CPU work in C: off the async workers.
    let verdict = match &decoded {
        Err(f) => Err(f.clone()),
        Ok(xml) => {
            let xml = xml.clone();
            let entity_id = urls.entity_id.clone();
            let acs_url = urls.acs_url.clone();
            let issuer = cfg.idp_entity_id.clone();
            let certs = certs.clone();
            tokio::task::spawn_blocking(move || {
                response::validate(
                    &xml,
                    &Expectations {
                        entity_id: &entity_id,
                        acs_url: &acs_url,
                        idp_issuer: issuer.as_deref(),
                        certificates: &certs,
                        now_ms: now,
                        skew_ms: SKEW_MS,
                    },
                )
            })
            .await
            .map_err(|e| CoreError::Internal(format!("SAML validation task: {e}")))?
        }
    };

    let verified = match verdict {
        Ok(v) => v,
        Err(failure) => {
            // A failed Test sign-in still reports to the admin who started it. The (unverified)
            // InResponseTo only routes the report; it grants nothing.
            let irt = decoded.as_deref().ok().and_then(unverified_in_response_to);
            return refuse(
                svc,
                org_id,
                client,
                &failure,
                irt.as_deref(),
                browser_secret,
                now,
            )
            .await;
        }
    };

    let mut tx = svc.db.begin_write().await?;
    // InResponseTo: when present it must be an outstanding request of this browser.
    let pending = match &verified.in_response_to {
        Some(irt) => match pending_request(&mut tx, org_id, irt, browser_secret, now).await? {
            Some(p) => {
                let used = sqlx::query(
                    "UPDATE saml_requests SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL",
                )
                .bind(now)
                .bind(&p.id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if used != 1 {
                    None
                } else {
                    Some(p)
                }
            }
            None => None,
        },
        None => None,
    };
    if let (Some(irt), None) = (&verified.in_response_to, &pending) {
        drop(tx);
        let reason = format!(
            "the response answers a request ({irt}) that this browser did not start, that was \
             already answered, or that expired"
        );
        return refusal(svc, org_id, client, None, &reason, now).await;
    }
    if verified.in_response_to.is_none() && cfg.refuse_unsolicited {
        drop(tx);
        return refusal(
            svc,
            org_id,
            client,
            None,
            "the response was not requested by this portal: IdP-initiated sign-in is turned off \
             for this organisation (employees start at the sign-in page)",
            now,
        )
        .await;
    }
    // Replay cache: an assertion ID is accepted once.
    let fresh = sqlx::query(
        "INSERT INTO saml_replay (org_id, assertion_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(org_id)
    .bind(&verified.assertion_id)
    .bind(verified.replay_until_ms)
    .execute(&mut **tx)
    .await;
    match fresh {
        Ok(_) => {}
        Err(e) if CoreError::is_unique_violation(&e) => {
            drop(tx);
            let reason = format!(
                "the assertion {} was already used (replay)",
                verified.assertion_id
            );
            return refusal(svc, org_id, client, None, &reason, now).await;
        }
        Err(e) => return Err(e.into()),
    }

    let used_cert = if verified.certificate_index == 0 {
        &cfg.certificate
    } else {
        cfg.next_certificate.as_ref().unwrap_or(&cfg.certificate)
    };
    let prof = profile(&verified.name_id, &verified.attributes);

    if let Some(p) = pending.as_ref().filter(|p| p.purpose == "test") {
        let result = TestResult {
            success: true,
            failure: None,
            name_id: Some(verified.name_id.clone()),
            name_id_format: verified.name_id_format.clone(),
            issuer: Some(verified.issuer.clone()),
            certificate_fingerprint: Some(used_cert.fingerprint.clone()),
            attributes: verified.attributes.clone(),
            profile: Some(prof),
            at: now,
        };
        store_test_result(&mut tx, &p.id, &result).await?;
        events::record_in_tx(
            &mut tx,
            NewEvent {
                org_id: org_id.to_string(),
                name: "sso_test".into(),
                success: true,
                user_id: None,
                actor: "idp".into(),
                scim_type: None,
                message: format!("Test sign-in succeeded for {}", verified.name_id),
                detail: None,
            },
            now,
        )
        .await?;
        mark_success(&mut tx, org_id, &used_cert.fingerprint, now).await?;
        tx.commit().await?;
        return Ok(AcsOutcome::Tested {
            request_id: p.id.clone(),
        });
    }

    if prof.email_conflict {
        drop(tx);
        return refusal(
            svc,
            org_id,
            client,
            None,
            "the assertion carried several different email addresses and no email NameID; \
             configure the IdP to send the user's email as NameID",
            now,
        )
        .await;
    }
    let Some(email) = prof.email.clone() else {
        drop(tx);
        return refusal(
            svc,
            org_id,
            client,
            None,
            &format!(
                "the assertion carried no email address: NameID was {:?} and no email attribute \
                 was sent",
                verified.name_id
            ),
            now,
        )
        .await;
    };
    let existing = users::find_by_user_name(&mut tx, org_id, &email).await?;
    let user_id = match existing {
        Some(u) if u.deleted_at.is_some() => {
            drop(tx);
            return refusal_for(
                svc,
                org_id,
                client,
                Some(u.id),
                &format!("{email} is a deleted user"),
                "Your account has been deleted. Ask your administrator to restore it.",
                now,
            )
            .await;
        }
        Some(u) if !u.active => {
            drop(tx);
            return refusal_for(
                svc,
                org_id,
                client,
                Some(u.id),
                &format!("{email} is deactivated"),
                "Your account is deactivated. Ask your administrator to reactivate it.",
                now,
            )
            .await;
        }
        Some(u) => u.id,
        None if !cfg.jit_enabled => {
            drop(tx);
            return refusal_for(
                svc,
                org_id,
                client,
                None,
                &format!("{email} has no account and JIT provisioning is off"),
                "Your account has not been provisioned. Ask your administrator to add you.",
                now,
            )
            .await;
        }
        None => match jit_create(&mut tx, org_id, &prof, &email, now).await {
            Ok(id) => id,
            Err(CoreError::Invalid(why)) => {
                drop(tx);
                return refusal(
                    svc,
                    org_id,
                    client,
                    None,
                    &format!("JIT could not create {email}: {why}"),
                    now,
                )
                .await;
            }
            Err(e) => return Err(e),
        },
    };
    let Some(employee) = crate::magic_links::employee(&mut tx, org_id, &user_id).await? else {
        return Err(CoreError::Internal("user vanished during sign-in".into()));
    };
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&user_id)
        .execute(&mut **tx)
        .await?;
    mark_success(&mut tx, org_id, &used_cert.fingerprint, now).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent {
            org_id: org_id.to_string(),
            name: "employee_sign_in".into(),
            success: true,
            user_id: Some(user_id.clone()),
            actor: employee.user_name.clone(),
            scim_type: None,
            message: format!(
                "Signed in with SSO ({}; certificate {})",
                if pending.is_some() {
                    "SP-initiated"
                } else {
                    "IdP-initiated"
                },
                short_fp(&used_cert.fingerprint)
            ),
            detail: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let redirect = pending
        .and_then(|p| p.relay_state)
        .or_else(|| local_path(posted_relay_state))
        .unwrap_or_else(|| "/app".to_string());
    Ok(AcsOutcome::SignedIn { employee, redirect })
}

fn short_fp(fp: &str) -> String {
    fp.chars().take(11).collect::<String>() + "…"
}

async fn mark_success(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    fingerprint: &str,
    now: i64,
) -> CoreResult<()> {
    sqlx::query(
        "UPDATE sso_configs SET last_success_at = $1, last_success_fingerprint = $2 WHERE org_id = $3",
    )
    .bind(now)
    .bind(fingerprint)
    .bind(org_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn jit_create(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    p: &Profile,
    email: &str,
    now: i64,
) -> CoreResult<String> {
    let form = UserForm {
        email: email.to_string(),
        given_name: p.given_name.clone().unwrap_or_default(),
        family_name: p.family_name.clone().unwrap_or_default(),
        department: p.department.clone().unwrap_or_default(),
        country: p.country.clone().unwrap_or_default(),
        locality: p.city.clone().unwrap_or_default(),
    };
    let mut attrs = crate::manage::attributes(&form, None, true)?;
    if let Some(lang) = &p.language {
        attrs["preferredLanguage"] = serde_json::json!(lang);
    }
    let id = new_id();
    users::insert(tx, org_id, &id, &attrs, Source::SsoJit, now).await?;
    events::record_in_tx(
        tx,
        NewEvent {
            org_id: org_id.to_string(),
            name: "user_create_jit".into(),
            success: true,
            user_id: Some(id.clone()),
            actor: "idp".into(),
            scim_type: None,
            message: format!("Created {email} at first SSO sign-in (JIT)"),
            detail: None,
        },
        now,
    )
    .await?;
    Ok(id)
}

async fn store_test_result(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    request_id: &str,
    result: &TestResult,
) -> CoreResult<()> {
    sqlx::query("UPDATE saml_requests SET result = $1, consumed_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(result).map_err(|e| CoreError::Internal(e.to_string()))?)
        .bind(result.at)
        .bind(request_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn unverified_in_response_to(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 20_000,
        },
    )
    .ok()?;
    doc.root_element()
        .attribute("InResponseTo")
        .map(str::to_string)
}

async fn refuse(
    svc: &Services,
    org_id: &str,
    client: &str,
    failure: &Failure,
    irt: Option<&str>,
    browser_secret: Option<&str>,
    now: i64,
) -> CoreResult<AcsOutcome> {
    // Nothing is verified yet: only our own words about the failure are stored and shown.
    let reason = failure.explanation();
    if let Some(irt) = irt {
        let mut tx = svc.db.begin_write().await?;
        if let Some(p) = pending_request(&mut tx, org_id, irt, browser_secret, now).await? {
            if p.purpose == "test" {
                let result = TestResult {
                    success: false,
                    failure: Some(reason.clone()),
                    name_id: None,
                    name_id_format: None,
                    issuer: None,
                    certificate_fingerprint: None,
                    attributes: Vec::new(),
                    profile: None,
                    at: now,
                };
                store_test_result(&mut tx, &p.id, &result).await?;
                events::record_in_tx(&mut tx, failure_event(org_id, None, &reason), now).await?;
                tx.commit().await?;
                return Ok(AcsOutcome::Tested { request_id: p.id });
            }
        }
    }
    refusal(svc, org_id, client, None, &reason, now).await
}

async fn refusal(
    svc: &Services,
    org_id: &str,
    client: &str,
    user_id: Option<String>,
    reason: &str,
    now: i64,
) -> CoreResult<AcsOutcome> {
    refusal_for(svc, org_id, client, user_id, reason, GENERIC_REFUSAL, now).await
}

async fn refusal_for(
    svc: &Services,
    org_id: &str,
    client: &str,
    user_id: Option<String>,
    reason: &str,
    message: &str,
    now: i64,
) -> CoreResult<AcsOutcome> {
    tracing::info!(org_id, client, reason, "SSO sign-in refused");
    // Anyone can post to an ACS: failure events are limited per client and per org, so posts
    // cannot flood the organisation's activity (or its storage).
    let limits = [
        Limit::new(
            format!("acs-fail:{org_id}:{client}"),
            MAX_FAILURE_EVENTS_PER_CLIENT,
            FAILURE_EVENTS_CLIENT_WINDOW_MS,
        ),
        Limit::new(
            format!("acs-fail:{org_id}"),
            MAX_FAILURE_EVENTS_PER_ORG,
            FAILURE_EVENTS_ORG_WINDOW_MS,
        ),
    ];
    if crate::throttle::take(&svc.db, &limits, now)
        .await?
        .is_none()
    {
        events::record(&svc.db, failure_event(org_id, user_id, reason), now).await?;
    } else {
        tracing::info!(
            org_id,
            client,
            "SSO failure event not recorded: limit reached"
        );
    }
    Ok(AcsOutcome::Refused {
        message: message.to_string(),
    })
}

/// The stored result of a Test sign-in, for the admin of that org only.
pub async fn test_result(
    svc: &Services,
    org_id: &str,
    request_id: &str,
) -> CoreResult<Option<TestResult>> {
    let row = sqlx::query(
        "SELECT result FROM saml_requests WHERE id = $1 AND org_id = $2 AND purpose = 'test'",
    )
    .bind(request_id)
    .bind(org_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(r) = row else {
        return Err(CoreError::NotFound);
    };
    let raw: Option<String> = r.try_get("result")?;
    raw.map(|s| serde_json::from_str(&s).map_err(|e| CoreError::Internal(e.to_string())))
        .transpose()
}

/// One failure for the Single Sign-On screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRow {
    pub at: i64,
    pub reason: String,
}

pub async fn recent_failures(
    svc: &Services,
    org_id: &str,
    limit: i64,
) -> CoreResult<Vec<FailureRow>> {
    let rows = sqlx::query(
        "SELECT at, detail, message FROM events WHERE org_id = $1 AND name = 'sso_sign_in' \
         AND success = 0 ORDER BY at DESC, seq DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: Option<String> = r.try_get("detail")?;
            let message: String = r.try_get("message")?;
            Ok(FailureRow {
                at: r.try_get("at")?,
                reason: detail.unwrap_or(message),
            })
        })
        .collect()
}

/// Drops expired requests and replay-cache entries.
pub async fn purge_expired(svc: &Services) -> CoreResult<u64> {
    let now = svc.now();
    let a = sqlx::query("DELETE FROM saml_requests WHERE expires_at <= $1")
        .bind(now - 24 * 3_600_000)
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    let b = sqlx::query("DELETE FROM saml_replay WHERE expires_at <= $1")
        .bind(now)
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    Ok(a + b)
}
