//! What a setup link opens (issue 13): `/setup-link/{token}` (start), `/setup-link/{token}/sso`
//! and `/setup-link/{token}/provisioning` — the guided setup screens of the link's scope for an IT
//! contact outside the admin team, outside the admin shell (no navigation to anything else).
//!
//! The link's secret is the credential: every server function here takes it and checks it again
//! (`portal_core::setup_links::authorize_for`: not expired, not revoked, its sender still an Owner
//! or Admin, the scope covers the action). The organisation comes from the link, never from the
//! request. No session is made: the holder is never an admin, so `/admin/*` stays closed.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::components::{error_of, CopyField, FieldError, FormError, FormErrors, SubmitButton};
use crate::dto::{NewScimToken, SetupLinkPage, SetupLinkProvisioning, SetupLinkSso};
use crate::errors::{AppError, FieldName};
use crate::idp_guides::{GuidedSetup, Screen};
use crate::time_fmt::{opt, utc};

/// The one answer to a link that does not work (the words of
/// `portal_core::setup_links::INVALID_LINK`).
const INVALID_SETUP_LINK: &str = "This setup link is invalid, has expired or was revoked. \
     Ask the admin who sent it for a new one.";

/// What the link shows; `None` for a link that does not work (no detail why).
#[server(endpoint = "load_setup_link")]
pub async fn load_setup_link(token: String) -> Result<Option<SetupLinkPage>, AppError> {
    use crate::dto::SetupLinkSsoConfig;
    use crate::ssr::{services, to_client};
    let svc = services()?;
    let Some(link) = portal_core::setup_links::authorize(&svc, &token)
        .await
        .map_err(to_client)?
    else {
        return Ok(None);
    };
    let scope = crate::routes::admin::setup_links::wire::scope(link.scope);
    let sso = if scope.sso() {
        let urls = portal_core::sso::sp_urls(&svc, &link.org_id);
        let config = portal_core::sso::get(&svc, &link.org_id)
            .await
            .map_err(to_client)?;
        Some(SetupLinkSso {
            entity_id: urls.entity_id,
            acs_url: urls.acs_url,
            login_url: urls.login_url,
            metadata_url: urls.metadata_url,
            org_id: link.org_id.clone(),
            employee_login_url: format!("{}/login?org={}", svc.settings.public_url, link.org_id),
            configured: config.map(|c| SetupLinkSsoConfig {
                sso_url: c.sso_url,
                idp_entity_id: c.idp_entity_id.unwrap_or_default(),
                certificate_subject: c.certificate.subject,
                certificate_not_after: c.certificate.not_after,
                updated_at: c.updated_at,
                last_success_at: c.last_success_at,
            }),
        })
    } else {
        None
    };
    let provisioning = if scope.provisioning() {
        let status = portal_core::scim_tokens::status(&svc, &link.org_id)
            .await
            .map_err(to_client)?;
        Some(SetupLinkProvisioning {
            scim_base_url: format!("{}/scim/v2/{}", svc.settings.public_url, link.org_id),
            token_active: status.is_some(),
            last_success_at: status.and_then(|s| s.last_success_at),
        })
    } else {
        None
    };
    Ok(Some(SetupLinkPage {
        org_name: link.org_name,
        label: link.label,
        sent_by: link.created_by_email,
        scope,
        expires_at: link.expires_at,
        sso,
        provisioning,
    }))
}

/// Saves the IdP's SAML endpoint, certificate and (optional) entity ID. The admin's options (JIT,
/// Require SSO, IdP-initiated sign-in) stay as they are (a first setup gets the screen's
/// defaults); a staged next certificate is dropped. The change is an event whose actor names the link.
#[server(endpoint = "setup_link_save_sso")]
pub async fn setup_link_save_sso(
    token: String,
    sso_url: String,
    certificate: String,
    idp_entity_id: String,
) -> Result<(), AppError> {
    use crate::ssr::{services, to_client};
    use portal_core::setup_links::{authorize_for, Scope};
    let svc = services()?;
    let link = authorize_for(&svc, &token, Scope::Sso)
        .await
        .map_err(to_client)?;
    let existing = portal_core::sso::get(&svc, &link.org_id)
        .await
        .map_err(to_client)?;
    let mut input = match &existing {
        Some(cfg) => portal_core::sso::input_of(cfg),
        None => portal_core::sso::SsoInput {
            jit_enabled: true,
            ..Default::default()
        },
    };
    input.sso_url = sso_url;
    input.certificate = certificate;
    input.idp_entity_id = idp_entity_id;
    // The contact's values replace the trust set: a next certificate the admin staged for the
    // old IdP is not kept beside a certificate the contact chose.
    input.next_certificate = String::new();
    portal_core::sso::save(&svc, &link.org_id, &link.actor(), &input)
        .await
        .map_err(to_client)?;
    Ok(())
}

