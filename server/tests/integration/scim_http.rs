//! The SCIM 2.0 API against the real server, on SQLite and PostgreSQL.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

app_test!(
    every_endpoint_requires_the_orgs_current_token,
    |app: TestApp| async move {
        let a = Scim::new(&app, "Acme").await;
        let b = Scim::new(&app, "Globex").await;
        for path in [
            "/Users",
            "/Users/x",
            "/ServiceProviderConfig",
            "/Schemas",
            "/ResourceTypes",
            "/Groups",
        ] {
            let res = app.http.get(a.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 401, "{path} without a token");
            assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"SCIM\"");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["status"], "401");
            assert_eq!(
                body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
            // Org B's token on org A's URL.
            let res = app
                .http
                .get(a.url(path))
                .bearer_auth(&b.token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401, "{path} with another org's token");
            let res = app
                .http
                .get(a.url(path))
                .header("Authorization", format!("Basic {}", a.token))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401, "{path} with the wrong scheme");
        }
        // The scheme name is case-insensitive.
        let res = app
            .http
            .get(a.url("/Users"))
            .header("Authorization", format!("bearer {}", a.token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        // A token for an org id that does not exist, or a malformed org id.
        let res = app
            .http
            .get(format!("{}/scim/v2/{}/Users", app.url, "0".repeat(32)))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let res = app
            .http
            .get(format!("{}/scim/v2/../../etc/Users", app.url))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert!(res.status() == 401 || res.status() == 404);
    }
);

app_test!(
    replacing_the_token_refuses_the_old_one_at_once,
    |app: TestApp| async move {
        let mut s = Scim::new(&app, "Acme").await;
        assert_eq!(s.get("/Users").await.0, 200);
        let old = s.token.clone();
        s.token = portal_core::scim_tokens::generate(&app.t.svc, &s.org, "test")
            .await
            .unwrap()
            .into_exposed();
        assert_eq!(s.get("/Users").await.0, 200);
        let res = app
            .http
            .get(s.url("/Users"))
            .bearer_auth(&old)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let (count, last) = portal_core::scim_tokens::rejected_summary(&app.t.svc, &s.org)
            .await
            .unwrap();
        assert_eq!(count, 1);
        assert!(last.is_some());
        // Revoke turns SCIM off.
        portal_core::scim_tokens::revoke(&app.t.svc, &s.org, "test")
            .await
            .unwrap();
        assert_eq!(s.get("/Users").await.0, 401);
        // Only the hash is stored.
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM scim_tokens WHERE token_hash = $1 OR token_hash = $2",
        )
        .bind(&s.token)
        .bind(&old)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(n, 0);
    }
);

app_test!(
    discovery_endpoints_tell_the_truth,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let (st, spc) = s.get("/ServiceProviderConfig").await;
        assert_eq!(st, 200);
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["filter"]["supported"], true);
        assert_eq!(spc["filter"]["maxResults"], 200);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["sort"]["supported"], true);
        assert_eq!(spc["changePassword"]["supported"], false);
        let (st, rt) = s.get("/ResourceTypes").await;
        assert_eq!(st, 200);
        assert_eq!(rt["totalResults"], 2);
        assert_eq!(rt["Resources"][0]["id"], "User");
        assert_eq!(rt["Resources"][1]["id"], "Group");
        let (st, _) = s.get("/ResourceTypes/User").await;
        assert_eq!(st, 200);
        let (st, sc) = s.get("/Schemas").await;
        assert_eq!(st, 200);
        assert_eq!(sc["totalResults"], 3);
        let (st, _) = s
            .get("/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .await;
        assert_eq!(st, 200);
        // Groups (issue 13): listed, and served.
        let (st, _) = s.get("/ResourceTypes/Group").await;
        assert_eq!(st, 200);
        let (st, g) = s.get("/Groups").await;
        assert_eq!(st, 200, "{g}");
        assert_eq!(g["totalResults"], 0);
    }
);

