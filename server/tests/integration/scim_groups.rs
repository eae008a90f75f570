//! SCIM Groups (issue 13) over HTTP, on SQLite and PostgreSQL: the lifecycle, the forms Entra ID
//! and Okta send, uniqueness, other orgs' ids, excludedAttributes, filters, bad input.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn new_user(s: &Scim<'_>, name: &str) -> String {
    let (st, u) = s
        .post("/Users", user_body(&format!("{name}@acme.test")))
        .await;
    assert_eq!(st, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

fn member_ids(g: &Value) -> Vec<String> {
    let mut v: Vec<String> = g["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn assert_scim_error(st: u16, body: &Value, status: u16, scim_type: &str) {
    assert_eq!(st, status, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    assert_eq!(body["scimType"], scim_type, "{body}");
}

app_test!(
    group_lifecycle_create_get_list_put_delete,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let ann = new_user(&s, "ann").await;
        let bob = new_user(&s, "bob").await;
        let (st, g, headers) = s
            .send(
                Method::POST,
                "/Groups",
                Some(
                    json!({"schemas": [GROUP], "displayName": "Sales", "externalId": "ext-sales",
                    "members": [{"value": ann, "display": "ignored"}, {"value": ann}]}),
                ),
            )
            .await;
        assert_eq!(st, 201, "{g}");
        let id = g["id"].as_str().unwrap().to_string();
        assert_eq!(
            headers["location"].to_str().unwrap(),
            s.url(&format!("/Groups/{id}"))
        );
        assert!(headers["etag"].to_str().unwrap().starts_with("W/\""));
        assert_eq!(g["schemas"][0], GROUP);
        assert_eq!(g["displayName"], "Sales");
        assert_eq!(g["externalId"], "ext-sales");
        assert_eq!(g["meta"]["resourceType"], "Group");
        assert_eq!(
            g["members"].as_array().unwrap().len(),
            1,
            "duplicates collapse"
        );
        assert_eq!(g["members"][0]["value"], ann.as_str());
        assert_eq!(g["members"][0]["$ref"], s.url(&format!("/Users/{ann}")));
        assert_eq!(g["members"][0]["type"], "User");
        // The user's read-only groups.
        let (_, u) = s.get(&format!("/Users/{ann}")).await;
        assert_eq!(u["groups"][0]["value"], id.as_str());
        assert_eq!(u["groups"][0]["display"], "Sales");
        assert_eq!(u["groups"][0]["$ref"], s.url(&format!("/Groups/{id}")));
        let (_, u) = s.get(&format!("/Users/{bob}")).await;
        assert!(u.get("groups").is_none(), "{u}");
        let (_, l) = s
            .get(&format!(
                "/Users?filter={}",
                urlencoding(&format!("id eq \"{ann}\""))
            ))
            .await;
        assert_eq!(l["Resources"][0]["groups"][0]["value"], id.as_str());
        // A User PUT that sends `groups` back (Okta does) changes nothing about them.
        let (_, mut got) = s.get(&format!("/Users/{ann}")).await;
        got["groups"] = json!([]);
        let (st, _) = s.put(&format!("/Users/{ann}"), got).await;
        assert_eq!(st, 200);
        let (_, g2) = s.get(&format!("/Groups/{id}")).await;
        assert_eq!(member_ids(&g2), vec![ann.clone()]);
        // List and filters.
        let (st, l) = s.get("/Groups").await;
        assert_eq!(st, 200);
        assert_eq!(l["totalResults"], 1);
        assert_eq!(l["Resources"][0]["members"][0]["value"], ann.as_str());
        for (f, n) in [
            ("displayName eq \"sales\"".to_string(), 1),
            ("displayName eq \"Marketing\"".to_string(), 0),
            (format!("members.value eq \"{ann}\""), 1),
            (format!("members[value eq \"{ann}\"]"), 1),
            (format!("members eq \"{bob}\""), 0),
            ("externalId eq \"ext-sales\"".to_string(), 1),
            ("displayName sw \"Sa\" and meta.created pr".to_string(), 1),
            (format!("not (members.value eq \"{ann}\")"), 0),
            (
                "urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"Sales\"".to_string(),
                1,
            ),
        ] {
            let (st, l) = s.get(&format!("/Groups?filter={}", urlencoding(&f))).await;
            assert_eq!(st, 200, "{f}: {l}");
            assert_eq!(l["totalResults"], n, "{f}");
        }
        for f in [
            "userName eq \"x\"",
            "emails.value eq \"x\"",
            "members.display eq \"x\"",
            "displayName eq",
        ] {
            let (st, e) = s.get(&format!("/Groups?filter={}", urlencoding(f))).await;
            assert_scim_error(st, &e, 400, "invalidFilter");
        }
        let (st, l) = s
            .post(
                "/Groups/.search",
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "displayName eq \"Sales\"", "excludedAttributes": ["members"]}),
            )
            .await;
        assert_eq!(st, 200, "{l}");
        assert_eq!(l["totalResults"], 1);
        assert!(l["Resources"][0].get("members").is_none());
        // PUT replaces name and members (Okta's form).
        let (st, g) = s
            .put(
                &format!("/Groups/{id}"),
                json!({"schemas": [GROUP], "id": id, "displayName": "Sales EMEA", "members": [{"value": bob}]}),
            )
            .await;
        assert_eq!(st, 200, "{g}");
        assert_eq!(g["displayName"], "Sales EMEA");
        assert!(
            g.get("externalId").is_none(),
            "PUT replaces the whole resource"
        );
        assert_eq!(member_ids(&g), vec![bob.clone()]);
        let (st, e) = s
            .put(
                &format!("/Groups/{id}"),
                json!({"id": "other", "displayName": "X"}),
            )
            .await;
        assert_scim_error(st, &e, 400, "mutability");
        // Conditional requests.
        let (_, _, h) = s.send(Method::GET, &format!("/Groups/{id}"), None).await;
        let etag = h["etag"].to_str().unwrap().to_string();
        let res = sent(
            app.http
                .get(s.url(&format!("/Groups/{id}")))
                .bearer_auth(&s.token)
                .header("If-None-Match", &etag),
            "GET",
            "/Groups/{id}",
        )
        .await;
        assert_eq!(res.status(), 304);
        let res = sent(
            app.http
                .patch(s.url(&format!("/Groups/{id}")))
                .bearer_auth(&s.token)
                .header("If-Match", "W/\"1\"")
                .header("Content-Type", "application/scim+json")
                .body(
                    ops(json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]))
                        .to_string(),
                ),
            "PATCH",
            "/Groups/{id}",
        )
        .await;
        assert_eq!(res.status(), 412);
        // Delete: the group goes, the users stay.
        assert_eq!(s.delete(&format!("/Groups/{id}")).await, 204);
        let (st, e) = s.get(&format!("/Groups/{id}")).await;
        assert_scim_error_404(st, &e);
        assert_eq!(s.delete(&format!("/Groups/{id}")).await, 404);
        let (st, u) = s.get(&format!("/Users/{bob}")).await;
        assert_eq!(st, 200);
        assert!(u.get("groups").is_none());
        assert_eq!(s.count("group_members").await, 0);
        let names = s.event_names().await;
        for ev in [
            "group_create_provision",
            "group_update_provision",
            "group_delete_provision",
        ] {
            assert!(
                names.iter().any(|(n, ok)| n == ev && *ok),
                "{ev} in {names:?}"
            );
        }
    }
);

