//! SCIM request log (issue 13) over HTTP, on both databases: what a SCIM request leaves in
//! `scim_requests` (status, duration, client, redacted and bounded bodies, never the token), the
//! request id on its Activity event, failures with their error body, bursts, bad tokens, and the
//! screen's server functions. Cross-org ids are rows of `cross_tenant.rs`; roles of `roles.rs`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Scim, TestApp, PW};

/// Every column of the table, as text, for the "the token is nowhere" checks.
const ALL_COLUMNS: &str =
    "id, org_id, CAST(at AS TEXT) AS at, CAST(seq AS TEXT) AS seq, method, path, \
     CAST(status AS TEXT) AS status, CAST(duration_us AS TEXT) AS duration_us, client, user_id, \
     user_name, request_headers, request_body, response_body";

type Text = Option<String>;

/// Every row of `org`, every column as text, oldest first; waits (the writer is batched and off
/// the request path) until there are `n`.
async fn rows(app: &TestApp, org: &str, n: usize) -> Vec<Vec<Text>> {
    use sqlx::Row;
    for _ in 0..200 {
        let rows = sqlx::query(&format!(
            "SELECT {ALL_COLUMNS} FROM scim_requests WHERE org_id = $1 ORDER BY at, seq"
        ))
        .bind(org)
        .fetch_all(&app.t.svc.db.pool)
        .await
        .unwrap();
        if rows.len() >= n {
            return rows
                .iter()
                .map(|r| (0..14).map(|i| r.try_get::<Text, _>(i).unwrap()).collect())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} logged SCIM request(s) of {org}");
}

fn col<'a>(row: &'a [Text], name: &str) -> &'a str {
    let i = [
        "id",
        "org_id",
        "at",
        "seq",
        "method",
        "path",
        "status",
        "duration_us",
        "client",
        "user_id",
        "user_name",
        "request_headers",
        "request_body",
        "response_body",
    ]
    .iter()
    .position(|c| *c == name)
    .unwrap();
    row[i].as_deref().unwrap_or("")
}

fn assert_nowhere(rows: &[Vec<Text>], secret: &str) {
    for row in rows {
        for v in row.iter().flatten() {
            assert!(!v.contains(secret), "{secret:?} stored in {row:?}");
        }
    }
}

