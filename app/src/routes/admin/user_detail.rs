//! One user: every attribute, the SCIM JSON, and the timeline.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::components::{error_of, FormError, FormErrors, IfCan, SubmitButton};
use crate::dto::Need;
use crate::dto::{UserAction, UserDetail, UserFormInput};
use crate::errors::AppError;
use crate::routes::admin::activity::EventList;
use crate::routes::admin::users::UserFields;
use crate::time_fmt::{date, opt, utc};

#[server(endpoint = "load_user_detail")]
pub async fn load_user_detail(id: String) -> Result<Option<UserDetail>, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    if id.len() > 64 {
        return Ok(None);
    }
    // Scoped by the session's org: another org's user id is simply not found.
    portal_core::admin_views::user_detail(&svc, &admin.org_id, &id)
        .await
        .map(|d| d.map(Into::into))
        .map_err(to_client)
}

#[server(endpoint = "admin_edit_user")]
pub async fn admin_edit_user(
    id: String,
    version: i64,
    #[server(flatten)] user: UserFormInput,
) -> Result<(), AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?.actor();
    let svc = services()?;
    let form = portal_core::manage::UserForm::from(user);
    portal_core::manage::edit_user(&svc, &admin, &id, version, &form)
        .await
        .map_err(to_client)
}

#[server(endpoint = "admin_user_action")]
pub async fn admin_user_action(
    id: String,
    version: i64,
    action: UserAction,
) -> Result<(), AppError> {
    use crate::ssr::{fail, require, services, to_client, Permission};
    use portal_core::manage;
    let admin = require(Permission::Manage).await?.actor();
    let svc = services()?;
    let r = match action {
        UserAction::Deactivate => manage::set_active(&svc, &admin, &id, version, false).await,
        UserAction::Reactivate => manage::set_active(&svc, &admin, &id, version, true).await,
        UserAction::Delete => manage::delete_user(&svc, &admin, &id, version).await,
        UserAction::Restore => manage::restore_user(&svc, &admin, &id, version).await,
    };
    r.map_err(|e| match e {
        portal_core::CoreError::NotFound => fail(
            http::StatusCode::NOT_FOUND,
            "This user no longer exists (it may have been purged).",
        ),
        other => to_client(other),
    })
}

#[component]
pub fn UserDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let edit = ServerAction::<AdminEditUser>::new();
    let act = ServerAction::<AdminUserAction>::new();
    let detail = crate::components::resource(
        move || (id(), edit.version().get(), act.version().get()),
        |(id, _, _)| load_user_detail(id),
    );
    view! {
        <Title text="User · Identity portal" />
        <p><A href="/admin/users">"← All users"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                detail.get().map(|r| match r {
                    Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                    Ok(None) => view! { <h1>"User not found"</h1><p>"There is no such user in your organisation."</p> }.into_any(),
                    Ok(Some(u)) => {
                        let purge = u.purge_at.map(|p| view! {
                            <p class="alert warn" data-testid="purge-date">{format!("Deleted on {}. This user will be purged on {} unless restored or provisioned again.", opt(u.deleted_at), date(p))}</p>
                        });
                        view! {
                            <h1>{u.user_name.clone()}</h1>
                            <p>
                                <span class=format!("badge status-{}", u.status.to_lowercase()) data-testid="user-status">{u.status.clone()}</span>
                                " "
                                <span class="muted">{format!("Source: {} · created {} · last change {} · last sign-in {}", u.source, utc(u.created_at), utc(u.updated_at), opt(u.last_sign_in_at))}</span>
                            </p>
                            {purge}
                            <section class="card" aria-labelledby="attrs">
                                <h2 id="attrs">"Attributes"</h2>
                                <dl class="facts">
                                    {u.attributes.iter().map(|(k, v)| view! { <dt>{k.clone()}</dt><dd>{v.clone()}</dd> }).collect_view()}
                                </dl>
                                <details>
                                    <summary>"SCIM JSON"</summary>
                                    <pre class="json">{u.scim_json.clone()}</pre>
                                </details>
                            </section>
                            <FormError error=Signal::derive(move || act.value().with(error_of)) />
                            <Manage u=u.clone() edit act />
                            <section class="card" aria-labelledby="timeline">
                                <h2 id="timeline">"Timeline"</h2>
                                <EventList rows=u.timeline.clone() />
                                // Issue 12, audit trail: every event of this user, filterable and exportable.
                                <p><A href=format!("/admin/activity?user={}", u.id) attr:data-testid="user-activity-link">"All activity of this user →"</A></p>
                                // SCIM request log (issue 13).
                                <p><A href=format!("/admin/provisioning/requests?user={}", u.id) attr:data-testid="user-requests-link">"SCIM requests about this user →"</A></p>
                            </section>
                        }.into_any()
                    }
                })
            }}
        </Transition>
    }
}

