//! Issue 13, SCIM fidelity: what the server does with the edge cases an IdP (or an org admin who
//! controls every attribute its SCIM token writes) can send, on SQLite and PostgreSQL.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn non_strings() -> Vec<Value> {
    vec![
        json!(42),
        json!(4.5),
        json!({ "value": "ann@acme.test" }),
        json!(["ann@acme.test"]),
        json!(true),
        Value::Null,
    ]
}

async fn create(s: &Scim<'_>, user_name: &str) -> Value {
    let (st, u) = s.post("/Users", user_body(user_name)).await;
    assert_eq!(st, 201, "create {user_name}: {u}");
    u
}

fn assert_scim_error(st: u16, body: &Value, status: u16, scim_type: &str, what: &str) {
    assert_eq!(st, status, "{what}: {body}");
    assert_eq!(body["status"], status.to_string(), "{what}: {body}");
    assert_eq!(body["scimType"], scim_type, "{what}: {body}");
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{what}: {body}"
    );
}

app_test!(
    a_user_name_that_is_not_a_string_is_invalid_on_post_put_and_patch,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        for v in non_strings() {
            let mut body = user_body("ann@acme.test");
            body["userName"] = v.clone();
            let (st, e) = s.post("/Users", body).await;
            assert_scim_error(st, &e, 400, "invalidValue", &format!("POST userName {v}"));
        }
        assert_eq!(
            s.count("users").await,
            0,
            "nothing written by a refused POST"
        );

        let u = create(&s, "ann@acme.test").await;
        let id = u["id"].as_str().unwrap();
        let path = format!("/Users/{id}");
        for v in non_strings() {
            let mut body = user_body("ann@acme.test");
            body["userName"] = v.clone();
            let (st, e) = s.put(&path, body).await;
            assert_scim_error(st, &e, 400, "invalidValue", &format!("PUT userName {v}"));
            let (st, e) = s
                .patch(
                    &path,
                    json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{ "op": "replace", "path": "userName", "value": v }]
                    }),
                )
                .await;
            assert_scim_error(
                st,
                &e,
                400,
                "invalidValue",
                &format!("PATCH replace userName {v}"),
            );
            // The pathless form too.
            let (st, e) = s
                .patch(
                    &path,
                    json!({ "Operations": [{ "op": "replace", "value": { "userName": v } }] }),
                )
                .await;
            assert_scim_error(
                st,
                &e,
                400,
                "invalidValue",
                &format!("PATCH pathless userName {v}"),
            );
        }
        let (st, after) = s.get(&path).await;
        assert_eq!(st, 200);
        assert_eq!(after["userName"], "ann@acme.test");
        assert_eq!(
            after["meta"]["version"], u["meta"]["version"],
            "no refused change was written"
        );
        // A string that merely looks like a number is a string.
        let mut body = user_body("12345");
        body["emails"] = json!([]);
        let (st, u) = s.post("/Users", body).await;
        assert_eq!(st, 201, "{u}");
        assert_eq!(u["userName"], "12345");
    }
);