app_test!(
    a_request_is_logged_redacted_and_its_event_links_to_it,
    |app: TestApp| async move {
        let scim = Scim::new(&app, "Acme").await;
        let mut body = crate::common::user_body("ann@acme.test");
        body["password"] = json!("hunter2-secret");
        let (s, created) = scim.post("/Users", body).await;
        assert_eq!(s, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let (s, _) = scim
            .patch(
                &format!("/Users/{id}"),
                json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "password", "value": "hunter3-secret"}]
                }),
            )
            .await;
        assert!(s == 200 || s == 400, "{s}");
        let rows = rows(&app, &scim.org, 2).await;
        let first = &rows[0];
        assert_eq!(col(first, "method"), "POST");
        assert_eq!(col(first, "path"), "/Users");
        assert_eq!(col(first, "status"), "201");
        assert!(col(first, "duration_us").parse::<i64>().unwrap() > 0);
        assert_eq!(col(first, "client"), "test-client/1.0");
        assert_eq!(col(first, "user_id"), id);
        assert_eq!(col(first, "user_name"), "ann@acme.test");
        let req: Value = serde_json::from_str(col(first, "request_body")).unwrap();
        assert_eq!(req["password"], "[redacted]");
        assert_eq!(req["userName"], "ann@acme.test");
        let res: Value = serde_json::from_str(col(first, "response_body")).unwrap();
        assert_eq!(res["id"], id.as_str());
        let headers: Value = serde_json::from_str(col(first, "request_headers")).unwrap();
        assert_eq!(headers["content-type"], "application/scim+json");
        assert!(headers.get("authorization").is_none() && headers.get("user-agent").is_none());
        assert_eq!(col(&rows[1], "path"), format!("/Users/{id}"));
        assert_eq!(col(&rows[1], "user_id"), id);
        // The token and the passwords are in no column of any row.
        assert_nowhere(&rows, &scim.token);
        assert_nowhere(&rows, "hunter2-secret");
        assert_nowhere(&rows, "hunter3-secret");

        // The Activity entry of the create names the request.
        let page = portal_core::audit::list(
            &app.t.svc,
            &scim.org,
            &portal_core::audit::ActivityQuery::parse([("kind", "scim")]).unwrap(),
        )
        .await
        .unwrap();
        let create = page
            .rows
            .iter()
            .find(|e| e.name == portal_core::provisioning::EV_CREATE)
            .expect("the create event");
        assert_eq!(create.request_id.as_deref(), Some(col(first, "id")));

        // The admin's screen: the list, filtered, and the detail.
        let cookie = app.sign_in("admin@acme.test", PW, None).await;
        let res = app
            .post_fn(
                "list_scim_requests",
                &[
                    ("q[status]", "success"),
                    ("q[user]", "ANN@acme.test"),
                    ("q[page]", ""),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(res.status(), 200);
        let list: Value = res.json().await.unwrap();
        assert!(list["total"].as_i64().unwrap() >= 1, "{list}");
        assert_eq!(list["rows"][0]["user_name"], "ann@acme.test");
        let res = app
            .post_fn(
                "get_scim_request",
                &[("id", col(first, "id"))],
                Some(&cookie),
            )
            .await;
        assert_eq!(res.status(), 200);
        let detail = res.text().await.unwrap();
        assert!(detail.contains("[redacted]") && !detail.contains("hunter2-secret"));
        assert!(!detail.contains(&scim.token));
        // A bad filter is a 400 that says what to use; an unknown id a 404.
        let res = app
            .post_fn(
                "list_scim_requests",
                &[("q[status]", "3xx"), ("q[user]", ""), ("q[page]", "")],
                Some(&cookie),
            )
            .await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("success, 4xx or 5xx"));
        let res = app
            .post_fn(
                "get_scim_request",
                &[("id", "no-such-request")],
                Some(&cookie),
            )
            .await;
        assert_eq!(res.status(), 404);
    }
);

app_test!(
    a_failed_request_is_logged_with_its_error_body,
    |app: TestApp| async move {
        let scim = Scim::new(&app, "Acme").await;
        let (s, err) = scim
            .post(
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "", "password": "p4ss-secret"}),
            )
            .await;
        assert_eq!(s, 400, "{err}");
        // Logged before the next request is sent (the log is written behind the answer), so
        // the two rows are in this order.
        rows(&app, &scim.org, 1).await;
        // Not JSON at all.
        let res = crate::common::sent(
            app.http
                .request(Method::POST, scim.url("/Users"))
                .bearer_auth(&scim.token)
                .header("Content-Type", "application/scim+json")
                .body("{not json"),
            "POST",
            "/Users",
        )
        .await;
        assert_eq!(res.status(), 400);
        let rows = rows(&app, &scim.org, 2).await;
        assert_eq!(col(&rows[0], "status"), "400");
        let logged: Value = serde_json::from_str(col(&rows[0], "response_body")).unwrap();
        assert_eq!(logged, err, "the error body as sent");
        assert!(logged["scimType"].is_string());
        assert_eq!(col(&rows[1], "status"), "400");
        assert!(col(&rows[1], "response_body").contains("invalidSyntax"));
        assert_nowhere(&rows, "p4ss-secret");
        assert_nowhere(&rows, &scim.token);
    }
);

