//! The second step of an admin's sign-in (`/admin/login/verify`): after a correct password an
//! admin with a second factor enters a code from their authenticator app, a recovery code, or
//! uses a passkey (through `/passkeys.js`). Only the session's pending second factor (bound to
//! that admin, 5 minutes) is served here; wrong codes are throttled per admin and recorded.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::components::{error_of, FormError, SubmitButton};
use crate::dto::SecondFactorOptions;
use crate::errors::AppError;

pub const VERIFY_PATH: &str = "/admin/login/verify";

#[cfg(feature = "ssr")]
async fn pending_or_expired() -> Result<portal_core::admins::Admin, AppError> {
    crate::ssr::pending_second_factor().await?.ok_or_else(|| {
        crate::ssr::fail(
            http::StatusCode::UNAUTHORIZED,
            "Your sign-in expired or was not started here. Sign in again.",
        )
    })
}

/// Signs the pending admin in with `method`, ending the pending state.
#[cfg(feature = "ssr")]
async fn finish(
    admin: &portal_core::admins::Admin,
    method: crate::ssr::AdminSignInMethod,
) -> Result<(), AppError> {
    let session = crate::ssr::session().await?;
    portal_core::session::end_pending_second_factor(&session)
        .await
        .map_err(crate::ssr::to_client)?;
    crate::ssr::start_admin_session(&admin.id, method).await
}

/// Which methods the pending admin has; None when there is no pending sign-in.
#[server(endpoint = "load_second_factor")]
pub async fn load_second_factor() -> Result<Option<SecondFactorOptions>, AppError> {
    use crate::ssr::{services, to_client};
    let Some(admin) = crate::ssr::pending_second_factor().await? else {
        return Ok(None);
    };
    let svc = services()?;
    let status = portal_core::two_factor::status(&svc.db, &admin)
        .await
        .map_err(to_client)?;
    Ok(Some(SecondFactorOptions {
        email: admin.email,
        totp: status.totp_enabled,
        recovery_codes: status.recovery_codes_left > 0,
        passkeys: status.passkeys > 0 && portal_core::passkeys::available(&svc),
    }))
}

/// `method`: `totp` (a code from the app) or `recovery` (a recovery code).
#[server(endpoint = "verify_second_factor")]
pub async fn verify_second_factor(method: String, code: String) -> Result<(), AppError> {
    use crate::ssr::{fail, services, to_client, AdminSignInMethod};
    use portal_core::two_factor::Presented;
    let admin = pending_or_expired().await?;
    let svc = services()?;
    let (presented, signed_in_with) = match method.as_str() {
        "totp" => (Presented::Totp(&code), AdminSignInMethod::PasswordTotp),
        "recovery" => (
            Presented::RecoveryCode(&code),
            AdminSignInMethod::PasswordRecoveryCode,
        ),
        _ => {
            return Err(fail(
                http::StatusCode::BAD_REQUEST,
                "Choose a code from your app or a recovery code.",
            ))
        }
    };
    portal_core::two_factor::verify_sign_in(&svc, &admin, presented)
        .await
        .map_err(to_client)?;
    finish(&admin, signed_in_with).await?;
    leptos_axum::redirect("/admin");
    Ok(())
}

/// The `navigator.credentials.get` options (JSON) for the pending admin's passkeys.
#[server(endpoint = "passkey_sign_in_begin")]
pub async fn passkey_sign_in_begin() -> Result<String, AppError> {
    use crate::ssr::{services, session, to_client};
    let admin = pending_or_expired().await?;
    let svc = services()?;
    let (options, ceremony) = portal_core::passkeys::begin_authentication(&svc, &admin)
        .await
        .map_err(to_client)?;
    let session = session().await?;
    portal_core::session::put_passkey_ceremony(&session, &ceremony)
        .await
        .map_err(to_client)?;
    Ok(options)
}

