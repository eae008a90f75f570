//! Automated user provisioning: the SCIM base URL, the token (generated, shown once, replaced,
//! revoked), the cut-over indicator and the silent-breakage warnings.
//!
//! "Generate new token" must work before hydration and without JavaScript, yet a server
//! function posted as a plain form answers with a redirect back to the page, which would drop
//! the token. So its confirm form posts natively to [`TOKEN_FORM_PATH`], an axum route
//! (`server/src/http/provisioning.rs`) that renders the token in its own no-store response; once
//! hydrated, the same form is intercepted and runs [`generate_scim_token`] in the page.

use leptos::prelude::*;
use leptos_meta::Title;
// SCIM request log (issue 13).
use leptos_router::components::A;

use crate::components::{error_of, CopyField, FormError, IfCan, ReadOnlyNotice, SubmitButton};
use crate::dto::Need;
use crate::dto::{NewScimToken, ProvisioningView};
use crate::errors::AppError;
use crate::time_fmt::{opt, utc};

/// Where the confirm form posts without JavaScript. Under `/api/` so the cross-site guard that
/// protects every server function protects it too.
pub const TOKEN_FORM_PATH: &str = "/api/provisioning/token";

/// The form field naming the token the admin saw when confirming (empty when there was none): a
/// resubmitted form (a reload of the page that showed the new token) is refused instead of
/// silently replacing the token the admin has just copied.
pub const REPLACES_FIELD: &str = "replaces";

#[server(endpoint = "load_provisioning")]
pub async fn load_provisioning() -> Result<ProvisioningView, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let status = portal_core::admin_views::provisioning_status(&svc, &admin.org_id)
        .await
        .map_err(to_client)?;
    Ok(ProvisioningView {
        scim_base_url: format!("{}/scim/v2/{}", svc.settings.public_url, admin.org_id),
        status: status.into(),
        now: svc.now(),
    })
}

#[server(endpoint = "generate_scim_token")]
pub async fn generate_scim_token() -> Result<NewScimToken, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    let token = portal_core::scim_tokens::generate(&svc, &admin.org_id, &admin.email)
        .await
        .map_err(to_client)?;
    Ok(NewScimToken {
        token: token.into_exposed(),
    })
}

#[server(endpoint = "revoke_scim_token")]
pub async fn revoke_scim_token() -> Result<(), AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    portal_core::scim_tokens::revoke(&svc, &admin.org_id, &admin.email)
        .await
        .map_err(to_client)?;
    Ok(())
}

