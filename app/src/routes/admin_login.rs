use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

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

#[server(endpoint = "admin_signed_in")]
pub async fn admin_signed_in() -> Result<bool, AppError> {
    // Second factor (issue 12, two-factor): an admin sent to enrolment is signed in all the same.
    Ok(crate::ssr::current_admin_enrolling().await?.is_some())
}

#[component]
pub fn AdminLogin() -> impl IntoView {
    let login = ServerAction::<AdminLogin>::new();
    let signed_in = Resource::new(|| (), |_| admin_signed_in());
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
                <ActionForm action=login attr:class="stack" attr:aria-label="Administrator sign-in">
                    <FormError error=Signal::derive(move || login.value().with(error_of)) />
                    <label for="email">"Email"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required maxlength="254" />
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required maxlength="256" />
                    <SubmitButton pending=login.pending() label="Sign in" pending_label="Signing in…" />
                </ActionForm>
            </div>
        </main>
    }
}
