//! Issue 12 — roles × actions. One organisation with an Owner, an Admin and a Viewer; every
//! server function and admin route is called by each role:
//! - a role the action's permission does not allow gets 403 and nothing in the organisation
//!   changes (its rows in every table below are the same before and after);
//! - the least role it allows succeeds (a positive control, so a row cannot pass because its
//!   request was malformed); read-only actions succeed for all three.
//!
//! `every_server_function_has_a_role_row` scans `app/src` and `server/src`: each server function
//! and route has a row here (and the permission a row states is the one its source asks of
//! `require(…)`), or an entry in `NOT_ROLE_GATED` saying why no role applies.

use portal_core::admins::{Permission, Role};
use serde_json::Value;

use crate::common::*;
use crate::cross_tenant::support::{self, form, Req};

/// Server functions and routes no admin role governs, with the reason.
const NOT_ROLE_GATED: &[(&str, &str)] = &[
    ("admin_login", "signs in; takes no session"),
    ("admin_logout", "ends the caller's own session"),
    (
        "admin_signed_in",
        "says whether the caller's session is an admin's",
    ),
    (
        "admin_sso_available",
        "public: whether an org offers SSO sign-in",
    ),
    (
        "load_admin_view",
        "the shell's own data (email, org, role) of any signed-in admin",
    ),
    ("complete_setup", "first-run setup, before any admin exists"),
    (
        "setup_token_valid",
        "first-run setup, before any admin exists",
    ),
    ("request_magic_link", "employees"),
    ("redeem_magic_link", "employees"),
    ("magic_link_valid", "employees"),
    ("load_employee", "employees"),
    ("employee_logout", "employees"),
    (
        "org_sign_in_options",
        "employees: the sign-in page of an org",
    ),
    // Issue 12, two-factor: every role manages its own factors; the second step belongs to the
    // session's pending sign-in (tests: two_factor.rs).
    ("load_two_factor", "the caller's own factors, any role"),
    ("begin_totp", "the caller's own factors, any role"),
    ("confirm_totp", "the caller's own factors, any role"),
    ("disable_totp", "the caller's own factors, any role"),
    (
        "regenerate_recovery_codes",
        "the caller's own factors, any role",
    ),
    (
        "passkey_register_begin",
        "the caller's own factors, any role",
    ),
    (
        "passkey_register_finish",
        "the caller's own factors, any role",
    ),
    ("remove_passkey", "the caller's own factors, any role"),
    (
        "load_second_factor",
        "signed out: the session's pending sign-in",
    ),
    (
        "verify_second_factor",
        "signed out: the session's pending sign-in",
    ),
    (
        "passkey_sign_in_begin",
        "signed out: the session's pending sign-in",
    ),
    (
        "passkey_sign_in_finish",
        "signed out: the session's pending sign-in",
    ),
    // Issue 12, team: the invitation link is the credential (tests: team.rs).
    (
        "load_invitation",
        "signed out: what an invitation link offers",
    ),
    (
        "accept_invitation",
        "signed out: the invitation link is the credential",
    ),
    // Issue 12, your account: every role manages its own account (tests: account.rs).
    ("account_load", "the caller's own account, any role"),
    (
        "account_change_password",
        "the caller's own password, any role",
    ),
    ("account_end_session", "the caller's own sessions, any role"),
    (
        "account_sign_out_everywhere",
        "the caller's own sessions, any role",
    ),
    (
        "admin_request_password_reset",
        "signed out: a reset link by mail",
    ),
    (
        "admin_password_reset_valid",
        "signed out: checks a reset link",
    ),
    ("admin_reset_password", "signed out: uses a reset link"),
    // Setup links (issue 13): the link is the credential of someone outside the admin team,
    // checked on every call (tests: setup_links.rs).
    (
        "load_setup_link",
        "signed out: the setup link is the credential",
    ),
    (
        "setup_link_save_sso",
        "signed out: the setup link is the credential",
    ),
    (
        "setup_link_scim_token",
        "signed out: the setup link is the credential",
    ),
];