app_test!(
    user_lifecycle_create_get_put_patch_delete_revive,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let mut body = user_body("ann@acme.test");
        body["id"] = json!("client-chosen-id");
        body["password"] = json!("S3cret-pass!");
        let (st, created, headers) = s.send(Method::POST, "/Users", Some(body)).await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_ne!(id, "client-chosen-id");
        assert_eq!(
            headers["location"].to_str().unwrap(),
            s.url(&format!("/Users/{id}"))
        );
        assert_eq!(created["meta"]["location"], s.url(&format!("/Users/{id}")));
        assert_eq!(headers["content-type"], "application/scim+json");
        assert!(headers["etag"].to_str().unwrap().starts_with("W/\""));
        assert!(created.get("password").is_none());
        assert_eq!(created["active"], true);
        assert_eq!(
            created["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Sales"
        );
        // The password is stored nowhere.
        let (pw,): (Option<String>,) =
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert!(pw.is_none());
        let attrs: (String,) = sqlx::query_as("SELECT attributes FROM users WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert!(!attrs.0.contains("S3cret"));

        let (st, got) = s.get(&format!("/Users/{id}")).await;
        assert_eq!(st, 200);
        assert_eq!(got["userName"], "ann@acme.test");

        // Lookup the way JumpCloud does.
        let (st, list) = s
            .get("/Users?filter=userName%20eq%20%22ANN@acme.test%22")
            .await;
        assert_eq!(st, 200);
        assert_eq!(list["totalResults"], 1);
        assert_eq!(list["Resources"][0]["id"], id);

        // PUT replaces.
        let mut put = user_body("ann@acme.test");
        put["name"] = json!({"givenName": "Anna", "familyName": "Lee"});
        put["title"] = json!("Engineer");
        let (st, after) = s.put(&format!("/Users/{id}"), put).await;
        assert_eq!(st, 200, "{after}");
        assert_eq!(after["name"]["givenName"], "Anna");
        assert_eq!(after["title"], "Engineer");

        // PATCH deactivates.
        let (st, after) = s.patch(&format!("/Users/{id}"), json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]})).await;
        assert_eq!(st, 200, "{after}");
        assert_eq!(after["active"], false);
        // Deactivated users are still listed, with active present.
        let (_, list) = s.get("/Users").await;
        assert_eq!(list["totalResults"], 1);
        assert_eq!(list["Resources"][0]["active"], false);

        // DELETE = soft delete.
        assert_eq!(s.delete(&format!("/Users/{id}")).await, 204);
        assert_eq!(s.get(&format!("/Users/{id}")).await.0, 404);
        assert_eq!(
            s.put(&format!("/Users/{id}"), user_body("ann@acme.test"))
                .await
                .0,
            404
        );
        assert_eq!(
            s.patch(
                &format!("/Users/{id}"),
                json!({"Operations":[{"op":"replace","path":"title","value":"x"}]})
            )
            .await
            .0,
            404
        );
        assert_eq!(s.delete(&format!("/Users/{id}")).await, 404);
        let (_, list) = s.get("/Users").await;
        assert_eq!(list["totalResults"], 0);
        let (_, list) = s
            .get("/Users?filter=userName%20eq%20%22ann@acme.test%22")
            .await;
        assert_eq!(list["totalResults"], 0);
        assert_eq!(s.count("users").await, 1, "the row is kept");

        // Provisioning the same userName again brings the same user back.
        let (st, back) = s.post("/Users", user_body("ann@acme.test")).await;
        assert_eq!(st, 201, "{back}");
        assert_eq!(back["id"], id);
        assert_eq!(s.count("users").await, 1);

        let names: Vec<String> = s.event_names().await.into_iter().map(|(n, _)| n).collect();
        for expected in [
            "idm_integration_activate",
            "user_create_provision",
            "user_update_provision",
            "user_deprovision",
            "user_delete_provision",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "missing event {expected} in {names:?}"
            );
        }
    }
);

