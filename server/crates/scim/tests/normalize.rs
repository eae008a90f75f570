//! `normalize_user` against the bodies real identity providers send on POST and PUT.

use scim_core::{normalize_user, NormalizedUser, ScimError, ScimType};
use serde_json::{json, Value};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ok(name: &str, body: &Value) -> NormalizedUser {
    match normalize_user(body) {
        Ok(n) => n,
        Err(e) => panic!("{name}: expected success, got {e}"),
    }
}

fn err(name: &str, body: &Value) -> ScimError {
    match normalize_user(body) {
        Ok(n) => panic!("{name}: expected an error, got {}", n.resource),
        Err(e) => e,
    }
}

/// The minimal canonical resource for `userName` only.
fn bare(user_name: &str) -> Value {
    json!({ "schemas": [CORE], "userName": user_name })
}

#[test]
fn jumpcloud_post_becomes_the_canonical_resource() {
    let body = json!({
        "schemas": [CORE, ENT],
        "userName": "ann@example.com",
        "active": true,
        "name": { "givenName": "Ann", "familyName": "Lee" },
        "emails": [{ "value": "ann@example.com", "type": "work", "primary": true }],
        "addresses": [{ "type": "work", "country": "FI", "locality": "Helsinki" }],
        "preferredLanguage": "fi",
        "externalId": "E1",
        ENT: { "department": "Sales" }
    });
    let n = ok("jumpcloud post", &body);
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "userName": "ann@example.com",
            "active": true,
            "name": { "givenName": "Ann", "familyName": "Lee" },
            "emails": [{ "value": "ann@example.com", "type": "work", "primary": true }],
            "addresses": [{ "type": "work", "country": "FI", "locality": "Helsinki" }],
            "preferredLanguage": "fi",
            "externalId": "E1",
            ENT: { "department": "Sales" }
        })
    );
    assert_eq!(n.password, None);
    // Normalising the canonical form again changes nothing.
    assert_eq!(ok("idempotent", &n.resource).resource, n.resource);
}

#[test]
fn jumpcloud_full_put_drops_id_meta_empty_arrays_and_nulls() {
    let body = json!({
        "schemas": [CORE, ENT],
        "id": "0b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "meta": {
            "resourceType": "User",
            "created": "2024-01-01T00:00:00Z",
            "lastModified": "2024-01-02T00:00:00Z",
            "location": "https://portal.example/scim/v2/o/Users/0b1f2c3d"
        },
        "userName": "ann@example.com",
        "displayName": "Ann Lee",
        "active": false,
        "name": { "givenName": "Ann", "familyName": "Lee", "middleName": null },
        "emails": null,
        "phoneNumbers": [],
        "addresses": [],
        "groups": [],
        "roles": [],
        "x509Certificates": [],
        "title": "",
        "externalId": "E1",
        ENT: { "department": "Sales", "manager": null, "employeeNumber": "" }
    });
    let n = ok("jumpcloud put", &body);
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "userName": "ann@example.com",
            "displayName": "Ann Lee",
            "active": false,
            "name": { "givenName": "Ann", "familyName": "Lee" },
            "externalId": "E1",
            ENT: { "department": "Sales" }
        })
    );
}

#[test]
fn onelogin_template_bodies_are_accepted() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "string booleans, null id, empty strings, untyped address",
            json!({
                "schemas": [CORE],
                "id": null,
                "userName": "bob@example.com",
                "active": "true",
                "displayName": "",
                "title": "",
                "name": { "givenName": "Bob", "familyName": "", "formatted": "" },
                "emails": [{ "value": "bob@example.com", "primary": "True", "type": "work" }],
                "phoneNumbers": [{ "value": "", "type": "work" }],
                "addresses": [{ "locality": "Oulu", "country": "FI", "postalCode": "" }],
                ENT: { "department": "", "employeeNumber": "" }
            }),
            json!({
                "schemas": [CORE],
                "userName": "bob@example.com",
                "active": true,
                "name": { "givenName": "Bob" },
                "emails": [{ "value": "bob@example.com", "primary": true, "type": "work" }],
                "addresses": [{ "locality": "Oulu", "country": "FI" }]
            }),
        ),
        (
            "\"False\" and an email template that expanded to nothing",
            json!({
                "userName": "carl@example.com",
                "active": "False",
                "emails": [{ "value": "", "type": "work", "primary": true }]
            }),
            json!({ "schemas": [CORE], "userName": "carl@example.com", "active": false }),
        ),
        (
            "whitespace around userName is trimmed",
            json!({ "userName": "  dana@example.com ", "emails": [{ "value": "dana@example.com", "type": "work" }] }),
            json!({
                "schemas": [CORE],
                "userName": "dana@example.com",
                "emails": [{ "value": "dana@example.com", "type": "work" }]
            }),
        ),
    ];
    for (name, body, want) in cases {
        assert_eq!(ok(name, &body).resource, want, "{name}");
    }
}

