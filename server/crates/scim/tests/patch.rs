//! `apply_patch` against the PatchOp bodies real identity providers send. Like the server, most
//! tests re-normalise the patched resource with `normalize_user`.

use scim_core::{apply_patch, normalize_user, ScimError, ScimType};
use serde_json::{json, Value};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ID: &str = "6c5bb468-14b2-4183-baf2-06d523e03bd3";

/// What the server passes in: the stored resource plus `id` and `active`.
fn stored() -> Value {
    json!({
        "schemas": [CORE, ENT],
        "id": ID,
        "userName": "ann@example.com",
        "active": true,
        "name": { "givenName": "Ann", "familyName": "Lee" },
        "title": "Engineer",
        "emails": [{ "value": "ann@example.com", "type": "work", "primary": true }],
        "addresses": [{ "type": "work", "country": "FI", "locality": "Helsinki" }],
        "externalId": "E1",
        ENT: { "department": "Sales" }
    })
}

fn body(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

/// apply_patch, then normalise as the server does; the id is put back for comparison.
fn patched(resource: &Value, ops: Value) -> Value {
    let before = resource.clone();
    let out = match apply_patch(resource, &body(ops.clone())) {
        Ok(v) => v,
        Err(e) => panic!("{ops}: expected success, got {e}"),
    };
    assert_eq!(resource, &before);
    let mut n = match normalize_user(&out) {
        Ok(n) => n.resource,
        Err(e) => panic!("{ops}: the patched resource does not normalise: {e}"),
    };
    assert!(n.get("id").is_none(), "normalize_user must drop id");
    n["id"] = json!(ID);
    n
}

fn patch_err(resource: &Value, ops: Value) -> ScimError {
    let before = resource.clone();
    let e = match apply_patch(resource, &body(ops.clone())) {
        Ok(v) => panic!("{ops}: expected an error, got {v}"),
        Err(e) => e,
    };
    assert_eq!(
        resource, &before,
        "a failed PATCH must not change its input"
    );
    e
}

/// `stored()` with `f` applied.
fn stored_with(f: impl FnOnce(&mut Value)) -> Value {
    let mut v = stored();
    f(&mut v);
    v
}

#[test]
fn jumpcloud_one_lower_case_replace_per_attribute() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "name.givenName",
            json!([{ "op": "replace", "path": "name.givenName", "value": "Anna" }]),
            stored_with(|v| v["name"]["givenName"] = json!("Anna")),
        ),
        (
            "enterprise department",
            json!([{ "op": "replace", "path": format!("{ENT}:department"), "value": "Marketing" }]),
            stored_with(|v| v[ENT]["department"] = json!("Marketing")),
        ),
        (
            "active false",
            json!([{ "op": "replace", "path": "active", "value": false }]),
            stored_with(|v| v["active"] = json!(false)),
        ),
        (
            "work email",
            json!([
                { "op": "replace", "path": "userName", "value": "ann.lee@example.com" },
                { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "ann.lee@example.com" }
            ]),
            stored_with(|v| {
                v["userName"] = json!("ann.lee@example.com");
                v["emails"][0]["value"] = json!("ann.lee@example.com");
            }),
        ),
        (
            "work country",
            json!([{ "op": "replace", "path": "addresses[type eq \"work\"].country", "value": "SE" }]),
            stored_with(|v| v["addresses"][0]["country"] = json!("SE")),
        ),
        (
            "work locality",
            json!([{ "op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Espoo" }]),
            stored_with(|v| v["addresses"][0]["locality"] = json!("Espoo")),
        ),
        (
            "new attribute",
            json!([{ "op": "replace", "path": "preferredLanguage", "value": "fi" }]),
            stored_with(|v| v["preferredLanguage"] = json!("fi")),
        ),
        (
            "core URN-qualified path",
            json!([{ "op": "replace", "path": format!("{CORE}:name.familyName"), "value": "Li" }]),
            stored_with(|v| v["name"]["familyName"] = json!("Li")),
        ),
    ];
    for (name, ops, want) in cases {
        assert_eq!(patched(&stored(), ops), want, "{name}");
    }
}

