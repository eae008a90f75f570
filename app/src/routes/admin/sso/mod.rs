//! Single Sign-On: what to copy into the IdP, the IdP's endpoint and certificate(s) (pasted,
//! uploaded or imported from metadata), JIT and Require SSO, Test sign-in, recent failures.
//!
//! Split by concern: `form` (the settings form, file uploads, metadata import), `certificate`
//! (a certificate's card), `test_page` (the Test sign-in result page and its server function);
//! this module holds the screen, its other server functions and the conversions to wire types.

mod certificate;
mod form;
mod test_page;

use certificate::CertDetails;
use form::SsoForm;
pub use test_page::*;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{error_of, CopyField, FormError, IfCan, ReadOnlyNotice, SubmitButton};
use crate::dto::Need;
use crate::dto::{CertificateAction, MetadataPreviewView, SsoSettingsForm, SsoView};
use crate::errors::AppError;
use crate::idp_guides::{GuidedSetup, Screen};
use crate::time_fmt::utc;

#[cfg(feature = "ssr")]
mod convert {
    use crate::dto::{CertState, CertView, SsoConfigView};
    use portal_core::saml::cert::CertInfo;
    use portal_core::sso::{SsoConfig, EXPIRY_WARNING_MS};

    pub fn cert(c: &CertInfo, now: i64) -> CertView {
        let state = if c.not_after <= now {
            CertState::Expired
        } else if c.not_after - now <= EXPIRY_WARNING_MS {
            CertState::Expiring
        } else {
            CertState::Ok
        };
        CertView {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            key: c.key.clone(),
            fingerprint: c.fingerprint.clone(),
            state,
            pem: c.pem.clone(),
        }
    }

    pub fn config(c: &SsoConfig, now: i64) -> SsoConfigView {
        let which = c.last_success_fingerprint.as_ref().map(|fp| {
            if *fp == c.certificate.fingerprint {
                format!("the current certificate ({fp})")
            } else if c
                .next_certificate
                .as_ref()
                .is_some_and(|n| n.fingerprint == *fp)
            {
                format!("the next certificate ({fp})")
            } else {
                format!("a certificate no longer configured ({fp})")
            }
        });
        SsoConfigView {
            sso_url: c.sso_url.clone(),
            idp_entity_id: c.idp_entity_id.clone().unwrap_or_default(),
            certificate: cert(&c.certificate, now),
            next_certificate: c.next_certificate.as_ref().map(|n| cert(n, now)),
            jit_enabled: c.jit_enabled,
            require_sso: c.require_sso,
            refuse_unsolicited: c.refuse_unsolicited,
            updated_at: c.updated_at,
            updated_by: c.updated_by.clone(),
            last_success_at: c.last_success_at,
            last_success_certificate: which,
        }
    }
}

#[server(endpoint = "load_sso")]
pub async fn load_sso() -> Result<SsoView, AppError> {
    use crate::dto::SsoFailureView;
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let now = svc.now();
    let urls = portal_core::sso::sp_urls(&svc, &admin.org_id);
    let config = portal_core::sso::get(&svc, &admin.org_id)
        .await
        .map_err(to_client)?;
    let failures = portal_core::sso::recent_failures(&svc, &admin.org_id, 20)
        .await
        .map_err(to_client)?;
    Ok(SsoView {
        org_id: admin.org_id.clone(),
        entity_id: urls.entity_id,
        acs_url: urls.acs_url,
        login_url: urls.login_url,
        metadata_url: urls.metadata_url,
        employee_login_url: format!("{}/login?org={}", svc.settings.public_url, admin.org_id),
        config: config.as_ref().map(|c| convert::config(c, now)),
        failures: failures
            .into_iter()
            .map(|f| SsoFailureView {
                at: f.at,
                reason: f.reason,
            })
            .collect(),
    })
}

#[server(endpoint = "save_sso")]
pub async fn save_sso(#[server(flatten)] form: SsoSettingsForm) -> Result<(), AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    let input = portal_core::sso::SsoInput {
        sso_url: form.sso_url,
        certificate: form.certificate,
        next_certificate: form.next_certificate,
        idp_entity_id: form.idp_entity_id,
        jit_enabled: form.jit_enabled,
        require_sso: form.require_sso,
        refuse_unsolicited: form.refuse_unsolicited,
        accept_expired: form.accept_expired,
    };
    portal_core::sso::save(&svc, &admin.org_id, &admin.email, &input)
        .await
        .map_err(to_client)?;
    Ok(())
}

