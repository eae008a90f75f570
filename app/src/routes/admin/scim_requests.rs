//! SCIM request log (issue 13): the organisation's SCIM requests, newest first, filterable by
//! status and by user (all in the URL: a plain GET form), paginated; one request's detail with
//! its bodies (redacted when stored, `portal_core::scim_requests`). Viewers may look.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::dto::{
    ScimRequestDetail, ScimRequestRow, ScimRequestsPage as PageDto, ScimRequestsQuery,
};
use crate::errors::AppError;
use crate::time_fmt::utc;

pub const PATH: &str = "/admin/provisioning/requests";

#[server(endpoint = "list_scim_requests")]
pub async fn list_scim_requests(q: ScimRequestsQuery) -> Result<PageDto, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let query =
        portal_core::scim_requests::Query::parse(&q.status, &q.user, &q.page).map_err(to_client)?;
    let retention_days = use_context::<crate::ssr::ScimRequestLogRetention>()
        .map_or(portal_core::scim_requests::DEFAULT_RETENTION_DAYS, |r| r.0);
    let p = portal_core::scim_requests::list(&svc, &admin.org_id, &query)
        .await
        .map_err(to_client)?;
    Ok(PageDto {
        rows: p.rows.into_iter().map(wire::row).collect(),
        total: p.total,
        page: p.page,
        pages: p.pages,
        retention_days,
    })
}

#[server(endpoint = "get_scim_request")]
pub async fn get_scim_request(id: String) -> Result<ScimRequestDetail, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    // Scoped by the session's org: another org's request id is not found (404).
    let r = portal_core::scim_requests::get(&svc, &admin.org_id, &id)
        .await
        .map_err(to_client)?;
    Ok(ScimRequestDetail {
        row: ScimRequestRow {
            id: r.id,
            at: r.at,
            method: r.method,
            path: r.path,
            status: r.status,
            duration_us: r.duration_us,
            client: r.client,
            user_id: r.user_id,
            user_name: r.user_name,
        },
        request_headers: r.request_headers,
        request_body: r.request_body,
        response_body: r.response_body,
    })
}

#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::ScimRequestRow;
    use portal_core::scim_requests::Summary;

    pub fn row(s: Summary) -> ScimRequestRow {
        let Summary {
            id,
            at,
            method,
            path,
            status,
            duration_us,
            client,
            user_id,
            user_name,
        } = s;
        ScimRequestRow {
            id,
            at,
            method,
            path,
            status,
            duration_us,
            client,
            user_id,
            user_name,
        }
    }
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

/// The list's URL with these filters and page.
pub fn href(q: &ScimRequestsQuery) -> String {
    let parts: Vec<String> = [("status", &q.status), ("user", &q.user), ("page", &q.page)]
        .into_iter()
        .filter(|(k, v)| !(v.trim().is_empty() || *k == "page" && v.trim() == "1"))
        .map(|(k, v)| format!("{k}={}", enc(v.trim())))
        .collect();
    if parts.is_empty() {
        PATH.to_string()
    } else {
        format!("{PATH}?{}", parts.join("&"))
    }
}

fn status_class(status: i64) -> &'static str {
    if status >= 500 {
        "badge err-badge status-5xx"
    } else if status >= 400 {
        "badge err-badge status-4xx"
    } else {
        "badge ok-badge status-ok"
    }
}

fn duration(us: i64) -> String {
    if us >= 10_000 {
        format!("{} ms", us / 1000)
    } else {
        format!("{:.1} ms", us as f64 / 1000.0)
    }
}