app_test!(
    a_plain_department_is_the_enterprise_department_and_the_extension_wins,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        // JumpCloud's attribute table names it plainly.
        let mut body = user_body("ann@acme.test");
        body.as_object_mut().unwrap().remove(ENT);
        body["department"] = json!("Sales");
        let (st, u) = s.post("/Users", body).await;
        assert_eq!(st, 201, "{u}");
        assert_eq!(u[ENT]["department"], "Sales", "{u}");
        assert!(
            u.get("department").is_none(),
            "stored once, in the extension"
        );
        let id = u["id"].as_str().unwrap().to_string();
        // It is searchable and shown like any department (the users table's column).
        let (st, list) = s
            .get("/Users?filter=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department%20eq%20%22Sales%22")
            .await;
        assert_eq!(st, 200, "{list}");
        assert_eq!(list["totalResults"], 1, "{list}");

        // Both: the extension's value wins, whatever the order of the keys.
        for body in [
            json!({ "userName": "bob@acme.test", "department": "Ops", ENT: { "department": "Eng" } }),
            json!({ ENT: { "department": "Eng" }, "userName": "cy@acme.test", "Department": "Ops" }),
        ] {
            let (st, u) = s.post("/Users", body.clone()).await;
            assert_eq!(st, 201, "{u}");
            assert_eq!(u[ENT]["department"], "Eng", "{body} → {u}");
        }

        // PATCH with the plain path, and pathless with both.
        let path = format!("/Users/{id}");
        let (st, u) = s
            .patch(
                &path,
                json!({ "Operations": [{ "op": "replace", "path": "department", "value": "Support" }] }),
            )
            .await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u[ENT]["department"], "Support");
        let (st, u) = s
            .patch(
                &path,
                json!({ "Operations": [{ "op": "replace", "value": {
                    ENT: { "department": "Legal" }, "department": "Ops"
                } }] }),
            )
            .await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(
            u[ENT]["department"], "Legal",
            "the extension wins on PATCH too"
        );
        // PUT with the plain name replaces the extension's value.
        let mut body = user_body("ann@acme.test");
        body.as_object_mut().unwrap().remove(ENT);
        body["department"] = json!("Finance");
        let (st, u) = s.put(&path, body).await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u[ENT]["department"], "Finance");
        let (st, u) = s
            .patch(
                &path,
                json!({ "Operations": [{ "op": "remove", "path": "department" }] }),
            )
            .await;
        assert_eq!(st, 200, "{u}");
        assert!(u.get(ENT).is_none(), "{u}");

        // A wrong type under the plain name is refused, even when the extension's value wins.
        let before = s.count("users").await;
        for body in [
            json!({ "userName": "dee@acme.test", "department": { "name": "Ops" } }),
            json!({ "userName": "dee@acme.test", "department": ["Ops"], ENT: { "department": "Eng" } }),
        ] {
            let (st, e) = s.post("/Users", body.clone()).await;
            assert_scim_error(st, &e, 400, "invalidValue", &body.to_string());
        }
        let (st, e) = s
            .patch(
                &path,
                json!({ "Operations": [{ "op": "add", "path": "department", "value": { "x": 1 } }] }),
            )
            .await;
        assert_scim_error(st, &e, 400, "invalidValue", "PATCH department object");
        assert_eq!(s.count("users").await, before);
    }
);

fn rename(to: &str) -> Value {
    json!({ "Operations": [{ "op": "replace", "value": {
        "userName": to,
        "emails": [{ "value": to, "type": "work", "primary": true }]
    } }] })
}