#[test]
fn okta_password_is_returned_separately_and_never_stored() {
    let body = json!({
        "schemas": [CORE],
        "userName": "erin@example.com",
        "name": { "givenName": "Erin", "familyName": "Ng" },
        "emails": [{ "primary": true, "value": "erin@example.com", "type": "work" }],
        "displayName": "Erin Ng",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "S3cret!pass",
        "active": true
    });
    let n = ok("okta post", &body);
    assert_eq!(n.password.as_deref(), Some("S3cret!pass"));
    let text = n.resource.to_string();
    assert!(!text.contains("S3cret"), "password leaked into {text}");
    assert!(n.resource.get("password").is_none());
    assert_eq!(n.resource["externalId"], "00u1abcd");
    assert_eq!(n.resource["locale"], "en-US");

    // The URN-qualified spelling is the same write-only attribute.
    let n = ok(
        "urn password",
        &json!({ "userName": "erin@example.com", format!("{CORE}:password"): "Other1" }),
    );
    assert_eq!(n.password.as_deref(), Some("Other1"));
    assert_eq!(n.resource, bare("erin@example.com"));

    // Null or empty means no password.
    for p in [Value::Null, json!("")] {
        let n = ok(
            "no password",
            &json!({ "userName": "erin@example.com", "password": p }),
        );
        assert_eq!(n.password, None);
    }

    let e = err(
        "numeric password",
        &json!({ "userName": "erin@example.com", "password": 1234 }),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = err(
        "long password",
        &json!({ "userName": "erin@example.com", "password": "p".repeat(257) }),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(
        !e.detail.contains("ppp"),
        "the detail must not echo the password"
    );
}

#[test]
fn entra_full_urn_top_level_keys_land_in_the_extension() {
    let body = json!({
        "schemas": [CORE, ENT],
        "externalId": "8f2a",
        "userName": "fay@example.com",
        "active": true,
        "displayName": "Fay Oja",
        "emails": [{ "primary": true, "type": "work", "value": "fay@example.com" }],
        "name": { "formatted": "Fay Oja", "familyName": "Oja", "givenName": "Fay" },
        format!("{ENT}:department"): "X",
        format!("{ENT}:employeeNumber"): "42",
        format!("{ENT}:manager"): { "value": "m-1" },
        format!("{CORE}:title"): "Engineer",
        "roles": []
    });
    let n = ok("entra post", &body);
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "externalId": "8f2a",
            "userName": "fay@example.com",
            "active": true,
            "displayName": "Fay Oja",
            "emails": [{ "primary": true, "type": "work", "value": "fay@example.com" }],
            "name": { "formatted": "Fay Oja", "familyName": "Oja", "givenName": "Fay" },
            "title": "Engineer",
            ENT: { "department": "X", "employeeNumber": "42", "manager": { "value": "m-1" } }
        })
    );
}

