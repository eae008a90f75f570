//! Organisation settings through HTTP and the CLI, on both databases: the screen's server
//! functions (Owner-only changes), `server org-settings`, and their enforcement by SCIM (POST,
//! PUT, PATCH), SSO JIT and the Users screen.

use portal_core::admins::Role;
use portal_core::org_settings::{self, Settings, SettingsChange};
use portal_core::Clock;
use serde_json::{json, Value};

use crate::common::*;
use crate::saml_http::{configure, post_acs};
use crate::saml_idp;

async fn json_fn(app: &TestApp, name: &str, form: &[(&str, &str)], cookie: &str) -> (u16, Value) {
    let res = app.post_fn(name, form, Some(cookie)).await;
    let st = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn settings_of(app: &TestApp, org: &str) -> Settings {
    org_settings::get(&app.t.svc, org).await.unwrap().unwrap()
}

async fn change(app: &TestApp, org: &str, c: SettingsChange) {
    org_settings::update(&app.t.svc, org, "test", &c)
        .await
        .unwrap();
}

fn allow(domains: &str) -> SettingsChange {
    SettingsChange {
        allowed_domains: Some(domains.into()),
        ..Default::default()
    }
}

fn rule(on: bool) -> SettingsChange {
    SettingsChange {
        username_equals_work_email: Some(on),
        ..Default::default()
    }
}

async fn events_named(app: &TestApp, org: &str, name: &str) -> Vec<portal_core::events::Event> {
    portal_core::events::recent(&app.t.svc.db, org, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.name == name)
        .collect()
}

/// Form fields to replace, the field the refusal must name, words it must contain.
type BadCase<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

/// The complete form the screen posts, with `over` replacing fields.
fn form<'a>(over: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f: Vec<(&str, &str)> = vec![
        ("name", "Acme"),
        ("user_retention_days", "30"),
        ("event_retention_days", "365"),
        ("allowed_domains", ""),
        ("username_equals_work_email", "on"),
    ];
    for (k, v) in over {
        f.retain(|(n, _)| n != k);
        if !v.is_empty() || *k == "allowed_domains" {
            f.push((k, v));
        }
    }
    f
}

app_test!(
    owner_saves_the_settings_and_is_told_what_changed,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let cookie = app.sign_in("owner@acme.test", PW, None).await;
        // The requirements turned on below need SSO set up (SSO for admins) and leave an Owner
        // without a second factor only the enrolment screen: this Owner has an authenticator app.
        crate::saml_http::configure(&app, &org, true).await;
        sqlx::query(
            "INSERT INTO admin_totp (admin_id, secret, created_at, confirmed_at) \
             SELECT id, 'JBSWY3DPEHPK3PXP', 0, 0 FROM admins WHERE email = 'owner@acme.test'",
        )
        .execute(&app.t.svc.db.pool)
        .await
        .unwrap();
        let (st, v) = json_fn(&app, "load_org_settings", &[], &cookie).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["can_edit"], true);
        assert_eq!(v["user_retention_days"], 30);
        assert_eq!(v["event_retention_days"], 365);
        assert_eq!(v["username_equals_work_email"], true);
        let (st, v) = json_fn(
            &app,
            "save_org_settings",
            &form(&[
                ("name", "  Acme Corp "),
                ("user_retention_days", "60"),
                ("event_retention_days", "90"),
                ("allowed_domains", " @Acme.test,\nacme.example ;ACME.test. "),
                ("username_equals_work_email", ""),
                ("require_2fa", "on"),
                ("require_sso_for_admins", "on"),
            ]),
            &cookie,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        let changes: Vec<String> = serde_json::from_value(v["changes"].clone()).unwrap();
        assert_eq!(
            changes,
            [
                "name \"Acme\" → \"Acme Corp\"",
                "retention for deleted users 30 → 60 days",
                "retention for events 365 → 90 days",
                "allowed email domains any domain → acme.test, acme.example",
                "userName must equal the work email on → off",
                "require two-factor authentication off → on",
                "require single sign-on for admins off → on",
            ]
        );
        let s = settings_of(&app, &org).await;
        assert_eq!(
            s,
            Settings {
                name: "Acme Corp".into(),
                user_retention_days: 60,
                event_retention_days: 90,
                allowed_domains: vec!["acme.test".into(), "acme.example".into()],
                username_equals_work_email: false,
                require_2fa: true,
                require_sso_for_admins: true,
            }
        );
        let evs = events_named(&app, &org, "org_settings_update").await;
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].actor, "owner@acme.test");
        assert!(
            evs[0]
                .message
                .contains("retention for events 365 → 90 days"),
            "{}",
            evs[0].message
        );
        // The admin shell shows the new name.
        let (_, v) = json_fn(&app, "load_admin_view", &[], &cookie).await;
        assert_eq!(v["org_name"], "Acme Corp");
        // Saving the same values: nothing changed, no event.
        let (st, v) = json_fn(
            &app,
            "save_org_settings",
            &form(&[
                ("name", "Acme Corp"),
                ("user_retention_days", "60"),
                ("event_retention_days", "90"),
                ("allowed_domains", "acme.test, acme.example"),
                ("username_equals_work_email", ""),
                ("require_2fa", "on"),
                ("require_sso_for_admins", "on"),
            ]),
            &cookie,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["changes"], json!([]));
        assert_eq!(
            events_named(&app, &org, "org_settings_update").await.len(),
            1
        );
    }
);

