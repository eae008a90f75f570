//! The admin portal UI: Leptos components, routes and `#[server]` functions.
//!
//! Server-only code lives in `#[cfg(feature = "ssr")]` modules next to the feature that needs it;
//! the wasm build (`hydrate`) never sees the database, the session store or any secret.

#![recursion_limit = "256"]

pub mod components;
pub mod dto;
pub mod errors;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod time_fmt;
// Guided setup per IdP (issue 13, guided setup).
pub mod idp_guides;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use routes::admin::activity::ActivityPage;
use routes::admin::provisioning::ProvisioningPage;
use routes::admin::sso::{SsoPage, SsoTestPage};
use routes::admin::user_detail::UserDetailPage;
use routes::admin::users::UsersPageView;
use routes::admin::{AdminHome, AdminLayout};
// Organisation settings (issue 12, settings).
use routes::admin::settings::SettingsPage;
use routes::admin_login::AdminLogin;
use routes::employee::{EmployeeHome, LinkPage, LoginPage};
use routes::home::Home;
use routes::setup::Setup;
// Issue 12, your account.
use routes::admin::account::AccountPage;
use routes::password_reset::{ForgotPasswordPage, ResetPasswordPage};
// Admin team (issue 12, team).
use routes::admin::team::{InvitePage, TeamPage};
// Second factor for admin sign-in (issue 12, two-factor).
use routes::admin::two_factor::TwoFactorPage;
use routes::admin_login_verify::AdminLoginVerify;
// SCIM request log (issue 13).
use routes::admin::scim_requests::{ScimRequestPage, ScimRequestsPage};
// SCIM Groups (issue 13, groups).
use routes::admin::groups::GroupsPage;
// Setup links for outside IT contacts (issue 13).
use routes::admin::setup_links::SetupLinksPage;
use routes::setup_link::{SetupLinkProvisioningPage, SetupLinkSsoPage, SetupLinkStart};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::set_page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="data:," />
                <link rel="stylesheet" id="leptos" href="/pkg/portal.css" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Identity portal" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home />
                <Route path=path!("/setup") view=Setup ssr=SsrMode::Async />
                <Route path=path!("/admin/login") view=AdminLogin ssr=SsrMode::Async />
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/login/link") view=LinkPage ssr=SsrMode::Async />
                <Route path=path!("/app") view=EmployeeHome ssr=SsrMode::Async />
                // Issue 12, your account: forgotten admin passwords.
                <Route path=path!("/admin/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                <Route path=path!("/admin/reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                // Second factor for admin sign-in (issue 12, two-factor).
                <Route path=path!("/admin/login/verify") view=AdminLoginVerify ssr=SsrMode::Async />
                <ParentRoute path=path!("/admin") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=AdminHome ssr=SsrMode::Async />
                    <Route path=path!("sso") view=SsoPage ssr=SsrMode::Async />
                    <Route path=path!("sso/test/:id") view=SsoTestPage ssr=SsrMode::Async />
                    <Route path=path!("provisioning") view=ProvisioningPage ssr=SsrMode::Async />
                    <Route path=path!("users") view=UsersPageView ssr=SsrMode::Async />
                    <Route path=path!("users/:id") view=UserDetailPage ssr=SsrMode::Async />
                    <Route path=path!("activity") view=ActivityPage ssr=SsrMode::Async />
                    // Issue 12, your account.
                    <Route path=path!("account") view=AccountPage ssr=SsrMode::Async />
                    // Organisation settings (issue 12, settings).
                    <Route path=path!("settings") view=SettingsPage ssr=SsrMode::Async />
                    // Admin team (issue 12, team).
                    <Route path=path!("team") view=TeamPage ssr=SsrMode::Async />
                    // Second factor for admin sign-in (issue 12, two-factor).
                    <Route path=path!("account/2fa") view=TwoFactorPage ssr=SsrMode::Async />
                    // SCIM request log (issue 13).
                    <Route path=path!("provisioning/requests") view=ScimRequestsPage ssr=SsrMode::Async />
                    <Route path=path!("provisioning/requests/:id") view=ScimRequestPage ssr=SsrMode::Async />
                    // SCIM Groups (issue 13, groups).
                    <Route path=path!("groups") view=GroupsPage ssr=SsrMode::Async />
                    // Setup links for outside IT contacts (issue 13).
                    <Route path=path!("setup-links") view=SetupLinksPage ssr=SsrMode::Async />
                </ParentRoute>
                // Admin team (issue 12, team): the invitation accept page, outside the admin shell.
                <Route path=path!("/admin/invite") view=InvitePage ssr=SsrMode::Async />
                // Setup links (issue 13): what a link opens, outside the admin shell.
                <Route path=path!("/setup-link/:token") view=SetupLinkStart ssr=SsrMode::Async />
                <Route path=path!("/setup-link/:token/sso") view=SetupLinkSsoPage ssr=SsrMode::Async />
                <Route path=path!("/setup-link/:token/provisioning") view=SetupLinkProvisioningPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p>
                    <a href="/">"Go to the start page"</a>
                </p>
            </div>
        </main>
    }
}
