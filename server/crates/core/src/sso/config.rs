//! The organisation's IdP configuration: validation shared by the screen and `server sso-config`,
//! saving, certificate rollover, options, deactivation and metadata import.

use crate::error::CoreError;
use crate::error::CoreResult;
use crate::events;
use crate::events::NewEvent;
use crate::Services;
use portal_saml::cert::parse_certificate;
use portal_saml::cert::CertInfo;
use serde::{Deserialize, Serialize};
use sqlx::Row;

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

fn cert_error(field: crate::Field, which: &str, e: portal_saml::cert::CertError) -> CoreError {
    CoreError::invalid_field(field, format!("{which}: {e}"))
}

/// Validates the input; nothing is stored when this fails.
pub fn validate_input(
    input: &SsoInput,
    now: i64,
) -> CoreResult<(String, Option<String>, CertInfo, Option<CertInfo>)> {
    use crate::Field;
    let url = portal_saml::check_sso_url(&input.sso_url)
        .map_err(|e| CoreError::invalid_field(Field::SsoUrl, e))?;
    let cert = parse_certificate(&input.certificate)
        .map_err(|e| cert_error(Field::Certificate, "Public certificate", e))?;
    let next = if input.next_certificate.trim().is_empty() {
        None
    } else {
        Some(
            parse_certificate(&input.next_certificate)
                .map_err(|e| cert_error(Field::NextCertificate, "Next certificate", e))?,
        )
    };
    if let Some(n) = &next {
        if n.fingerprint == cert.fingerprint {
            return Err(CoreError::invalid_field(
                Field::NextCertificate,
                "The next certificate is the same as the current one.",
            ));
        }
    }
    for (field, which, c) in std::iter::once((Field::Certificate, "public certificate", &cert))
        .chain(
            next.iter()
                .map(|n| (Field::NextCertificate, "next certificate", n)),
        )
    {
        if c.expired_at(now) && !input.accept_expired {
            return Err(CoreError::invalid_field(
                field,
                format!(
                "The {which} expired on {}. Sign-ins signed with it will keep failing once the IdP \
                 rotates; tick “I understand the certificate has expired” to save it anyway.",
                crate::clock::rfc3339(c.not_after)
            ),
            ));
        }
    }
    let issuer = input.idp_entity_id.trim();
    if issuer.chars().count() > 1024 || issuer.chars().any(char::is_control) {
        return Err(CoreError::invalid_field(
            Field::IdpEntityId,
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

/// Saves the configuration (create or replace) after validating all of it.
pub async fn save(
    svc: &Services,
    org_id: &str,
    actor: &str,
    input: &SsoInput,
) -> CoreResult<SsoConfig> {
    save_checked(svc, org_id, actor, input, None).await
}

/// [`save`] of an `input` made from the configuration as read at `read_updated_at` (an option
/// toggled, a certificate promoted, a setup link's save keeping the admin's options): `Stale`
/// when it changed or was deactivated since, so the save cannot put back what someone else
/// just replaced or switch SSO on again after a deactivation. Checked under the org lock.
pub async fn save_over(
    svc: &Services,
    org_id: &str,
    actor: &str,
    input: &SsoInput,
    read_updated_at: i64,
) -> CoreResult<SsoConfig> {
    save_checked(svc, org_id, actor, input, Some(read_updated_at)).await
}

async fn save_checked(
    svc: &Services,
    org_id: &str,
    actor: &str,
    input: &SsoInput,
    read_updated_at: Option<i64>,
) -> CoreResult<SsoConfig> {
    let now = svc.now();
    let (sso_url, issuer, cert, next) = validate_input(input, now)?;
    let mut tx = svc.db.begin_write().await?;
    // Two saves at once (two admins, or a setup link's holder and an admin): the second waits,
    // reads the first's result and replaces it; without the lock both would delete the same row
    // and the second insert would fail on PostgreSQL.
    if !tx.lock_org(org_id).await? {
        return Err(CoreError::NotFound);
    }
    let old = sqlx::query(SELECT)
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(row_to_config)
        .transpose()?;
    if let Some(read) = read_updated_at {
        if old.as_ref().map(|o| o.updated_at) != Some(read) {
            return Err(CoreError::Stale);
        }
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
    save_over(
        svc,
        org_id,
        actor,
        &SsoInput {
            certificate: next.pem,
            next_certificate: String::new(),
            accept_expired: true,
            ..input_of(&cfg)
        },
        cfg.updated_at,
    )
    .await
}

/// Rollover: forget the next certificate.
pub async fn remove_next(svc: &Services, org_id: &str, actor: &str) -> CoreResult<SsoConfig> {
    let cfg = get(svc, org_id).await?.ok_or(CoreError::NotFound)?;
    save_over(
        svc,
        org_id,
        actor,
        &SsoInput {
            next_certificate: String::new(),
            accept_expired: true,
            ..input_of(&cfg)
        },
        cfg.updated_at,
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
    save_over(
        svc,
        org_id,
        actor,
        &SsoInput {
            jit_enabled,
            require_sso,
            accept_expired: true,
            ..input_of(&cfg)
        },
        cfg.updated_at,
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
    // After a save that is still running, not beside it (see `save`).
    tx.lock_org(org_id).await?;
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
