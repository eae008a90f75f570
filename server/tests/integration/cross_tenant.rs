//! Issue 10 — the cross-tenant matrix. Two organisations, A (Alpha) and B (Bravo), each with an
//! admin, a SCIM token, SCIM and manual users in every state, SSO with a next certificate, a
//! finished and a pending Test sign-in, events, unused magic links and an employee session. Then
//! every server function and every route that takes an identifier or a credential is aimed, with
//! one of A's credentials (admin session, employee session, SCIM token, password, IdP key), at B's
//! objects: B's user ids, B's org id in the URL or smuggled into a form, B's test ids, B's token
//! id, B's link. Each row names the statuses it expects, and
//! - no response shows any of B's data (every private value of B contains `bravo-secret`; B's
//!   SCIM token and links are checked too);
//! - no row starts a session;
//! - B's rows (org, admins, users, emails, addresses, SCIM tokens, SSO configuration, magic links,
//!   Test sign-ins, events) are the same after each row and after the whole matrix. The one
//!   difference allowed is declared per row: a response posted to B's ACS is, by design, logged
//!   as one failed SSO sign-in in B's activity (B's admin sees who is knocking).
//!
//! Most rows carry a positive control: the same request by A on A's own object, which must
//! succeed, so a row cannot pass because its request was malformed.
//!
//! Rows run in order against one world; before each request, A's own SCIM token, SSO
//! configuration and Test sign-ins are put back if an earlier row (acting on A, as it must)
//! replaced, revoked or deactivated them.
//!
//! `every_server_function_and_route_has_a_row` lists the `#[server(endpoint = …)]`s of `app/src`,
//! the axum `.route(…)`s of `server/src` and the Leptos `<Route>`s of `app/src/lib.rs`, and fails
//! naming any that has neither a row nor an entry, with its reason, in `WITHOUT_ROWS`. Each row's
//! request is matched against the same list at run time, so a row cannot claim what it does not
//! exercise.

pub(crate) mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestApp;
use support::*;

/// The whole matrix (setup included) fails with a message after this long instead of hanging.
const DEADLINE: Duration = Duration::from_secs(180);

/// Server functions and routes that take no identifier of an org's object and no credential
/// that could be aimed at another org, so they have no row. Keep the reason next to each.
const WITHOUT_ROWS: &[(&str, &str)] = &[
    (
        "admin_logout",
        "ends the caller's own session; takes nothing",
    ),
    (
        "admin_signed_in",
        "says whether the caller's own session is an admin's; takes nothing",
    ),
    (
        "employee_logout",
        "ends the caller's own employee session; takes nothing",
    ),
    (
        "request_magic_link",
        "takes an address from anyone by design and mails the account's own address; sending B's \
         user a link is its purpose, so it cannot sit in a matrix that asserts B unchanged. \
         Cross-org matching of addresses has its own test (the lead's, issue 10)",
    ),
    (
        "admin_sso_available",
        "takes any org id from anyone by design and answers only whether SSO is set up, which \
         /saml/{org_id}/login and /metadata (rows below) already say; the admin sign-in through \
         SSO itself has its own hostile tests (admin_sso.rs: another org's IdP, JIT, browsers)",
    ),
    ("GET /healthz", "no identifier, no credential"),
    (
        "GET /pkg/{file}",
        "the site's static files (css, js, wasm): the same bytes for everyone, no identifier, \
         no credential",
    ),
    (
        "GET /metrics",
        "only on the private METRICS_ADDR listener (404 on the public one, \
         `observability.rs`); no identifier, no credential, counts only",
    ),
    ("PAGE /", "the landing page: no identifier, no credential"),
    (
        "PAGE /admin/login",
        "the sign-in form; its credentials go to admin_login, which has rows",
    ),
    // ---- Issue 12, your account ----
    (
        "account_sign_out_everywhere",
        "ends the sessions of the caller's own admin (from the session), takes nothing; that it \
         leaves other admins' sessions alone is tested in account.rs \
         (your_sessions_lists_ends_only_ones_own_and_signs_out_everywhere)",
    ),
    (
        "admin_request_password_reset",
        "takes an address from anyone by design and mails that admin's own address; asking for \
         B's admin's address mails B's admin and records it in B's activity, which this matrix \
         forbids. Same answer for every address, throttled: account.rs in both test crates",
    ),
    (
        "PAGE /admin/forgot-password",
        "the request form; its address goes to admin_request_password_reset",
    ),
    // Second factor (issue 12, two-factor): the caller's own account, or this session's own
    // pending sign-in; `two_factor.rs` tests each.
    ("load_two_factor", "the caller's own factors; takes nothing"),
    (
        "begin_totp",
        "starts the caller's own app setup; takes nothing",
    ),
    (
        "confirm_totp",
        "a code checked against the caller's own unconfirmed secret only",
    ),
    (
        "disable_totp",
        "a code or password checked against the caller's own account only",
    ),
    (
        "regenerate_recovery_codes",
        "replaces the caller's own codes; takes nothing",
    ),
    (
        "passkey_register_begin",
        "takes a name only; the challenge is bound to the caller in their session",
    ),
    (
        "passkey_register_finish",
        "an answer to this session's own challenge, bound to the caller",
    ),
    (
        "load_second_factor",
        "this session's own pending sign-in; takes nothing",
    ),
    (
        "verify_second_factor",
        "a code checked only against this session's pending admin (never an id)",
    ),
    (
        "passkey_sign_in_begin",
        "this session's own pending sign-in; takes nothing",
    ),
    (
        "passkey_sign_in_finish",
        "an answer to this session's own challenge, bound to its pending admin",
    ),
    (
        "PAGE /admin/account/2fa",
        "the caller's own factors; its server functions are listed here",
    ),
    (
        "PAGE /admin/login/verify",
        "this session's own pending sign-in; its server functions are listed here",
    ),
];

#[derive(Clone, Copy, Debug)]
enum Body {
    Any,
    /// JSON `null`: a server function's "no such object here".
    Null,
    /// A list or search with nothing in it (`total` or `totalResults` is 0).
    NoResults,
    /// A list or search with something in it.
    SomeResults,
    /// The body contains this text.
    Has(&'static str),
    /// The body contains A's org id.
    HasAOrgId,
    /// The `Location` header starts with this.
    RedirectsTo(&'static str),
}

struct Control {
    who: Who,
    req: fn(&World) -> Req,
    expect: &'static [u16],
    body: Body,
    signs_in: bool,
}

struct Row {
    name: &'static str,
    /// The endpoint or route (`METHOD /pattern`, `PAGE /pattern`) the request reaches.
    covers: &'static str,
    who: Who,
    req: fn(&World) -> Req,
    expect: &'static [u16],
    body: Body,
    /// Posted to B's ACS: by design one failed-SSO event in B's activity.
    b_sso_failure: bool,
    control: Option<Control>,
}

const fn row(
    name: &'static str,
    covers: &'static str,
    who: Who,
    req: fn(&World) -> Req,
    expect: &'static [u16],
    body: Body,
) -> Row {
    Row {
        name,
        covers,
        who,
        req,
        expect,
        body,
        b_sso_failure: false,
        control: None,
    }
}

impl Row {
    /// A on A's own object: must succeed.
    const fn ok(self, who: Who, req: fn(&World) -> Req, expect: &'static [u16], body: Body) -> Row {
        Row {
            control: Some(Control {
                who,
                req,
                expect,
                body,
                signs_in: false,
            }),
            ..self
        }
    }
    /// A positive control that starts a session.
    const fn ok_signs_in(self, who: Who, req: fn(&World) -> Req, expect: &'static [u16]) -> Row {
        Row {
            control: Some(Control {
                who,
                req,
                expect,
                body: Body::Any,
                signs_in: true,
            }),
            ..self
        }
    }
    const fn logs_b_sso_failure(self) -> Row {
        Row {
            b_sso_failure: true,
            ..self
        }
    }
}

// ---- request builders -------------------------------------------------------------------------

fn f(name: &'static str, pairs: &[(&str, &str)]) -> Req {
    Req::Fn(name, form(pairs))
}

/// A server function with B's org id smuggled into the form (the org must come from the session).
fn fb(w: &World, name: &'static str, pairs: &[(&str, &str)]) -> Req {
    let mut v = form(pairs);
    v.extend(form(&[("org_id", &w.b.id), ("org", &w.b.id)]));
    Req::Fn(name, v)
}

fn get(path: String) -> Req {
    Req::Get(path)
}

fn scim(w_org: &str, method: Method, rest: &str, body: Option<Value>) -> Req {
    Req::Scim(method, format!("/scim/v2/{w_org}{rest}"), body)
}

fn filter(org: &str, f: &str) -> Req {
    Req::Scim(
        Method::GET,
        format!("/scim/v2/{org}/Users?filter={}", urlencode(f)),
        None,
    )
}

fn search(org: &str, rest: &str, f: &str) -> Req {
    Req::Scim(
        Method::POST,
        format!("/scim/v2/{org}{rest}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": f
        })),
    )
}

fn deactivate_patch() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    })
}

/// SCIM Groups (issue 13, groups): Entra's form of a member change.
fn members_patch(op: &str, user_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": op, "path": "members", "value": [{"value": user_id}]}]
    })
}

fn group_filter(org: &str, f: &str) -> Req {
    Req::Scim(
        Method::GET,
        format!("/scim/v2/{org}/Groups?filter={}", urlencode(f)),
        None,
    )
}

fn rename_patch() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "alpha-secret-patched"}]
    })
}

fn users_query(search: &str) -> Req {
    f(
        "list_users",
        &[
            ("q[search]", search),
            ("q[status]", ""),
            ("q[source]", ""),
            ("q[sort]", "user_name"),
            ("q[desc]", "false"),
            ("q[page]", "1"),
        ],
    )
}

fn events_query(user_id: &str) -> Req {
    f(
        "list_events",
        &[
            ("q[result]", ""),
            ("q[name]", ""),
            ("q[user]", user_id),
            ("q[page]", "1"),
        ],
    )
}