#[test]
fn entra_manager_as_a_bare_id_string_becomes_its_value() {
    // Entra ID sends the manager reference as a plain string, not as {"value": …}.
    for body in [
        json!({ "userName": "gus@example.com", format!("{ENT}:manager"): "2819c223" }),
        json!({ "userName": "gus@example.com", ENT: { "manager": "2819c223" } }),
    ] {
        let n = ok("manager string", &body);
        assert_eq!(
            n.resource[ENT]["manager"],
            json!({ "value": "2819c223" }),
            "{body}"
        );
        assert_eq!(n.resource["schemas"], json!([CORE, ENT]));
    }
    // An empty string is "no manager".
    let n = ok(
        "empty manager",
        &json!({ "userName": "gus@example.com", ENT: { "manager": "" } }),
    );
    assert_eq!(n.resource, bare("gus@example.com"));
    // Other non-object values are still rejected.
    let e = err(
        "manager true",
        &json!({ "userName": "gus@example.com", ENT: { "manager": true } }),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn keys_are_case_insensitive_and_rewritten_to_canonical_names() {
    let body = json!({
        "USERNAME": "hal@example.com",
        "Active": "TRUE",
        "Name": { "GivenName": "Hal", "FAMILYNAME": "Kay" },
        "Emails": [{ "Value": "hal@example.com", "TYPE": "work", "Primary": true }],
        "addresses": [{ "Type": "work", "Country": "SE", "LOCALITY": "Lund" }],
        "externalid": "x-1",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": { "Department": "Ops" }
    });
    let n = ok("mixed case", &body);
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "userName": "hal@example.com",
            "active": true,
            "name": { "givenName": "Hal", "familyName": "Kay" },
            "emails": [{ "value": "hal@example.com", "type": "work", "primary": true }],
            "addresses": [{ "type": "work", "country": "SE", "locality": "Lund" }],
            "externalId": "x-1",
            ENT: { "department": "Ops" }
        })
    );

    // Dotted and URN-qualified keys, in any case, merge with the object form.
    let body = json!({
        "userName": "hal@example.com",
        "Name.GivenName": "Hal",
        "name": { "familyName": "Kay" },
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT": "Ops",
        "urn:ietf:params:scim:schemas:core:2.0:user:DisplayName": "Hal Kay"
    });
    let n = ok("dotted keys", &body);
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "userName": "hal@example.com",
            "displayName": "Hal Kay",
            "name": { "givenName": "Hal", "familyName": "Kay" },
            ENT: { "department": "Ops" }
        })
    );
}

#[test]
fn unknown_and_read_only_attributes_are_dropped() {
    let body = json!({
        "schemas": [CORE, "urn:example:custom"],
        "userName": "ida@example.com",
        "id": "chosen-by-client",
        "meta": { "created": "2020-01-01T00:00:00Z" },
        "groups": [{ "value": "g1" }],
        "favouriteColour": "blue",
        "name": { "givenName": "Ida", "nickname": "I" },
        "emails": [{ "value": "ida@example.com", "type": "work", "verified": true }],
        "urn:example:custom": { "shoeSize": 42 },
        "urn:example:custom:shoeSize": 42,
        format!("{ENT}:favouriteColour"): "red",
        ENT: { "badge": "7" }
    });
    assert_eq!(
        ok("unknown", &body).resource,
        json!({
            "schemas": [CORE],
            "userName": "ida@example.com",
            "name": { "givenName": "Ida" },
            "emails": [{ "value": "ida@example.com", "type": "work" }]
        })
    );
}

#[test]
fn the_work_email_must_equal_user_name() {
    let accepted: Vec<(&str, Value)> = vec![
        (
            "work email equals userName ignoring case",
            json!({ "userName": "Jo@Example.com", "emails": [{ "value": "jo@example.com", "type": "Work" }] }),
        ),
        (
            "only a home email",
            json!({ "userName": "jo@example.com", "emails": [{ "value": "jo@home.example", "type": "home" }] }),
        ),
        (
            "work plus different home email",
            json!({ "userName": "jo@example.com", "emails": [
                { "value": "jo@home.example", "type": "home", "primary": true },
                { "value": "jo@example.com", "type": "work" }
            ] }),
        ),
        (
            "a single untyped email equal to userName",
            json!({ "userName": "jo@example.com", "emails": [{ "value": "jo@example.com" }] }),
        ),
        (
            "a single email object instead of an array",
            json!({ "userName": "jo@example.com", "emails": { "value": "jo@example.com", "type": "work" } }),
        ),
    ];
    for (name, body) in accepted {
        let n = ok(name, &body);
        assert!(n.resource["emails"].is_array(), "{name}");
    }

    let rejected: Vec<(&str, Value)> = vec![
        (
            "typed work email differs",
            json!({ "userName": "jo@example.com", "emails": [{ "value": "joanna@example.com", "type": "work", "primary": true }] }),
        ),
        (
            "untyped primary email differs",
            json!({ "userName": "jo@example.com", "emails": [
                { "value": "x@example.com" },
                { "value": "joanna@example.com", "primary": true }
            ] }),
        ),
        (
            "the only untyped email differs",
            json!({ "userName": "jo@example.com", "emails": [{ "value": "joanna@example.com" }] }),
        ),
        (
            "userName is not an email but a work email is present",
            json!({ "userName": "jo", "emails": [{ "value": "jo@example.com", "type": "work" }] }),
        ),
    ];
    for (name, body) in rejected {
        let e = err(name, &body);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidValue)),
            "{name}"
        );
        assert!(
            e.detail.contains("must equal userName"),
            "{name}: {}",
            e.detail
        );
        assert!(
            e.detail.contains("from the same source attribute"),
            "{name}: the detail must explain the fix: {}",
            e.detail
        );
        let json = e.to_json();
        assert_eq!(json["status"], "400");
        assert_eq!(json["scimType"], "invalidValue");
    }
}