#[server(endpoint = "preview_sso_metadata")]
pub async fn preview_sso_metadata(xml: String) -> Result<MetadataPreviewView, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    let now = svc.now();
    let p = portal_core::sso::preview_metadata(&svc, &admin.org_id, &xml)
        .await
        .map_err(to_client)?;
    Ok(MetadataPreviewView {
        sso_url: p.sso_url,
        idp_entity_id: p.idp_entity_id,
        certificate: convert::cert(&p.certificate, now),
        next_certificate: p.next_certificate.as_ref().map(|c| convert::cert(c, now)),
        changes: p.changes,
    })
}

#[server(endpoint = "sso_certificate_action")]
pub async fn sso_certificate_action(action: CertificateAction) -> Result<(), AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    let r = match action {
        CertificateAction::Promote => {
            portal_core::sso::promote_next(&svc, &admin.org_id, &admin.email)
                .await
                .map(|_| ())
        }
        CertificateAction::RemoveNext => {
            portal_core::sso::remove_next(&svc, &admin.org_id, &admin.email)
                .await
                .map(|_| ())
        }
        CertificateAction::Deactivate => {
            // While admins must use SSO, turning SSO off would reopen the password to every
            // Admin and Viewer: that is an Owner's call (it is their setting).
            if admin.role != crate::ssr::Role::Owner
                && portal_core::admins::requires_sso_for_admins(&svc.db, &admin.org_id)
                    .await
                    .map_err(to_client)?
            {
                return Err(crate::ssr::fail(
                    http::StatusCode::FORBIDDEN,
                    "Your organisation requires single sign-on for admins: only an Owner can \
                     deactivate SSO (turn the requirement off in Organisation settings first).",
                ));
            }
            portal_core::sso::deactivate(&svc, &admin.org_id, &admin.email).await
        }
    };
    r.map_err(to_client)
}

