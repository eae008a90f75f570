//! Setup links for outside IT contacts (issue 13) over HTTP, on SQLite and PostgreSQL: made by an
//! Owner or Admin, scoped, stored hashed, expiring, revocable, tied to their sender's role; what
//! a link opens (its scope's guided screens and nothing else: no session, no admin screens); every
//! change through it an event naming it; another org's link ids and tokens; bursts; bad input.

use portal_core::admins::Role;
use portal_core::secret::sha256_hex;
use portal_test_support::add_admin;
use serde_json::Value;

use crate::common::*;

const HOUR: i64 = 3_600_000;

async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn call(
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> (u16, Value) {
    json(app.post_fn(name, form, cookie).await).await
}

/// Makes a link as the admin of `cookie`; returns (status, body).
async fn create(
    app: &TestApp,
    cookie: &str,
    label: &str,
    scope: &str,
    hours: &str,
) -> (u16, Value) {
    call(
        app,
        "create_setup_link",
        &[("label", label), ("scope", scope), ("hours", hours)],
        Some(cookie),
    )
    .await
}

/// Makes a link that must succeed; returns its secret (the last path segment of its address).
async fn link(app: &TestApp, cookie: &str, label: &str, scope: &str) -> String {
    let (st, body) = create(app, cookie, label, scope, "72").await;
    assert_eq!(st, 200, "{body}");
    let url = body["url"].as_str().expect("the link's address");
    assert!(
        url.starts_with(&format!("{}/setup-link/", app.t.svc.settings.public_url)),
        "{url}"
    );
    url.rsplit('/').next().unwrap().to_string()
}

/// What the link's pages load; `Value::Null` for a link that does not work.
async fn open(app: &TestApp, token: &str) -> Value {
    let (st, body) = call(app, "load_setup_link", &[("token", token)], None).await;
    assert_eq!(st, 200, "{body}");
    body
}

async fn save_sso(app: &TestApp, token: &str, sso_url: &str) -> (u16, Value) {
    let cert = crate::saml_http::cert("idp");
    call(
        app,
        "setup_link_save_sso",
        &[
            ("token", token),
            ("sso_url", sso_url),
            ("certificate", cert.as_str()),
            ("idp_entity_id", ""),
        ],
        None,
    )
    .await
}

async fn sso_url_of(app: &TestApp, org: &str) -> Option<String> {
    portal_core::sso::get(&app.t.svc, org)
        .await
        .unwrap()
        .map(|c| c.sso_url)
}

/// (name, actor) of the org's events, oldest first.
async fn events(app: &TestApp, org: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT name, actor FROM events WHERE org_id = $1 ORDER BY at, seq")
        .bind(org)
        .fetch_all(&app.t.svc.db.pool)
        .await
        .unwrap()
}

async fn link_rows(app: &TestApp, org: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM setup_links WHERE org_id = $1")
        .bind(org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap()
}

async fn scim_tokens(app: &TestApp, org: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1")
        .bind(org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap()
}

async fn page(app: &TestApp, path: &str) -> (u16, String, bool) {
    let res = app.get(path, None).await;
    let status = res.status().as_u16();
    let sets_session = session_cookie(&res).is_some();
    (status, res.text().await.unwrap(), sets_session)
}

app_test!(
    an_sso_link_sets_up_sso_only_and_names_itself_in_activity,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let token = link(&app, &owner, "Dana from IT", "sso").await;

        // Stored hashed: no column holds the secret.
        let (id, hash): (String, String) =
            sqlx::query_as("SELECT id, token_hash FROM setup_links WHERE org_id = $1")
                .bind(&org)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(hash, sha256_hex(&token));
        assert_ne!(hash, token);

        // The holder (no cookie at all) sees SSO setup for Acme, nothing of provisioning.
        let v = open(&app, &token).await;
        assert_eq!(v["org_name"], "Acme", "{v}");
        assert_eq!(v["scope"], "Sso", "{v}");
        assert_eq!(v["sent_by"], "owner@acme.test");
        assert!(v["sso"]["acs_url"].as_str().unwrap().contains(&org), "{v}");
        assert!(v["provisioning"].is_null(), "{v}");

        // An admin had staged a next certificate for the old IdP.
        portal_core::sso::save(
            &app.t.svc,
            &org,
            "owner@acme.test",
            &portal_core::sso::SsoInput {
                sso_url: "https://old-idp.acme.test/sso".into(),
                certificate: crate::saml_http::cert("idp"),
                next_certificate: crate::saml_http::cert("other"),
                jit_enabled: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();

        // Saves the IdP's values; the event names the link, its id and its sender.
        let (st, body) = save_sso(&app, &token, "https://idp.acme.test/sso").await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(
            sso_url_of(&app, &org).await.as_deref(),
            Some("https://idp.acme.test/sso")
        );
        let cfg = portal_core::sso::get(&app.t.svc, &org)
            .await
            .unwrap()
            .unwrap();
        assert!(
            cfg.next_certificate.is_none(),
            "the staged certificate stays trusted"
        );
        assert!(!cfg.jit_enabled, "the admin's options stay as they were");
        let actor = format!("setup link \"Dana from IT\" ({id}) sent by owner@acme.test");
        let evs = events(&app, &org).await;
        assert!(
            evs.iter()
                .any(|(n, a)| n == "setup_link_created" && a == "owner@acme.test"),
            "{evs:?}"
        );
        assert!(
            evs.iter()
                .any(|(n, a)| n.starts_with("sso_") && *a == actor),
            "no SSO event by {actor}: {evs:?}"
        );

        // An SSO link cannot generate a SCIM token.
        let (st, body) = call(&app, "setup_link_scim_token", &[("token", &token)], None).await;
        assert_eq!(st, 403, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("single sign-on only"),
            "{body}"
        );
        assert_eq!(scim_tokens(&app, &org).await, 0);

        // Its pages: the SSO screen with the guide picker; the provisioning one refuses.
        let (st, html, sets) = page(&app, &format!("/setup-link/{token}/sso")).await;
        assert_eq!(st, 200);
        assert!(html.contains("Set up single sign-on"), "{html}");
        assert!(html.contains("Set up with:"), "{html}");
        assert!(!sets, "opening a setup link must not start a session");
        let (_, html, _) = page(&app, &format!("/setup-link/{token}/provisioning")).await;
        assert!(html.contains("for single sign-on only"), "{html}");
        assert!(!html.contains("/scim/v2/"), "{html}");
        // The JumpCloud guide on the link's own page, with our values filled in.
        let (_, html, _) = page(&app, &format!("/setup-link/{token}/sso?idp=jumpcloud")).await;
        assert!(html.contains("data-idp=\"jumpcloud\""), "{html}");
        assert!(html.contains(&format!("/saml/{org}/acs")), "{html}");

        // Nothing of the admin side opens without an admin's session.
        let res = app.get("/admin/users", None).await;
        assert_eq!(res.status().as_u16(), 302);
        for name in [
            "load_sso",
            "load_provisioning",
            "list_groups",
            "load_setup_links",
        ] {
            let (st, _) = call(&app, name, &[("token", &token)], None).await;
            assert_eq!(st, 401, "{name}");
        }
    }
);

app_test!(
    a_provisioning_link_turns_scim_on_then_rotates_and_cannot_touch_sso,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let token = link(&app, &owner, "it@acme.test", "provisioning").await;
        let v = open(&app, &token).await;
        assert!(v["sso"].is_null(), "{v}");
        assert_eq!(v["provisioning"]["token_active"], false, "{v}");
        assert_eq!(
            v["provisioning"]["scim_base_url"],
            format!("{}/scim/v2/{org}", app.t.svc.settings.public_url)
        );

        // First token: provisioning on, as the link.
        let (st, body) = call(&app, "setup_link_scim_token", &[("token", &token)], None).await;
        assert_eq!(st, 200, "{body}");
        let first = Scim {
            app: &app,
            org: org.clone(),
            token: body["token"].as_str().unwrap().to_string(),
        };
        assert_eq!(first.get("/Users").await.0, 200);
        let evs = events(&app, &org).await;
        assert!(
            evs.iter().any(|(n, a)| n == "idm_integration_activate"
                && a.starts_with("setup link \"it@acme.test\"")),
            "{evs:?}"
        );

        // A second token rotates: the first keeps working until the IdP uses the new one.
        let (st, body) = call(&app, "setup_link_scim_token", &[("token", &token)], None).await;
        assert_eq!(st, 200, "{body}");
        let second = Scim {
            app: &app,
            org: org.clone(),
            token: body["token"].as_str().unwrap().to_string(),
        };
        assert_eq!(first.get("/Users").await.0, 200);
        // While that rotation is pending the link refuses: it never replaces the next token the
        // IdP may be about to use.
        let (st, body) = call(&app, "setup_link_scim_token", &[("token", &token)], None).await;
        assert_eq!(st, 409, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("rotation is already in progress"),
            "{body}"
        );
        assert_eq!(second.get("/Users").await.0, 200);
        assert_eq!(first.get("/Users").await.0, 401);
        // After the cut-over it may rotate again; the current token keeps working meanwhile.
        let (st, body) = call(&app, "setup_link_scim_token", &[("token", &token)], None).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(second.get("/Users").await.0, 200);

        // A provisioning link cannot change single sign-on.
        let (st, body) = save_sso(&app, &token, "https://evil.test/sso").await;
        assert_eq!(st, 403, "{body}");
        assert_eq!(sso_url_of(&app, &org).await, None);
    }
);

app_test!(
    expired_revoked_and_orphaned_links_open_nothing,
    |app: TestApp| async move {
        let (org, owner_admin) =
            portal_test_support::org_with_admin(&app.t.svc, "Acme", "owner@acme.test").await;
        let org = org.id;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let helper = add_admin(&app.t.svc, &org, "helper@acme.test", Role::Admin).await;
        let helper_cookie = app.sign_in("helper@acme.test", PW, None).await;

        // Expiry: one hour, and not a millisecond more.
        let (st, body) = create(&app, &owner, "short", "both", "1").await;
        assert_eq!(st, 200, "{body}");
        let short = body["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        // Revocation.
        let revoked = link(&app, &owner, "revoked", "both").await;
        // Its sender demoted to Viewer.
        let orphan = link(&app, &helper_cookie, "orphan", "sso").await;
        for t in [&short, &revoked, &orphan] {
            assert!(!open(&app, t).await.is_null());
        }

        let (_, list) = call(&app, "load_setup_links", &[], Some(&owner)).await;
        let id_of = |label: &str| {
            list["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["label"] == label)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (st, body) = call(
            &app,
            "revoke_setup_link",
            &[("id", &id_of("revoked"))],
            Some(&owner),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        portal_core::team::change_role(&app.t.svc, &owner_admin, &helper.id, Role::Viewer)
            .await
            .unwrap();
        // Promoted again: the links sent before stay revoked.
        portal_core::team::change_role(&app.t.svc, &owner_admin, &helper.id, Role::Admin)
            .await
            .unwrap();
        // The owner changes their password (say, after a stolen session): the owner's links
        // made before stop; one made after works.
        let pw_link = link(&app, &owner, "before the password change", "sso").await;
        app.t.clock.advance_ms(1);
        portal_core::account::change_password(
            &app.t.svc,
            &owner_admin,
            PW,
            "a brand new long passphrase",
            None,
            None,
        )
        .await
        .unwrap();
        let owner = app
            .sign_in("owner@acme.test", "a brand new long passphrase", None)
            .await;
        let fine = link(&app, &owner, "fine", "both").await;
        app.t.clock.advance_ms(HOUR);

        for t in [&short, &revoked, &orphan, &pw_link] {
            assert!(open(&app, t).await.is_null(), "a dead link still opens");
            let (st, body) = save_sso(&app, t, "https://evil.test/sso").await;
            assert_eq!(st, 400, "{body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("invalid, has expired or was revoked"),
                "{body}"
            );
            let (st, _) = call(&app, "setup_link_scim_token", &[("token", t)], None).await;
            assert_eq!(st, 400);
            let (st, html, _) = page(&app, &format!("/setup-link/{t}/sso")).await;
            assert_eq!(st, 200);
            assert!(
                html.contains("invalid, has expired or was revoked"),
                "{html}"
            );
            assert!(!html.contains("Set up single sign-on"), "{html}");
        }
        assert_eq!(sso_url_of(&app, &org).await, None);
        assert_eq!(scim_tokens(&app, &org).await, 0);
        assert!(!open(&app, &fine).await.is_null());

        // The list says why each stopped; the revocation is an event.
        let (_, list) = call(&app, "load_setup_links", &[], Some(&owner)).await;
        let state = |label: &str| {
            list["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["label"] == label)
                .unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(state("short"), "Expired");
        assert!(state("revoked").starts_with("Revoked"), "{list}");
        assert!(state("orphan").starts_with("Revoked"), "{list}");
        assert!(
            state("orphan").contains("system: helper@acme.test became a Viewer"),
            "{list}"
        );
        assert!(
            state("before the password change").starts_with("Stopped"),
            "{list}"
        );
        assert_eq!(state("fine"), "Active");
        assert!(events(&app, &org)
            .await
            .iter()
            .any(|(n, a)| n == "setup_link_revoked" && a == "owner@acme.test"));

        // A Viewer cannot make or revoke links.
        portal_core::team::change_role(&app.t.svc, &owner_admin, &helper.id, Role::Viewer)
            .await
            .unwrap();
        let viewer = app.sign_in("helper@acme.test", PW, None).await;
        let (st, _) = create(&app, &viewer, "again", "sso", "72").await;
        assert_eq!(st, 403);
        let fine_id = list["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["label"] == "fine")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (st, _) = call(
            &app,
            "revoke_setup_link",
            &[("id", &fine_id)],
            Some(&viewer),
        )
        .await;
        assert_eq!(st, 403);
        assert!(!open(&app, &fine).await.is_null());
    }
);

app_test!(
    another_orgs_link_id_hash_or_org_id_opens_nothing,
    |app: TestApp| async move {
        let acme = admin(&app, "Acme", "owner@acme.test").await;
        let globex = admin(&app, "Globex", "owner@globex.test").await;
        let a = app.sign_in("owner@acme.test", PW, None).await;
        let g = app.sign_in("owner@globex.test", PW, None).await;
        let a_link = link(&app, &a, "acme's IT", "both").await;
        let globex_events_before = events(&app, &globex).await;
        let (_, list) = call(&app, "load_setup_links", &[], Some(&a)).await;
        let a_id = list["links"][0]["id"].as_str().unwrap().to_string();

        // Globex's Owner: Acme's link id is not found, and Acme's link still works.
        let (st, body) = call(&app, "revoke_setup_link", &[("id", &a_id)], Some(&g)).await;
        assert_eq!(st, 404, "{body}");
        assert!(!open(&app, &a_link).await.is_null());
        let (_, glist) = call(&app, "load_setup_links", &[], Some(&g)).await;
        assert_eq!(glist["links"].as_array().unwrap().len(), 0, "{glist}");

        // The stored hash, the link id or Acme's SCIM token are not links.
        for fake in [sha256_hex(&a_link), a_id.clone()] {
            assert!(open(&app, &fake).await.is_null());
            assert_eq!(save_sso(&app, &fake, "https://evil.test/sso").await.0, 400);
        }

        // Acme's link with Globex's org id smuggled in changes Acme only.
        let cert = crate::saml_http::cert("idp");
        let (st, body) = call(
            &app,
            "setup_link_save_sso",
            &[
                ("token", a_link.as_str()),
                ("sso_url", "https://idp.acme.test/sso"),
                ("certificate", cert.as_str()),
                ("idp_entity_id", ""),
                ("org_id", globex.as_str()),
            ],
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(sso_url_of(&app, &globex).await, None);
        assert_eq!(
            sso_url_of(&app, &acme).await.as_deref(),
            Some("https://idp.acme.test/sso")
        );
        let (st, body) = call(
            &app,
            "setup_link_scim_token",
            &[("token", a_link.as_str()), ("org_id", globex.as_str())],
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(scim_tokens(&app, &globex).await, 0);
        assert_eq!(scim_tokens(&app, &acme).await, 1);
        assert_eq!(link_rows(&app, &globex).await, 0);
        assert_eq!(events(&app, &globex).await, globex_events_before);
    }
);

app_test!(
    bad_input_is_refused_and_writes_nothing,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let long = "x".repeat(101);
        for (label, scope, hours, words) in [
            ("", "sso", "72", "who the link is for"),
            ("   ", "sso", "72", "who the link is for"),
            (long.as_str(), "sso", "72", "too long"),
            ("tab\there", "sso", "72", "control characters"),
            (
                "Dana\" (01J0000000) sent by owner@acme.test",
                "sso",
                "72",
                "double quotes",
            ),
            (
                "evil\u{202E}tset.emca@renwo",
                "sso",
                "72",
                "direction-changing",
            ),
            ("zero\u{200B}width", "sso", "72", "invisible"),
            ("line\u{2028}separator", "sso", "72", "invisible"),
            (
                "Dana",
                "admin",
                "72",
                "single sign-on, provisioning or both",
            ),
            ("Dana", "", "72", "single sign-on, provisioning or both"),
            ("Dana", "sso", "0", "between 1 hour and 168 hours"),
            ("Dana", "sso", "169", "between 1 hour and 168 hours"),
            ("Dana", "sso", "-5", "between 1 hour and 168 hours"),
        ] {
            let (st, body) = create(&app, &owner, label, scope, hours).await;
            assert_eq!(st, 400, "{label:?} {scope:?} {hours:?}: {body}");
            assert!(
                body["message"].as_str().unwrap_or_default().contains(words),
                "{label:?} {scope:?} {hours:?}: {body}"
            );
        }
        // Not a number at all: refused by the server function's decoding, still no 500.
        let (st, _) = create(&app, &owner, "Dana", "sso", "seventy").await;
        assert!((400..500).contains(&st), "{st}");
        // A huge label is refused too (the body limit or the validation).
        let huge = "y".repeat(2_000_000);
        let (st, _) = create(&app, &owner, &huge, "sso", "72").await;
        assert!((400..500).contains(&st), "{st}");
        assert_eq!(link_rows(&app, &org).await, 0);

        // A plain form post (no JavaScript) would lose the one-time address: refused first.
        let res = app
            .http
            .post(format!("{}/api/create_setup_link", app.url))
            .header("Origin", &app.url)
            .header("Sec-Fetch-Site", "same-origin")
            .header("Accept", "text/html,application/xhtml+xml")
            .header("Referer", format!("{}/admin/setup-links", app.url))
            .header("Cookie", &owner)
            .form(&[("label", "Dana"), ("scope", "sso"), ("hours", "72")])
            .timeout(HTTP_TIMEOUT);
        let res = sent(res, "POST", "/api/create_setup_link").await;
        assert!(res.status().as_u16() < 500);
        assert_eq!(link_rows(&app, &org).await, 0);

        // Malformed and oversized link secrets are just "not a link".
        for t in ["", "../../admin", "a b", &"z".repeat(5000)] {
            assert!(open(&app, t).await.is_null(), "{t:?}");
        }
    }
);

app_test!(
    a_burst_of_creates_stops_at_the_limit,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let max = portal_core::setup_links::MAX_ACTIVE_PER_ORG as usize;
        let runs: Vec<_> = (0..max + 10)
            .map(|i| {
                let (http, url, cookie) = (app.http.clone(), app.url.clone(), owner.clone());
                tokio::spawn(async move {
                    let req = http
                        .post(format!("{url}/api/create_setup_link"))
                        .header("Origin", &url)
                        .header("Sec-Fetch-Site", "same-origin")
                        .header("Accept", "application/json")
                        .header("Cookie", cookie)
                        .form(&[
                            ("label", format!("burst {i}")),
                            ("scope", "sso".to_string()),
                            ("hours", "72".to_string()),
                        ]);
                    sent(req, "POST", "/api/create_setup_link")
                        .await
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut ok = 0;
        for r in runs {
            match r.await.unwrap() {
                200 => ok += 1,
                409 => {}
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(ok, max);
        assert_eq!(link_rows(&app, &org).await, max as i64);
    }
);

app_test!(
    a_burst_of_actions_through_one_link_stops_at_its_rate_limit,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let token = link(&app, &owner, "Dana from IT", "sso").await;
        let id: String = sqlx::query_scalar("SELECT id FROM setup_links WHERE org_id = $1")
            .bind(&org)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        let actor = format!("setup link \"Dana from IT\" ({id}) sent by owner@acme.test");
        let max = portal_core::setup_links::MAX_ACTIONS_PER_WINDOW as usize;
        // All at once, each a different address (so each save is a change and an event).
        let urls: Vec<String> = (0..max + 5)
            .map(|i| format!("https://idp{i}.acme.test/sso"))
            .collect();
        let results =
            futures::future::join_all(urls.iter().map(|u| save_sso(&app, &token, u))).await;
        let ok = results.iter().filter(|(st, _)| *st == 200).count();
        let limited: Vec<_> = results.iter().filter(|(st, _)| *st == 429).collect();
        assert_eq!(ok, max, "{results:?}");
        assert_eq!(limited.len(), 5, "{results:?}");
        // Refused actions wrote nothing: one SSO event per accepted save, none for the refused.
        let by_link = events(&app, &org)
            .await
            .into_iter()
            .filter(|(n, a)| n.starts_with("sso_") && *a == actor)
            .count();
        assert_eq!(by_link, max);
        let uses: i64 = sqlx::query_scalar("SELECT use_count FROM setup_links WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(uses, max as i64);
        // The limit is the link's own: the admin's screens and another link keep working.
        let other = link(&app, &owner, "Erin from IT", "sso").await;
        let (st, body) = save_sso(&app, &other, "https://idp.erin.test/sso").await;
        assert_eq!(st, 200, "{body}");
        // And the refused link says when to come back.
        let res = app
            .post_fn(
                "setup_link_save_sso",
                &[
                    ("token", token.as_str()),
                    ("sso_url", "https://late.acme.test/sso"),
                    ("certificate", crate::saml_http::cert("idp").as_str()),
                    ("idp_entity_id", ""),
                ],
                None,
            )
            .await;
        assert_eq!(res.status().as_u16(), 429);
        let wait: i64 = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("a Retry-After header");
        assert!(wait > 0 && wait <= portal_core::setup_links::ACTION_WINDOW_MS / 1000);
        assert_eq!(
            sso_url_of(&app, &org).await.as_deref(),
            Some("https://idp.erin.test/sso")
        );
    }
);
