//! The provisioning, Users and Activity screens' server functions and the CSV export, through HTTP
//! with a real admin session, on both databases.

use crate::common::*;
use serde_json::Value;

async fn json_fn(app: &TestApp, name: &str, form: &[(&str, &str)], cookie: &str) -> (u16, String) {
    let res = app.post_fn(name, form, Some(cookie)).await;
    let st = res.status().as_u16();
    (st, res.text().await.unwrap())
}

app_test!(
    scim_token_travels_only_in_the_generate_response,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let (st, body) = json_fn(&app, "generate_scim_token", &[], &cookie).await;
        assert_eq!(st, 200, "{body}");
        let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(token.len(), 43);
        // Every other server function and page: never the token.
        for name in ["load_provisioning", "load_admin_view", "admin_signed_in"] {
            let (st, body) = json_fn(&app, name, &[], &cookie).await;
            assert_eq!(st, 200, "{name}: {body}");
            assert!(!body.contains(&token), "{name} leaked the token");
        }
        let (_, body) = json_fn(
            &app,
            "list_events",
            &[
                ("q[page]", "1"),
                ("q[result]", ""),
                ("q[name]", ""),
                ("q[user_id]", ""),
            ],
            &cookie,
        )
        .await;
        assert!(!body.contains(&token));
        let page = app
            .get("/admin/provisioning", Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains(&token));
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM scim_tokens WHERE token_hash = $1")
            .bind(portal_core::secret::sha256_hex(&token))
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 1, "stored as its SHA-256 only");
        // The token works on SCIM, the provisioning view reports it active with its creator.
        let res = app
            .http
            .get(format!("{}/scim/v2/{org}/Users", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let (_, body) = json_fn(&app, "load_provisioning", &[], &cookie).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"]["token"]["created_by"], "a@acme.test");
        assert!(v["status"]["token"]["first_used_at"].is_i64());
        // Revoke: SCIM off.
        let (st, _) = json_fn(&app, "revoke_scim_token", &[], &cookie).await;
        assert_eq!(st, 200);
        let res = app
            .http
            .get(format!("{}/scim/v2/{org}/Users", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
);

app_test!(
    admin_server_functions_require_a_session,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        for name in [
            "generate_scim_token",
            "revoke_scim_token",
            "load_provisioning",
        ] {
            let res = app.post_fn(name, &[], None).await;
            assert_eq!(res.status(), 401, "{name}");
        }
        let res = app.get("/admin/users.csv", None).await;
        assert_eq!(res.status(), 401);
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM scim_tokens")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
);

app_test!(
    manual_management_and_its_bad_input,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let add = |email: &'static str| {
            vec![
                ("email", email),
                ("given_name", "Ann"),
                ("family_name", "Lee"),
                ("department", "Ops"),
                ("country", "FI"),
                ("locality", "Oulu"),
            ]
        };
        let (st, body) = json_fn(&app, "admin_add_user", &add("ann@acme.test"), &cookie).await;
        assert_eq!(st, 200, "{body}");
        let id: String = serde_json::from_str(&body).unwrap();
        // Duplicate (case-insensitive) and invalid email: clear 4xx, nothing written.
        let (st, body) = json_fn(&app, "admin_add_user", &add("ANN@acme.test"), &cookie).await;
        assert_eq!(st, 409, "{body}");
        assert!(body.contains("already exists"));
        let (st, body) = json_fn(&app, "admin_add_user", &add("not an email"), &cookie).await;
        assert_eq!(st, 400);
        let err: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(err["field"], "email", "{body}");
        assert_eq!(err["status"], 400, "{body}");
        assert!(
            err["message"].as_str().unwrap().contains("valid email"),
            "{body}"
        );
        let long = "x".repeat(201);
        let bad_dept: Vec<(&str, &str)> = add("bob@acme.test")
            .into_iter()
            .map(|(k, v)| (k, if k == "department" { long.as_str() } else { v }))
            .collect();
        let (st, body) = json_fn(&app, "admin_add_user", &bad_dept, &cookie).await;
        assert_eq!(st, 400);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["field"],
            "department",
            "{body}"
        );
        // A missing field is the client's mistake too: 400, not a 500.
        let (st, body) =
            json_fn(&app, "admin_add_user", &[("email", "c@acme.test")], &cookie).await;
        assert_eq!(st, 400, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["field"],
            Value::Null
        );
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 1);

        // Edit with the current version works; a stale version is refused and changes nothing.
        let edit = |v: &'static str| {
            vec![
                ("id", "ID"),
                ("version", v),
                ("email", "ann@acme.test"),
                ("given_name", "Anna"),
                ("family_name", "Lee"),
                ("department", "Sales"),
                ("country", "SE"),
                ("locality", "Lund"),
            ]
        };
        let with_id =
            |mut f: Vec<(&'static str, &'static str)>, id: &str| -> Vec<(String, String)> {
                f.iter_mut()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            if *v == "ID" {
                                id.to_string()
                            } else {
                                v.to_string()
                            },
                        )
                    })
                    .collect()
            };
        let send = |form: Vec<(String, String)>| {
            let app = &app;
            let cookie = cookie.clone();
            async move {
                let refs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                json_fn(app, "admin_edit_user", &refs, &cookie).await
            }
        };
        let (st, body) = send(with_id(edit("1"), &id)).await;
        assert_eq!(st, 200, "{body}");
        let (st, body) = send(with_id(edit("1"), &id)).await;
        assert_eq!(st, 409, "stale edit: {body}");
        let (dept,): (Option<String>,) =
            sqlx::query_as("SELECT department FROM users WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(dept.as_deref(), Some("Sales"));

        // Deactivate, delete, restore with versions.
        let act = |action: &'static str, v: &'static str| {
            vec![
                ("id".to_string(), id.clone()),
                ("version".to_string(), v.to_string()),
                ("action".to_string(), action.to_string()),
            ]
        };
        let run = |form: Vec<(String, String)>| {
            let app = &app;
            let cookie = cookie.clone();
            async move {
                let refs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                json_fn(app, "admin_user_action", &refs, &cookie).await
            }
        };
        assert_eq!(run(act("deactivate", "2")).await.0, 200);
        assert_eq!(run(act("reactivate", "2")).await.0, 409, "stale");
        assert_eq!(run(act("explode", "3")).await.0, 400);
        assert_eq!(run(act("delete", "3")).await.0, 200);
        assert_eq!(run(act("restore", "4")).await.0, 200);
        let (active, deleted): (i64, Option<i64>) =
            sqlx::query_as("SELECT active, deleted_at FROM users WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!((active, deleted), (0, None));

        // CSV export of the filtered list.
        let csv = app
            .get("/admin/users.csv?status=deactivated", Some(&cookie))
            .await;
        assert_eq!(csv.status(), 200);
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let text = csv.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Name,userName,Email"));
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[1].contains("ann@acme.test") && lines[1].contains("Deactivated"));
        let csv = app
            .get("/admin/users.csv?status=deleted", Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 1);
    }
);