app_test!(
    large_bodies_are_cut_bursts_are_logged_whole_and_bad_tokens_not_at_all,
    |app: TestApp| async move {
        let scim = Scim::new(&app, "Acme").await;
        let other = Scim::new(&app, "Other").await;
        // Nearly 1 MiB: answered (400, no userName), stored cut to 16 KiB with a marker.
        let (s, _) = scim
            .post("/Users", json!({"schemas": [], "x": "y".repeat(1_000_000)}))
            .await;
        assert_eq!(s, 400);
        let first = rows(&app, &scim.org, 1).await;
        let body = col(&first[0], "request_body");
        assert!(
            body.len() <= 16 * 1024 + 64 && body.contains("[truncated:"),
            "{}",
            body.len()
        );
        // A burst of 40 concurrent requests: 40 rows.
        let burst = (0..40).map(|_| scim.get("/Users?count=1"));
        for (s, _) in futures::future::join_all(burst).await {
            assert_eq!(s, 200);
        }
        let all = rows(&app, &scim.org, 41).await;
        assert_eq!(all.len(), 41);
        // Another org's token on this org's URL, and no token: 401, not logged here or there.
        let res = crate::common::sent(
            app.http.get(scim.url("/Users")).bearer_auth(&other.token),
            "GET",
            "/Users",
        )
        .await;
        assert_eq!(res.status(), 401);
        let res = crate::common::sent(app.http.get(scim.url("/Users")), "GET", "/Users").await;
        assert_eq!(res.status(), 401);
        // One more logged request, so the writer has caught up past the refusals.
        assert_eq!(scim.get("/ServiceProviderConfig").await.0, 200);
        let after = rows(&app, &scim.org, 42).await;
        assert_eq!(after.len(), 42);
        assert_eq!(scim.count("scim_requests").await, 42);
        assert_eq!(other.count("scim_requests").await, 0);
        assert_nowhere(&after, &other.token);
    }
);

app_test!(
    another_orgs_requests_are_invisible,
    |app: TestApp| async move {
        let a = Scim::new(&app, "Alpha").await;
        let b = Scim::new(&app, "Bravo").await;
        let (s, created) = b
            .post("/Users", crate::common::user_body("bob@bravo.test"))
            .await;
        assert_eq!(s, 201);
        let b_user = created["id"].as_str().unwrap().to_string();
        assert_eq!(
            a.post("/Users", crate::common::user_body("ann@alpha.test"))
                .await
                .0,
            201
        );
        let b_rows = rows(&app, &b.org, 1).await;
        rows(&app, &a.org, 1).await;
        let b_request = col(&b_rows[0], "id").to_string();
        let cookie = app.sign_in("admin@alpha.test", PW, None).await;
        // B's request id: 404, with or without B's org id smuggled in.
        for form in [
            vec![("id", b_request.as_str())],
            vec![("id", b_request.as_str()), ("org_id", b.org.as_str())],
        ] {
            let res = app.post_fn("get_scim_request", &form, Some(&cookie)).await;
            assert_eq!(res.status(), 404);
            assert!(!res.text().await.unwrap().contains("bob@bravo.test"));
        }
        // B's user, by id and by userName, and no filter at all: only A's own requests.
        for user in [b_user.as_str(), "bob@bravo.test", ""] {
            let res = app
                .post_fn(
                    "list_scim_requests",
                    &[
                        ("q[status]", ""),
                        ("q[user]", user),
                        ("q[page]", ""),
                        ("q[org_id]", &b.org),
                    ],
                    Some(&cookie),
                )
                .await;
            assert_eq!(res.status(), 200);
            let text = res.text().await.unwrap();
            assert!(
                !text.contains(&b_request) && !text.contains("bob@bravo.test"),
                "{text}"
            );
            let list: Value = serde_json::from_str(&text).unwrap();
            let expected = if user.is_empty() { 1 } else { 0 };
            assert_eq!(list["total"], expected, "{user}: {text}");
        }
        // The page of B's request renders A's "not found".
        let res = app
            .get(
                &format!("/admin/provisioning/requests/{b_request}"),
                Some(&cookie),
            )
            .await;
        let html = res.text().await.unwrap();
        assert!(html.contains("SCIM request not found") && !html.contains("bob@bravo.test"));
    }
);