/// Routes that are not admin actions (SCIM bearer tokens, SAML, health, pages, assets).
fn route_not_role_gated(key: &str) -> bool {
    key.starts_with("PAGE ")
        || key.contains("/scim/")
        || key.starts_with("GET /saml/{org_id}/metadata")
        || key.starts_with("GET /saml/{org_id}/login")
        || key.starts_with("POST /saml/{org_id}/acs")
        || key == "GET /admin/sso-login"
        || key == "GET /healthz"
        || key == "GET /pkg/{file}"
        || key == "GET /metrics"
        || key == "GET /login/link"
        || key == "GET /api/provisioning/token"
}

struct Row {
    covers: &'static str,
    needs: Permission,
    req: fn(&World) -> Req,
    /// What success looks like for the positive control.
    ok: &'static [u16],
}

const fn row(
    covers: &'static str,
    needs: Permission,
    req: fn(&World) -> Req,
    ok: &'static [u16],
) -> Row {
    Row {
        covers,
        needs,
        req,
        ok,
    }
}

pub struct World {
    org: String,
    owner: String,
    admin: String,
    viewer: String,
    users: Vec<String>,
    versions: std::collections::BTreeMap<String, i64>,
    token_id: String,
    /// Pending invitations (one resent, one cancelled by the positive controls) and two admins
    /// (one whose role changes, one removed).
    invitations: Vec<String>,
    targets: Vec<String>,
    /// A setup link's id (issue 13), revoked by the positive control.
    setup_link: String,
}

impl World {
    fn user(&self, i: usize) -> &str {
        &self.users[i]
    }
    fn ver(&self, i: usize) -> String {
        self.versions
            .get(&self.users[i])
            .copied()
            .unwrap_or(-1)
            .to_string()
    }
    fn cookie(&self, role: Role) -> &str {
        match role {
            Role::Owner => &self.owner,
            Role::Admin => &self.admin,
            Role::Viewer => &self.viewer,
        }
    }
}

fn f(name: &'static str, pairs: &[(&str, &str)]) -> Req {
    Req::Fn(name, form(pairs))
}

fn user_form(w: &World, i: usize, given: &str) -> Req {
    let email = format!("user{i}@acme.test");
    f(
        "admin_edit_user",
        &[
            ("id", w.user(i)),
            ("version", &w.ver(i)),
            ("email", &email),
            ("given_name", given),
            ("family_name", "Edited"),
            ("department", ""),
            ("country", ""),
            ("locality", ""),
        ],
    )
}

fn sso_form() -> Req {
    f(
        "save_sso",
        &[
            ("sso_url", "https://idp.test/sso2"),
            ("certificate", &crate::saml_http::cert("idp")),
            ("next_certificate", ""),
            ("idp_entity_id", ""),
            ("jit_enabled", "on"),
        ],
    )
}

