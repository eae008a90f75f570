#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use scim_filter::{parse_filter, AttrPath, CompValue, CompareOp, Filter, MAX_NESTING};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn a(name: &str) -> AttrPath {
    AttrPath::simple(name)
}

fn a2(name: &str, sub: &str) -> AttrPath {
    AttrPath::with_sub(name, sub)
}

fn urn(urn: &str, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: Some(urn.to_string()),
        name: name.to_string(),
        sub: sub.map(str::to_string),
    }
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.to_string())
}

fn n(v: &str) -> CompValue {
    CompValue::Number(serde_json::from_str(v).unwrap())
}

fn cmp(attr: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { attr, op, value }
}

fn eq(attr: AttrPath, value: CompValue) -> Filter {
    cmp(attr, CompareOp::Eq, value)
}

fn pr(attr: AttrPath) -> Filter {
    Filter::Present(attr)
}

fn and(l: Filter, r: Filter) -> Filter {
    Filter::And(Box::new(l), Box::new(r))
}

fn or(l: Filter, r: Filter) -> Filter {
    Filter::Or(Box::new(l), Box::new(r))
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

fn vp(attr: AttrPath, f: Filter) -> Filter {
    Filter::ValuePath {
        attr,
        filter: Box::new(f),
    }
}

#[test]
fn valid_filters() {
    use CompareOp::*;
    let cases: Vec<(&str, Filter)> = vec![
        // Every operator.
        (r#"userName eq "bjensen""#, eq(a("userName"), s("bjensen"))),
        (r#"title ne "boss""#, cmp(a("title"), Ne, s("boss"))),
        (
            r#"name.familyName co "O'Malley""#,
            cmp(a2("name", "familyName"), Co, s("O'Malley")),
        ),
        (r#"userName sw "J""#, cmp(a("userName"), Sw, s("J"))),
        (r#"userName ew "son""#, cmp(a("userName"), Ew, s("son"))),
        (r#"title pr"#, pr(a("title"))),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp(a2("meta", "lastModified"), Gt, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp(a2("meta", "lastModified"), Ge, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp(a2("meta", "lastModified"), Lt, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp(a2("meta", "lastModified"), Le, s("2011-05-13T04:42:34Z")),
        ),
        // Case-insensitive operators, keywords and literals; names keep their spelling.
        (r#"UserName EQ "x""#, eq(a("UserName"), s("x"))),
        (r#"title Pr"#, pr(a("title"))),
        (
            r#"a PR AND b pR Or NOT (c Pr)"#,
            or(and(pr(a("a")), pr(a("b"))), not(pr(a("c")))),
        ),
        (r#"active eq TRUE"#, eq(a("active"), CompValue::Bool(true))),
        (
            r#"active eq False"#,
            eq(a("active"), CompValue::Bool(false)),
        ),
        (r#"title eq NULL"#, eq(a("title"), CompValue::Null)),
        (r#"title ne null"#, cmp(a("title"), Ne, CompValue::Null)),
        // Precedence: not > and > or, left-associative.
        (
            r#"a pr or b pr and c pr"#,
            or(pr(a("a")), and(pr(a("b")), pr(a("c")))),
        ),
        (
            r#"a pr and b pr or c pr"#,
            or(and(pr(a("a")), pr(a("b"))), pr(a("c"))),
        ),
        (
            r#"a pr or b pr or c pr"#,
            or(or(pr(a("a")), pr(a("b"))), pr(a("c"))),
        ),
        (
            r#"a pr and b pr and c pr"#,
            and(and(pr(a("a")), pr(a("b"))), pr(a("c"))),
        ),
        (
            r#"(a pr or b pr) and c pr"#,
            and(or(pr(a("a")), pr(a("b"))), pr(a("c"))),
        ),
        (r#"not (a pr) and b pr"#, and(not(pr(a("a"))), pr(a("b")))),
        (r#"not(a pr)"#, not(pr(a("a")))),
        (r#"not (not (a pr))"#, not(not(pr(a("a"))))),
        (r#"((a pr))"#, pr(a("a"))),
        (r#"(  a pr  )"#, pr(a("a"))),
        // Whitespace tolerance.
        ("  userName \t eq   \"x\"  ", eq(a("userName"), s("x"))),
        ("a pr\tand\tb pr", and(pr(a("a")), pr(a("b")))),
        // RFC 7644 §3.4.2.2 examples.
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            and(
                eq(a("userType"), s("Employee")),
                or(
                    cmp(a("emails"), Co, s("example.com")),
                    cmp(a2("emails", "value"), Co, s("example.org")),
                ),
            ),
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            and(
                cmp(a("userType"), Ne, s("Employee")),
                not(or(
                    cmp(a("emails"), Co, s("example.com")),
                    cmp(a2("emails", "value"), Co, s("example.org")),
                )),
            ),
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            and(
                eq(a("userType"), s("Employee")),
                vp(
                    a("emails"),
                    and(
                        eq(a("type"), s("work")),
                        cmp(a("value"), Co, s("@example.com")),
                    ),
                ),
            ),
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            or(
                vp(
                    a("emails"),
                    and(
                        eq(a("type"), s("work")),
                        cmp(a("value"), Co, s("@example.com")),
                    ),
                ),
                vp(
                    a("ims"),
                    and(eq(a("type"), s("xmpp")), cmp(a("value"), Co, s("@foo.com"))),
                ),
            ),
        ),
        (
            r#"emails[not (type eq "work")]"#,
            vp(a("emails"), not(eq(a("type"), s("work")))),
        ),
        (
            r#"emails[(type eq "work" or type eq "home") and primary eq true]"#,
            vp(
                a("emails"),
                and(
                    or(eq(a("type"), s("work")), eq(a("type"), s("home"))),
                    eq(a("primary"), CompValue::Bool(true)),
                ),
            ),
        ),
        // Entra ID form: value path followed by .subAttr op value.
        (
            r#"emails[type eq "work"].value eq "a@b.c""#,
            vp(
                a("emails"),
                and(eq(a("type"), s("work")), eq(a("value"), s("a@b.c"))),
            ),
        ),
        (
            r#"emails[type eq "work" or type eq "home"].value eq "a@b.c""#,
            vp(
                a("emails"),
                and(
                    or(eq(a("type"), s("work")), eq(a("type"), s("home"))),
                    eq(a("value"), s("a@b.c")),
                ),
            ),
        ),
        (
            r#"addresses[type eq "work"].country pr and active eq true"#,
            and(
                vp(
                    a("addresses"),
                    and(eq(a("type"), s("work")), pr(a("country"))),
                ),
                eq(a("active"), CompValue::Bool(true)),
            ),
        ),
        (
            r#"members[value eq "x"].$ref pr"#,
            vp(a("members"), and(eq(a("value"), s("x")), pr(a("$ref")))),
        ),
        // URN-qualified names.
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#,
            eq(urn(ENT, "department", None), s("Sales")),
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            eq(
                urn(ENT, "manager", Some("value")),
                s("26118915-6090-4610-87e4-49d8ca9f808d"),
            ),
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#,
            eq(urn(CORE, "userName", None), s("bjensen")),
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "B""#,
            cmp(urn(CORE, "name", Some("givenName")), Sw, s("B")),
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
            vp(urn(CORE, "emails", None), eq(a("type"), s("work"))),
        ),
        (
            r#"URN:IETF:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"#,
            pr(urn(
                "URN:IETF:params:scim:schemas:extension:enterprise:2.0:User",
                "employeeNumber",
                None,
            )),
        ),
        // Attribute name characters.
        (r#"x-attr_1$ eq "v""#, eq(a("x-attr_1$"), s("v"))),
        // String escapes and unicode.
        (r#"userName eq "a\"b""#, eq(a("userName"), s("a\"b"))),
        (r#"userName eq "a\\b""#, eq(a("userName"), s("a\\b"))),
        (r#"userName eq "a\/b""#, eq(a("userName"), s("a/b"))),
        (
            r#"userName eq "line\nbreak\ttab""#,
            eq(a("userName"), s("line\nbreak\ttab")),
        ),
        (r#"userName eq "\u00FCber""#, eq(a("userName"), s("über"))),
        (r#"userName eq "\uD83D\uDE00""#, eq(a("userName"), s("😀"))),
        (
            "displayName eq \"Jürgen 東京\"",
            eq(a("displayName"), s("Jürgen 東京")),
        ),
        (
            "displayName eq \"😀 émoji\"",
            eq(a("displayName"), s("😀 émoji")),
        ),
        (r#"userName eq """#, eq(a("userName"), s(""))),
        (
            r#"userName eq "and or not ( ) [ ]""#,
            eq(a("userName"), s("and or not ( ) [ ]")),
        ),
        // Numbers.
        (r#"age gt 30"#, cmp(a("age"), Gt, n("30"))),
        (r#"age ge -5"#, cmp(a("age"), Ge, n("-5"))),
        (r#"score lt 1.5"#, cmp(a("score"), Lt, n("1.5"))),
        (r#"score le 2.5e3"#, cmp(a("score"), Le, n("2.5e3"))),
        (r#"score eq 1E-2"#, cmp(a("score"), Eq, n("1E-2"))),
        (r#"score eq 0"#, cmp(a("score"), Eq, n("0"))),
        (
            r#"big eq 18446744073709551615"#,
            cmp(a("big"), Eq, n("18446744073709551615")),
        ),
        // Lookups real IdPs send.
        (
            r#"userName eq "bjensen@example.com""#,
            eq(a("userName"), s("bjensen@example.com")),
        ),
        (r#"externalId eq "E123""#, eq(a("externalId"), s("E123"))),
        (
            r#"emails.value eq "x@y.z""#,
            eq(a2("emails", "value"), s("x@y.z")),
        ),
        (
            r#"emails[type eq "work"].value eq "x@y.z""#,
            vp(
                a("emails"),
                and(eq(a("type"), s("work")), eq(a("value"), s("x@y.z"))),
            ),
        ),
        (
            r#"userName eq "x" and active eq true"#,
            and(
                eq(a("userName"), s("x")),
                eq(a("active"), CompValue::Bool(true)),
            ),
        ),
        (r#"userName eq "a@b.c""#, eq(a("userName"), s("a@b.c"))),
        (
            r#"displayName eq "Sales Team""#,
            eq(a("displayName"), s("Sales Team")),
        ),
        (
            r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
            eq(a("id"), s("2819c223-7f76-453a-919d-413861904646")),
        ),
    ];
    for (input, want) in cases {
        match parse_filter(input) {
            Ok(got) => assert_eq!(got, want, "input: {input}"),
            Err(e) => panic!("input {input:?} failed: {e}"),
        }
    }
}

#[test]
fn numbers_keep_their_json_form() {
    let Filter::Compare { value, .. } = parse_filter("x eq 1.50").unwrap() else {
        panic!()
    };
    assert_eq!(
        value,
        CompValue::Number(serde_json::Number::from_f64(1.5).unwrap())
    );
    let Filter::Compare { value, .. } = parse_filter("x eq -42").unwrap() else {
        panic!()
    };
    match value {
        CompValue::Number(n) => assert_eq!(n.as_i64(), Some(-42)),
        other => panic!("{other:?}"),
    }
}

/// (input, expected error position, a piece of the expected message)
#[test]
fn invalid_filters() {
    let long = format!(r#"userName eq "{}""#, "x".repeat(10_000));
    let cases: Vec<(&str, Option<usize>, &str)> = vec![
        // Empty.
        ("", Some(0), "filter is empty"),
        ("   \t ", Some(0), "filter is empty"),
        // Unknown operator.
        (
            r#"userName equals "x""#,
            Some(9),
            "unknown operator 'equals'",
        ),
        (r#"userName like "x""#, Some(9), "unknown operator 'like'"),
        (r#"userName = "x""#, Some(9), "unexpected character '='"),
        (r#"userName == "x""#, Some(9), "unexpected character '='"),
        (r#"userName != "x""#, Some(9), "unexpected character '!'"),
        // Missing value / operator.
        (
            r#"userName eq"#,
            Some(11),
            "missing comparison value after 'eq'",
        ),
        (
            r#"userName eq "#,
            Some(12),
            "missing comparison value after 'eq'",
        ),
        (
            r#"(userName eq)"#,
            Some(12),
            "missing comparison value after 'eq'",
        ),
        (
            r#"userName eq and b pr"#,
            Some(12),
            "missing comparison value",
        ),
        (r#"userName"#, Some(8), "missing operator after 'userName'"),
        (
            r#"userName "x""#,
            Some(9),
            "missing operator between 'userName' and the value",
        ),
        // Unterminated string.
        (r#"userName eq "bjensen"#, Some(12), "unterminated string"),
        (r#"userName eq "bjensen\""#, Some(12), "unterminated string"),
        // Bad escapes.
        (r#"userName eq "a\qb""#, Some(14), "invalid escape"),
        (r#"userName eq "\uD800""#, Some(13), "lone UTF-16 surrogate"),
        (
            r#"userName eq "\uDC00x""#,
            Some(13),
            "lone UTF-16 surrogate",
        ),
        (r#"userName eq "\u12G4""#, Some(13), "4 hexadecimal digits"),
        // Trailing garbage.
        (r#"userName eq "x" foo"#, Some(16), "unexpected 'foo'"),
        (r#"userName eq "x" "y""#, Some(16), "unexpected string"),
        (
            r#"userName eq "x" eq "y""#,
            Some(16),
            "unexpected operator 'eq'",
        ),
        (r#"title pr title pr"#, Some(9), "unexpected 'title'"),
        (r#"a pr and"#, Some(5), "missing expression after 'and'"),
        (r#"a pr or "#, Some(5), "missing expression after 'or'"),
        (r#"and a pr"#, Some(0), "missing expression before 'and'"),
        (
            r#"a pr and or b pr"#,
            Some(9),
            "missing expression before 'or'",
        ),
        // pr with a value.
        (
            r#"title pr "x""#,
            Some(9),
            "'pr' (present) takes no comparison value",
        ),
        (
            r#"title pr true"#,
            Some(9),
            "'pr' (present) takes no comparison value",
        ),
        (
            r#"title pr 5"#,
            Some(9),
            "'pr' (present) takes no comparison value",
        ),
        // Comparison value not valid JSON.
        (
            r#"userName eq bjensen"#,
            Some(12),
            "comparison value 'bjensen' is not valid",
        ),
        (r#"userName eq 'bjensen'"#, Some(12), "double quotes"),
        (
            r#"active eq yes"#,
            Some(10),
            "comparison value 'yes' is not valid",
        ),
        (r#"age gt 01"#, Some(7), "not a valid JSON number"),
        (r#"age gt 1."#, Some(7), "not a valid JSON number"),
        (r#"age gt .5"#, Some(7), "not a valid JSON number"),
        (r#"age gt +1"#, Some(7), "not a valid JSON number"),
        (r#"age gt 1e400"#, Some(7), "out of range"),
        (r#"x eq {"a":1}"#, Some(5), "unexpected character '{'"),
        // Operator without attribute.
        (
            r#"eq "x""#,
            Some(0),
            "missing attribute name before the operator 'eq'",
        ),
        (
            r#"pr"#,
            Some(0),
            "missing attribute name before the operator 'pr'",
        ),
        (r#""x" eq "x""#, Some(0), "expected an attribute name"),
        // Unbalanced brackets / parentheses.
        (r#"(userName eq "x""#, Some(0), "missing ')'"),
        (r#"((a pr) and b pr"#, Some(0), "missing ')'"),
        (r#"userName eq "x")"#, Some(15), "unbalanced ')'"),
        (r#"a pr)"#, Some(4), "unbalanced ')'"),
        (r#"()"#, Some(1), "empty parentheses"),
        (r#"emails[type eq "work""#, Some(6), "missing ']'"),
        (
            r#"emails[type eq "work" and value pr"#,
            Some(6),
            "missing ']'",
        ),
        (
            r#"emails type eq "work"]"#,
            Some(7),
            "unknown operator 'type'",
        ),
        (r#"type eq "work"]"#, Some(14), "unbalanced ']'"),
        (r#"emails[]"#, Some(7), "empty value filter"),
        (
            r#"emails[type eq "work")"#,
            Some(21),
            "found ')' where ']' was expected",
        ),
        (
            r#"(emails[type eq "work")]"#,
            Some(22),
            "found ')' where ']' was expected",
        ),
        (
            r#"(emails[type eq "work"]]"#,
            Some(23),
            "found ']' where ')' was expected",
        ),
        (r#"[type eq "work"]"#, Some(0), "unexpected '['"),
        // not without parentheses.
        (
            r#"not title pr"#,
            Some(4),
            "'not' must be followed by a filter in parentheses",
        ),
        (
            r#"not"#,
            Some(3),
            "'not' must be followed by a filter in parentheses",
        ),
        // Nested value paths and qualified names inside a value path.
        (
            r#"emails[type[value eq "x"]]"#,
            Some(11),
            "cannot be nested",
        ),
        (
            r#"emails[type eq "work"][value eq "x"]"#,
            Some(22),
            "unexpected '['",
        ),
        (
            r#"emails[name.givenName eq "x"]"#,
            Some(7),
            "plain sub-attribute name",
        ),
        (
            r#"name.givenName[value eq "x"]"#,
            Some(14),
            "must follow a multi-valued attribute",
        ),
        // Entra form errors.
        (
            r#"emails[type eq "work"].value"#,
            Some(28),
            "missing operator after 'value'",
        ),
        (
            r#"emails[type eq "work"].value eq"#,
            Some(31),
            "missing comparison value",
        ),
        (
            r#"emails[type eq "work"].value.x eq "y""#,
            Some(28),
            "only one sub-attribute",
        ),
        (
            r#"emails[type eq "work"] .value eq "y""#,
            Some(23),
            "unexpected '.value'",
        ),
        // Bad attribute paths.
        (r#"a..b eq "x""#, Some(2), "empty attribute name"),
        (r#"name. eq "x""#, Some(5), "empty attribute name"),
        (r#".name eq "x""#, Some(0), "empty attribute name"),
        (r#"name.givenName.x eq "x""#, Some(0), "too many '.'"),
        (r#"1abc eq "x""#, Some(0), "must start with a letter"),
        (r#"a+b eq "x""#, Some(1), "invalid character '+'"),
        (r#"foo:bar eq "x""#, Some(3), "must start with 'urn:'"),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User: eq "x""#,
            Some(42),
            "no attribute name",
        ),
        (r#"urn::x:a eq "x""#, Some(0), "invalid schema URN"),
        (r#"userNäme eq "x""#, Some(5), "unexpected character 'ä'"),
        // Length.
        (&long, Some(10_000), "too long"),
    ];
    for (input, pos, msg) in cases {
        match parse_filter(input) {
            Ok(f) => panic!("input {input:?} parsed as {f:?}"),
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
fn error_display_is_actionable() {
    let e = parse_filter("userName eq bjensen").unwrap_err();
    assert_eq!(
        e.to_string(),
        "comparison value 'bjensen' is not valid: put text in double quotes (\"bjensen\"), or use a number, true, false or null (at character 13)"
    );
    let e = parse_filter(r#"userName foo "x""#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown operator 'foo' after 'userName'; expected eq, ne, co, sw, ew, gt, ge, lt, le or pr (at character 10)"
    );
}

#[test]
fn length_limit_is_exactly_10000_characters() {
    let pad = 10_000 - r#"userName eq """#.chars().count();
    let ok = format!(r#"userName eq "{}""#, "é".repeat(pad));
    assert_eq!(ok.chars().count(), 10_000);
    assert!(parse_filter(&ok).is_ok());
    let too_long = format!(r#"userName eq "{}""#, "é".repeat(pad + 1));
    assert!(parse_filter(&too_long)
        .unwrap_err()
        .message
        .contains("too long"));
}

#[test]
fn nesting_limit() {
    let nested = |d: usize| format!("{}a pr{}", "(".repeat(d), ")".repeat(d));
    assert_eq!(parse_filter(&nested(MAX_NESTING)).unwrap(), pr(a("a")));
    let e = parse_filter(&nested(MAX_NESTING + 1)).unwrap_err();
    assert!(e.message.contains("filter is nested too deeply"), "{e}");
    assert_eq!(e.position, Some(MAX_NESTING));

    let nots = |d: usize| format!("{}a pr{}", "not (".repeat(d), ")".repeat(d));
    assert!(parse_filter(&nots(MAX_NESTING)).is_ok());
    assert!(parse_filter(&nots(MAX_NESTING + 1))
        .unwrap_err()
        .message
        .contains("filter is nested too deeply"));

    // A value path counts as one level.
    let in_vp = |d: usize| format!("emails[{}type pr{}]", "(".repeat(d), ")".repeat(d));
    assert!(parse_filter(&in_vp(MAX_NESTING - 1)).is_ok());
    assert!(parse_filter(&in_vp(MAX_NESTING))
        .unwrap_err()
        .message
        .contains("filter is nested too deeply"));
}

#[test]
fn nesting_bomb_2000_levels_is_rejected_quickly() {
    let start = std::time::Instant::now();
    let bomb = format!("{}a pr{}", "(".repeat(2_000), ")".repeat(2_000));
    let e = parse_filter(&bomb).unwrap_err();
    assert!(e.message.contains("filter is nested too deeply"), "{e}");
    // Unbalanced bomb too.
    let e = parse_filter(&"(".repeat(2_000)).unwrap_err();
    assert!(e.message.contains("filter is nested too deeply"), "{e}");
    let e = parse_filter(&"not (".repeat(1_900)).unwrap_err();
    assert!(e.message.contains("filter is nested too deeply"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn nesting_bomb_100000_levels_does_not_overflow() {
    // Over the length limit, so it is refused before parsing; the parser's own
    // depth limit is exercised with 100,000 levels in the crate's unit tests.
    let bomb = format!("{}a pr{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = parse_filter(&bomb).unwrap_err();
    assert!(e.message.contains("too long"), "{e}");
    let bomb = "(".repeat(100_000);
    assert!(parse_filter(&bomb).is_err());
}

#[test]
fn long_flat_chains_are_not_limited_by_nesting_and_do_not_overflow() {
    // About 1,100 terms: the longest chain that fits in 10,000 characters.
    let terms: Vec<String> = (0..1_100)
        .map(|i| format!("{} pr", if i == 1_099 { "title" } else { "id" }))
        .collect();
    let input = terms.join(" or ");
    assert!(input.chars().count() <= 10_000);
    // The AST of such a chain is ~1,100 levels deep; the derived Clone, PartialEq,
    // Debug and Drop recurse along it and must fit in a default 2 MiB thread.
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let f = parse_filter(&input).unwrap();
            let g = f.clone();
            assert_eq!(f, g);
            assert!(format!("{f:?}").len() > 10_000);
            assert!(scim_filter::to_sql(&f, 1, &support::USERS).is_ok());
            let resource = serde_json::json!({"title": "x"});
            assert!(scim_filter::matches(&f, &resource));
            assert!(!scim_filter::matches(&f, &serde_json::json!({})));
            drop(f);
            drop(g);
        })
        .unwrap();
    handle.join().unwrap();
}