app_test!(
    renaming_onto_another_users_name_is_a_conflict_in_the_same_org_only,
    |app: TestApp| async move {
        let a = Scim::new(&app, "Acme").await;
        let b = Scim::new(&app, "Globex").await;
        create(&a, "ann@acme.test").await;
        let bob = create(&a, "bob@acme.test").await;
        let bob_path = format!("/Users/{}", bob["id"].as_str().unwrap());
        let events_before = a.event_names().await.len();

        for to in ["ann@acme.test", "ANN@Acme.Test"] {
            let (st, e) = a.patch(&bob_path, rename(to)).await;
            assert_scim_error(st, &e, 409, "uniqueness", &format!("PATCH rename to {to}"));
            let mut body = user_body(to);
            body["externalId"] = bob["externalId"].clone();
            let (st, e) = a.put(&bob_path, body).await;
            assert_scim_error(st, &e, 409, "uniqueness", &format!("PUT rename to {to}"));
        }
        let (_, now) = a.get(&bob_path).await;
        assert_eq!(now["userName"], "bob@acme.test");
        assert_eq!(
            now["meta"]["version"], bob["meta"]["version"],
            "nothing written"
        );
        let evs = a.event_names().await;
        assert!(
            evs[events_before..]
                .iter()
                .all(|(n, ok)| n == "user_update_provision" && !ok),
            "each refusal is a failed update event: {evs:?}"
        );
        // A case-only rename of oneself is no conflict.
        let (st, u) = a.patch(&bob_path, rename("Bob@acme.test")).await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u["userName"], "Bob@acme.test");

        // The same name in another org is fine.
        let other = create(&b, "zed@acme.test").await;
        let (st, u) = b
            .patch(
                &format!("/Users/{}", other["id"].as_str().unwrap()),
                rename("ann@acme.test"),
            )
            .await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u["userName"], "ann@acme.test");

        // A soft-deleted user keeps its name until purged: still a conflict, and says so.
        let cy = create(&a, "cy@acme.test").await;
        assert_eq!(
            a.delete(&format!("/Users/{}", cy["id"].as_str().unwrap()))
                .await,
            204
        );
        let (st, e) = a.patch(&bob_path, rename("cy@acme.test")).await;
        assert_scim_error(
            st,
            &e,
            409,
            "uniqueness",
            "rename onto a deleted user's name",
        );
        assert!(e["detail"].as_str().unwrap().contains("deleted"), "{e}");

        // Two users renamed onto the same free name at once: one wins, the other is a 409
        // (the unique index catches what the check cannot see), never a 500.
        for round in 0..5 {
            let x = create(&a, &format!("x{round}@acme.test")).await;
            let y = create(&a, &format!("y{round}@acme.test")).await;
            let to = format!("new{round}@acme.test");
            let (px, py) = (
                format!("/Users/{}", x["id"].as_str().unwrap()),
                format!("/Users/{}", y["id"].as_str().unwrap()),
            );
            let ((sx, ex), (sy, ey)) =
                tokio::join!(a.patch(&px, rename(&to)), a.patch(&py, rename(&to)));
            let mut statuses = [sx, sy];
            statuses.sort();
            assert_eq!(statuses, [200, 409], "round {round}: {ex} / {ey}");
            let loser = if sx == 409 { &ex } else { &ey };
            assert_eq!(loser["scimType"], "uniqueness", "{loser}");
            let (st, list) = a
                .get(&format!("/Users?filter=userName%20eq%20%22{to}%22"))
                .await;
            assert_eq!(st, 200);
            assert_eq!(list["totalResults"], 1, "{list}");
        }
    }
);

app_test!(
    removing_active_deactivates_the_user,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        for (i, op) in [
            json!({ "op": "remove", "path": "active" }),
            json!({ "op": "Remove", "path": "ACTIVE" }),
            json!({ "op": "replace", "path": "active", "value": null }),
            json!({ "op": "replace", "value": { "active": null } }),
        ]
        .into_iter()
        .enumerate()
        {
            let u = create(&s, &format!("u{i}@acme.test")).await;
            assert_eq!(u["active"], true);
            let path = format!("/Users/{}", u["id"].as_str().unwrap());
            let (st, after) = s.patch(&path, json!({ "Operations": [op.clone()] })).await;
            assert_eq!(st, 200, "{op}: {after}");
            assert_eq!(after["active"], false, "{op}: returned, and false");
            let (_, got) = s.get(&path).await;
            assert_eq!(got["active"], false, "{op}");
            let evs = s.event_names().await;
            assert_eq!(
                evs.last().unwrap(),
                &("user_deprovision".to_string(), true),
                "{op}"
            );
        }
        // A refused removal (a stale If-Match here) is reported as a failed deprovision, the
        // name IdPs use for it.
        let u = create(&s, "stale@acme.test").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let res = sent(
            app.http
                .patch(s.url(&path))
                .bearer_auth(&s.token)
                .header("Content-Type", "application/scim+json")
                .header("If-Match", "W/\"999\"")
                .body(json!({ "Operations": [{ "op": "remove", "path": "active" }] }).to_string()),
            "PATCH",
            &path,
        )
        .await;
        assert_eq!(res.status(), 412);
        let evs = s.event_names().await;
        assert_eq!(
            evs.last().unwrap(),
            &("user_deprovision".to_string(), false),
            "{evs:?}"
        );
        let (_, got) = s.get(&path).await;
        assert_eq!(got["active"], true, "nothing written");

        // Removing something else leaves `active` as it was.
        let u = create(&s, "keep@acme.test").await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let (st, after) = s
            .patch(
                &path,
                json!({ "Operations": [{ "op": "remove", "path": "preferredLanguage" }] }),
            )
            .await;
        assert_eq!(st, 200, "{after}");
        assert_eq!(after["active"], true);
        // /Schemas says so.
        let (st, sc) = s
            .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
            .await;
        assert_eq!(st, 200);
        let active = sc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "active")
            .unwrap();
        let d = active["description"].as_str().unwrap();
        assert!(
            d.contains("removes it") && d.contains("treats as false"),
            "{d}"
        );
    }
);

