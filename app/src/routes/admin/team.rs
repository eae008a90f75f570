//! The admin team: the Admins screen (`/admin/team`: the org's admins and pending invitations;
//! Owners invite, resend, cancel, change roles and remove) and the invitation accept page
//! (`/admin/invite?token=…`, outside the admin shell: the invitee is not signed in yet).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{
    error_of, FieldError, FormError, FormErrors, NewPasswordFields, SubmitButton,
};
use crate::dto::{
    AcceptInvitationForm, AdminRole, InvitationInfo, TeamInvitation, TeamMember, TeamView,
};
use crate::errors::{AppError, FieldName};
use crate::time_fmt::{opt, utc};

/// The accept page's one answer to a link that cannot be used (the same words as
/// `portal_core::invitations::INVALID_LINK`).
const INVALID_INVITATION: &str =
    "This invitation link is invalid, has expired, was cancelled or was already used. \
     Ask an Owner of the organisation to invite you again.";

#[server(endpoint = "load_team")]
pub async fn load_team() -> Result<TeamView, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let now = svc.now();
    let members = portal_core::team::members(&svc, &admin.org_id)
        .await
        .map_err(to_client)?;
    let invitations = portal_core::invitations::pending(&svc, &admin.org_id)
        .await
        .map_err(to_client)?;
    Ok(TeamView {
        my_role: wire::role(admin.role),
        can_manage: admin.role.allows(Permission::Own),
        members: members
            .into_iter()
            .map(|m| TeamMember {
                is_me: m.id == admin.admin_id,
                id: m.id,
                email: m.email,
                role: wire::role(m.role),
                two_factor: m.two_factor,
                last_sign_in_at: m.last_sign_in_at,
                invited_by: m.invited_by,
                created_at: m.created_at,
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|i| TeamInvitation {
                id: i.id,
                email: i.email,
                role: wire::role(i.role),
                invited_by: i.invited_by_email,
                created_at: i.created_at,
                expired: i.expires_at <= now,
                expires_at: i.expires_at,
            })
            .collect(),
    })
}

/// Invites `email` with `role`; returns the address, for the confirmation.
#[server(endpoint = "invite_admin")]
pub async fn invite_admin(email: String, role: String) -> Result<String, AppError> {
    use crate::ssr::{require, services, to_client, Permission, Role};
    let admin = require(Permission::Own).await?.actor();
    let svc = services()?;
    let role = Role::parse(&role).map_err(to_client)?;
    portal_core::invitations::invite(&svc, &admin, &email, role)
        .await
        .map_err(to_client)?;
    Ok(email.trim().to_string())
}

#[server(endpoint = "resend_invitation")]
pub async fn resend_invitation(id: String) -> Result<(), AppError> {
    use crate::ssr::{require, services, Permission};
    let admin = require(Permission::Own).await?.actor();
    let svc = services()?;
    portal_core::invitations::resend(&svc, &admin, &id)
        .await
        .map_err(|e| wire::not_found(e, "This invitation is no longer pending. Reload the page."))
}

#[server(endpoint = "cancel_invitation")]
pub async fn cancel_invitation(id: String) -> Result<(), AppError> {
    use crate::ssr::{require, services, Permission};
    let admin = require(Permission::Own).await?.actor();
    let svc = services()?;
    portal_core::invitations::cancel(&svc, &admin, &id)
        .await
        .map_err(|e| wire::not_found(e, "This invitation is no longer pending. Reload the page."))
}

#[server(endpoint = "change_admin_role")]
pub async fn change_admin_role(id: String, role: String) -> Result<(), AppError> {
    use crate::ssr::{require, services, to_client, Permission, Role};
    let admin = require(Permission::Own).await?.actor();
    let svc = services()?;
    let role = Role::parse(&role).map_err(to_client)?;
    portal_core::team::change_role(&svc, &admin, &id, role)
        .await
        .map_err(|e| wire::not_found(e, "This admin is no longer on your team. Reload the page."))
}

/// Removes an admin; their sessions end at once. An Owner who removes themself is signed out.
#[server(endpoint = "remove_admin")]
pub async fn remove_admin(id: String) -> Result<(), AppError> {
    use crate::ssr::{require, services, Permission};
    let admin = require(Permission::Own).await?;
    let svc = services()?;
    let removed = portal_core::team::remove(&svc, &admin.actor(), &id)
        .await
        .map_err(|e| {
            wire::not_found(e, "This admin is no longer on your team. Reload the page.")
        })?;
    if removed.id == admin.admin_id {
        // The row is gone already; this also clears the cookie.
        let session = crate::ssr::session().await?;
        session
            .flush()
            .await
            .map_err(|_| ServerFnError::new("Sign-out failed. Reload the page."))?;
        leptos_axum::redirect("/admin/login");
    }
    Ok(())
}