/// The browser's assertion (JSON) for [`passkey_sign_in_begin`]'s challenge. The script goes to
/// `/admin` itself on success.
#[server(endpoint = "passkey_sign_in_finish")]
pub async fn passkey_sign_in_finish(credential: String) -> Result<(), AppError> {
    use crate::ssr::{services, session, to_client, AdminSignInMethod};
    let admin = pending_or_expired().await?;
    let svc = services()?;
    let session = session().await?;
    let ceremony = portal_core::session::take_passkey_ceremony(&session)
        .await
        .map_err(to_client)?;
    portal_core::passkeys::finish_authentication(&svc, &admin, ceremony, &credential)
        .await
        .map_err(to_client)?;
    finish(&admin, AdminSignInMethod::PasswordPasskey).await
}

#[component]
pub fn AdminLoginVerify() -> impl IntoView {
    let verify_totp = ServerAction::<VerifySecondFactor>::new();
    let verify_recovery = ServerAction::<VerifySecondFactor>::new();
    let options = crate::components::resource(|| (), |_| load_second_factor());
    view! {
        <Title text="Second sign-in step" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Second sign-in step"</h1>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || {
                        options
                            .get()
                            .map(|r| match r {
                                Ok(Some(o)) => view! { <Methods o verify_totp verify_recovery /> }.into_any(),
                                Ok(None) => view! {
                                    <p class="alert warn" role="alert" data-testid="verify-expired">
                                        "Your sign-in expired or was not started in this browser."
                                    </p>
                                    <p><a href="/admin/login">"Sign in again"</a></p>
                                }
                                .into_any(),
                                Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                            })
                    }}
                </Suspense>
            </div>
        </main>
        <script src=crate::routes::admin::two_factor::PASSKEYS_JS defer></script>
    }
}

#[component]
fn Methods(
    o: SecondFactorOptions,
    verify_totp: ServerAction<VerifySecondFactor>,
    verify_recovery: ServerAction<VerifySecondFactor>,
) -> impl IntoView {
    let done = move || {
        matches!(verify_totp.value().get(), Some(Ok(())))
            || matches!(verify_recovery.value().get(), Some(Ok(())))
    };
    let totp = o.totp.then(|| {
        view! {
            <ActionForm action=verify_totp attr:class="stack" attr:aria-label="Sign in with your authenticator app">
                <FormError error=Signal::derive(move || verify_totp.value().with(error_of)) />
                <input type="hidden" name="method" value="totp" />
                <label for="verify-totp">"Code from your authenticator app"</label>
                <input id="verify-totp" type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="7" autofocus />
                <SubmitButton pending=verify_totp.pending() label="Verify" pending_label="Checking…" />
            </ActionForm>
        }
    });
    let passkey = o.passkeys.then(|| {
        view! {
            <form class="stack verify-alt" data-passkey-sign-in="" aria-label="Sign in with a passkey">
                <p class="alert error" role="alert" data-passkey-error="" hidden></p>
                <button type="submit">"Use a passkey"</button>
                <p class="muted" role="status" data-passkey-status=""></p>
            </form>
        }
    });
    let recovery = o.recovery_codes.then(|| {
        view! {
            <details class="verify-alt" open=!o.totp && !o.passkeys>
                <summary>"Use a recovery code"</summary>
                <ActionForm action=verify_recovery attr:class="stack" attr:aria-label="Sign in with a recovery code">
                    <FormError error=Signal::derive(move || verify_recovery.value().with(error_of)) />
                    <input type="hidden" name="method" value="recovery" />
                    <label for="verify-recovery">"Recovery code"</label>
                    <input id="verify-recovery" type="text" name="code" autocomplete="off" required maxlength="40" />
                    <SubmitButton pending=verify_recovery.pending() class="secondary" label="Use recovery code" pending_label="Checking…" />
                </ActionForm>
            </details>
        }
    });
    view! {
        <p>"Signing in as " <strong data-testid="verify-email">{o.email.clone()}</strong></p>
        {move || done().then(|| view! { <Redirect path="/admin" /> })}
        {totp}
        {passkey}
        {recovery}
        <p class="verify-alt"><a href="/admin/login">"Start again"</a></p>
    }
}