fn assert_scim_error_404(st: u16, body: &Value) {
    assert_eq!(st, 404, "{body}");
    assert_eq!(body["status"], "404");
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

app_test!(entra_and_okta_member_forms, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    let a = new_user(&s, "a").await;
    let b = new_user(&s, "b").await;
    let c = new_user(&s, "c").await;
    let (_, g) = s.post("/Groups", json!({"displayName": "Eng"})).await;
    let id = g["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{id}");
    // Entra: add several at once; the answer is 204 (no member list read).
    let (st, body) = s
        .patch(
            &path,
            ops(json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}])),
        )
        .await;
    assert_eq!(st, 204, "{body}");
    let (_, g) = s.get(&path).await;
    assert_eq!(member_ids(&g), sorted(&[&a, &b]));
    // Entra: remove one by filter.
    let (st, _) = s
        .patch(
            &path,
            ops(json!([{"op": "Remove", "path": format!("members[value eq \"{a}\"]")}])),
        )
        .await;
    assert_eq!(st, 204);
    let (_, g) = s.get(&path).await;
    assert_eq!(member_ids(&g), vec![b.clone()]);
    // Removing someone who is not a member, and adding one who is: no-ops, no error.
    let (st, _) = s
        .patch(
            &path,
            ops(json!([
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "add", "path": "members", "value": [{"value": b}]}
            ])),
        )
        .await;
    assert_eq!(st, 204);
    // Entra: rename with a replace without path.
    let (st, _) = s
        .patch(
            &path,
            ops(json!([{"op": "Replace", "value": {"id": id, "displayName": "Engineering"}}])),
        )
        .await;
    assert_eq!(st, 204);
    // Okta: replace the member list with a path, then without one.
    let (st, g) = s
        .send(
            Method::PATCH,
            &format!("{path}?excludedAttributes=externalId"),
            Some(ops(json!([
                {"op": "replace", "path": "members", "value": [{"value": a}, {"value": c}]}
            ]))),
        )
        .await
        .pipe3();
    assert_eq!(st, 200, "{g}");
    assert_eq!(member_ids(&g), sorted(&[&a, &c]));
    let (_, g) = s.get(&path).await;
    assert_eq!(g["displayName"], "Engineering");
    assert_eq!(member_ids(&g), sorted(&[&a, &c]));
    let (st, g) = s
        .send(
            Method::PATCH,
            &format!("{path}?attributes=members"),
            Some(ops(json!([
                {"op": "replace", "value": {"members": [{"value": b}]}}
            ]))),
        )
        .await
        .pipe3();
    assert_eq!(st, 200, "{g}");
    assert_eq!(member_ids(&g), vec![b.clone()]);
    assert!(g.get("displayName").is_none(), "attributes=members: {g}");
    // Remove a list of values (Entra sends this too), then everybody.
    let (st, _) = s
        .patch(
            &path,
            ops(
                json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": c}]},
                                     {"op": "remove", "path": "members", "value": [{"value": a}]}]),
            ),
        )
        .await;
    assert_eq!(st, 204);
    let (_, g) = s.get(&path).await;
    assert_eq!(member_ids(&g), sorted(&[&b, &c]));
    let (st, _) = s
        .patch(
            &path,
            ops(
                json!([{"op": "remove", "path": "members[value eq \"x\" or value eq \"y\"]"},
                                     {"op": "remove", "path": "members"}]),
            ),
        )
        .await;
    assert_eq!(st, 204);
    let (_, g) = s.get(&path).await;
    assert!(member_ids(&g).is_empty(), "{g}");
    // externalId set and removed, displayName cannot be removed.
    let (st, _) = s
        .patch(
            &path,
            ops(json!([{"op": "add", "path": "externalId", "value": "okta-1"}])),
        )
        .await;
    assert_eq!(st, 204);
    let (_, g) = s.get(&path).await;
    assert_eq!(g["externalId"], "okta-1");
    let (st, e) = s
        .patch(&path, ops(json!([{"op": "remove", "path": "displayName"}])))
        .await;
    assert_scim_error(st, &e, 400, "mutability");
});

