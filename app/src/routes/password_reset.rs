//! An admin's forgotten password: `/admin/forgot-password` mails a single-use link, and
//! `/admin/reset-password?token=…` sets a new password with it. The admin then signs in as usual
//! (so a second factor still applies): a reset never signs anyone in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{FieldError, FormError, FormErrors, NewPasswordFields, SubmitButton};
use crate::dto::PasswordResetForm;
use crate::errors::{AppError, FieldName};

/// `/admin/forgot-password?sent=1` shows the one answer: where a request posted without
/// JavaScript lands. It says nothing about any address.
const SENT_PARAM: &str = "sent";

/// The wasm build has no `portal_core`; a test below keeps these equal to
/// `portal_core::account::{RESET_REQUEST_ANSWER, RESET_LINK_INVALID}`.
const RESET_REQUEST_ANSWER: &str = "If that address belongs to an administrator, a link to \
     choose a new password is on its way. Check your inbox.";
const RESET_LINK_INVALID: &str =
    "This password reset link is invalid, has expired or was already used. Request a new one.";

#[server(endpoint = "admin_request_password_reset")]
pub async fn admin_request_password_reset(email: String) -> Result<String, AppError> {
    use crate::ssr::{client_addr, plain_form_post, services, to_client};
    let svc = services()?;
    let client = client_addr().await;
    portal_core::account::request_reset(&svc, &email, &client)
        .await
        .map_err(to_client)?;
    if plain_form_post() {
        leptos_axum::redirect(&format!("/admin/forgot-password?{SENT_PARAM}=1"));
    }
    Ok(portal_core::account::RESET_REQUEST_ANSWER.to_string())
}

#[server(endpoint = "admin_password_reset_valid")]
pub async fn admin_password_reset_valid(token: String) -> Result<bool, AppError> {
    use crate::ssr::{services, to_client};
    let svc = services()?;
    portal_core::account::reset_link_is_valid(&svc, &token)
        .await
        .map_err(to_client)
}

#[server(endpoint = "admin_reset_password")]
pub async fn admin_reset_password(
    #[server(flatten)] form: PasswordResetForm,
) -> Result<(), AppError> {
    use crate::ssr::{fail, services, to_client};
    if form.password != form.password_confirm {
        let err: AppError = fail(
            http::StatusCode::BAD_REQUEST,
            "The two passwords do not match.",
        );
        return Err(err.in_field(FieldName::PasswordConfirm));
    }
    let svc = services()?;
    portal_core::account::reset_password(&svc, &form.token, &form.password)
        .await
        .map_err(to_client)?;
    // Not signed in: the sign-in page, with its second step if the account has one.
    leptos_axum::redirect("/admin/login?reset=1");
    Ok(())
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let request = ServerAction::<AdminRequestPasswordReset>::new();
    let query = use_query_map();
    let sent = move || query.with(|q| q.get(SENT_PARAM).is_some());
    let errors = FormErrors::of(request);
    let answer = move || match request.value().get() {
        Some(Ok(msg)) => Some(msg),
        Some(Err(_)) => None,
        None => sent().then(|| RESET_REQUEST_ANSWER.to_string()),
    };
    view! {
        <Title text="Forgot your password?" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Forgot your password?"</h1>
                <p class="muted">"Enter the email address of your administrator account. We will send you a link to choose a new password."</p>
                <ActionForm action=request attr:class="stack" attr:aria-label="Request a password reset link">
                    <FormError error=errors.summary() />
                    <label for="reset-email">"Email"</label>
                    <input
                        id="reset-email" type="email" name="email" autocomplete="username" required maxlength="254"
                        aria-invalid=errors.invalid(FieldName::Email)
                        aria-describedby=errors.described_by(FieldName::Email, "reset-email-error")
                    />
                    <FieldError errors field=FieldName::Email id="reset-email-error" />
                    {move || answer().map(|msg| view! { <p class="alert ok" role="status">{msg}</p> })}
                    <SubmitButton pending=request.pending() label="Email me a reset link" pending_label="Sending…" />
                </ActionForm>
                <p><a href="/admin/login">"Back to sign-in"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let valid = crate::components::resource(token, admin_password_reset_valid);
    let action = ServerAction::<AdminResetPassword>::new();
    let errors = FormErrors::of(action);
    view! {
        <Title text="Choose a new password" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Choose a new password"</h1>
                <Suspense fallback=|| view! { <p>"Checking your link…"</p> }>
                    {move || valid.get().map(|v| match v {
                        Ok(true) => view! {
                            <p>"Choosing a new password signs your account out everywhere. Then sign in with the new password."</p>
                            <ActionForm action=action attr:class="stack" attr:aria-label="Choose a new password">
                                <FormError error=errors.summary() />
                                <input type="hidden" name="token" value=token() />
                                <NewPasswordFields errors label="New password (at least 12 characters)" repeat_label="Repeat the new password" />
                                <SubmitButton pending=action.pending() label="Set new password" pending_label="Saving…" />
                            </ActionForm>
                        }.into_any(),
                        _ => view! {
                            <p class="alert error" role="alert">{RESET_LINK_INVALID}</p>
                            <p><a href="/admin/forgot-password">"Request a new link"</a></p>
                        }.into_any(),
                    })}
                </Suspense>
            </div>
        </main>
    }
}

/// What `/admin/login?reset=1` says (the sign-in page shows it).
pub const RESET_DONE: &str = "Your password was changed and every session of your account was signed out. Sign in with your new password.";

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_pages_show_the_answers_the_server_gives() {
        assert_eq!(
            super::RESET_REQUEST_ANSWER,
            portal_core::account::RESET_REQUEST_ANSWER
        );
        assert_eq!(
            super::RESET_LINK_INVALID,
            portal_core::account::RESET_LINK_INVALID
        );
    }
}
