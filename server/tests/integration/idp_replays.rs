//! Replays of the requests real identity providers send, in their order and with their quirks.

use crate::common::*;
use serde_json::{json, Value};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

app_test!(
    jumpcloud_lookup_create_put_patch_deprovision_delete,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        // 1. Lookup by userName before creating.
        let (st, l) = s
            .get("/Users?filter=userName%20eq%20%22jane%40acme.test%22")
            .await;
        assert_eq!(st, 200);
        assert_eq!(l["totalResults"], 0);
        // 2. Create.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": "jane@acme.test",
            "externalId": "JC-0042",
            "active": true,
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "preferredLanguage": "en",
            "emails": [{"value": "jane@acme.test", "type": "work", "primary": true}],
            "addresses": [{"type": "work", "country": "FI", "locality": "Tampere"}],
            ENT: {"department": "Finance"}
        });
        let (st, u) = s.post("/Users", body).await;
        assert_eq!(st, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        // 3. Full-body PUT that echoes the id and the extension URN, with [] and null.
        let put = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "id": id,
            "userName": "jane@acme.test",
            "externalId": "JC-0042",
            "active": true,
            "name": {"givenName": "Janet", "familyName": "Doe"},
            "emails": null,
            "phoneNumbers": [],
            "addresses": [{"type": "work", "country": "SE", "locality": "Stockholm"}],
            ENT: {"department": "Finance"}
        });
        let (st, u) = s.put(&format!("/Users/{id}"), put).await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u["name"]["givenName"], "Janet");
        assert!(u.get("emails").is_none());
        assert_eq!(u["addresses"][0]["country"], "SE");
        // 4. One lower-case replace op per attribute.
        let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "replace", "path": "name.familyName", "value": "Smith"},
            {"op": "replace", "path": format!("{ENT}:department"), "value": "Treasury"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "jane@acme.test"},
            {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Uppsala"}
        ]});
        let (st, u) = s.patch(&format!("/Users/{id}"), ops).await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u["name"]["familyName"], "Smith");
        assert_eq!(u[ENT]["department"], "Treasury");
        assert_eq!(u["emails"][0]["value"], "jane@acme.test");
        assert_eq!(u["emails"][0]["type"], "work");
        assert_eq!(u["addresses"][0]["locality"], "Uppsala");
        // 5. Deprovision.
        let (st, u) = s
            .patch(
                &format!("/Users/{id}"),
                json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        assert_eq!(st, 200);
        assert_eq!(u["active"], false);
        // 6. Delete.
        assert_eq!(s.delete(&format!("/Users/{id}")).await, 204);
        let names: Vec<String> = s
            .event_names()
            .await
            .into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "admin_create",
                "idm_integration_activate",
                "user_create_provision",
                "user_update_provision",
                "user_update_provision",
                "user_deprovision",
                "user_delete_provision"
            ]
        );
    }
);

app_test!(entra_id_quirks, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    // Entra probes with a random filter first and sends no User-Agent on some calls.
    let res = app
        .http
        .get(s.url("/Users?filter=userName%20eq%20%22a5f0e2c1-probe%22"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "externalId": "entra-object-id-1",
        "userName": "sam@acme.test",
        "active": "True",
        "displayName": "Sam Park",
        "emails": [{"primary": true, "type": "work", "value": "sam@acme.test"}],
        "name": {"formatted": "Sam Park", "familyName": "Park", "givenName": "Sam"},
        ENT: {"department": "Ops"}
    });
    let (st, u) = s.post("/Users", body).await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(u["active"], true);
    let id = u["id"].as_str().unwrap().to_string();
    // Entra's lookup form.
    let (_, l) = s
        .get("/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22sam%40acme.test%22")
        .await;
    assert_eq!(l["totalResults"], 1);
    // Capitalised ops, "False" strings, pathless value objects with dotted and URN keys,
    // userName and active in one request.
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "userName", "value": "sam.park@acme.test"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "sam.park@acme.test"},
        {"op": "Add", "value": {"name.givenName": "Samuel", format!("{ENT}:department"): "R&D"}},
        {"op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "NO"},
        {"op": "Remove", "path": "displayName"}
    ]});
    let (st, u) = s.patch(&format!("/Users/{id}"), ops).await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["userName"], "sam.park@acme.test");
    assert_eq!(u["name"]["givenName"], "Samuel");
    assert_eq!(u[ENT]["department"], "R&D");
    assert_eq!(u["addresses"][0], json!({"type": "work", "country": "NO"}));
    assert!(u.get("displayName").is_none());
    let (st, u) = s
        .patch(
            &format!("/Users/{id}"),
            json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        )
        .await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["active"], false);
    // Without User-Agent.
    let res = app
        .http
        .delete(s.url(&format!("/Users/{id}")))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
});