trait Pipe3 {
    fn pipe3(self) -> (u16, Value);
}
impl Pipe3 for (u16, Value, reqwest::header::HeaderMap) {
    fn pipe3(self) -> (u16, Value) {
        (self.0, self.1)
    }
}

app_test!(
    uniqueness_other_orgs_ids_and_bad_input_are_clear_errors_writing_nothing,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let o = Scim::new(&app, "Globex").await;
        let ann = new_user(&s, "ann").await;
        let eve = new_user(&o, "eve").await;
        let (st, g) = s.post("/Groups", json!({"displayName": "Sales"})).await;
        assert_eq!(st, 201);
        let id = g["id"].as_str().unwrap().to_string();
        let (_, g2) = s.post("/Groups", json!({"displayName": "Ops"})).await;
        let id2 = g2["id"].as_str().unwrap().to_string();
        // displayName is unique per org, case-insensitively; another org may use it.
        let (st, e) = s.post("/Groups", json!({"displayName": "SALES"})).await;
        assert_scim_error(st, &e, 409, "uniqueness");
        let (st, e) = s
            .put(&format!("/Groups/{id2}"), json!({"displayName": "sales"}))
            .await;
        assert_scim_error(st, &e, 409, "uniqueness");
        let (st, e) = s
            .patch(
                &format!("/Groups/{id2}"),
                ops(json!([{"op": "replace", "path": "displayName", "value": "Sales"}])),
            )
            .await;
        assert_scim_error(st, &e, 409, "uniqueness");
        let (st, _) = o.post("/Groups", json!({"displayName": "Sales"})).await;
        assert_eq!(st, 201);
        // Renaming to a different case of its own name is fine.
        let (st, _) = s
            .patch(
                &format!("/Groups/{id}"),
                ops(json!([{"op": "replace", "path": "displayName", "value": "SALES"}])),
            )
            .await;
        assert_eq!(st, 204);
        // Another org's user, made-up ids, nested groups: 400 invalidValue, nothing written.
        for bad in [
            json!([{"value": eve}]),
            json!([{"value": ann}, {"value": eve}]),
            json!([{"value": "no-such-user"}]),
            json!([{"value": id2, "type": "Group"}]),
            json!([{"display": "no value"}]),
            json!("not-an-array"),
        ] {
            let (st, e) = s
                .patch(
                    &format!("/Groups/{id}"),
                    ops(json!([{"op": "add", "path": "members", "value": bad}])),
                )
                .await;
            assert_scim_error(st, &e, 400, "invalidValue");
            let (st, e) = s
                .post("/Groups", json!({"displayName": "New", "members": bad}))
                .await;
            assert_scim_error(st, &e, 400, "invalidValue");
        }
        assert!(
            !groups_mention(&s, &eve).await,
            "the other org's user is never shown"
        );
        // A half-good PATCH writes nothing: the first operation's member is not added.
        let (st, _) = s
            .patch(
                &format!("/Groups/{id}"),
                ops(json!([
                    {"op": "add", "path": "members", "value": [{"value": ann}]},
                    {"op": "add", "path": "members", "value": [{"value": eve}]}
                ])),
            )
            .await;
        assert_eq!(st, 400);
        assert_eq!(s.count("group_members").await, 0);
        assert_eq!(s.count("groups").await, 2);
        // Another org's group id: 404.
        let (_, og) = o.get("/Groups").await;
        let other_group = og["Resources"][0]["id"].as_str().unwrap().to_string();
        let (st, _) = s.get(&format!("/Groups/{other_group}")).await;
        assert_eq!(st, 404);
        let (st, _) = s
            .patch(
                &format!("/Groups/{other_group}"),
                ops(json!([{"op": "add", "path": "members", "value": [{"value": ann}]}])),
            )
            .await;
        assert_eq!(st, 404);
        assert_eq!(s.delete(&format!("/Groups/{other_group}")).await, 404);
        assert_eq!(o.count("group_members").await, 0);
        // Bad bodies and paths.
        for (body, t) in [
            (json!({}), "invalidValue"),
            (json!({"displayName": ""}), "invalidValue"),
            (json!({"displayName": 5}), "invalidValue"),
            (json!({"displayName": "x".repeat(300)}), "invalidValue"),
            (json!({"displayName": "a\u{0}b"}), "invalidValue"),
            (
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"}),
                "invalidValue",
            ),
            (json!(["not an object"]), "invalidSyntax"),
        ] {
            let (st, e) = s.post("/Groups", body.clone()).await;
            assert_scim_error(st, &e, 400, t);
        }
        for (op, t) in [
            (json!({"Operations": []}), "invalidSyntax"),
            (
                ops(json!([{"op": "move", "path": "members"}])),
                "invalidSyntax",
            ),
            (ops(json!([{"op": "remove"}])), "noTarget"),
            (
                ops(json!([{"op": "add", "path": "owners", "value": "x"}])),
                "invalidPath",
            ),
            (
                ops(
                    json!([{"op": "replace", "path": "members[value eq \"x\"].display", "value": "x"}]),
                ),
                "invalidPath",
            ),
            (
                ops(json!([{"op": "remove", "path": "members[display eq \"x\"]"}])),
                "invalidFilter",
            ),
            (
                ops(json!([{"op": "remove", "path": "members[value eq"}])),
                "invalidPath",
            ),
            (
                ops(json!([{"op": "add", "value": {"nickName": "x"}}])),
                "invalidValue",
            ),
        ] {
            let (st, e) = s.patch(&format!("/Groups/{id}"), op.clone()).await;
            assert_scim_error(st, &e, 400, t);
        }
        let (st, e) = s.get("/Groups?sortBy=userName").await;
        assert_scim_error(st, &e, 400, "invalidValue");
        let (st, e) = s.get("/Groups?count=abc").await;
        assert_scim_error(st, &e, 400, "invalidValue");
        // A long filter: 400.
        let long = format!("displayName eq \"{}\"", "x".repeat(20_000));
        let (st, e) = s.post("/Groups/.search", json!({"filter": long})).await;
        assert_scim_error(st, &e, 400, "invalidFilter");
        assert_eq!(s.count("groups").await, 2);
        // Failures are events too.
        let names = s.event_names().await;
        assert!(names
            .iter()
            .any(|(n, ok)| n == "group_update_provision" && !*ok));
        assert!(names
            .iter()
            .any(|(n, ok)| n == "group_create_provision" && !*ok));
        // A body over the limit: 413 (last: the server closes that connection unread).
        let huge: Vec<Value> = (0..50_000)
            .map(|i| json!({"value": format!("user-{i:08}")}))
            .collect();
        let (st, _) = s
            .post("/Groups", json!({"displayName": "Huge", "members": huge}))
            .await;
        assert_eq!(st, 413);
        assert_eq!(s.count("groups").await, 2);
    }
);