#[component]
pub fn SsoPage() -> impl IntoView {
    let save = ServerAction::<SaveSso>::new();
    let cert_action = ServerAction::<SsoCertificateAction>::new();
    // Reload after a successful save only: a refused save keeps what the admin typed.
    let (saves, set_saves) = signal(0u32);
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(()))) {
            set_saves.update(|n| *n += 1);
        }
    });
    let view_res = crate::components::resource(
        move || (saves.get(), cert_action.version().get()),
        |_| load_sso(),
    );
    view! {
        <Title text="Single Sign-On · Identity portal" />
        <h1>"Single Sign-On"</h1>
        <ReadOnlyNotice needs=Need::Manage />
        <p class="muted">
            "Employees sign in through your identity provider with SAML 2.0. Copy these details into the IdP's SAML application, then paste its endpoint and certificate below."
        </p>
        <IfCan needs=Need::Manage>
            <p class="muted" data-testid="setup-link-hint">
                "Someone outside your admin team sets up your IdP? "
                <a href="/admin/setup-links">"Send them a setup link"</a>
                " that opens only this setup."
            </p>
        </IfCan>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                view_res
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(v) => view! { <SsoScreen v save cert_action /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn SsoScreen(
    v: SsoView,
    save: ServerAction<SaveSso>,
    cert_action: ServerAction<SsoCertificateAction>,
) -> impl IntoView {
    let configured = v.config.clone();
    let pending = cert_action.pending();
    let download = format!("{}?download=1", v.metadata_url);
    let test_href = format!("/saml/{}/test", v.org_id);
    let status = configured.clone().map(|c| {
        let last = match (c.last_success_at, c.last_success_certificate.clone()) {
            (Some(at), Some(which)) => format!("Last successful sign-in {} verified by {}.", utc(at), which),
            _ => "No successful sign-in yet.".to_string(),
        };
        let next = c.next_certificate.clone().map(|n| {
            view! {
                <CertDetails c=n title="Next certificate" testid="next-cert" />
                <IfCan needs=Need::Manage>
                <div class="actions">
                    <ActionForm action=cert_action>
                        <input type="hidden" name="action" value=CertificateAction::Promote.as_str() />
                        <SubmitButton pending class="secondary" label="Promote next certificate (remove the current one)" pending_label="Promoting…" />
                    </ActionForm>
                    <ActionForm action=cert_action>
                        <input type="hidden" name="action" value=CertificateAction::RemoveNext.as_str() />
                        <SubmitButton pending class="secondary" label="Remove next certificate" pending_label="Removing…" />
                    </ActionForm>
                </div>
                </IfCan>
            }
        });
        view! {
            <section class="card" aria-labelledby="sso-status">
                <h2 id="sso-status">"Status"</h2>
                <p data-testid="sso-status">
                    <span class="badge ok-badge">"Active"</span>
                    {format!(
                        " JIT provisioning {} · Require SSO {} · IdP-initiated sign-in {}",
                        if c.jit_enabled { "on" } else { "off" },
                        if c.require_sso { "on" } else { "off" },
                        if c.refuse_unsolicited { "refused" } else { "accepted" }
                    )}
                </p>
                <dl class="facts">
                    <dt>"SAML 2.0 endpoint"</dt>
                    <dd class="mono" data-testid="sso-url">{c.sso_url.clone()}</dd>
                    <dt>"IdP entity ID"</dt>
                    <dd class="mono">{if c.idp_entity_id.is_empty() { "— (Issuer not checked)".to_string() } else { c.idp_entity_id.clone() }}</dd>
                    <dt>"Last change"</dt>
                    <dd>{format!("{} by {}", utc(c.updated_at), c.updated_by)}</dd>
                </dl>
                <p data-testid="last-success">{last}</p>
                <CertDetails c=c.certificate.clone() title="Public certificate" testid="current-cert" />
                {next}
                <IfCan needs=Need::Manage>
                <div class="actions">
                    <a class="button-like" href=test_href.clone() target="_blank" rel="external noopener" data-testid="test-sign-in">"Test sign-in"</a>
                    <details class="confirm">
                        <summary class="button-like danger">"Deactivate SSO"</summary>
                        <div class="confirm-body">
                            <p>"Employees can no longer sign in through your IdP; they sign in with email links instead. The configuration is removed."</p>
                            <ActionForm action=cert_action>
                                <input type="hidden" name="action" value=CertificateAction::Deactivate.as_str() />
                                <SubmitButton pending class="danger" label="Deactivate" pending_label="Deactivating…" />
                            </ActionForm>
                        </div>
                    </details>
                </div>
                </IfCan>
                <FormError error=Signal::derive(move || cert_action.value().with(error_of)) />
            </section>
        }
    });
    let failures = v.failures.clone();
    let guide_values = crate::idp_guides::SsoValues {
        acs_url: &v.acs_url,
        entity_id: &v.entity_id,
        login_url: &v.login_url,
        metadata_url: &v.metadata_url,
        org_id: &v.org_id,
        employee_login_url: &v.employee_login_url,
    }
    .to_values();
    view! {
        <GuidedSetup screen=Screen::Sso values=guide_values />
        <section class="card" aria-labelledby="sp-details">
            <h2 id="sp-details">"Details for your identity provider"</h2>
            <CopyField label="Entity ID / Audience" id="sp-entity-id" value=v.entity_id.clone() />
            <CopyField label="ACS URL (Assertion Consumer Service)" id="sp-acs-url" value=v.acs_url.clone() />
            <CopyField label="SP-initiated login URL" id="sp-login-url" value=v.login_url.clone() />
            <CopyField label="Org ID" id="sp-org-id" value=v.org_id.clone() />
            <CopyField label="Employee sign-in page" id="sp-employee-login" value=v.employee_login_url.clone() />
            <p>
                <a href=v.metadata_url.clone() target="_blank" rel="external noopener">"View SP metadata XML"</a>
                " · "
                <a href=download rel="external" data-testid="metadata-download">"Download SP metadata XML"</a>
            </p>
        </section>
        {status}
        <IfCan needs=Need::Manage>
            <SsoForm config=configured.clone() save />
        </IfCan>
        <section class="card" aria-labelledby="sso-failures">
            <h2 id="sso-failures">"Recent SSO failures"</h2>
            {if failures.is_empty() {
                view! { <p class="muted" data-testid="no-failures">"No failed sign-ins."</p> }.into_any()
            } else {
                view! {
                    <ul class="failures" data-testid="sso-failures">
                        {failures
                            .into_iter()
                            .map(|f| view! { <li><span class="muted">{utc(f.at)}</span>" — "{f.reason}</li> })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            }}
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use crate::dto::CertState;
    use portal_core::saml::cert::CertInfo;

    fn cert(not_after: i64) -> CertInfo {
        CertInfo {
            pem: String::new(),
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            serial: "01".into(),
            not_before: 0,
            not_after,
            key: "RSA 2048-bit".into(),
            fingerprint: "AA".into(),
        }
    }

    #[test]
    fn certificate_state_warns_from_30_days_and_errs_after_expiry() {
        let day = 24 * 3_600_000;
        let now = 1_000 * day;
        let state = |after: i64| super::convert::cert(&cert(after), now).state;
        assert_eq!(state(now + 31 * day), CertState::Ok);
        assert_eq!(state(now + 30 * day), CertState::Expiring);
        assert_eq!(state(now + 1), CertState::Expiring);
        assert_eq!(state(now), CertState::Expired);
        assert_eq!(state(now - day), CertState::Expired);
    }
}
