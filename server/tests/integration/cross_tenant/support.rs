//! The machinery behind the cross-tenant matrix (`super`): the two organisations it sets up, the
//! request kinds a row can send, the snapshot of B's rows, and the scan of the sources that lists
//! every server function and route (so a new one without a row fails the coverage check).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use portal_core::sso::{self, SsoInput};
use portal_core::Clock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{link_tokens, session_cookie, TestApp};
use crate::saml_idp::{self, Sign};

/// Every HTTP call of the matrix gives up after this long.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

// ---- the two organisations -------------------------------------------------------------------

/// What distinguishes the two organisations. Every value B holds that a row never sends (names,
/// departments, cities, its admin's address, its IdP endpoint, its test sign-in's attributes)
/// contains `bravo-secret`, so any response that shows B's data to A is caught by one substring.
pub struct Side {
    pub name: &'static str,
    /// Lower-case prefix of every value of this org: `alpha` or `bravo`.
    pub p: &'static str,
    /// The fixture key its IdP signs with (`server/crates/saml/tests/fixtures`).
    pub idp_key: &'static str,
    /// A second ("next") certificate for rollover; nobody signs with it.
    pub next_cert: &'static str,
    pub password: &'static str,
}

pub const ALPHA: Side = Side {
    name: "Alpha",
    p: "alpha",
    idp_key: "other",
    next_cert: ALPHA_NEXT_CERT,
    password: "alpha's own long passphrase",
};

pub const BRAVO: Side = Side {
    name: "Bravo",
    p: "bravo",
    idp_key: "idp",
    next_cert: BRAVO_NEXT_CERT,
    password: "bravo's own long passphrase",
};

/// The substring every private value of B contains.
pub const B_CANARY: &str = "bravo-secret";
/// The substring A's own values contain (positive controls look for it).
pub const A_MARK: &str = "alpha-secret";

/// The users each org has, by role in the matrix.
pub struct Users {
    /// SCIM-provisioned; holds the employee session and the magic links.
    pub emp: String,
    /// SCIM-provisioned; the target of SCIM reads and writes.
    pub scim2: String,
    /// SCIM-provisioned; the target of SCIM DELETE.
    pub scimdel: String,
    /// Added by the admin (so the admin may manage them), one per action.
    pub edit: String,
    pub deact: String,
    /// Deactivated.
    pub react: String,
    pub del: String,
    /// Deleted (restorable).
    pub restore: String,
}

pub struct Org {
    pub side: &'static Side,
    pub id: String,
    pub admin_email: String,
    pub admin_cookie: String,
    pub employee_cookie: String,
    pub scim_token: String,
    pub token_id: String,
    pub users: Users,
    /// Current `version` of every user, refreshed before each row.
    pub versions: BTreeMap<String, i64>,
    /// A finished Test sign-in (its request id).
    pub test_id: String,
    /// A Test sign-in started and not yet answered, and the browser cookie it is bound to.
    pub pending_test: String,
    pub pending_browser: String,
    /// Two unused magic links of `users.emp`: one only looked at, one a control redeems.
    pub link: String,
    pub spare_link: String,
    /// Fingerprints of the current and next certificate as configured.
    pub sso_fp: (String, Option<String>),
    /// Admin team (issue 12, team): its admins and invitations.
    pub team: Team,
    /// Second factor (issue 12, two-factor): a passkey of the admin (added after the admin's
    /// session started, so the matrix's sessions skip the second step).
    pub passkey_id: String,
    /// SCIM request log (issue 13): the org's first logged SCIM request (a user's creation).
    pub scim_request: String,
    /// SCIM Groups (issue 13, groups): a group with `users.emp` and `users.scim2` as members,
    /// and one the controls delete.
    pub group: String,
    pub groupdel: String,
    /// Setup links (issue 13): a working link (both scopes; its secret and id), and a second
    /// link's id that a control revokes.
    pub setup_link: String,
    pub setup_link_id: String,
    pub spare_setup_link_id: String,
}

impl Org {
    pub fn p(&self) -> &'static str {
        self.side.p
    }
    /// The userName of one of this org's users: `alpha-emp@alpha.test`.
    pub fn user_name(&self, local: &str) -> String {
        user_name(self.side.p, local)
    }
    pub fn ver(&self, user_id: &str) -> String {
        self.versions
            .get(user_id)
            .copied()
            .unwrap_or(-1)
            .to_string()
    }
    pub fn sso_input(&self) -> SsoInput {
        sso_input(self.side)
    }
}

pub struct World {
    pub url: String,
    pub now: i64,
    pub a: Org,
    pub b: Org,
}

pub fn user_name(p: &str, local: &str) -> String {
    format!("{p}-{local}@{p}.test")
}

pub fn scim_user(p: &str, local: &str) -> Value {
    let user_name = user_name(p, local);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name,
        "active": true,
        "name": {"givenName": format!("{p}-secret-{local}"), "familyName": format!("{p}-secret-family")},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "addresses": [{"type": "work", "country": "FI", "locality": format!("{p}-secret-city")}],
        "externalId": format!("ext-{p}-{local}"),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("{p}-secret-dept")}
    })
}

pub fn sso_input(s: &Side) -> SsoInput {
    SsoInput {
        sso_url: format!("https://idp.{}-secret.test/sso", s.p),
        certificate: crate::saml_http::cert(s.idp_key),
        next_certificate: s.next_cert.to_string(),
        idp_entity_id: saml_idp::IDP.into(),
        jit_enabled: true,
        ..SsoInput::default()
    }
}

/// A fresh XML ID (the replay cache remembers assertion IDs per org).
pub fn xml_id() -> String {
    format!("_{}", portal_core::ids::new_org_id())
}

/// A SAML response for `target`'s ACS (audience, destination, recipient) signed with `key`.
pub fn saml_response(
    w: &World,
    target: &Org,
    key: &'static str,
    name_id: &str,
    in_response_to: Option<&str>,
    p: &str,
) -> String {
    signed_response(&w.url, &target.id, w.now, key, name_id, in_response_to, p)
}