#[test]
fn email_values_must_look_like_email_addresses() {
    for value in [
        "not-an-email",
        "@example.com",
        "ann@",
        "ann@@example.com",
        "ann@exa@mple.com",
        "ann lee@example.com",
        "ann@example.com\t",
    ] {
        let body = json!({ "userName": "ann@example.com", "emails": [{ "value": value, "type": "home" }] });
        let e = err(value, &body);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{value:?}");
        assert!(e.detail.contains("emails.value"), "{value:?}: {}", e.detail);
    }
    let e = err(
        "numeric email",
        &json!({ "userName": "ann@example.com", "emails": [{ "value": 12345, "type": "home" }] }),
    );
    assert!(e.detail.contains("not an email address"), "{}", e.detail);
}

#[test]
fn wrong_types_are_invalid_values() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "emails is a string",
            json!({ "userName": "a@example.com", "emails": "x" }),
            "emails",
        ),
        (
            "emails holds strings",
            json!({ "userName": "a@example.com", "emails": ["a@example.com"] }),
            "emails",
        ),
        (
            "emails is a number",
            json!({ "userName": "a@example.com", "emails": 3 }),
            "emails",
        ),
        (
            "active maybe",
            json!({ "userName": "a@example.com", "active": "maybe" }),
            "active",
        ),
        (
            "active 1",
            json!({ "userName": "a@example.com", "active": 1 }),
            "active",
        ),
        (
            "active yes",
            json!({ "userName": "a@example.com", "active": "yes" }),
            "active",
        ),
        (
            "name is a string",
            json!({ "userName": "a@example.com", "name": "x" }),
            "name",
        ),
        (
            "name is an array",
            json!({ "userName": "a@example.com", "name": [{ "givenName": "A" }] }),
            "name",
        ),
        (
            "givenName is an object",
            json!({ "userName": "a@example.com", "name": { "givenName": {} } }),
            "name.givenName",
        ),
        (
            "userName is a boolean",
            json!({ "userName": true }),
            "userName",
        ),
        (
            "userName is an array",
            json!({ "userName": ["a@example.com"] }),
            "userName",
        ),
        (
            "title is an array",
            json!({ "userName": "a@example.com", "title": ["x"] }),
            "title",
        ),
        (
            "primary is a string",
            json!({ "userName": "a@example.com", "emails": [{ "value": "a@example.com", "primary": "yes" }] }),
            "emails.primary",
        ),
        (
            "extension is a string",
            json!({ "userName": "a@example.com", ENT: "Sales" }),
            ENT,
        ),
        (
            "department is an object",
            json!({ "userName": "a@example.com", ENT: { "department": { "x": 1 } } }),
            "department",
        ),
        (
            "addresses hold a number",
            json!({ "userName": "a@example.com", "addresses": [1] }),
            "addresses",
        ),
    ];
    for (name, body, attr) in cases {
        let e = err(name, &body);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidValue)),
            "{name}"
        );
        assert!(
            e.detail.contains(attr),
            "{name}: detail {:?} should name {attr}",
            e.detail
        );
    }
}

#[test]
fn numbers_are_coerced_to_strings_for_string_attributes() {
    let n = ok(
        "numbers",
        &json!({ "userName": "5", "externalId": 1234, ENT: { "employeeNumber": 42, "costCenter": 1.5 } }),
    );
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "userName": "5",
            "externalId": "1234",
            ENT: { "employeeNumber": "42", "costCenter": "1.5" }
        })
    );
}

#[test]
fn a_user_name_must_be_a_json_string() {
    // RFC 7643 §2.3: userName is a string; the identifier is not coerced like other attributes.
    for v in [
        json!(5),
        json!(1.5),
        json!(true),
        json!({ "v": "a" }),
        json!(["a"]),
        Value::Null,
    ] {
        let e = err("userName type", &json!({ "userName": v }));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{v}: {e}");
        assert_eq!(e.status, 400);
    }
}