app_test!(
    bad_input_names_the_field_and_changes_nothing,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        admin(&app, "Globex", "owner@globex.test").await;
        let cookie = app.sign_in("owner@acme.test", PW, None).await;
        let before = settings_of(&app, &org).await;
        let long_name = "x".repeat(101);
        let many: String = (0..51).map(|i| format!("d{i}.test,")).collect();
        let cases: Vec<BadCase> = vec![
            (vec![("name", "   ")], "org_name", "name"),
            (vec![("name", &long_name)], "org_name", "100"),
            (vec![("name", "Acme\u{7}")], "org_name", "control"),
            // Another organisation's name (compared case-insensitively): refused, nothing saved.
            (vec![("name", "GLOBEX")], "org_name", "Another organisation"),
            (
                vec![("user_retention_days", "0")],
                "user_retention_days",
                "1 to 365",
            ),
            (
                vec![("user_retention_days", "366")],
                "user_retention_days",
                "1 to 365",
            ),
            (
                vec![("user_retention_days", "ten")],
                "user_retention_days",
                "whole number",
            ),
            (
                vec![("user_retention_days", "-5")],
                "user_retention_days",
                "1 to 365",
            ),
            (
                vec![("event_retention_days", "3651")],
                "event_retention_days",
                "1 to 3650",
            ),
            (
                vec![("event_retention_days", "1e3")],
                "event_retention_days",
                "whole number",
            ),
            (
                vec![("event_retention_days", "99999999999999999999")],
                "event_retention_days",
                "whole number",
            ),
            (
                vec![("allowed_domains", "localhost")],
                "allowed_domains",
                "localhost",
            ),
            (
                vec![("allowed_domains", "acme.test, bad_domain.test")],
                "allowed_domains",
                "bad_domain.test",
            ),
            (
                vec![("allowed_domains", "-acme.test")],
                "allowed_domains",
                "-acme.test",
            ),
            (
                vec![("allowed_domains", "acme..test")],
                "allowed_domains",
                "acme..test",
            ),
            (
                vec![("allowed_domains", "10.0.0.1")],
                "allowed_domains",
                "IP address",
            ),
            (
                vec![("allowed_domains", "bücher.test")],
                "allowed_domains",
                "xn--",
            ),
            (
                vec![("allowed_domains", "a@b.test")],
                "allowed_domains",
                "a@b.test",
            ),
            (
                vec![("allowed_domains", &many)],
                "allowed_domains",
                "At most 50",
            ),
        ];
        for (over, field, words) in cases {
            let (st, v) = json_fn(&app, "save_org_settings", &form(&over), &cookie).await;
            assert_eq!(st, 400, "{over:?}: {v}");
            assert_eq!(v["field"], field, "{over:?}: {v}");
            let msg = v["message"].as_str().unwrap();
            assert!(msg.contains(words), "{over:?}: {msg}");
            assert_eq!(
                settings_of(&app, &org).await,
                before,
                "{over:?} changed something"
            );
        }
        // A checkbox value that is not one: a client error, never a 500.
        let (st, v) = json_fn(
            &app,
            "save_org_settings",
            &form(&[("require_2fa", "maybe")]),
            &cookie,
        )
        .await;
        assert_eq!(st, 400, "{v}");
        assert_eq!(settings_of(&app, &org).await, before);
        assert!(events_named(&app, &org, "org_settings_update")
            .await
            .is_empty());
    }
);