#[component]
pub fn ScimRequestsPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| {
        query.with(|m| ScimRequestsQuery {
            status: m.get("status").unwrap_or_default(),
            user: m.get("user").unwrap_or_default(),
            page: m.get("page").unwrap_or_default(),
        })
    });
    let page = crate::components::resource(move || q.get(), list_scim_requests);
    let filtered = move || q.with(|q| !q.status.is_empty() || !q.user.is_empty());
    view! {
        <Title text="SCIM requests · Identity portal" />
        <p><A href="/admin/provisioning">"← Automated user provisioning"</A></p>
        <h1>"SCIM requests"</h1>
        <p class="muted">
            "What your identity provider sent and what it got back. Passwords and the bearer token are never stored; request headers other than Content-Type, Accept, Content-Length and If-(None-)Match are dropped; bodies longer than 16 KiB are cut."
        </p>
        <form method="GET" action=PATH class="filters" role="search" aria-label="Filter SCIM requests">
            <label for="req-status">"Status"</label>
            <select id="req-status" name="status" prop:value=move || q.get().status>
                <option value="" selected=move || q.get().status.is_empty()>"Any status"</option>
                <option value="success" selected=move || q.get().status == "success">"Success"</option>
                <option value="4xx" selected=move || q.get().status == "4xx">"4xx (client errors)"</option>
                <option value="5xx" selected=move || q.get().status == "5xx">"5xx (server errors)"</option>
            </select>
            <label for="req-user">"User (id or userName)"</label>
            <input id="req-user" name="user" type="search" maxlength="256" value=move || q.get().user prop:value=move || q.get().user />
            <button type="submit">"Apply"</button>
            {move || filtered().then(|| view! { <A href=PATH attr:class="clear-filters">"Clear filters"</A> })}
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || page.get().map(|r| match r {
                Err(e) => view! { <p class="alert error" role="alert" data-testid="requests-error">{crate::errors::message(&e)}</p> }.into_any(),
                Ok(p) => {
                    let cur = q.get();
                    let at = |n: i64| ScimRequestsQuery { page: n.to_string(), ..cur.clone() };
                    let prev = (p.page > 1).then(|| at(p.page - 1));
                    let next = (p.page < p.pages).then(|| at(p.page + 1));
                    let retention = if p.retention_days == 0 {
                        "This deployment does not keep SCIM requests.".to_string()
                    } else {
                        format!("Requests are kept for {} day(s).", p.retention_days)
                    };
                    let list = if p.rows.is_empty() {
                        view! { <p class="empty-state" data-testid="requests-empty">{if filtered() { "No SCIM requests match these filters." } else { "No SCIM requests yet." }}</p> }.into_any()
                    } else {
                        view! { <RequestTable rows=p.rows /> }.into_any()
                    };
                    view! {
                        <p class="muted" data-testid="requests-total">{format!("{} request(s). {retention}", p.total)}</p>
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

#[component]
fn RequestTable(rows: Vec<ScimRequestRow>) -> impl IntoView {
    view! {
        <table class="table scim-requests" data-testid="requests-table">
            <thead>
                <tr>
                    <th scope="col">"Time"</th>
                    <th scope="col">"Request"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Duration"</th>
                    <th scope="col">"User"</th>
                    <th scope="col">"Client"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let link = format!("{PATH}/{}", r.id);
                    view! {
                        <tr data-status=r.status.to_string()>
                            <td><A href=link.clone()>{utc(r.at)}</A></td>
                            <td class="mono"><A href=link>{format!("{} {}", r.method, r.path)}</A></td>
                            <td><span class=status_class(r.status)>{r.status.to_string()}</span></td>
                            <td>{duration(r.duration_us)}</td>
                            <td>{r.user_name.clone().or(r.user_id.clone()).unwrap_or_else(|| "—".into())}</td>
                            <td class="muted">{r.client.clone().unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A body for reading: indented when it is JSON.
fn pretty(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}

#[component]
pub fn ScimRequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let detail = crate::components::resource(id, get_scim_request);
    view! {
        <Title text="SCIM request · Identity portal" />
        <p><A href=PATH>"← All SCIM requests"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || detail.get().map(|r| match r {
                Err(e) => view! {
                    <h1>"SCIM request not found"</h1>
                    <p class="alert error" role="alert" data-testid="request-error">{crate::errors::message(&e)}</p>
                }.into_any(),
                Ok(d) => {
                    let r = d.row;
                    let user = r.user_id.clone().map(|id| {
                        let label = r.user_name.clone().unwrap_or_else(|| id.clone());
                        view! { <A href=format!("/admin/users/{id}")>{label}</A> }.into_any()
                    }).or_else(|| r.user_name.clone().map(|n| view! { <span>{n}</span> }.into_any()));
                    view! {
                        <h1 class="mono" data-testid="request-title">{format!("{} {}", r.method, r.path)}</h1>
                        <dl class="facts">
                            <dt>"Status"</dt><dd><span class=status_class(r.status) data-testid="request-status">{r.status.to_string()}</span></dd>
                            <dt>"Time"</dt><dd>{utc(r.at)}</dd>
                            <dt>"Duration"</dt><dd>{duration(r.duration_us)}</dd>
                            <dt>"Client"</dt><dd>{r.client.clone().unwrap_or_else(|| "—".into())}</dd>
                            <dt>"User"</dt><dd>{user.unwrap_or_else(|| view! { <span>"—"</span> }.into_any())}</dd>
                            <dt>"Request id"</dt><dd class="mono">{r.id.clone()}</dd>
                        </dl>
                        <section class="card" aria-labelledby="req-headers">
                            <h2 id="req-headers">"Request headers (kept)"</h2>
                            <pre class="json" data-testid="request-headers">{pretty(&d.request_headers)}</pre>
                        </section>
                        <section class="card" aria-labelledby="req-body">
                            <h2 id="req-body">"Request body"</h2>
                            <pre class="json" data-testid="request-body">{d.request_body.as_deref().map_or_else(|| "(empty)".to_string(), pretty)}</pre>
                        </section>
                        <section class="card" aria-labelledby="res-body">
                            <h2 id="res-body">"Response body"</h2>
                            <pre class="json" data-testid="response-body">{d.response_body.as_deref().map_or_else(|| "(empty)".to_string(), pretty)}</pre>
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_carry_the_filters_encoded_and_drop_page_one() {
        let q = crate::dto::ScimRequestsQuery {
            status: "4xx".into(),
            user: "a b&c@x".into(),
            page: "1".into(),
        };
        assert_eq!(
            super::href(&q),
            "/admin/provisioning/requests?status=4xx&user=a%20b%26c%40x"
        );
        assert_eq!(
            super::href(&Default::default()),
            "/admin/provisioning/requests"
        );
    }
}