#[test]
fn entra_capitalised_ops() {
    let no_contact = stored_with(|v| {
        let o = v.as_object_mut().unwrap();
        o.remove("emails");
        o.remove("addresses");
    });
    let cases: Vec<(&str, Value, Value, Value)> = vec![
        (
            "Replace active \"False\"",
            stored(),
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
            stored_with(|v| v["active"] = json!(false)),
        ),
        (
            "Replace active \"True\"",
            stored_with(|v| v["active"] = json!(false)),
            json!([{ "op": "Replace", "path": "active", "value": "True" }]),
            stored(),
        ),
        (
            "Add work email when there are no emails",
            no_contact.clone(),
            json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "ann@example.com" }]),
            stored_with(|v| {
                v["emails"] = json!([{ "type": "work", "value": "ann@example.com" }]);
                v.as_object_mut().unwrap().remove("addresses");
            }),
        ),
        (
            "Replace work country creates the address",
            no_contact.clone(),
            json!([
                { "op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "FI" },
                { "op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Helsinki" }
            ]),
            stored_with(|v| {
                v["addresses"] =
                    json!([{ "type": "work", "country": "FI", "locality": "Helsinki" }]);
                v.as_object_mut().unwrap().remove("emails");
            }),
        ),
        (
            "pathless Add with dotted and URN-qualified keys",
            stored(),
            json!([{ "op": "Add", "value": { "name.givenName": "Anne", format!("{ENT}:department"): "R&D" } }]),
            stored_with(|v| {
                v["name"]["givenName"] = json!("Anne");
                v[ENT]["department"] = json!("R&D");
            }),
        ),
        (
            "userName and active in one request",
            stored(),
            json!([
                { "op": "Replace", "path": "userName", "value": "ann.lee@example.com" },
                { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ann.lee@example.com" },
                { "op": "Replace", "path": "active", "value": "False" }
            ]),
            stored_with(|v| {
                v["userName"] = json!("ann.lee@example.com");
                v["emails"][0]["value"] = json!("ann.lee@example.com");
                v["active"] = json!(false);
            }),
        ),
        (
            "Remove the work email's value removes the email",
            stored(),
            json!([{ "op": "Remove", "path": "emails[type eq \"work\"].value" }]),
            stored_with(|v| {
                v.as_object_mut().unwrap().remove("emails");
            }),
        ),
        (
            "Replace the work email with an empty string removes it",
            stored(),
            json!([{ "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "" }]),
            stored_with(|v| {
                v.as_object_mut().unwrap().remove("emails");
            }),
        ),
        (
            "Remove title",
            stored(),
            json!([{ "op": "Remove", "path": "title" }]),
            stored_with(|v| {
                v.as_object_mut().unwrap().remove("title");
            }),
        ),
        (
            "Remove an attribute that has no value is a no-op",
            stored(),
            json!([{ "op": "Remove", "path": "nickName" }, { "op": "Remove", "path": format!("{ENT}:costCenter") }]),
            stored(),
        ),
        (
            "Add manager as a bare id",
            stored(),
            json!([{ "op": "Add", "path": format!("{ENT}:manager"), "value": "2819c223-7f76" }]),
            stored_with(|v| v[ENT]["manager"] = json!({ "value": "2819c223-7f76" })),
        ),
        (
            "Remove manager",
            stored_with(|v| v[ENT]["manager"] = json!({ "value": "m" })),
            json!([{ "op": "Remove", "path": format!("{ENT}:manager"), "value": [{ "value": "m" }] }]),
            stored(),
        ),
    ];
    for (name, resource, ops, want) in cases {
        assert_eq!(patched(&resource, ops), want, "{name}");
    }
}

#[test]
fn okta_pathless_replace() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "deactivate",
            json!([{ "op": "replace", "value": { "active": false } }]),
            stored_with(|v| v["active"] = json!(false)),
        ),
        (
            "profile update echoing the current id",
            json!([{ "op": "replace", "value": {
                "id": ID,
                "schemas": [CORE],
                "name": { "givenName": "Anne" },
                "displayName": "Anne Lee"
            } }]),
            stored_with(|v| {
                v["name"]["givenName"] = json!("Anne");
                v["displayName"] = json!("Anne Lee");
            }),
        ),
        (
            "an echoed GET response: same id, server meta and schemas are ignored",
            json!([{ "op": "replace", "value": {
                "schemas": [CORE, ENT],
                "id": ID,
                "meta": {
                    "resourceType": "User",
                    "created": "2024-01-01T00:00:00Z",
                    "lastModified": "2024-01-02T00:00:00Z",
                    "location": format!("https://portal.example/scim/v2/o/Users/{ID}"),
                    "version": "W/\"3\""
                },
                "userName": "ann@example.com",
                "active": false
            } }]),
            stored_with(|v| v["active"] = json!(false)),
        ),
        (
            "unknown keys are ignored as on create",
            json!([{ "op": "replace", "value": { "favouriteColour": "blue", "title": "Lead" } }]),
            stored_with(|v| v["title"] = json!("Lead")),
        ),
        (
            "the enterprise object merges",
            json!([{ "op": "replace", "value": { ENT: { "costCenter": "C7" } } }]),
            stored_with(|v| v[ENT]["costCenter"] = json!("C7")),
        ),
        (
            "multi-valued attributes are replaced whole",
            json!([{ "op": "replace", "value": { "phoneNumbers": [{ "value": "+358 1", "type": "work" }], "emails": [{ "value": "ann@example.com", "type": "work" }] } }]),
            stored_with(|v| {
                v["phoneNumbers"] = json!([{ "value": "+358 1", "type": "work" }]);
                v["emails"] = json!([{ "value": "ann@example.com", "type": "work" }]);
            }),
        ),
        (
            "null removes",
            json!([{ "op": "replace", "value": { "title": null, ENT: null } }]),
            stored_with(|v| {
                let o = v.as_object_mut().unwrap();
                o.remove("title");
                o.remove(ENT);
                o["schemas"] = json!([CORE]);
            }),
        ),
    ];
    for (name, ops, want) in cases {
        assert_eq!(patched(&stored(), ops), want, "{name}");
    }
}