app_test!(
    admins_and_viewers_see_the_settings_but_cannot_change_them,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        portal_test_support::add_admin(&app.t.svc, &org, "admin@acme.test", Role::Admin).await;
        portal_test_support::add_admin(&app.t.svc, &org, "viewer@acme.test", Role::Viewer).await;
        change(&app, &org, allow("acme.test")).await;
        let before = settings_of(&app, &org).await;
        for who in ["admin@acme.test", "viewer@acme.test"] {
            let cookie = app.sign_in(who, PW, None).await;
            let (st, v) = json_fn(&app, "load_org_settings", &[], &cookie).await;
            assert_eq!(st, 200, "{who}: {v}");
            assert_eq!(v["can_edit"], false, "{who}");
            assert_eq!(v["allowed_domains"], json!(["acme.test"]), "{who}");
            let (st, v) = json_fn(
                &app,
                "save_org_settings",
                &form(&[("allowed_domains", ""), ("event_retention_days", "1")]),
                &cookie,
            )
            .await;
            assert_eq!(st, 403, "{who}: {v}");
            assert!(
                v["message"].as_str().unwrap().contains("Ask an Owner"),
                "{who}: {v}"
            );
            assert_eq!(
                settings_of(&app, &org).await,
                before,
                "{who} changed settings"
            );
            // The page shows the values without a form.
            let page = app.get("/admin/settings", Some(&cookie)).await;
            assert_eq!(page.status(), 200);
            let html = page.text().await.unwrap();
            assert!(html.contains("settings-read-only"), "{who}: {html}");
            assert!(html.contains("acme.test"), "{who}");
            assert!(
                !html.contains("name=\"allowed_domains\""),
                "{who}: a form is shown"
            );
        }
        assert_eq!(
            events_named(&app, &org, "org_settings_update").await.len(),
            1,
            "only the setup's change"
        );
        // Signed out: 401, nothing changed.
        let res = app
            .post_fn("save_org_settings", &form(&[("allowed_domains", "")]), None)
            .await;
        assert_eq!(res.status(), 401);
        assert_eq!(settings_of(&app, &org).await, before);
        // The Owner's page has the form.
        let cookie = app.sign_in("owner@acme.test", PW, None).await;
        let html = app
            .get("/admin/settings", Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("name=\"allowed_domains\""), "{html}");
        assert!(html.contains("Entra ID"), "the rule's explanation");
    }
);

