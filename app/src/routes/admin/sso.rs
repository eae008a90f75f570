//! Single Sign-On: what to copy into the IdP, the IdP's endpoint and certificate(s) (pasted,
//! uploaded or imported from metadata), JIT and Require SSO, Test sign-in, recent failures.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::components::{error_of, CopyField, FormError};
use crate::dto::{CertView, MetadataPreviewView, SsoConfigView, SsoTestView, SsoView};
use crate::time_fmt::{date, opt, utc};

#[cfg(feature = "ssr")]
mod convert {
    use crate::dto::{CertView, SsoConfigView};
    use portal_core::saml::cert::CertInfo;
    use portal_core::sso::{SsoConfig, EXPIRY_WARNING_MS};

    pub fn cert(c: &CertInfo, now: i64) -> CertView {
        let state = if c.not_after <= now {
            "expired"
        } else if c.not_after - now <= EXPIRY_WARNING_MS {
            "expiring"
        } else {
            "ok"
        };
        CertView {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            key: c.key.clone(),
            fingerprint: c.fingerprint.clone(),
            state: state.into(),
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
pub async fn load_sso() -> Result<SsoView, ServerFnError> {
    use crate::dto::SsoFailureView;
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
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
#[allow(clippy::too_many_arguments)]
pub async fn save_sso(
    sso_url: String,
    certificate: String,
    next_certificate: String,
    idp_entity_id: String,
    jit_enabled: Option<String>,
    require_sso: Option<String>,
    refuse_unsolicited: Option<String>,
    accept_expired: Option<String>,
) -> Result<(), ServerFnError> {
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
    let svc = services()?;
    let input = portal_core::sso::SsoInput {
        sso_url,
        certificate,
        next_certificate,
        idp_entity_id,
        jit_enabled: jit_enabled.is_some(),
        require_sso: require_sso.is_some(),
        refuse_unsolicited: refuse_unsolicited.is_some(),
        accept_expired: accept_expired.is_some(),
    };
    portal_core::sso::save(&svc, &admin.org_id, &admin.email, &input)
        .await
        .map_err(to_client)?;
    Ok(())
}

#[server(endpoint = "preview_sso_metadata")]
pub async fn preview_sso_metadata(xml: String) -> Result<MetadataPreviewView, ServerFnError> {
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
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
pub async fn sso_certificate_action(action: String) -> Result<(), ServerFnError> {
    use crate::ssr::{fail, require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
    let svc = services()?;
    let r = match action.as_str() {
        "promote" => portal_core::sso::promote_next(&svc, &admin.org_id, &admin.email)
            .await
            .map(|_| ()),
        "remove_next" => portal_core::sso::remove_next(&svc, &admin.org_id, &admin.email)
            .await
            .map(|_| ()),
        "deactivate" => portal_core::sso::deactivate(&svc, &admin.org_id, &admin.email).await,
        _ => return Err(fail(http::StatusCode::BAD_REQUEST, "Unknown action.")),
    };
    r.map_err(to_client)
}

#[server(endpoint = "load_sso_test")]
pub async fn load_sso_test(id: String) -> Result<Option<SsoTestView>, ServerFnError> {
    use crate::dto::FieldView;
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
    let svc = services()?;
    if id.len() > 64 {
        return Ok(None);
    }
    let r = match portal_core::sso::test_result(&svc, &admin.org_id, &id).await {
        Ok(r) => r,
        Err(portal_core::CoreError::NotFound) => return Ok(None),
        Err(e) => return Err(to_client(e)),
    };
    Ok(Some(match r {
        None => SsoTestView {
            done: false,
            success: false,
            failure: None,
            name_id: None,
            name_id_format: None,
            issuer: None,
            certificate_fingerprint: None,
            attributes: Vec::new(),
            fields: Vec::new(),
            at: 0,
        },
        Some(t) => SsoTestView {
            done: true,
            success: t.success,
            failure: t.failure,
            name_id: t.name_id,
            name_id_format: t.name_id_format,
            issuer: t.issuer,
            certificate_fingerprint: t.certificate_fingerprint,
            attributes: t.attributes,
            fields: t
                .profile
                .map(|p| {
                    p.filled
                        .into_iter()
                        .map(|f| FieldView {
                            label: f.field.label().to_string(),
                            value: f.value,
                            from: f.from,
                            expected: f.field.expected(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            at: t.at,
        },
    }))
}

/// Reads an uploaded certificate or metadata file into a form field (PEM/XML as text; DER as
/// base64, which the server accepts too).
fn read_file_into(
    ev: leptos::ev::Event,
    set: WriteSignal<String>,
    err: WriteSignal<Option<String>>,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        if file.size() > 512.0 * 1024.0 {
            err.set(Some(
                "That file is larger than 512 KiB: it is not a certificate or metadata file."
                    .into(),
            ));
            return;
        }
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buf) => {
                    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                    let text = match String::from_utf8(bytes) {
                        Ok(t) => t,
                        Err(e) => {
                            use base64::Engine;
                            base64::engine::general_purpose::STANDARD.encode(e.into_bytes())
                        }
                    };
                    err.set(None);
                    set.set(text);
                }
                Err(_) => err.set(Some("The file could not be read.".into())),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, set, err);
    }
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
    let view_res = Resource::new(
        move || (saves.get(), cert_action.version().get()),
        |_| load_sso(),
    );
    view! {
        <Title text="Single Sign-On · Identity portal" />
        <h1>"Single Sign-On"</h1>
        <p class="muted">
            "Employees sign in through your identity provider with SAML 2.0. Copy these details into the IdP's SAML application, then paste its endpoint and certificate below."
        </p>
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
fn CertDetails(c: CertView, #[prop(into)] title: String, testid: &'static str) -> impl IntoView {
    let badge = match c.state.as_str() {
        "expired" => view! { <span class="badge err-badge">"Expired"</span> }.into_any(),
        "expiring" => view! { <span class="badge warn-badge">"Expires soon"</span> }.into_any(),
        _ => view! { <span class="badge ok-badge">"Valid"</span> }.into_any(),
    };
    let warning = match c.state.as_str() {
        "expired" => Some(view! {
            <p class="alert error" role="alert">
                {format!("This certificate expired on {}. Sign-ins signed with a new IdP certificate fail until you add it here.", date(c.not_after))}
            </p>
        }.into_any()),
        "expiring" => Some(view! {
            <p class="alert warn" role="status">
                {format!("This certificate expires on {}. Add the IdP's next certificate below so sign-ins keep working through the rollover.", date(c.not_after))}
            </p>
        }.into_any()),
        _ => None,
    };
    view! {
        <div class="cert" data-testid=testid>
            <h3>{title} " " {badge}</h3>
            {warning}
            <dl class="facts">
                <dt>"Subject"</dt>
                <dd>{c.subject.clone()}</dd>
                <dt>"Issuer"</dt>
                <dd>{c.issuer.clone()}</dd>
                <dt>"Serial"</dt>
                <dd class="mono">{c.serial.clone()}</dd>
                <dt>"Valid"</dt>
                <dd>{format!("{} to {}", date(c.not_before), date(c.not_after))}</dd>
                <dt>"Key"</dt>
                <dd>{c.key.clone()}</dd>
                <dt>"SHA-256 fingerprint"</dt>
                <dd class="mono" data-testid=format!("{testid}-fingerprint")>{c.fingerprint.clone()}</dd>
            </dl>
        </div>
    }
}

#[component]
fn SsoScreen(
    v: SsoView,
    save: ServerAction<SaveSso>,
    cert_action: ServerAction<SsoCertificateAction>,
) -> impl IntoView {
    let configured = v.config.clone();
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
                <div class="actions">
                    <ActionForm action=cert_action>
                        <input type="hidden" name="action" value="promote" />
                        <button type="submit" class="secondary">"Promote next certificate (remove the current one)"</button>
                    </ActionForm>
                    <ActionForm action=cert_action>
                        <input type="hidden" name="action" value="remove_next" />
                        <button type="submit" class="secondary">"Remove next certificate"</button>
                    </ActionForm>
                </div>
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
                <div class="actions">
                    <a class="button-like" href=test_href.clone() target="_blank" rel="external noopener" data-testid="test-sign-in">"Test sign-in"</a>
                    <details class="confirm">
                        <summary class="button-like danger">"Deactivate SSO"</summary>
                        <div class="confirm-body">
                            <p>"Employees can no longer sign in through your IdP; they sign in with email links instead. The configuration is removed."</p>
                            <ActionForm action=cert_action>
                                <input type="hidden" name="action" value="deactivate" />
                                <button type="submit" class="danger">"Deactivate"</button>
                            </ActionForm>
                        </div>
                    </details>
                </div>
                <FormError error=Signal::derive(move || cert_action.value().with(error_of)) />
            </section>
        }
    });
    let failures = v.failures.clone();
    view! {
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
        <SsoForm config=configured save />
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

#[component]
fn SsoForm(config: Option<SsoConfigView>, save: ServerAction<SaveSso>) -> impl IntoView {
    let c = config.clone();
    let (sso_url, set_sso_url) = signal(c.as_ref().map(|c| c.sso_url.clone()).unwrap_or_default());
    let (cert, set_cert) = signal(
        c.as_ref()
            .map(|c| c.certificate.pem.clone())
            .unwrap_or_default(),
    );
    let (next, set_next) = signal(
        c.as_ref()
            .and_then(|c| c.next_certificate.as_ref().map(|n| n.pem.clone()))
            .unwrap_or_default(),
    );
    let (issuer, set_issuer) = signal(
        c.as_ref()
            .map(|c| c.idp_entity_id.clone())
            .unwrap_or_default(),
    );
    let jit = c.as_ref().map(|c| c.jit_enabled).unwrap_or(true);
    let require = c.as_ref().map(|c| c.require_sso).unwrap_or(false);
    let refuse_unsolicited = c.as_ref().map(|c| c.refuse_unsolicited).unwrap_or(false);
    let (file_error, set_file_error) = signal(None::<String>);
    let (metadata, set_metadata) = signal(String::new());
    let preview = ServerAction::<PreviewSsoMetadata>::new();
    let apply = move |_| {
        if let Some(Ok(p)) = preview.value().get_untracked() {
            set_sso_url.set(p.sso_url.clone());
            set_issuer.set(p.idp_entity_id.clone());
            set_cert.set(p.certificate.pem.clone());
            set_next.set(p.next_certificate.map(|n| n.pem).unwrap_or_default());
        }
    };
    let saved = move || {
        save.value().get().is_some_and(|r| r.is_ok()).then(
            || view! { <p class="alert ok" role="status" data-testid="sso-saved">"Saved."</p> },
        )
    };
    view! {
        <section class="card" aria-labelledby="idp-config">
            <h2 id="idp-config">{if config.is_some() { "Change the identity provider" } else { "Connect your identity provider" }}</h2>
            <ActionForm action=save attr:class="stack" attr:aria-label="Identity provider settings">
                <label for="sso-url-input">"SAML 2.0 endpoint (HTTP)"</label>
                <input
                    id="sso-url-input"
                    name="sso_url"
                    type="url"
                    placeholder="https://sso.jumpcloud.com/saml2/your-app"
                    maxlength="2048"
                    prop:value=sso_url
                    on:input=move |ev| set_sso_url.set(event_target_value(&ev))
                />
                <label for="cert-input">"Public certificate"</label>
                <textarea
                    id="cert-input"
                    name="certificate"
                    rows="8"
                    class="mono"
                    placeholder="-----BEGIN CERTIFICATE-----"
                    prop:value=cert
                    on:input=move |ev| set_cert.set(event_target_value(&ev))
                >{cert.get_untracked()}</textarea>
                <label for="cert-file">"…or upload the certificate file (.pem, .crt, .cer)"</label>
                <input
                    id="cert-file"
                    type="file"
                    accept=".pem,.crt,.cer,.der"
                    on:change=move |ev| read_file_into(ev, set_cert, set_file_error)
                />
                <label for="issuer-input">"IdP entity ID (Issuer), optional"</label>
                <input
                    id="issuer-input"
                    name="idp_entity_id"
                    type="text"
                    maxlength="1024"
                    prop:value=issuer
                    on:input=move |ev| set_issuer.set(event_target_value(&ev))
                />
                <details class="rollover" open=!next.get_untracked().is_empty()>
                    <summary>"Next certificate (for rollover), optional"</summary>
                    <textarea
                        id="next-cert-input"
                        name="next_certificate"
                        rows="6"
                        class="mono"
                        aria-label="Next certificate"
                        prop:value=next
                        on:input=move |ev| set_next.set(event_target_value(&ev))
                    >{next.get_untracked()}</textarea>
                    <label for="next-cert-file">"…or upload it"</label>
                    <input
                        id="next-cert-file"
                        type="file"
                        accept=".pem,.crt,.cer,.der"
                        on:change=move |ev| read_file_into(ev, set_next, set_file_error)
                    />
                </details>
                <label class="check">
                    <input type="checkbox" name="jit_enabled" value="on" checked=jit />
                    " JIT provisioning: create an account at first sign-in for people your IdP lets in"
                </label>
                <label class="check">
                    <input type="checkbox" name="require_sso" value="on" checked=require />
                    " Require SSO: employees cannot sign in with email links (admins keep password sign-in)"
                </label>
                <label class="check">
                    <input type="checkbox" name="refuse_unsolicited" value="on" checked=refuse_unsolicited />
                    " Refuse IdP-initiated sign-in: employees start at the sign-in page (no launch from the IdP's dashboard; rules out login CSRF)"
                </label>
                <label class="check">
                    <input type="checkbox" name="accept_expired" value="on" />
                    " I understand the certificate has expired (save it anyway)"
                </label>
                <FormError error=file_error />
                <FormError error=Signal::derive(move || save.value().with(error_of)) />
                {saved}
                <button type="submit">"Save"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="metadata-import">
            <h2 id="metadata-import">"Import IdP metadata"</h2>
            <p class="muted">"Paste or upload your IdP's metadata XML: the endpoint, entity ID and certificate(s) are read from it. Nothing is saved until you save the form above."</p>
            <ActionForm action=preview attr:class="stack" attr:aria-label="Import IdP metadata">
                <label for="metadata-input">"IdP metadata XML"</label>
                <textarea
                    id="metadata-input"
                    name="xml"
                    rows="6"
                    class="mono"
                    prop:value=metadata
                    on:input=move |ev| set_metadata.set(event_target_value(&ev))
                ></textarea>
                <label for="metadata-file">"…or upload the metadata file"</label>
                <input
                    id="metadata-file"
                    type="file"
                    accept=".xml"
                    on:change=move |ev| read_file_into(ev, set_metadata, set_file_error)
                />
                <FormError error=Signal::derive(move || preview.value().with(error_of)) />
                <button type="submit" class="secondary">"Preview import"</button>
            </ActionForm>
            {move || {
                preview
                    .value()
                    .get()
                    .and_then(|r| r.ok())
                    .map(|p| {
                        let changes = p.changes.clone();
                        view! {
                            <div class="preview" data-testid="metadata-preview">
                                <h3>"What would change"</h3>
                                {if changes.is_empty() {
                                    view! { <p>"Nothing: the metadata matches the saved settings."</p> }.into_any()
                                } else {
                                    view! { <ul>{changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul> }.into_any()
                                }}
                                <CertDetails c=p.certificate.clone() title="Certificate in the metadata" testid="preview-cert" />
                                <button type="button" on:click=apply>"Use these values"</button>
                                <p class="muted">"Then review the form above and save."</p>
                            </div>
                        }
                    })
            }}
        </section>
    }
}

/// The result of a Test sign-in (opened in its own tab by the IdP round trip).
#[component]
pub fn SsoTestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let res = Resource::new(id, load_sso_test);
    view! {
        <Title text="Test sign-in · Identity portal" />
        <h1>"Test sign-in"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                res.get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(None) => view! { <p class="alert error" role="alert">"This test sign-in does not exist."</p> }.into_any(),
                        Ok(Some(t)) if !t.done => view! { <p class="alert warn" role="status">"Waiting for your IdP's answer. Finish signing in at the IdP, then reload this page."</p> }.into_any(),
                        Ok(Some(t)) => view! { <TestResult t /> }.into_any(),
                    })
            }}
        </Transition>
        <p><a href="/admin/sso">"Back to Single Sign-On"</a></p>
    }
}

#[component]
fn TestResult(t: SsoTestView) -> impl IntoView {
    let headline = if t.success {
        view! { <p class="alert ok" role="status" data-testid="test-result">{format!("Success at {}: the assertion was valid. Nobody was signed in.", utc(t.at))}</p> }.into_any()
    } else {
        view! {
            <p class="alert error" role="alert" data-testid="test-result">
                {format!("Failed at {}: {}", utc(t.at), t.failure.clone().unwrap_or_default())}
            </p>
        }
        .into_any()
    };
    let missing: Vec<String> = t
        .fields
        .iter()
        .filter(|f| f.expected && f.value.is_none())
        .map(|f| f.label.clone())
        .collect();
    let missing = (!missing.is_empty()).then(|| {
        view! {
            <p class="alert warn" data-testid="test-missing">
                {format!("Expected but missing: {}. Add these attributes to the IdP's SAML application.", missing.join(", "))}
            </p>
        }
    });
    let fields = t.fields.clone();
    let attributes = t.attributes.clone();
    view! {
        {headline}
        {t.success.then(|| view! {
            <dl class="facts">
                <dt>"NameID"</dt>
                <dd class="mono" data-testid="test-name-id">{t.name_id.clone().unwrap_or_default()}</dd>
                <dt>"NameID format"</dt>
                <dd class="mono">{t.name_id_format.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Issuer"</dt>
                <dd class="mono">{t.issuer.clone().unwrap_or_default()}</dd>
                <dt>"Verified by certificate"</dt>
                <dd class="mono">{t.certificate_fingerprint.clone().unwrap_or_default()}</dd>
            </dl>
        })}
        {missing}
        {(!fields.is_empty()).then(|| view! {
            <h2>"User fields"</h2>
            <table class="data" data-testid="test-fields">
                <thead><tr><th scope="col">"Field"</th><th scope="col">"Value"</th><th scope="col">"From"</th></tr></thead>
                <tbody>
                    {fields.into_iter().map(|f| view! {
                        <tr>
                            <td>{f.label.clone()}</td>
                            <td>{f.value.clone().unwrap_or_else(|| if f.expected { "missing".into() } else { "—".into() })}</td>
                            <td class="mono">{f.from.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        {(!attributes.is_empty()).then(|| view! {
            <h2>"Attributes received"</h2>
            <table class="data" data-testid="test-attributes">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Values"</th></tr></thead>
                <tbody>
                    {attributes.into_iter().map(|(n, vs)| view! {
                        <tr><td class="mono">{n}</td><td>{vs.join(", ")}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        <p class="muted">{format!("Checked {}", opt(Some(t.at)))}</p>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
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
        assert_eq!(state(now + 31 * day), "ok");
        assert_eq!(state(now + 30 * day), "expiring");
        assert_eq!(state(now + 1), "expiring");
        assert_eq!(state(now), "expired");
        assert_eq!(state(now - day), "expired");
    }
}
