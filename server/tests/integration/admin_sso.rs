//! Admins through SSO (issue 12): `/admin/login?org=…` → `/admin/sso-login` → the org's IdP →
//! the ACS signs in an *admin of that organisation* (role unchanged). JIT never creates admins,
//! an IdP cannot sign in another organisation's admin, only an SP-initiated request of the same
//! browser counts, and "Require SSO for admins" leaves Owners their password.

use portal_core::admins::Role;
use portal_core::sso::{self, SsoInput};
use portal_core::Clock;

use crate::common::*;
use crate::saml_http::{cert, last_event, post_acs, set_cookie};
use crate::saml_idp::{self, Opts, Sign};

const IDP_SSO: &str = "https://idp.test/sso";

/// SSO for `org` signed by the test IdP key `key` ("idp" or "other").
async fn configure(app: &TestApp, org: &str, key: &str) {
    sso::save(
        &app.t.svc,
        org,
        "admin@test",
        &SsoInput {
            sso_url: IDP_SSO.into(),
            certificate: cert(key),
            jit_enabled: true,
            ..SsoInput::default()
        },
    )
    .await
    .unwrap();
}

/// Starts an admin's SSO sign-in for `org`: (AuthnRequest ID, browser cookie).
async fn start(app: &TestApp, org: &str) -> (String, String) {
    let res = app.get(&format!("/admin/sso-login?org={org}"), None).await;
    assert_eq!(res.status(), 303, "admin SSO start");
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(IDP_SSO), "{location}");
    let browser = set_cookie(&res, "portal_saml").expect("browser-binding cookie");
    let url = url::Url::parse(&location).unwrap();
    assert!(
        !url.query_pairs().any(|(k, _)| k == "RelayState"),
        "an admin sign-in carries no RelayState"
    );
    (authn_request_id(&location), browser)
}