/// Whether any of this org's SCIM group answers mentions `text`.
async fn groups_mention(s: &Scim<'_>, text: &str) -> bool {
    let (_, l) = s.get("/Groups").await;
    l.to_string().contains(text)
}

app_test!(
    a_large_group_excluded_members_and_deleted_users,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let mut ids = Vec::new();
        for i in 0..30 {
            ids.push(new_user(&s, &format!("u{i}")).await);
        }
        let members: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
        let (st, g) = s
            .send(
                Method::POST,
                "/Groups?excludedAttributes=members",
                Some(json!({"displayName": "All", "members": members})),
            )
            .await
            .pipe3();
        assert_eq!(st, 201, "{g}");
        assert!(g.get("members").is_none(), "{g}");
        let id = g["id"].as_str().unwrap().to_string();
        let (_, g) = s
            .get(&format!("/Groups/{id}?excludedAttributes=members"))
            .await;
        assert!(g.get("members").is_none());
        assert_eq!(g["displayName"], "All");
        let (_, g) = s.get(&format!("/Groups/{id}?attributes=displayName")).await;
        assert!(g.get("members").is_none());
        assert_eq!(g["id"], id.as_str());
        let (_, l) = s.get("/Groups?excludedAttributes=members").await;
        assert!(l["Resources"][0].get("members").is_none());
        let (_, g) = s.get(&format!("/Groups/{id}")).await;
        assert_eq!(g["members"].as_array().unwrap().len(), 30);
        // A deleted user is no longer a member; re-provisioning it does not bring it back.
        assert_eq!(s.delete(&format!("/Users/{}", ids[0])).await, 204);
        let (_, g) = s.get(&format!("/Groups/{id}")).await;
        assert_eq!(g["members"].as_array().unwrap().len(), 29);
        assert!(!member_ids(&g).contains(&ids[0]));
        let (st, _) = s.post("/Users", user_body("u0@acme.test")).await;
        assert_eq!(st, 201);
        let (_, g) = s.get(&format!("/Groups/{id}")).await;
        assert_eq!(g["members"].as_array().unwrap().len(), 29);
        // A burst of concurrent adds and removes of the same members ends consistent.
        let mut tasks = Vec::new();
        for i in 0..16 {
            let url = s.url(&format!("/Groups/{id}"));
            let http = app.http.clone();
            let token = s.token.clone();
            let member = ids[1 + i % 4].clone();
            let op = if i % 2 == 0 { "add" } else { "remove" };
            tasks.push(tokio::spawn(async move {
                let body =
                    ops(json!([{"op": op, "path": "members", "value": [{"value": member}]}]));
                http.patch(url)
                    .bearer_auth(token)
                    .header("Content-Type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 204);
        }
        let (_, g) = s.get(&format!("/Groups/{id}")).await;
        let n = g["members"].as_array().unwrap().len();
        assert!((25..=29).contains(&n), "{n}");
        let rows: i64 = s.count("group_members").await;
        assert_eq!(rows as usize, n, "one row per member, no duplicates");
    }
);

app_test!(
    groups_screen_users_group_filter_and_csv_column,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let ann = new_user(&s, "ann").await;
        new_user(&s, "bob").await;
        let (st, g) = s
            .post(
                "/Groups",
                json!({"displayName": "Sales, \"EMEA\"", "members": [{"value": ann}]}),
            )
            .await;
        assert_eq!(st, 201);
        let gid = g["id"].as_str().unwrap().to_string();
        s.post("/Groups", json!({"displayName": "Empty"})).await;
        let cookie = app.sign_in("admin@acme.test", PW, None).await;
        let res = app.post_fn("list_groups", &[], Some(&cookie)).await;
        assert_eq!(res.status(), 200);
        let rows: Value = res.json().await.unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 2);
        assert_eq!(rows[0]["display_name"], "Empty");
        assert_eq!(rows[0]["member_count"], 0);
        assert_eq!(rows[1]["member_count"], 1);
        let res = app
            .post_fn("load_group_members", &[("id", &gid)], Some(&cookie))
            .await;
        let m: Value = res.json().await.unwrap();
        assert_eq!(m["members"][0]["user_id"], ann.as_str());
        assert_eq!(m["members"][0]["user_name"], "ann@acme.test");
        let res = app
            .post_fn("load_group_members", &[("id", "nope")], Some(&cookie))
            .await;
        assert_eq!(res.json::<Value>().await.unwrap(), Value::Null);
        // Signed out: refused.
        assert_eq!(app.post_fn("list_groups", &[], None).await.status(), 401);
        // The screen, server-rendered.
        let html = app
            .get(&format!("/admin/groups?group={gid}"), Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("Members of Sales"), "{html}");
        assert!(html.contains("ann@acme.test"));
        // The Users screen and the export, filtered by group; the export's Groups column.
        let page = app
            .post_fn(
                "list_users",
                &[
                    ("q[search]", ""),
                    ("q[status]", ""),
                    ("q[source]", ""),
                    ("q[sort]", "user_name"),
                    ("q[desc]", "false"),
                    ("q[page]", "1"),
                    ("q[group]", &gid),
                ],
                Some(&cookie),
            )
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(page["total"], 1, "{page}");
        assert_eq!(page["rows"][0]["id"], ann.as_str());
        let csv = app
            .get(&format!("/admin/users.csv?group={gid}"), Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(",Groups"), "{csv}");
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(lines[1].ends_with(",\"Sales, \"\"EMEA\"\"\""), "{csv}");
        let csv = app
            .get("/admin/users.csv", Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
    }
);
