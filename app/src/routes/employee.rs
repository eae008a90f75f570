//! Employee sign-in by magic link, and the employee home.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::{error_of, FormError, SubmitButton};
use crate::errors::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeView {
    pub name: String,
    pub email: String,
    pub org_name: String,
    /// "Magic link" or "Single sign-on"
    pub method: String,
}

/// `/login?sent=1` shows the generic answer: where a request posted without JavaScript lands
/// (its return value never reaches the page). It says nothing about any address.
const SENT_PARAM: &str = "sent";

#[server(endpoint = "request_magic_link")]
pub async fn request_magic_link(email: String) -> Result<String, AppError> {
    use crate::ssr::{client_addr, plain_form_post, referer_query_param, services, to_client};
    let svc = services()?;
    let client = client_addr().await;
    portal_core::magic_links::request(&svc, &email, &client)
        .await
        .map_err(to_client)?;
    if plain_form_post() {
        // Keep the organisation's sign-in options (`?org=`) on the page that answers.
        let org = referer_query_param("org").filter(|o| portal_core::ids::is_valid_org_id(o));
        leptos_axum::redirect(&match org {
            Some(org) => format!("/login?org={org}&{SENT_PARAM}=1"),
            None => format!("/login?{SENT_PARAM}=1"),
        });
    }
    Ok(portal_core::magic_links::GENERIC_ANSWER.to_string())
}

#[server(endpoint = "magic_link_valid")]
pub async fn magic_link_valid(token: String) -> Result<bool, AppError> {
    use crate::ssr::{services, to_client};
    let svc = services()?;
    portal_core::magic_links::is_valid(&svc, &token)
        .await
        .map_err(to_client)
}

#[server(endpoint = "redeem_magic_link")]
pub async fn redeem_magic_link(token: String) -> Result<(), AppError> {
    use crate::ssr::{services, start_employee_session, to_client, SignInMethod};
    let svc = services()?;
    let emp = portal_core::magic_links::redeem(&svc, &token)
        .await
        .map_err(to_client)?;
    start_employee_session(&emp, SignInMethod::MagicLink).await?;
    leptos_axum::redirect("/app");
    Ok(())
}

#[server(endpoint = "load_employee")]
pub async fn load_employee() -> Result<Option<EmployeeView>, AppError> {
    // A user deactivated or deleted since sign-in loses the session at this request.
    Ok(crate::ssr::current_employee().await?.map(|e| EmployeeView {
        name: e.name,
        email: e.user_name,
        org_name: e.org_name,
        method: e.method.label().into(),
    }))
}

#[server(endpoint = "employee_logout")]
pub async fn employee_logout() -> Result<(), AppError> {
    use crate::ssr::session;
    let session = session().await?;
    let _ = portal_core::session::end_employee(&session).await;
    session
        .cycle_id()
        .await
        .map_err(|_| ServerFnError::new("Sign-out failed. Try again."))?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// How employees of one organisation sign in (for `/login?org=…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSignIn {
    pub org_id: String,
    pub org_name: String,
    pub sso: bool,
    pub require_sso: bool,
}