app_test!(revive_by_external_id, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    let mut body = user_body("old@acme.test");
    body["externalId"] = json!("E-77");
    let (_, u) = s.post("/Users", body).await;
    let id = u["id"].as_str().unwrap().to_string();
    assert_eq!(s.delete(&format!("/Users/{id}")).await, 204);
    let mut body = user_body("new@acme.test");
    body["externalId"] = json!("E-77");
    let (st, back) = s.post("/Users", body).await;
    assert_eq!(st, 201);
    assert_eq!(back["id"], id);
    assert_eq!(back["userName"], "new@acme.test");
});

app_test!(
    concurrent_duplicate_creates_yield_exactly_one_user,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let url = s.url("/Users");
            let token = s.token.clone();
            let http = app.http.clone();
            let mut body = user_body("race@acme.test");
            if i % 2 == 0 {
                body["userName"] = json!("RACE@acme.test");
                body["emails"] = json!([{"value": "RACE@acme.test", "type": "work"}]);
            }
            tasks.push(tokio::spawn(async move {
                let res = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let st = res.status().as_u16();
                let j: Value = res.json().await.unwrap();
                (st, j)
            }));
        }
        let mut created = 0;
        let mut conflicts = 0;
        for t in tasks {
            let (st, j) = t.await.unwrap();
            match st {
                201 => created += 1,
                409 => {
                    assert_eq!(j["scimType"], "uniqueness");
                    conflicts += 1
                }
                other => panic!("unexpected {other}: {j}"),
            }
        }
        assert_eq!((created, conflicts), (1, 7));
        assert_eq!(s.count("users").await, 1);
        assert_eq!(s.count("user_emails").await, 1);
    }
);

app_test!(
    concurrent_revivals_of_a_deleted_user_yield_exactly_one,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let (st, created) = s.post("/Users", user_body("back@acme.test")).await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(s.delete(&format!("/Users/{id}")).await, 204);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (url, token, http) = (s.url("/Users"), s.token.clone(), app.http.clone());
            let body = user_body("back@acme.test");
            tasks.push(tokio::spawn(async move {
                let res = crate::common::sent(
                    http.post(url).bearer_auth(token).json(&body),
                    "POST",
                    "/Users",
                )
                .await;
                let st = res.status().as_u16();
                let etag = res
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let j: Value = res.json().await.unwrap();
                (st, etag, j)
            }));
        }
        let mut revived = Vec::new();
        for t in tasks {
            let (st, etag, j) = t.await.unwrap();
            match st {
                200 | 201 => revived.push((etag, j)),
                409 => assert_eq!(j["scimType"], "uniqueness", "{j}"),
                other => panic!("unexpected {other}: {j}"),
            }
        }
        assert_eq!(revived.len(), 1, "{revived:?}");
        let (etag, j) = &revived[0];
        assert_eq!(j["id"], id.as_str());
        // The answer carries the version the database holds.
        let res = crate::common::sent(
            app.http
                .get(s.url(&format!("/Users/{id}")))
                .bearer_auth(&s.token),
            "GET",
            "/Users/{id}",
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);
        let now = res
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        assert_eq!(etag, &now);
        assert_eq!(s.count("users").await, 1);
    }
);

app_test!(work_email_must_equal_user_name, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    let mut body = user_body("ann@acme.test");
    body["emails"] = json!([{"value": "ann.lee@acme.test", "type": "work", "primary": true}]);
    let (st, err) = s.post("/Users", body).await;
    assert_eq!(st, 400);
    assert_eq!(err["scimType"], "invalidValue");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("same source attribute"),
        "{err}"
    );
    assert_eq!(s.count("users").await, 0);
    // The failure is on the activity log with its SCIM error.
    let evs = portal_core::events::recent(&app.t.svc.db, &s.org, 10)
        .await
        .unwrap();
    let e = evs
        .iter()
        .find(|e| e.name == "user_create_provision")
        .unwrap();
    assert!(!e.success);
    assert_eq!(e.scim_type.as_deref(), Some("invalidValue"));
});

