//! "Your account": the signed-in admin's email and role, changing the password, and "Your
//! sessions" (end one, sign out everywhere). Every admin may use it for their own account.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{
    error_of, FieldError, FormError, FormErrors, NewPasswordFields, SubmitButton,
};
use crate::dto::{AccountView, AdminSessionView, PasswordChangeForm};
use crate::errors::{AppError, FieldName};
use crate::time_fmt::{opt, utc};

/// `/admin/account?password_changed=1`: where a change posted without JavaScript lands.
const CHANGED_PARAM: &str = "password_changed";

#[server(endpoint = "account_load")]
pub async fn account_load() -> Result<AccountView, AppError> {
    use crate::ssr::{require, services, session, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let current = session().await?.id().map(|id| id.to_string());
    let account = portal_core::account::account(&svc, &admin.actor())
        .await
        .map_err(to_client)?;
    let sessions = portal_core::account::sessions(&svc, &admin.admin_id, current.as_deref())
        .await
        .map_err(to_client)?;
    Ok(AccountView {
        email: account.admin.email,
        role: account.admin.role.label().to_string(),
        created_at: account.created_at,
        password_changed_at: account.password_changed_at,
        sessions: sessions
            .into_iter()
            .map(|s| AdminSessionView {
                reference: s.reference,
                started_at: s.started_at,
                last_seen_at: s.last_seen_at,
                client: s.client.unwrap_or_else(|| "Unknown".into()),
                method: s.method.map_or("Unknown", |m| m.label()).to_string(),
                current: s.current,
            })
            .collect(),
    })
}

#[server(endpoint = "account_change_password")]
pub async fn account_change_password(
    #[server(flatten)] form: PasswordChangeForm,
) -> Result<String, AppError> {
    use crate::ssr::{
        device_cookie, fail, plain_form_post, require, services, session, to_client, Permission,
    };
    let admin = require(Permission::Read).await?;
    if form.new_password != form.new_password_confirm {
        let err: AppError = fail(
            http::StatusCode::BAD_REQUEST,
            "The two new passwords do not match.",
        );
        return Err(err.in_field(FieldName::PasswordConfirm));
    }
    let svc = services()?;
    let session = session().await?;
    let current = session.id().map(|id| id.to_string());
    let device = device_cookie(&svc);
    let changed = portal_core::account::change_password(
        &svc,
        &admin.actor(),
        &form.current_password,
        &form.new_password,
        current.as_deref(),
        device.as_deref(),
    )
    .await
    .map_err(to_client)?;
    // This browser keeps its sign-in under a fresh session id: a copy of the old cookie taken
    // before the change opens nothing afterwards.
    session
        .cycle_id()
        .await
        .map_err(|_| ServerFnError::new("Your session could not be renewed. Sign in again."))?;
    // Still valid under the new password (portal_core::session::AdminSessionMeta::current_for).
    portal_core::session::reauthenticated(&session, svc.now())
        .await
        .map_err(to_client)?;
    if plain_form_post() {
        leptos_axum::redirect(&format!("/admin/account?{CHANGED_PARAM}=1"));
    }
    Ok(changed_message(changed.sessions_ended))
}

#[cfg(feature = "ssr")]
fn changed_message(others: u64) -> String {
    match others {
        0 => "Your password was changed.".to_string(),
        1 => "Your password was changed. 1 other session was signed out.".to_string(),
        n => format!("Your password was changed. {n} other sessions were signed out."),
    }
}

#[server(endpoint = "account_end_session")]
pub async fn account_end_session(reference: String) -> Result<(), AppError> {
    use crate::ssr::{fail, require, services, session, to_client, Permission};
    use portal_core::account::Ended;
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let session = session().await?;
    let current = session.id().map(|id| id.to_string());
    match portal_core::account::end_session(&svc, &admin.actor(), &reference, current.as_deref())
        .await
    {
        Ok(Ended::Other) => Ok(()),
        Ok(Ended::This) => {
            session
                .flush()
                .await
                .map_err(|_| ServerFnError::new("Sign-out failed. Try again."))?;
            leptos_axum::redirect("/admin/login");
            Ok(())
        }
        Err(portal_core::CoreError::NotFound) => Err(fail(
            http::StatusCode::NOT_FOUND,
            "That session has already ended, or it is not one of yours.",
        )),
        Err(e) => Err(to_client(e)),
    }
}

#[server(endpoint = "account_sign_out_everywhere")]
pub async fn account_sign_out_everywhere() -> Result<(), AppError> {
    use crate::ssr::{require, services, session, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    portal_core::account::sign_out_everywhere(&svc, &admin.actor())
        .await
        .map_err(to_client)?;
    // The row is gone already; this clears the cookie too.
    session()
        .await?
        .flush()
        .await
        .map_err(|_| ServerFnError::new("Sign-out failed. Try again."))?;
    leptos_axum::redirect("/admin/login");
    Ok(())
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<AccountChangePassword>::new();
    let end = ServerAction::<AccountEndSession>::new();
    let everywhere = ServerAction::<AccountSignOutEverywhere>::new();
    let account = crate::components::resource(
        move || (change.version().get(), end.version().get()),
        |_| account_load(),
    );
    view! {
        <Title text="Your account · Identity portal" />
        <h1>"Your account"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                account
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(a) => view! {
                            <section class="card" aria-labelledby="account-heading">
                                <h2 id="account-heading">"Account"</h2>
                                <dl class="facts">
                                    <dt>"Email"</dt>
                                    <dd data-testid="account-email">{a.email.clone()}</dd>
                                    <dt>"Role"</dt>
                                    <dd data-testid="account-role">{a.role.clone()}</dd>
                                    <dt>"Admin since"</dt>
                                    <dd>{utc(a.created_at)}</dd>
                                    <dt>"Password last changed"</dt>
                                    <dd data-testid="password-changed-at">{a.password_changed_at.map_or_else(|| "Never".to_string(), utc)}</dd>
                                </dl>
                            </section>
                            <SessionsCard sessions=a.sessions end everywhere />
                        }.into_any(),
                    })
            }}
        </Transition>
        <ChangePasswordCard change />
    }
}

