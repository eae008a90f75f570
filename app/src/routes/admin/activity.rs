//! The activity log: every provisioning event, newest first, with a plain-words fix for failures.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::dto::{EventResult, EventRow, EventsPage, EventsQuery};
use crate::errors::AppError;
use crate::time_fmt::utc;

#[server(endpoint = "list_events")]
pub async fn list_events(q: EventsQuery) -> Result<EventsPage, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    portal_core::admin_views::list_events(&svc, &admin.org_id, &q.into())
        .await
        .map(Into::into)
        .map_err(to_client)
}

pub const EVENT_NAMES: [&str; 8] = [
    "user_create_provision",
    "user_update_provision",
    "user_deprovision",
    "user_delete_provision",
    "user_lookup_provision",
    "idm_integration_activate",
    "idm_integration_reauth",
    "idm_integration_delete",
];

fn href(q: &EventsQuery) -> String {
    let mut parts = Vec::new();
    if let Some(result) = q.result {
        parts.push(format!("result={}", result.as_str()));
    }
    if !q.name.is_empty() {
        parts.push(format!("name={}", q.name));
    }
    if !q.user_id.is_empty() {
        parts.push(format!("user={}", q.user_id));
    }
    if q.page > 1 {
        parts.push(format!("page={}", q.page));
    }
    if parts.is_empty() {
        "/admin/activity".into()
    } else {
        format!("/admin/activity?{}", parts.join("&"))
    }
}

#[component]
pub fn EventList(rows: Vec<EventRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No events yet."</p> }.into_any();
    }
    view! {
        <ol class="events">
            {rows.into_iter().map(|e| {
                let cls = if e.success { "event ok" } else { "event failed" };
                view! {
                    <li class=cls>
                        <div class="event-head">
                            <span class="event-name mono">{e.name.clone()}</span>
                            <span class=if e.success { "badge ok-badge" } else { "badge err-badge" }>{if e.success { "Success" } else { "Failure" }}</span>
                            <time class="muted">{utc(e.at)}</time>
                        </div>
                        <div class="event-msg">
                            {e.message.clone()}
                            {e.user_id.clone().map(|id| view! { " · " <A href=format!("/admin/users/{id}")>{e.user_name.clone().unwrap_or_else(|| "user".into())}</A> })}
                            <span class="muted">{format!(" · by {}", e.actor)}</span>
                        </div>
                        {e.scim_type.clone().map(|t| view! { <div class="muted">"SCIM error: " <code>{t}</code></div> })}
                        {e.fix.clone().map(|f| view! { <div class="fix"><strong>"How to fix: "</strong>{f}</div> })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| {
        query.with(|m| EventsQuery {
            result: m.get("result").as_deref().and_then(EventResult::parse),
            name: m.get("name").unwrap_or_default(),
            user_id: m.get("user").unwrap_or_default(),
            page: m.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        })
    });
    let page = Resource::new(move || q.get(), list_events);
    view! {
        <Title text="Activity · Identity portal" />
        <h1>"Activity"</h1>
        <form method="GET" action="/admin/activity" class="filters" role="search" aria-label="Filter activity">
            <label for="act-result">"Result"</label>
            <select id="act-result" name="result" prop:value=move || q.get().result.map_or("", EventResult::as_str)>
                <option value="">"Any result"</option>
                <option value="success">"Success"</option>
                <option value="failure">"Failure"</option>
            </select>
            <label for="act-name">"Event"</label>
            <select id="act-name" name="name" prop:value=move || q.get().name>
                <option value="">"Any event"</option>
                {EVENT_NAMES.iter().map(|n| view! { <option value=*n>{*n}</option> }).collect_view()}
            </select>
            <button type="submit">"Apply"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || page.get().map(|r| match r {
                Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                Ok(p) => {
                    let cur = q.get();
                    let prev = (p.page > 1).then(|| EventsQuery { page: p.page - 1, ..cur.clone() });
                    let next = (p.page < p.pages).then(|| EventsQuery { page: p.page + 1, ..cur.clone() });
                    let filtered = cur.result.is_some() || !cur.name.is_empty() || !cur.user_id.is_empty();
                    let list = if p.total > 0 {
                        view! { <EventList rows=p.rows /> }.into_any()
                    } else if filtered {
                        view! {
                            <p class="empty-state" data-testid="activity-empty">
                                "No events match these filters. "
                                <A href="/admin/activity">"Show all events"</A>
                            </p>
                        }.into_any()
                    } else {
                        view! {
                            <div class="empty-state" data-testid="activity-empty">
                                <p><strong>"No events yet."</strong></p>
                                <p>
                                    "Every request your identity provider makes through SCIM (creating, updating, deactivating or deleting a user) and every change an admin makes appears here, newest first, with a fix in plain words for each failure. To start, connect your IdP on "
                                    <A href="/admin/provisioning">"Automated user provisioning"</A>
                                    "."
                                </p>
                            </div>
                        }.into_any()
                    };
                    view! {
                        <p class="muted">{format!("{} event(s)", p.total)}</p>
                        {list}
                        <nav class="pager" aria-label="Pages">
                            {prev.map(|q| view! { <A href=href(&q)>"← Newer"</A> })}
                            <span>{format!("Page {} of {}", p.page, p.pages)}</span>
                            {next.map(|q| view! { <A href=href(&q)>"Older →"</A> })}
                        </nav>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// The domain's read models as this screen's wire types (the user page's timeline uses them too).
#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{EventResult, EventRow, EventsPage, EventsQuery};
    use portal_core::admin_views as core;

    impl From<EventsQuery> for core::EventsQuery {
        fn from(q: EventsQuery) -> Self {
            let EventsQuery {
                result,
                name,
                user_id,
                page,
            } = q;
            Self {
                result: result.map(|r| match r {
                    EventResult::Success => core::EventResult::Success,
                    EventResult::Failure => core::EventResult::Failure,
                }),
                name,
                user_id,
                page,
            }
        }
    }

    impl From<core::EventRow> for EventRow {
        fn from(r: core::EventRow) -> Self {
            let core::EventRow {
                at,
                name,
                success,
                user_id,
                user_name,
                actor,
                scim_type,
                message,
                fix,
            } = r;
            Self {
                at,
                name,
                success,
                user_id,
                user_name,
                actor,
                scim_type,
                message,
                fix,
            }
        }
    }

    impl From<core::EventsPage> for EventsPage {
        fn from(p: core::EventsPage) -> Self {
            let core::EventsPage {
                rows,
                total,
                page,
                pages,
            } = p;
            Self {
                rows: rows.into_iter().map(Into::into).collect(),
                total,
                page,
                pages,
            }
        }
    }
}