/// What the accept page shows; None for any link that cannot be accepted (no detail why).
#[server(endpoint = "load_invitation")]
pub async fn load_invitation(token: String) -> Result<Option<InvitationInfo>, AppError> {
    use crate::ssr::{services, to_client};
    let svc = services()?;
    let info = portal_core::invitations::lookup(&svc, &token)
        .await
        .map_err(to_client)?;
    Ok(info.map(|i| InvitationInfo {
        org_name: i.org_name,
        email: i.email,
        role: wire::role(i.role),
        invited_by: i.invited_by_email,
        expires_at: i.expires_at,
    }))
}

/// Creates the invitee's account with the chosen password and signs them in. The token is the
/// credential; the org and role come from the invitation, never from the form.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(
    #[server(flatten)] form: AcceptInvitationForm,
) -> Result<(), AppError> {
    use crate::ssr::{services, start_admin_session, to_client, AdminSignInMethod};
    if form.password != form.password_confirm {
        let err: AppError = crate::ssr::fail(
            http::StatusCode::BAD_REQUEST,
            "The two passwords do not match.",
        );
        return Err(err.in_field(FieldName::PasswordConfirm));
    }
    let svc = services()?;
    let admin = portal_core::invitations::accept(&svc, &form.token, &form.password)
        .await
        .map_err(to_client)?;
    // An organisation that requires SSO for admins: the account exists now, and an Admin or
    // Viewer signs in through SSO like every other (the password is only an Owner's way in).
    if admin.role != portal_core::admins::Role::Owner
        && portal_core::admins::requires_sso_for_admins(&svc.db, &admin.org_id)
            .await
            .map_err(to_client)?
    {
        leptos_axum::redirect(&format!("/admin/login?org={}", admin.org_id));
        return Ok(());
    }
    start_admin_session(&admin.id, AdminSignInMethod::Link).await?;
    leptos_axum::redirect("/admin/team");
    Ok(())
}

#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::AdminRole;
    use crate::errors::AppError;
    use portal_core::admins::Role;
    use portal_core::CoreError;

    pub fn role(r: Role) -> AdminRole {
        match r {
            Role::Owner => AdminRole::Owner,
            Role::Admin => AdminRole::Admin,
            Role::Viewer => AdminRole::Viewer,
        }
    }

    /// "Not found" in words that fit the screen; every other error as usual.
    pub fn not_found(e: CoreError, message: &str) -> AppError {
        match e {
            CoreError::NotFound => crate::ssr::fail(http::StatusCode::NOT_FOUND, message),
            other => crate::ssr::to_client(other),
        }
    }
}