fn authn_request_id(location: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let url = url::Url::parse(location).unwrap();
    let req = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .to_string();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(req)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    xml.split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// A response for `org` signed with `key`, asserting `email` as NameID.
fn response(app: &TestApp, org: &str, key: &'static str, email: &str, irt: Option<&str>) -> String {
    saml_idp::signed_xml(&Opts {
        key,
        sign: Sign::Assertion,
        name_id_xml: email.to_string(),
        attributes: Vec::new(),
        in_response_to: irt.map(str::to_string),
        ..saml_idp::opts_for(&app.url, org, app.t.clock.now_ms())
    })
}

async fn who(app: &TestApp, session: &str) -> serde_json::Value {
    let res = app.post_fn("load_admin_view", &[], Some(session)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn admin_count(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM admins")
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap()
        .0
}

app_test!(
    an_admin_signs_in_through_the_org_idp_with_the_role_unchanged,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        portal_test_support::add_admin(&app.t.svc, &org, "viewer@acme.test", Role::Viewer).await;
        configure(&app, &org, "idp").await;

        // The sign-in page offers SSO for this org, and only for an org that has it.
        let offered = app
            .post_fn("admin_sso_available", &[("org", org.as_str())], None)
            .await;
        assert_eq!(offered.text().await.unwrap(), "true");
        let other = admin(&app, "NoSso", "owner@nosso.test").await;
        let offered = app
            .post_fn("admin_sso_available", &[("org", other.as_str())], None)
            .await;
        assert_eq!(offered.text().await.unwrap(), "false");

        let (id, browser) = start(&app, &org).await;
        let xml = response(&app, &org, "idp", "Viewer@Acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/admin");
        let session = session_cookie(&res).expect("an admin session starts");
        assert_eq!(who(&app, &session).await["admin_email"], "viewer@acme.test");
        // The role is the one the Owners gave: a Viewer through SSO still changes nothing.
        let refused = app
            .post_fn("generate_scim_token", &[], Some(&session))
            .await;
        assert_eq!(refused.status(), 403);
        let e = last_event(&app, &org).await;
        assert_eq!((e.name.as_str(), e.success), ("admin_sign_in", true));
        assert!(e.message.contains("SSO"), "{}", e.message);
        // The session says how it started.
        let method: (Option<String>,) = sqlx::query_as(
            "SELECT method FROM sessions WHERE admin_id IS NOT NULL AND method = 'sso'",
        )
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(method.0.as_deref(), Some("sso"));
    }
);

app_test!(
    jit_never_creates_an_admin_and_an_unknown_address_is_refused,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        configure(&app, &org, "idp").await;
        let before = admin_count(&app).await;
        let (id, browser) = start(&app, &org).await;
        let xml = response(&app, &org, "idp", "stranger@acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
        assert!(res.text().await.unwrap().contains("not an administrator"));
        assert_eq!(admin_count(&app).await, before);
        // Nor is an employee account made for the address by this admin sign-in.
        let mut tx = app.t.svc.db.begin_write().await.unwrap();
        assert!(
            portal_core::users::find_by_user_name(&mut tx, &org, "stranger@acme.test")
                .await
                .unwrap()
                .is_none()
        );
    }
);

app_test!(
    an_org_idp_cannot_sign_in_another_orgs_admin,
    |app: TestApp| async move {
        // Org A's admin runs A's IdP (key "other") and asserts org B's admin's address in answer
        // to A's own admin sign-in.
        let a = admin(&app, "Alpha", "owner@alpha.test").await;
        let b = admin(&app, "Bravo", "owner@bravo.test").await;
        configure(&app, &a, "other").await;
        configure(&app, &b, "idp").await;
        let (id, browser) = start(&app, &a).await;
        let xml = response(&app, &a, "other", "owner@bravo.test", Some(&id));
        let res = post_acs(&app, &a, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
        // The same assertion, posted to B's ACS, does not verify against B's certificate.
        let (id_b, browser_b) = start(&app, &b).await;
        let xml = response(&app, &b, "other", "owner@bravo.test", Some(&id_b));
        let res = post_acs(&app, &b, &xml, None, Some(&browser_b)).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
    }
);

app_test!(
    only_an_sp_initiated_admin_request_of_the_same_browser_signs_an_admin_in,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        configure(&app, &org, "idp").await;
        // IdP-initiated (no InResponseTo): the address is treated as an employee's, never as an
        // admin sign-in.
        let xml = response(&app, &org, "idp", "owner@acme.test", None);
        let res = post_acs(&app, &org, &xml, None, None).await;
        if let Some(session) = session_cookie(&res) {
            let view = app.post_fn("load_admin_view", &[], Some(&session)).await;
            assert_eq!(view.text().await.unwrap(), "null", "no admin session");
        }
        assert_ne!(
            res.headers().get("location").map(|v| v.to_str().unwrap()),
            Some("/admin")
        );
        // The admin's request answered in another browser: refused.
        let (id, _browser) = start(&app, &org).await;
        let (_, other_browser) = start(&app, &org).await;
        let xml = response(&app, &org, "idp", "owner@acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&other_browser)).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
    }
);

app_test!(
    require_sso_for_admins_leaves_owners_their_password,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        portal_test_support::add_admin(&app.t.svc, &org, "admin@acme.test", Role::Admin).await;
        configure(&app, &org, "idp").await;
        sqlx::query("UPDATE orgs SET require_sso_for_admins = 1 WHERE id = $1")
            .bind(&org)
            .execute(&app.t.svc.db.pool)
            .await
            .unwrap();
        let res = app
            .post_fn(
                "admin_login",
                &[
                    ("email", "admin@acme.test"),
                    ("password", portal_test_support::PW),
                ],
                None,
            )
            .await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("requires single sign-on"));
        // A wrong password says only that: the SSO rule is not disclosed before the password.
        let res = app
            .post_fn(
                "admin_login",
                &[
                    ("email", "admin@acme.test"),
                    ("password", "not the password at all"),
                ],
                None,
            )
            .await;
        assert_eq!(res.status(), 401);
        // The Owner's break-glass path — which needs a second factor: an Owner without one is
        // taken to enrolment and refused everything else.
        let owner = app
            .sign_in("owner@acme.test", portal_test_support::PW, None)
            .await;
        let view = who(&app, &owner).await;
        assert_eq!(view["admin_email"], "owner@acme.test");
        assert_eq!(view["second_factor_required"], true);
        let refused = app.post_fn("load_provisioning", &[], Some(&owner)).await;
        assert_eq!(refused.status(), 403);
        // Without the SSO requirement (and without require_2fa) the same Owner needs none.
        let set = |v: i64| {
            sqlx::query("UPDATE orgs SET require_sso_for_admins = $1 WHERE id = $2")
                .bind(v)
                .bind(org.clone())
                .execute(&app.t.svc.db.pool)
        };
        set(0).await.unwrap();
        assert_eq!(who(&app, &owner).await["second_factor_required"], false);
        set(1).await.unwrap();
        // And the Admin signs in through SSO.
        let (id, browser) = start(&app, &org).await;
        let xml = response(&app, &org, "idp", "admin@acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 303);
        let session = session_cookie(&res).unwrap();
        assert_eq!(who(&app, &session).await["admin_email"], "admin@acme.test");
    }
);

app_test!(
    admin_sso_start_refuses_a_malformed_or_unknown_org,
    |app: TestApp| async move {
        for q in ["", "?org=", "?org=%2F..%2F", "?org=a%20b"] {
            let res = app.get(&format!("/admin/sso-login{q}"), None).await;
            assert_eq!(res.status(), 400, "{q}");
        }
        let res = app.get("/admin/sso-login?org=o_doesnotexist", None).await;
        assert_eq!(res.status(), 404);
        let long = "x".repeat(5000);
        let res = app
            .post_fn("admin_sso_available", &[("org", long.as_str())], None)
            .await;
        assert_eq!(res.text().await.unwrap(), "false");
    }
);

app_test!(
    requiring_sso_for_admins_needs_sso_and_lapses_without_it,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        portal_test_support::add_admin(&app.t.svc, &org, "admin@acme.test", Role::Admin).await;
        let on = portal_core::org_settings::SettingsChange {
            require_sso_for_admins: Some(true),
            ..Default::default()
        };
        // Without SSO the requirement would lock Admins and Viewers out: refused (the screen and
        // `server org-settings` share this code).
        let err = portal_core::org_settings::update(&app.t.svc, &org, "owner@acme.test", &on)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("Set up single sign-on first"),
            "{err}"
        );
        configure(&app, &org, "idp").await;
        // The Admin's password session from before the rule ends when it is turned on.
        let before = app
            .sign_in("admin@acme.test", portal_test_support::PW, None)
            .await;
        assert_eq!(who(&app, &before).await["admin_email"], "admin@acme.test");
        portal_core::org_settings::update(&app.t.svc, &org, "owner@acme.test", &on)
            .await
            .unwrap();
        let view = app.post_fn("load_admin_view", &[], Some(&before)).await;
        assert_eq!(view.text().await.unwrap(), "null");
        let pw = [
            ("email", "admin@acme.test"),
            ("password", portal_test_support::PW),
        ];
        assert_eq!(app.post_fn("admin_login", &pw, None).await.status(), 403);
        // An Admin (signed in through SSO) cannot switch SSO off while the rule holds.
        let (id, browser) = start(&app, &org).await;
        let xml = response(&app, &org, "idp", "admin@acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        let sso_session = session_cookie(&res).expect("an SSO session");
        let refused = app
            .post_fn(
                "sso_certificate_action",
                &[("action", "deactivate")],
                Some(&sso_session),
            )
            .await;
        assert_eq!(refused.status(), 403);
        assert!(sso::get(&app.t.svc, &org).await.unwrap().is_some());
        // An invited Viewer's account is made, but the invitation does not sign them in.
        let owner = portal_core::admins::authenticate(
            &app.t.svc,
            "owner@acme.test",
            portal_test_support::PW,
            "10.3.3.3",
        )
        .await
        .unwrap();
        portal_core::invitations::invite(&app.t.svc, &owner, "late@acme.test", Role::Viewer)
            .await
            .unwrap();
        let mail = app.wait_mails("late@acme.test", 1).await;
        let token = link_tokens(&mail[0]).remove(0);
        let res = app
            .post_fn(
                "accept_invitation",
                &[
                    ("token", token.as_str()),
                    ("password", "the late viewer's passphrase"),
                    ("password_confirm", "the late viewer's passphrase"),
                ],
                None,
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
        if let Some(c) = session_cookie(&res) {
            let view = app.post_fn("load_admin_view", &[], Some(&c)).await;
            assert_eq!(
                view.text().await.unwrap(),
                "null",
                "not signed in by the link"
            );
        }
        // SSO deactivated later: the requirement lapses instead of locking the Admin out.
        sso::deactivate(&app.t.svc, &org, "owner@acme.test")
            .await
            .unwrap();
        let res = app.post_fn("admin_login", &pw, None).await;
        assert_eq!(res.status(), 200);
        assert!(session_cookie(&res).is_some());
    }
);

app_test!(
    an_admin_who_controls_the_idp_certificate_cannot_become_an_owner,
    |app: TestApp| async move {
        // An Admin may change SSO, so an Admin can make the org trust a key of their own
        // ("other") and assert any address. An assertion naming the Owner must not open an
        // Owner session: an Owner without a second factor is refused, and one with a factor
        // still owes it.
        let org = admin(&app, "Acme", "owner@acme.test").await;
        portal_test_support::add_admin(&app.t.svc, &org, "admin@acme.test", Role::Admin).await;
        configure(&app, &org, "idp").await;
        let admin_cookie = app
            .sign_in("admin@acme.test", portal_test_support::PW, None)
            .await;
        let res = app
            .post_fn(
                "save_sso",
                &[
                    ("sso_url", IDP_SSO),
                    ("certificate", &cert("idp")),
                    ("next_certificate", &cert("other")),
                    ("idp_entity_id", ""),
                    ("jit_enabled", "on"),
                ],
                Some(&admin_cookie),
            )
            .await;
        assert_eq!(res.status(), 200, "the Admin may change SSO");

        let (id, browser) = start(&app, &org).await;
        let xml = response(&app, &org, "other", "owner@acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
        assert!(res.text().await.unwrap().contains("second factor"));

        // The Owner has an authenticator app: the forged assertion gets only as far as the
        // Owner's own second step, which it cannot pass.
        sqlx::query(
            "INSERT INTO admin_totp (admin_id, secret, created_at, confirmed_at) \
             SELECT id, 'JBSWY3DPEHPK3PXP', 0, 0 FROM admins WHERE email = 'owner@acme.test'",
        )
        .execute(&app.t.svc.db.pool)
        .await
        .unwrap();
        let (id, browser) = start(&app, &org).await;
        let xml = response(&app, &org, "other", "owner@acme.test", Some(&id));
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/admin/login/verify");
        let pending = session_cookie(&res).expect("a pending session");
        let view = app.post_fn("load_admin_view", &[], Some(&pending)).await;
        assert_eq!(view.text().await.unwrap(), "null", "not signed in yet");
        let refused = app.post_fn("load_team", &[], Some(&pending)).await;
        assert_eq!(refused.status(), 401);
    }
);

app_test!(
    an_admin_sso_sign_in_started_from_another_site_asks_first,
    |app: TestApp| async move {
        // Login CSRF: a link elsewhere must not sign the browser in as an admin of the linking
        // party's org without the person confirming on our page.
        let org = admin(&app, "Acme", "owner@acme.test").await;
        configure(&app, &org, "idp").await;
        let res = app
            .http
            .get(format!("{}/admin/sso-login?org={org}", app.url))
            .header("Sec-Fetch-Site", "cross-site")
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("continue-sso"));
        let requests: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM saml_requests WHERE org_id = $1 AND purpose = 'admin_login'",
        )
        .bind(&org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(requests, 0, "no request was started");
        // From our own page it goes straight on.
        let res = app
            .http
            .get(format!("{}/admin/sso-login?org={org}", app.url))
            .header("Sec-Fetch-Site", "same-origin")
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
    }
);
