//! Setup links (issue 13): the admin's screen (`/admin/setup-links`) listing the links sent to
//! outside IT contacts, making one (scope, lifetime; the address shown once) and revoking one.
//! What a link opens is in `routes::setup_link`.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{error_of, CopyField, FormError, IfCan, ReadOnlyNotice, SubmitButton};
use crate::dto::{Need, NewSetupLink, SetupLinkRow, SetupLinksView};
use crate::errors::AppError;
use crate::time_fmt::{opt, utc};

#[cfg(feature = "ssr")]
pub(crate) mod wire {
    use crate::dto::SetupScope;
    use portal_core::setup_links::Scope;

    pub fn scope(s: Scope) -> SetupScope {
        match s {
            Scope::Sso => SetupScope::Sso,
            Scope::Provisioning => SetupScope::Provisioning,
            Scope::Both => SetupScope::Both,
        }
    }
}

#[server(endpoint = "load_setup_links")]
pub async fn load_setup_links() -> Result<SetupLinksView, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    use portal_core::setup_links::{self, LinkState};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let links = setup_links::list(&svc, &admin.org_id)
        .await
        .map_err(to_client)?;
    Ok(SetupLinksView {
        links: links
            .into_iter()
            .map(|l| SetupLinkRow {
                state: match l.state {
                    LinkState::Active => "Active".to_string(),
                    LinkState::Expired => "Expired".to_string(),
                    LinkState::Revoked => format!(
                        "Revoked {} by {}",
                        opt(l.revoked_at),
                        l.revoked_by.clone().unwrap_or_default()
                    ),
                    LinkState::MakerGone => "Stopped: its sender is no longer an Owner or Admin, \
                         or changed their password since"
                        .to_string(),
                },
                // A stopped link can still be revoked (for good).
                active: matches!(l.state, LinkState::Active | LinkState::MakerGone),
                id: l.id,
                label: l.label,
                scope: wire::scope(l.scope),
                created_by: l.created_by_email,
                created_at: l.created_at,
                expires_at: l.expires_at,
                last_used_at: l.last_used_at,
                use_count: l.use_count,
            })
            .collect(),
        default_hours: setup_links::TTL_DEFAULT_HOURS,
        max_hours: setup_links::TTL_MAX_HOURS,
    })
}

