use scim_filter::{parse_path, AttrPath, CompValue, CompareOp, Filter, PatchPath};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn eq(name: &str, v: &str) -> Filter {
    Filter::Compare {
        attr: AttrPath::simple(name),
        op: CompareOp::Eq,
        value: CompValue::String(v.to_string()),
    }
}

fn path(attr: AttrPath, filter: Option<Filter>, sub: Option<&str>) -> PatchPath {
    PatchPath {
        attr,
        filter,
        sub: sub.map(str::to_string),
    }
}

fn urn(urn: &str, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: Some(urn.to_string()),
        name: name.to_string(),
        sub: sub.map(str::to_string),
    }
}

#[test]
fn valid_paths() {
    let cases: Vec<(&str, PatchPath)> = vec![
        ("userName", path(AttrPath::simple("userName"), None, None)),
        ("active", path(AttrPath::simple("active"), None, None)),
        (
            " displayName ",
            path(AttrPath::simple("displayName"), None, None),
        ),
        (
            "name.givenName",
            path(AttrPath::with_sub("name", "givenName"), None, None),
        ),
        (
            "NAME.FAMILYNAME",
            path(AttrPath::with_sub("NAME", "FAMILYNAME"), None, None),
        ),
        (
            r#"emails[type eq "work"].value"#,
            path(
                AttrPath::simple("emails"),
                Some(eq("type", "work")),
                Some("value"),
            ),
        ),
        (
            r#"addresses[type eq "work"].country"#,
            path(
                AttrPath::simple("addresses"),
                Some(eq("type", "work")),
                Some("country"),
            ),
        ),
        (
            r#"addresses[type eq "work"].streetAddress"#,
            path(
                AttrPath::simple("addresses"),
                Some(eq("type", "work")),
                Some("streetAddress"),
            ),
        ),
        (
            r#"members[value eq "x"]"#,
            path(AttrPath::simple("members"), Some(eq("value", "x")), None),
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            path(
                AttrPath::simple("members"),
                Some(eq("value", "2819c223-7f76-453a-919d-413861904646")),
                None,
            ),
        ),
        (
            r#"emails[type eq "work" and primary eq true]"#,
            path(
                AttrPath::simple("emails"),
                Some(Filter::And(
                    Box::new(eq("type", "work")),
                    Box::new(Filter::Compare {
                        attr: AttrPath::simple("primary"),
                        op: CompareOp::Eq,
                        value: CompValue::Bool(true),
                    }),
                )),
                None,
            ),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            path(urn(ENT, "department", None), None, None),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            path(urn(ENT, "manager", None), None, None),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            path(urn(ENT, "manager", Some("value")), None, None),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            path(urn(CORE, "name", Some("givenName")), None, None),
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value"#,
            path(
                urn(CORE, "emails", None),
                Some(eq("type", "work")),
                Some("value"),
            ),
        ),
        (
            "members[value eq \"a\\\"b\"]",
            path(AttrPath::simple("members"), Some(eq("value", "a\"b")), None),
        ),
    ];
    for (input, want) in cases {
        match parse_path(input) {
            Ok(got) => assert_eq!(got, want, "input: {input}"),
            Err(e) => panic!("input {input:?} failed: {e}"),
        }
    }
}

#[test]
fn invalid_paths() {
    let long = "a".repeat(10_001);
    let cases: Vec<(&str, Option<usize>, &str)> = vec![
        ("", Some(0), "path is empty"),
        ("   ", Some(0), "path is empty"),
        ("emails[", Some(7), "missing expression"),
        (
            "emails[type eq]",
            Some(14),
            "missing comparison value after 'eq'",
        ),
        (r#"emails[type eq "work""#, Some(6), "missing ']'"),
        (r#"emails[]"#, Some(7), "empty value filter"),
        ("a..b", Some(2), "empty attribute name"),
        ("name.", Some(5), "empty attribute name"),
        ("name.givenName.x", Some(0), "too many '.'"),
        ("userName junk", Some(9), "unexpected 'junk' after the path"),
        (
            r#"userName eq "x""#,
            Some(9),
            "unexpected 'eq' after the path",
        ),
        (
            r#"emails[type eq "work"].value eq "x""#,
            Some(29),
            "unexpected 'eq' after the path",
        ),
        (
            r#"emails[type eq "work"]]"#,
            Some(22),
            "unexpected ']' after the path",
        ),
        (
            r#"emails[type eq "work"].value.x"#,
            Some(28),
            "only one sub-attribute",
        ),
        (
            r#"emails[type eq "work"]x"#,
            Some(22),
            "unexpected 'x' after the path",
        ),
        (
            r#"emails[type[value eq "x"]]"#,
            Some(11),
            "cannot be nested",
        ),
        (
            r#"name.givenName[value eq "x"]"#,
            Some(14),
            "must follow a multi-valued attribute",
        ),
        (
            r#""userName""#,
            Some(0),
            "must start with an attribute name",
        ),
        ("(userName)", Some(0), "must start with an attribute name"),
        ("user name", Some(5), "unexpected 'name' after the path"),
        ("1st", Some(0), "must start with a letter"),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            Some(42),
            "no attribute name",
        ),
        (&long, Some(10_000), "path is too long"),
    ];
    for (input, pos, msg) in cases {
        match parse_path(input) {
            Ok(p) => panic!("input {input:?} parsed as {p:?}"),
            Err(e) => {
                assert!(
                    e.message.contains(msg),
                    "input {input:?}: message {:?} does not contain {msg:?}",
                    e.message
                );
                assert_eq!(e.position, pos, "input {input:?}: {e}");
            }
        }
    }
}

#[test]
fn path_filter_nesting_is_limited() {
    let deep = format!("emails[{}type pr{}]", "(".repeat(2_000), ")".repeat(2_000));
    let e = parse_path(&deep).unwrap_err();
    assert!(e.message.contains("filter is nested too deeply"), "{e}");
}