app_test!(
    org_settings_command_validates_like_the_screen,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        admin(&app, "Globex", "owner@globex.test").await;
        let cli = server_cli()
            .env("DATABASE_URL", app.t.tdb.url.clone())
            .env("PUBLIC_URL", "https://portal.example.com");
        let before = settings_of(&app, &org).await;
        let bad: Vec<(Vec<&str>, &str)> = vec![
            (vec!["--user-retention-days", "0"], "1 to 365"),
            (vec!["--event-retention-days", "forever"], "whole number"),
            (
                vec!["--allowed-domains", "acme.test,not a domain"],
                "not a domain",
            ),
            (vec!["--name", ""], "name"),
            (vec!["--name", "globex"], "Another organisation"),
            (vec!["--require-2fa", "maybe"], "maybe"),
        ];
        for (args, words) in bad {
            let mut all = vec!["org-settings", "--org", org.as_str()];
            all.extend(args.iter());
            let out = cli.run_async(&all, "").await;
            assert!(!out.success, "{args:?}: {}", out.stdout);
            assert!(out.stderr.contains(words), "{args:?}: {}", out.stderr);
            assert_eq!(settings_of(&app, &org).await, before, "{args:?}");
        }
        let out = cli
            .run_async(
                &["org-settings", "--org", &"f".repeat(32), "--name", "X"],
                "",
            )
            .await;
        assert!(!out.success);
        assert!(out.stderr.contains("no organisation"), "{}", out.stderr);
        let out = cli
            .run_async(&["org-settings", "--org", "../etc", "--name", "X"], "")
            .await;
        assert!(!out.success);
        assert!(out.stderr.contains("Org ID"), "{}", out.stderr);
        // Only the flags given change; the output shows the resulting settings.
        let out = cli
            .run_async(
                &[
                    "org-settings",
                    "--org",
                    &org,
                    "--event-retention-days",
                    "30",
                    "--allowed-domains",
                    "Acme.test, acme.example",
                    "--username-equals-work-email",
                    "off",
                ],
                "",
            )
            .await;
        assert!(out.success, "{}", out.stderr);
        assert!(
            out.stdout.contains("retention for events 365 → 30 days"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("acme.test,acme.example"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("username equals work email  off"),
            "{}",
            out.stdout
        );
        let s = settings_of(&app, &org).await;
        assert_eq!(s.name, "Acme");
        assert_eq!(s.user_retention_days, 30);
        assert_eq!(s.event_retention_days, 30);
        assert_eq!(s.allowed_domains, ["acme.test", "acme.example"]);
        assert!(!s.username_equals_work_email);
        let evs = events_named(&app, &org, "org_settings_update").await;
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].actor, "operator (server org-settings)");
        // An empty list allows every domain again.
        let out = cli
            .run_async(
                &["org-settings", "--org", &org, "--allowed-domains", ""],
                "",
            )
            .await;
        assert!(out.success, "{}", out.stderr);
        assert!(settings_of(&app, &org).await.allowed_domains.is_empty());
    }
);

fn scim_user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": email, "type": "work", "primary": true}],
    })
}

fn patch_ops(ops: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    })
}

/// A 400 invalidValue naming the allowed domains.
fn assert_domain_refusal(st: u16, body: &Value, what: &str) {
    assert_eq!(st, 400, "{what}: {body}");
    assert_eq!(body["scimType"], "invalidValue", "{what}: {body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("acme.test, acme.example"),
        "{what}: {detail}"
    );
}

