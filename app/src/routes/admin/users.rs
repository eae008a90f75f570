//! The Users screen: a server-side paginated table whose state lives in the URL query.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::{error_of, FormError};
use crate::dto::{UsersPage, UsersQuery};
use crate::time_fmt::{date, opt};

#[server(endpoint = "list_users")]
pub async fn list_users(q: UsersQuery) -> Result<UsersPage, ServerFnError> {
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
    let svc = services()?;
    portal_core::admin_views::list_users(&svc, &admin.org_id, &q)
        .await
        .map_err(to_client)
}

#[server(endpoint = "admin_add_user")]
pub async fn admin_add_user(
    email: String,
    given_name: String,
    family_name: String,
    department: String,
    country: String,
    locality: String,
) -> Result<String, ServerFnError> {
    use crate::ssr::{require_admin, services, to_client};
    let (admin, _) = require_admin().await?;
    let svc = services()?;
    let form = portal_core::manage::UserForm {
        email,
        given_name,
        family_name,
        department,
        country,
        locality,
    };
    let id = portal_core::manage::add_user(&svc, &admin, &form)
        .await
        .map_err(to_client)?;
    // Without JavaScript the list would come back with no sign of what happened: show the user.
    if crate::ssr::plain_form_post() {
        leptos_axum::redirect(&format!("/admin/users/{id}"));
    }
    Ok(id)
}

fn query_from_url(q: &leptos_router::params::ParamsMap) -> UsersQuery {
    UsersQuery {
        search: q.get("q").unwrap_or_default(),
        status: q.get("status").unwrap_or_default(),
        source: q.get("source").unwrap_or_default(),
        sort: q.get("sort").unwrap_or_default(),
        desc: q.get("dir").as_deref() == Some("desc"),
        page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
    }
}

pub fn users_href(q: &UsersQuery) -> String {
    let mut parts = Vec::new();
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    if !q.search.is_empty() {
        parts.push(format!("q={}", enc(&q.search)));
    }
    if !q.status.is_empty() {
        parts.push(format!("status={}", enc(&q.status)));
    }
    if !q.source.is_empty() {
        parts.push(format!("source={}", enc(&q.source)));
    }
    if !q.sort.is_empty() {
        parts.push(format!("sort={}", enc(&q.sort)));
    }
    if q.desc {
        parts.push("dir=desc".into());
    }
    if q.page > 1 {
        parts.push(format!("page={}", q.page));
    }
    if parts.is_empty() {
        "/admin/users".into()
    } else {
        format!("/admin/users?{}", parts.join("&"))
    }
}