#[test]
fn read_only_attributes_are_mutability_errors() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "replace id",
            json!([{ "op": "replace", "path": "id", "value": "other" }]),
        ),
        (
            "replace id with the same value",
            json!([{ "op": "replace", "path": "id", "value": ID }]),
        ),
        ("remove id", json!([{ "op": "remove", "path": "id" }])),
        (
            "replace meta",
            json!([{ "op": "replace", "path": "meta", "value": {} }]),
        ),
        (
            "replace meta.created",
            json!([{ "op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z" }]),
        ),
        (
            "add meta.lastModified",
            json!([{ "op": "add", "path": "Meta.LastModified", "value": "2020-01-01T00:00:00Z" }]),
        ),
        (
            "URN-qualified id",
            json!([{ "op": "replace", "path": format!("{CORE}:id"), "value": "x" }]),
        ),
        (
            "pathless with a different id",
            json!([{ "op": "replace", "value": { "id": "other", "active": false } }]),
        ),
    ];
    for (name, ops) in cases {
        let e = patch_err(&stored(), ops);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::Mutability)),
            "{name}: {e}"
        );
        assert!(e.detail.starts_with("Operation 1:"), "{name}: {}", e.detail);
    }
}

#[test]
fn remove_needs_a_target() {
    let cases: Vec<(&str, Value)> = vec![
        ("no path", json!([{ "op": "remove" }])),
        ("null path", json!([{ "op": "remove", "path": null }])),
        ("blank path", json!([{ "op": "remove", "path": "  " }])),
        (
            "no path but a value",
            json!([{ "op": "remove", "value": { "title": "Engineer" } }]),
        ),
        (
            "filter matches nothing",
            json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
        ),
        (
            "filter with sub-attribute matches nothing",
            json!([{ "op": "remove", "path": "addresses[type eq \"home\"].country" }]),
        ),
        (
            "filter on an absent attribute",
            json!([{ "op": "remove", "path": "phoneNumbers[type eq \"work\"]" }]),
        ),
    ];
    for (name, ops) in cases {
        let e = patch_err(&stored(), ops);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::NoTarget)),
            "{name}: {e}"
        );
    }
}

#[test]
fn remove_by_filter() {
    let two = stored_with(|v| {
        v["emails"] = json!([
            { "value": "ann@example.com", "type": "work", "primary": true },
            { "value": "ann@home.example", "type": "home" }
        ]);
    });
    assert_eq!(
        patched(
            &two,
            json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }])
        ),
        stored()
    );
    assert_eq!(
        patched(
            &two,
            json!([{ "op": "remove", "path": "emails[value ew \"example.com\"].primary" }])
        ),
        stored_with(|v| {
            v["emails"] = json!([
                { "value": "ann@example.com", "type": "work" },
                { "value": "ann@home.example", "type": "home" }
            ]);
        })
    );
    // Removing the only address removes the attribute.
    let out = patched(
        &stored(),
        json!([{ "op": "remove", "path": "addresses[type eq \"work\"]" }]),
    );
    assert!(out.get("addresses").is_none(), "{out}");
}