fn signed_response(
    base: &str,
    org: &str,
    now: i64,
    key: &'static str,
    name_id: &str,
    in_response_to: Option<&str>,
    p: &str,
) -> String {
    let mut o = saml_idp::opts_for(base, org, now);
    o.key = key;
    o.sign = Sign::Assertion;
    o.name_id_xml = name_id.to_string();
    o.in_response_to = in_response_to.map(str::to_string);
    o.response_id = xml_id();
    o.assertion_id = xml_id();
    o.attributes = vec![
        ("firstname".into(), format!("{p}-secret-Ann")),
        ("lastname".into(), format!("{p}-secret-Lee")),
        ("department".into(), format!("{p}-secret-dept")),
    ];
    saml_idp::signed_xml(&o)
}

/// IdP metadata naming `key`'s certificate and a new endpoint.
pub fn idp_metadata(key: &str) -> String {
    let body: String = crate::saml_http::cert(key)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    format!(
        r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.preview.test/e"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.preview.test/redirect"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// The AuthnRequest ID in an IdP redirect URL.
fn authn_request_id(location: &str) -> String {
    use std::io::Read;
    let url = url::Url::parse(location).expect("IdP redirect URL");
    let req = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .expect("SAMLRequest")
        .1
        .to_string();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(req)
        .expect("base64 AuthnRequest");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("deflated AuthnRequest");
    xml.split("ID=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("AuthnRequest ID")
        .to_string()
}

async fn json_fn(app: &TestApp, name: &str, form: &[(&str, &str)], cookie: &str) -> Value {
    let res = app.post_fn(name, form, Some(cookie)).await;
    let status = res.status();
    let text = res.text().await.expect("server function body");
    assert!(
        status.is_success(),
        "setup: {name} answered {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// SCIM Groups (issue 13, groups): a group of `members`, created through SCIM.
async fn scim_group_setup(
    app: &TestApp,
    org: &str,
    token: &str,
    name: &str,
    members: &[&str],
) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    let res = app
        .http
        .post(format!("{}/scim/v2/{org}/Groups", app.url))
        .bearer_auth(token)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({ "displayName": name, "externalId": format!("ext-{name}"), "members": members })
                .to_string(),
        )
        .send()
        .await
        .expect("setup: SCIM group create");
    let status = res.status();
    let v: Value = res.json().await.expect("SCIM JSON");
    assert_eq!(status, 201, "setup: SCIM group create: {v}");
    v["id"].as_str().expect("SCIM id").to_string()
}

async fn scim_setup(app: &TestApp, org: &str, token: &str, body: Value) -> String {
    let res = app
        .http
        .post(format!("{}/scim/v2/{org}/Users", app.url))
        .bearer_auth(token)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .expect("setup: SCIM create");
    let status = res.status();
    let v: Value = res.json().await.expect("SCIM JSON");
    assert_eq!(status, 201, "setup: SCIM create: {v}");
    v["id"].as_str().expect("SCIM id").to_string()
}

pub async fn user_version(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar("SELECT version FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .expect("user version")
}

async fn active_token_id(app: &TestApp, org: &str) -> String {
    // Token rotation (issue 13): the current token, not a rotation's next one.
    sqlx::query_scalar(
        "SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 0",
    )
    .bind(org)
    .fetch_one(&app.t.svc.db.pool)
    .await
    .expect("an active SCIM token")
}

/// Starts a Test sign-in as the org's admin: (request id, SAML browser cookie).
async fn start_test(app: &TestApp, org: &str, admin_cookie: &str) -> (String, String) {
    let res = app
        .get(&format!("/saml/{org}/test"), Some(admin_cookie))
        .await;
    assert_eq!(res.status(), 303, "setup: Test sign-in start");
    let browser = crate::saml_http::set_cookie(&res, "portal_saml").expect("SAML browser cookie");
    let location = res.headers()["location"].to_str().unwrap().to_string();
    (authn_request_id(&location), browser)
}

/// Runs a successful Test sign-in as the org's admin; returns its request id.
async fn finished_test(app: &TestApp, s: &Side, org: &str, admin_cookie: &str) -> String {
    let (test_id, browser) = start_test(app, org, admin_cookie).await;
    let xml = signed_response(
        &app.url,
        org,
        app.t.clock.now_ms(),
        s.idp_key,
        &user_name(s.p, "emp"),
        Some(&test_id),
        s.p,
    );
    let res = crate::saml_http::post_acs(app, org, &xml, None, Some(&browser)).await;
    assert_eq!(res.status(), 303, "Test sign-in answer");
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/admin/sso/test/{test_id}")
    );
    test_id
}

/// The magic-link tokens mailed to `to` so far.
async fn links_of(app: &TestApp, to: &str, n: usize) -> Vec<String> {
    app.wait_mails(to, n)
        .await
        .iter()
        .flat_map(|m| link_tokens(m))
        .collect()
}

/// One organisation with everything the matrix aims at: admin (password sign-in), SCIM token,
/// SCIM and manual users in every state, SSO with a next certificate, a finished and a pending
/// Test sign-in, events, two unused magic links and an employee session.
pub async fn setup_org(app: &TestApp, s: &'static Side) -> Org {
    let p = s.p;
    let admin_email = format!("admin@{p}-secret.test");
    let (org, _, _) = portal_core::admins::create_admin(
        &app.t.svc,
        portal_core::admins::NewAdmin {
            org_name: s.name,
            email: &admin_email,
            password: s.password,
        },
    )
    .await
    .expect("setup: create admin");
    let id = org.id;
    let admin_cookie = app.sign_in(&admin_email, s.password, None).await;

    let token = json_fn(app, "generate_scim_token", &[], &admin_cookie).await["token"]
        .as_str()
        .expect("setup: the new SCIM token")
        .to_string();
    let emp = scim_setup(app, &id, &token, scim_user(p, "emp")).await;
    let scim2 = scim_setup(app, &id, &token, scim_user(p, "scim2")).await;
    let scimdel = scim_setup(app, &id, &token, scim_user(p, "scimdel")).await;

    let mut manual = Vec::new();
    for local in ["edit", "deact", "react", "del", "restore"] {
        let email = user_name(p, local);
        let given = format!("{p}-secret-{local}");
        let dept = format!("{p}-secret-dept");
        let city = format!("{p}-secret-city");
        let v = json_fn(
            app,
            "admin_add_user",
            &[
                ("email", &email),
                ("given_name", &given),
                ("family_name", "Manual"),
                ("department", &dept),
                ("country", "FI"),
                ("locality", &city),
            ],
            &admin_cookie,
        )
        .await;
        manual.push(v.as_str().expect("setup: new user id").to_string());
    }
    for (user, action) in [(&manual[2], "deactivate"), (&manual[4], "delete")] {
        let version = user_version(app, user).await.to_string();
        json_fn(
            app,
            "admin_user_action",
            &[("id", user), ("version", &version), ("action", action)],
            &admin_cookie,
        )
        .await;
    }

    sso::save(&app.t.svc, &id, &admin_email, &sso_input(s))
        .await
        .expect("setup: SSO");
    let cfg = sso::get(&app.t.svc, &id).await.unwrap().unwrap();
    let sso_fp = (
        cfg.certificate.fingerprint.clone(),
        cfg.next_certificate.as_ref().map(|c| c.fingerprint.clone()),
    );

    let test_id = finished_test(app, s, &id, &admin_cookie).await;
    let (pending_test, pending_browser) = start_test(app, &id, &admin_cookie).await;

    let emp_name = user_name(p, "emp");
    for _ in 0..3 {
        portal_core::magic_links::request(&app.t.svc, &emp_name, "10.0.0.1")
            .await
            .expect("setup: magic link");
    }
    let links = links_of(app, &emp_name, 3).await;
    assert_eq!(links.len(), 3, "setup: three links for {emp_name}");
    let res = app
        .post_fn("redeem_magic_link", &[("token", &links[0])], None)
        .await;
    let employee_cookie = session_cookie(&res).expect("setup: employee session");

    // Admin team (issue 12, team).
    let team = setup_team(app, s, &id, &admin_email).await;
    // Second factor (issue 12, two-factor).
    let passkey_id = add_passkey(app, &admin_id_of(app, &id).await, p).await;
    // SCIM request log (issue 13).
    let scim_request = first_scim_request(app, p, &id).await;
    // SCIM Groups (issue 13, groups).
    let group = scim_group_setup(
        app,
        &id,
        &token,
        &format!("{p}-secret-group"),
        &[&emp, &scim2],
    )
    .await;
    let groupdel =
        scim_group_setup(app, &id, &token, &format!("{p}-secret-groupdel"), &[&emp]).await;
    // Setup links (issue 13), made by the org's Owner; labels carry the org's marker.
    let link_maker = team_owner(app, &admin_email).await;
    let mut made = Vec::new();
    for what in ["IT contact", "spare contact"] {
        made.push(
            portal_core::setup_links::create(
                &app.t.svc,
                &link_maker,
                &format!("{p}-secret {what}"),
                "both",
                72,
            )
            .await
            .expect("setup: a setup link"),
        );
    }
    let mut o = Org {
        side: s,
        token_id: active_token_id(app, &id).await,
        id,
        admin_email,
        admin_cookie,
        employee_cookie,
        scim_token: token,
        users: Users {
            emp,
            scim2,
            scimdel,
            edit: manual[0].clone(),
            deact: manual[1].clone(),
            react: manual[2].clone(),
            del: manual[3].clone(),
            restore: manual[4].clone(),
        },
        versions: BTreeMap::new(),
        test_id,
        pending_test,
        pending_browser,
        link: links[1].clone(),
        spare_link: links[2].clone(),
        sso_fp,
        team,
        passkey_id,
        // SCIM request log (issue 13).
        scim_request,
        group,
        groupdel,
        setup_link: made[0].1.expose().to_string(),
        setup_link_id: made[0].0.id.clone(),
        spare_setup_link_id: made[1].0.id.clone(),
    };
    load_versions(app, &mut o).await;
    // Organisation settings (issue 12, settings): a marked domain list, so that a response
    // showing B's settings is caught like any other of B's data. Both orgs' user domains stay
    // allowed (rows create B's userNames in A on purpose).
    portal_core::org_settings::update(
        &app.t.svc,
        &o.id,
        "setup",
        &portal_core::org_settings::SettingsChange {
            allowed_domains: Some(format!("alpha.test, bravo.test, {p}-secret.test")),
            ..Default::default()
        },
    )
    .await
    .expect("setup: organisation settings");
    o
}

async fn load_versions(app: &TestApp, o: &mut Org) {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, version FROM users WHERE org_id = $1")
            .bind(&o.id)
            .fetch_all(&app.t.svc.db.pool)
            .await
            .expect("versions");
    o.versions = rows.into_iter().collect();
}

/// Before each row: current user versions, and A's own token and SSO configuration put back when
/// an earlier row (acting, as it should, on A) replaced, revoked, promoted or deactivated them.
pub async fn refresh(app: &TestApp, w: &mut World) {
    load_versions(app, &mut w.a).await;
    load_versions(app, &mut w.b).await;
    let a = &mut w.a;
    let live: Option<String> = sqlx::query_scalar(
        "SELECT id FROM scim_tokens WHERE org_id = $1 AND token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(&a.id)
    .bind(portal_core::secret::sha256_hex(&a.scim_token))
    .fetch_optional(&app.t.svc.db.pool)
    .await
    .expect("A's token");
    if live.is_none() {
        a.scim_token = portal_core::scim_tokens::generate(&app.t.svc, &a.id, &a.admin_email)
            .await
            .expect("a new token for A")
            .into_exposed();
    }
    a.token_id = active_token_id(app, &a.id).await;
    let cfg = sso::get(&app.t.svc, &a.id).await.expect("A's SSO");
    let fp = cfg.map(|c| {
        (
            c.certificate.fingerprint.clone(),
            c.next_certificate.as_ref().map(|n| n.fingerprint.clone()),
        )
    });
    if fp.as_ref() != Some(&a.sso_fp) {
        sso::save(&app.t.svc, &a.id, &a.admin_email, &a.sso_input())
            .await
            .expect("A's SSO again");
    }
    // Deactivating SSO forgets the org's Test sign-ins; a control answers the pending one.
    let test: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT result, consumed_at FROM saml_requests WHERE id = $1")
            .bind(&a.test_id)
            .fetch_optional(&app.t.svc.db.pool)
            .await
            .expect("A's Test sign-in");
    if !matches!(test, Some((Some(_), _))) {
        a.test_id = finished_test(app, a.side, &a.id, &a.admin_cookie).await;
    }
    let pending: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT result, consumed_at FROM saml_requests WHERE id = $1")
            .bind(&a.pending_test)
            .fetch_optional(&app.t.svc.db.pool)
            .await
            .expect("A's pending Test sign-in");
    if !matches!(pending, Some((None, None))) {
        (a.pending_test, a.pending_browser) = start_test(app, &a.id, &a.admin_cookie).await;
    }
    // Admin team (issue 12, team).
    refresh_team(app, a).await;
}

// ---- the admin team (issue 12, team) ----------------------------------------------------------

/// Each org's team besides its Owner (the org's admin): a Viewer, an open invitation (what
/// resend and cancel aim at) and another open invitation whose link a control accepts.
pub struct Team {
    pub owner: String,
    /// A Viewer's admin id.
    pub member: String,
    /// An open invitation's id.
    pub invitation: String,
    /// The link token of another open invitation (of `joiner@…`).
    pub join_token: String,
}

async fn team_owner(app: &TestApp, email: &str) -> portal_core::admins::Admin {
    let id: String = sqlx::query_scalar("SELECT id FROM admins WHERE email = $1")
        .bind(email)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .expect("the org's Owner");
    portal_core::admins::admin_by_id(&app.t.svc.db, &id)
        .await
        .expect("the org's Owner")
        .expect("the org's Owner")
}

/// Invites `email` as an Admin; returns the invitation's id and the mailed link's token.
async fn invite_with_token(
    app: &TestApp,
    owner: &portal_core::admins::Admin,
    email: &str,
) -> (String, String) {
    let before = crate::common::mails_in(&[&app.outbox], email).len();
    let id = portal_core::invitations::invite(
        &app.t.svc,
        owner,
        email,
        portal_core::admins::Role::Admin,
    )
    .await
    .expect("setup: an invitation");
    let mails = app.wait_mails(email, before + 1).await;
    let token = mails
        .last()
        .map(|m| link_tokens(m))
        .and_then(|t| t.last().cloned())
        .expect("setup: the invitation link");
    (id, token)
}

async fn setup_team(app: &TestApp, s: &Side, org_id: &str, admin_email: &str) -> Team {
    let owner = team_owner(app, admin_email).await;
    let member = portal_test_support::add_admin(
        &app.t.svc,
        org_id,
        &format!("member@{}-secret.test", s.p),
        portal_core::admins::Role::Viewer,
    )
    .await
    .id;
    let (invitation, _) =
        invite_with_token(app, &owner, &format!("invitee@{}-secret.test", s.p)).await;
    let (_, join_token) =
        invite_with_token(app, &owner, &format!("joiner@{}-secret.test", s.p)).await;
    Team {
        owner: owner.id,
        member,
        invitation,
        join_token,
    }
}

/// Puts A's team back after controls that (acting on A, as they must) removed A's Viewer,
/// cancelled A's invitation or accepted A's other invitation (whose account is removed again,
/// so that the number of admins in the database is back where the matrix started).
async fn refresh_team(app: &TestApp, a: &mut Org) {
    let owner = team_owner(app, &a.admin_email).await;
    let p = a.side.p;
    let svc = &app.t.svc;
    if portal_core::admins::admin_by_id(&svc.db, &a.team.member)
        .await
        .expect("A's Viewer")
        .is_none()
    {
        a.team.member = portal_test_support::add_admin(
            svc,
            &a.id,
            &format!("member@{p}-secret.test"),
            portal_core::admins::Role::Viewer,
        )
        .await
        .id;
    }
    let open: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM admin_invitations WHERE id = $1 AND accepted_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(&a.team.invitation)
    .fetch_optional(&svc.db.pool)
    .await
    .expect("A's invitation");
    if open.is_none() {
        a.team.invitation = invite_with_token(app, &owner, &format!("invitee@{p}-secret.test"))
            .await
            .0;
    }
    let joiner = format!("joiner@{p}-secret.test");
    if portal_core::invitations::lookup(svc, &a.team.join_token)
        .await
        .expect("A's link")
        .is_none()
    {
        let joined: Option<(String,)> = sqlx::query_as("SELECT id FROM admins WHERE email = $1")
            .bind(&joiner)
            .fetch_optional(&svc.db.pool)
            .await
            .expect("A's joiner");
        if let Some((id,)) = joined {
            portal_core::team::remove(svc, &owner, &id)
                .await
                .expect("remove A's joiner");
        }
        a.team.join_token = invite_with_token(app, &owner, &joiner).await.1;
    }
}

// ---- requests ---------------------------------------------------------------------------------

/// Whose credential a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// A's admin session cookie.
    AAdmin,
    /// A's employee session cookie.
    AEmployee,
    /// A's SCIM bearer token.
    AScim,
    /// No cookie or token: A's admin password travels in the form.
    APassword,
    /// No cookie or token: the body is a SAML response signed with A's IdP key.
    AIdp,
    /// Nobody's credential (positive controls that must not disturb A's sessions).
    Nobody,
}

pub enum Req {
    /// A server function, posted as a same-origin form (`/api/{name}`, JSON answer).
    Fn(&'static str, Vec<(String, String)>),
    /// A same-origin form post to an axum route.
    Form(String, Vec<(String, String)>),
    /// A browser GET (`Accept: text/html`).
    Get(String),
    /// A SCIM call with an optional JSON body.
    Scim(Method, String, Option<Value>),
    /// A SAML response (XML) posted cross-site to an ACS path, with an optional SAML browser cookie.
    Acs(String, String, Option<String>),
    /// A bodiless request written byte for byte, so `..` segments reach the server as they are
    /// (an HTTP client would resolve them first): method, raw path.
    Raw(&'static str, String),
}

impl Req {
    pub fn describe(&self) -> String {
        match self {
            Req::Fn(name, form) => format!("POST /api/{name} {}", form_text(form)),
            Req::Form(path, form) => format!("POST {path} {}", form_text(form)),
            Req::Get(path) => format!("GET {path}"),
            Req::Scim(m, path, body) => match body {
                Some(b) => format!("{m} {path} {b}"),
                None => format!("{m} {path}"),
            },
            Req::Raw(method, path) => format!("{method} {path} (raw)"),
            Req::Acs(path, _, cookie) => format!(
                "POST {path} (signed SAMLResponse{})",
                if cookie.is_some() {
                    ", SAML browser cookie"
                } else {
                    ""
                }
            ),
        }
    }
}

fn form_text(form: &[(String, String)]) -> String {
    let s = form
        .iter()
        .map(|(k, v)| format!("{k}={}", excerpt(v, 40)))
        .collect::<Vec<_>>()
        .join("&");
    if s.is_empty() {
        "(no fields)".into()
    } else {
        s
    }
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub struct Resp {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    /// The response set a session cookie other than the one the request carried.
    pub new_session: bool,
}

pub async fn send(app: &TestApp, w: &World, who: Who, req: &Req) -> Resp {
    let cookie = match who {
        Who::AAdmin => Some(w.a.admin_cookie.clone()),
        Who::AEmployee => Some(w.a.employee_cookie.clone()),
        _ => None,
    };
    let base = &app.url;
    let mut cookies: Vec<String> = cookie.iter().cloned().collect();
    let rb = match req {
        Req::Raw(method, path) => {
            let bearer = (who == Who::AScim).then_some(w.a.scim_token.as_str());
            return raw(app, method, path, cookie.as_deref(), bearer).await;
        }
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
        Req::Scim(method, path, body) => {
            let rb = app
                .http
                .request(method.clone(), format!("{base}{path}"))
                .header("User-Agent", "cross-tenant-matrix/1.0");
            match body {
                Some(b) => rb
                    .header("Content-Type", "application/scim+json")
                    .body(b.to_string()),
                None => rb,
            }
        }
        Req::Acs(path, xml, browser) => {
            cookies.extend(browser.iter().cloned());
            let b64 = saml_idp::b64(xml);
            app.http
                .post(format!("{base}{path}"))
                .header("Origin", "null")
                .header("Sec-Fetch-Site", "cross-site")
                .form(&[("SAMLResponse", b64.as_str())])
        }
    };
    let mut rb = rb;
    if !cookies.is_empty() {
        rb = rb.header("Cookie", cookies.join("; "));
    }
    if who == Who::AScim {
        rb = rb.bearer_auth(&w.a.scim_token);
    }
    let res = rb
        .timeout(HTTP_TIMEOUT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", req.describe()));
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let new_session = session_cookie(&res)
        .filter(|c| !c.ends_with('='))
        .is_some_and(|c| Some(&c) != cookie.as_ref());
    let body = res
        .text()
        .await
        .unwrap_or_else(|e| panic!("{}: body: {e}", req.describe()));
    Resp {
        status,
        body,
        location,
        new_session,
    }
}

async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    bearer: Option<&str>,
) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.url.trim_start_matches("http://");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: cross-tenant-matrix/1.0\r\n"
    );
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(t) = bearer {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream.write_all(head.as_bytes()).await?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let bytes = tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} (raw): timed out"))
        .unwrap_or_else(|e| panic!("{method} {path} (raw): {e}"));
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let new_session = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("set-cookie:")
            && l.contains("portal_session=")
            && cookie.is_none_or(|c| !l.contains(c))
    });
    Resp {
        status,
        body: body.to_string(),
        location: header("location"),
        new_session,
    }
}

pub fn excerpt(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

// ---- B's rows ---------------------------------------------------------------------------------

/// Every row of B that a request of A could change, as text, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: Vec<(&'static str, Vec<Vec<Option<String>>>)>,
    /// (id, name, success, message) of each of B's events.
    pub events: Vec<Vec<Option<String>>>,
    /// Organisations and admins in the whole database (nobody creates one through A).
    pub totals: Vec<Option<String>>,
}

const B_TABLES: &[(&str, &[&str], &str)] = &[
    (
        "orgs",
        &[
            "id",
            "name",
            "retention_days",
            "created_at",
            // Organisation settings (issue 12, settings).
            "event_retention_days",
            "allowed_domains",
            "username_equals_work_email",
            "require_2fa",
            "require_sso_for_admins",
        ],
        "id = $1",
    ),
    (
        "admins",
        &[
            "id",
            "email",
            "password_hash",
            "created_at",
            "last_sign_in_at",
        ],
        "org_id = $1",
    ),
    (
        "users",
        &[
            "id",
            "user_name",
            "external_id",
            "active",
            "given_name",
            "family_name",
            "department",
            "email",
            "country",
            "locality",
            "source",
            "attributes",
            "version",
            "created_at",
            "updated_at",
            "deleted_at",
            "last_sign_in_at",
        ],
        "org_id = $1",
    ),
    (
        "user_emails",
        &["user_id", "position", "value", "type", "primary_flag"],
        "org_id = $1",
    ),
    (
        "user_addresses",
        &["user_id", "position", "type", "country", "locality"],
        "org_id = $1",
    ),
    (
        "scim_tokens",
        &[
            "id",
            "token_hash",
            "created_at",
            "created_by",
            "revoked_at",
            "first_used_at",
            "last_used_at",
            "last_user_agent",
            "rejected_count",
            "last_rejected_at",
            // Issue 13, SCIM fidelity.
            "last_success_at",
        ],
        "org_id = $1",
    ),
    (
        "sso_configs",
        &[
            "org_id",
            "sso_url",
            "idp_entity_id",
            "cert_pem",
            "next_cert_pem",
            "jit_enabled",
            "require_sso",
            "refuse_unsolicited",
            "updated_at",
            "updated_by",
            "last_success_at",
            "last_success_fingerprint",
        ],
        "org_id = $1",
    ),
    (
        "magic_links",
        &[
            "token_hash",
            "user_id",
            "created_at",
            "expires_at",
            "used_at",
        ],
        "org_id = $1",
    ),
    // B's Test sign-ins: a result must not be written or consumed through A.
    (
        "saml_requests",
        &["id", "purpose", "consumed_at", "result"],
        "org_id = $1 AND purpose = 'test'",
    ),
    // Issue 12, your account: B's admins' sessions must not end, their reset links not be used.
    (
        "sessions",
        &["id", "admin_id", "created_at"],
        "admin_id IN (SELECT id FROM admins WHERE org_id = $1)",
    ),
    (
        "password_resets",
        &[
            "token_hash",
            "admin_id",
            "created_at",
            "expires_at",
            "used_at",
        ],
        "admin_id IN (SELECT id FROM admins WHERE org_id = $1)",
    ),
    // Admin team (issue 12, team): B's roles, invitations and admin sessions.
    ("admins", &["id", "role", "invited_by"], "org_id = $1"),
    (
        "admin_invitations",
        &[
            "id",
            "email",
            "role",
            "token_hash",
            "expires_at",
            "accepted_at",
            "cancelled_at",
        ],
        "org_id = $1",
    ),
    // Second factor (issue 12, two-factor): B's admins' factors.
    (
        "admin_passkeys",
        &[
            "id",
            "admin_id",
            "name",
            "credential_id",
            "passkey",
            "last_used_at",
        ],
        "admin_id IN (SELECT id FROM admins WHERE org_id = $1)",
    ),
    (
        "admin_totp",
        &["admin_id", "secret", "confirmed_at", "last_used_step"],
        "admin_id IN (SELECT id FROM admins WHERE org_id = $1)",
    ),
    (
        "admin_recovery_codes",
        &["id", "admin_id", "code_hash", "used_at"],
        "admin_id IN (SELECT id FROM admins WHERE org_id = $1)",
    ),
    // SCIM Groups (issue 13, groups).
    (
        "groups",
        &[
            "id",
            "display_name",
            "external_id",
            "version",
            "created_at",
            "updated_at",
        ],
        "org_id = $1",
    ),
    (
        "group_members",
        &["group_id", "user_id", "added_at"],
        "org_id = $1",
    ),
    // Setup links (issue 13). Presenting B's own link is using B's credential, so no row does;
    // its use counter stays still through the whole matrix.
    (
        "setup_links",
        &[
            "id",
            "token_hash",
            "label",
            "scope",
            "created_by_id",
            "expires_at",
            "revoked_at",
            "revoked_by",
            "last_used_at",
            "use_count",
        ],
        "org_id = $1",
    ),
];

async fn text_rows(
    app: &TestApp,
    sql: &str,
    bind: Option<&str>,
    n: usize,
) -> Vec<Vec<Option<String>>> {
    let mut q = sqlx::query(sql);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    let rows = q
        .fetch_all(&app.t.svc.db.pool)
        .await
        .unwrap_or_else(|e| panic!("snapshot query {sql}: {e}"));
    rows.iter()
        .map(|r| {
            (0..n)
                .map(|i| sqlx::Row::try_get::<Option<String>, _>(r, i).expect("text column"))
                .collect()
        })
        .collect()
}

fn select_text(table: &str, cols: &[&str], filter: &str) -> String {
    let list = cols
        .iter()
        .map(|c| format!("CAST(t.{c} AS TEXT)"))
        .collect::<Vec<_>>()
        .join(", ");
    let order = (1..=cols.len())
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT {list} FROM {table} t WHERE {filter} ORDER BY {order}")
}

pub async fn snapshot(app: &TestApp, org: &str) -> Snapshot {
    let mut tables = Vec::new();
    for (table, cols, filter) in B_TABLES {
        let sql = select_text(table, cols, filter);
        tables.push((*table, text_rows(app, &sql, Some(org), cols.len()).await));
    }
    let cols = ["id", "name", "success", "message"];
    let events = text_rows(
        app,
        &select_text("events", &cols, "org_id = $1"),
        Some(org),
        4,
    )
    .await;
    let totals = text_rows(
        app,
        "SELECT CAST((SELECT COUNT(*) FROM orgs) AS TEXT), CAST((SELECT COUNT(*) FROM admins) AS TEXT)",
        None,
        2,
    )
    .await
    .remove(0);
    Snapshot {
        tables,
        events,
        totals,
    }
}

/// What changed in B between two snapshots, beyond `sso_failures` new failed-SSO events.
pub fn b_changes(before: &Snapshot, after: &Snapshot, sso_failures: usize) -> Vec<String> {
    let mut out = Vec::new();
    for ((table, rows_before), (_, rows_after)) in before.tables.iter().zip(&after.tables) {
        if rows_before != rows_after {
            let gone: Vec<_> = rows_before
                .iter()
                .filter(|r| !rows_after.contains(r))
                .collect();
            let new: Vec<_> = rows_after
                .iter()
                .filter(|r| !rows_before.contains(r))
                .collect();
            out.push(format!(
                "B's {table} changed ({} → {} rows); before: {}; after: {}",
                rows_before.len(),
                rows_after.len(),
                excerpt(&format!("{gone:?}"), 400),
                excerpt(&format!("{new:?}"), 400)
            ));
        }
    }
    let lost: Vec<_> = before
        .events
        .iter()
        .filter(|e| !after.events.contains(e))
        .collect();
    if !lost.is_empty() {
        out.push(format!("B's events lost or changed: {lost:?}"));
    }
    let new: Vec<_> = after
        .events
        .iter()
        .filter(|e| !before.events.contains(e))
        .collect();
    let (sso, other): (Vec<_>, Vec<_>) = new
        .into_iter()
        .partition(|e| e[1].as_deref() == Some("sso_sign_in") && e[2].as_deref() == Some("0"));
    if !other.is_empty() {
        out.push(format!(
            "new events in B: {}",
            excerpt(&format!("{other:?}"), 600)
        ));
    }
    if sso.len() != sso_failures {
        out.push(format!(
            "expected {sso_failures} new failed-SSO event(s) in B, found {}: {}",
            sso.len(),
            excerpt(&format!("{sso:?}"), 600)
        ));
    }
    if before.totals != after.totals {
        out.push(format!(
            "organisations/admins in the database: {:?} → {:?}",
            before.totals, after.totals
        ));
    }
    out
}

// ---- what exists: server functions and routes, read from the sources ------------------------

/// The repository root (this crate is `server/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

pub fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rs_files(dir, &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect()
}

/// Every `#[server(endpoint = "…")]` in `app/src`; a server function without an explicit
/// endpoint is listed as `<no endpoint: file>` so that it fails the coverage check visibly.
pub fn server_functions() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, text) in sources(&root().join("app/src")) {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let at = offset + line.len() - line.trim_start().len();
            offset += line.len();
            // An attribute starts a line (a mention in a comment does not).
            if !line.trim_start().starts_with("#[server") {
                continue;
            }
            let rest = &text[at..];
            let attr = &rest[..rest.find(']').unwrap_or(rest.len())];
            // `#[server(flatten)]` and the like mark an argument, not a function.
            if ["flatten", "default", "rename"]
                .iter()
                .any(|a| attr.trim_start_matches("#[server(").starts_with(a))
            {
                continue;
            }
            match attr
                .split("endpoint")
                .nth(1)
                .and_then(|r| r.split('"').nth(1))
            {
                Some(name) => out.insert(name.to_string()),
                None => out.insert(format!("<no endpoint: {}>", path.display())),
            };
        }
    }
    out
}

