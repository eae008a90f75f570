//! Discovery documents (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`), their agreement
//! with what `normalize_user` and `user::resolve` accept, and the SCIM error body.

use scim_core::schema::{
    enterprise_schema, resource_type_by_id, resource_types, schema_by_id, schemas,
    service_provider_config, user_resource_type, user_schema, MAX_RESULTS,
};
use scim_core::user::{resolve, Target};
use scim_core::{
    normalize_user, ScimError, ScimType, CORE_USER_URN, ENTERPRISE_USER_URN, ERROR_URN,
};
use serde_json::{json, Map, Value};

const BASE: &str = "https://portal.example/scim/v2/org1";

fn attrs(schema: &Value) -> &[Value] {
    schema["attributes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn attr<'a>(schema: &'a Value, name: &str) -> &'a Value {
    attrs(schema)
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

#[test]
fn schemas_list_both_schemas_with_locations() {
    let list = schemas(BASE);
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list["totalResults"], 3);
    assert_eq!(list["itemsPerPage"], 3);
    assert_eq!(list["startIndex"], 1);
    assert_eq!(list["Resources"][0], user_schema(BASE));
    assert_eq!(list["Resources"][1], enterprise_schema(BASE));
    for (s, id, name) in [
        (user_schema(BASE), CORE_USER_URN, "User"),
        (
            enterprise_schema(BASE),
            ENTERPRISE_USER_URN,
            "EnterpriseUser",
        ),
    ] {
        assert_eq!(s["id"], id);
        assert_eq!(s["name"], name);
        assert_eq!(
            s["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
        );
        assert_eq!(s["meta"]["resourceType"], "Schema");
        assert_eq!(s["meta"]["location"], format!("{BASE}/Schemas/{id}"));
    }
}

#[test]
fn schema_by_id_is_case_insensitive() {
    let cases: Vec<(&str, Option<Value>)> = vec![
        (CORE_USER_URN, Some(user_schema(BASE))),
        (
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER",
            Some(user_schema(BASE)),
        ),
        (ENTERPRISE_USER_URN, Some(enterprise_schema(BASE))),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
            Some(enterprise_schema(BASE)),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            Some(scim_core::schema::group_schema(BASE)),
        ),
        ("User", None),
        ("", None),
    ];
    for (id, want) in cases {
        assert_eq!(schema_by_id(BASE, id), want, "{id}");
    }
}

#[test]
fn attribute_characteristics() {
    let user = user_schema(BASE);
    let cases: Vec<(&str, Value)> = vec![
        (
            "userName",
            json!({ "type": "string", "required": true, "uniqueness": "server", "returned": "always", "caseExact": false, "mutability": "readWrite", "multiValued": false }),
        ),
        (
            "active",
            json!({ "type": "boolean", "returned": "always", "required": false }),
        ),
        (
            "password",
            json!({ "type": "string", "mutability": "writeOnly", "returned": "never", "caseExact": true }),
        ),
        (
            "externalId",
            json!({ "type": "string", "caseExact": true, "returned": "default", "uniqueness": "none" }),
        ),
        (
            "profileUrl",
            json!({ "type": "reference", "referenceTypes": ["external"], "caseExact": true }),
        ),
        ("name", json!({ "type": "complex", "multiValued": false })),
        ("emails", json!({ "type": "complex", "multiValued": true })),
        (
            "addresses",
            json!({ "type": "complex", "multiValued": true }),
        ),
    ];
    for (name, want) in cases {
        let a = attr(&user, name);
        for (k, v) in want.as_object().into_iter().flatten() {
            assert_eq!(&a[k], v, "{name}.{k}");
        }
        assert!(
            a["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
    // Only string and reference attributes state caseExact; booleans and complex ones do not.
    for a in attrs(&user) {
        let t = a["type"].as_str().unwrap_or_default();
        assert_eq!(
            a.get("caseExact").is_some(),
            t == "string" || t == "reference",
            "{}",
            a["name"]
        );
    }
    let subs = |a: &Value| -> Vec<String> {
        a["subAttributes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        subs(attr(&user, "name")),
        [
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix"
        ]
    );
    assert_eq!(
        subs(attr(&user, "emails")),
        ["value", "display", "type", "primary"]
    );
    assert_eq!(
        subs(attr(&user, "addresses")),
        [
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
            "primary"
        ]
    );
    let ent = enterprise_schema(BASE);
    let names: Vec<&str> = attrs(&ent)
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
    assert_eq!(
        subs(attr(&ent, "manager")),
        ["value", "$ref", "displayName"]
    );
}

/// A value of the right type for a schema attribute (`salt` keeps strings distinct).
fn sample(a: &Value, salt: &str) -> Value {
    let name = a["name"].as_str().unwrap_or_default();
    let one = match a["type"].as_str() {
        Some("boolean") => json!(true),
        Some("reference") => json!(format!("https://example.com/{salt}{name}")),
        Some("complex") => {
            let mut m = Map::new();
            for s in a["subAttributes"].as_array().into_iter().flatten() {
                m.insert(
                    s["name"].as_str().unwrap_or_default().to_string(),
                    sample(s, &format!("{salt}{name}.")),
                );
            }
            Value::Object(m)
        }
        _ => json!(format!("{salt}{name}")),
    };
    if a["multiValued"] == true {
        json!([one])
    } else {
        one
    }
}

#[test]
fn every_advertised_attribute_is_accepted_and_kept() {
    let mut body = Map::new();
    // Read-only attributes (the User's `groups`, issue 13) are the server's to set.
    for a in attrs(&user_schema(BASE))
        .iter()
        .filter(|a| a["mutability"] != "readOnly")
    {
        body.insert(
            a["name"].as_str().unwrap_or_default().to_string(),
            sample(a, ""),
        );
    }
    body.insert("userName".into(), json!("ann@example.com"));
    body.insert(
        "emails".into(),
        json!([{ "value": "ann@example.com", "display": "Ann", "type": "work", "primary": true }]),
    );
    let mut ext = Map::new();
    for a in attrs(&enterprise_schema(BASE)) {
        ext.insert(
            a["name"].as_str().unwrap_or_default().to_string(),
            sample(a, "e."),
        );
    }
    body.insert(ENTERPRISE_USER_URN.into(), Value::Object(ext));
    let body = Value::Object(body);

    let n = match normalize_user(&body) {
        Ok(n) => n,
        Err(e) => panic!("the advertised schema is not accepted: {e}"),
    };
    assert_eq!(n.password.as_deref(), Some("password"));
    let mut want = body.clone();
    if let Some(o) = want.as_object_mut() {
        o.remove("password");
        o.insert(
            "schemas".into(),
            json!([CORE_USER_URN, ENTERPRISE_USER_URN]),
        );
    }
    assert_eq!(n.resource, want);
}

#[test]
fn resolve_agrees_with_the_schema() {
    // Read-only attributes (the User's `groups`, issue 13) are not written, so not resolved.
    for a in attrs(&user_schema(BASE))
        .iter()
        .filter(|a| a["mutability"] != "readOnly")
    {
        let name = a["name"].as_str().unwrap_or_default();
        let upper = name.to_ascii_uppercase();
        let qualified = format!("{CORE_USER_URN}:{name}");
        for key in [name, upper.as_str(), qualified.as_str()] {
            match (name, resolve(key)) {
                ("password", Target::Password) => {}
                (_, Target::Core(found, None)) => assert_eq!(found.name, name, "{key}"),
                _ => panic!("{key} does not resolve to the core attribute {name}"),
            }
        }
        for s in a["subAttributes"].as_array().into_iter().flatten() {
            let sub = s["name"].as_str().unwrap_or_default();
            let key = format!("{name}.{sub}");
            match resolve(&key) {
                Target::Core(found, Some(fs)) => {
                    assert_eq!((found.name, fs.name), (name, sub), "{key}")
                }
                _ => panic!("{key} does not resolve"),
            }
        }
    }
    for a in attrs(&enterprise_schema(BASE)) {
        let name = a["name"].as_str().unwrap_or_default();
        let key = format!("{ENTERPRISE_USER_URN}:{name}");
        match resolve(&key) {
            Target::Enterprise(found, None) => assert_eq!(found.name, name),
            _ => panic!("{key} does not resolve"),
        }
        // Without the URN an enterprise attribute is not a core attribute, except the plain
        // `department` JumpCloud's attribute table names (DEPARTMENT_ALIAS), which is the
        // enterprise one.
        match resolve(name) {
            Target::Enterprise(found, None) if name == "department" => {
                assert_eq!(found.name, "department")
            }
            Target::Unknown(_) if name != "department" => {}
            _ => panic!("{name} without the URN"),
        }
    }
    let kind = |t: &Target| match t {
        Target::Core(..) => "core",
        Target::Enterprise(..) => "enterprise",
        Target::EnterpriseObject => "enterprise object",
        Target::Id => "id",
        Target::Meta => "meta",
        Target::Schemas => "schemas",
        Target::Password => "password",
        Target::Unknown(_) => "unknown",
    };
    let special: Vec<(&str, &str)> = vec![
        ("id", "id"),
        ("ID", "id"),
        ("meta", "meta"),
        ("meta.lastModified", "meta"),
        ("schemas", "schemas"),
        ("Password", "password"),
        (ENTERPRISE_USER_URN, "enterprise object"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
            "enterprise object",
        ),
        ("groups", "unknown"),
        ("name.givenName.x", "unknown"),
        ("", "unknown"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:id",
            "unknown",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "enterprise",
        ),
    ];
    for (key, want) in special {
        assert_eq!(kind(&resolve(key)), want, "{key}");
    }
}

#[test]
fn resource_types_and_service_provider_config() {
    let rts = resource_types(BASE);
    assert_eq!(rts["totalResults"], 2);
    assert_eq!(rts["Resources"][0], user_resource_type(BASE));
    // SCIM Groups (issue 13).
    assert_eq!(rts["Resources"][1]["endpoint"], "/Groups");
    let rt = user_resource_type(BASE);
    assert_eq!(rt["id"], "User");
    assert_eq!(rt["endpoint"], "/Users");
    assert_eq!(rt["schema"], CORE_USER_URN);
    assert_eq!(
        rt["schemaExtensions"],
        json!([{ "schema": ENTERPRISE_USER_URN, "required": false }])
    );
    assert_eq!(rt["meta"]["location"], format!("{BASE}/ResourceTypes/User"));
    for (id, found) in [("User", true), ("user", true), ("Group", true), ("", false)] {
        assert_eq!(resource_type_by_id(BASE, id).is_some(), found, "{id}");
    }

    let spc = service_provider_config(BASE);
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(spc["documentationUri"], "https://portal.example/");
    assert_eq!(
        spc["filter"],
        json!({ "supported": true, "maxResults": MAX_RESULTS })
    );
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        spc["meta"]["location"],
        format!("{BASE}/ServiceProviderConfig")
    );
}

#[test]
fn error_bodies() {
    let cases: Vec<(ScimError, &str, Option<&str>)> = vec![
        (ScimError::invalid_value("v"), "400", Some("invalidValue")),
        (ScimError::invalid_syntax("s"), "400", Some("invalidSyntax")),
        (ScimError::invalid_path("p"), "400", Some("invalidPath")),
        (ScimError::no_target("t"), "400", Some("noTarget")),
        (ScimError::mutability("m"), "400", Some("mutability")),
        (ScimError::invalid_filter("f"), "400", Some("invalidFilter")),
        (
            ScimError::bad_request(ScimType::TooMany, "n"),
            "400",
            Some("tooMany"),
        ),
        (
            ScimError::bad_request(ScimType::InvalidVers, "n"),
            "400",
            Some("invalidVers"),
        ),
        (
            ScimError::bad_request(ScimType::Sensitive, "n"),
            "400",
            Some("sensitive"),
        ),
        (ScimError::uniqueness("u"), "409", Some("uniqueness")),
        (ScimError::not_found("gone"), "404", None),
        (ScimError::precondition_failed(), "412", None),
        (ScimError::unauthorized(), "401", None),
        (ScimError::payload_too_large(), "413", None),
        (ScimError::internal(), "500", None),
        (ScimError::unavailable(), "503", None),
    ];
    for (e, status, scim_type) in cases {
        let j = e.to_json();
        assert_eq!(j["schemas"], json!([ERROR_URN]));
        assert_eq!(j["status"], status, "{e}");
        assert_eq!(j["scimType"].as_str(), scim_type, "{e}");
        assert_eq!(j["detail"], e.detail.as_str());
        assert!(!e.detail.is_empty());
        assert!(
            e.to_string()
                .starts_with(&format!("{status} {}: ", scim_type.unwrap_or("-"))),
            "{e}"
        );
    }
}