#[test]
fn a_plain_department_is_the_enterprise_department() {
    let n = ok(
        "plain",
        &json!({ "userName": "ann@example.com", "department": "Sales" }),
    );
    assert_eq!(
        n.resource,
        json!({
            "schemas": [CORE, ENT],
            "userName": "ann@example.com",
            ENT: { "department": "Sales" }
        })
    );
    // Both given: the extension's value wins, whichever key comes first; its other attributes
    // stay.
    for body in [
        json!({ "userName": "ann@example.com", "DEPARTMENT": "Ops", ENT: { "department": "Eng", "division": "R&D" } }),
        json!({ ENT: { "department": "Eng", "division": "R&D" }, "department": "Ops", "userName": "ann@example.com" }),
        json!({ "userName": "ann@example.com", "department": "Ops", format!("{ENT}:department"): "Eng", ENT: { "division": "R&D" } }),
    ] {
        assert_eq!(
            ok("both", &body).resource[ENT],
            json!({ "department": "Eng", "division": "R&D" }),
            "{body}"
        );
    }
    // Empty or null under the plain name is absent, as everywhere.
    let n = ok(
        "empty",
        &json!({ "userName": "ann@example.com", "department": "" }),
    );
    assert!(n.resource.get(ENT).is_none());
    let e = err(
        "object",
        &json!({ "userName": "ann@example.com", "department": { "x": 1 } }),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    // A URN-qualified core `department` is no attribute (the core schema has none).
    let n = ok(
        "core urn",
        &json!({ "userName": "ann@example.com", format!("{CORE}:department"): "Ops" }),
    );
    assert!(n.resource.get(ENT).is_none(), "{}", n.resource);
}

#[test]
fn control_characters_are_rejected() {
    let bad = [
        "\u{0}", "\u{1}", "\u{7}", "\u{8}", "\u{b}", "\u{c}", "\u{1b}", "\u{7f}", "\u{85}",
        "\u{9f}",
    ];
    for c in bad {
        let cases = [
            json!({ "userName": format!("ann{c}@example.com") }),
            json!({ "userName": "ann@example.com", "displayName": format!("Ann{c}") }),
            json!({ "userName": "ann@example.com", "name": { "givenName": format!("A{c}nn") } }),
            json!({ "userName": "ann@example.com", "addresses": [{ "locality": format!("Oulu{c}") }] }),
            json!({ "userName": "ann@example.com", ENT: { "department": format!("{c}") } }),
            json!({ "userName": "ann@example.com", "password": format!("pw{c}") }),
        ];
        for body in cases {
            let e = err("control", &body);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{c:?} in {body}");
            assert!(e.detail.contains("control characters"), "{}", e.detail);
        }
    }
    // Tab and line breaks are ordinary text in free-text attributes such as a formatted address…
    let n = ok(
        "multi-line address",
        &json!({ "userName": "ann@example.com", "addresses": [{ "formatted": "Main St 1\r\n00100 Helsinki\tFI" }] }),
    );
    assert_eq!(
        n.resource["addresses"][0]["formatted"],
        "Main St 1\r\n00100 Helsinki\tFI"
    );
    // …but never inside the userName, the identifier shown and matched everywhere.
    for c in ["\n", "\r", "\t"] {
        let e = err(
            "line break in userName",
            &json!({ "userName": format!("ann{c}lee@example.com") }),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{c:?}");
    }
}

#[test]
fn length_limits() {
    let at = |n: usize| format!("{}@x.io", "a".repeat(n - 5));
    assert_eq!(at(256).chars().count(), 256);
    let cases: Vec<(&str, Value, bool)> = vec![
        (
            "userName of 256 characters",
            json!({ "userName": at(256) }),
            true,
        ),
        (
            "userName of 257 characters",
            json!({ "userName": at(257) }),
            false,
        ),
        (
            "userName of 256 multi-byte characters",
            json!({ "userName": "ä".repeat(256) }),
            true,
        ),
        (
            "userName of 257 multi-byte characters",
            json!({ "userName": "ä".repeat(257) }),
            false,
        ),
        (
            "displayName of 1024 characters",
            json!({ "userName": "a@x.io", "displayName": "d".repeat(1024) }),
            true,
        ),
        (
            "displayName of 1025 characters",
            json!({ "userName": "a@x.io", "displayName": "d".repeat(1025) }),
            false,
        ),
        (
            "givenName of 1025 characters",
            json!({ "userName": "a@x.io", "name": { "givenName": "g".repeat(1025) } }),
            false,
        ),
        (
            "department of 1025 characters",
            json!({ "userName": "a@x.io", ENT: { "department": "d".repeat(1025) } }),
            false,
        ),
        (
            "address locality of 1025 characters",
            json!({ "userName": "a@x.io", "addresses": [{ "locality": "l".repeat(1025) }] }),
            false,
        ),
        (
            "phone of 1025 characters",
            json!({ "userName": "a@x.io", "phoneNumbers": [{ "value": "1".repeat(1025) }] }),
            false,
        ),
    ];
    for (name, body, accepted) in cases {
        match normalize_user(&body) {
            Ok(_) => assert!(accepted, "{name}: should be rejected"),
            Err(e) => {
                assert!(!accepted, "{name}: should be accepted, got {e}");
                assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{name}");
                assert!(e.detail.contains("longer than"), "{name}: {}", e.detail);
            }
        }
    }
}

#[test]
fn at_most_twenty_values_per_multi_valued_attribute() {
    let emails = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({ "value": format!("a{i}@home.example"), "type": "home" }))
            .collect()
    };
    let n = ok(
        "20 emails",
        &json!({ "userName": "a@x.io", "emails": emails(20) }),
    );
    assert_eq!(n.resource["emails"].as_array().map(Vec::len), Some(20));
    let e = err(
        "21 emails",
        &json!({ "userName": "a@x.io", "emails": emails(21) }),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("more than 20"), "{}", e.detail);
    let phones: Vec<Value> = (0..21)
        .map(|i| json!({ "value": format!("+358 {i}") }))
        .collect();
    let e = err(
        "21 phones",
        &json!({ "userName": "a@x.io", "phoneNumbers": phones }),
    );
    assert!(e.detail.contains("phoneNumbers"), "{}", e.detail);
}

