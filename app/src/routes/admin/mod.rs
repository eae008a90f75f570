//! The admin shell: org name, Org ID with a copy button, the signed-in admin, sign-out, navigation.

pub mod activity;
pub mod provisioning;
pub mod sso;
pub mod user_detail;
pub mod users;
// Issue 12, audit trail and overview: the Overview checklist (`AdminHome`) lives in overview.rs.
pub mod overview;
pub use overview::AdminHome;
// Issue 12, your account.
pub mod account;
// Organisation settings (issue 12, settings).
pub mod settings;
// Admin team: the admins list, roles, invitations (issue 12, team).
pub mod team;
// Second factor for admin sign-in (issue 12, two-factor).
pub mod two_factor;
// SCIM request log (issue 13).
pub mod scim_requests;
// SCIM Groups (issue 13, groups).
pub mod groups;
// Setup links for outside IT contacts (issue 13).
pub mod setup_links;

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

use crate::components::SubmitButton;
use crate::dto::AdminView;
use crate::errors::AppError;

#[server(endpoint = "load_admin_view")]
pub async fn load_admin_view() -> Result<Option<AdminView>, AppError> {
    // The shell serves an admin whom `orgs.require_2fa` sends to enrolment, and tells it so.
    match crate::ssr::current_admin_enrolling().await? {
        Some(admin) => crate::ssr::admin_view(&admin).await.map(Some),
        None => Ok(None),
    }
}

#[server(endpoint = "admin_logout")]
pub async fn admin_logout() -> Result<(), AppError> {
    let session = crate::ssr::session().await?;
    // Deletes the session row: the old cookie opens nothing afterwards.
    session
        .flush()
        .await
        .map_err(|_| ServerFnError::new("Sign-out failed. Try again."))?;
    leptos_axum::redirect("/admin/login");
    Ok(())
}

/// The signed-in admin, loaded once by the layout and shared with the pages.
#[derive(Clone, Copy)]
pub struct AdminResource(pub crate::components::JsonResource<Result<Option<AdminView>, AppError>>);

#[component]
pub fn AdminLayout() -> impl IntoView {
    let admin = crate::components::resource(|| (), |_| load_admin_view());
    provide_context(AdminResource(admin));
    let logout = ServerAction::<AdminLogout>::new();
    let location = leptos_router::hooks::use_location();
    // The pages sit outside the layout's Suspense: each loads its own data (and every server
    // function checks the session itself), so their resources hydrate in the same order as on
    // the server.
    view! {
        <div class="shell">
            <header class="topbar">
                <Suspense fallback=|| view! { <span class="muted">"Loading…"</span> }>
                    {move || {
                        admin
                            .get()
                            .map(|res| match res {
                                // Second factor (issue 12, two-factor): the organisation
                                // requires one and this admin has none yet.
                                Ok(Some(view))
                                    if view.second_factor_required
                                        && location.pathname.get() != two_factor::ENROL_PATH =>
                                {
                                    view! { <Redirect path=two_factor::ENROL_PATH /> }.into_any()
                                }
                                Ok(Some(view)) => {
                                    view! {
                                        <div class="brand">
                                            <span class="org-name">{view.org_name.clone()}</span>
                                            <span class="muted">" · Identity portal"</span>
                                        </div>
                                        <div class="who">
                                            <span class="muted">"Signed in as "</span>
                                            <strong data-testid="admin-email">{view.admin_email.clone()}</strong>
                                            <span class="badge role-badge" data-testid="admin-role">{view.role.label()}</span>
                                            <ActionForm action=logout attr:class="inline">
                                                <SubmitButton pending=logout.pending() class="link-button" label="Sign out" pending_label="Signing out…" />
                                            </ActionForm>
                                        </div>
                                    }
                                        .into_any()
                                }
                                _ => view! { <Redirect path="/admin/login" /> }.into_any(),
                            })
                    }}
                </Suspense>
            </header>
            <div class="layout">
                <nav class="sidenav" aria-label="Admin sections">
                    <ul>
                        <li>
                            <A href="/admin" exact=true>"Overview"</A>
                        </li>
                        <li>
                            <A href="/admin/sso">"Single Sign-On"</A>
                        </li>
                        <li>
                            <A href="/admin/provisioning">"Automated user provisioning"</A>
                        </li>
                        // Setup links for outside IT contacts (issue 13).
                        <li>
                            <A href="/admin/setup-links">"Setup links"</A>
                        </li>
                        <li>
                            <A href="/admin/users">"Users"</A>
                        </li>
                        <li>
                            <A href="/admin/groups">"Groups"</A>
                        </li>
                        <li>
                            <A href="/admin/activity">"Activity"</A>
                        </li>
                        // Issue 12: the team, the organisation, the admin's own account.
                        <li>
                            <A href="/admin/team">"Admins"</A>
                        </li>
                        <li>
                            <A href="/admin/settings">"Organisation settings"</A>
                        </li>
                        <li>
                            <A href="/admin/account" exact=true>"Your account"</A>
                        </li>
                        // Second factor (issue 12, two-factor).
                        <li>
                            <A href=two_factor::ENROL_PATH>"Two-factor authentication"</A>
                        </li>
                    </ul>
                </nav>
                <main class="content" id="main">
                    <Outlet />
                </main>
            </div>
        </div>
    }
}
