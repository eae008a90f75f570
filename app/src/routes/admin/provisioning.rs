//! Automated user provisioning: the SCIM base URL, the token (generated, shown once, replaced,
//! revoked), the cut-over indicator and the silent-breakage warnings.
//!
//! "Generate new token" must work before hydration and without JavaScript, yet a server
//! function posted as a plain form answers with a redirect back to the page, which would drop
//! the token. So its confirm form posts natively to [`TOKEN_FORM_PATH`], an axum route
//! (`server/src/http/provisioning.rs`) that renders the token in its own no-store response; once
//! hydrated, the same form is intercepted and runs [`generate_scim_token`] in the page.
//!
//! "Rotate" (issue 13) works the same way: its form posts to [`TOKEN_FORM_PATH`] with
//! [`MODE_FIELD`] = [`MODE_ROTATE`] and the grace period, or runs [`rotate_scim_token`] once
//! hydrated. The next token works beside the current one until the IdP's first successful
//! request with it, "Retire old token now" ([`retire_old_scim_token`]) or the grace period ends.

use leptos::prelude::*;
use leptos_meta::Title;
// SCIM request log (issue 13).
use leptos_router::components::A;

use crate::components::{error_of, CopyField, FormError, IfCan, ReadOnlyNotice, SubmitButton};
use crate::dto::Need;
use crate::dto::{NewScimToken, ProvisioningView, GRACE_HOURS, GRACE_HOURS_DEFAULT};
use crate::errors::AppError;
use crate::idp_guides::{GuidedSetup, Screen};
use crate::time_fmt::{opt, utc};

/// Where the confirm form posts without JavaScript. Under `/api/` so the cross-site guard that
/// protects every server function protects it too.
pub const TOKEN_FORM_PATH: &str = "/api/provisioning/token";

/// The form field naming the token the admin saw when confirming (empty when there was none): a
/// resubmitted form (a reload of the page that showed the new token) is refused instead of
/// silently replacing the token the admin has just copied.
pub const REPLACES_FIELD: &str = "replaces";

/// Token rotation (issue 13): the form field choosing "rotate" instead of "replace now", and the
/// grace period field (hours). For a rotation, [`REPLACES_FIELD`] names the next token the
/// admin saw (empty when none).
pub const MODE_FIELD: &str = "mode";
pub const MODE_ROTATE: &str = "rotate";
pub const GRACE_FIELD: &str = "grace_hours";

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

/// Starts (or restarts) a rotation: the next token, shown once; the current one keeps working
/// until the IdP's first successful request with the new one, or `grace_hours`.
#[server(endpoint = "rotate_scim_token")]
pub async fn rotate_scim_token(grace_hours: i64) -> Result<NewScimToken, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    let token = portal_core::scim_tokens::rotate(
        &svc,
        &admin.org_id,
        &admin.email,
        grace_hours.saturating_mul(3_600_000),
    )
    .await
    .map_err(to_client)?;
    Ok(NewScimToken {
        token: token.into_exposed(),
    })
}

/// "Retire old token now": `token_id` is the current token the admin saw.
#[server(endpoint = "retire_old_scim_token")]
pub async fn retire_old_scim_token(token_id: String) -> Result<(), AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    portal_core::scim_tokens::retire_old(&svc, &admin.org_id, &token_id, &admin.email)
        .await
        .map_err(to_client)?;
    Ok(())
}