#[test]
fn user_name_is_required() {
    for (name, body) in [
        ("absent", json!({ "name": { "givenName": "A" } })),
        ("null", json!({ "userName": null })),
        ("empty", json!({ "userName": "" })),
        ("blank", json!({ "userName": "   " })),
        ("empty object", json!({})),
        (
            "only in the extension",
            json!({ ENT: { "userName": "a@x.io" } }),
        ),
    ] {
        let e = err(name, &body);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidValue)),
            "{name}"
        );
        assert!(
            e.detail.contains("userName") && e.detail.contains("required"),
            "{name}: {}",
            e.detail
        );
    }
}

#[test]
fn a_body_that_is_not_an_object_is_invalid_syntax() {
    for body in [
        json!(null),
        json!([]),
        json!([{ "userName": "a@x.io" }]),
        json!("a@x.io"),
        json!(1),
        json!(true),
    ] {
        let e = err("non-object", &body);
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidSyntax)),
            "{body}"
        );
    }
}

#[test]
fn null_elements_and_empty_objects_inside_arrays_are_ignored() {
    let n = ok(
        "nulls",
        &json!({
            "userName": "a@x.io",
            "emails": [null, {}, { "value": "a@x.io", "type": "work" }, { "type": null }],
            "addresses": [null, { "country": "" }]
        }),
    );
    assert_eq!(
        n.resource,
        json!({ "schemas": [CORE], "userName": "a@x.io", "emails": [{ "value": "a@x.io", "type": "work" }] })
    );
}

/// The organisation's userName = work-email rule (issue 12, settings): off, the two may differ;
/// every other check still applies.
#[test]
fn username_rule_off_lets_username_and_work_email_differ() {
    use scim_core::{normalize_user_with, Rules};
    let body = serde_json::json!({
        "userName": "ann.upn@acme.onmicrosoft.test",
        "emails": [{"value": "ann@acme.test", "type": "work", "primary": true}],
    });
    let on = normalize_user_with(&body, Rules::default()).unwrap_err();
    assert_eq!(on.scim_type, Some(ScimType::InvalidValue));
    assert!(on.detail.contains("must equal userName"), "{}", on.detail);
    assert_eq!(normalize_user(&body).unwrap_err(), on, "the default is on");
    let off = Rules {
        username_equals_work_email: false,
    };
    let n = normalize_user_with(&body, off).unwrap();
    assert_eq!(n.resource["userName"], "ann.upn@acme.onmicrosoft.test");
    assert_eq!(n.resource["emails"][0]["value"], "ann@acme.test");
    let bad = serde_json::json!({
        "userName": "ann",
        "emails": [{"value": "not an address", "type": "work"}],
    });
    let e = normalize_user_with(&bad, off).unwrap_err();
    assert!(e.detail.contains("is not an email address"), "{}", e.detail);
    assert!(normalize_user_with(&serde_json::json!({"emails": []}), off).is_err());
}