#[component]
pub fn UsersPageView() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.with(query_from_url));
    let add = ServerAction::<AdminAddUser>::new();
    let page = Resource::new(
        move || (q.get(), add.version().get()),
        |(q, _)| list_users(q),
    );
    let sort_link = move |col: &'static str, label: &'static str| {
        let cur = q.get();
        let active = cur.sort == col || (cur.sort.is_empty() && col == "user_name");
        let next = UsersQuery {
            sort: col.into(),
            desc: active && !cur.desc,
            page: 1,
            ..cur.clone()
        };
        let aria = if active {
            if cur.desc {
                "descending"
            } else {
                "ascending"
            }
        } else {
            "none"
        };
        view! {
            <th scope="col" aria-sort=aria>
                <A href=users_href(&next)>{label}</A>
            </th>
        }
    };
    view! {
        <Title text="Users · Identity portal" />
        <h1>"Users"</h1>
        <form method="GET" action="/admin/users" class="filters" role="search" aria-label="Filter users">
            <label for="users-q">"Search"</label>
            <input id="users-q" type="search" name="q" placeholder="Name or email" prop:value=move || q.get().search />
            <label for="users-status">"Status"</label>
            <select id="users-status" name="status" prop:value=move || q.get().status>
                <option value="">"Any status"</option>
                <option value="active">"Active"</option>
                <option value="deactivated">"Deactivated"</option>
                <option value="deleted">"Deleted"</option>
            </select>
            <label for="users-source">"Source"</label>
            <select id="users-source" name="source" prop:value=move || q.get().source>
                <option value="">"Any source"</option>
                <option value="scim">"SCIM"</option>
                <option value="sso_jit">"SSO-JIT"</option>
                <option value="admin">"Admin"</option>
            </select>
            <button type="submit">"Apply"</button>
        </form>
        <details class="confirm add-user">
            <summary class="button-like">"Add user"</summary>
            <div class="confirm-body">
                <ActionForm action=add attr:class="stack" attr:aria-label="Add user">
                    <label for="add-email">"Email (userName)"</label>
                    <input id="add-email" name="email" type="email" required maxlength="254" />
                    <label for="add-given">"First name"</label>
                    <input id="add-given" name="given_name" maxlength="200" />
                    <label for="add-family">"Last name"</label>
                    <input id="add-family" name="family_name" maxlength="200" />
                    <label for="add-dept">"Department"</label>
                    <input id="add-dept" name="department" maxlength="200" />
                    <label for="add-country">"Country"</label>
                    <input id="add-country" name="country" maxlength="100" />
                    <label for="add-city">"City"</label>
                    <input id="add-city" name="locality" maxlength="200" />
                    <FormError error=Signal::derive(move || add.value().with(error_of)) />
                    <button type="submit">"Add user"</button>
                </ActionForm>
            </div>
        </details>
        {move || add.value().get().and_then(|r| r.ok()).map(|_| view! { <p class="alert ok" role="status">"User added."</p> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|r| match r {
                        Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                        Ok(p) => {
                            let cur = q.get();
                            let prev = (p.page > 1).then(|| UsersQuery { page: p.page - 1, ..cur.clone() });
                            let next = (p.page < p.pages).then(|| UsersQuery { page: p.page + 1, ..cur.clone() });
                            let export = users_href(&UsersQuery { page: 1, ..cur.clone() }).replacen("/admin/users", "/admin/users.csv", 1);
                            let purge = (p.deleted_count > 0).then(|| view! {
                                <p class="alert warn" data-testid="purge-outlook">
                                    {format!("{} deleted user(s) are kept for the retention period; the first purge is on {}.", p.deleted_count, p.next_purge_at.map(date).unwrap_or_default())}
                                </p>
                            });
                            let scim_note = p.scim_active.then(|| view! {
                                <p class="muted">"SCIM provisioning is on: users from your IdP are managed there and read-only here."</p>
                            });
                            view! {
                                {purge}
                                {scim_note}
                                <p class="toolbar">
                                    <span class="muted" data-testid="users-total">{format!("{} user(s)", p.total)}</span>
                                    <a href=export download="users.csv" class="button-like secondary-link">"Export CSV"</a>
                                </p>
                                <div class="table-wrap">
                                    <table class="data">
                                        <thead>
                                            <tr>
                                                {sort_link("name", "Name")}
                                                {sort_link("user_name", "userName / email")}
                                                <th scope="col">"Department"</th>
                                                <th scope="col">"Country"</th>
                                                <th scope="col">"City"</th>
                                                <th scope="col">"Status"</th>
                                                <th scope="col">"Source"</th>
                                                <th scope="col">"Last sign-in"</th>
                                                {sort_link("updated", "Last change")}
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {p.rows.into_iter().map(|u| {
                                                let status_class = format!("badge status-{}", u.status.to_lowercase());
                                                view! {
                                                    <tr>
                                                        <td><A href=format!("/admin/users/{}", u.id)>{if u.name.is_empty() { "(no name)".to_string() } else { u.name.clone() }}</A></td>
                                                        <td>{u.user_name.clone()}</td>
                                                        <td>{u.department.clone().unwrap_or_default()}</td>
                                                        <td>{u.country.clone().unwrap_or_default()}</td>
                                                        <td>{u.locality.clone().unwrap_or_default()}</td>
                                                        <td><span class=status_class>{u.status.clone()}</span></td>
                                                        <td>{u.source.clone()}</td>
                                                        <td>{opt(u.last_sign_in_at)}</td>
                                                        <td>{opt(Some(u.updated_at))}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    {prev.map(|q| view! { <A href=users_href(&q)>"← Previous"</A> })}
                                    <span>{format!("Page {} of {}", p.page, p.pages)}</span>
                                    {next.map(|q| view! { <A href=users_href(&q)>"Next →"</A> })}
                                </nav>
                            }.into_any()
                        }
                    })
            }}
        </Transition>
    }
}
