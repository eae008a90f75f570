//! The activity log (the audit trail): every event, newest first, with a plain-words fix for
//! failures; filters by kind, result, actor, user and UTC date range, all in the URL (a plain GET
//! form, so they work without JavaScript, survive a reload and can be shared); CSV and JSON Lines
//! exports of the same filtered list (`server/src/http/audit_export.rs`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::dto::{EventRow, EventsPage, EventsQuery};
use crate::errors::AppError;
use crate::time_fmt::utc;

#[server(endpoint = "list_events")]
pub async fn list_events(q: EventsQuery) -> Result<EventsPage, AppError> {
    use crate::ssr::{services, to_client};
    let admin = super::overview::require_read().await?;
    let svc = services()?;
    // The one parser of the filters (the exports use it too): a bad value is a 400 that says
    // what to fix.
    let query = portal_core::audit::ActivityQuery::parse(pairs(&q)).map_err(|e| {
        // Rendering the page (a shared link, a reload): the page itself answers 400 too.
        if !crate::ssr::in_server_fn_call() {
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.set_status(http::StatusCode::BAD_REQUEST);
            }
        }
        to_client(e)
    })?;
    portal_core::audit::list(&svc, &admin.org_id, &query)
        .await
        .map(Into::into)
        .map_err(to_client)
}

/// The kinds of event (`portal_core::audit::EventKind`'s URL values) and their labels.
pub const KINDS: [(&str, &str); 8] = [
    ("admin", "Admin"),
    ("sso", "SSO"),
    ("jit", "JIT"),
    ("magic_link", "Magic link"),
    ("scim", "SCIM"),
    ("settings", "Settings"),
    ("purge", "Purge"),
    ("other", "Other"),
];

pub fn kind_label(kind: &str) -> &str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind, |(_, label)| label)
}

/// The query's parameters as the URL names them (kinds one by one).
fn pairs(q: &EventsQuery) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = q
        .kind
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| ("kind", k))
        .collect();
    for (k, v) in [
        ("result", &q.result),
        ("name", &q.name),
        ("actor", &q.actor),
        ("user", &q.user),
        ("from", &q.from),
        ("to", &q.to),
        ("page", &q.page),
    ] {
        if !v.trim().is_empty() {
            out.push((k, v.as_str()));
        }
    }
    out
}