/// Makes a link; its address is in this one response only. A plain form post (no JavaScript)
/// would lose the answer, so it is refused before anything is made.
#[server(endpoint = "create_setup_link")]
pub async fn create_setup_link(
    label: String,
    scope: String,
    hours: i64,
) -> Result<NewSetupLink, AppError> {
    use crate::ssr::{fail, plain_form_post, require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?;
    if plain_form_post() {
        return Err(fail(
            http::StatusCode::BAD_REQUEST,
            "Making a setup link needs JavaScript: the link is shown once, on this page.",
        ));
    }
    let svc = services()?;
    let (link, token) =
        portal_core::setup_links::create(&svc, &admin.actor(), &label, &scope, hours)
            .await
            .map_err(to_client)?;
    Ok(NewSetupLink {
        url: portal_core::setup_links::url(&svc, token.expose()),
        label: link.label,
        expires_at: link.expires_at,
    })
}

#[server(endpoint = "revoke_setup_link")]
pub async fn revoke_setup_link(id: String) -> Result<(), AppError> {
    use crate::ssr::{fail, require, services, to_client, Permission};
    use portal_core::CoreError;
    let admin = require(Permission::Manage).await?;
    let svc = services()?;
    match portal_core::setup_links::revoke(&svc, &admin.org_id, &id, &admin.email).await {
        Ok(_) => Ok(()),
        Err(CoreError::NotFound) => Err(fail(
            http::StatusCode::NOT_FOUND,
            "This setup link does not exist. Reload the page.",
        )),
        Err(e) => Err(to_client(e)),
    }
}

#[component]
pub fn SetupLinksPage() -> impl IntoView {
    let create = ServerAction::<CreateSetupLink>::new();
    let revoke = ServerAction::<RevokeSetupLink>::new();
    let links = crate::components::resource(
        move || (create.version().get(), revoke.version().get()),
        |_| load_setup_links(),
    );
    view! {
        <Title text="Setup links · Identity portal" />
        <h1>"Setup links"</h1>
        <ReadOnlyNotice needs=Need::Manage />
        <p class="muted">
            "Someone outside your admin team sets up your identity provider? Send them a setup link. It opens only the guided single sign-on and/or provisioning setup of this organisation — never your users, activity, admins or settings — and stops working when it expires or when you revoke it. Everything done through it appears in Activity under the link's name."
        </p>
        <p class="alert warn" role="note">
            "A setup link carries an Admin's trust: a link for single sign-on lets its holder choose the identity provider your employees — and, through admin SSO, your Admins and Viewers — sign in with; a link for provisioning lets them make the SCIM token, which reads and changes every user. Send it only to someone you would trust with that, and revoke it when the work is done."
        </p>
        <IfCan needs=Need::Manage>
            <CreateForm create />
        </IfCan>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                links
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(v) => view! { <LinksTable links=v.links revoke /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn CreateForm(create: ServerAction<CreateSetupLink>) -> impl IntoView {
    let pending = create.pending();
    let made = move || create.value().get().and_then(Result::ok);
    view! {
        <section class="card" aria-labelledby="new-setup-link">
            <h2 id="new-setup-link">"Send a setup link"</h2>
            <ActionForm action=create>
                <div class="field">
                    <label for="setup-link-label">"Who is it for?"</label>
                    <input id="setup-link-label" name="label" required maxlength="100" placeholder="e.g. Dana from IT, dana@example.com" />
                </div>
                <div class="field">
                    <label for="setup-link-scope">"What it sets up"</label>
                    <select id="setup-link-scope" name="scope">
                        <option value="sso" selected>"Single sign-on"</option>
                        <option value="provisioning">"Provisioning (SCIM)"</option>
                        <option value="both">"Single sign-on and provisioning"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="setup-link-hours">"Expires after (hours, 1–168)"</label>
                    <input id="setup-link-hours" name="hours" type="number" min="1" max="168" value="72" required />
                </div>
                <SubmitButton pending label="Create setup link" pending_label="Creating…" />
            </ActionForm>
            <FormError error=Signal::derive(move || create.value().with(error_of)) />
            {move || {
                made()
                    .map(|l: NewSetupLink| {
                        view! {
                            <div class="secret-once" role="region" aria-label="New setup link">
                                <p class="alert warn">
                                    <strong>"Copy this link now."</strong>
                                    {format!(
                                        " It is shown only once. Send it to {} through a channel you trust; it works until {}.",
                                        l.label,
                                        utc(l.expires_at)
                                    )}
                                </p>
                                <CopyField label="Setup link" id="new-setup-link-url" value=l.url />
                            </div>
                        }
                    })
            }}
        </section>
    }
}

#[component]
fn LinksTable(links: Vec<SetupLinkRow>, revoke: ServerAction<RevokeSetupLink>) -> impl IntoView {
    if links.is_empty() {
        return view! { <p class="muted" data-testid="no-setup-links">"No setup links yet."</p> }
            .into_any();
    }
    let pending = revoke.pending();
    view! {
        <section class="card" aria-labelledby="setup-links-list">
            <h2 id="setup-links-list">"Links"</h2>
            <FormError error=Signal::derive(move || revoke.value().with(error_of)) />
            <div class="table-wrap">
            <table class="data" data-testid="setup-links">
                <thead>
                    <tr>
                        <th scope="col">"For"</th>
                        <th scope="col">"Sets up"</th>
                        <th scope="col">"Sent"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last action"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {links
                        .into_iter()
                        .map(|l| {
                            let id = StoredValue::new(l.id.clone());
                            view! {
                                <tr data-link-id=l.id.clone()>
                                    <td>{l.label.clone()}</td>
                                    <td>{l.scope.label()}</td>
                                    <td>{utc(l.created_at)}<br /><span class="muted">{format!("by {}", l.created_by)}</span></td>
                                    <td>{utc(l.expires_at)}</td>
                                    <td>{format!("{} ({} action(s))", opt(l.last_used_at), l.use_count)}</td>
                                    <td>{l.state.clone()}</td>
                                    <td>
                                        {l.active.then(|| view! {
                                            <IfCan needs=Need::Manage>
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="id" value=id.get_value() />
                                                    <SubmitButton pending class="danger" label="Revoke" pending_label="Revoking…" />
                                                </ActionForm>
                                            </IfCan>
                                        })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            </div>
        </section>
    }
    .into_any()
}