app_test!(
    scim_refuses_addresses_outside_the_allowed_domains_and_writes_nothing,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        // Created before the list: stays, and stays changeable.
        let (st, old) = s.post("/Users", user_body("old@elsewhere.test")).await;
        assert_eq!(st, 201, "{old}");
        let old_id = old["id"].as_str().unwrap().to_string();
        change(&app, &s.org, allow("acme.test, acme.example")).await;
        let (st, inside) = s.post("/Users", user_body("ann@acme.test")).await;
        assert_eq!(st, 201, "{inside}");
        let id = inside["id"].as_str().unwrap().to_string();
        let users = s.count("users").await;
        let emails = s.count("user_emails").await;
        let version = |v: &Value| v["meta"]["version"].clone();

        // POST: userName and work email outside; a secondary email outside; a subdomain (exact
        // match only); a look-alike suffix.
        for (what, body) in [
            ("POST outside", user_body("eve@evil.test")),
            ("POST suffix", user_body("eve@notacme.test")),
            ("POST subdomain", user_body("eve@mail.acme.test")),
            ("POST secondary email", {
                let mut b = user_body("bob@acme.test");
                b["emails"] = json!([
                    {"value": "bob@acme.test", "type": "work", "primary": true},
                    {"value": "bob@evil.test", "type": "home"}
                ]);
                b
            }),
        ] {
            let (st, body) = s.post("/Users", body).await;
            assert_domain_refusal(st, &body, what);
        }
        // PUT that moves a user out.
        let (st, body) = s
            .put(&format!("/Users/{id}"), user_body("ann@evil.test"))
            .await;
        assert_domain_refusal(st, &body, "PUT");
        // PATCH that moves a user out, by path and by value object.
        let (st, body) = s
            .patch(
                &format!("/Users/{id}"),
                patch_ops(json!([
                    {"op": "replace", "path": "userName", "value": "ann@evil.test"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ann@evil.test"}
                ])),
            )
            .await;
        assert_domain_refusal(st, &body, "PATCH path");
        let (st, body) = s
            .patch(
                &format!("/Users/{id}"),
                patch_ops(json!([
                    {"op": "add", "path": "emails", "value": [{"value": "x@evil.test", "type": "other"}]}
                ])),
            )
            .await;
        assert_domain_refusal(st, &body, "PATCH add email");
        assert_eq!(s.count("users").await, users, "nothing created");
        assert_eq!(s.count("user_emails").await, emails, "no email written");
        let (_, now) = s.get(&format!("/Users/{id}")).await;
        assert_eq!(now["userName"], "ann@acme.test");
        assert_eq!(version(&now), version(&inside), "the user was not changed");
        // Each refusal is in the activity, in plain words.
        let failed: Vec<_> = portal_core::events::recent(&app.t.svc.db, &s.org, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| !e.success)
            .collect();
        assert_eq!(failed.len(), 7, "{failed:?}");
        assert!(failed.iter().all(|e| e
            .message
            .contains("allowed email domains (acme.test, acme.example)")));
        assert!(failed.iter().any(|e| e.message.contains("eve@evil.test")));

        // A PATCH that passes through an outside address but ends inside is accepted (only the
        // final state is checked).
        let (st, body) = s
            .patch(
                &format!("/Users/{id}"),
                patch_ops(json!([
                    {"op": "replace", "path": "userName", "value": "ann@evil.test"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ann@evil.test"},
                    {"op": "replace", "path": "userName", "value": "ann@acme.example"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ann@acme.example"}
                ])),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["userName"], "ann@acme.example");

        // The user from before the list: not touched, and IdPs can still change and deactivate it.
        let (st, body) = s
            .patch(
                &format!("/Users/{old_id}"),
                patch_ops(json!([
                    {"op": "replace", "path": "displayName", "value": "Old Timer"},
                    {"op": "replace", "value": {"active": false}}
                ])),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["active"], false);
        assert_eq!(body["userName"], "old@elsewhere.test");
        // …but not give it another outside address.
        let (st, body) = s
            .patch(
                &format!("/Users/{old_id}"),
                patch_ops(json!([
                    {"op": "replace", "path": "userName", "value": "old@evil.test"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "old@evil.test"}
                ])),
            )
            .await;
        assert_domain_refusal(st, &body, "PATCH existing user to another outside address");
    }
);

app_test!(
    scim_writes_obey_their_own_orgs_rules_as_they_are_at_each_request,
    |app: TestApp| async move {
        // The rules travel with the token check's statement (issue 11): they must be the token's
        // organisation's, and current at each request.
        let a = Scim::new(&app, "Acme").await;
        let b = Scim::new(&app, "Globex").await;
        change(&app, &a.org, allow("acme.test, acme.example")).await;
        // Globex has no list: the address Acme refuses is fine there.
        let (st, body) = b.post("/Users", user_body("eve@evil.test")).await;
        assert_eq!(st, 201, "{body}");
        let (st, body) = a.post("/Users", user_body("eve@evil.test")).await;
        assert_domain_refusal(st, &body, "POST under Acme's list");
        // Globex takes a list; Acme lifts its own: the very next requests obey the new rules.
        change(&app, &b.org, allow("globex.test")).await;
        change(&app, &a.org, allow("")).await;
        let (st, body) = b.post("/Users", user_body("mallory@evil.test")).await;
        assert_eq!(st, 400, "POST under Globex's new list: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("allowed email domains (globex.test)"),
            "Globex's own list, not Acme's: {detail}"
        );
        let (st, body) = a.post("/Users", user_body("eve@evil.test")).await;
        assert_eq!(st, 201, "Acme's lifted list: {body}");
        // The username rule, the other half of the rules, likewise per org and per request.
        change(&app, &a.org, rule(false)).await;
        let (st, body) = a
            .post(
                "/Users",
                scim_user("ann.upn@acme.onmicrosoft.test", "ann@acme.test"),
            )
            .await;
        assert_eq!(st, 201, "Acme's rule off: {body}");
        let (st, body) = b
            .post(
                "/Users",
                scim_user("bob.upn@globex.onmicrosoft.test", "bob@globex.test"),
            )
            .await;
        assert_eq!(st, 400, "Globex's rule still on: {body}");
        change(&app, &a.org, rule(true)).await;
        let (st, body) = a
            .post(
                "/Users",
                scim_user("cat.upn@acme.onmicrosoft.test", "cat@acme.test"),
            )
            .await;
        assert_eq!(st, 400, "Acme's rule back on: {body}");
    }
);

app_test!(
    username_rule_is_the_orgs_setting_and_patch_validates_the_final_state,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        // On (the default): a differing userName is refused.
        let (st, body) = s
            .post(
                "/Users",
                scim_user("ann.upn@acme.onmicrosoft.test", "ann@acme.test"),
            )
            .await;
        assert_eq!(st, 400, "{body}");
        assert_eq!(body["scimType"], "invalidValue");
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("must equal userName"));
        // With the rule on, a PATCH that breaks it mid-list but ends valid succeeds…
        let (st, u) = s.post("/Users", user_body("bob@acme.test")).await;
        assert_eq!(st, 201, "{u}");
        let bob = u["id"].as_str().unwrap().to_string();
        let (st, body) = s
            .patch(
                &format!("/Users/{bob}"),
                patch_ops(json!([
                    {"op": "replace", "path": "userName", "value": "robert@acme.test"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "robert@acme.test"}
                ])),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        // …and one that ends invalid is refused, changing nothing.
        let (st, body) = s
            .patch(
                &format!("/Users/{bob}"),
                patch_ops(json!([
                    {"op": "replace", "path": "userName", "value": "bobby@acme.test"}
                ])),
            )
            .await;
        assert_eq!(st, 400, "{body}");
        let (_, now) = s.get(&format!("/Users/{bob}")).await;
        assert_eq!(now["userName"], "robert@acme.test");

        // Off: userName and work email may differ, on POST, PUT and PATCH.
        change(&app, &s.org, rule(false)).await;
        let (st, ann) = s
            .post(
                "/Users",
                scim_user("ann.upn@acme.onmicrosoft.test", "ann@acme.test"),
            )
            .await;
        assert_eq!(st, 201, "{ann}");
        let ann_id = ann["id"].as_str().unwrap().to_string();
        assert_eq!(ann["emails"][0]["value"], "ann@acme.test");
        let (st, body) = s
            .put(
                &format!("/Users/{ann_id}"),
                scim_user("ann.upn@acme.onmicrosoft.test", "ann.lee@acme.test"),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        let (st, body) = s
            .patch(
                &format!("/Users/{bob}"),
                patch_ops(json!([
                    {"op": "replace", "path": "userName", "value": "bob.upn@acme.onmicrosoft.test"}
                ])),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["userName"], "bob.upn@acme.onmicrosoft.test");
        assert_eq!(body["emails"][0]["value"], "robert@acme.test");
        // userName stays unique whatever the rule.
        let (st, body) = s
            .post(
                "/Users",
                scim_user("ANN.UPN@acme.onmicrosoft.test", "other@acme.test"),
            )
            .await;
        assert_eq!(st, 409, "{body}");
        // Back on: existing differing users are kept, new ones refused again.
        change(&app, &s.org, rule(true)).await;
        let (st, body) = s
            .post(
                "/Users",
                scim_user("cid.upn@acme.onmicrosoft.test", "cid@acme.test"),
            )
            .await;
        assert_eq!(st, 400, "{body}");
        let (st, _) = s.get(&format!("/Users/{ann_id}")).await;
        assert_eq!(st, 200);
    }
);

app_test!(
    manual_add_outside_the_allowed_domains_is_a_field_error,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        change(&app, &org, allow("acme.test, acme.example")).await;
        let cookie = app.sign_in("owner@acme.test", PW, None).await;
        let add = |email: &'static str| {
            vec![
                ("email", email),
                ("given_name", "Eve"),
                ("family_name", ""),
                ("department", ""),
                ("country", ""),
                ("locality", ""),
            ]
        };
        let (st, v) = json_fn(&app, "admin_add_user", &add("eve@evil.test"), &cookie).await;
        assert_eq!(st, 400, "{v}");
        assert_eq!(v["field"], "email", "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("allowed email domains (acme.test, acme.example)"),
            "{v}"
        );
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE org_id = $1")
            .bind(&org)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let (st, v) = json_fn(&app, "admin_add_user", &add("Eve@ACME.example"), &cookie).await;
        assert_eq!(st, 200, "{v}");
    }
);