/// Percent-encodes a query value (everything but unreserved characters).
fn enc(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path` with the query's filters (and its page, when `with_page`).
pub fn href_with(path: &str, q: &EventsQuery, with_page: bool) -> String {
    let query = pairs(q)
        .into_iter()
        .filter(|(k, v)| *k != "page" || (with_page && *v != "1"))
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

fn href(q: &EventsQuery) -> String {
    href_with("/admin/activity", q, true)
}

fn is_filtered(q: &EventsQuery) -> bool {
    pairs(q).iter().any(|(k, _)| *k != "page")
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
                    <li class=cls data-kind=e.kind.clone()>
                        <div class="event-head">
                            <span class="badge kind-badge">{kind_label(&e.kind).to_string()}</span>
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
                        // SCIM request log (issue 13): the request this SCIM event came from.
                        {e.request_id.clone().map(|id| view! { <div class="event-request"><A href=format!("/admin/provisioning/requests/{id}") attr:data-testid="event-request-link">"View the SCIM request →"</A></div> })}
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
        query.with(|m| {
            let one = |k: &str| m.get(k).unwrap_or_default();
            EventsQuery {
                kind: m.get_all("kind").unwrap_or_default().join(","),
                result: one("result"),
                name: one("name"),
                actor: one("actor"),
                user: one("user"),
                from: one("from"),
                to: one("to"),
                page: one("page"),
            }
        })
    });
    let page = crate::components::resource(move || q.get(), list_events);
    let kind_on = move |k: &str| q.with(|q| q.kind.split(',').any(|x| x.trim() == k));
    view! {
        <Title text="Activity · Identity portal" />
        <h1>"Activity"</h1>
        <form method="GET" action="/admin/activity" class="filters activity-filters" role="search" aria-label="Filter activity">
            <fieldset class="kinds">
                <legend>"Kind"</legend>
                {KINDS.iter().map(|(k, label)| {
                    let k = *k;
                    view! {
                        <label class="check">
                            <input type="checkbox" name="kind" value=k checked=move || kind_on(k) prop:checked=move || kind_on(k) />
                            {*label}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <label for="act-result">"Result"</label>
            <select id="act-result" name="result" prop:value=move || q.get().result>
                <option value="" selected=move || q.get().result.is_empty()>"Any result"</option>
                <option value="success" selected=move || q.get().result == "success">"Success"</option>
                <option value="failure" selected=move || q.get().result == "failure">"Failure"</option>
            </select>
            <label for="act-actor">"Actor contains"</label>
            <input id="act-actor" name="actor" type="search" maxlength="200" placeholder="admin@… or scim:…" value=move || q.get().actor prop:value=move || q.get().actor />
            <label for="act-user">"User (id or userName)"</label>
            <input id="act-user" name="user" type="search" maxlength="256" value=move || q.get().user prop:value=move || q.get().user />
            <label for="act-from">"From (UTC)"</label>
            <input id="act-from" name="from" type="date" min=EARLIEST max=LATEST value=move || q.get().from prop:value=move || q.get().from />
            <label for="act-to">"To (UTC, inclusive)"</label>
            <input id="act-to" name="to" type="date" min=EARLIEST max=LATEST value=move || q.get().to prop:value=move || q.get().to />
            {move || (!q.get().name.is_empty()).then(|| view! { <input type="hidden" name="name" value=q.get().name /> })}
            <button type="submit">"Apply"</button>
            {move || is_filtered(&q.get()).then(|| view! { <A href="/admin/activity" attr:class="clear-filters">"Clear filters"</A> })}
        </form>
        <p class="exports">
            "Export these events: "
            <a data-testid="export-csv" rel="external" download="" href=move || href_with("/admin/activity/export.csv", &q.get(), false)>"CSV"</a>
            " · "
            <a data-testid="export-jsonl" rel="external" download="" href=move || href_with("/admin/activity/export.jsonl", &q.get(), false)>"JSON Lines"</a>
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || page.get().map(|r| match r {
                Err(e) => view! { <p class="alert error" role="alert" data-testid="activity-error">{crate::errors::message(&e)}</p> }.into_any(),
                Ok(p) => {
                    let cur = q.get();
                    let at = |n: i64| EventsQuery { page: n.to_string(), ..cur.clone() };
                    let prev = (p.page > 1).then(|| at(p.page - 1));
                    let next = (p.page < p.pages).then(|| at(p.page + 1));
                    let list = if p.total > 0 {
                        view! { <EventList rows=p.rows /> }.into_any()
                    } else if is_filtered(&cur) {
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
                        <p class="muted" data-testid="activity-total">{format!("{} event(s)", p.total)}</p>
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

/// The date inputs' bounds (`portal_core::audit::{EARLIEST_DATE, LATEST_DATE}`).
const EARLIEST: &str = "2000-01-01";
const LATEST: &str = "2099-12-31";

/// The domain's read models as this screen's wire types (the user page's timeline uses them too).
#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{EventRow, EventsPage};
    use portal_core::admin_views as core;

    impl From<core::EventRow> for EventRow {
        fn from(r: core::EventRow) -> Self {
            let core::EventRow {
                id: _,
                at,
                kind,
                name,
                success,
                user_id,
                user_name,
                actor,
                scim_type,
                message,
                fix,
                request_id,
            } = r;
            Self {
                at,
                kind: kind.as_str().to_string(),
                name,
                success,
                user_id,
                user_name,
                actor,
                scim_type,
                message,
                fix,
                request_id,
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

    #[cfg(test)]
    mod tests {
        use portal_core::audit::{EventKind, EARLIEST_DATE, LATEST_DATE};

        #[test]
        fn the_screen_knows_every_kind_and_the_date_bounds() {
            let ours: Vec<&str> = super::super::KINDS.iter().map(|(k, _)| *k).collect();
            let core: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            assert_eq!(ours, core);
            assert_eq!(super::super::EARLIEST, EARLIEST_DATE);
            assert_eq!(super::super::LATEST, LATEST_DATE);
        }

        #[test]
        fn links_carry_the_filters_encoded() {
            let q = crate::dto::EventsQuery {
                kind: "sso,jit".into(),
                actor: "a&b=c @x".into(),
                from: "2026-01-01".into(),
                page: "3".into(),
                ..Default::default()
            };
            assert_eq!(
                super::super::href_with("/x", &q, false),
                "/x?kind=sso&kind=jit&actor=a%26b%3Dc%20%40x&from=2026-01-01"
            );
            assert_eq!(
                super::super::href_with("/x", &q, true),
                "/x?kind=sso&kind=jit&actor=a%26b%3Dc%20%40x&from=2026-01-01&page=3"
            );
            assert_eq!(
                super::super::href_with("/x", &Default::default(), true),
                "/x"
            );
        }
    }
}