#[component]
pub fn ProvisioningPage() -> impl IntoView {
    let generate = ServerAction::<GenerateScimToken>::new();
    let revoke = ServerAction::<RevokeScimToken>::new();
    let view_res = Resource::new(
        move || (generate.version().get(), revoke.version().get()),
        |_| load_provisioning(),
    );
    // A revoked token must not stay on screen.
    Effect::new(move |_| {
        if revoke.version().get() > 0 {
            generate.value().set(None);
        }
    });
    let new_token = move || generate.value().get().and_then(|r| r.ok()).map(|t| t.token);
    view! {
        <Title text="Automated user provisioning · Identity portal" />
        <h1>"Automated user provisioning"</h1>
        <ReadOnlyNotice needs=Need::Manage />
        <p class="muted">
            "Your identity provider creates, updates, deactivates and deletes users here through SCIM 2.0. Paste the base URL and a token into its Identity Management settings."
        </p>
        // SCIM request log (issue 13).
        <p><A href=super::scim_requests::PATH attr:data-testid="scim-requests-link">"SCIM requests: what your identity provider sent, and the answers →"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                view_res
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(v) => view! { <Status v generate revoke new_token=Signal::derive(new_token) /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Status(
    v: ProvisioningView,
    generate: ServerAction<GenerateScimToken>,
    revoke: ServerAction<RevokeScimToken>,
    new_token: Signal<Option<String>>,
) -> impl IntoView {
    let st = v.status.clone();
    let active = st.token.is_some();
    let replaces = st.token.as_ref().map(|t| t.id.clone()).unwrap_or_default();
    // Hydrated: stay on the page and show the token in place. Before hydration (or without
    // JavaScript) the browser posts the form to TOKEN_FORM_PATH instead.
    let confirm_generate = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !generate.pending().get_untracked() {
            generate.dispatch(GenerateScimToken {});
        }
    };
    let token_block = match st.token.clone() {
        None => view! {
            <p data-testid="token-status">
                <span class="badge muted-badge">"No token"</span>
                " SCIM provisioning is off: every request is refused."
            </p>
        }
        .into_any(),
        Some(t) => {
            let cutover = match (t.first_used_at, t.last_user_agent.clone()) {
                (None, _) => view! {
                    <p class="alert warn" data-testid="cutover" role="status">
                        "Waiting for your IdP's first request with the new token."
                    </p>
                }
                .into_any(),
                (Some(at), ua) => view! {
                    <p class="alert ok" data-testid="cutover" role="status">
                        {format!(
                            "Your IdP is using the new token: first request {}{}.",
                            utc(at),
                            ua.map(|u| format!(" from {u}")).unwrap_or_default()
                        )}
                    </p>
                }
                .into_any(),
            };
            view! {
                <p data-testid="token-status">
                    <span class="badge ok-badge">"Active"</span>
                </p>
                <dl class="facts">
                    <dt>"Created"</dt>
                    <dd>{utc(t.created_at)}</dd>
                    <dt>"Created by"</dt>
                    <dd>{t.created_by.clone()}</dd>
                    <dt>"Last used"</dt>
                    <dd data-testid="last-used">{opt(t.last_used_at)}</dd>
                    <dt>"Client"</dt>
                    <dd>{t.last_user_agent.clone().unwrap_or_else(|| "—".into())}</dd>
                </dl>
                {cutover}
            }
            .into_any()
        }
    };
    let stale = st.stale_since.map(|since| {
        view! {
            <p class="alert warn" role="alert" data-testid="silence-warning">
                {format!(
                    "No successful SCIM request since {} — more than two 40-minute sync cycles. Check that the integration is still activated in your IdP and that it uses the current token.",
                    utc(since)
                )}
            </p>
        }
    });
    let rejected = (st.rejected_count > 0).then(|| {
        view! {
            <p class="alert warn" role="alert" data-testid="rejected-warning">
                {format!(
                    "{} request(s) arrived with a replaced or revoked token, the last at {}. Paste the current token into your IdP.",
                    st.rejected_count,
                    opt(st.last_rejected_at)
                )}
            </p>
        }
    });
    view! {
        <section class="card" aria-labelledby="scim-endpoint">
            <h2 id="scim-endpoint">"SCIM endpoint"</h2>
            <CopyField label="SCIM base URL" id="scim-base-url" value=v.scim_base_url.clone() />
        </section>
        <section class="card" aria-labelledby="scim-token">
            <h2 id="scim-token">"SCIM token"</h2>
            {token_block}
            {stale}
            {rejected}
            {move || {
                new_token
                    .get()
                    .map(|t| {
                        view! {
                            <div class="secret-once" role="region" aria-label="New SCIM token">
                                <p class="alert warn">
                                    <strong>"Copy this token now."</strong>
                                    " It is shown only once and cannot be retrieved later. Paste it as the Token Key in your IdP."
                                </p>
                                <CopyField label="New SCIM token" id="new-scim-token" value=t />
                            </div>
                        }
                    })
            }}
            <FormError error=Signal::derive(move || generate.value().with(error_of)) />
            <FormError error=Signal::derive(move || revoke.value().with(error_of)) />
            <IfCan needs=Need::Manage>
            <div class="actions">
                <details class="confirm">
                    <summary class="button-like">"Generate new token"</summary>
                    <div class="confirm-body">
                        <p>
                            {if active {
                                "This replaces the existing token: your IdP stops syncing until you paste the new one."
                            } else {
                                "This turns SCIM provisioning on. If this is your first time, you can ignore the warning about replacing a token."
                            }}
                        </p>
                        <form method="post" action=TOKEN_FORM_PATH on:submit=confirm_generate>
                            <input type="hidden" name=REPLACES_FIELD value=replaces.clone() />
                            <SubmitButton pending=generate.pending() label="Confirm" pending_label="Generating…" />
                        </form>
                    </div>
                </details>
                {active
                    .then(|| {
                        view! {
                            <details class="confirm">
                                <summary class="button-like danger">"Revoke token"</summary>
                                <div class="confirm-body">
                                    <p>"This turns SCIM provisioning off: every request from your IdP is refused until you generate a new token."</p>
                                    <ActionForm action=revoke>
                                        <SubmitButton pending=revoke.pending() class="danger" label="Revoke" pending_label="Revoking…" />
                                    </ActionForm>
                                </div>
                            </details>
                        }
                    })}
            </div>
            </IfCan>
        </section>
    }
}

/// The domain's read models as this screen's wire types.
#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{ProvisioningStatus, TokenStatus};

    impl From<portal_core::scim_tokens::TokenStatus> for TokenStatus {
        fn from(t: portal_core::scim_tokens::TokenStatus) -> Self {
            let portal_core::scim_tokens::TokenStatus {
                id,
                created_at,
                created_by,
                first_used_at,
                last_used_at,
                last_user_agent,
            } = t;
            Self {
                id,
                created_at,
                created_by,
                first_used_at,
                last_used_at,
                last_user_agent,
            }
        }
    }

    impl From<portal_core::admin_views::ProvisioningStatus> for ProvisioningStatus {
        fn from(s: portal_core::admin_views::ProvisioningStatus) -> Self {
            let portal_core::admin_views::ProvisioningStatus {
                token,
                rejected_count,
                last_rejected_at,
                stale_since,
            } = s;
            Self {
                token: token.map(Into::into),
                rejected_count,
                last_rejected_at,
                stale_since,
            }
        }
    }
}
