//! The Users screen: a server-side paginated table whose state lives in the URL query.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::{FieldError, FormError, FormErrors, IfCan, ReadOnlyNotice, SubmitButton};
use crate::dto::Need;
use crate::dto::{
    UserEdit, UserFormInput, UserSort, UserSource, UserStatus, UsersPage, UsersQuery,
};
use crate::errors::{AppError, FieldName};
use crate::time_fmt::{date, opt};

#[server(endpoint = "list_users")]
pub async fn list_users(q: UsersQuery) -> Result<UsersPage, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Read).await?;
    let svc = services()?;
    portal_core::admin_views::list_users(&svc, &admin.org_id, &q.into())
        .await
        .map(Into::into)
        .map_err(to_client)
}

#[server(endpoint = "admin_add_user")]
pub async fn admin_add_user(#[server(flatten)] user: UserFormInput) -> Result<String, AppError> {
    use crate::ssr::{require, services, to_client, Permission};
    let admin = require(Permission::Manage).await?.actor();
    let svc = services()?;
    let form = portal_core::manage::UserForm::from(user);
    let id = portal_core::manage::add_user(&svc, &admin, &form)
        .await
        .map_err(to_client)?;
    // Without JavaScript the list would come back with no sign of what happened: show the user.
    if crate::ssr::plain_form_post() {
        leptos_axum::redirect(&format!("/admin/users/{id}"));
    }
    Ok(id)
}

#[cfg(feature = "ssr")]
impl From<UserFormInput> for portal_core::manage::UserForm {
    fn from(u: UserFormInput) -> Self {
        Self {
            email: u.email,
            given_name: u.given_name,
            family_name: u.family_name,
            department: u.department,
            country: u.country,
            locality: u.locality,
        }
    }
}

/// The hand-editable fields of a user, as the Add user and Edit forms show them: each input
/// `{prefix}-{field}`, its message `{prefix}-{field}-error`.
#[component]
pub fn UserFields(prefix: &'static str, values: UserEdit, errors: FormErrors) -> impl IntoView {
    let fields = [
        (
            FieldName::Email,
            "email",
            "email",
            "Email (userName)",
            values.email,
            "254",
        ),
        (
            FieldName::GivenName,
            "given",
            "given_name",
            "First name",
            values.given_name,
            "200",
        ),
        (
            FieldName::FamilyName,
            "family",
            "family_name",
            "Last name",
            values.family_name,
            "200",
        ),
        (
            FieldName::Department,
            "dept",
            "department",
            "Department",
            values.department,
            "200",
        ),
        (
            FieldName::Country,
            "country",
            "country",
            "Country",
            values.country,
            "100",
        ),
        (
            FieldName::Locality,
            "city",
            "locality",
            "City",
            values.locality,
            "200",
        ),
    ];
    fields
        .into_iter()
        .map(|(field, suffix, name, label, value, max)| {
            let id = format!("{prefix}-{suffix}");
            let message_id = format!("{id}-error");
            let email = field == FieldName::Email;
            view! {
                <label for=id.clone()>{label}</label>
                <input
                    id=id
                    name=name
                    type=if email { "email" } else { "text" }
                    required=email
                    maxlength=max
                    value=value
                    aria-invalid=errors.invalid(field)
                    aria-describedby=errors.described_by(field, message_id.clone())
                />
                <FieldError errors field id=message_id />
            }
        })
        .collect_view()
}

fn query_from_url(q: &leptos_router::params::ParamsMap) -> UsersQuery {
    UsersQuery::from_params(|k| q.get(k))
}