app_test!(
    jit_outside_the_allowed_domains_is_refused_with_an_activity_entry,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        change(&app, &org, allow("acme.test")).await;
        // The test IdP's NameID is ann@example.com.
        let xml = saml_idp::signed_xml(&saml_idp::opts_for(&app.url, &org, app.t.clock.now_ms()));
        let res = post_acs(&app, &org, &xml, None, None).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none(), "no session");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("not in a domain this organisation allows"),
            "{page}"
        );
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE org_id = $1")
            .bind(&org)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "no user created");
        let e = crate::saml_http::last_event(&app, &org).await;
        assert_eq!((e.name.as_str(), e.success), ("sso_sign_in", false));
        assert!(e.message.contains("ann@example.com"), "{}", e.message);
        assert!(
            e.message.contains("allowed email domains (acme.test)"),
            "{}",
            e.message
        );
        // With the domain allowed, the same person gets an account.
        change(&app, &org, allow("acme.test, example.com")).await;
        let mut o = saml_idp::opts_for(&app.url, &org, app.t.clock.now_ms());
        o.assertion_id = format!("{}-2", o.assertion_id);
        o.response_id = format!("{}-2", o.response_id);
        let res = post_acs(&app, &org, &saml_idp::signed_xml(&o), None, None).await;
        assert_eq!(res.status(), 303);
    }
);