const ROWS: &[Row] = &[
    // ---- reads: every role ----
    row(
        "list_users",
        Permission::Read,
        |_| {
            f(
                "list_users",
                &[
                    ("q[search]", ""),
                    ("q[status]", ""),
                    ("q[source]", ""),
                    ("q[sort]", "user_name"),
                    ("q[desc]", "false"),
                    ("q[page]", "1"),
                ],
            )
        },
        &[200],
    ),
    row(
        "load_user_detail",
        Permission::Read,
        |w| f("load_user_detail", &[("id", w.user(0))]),
        &[200],
    ),
    row(
        "list_events",
        Permission::Read,
        |_| {
            f(
                "list_events",
                &[
                    ("q[kind]", "admin"),
                    ("q[result]", ""),
                    ("q[name]", ""),
                    ("q[actor]", ""),
                    ("q[user]", ""),
                    ("q[from]", ""),
                    ("q[to]", ""),
                    ("q[page]", "1"),
                ],
            )
        },
        &[200],
    ),
    row("load_sso", Permission::Read, |_| f("load_sso", &[]), &[200]),
    // ---- the admin team: Owners change, everyone reads ----
    row(
        "load_team",
        Permission::Read,
        |_| f("load_team", &[]),
        &[200],
    ),
    row(
        "invite_admin",
        Permission::Own,
        |_| {
            f(
                "invite_admin",
                &[("email", "newcomer@acme.test"), ("role", "viewer")],
            )
        },
        &[200],
    ),
    row(
        "resend_invitation",
        Permission::Own,
        |w| f("resend_invitation", &[("id", &w.invitations[0])]),
        &[200],
    ),
    row(
        "cancel_invitation",
        Permission::Own,
        |w| f("cancel_invitation", &[("id", &w.invitations[1])]),
        &[200],
    ),
    row(
        "change_admin_role",
        Permission::Own,
        |w| {
            f(
                "change_admin_role",
                &[("id", &w.targets[0]), ("role", "admin")],
            )
        },
        &[200],
    ),
    row(
        "remove_admin",
        Permission::Own,
        |w| f("remove_admin", &[("id", &w.targets[1])]),
        &[200],
    ),
    // ---- the organisation's settings: Owners change, everyone reads ----
    row(
        "load_org_settings",
        Permission::Read,
        |_| f("load_org_settings", &[]),
        &[200],
    ),
    row(
        "save_org_settings",
        Permission::Own,
        |_| {
            f(
                "save_org_settings",
                &[
                    ("name", "Acme Renamed"),
                    ("user_retention_days", "40"),
                    ("event_retention_days", "300"),
                    ("allowed_domains", "acme.test"),
                    ("username_equals_work_email", "on"),
                ],
            )
        },
        &[200],
    ),
    row(
        "load_overview",
        Permission::Read,
        |_| f("load_overview", &[]),
        &[200],
    ),
    row(
        "GET /admin/activity/export.csv",
        Permission::Read,
        |_| Req::Get("/admin/activity/export.csv?kind=admin".into()),
        &[200],
    ),
    row(
        "GET /admin/activity/export.jsonl",
        Permission::Read,
        |_| Req::Get("/admin/activity/export.jsonl".into()),
        &[200],
    ),
    row(
        "load_sso_test",
        Permission::Read,
        |_| f("load_sso_test", &[("id", "no-such-test")]),
        &[200],
    ),
    row(
        "load_provisioning",
        Permission::Read,
        |_| f("load_provisioning", &[]),
        &[200],
    ),
    row(
        "GET /admin/users.csv",
        Permission::Read,
        |_| Req::Get("/admin/users.csv".into()),
        &[200],
    ),
    // ---- SSO, provisioning, users: Owners and Admins ----
    row(
        "admin_add_user",
        Permission::Manage,
        |_| {
            f(
                "admin_add_user",
                &[
                    ("email", "new@acme.test"),
                    ("given_name", "New"),
                    ("family_name", "User"),
                    ("department", ""),
                    ("country", ""),
                    ("locality", ""),
                ],
            )
        },
        &[200],
    ),
    row(
        "admin_edit_user",
        Permission::Manage,
        |w| user_form(w, 0, "Edited"),
        &[200],
    ),
    row(
        "admin_user_action",
        Permission::Manage,
        |w| {
            f(
                "admin_user_action",
                &[
                    ("id", w.user(1)),
                    ("version", &w.ver(1)),
                    ("action", "deactivate"),
                ],
            )
        },
        &[200],
    ),
    row("save_sso", Permission::Manage, |_| sso_form(), &[200]),
    row(
        "preview_sso_metadata",
        Permission::Manage,
        |_| {
            f(
                "preview_sso_metadata",
                &[("xml", &support::idp_metadata("other"))],
            )
        },
        &[200],
    ),
    row(
        "sso_certificate_action",
        Permission::Manage,
        |_| f("sso_certificate_action", &[("action", "remove_next")]),
        &[200],
    ),
    row(
        "generate_scim_token",
        Permission::Manage,
        |_| f("generate_scim_token", &[]),
        &[200],
    ),
    row(
        "POST /api/provisioning/token",
        Permission::Manage,
        |w| {
            Req::Form(
                "/api/provisioning/token".into(),
                form(&[("replaces", &w.token_id)]),
            )
        },
        &[200],
    ),
    row(
        "revoke_scim_token",
        Permission::Manage,
        |_| f("revoke_scim_token", &[]),
        &[200],
    ),
    row(
        "GET /saml/{org_id}/test",
        Permission::Manage,
        |w| Req::Get(format!("/saml/{}/test", w.org)),
        &[303],
    ),
    // ---- Token rotation (issue 13): Owners and Admins. In this order: the rotate control leaves
    // a rotation for the retire control, which ends it for the no-JS rotate form's control ----
    row(
        "rotate_scim_token",
        Permission::Manage,
        |_| f("rotate_scim_token", &[("grace_hours", "168")]),
        &[200],
    ),
    row(
        "retire_old_scim_token",
        Permission::Manage,
        |w| f("retire_old_scim_token", &[("token_id", &w.token_id)]),
        &[200],
    ),
    row(
        "POST /api/provisioning/token",
        Permission::Manage,
        |_| {
            Req::Form(
                "/api/provisioning/token".into(),
                form(&[("mode", "rotate"), ("replaces", ""), ("grace_hours", "24")]),
            )
        },
        &[200],
    ),
    // SCIM request log (issue 13): Viewers may look (an unknown id is a 404 for every role, so
    // the list is the positive control; the detail's own rows are in scim_request_log.rs).
    row(
        "list_scim_requests",
        Permission::Read,
        |_| {
            f(
                "list_scim_requests",
                &[("q[status]", "4xx"), ("q[user]", ""), ("q[page]", "")],
            )
        },
        &[200],
    ),
    row(
        "get_scim_request",
        Permission::Read,
        |_| f("get_scim_request", &[("id", "no-such-request")]),
        &[404],
    ),
    // ---- SCIM Groups (issue 13, groups): reads, every role ----
    row(
        "list_groups",
        Permission::Read,
        |_| f("list_groups", &[]),
        &[200],
    ),
    row(
        "load_group_members",
        Permission::Read,
        |_| f("load_group_members", &[("id", "no-such-group")]),
        &[200],
    ),
    // ---- Setup links (issue 13): Viewers see the list; Owners and Admins make and revoke ----
    row(
        "load_setup_links",
        Permission::Read,
        |_| f("load_setup_links", &[]),
        &[200],
    ),
    row(
        "create_setup_link",
        Permission::Manage,
        |_| {
            f(
                "create_setup_link",
                &[("label", "roles"), ("scope", "sso"), ("hours", "72")],
            )
        },
        &[200],
    ),
    row(
        "revoke_setup_link",
        Permission::Manage,
        |w| f("revoke_setup_link", &[("id", &w.setup_link)]),
        &[200],
    ),
];