#[test]
fn invalid_paths() {
    let cases: Vec<(&str, &str)> = vec![
        ("unclosed bracket", "emails["),
        ("empty segment", "a..b"),
        ("unknown attribute", "nonexistent"),
        ("too deep", "name.givenName.x"),
        ("unknown sub-attribute", "name.nickname"),
        ("sub-attribute of a simple attribute", "userName.x"),
        (
            "filter on a singular attribute",
            "name[givenName eq \"Ann\"]",
        ),
        (
            "unknown sub-attribute after a filter",
            "emails[type eq \"work\"].colour",
        ),
        (
            "filter on an unknown attribute",
            "colours[type eq \"work\"]",
        ),
        ("unknown schema", "urn:example:custom:2.0:User:shoeSize"),
        (
            "unknown enterprise attribute",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:badge",
        ),
        (
            "unterminated string in a filter",
            "emails[type eq \"work].value",
        ),
    ];
    for (name, path) in cases {
        for op in ["add", "replace", "remove"] {
            let e = patch_err(&stored(), json!([{ "op": op, "path": path, "value": "x" }]));
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidPath)),
                "{name} ({op} {path}): {e}"
            );
        }
    }
    let e = patch_err(
        &stored(),
        json!([{ "op": "replace", "path": 5, "value": "x" }]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
}

#[test]
fn malformed_patch_bodies() {
    let ops = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({ "op": "replace", "path": "title", "value": format!("t{i}") }))
            .collect()
    };
    let cases: Vec<(&str, Value, ScimType)> = vec![
        (
            "not an object",
            json!([{ "op": "replace" }]),
            ScimType::InvalidSyntax,
        ),
        (
            "no Operations",
            json!({ "schemas": [PATCH_OP] }),
            ScimType::InvalidSyntax,
        ),
        (
            "Operations is null",
            json!({ "Operations": null }),
            ScimType::InvalidSyntax,
        ),
        (
            "Operations is an object",
            json!({ "Operations": { "op": "replace", "path": "title", "value": "x" } }),
            ScimType::InvalidSyntax,
        ),
        (
            "empty Operations",
            json!({ "Operations": [] }),
            ScimType::InvalidSyntax,
        ),
        (
            "101 operations",
            json!({ "Operations": ops(101) }),
            ScimType::TooMany,
        ),
        (
            "unknown op",
            json!({ "Operations": [{ "op": "move", "path": "title", "value": "x" }] }),
            ScimType::InvalidSyntax,
        ),
        (
            "missing op",
            json!({ "Operations": [{ "path": "title", "value": "x" }] }),
            ScimType::InvalidSyntax,
        ),
        (
            "operation is a string",
            json!({ "Operations": ["replace"] }),
            ScimType::InvalidSyntax,
        ),
        (
            "add without value",
            json!({ "Operations": [{ "op": "add", "path": "title" }] }),
            ScimType::InvalidSyntax,
        ),
        (
            "pathless replace with a string",
            json!({ "Operations": [{ "op": "replace", "value": "x" }] }),
            ScimType::InvalidSyntax,
        ),
        (
            "pathless add without value",
            json!({ "Operations": [{ "op": "add" }] }),
            ScimType::InvalidSyntax,
        ),
    ];
    for (name, b, want) in cases {
        let before = stored();
        let e = match apply_patch(&before, &b) {
            Ok(v) => panic!("{name}: expected an error, got {v}"),
            Err(e) => e,
        };
        assert_eq!((e.status, e.scim_type), (400, Some(want)), "{name}: {e}");
        assert_eq!(before, stored());
    }
    // Exactly 100 operations are fine; the last one wins.
    let out = patched(&stored(), Value::Array(ops(100)));
    assert_eq!(out["title"], "t99");
    // `operations` and `OP` are matched case-insensitively.
    let out = match apply_patch(
        &stored(),
        &json!({ "operations": [{ "OP": "REPLACE", "Path": "title", "Value": "Lead" }] }),
    ) {
        Ok(v) => v,
        Err(e) => panic!("case-insensitive keys: {e}"),
    };
    assert_eq!(out["title"], "Lead");
}

