//! One user: every attribute, the SCIM JSON, and the timeline.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::dto::UserDetail;
use crate::routes::admin::activity::EventList;
use crate::time_fmt::{date, opt, utc};

#[server(endpoint = "user_detail")]
pub async fn load_user_detail(id: String) -> Result<Option<UserDetail>, ServerFnError> {
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
    let svc = services()?;
    if id.len() > 64 {
        return Ok(None);
    }
    // Scoped by the session's org: another org's user id is simply not found.
    portal_core::admin_views::user_detail(&svc, &admin.org_id, &id)
        .await
        .map_err(to_client)
}

#[component]
pub fn UserDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = Resource::new(id, load_user_detail);
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
                            <section class="card" aria-labelledby="timeline">
                                <h2 id="timeline">"Timeline"</h2>
                                <EventList rows=u.timeline.clone() />
                            </section>
                        }.into_any()
                    }
                })
            }}
        </Transition>
    }
}