/// A's admin's edit of user `id` of `o` (A's values; B's version and userName when aimed at B,
/// so that only the org stands in the way).
fn edit(o: &Org, id: &str, local: &str) -> Req {
    f(
        "admin_edit_user",
        &[
            ("id", id),
            ("version", &o.ver(id)),
            ("email", &o.user_name(local)),
            ("given_name", "alpha-secret-edited"),
            ("family_name", "Edited"),
            ("department", "alpha-secret-dept"),
            ("country", "FI"),
            ("locality", "alpha-secret-city"),
        ],
    )
}

fn action(o: &Org, id: &str, what: &str) -> Req {
    f(
        "admin_user_action",
        &[("id", id), ("version", &o.ver(id)), ("action", what)],
    )
}

/// A setup link's SSO form with `token` as the link and `o`'s own IdP values.
fn setup_link_sso(token: &str, o: &Org) -> Req {
    let input = o.sso_input();
    f(
        "setup_link_save_sso",
        &[
            ("token", token),
            ("sso_url", &input.sso_url),
            ("certificate", &input.certificate),
            ("idp_entity_id", &input.idp_entity_id),
        ],
    )
}

fn save_sso(w: &World) -> Req {
    let i = w.a.sso_input();
    fb(
        w,
        "save_sso",
        &[
            ("sso_url", &i.sso_url),
            ("certificate", &i.certificate),
            ("next_certificate", &i.next_certificate),
            ("idp_entity_id", &i.idp_entity_id),
            ("jit_enabled", "on"),
        ],
    )
}

fn acs(target: &Org, xml: String, browser: Option<&str>) -> Req {
    Req::Acs(
        format!("/saml/{}/acs", target.id),
        xml,
        browser.map(str::to_string),
    )
}

const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

// ---- the table --------------------------------------------------------------------------------

use Who::{AAdmin, AEmployee, AIdp, APassword, AScim, Nobody};