#[test]
fn all_or_nothing() {
    let cases: Vec<(&str, Value, Option<ScimType>)> = vec![
        (
            "second op has an invalid path",
            json!([
                { "op": "replace", "path": "title", "value": "CEO" },
                { "op": "replace", "path": "nonexistent", "value": "x" }
            ]),
            Some(ScimType::InvalidPath),
        ),
        (
            "second op removes nothing",
            json!([
                { "op": "replace", "path": "active", "value": false },
                { "op": "remove", "path": "emails[type eq \"home\"]" }
            ]),
            Some(ScimType::NoTarget),
        ),
        (
            "third op is read-only",
            json!([
                { "op": "remove", "path": format!("{ENT}") },
                { "op": "add", "path": "emails[type eq \"home\"].value", "value": "a@home.example" },
                { "op": "replace", "path": "id", "value": "x" }
            ]),
            Some(ScimType::Mutability),
        ),
    ];
    for (name, ops, want) in cases {
        let input = stored();
        let e = patch_err(&input, ops);
        assert_eq!(e.scim_type, want, "{name}");
        assert!(e.detail.starts_with("Operation "), "{name}: {}", e.detail);
        assert_eq!(input, stored(), "{name}");
    }
    let e = patch_err(
        &stored(),
        json!([
            { "op": "replace", "path": "title", "value": "CEO" },
            { "op": "replace", "path": "nonexistent", "value": "x" }
        ]),
    );
    assert!(e.detail.starts_with("Operation 2:"), "{}", e.detail);
}

#[test]
fn the_enterprise_extension_as_a_whole() {
    // Remove via its URN, any case.
    for path in [
        ENT,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
    ] {
        let out = patched(&stored(), json!([{ "op": "remove", "path": path }]));
        assert!(out.get(ENT).is_none(), "{out}");
        assert_eq!(out["schemas"], json!([CORE]), "schemas follow the content");
    }
    // Removing its last attribute removes it too.
    let out = patched(
        &stored(),
        json!([{ "op": "remove", "path": format!("{ENT}:department") }]),
    );
    assert!(out.get(ENT).is_none(), "{out}");
    assert_eq!(out["schemas"], json!([CORE]));
    // Adding to a user without it creates it and lists the schema.
    let plain = stored_with(|v| {
        v.as_object_mut().unwrap().remove(ENT);
        v["schemas"] = json!([CORE]);
    });
    let out = patched(
        &plain,
        json!([{ "op": "add", "path": ENT, "value": { "Department": "R&D", "employeeNumber": "7" } }]),
    );
    assert_eq!(
        out[ENT],
        json!({ "department": "R&D", "employeeNumber": "7" })
    );
    assert_eq!(out["schemas"], json!([CORE, ENT]));
    // Replacing it with a non-object is an invalid value.
    let e = patch_err(
        &stored(),
        json!([{ "op": "replace", "path": ENT, "value": "Sales" }]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn replace_with_null_removes() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "simple attribute",
            json!([{ "op": "replace", "path": "title", "value": null }]),
            stored_with(|v| {
                v.as_object_mut().unwrap().remove("title");
            }),
        ),
        (
            "sub-attribute",
            json!([{ "op": "replace", "path": "name.familyName", "value": null }]),
            stored_with(|v| v["name"] = json!({ "givenName": "Ann" })),
        ),
        (
            "enterprise attribute",
            json!([{ "op": "replace", "path": format!("{ENT}:department"), "value": null }]),
            stored_with(|v| {
                v.as_object_mut().unwrap().remove(ENT);
                v["schemas"] = json!([CORE]);
            }),
        ),
        (
            "filtered sub-attribute",
            json!([{ "op": "replace", "path": "addresses[type eq \"work\"].locality", "value": null }]),
            stored_with(|v| v["addresses"] = json!([{ "type": "work", "country": "FI" }])),
        ),
        (
            "add null is a no-op",
            json!([{ "op": "add", "path": "title", "value": null }]),
            stored(),
        ),
        (
            "empty string is absent after normalisation",
            json!([{ "op": "replace", "path": "title", "value": "" }]),
            stored_with(|v| {
                v.as_object_mut().unwrap().remove("title");
            }),
        ),
    ];
    for (name, ops, want) in cases {
        assert_eq!(patched(&stored(), ops), want, "{name}");
    }
}