app_test!(
    another_orgs_user_ids_are_refused,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        admin(&app, "Globex", "g@globex.test").await;
        let acme = app.sign_in("a@acme.test", PW, None).await;
        let globex = app.sign_in("g@globex.test", PW, None).await;
        let (_, body) = json_fn(
            &app,
            "admin_add_user",
            &[
                ("email", "x@globex.test"),
                ("given_name", ""),
                ("family_name", ""),
                ("department", ""),
                ("country", ""),
                ("locality", ""),
            ],
            &globex,
        )
        .await;
        let gid: String = serde_json::from_str(&body).unwrap();
        // Acme's admin cannot see or change Globex's user.
        let (st, body) = json_fn(&app, "load_user_detail", &[("id", &gid)], &acme).await;
        assert_eq!(st, 200);
        assert_eq!(body, "null");
        for action in ["deactivate", "delete"] {
            let (st, _) = json_fn(
                &app,
                "admin_user_action",
                &[("id", &gid), ("version", "1"), ("action", action)],
                &acme,
            )
            .await;
            assert_eq!(st, 404, "{action}");
        }
        let (st, _) = json_fn(
            &app,
            "admin_edit_user",
            &[
                ("id", &gid),
                ("version", "1"),
                ("email", "evil@acme.test"),
                ("given_name", ""),
                ("family_name", ""),
                ("department", ""),
                ("country", ""),
                ("locality", ""),
            ],
            &acme,
        )
        .await;
        assert_eq!(st, 404);
        let (v, a, d): (i64, i64, Option<i64>) =
            sqlx::query_as("SELECT version, active, deleted_at FROM users WHERE id = $1")
                .bind(&gid)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!((v, a, d), (1, 1, None));
        // And Acme's CSV does not contain it.
        let csv = app
            .get("/admin/users.csv", Some(&acme))
            .await
            .text()
            .await
            .unwrap();
        assert!(!csv.contains("x@globex.test"));
    }
);

