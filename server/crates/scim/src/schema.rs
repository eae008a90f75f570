//! The User schema (core + enterprise extension) as data, and the discovery documents generated
//! from it, so `/Schemas` cannot drift from what the server actually accepts.

use serde_json::{json, Value};

use crate::{CORE_USER_URN, ENTERPRISE_USER_URN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    String,
    Boolean,
    Complex,
    Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    WriteOnly,
}

#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub multi: bool,
    pub sub: &'static [Attr],
    pub mutability: Mutability,
    pub case_exact: bool,
    pub required: bool,
    pub unique: bool,
    pub description: &'static str,
}

const fn s(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        ty: Ty::String,
        multi: false,
        sub: &[],
        mutability: Mutability::ReadWrite,
        case_exact: false,
        required: false,
        unique: false,
        description,
    }
}
const fn b(name: &'static str, description: &'static str) -> Attr {
    Attr {
        ty: Ty::Boolean,
        ..s(name, description)
    }
}
const fn r(name: &'static str, description: &'static str) -> Attr {
    Attr {
        ty: Ty::Reference,
        case_exact: true,
        ..s(name, description)
    }
}
const fn complex(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        ty: Ty::Complex,
        sub,
        ..s(name, description)
    }
}
const fn multi(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        ty: Ty::Complex,
        multi: true,
        sub,
        ..s(name, description)
    }
}

const NAME_SUB: &[Attr] = &[
    s("formatted", "The full name, formatted for display."),
    s("familyName", "The family name (last name)."),
    s("givenName", "The given name (first name)."),
    s("middleName", "The middle name(s)."),
    s("honorificPrefix", "Honorific prefix, e.g. 'Ms.'."),
    s("honorificSuffix", "Honorific suffix, e.g. 'III'."),
];
const VALUE_SUB: &[Attr] = &[
    s("value", "The value."),
    s("display", "A human-readable name."),
    s("type", "A label, e.g. 'work' or 'home'."),
    b("primary", "Whether this is the primary value."),
];
const PHOTO_SUB: &[Attr] = &[
    r("value", "URL of the photo."),
    s("display", "A human-readable name."),
    s("type", "'photo' or 'thumbnail'."),
    b("primary", "Whether this is the primary value."),
];
const ADDRESS_SUB: &[Attr] = &[
    s("formatted", "The full mailing address."),
    s("streetAddress", "Street address."),
    s("locality", "City or locality."),
    s("region", "State or region."),
    s("postalCode", "Postal code."),
    s("country", "Country (ISO 3166-1 alpha-2 recommended)."),
    s("type", "A label, e.g. 'work'."),
    b("primary", "Whether this is the primary address."),
];
const MANAGER_SUB: &[Attr] = &[
    s("value", "The id of the manager's User."),
    r("$ref", "URI of the manager's User."),
    s("displayName", "The manager's display name."),
];

pub static USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..s(
            "userName",
            "Unique identifier of the user within the organisation; the work email address.",
        )
    },
    complex("name", NAME_SUB, "The components of the user's name."),
    s("displayName", "The name displayed to end users."),
    s("nickName", "The casual name."),
    r("profileUrl", "URL of the user's online profile."),
    s("title", "Job title."),
    s(
        "userType",
        "Relationship to the organisation, e.g. 'Employee'.",
    ),
    s(
        "preferredLanguage",
        "Preferred written or spoken language (e.g. 'en-US').",
    ),
    s(
        "locale",
        "Default location for localisation (e.g. 'en-US').",
    ),
    s(
        "timezone",
        "Time zone in the Olson database format (e.g. 'Europe/Helsinki').",
    ),
    b(
        "active",
        "Whether the user may sign in. false = deactivated (deprovisioned). Always returned. \
         A PATCH that removes it (remove, or replace with null) leaves it unassigned, which \
         this service treats as false: the user is deactivated.",
    ),
    Attr {
        mutability: Mutability::WriteOnly,
        case_exact: true,
        ..s(
            "password",
            "Ignored: employees never sign in with a password here. A password sent on \
             create, replace or PATCH is accepted and discarded, never stored in any form, \
             never returned.",
        )
    },
    multi(
        "emails",
        VALUE_SUB,
        "Email addresses; the work email must equal userName.",
    ),
    multi("phoneNumbers", VALUE_SUB, "Phone numbers."),
    multi("ims", VALUE_SUB, "Instant messaging addresses."),
    multi("photos", PHOTO_SUB, "Photo URLs."),
    multi(
        "addresses",
        ADDRESS_SUB,
        "Physical addresses; the work country and locality are shown to admins.",
    ),
    multi("entitlements", VALUE_SUB, "Entitlements."),
    multi("roles", VALUE_SUB, "Roles."),
    multi("x509Certificates", VALUE_SUB, "Certificates (base64 DER)."),
    Attr {
        case_exact: true,
        ..s(
            "externalId",
            "The identifier the provisioning client uses for this user.",
        )
    },
];