#[test]
fn add_to_multi_valued_attributes() {
    // add appends and skips exact duplicates.
    let out = patched(
        &stored(),
        json!([{ "op": "add", "path": "emails", "value": [
            { "value": "ann@example.com", "type": "work", "primary": true },
            { "value": "ann@home.example", "type": "home" }
        ] }]),
    );
    assert_eq!(
        out["emails"],
        json!([
            { "value": "ann@example.com", "type": "work", "primary": true },
            { "value": "ann@home.example", "type": "home" }
        ])
    );
    // A filtered add with an object value merges into the matching element.
    let out = patched(
        &stored(),
        json!([{ "op": "add", "path": "addresses[type eq \"work\"]", "value": { "PostalCode": "00100" } }]),
    );
    assert_eq!(
        out["addresses"],
        json!([{ "type": "work", "country": "FI", "locality": "Helsinki", "postalCode": "00100" }])
    );
    // …and creates one from the filter's eq conditions when none matches.
    let out = patched(
        &stored(),
        json!([{ "op": "add", "path": "phoneNumbers[type eq \"mobile\" and primary eq true]", "value": { "value": "+358 40 1" } }]),
    );
    assert_eq!(
        out["phoneNumbers"],
        json!([{ "type": "mobile", "primary": true, "value": "+358 40 1" }])
    );
    // A filtered add without a sub-attribute needs an object.
    let e = patch_err(
        &stored(),
        json!([{ "op": "add", "path": "addresses[type eq \"work\"]", "value": "FI" }]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn the_patched_resource_is_validated_by_normalize_user() {
    // apply_patch accepts these; normalize_user (which the server runs next) rejects them.
    let cases: Vec<(&str, Value)> = vec![
        (
            "work email differs from userName",
            json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "other@example.com" }]),
        ),
        (
            "active maybe",
            json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
        ),
        (
            "name is a string",
            json!([{ "op": "replace", "path": "name", "value": "Ann" }]),
        ),
        (
            "userName removed",
            json!([{ "op": "remove", "path": "userName" }]),
        ),
        (
            "NUL in title",
            json!([{ "op": "replace", "path": "title", "value": "a\u{0}b" }]),
        ),
    ];
    for (name, ops) in cases {
        let out = match apply_patch(&stored(), &body(ops)) {
            Ok(v) => v,
            Err(e) => panic!("{name}: apply_patch failed: {e}"),
        };
        let e = match normalize_user(&out) {
            Ok(n) => panic!("{name}: expected normalize_user to reject {}", n.resource),
            Err(e) => e,
        };
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidValue)),
            "{name}"
        );
    }
}

#[test]
fn password_in_patch_is_accepted_and_discarded() {
    let res = serde_json::json!({"userName": "a@b.c", "active": true});
    for op in ["add", "replace"] {
        let out = scim_core::apply_patch(
            &res,
            &serde_json::json!({"Operations": [{"op": op, "path": "password", "value": "S3cret!"}]}),
        )
        .unwrap();
        assert_eq!(out, res, "{op}: nothing stored");
        let pathless = scim_core::apply_patch(
            &res,
            &serde_json::json!({"Operations": [{"op": op, "value": {"password": "S3cret!", "title": "T"}}]}),
        )
        .unwrap();
        assert!(pathless.get("password").is_none());
        assert_eq!(pathless["title"], "T");
    }
}

#[test]
fn extension_object_value_ignores_non_attribute_keys() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let res = serde_json::json!({"userName": "a@b.c"});
    let out = scim_core::apply_patch(
        &res,
        &serde_json::json!({"Operations": [{"op": "replace", "path": ent, "value": {"schemas": [ent], "department": "R&D"}}]}),
    )
    .unwrap();
    assert_eq!(out[ent], serde_json::json!({"department": "R&D"}));
}

#[test]
fn a_plain_department_path_is_the_enterprise_department() {
    let s = stored();
    let r = patched(
        &s,
        json!([{ "op": "replace", "path": "department", "value": "Ops" }]),
    );
    assert_eq!(r[ENT]["department"], "Ops");
    let r = patched(
        &s,
        json!([{ "op": "add", "value": { "Department": "Ops", ENT: { "department": "Eng" } } }]),
    );
    assert_eq!(r[ENT]["department"], "Eng", "the extension's value wins");
    let r = patched(&s, json!([{ "op": "remove", "path": "department" }]));
    assert!(r.get(ENT).is_none(), "{r}");
    // Operations still apply in order: a later plain one overrides an earlier qualified one.
    let r = patched(
        &s,
        json!([
            { "op": "replace", "path": format!("{ENT}:department"), "value": "Eng" },
            { "op": "replace", "path": "department", "value": "Ops" }
        ]),
    );
    assert_eq!(r[ENT]["department"], "Ops");
}
