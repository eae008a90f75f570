use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

/// Percent-encodes a query value (an Org ID is plain, but the URL is the visitor's input).
fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

use crate::components::{error_of, FormError, SubmitButton};
use crate::errors::AppError;

#[server(endpoint = "admin_login")]
pub async fn admin_login(email: String, password: String) -> Result<(), AppError> {
    use crate::ssr::{
        client_addr, device_cookie, services, set_device_cookie, start_admin_session, to_client,
    };
    let svc = services()?;
    let client = client_addr().await;
    let device = device_cookie(&svc);
    let signed_in = portal_core::admins::authenticate_device(
        &svc,
        &email,
        &password,
        &client,
        device.as_deref(),
    )
    .await
    .map_err(to_client)?;
    if let Some(token) = signed_in.new_device {
        set_device_cookie(&svc, token.expose());
    }
    // Second factor (issue 12, two-factor): an admin with one is not signed in yet; a trusted
    // device does not skip it.
    if portal_core::two_factor::has_factor(&svc.db, &signed_in.admin.id)
        .await
        .map_err(to_client)?
    {
        let session = crate::ssr::session().await?;
        portal_core::session::start_pending_second_factor(
            &session,
            &signed_in.admin.id,
            svc.now() + portal_core::two_factor::PENDING_TTL_MS,
        )
        .await
        .map_err(to_client)?;
        leptos_axum::redirect(crate::routes::admin_login_verify::VERIFY_PATH);
        return Ok(());
    }
    start_admin_session(&signed_in.admin.id, crate::ssr::AdminSignInMethod::Password).await?;
    leptos_axum::redirect("/admin");
    Ok(())
}

/// Whether `org` has single sign-on set up, so `/admin/login?org=…` can offer "Sign in with SSO".
/// Anyone may ask: `/saml/{org}/login` and `/saml/{org}/metadata` say as much already.
#[server(endpoint = "admin_sso_available")]
pub async fn admin_sso_available(org: String) -> Result<bool, AppError> {
    use crate::ssr::{services, to_client};
    let org = org.trim();
    if org.is_empty() || org.len() > 100 {
        return Ok(false);
    }
    let svc = services()?;
    Ok(portal_core::sso::get(&svc, org)
        .await
        .map_err(to_client)?
        .is_some())
}

#[server(endpoint = "admin_signed_in")]
pub async fn admin_signed_in() -> Result<bool, AppError> {
    // Second factor (issue 12, two-factor): an admin sent to enrolment is signed in all the same.
    Ok(crate::ssr::current_admin_enrolling().await?.is_some())
}

#[component]
pub fn AdminLogin() -> impl IntoView {
    let login = ServerAction::<AdminLogin>::new();
    let signed_in = crate::components::resource(|| (), |_| admin_signed_in());
    let query = use_query_map();
    let org = move || query.with(|q| q.get("org")).unwrap_or_default();
    let sso = crate::components::resource(org, |org| async move {
        if org.is_empty() {
            Ok(false)
        } else {
            admin_sso_available(org).await
        }
    });
    // Issue 12, your account: where a password reset lands.
    let after_reset = move || query.with(|q| q.get("reset").is_some());
    view! {
        <Title text="Administrator sign-in" />
        <main class="centered">
            <Suspense>
                {move || {
                    signed_in.get().and_then(|r| r.ok()).filter(|s| *s).map(|_| view! { <Redirect path="/admin" /> })
                }}
            </Suspense>
            <div class="card narrow">
                <h1>"Administrator sign-in"</h1>
                {move || after_reset().then(|| view! {
                    <p class="alert ok" role="status" data-testid="reset-done">{crate::routes::password_reset::RESET_DONE}</p>
                })}
                <ActionForm action=login attr:class="stack" attr:aria-label="Administrator sign-in">
                    <FormError error=Signal::derive(move || login.value().with(error_of)) />
                    <label for="email">"Email"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required maxlength="254" />
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required maxlength="256" />
                    <SubmitButton pending=login.pending() label="Sign in" pending_label="Signing in…" />
                </ActionForm>
                <Suspense>
                    {move || {
                        let offered = sso.get().and_then(|r| r.ok()).unwrap_or(false);
                        let org = org();
                        if offered {
                            view! {
                                <div class="sso-offer">
                                    <p class="muted">"Your organisation uses single sign-on."</p>
                                    <a class="button" data-testid="admin-sso" rel="external" href=format!("/admin/sso-login?org={}", urlencode(&org))>
                                        "Sign in with SSO"
                                    </a>
                                </div>
                            }
                                .into_any()
                        } else {
                            // A plain GET back to this page with ?org= (a form must not lead to
                            // the IdP itself: the page's CSP allows forms only to this origin,
                            // redirects included); the page then offers the SSO link.
                            let unknown = !org.is_empty();
                            view! {
                                <details class="sso-offer" open=unknown>
                                    <summary>"Sign in with single sign-on"</summary>
                                    {unknown.then(|| view! { <p class="alert warn" role="alert">"Single sign-on is not set up for this Org ID."</p> })}
                                    <form method="get" action="/admin/login" class="stack">
                                        <label for="sso-org">"Org ID"</label>
                                        <input id="sso-org" name="org" required maxlength="100" value=(!org.is_empty()).then_some(org) />
                                        <button type="submit">"Continue with SSO"</button>
                                    </form>
                                </details>
                            }
                                .into_any()
                        }
                    }}
                </Suspense>
                <p><a href="/admin/forgot-password">"Forgot your password?"</a></p>
            </div>
        </main>
    }
}