async fn send(app: &TestApp, cookie: &str, req: &Req) -> (u16, String) {
    let base = &app.url;
    let rb = match req {
        Req::Fn(name, form) => app
            .http
            .post(format!("{base}/api/{name}"))
            .header("Origin", base)
            .header("Sec-Fetch-Site", "same-origin")
            .header("Accept", "application/json")
            .form(form),
        Req::Form(path, form) => app
            .http
            .post(format!("{base}{path}"))
            .header("Origin", base)
            .header("Sec-Fetch-Site", "same-origin")
            .header("Accept", "text/html")
            .form(form),
        Req::Get(path) => app
            .http
            .get(format!("{base}{path}"))
            .header("Accept", "text/html"),
        other => panic!(
            "unsupported request in the roles table: {}",
            other.describe()
        ),
    };
    let res = rb
        .header("Cookie", cookie)
        .timeout(HTTP_TIMEOUT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", req.describe()));
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

/// Everything of the organisation a refused call must leave as it was.
async fn snapshot(app: &TestApp, org: &str) -> Vec<String> {
    const TABLES: &[(&str, &str)] = &[
        ("orgs", "SELECT COALESCE(CAST(name AS TEXT),'-') || '|' || CAST(retention_days AS TEXT) || '|' || CAST(event_retention_days AS TEXT) || '|' || allowed_domains || '|' || CAST(username_equals_work_email AS TEXT) || '|' || CAST(require_2fa AS TEXT) || '|' || CAST(require_sso_for_admins AS TEXT) FROM orgs WHERE id = $1"),
        ("admins", "SELECT id || '|' || email || '|' || role FROM admins WHERE org_id = $1"),
        ("users", "SELECT id || '|' || CAST(version AS TEXT) || '|' || CAST(active AS TEXT) || '|' || COALESCE(CAST(deleted_at AS TEXT),'-') FROM users WHERE org_id = $1"),
        ("scim_tokens", "SELECT id || '|' || COALESCE(CAST(revoked_at AS TEXT),'-') FROM scim_tokens WHERE org_id = $1"),
        ("sso_configs", "SELECT sso_url || '|' || COALESCE(next_cert_pem,'-') || '|' || CAST(jit_enabled AS TEXT) FROM sso_configs WHERE org_id = $1"),
        ("events", "SELECT id FROM events WHERE org_id = $1"),
        ("admin_invitations", "SELECT id || '|' || token_hash || '|' || COALESCE(CAST(accepted_at AS TEXT),'-') || '|' || COALESCE(CAST(cancelled_at AS TEXT),'-') FROM admin_invitations WHERE org_id = $1"),
        ("saml_requests", "SELECT id FROM saml_requests WHERE org_id = $1"),
    ];
    let mut out = Vec::new();
    for (table, sql) in TABLES {
        let mut rows: Vec<String> = sqlx::query_scalar::<_, String>(sql)
            .bind(org)
            .fetch_all(&app.t.svc.db.pool)
            .await
            .unwrap_or_else(|e| panic!("snapshot of {table}: {e}"));
        rows.sort();
        out.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    out
}

async fn refresh(app: &TestApp, w: &mut World) {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, version FROM users WHERE org_id = $1")
            .bind(&w.org)
            .fetch_all(&app.t.svc.db.pool)
            .await
            .unwrap();
    w.versions = rows.into_iter().collect();
    let token: Option<String> =
        // Token rotation (issue 13): the current token, not a rotation's next one.
        sqlx::query_scalar("SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 0")
            .bind(&w.org)
            .fetch_optional(&app.t.svc.db.pool)
            .await
            .unwrap();
    w.token_id = match token {
        Some(t) => t,
        None => {
            portal_core::scim_tokens::generate(&app.t.svc, &w.org, "owner@acme.test")
                .await
                .unwrap();
            sqlx::query_scalar(
                "SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL",
            )
            .bind(&w.org)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap()
        }
    };
}

async fn world(app: &TestApp) -> World {
    let org = admin(app, "Acme", "owner@acme.test").await;
    portal_test_support::add_admin(&app.t.svc, &org, "admin@acme.test", Role::Admin).await;
    portal_test_support::add_admin(&app.t.svc, &org, "viewer@acme.test", Role::Viewer).await;
    let pw = portal_test_support::PW;
    let owner = app.sign_in("owner@acme.test", pw, None).await;
    let admin_c = app.sign_in("admin@acme.test", pw, None).await;
    let viewer = app.sign_in("viewer@acme.test", pw, None).await;
    crate::saml_http::configure(app, &org, true).await;
    let mut users = Vec::new();
    for i in 0..2 {
        let email = format!("user{i}@acme.test");
        let (status, body) = send(
            app,
            &owner,
            &f(
                "admin_add_user",
                &[
                    ("email", &email),
                    ("given_name", "U"),
                    ("family_name", "Ser"),
                    ("department", ""),
                    ("country", ""),
                    ("locality", ""),
                ],
            ),
        )
        .await;
        assert_eq!(status, 200, "setup: add user: {body}");
        let id: Value = serde_json::from_str(&body).unwrap();
        users.push(id.as_str().unwrap().to_string());
    }
    let owner_admin = portal_core::admins::admin_by_id(
        &app.t.svc.db,
        &portal_core::admins::authenticate(&app.t.svc, "owner@acme.test", pw, "10.9.9.9")
            .await
            .unwrap()
            .id,
    )
    .await
    .unwrap()
    .unwrap();
    let mut invitations = Vec::new();
    for who in ["resend", "cancel"] {
        let id = portal_core::invitations::invite(
            &app.t.svc,
            &owner_admin,
            &format!("{who}@acme.test"),
            Role::Admin,
        )
        .await
        .unwrap();
        invitations.push(id);
    }
    let mut targets = Vec::new();
    for who in ["role", "remove"] {
        let a = portal_test_support::add_admin(
            &app.t.svc,
            &org,
            &format!("{who}@acme.test"),
            Role::Viewer,
        )
        .await;
        targets.push(a.id);
    }
    let (setup_link, _) =
        portal_core::setup_links::create(&app.t.svc, &owner_admin, "roles", "sso", 72)
            .await
            .unwrap();
    let setup_link = setup_link.id;
    let mut w = World {
        org,
        owner,
        admin: admin_c,
        viewer,
        users,
        versions: Default::default(),
        token_id: String::new(),
        invitations,
        targets,
        setup_link,
    };
    refresh(app, &mut w).await;
    w
}

fn least_role(p: Permission) -> Role {
    match p {
        Permission::Read => Role::Viewer,
        Permission::Manage => Role::Admin,
        Permission::Own => Role::Owner,
    }
}

app_test!(
    every_role_can_do_what_its_role_allows_and_nothing_else,
    |app: TestApp| async move {
        let mut w = world(&app).await;
        let mut failures = Vec::new();
        for r in ROWS {
            for role in [Role::Viewer, Role::Admin, Role::Owner] {
                if role.allows(r.needs) {
                    continue;
                }
                refresh(&app, &mut w).await;
                let req = (r.req)(&w);
                let before = snapshot(&app, &w.org).await;
                let (status, body) = send(&app, w.cookie(role), &req).await;
                let after = snapshot(&app, &w.org).await;
                if status != 403 {
                    failures.push(format!(
                        "{} as {role:?}: expected 403, got {status}: {}",
                        r.covers,
                        excerpt(&body)
                    ));
                }
                if before != after {
                    let changed: Vec<_> = after.iter().filter(|x| !before.contains(x)).collect();
                    failures.push(format!(
                        "{} as {role:?}: refused but changed {changed:?}",
                        r.covers
                    ));
                }
            }
            let allowed: Vec<Role> = if r.needs == Permission::Read {
                Role::ALL.to_vec()
            } else {
                vec![least_role(r.needs)]
            };
            for role in allowed {
                refresh(&app, &mut w).await;
                let req = (r.req)(&w);
                let (status, body) = send(&app, w.cookie(role), &req).await;
                if !r.ok.contains(&status) {
                    failures.push(format!(
                        "{} as {role:?} (allowed): expected {:?}, got {status}: {}",
                        r.covers,
                        r.ok,
                        excerpt(&body)
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "role × action failures:\n  {}",
            failures.join("\n  ")
        );
    }
);

fn excerpt(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The body of server function `name` in `app/src`: from its `#[server(endpoint = "name")]` to
/// the next `#[server` attribute or the end of the file.
fn server_fn_body(name: &str) -> Option<String> {
    let marker = format!("endpoint = \"{name}\"");
    for (_, text) in support::sources(&support::root().join("app/src")) {
        if let Some(i) = text.find(&marker) {
            let rest = &text[i + marker.len()..];
            let end = rest.find("#[server(endpoint").unwrap_or(rest.len());
            return Some(rest[..end].to_string());
        }
    }
    None
}

#[test]
fn every_server_function_has_a_role_row() {
    let fns = support::server_functions();
    let routes: Vec<String> = support::routes().iter().map(support::Route::key).collect();
    let rows: std::collections::BTreeSet<&str> = ROWS.iter().map(|r| r.covers).collect();
    let exempt: std::collections::BTreeSet<&str> = NOT_ROLE_GATED.iter().map(|(k, _)| *k).collect();
    let mut problems = Vec::new();
    for name in &fns {
        if !rows.contains(name.as_str()) && !exempt.contains(name.as_str()) {
            problems.push(format!(
                "server function {name} has no row in ROWS and no NOT_ROLE_GATED entry"
            ));
        }
    }
    for key in &routes {
        if !rows.contains(key.as_str()) && !route_not_role_gated(key) {
            problems.push(format!(
                "route {key} has no row in ROWS and is not listed as ungated"
            ));
        }
    }
    for r in ROWS {
        let known = fns.contains(r.covers) || routes.iter().any(|k| k == r.covers);
        if !known {
            problems.push(format!("row {} names nothing that exists", r.covers));
        }
        if fns.contains(r.covers) {
            let body = server_fn_body(r.covers).unwrap_or_default();
            let asked = format!("require(Permission::{:?})", r.needs);
            // `overview::require_read()` is `require(Permission::Read)` for page loaders.
            let asks = body.contains(&asked)
                || (r.needs == Permission::Read && body.contains("require_read()"));
            if !asks {
                problems.push(format!(
                    "{} is listed as needing {:?} but its source does not call `{asked}`",
                    r.covers, r.needs
                ));
            }
        }
    }
    for (name, _) in NOT_ROLE_GATED {
        if !fns.contains(*name) {
            problems.push(format!("NOT_ROLE_GATED names {name}, which does not exist"));
        }
    }
    assert!(
        problems.is_empty(),
        "roles table coverage:\n  {}",
        problems.join("\n  ")
    );
}

/// `create-admin --role`: operators add Admins and Viewers to an existing organisation; a new
/// organisation's first admin is always its Owner.
#[test]
fn create_admin_takes_a_role_for_an_existing_organisation_only() {
    let dir = portal_test_support::temp_dir("roles-cli");
    let cli = server_cli().env(
        "DATABASE_URL",
        format!("sqlite://{}/portal.db", dir.0.display()),
    );
    let run = |args: &[&str]| {
        let out = cli.run(args, PW);
        (out.success, out.stdout, out.stderr)
    };
    let admin = |org: &str, email: &str, role: &str| {
        run(&[
            "create-admin",
            "--org-name",
            org,
            "--email",
            email,
            "--role",
            role,
        ])
    };
    let (ok, _, err) = admin("Acme", "viewer@acme.test", "viewer");
    assert!(!ok, "a new org's first admin must be its Owner");
    assert!(err.contains("first admin is its Owner"), "{err}");
    let (ok, _, err) = admin("Acme", "owner@acme.test", "owner");
    assert!(ok, "{err}");
    let (ok, _, err) = admin("Acme", "viewer@acme.test", "viewer");
    assert!(ok, "{err}");
    let (ok, _, err) = admin("Acme", "boss@acme.test", "superuser");
    assert!(!ok);
    assert!(err.contains("--role"), "{err}");
    // The default stays Owner, as before roles existed.
    let (ok, _, err) = run(&[
        "create-admin",
        "--org-name",
        "Initech",
        "--email",
        "it@initech.test",
    ]);
    assert!(ok, "{err}");
}