/// `app.url` without the scheme.
fn host_port(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_string()
}

/// Sends `head` then `body_len` bytes in `chunked` or Content-Length framing over a raw socket,
/// writing the whole body before reading, and returns the status line and the response text.
async fn raw_upload(app: &TestApp, head: &str, body_len: usize, chunked: bool) -> (String, String) {
    let mut sock = tokio::net::TcpStream::connect(host_port(app))
        .await
        .unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n".to_string()
    } else {
        format!("Content-Length: {body_len}\r\n")
    };
    let request_head = format!("{head}{framing}Connection: close\r\n\r\n");
    let io = async {
        sock.write_all(request_head.as_bytes()).await?;
        let piece = vec![b' '; 64 * 1024];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(piece.len());
            if chunked {
                sock.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                sock.write_all(&piece[..n]).await?;
                sock.write_all(b"\r\n").await?;
            } else {
                sock.write_all(&piece[..n]).await?;
            }
            left -= n;
        }
        if chunked {
            sock.write_all(b"0\r\n\r\n").await?;
        }
        sock.flush().await?;
        let mut out = Vec::new();
        sock.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let out = tokio::time::timeout(HTTP_TIMEOUT, io)
        .await
        .expect("the upload and its answer within HTTP_TIMEOUT")
        .expect("the whole body is written and the answer read, without a reset");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.lines().next().unwrap_or_default().to_string();
    (status, text)
}

app_test!(
    a_ten_megabyte_body_is_answered_413_that_the_client_receives,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        const TEN_MB: usize = 10 * 1024 * 1024;
        let head = format!(
            "POST /scim/v2/{}/Users HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/scim+json\r\n",
            s.org,
            host_port(&app),
            s.token
        );
        for chunked in [false, true] {
            let (status, text) = raw_upload(&app, &head, TEN_MB, chunked).await;
            assert!(
                status.starts_with("HTTP/1.1 413"),
                "chunked={chunked}: {status}"
            );
            assert!(text.contains("application/scim+json"), "{text}");
            let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or(""))
                .unwrap_or_else(|e| panic!("a SCIM error body ({e}): {text}"));
            assert_eq!(body["status"], "413");
            assert_eq!(
                body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
        }
        // An ordinary client that sends it (PUT and PATCH too) gets the 413, not a reset.
        for method in [Method::POST, Method::PUT, Method::PATCH] {
            let path = if method == Method::POST {
                "/Users"
            } else {
                "/Users/x"
            };
            let res = sent(
                app.http
                    .request(method.clone(), s.url(path))
                    .bearer_auth(&s.token)
                    .header("Content-Type", "application/scim+json")
                    .body(vec![b' '; TEN_MB]),
                method.as_str(),
                path,
            )
            .await;
            assert_eq!(res.status(), 413, "{method} {path}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["status"], "413");
        }
        // A declared size past what the server would drain is answered at once (and closed),
        // without waiting for a byte of the body.
        let mut sock = tokio::net::TcpStream::connect(host_port(&app))
            .await
            .unwrap();
        let answer = tokio::time::timeout(HTTP_TIMEOUT, async {
            sock.write_all(format!("{head}Content-Length: 1073741824\r\n\r\n").as_bytes())
                .await?;
            let mut out = Vec::new();
            sock.read_to_end(&mut out).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&out).to_string())
        })
        .await
        .expect("answered without the body")
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(
            answer.to_lowercase().contains("connection: close"),
            "{answer}"
        );

        // Nothing was written, and the server still answers.
        assert_eq!(s.count("users").await, 0);
        assert_eq!(s.get("/Users").await.0, 200);
        // Just under the limit is a normal request (here: not JSON → 400, not 413).
        let (st, e, _) = s
            .send(
                Method::POST,
                "/Users",
                Some(Value::String("x".repeat(1024 * 1024 - 10))),
            )
            .await;
        assert_scim_error(st, &e, 400, "invalidSyntax", "a JSON string is no User");
    }
);