pub static ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber", "Employee number."),
    s("costCenter", "Cost center."),
    s("organization", "Organisation."),
    s("division", "Division."),
    s(
        "department",
        "Department. A plain top-level 'department' on a User (as JumpCloud's attribute table \
         names it) is taken as this attribute; when both are sent, this one wins.",
    ),
    complex("manager", MANAGER_SUB, "The user's manager."),
];

/// Case-insensitive lookup in an attribute list.
pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn attr_json(a: &Attr) -> Value {
    let ty = match a.ty {
        Ty::String => "string",
        Ty::Boolean => "boolean",
        Ty::Complex => "complex",
        Ty::Reference => "reference",
    };
    let mut v = json!({
        "name": a.name,
        "type": ty,
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "mutability": match a.mutability { Mutability::ReadWrite => "readWrite", Mutability::WriteOnly => "writeOnly" },
        "returned": match a.mutability { Mutability::WriteOnly => "never", Mutability::ReadWrite => if a.name == "userName" || a.name == "active" { "always" } else { "default" } },
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if matches!(a.ty, Ty::String | Ty::Reference) {
        v["caseExact"] = json!(a.case_exact);
    }
    if a.ty == Ty::Reference {
        v["referenceTypes"] = json!(["external"]);
    }
    if !a.sub.is_empty() {
        v["subAttributes"] = Value::Array(a.sub.iter().map(attr_json).collect());
    }
    v
}

fn meta(base_url: &str, resource_type: &str, path: &str) -> Value {
    json!({ "resourceType": resource_type, "location": format!("{base_url}/{path}") })
}

pub fn user_schema(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": CORE_USER_URN,
        "name": "User",
        "description": "User account",
        "attributes": USER_ATTRS.iter().map(attr_json).chain(std::iter::once(user_groups_attr())).collect::<Vec<_>>(),
        "meta": meta(base_url, "Schema", &format!("Schemas/{CORE_USER_URN}")),
    })
}

pub fn enterprise_schema(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE_USER_URN,
        "name": "EnterpriseUser",
        "description": "Enterprise user extension",
        "attributes": ENTERPRISE_ATTRS.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": meta(base_url, "Schema", &format!("Schemas/{ENTERPRISE_USER_URN}")),
    })
}

// ---- SCIM Groups (issue 13, groups) ----

pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn sub_json(name: &str, ty: &str, mutability: &str, description: &str) -> Value {
    let mut v = json!({
        "name": name,
        "type": ty,
        "multiValued": false,
        "description": description,
        "required": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none",
        "caseExact": ty == "reference" || name == "value",
    });
    if ty == "reference" {
        v["referenceTypes"] = json!(["User", "Group"]);
    }
    v
}

fn member_type_json() -> Value {
    let mut t = sub_json(
        "type",
        "string",
        "immutable",
        "User (nested groups are not supported).",
    );
    t["canonicalValues"] = json!(["User"]);
    t
}

/// The User's read-only `groups` (RFC 7643 §4.1.2): the groups it is a direct member of.
fn user_groups_attr() -> Value {
    json!({
        "name": "groups",
        "type": "complex",
        "multiValued": true,
        "description": "The groups the user is a direct member of; set through the Group resource.",
        "required": false,
        "mutability": "readOnly",
        "returned": "default",
        "uniqueness": "none",
        "subAttributes": [
            sub_json("value", "string", "readOnly", "The group's id."),
            sub_json("$ref", "reference", "readOnly", "The group's URI."),
            sub_json("display", "string", "readOnly", "The group's displayName."),
            sub_json("type", "string", "readOnly", "Always direct."),
        ],
    })
}