#[component]
fn ChangePasswordCard(change: ServerAction<AccountChangePassword>) -> impl IntoView {
    let query = use_query_map();
    let errors = FormErrors::of(change);
    // The action's own answer, else (a plain form post landed here) the flag in the URL.
    let done = move || match change.value().get() {
        Some(Ok(msg)) => Some(msg),
        Some(Err(_)) => None,
        None => query
            .with(|q| q.get(CHANGED_PARAM).is_some())
            .then(|| "Your password was changed. Your other sessions were signed out.".to_string()),
    };
    // After a change, no password stays in the fields (in the browser; a plain form post gets a
    // fresh page anyway).
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if change.value().with(|v| matches!(v, Some(Ok(_)))) {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        }
    });
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change password"</h2>
            <p class="muted">"Changing your password signs out your other sessions. This browser stays signed in."</p>
            {move || done().map(|msg| view! { <p class="alert ok" role="status" data-testid="password-changed">{msg}</p> })}
            <ActionForm action=change node_ref=form attr:class="stack narrow-form" attr:aria-label="Change password">
                <FormError error=errors.summary() />
                <label for="current_password">"Current password"</label>
                <input
                    id="current_password" type="password" name="current_password" required maxlength="256" autocomplete="current-password"
                    aria-invalid=errors.invalid(FieldName::CurrentPassword)
                    aria-describedby=errors.described_by(FieldName::CurrentPassword, "current_password-error")
                />
                <FieldError errors field=FieldName::CurrentPassword id="current_password-error" />
                <NewPasswordFields errors name="new_password" label="New password (at least 12 characters)" repeat_label="Repeat the new password" />
                <SubmitButton pending=change.pending() label="Change password" pending_label="Changing…" />
            </ActionForm>
        </section>
    }
}

#[component]
fn SessionsCard(
    sessions: Vec<AdminSessionView>,
    end: ServerAction<AccountEndSession>,
    everywhere: ServerAction<AccountSignOutEverywhere>,
) -> impl IntoView {
    let rows = sessions
        .into_iter()
        .map(|s| {
            let action = if s.current {
                view! { <span class="badge ok-badge" data-testid="this-browser">"This browser"</span> }.into_any()
            } else {
                view! {
                    <ActionForm action=end attr:class="inline" attr:aria-label="End this session">
                        <input type="hidden" name="reference" value=s.reference.clone() />
                        <SubmitButton pending=end.pending() class="link-button" label="End" pending_label="Ending…" />
                    </ActionForm>
                }
                .into_any()
            };
            view! {
                <tr data-testid="admin-session" data-current=s.current.to_string()>
                    <td>{s.client.clone()}</td>
                    <td data-testid="session-method">{s.method.clone()}</td>
                    <td>{opt(s.started_at)}</td>
                    <td>{opt(s.last_seen_at.or(s.started_at))}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Your sessions"</h2>
            <p class="muted">"Browsers signed in to your account. End any you do not recognise, then change your password."</p>
            <FormError error=Signal::derive(move || end.value().with(error_of)) />
            <div class="table-wrap">
                <table class="data" aria-label="Your sessions">
                    <thead>
                        <tr>
                            <th scope="col">"Browser and address"</th>
                            <th scope="col">"Signed in with"</th>
                            <th scope="col">"Started"</th>
                            <th scope="col">"Last seen"</th>
                            <th scope="col"><span class="visually-hidden">"Action"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <FormError error=Signal::derive(move || everywhere.value().with(error_of)) />
            <ActionForm action=everywhere attr:class="actions" attr:aria-label="Sign out everywhere">
                <SubmitButton pending=everywhere.pending() class="secondary" label="Sign out everywhere" pending_label="Signing out…" />
                <span class="muted">"Ends every session of your account, this one too."</span>
            </ActionForm>
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_change_message_counts_the_other_sessions() {
        assert_eq!(super::changed_message(0), "Your password was changed.");
        assert!(super::changed_message(1).contains("1 other session was"));
        assert!(super::changed_message(3).contains("3 other sessions were"));
    }
}