app_test!(
    a_password_is_discarded_as_schemas_says,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        const PASSWORD: &str = "Correct-Horse-Battery-9";
        let mut body = user_body("ann@acme.test");
        body["password"] = json!(PASSWORD);
        let (st, u) = s.post("/Users", body).await;
        assert_eq!(st, 201, "{u}");
        assert!(u.get("password").is_none(), "never returned: {u}");
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        let mut body = user_body("ann@acme.test");
        body["password"] = json!(format!("{PASSWORD}-put"));
        let (st, u) = s.put(&path, body).await;
        assert_eq!(st, 200, "{u}");
        let (st, u) = s
            .patch(
                &path,
                json!({ "Operations": [{ "op": "replace", "path": "password", "value": format!("{PASSWORD}-patch") }] }),
            )
            .await;
        assert_eq!(st, 200, "{u}");
        assert!(u.get("password").is_none(), "{u}");
        // Stored in no form: not in any column of the user, nor in an event.
        for table in ["users", "events"] {
            let text = if table == "users" {
                "attributes"
            } else {
                "COALESCE(message, '') || COALESCE(detail, '')"
            };
            let rows: Vec<(String,)> =
                sqlx::query_as(&format!("SELECT {text} FROM {table} WHERE org_id = $1"))
                    .bind(&s.org)
                    .fetch_all(&app.t.svc.db.pool)
                    .await
                    .unwrap();
            assert!(!rows.is_empty(), "{table}");
            for (text,) in rows {
                assert!(!text.contains(PASSWORD), "{table}: {text}");
                assert!(!text.to_lowercase().contains("password"), "{table}: {text}");
            }
        }
        // /Schemas tells the truth.
        let (st, sc) = s
            .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
            .await;
        assert_eq!(st, 200);
        let pw = sc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(pw["mutability"], "writeOnly");
        assert_eq!(pw["returned"], "never");
        let d = pw["description"].as_str().unwrap();
        assert!(
            d.contains("discarded") && d.contains("never stored") && !d.contains("hash"),
            "{d}"
        );
        // A password of the wrong type is still an error, not silently ignored.
        let mut body = user_body("bob@acme.test");
        body["password"] = json!(12345);
        let (st, e) = s.post("/Users", body).await;
        assert_scim_error(st, &e, 400, "invalidValue", "numeric password");
    }
);