app_test!(
    sso_finds_a_user_by_work_email_when_the_username_differs,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        configure(&app, &s.org, true).await;
        change(&app, &s.org, rule(false)).await;
        // Entra: userName is the UPN, the work email (and the NameID the IdP sends) the mail.
        let (st, u) = s
            .post(
                "/Users",
                scim_user("ann.upn@acme.onmicrosoft.test", "ann@example.com"),
            )
            .await;
        assert_eq!(st, 201, "{u}");
        let xml = saml_idp::signed_xml(&saml_idp::opts_for(&app.url, &s.org, app.t.clock.now_ms()));
        let res = post_acs(&app, &s.org, &xml, None, None).await;
        assert_eq!(res.status(), 303);
        let e = crate::saml_http::last_event(&app, &s.org).await;
        assert_eq!(e.name, "employee_sign_in");
        assert_eq!(
            e.user_id.as_deref(),
            u["id"].as_str(),
            "the existing user signed in"
        );
        assert_eq!(s.count("users").await, 1, "no JIT duplicate");
        // Two users with that work email: nobody can tell which one; refused.
        let (st, _) = s
            .post(
                "/Users",
                scim_user("ann2.upn@acme.onmicrosoft.test", "ann@example.com"),
            )
            .await;
        assert_eq!(st, 201);
        let mut o = saml_idp::opts_for(&app.url, &s.org, app.t.clock.now_ms());
        o.assertion_id = format!("{}-2", o.assertion_id);
        o.response_id = format!("{}-2", o.response_id);
        let res = post_acs(&app, &s.org, &saml_idp::signed_xml(&o), None, None).await;
        assert_eq!(res.status(), 403);
        let e = crate::saml_http::last_event(&app, &s.org).await;
        assert!(e.message.contains("several users"), "{}", e.message);
        assert_eq!(s.count("users").await, 2);
    }
);