#[component]
pub fn ProvisioningPage() -> impl IntoView {
    let generate = ServerAction::<GenerateScimToken>::new();
    let revoke = ServerAction::<RevokeScimToken>::new();
    let rotate = ServerAction::<RotateScimToken>::new();
    let retire = ServerAction::<RetireOldScimToken>::new();
    let view_res = crate::components::resource(
        move || {
            (
                generate.version().get(),
                revoke.version().get(),
                rotate.version().get(),
                retire.version().get(),
            )
        },
        |_| load_provisioning(),
    );
    // The secret of the last "Generate" or "Rotate"; a revoked token must not stay on screen.
    let shown = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(t)) = generate.value().get() {
            shown.set(Some(t.token));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(t)) = rotate.value().get() {
            shown.set(Some(t.token));
        }
    });
    Effect::new(move |_| {
        if revoke.version().get() > 0 {
            generate.value().set(None);
            rotate.value().set(None);
            shown.set(None);
        }
    });
    let new_token = move || shown.get();
    let actions = Actions {
        generate,
        revoke,
        rotate,
        retire,
    };
    view! {
        <Title text="Automated user provisioning · Identity portal" />
        <h1>"Automated user provisioning"</h1>
        <ReadOnlyNotice needs=Need::Manage />
        <p class="muted">
            "Your identity provider creates, updates, deactivates and deletes users here through SCIM 2.0. Paste the base URL and a token into its Identity Management settings."
        </p>
        <IfCan needs=Need::Manage>
            <p class="muted" data-testid="setup-link-hint">
                "Someone outside your admin team sets up your IdP? "
                <a href="/admin/setup-links">"Send them a setup link"</a>
                " that opens only this setup."
            </p>
        </IfCan>
        // SCIM request log (issue 13).
        <p><A href=super::scim_requests::PATH attr:data-testid="scim-requests-link">"SCIM requests: what your identity provider sent, and the answers →"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                view_res
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(v) => view! { <Status v actions new_token=Signal::derive(new_token) /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// The screen's server actions.
#[derive(Clone, Copy)]
struct Actions {
    generate: ServerAction<GenerateScimToken>,
    revoke: ServerAction<RevokeScimToken>,
    rotate: ServerAction<RotateScimToken>,
    retire: ServerAction<RetireOldScimToken>,
}

#[component]
fn Status(
    v: ProvisioningView,
    actions: Actions,
    new_token: Signal<Option<String>>,
) -> impl IntoView {
    let Actions {
        generate,
        revoke,
        rotate,
        retire,
    } = actions;
    let st = v.status.clone();
    let active = st.token.is_some();
    let rotating = st.rotation.is_some();
    let replaces = st.token.as_ref().map(|t| t.id.clone()).unwrap_or_default();
    let next_id = st
        .rotation
        .as_ref()
        .map(|r| r.next.id.clone())
        .unwrap_or_default();
    // Hydrated: stay on the page and show the token in place. Before hydration (or without
    // JavaScript) the browser posts the form to TOKEN_FORM_PATH instead.
    let confirm_generate = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !generate.pending().get_untracked() {
            generate.dispatch(GenerateScimToken {});
        }
    };
    let token_block = match (st.token.clone(), st.rotation.clone()) {
        (None, _) => view! {
            <p data-testid="token-status">
                <span class="badge muted-badge">"No token"</span>
                " SCIM provisioning is off: every request is refused."
            </p>
        }
        .into_any(),
        (Some(t), Some(r)) => rotation_block(t, r),
        (Some(t), None) => {
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
    let retired = st.last_retired.clone().map(|r| {
        view! {
            <p class="alert ok" role="status" data-testid="retired">
                {format!(
                    "Previous token (created {}, last used {}) retired {} by {}: {}.",
                    utc(r.created_at),
                    opt(r.last_used_at),
                    utc(r.retired_at),
                    r.retired_by,
                    r.reason
                )}
            </p>
        }
    });
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
    let guide_values = vec![("scim_base_url", v.scim_base_url.clone())];
    view! {
        <GuidedSetup screen=Screen::Provisioning values=guide_values />
        <section class="card" aria-labelledby="scim-endpoint">
            <h2 id="scim-endpoint">"SCIM endpoint"</h2>
            <CopyField label="SCIM base URL" id="scim-base-url" value=v.scim_base_url.clone() />
        </section>
        <section class="card" aria-labelledby="scim-token">
            <h2 id="scim-token">"SCIM token"</h2>
            {token_block}
            {retired}
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
            <FormError error=Signal::derive(move || rotate.value().with(error_of)) />
            <FormError error=Signal::derive(move || retire.value().with(error_of)) />
            <IfCan needs=Need::Manage>
            <div class="actions">
                <details class="confirm">
                    <summary class="button-like">"Generate new token"</summary>
                    <div class="confirm-body">
                        <p>
                            {if rotating {
                                "This replaces both tokens at once: your IdP stops syncing until you paste the new one. To keep it syncing, use Rotate instead."
                            } else if active {
                                "This replaces the existing token: your IdP stops syncing until you paste the new one. To keep it syncing, use Rotate instead."
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
                {active.then(|| view! { <RotateForm rotate next_id=next_id.clone() rotating /> })}
                {st
                    .rotation
                    .clone()
                    .zip(st.token.clone())
                    .map(|(_, current)| {
                        view! {
                            <details class="confirm">
                                <summary class="button-like">"Retire old token now"</summary>
                                <div class="confirm-body">
                                    <p>"Only the new token works afterwards: make sure your IdP uses it."</p>
                                    <ActionForm action=retire>
                                        <input type="hidden" name="token_id" value=current.id />
                                        <SubmitButton pending=retire.pending() label="Retire" pending_label="Retiring…" />
                                    </ActionForm>
                                </div>
                            </details>
                        }
                    })}
                {active
                    .then(|| {
                        view! {
                            <details class="confirm">
                                <summary class="button-like danger">"Revoke token"</summary>
                                <div class="confirm-body">
                                    <p>"This turns SCIM provisioning off (both tokens during a rotation): every request from your IdP is refused until you generate a new token."</p>
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

/// Both tokens of a rotation: created, last used, client, and which one the IdP is using.
fn rotation_block(current: crate::dto::TokenStatus, r: crate::dto::RotationStatus) -> AnyView {
    let next = r.next;
    let using = match (current.last_used_at, next.last_used_at) {
        (_, Some(n)) if current.last_used_at.is_none_or(|c| n >= c) => format!(
            "Your IdP has sent the new token (last {}), but no request with it has succeeded yet: the old token is retired at the first one that does.",
            utc(n)
        ),
        (Some(c), _) => format!(
            "Your IdP is still using the old token (last request {}). Paste the new token into your IdP: the old one is retired at its first successful request with the new one.",
            utc(c)
        ),
        _ => "Your IdP has not used either token yet.".to_string(),
    };
    let facts = |t: &crate::dto::TokenStatus| {
        view! {
            <dt>"Created"</dt>
            <dd>{utc(t.created_at)}</dd>
            <dt>"Created by"</dt>
            <dd>{t.created_by.clone()}</dd>
            <dt>"Last used"</dt>
            <dd>{opt(t.last_used_at)}</dd>
            <dt>"Client"</dt>
            <dd>{t.last_user_agent.clone().unwrap_or_else(|| "—".into())}</dd>
        }
    };
    view! {
        <p data-testid="token-status">
            <span class="badge ok-badge">"Active"</span>
            " "
            <span class="badge warn-badge">"Rotating"</span>
        </p>
        <div class="token-pair">
            <div data-testid="old-token">
                <h3>"Old token"</h3>
                <dl class="facts">
                    {facts(&current)}
                    <dt>"Retires"</dt>
                    <dd>{format!("at the IdP's first successful request with the new token, {} at the latest", utc(r.retire_at))}</dd>
                </dl>
            </div>
            <div data-testid="new-token">
                <h3>"New token"</h3>
                <dl class="facts">{facts(&next)}</dl>
            </div>
        </div>
        <p class="alert warn" data-testid="cutover" role="status">{using}</p>
    }
    .into_any()
}

/// "Rotate token": a next token beside the current one, with the grace period. Posts natively to
/// [`TOKEN_FORM_PATH`] before hydration, like "Generate new token".
#[component]
fn RotateForm(
    rotate: ServerAction<RotateScimToken>,
    next_id: String,
    rotating: bool,
) -> impl IntoView {
    let grace = RwSignal::new(GRACE_HOURS_DEFAULT);
    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !rotate.pending().get_untracked() {
            rotate.dispatch(RotateScimToken {
                grace_hours: grace.get_untracked(),
            });
        }
    };
    view! {
        <details class="confirm">
            <summary class="button-like">"Rotate token"</summary>
            <div class="confirm-body">
                <p>
                    {if rotating {
                        "This replaces the new token of the rotation in progress (your IdP has not succeeded with it yet) and restarts the grace period; the old token keeps working."
                    } else {
                        "A new token works next to the current one, so your IdP keeps syncing. The current token is retired automatically at your IdP's first successful request with the new one, or when the grace period ends."
                    }}
                </p>
                <form method="post" action=TOKEN_FORM_PATH on:submit=confirm>
                    <input type="hidden" name=MODE_FIELD value=MODE_ROTATE />
                    <input type="hidden" name=REPLACES_FIELD value=next_id />
                    <label for="grace-hours">"Retire the old token at the latest after"</label>
                    <select
                        id="grace-hours"
                        name=GRACE_FIELD
                        on:change=move |ev| {
                            grace.set(event_target_value(&ev).parse().unwrap_or(GRACE_HOURS_DEFAULT))
                        }
                    >
                        {GRACE_HOURS
                            .iter()
                            .map(|(h, label)| {
                                view! {
                                    <option value=h.to_string() selected=*h == GRACE_HOURS_DEFAULT>
                                        {*label}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <SubmitButton pending=rotate.pending() label="Rotate" pending_label="Rotating…" />
                </form>
            </div>
        </details>
    }
}

/// The domain's read models as this screen's wire types.
#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{ProvisioningStatus, RetiredToken, RotationStatus, TokenStatus};

    impl From<portal_core::scim_tokens::TokenStatus> for TokenStatus {
        fn from(t: portal_core::scim_tokens::TokenStatus) -> Self {
            let portal_core::scim_tokens::TokenStatus {
                id,
                created_at,
                created_by,
                first_used_at,
                last_used_at,
                last_user_agent,
                // Shown through `ProvisioningStatus::stale_since` (the silence warning).
                last_success_at: _,
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
                rotation,
                last_retired,
            } = s;
            Self {
                token: token.map(Into::into),
                rejected_count,
                last_rejected_at,
                stale_since,
                rotation: rotation.map(|r| RotationStatus {
                    next: r.next.into(),
                    retire_at: r.retire_at,
                }),
                last_retired: last_retired.map(|r| RetiredToken {
                    id: r.id,
                    created_at: r.created_at,
                    last_used_at: r.last_used_at,
                    last_user_agent: r.last_user_agent,
                    retired_at: r.retired_at,
                    retired_by: r.retired_by,
                    reason: r.reason,
                }),
            }
        }
    }
}