/// A SCIM token for the IdP, shown once. With no token yet this turns provisioning on; with one,
/// it starts a rotation (the current token keeps working until the first successful request
/// with the new one, or 7 days); while a rotation is pending it is refused (409), so a link never
/// replaces a token at once. Decided under the org's lock (`scim_tokens::issue_through_setup_link`).
#[server(endpoint = "setup_link_scim_token")]
pub async fn setup_link_scim_token(token: String) -> Result<NewScimToken, AppError> {
    use crate::ssr::{fail, plain_form_post, services, to_client};
    use portal_core::scim_tokens;
    use portal_core::setup_links::{authorize_for, Scope};
    let svc = services()?;
    let link = authorize_for(&svc, &token, Scope::Provisioning)
        .await
        .map_err(to_client)?;
    if plain_form_post() {
        return Err(fail(
            http::StatusCode::BAD_REQUEST,
            "Generating a token needs JavaScript: the token is shown once, on this page.",
        ));
    }
    let secret = scim_tokens::issue_through_setup_link(&svc, &link.org_id, &link.actor())
        .await
        .map_err(to_client)?;
    Ok(NewScimToken {
        token: secret.into_exposed(),
    })
}

fn token_param() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get("token").unwrap_or_default()))
}

/// The page frame: no admin navigation; never cached or indexed (the address is the credential;
/// the server's `Referrer-Policy: same-origin` keeps it from other sites).
#[component]
fn LinkFrame(title: &'static str, children: Children) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
    view! {
        <Title text=format!("{title} · Identity portal") />
        <Meta name="robots" content="noindex" />
        <main class="setup-link" id="main">
            {children()}
        </main>
    }
}