/// 1000 → "1,000".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
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
    if let Some(status) = q.status {
        parts.push(format!("status={}", status.as_str()));
    }
    if let Some(source) = q.source {
        parts.push(format!("source={}", source.as_str()));
    }
    if q.sort != UserSort::default() {
        parts.push(format!("sort={}", q.sort.as_str()));
    }
    if q.desc {
        parts.push("dir=desc".into());
    }
    if q.page > 1 {
        parts.push(format!("page={}", q.page));
    }
    if !q.group.is_empty() {
        parts.push(format!("group={}", enc(&q.group)));
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
    let add_errors = FormErrors::of(add);
    let page = crate::components::resource(
        move || (q.get(), add.version().get()),
        |(q, _)| list_users(q),
    );
    let sort_link = move |col: UserSort, label: &'static str| {
        let cur = q.get();
        let active = cur.sort == col;
        let next = UsersQuery {
            sort: col,
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
        <ReadOnlyNotice needs=Need::Manage />
        <form method="GET" action="/admin/users" class="filters" role="search" aria-label="Filter users">
            <label for="users-q">"Search"</label>
            <input id="users-q" type="search" name="q" placeholder="Name or email" prop:value=move || q.get().search />
            <label for="users-status">"Status"</label>
            <select id="users-status" name="status" prop:value=move || q.get().status.map_or("", UserStatus::as_str)>
                <option value="">"Any status"</option>
                <option value="active">"Active"</option>
                <option value="deactivated">"Deactivated"</option>
                <option value="deleted">"Deleted"</option>
            </select>
            <label for="users-source">"Source"</label>
            <select id="users-source" name="source" prop:value=move || q.get().source.map_or("", UserSource::as_str)>
                <option value="">"Any source"</option>
                <option value="scim">"SCIM"</option>
                <option value="sso_jit">"SSO-JIT"</option>
                <option value="admin">"Admin"</option>
            </select>
            // SCIM Groups (issue 13): a group filter (from the Groups screen) survives the others.
            <input type="hidden" name="group" prop:value=move || q.get().group />
            <button type="submit">"Apply"</button>
        </form>
        {move || (!q.get().group.is_empty()).then(|| view! {
            <p class="muted" data-testid="users-group-filter">
                "Showing the members of one group. "
                <A href="/admin/groups">"All groups"</A>
                " · "
                <A href="/admin/users">"Show all users"</A>
            </p>
        })}
        // Open after a refused add, also when the form was posted without JavaScript.
        <IfCan needs=Need::Manage>
        <details class="confirm add-user" open=add_errors.refused_at_render(None)>
            <summary class="button-like">"Add user"</summary>
            <div class="confirm-body">
                <ActionForm action=add attr:class="stack" attr:aria-label="Add user">
                    <FormError error=add_errors.summary() />
                    <UserFields prefix="add" values=UserEdit::default() errors=add_errors />
                    <SubmitButton pending=add.pending() label="Add user" pending_label="Adding…" />
                </ActionForm>
            </div>
        </details>
        </IfCan>
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
                            let filtered = !cur.search.is_empty() || cur.status.is_some() || cur.source.is_some() || !cur.group.is_empty();
                            let empty = (p.total == 0).then(|| if filtered {
                                view! {
                                    <p class="empty-state" data-testid="users-empty">
                                        "No users match this search or these filters. "
                                        <A href="/admin/users">"Show all users"</A>
                                    </p>
                                }.into_any()
                            } else {
                                view! {
                                    <div class="empty-state" data-testid="users-empty">
                                        <p><strong>"No users yet."</strong></p>
                                        <p>
                                            "Connect your identity provider on "
                                            <A href="/admin/provisioning">"Automated user provisioning"</A>
                                            " and it creates your organisation's users here. You can also add a user by hand with Add user, or let Single Sign-On create accounts at first sign-in (JIT)."
                                        </p>
                                    </div>
                                }.into_any()
                            });
                            let has_rows = p.total > 0;
                            view! {
                                {purge}
                                {scim_note}
                                {empty}
                                <p class="toolbar" hidden=!has_rows>
                                    <span class="muted" data-testid="users-total">{if p.more {
                                        format!("More than {n} users match: the first {n} are listed. Narrow the search, or export them all as CSV.", n = thousands(p.total))
                                    } else {
                                        format!("{} user(s)", p.total)
                                    }}</span>
                                    <a href=export download="users.csv" class="button-like secondary-link">"Export CSV"</a>
                                </p>
                                <div class="table-wrap" hidden=!has_rows>
                                    <table class="data">
                                        <thead>
                                            <tr>
                                                {sort_link(UserSort::Name, "Name")}
                                                {sort_link(UserSort::UserName, "userName / email")}
                                                <th scope="col">"Department"</th>
                                                <th scope="col">"Country"</th>
                                                <th scope="col">"City"</th>
                                                <th scope="col">"Status"</th>
                                                <th scope="col">"Source"</th>
                                                <th scope="col">"Last sign-in"</th>
                                                {sort_link(UserSort::Updated, "Last change")}
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
                                <nav class="pager" aria-label="Pages" hidden=!has_rows>
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

/// The domain's read models as this screen's wire types.
#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{UserRow, UserSort, UserSource, UserStatus, UsersPage, UsersQuery};
    use portal_core::admin_views as core;

    impl From<UserStatus> for core::UserStatus {
        fn from(s: UserStatus) -> Self {
            match s {
                UserStatus::Active => Self::Active,
                UserStatus::Deactivated => Self::Deactivated,
                UserStatus::Deleted => Self::Deleted,
            }
        }
    }

    impl From<UserSource> for core::UserSource {
        fn from(s: UserSource) -> Self {
            match s {
                UserSource::Scim => Self::Scim,
                UserSource::SsoJit => Self::SsoJit,
                UserSource::Admin => Self::Admin,
            }
        }
    }

    impl From<UserSort> for core::UserSort {
        fn from(s: UserSort) -> Self {
            match s {
                UserSort::UserName => Self::UserName,
                UserSort::Name => Self::Name,
                UserSort::Updated => Self::Updated,
                UserSort::Created => Self::Created,
            }
        }
    }

    impl From<UsersQuery> for core::UsersQuery {
        fn from(q: UsersQuery) -> Self {
            let UsersQuery {
                search,
                status,
                source,
                sort,
                desc,
                page,
                group,
            } = q;
            Self {
                search,
                status: status.map(Into::into),
                source: source.map(Into::into),
                sort: sort.into(),
                desc,
                page,
                group,
            }
        }
    }

    impl From<core::UserRow> for UserRow {
        fn from(r: core::UserRow) -> Self {
            let core::UserRow {
                id,
                name,
                user_name,
                email,
                department,
                country,
                locality,
                status,
                source,
                last_sign_in_at,
                updated_at,
                deleted_at,
            } = r;
            Self {
                id,
                name,
                user_name,
                email,
                department,
                country,
                locality,
                status,
                source,
                last_sign_in_at,
                updated_at,
                deleted_at,
            }
        }
    }

    impl From<core::UsersPage> for UsersPage {
        fn from(p: core::UsersPage) -> Self {
            let core::UsersPage {
                rows,
                total,
                page,
                pages,
                more,
                deleted_count,
                next_purge_at,
                scim_active,
            } = p;
            Self {
                rows: rows.into_iter().map(Into::into).collect(),
                total,
                page,
                pages,
                more,
                deleted_count,
                next_purge_at,
                scim_active,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits_by_three() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (12345, "12,345"),
            (1234567, "1,234,567"),
            (-1000, "-1,000"),
        ] {
            assert_eq!(super::thousands(n), s);
        }
    }
}
