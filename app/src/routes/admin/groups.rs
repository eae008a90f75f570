//! The Groups screen (issue 13): the groups the identity provider pushed over SCIM, with their
//! member counts, and one group's members (`?group=<id>`). Read-only: groups are managed in the
//! identity provider.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::dto::{GroupMembers, GroupRow};
use crate::errors::AppError;
use crate::time_fmt::opt;

#[server(endpoint = "list_groups")]
pub async fn list_groups() -> Result<Vec<GroupRow>, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let rows = portal_core::groups::summaries(&svc, &admin.org_id)
        .await
        .map_err(to_client)?;
    Ok(rows
        .into_iter()
        .map(|g| GroupRow {
            id: g.id,
            display_name: g.display_name,
            external_id: g.external_id,
            member_count: g.member_count,
            updated_at: g.updated_at,
        })
        .collect())
}

/// One of the caller's org's groups with its members; None when the org has no such group.
#[server(endpoint = "load_group_members")]
pub async fn load_group_members(id: String) -> Result<Option<GroupMembers>, AppError> {
    use crate::dto::GroupMemberRow;
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    let detail = portal_core::groups::detail(&svc, &admin.org_id, &id)
        .await
        .map_err(to_client)?;
    Ok(detail.map(|d| GroupMembers {
        id: d.group.id,
        display_name: d.group.display_name,
        members: d
            .members
            .into_iter()
            .map(|m| GroupMemberRow {
                user_id: m.user_id,
                user_name: m.user_name,
                display_name: m.display_name,
                active: m.active,
            })
            .collect(),
    }))
}

#[component]
pub fn GroupsPage() -> impl IntoView {
    let query = use_query_map();
    let selected = Memo::new(move |_| query.with(|q| q.get("group").unwrap_or_default()));
    let groups = crate::components::resource(|| (), |_| list_groups());
    let members = crate::components::resource(
        move || selected.get(),
        |id| async move {
            if id.is_empty() {
                Ok(None)
            } else {
                load_group_members(id).await
            }
        },
    );
    view! {
        <Title text="Groups · Identity portal" />
        <h1>"Groups"</h1>
        <p class="muted">
            "The groups your identity provider pushes over SCIM. They are managed there: add or remove members in the identity provider and they change here."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                groups.get().map(|r| match r {
                    Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <div class="empty-state" data-testid="groups-empty">
                            <p><strong>"No groups yet."</strong></p>
                            <p>
                                "Turn on group push in your identity provider's SCIM settings (see "
                                <A href="/admin/provisioning">"Automated user provisioning"</A>
                                ") and its groups appear here."
                            </p>
                        </div>
                    }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap">
                            <table class="data" data-testid="groups-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Group"</th>
                                        <th scope="col">"Members"</th>
                                        <th scope="col">"External ID"</th>
                                        <th scope="col">"Last change"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows.into_iter().map(|g| view! {
                                        <tr>
                                            <td><A href=format!("/admin/groups?group={}", g.id)>{g.display_name.clone()}</A></td>
                                            <td data-testid="group-member-count">{g.member_count}</td>
                                            <td>{g.external_id.clone().unwrap_or_default()}</td>
                                            <td>{opt(Some(g.updated_at))}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                })
            }}
        </Transition>
        <Transition fallback=|| ()>
            {move || {
                members.get().map(|r| match r {
                    Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
                    Ok(None) if selected.get().is_empty() => ().into_any(),
                    Ok(None) => view! { <p class="alert warn" role="status">"There is no such group in your organisation."</p> }.into_any(),
                    Ok(Some(g)) => {
                        let users_href = format!("/admin/users?group={}", g.id);
                        let count = g.members.len();
                        view! {
                            <section class="card" aria-labelledby="group-members-title" data-testid="group-members">
                                <h2 id="group-members-title">{format!("Members of {}", g.display_name)}</h2>
                                <p class="toolbar">
                                    <span class="muted">{format!("{count} member(s)")}</span>
                                    <A href=users_href>"Show in Users"</A>
                                </p>
                                <ul class="plain-list">
                                    {g.members.into_iter().map(|m| {
                                        let label = match &m.display_name {
                                            Some(d) if !d.is_empty() => format!("{d} ({})", m.user_name),
                                            _ => m.user_name.clone(),
                                        };
                                        view! {
                                            <li>
                                                <A href=format!("/admin/users/{}", m.user_id)>{label}</A>
                                                {(!m.active).then(|| view! { " " <span class="badge status-deactivated">"Deactivated"</span> })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </section>
                        }.into_any()
                    }
                })
            }}
        </Transition>
    }
}