#[server(endpoint = "org_sign_in_options")]
pub async fn org_sign_in_options(org: String) -> Result<Option<OrgSignIn>, AppError> {
    use crate::ssr::{services, to_client};
    let svc = services()?;
    if !portal_core::ids::is_valid_org_id(&org) {
        return Ok(None);
    }
    let Some(o) = portal_core::admins::org_by_id(&svc.db, &org)
        .await
        .map_err(to_client)?
    else {
        return Ok(None);
    };
    let cfg = portal_core::sso::get(&svc, &org).await.map_err(to_client)?;
    Ok(Some(OrgSignIn {
        org_id: o.id,
        org_name: o.name,
        sso: cfg.is_some(),
        require_sso: cfg.is_some_and(|c| c.require_sso),
    }))
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let request = ServerAction::<RequestMagicLink>::new();
    let query = use_query_map();
    let org = move || query.with(|q| q.get("org").unwrap_or_default());
    let options = crate::components::resource(org, |o| async move {
        if o.is_empty() {
            Ok(None)
        } else {
            org_sign_in_options(o).await
        }
    });
    view! {
        <Title text="Sign in" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Sign in"</h1>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || options.get().map(|r| {
                        let o = r.ok().flatten();
                        let require = o.as_ref().is_some_and(|o| o.require_sso);
                        let sso = o.filter(|o| o.sso).map(|o| view! {
                            <div class="stack sso-choice">
                                {o.require_sso.then(|| view! {
                                    <p data-testid="sso-required">{format!("{} signs in with single sign-on.", o.org_name)}</p>
                                })}
                                <a class="button-like" rel="external" data-testid="sso-button" href=format!("/saml/{}/login", o.org_id)>
                                    {format!("Sign in with SSO ({})", o.org_name)}
                                </a>
                            </div>
                        });
                        view! {
                            {sso}
                            {(!require).then(|| view! { <EmailLinkForm request /> })}
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

/// The wasm build has no `portal_core`; a test below keeps this equal to
/// `portal_core::magic_links::GENERIC_ANSWER`.
const GENERIC_ANSWER: &str =
    "If that address belongs to an active account, a link is on its way. Check your inbox.";

#[component]
fn EmailLinkForm(request: ServerAction<RequestMagicLink>) -> impl IntoView {
    let query = use_query_map();
    let sent = move || query.with(|q| q.get(SENT_PARAM).is_some());
    // The action's own answer, else (a plain form post landed here) the same generic answer; an
    // error from a later request wins over the flag still in the URL.
    let answer = move || match request.value().get() {
        Some(Ok(msg)) => Some(msg),
        Some(Err(_)) => None,
        None => sent().then(|| GENERIC_ANSWER.to_string()),
    };
    view! {
        <p class="muted">"Enter your work email and we will send you a sign-in link."</p>
        <ActionForm action=request attr:class="stack" attr:aria-label="Request a sign-in link">
            <label for="login-email">"Work email"</label>
            <input id="login-email" type="email" name="email" autocomplete="email" required maxlength="254" />
            <FormError error=Signal::derive(move || request.value().with(error_of)) />
            {move || answer().map(|msg| view! { <p class="alert ok" role="status">{msg}</p> })}
            <SubmitButton pending=request.pending() label="Email me a sign-in link" pending_label="Sending…" />
        </ActionForm>
    }
}

#[component]
pub fn LinkPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let valid = crate::components::resource(token, magic_link_valid);
    let redeem = ServerAction::<RedeemMagicLink>::new();
    view! {
        <Title text="Sign in" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Sign in"</h1>
                <Suspense fallback=|| view! { <p>"Checking your link…"</p> }>
                    {move || valid.get().map(|v| match v {
                        Ok(true) => view! {
                            <p>"Click the button to finish signing in."</p>
                            <ActionForm action=redeem attr:class="stack" attr:aria-label="Finish signing in">
                                <input type="hidden" name="token" value=token() />
                                <FormError error=Signal::derive(move || redeem.value().with(error_of)) />
                                <SubmitButton pending=redeem.pending() label="Sign in" pending_label="Signing in…" />
                            </ActionForm>
                        }.into_any(),
                        _ => view! {
                            <p class="alert error" role="alert">"This sign-in link is invalid, has expired or was already used."</p>
                            <p><a href="/login">"Request a new link"</a></p>
                        }.into_any(),
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
pub fn EmployeeHome() -> impl IntoView {
    let me = crate::components::resource(|| (), |_| load_employee());
    let logout = ServerAction::<EmployeeLogout>::new();
    view! {
        <Title text="Home" />
        <main class="centered">
            <div class="card narrow">
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || me.get().map(|r| match r {
                        Ok(Some(e)) => view! {
                            <h1 data-testid="employee-name">{format!("Welcome, {}", e.name)}</h1>
                            <dl class="facts">
                                <dt>"Email"</dt><dd data-testid="employee-email">{e.email.clone()}</dd>
                                <dt>"Organisation"</dt><dd data-testid="employee-org">{e.org_name.clone()}</dd>
                                <dt>"Signed in with"</dt><dd data-testid="employee-method">{e.method.clone()}</dd>
                            </dl>
                            <ActionForm action=logout>
                                <SubmitButton pending=logout.pending() class="secondary" label="Sign out" pending_label="Signing out…" />
                            </ActionForm>
                        }.into_any(),
                        _ => view! { <Redirect path="/login" /> }.into_any(),
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_page_shows_the_answer_the_server_gives() {
        assert_eq!(
            super::GENERIC_ANSWER,
            portal_core::magic_links::GENERIC_ANSWER
        );
    }
}
