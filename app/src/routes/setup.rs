use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{error_of, FormError};

#[server(endpoint = "setup_token_valid")]
pub async fn setup_token_valid(token: String) -> Result<bool, ServerFnError> {
    use crate::ssr::{services, to_client};
    let svc = services()?;
    portal_core::setup::token_is_valid(&svc, &token)
        .await
        .map_err(to_client)
}

#[server(endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    org_name: String,
    email: String,
    password: String,
    password_confirm: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{services, start_admin_session, to_client};
    if password != password_confirm {
        return Err(crate::ssr::fail(
            http::StatusCode::BAD_REQUEST,
            "The two passwords do not match.",
        ));
    }
    let svc = services()?;
    let (_org, admin) = portal_core::setup::complete(
        &svc,
        &token,
        portal_core::admins::NewAdmin {
            org_name: &org_name,
            email: &email,
            password: &password,
        },
    )
    .await
    .map_err(to_client)?;
    start_admin_session(&admin.id).await?;
    leptos_axum::redirect("/admin");
    Ok(())
}

#[component]
pub fn Setup() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let valid = Resource::new(token, setup_token_valid);
    let action = ServerAction::<CompleteSetup>::new();
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
                                            <input type="hidden" name="token" value=token() />
                                            <label for="org_name">"Organisation name"</label>
                                            <input id="org_name" name="org_name" required maxlength="100" autocomplete="organization" />
                                            <label for="email">"Your email"</label>
                                            <input id="email" type="email" name="email" required maxlength="254" autocomplete="username" />
                                            <label for="password">"Password (at least 12 characters)"</label>
                                            <input id="password" type="password" name="password" required minlength="12" maxlength="256" autocomplete="new-password" />
                                            <label for="password_confirm">"Repeat the password"</label>
                                            <input id="password_confirm" type="password" name="password_confirm" required minlength="12" maxlength="256" autocomplete="new-password" />
                                            <FormError error=Signal::derive(move || action.value().with(error_of)) />
                                            <button type="submit" disabled=move || action.pending().get()>
                                                "Create organisation"
                                            </button>
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