/// The edit form and status actions, for the roles that may change users.
#[component]
fn Manage(
    u: UserDetail,
    edit: ServerAction<AdminEditUser>,
    act: ServerAction<AdminUserAction>,
) -> impl IntoView {
    view! { <IfCan needs=Need::Manage>{manage_card(u.clone(), edit, act)}</IfCan> }
}

fn manage_card(
    u: UserDetail,
    edit: ServerAction<AdminEditUser>,
    act: ServerAction<AdminUserAction>,
) -> AnyView {
    if u.scim_managed {
        return view! {
            <p class="alert warn" data-testid="scim-managed">
                "This user is managed by your identity provider through SCIM: its attributes and status are read-only here. Change them in your IdP."
            </p>
        }
        .into_any();
    }
    let pending = act.pending();
    let button =
        |action: UserAction, label: &'static str, busy: &'static str, class: &'static str| {
            let (id, version) = (u.id.clone(), u.version.to_string());
            view! {
                <ActionForm action=act attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=version />
                    <input type="hidden" name="action" value=action.as_str() />
                    <SubmitButton pending class label pending_label=busy />
                </ActionForm>
            }
        };
    let deleted = u.deleted_at.is_some();
    let active = u.status == "Active";
    let e = u.edit.clone();
    let edit_errors = FormErrors::of(edit);
    view! {
        <section class="card" aria-labelledby="manage">
            <h2 id="manage">"Manage"</h2>
            <div class="actions">
                {if deleted {
                    button(UserAction::Restore, "Restore", "Restoring…", "").into_any()
                } else {
                    view! {
                        {if active {
                            button(UserAction::Deactivate, "Deactivate", "Deactivating…", "secondary")
                        } else {
                            button(UserAction::Reactivate, "Reactivate", "Reactivating…", "secondary")
                        }}
                        {button(UserAction::Delete, "Delete", "Deleting…", "danger")}
                    }
                        .into_any()
                }}
            </div>
            {(!deleted)
                .then(|| {
                    view! {
                        <details class="edit-user" open=edit_errors.refused_at_render(None)>
                            <summary class="button-like secondary-link">"Edit"</summary>
                            <ActionForm action=edit attr:class="stack" attr:aria-label="Edit user">
                                <FormError error=edit_errors.summary() />
                                <input type="hidden" name="id" value=u.id.clone() />
                                <input type="hidden" name="version" value=u.version.to_string() />
                                <UserFields prefix="edit" values=e errors=edit_errors />
                                <SubmitButton pending=edit.pending() label="Save" pending_label="Saving…" />
                            </ActionForm>
                        </details>
                    }
                })}
        </section>
    }
    .into_any()
}

/// The domain's read model as this screen's wire type.
#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{UserDetail, UserEdit};
    use portal_core::admin_views as core;

    impl From<core::UserEdit> for UserEdit {
        fn from(e: core::UserEdit) -> Self {
            let core::UserEdit {
                email,
                given_name,
                family_name,
                department,
                country,
                locality,
            } = e;
            Self {
                email,
                given_name,
                family_name,
                department,
                country,
                locality,
            }
        }
    }

    impl From<core::UserDetail> for UserDetail {
        fn from(d: core::UserDetail) -> Self {
            let core::UserDetail {
                id,
                user_name,
                status,
                source,
                created_at,
                updated_at,
                deleted_at,
                purge_at,
                last_sign_in_at,
                scim_json,
                attributes,
                timeline,
                version,
                scim_managed,
                edit,
            } = d;
            Self {
                id,
                user_name,
                status,
                source,
                created_at,
                updated_at,
                deleted_at,
                purge_at,
                last_sign_in_at,
                scim_json,
                attributes,
                timeline: timeline.into_iter().map(Into::into).collect(),
                version,
                scim_managed,
                edit: edit.into(),
            }
        }
    }
}