/// Loads the link and renders `body` with it, or the one "does not work" message.
#[component]
fn WithLink<F, V>(body: F) -> impl IntoView
where
    F: Fn(String, SetupLinkPage) -> V + Send + Sync + Copy + 'static,
    V: IntoView + 'static,
{
    let token = token_param();
    let page = crate::components::resource(move || token.get(), load_setup_link);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(None) => view! {
                            <h1>"Setup link"</h1>
                            <p class="alert error" role="alert" data-testid="setup-link-invalid">{INVALID_SETUP_LINK}</p>
                        }
                        .into_any(),
                        Ok(Some(p)) => {
                            let header = view! { <LinkHeader p=p.clone() token=token.get_untracked() /> };
                            view! { {header} {body(token.get_untracked(), p)} }.into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn LinkHeader(p: SetupLinkPage, token: String) -> impl IntoView {
    let base = format!("/setup-link/{token}");
    let sso = p
        .scope
        .sso()
        .then(|| view! { <li><a href=format!("{base}/sso")>"Single sign-on"</a></li> });
    let prov = p
        .scope
        .provisioning()
        .then(|| view! { <li><a href=format!("{base}/provisioning")>"Provisioning"</a></li> });
    view! {
        <p class="muted" data-testid="setup-link-for">
            {format!(
                "Setup for {} — sent by {} to {}. This link works until {}.",
                p.org_name,
                p.sent_by,
                p.label,
                utc(p.expires_at)
            )}
        </p>
        <nav class="steps-nav" aria-label="Setup steps">
            <ul>
                <li><a href=base.clone()>"Start"</a></li>
                {sso}
                {prov}
            </ul>
        </nav>
    }
}

/// `/setup-link/{token}`: what the link is for, and where to start.
#[component]
pub fn SetupLinkStart() -> impl IntoView {
    view! {
        <LinkFrame title="Setup">
            <WithLink body=|token: String, p: SetupLinkPage| {
                let base = format!("/setup-link/{token}");
                let sso = p.scope.sso().then(|| view! {
                    <li>
                        <a href=format!("{base}/sso") data-testid="start-sso">"Set up single sign-on (SAML 2.0)"</a>
                        " — copy our values into your identity provider's SAML application, then paste its endpoint and certificate here."
                    </li>
                });
                let prov = p.scope.provisioning().then(|| view! {
                    <li>
                        <a href=format!("{base}/provisioning") data-testid="start-provisioning">"Set up user provisioning (SCIM 2.0)"</a>
                        " — copy the SCIM base URL and generate the token your identity provider uses."
                    </li>
                });
                view! {
                    <h1>{format!("Set up {}'s identity provider", p.org_name)}</h1>
                    <p>{format!("{} asked you to connect their identity provider. This link opens only the setup below; every change you make here is recorded under this link's name.", p.sent_by)}</p>
                    <ul class="start-list">{sso}{prov}</ul>
                }
            } />
        </LinkFrame>
    }
}

/// `/setup-link/{token}/sso`.
#[component]
pub fn SetupLinkSsoPage() -> impl IntoView {
    view! {
        <LinkFrame title="Single sign-on setup">
            <WithLink body=|token: String, p: SetupLinkPage| match p.sso {
                None => view! {
                    <h1>"Single sign-on"</h1>
                    <p class="alert error" role="alert" data-testid="setup-link-scope">"This setup link is for provisioning only."</p>
                }
                .into_any(),
                Some(s) => view! { <SsoSetup token s /> }.into_any(),
            } />
        </LinkFrame>
    }
}

#[component]
fn SsoSetup(token: String, s: SetupLinkSso) -> impl IntoView {
    let save = ServerAction::<SetupLinkSaveSso>::new();
    let errors = FormErrors::of(save);
    let pending = save.pending();
    let path = format!("/setup-link/{token}/sso");
    let values = crate::idp_guides::SsoValues {
        acs_url: &s.acs_url,
        entity_id: &s.entity_id,
        login_url: &s.login_url,
        metadata_url: &s.metadata_url,
        org_id: &s.org_id,
        employee_login_url: &s.employee_login_url,
    }
    .to_values();
    let current = s.configured.clone().map(|c| {
        view! {
            <section class="card" aria-labelledby="sso-current">
                <h2 id="sso-current">"Configured now"</h2>
                <dl class="facts" data-testid="setup-link-sso-current">
                    <dt>"SAML 2.0 endpoint"</dt>
                    <dd class="mono">{c.sso_url.clone()}</dd>
                    <dt>"IdP entity ID"</dt>
                    <dd class="mono">{if c.idp_entity_id.is_empty() { "—".to_string() } else { c.idp_entity_id.clone() }}</dd>
                    <dt>"Certificate"</dt>
                    <dd>{format!("{} (valid until {})", c.certificate_subject, utc(c.certificate_not_after))}</dd>
                    <dt>"Last change"</dt>
                    <dd>{utc(c.updated_at)}</dd>
                    <dt>"Last successful sign-in"</dt>
                    <dd>{opt(c.last_success_at)}</dd>
                </dl>
            </section>
        }
    });
    let (sso_url, cert, issuer) = s
        .configured
        .as_ref()
        .map(|c| (c.sso_url.clone(), String::new(), c.idp_entity_id.clone()))
        .unwrap_or_default();
    let saved = move || {
        save.value().get().is_some_and(|r| r.is_ok()).then(|| {
            view! { <p class="alert ok" role="status" data-testid="sso-saved">"Saved. Single sign-on uses these settings now."</p> }
        })
    };
    view! {
        <h1>"Set up single sign-on"</h1>
        <GuidedSetup screen=Screen::Sso values path />
        <section class="card" aria-labelledby="sp-details">
            <h2 id="sp-details">"Details for your identity provider"</h2>
            <CopyField label="Entity ID / Audience" id="sp-entity-id" value=s.entity_id.clone() />
            <CopyField label="ACS URL (Assertion Consumer Service)" id="sp-acs-url" value=s.acs_url.clone() />
            <CopyField label="SP-initiated login URL" id="sp-login-url" value=s.login_url.clone() />
            <CopyField label="Org ID" id="sp-org-id" value=s.org_id.clone() />
            <p>
                <a href=s.metadata_url.clone() target="_blank" rel="external noopener noreferrer">"View SP metadata XML"</a>
            </p>
        </section>
        {current}
        <section class="card" aria-labelledby="idp-config">
            <h2 id="idp-config">"Connect your identity provider"</h2>
            <ActionForm action=save attr:class="stack" attr:aria-label="Identity provider settings">
                <input type="hidden" name="token" value=token.clone() />
                <FormError error=errors.summary() />
                <label for="sso-url-input">"SAML 2.0 endpoint (HTTP)"</label>
                <input id="sso-url-input" name="sso_url" type="url" maxlength="2048" value=sso_url
                    placeholder="https://sso.jumpcloud.com/saml2/your-app"
                    aria-invalid=errors.invalid(FieldName::SsoUrl)
                    aria-describedby=errors.described_by(FieldName::SsoUrl, "sso-url-error") />
                <FieldError errors field=FieldName::SsoUrl id="sso-url-error" />
                <label for="cert-input">"Public certificate"</label>
                <textarea id="cert-input" name="certificate" rows="8" class="mono"
                    placeholder="-----BEGIN CERTIFICATE-----"
                    aria-invalid=errors.invalid(FieldName::Certificate)
                    aria-describedby=errors.described_by(FieldName::Certificate, "cert-error")>{cert}</textarea>
                <FieldError errors field=FieldName::Certificate id="cert-error" />
                <label for="issuer-input">"IdP entity ID (Issuer), optional"</label>
                <input id="issuer-input" name="idp_entity_id" type="text" maxlength="1024" value=issuer
                    aria-invalid=errors.invalid(FieldName::IdpEntityId)
                    aria-describedby=errors.described_by(FieldName::IdpEntityId, "issuer-error") />
                <FieldError errors field=FieldName::IdpEntityId id="issuer-error" />
                <SubmitButton pending label="Save" pending_label="Saving…" />
            </ActionForm>
            {saved}
        </section>
    }
}

/// `/setup-link/{token}/provisioning`.
#[component]
pub fn SetupLinkProvisioningPage() -> impl IntoView {
    view! {
        <LinkFrame title="Provisioning setup">
            <WithLink body=|token: String, p: SetupLinkPage| match p.provisioning {
                None => view! {
                    <h1>"User provisioning"</h1>
                    <p class="alert error" role="alert" data-testid="setup-link-scope">"This setup link is for single sign-on only."</p>
                }
                .into_any(),
                Some(v) => view! { <ProvisioningSetup token v /> }.into_any(),
            } />
        </LinkFrame>
    }
}

#[component]
fn ProvisioningSetup(token: String, v: SetupLinkProvisioning) -> impl IntoView {
    let generate = ServerAction::<SetupLinkScimToken>::new();
    let pending = generate.pending();
    let path = format!("/setup-link/{token}/provisioning");
    let values = vec![("scim_base_url", v.scim_base_url.clone())];
    let status = if v.token_active {
        format!(
            "Provisioning is on (last successful request: {}). A new token starts a rotation: the current token keeps working until your identity provider's first successful request with the new one (at most 7 days).",
            opt(v.last_success_at)
        )
    } else {
        "Provisioning is off: generate a token to turn it on.".to_string()
    };
    view! {
        <h1>"Set up user provisioning"</h1>
        <GuidedSetup screen=Screen::Provisioning values path />
        <section class="card" aria-labelledby="scim-endpoint">
            <h2 id="scim-endpoint">"SCIM endpoint"</h2>
            <CopyField label="SCIM base URL" id="scim-base-url" value=v.scim_base_url.clone() />
        </section>
        <section class="card" aria-labelledby="scim-token">
            <h2 id="scim-token">"SCIM token"</h2>
            <p data-testid="setup-link-token-status">{status}</p>
            <ActionForm action=generate>
                <input type="hidden" name="token" value=token.clone() />
                <SubmitButton pending label="Generate token" pending_label="Generating…" />
            </ActionForm>
            <FormError error=Signal::derive(move || generate.value().with(error_of)) />
            {move || {
                generate
                    .value()
                    .get()
                    .and_then(Result::ok)
                    .map(|t| {
                        view! {
                            <div class="secret-once" role="region" aria-label="New SCIM token">
                                <p class="alert warn">
                                    <strong>"Copy this token now."</strong>
                                    " It is shown only once. Paste it as the token (Token Key / Secret Token / API token) in your identity provider."
                                </p>
                                <CopyField label="New SCIM token" id="new-scim-token" value=t.token />
                            </div>
                        }
                    })
            }}
        </section>
    }
}