app_test!(
    the_silence_warning_counts_only_successful_requests,
    |app: TestApp| async move {
        use portal_core::admin_views::{provisioning_status, SILENCE_WARNING_MS};
        let s = Scim::new(&app, "Acme").await;
        let b = Scim::new(&app, "Globex").await;
        let stale = || async {
            provisioning_status(&app.t.svc, &s.org)
                .await
                .unwrap()
                .stale_since
        };
        let t0 = portal_core::Clock::now_ms(&*app.t.clock);
        assert_eq!(s.get("/Users").await.0, 200);
        let token = || async {
            portal_core::scim_tokens::status(&app.t.svc, &s.org)
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(token().await.last_success_at, Some(t0));

        // A burst within the resolution costs no write.
        app.t.clock.advance_ms(10_000);
        for _ in 0..20 {
            assert_eq!(s.get("/Users").await.0, 200);
        }
        assert_eq!(token().await.last_success_at, Some(t0));

        // Two cycles later the IdP still calls, but every answer is a failure.
        app.t.clock.advance_ms(SILENCE_WARNING_MS);
        let failures: Vec<(Method, &str, Option<Value>)> = vec![
            (Method::POST, "/Users", Some(json!({ "userName": 42 }))),
            (Method::GET, "/Users/no-such-user", None),
            (Method::GET, "/Users?filter=bogus%20%22", None),
            (
                Method::PATCH,
                "/Users/no-such-user",
                Some(json!({ "Operations": [] })),
            ),
        ];
        for (m, p, body) in failures {
            let (st, _, _) = s.send(m.clone(), p, body).await;
            assert!(st >= 400, "{m} {p}: {st}");
        }
        let t = token().await;
        assert!(
            t.last_used_at.unwrap() > t0,
            "the requests were authenticated"
        );
        assert_eq!(t.last_success_at, Some(t0));
        assert_eq!(
            stale().await,
            Some(t0),
            "failures do not silence the warning"
        );
        // Another org's successes do not count for this one.
        assert_eq!(b.get("/Users").await.0, 200);
        assert_eq!(stale().await, Some(t0));

        // One success clears it.
        assert_eq!(s.get("/ServiceProviderConfig").await.0, 200);
        assert_eq!(stale().await, None);
        assert!(token().await.last_success_at.unwrap() > t0);
    }
);

app_test!(
    changing_the_scim_rules_of_an_activated_integration_is_an_integration_update,
    |app: TestApp| async move {
        use portal_core::org_settings::{update, SettingsChange, EV_INTEGRATION_UPDATE};
        let svc = &app.t.svc;
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let updates = || async {
            portal_core::events::recent(&svc.db, &org, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.name == EV_INTEGRATION_UPDATE)
                .collect::<Vec<_>>()
        };
        let domains = |d: &str| SettingsChange {
            allowed_domains: Some(d.to_string()),
            ..Default::default()
        };
        // SCIM off: a settings change is only a settings change.
        update(svc, &org, "owner@acme.test", &domains("acme.test"))
            .await
            .unwrap();
        assert!(updates().await.is_empty());

        portal_core::scim_tokens::generate(svc, &org, "owner@acme.test")
            .await
            .unwrap();
        // Settings that do not touch provisioning.
        let other = SettingsChange {
            name: Some("Acme Corp".into()),
            event_retention_days: Some("90".into()),
            ..Default::default()
        };
        update(svc, &org, "owner@acme.test", &other).await.unwrap();
        // Nothing changed at all.
        update(svc, &org, "owner@acme.test", &domains("acme.test"))
            .await
            .unwrap();
        assert!(updates().await.is_empty());

        // The rules SCIM requests are checked against.
        update(
            svc,
            &org,
            "owner@acme.test",
            &domains("acme.test, acme.example"),
        )
        .await
        .unwrap();
        let rule = SettingsChange {
            username_equals_work_email: Some(false),
            name: Some("Acme".into()),
            ..Default::default()
        };
        update(svc, &org, "owner@acme.test", &rule).await.unwrap();
        let evs = updates().await;
        assert_eq!(evs.len(), 2, "{evs:?}");
        let newest = &evs[0];
        assert!(newest.success);
        assert_eq!(newest.actor, "owner@acme.test");
        assert!(
            newest
                .message
                .contains("userName must equal the work email")
                && !newest.message.contains("name \""),
            "only the SCIM rules are named: {}",
            newest.message
        );
        assert!(
            evs[1].message.contains("acme.example"),
            "{}",
            evs[1].message
        );

        // After revoking, SCIM is off again.
        portal_core::scim_tokens::revoke(svc, &org, "owner@acme.test")
            .await
            .unwrap();
        update(svc, &org, "owner@acme.test", &domains(""))
            .await
            .unwrap();
        assert_eq!(updates().await.len(), 2);
        // Another org's change never shows here.
        let other_org = admin(&app, "Globex", "owner@globex.test").await;
        portal_core::scim_tokens::generate(svc, &other_org, "owner@globex.test")
            .await
            .unwrap();
        update(
            svc,
            &other_org,
            "owner@globex.test",
            &domains("globex.test"),
        )
        .await
        .unwrap();
        assert_eq!(updates().await.len(), 2);
    }
);