// One row per entry, read as a table: rustfmt would spread each over a dozen lines.
#[rustfmt::skip]
static ROWS: &[Row] = &[
    // ---- A's admin session, server functions, B's objects ----
    row("load_user_detail: B's SCIM user", "load_user_detail", AAdmin,
        |w| f("load_user_detail", &[("id", &w.b.users.scim2)]), &[200], Body::Null)
        .ok(AAdmin, |w| f("load_user_detail", &[("id", &w.a.users.scim2)]), &[200], Body::Has(A_MARK)),
    row("load_user_detail: B's deleted user", "load_user_detail", AAdmin,
        |w| f("load_user_detail", &[("id", &w.b.users.restore)]), &[200], Body::Null)
        .ok(AAdmin, |w| f("load_user_detail", &[("id", &w.a.users.restore)]), &[200], Body::Has(A_MARK)),
    row("admin_edit_user: B's manual user (B's version)", "admin_edit_user", AAdmin,
        |w| edit(&w.b, &w.b.users.edit, "edit"), &[404], Body::Any)
        .ok(AAdmin, |w| edit(&w.a, &w.a.users.edit, "edit"), &[200], Body::Any),
    row("admin_user_action deactivate: B's active user", "admin_user_action", AAdmin,
        |w| action(&w.b, &w.b.users.deact, "deactivate"), &[404], Body::Any)
        .ok(AAdmin, |w| action(&w.a, &w.a.users.deact, "deactivate"), &[200], Body::Any),
    row("admin_user_action reactivate: B's deactivated user", "admin_user_action", AAdmin,
        |w| action(&w.b, &w.b.users.react, "reactivate"), &[404], Body::Any)
        .ok(AAdmin, |w| action(&w.a, &w.a.users.react, "reactivate"), &[200], Body::Any),
    row("admin_user_action delete: B's active user", "admin_user_action", AAdmin,
        |w| action(&w.b, &w.b.users.del, "delete"), &[404], Body::Any)
        .ok(AAdmin, |w| action(&w.a, &w.a.users.del, "delete"), &[200], Body::Any),
    row("admin_user_action restore: B's deleted user", "admin_user_action", AAdmin,
        |w| action(&w.b, &w.b.users.restore, "restore"), &[404], Body::Any)
        .ok(AAdmin, |w| action(&w.a, &w.a.users.restore, "restore"), &[200], Body::Any),
    // Not found comes first: the answer must not tell that B's user is SCIM-managed. (A's own SCIM
    // users are read-only to A's admin while SCIM is on, so there is no positive control.)
    row("admin_user_action delete: B's SCIM user", "admin_user_action", AAdmin,
        |w| action(&w.b, &w.b.users.scim2, "delete"), &[404], Body::Any),
    row("load_sso_test: B's finished Test sign-in", "load_sso_test", AAdmin,
        |w| f("load_sso_test", &[("id", &w.b.test_id)]), &[200], Body::Null)
        .ok(AAdmin, |w| f("load_sso_test", &[("id", &w.a.test_id)]), &[200], Body::Has(A_MARK)),
    row("load_sso_test: B's pending Test sign-in", "load_sso_test", AAdmin,
        |w| f("load_sso_test", &[("id", &w.b.pending_test)]), &[200], Body::Null)
        .ok(AAdmin, |w| f("load_sso_test", &[("id", &w.a.pending_test)]), &[200], Body::Has("\"done\":false")),
    row("list_users: search for B's user", "list_users", AAdmin,
        |w| users_query(&w.b.user_name("emp")), &[200], Body::NoResults)
        .ok(AAdmin, |w| users_query(&w.a.user_name("emp")), &[200], Body::SomeResults),
    row("list_users: search with SQL wildcards lists only A's", "list_users", AAdmin,
        |_| users_query("%"), &[200], Body::Any),
    row("list_users: search `_` lists only A's", "list_users", AAdmin,
        |_| users_query("_"), &[200], Body::Any),
    row("list_users: B's org id smuggled", "list_users", AAdmin,
        |w| fb(w, "list_users", &[("q[search]", ""), ("q[status]", ""), ("q[source]", ""), ("q[sort]", "user_name"), ("q[desc]", "false"), ("q[page]", "1"), ("q[org_id]", &w.b.id)]),
        &[200], Body::Has(A_MARK)),
    row("list_events: B's user's id", "list_events", AAdmin,
        |w| events_query(&w.b.users.emp), &[200], Body::NoResults)
        .ok(AAdmin, |w| events_query(&w.a.users.emp), &[200], Body::SomeResults),
    row("list_events: B's org id smuggled", "list_events", AAdmin,
        |w| fb(w, "list_events", &[("q[result]", ""), ("q[name]", ""), ("q[user_id]", ""), ("q[page]", "1"), ("q[org_id]", &w.b.id)]),
        &[200], Body::Has("admin@alpha-secret.test")),
    row("load_admin_view: B's org id smuggled", "load_admin_view", AAdmin,
        |w| fb(w, "load_admin_view", &[]), &[200], Body::HasAOrgId),
    row("load_sso: B's org id smuggled", "load_sso", AAdmin,
        |w| fb(w, "load_sso", &[]), &[200], Body::Has(A_MARK)),
    row("save_sso: B's org id smuggled (saves A's)", "save_sso", AAdmin,
        save_sso, &[200], Body::Any),
    row("preview_sso_metadata: B's org id smuggled (diff against A's)", "preview_sso_metadata", AAdmin,
        |w| fb(w, "preview_sso_metadata", &[("xml", &idp_metadata("other"))]), &[200], Body::Has(A_MARK)),
    row("sso_certificate_action promote: B's org id smuggled (promotes A's)", "sso_certificate_action", AAdmin,
        |w| fb(w, "sso_certificate_action", &[("action", "promote")]), &[200], Body::Any),
    row("sso_certificate_action remove_next: B's org id smuggled", "sso_certificate_action", AAdmin,
        |w| fb(w, "sso_certificate_action", &[("action", "remove_next")]), &[200], Body::Any),
    row("sso_certificate_action deactivate: B's org id smuggled", "sso_certificate_action", AAdmin,
        |w| fb(w, "sso_certificate_action", &[("action", "deactivate")]), &[200], Body::Any),
    row("load_provisioning: B's org id smuggled", "load_provisioning", AAdmin,
        |w| fb(w, "load_provisioning", &[]), &[200], Body::HasAOrgId),
    row("generate_scim_token: B's org id smuggled (replaces A's)", "generate_scim_token", AAdmin,
        |w| fb(w, "generate_scim_token", &[]), &[200], Body::Has("\"token\"")),
    row("revoke_scim_token: B's org id smuggled (revokes A's)", "revoke_scim_token", AAdmin,
        |w| fb(w, "revoke_scim_token", &[]), &[200], Body::Any),
    row("admin_add_user: B's org id smuggled (adds to A)", "admin_add_user", AAdmin,
        |w| fb(w, "admin_add_user", &[("email", "alpha-added@alpha.test"), ("given_name", "alpha-secret-added"), ("family_name", ""), ("department", ""), ("country", ""), ("locality", "")]),
        &[200], Body::Any),
    // The no-JavaScript "Generate new token" form: `replaces` names the token the admin saw.
    row("POST /api/provisioning/token: B's token id as `replaces`", "POST /api/provisioning/token", AAdmin,
        |w| Req::Form("/api/provisioning/token".into(), form(&[("replaces", &w.b.token_id), ("org_id", &w.b.id)])), &[409], Body::Any)
        .ok(AAdmin, |w| Req::Form("/api/provisioning/token".into(), form(&[("replaces", &w.a.token_id)])), &[200], Body::Has("New SCIM token")),
    row("GET /api/provisioning/token: B's org id in the query", "GET /api/provisioning/token", AAdmin,
        |w| get(format!("/api/provisioning/token?org_id={}", w.b.id)), &[303], Body::RedirectsTo("/admin/provisioning")),

    // ---- A's password, A's other credentials presented as something else ----
    row("admin_login: B's admin email with A's password", "admin_login", APassword,
        |w| f("admin_login", &[("email", &w.b.admin_email), ("password", w.a.side.password)]), &[401], Body::Any)
        .ok_signs_in(APassword, |w| f("admin_login", &[("email", &w.a.admin_email), ("password", w.a.side.password)]), &[200]),
    row("setup_token_valid: A's SCIM token", "setup_token_valid", AAdmin,
        |w| f("setup_token_valid", &[("token", &w.a.scim_token)]), &[200], Body::Has("false")),
    row("complete_setup: A's SCIM token", "complete_setup", AAdmin,
        |w| f("complete_setup", &[("token", &w.a.scim_token), ("org_name", "Charlie"), ("email", "admin@charlie.test"), ("password", "charlie's long passphrase"), ("password_confirm", "charlie's long passphrase")]),
        &[400], Body::Any),
    row("magic_link_valid: A's SCIM token", "magic_link_valid", AEmployee,
        |w| f("magic_link_valid", &[("token", &w.a.scim_token)]), &[200], Body::Has("false"))
        .ok(Nobody, |w| f("magic_link_valid", &[("token", &w.a.link)]), &[200], Body::Has("true")),
    row("redeem_magic_link: the stored hash of B's link", "redeem_magic_link", AEmployee,
        |w| f("redeem_magic_link", &[("token", &portal_core::secret::sha256_hex(&w.b.link))]), &[400], Body::Any)
        .ok_signs_in(Nobody, |w| f("redeem_magic_link", &[("token", &w.a.spare_link)]), &[200]),
    // Public by design: the employee sign-in page of any org shows its name and SSO button.
    row("org_sign_in_options: B's org id (public)", "org_sign_in_options", AEmployee,
        |w| f("org_sign_in_options", &[("org", &w.b.id)]), &[200], Body::Has("Bravo")),
    row("load_employee: B's org and user id smuggled", "load_employee", AEmployee,
        |w| fb(w, "load_employee", &[("user_id", &w.b.users.emp)]), &[200], Body::Has("alpha-emp@alpha.test")),


    // ---- A's employee session on every admin server function: not an admin ----
    row("load_user_detail as A's employee: B's user", "load_user_detail", AEmployee,
        |w| f("load_user_detail", &[("id", &w.b.users.scim2)]), &[401], Body::Any),
    row("admin_edit_user as A's employee: B's user", "admin_edit_user", AEmployee,
        |w| edit(&w.b, &w.b.users.edit, "edit"), &[401], Body::Any),
    row("admin_user_action delete as A's employee: B's user", "admin_user_action", AEmployee,
        |w| action(&w.b, &w.b.users.del, "delete"), &[401], Body::Any),
    row("load_sso_test as A's employee: B's test", "load_sso_test", AEmployee,
        |w| f("load_sso_test", &[("id", &w.b.test_id)]), &[401], Body::Any),
    row("list_users as A's employee", "list_users", AEmployee, |_| users_query(""), &[401], Body::Any),
    row("list_events as A's employee: B's user", "list_events", AEmployee,
        |w| events_query(&w.b.users.emp), &[401], Body::Any),
    row("admin_add_user as A's employee, B's org id smuggled", "admin_add_user", AEmployee,
        |w| fb(w, "admin_add_user", &[("email", "intruder@bravo.test"), ("given_name", ""), ("family_name", ""), ("department", ""), ("country", ""), ("locality", "")]), &[401], Body::Any),
    row("load_sso as A's employee, B's org id smuggled", "load_sso", AEmployee,
        |w| fb(w, "load_sso", &[]), &[401], Body::Any),
    row("save_sso as A's employee, B's org id smuggled", "save_sso", AEmployee, save_sso, &[401], Body::Any),
    row("preview_sso_metadata as A's employee, B's org id smuggled", "preview_sso_metadata", AEmployee,
        |w| fb(w, "preview_sso_metadata", &[("xml", &idp_metadata("other"))]), &[401], Body::Any),
    row("sso_certificate_action promote as A's employee, B's org id smuggled", "sso_certificate_action", AEmployee,
        |w| fb(w, "sso_certificate_action", &[("action", "promote")]), &[401], Body::Any),
    row("load_provisioning as A's employee, B's org id smuggled", "load_provisioning", AEmployee,
        |w| fb(w, "load_provisioning", &[]), &[401], Body::Any),
    row("generate_scim_token as A's employee, B's org id smuggled", "generate_scim_token", AEmployee,
        |w| fb(w, "generate_scim_token", &[]), &[401], Body::Any),
    row("revoke_scim_token as A's employee, B's org id smuggled", "revoke_scim_token", AEmployee,
        |w| fb(w, "revoke_scim_token", &[]), &[401], Body::Any),
    // Not an admin: the admin view is "nobody".
    row("load_admin_view as A's employee, B's org id smuggled", "load_admin_view", AEmployee,
        |w| fb(w, "load_admin_view", &[]), &[200], Body::Null),

    // ---- A's SCIM token on the admin surface ----
    row("load_user_detail with A's SCIM token: B's user", "load_user_detail", AScim,
        |w| f("load_user_detail", &[("id", &w.b.users.scim2)]), &[401], Body::Any),
    row("generate_scim_token with A's SCIM token, B's org id smuggled", "generate_scim_token", AScim,
        |w| fb(w, "generate_scim_token", &[]), &[401], Body::Any),
    row("users.csv with A's SCIM token", "GET /admin/users.csv", AScim,
        |w| get(format!("/admin/users.csv?org_id={}", w.b.id)), &[401], Body::Any),

    // ---- A's SCIM token at B's SCIM base URL: 401 everywhere ----
    row("SCIM list at B's URL", "GET /scim/v2/{org_id}/Users", AScim,
        |w| scim(&w.b.id, Method::GET, "/Users", None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, "/Users", None), &[200], Body::SomeResults),
    row("SCIM create at B's URL", "POST /scim/v2/{org_id}/Users", AScim,
        |w| scim(&w.b.id, Method::POST, "/Users", Some(scim_user("bravo", "intruder"))), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::POST, "/Users", Some(scim_user("alpha", "created"))), &[201], Body::Has(A_MARK)),
    row("SCIM /Users/.search at B's URL", "POST /scim/v2/{org_id}/Users/.search", AScim,
        |w| search(&w.b.id, "/Users/.search", &format!("userName eq \"{}\"", w.b.user_name("emp"))), &[401], Body::Any)
        .ok(AScim, |w| search(&w.a.id, "/Users/.search", &format!("userName eq \"{}\"", w.a.user_name("emp"))), &[200], Body::SomeResults),
    row("SCIM /.search at B's URL", "POST /scim/v2/{org_id}/.search", AScim,
        |w| search(&w.b.id, "/.search", "userName pr"), &[401], Body::Any)
        .ok(AScim, |w| search(&w.a.id, "/.search", "userName pr"), &[200], Body::SomeResults),
    row("SCIM get B's user at B's URL", "GET /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.b.id, Method::GET, &format!("/Users/{}", w.b.users.scim2), None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, &format!("/Users/{}", w.a.users.scim2), None), &[200], Body::Has(A_MARK)),
    row("SCIM replace B's user at B's URL", "PUT /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.b.id, Method::PUT, &format!("/Users/{}", w.b.users.scim2), Some(scim_user("bravo", "scim2"))), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::PUT, &format!("/Users/{}", w.a.users.scim2), Some(scim_user("alpha", "scim2"))), &[200], Body::Has(A_MARK)),
    row("SCIM deactivate B's user at B's URL", "PATCH /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.b.id, Method::PATCH, &format!("/Users/{}", w.b.users.scim2), Some(deactivate_patch())), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::PATCH, &format!("/Users/{}", w.a.users.scim2), Some(rename_patch())), &[200], Body::Has("alpha-secret-patched")),
    row("SCIM delete B's user at B's URL", "DELETE /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.b.id, Method::DELETE, &format!("/Users/{}", w.b.users.scimdel), None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::DELETE, &format!("/Users/{}", w.a.users.scimdel), None), &[204], Body::Any),
    row("SCIM ServiceProviderConfig at B's URL", "GET /scim/v2/{org_id}/ServiceProviderConfig", AScim,
        |w| scim(&w.b.id, Method::GET, "/ServiceProviderConfig", None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, "/ServiceProviderConfig", None), &[200], Body::Any),
    row("SCIM ResourceTypes at B's URL", "GET /scim/v2/{org_id}/ResourceTypes", AScim,
        |w| scim(&w.b.id, Method::GET, "/ResourceTypes", None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, "/ResourceTypes", None), &[200], Body::Any),
    row("SCIM ResourceTypes/User at B's URL", "GET /scim/v2/{org_id}/ResourceTypes/{id}", AScim,
        |w| scim(&w.b.id, Method::GET, "/ResourceTypes/User", None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, "/ResourceTypes/User", None), &[200], Body::Any),
    row("SCIM Schemas at B's URL", "GET /scim/v2/{org_id}/Schemas", AScim,
        |w| scim(&w.b.id, Method::GET, "/Schemas", None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, "/Schemas", None), &[200], Body::Any),
    row("SCIM Schemas/{id} at B's URL", "GET /scim/v2/{org_id}/Schemas/{id}", AScim,
        |w| scim(&w.b.id, Method::GET, &format!("/Schemas/{SCIM_USER}"), None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, &format!("/Schemas/{SCIM_USER}"), None), &[200], Body::Any),
    // Other credentials of A at B's SCIM URL.
    row("SCIM at B's URL with A's admin session", "GET /scim/v2/{org_id}/Users/{id}", AAdmin,
        |w| scim(&w.b.id, Method::GET, &format!("/Users/{}", w.b.users.scim2), None), &[401], Body::Any),
    row("SCIM at B's URL with A's employee session", "GET /scim/v2/{org_id}/Users", AEmployee,
        |w| scim(&w.b.id, Method::GET, "/Users", None), &[401], Body::Any),

    // ---- A's SCIM token at A's own URL, aimed at B's users ----
    row("SCIM get: B's user id at A's URL", "GET /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::GET, &format!("/Users/{}", w.b.users.scim2), None), &[404], Body::Any),
    row("SCIM replace: B's user id at A's URL", "PUT /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::PUT, &format!("/Users/{}", w.b.users.scim2), Some(scim_user("bravo", "scim2"))), &[404], Body::Any),
    row("SCIM deactivate: B's user id at A's URL", "PATCH /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::PATCH, &format!("/Users/{}", w.b.users.scim2), Some(deactivate_patch())), &[404], Body::Any),
    row("SCIM delete: B's user id at A's URL", "DELETE /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::DELETE, &format!("/Users/{}", w.b.users.scimdel), None), &[404], Body::Any),
    row("SCIM filter userName eq B's user", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, &format!("userName eq \"{}\"", w.b.user_name("emp"))), &[200], Body::NoResults)
        .ok(AScim, |w| filter(&w.a.id, &format!("userName eq \"{}\"", w.a.user_name("emp"))), &[200], Body::SomeResults),
    row("SCIM filter externalId eq B's user's", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, &format!("externalId eq \"ext-{}-emp\"", w.b.p())), &[200], Body::NoResults)
        .ok(AScim, |w| filter(&w.a.id, &format!("externalId eq \"ext-{}-emp\"", w.a.p())), &[200], Body::SomeResults),
    row("SCIM filter emails.value eq B's user's", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, &format!("emails.value eq \"{}\"", w.b.user_name("emp"))), &[200], Body::NoResults)
        .ok(AScim, |w| filter(&w.a.id, &format!("emails.value eq \"{}\"", w.a.user_name("emp"))), &[200], Body::SomeResults),
    row("SCIM filter id eq B's user id", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, &format!("id eq \"{}\"", w.b.users.emp)), &[200], Body::NoResults)
        .ok(AScim, |w| filter(&w.a.id, &format!("id eq \"{}\"", w.a.users.emp)), &[200], Body::SomeResults),
    row("SCIM /Users/.search for B's user", "POST /scim/v2/{org_id}/Users/.search", AScim,
        |w| search(&w.a.id, "/Users/.search", &format!("userName eq \"{}\" or id eq \"{}\"", w.b.user_name("emp"), w.b.users.scim2)), &[200], Body::NoResults),
    row("SCIM /.search for B's user", "POST /scim/v2/{org_id}/.search", AScim,
        |w| search(&w.a.id, "/.search", &format!("externalId eq \"ext-{}-scim2\"", w.b.p())), &[200], Body::NoResults),
    // The org predicate must hold around any filter (precedence of `or`/`not`, quotes, wildcards).
    row("SCIM filter `… or userName pr` lists only A's users", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, "userName eq \"nobody@alpha.test\" or userName pr"), &[200], Body::SomeResults),
    row("SCIM filter `not (…)` lists only A's users", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, "not (userName eq \"nobody@alpha.test\")"), &[200], Body::SomeResults),
    row("SCIM filter with a quote injection", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, "userName eq \"x' OR '1'='1\""), &[200], Body::NoResults),
    row("SCIM filter `co` with SQL wildcards lists only A's users", "GET /scim/v2/{org_id}/Users", AScim,
        |w| filter(&w.a.id, "userName co \"%\" or userName co \"_\" or userName co \"@\""), &[200], Body::SomeResults),
    row("SCIM get: B's user through an encoded path traversal", "GET /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::GET, &format!("/Users/..%2F..%2F{}%2FUsers%2F{}", w.b.id, w.b.users.scim2), None), &[404], Body::Any),
    // Routing and authentication must agree on the org: `..` is not resolved by the server.
    row("SCIM get: B's user through a raw `..` from A's URL", "GET /scim/v2/{org_id}/Users/{id}", AScim,
        |w| Req::Raw("GET", format!("/scim/v2/{}/../{}/Users/{}", w.a.id, w.b.id, w.b.users.scim2)), &[404], Body::Any),
    row("SCIM delete: B's user through a raw `..` from A's URL", "DELETE /scim/v2/{org_id}/Users/{id}", AScim,
        |w| Req::Raw("DELETE", format!("/scim/v2/{}/../{}/Users/{}", w.a.id, w.b.id, w.b.users.scimdel)), &[404], Body::Any),
    row("SCIM list: A's URL through a raw `..` from B's URL", "GET /scim/v2/{org_id}/Users", AScim,
        |w| Req::Raw("GET", format!("/scim/v2/{}/../{}/Users", w.b.id, w.a.id)), &[401], Body::Any),
    // The server assigns ids: a client-sent id (B's) is ignored, never an upsert of B's row.
    row("SCIM create in A with B's user's id in the body", "POST /scim/v2/{org_id}/Users", AScim,
        |w| scim(&w.a.id, Method::POST, "/Users", Some({
            let mut b = scim_user("alpha", "idclash");
            b["id"] = json!(w.b.users.scim2);
            b
        })), &[201], Body::Has("alpha-secret-idclash")),
    // userName is unique per org: A may hold the same name; B's user must not be touched or revived.
    row("SCIM create in A with B's user's userName and externalId", "POST /scim/v2/{org_id}/Users", AScim,
        |w| scim(&w.a.id, Method::POST, "/Users", Some(json!({
            "schemas": [SCIM_USER],
            "userName": w.b.user_name("scim2"),
            "externalId": format!("ext-{}-scim2", w.b.p()),
            "name": {"givenName": "alpha-secret-twin"},
            "emails": [{"value": w.b.user_name("scim2"), "type": "work", "primary": true}]
        }))), &[201], Body::Has("alpha-secret-twin")),
    row("SCIM replace A's user with B's user's id in the body", "PUT /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::PUT, &format!("/Users/{}", w.a.users.scim2), Some({
            let mut b = scim_user("alpha", "scim2");
            b["id"] = json!(w.b.users.scim2);
            b
        })), &[400], Body::Any),
    row("SCIM patch A's user's id to B's user's id", "PATCH /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::PATCH, &format!("/Users/{}", w.a.users.scim2), Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "id", "value": w.b.users.scim2}]
        }))), &[400], Body::Any),

    // ---- SAML ----
    // Public by design: B's SP metadata and the start of B's SP-initiated sign-in.
    row("SAML metadata of B (public)", "GET /saml/{org_id}/metadata", AAdmin,
        |w| get(format!("/saml/{}/metadata", w.b.id)), &[200], Body::Has("EntityDescriptor")),
    row("SAML login start at B (public)", "GET /saml/{org_id}/login", AEmployee,
        |w| get(format!("/saml/{}/login?RelayState=/app", w.b.id)), &[303], Body::Any),
    row("Admin SSO sign-in start at B (public, like B's login start)", "GET /admin/sso-login", AAdmin,
        |w| get(format!("/admin/sso-login?org={}", w.b.id)), &[303], Body::Any)
        .ok(AAdmin, |w| get(format!("/admin/sso-login?org={}", w.a.id)), &[303], Body::RedirectsTo("https://idp.alpha-secret.test/sso")),
    row("SAML Test sign-in of B with A's admin session", "GET /saml/{org_id}/test", AAdmin,
        |w| get(format!("/saml/{}/test", w.b.id)), &[403], Body::Any)
        .ok(AAdmin, |w| get(format!("/saml/{}/test", w.a.id)), &[303], Body::RedirectsTo("https://idp.alpha-secret.test/sso")),
    row("SAML Test sign-in of B with A's employee session", "GET /saml/{org_id}/test", AEmployee,
        |w| get(format!("/saml/{}/test", w.b.id)), &[403], Body::Any),
    row("SAML ACS of B: B's employee asserted by A's IdP key", "POST /saml/{org_id}/acs", AIdp,
        |w| acs(&w.b, saml_response(w, &w.b, w.a.side.idp_key, &w.b.user_name("emp"), None, "alpha"), None), &[403], Body::Any)
        .logs_b_sso_failure()
        .ok_signs_in(AIdp, |w| acs(&w.a, saml_response(w, &w.a, w.a.side.idp_key, &w.a.user_name("emp"), None, "alpha"), None), &[303]),
    row("SAML ACS of B: A's own valid response", "POST /saml/{org_id}/acs", AIdp,
        |w| acs(&w.b, saml_response(w, &w.a, w.a.side.idp_key, &w.a.user_name("emp"), None, "alpha"), None), &[403], Body::Any)
        .logs_b_sso_failure(),
    row("SAML ACS of B: answers A's pending Test sign-in, A's browser", "POST /saml/{org_id}/acs", AAdmin,
        |w| acs(&w.b, saml_response(w, &w.b, w.a.side.idp_key, &w.b.user_name("emp"), Some(&w.a.pending_test), "alpha"), Some(&w.a.pending_browser)), &[403], Body::Any)
        .logs_b_sso_failure()
        .ok(AAdmin, |w| acs(&w.a, saml_response(w, &w.a, w.a.side.idp_key, &w.a.user_name("emp"), Some(&w.a.pending_test), "alpha"), Some(&w.a.pending_browser)), &[303], Body::RedirectsTo("/admin/sso/test/")),
    // A failed response still reports to the Test sign-in it names, but only in the browser that
    // started it: B's pending test must get no result written through A.
    row("SAML ACS of B: a bad response naming B's pending Test sign-in", "POST /saml/{org_id}/acs", AIdp,
        |w| acs(&w.b, saml_response(w, &w.b, w.a.side.idp_key, &w.b.user_name("emp"), Some(&w.b.pending_test), "alpha"), None), &[403], Body::Any)
        .logs_b_sso_failure(),
    row("SAML ACS of B: a bad response naming B's pending Test sign-in, A's browser", "POST /saml/{org_id}/acs", AAdmin,
        |w| acs(&w.b, saml_response(w, &w.b, w.a.side.idp_key, &w.b.user_name("emp"), Some(&w.b.pending_test), "alpha"), Some(&w.a.pending_browser)), &[403], Body::Any)
        .logs_b_sso_failure(),

    // ---- CSV export ----
    row("users.csv: B's org id in the query", "GET /admin/users.csv", AAdmin,
        |w| get(format!("/admin/users.csv?org_id={0}&org={0}", w.b.id)), &[200], Body::Has(A_MARK)),
    row("users.csv with A's employee session", "GET /admin/users.csv", AEmployee,
        |w| get(format!("/admin/users.csv?org_id={}", w.b.id)), &[401], Body::Any),

    // ---- pages ----
    row("page /admin/users/{B's user}", "PAGE /admin/users/:id", AAdmin,
        |w| get(format!("/admin/users/{}", w.b.users.scim2)), &[200], Body::Has("There is no such user in your organisation."))
        .ok(AAdmin, |w| get(format!("/admin/users/{}", w.a.users.scim2)), &[200], Body::Has(A_MARK)),
    row("page /admin/users/{B's user} as A's employee", "PAGE /admin/users/:id", AEmployee,
        |w| get(format!("/admin/users/{}", w.b.users.scim2)), &[302], Body::RedirectsTo("/admin/login")),
    row("page /admin/sso/test/{B's test}", "PAGE /admin/sso/test/:id", AAdmin,
        |w| get(format!("/admin/sso/test/{}", w.b.test_id)), &[200], Body::Has("This test sign-in does not exist."))
        .ok(AAdmin, |w| get(format!("/admin/sso/test/{}", w.a.test_id)), &[200], Body::Has("Success at")),
    row("page /admin?org=B", "PAGE /admin", AAdmin,
        |w| get(format!("/admin?org={0}&org_id={0}", w.b.id)), &[200], Body::HasAOrgId),
    row("page /admin/sso?org=B", "PAGE /admin/sso", AAdmin,
        |w| get(format!("/admin/sso?org={0}&org_id={0}", w.b.id)), &[200], Body::Has(A_MARK)),
    row("page /admin/provisioning?org=B", "PAGE /admin/provisioning", AAdmin,
        |w| get(format!("/admin/provisioning?org={0}&org_id={0}", w.b.id)), &[200], Body::HasAOrgId),
    row("page /admin/users?org=B", "PAGE /admin/users", AAdmin,
        |w| get(format!("/admin/users?org={0}&org_id={0}", w.b.id)), &[200], Body::Has(A_MARK)),
    row("page /admin/activity?user_id={B's user}", "PAGE /admin/activity", AAdmin,
        |w| get(format!("/admin/activity?org={0}&user_id={1}", w.b.id, w.b.users.emp)), &[200], Body::Any),
    row("page /admin/activity?org=B", "PAGE /admin/activity", AAdmin,
        |w| get(format!("/admin/activity?org={0}&org_id={0}", w.b.id)), &[200], Body::Has("admin@alpha-secret.test")),
    row("page /login?org=B (public)", "PAGE /login", AEmployee,
        |w| get(format!("/login?org={}", w.b.id)), &[200], Body::Has("Bravo")),
    row("page /login/link with A's SCIM token", "PAGE /login/link", AEmployee,
        |w| get(format!("/login/link?token={}", w.a.scim_token)), &[200], Body::Has("This sign-in link is invalid"))
        .ok(Nobody, |w| get(format!("/login/link?token={}", w.a.link)), &[200], Body::Has("Click the button to finish signing in.")),
    row("page /setup with A's SCIM token", "PAGE /setup", AAdmin,
        |w| get(format!("/setup?token={}", w.a.scim_token)), &[200], Body::Has("This setup link is invalid")),
    row("page /app?org=B", "PAGE /app", AEmployee,
        |w| get(format!("/app?org={0}&user_id={1}", w.b.id, w.b.users.emp)), &[200], Body::Has("alpha-emp@alpha.test")),

    // ---- Issue 12, audit trail and overview ----
    row("list_events: B's user's userName", "list_events", AAdmin,
        |w| events_query(&w.b.user_name("emp")), &[200], Body::NoResults)
        .ok(AAdmin, |w| events_query(&w.a.user_name("emp")), &[200], Body::SomeResults),
    row("load_overview: B's org id smuggled", "load_overview", AAdmin,
        |w| fb(w, "load_overview", &[]), &[200], Body::Has("next_step")),
    row("load_overview as A's employee", "load_overview", AEmployee,
        |w| fb(w, "load_overview", &[]), &[401], Body::Any),
    row("activity export.csv: B's org id in the query", "GET /admin/activity/export.csv", AAdmin,
        |w| get(format!("/admin/activity/export.csv?org_id={0}&org={0}", w.b.id)), &[200], Body::Has("admin@alpha-secret.test")),
    row("activity export.csv: B's user id", "GET /admin/activity/export.csv", AAdmin,
        |w| get(format!("/admin/activity/export.csv?user={}", w.b.users.emp)), &[200], Body::Any)
        .ok(AAdmin, |w| get(format!("/admin/activity/export.csv?user={}", w.a.users.emp)), &[200], Body::Has("alpha-emp@alpha.test")),
    row("activity export.csv with A's employee session", "GET /admin/activity/export.csv", AEmployee,
        |w| get(format!("/admin/activity/export.csv?org_id={}", w.b.id)), &[401], Body::Any),
    row("activity export.jsonl: B's org id in the query", "GET /admin/activity/export.jsonl", AAdmin,
        |w| get(format!("/admin/activity/export.jsonl?org_id={0}&org={0}", w.b.id)), &[200], Body::Has("admin@alpha-secret.test")),
    row("activity export.jsonl: B's userName", "GET /admin/activity/export.jsonl", AAdmin,
        |w| get(format!("/admin/activity/export.jsonl?user={}", w.b.user_name("emp"))), &[200], Body::Any)
        .ok(AAdmin, |w| get(format!("/admin/activity/export.jsonl?user={}", w.a.user_name("emp"))), &[200], Body::Has("alpha-emp@alpha.test")),
    row("activity export.jsonl with A's SCIM token", "GET /admin/activity/export.jsonl", AScim,
        |w| get(format!("/admin/activity/export.jsonl?org_id={}", w.b.id)), &[401], Body::Any),
    row("page /admin/activity?user={B's userName}", "PAGE /admin/activity", AAdmin,
        |w| get(format!("/admin/activity?user={}", w.b.user_name("emp"))), &[200], Body::Has("No events match these filters")),
    // ---- Issue 12, your account: B's admin's sessions by reference and by raw id, B's password, B's link ----
    row("account_end_session: B's admin's session reference", "account_end_session", AAdmin,
        |w| f("account_end_session", &[("reference", &session_reference(session_id(&w.b.admin_cookie)))]), &[404], Body::Any),
    row("account_end_session: B's admin's raw session id", "account_end_session", AAdmin,
        |w| f("account_end_session", &[("reference", session_id(&w.b.admin_cookie))]), &[404], Body::Any),
    row("account_end_session as A's employee: B's admin's session reference", "account_end_session", AEmployee,
        |w| f("account_end_session", &[("reference", &session_reference(session_id(&w.b.admin_cookie)))]), &[401], Body::Any),
    row("account_load: B's org id smuggled", "account_load", AAdmin,
        |w| fb(w, "account_load", &[]), &[200], Body::Has("admin@alpha-secret.test")),
    row("account_load as A's employee", "account_load", AEmployee,
        |w| fb(w, "account_load", &[]), &[401], Body::Any),
    row("account_change_password: B's admin's password as the current one, B's org id smuggled", "account_change_password", AAdmin,
        |w| fb(w, "account_change_password", &[("current_password", BRAVO.password), ("new_password", "alpha's next long passphrase"), ("new_password_confirm", "alpha's next long passphrase")]),
        &[400], Body::Has("current_password")),
    row("account_change_password as A's employee", "account_change_password", AEmployee,
        |w| fb(w, "account_change_password", &[("current_password", BRAVO.password), ("new_password", "alpha's next long passphrase"), ("new_password_confirm", "alpha's next long passphrase")]),
        &[401], Body::Any),
    row("admin_password_reset_valid: B's magic link", "admin_password_reset_valid", AEmployee,
        |w| f("admin_password_reset_valid", &[("token", &w.b.link)]), &[200], Body::Has("false")),
    row("admin_password_reset_valid: A's SCIM token", "admin_password_reset_valid", AEmployee,
        |w| f("admin_password_reset_valid", &[("token", &w.a.scim_token)]), &[200], Body::Has("false")),
    row("admin_reset_password: B's magic link as the reset token", "admin_reset_password", AEmployee,
        |w| f("admin_reset_password", &[("token", &w.b.link), ("password", "alpha's next long passphrase"), ("password_confirm", "alpha's next long passphrase")]),
        &[400], Body::Has("password reset link is invalid")),
    row("admin_reset_password: A's SCIM token as the reset token", "admin_reset_password", AAdmin,
        |w| f("admin_reset_password", &[("token", &w.a.scim_token), ("password", "alpha's next long passphrase"), ("password_confirm", "alpha's next long passphrase")]),
        &[400], Body::Has("password reset link is invalid")),
    row("page /admin/account?org=B", "PAGE /admin/account", AAdmin,
        |w| get(format!("/admin/account?org={0}&org_id={0}", w.b.id)), &[200], Body::Has("admin@alpha-secret.test")),
    row("page /admin/reset-password with B's magic link", "PAGE /admin/reset-password", AEmployee,
        |w| get(format!("/admin/reset-password?token={}", w.b.link)), &[200], Body::Has("This password reset link is invalid")),
    // ---- Organisation settings (issue 12, settings): A's Owner, B's org id smuggled ----
    row("load_org_settings: B's org id smuggled", "load_org_settings", AAdmin,
        |w| fb(w, "load_org_settings", &[]), &[200], Body::Has("alpha-secret.test")),
    row("save_org_settings: B's org id smuggled (saves A's)", "save_org_settings", AAdmin,
        |w| fb(w, "save_org_settings", &[("name", "Alpha"), ("user_retention_days", "30"), ("event_retention_days", "300"), ("allowed_domains", "alpha.test, bravo.test, alpha-secret.test"), ("username_equals_work_email", "on")]),
        &[200], Body::Has("retention for events 365 → 300 days")),
    row("save_org_settings: A renamed to B's name", "save_org_settings", AAdmin,
        |w| fb(w, "save_org_settings", &[("name", "bravo"), ("user_retention_days", "30"), ("event_retention_days", "300"), ("allowed_domains", "alpha.test, bravo.test, alpha-secret.test"), ("username_equals_work_email", "on")]),
        &[400], Body::Has("Another organisation")),
    row("save_org_settings as A's employee, B's org id smuggled", "save_org_settings", AEmployee,
        |w| fb(w, "save_org_settings", &[("name", "Bravo"), ("user_retention_days", "1"), ("event_retention_days", "1"), ("allowed_domains", "")]), &[401], Body::Any),
    row("load_org_settings as A's employee", "load_org_settings", AEmployee,
        |w| fb(w, "load_org_settings", &[]), &[401], Body::Any),
    row("page /admin/settings?org=B", "PAGE /admin/settings", AAdmin,
        |w| get(format!("/admin/settings?org={0}&org_id={0}", w.b.id)), &[200], Body::Has("alpha-secret.test")),
    // ---- Admin team (issue 12, team): B's admins, invitations and links ----
    // Order matters a little: the accept and remove controls change A's admins, and the next row's
    // refresh puts A's team back, so read-only rows close this block.
    row("change_admin_role: B's Viewer made Owner", "change_admin_role", AAdmin,
        |w| fb(w, "change_admin_role", &[("id", &w.b.team.member), ("role", "owner")]), &[404], Body::Any)
        .ok(AAdmin, |w| f("change_admin_role", &[("id", &w.a.team.member), ("role", "admin")]), &[200], Body::Any),
    row("change_admin_role: B's Owner demoted", "change_admin_role", AAdmin,
        |w| fb(w, "change_admin_role", &[("id", &w.b.team.owner), ("role", "viewer")]), &[404], Body::Any),
    row("remove_admin: B's Owner", "remove_admin", AAdmin,
        |w| fb(w, "remove_admin", &[("id", &w.b.team.owner)]), &[404], Body::Any),
    row("remove_admin: B's Viewer", "remove_admin", AAdmin,
        |w| fb(w, "remove_admin", &[("id", &w.b.team.member)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("remove_admin", &[("id", &w.a.team.member)]), &[200], Body::Any),
    row("resend_invitation: B's invitation", "resend_invitation", AAdmin,
        |w| fb(w, "resend_invitation", &[("id", &w.b.team.invitation)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("resend_invitation", &[("id", &w.a.team.invitation)]), &[200], Body::Any),
    row("cancel_invitation: B's invitation", "cancel_invitation", AAdmin,
        |w| fb(w, "cancel_invitation", &[("id", &w.b.team.invitation)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("cancel_invitation", &[("id", &w.a.team.invitation)]), &[200], Body::Any),
    // Admin emails are unique across orgs: refused, without saying whose (the answer has no B data).
    row("invite_admin: B's Owner's address, B's org id smuggled", "invite_admin", AAdmin,
        |w| fb(w, "invite_admin", &[("email", &w.b.admin_email), ("role", "owner")]), &[409], Body::Any)
        .ok(AAdmin, |w| fb(w, "invite_admin", &[("email", "invited@alpha-secret.test"), ("role", "viewer")]), &[200], Body::Has(A_MARK)),
    // B's link is B's credential: whoever holds it joins B, by design, so no row presents it. What
    // A can present instead — B's stored hash (a leaked database row), B's invitation id, A's
    // own credentials of other kinds — opens nothing, and A's own link with B's org id smuggled
    // makes an account in A (the control), never in B.
    row("load_invitation: the stored hash of B's link", "load_invitation", AAdmin,
        |w| f("load_invitation", &[("token", &portal_core::secret::sha256_hex(&w.b.team.join_token))]), &[200], Body::Null)
        .ok(Nobody, |w| f("load_invitation", &[("token", &w.a.team.join_token)]), &[200], Body::Has(A_MARK)),
    row("load_invitation: B's invitation id", "load_invitation", AEmployee,
        |w| f("load_invitation", &[("token", &w.b.team.invitation)]), &[200], Body::Null),
    row("accept_invitation: the stored hash of B's link", "accept_invitation", AAdmin,
        |w| fb(w, "accept_invitation", &[("token", &portal_core::secret::sha256_hex(&w.b.team.join_token)), ("password", "alpha's joiner passphrase"), ("password_confirm", "alpha's joiner passphrase")]), &[400], Body::Any)
        .ok_signs_in(Nobody, |w| fb(w, "accept_invitation", &[("token", &w.a.team.join_token), ("password", "alpha's joiner passphrase"), ("password_confirm", "alpha's joiner passphrase")]), &[200]),
    row("accept_invitation: B's invitation id", "accept_invitation", AEmployee,
        |w| f("accept_invitation", &[("token", &w.b.team.invitation), ("password", "alpha's joiner passphrase"), ("password_confirm", "alpha's joiner passphrase")]), &[400], Body::Any),
    row("accept_invitation: A's SCIM token", "accept_invitation", AScim,
        |w| f("accept_invitation", &[("token", &w.a.scim_token), ("password", "alpha's joiner passphrase"), ("password_confirm", "alpha's joiner passphrase")]), &[400], Body::Any),
    row("page /admin/invite with the stored hash of B's link", "PAGE /admin/invite", AAdmin,
        |w| get(format!("/admin/invite?token={}&org={}", portal_core::secret::sha256_hex(&w.b.team.join_token), w.b.id)), &[200], Body::Has("This invitation link is invalid"))
        .ok(Nobody, |w| get(format!("/admin/invite?token={}", w.a.team.join_token)), &[200], Body::Has(A_MARK)),
    row("change_admin_role as A's employee: B's Viewer", "change_admin_role", AEmployee,
        |w| f("change_admin_role", &[("id", &w.b.team.member), ("role", "owner")]), &[401], Body::Any),
    row("remove_admin as A's employee: B's Owner", "remove_admin", AEmployee,
        |w| f("remove_admin", &[("id", &w.b.team.owner)]), &[401], Body::Any),
    row("resend_invitation as A's employee: B's invitation", "resend_invitation", AEmployee,
        |w| f("resend_invitation", &[("id", &w.b.team.invitation)]), &[401], Body::Any),
    row("cancel_invitation as A's employee: B's invitation", "cancel_invitation", AEmployee,
        |w| f("cancel_invitation", &[("id", &w.b.team.invitation)]), &[401], Body::Any),
    row("invite_admin as A's employee, B's org id smuggled", "invite_admin", AEmployee,
        |w| fb(w, "invite_admin", &[("email", "intruder@bravo.test"), ("role", "owner")]), &[401], Body::Any),
    row("load_team as A's employee, B's org id smuggled", "load_team", AEmployee,
        |w| fb(w, "load_team", &[]), &[401], Body::Any),
    row("load_team: B's org id smuggled", "load_team", AAdmin,
        |w| fb(w, "load_team", &[]), &[200], Body::Has(A_MARK)),
    row("page /admin/team?org=B", "PAGE /admin/team", AAdmin,
        |w| get(format!("/admin/team?org={0}&org_id={0}", w.b.id)), &[200], Body::Has(A_MARK)),
    row("page /admin/team as A's employee", "PAGE /admin/team", AEmployee,
        |w| get(format!("/admin/team?org={}", w.b.id)), &[302], Body::RedirectsTo("/admin/login")),
    // ---- Second factor (issue 12, two-factor) ----
    row("remove_passkey: B's admin's passkey id", "remove_passkey", AAdmin,
        |w| fb(w, "remove_passkey", &[("id", &w.b.passkey_id)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("remove_passkey", &[("id", &w.a.passkey_id)]), &[200], Body::Any),
    row("remove_passkey as A's employee: B's passkey id", "remove_passkey", AEmployee,
        |w| f("remove_passkey", &[("id", &w.b.passkey_id)]), &[401], Body::Any),
    // ---- Token rotation (issue 13). In this order: the first row rotates A's token (the org comes
    // from the session), which the second row's control retires by hand ----
    row("rotate_scim_token: B's org id smuggled (rotates A's)", "rotate_scim_token", AAdmin,
        |w| fb(w, "rotate_scim_token", &[("grace_hours", "168")]), &[200], Body::Has("\"token\"")),
    row("retire_old_scim_token: B's token id", "retire_old_scim_token", AAdmin,
        |w| fb(w, "retire_old_scim_token", &[("token_id", &w.b.token_id)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("retire_old_scim_token", &[("token_id", &w.a.token_id)]), &[200], Body::Any),
    row("POST /api/provisioning/token mode=rotate: B's token id as `replaces`", "POST /api/provisioning/token", AAdmin,
        |w| Req::Form("/api/provisioning/token".into(), form(&[("mode", "rotate"), ("replaces", &w.b.token_id), ("grace_hours", "168"), ("org_id", &w.b.id)])), &[409], Body::Any)
        .ok(AAdmin, |_| Req::Form("/api/provisioning/token".into(), form(&[("mode", "rotate"), ("replaces", ""), ("grace_hours", "168")])), &[200], Body::Has("New SCIM token")),
    row("rotate_scim_token as A's employee, B's org id smuggled", "rotate_scim_token", AEmployee,
        |w| fb(w, "rotate_scim_token", &[("grace_hours", "1")]), &[401], Body::Any),
    row("retire_old_scim_token as A's employee: B's token id", "retire_old_scim_token", AEmployee,
        |w| f("retire_old_scim_token", &[("token_id", &w.b.token_id)]), &[401], Body::Any),
    // ---- SCIM request log (issue 13): B's request ids, B's users, B's org smuggled ----
    // A's own log may name B's ids and userNames (earlier rows aim A's token at them, and A
    // creates B's userNames in A on purpose), so the user filters expect any list; that B's rows
    // never show through A is scim_request_log::another_orgs_requests_are_invisible.
    row("get_scim_request: B's request id", "get_scim_request", AAdmin,
        |w| f("get_scim_request", &[("id", &w.b.scim_request)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("get_scim_request", &[("id", &w.a.scim_request)]), &[200], Body::Has(A_MARK)),
    row("get_scim_request: B's request id, B's org smuggled", "get_scim_request", AAdmin,
        |w| fb(w, "get_scim_request", &[("id", &w.b.scim_request)]), &[404], Body::Any),
    row("get_scim_request as A's employee: B's request id", "get_scim_request", AEmployee,
        |w| f("get_scim_request", &[("id", &w.b.scim_request)]), &[401], Body::Any),
    row("list_scim_requests: B's user's id", "list_scim_requests", AAdmin,
        |w| scim_requests_query(&w.b.users.scim2), &[200], Body::Any)
        .ok(AAdmin, |w| scim_requests_query(&w.a.users.scim2), &[200], Body::SomeResults),
    row("list_scim_requests: B's user's userName", "list_scim_requests", AAdmin,
        |w| scim_requests_query(&w.b.user_name("scim2")), &[200], Body::Any),
    row("list_scim_requests: B's org id smuggled", "list_scim_requests", AAdmin,
        |w| fb(w, "list_scim_requests", &[("q[status]", ""), ("q[user]", ""), ("q[page]", ""), ("q[org_id]", &w.b.id)]),
        &[200], Body::SomeResults),
    row("page /admin/provisioning/requests/{B's request}", "PAGE /admin/provisioning/requests/:id", AAdmin,
        |w| get(format!("/admin/provisioning/requests/{}", w.b.scim_request)), &[200, 404], Body::Has("SCIM request not found"))
        .ok(AAdmin, |w| get(format!("/admin/provisioning/requests/{}", w.a.scim_request)), &[200], Body::Has(A_MARK)),
    row("page /admin/provisioning/requests?user={B's user}&org=B", "PAGE /admin/provisioning/requests", AAdmin,
        |w| get(format!("/admin/provisioning/requests?org={0}&org_id={0}&user={1}", w.b.id, w.b.users.scim2)), &[200], Body::Any),
    // ---- Setup links (issue 13). B's link is B's credential: whoever holds it sets up B, by
    // design, so no row presents it. What A can present instead — B's link id, its stored hash
    // (a leaked database row), B's org id smuggled — opens and changes nothing of B ----
    row("load_setup_links: B's org id smuggled", "load_setup_links", AAdmin,
        |w| fb(w, "load_setup_links", &[]), &[200], Body::Has(A_MARK)),
    row("create_setup_link: B's org id smuggled (makes A's)", "create_setup_link", AAdmin,
        |w| fb(w, "create_setup_link", &[("label", "alpha-secret new contact"), ("scope", "both"), ("hours", "72")]), &[200], Body::Has("/setup-link/")),
    row("revoke_setup_link: B's link id", "revoke_setup_link", AAdmin,
        |w| fb(w, "revoke_setup_link", &[("id", &w.b.setup_link_id)]), &[404], Body::Any)
        .ok(AAdmin, |w| f("revoke_setup_link", &[("id", &w.a.spare_setup_link_id)]), &[200], Body::Any),
    row("revoke_setup_link as A's employee: B's link id", "revoke_setup_link", AEmployee,
        |w| f("revoke_setup_link", &[("id", &w.b.setup_link_id)]), &[401], Body::Any),
    row("load_setup_link: the stored hash of B's link", "load_setup_link", AAdmin,
        |w| f("load_setup_link", &[("token", &portal_core::secret::sha256_hex(&w.b.setup_link))]), &[200], Body::Null)
        .ok(Nobody, |w| f("load_setup_link", &[("token", &w.a.setup_link)]), &[200], Body::Has(A_MARK)),
    row("load_setup_link: B's link id", "load_setup_link", AEmployee,
        |w| fb(w, "load_setup_link", &[("token", &w.b.setup_link_id)]), &[200], Body::Null),
    row("setup_link_save_sso: the stored hash of B's link", "setup_link_save_sso", AAdmin,
        |w| setup_link_sso(&portal_core::secret::sha256_hex(&w.b.setup_link), &w.a), &[400], Body::Any)
        .ok(Nobody, |w| setup_link_sso(&w.a.setup_link, &w.a), &[200], Body::Any),
    row("setup_link_save_sso: A's SCIM token as the link", "setup_link_save_sso", AScim,
        |w| setup_link_sso(&w.a.scim_token, &w.a), &[400], Body::Any),
    row("setup_link_scim_token: the stored hash of B's link, B's org id smuggled", "setup_link_scim_token", AAdmin,
        |w| fb(w, "setup_link_scim_token", &[("token", &portal_core::secret::sha256_hex(&w.b.setup_link))]), &[400], Body::Any),
    row("setup_link_scim_token: B's link id", "setup_link_scim_token", AEmployee,
        |w| f("setup_link_scim_token", &[("token", &w.b.setup_link_id)]), &[400], Body::Any),
    row("page /setup-link/{hash of B's link}", "PAGE /setup-link/:token", AAdmin,
        |w| get(format!("/setup-link/{}", portal_core::secret::sha256_hex(&w.b.setup_link))), &[200], Body::Has("This setup link is invalid"))
        .ok(Nobody, |w| get(format!("/setup-link/{}", w.a.setup_link)), &[200], Body::Has(A_MARK)),
    row("page /setup-link/{B's link id}/sso", "PAGE /setup-link/:token/sso", AAdmin,
        |w| get(format!("/setup-link/{}/sso?org={}", w.b.setup_link_id, w.b.id)), &[200], Body::Has("This setup link is invalid"))
        .ok(Nobody, |w| get(format!("/setup-link/{}/sso", w.a.setup_link)), &[200], Body::Has(A_MARK)),
    row("page /setup-link/{B's link id}/provisioning", "PAGE /setup-link/:token/provisioning", AEmployee,
        |w| get(format!("/setup-link/{}/provisioning", w.b.setup_link_id)), &[200], Body::Has("This setup link is invalid"))
        .ok(Nobody, |w| get(format!("/setup-link/{}/provisioning", w.a.setup_link)), &[200], Body::Has(A_MARK)),
    row("page /admin/setup-links?org=B", "PAGE /admin/setup-links", AAdmin,
        |w| get(format!("/admin/setup-links?org={0}&org_id={0}", w.b.id)), &[200], Body::Has(A_MARK)),
    // ---- SCIM Groups (issue 13, groups): B's URL, B's group ids at A's URL, B's user ids in A's groups ----
    row("SCIM list groups at B's URL", "GET /scim/v2/{org_id}/Groups", AScim,
        |w| scim(&w.b.id, Method::GET, "/Groups", None), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, "/Groups", None), &[200], Body::SomeResults),
    row("SCIM create group at B's URL", "POST /scim/v2/{org_id}/Groups", AScim,
        |w| scim(&w.b.id, Method::POST, "/Groups", Some(json!({"displayName": "intruder"}))), &[401], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::POST, "/Groups", Some(json!({"displayName": "alpha-secret-new-group"}))), &[201], Body::Has(A_MARK)),
    row("SCIM create group in A with B's user as member", "POST /scim/v2/{org_id}/Groups", AScim,
        |w| scim(&w.a.id, Method::POST, "/Groups", Some(json!({"displayName": "alpha-secret-hostile", "members": [{"value": w.b.users.emp}]}))), &[400], Body::Has("invalidValue"))
        .ok(AScim, |w| scim(&w.a.id, Method::POST, "/Groups", Some(json!({"displayName": "alpha-secret-friendly", "members": [{"value": w.a.users.emp}]}))), &[201], Body::Has(A_MARK)),
    row("SCIM /Groups/.search at B's URL", "POST /scim/v2/{org_id}/Groups/.search", AScim,
        |w| search(&w.b.id, "/Groups/.search", "displayName pr"), &[401], Body::Any)
        .ok(AScim, |w| search(&w.a.id, "/Groups/.search", "displayName pr"), &[200], Body::SomeResults),
    row("SCIM get B's group at B's URL", "GET /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.b.id, Method::GET, &format!("/Groups/{}", w.b.group), None), &[401], Body::Any),
    row("SCIM get: B's group id at A's URL", "GET /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.a.id, Method::GET, &format!("/Groups/{}", w.b.group), None), &[404], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::GET, &format!("/Groups/{}", w.a.group), None), &[200], Body::Has(A_MARK)),
    row("SCIM replace: B's group id at A's URL", "PUT /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.a.id, Method::PUT, &format!("/Groups/{}", w.b.group), Some(json!({"displayName": "alpha-secret-group", "members": []}))), &[404], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::PUT, &format!("/Groups/{}", w.a.group), Some(json!({"displayName": "alpha-secret-group", "members": [{"value": w.a.users.emp}, {"value": w.a.users.scim2}]}))), &[200], Body::Has(A_MARK)),
    row("SCIM replace A's group with B's user as member", "PUT /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.a.id, Method::PUT, &format!("/Groups/{}", w.a.group), Some(json!({"displayName": "alpha-secret-group", "members": [{"value": w.a.users.emp}, {"value": w.b.users.emp}]}))), &[400], Body::Has("invalidValue")),
    row("SCIM patch: B's group id at A's URL", "PATCH /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.a.id, Method::PATCH, &format!("/Groups/{}", w.b.group), Some(members_patch("remove", &w.b.users.emp))), &[404], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::PATCH, &format!("/Groups/{}", w.a.group), Some(members_patch("add", &w.a.users.emp))), &[204], Body::Any),
    row("SCIM patch: add B's user to A's group", "PATCH /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.a.id, Method::PATCH, &format!("/Groups/{}", w.a.group), Some(members_patch("add", &w.b.users.emp))), &[400], Body::Has("invalidValue")),
    row("SCIM patch at B's URL", "PATCH /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.b.id, Method::PATCH, &format!("/Groups/{}", w.b.group), Some(members_patch("remove", &w.b.users.emp))), &[401], Body::Any),
    row("SCIM delete: B's group id at A's URL", "DELETE /scim/v2/{org_id}/Groups/{id}", AScim,
        |w| scim(&w.a.id, Method::DELETE, &format!("/Groups/{}", w.b.groupdel), None), &[404], Body::Any)
        .ok(AScim, |w| scim(&w.a.id, Method::DELETE, &format!("/Groups/{}", w.a.groupdel), None), &[204], Body::Any),
    row("SCIM groups filter members.value eq B's user", "GET /scim/v2/{org_id}/Groups", AScim,
        |w| group_filter(&w.a.id, &format!("members.value eq \"{}\"", w.b.users.emp)), &[200], Body::NoResults)
        .ok(AScim, |w| group_filter(&w.a.id, &format!("members.value eq \"{}\"", w.a.users.emp)), &[200], Body::SomeResults),
    row("SCIM groups filter displayName eq B's group", "GET /scim/v2/{org_id}/Groups", AScim,
        |w| group_filter(&w.a.id, &format!("displayName eq \"{}-secret-group\" or id eq \"{}\"", w.b.p(), w.b.group)), &[200], Body::NoResults)
        .ok(AScim, |w| group_filter(&w.a.id, &format!("displayName eq \"{}-secret-group\"", w.a.p())), &[200], Body::SomeResults),
    row("SCIM get B's user's groups through A's URL", "GET /scim/v2/{org_id}/Users/{id}", AScim,
        |w| scim(&w.a.id, Method::GET, &format!("/Users/{}?attributes=groups", w.b.users.emp), None), &[404], Body::Any),
    row("list_groups, B's org id smuggled", "list_groups", AAdmin,
        |w| fb(w, "list_groups", &[]), &[200], Body::Has(A_MARK)),
    row("list_groups as A's employee", "list_groups", AEmployee,
        |w| fb(w, "list_groups", &[]), &[401], Body::Any),
    row("load_group_members: B's group", "load_group_members", AAdmin,
        |w| f("load_group_members", &[("id", &w.b.group)]), &[200], Body::Null)
        .ok(AAdmin, |w| f("load_group_members", &[("id", &w.a.group)]), &[200], Body::Has(A_MARK)),
    row("load_group_members as A's employee: B's group", "load_group_members", AEmployee,
        |w| f("load_group_members", &[("id", &w.b.group)]), &[401], Body::Any),
    row("page /admin/groups?group={B's group}", "PAGE /admin/groups", AAdmin,
        |w| get(format!("/admin/groups?group={}", w.b.group)), &[200], Body::Has("There is no such group in your organisation."))
        .ok(AAdmin, |w| get(format!("/admin/groups?group={}", w.a.group)), &[200], Body::Has(A_MARK)),
    row("page /admin/users?group={B's group}", "PAGE /admin/users", AAdmin,
        |w| get(format!("/admin/users?group={}", w.b.group)), &[200], Body::Has("No users match"))
        .ok(AAdmin, |w| get(format!("/admin/users?group={}", w.a.group)), &[200], Body::Has(A_MARK)),
    row("users.csv?group={B's group}", "GET /admin/users.csv", AAdmin,
        |w| get(format!("/admin/users.csv?group={}", w.b.group)), &[200], Body::Any)
        .ok(AAdmin, |w| get(format!("/admin/users.csv?group={}", w.a.group)), &[200], Body::Has(A_MARK)),
];

/// SCIM request log (issue 13): the list filtered by a user (id or userName).
fn scim_requests_query(user: &str) -> Req {
    f(
        "list_scim_requests",
        &[("q[status]", ""), ("q[user]", user), ("q[page]", "")],
    )
}

// Issue 12, your account: a session is named by a one-way reference of its id.
use portal_core::account::session_reference;

/// The session id in a `portal_session=ID` cookie.
fn session_id(cookie: &str) -> &str {
    cookie.split_once('=').map_or("", |(_, v)| v)
}

// ---- running it -------------------------------------------------------------------------------

fn number(body: &str, keys: &[&str]) -> Option<i64> {
    let v: Value = serde_json::from_str(body).ok()?;
    keys.iter().find_map(|k| v.get(k).and_then(Value::as_i64))
}

#[allow(clippy::too_many_arguments)]
fn judge(
    w: &World,
    what: &str,
    req: &Req,
    expect: &[u16],
    body: Body,
    signs_in: bool,
    res: &Resp,
    out: &mut Vec<String>,
) {
    let mut fail = |why: String| {
        out.push(format!(
            "{what}\n      request:  {}\n      expected: {expect:?}\n      got:      {} {}\n      {why}",
            req.describe(),
            res.status,
            excerpt(&res.body.replace('\n', " "), 300)
        ))
    };
    if !expect.contains(&res.status) {
        fail("wrong status".into());
    }
    let ok = match body {
        Body::Any => true,
        Body::Null => res.body.trim() == "null",
        Body::NoResults => number(&res.body, &["total", "totalResults"]) == Some(0),
        Body::SomeResults => number(&res.body, &["total", "totalResults"]).is_some_and(|n| n > 0),
        Body::Has(s) => res.body.contains(s),
        Body::HasAOrgId => res.body.contains(&w.a.id),
        Body::RedirectsTo(p) => res.location.as_deref().is_some_and(|l| l.starts_with(p)),
    };
    if !ok {
        fail(format!(
            "body/redirect is not {body:?} (Location: {:?})",
            res.location
        ));
    }
    let lower = res.body.to_lowercase();
    for secret in [
        B_CANARY,
        &w.b.scim_token.to_lowercase(),
        &w.b.link.to_lowercase(),
        &w.b.spare_link.to_lowercase(),
    ] {
        if let Some(i) = lower.find(secret) {
            let from = res.body[..i].chars().rev().take(80).collect::<Vec<_>>();
            let from: String = from.into_iter().rev().collect();
            fail(format!(
                "the response shows B's data: …{from}{}…",
                excerpt(&res.body[i..], 80)
            ));
        }
    }
    if res.new_session && !signs_in {
        fail("the response started a session".into());
    }
    if signs_in && !res.new_session {
        fail("the control did not start a session".into());
    }
}

async fn run(app: TestApp) {
    let mut app = app;
    app.http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .expect("HTTP client");
    let a = setup_org(&app, &ALPHA).await;
    let b = setup_org(&app, &BRAVO).await;
    let mut w = World {
        url: app.url.clone(),
        now: portal_core::Clock::now_ms(&*app.t.clock),
        a,
        b,
    };
    let known = routes();
    let start = snapshot(&app, &w.b.id).await;
    let mut failures = Vec::new();
    let mut b_sso_failures = 0;
    let mut report = Vec::new();
    for r in ROWS {
        refresh(&app, &mut w).await;
        let req = (r.req)(&w);
        let key = request_key(&req, &known);
        if key != r.covers {
            failures.push(format!(
                "{}: the request reaches `{key}`, but the row says `{}`",
                r.name, r.covers
            ));
        }
        let before = snapshot(&app, &w.b.id).await;
        let res = send(&app, &w, r.who, &req).await;
        let after = snapshot(&app, &w.b.id).await;
        let n = failures.len();
        judge(
            &w,
            r.name,
            &req,
            r.expect,
            r.body,
            false,
            &res,
            &mut failures,
        );
        for c in b_changes(&before, &after, usize::from(r.b_sso_failure)) {
            failures.push(format!(
                "{}\n      request:  {}\n      {c}",
                r.name,
                req.describe()
            ));
        }
        b_sso_failures += usize::from(r.b_sso_failure);
        let mut line = format!(
            "{:<4} {:<70} {:<10} expect {:?} got {}",
            if failures.len() == n { "ok" } else { "FAIL" },
            r.name,
            format!("{:?}", r.who),
            r.expect,
            res.status
        );
        if let Some(c) = &r.control {
            refresh(&app, &mut w).await;
            let req = (c.req)(&w);
            let res = send(&app, &w, c.who, &req).await;
            let n = failures.len();
            let what = format!("{} — positive control (A on A's own)", r.name);
            judge(
                &w,
                &what,
                &req,
                c.expect,
                c.body,
                c.signs_in,
                &res,
                &mut failures,
            );
            line.push_str(&format!(
                "; control {} {}",
                res.status,
                if failures.len() == n { "ok" } else { "FAIL" }
            ));
        }
        report.push(line);
    }
    let end = snapshot(&app, &w.b.id).await;
    for c in b_changes(&start, &end, b_sso_failures) {
        failures.push(format!("the whole matrix: {c}"));
    }
    println!(
        "cross-tenant matrix, {} rows:\n{}",
        ROWS.len(),
        report.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} failure(s) in the cross-tenant matrix:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

app_test!(cross_tenant_matrix, |app: TestApp| async move {
    if tokio::time::timeout(DEADLINE, run(app)).await.is_err() {
        panic!("the cross-tenant matrix did not finish within {DEADLINE:?}");
    }
});

#[test]
fn every_server_function_and_route_has_a_row() {
    let fns = server_functions();
    let routes: BTreeSet<String> = routes().iter().map(Route::key).collect();
    assert!(
        fns.len() >= 20 && routes.len() >= 20,
        "the source scan found too little: {fns:?} {routes:?}"
    );
    println!("server functions: {fns:?}\nroutes: {routes:?}");
    let exists: BTreeSet<String> = fns.union(&routes).cloned().collect();
    let rows: BTreeSet<&str> = ROWS.iter().map(|r| r.covers).collect();
    let without: BTreeSet<&str> = WITHOUT_ROWS.iter().map(|(k, _)| *k).collect();
    let missing: Vec<&String> = exists
        .iter()
        .filter(|k| !rows.contains(k.as_str()) && !without.contains(k.as_str()))
        .collect();
    let stale: Vec<&&str> = rows
        .iter()
        .chain(without.iter())
        .filter(|k| !exists.contains(**k))
        .collect();
    let both: Vec<&&str> = rows.intersection(&without).collect();
    assert!(
        missing.is_empty() && stale.is_empty() && both.is_empty(),
        "cross-tenant matrix coverage:\n  \
         without a row (add one to ROWS in server/tests/integration/cross_tenant.rs, or an entry \
         with its reason to WITHOUT_ROWS): {missing:?}\n  \
         rows or WITHOUT_ROWS entries for something that no longer exists: {stale:?}\n  \
         both a row and a WITHOUT_ROWS entry: {both:?}"
    );
}