app_test!(etags_and_if_match, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    let (_, u, h) = s
        .send(Method::POST, "/Users", Some(user_body("e@acme.test")))
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    let etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(u["meta"]["version"], etag);
    let stale = app
        .http
        .put(s.url(&format!("/Users/{id}")))
        .bearer_auth(&s.token)
        .header("If-Match", "W/\"999\"")
        .json(&user_body("e@acme.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let ok = app
        .http
        .patch(s.url(&format!("/Users/{id}")))
        .bearer_auth(&s.token)
        .header("If-Match", &etag)
        .json(&json!({"Operations":[{"op":"replace","path":"title","value":"Boss"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let new_etag = ok.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let stale_delete = app
        .http
        .delete(s.url(&format!("/Users/{id}")))
        .bearer_auth(&s.token)
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 412);
    let del = app
        .http
        .delete(s.url(&format!("/Users/{id}")))
        .bearer_auth(&s.token)
        .header("If-Match", &new_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
});

app_test!(
    list_paging_sorting_and_projection,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        for n in ["c", "a", "b", "e", "d"] {
            let (st, _) = s.post("/Users", user_body(&format!("{n}@acme.test"))).await;
            assert_eq!(st, 201);
        }
        let (_, p) = s.get("/Users?startIndex=1&count=2").await;
        assert_eq!(p["totalResults"], 5);
        assert_eq!(p["itemsPerPage"], 2);
        assert_eq!(p["startIndex"], 1);
        assert!(p["totalResults"].is_i64());
        // startIndex < 1 is treated as 1; count < 0 as 0.
        let (_, p) = s.get("/Users?startIndex=0&count=-3").await;
        assert_eq!(p["startIndex"], 1);
        assert_eq!(p["itemsPerPage"], 0);
        assert_eq!(p["totalResults"], 5);
        // Beyond the end: empty page.
        let (_, p) = s.get("/Users?startIndex=10").await;
        assert_eq!(p["itemsPerPage"], 0);
        let (_, p) = s.get("/Users?sortBy=userName&sortOrder=descending").await;
        let names: Vec<&str> = p["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "e@acme.test",
                "d@acme.test",
                "c@acme.test",
                "b@acme.test",
                "a@acme.test"
            ]
        );
        let (_, p) = s.get("/Users?attributes=userName&count=1").await;
        let u = &p["Resources"][0];
        assert!(u.get("userName").is_some() && u.get("id").is_some() && u.get("active").is_some());
        assert!(u.get("name").is_none() && u.get("emails").is_none());
        let (_, p) = s.get("/Users?excludedAttributes=emails,name&count=1").await;
        let u = &p["Resources"][0];
        assert!(
            u.get("emails").is_none() && u.get("name").is_none() && u.get("userName").is_some()
        );
        // POST /.search
        let (st, p) = s.post("/Users/.search", json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"a\"","attributes":["userName"],"startIndex":1,"count":10})).await;
        assert_eq!(st, 200);
        assert_eq!(p["totalResults"], 1);
        assert_eq!(p["Resources"][0]["userName"], "a@acme.test");
        // Bad paging values.
        assert_eq!(s.get("/Users?count=lots").await.0, 400);
        assert_eq!(s.get("/Users?sortBy=favouriteColour").await.0, 400);
    }
);

app_test!(filters_over_http, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    let (_, a) = s.post("/Users", user_body("ann@acme.test")).await;
    let mut b = user_body("bob@acme.test");
    b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = json!({"department": "R&D"});
    b["externalId"] = json!("E-B");
    s.post("/Users", b).await;
    let cases = [
        ("externalId eq \"E-B\"", vec!["bob@acme.test"]),
        ("emails.value eq \"ANN@acme.test\"", vec!["ann@acme.test"]),
        (
            "emails[type eq \"work\"].value eq \"bob@acme.test\"",
            vec!["bob@acme.test"],
        ),
        (
            "emails[type eq \"work\" and value co \"ann\"]",
            vec!["ann@acme.test"],
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"R&D\"",
            vec!["bob@acme.test"],
        ),
        (
            "userName sw \"a\" or userName sw \"b\"",
            vec!["ann@acme.test", "bob@acme.test"],
        ),
        ("not (userName eq \"ann@acme.test\")", vec!["bob@acme.test"]),
        ("USERNAME EQ \"bob@acme.test\"", vec!["bob@acme.test"]),
        ("userName co \"%\"", vec![]),
        ("userName eq \"x' OR 1=1 --\"", vec![]),
        (
            "active eq true and name.givenName pr",
            vec!["ann@acme.test", "bob@acme.test"],
        ),
    ];
    for (f, expected) in cases {
        let (st, p) = s.post("/Users/.search", json!({"filter": f})).await;
        assert_eq!(st, 200, "{f}: {p}");
        let mut got: Vec<String> = p["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        assert_eq!(got, expected, "{f}");
    }
    for bad in [
        "userName eq",
        "userName xx \"a\"",
        "favouriteColour eq \"x\"",
        "((userName eq \"a\"",
        "userName eq bjensen",
    ] {
        let (st, p) = s.post("/Users/.search", json!({"filter": bad})).await;
        assert_eq!(st, 400, "{bad}");
        assert_eq!(p["scimType"], "invalidFilter", "{bad}");
    }
    let bomb = format!("{}userName eq \"a\"{}", "(".repeat(2000), ")".repeat(2000));
    let (st, p) = s.post("/Users/.search", json!({"filter": bomb})).await;
    assert_eq!(st, 400);
    assert_eq!(p["scimType"], "invalidFilter");
    let _ = a;
});

app_test!(
    bad_input_never_5xx_and_changes_nothing,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let (_, u) = s.post("/Users", user_body("keep@acme.test")).await;
        let id = u["id"].as_str().unwrap().to_string();
        let before: (String, i64) =
            sqlx::query_as("SELECT attributes, version FROM users WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let bodies: Vec<(&str, String)> = vec![
            ("not json", "{nope".into()),
            ("empty", "".into()),
            ("array", "[]".into()),
            ("deep", deep.clone()),
            ("nul", json!({"userName": "a\u{0}b@acme.test"}).to_string()),
            (
                "wrong type",
                json!({"userName": 5, "emails": "x"}).to_string(),
            ),
            (
                "active maybe",
                json!({"userName": "m@acme.test", "active": "maybe"}).to_string(),
            ),
            (
                "huge string",
                json!({"userName": "h@acme.test", "title": "x".repeat(5000)}).to_string(),
            ),
            (
                "no userName",
                json!({"name": {"givenName": "x"}}).to_string(),
            ),
        ];
        for (what, body) in &bodies {
            for (method, path) in [
                (Method::POST, "/Users".to_string()),
                (Method::PUT, format!("/Users/{id}")),
            ] {
                let res = app
                    .http
                    .request(method.clone(), s.url(&path))
                    .bearer_auth(&s.token)
                    .header("Content-Type", "text/plain")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let st = res.status().as_u16();
                assert!((400..500).contains(&st), "{what} {method} → {st}");
                let j: Value = res.json().await.unwrap();
                assert_eq!(
                    j["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
                    "{what}"
                );
            }
            let res = app
                .http
                .patch(s.url(&format!("/Users/{id}")))
                .bearer_auth(&s.token)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert!(
                res.status().is_client_error(),
                "{what} PATCH → {}",
                res.status()
            );
        }
        for patch in [
            json!({"Operations": []}),
            json!({"Operations": [{"op": "explode", "path": "title", "value": "x"}]}),
            json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
            json!({"Operations": [{"op": "replace", "path": "meta.created", "value": "x"}]}),
            json!({"Operations": [{"op": "remove"}]}),
            json!({"Operations": [{"op": "remove", "path": "emails[type eq \"home\"]"}]}),
            json!({"Operations": [{"op": "replace", "path": "emails[", "value": "x"}]}),
            json!({"Operations": [{"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "id", "value": "x"}]}),
            json!({"Operations": [{"op": "replace", "path": "userName", "value": "other@acme.test"}]}),
        ] {
            let (st, j) = s.patch(&format!("/Users/{id}"), patch.clone()).await;
            assert_eq!(st, 400, "{patch} → {j}");
            assert!(j["scimType"].is_string(), "{patch} → {j}");
        }
        let big = json!({"userName": "big@acme.test", "title": "x".repeat(1_100_000)}).to_string();
        let res = app
            .http
            .post(s.url("/Users"))
            .bearer_auth(&s.token)
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413);
        let after: (String, i64) =
            sqlx::query_as("SELECT attributes, version FROM users WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(before, after, "nothing changed");
        assert_eq!(s.count("users").await, 1);
    }
);

app_test!(
    a_failed_deactivation_is_logged_as_a_failed_deprovision,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let (_, u) = s.post("/Users", user_body("d@acme.test")).await;
        let id = u["id"].as_str().unwrap().to_string();
        // Entra-style pathless "False" with a stale If-Match: refused, and named as a deprovision.
        let res = app
            .http
            .patch(s.url(&format!("/Users/{id}")))
            .bearer_auth(&s.token)
            .header("If-Match", "W/\"99\"")
            .json(&json!({"Operations": [{"op": "Replace", "value": {"Active": "False"}}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 412);
        // A failed title change is an update failure.
        let res = app
            .http
            .patch(s.url(&format!("/Users/{id}")))
            .bearer_auth(&s.token)
            .header("If-Match", "W/\"99\"")
            .json(&json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 412);
        let failed: Vec<String> = s
            .event_names()
            .await
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(failed, ["user_deprovision", "user_update_provision"]);
    }
);

/// Issue 11: a SCIM request notes its token's use in memory (no write on the request path); the
/// server writes what is still waiting when it stops, after the requests in flight.
async fn token_use_is_written_when_the_server_stops(backend: portal_core::Backend) {
    let Stoppable { app, stop, served } = spawn_stoppable(backend).await;
    // No tick during the test: only the shutdown can write the use.
    app.t
        .svc
        .db
        .token_usage()
        .set_flush_interval(std::time::Duration::from_secs(3600));
    let s = Scim::new(&app, "Acme").await;
    assert_eq!(s.get("/Users").await.0, 200);
    let row = |svc: portal_core::Services, org: String| async move {
        sqlx::query_as::<_, (Option<i64>, Option<i64>, Option<String>, Option<i64>)>(
            "SELECT first_used_at, last_used_at, last_user_agent, last_success_at \
             FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL",
        )
        .bind(org)
        .fetch_one(&svc.db.pool)
        .await
        .unwrap()
    };
    assert_eq!(
        row(app.t.svc.clone(), s.org.clone()).await,
        (None, None, None, None),
        "the request wrote its token's row itself"
    );
    assert_eq!(app.t.svc.db.token_usage().waiting(), 1);
    stop.send(()).unwrap();
    served.await.unwrap();
    let now = app.t.svc.now();
    assert_eq!(
        row(app.t.svc.clone(), s.org.clone()).await,
        (
            Some(now),
            Some(now),
            Some("test-client/1.0".to_string()),
            Some(now)
        )
    );
    assert_eq!(app.t.svc.db.token_usage().waiting(), 0);
}

/// Issue 11: the SCIM request log's writer waits a moment to write many rows at once; a server
/// that stops writes what the last requests left before it returns.
async fn logged_requests_are_written_when_the_server_stops(backend: portal_core::Backend) {
    let Stoppable { app, stop, served } = spawn_stoppable(backend).await;
    let s = Scim::new(&app, "Acme").await;
    assert_eq!(s.get("/Users?count=1").await.0, 200);
    stop.send(()).unwrap();
    served.await.unwrap();
    // At once: a row written after the server returned would be lost by a process that exits.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM scim_requests WHERE org_id = $1 AND path = '/Users?count=1'",
    )
    .bind(&s.org)
    .fetch_one(&app.t.svc.db.pool)
    .await
    .unwrap();
    assert_eq!(
        n, 1,
        "the last request's log row was written before the server stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_requests_are_written_when_the_server_stops_sqlite() {
    deadline(logged_requests_are_written_when_the_server_stops(
        portal_core::Backend::Sqlite,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_requests_are_written_when_the_server_stops_postgres() {
    deadline(logged_requests_are_written_when_the_server_stops(
        portal_core::Backend::Postgres,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_use_is_written_when_the_server_stops_sqlite() {
    deadline(token_use_is_written_when_the_server_stops(
        portal_core::Backend::Sqlite,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_use_is_written_when_the_server_stops_postgres() {
    deadline(token_use_is_written_when_the_server_stops(
        portal_core::Backend::Postgres,
    ))
    .await;
}

app_test!(
    token_use_shows_on_the_screens_at_once_and_a_revoked_token_is_refused_at_once,
    |app: TestApp| async move {
        // Written only by a read or the shutdown: the screens must still show it at once.
        app.t
            .svc
            .db
            .token_usage()
            .set_flush_interval(std::time::Duration::from_secs(3600));
        let s = Scim::new(&app, "Acme").await;
        assert_eq!(s.get("/Users").await.0, 200);
        let status = portal_core::scim_tokens::status(&app.t.svc, &s.org)
            .await
            .unwrap()
            .unwrap();
        let now = app.t.svc.now();
        assert_eq!(status.first_used_at, Some(now));
        assert_eq!(status.last_used_at, Some(now));
        assert_eq!(status.last_user_agent.as_deref(), Some("test-client/1.0"));
        assert_eq!(status.last_success_at, Some(now));
        // Revoked: refused by the next request, with nothing flushed in between.
        portal_core::scim_tokens::revoke(&app.t.svc, &s.org, "test")
            .await
            .unwrap();
        assert_eq!(s.get("/Users").await.0, 401);
        assert_eq!(s.get("/Users").await.0, 401);
        let (count, last) = portal_core::scim_tokens::rejected_summary(&app.t.svc, &s.org)
            .await
            .unwrap();
        assert_eq!((count, last), (2, Some(now)));
    }
);

app_test!(
    a_read_shows_groups_created_since_the_last_request_of_the_org,
    |app: TestApp| async move {
        // Reads in an org without groups skip the query for them (issue 11); the check is made
        // again by every request, so the first read after a group appears shows it.
        let s = Scim::new(&app, "Acme").await;
        let (st, u) = s.post("/Users", user_body("ann@acme.test")).await;
        assert_eq!(st, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        let lookup = "/Users?filter=userName%20eq%20%22ann%40acme.test%22";
        let (st, got) = s.get(&format!("/Users/{id}")).await;
        assert_eq!(st, 200);
        assert!(got.get("groups").is_none(), "{got}");
        let (st, found) = s.get(lookup).await;
        assert_eq!(st, 200);
        assert!(found["Resources"][0].get("groups").is_none(), "{found}");
        let (st, g) = s
            .post(
                "/Groups",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Eng",
                    "members": [{"value": id}]
                }),
            )
            .await;
        assert_eq!(st, 201, "{g}");
        let (st, got) = s.get(&format!("/Users/{id}")).await;
        assert_eq!(st, 200);
        assert_eq!(got["groups"][0]["value"], g["id"], "{got}");
        let (st, found) = s.get(lookup).await;
        assert_eq!(st, 200);
        assert_eq!(
            found["Resources"][0]["groups"][0]["value"], g["id"],
            "{found}"
        );
        // Another org's group does not make this org's users ask for theirs, nor show them.
        let other = Scim::new(&app, "Globex").await;
        let (st, o) = other.post("/Users", user_body("bob@globex.test")).await;
        assert_eq!(st, 201, "{o}");
        let (st, got) = other
            .get(&format!("/Users/{}", o["id"].as_str().unwrap()))
            .await;
        assert_eq!(st, 200);
        assert!(got.get("groups").is_none(), "{got}");
    }
);

// Issue 11: a get and a list page write each user straight from its stored text; with
// `attributes` / `excludedAttributes` the resource is built as a JSON tree and projected. Both
// must show the same user: the column's `active`, its meta, its groups.
app_test!(
    a_user_reads_the_same_in_a_get_a_list_page_and_a_projection,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let (st, u) = s.post("/Users", user_body("ann@acme.test")).await;
        assert_eq!(st, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        let (st, _) = s.post("/Users", user_body("bob@acme.test")).await;
        assert_eq!(st, 201);
        let (st, g) = s
            .post(
                "/Groups",
                json!({"displayName": "Ops \"night\"", "members": [{"value": id}]}),
            )
            .await;
        assert_eq!(st, 201, "{g}");
        let (st, _) = s.patch(&format!("/Users/{id}"), json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]})).await;
        assert_eq!(st, 200);
        let (st, got, headers) = s.send(Method::GET, &format!("/Users/{id}"), None).await;
        assert_eq!(st, 200);
        assert_eq!(got["id"], id.as_str());
        assert_eq!(got["active"], false);
        assert_eq!(got["userName"], "ann@acme.test");
        assert_eq!(got["name"]["familyName"], "Lee");
        assert_eq!(got["meta"]["location"], s.url(&format!("/Users/{id}")));
        assert_eq!(got["meta"]["version"], headers["etag"].to_str().unwrap());
        assert_eq!(got["meta"]["resourceType"], "User");
        assert_eq!(got["groups"][0]["value"], g["id"]);
        assert_eq!(got["groups"][0]["display"], "Ops \"night\"");
        assert_eq!(got["groups"].as_array().unwrap().len(), 1);
        let (_, projected) = s
            .get(&format!("/Users/{id}?excludedAttributes=nickName"))
            .await;
        assert_eq!(projected, got);
        let (_, only) = s.get(&format!("/Users/{id}?attributes=groups")).await;
        assert_eq!(only["groups"], got["groups"]);
        assert!(only.get("name").is_none(), "{only}");
        for path in [
            "/Users?count=10",
            "/Users?count=10&excludedAttributes=nickName",
            "/Users?filter=userName%20eq%20%22ann@acme.test%22",
            "/Users?filter=active%20eq%20false",
        ] {
            let (st, page) = s.get(path).await;
            assert_eq!(st, 200, "{path}: {page}");
            // Both users were created at the test clock's same instant: the order is by id.
            let ann = page["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id.as_str());
            assert_eq!(ann, Some(&got), "{path}");
            assert_eq!(
                page["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
            );
            assert_eq!(page["startIndex"], 1);
            let n = page["Resources"].as_array().unwrap().len();
            assert_eq!(page["itemsPerPage"], n);
            assert_eq!(
                page["totalResults"],
                if path.contains("filter") { 1 } else { 2 }
            );
        }
        let (_, first) = s.get("/Users?count=1").await;
        let (_, second) = s.get("/Users?startIndex=2&count=1").await;
        let names = [&first, &second].map(|p| p["Resources"][0]["userName"].clone());
        assert!(names.contains(&json!("ann@acme.test")) && names.contains(&json!("bob@acme.test")));
        let bob = if names[0] == "bob@acme.test" {
            &first
        } else {
            &second
        };
        assert!(bob["Resources"][0].get("groups").is_none(), "{bob}");
        assert_eq!(
            (
                second["totalResults"].clone(),
                second["itemsPerPage"].clone()
            ),
            (json!(2), json!(1))
        );
    }
);