#[component]
pub fn TeamPage() -> impl IntoView {
    let invite = ServerAction::<InviteAdmin>::new();
    let resend = ServerAction::<ResendInvitation>::new();
    let cancel = ServerAction::<CancelInvitation>::new();
    let change = ServerAction::<ChangeAdminRole>::new();
    let remove = ServerAction::<RemoveAdmin>::new();
    let team = crate::components::resource(
        move || {
            (
                invite.version().get(),
                resend.version().get(),
                cancel.version().get(),
                change.version().get(),
                remove.version().get(),
            )
        },
        |_| load_team(),
    );
    let invite_errors = FormErrors::of(invite);
    // The outcome of the last action that finished (a table action's refusal, or any success);
    // the invite form shows its own refusals. Posted without JavaScript, a refusal comes back in
    // the URL and is shown from the first render.
    let notice = RwSignal::new(
        error_of(&change.value().get_untracked())
            .or_else(|| error_of(&remove.value().get_untracked()))
            .or_else(|| error_of(&resend.value().get_untracked()))
            .or_else(|| error_of(&cancel.value().get_untracked()))
            .map(Err::<String, String>),
    );
    let report = move |v: Option<Result<(), AppError>>, ok: &'static str| match v {
        Some(Ok(())) => notice.set(Some(Ok(ok.to_string()))),
        Some(Err(e)) => notice.set(Some(Err(e.message))),
        None => {}
    };
    Effect::new(move |_| match invite.value().get() {
        Some(Ok(email)) => notice.set(Some(Ok(format!("Invitation sent to {email}.")))),
        Some(Err(_)) => notice.set(None),
        None => {}
    });
    Effect::new(move |_| {
        report(
            change.value().get(),
            "Role changed. It applies from the admin's next request.",
        )
    });
    Effect::new(move |_| report(remove.value().get(), "Admin removed; their sessions ended."));
    Effect::new(move |_| {
        report(
            resend.value().get(),
            "A new invitation link was sent; the previous link no longer works.",
        )
    });
    Effect::new(move |_| report(cancel.value().get(), "Invitation cancelled."));
    view! {
        <Title text="Admins · Identity portal" />
        <h1>"Admins"</h1>
        {move || {
            notice
                .get()
                .map(|n| match n {
                    Ok(msg) => view! { <p class="alert ok" role="status">{msg}</p> }.into_any(),
                    Err(msg) => view! { <p class="alert error" role="alert">{msg}</p> }.into_any(),
                })
        }}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                team.get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(t) => {
                            let manage = t.can_manage;
                            let my_role = t.my_role;
                            view! {
                                <p class="muted" data-testid="my-role">
                                    {format!("Your role: {} ({}).", my_role.label(), my_role.summary())}
                                    {(!manage).then_some(" Only Owners can invite, change roles or remove admins.")}
                                </p>
                                {manage.then(|| view! { <InviteForm invite errors=invite_errors /> })}
                                <section class="card" aria-labelledby="members-heading">
                                    <h2 id="members-heading">"Team"</h2>
                                    <div class="table-wrap">
                                        <table class="data" data-testid="team-members">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Email"</th>
                                                    <th scope="col">"Role"</th>
                                                    <th scope="col">"Two-factor"</th>
                                                    <th scope="col">"Last sign-in"</th>
                                                    <th scope="col">"Invited by"</th>
                                                    {manage.then(|| view! { <th scope="col">"Manage"</th> })}
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {t.members.into_iter().map(|m| view! { <MemberRow m manage change remove /> }).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                </section>
                                <section class="card" aria-labelledby="invitations-heading">
                                    <h2 id="invitations-heading">"Pending invitations"</h2>
                                    {if t.invitations.is_empty() {
                                        view! { <p class="muted" data-testid="no-invitations">"No pending invitations."</p> }.into_any()
                                    } else {
                                        view! {
                                            <div class="table-wrap">
                                                <table class="data" data-testid="team-invitations">
                                                    <thead>
                                                        <tr>
                                                            <th scope="col">"Email"</th>
                                                            <th scope="col">"Role"</th>
                                                            <th scope="col">"Invited by"</th>
                                                            <th scope="col">"Expires"</th>
                                                            {manage.then(|| view! { <th scope="col">"Manage"</th> })}
                                                        </tr>
                                                    </thead>
                                                    <tbody>
                                                        {t.invitations.into_iter().map(|i| view! { <InvitationRow i manage resend cancel /> }).collect_view()}
                                                    </tbody>
                                                </table>
                                            </div>
                                        }.into_any()
                                    }}
                                </section>
                            }.into_any()
                        }
                    })
            }}
        </Transition>
    }
}

#[component]
fn InviteForm(invite: ServerAction<InviteAdmin>, errors: FormErrors) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite an admin"</h2>
            <p class="muted">"They receive a link that works once and expires in 7 days."</p>
            <ActionForm action=invite attr:class="stack" attr:aria-label="Invite an admin">
                <FormError error=errors.summary() />
                <label for="invite-email">"Email"</label>
                <input
                    id="invite-email" name="email" type="email" required maxlength="254" autocomplete="off"
                    aria-invalid=errors.invalid(FieldName::Email)
                    aria-describedby=errors.described_by(FieldName::Email, "invite-email-error")
                />
                <FieldError errors field=FieldName::Email id="invite-email-error" />
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    {AdminRole::ALL
                        .iter()
                        .map(|r| view! {
                            <option value=r.as_str() selected=*r == AdminRole::Admin>
                                {format!("{} — {}", r.label(), r.summary())}
                            </option>
                        })
                        .collect_view()}
                </select>
                <SubmitButton pending=invite.pending() label="Send invitation" pending_label="Sending…" />
            </ActionForm>
        </section>
    }
}

