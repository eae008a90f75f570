//! Zero-downtime SCIM token rotation (issue 13) over HTTP, on SQLite and PostgreSQL: the screen's
//! server functions, the no-JavaScript form, and the cut-over at the IdP's first successful SCIM
//! request with the new token. Every request goes through the app's client (`HTTP_TIMEOUT`).

use portal_core::admins::Role;
use serde_json::{json, Value};

use crate::common::*;

const TOKEN_FORM: &str = "/api/provisioning/token";

/// (actors of the org's `idm_integration_retire` events, oldest first).
async fn retirements(app: &TestApp, org: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT actor FROM events WHERE org_id = $1 AND name = 'idm_integration_retire' ORDER BY seq",
    )
    .bind(org)
    .fetch_all(&app.t.svc.db.pool)
    .await
    .unwrap()
}

async fn json_fn(app: &TestApp, name: &str, form: &[(&str, &str)], cookie: &str) -> (u16, Value) {
    let res = app.post_fn(name, form, Some(cookie)).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Rotates through the screen's server function; returns the new token.
async fn rotate(app: &TestApp, cookie: &str, grace_hours: &str) -> String {
    let (status, body) = json_fn(
        app,
        "rotate_scim_token",
        &[("grace_hours", grace_hours)],
        cookie,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// The same org's SCIM client with another token.
fn with_token<'a>(s: &Scim<'a>, token: &str) -> Scim<'a> {
    Scim {
        app: s.app,
        org: s.org.clone(),
        token: token.to_string(),
    }
}

app_test!(
    first_successful_request_with_the_new_token_retires_the_old_one,
    |app: TestApp| async move {
        let old = Scim::new(&app, "Acme").await;
        let other = Scim::new(&app, "Globex").await;
        let owner = app.sign_in("admin@acme.test", PW, None).await;
        let new = with_token(&old, &rotate(&app, &owner, "168").await);
        // Both tokens work; the old one's success changes nothing.
        assert_eq!(old.get("/Users").await.0, 200);
        // Failed or unauthorised requests with the new token do not retire the old one: a bad
        // body (400), an unknown user (404), the new token on another org's URL (401).
        let (s, body) = new.post("/Users", json!({"userName": ""})).await;
        assert_eq!(s, 400, "{body}");
        assert!(body["scimType"].is_string(), "{body}");
        assert_eq!(new.get("/Users/no-such-user").await.0, 404);
        let stolen = Scim {
            app: &app,
            org: other.org.clone(),
            token: new.token.clone(),
        };
        assert_eq!(stolen.get("/Users").await.0, 401);
        assert_eq!(old.get("/Users").await.0, 200);
        assert!(retirements(&app, &old.org).await.is_empty());
        let (_, view) = json_fn(&app, "load_provisioning", &[], &owner).await;
        assert!(
            view["status"]["rotation"]["next"]["id"].is_string(),
            "{view}"
        );
        assert_eq!(
            view["status"]["rotation"]["next"]["last_user_agent"],
            "test-client/1.0"
        );
        // The first success with the new token: the old one is retired, once, by `system`.
        assert_eq!(new.get("/Users").await.0, 200);
        let (s, body) = old.get("/Users").await;
        assert_eq!(s, 401, "{body}");
        assert_eq!(body["status"], "401");
        assert_eq!(new.get("/Users").await.0, 200);
        assert_eq!(retirements(&app, &old.org).await, ["system"]);
        let (_, view) = json_fn(&app, "load_provisioning", &[], &owner).await;
        assert!(view["status"]["rotation"].is_null(), "{view}");
        assert_eq!(view["status"]["last_retired"]["retired_by"], "system");
        assert_eq!(view["status"]["rejected_count"], 1);
        // The other org's token was never touched.
        assert_eq!(other.get("/Users").await.0, 200);
        assert!(retirements(&app, &other.org).await.is_empty());
    }
);

app_test!(
    concurrent_first_requests_retire_the_old_token_once,
    |app: TestApp| async move {
        let old = Scim::new(&app, "Acme").await;
        let new_token = portal_core::scim_tokens::rotate(
            &app.t.svc,
            &old.org,
            "admin@acme.test",
            portal_core::scim_tokens::GRACE_DEFAULT_MS,
        )
        .await
        .unwrap()
        .into_exposed();
        let url = old.url("/Users");
        let runs: Vec<_> = (0..12)
            .map(|_| {
                let (http, url, token) = (app.http.clone(), url.clone(), new_token.clone());
                tokio::spawn(async move {
                    sent(http.get(&url).bearer_auth(token), "GET", "/Users")
                        .await
                        .status()
                        .as_u16()
                })
            })
            .collect();
        for r in runs {
            assert_eq!(r.await.unwrap(), 200);
        }
        assert_eq!(retirements(&app, &old.org).await, ["system"]);
        assert_eq!(old.get("/Users").await.0, 401);
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL",
        )
        .bind(&old.org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(live, 1);
    }
);

app_test!(
    grace_period_ends_with_the_manual_clock,
    |app: TestApp| async move {
        let old = Scim::new(&app, "Acme").await;
        let owner = app.sign_in("admin@acme.test", PW, None).await;
        let new = with_token(&old, &rotate(&app, &owner, "1").await);
        app.t.clock.advance_ms(3_600_000 - 1);
        assert_eq!(old.get("/Users").await.0, 200);
        app.t.clock.advance_ms(1);
        assert_eq!(old.get("/Users").await.0, 401);
        assert_eq!(retirements(&app, &old.org).await, ["system"]);
        assert_eq!(new.get("/Users").await.0, 200);
        assert_eq!(retirements(&app, &old.org).await, ["system"]);
    }
);

app_test!(
    retire_by_hand_roles_and_bad_input,
    |app: TestApp| async move {
        let acme = Scim::new(&app, "Acme").await;
        let globex = Scim::new(&app, "Globex").await;
        portal_test_support::add_admin(&app.t.svc, &acme.org, "viewer@acme.test", Role::Viewer)
            .await;
        let owner = app.sign_in("admin@acme.test", PW, None).await;
        let viewer = app.sign_in("viewer@acme.test", PW, None).await;
        let globex_owner = app.sign_in("admin@globex.test", PW, None).await;
        let current = |org: String| {
            let app = &app;
            async move {
                portal_core::scim_tokens::status(&app.t.svc, &org)
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            }
        };
        let acme_old = current(acme.org.clone()).await;
        // Bad grace periods: a clear 400, nothing written.
        for grace in ["0", "-1", "721", "abc", "", "99999999999999999999"] {
            let (s, body) =
                json_fn(&app, "rotate_scim_token", &[("grace_hours", grace)], &owner).await;
            assert_eq!(s, 400, "{grace}: {body}");
        }
        assert!(portal_core::scim_tokens::rotation(&app.t.svc, &acme.org)
            .await
            .unwrap()
            .is_none());
        // A Viewer can neither rotate nor retire.
        let (s, _) = json_fn(
            &app,
            "rotate_scim_token",
            &[("grace_hours", "168")],
            &viewer,
        )
        .await;
        assert_eq!(s, 403);
        let new = with_token(&acme, &rotate(&app, &owner, "168").await);
        rotate(&app, &globex_owner, "168").await;
        let (s, _) = json_fn(
            &app,
            "retire_old_scim_token",
            &[("token_id", &acme_old)],
            &viewer,
        )
        .await;
        assert_eq!(s, 403);
        // Another org's token id (Globex's current token, itself mid-rotation): not found, both
        // orgs' rotations intact.
        let globex_old = current(globex.org.clone()).await;
        let (s, _) = json_fn(
            &app,
            "retire_old_scim_token",
            &[("token_id", &globex_old)],
            &owner,
        )
        .await;
        assert_eq!(s, 404);
        let (s, _) = json_fn(
            &app,
            "retire_old_scim_token",
            &[("token_id", &"x".repeat(100_000))],
            &owner,
        )
        .await;
        assert!(s == 404 || s == 413, "{s}");
        assert_eq!(globex.get("/Users").await.0, 200);
        assert_eq!(acme.get("/Users").await.0, 200);
        assert!(portal_core::scim_tokens::rotation(&app.t.svc, &globex.org)
            .await
            .unwrap()
            .is_some());
        // The Owner retires the old token by hand.
        let (s, body) = json_fn(
            &app,
            "retire_old_scim_token",
            &[("token_id", &acme_old)],
            &owner,
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(acme.get("/Users").await.0, 401);
        assert_eq!(new.get("/Users").await.0, 200);
        assert_eq!(retirements(&app, &acme.org).await, ["admin@acme.test"]);
        assert!(retirements(&app, &globex.org).await.is_empty());
        // Again: the token is no longer current.
        let (s, _) = json_fn(
            &app,
            "retire_old_scim_token",
            &[("token_id", &acme_old)],
            &owner,
        )
        .await;
        assert_eq!(s, 404);
    }
);

app_test!(
    rotate_without_javascript_shows_the_token_once,
    |app: TestApp| async move {
        let acme = Scim::new(&app, "Acme").await;
        let owner = app.sign_in("admin@acme.test", PW, None).await;
        let post = |form: Vec<(&'static str, String)>| {
            let (app, owner) = (&app, owner.clone());
            async move {
                let res = sent(
                    app.http
                        .post(format!("{}{TOKEN_FORM}", app.url))
                        .header("Origin", &app.url)
                        .header("Sec-Fetch-Site", "same-origin")
                        .header("Accept", "text/html")
                        .header("Cookie", owner)
                        .form(&form),
                    "POST",
                    TOKEN_FORM,
                )
                .await;
                let status = res.status().as_u16();
                (status, res.text().await.unwrap())
            }
        };
        let rotate_form = |replaces: &str, grace: &str| {
            vec![
                ("mode", "rotate".to_string()),
                ("replaces", replaces.to_string()),
                ("grace_hours", grace.to_string()),
            ]
        };
        let (s, page) = post(rotate_form("", "0")).await;
        assert_eq!(s, 400, "{page}");
        let (s, page) = post(rotate_form("", "168")).await;
        assert_eq!(s, 200, "{page}");
        assert!(
            page.contains("New SCIM token") && page.contains("keeps working"),
            "{page}"
        );
        let start = page.find("id=\"new-scim-token\"").unwrap();
        let value = &page[start..];
        let value = &value[value.find("value=\"").unwrap() + 7..];
        let token = &value[..value.find('"').unwrap()];
        let new = with_token(&acme, token);
        assert_eq!(acme.get("/Users").await.0, 200);
        // The same form again (a reload): refused, the shown token still works.
        let (s, _) = post(rotate_form("", "168")).await;
        assert_eq!(s, 409);
        assert_eq!(new.get("/Users").await.0, 200);
        assert_eq!(acme.get("/Users").await.0, 401);
        assert_eq!(retirements(&app, &acme.org).await, ["system"]);
    }
);
