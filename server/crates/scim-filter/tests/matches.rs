use scim_filter::{matches, parse_filter};
use serde_json::{json, Value};

fn bjensen() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "E123",
        "userName": "Bjensen@Example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane"
        },
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": null,
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "active": true,
        "loginCount": 42,
        "score": 2.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "other@example.org"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "USA", "primary": true}
        ],
        "phoneNumbers": [],
        "x509Certificates": [{}],
        "entitlements": ["Admin", "Billing"],
        "groups": [
            {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}
        ],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34.123+02:00",
            "version": "W/\"a330bc54f0671c9\""
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

#[test]
fn matches_table() {
    let user = bjensen();
    let cases: &[(&str, bool)] = &[
        // Case-insensitive strings; attribute names case-insensitive.
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#, true),
        (r#"userName eq "bjensen""#, false),
        (r#"userName ne "bjensen""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"userName co "jensen@""#, true),
        (r#"userName sw "bj""#, true),
        (r#"userName sw "jensen""#, false),
        (r#"userName ew ".COM""#, true),
        (r#"userName ew ".org""#, false),
        (r#"userName gt "a""#, true),
        (r#"userName lt "a""#, false),
        (r#"userName ge "bjensen@example.com""#, true),
        (r#"userName le "BJENSEN@EXAMPLE.COM""#, true),
        (r#"userName lt "c""#, true),
        // caseExact: id and externalId.
        (r#"externalId eq "E123""#, true),
        (r#"externalId eq "e123""#, false),
        (r#"externalId ne "e123""#, true),
        (r#"externalId sw "E""#, true),
        (r#"externalId sw "e""#, false),
        (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "e123""#,
            false,
        ),
        // Sub-attributes.
        (r#"name.familyName eq "jensen""#, true),
        (r#"name.givenName sw "Bar""#, true),
        (r#"name.honorificPrefix pr"#, false),
        (r#"name pr"#, true),
        // A complex value without sub-attribute compares `value`, else `formatted`.
        (r#"name co "barbara j""#, true),
        (r#"name eq "jensen""#, false),
        // Presence.
        (r#"displayName pr"#, true),
        (r#"nickName pr"#, false),
        (r#"title pr"#, false),
        (r#"nonexistent pr"#, false),
        (r#"phoneNumbers pr"#, false),
        (r#"x509Certificates pr"#, false),
        (r#"emails pr"#, true),
        (r#"emails.type pr"#, true),
        (r#"active pr"#, true),
        (r#"loginCount pr"#, true),
        // null.
        (r#"title eq null"#, true),
        (r#"missing eq null"#, true),
        (r#"userName eq null"#, false),
        (r#"userName ne null"#, true),
        (r#"title ne null"#, false),
        (r#"title gt null"#, false),
        // ne on an absent value matches (as in SQL: title IS NULL OR ...).
        (r#"title ne "boss""#, true),
        (r#"title eq "boss""#, false),
        (r#"not (title eq "boss")"#, true),
        // Booleans (and Entra's string booleans).
        (r#"active eq true"#, true),
        (r#"active eq false"#, false),
        (r#"active ne false"#, true),
        (r#"active eq "true""#, true),
        (r#"active eq "True""#, true),
        (r#"active eq "False""#, false),
        (r#"active gt false"#, false),
        (r#"active co "t""#, false),
        // Numbers.
        (r#"loginCount eq 42"#, true),
        (r#"loginCount eq 42.0"#, true),
        (r#"loginCount gt 41"#, true),
        (r#"loginCount gt 42"#, false),
        (r#"loginCount ge 42"#, true),
        (r#"loginCount lt 1e3"#, true),
        (r#"loginCount le -1"#, false),
        (r#"score gt 2"#, true),
        (r#"score lt 2.5"#, false),
        (r#"score le 2.5"#, true),
        (r#"loginCount eq "42""#, false),
        (r#"loginCount co 4"#, false),
        // Datetimes compare as instants (lastModified is 2011-05-13T02:42:34.123Z).
        (r#"meta.created eq "2010-01-23T04:56:22Z""#, true),
        (r#"meta.created eq "2010-01-23T05:56:22+01:00""#, true),
        (r#"meta.created gt "2010-01-01T00:00:00Z""#, true),
        (r#"meta.lastModified gt "2011-05-13T03:00:00Z""#, false),
        (r#"meta.lastModified lt "2011-05-13T03:00:00Z""#, true),
        (r#"meta.lastModified ge "2011-05-13T02:42:34.123Z""#, true),
        (r#"meta.lastModified le "2011-05-13T02:42:34.122Z""#, false),
        (r#"meta.created sw "2010-01""#, true),
        // Multi-valued: any element.
        (r#"emails.value eq "BABS@jensen.org""#, true),
        (r#"emails.value eq "nobody@example.com""#, false),
        (r#"emails co "example.org""#, true),
        (r#"emails eq "bjensen@example.com""#, true),
        (r#"emails.type eq "work""#, true),
        (r#"emails.type eq "other""#, false),
        (r#"emails.type ne "work""#, true),
        (r#"emails.primary eq true"#, true),
        (r#"emails.value ew ".org""#, true),
        (r#"entitlements eq "admin""#, true),
        (r#"entitlements co "bill""#, true),
        (r#"entitlements eq "root""#, false),
        (r#"groups.display eq "tour guides""#, true),
        (r#"addresses.country eq "usa""#, true),
        (r#"addresses.postalCode sw "916""#, true),
        // Value paths: one element must satisfy the whole inner filter.
        (r#"emails[type eq "work"]"#, true),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (r#"emails[type eq "work" and value co "jensen.org"]"#, false),
        (r#"emails[type eq "home" and value co "jensen.org"]"#, true),
        (r#"emails[type eq "work" or type eq "other"]"#, true),
        (r#"emails[not (type pr)]"#, true),
        (r#"emails[type ne "work" and type ne "home"]"#, true),
        (r#"emails[primary eq true and type eq "home"]"#, false),
        (r#"phoneNumbers[type eq "work"]"#, false),
        (r#"nonexistent[type eq "work"]"#, false),
        (r#"entitlements[value eq "billing"]"#, true),
        (r#"name[givenName eq "barbara"]"#, true),
        (
            r#"addresses[type eq "work" and locality eq "Hollywood"]"#,
            true,
        ),
        // Entra form.
        (
            r#"emails[type eq "work"].value eq "bjensen@example.com""#,
            true,
        ),
        (
            r#"emails[type eq "work"].value eq "babs@jensen.org""#,
            false,
        ),
        (r#"emails[type eq "home"].value eq "babs@jensen.org""#, true),
        (r#"emails[type eq "work"].primary eq true"#, true),
        (r#"addresses[type eq "work"].country pr"#, true),
        // Extension attributes.
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#,
            true,
        ),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq "Tour Operations""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 701984"#,
            false,
        ),
        (r#"department eq "Tour Operations""#, true),
        (r#"costCenter eq "4130""#, true),
        (
            r#"urn:ietf:params:scim:schemas:extension:other:2.0:User:department pr"#,
            false,
        ),
        // Core URN means top level.
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Jensen""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
            true,
        ),
        // Logic.
        (
            r#"userName eq "bjensen@example.com" and active eq true"#,
            true,
        ),
        (
            r#"userName eq "bjensen@example.com" and active eq false"#,
            false,
        ),
        (r#"userName eq "x" or active eq true"#, true),
        (r#"userName eq "x" or active eq false"#, false),
        (r#"not (active eq true)"#, false),
        (r#"not (not (active eq true))"#, true),
        (
            r#"userName eq "x" or userName eq "y" or displayName co "babs""#,
            true,
        ),
        (
            r#"(userName eq "x" or displayName co "babs") and not (title pr)"#,
            true,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        // Unicode case folding.
        (r#"displayName co "BABS""#, true),
    ];
    for (input, want) in cases {
        let f = parse_filter(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(matches(&f, &user), *want, "filter: {input}");
    }
}

#[test]
fn unicode_values() {
    let user = json!({"userName": "JÜRGEN", "displayName": "Jürgen 東京", "nickName": "ΣΊΣΥΦΟΣ"});
    let cases: &[(&str, bool)] = &[
        (r#"userName eq "jürgen""#, true),
        ("displayName eq \"jürgen 東京\"", true),
        (r#"displayName co "\u6771""#, true),
        (r#"nickName eq "σίσυφος""#, true),
        (r#"nickName sw "σί""#, true),
    ];
    for (input, want) in cases {
        let f = parse_filter(input).unwrap();
        assert_eq!(matches(&f, &user), *want, "filter: {input}");
    }
}

#[test]
fn absent_multi_valued_attribute() {
    // A user without emails: ne and eq null match (as an absent single value does),
    // everything else does not; value paths need an element.
    let user = json!({"userName": "x"});
    let cases: &[(&str, bool)] = &[
        (r#"emails.value eq "a@b.c""#, false),
        (r#"emails.value ne "a@b.c""#, true),
        (r#"emails.type eq null"#, true),
        (r#"emails pr"#, false),
        (r#"emails[type ne "work"]"#, false),
        (r#"emails[value pr]"#, false),
        (r#"not (emails[value pr])"#, true),
    ];
    for (input, want) in cases {
        let f = parse_filter(input).unwrap();
        assert_eq!(matches(&f, &user), *want, "filter: {input}");
    }
}

#[test]
fn non_object_resources_never_match_comparisons() {
    for resource in [json!(null), json!([]), json!("userName"), json!(5)] {
        let f = parse_filter(r#"userName eq "x""#).unwrap();
        assert!(!matches(&f, &resource));
        let f = parse_filter(r#"userName pr"#).unwrap();
        assert!(!matches(&f, &resource));
    }
}

#[test]
fn okta_and_entra_lookups() {
    // Okta: GET /Users?filter=userName%20eq%20%22a@b.c%22&startIndex=1&count=2
    // (the query string is decoded and split by the server; only the filter is ours).
    let user = json!({"userName": "A@B.C", "externalId": "00u1", "active": true,
                      "emails": [{"value": "A@B.C", "type": "work", "primary": true}]});
    let cases: &[(&str, bool)] = &[
        (r#"userName eq "a@b.c""#, true),
        (r#"externalId eq "00u1""#, true),
        (r#"externalId eq "00U1""#, false),
        (r#"emails[type eq "work"].value eq "a@b.c""#, true),
        (r#"emails.value eq "a@b.c""#, true),
        (r#"userName eq "a@b.c" and active eq true"#, true),
        (r#"userName eq "a@b.c" and active eq "False""#, false),
    ];
    for (input, want) in cases {
        let f = parse_filter(input).unwrap();
        assert_eq!(matches(&f, &user), *want, "filter: {input}");
    }
}