#[component]
fn MemberRow(
    m: TeamMember,
    manage: bool,
    change: ServerAction<ChangeAdminRole>,
    remove: ServerAction<RemoveAdmin>,
) -> impl IntoView {
    let (id, email, role) = (m.id.clone(), m.email.clone(), m.role);
    let controls = manage.then(move || {
        let select_id = format!("role-{id}");
        let who = if m.is_me {
            "yourself".to_string()
        } else {
            email.clone()
        };
        let (change_id, remove_id) = (id.clone(), id.clone());
        view! {
            <td class="team-actions">
                <div class="team-controls">
                <ActionForm action=change attr:class="inline">
                    <input type="hidden" name="id" value=change_id />
                    <label for=select_id.clone() class="team-sr-only">{format!("Role of {email}")}</label>
                    <select id=select_id name="role">
                        {AdminRole::ALL
                            .iter()
                            .map(|r| view! { <option value=r.as_str() selected=*r == role>{r.label()}</option> })
                            .collect_view()}
                    </select>
                    <SubmitButton pending=change.pending() class="secondary" label="Change role" pending_label="Saving…" />
                </ActionForm>
                <details class="confirm">
                    <summary class="button-like danger">"Remove"</summary>
                    <div class="confirm-body">
                        <p>{format!("Remove {who} from the team? Their sessions end at once.")}</p>
                        <ActionForm action=remove attr:class="inline">
                            <input type="hidden" name="id" value=remove_id />
                            <SubmitButton pending=remove.pending() class="danger" label="Remove admin" pending_label="Removing…" />
                        </ActionForm>
                    </div>
                </details>
                </div>
            </td>
        }
    });
    view! {
        <tr data-testid="member-row">
            <td>
                {m.email.clone()}
                {m.is_me.then(|| view! { <span class="muted">" (you)"</span> })}
            </td>
            <td><span class=format!("badge role-{}", m.role.as_str())>{m.role.label()}</span></td>
            <td>{if m.two_factor { "On" } else { "Off" }}</td>
            <td>{opt(m.last_sign_in_at)}</td>
            <td>{m.invited_by.clone().unwrap_or_else(|| "—".into())}</td>
            {controls}
        </tr>
    }
}

#[component]
fn InvitationRow(
    i: TeamInvitation,
    manage: bool,
    resend: ServerAction<ResendInvitation>,
    cancel: ServerAction<CancelInvitation>,
) -> impl IntoView {
    let (resend_id, cancel_id) = (i.id.clone(), i.id.clone());
    let controls = manage.then(move || {
        view! {
            <td class="team-actions">
                <ActionForm action=resend attr:class="inline">
                    <input type="hidden" name="id" value=resend_id />
                    <SubmitButton pending=resend.pending() class="secondary" label="Resend" pending_label="Sending…" />
                </ActionForm>
                <ActionForm action=cancel attr:class="inline">
                    <input type="hidden" name="id" value=cancel_id />
                    <SubmitButton pending=cancel.pending() class="danger" label="Cancel invitation" pending_label="Cancelling…" />
                </ActionForm>
            </td>
        }
    });
    let expires = if i.expired {
        format!("Expired {}", utc(i.expires_at))
    } else {
        utc(i.expires_at)
    };
    view! {
        <tr data-testid="invitation-row">
            <td>{i.email.clone()}</td>
            <td>{i.role.label()}</td>
            <td>{i.invited_by.clone()}</td>
            <td>{expires}</td>
            {controls}
        </tr>
    }
}

/// `/admin/invite?token=…`: shows the org and role, the invitee chooses a password.
#[component]
pub fn InvitePage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let info = crate::components::resource(token, load_invitation);
    let action = ServerAction::<AcceptInvitation>::new();
    let errors = FormErrors::of(action);
    view! {
        <Title text="Accept your invitation · Identity portal" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Join your organisation's admins"</h1>
                <Suspense fallback=|| view! { <p>"Checking the invitation…"</p> }>
                    {move || {
                        info.get()
                            .map(|r| match r {
                                Ok(Some(i)) => {
                                    view! {
                                        <p data-testid="invite-summary">
                                            {format!("{} invited you to administer ", i.invited_by)}
                                            <strong data-testid="invite-org">{i.org_name.clone()}</strong>
                                            " as "
                                            <strong data-testid="invite-role">{i.role.label()}</strong>
                                            {format!(" ({}).", i.role.summary())}
                                        </p>
                                        <p class="muted">{format!("Choose your password. This link works once and expires {}.", utc(i.expires_at))}</p>
                                        <ActionForm action=action attr:class="stack" attr:aria-label="Accept the invitation">
                                            <FormError error=errors.summary() />
                                            <input type="hidden" name="token" value=token() />
                                            <label for="invite-email">"Email"</label>
                                            <input id="invite-email" type="email" value=i.email.clone() readonly autocomplete="username" />
                                            <NewPasswordFields errors />
                                            <SubmitButton pending=action.pending() label="Accept and sign in" pending_label="Signing in…" />
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                                Ok(None) => {
                                    view! {
                                        <p class="alert error" role="alert" data-testid="invite-invalid">{INVALID_INVITATION}</p>
                                        <p>"Already an admin? " <a href="/admin/login">"Sign in"</a></p>
                                    }
                                        .into_any()
                                }
                                Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                            })
                    }}
                </Suspense>
            </div>
        </main>
    }
}