app_test!(
    okta_connection_test_create_get_put_deactivate,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        // Connection test.
        let (st, l) = s.get("/Users?startIndex=1&count=2").await;
        assert_eq!(st, 200);
        assert_eq!(l["startIndex"], 1);
        assert!(l["Resources"].is_array());
        let (_, l) = s
            .get("/Users?filter=userName%20eq%20%22kim%40acme.test%22&startIndex=1&count=100")
            .await;
        assert_eq!(l["totalResults"], 0);
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kim@acme.test",
            "name": {"givenName": "Kim", "familyName": "Lee"},
            "emails": [{"primary": true, "value": "kim@acme.test", "type": "work"}],
            "displayName": "Kim Lee",
            "locale": "en-US",
            "externalId": "00u1abcd",
            "groups": [],
            "password": "Okta-Generated-1!",
            "active": true
        });
        let (st, u) = s.post("/Users", body).await;
        assert_eq!(st, 201);
        assert!(
            u.get("password").is_none(),
            "Okta expects the body back, without the password"
        );
        assert_eq!(u["userName"], "kim@acme.test");
        let id = u["id"].as_str().unwrap().to_string();
        // GET then PUT without `active`: active keeps its value.
        let (_, mut got) = s.get(&format!("/Users/{id}")).await;
        got.as_object_mut().unwrap().remove("active");
        got["displayName"] = json!("Kim S. Lee");
        let (st, u) = s.put(&format!("/Users/{id}"), got).await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u["active"], true);
        assert_eq!(u["displayName"], "Kim S. Lee");
        // Pathless deactivate.
        let (st, u) = s.patch(&format!("/Users/{id}"), json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]})).await;
        assert_eq!(st, 200);
        assert_eq!(u["active"], false);
        // PUT without active on a deactivated user keeps it deactivated.
        let (_, mut got) = s.get(&format!("/Users/{id}")).await;
        got.as_object_mut().unwrap().remove("active");
        let (_, u) = s.put(&format!("/Users/{id}"), got).await;
        assert_eq!(u["active"], false);
    }
);

app_test!(onelogin_template_bodies, |app: TestApp| async move {
    let s = Scim::new(&app, "Acme").await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": null,
        "userName": "lou@acme.test",
        "active": "true",
        "title": "",
        "nickName": "",
        "name": {"givenName": "Lou", "familyName": "", "formatted": "Lou"},
        "emails": [{"value": "lou@acme.test", "primary": true}],
        "addresses": [{"locality": "Oslo", "country": "NO"}],
        ENT: {"department": "", "employeeNumber": "1001"}
    });
    let (st, u) = s.post("/Users", body).await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(u["active"], true);
    assert!(u.get("title").is_none() && u.get("nickName").is_none());
    assert!(u["name"].get("familyName").is_none());
    assert_eq!(u["addresses"][0]["locality"], "Oslo");
    assert_eq!(u[ENT]["employeeNumber"], "1001");
    assert!(u[ENT].get("department").is_none());
    // The address without a type still feeds the work country/city the admin screens show.
    let (country, city): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT country, locality FROM users WHERE id = $1")
            .bind(u["id"].as_str().unwrap())
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (country.as_deref(), city.as_deref()),
        (Some("NO"), Some("Oslo"))
    );
    let _: Value = u;
});
