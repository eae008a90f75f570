//! `project`: the `attributes` / `excludedAttributes` query parameters (RFC 7644 §3.4.2.5) on
//! the resource as the server returns it (stored attributes + id + meta).

use scim_core::project;
use serde_json::{json, Value};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn resource() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": "u1",
        "userName": "ann@example.com",
        "active": true,
        "displayName": "Ann Lee",
        "name": { "givenName": "Ann", "familyName": "Lee" },
        "emails": [
            { "value": "ann@example.com", "type": "work", "primary": true },
            { "type": "other", "display": "no value here" },
            { "value": "ann@home.example", "type": "home" }
        ],
        "addresses": [{ "type": "work", "country": "FI", "locality": "Helsinki" }],
        ENT: { "department": "Sales", "costCenter": "C1", "manager": { "value": "m1", "displayName": "Max" } },
        "meta": {
            "resourceType": "User",
            "created": "2024-01-01T00:00:00Z",
            "lastModified": "2024-01-02T00:00:00Z",
            "location": "https://portal.example/scim/v2/o/Users/u1",
            "version": "W/\"3\""
        }
    })
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::to_string).collect()
}

fn attributes(s: &str) -> Value {
    project(&resource(), Some(&list(s)), None)
}

fn excluded(s: &str) -> Value {
    project(&resource(), None, Some(&list(s)))
}

fn without(keys: &[&str]) -> Value {
    let mut v = resource();
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}

/// id, schemas, userName and active: returned whatever `attributes` asks for.
fn always() -> Value {
    json!({ "schemas": [CORE, ENT], "id": "u1", "userName": "ann@example.com", "active": true })
}

fn always_with(extra: Value) -> Value {
    let mut v = always();
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

#[test]
fn no_parameters_return_everything() {
    assert_eq!(project(&resource(), None, None), resource());
    assert_eq!(project(&resource(), Some(&[]), Some(&[])), resource());
}

#[test]
fn attributes_select_and_always_returned_attributes_stay() {
    let cases: Vec<(&str, Value)> = vec![
        ("userName", always()),
        ("USERNAME", always()),
        ("active,id,schemas", always()),
        ("nonexistent", always()),
        (
            "displayName",
            always_with(json!({ "displayName": "Ann Lee" })),
        ),
        (
            "name.givenName",
            always_with(json!({ "name": { "givenName": "Ann" } })),
        ),
        (
            "Name.GivenName",
            always_with(json!({ "name": { "givenName": "Ann" } })),
        ),
        (
            "name.givenName,name.familyName",
            always_with(json!({ "name": { "givenName": "Ann", "familyName": "Lee" } })),
        ),
        ("name.middleName", always()),
        (
            "name",
            always_with(json!({ "name": { "givenName": "Ann", "familyName": "Lee" } })),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            always_with(json!({ "name": { "familyName": "Lee" } })),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            always_with(json!({ ENT: { "department": "Sales" } })),
        ),
        (
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department",
            always_with(json!({ ENT: { "department": "Sales" } })),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            always_with(json!({ ENT: { "manager": { "displayName": "Max" } } })),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            always(),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            always_with(json!({ ENT: resource()[ENT].clone() })),
        ),
        (
            "emails.value",
            always_with(
                json!({ "emails": [{ "value": "ann@example.com" }, { "value": "ann@home.example" }] }),
            ),
        ),
        (
            // Elements stay aligned when a sub-attribute is missing from some of them.
            "emails.value,emails.type",
            always_with(json!({ "emails": [
                { "value": "ann@example.com", "type": "work" },
                { "type": "other" },
                { "value": "ann@home.example", "type": "home" }
            ] })),
        ),
        (
            "emails.type,emails.value",
            always_with(json!({ "emails": [
                { "value": "ann@example.com", "type": "work" },
                { "type": "other" },
                { "value": "ann@home.example", "type": "home" }
            ] })),
        ),
        ("emails.colour", always()),
        (
            "emails",
            always_with(json!({ "emails": resource()["emails"].clone() })),
        ),
        (
            "emails,emails.value",
            always_with(json!({ "emails": resource()["emails"].clone() })),
        ),
        (
            "addresses.country,addresses.locality",
            always_with(json!({ "addresses": [{ "country": "FI", "locality": "Helsinki" }] })),
        ),
        (
            "meta",
            always_with(json!({ "meta": resource()["meta"].clone() })),
        ),
        (
            "meta.version",
            always_with(json!({ "meta": { "version": "W/\"3\"" } })),
        ),
    ];
    for (attrs, want) in cases {
        assert_eq!(attributes(attrs), want, "attributes={attrs}");
    }
}

#[test]
fn excluded_attributes_remove_but_never_the_always_returned_ones() {
    let cases: Vec<(&str, Value)> = vec![
        ("emails", without(&["emails"])),
        (
            "emails,name.familyName",
            {
                let mut v = without(&["emails"]);
                v["name"] = json!({ "givenName": "Ann" });
                v
            },
        ),
        ("EMAILS,Name.FamilyName", {
            let mut v = without(&["emails"]);
            v["name"] = json!({ "givenName": "Ann" });
            v
        }),
        ("active", resource()),
        ("id,schemas,userName,ACTIVE", resource()),
        ("urn:ietf:params:scim:schemas:core:2.0:User:userName", resource()),
        ("nonexistent,name.nonexistent", resource()),
        ("meta", without(&["meta"])),
        ("meta.location", {
            let mut v = resource();
            if let Some(m) = v["meta"].as_object_mut() {
                m.remove("location");
            }
            v
        }),
        (ENT, without(&[ENT])),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", without(&[ENT])),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", {
            let mut v = resource();
            v[ENT] = json!({ "costCenter": "C1", "manager": { "value": "m1", "displayName": "Max" } });
            v
        }),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", {
            let mut v = resource();
            v[ENT]["manager"] = json!({ "value": "m1" });
            v
        }),
        ("emails.primary,emails.display", {
            let mut v = resource();
            v["emails"] = json!([
                { "value": "ann@example.com", "type": "work" },
                { "type": "other" },
                { "value": "ann@home.example", "type": "home" }
            ]);
            v
        }),
        // Nothing is left behind as an empty object or array.
        ("name.givenName,name.familyName", without(&["name"])),
        ("addresses.type,addresses.country,addresses.locality", without(&["addresses"])),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            without(&[ENT]),
        ),
    ];
    for (ex, want) in cases {
        assert_eq!(excluded(ex), want, "excludedAttributes={ex}");
    }
}

#[test]
fn attributes_win_over_excluded_attributes() {
    let out = project(
        &resource(),
        Some(&list("displayName")),
        Some(&list("displayName")),
    );
    assert_eq!(out, always_with(json!({ "displayName": "Ann Lee" })));
}

#[test]
fn a_resource_without_the_extension_or_optional_attributes() {
    let plain =
        json!({ "schemas": [CORE], "id": "u2", "userName": "bo@example.com", "active": false });
    for (a, e) in [
        (Some(list("name.givenName")), None),
        (Some(list(&format!("{ENT}:department"))), None),
        (Some(list(ENT)), None),
        (None, Some(list("emails,name.familyName"))),
        (None, Some(list(&format!("{ENT}:department")))),
        (None, Some(list("active"))),
    ] {
        assert_eq!(
            project(&plain, a.as_deref(), e.as_deref()),
            plain,
            "{a:?} {e:?}"
        );
    }
}

#[test]
fn a_non_object_is_returned_unchanged() {
    for v in [json!(null), json!([1, 2]), json!("x")] {
        assert_eq!(project(&v, Some(&list("userName")), None), v);
    }
}