pub fn group_schema(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_URN,
        "name": "Group",
        "description": "Group",
        "attributes": [
            {
                "name": "displayName",
                "type": "string",
                "multiValued": false,
                "description": "The group's name, unique in the organisation (case-insensitively).",
                "required": true,
                "caseExact": false,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "server",
            },
            {
                "name": "externalId",
                "type": "string",
                "multiValued": false,
                "description": "The identity provider's id for the group.",
                "required": false,
                "caseExact": true,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
            },
            {
                "name": "members",
                "type": "complex",
                "multiValued": true,
                "description": "The group's members: users of this organisation.",
                "required": false,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
                "subAttributes": [
                    sub_json("value", "string", "immutable", "The member's user id."),
                    sub_json("$ref", "reference", "immutable", "The member's URI."),
                    member_type_json(),
                ],
            },
        ],
        "meta": meta(base_url, "Schema", &format!("Schemas/{GROUP_URN}")),
    })
}

pub fn group_resource_type(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": GROUP_URN,
        "meta": meta(base_url, "ResourceType", "ResourceTypes/Group"),
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [crate::LIST_RESPONSE_URN],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub fn schemas(base_url: &str) -> Value {
    list(vec![
        user_schema(base_url),
        enterprise_schema(base_url),
        group_schema(base_url),
    ])
}

pub fn schema_by_id(base_url: &str, id: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case(CORE_USER_URN) {
        Some(user_schema(base_url))
    } else if id.eq_ignore_ascii_case(ENTERPRISE_USER_URN) {
        Some(enterprise_schema(base_url))
    } else if id.eq_ignore_ascii_case(GROUP_URN) {
        Some(group_schema(base_url))
    } else {
        None
    }
}

pub fn user_resource_type(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User account",
        "schema": CORE_USER_URN,
        "schemaExtensions": [{ "schema": ENTERPRISE_USER_URN, "required": false }],
        "meta": meta(base_url, "ResourceType", "ResourceTypes/User"),
    })
}

pub fn resource_types(base_url: &str) -> Value {
    list(vec![
        user_resource_type(base_url),
        group_resource_type(base_url),
    ])
}

pub fn resource_type_by_id(base_url: &str, id: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case("User") {
        Some(user_resource_type(base_url))
    } else if id.eq_ignore_ascii_case("Group") {
        Some(group_resource_type(base_url))
    } else {
        None
    }
}

/// Maximum results of one list page (`filter.maxResults`).
pub const MAX_RESULTS: usize = 200;

pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": format!("{}/", base_url.split("/scim/").next().unwrap_or(base_url)),
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 1_048_576 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organisation's SCIM token, generated in the admin portal, as 'Authorization: Bearer <token>'.",
            "primary": true,
        }],
        "meta": meta(base_url, "ServiceProviderConfig", "ServiceProviderConfig"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_tells_the_truth() {
        let spc = service_provider_config("https://x/scim/v2/o");
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["filter"]["maxResults"], 200);
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["sort"]["supported"], true);
        assert_eq!(spc["etag"]["supported"], true);
        let rt = resource_types("https://x/scim/v2/o");
        assert_eq!(rt["totalResults"], 2);
        assert_eq!(rt["Resources"][1]["endpoint"], "/Groups");
        assert_eq!(
            rt["Resources"][0]["schemaExtensions"][0]["schema"],
            ENTERPRISE_USER_URN
        );
        let sc = schemas("https://x/scim/v2/o");
        assert_eq!(sc["totalResults"], 3);
        assert!(schema_by_id("b", GROUP_URN).is_some());
        let user = &sc["Resources"][0];
        let pw = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(pw["returned"], "never");
        assert!(schema_by_id("b", "urn:ietf:params:scim:schemas:core:2.0:user").is_some());
        assert!(schema_by_id("b", "nope").is_none());
    }
}