app_test!(
    scim_managed_users_are_read_only_for_admins,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let cookie = app.sign_in("admin@acme.test", PW, None).await;
        let (_, u) = s.post("/Users", user_body("ann@acme.test")).await;
        let id = u["id"].as_str().unwrap().to_string();
        let (st, body) = json_fn(
            &app,
            "admin_user_action",
            &[("id", &id), ("version", "1"), ("action", "deactivate")],
            &cookie,
        )
        .await;
        assert_eq!(st, 400);
        assert!(body.contains("managed by your identity provider"), "{body}");
        let (_, body) = json_fn(&app, "load_user_detail", &[("id", &id)], &cookie).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["scim_managed"], true);
        assert_eq!(v["source"], "SCIM");
    }
);

app_test!(
    sso_form_errors_name_their_field,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let cert = crate::saml_http::cert("idp");
        let key = std::fs::read_to_string(crate::saml_idp::fixture("idp.key")).unwrap();
        // The form as the page posts it, with one field replaced.
        let form = |name: &str, value: &str| -> Vec<(String, String)> {
            [
                ("sso_url", "https://idp.acme.test/sso"),
                ("certificate", cert.as_str()),
                ("next_certificate", ""),
                ("idp_entity_id", ""),
                ("jit_enabled", "on"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), if k == name { value } else { v }.to_string()))
            .collect()
        };
        let save = |form: Vec<(String, String)>| {
            let cookie = cookie.clone();
            let app = &app;
            async move {
                let refs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                json_fn(app, "save_sso", &refs, &cookie).await
            }
        };
        for (name, value, words) in [
            ("sso_url", "http://idp.acme.test/sso", "https"),
            ("certificate", key.as_str(), "private key"),
            ("certificate", "garbage", "Public certificate"),
            ("next_certificate", "garbage", "Next certificate"),
            ("idp_entity_id", "two\nlines", "single line"),
        ] {
            let (st, body) = save(form(name, value)).await;
            assert_eq!(st, 400, "{name}: {body}");
            let err: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(err["field"], name, "{body}");
            assert!(err["message"].as_str().unwrap().contains(words), "{body}");
        }
        assert!(portal_core::sso::get(&app.t.svc, &org)
            .await
            .unwrap()
            .is_none());

        // The checkboxes are booleans: ticked ("on") or absent.
        let (st, body) = save(form("", "")).await;
        assert_eq!(st, 200, "{body}");
        let saved = portal_core::sso::get(&app.t.svc, &org)
            .await
            .unwrap()
            .unwrap();
        assert!(saved.jit_enabled && !saved.require_sso && !saved.refuse_unsolicited);
        let (st, body) = save(form("jit_enabled", "maybe")).await;
        assert_eq!(st, 400, "{body}");

        // Actions are an enum: anything else is refused before the function runs.
        let action = "sso_certificate_action";
        let (st, body) = json_fn(&app, action, &[("action", "explode")], &cookie).await;
        assert_eq!(st, 400, "{body}");
        assert!(portal_core::sso::get(&app.t.svc, &org)
            .await
            .unwrap()
            .is_some());
        let (st, body) = json_fn(&app, action, &[("action", "deactivate")], &cookie).await;
        assert_eq!(st, 200, "{body}");
        assert!(portal_core::sso::get(&app.t.svc, &org)
            .await
            .unwrap()
            .is_none());
    }
);

app_test!(
    empty_screens_say_what_to_do_next,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let page = |path: &'static str| {
            let cookie = cookie.clone();
            let app = &app;
            async move {
                let res = app.get(path, Some(&cookie)).await;
                assert_eq!(res.status(), 200, "{path}");
                res.text().await.unwrap()
            }
        };
        let users = page("/admin/users").await;
        let empty = &users[users
            .find("data-testid=\"users-empty\"")
            .expect("empty state")..];
        assert!(empty.contains("No users yet"), "{empty}");
        assert!(empty.contains("href=\"/admin/provisioning\""), "{empty}");
        let filtered = page("/admin/users?q=nobody").await;
        assert!(filtered.contains("No users match"), "{filtered}");
        // (The admin's own sign-in is an event, so only a filter empties the Activity screen.)
        let activity = page("/admin/activity?result=failure").await;
        let empty = &activity[activity
            .find("data-testid=\"activity-empty\"")
            .expect("empty state")..];
        assert!(empty.contains("No events match"), "{empty}");
        assert!(empty.contains("href=\"/admin/activity\""), "{empty}");
    }
);