/// One route: "GET", "POST", …, "ANY" for axum routes and "PAGE" for Leptos pages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "any", "head", "options",
];

/// The argument text of the call whose `(` precedes `s` (up to its matching `)`).
fn call_args(s: &str) -> &str {
    let mut depth = 1;
    let mut in_str = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

fn string_const(all: &[(PathBuf, String)], name: &str) -> Option<String> {
    let needle = format!("const {name}: &str = \"");
    all.iter().find_map(|(_, text)| {
        let i = text.find(&needle)?;
        text[i + needle.len()..]
            .split('"')
            .next()
            .map(str::to_string)
    })
}

/// Every axum `.route(…)` under `server/src` (with the `.nest` prefix of its file), and every
/// Leptos `<Route>` of `app/src/lib.rs`.
pub fn routes() -> Vec<Route> {
    let server = sources(&root().join("server/src"));
    let app = sources(&root().join("app/src"));
    let all: Vec<_> = server.iter().chain(app.iter()).cloned().collect();
    let mut out = Vec::new();
    for (path, text) in &server {
        let prefix = text
            .split(".nest(\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + 7..];
            let args = call_args(rest);
            let (first, handlers) = args.split_once(',').unwrap_or((args, ""));
            let first = first.trim();
            let route_path = if let Some(lit) = first.strip_prefix('"') {
                lit.trim_end_matches('"').to_string()
            } else {
                let name = first.rsplit("::").next().unwrap_or(first);
                string_const(&all, name)
                    .unwrap_or_else(|| format!("<unresolved {first} in {}>", path.display()))
            };
            let full = format!("{prefix}{route_path}");
            let mut methods = BTreeSet::new();
            let bytes = handlers.as_bytes();
            for m in METHODS {
                let mut from = 0;
                while let Some(j) = handlers[from..].find(&format!("{m}(")) {
                    let at = from + j;
                    let before = at.checked_sub(1).map(|k| bytes[k] as char);
                    if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        methods.insert(m.to_uppercase());
                    }
                    from = at + m.len();
                }
            }
            if methods.is_empty() {
                methods.insert("?".into());
            }
            for m in methods {
                out.push(Route {
                    method: m,
                    path: full.clone(),
                });
            }
        }
    }
    let lib = std::fs::read_to_string(root().join("app/src/lib.rs")).expect("app/src/lib.rs");
    let mut parents: Vec<String> = Vec::new();
    for line in lib.lines() {
        let t = line.trim();
        let lit = t
            .split("path!(\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_string);
        if t.starts_with("</ParentRoute") {
            parents.pop();
        } else if let (true, Some(p)) = (t.starts_with("<ParentRoute"), lit.clone()) {
            parents.push(join(parents.last().map(String::as_str), &p));
        } else if let (true, Some(p)) = (t.starts_with("<Route"), lit) {
            out.push(Route {
                method: "PAGE".into(),
                path: join(parents.last().map(String::as_str), &p),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

fn join(parent: Option<&str>, child: &str) -> String {
    match parent {
        None => child.to_string(),
        Some(p) if child.is_empty() => p.to_string(),
        Some(p) => format!(
            "{}/{}",
            p.trim_end_matches('/'),
            child.trim_start_matches('/')
        ),
    }
}

/// How well `path` matches `pattern` (literal segments matched), if it does.
fn matches(pattern: &str, path: &str) -> Option<usize> {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut literal = 0;
    for (i, seg) in pat.iter().enumerate() {
        if seg.starts_with("{*") {
            return (got.len() > i).then_some(literal);
        }
        let g = got.get(i)?;
        if (seg.starts_with('{') && seg.ends_with('}')) || seg.starts_with(':') {
            if g.is_empty() {
                return None;
            }
        } else if seg != g {
            return None;
        } else {
            literal += 1;
        }
    }
    (pat.len() == got.len()).then_some(literal)
}

/// The coverage key of a request: the server function's endpoint, or the route it reaches.
pub fn request_key(req: &Req, routes: &[Route]) -> String {
    let normalised;
    let (method, path) = match req {
        Req::Fn(name, _) => return name.to_string(),
        Req::Raw(method, path) => {
            // Keyed by where a normalising proxy would send it.
            let mut segs: Vec<&str> = Vec::new();
            for seg in path.split('?').next().unwrap_or(path).split('/') {
                match seg {
                    ".." => {
                        segs.pop();
                    }
                    "." | "" => {}
                    s => segs.push(s),
                }
            }
            normalised = format!("/{}", segs.join("/"));
            (*method, normalised.as_str())
        }
        Req::Form(path, _) | Req::Acs(path, _, _) => ("POST", path.as_str()),
        Req::Get(path) => ("GET", path.as_str()),
        Req::Scim(m, path, _) => (m.as_str(), path.as_str()),
    };
    let path = path.split('?').next().unwrap_or(path);
    let best = |kinds: &[&str]| {
        routes
            .iter()
            .filter(|r| kinds.contains(&r.method.as_str()))
            .filter_map(|r| matches(&r.path, path).map(|score| (score, r)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, r)| r.key())
    };
    best(&[method, "ANY"])
        .or_else(|| (method == "GET").then(|| best(&["PAGE"])).flatten())
        .unwrap_or_else(|| format!("{method} {path} (no route)"))
}

// ---- the next certificates (self-signed, RSA 2048, valid 2026-11-30 to 2036-11-27) -------------

const ALPHA_NEXT_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDRzCCAi+gAwIBAgIUIaoN/t8E2datJmfn1A+T2PAqEzQwDQYJKoZIhvcNAQEL
BQAwMzExMC8GA1UEAwwoQ3Jvc3MtdGVuYW50IHRlc3QgbmV4dCBjZXJ0aWZpY2F0
ZSBhbHBoYTAeFw0yNjExMzAyMjMxNThaFw0zNjExMjcyMjMxNThaMDMxMTAvBgNV
BAMMKENyb3NzLXRlbmFudCB0ZXN0IG5leHQgY2VydGlmaWNhdGUgYWxwaGEwggEi
MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCmHLvcHd2l26uU/iOwUCOi+Qa6
WEEbhfpKr2E259NBzjPUZrhC0zbi3iK2YaUKlGUxQ14p6U1XsncV3VVwJVndhubM
P6tgcuyvjdZQQGJROK7XBc+pZ7cATElLkkNM39vB34Drpxp4Q09TRdDkvHxU9adY
r2vuD/zPvaQ/phx8xpE7ngefLdwvK1R6L7+rPLUsgWkDUI3R1WzIjQnv3dve1JtO
mejnwRa7J5J7+pPX49rB76JfR1VLsibpTZJ65hg4zM6yrqNRD77n9EFUn+SNxMng
4woFdBSg5CSTXbmHsWDI4uaN/fOHDUQXcZdAvSRSxtar9IZu48a02cFHDHSPAgMB
AAGjUzBRMB0GA1UdDgQWBBR2uYwL8KnrVM5P57jvelVyr/plYDAfBgNVHSMEGDAW
gBR2uYwL8KnrVM5P57jvelVyr/plYDAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3
DQEBCwUAA4IBAQBxEjubtNN55D//kfuMhSzlmbFp+QFLQDgIDJTp2Al/I9OZH7lo
/WP+h+0RNB/6H9P0Q2DWzDvyybeqcauQgywCxDP16QlCe6X8vmSdBVTn7P78ysGu
r8ahK33kdTMUmp2WX4HJ4nXfYS945YzFlT64cCtP4DfgvaIb00H7bRET9+At1d69
amVkSB7OoPf4ApAfHBd3Q6xuxQ3QVWKNSjvFL96QBl4VW9gNUv4oQhiBgbPyoed6
qygsH2DHwmF14x+s0qfMMM8qW8HLjwf5BqtTzBoLWVSlUWP9OTW3IMgS2zjKP/QA
PV2Fpy7Ny8TzqxXVum8af+vP4ea5HLmy+3Y8
-----END CERTIFICATE-----
";

const BRAVO_NEXT_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDRzCCAi+gAwIBAgIUb4pEvbC5NeBdV3gLE811FCVRV+cwDQYJKoZIhvcNAQEL
BQAwMzExMC8GA1UEAwwoQ3Jvc3MtdGVuYW50IHRlc3QgbmV4dCBjZXJ0aWZpY2F0
ZSBicmF2bzAeFw0yNjExMzAyMjMxNThaFw0zNjExMjcyMjMxNThaMDMxMTAvBgNV
BAMMKENyb3NzLXRlbmFudCB0ZXN0IG5leHQgY2VydGlmaWNhdGUgYnJhdm8wggEi
MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCzvGo266NMLOzhR4Kr5OXzgwRR
aGWVcvnzr2FXacaMpXA16ahsKpq7Vzy/RCznyLDNZuZf7aMt+KhOEPqHDut3AXum
3zrZF2Tmu6lAm8PL7u1LZLTv8KVXKcqESOy1oqn5Rr6jSkQz0TbZ2cv/fPKNJf/C
hoKxJdxrJVYJLF1g3SobrQA9DU8mxSgX611g9uHv4X50q/sO5kCZ5QORShiCBVIU
GdVTNtv1/8sFP8PpEy7VLd59XQxmJBc0x8oyd6gVF4qcU6zMye3+o6lQ1d26qd9c
pYiUurLbO8nedOhVgLe/33desXc2hJTM2RMNoW/NM6qYwwD0nCoDLaKkS+qDAgMB
AAGjUzBRMB0GA1UdDgQWBBRmrTv2VlbsBLnbpiWWIOeN8UMb/TAfBgNVHSMEGDAW
gBRmrTv2VlbsBLnbpiWWIOeN8UMb/TAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3
DQEBCwUAA4IBAQAsKoywHDCokotluX+TXcoYZPEbAC2whGmvAS+W6lmXmvpt+oQk
TipzlcNToJP9URhs0dswgshIke+CCrrO5ePwb1IVHpCZl0HFaRTrCSFbTrWHAp+i
x0RKYGgK3SIziMvDfwQJxcrokMHifLccfYdK7IOmieGQW/z7BAd3XVkY9PbIIWgW
jy1WjdmPxD7K7VfCb82+dCjn+OdR44XJDZTV3qiKsKxfXtv77jbt68Ew9tbrtGro
rb+ZCnRO+XLQptCLQ97cNS3grPNNviVCFCTTt2QvLIRbY9ur39Xsy90idcRrsFEa
Dn5Sg/cOsZOb5kjNCQxPaYbU1IvVYvp0ge2k
-----END CERTIFICATE-----
";

// ---- Second factor (issue 12, two-factor) ------------------------------------------------------

async fn admin_id_of(app: &TestApp, org_id: &str) -> String {
    sqlx::query_scalar("SELECT id FROM admins WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .expect("setup: the org's admin")
}

/// A passkey row for the admin, straight into the store (the matrix only removes it, which never
/// reads the credential).
async fn add_passkey(app: &TestApp, admin_id: &str, p: &str) -> String {
    let id = portal_core::ids::new_id();
    sqlx::query(
        "INSERT INTO admin_passkeys (id, admin_id, name, credential_id, passkey, created_at) \
         VALUES ($1, $2, $3, $4, '{}', 0)",
    )
    .bind(&id)
    .bind(admin_id)
    .bind(format!("{p}-secret-passkey"))
    .bind(format!("{p}-credential"))
    .execute(&app.t.svc.db.pool)
    .await
    .expect("setup: a passkey");
    id
}

/// SCIM request log (issue 13): the id of the org's first logged SCIM user creation (the log is
/// written off the request path, so this waits for it).
async fn first_scim_request(app: &TestApp, p: &str, org: &str) -> String {
    for _ in 0..400 {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM scim_requests WHERE org_id = $1 AND method = 'POST' AND status = 201 \
             ORDER BY at, seq LIMIT 1",
        )
        .bind(org)
        .fetch_optional(&app.t.svc.db.pool)
        .await
        .unwrap();
        if let Some((id,)) = row {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("setup: no logged SCIM request of {p}");
}
