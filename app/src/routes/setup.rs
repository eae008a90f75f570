use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{FieldError, FormError, FormErrors, NewPasswordFields, SubmitButton};
use crate::dto::SetupForm;
use crate::errors::{AppError, FieldName};

#[server(endpoint = "setup_token_valid")]
pub async fn setup_token_valid(token: String) -> Result<bool, AppError> {
    use crate::ssr::{services, to_client};
    let svc = services()?;
    portal_core::setup::token_is_valid(&svc, &token)
        .await
        .map_err(to_client)
}

#[server(endpoint = "complete_setup")]
pub async fn complete_setup(#[server(flatten)] form: SetupForm) -> Result<(), AppError> {
    use crate::ssr::{services, start_admin_session, to_client};
    if form.password != form.password_confirm {
        let err: AppError = crate::ssr::fail(
            http::StatusCode::BAD_REQUEST,
            "The two passwords do not match.",
        );
        return Err(err.in_field(FieldName::PasswordConfirm));
    }
    let svc = services()?;
    let (_org, admin) = portal_core::setup::complete(
        &svc,
        &form.token,
        portal_core::admins::NewAdmin {
            org_name: &form.org_name,
            email: &form.email,
            password: &form.password,
        },
    )
    .await
    .map_err(to_client)?;
    start_admin_session(&admin.id, crate::ssr::AdminSignInMethod::Password).await?;
    leptos_axum::redirect("/admin");
    Ok(())
}

#[component]
pub fn Setup() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let valid = crate::components::resource(token, setup_token_valid);
    let action = ServerAction::<CompleteSetup>::new();
    let errors = FormErrors::of(action);
    view! {
        <Title text="Set up the portal" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Set up the portal"</h1>
                <Suspense fallback=|| view! { <p>"Checking the setup link…"</p> }>
                    {move || {
                        valid
                            .get()
                            .map(|v| match v {
                                Ok(true) => {
                                    view! {
                                        <p>"Create your organisation and its first administrator. This link works once."</p>
                                        <ActionForm action=action attr:class="stack" attr:aria-label="Set up the portal">
                                            <FormError error=errors.summary() />
                                            <input type="hidden" name="token" value=token() />
                                            <label for="org_name">"Organisation name"</label>
                                            <input
                                                id="org_name" name="org_name" required maxlength="100" autocomplete="organization"
                                                aria-invalid=errors.invalid(FieldName::OrgName)
                                                aria-describedby=errors.described_by(FieldName::OrgName, "org_name-error")
                                            />
                                            <FieldError errors field=FieldName::OrgName id="org_name-error" />
                                            <label for="email">"Your email"</label>
                                            <input
                                                id="email" type="email" name="email" required maxlength="254" autocomplete="username"
                                                aria-invalid=errors.invalid(FieldName::Email)
                                                aria-describedby=errors.described_by(FieldName::Email, "email-error")
                                            />
                                            <FieldError errors field=FieldName::Email id="email-error" />
                                            <NewPasswordFields errors />
                                            <SubmitButton pending=action.pending() label="Create organisation" pending_label="Creating…" />
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                                _ => {
                                    view! {
                                        <p class="alert error" role="alert">
                                            "This setup link is invalid or has already been used. "
                                            "If the portal is already set up, "
                                            <a href="/admin/login">"sign in"</a>
                                            ". Operators can create admins with the server's create-admin command."
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Suspense>
            </div>
        </main>
    }
}
