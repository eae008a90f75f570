mod support;

use scim_filter::{
    parse_filter, to_sql, AttrPath, CompValue, CompareOp, Filter, SqlError, SqlFragment, SqlParam,
};

fn t(s: &str) -> SqlParam {
    SqlParam::Text(s.to_string())
}

fn i(v: i64) -> SqlParam {
    SqlParam::Int(v)
}

fn sql(filter: &str, first: usize) -> Result<SqlFragment, SqlError> {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    to_sql(&f, first, &support::USERS)
}

#[test]
fn exact_sql() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    let cases: Vec<(String, &str, Vec<SqlParam>)> = vec![
        // IdP lookups.
        (
            r#"userName eq "bjensen@example.com""#.into(),
            "lower(u.user_name) = $1",
            vec![t("bjensen@example.com")],
        ),
        (
            r#"userName eq "BJensen@Example.COM""#.into(),
            "lower(u.user_name) = $1",
            vec![t("bjensen@example.com")],
        ),
        (
            r#"externalId eq "E123""#.into(),
            "(u.external_id IS NOT NULL AND u.external_id = $1)",
            vec![t("E123")],
        ),
        (
            r#"emails.value eq "X@y.z""#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) = $1)",
            vec![t("x@y.z")],
        ),
        (
            r#"emails[type eq "work"].value eq "x@y.z""#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE ((e.type IS NOT NULL AND lower(e.type) = $1) AND lower(e.value) = $2))",
            vec![t("work"), t("x@y.z")],
        ),
        (
            r#"userName eq "x" and active eq true"#.into(),
            "(lower(u.user_name) = $1 AND u.active = 1)",
            vec![t("x")],
        ),
        (
            r#"userName eq "a@b.c""#.into(),
            "lower(u.user_name) = $1",
            vec![t("a@b.c")],
        ),
        (
            r#"id eq "2819c223-7f76-453a-919d-413861904646""#.into(),
            "u.id = $1",
            vec![t("2819c223-7f76-453a-919d-413861904646")],
        ),
        (
            r#"displayName eq "Sales""#.into(),
            "(u.display_name IS NOT NULL AND lower(u.display_name) = $1)",
            vec![t("sales")],
        ),
        // Every operator on a nullable case-insensitive text column.
        (
            r#"title eq "Boss""#.into(),
            "(u.title IS NOT NULL AND lower(u.title) = $1)",
            vec![t("boss")],
        ),
        (
            r#"title ne "Boss""#.into(),
            "(u.title IS NULL OR lower(u.title) <> $1)",
            vec![t("boss")],
        ),
        (
            r#"title co "Bo""#.into(),
            r"(u.title IS NOT NULL AND lower(u.title) LIKE $1 ESCAPE '\')",
            vec![t("%bo%")],
        ),
        (
            r#"title sw "Bo""#.into(),
            r"(u.title IS NOT NULL AND lower(u.title) LIKE $1 ESCAPE '\')",
            vec![t("bo%")],
        ),
        (
            r#"title ew "ss""#.into(),
            r"(u.title IS NOT NULL AND lower(u.title) LIKE $1 ESCAPE '\')",
            vec![t("%ss")],
        ),
        (
            r#"title gt "B""#.into(),
            "(u.title IS NOT NULL AND lower(u.title) > $1)",
            vec![t("b")],
        ),
        (
            r#"title ge "B""#.into(),
            "(u.title IS NOT NULL AND lower(u.title) >= $1)",
            vec![t("b")],
        ),
        (
            r#"title lt "B""#.into(),
            "(u.title IS NOT NULL AND lower(u.title) < $1)",
            vec![t("b")],
        ),
        (
            r#"title le "B""#.into(),
            "(u.title IS NOT NULL AND lower(u.title) <= $1)",
            vec![t("b")],
        ),
        (
            r#"title pr"#.into(),
            "(u.title IS NOT NULL AND u.title <> '')",
            vec![],
        ),
        (r#"title eq null"#.into(), "u.title IS NULL", vec![]),
        (r#"title ne null"#.into(), "u.title IS NOT NULL", vec![]),
        // Non-null columns need no guard.
        (
            r#"userName ne "x""#.into(),
            "lower(u.user_name) <> $1",
            vec![t("x")],
        ),
        (
            r#"userName sw "J""#.into(),
            r"lower(u.user_name) LIKE $1 ESCAPE '\'",
            vec![t("j%")],
        ),
        (
            r#"userName pr"#.into(),
            "(u.user_name IS NOT NULL AND u.user_name <> '')",
            vec![],
        ),
        // Case-exact columns: no lower(), no LIKE (SQLite's LIKE ignores case).
        (
            r#"externalId ne "E1""#.into(),
            "(u.external_id IS NULL OR u.external_id <> $1)",
            vec![t("E1")],
        ),
        (
            r#"externalId co "E_%""#.into(),
            "(u.external_id IS NOT NULL AND replace(u.external_id, $1, '') <> u.external_id)",
            vec![t("E_%")],
        ),
        (
            r#"externalId co """#.into(),
            "(u.external_id IS NOT NULL AND 1 = 1)",
            vec![],
        ),
        (
            r#"externalId sw "Ab""#.into(),
            "(u.external_id IS NOT NULL AND substr(u.external_id, 1, length($1)) = $1)",
            vec![t("Ab")],
        ),
        (
            r#"externalId ew "Zé""#.into(),
            "(u.external_id IS NOT NULL AND substr(u.external_id, length(u.external_id) - length($1) + 1) = $1)",
            vec![t("Zé")],
        ),
        (
            r#"id gt "A""#.into(),
            "u.id > $1",
            vec![t("A")],
        ),
        // Booleans, including Entra's strings.
        (r#"active eq true"#.into(), "u.active = 1", vec![]),
        (r#"active eq false"#.into(), "u.active = 0", vec![]),
        (r#"active ne true"#.into(), "u.active <> 1", vec![]),
        (r#"active eq "True""#.into(), "u.active = 1", vec![]),
        (r#"active eq "FALSE""#.into(), "u.active = 0", vec![]),
        (r#"active pr"#.into(), "u.active IS NOT NULL", vec![]),
        // Date-times → unix milliseconds.
        (
            r#"meta.created gt "2024-01-31T12:00:00Z""#.into(),
            "u.created_at > $1",
            vec![i(1_706_702_400_000)],
        ),
        (
            r#"meta.lastModified ge "2024-01-31T13:00:00.5+01:00""#.into(),
            "u.updated_at >= $1",
            vec![i(1_706_702_400_500)],
        ),
        (
            r#"meta.lastModified lt "1970-01-01T00:00:00Z""#.into(),
            "u.updated_at < $1",
            vec![i(0)],
        ),
        (
            r#"meta.created eq "2024-01-31T12:00:00Z""#.into(),
            "u.created_at = $1",
            vec![i(1_706_702_400_000)],
        ),
        (r#"meta.created pr"#.into(), "u.created_at IS NOT NULL", vec![]),
        // Names and the other simple attributes.
        (
            r#"name.givenName eq "Barbara""#.into(),
            "(u.given_name IS NOT NULL AND lower(u.given_name) = $1)",
            vec![t("barbara")],
        ),
        (
            r#"NAME.FAMILYNAME eq "J""#.into(),
            "(u.family_name IS NOT NULL AND lower(u.family_name) = $1)",
            vec![t("j")],
        ),
        (
            r#"name.formatted pr"#.into(),
            "(u.formatted_name IS NOT NULL AND u.formatted_name <> '')",
            vec![],
        ),
        (
            r#"name co "Jensen""#.into(),
            r"(u.formatted_name IS NOT NULL AND lower(u.formatted_name) LIKE $1 ESCAPE '\')",
            vec![t("%jensen%")],
        ),
        (
            r#"name.middleName eq "J""#.into(),
            "(u.middle_name IS NOT NULL AND lower(u.middle_name) = $1)",
            vec![t("j")],
        ),
        (
            r#"nickName eq "a" or userType eq "b" or preferredLanguage eq "c""#.into(),
            "((u.nick_name IS NOT NULL AND lower(u.nick_name) = $1) OR (u.user_type IS NOT NULL AND lower(u.user_type) = $2) OR (u.preferred_language IS NOT NULL AND lower(u.preferred_language) = $3))",
            vec![t("a"), t("b"), t("c")],
        ),
        (
            r#"locale eq "a" and timezone eq "b" and profileUrl eq "c""#.into(),
            "((u.locale IS NOT NULL AND lower(u.locale) = $1) AND (u.timezone IS NOT NULL AND lower(u.timezone) = $2) AND (u.profile_url IS NOT NULL AND lower(u.profile_url) = $3))",
            vec![t("a"), t("b"), t("c")],
        ),
        // URN-qualified names.
        (
            format!(r#"{core}:userName eq "x""#),
            "lower(u.user_name) = $1",
            vec![t("x")],
        ),
        (
            format!(r#"{core}:name.givenName eq "x""#),
            "(u.given_name IS NOT NULL AND lower(u.given_name) = $1)",
            vec![t("x")],
        ),
        (
            format!(r#"{ent}:department eq "Sales""#),
            "(u.department IS NOT NULL AND lower(u.department) = $1)",
            vec![t("sales")],
        ),
        (
            format!(r#"{}:EMPLOYEENUMBER eq "7""#, ent.to_uppercase()),
            "(u.employee_number IS NOT NULL AND lower(u.employee_number) = $1)",
            vec![t("7")],
        ),
        (
            r#"department eq "a" or costCenter eq "b" or organization eq "c" or division eq "d""#.into(),
            "((u.department IS NOT NULL AND lower(u.department) = $1) OR (u.cost_center IS NOT NULL AND lower(u.cost_center) = $2) OR (u.organization IS NOT NULL AND lower(u.organization) = $3) OR (u.division IS NOT NULL AND lower(u.division) = $4))",
            vec![t("a"), t("b"), t("c"), t("d")],
        ),
        // Multi-valued attributes.
        (
            r#"emails eq "X@y.z""#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) = $1)",
            vec![t("x@y.z")],
        ),
        (
            r#"emails co "@example.com""#.into(),
            r"u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) LIKE $1 ESCAPE '\')",
            vec![t("%@example.com%")],
        ),
        (
            r#"emails.type eq "work""#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE (e.type IS NOT NULL AND lower(e.type) = $1))",
            vec![t("work")],
        ),
        (
            r#"emails.primary eq true"#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE e.primary_flag = 1)",
            vec![],
        ),
        (
            r#"emails pr"#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE (e.value IS NOT NULL AND e.value <> ''))",
            vec![],
        ),
        (
            r#"emails.value ne "x@y.z""#.into(),
            "(u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) <> $1) OR NOT EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id))",
            vec![t("x@y.z")],
        ),
        (
            r#"emails.type eq null"#.into(),
            "(u.id IN (SELECT e.user_id FROM user_emails e WHERE e.type IS NULL) OR NOT EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id))",
            vec![],
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#.into(),
            r"u.id IN (SELECT e.user_id FROM user_emails e WHERE ((e.type IS NOT NULL AND lower(e.type) = $1) AND lower(e.value) LIKE $2 ESCAPE '\'))",
            vec![t("work"), t("%@example.com%")],
        ),
        (
            r#"emails[type ne "work"]"#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE (e.type IS NULL OR lower(e.type) <> $1))",
            vec![t("work")],
        ),
        (
            r#"emails[not (type eq "work") or primary eq false]"#.into(),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE (NOT (e.type IS NOT NULL AND lower(e.type) = $1) OR e.primary_flag = 0))",
            vec![t("work")],
        ),
        (
            format!(r#"{core}:emails[type eq "work"]"#),
            "u.id IN (SELECT e.user_id FROM user_emails e WHERE (e.type IS NOT NULL AND lower(e.type) = $1))",
            vec![t("work")],
        ),
        (
            r#"addresses.country eq "USA""#.into(),
            "u.id IN (SELECT a.user_id FROM user_addresses a WHERE (a.country IS NOT NULL AND lower(a.country) = $1))",
            vec![t("usa")],
        ),
        (
            r#"addresses co "Hollywood""#.into(),
            r"u.id IN (SELECT a.user_id FROM user_addresses a WHERE (a.formatted IS NOT NULL AND lower(a.formatted) LIKE $1 ESCAPE '\'))",
            vec![t("%hollywood%")],
        ),
        (
            r#"addresses[type eq "work" and postalCode sw "916" and streetAddress co "Plaza" and locality eq "Hollywood" and region eq "CA" and formatted pr and primary eq true]"#.into(),
            r"u.id IN (SELECT a.user_id FROM user_addresses a WHERE ((a.type IS NOT NULL AND lower(a.type) = $1) AND (a.postal_code IS NOT NULL AND lower(a.postal_code) LIKE $2 ESCAPE '\') AND (a.street_address IS NOT NULL AND lower(a.street_address) LIKE $3 ESCAPE '\') AND (a.locality IS NOT NULL AND lower(a.locality) = $4) AND (a.region IS NOT NULL AND lower(a.region) = $5) AND (a.formatted IS NOT NULL AND a.formatted <> '') AND a.primary_flag = 1))",
            vec![t("work"), t("916%"), t("%plaza%"), t("hollywood"), t("ca")],
        ),
        (
            r#"addresses[type eq "work"].country eq "USA""#.into(),
            "u.id IN (SELECT a.user_id FROM user_addresses a WHERE ((a.type IS NOT NULL AND lower(a.type) = $1) AND (a.country IS NOT NULL AND lower(a.country) = $2)))",
            vec![t("work"), t("usa")],
        ),
        (
            r#"name[givenName eq "B" and familyName eq "J"]"#.into(),
            "((u.given_name IS NOT NULL AND lower(u.given_name) = $1) AND (u.family_name IS NOT NULL AND lower(u.family_name) = $2))",
            vec![t("b"), t("j")],
        ),
        (
            r#"meta[created gt "2024-01-31T12:00:00Z"]"#.into(),
            "u.created_at > $1",
            vec![i(1_706_702_400_000)],
        ),
        // not.
        (
            r#"not (title eq "x")"#.into(),
            "NOT (u.title IS NOT NULL AND lower(u.title) = $1)",
            vec![t("x")],
        ),
        (
            r#"not (userName eq "x")"#.into(),
            "NOT (lower(u.user_name) = $1)",
            vec![t("x")],
        ),
        (
            r#"not (emails.value eq "x")"#.into(),
            "NOT (u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) = $1))",
            vec![t("x")],
        ),
        (
            r#"not (emails[type eq "work"])"#.into(),
            "NOT (u.id IN (SELECT e.user_id FROM user_emails e WHERE (e.type IS NOT NULL AND lower(e.type) = $1)))",
            vec![t("work")],
        ),
        (
            r#"not (a eq "1" or b eq "2")"#.replace("a eq", "title eq").replace("b eq", "nickName eq"),
            "NOT ((u.title IS NOT NULL AND lower(u.title) = $1) OR (u.nick_name IS NOT NULL AND lower(u.nick_name) = $2))",
            vec![t("1"), t("2")],
        ),
        // Precedence and grouping.
        (
            r#"userName eq "a" or userName eq "b" and active eq true"#.into(),
            "(lower(u.user_name) = $1 OR (lower(u.user_name) = $2 AND u.active = 1))",
            vec![t("a"), t("b")],
        ),
        (
            r#"(userName eq "a" or userName eq "b") and active eq true"#.into(),
            "((lower(u.user_name) = $1 OR lower(u.user_name) = $2) AND u.active = 1)",
            vec![t("a"), t("b")],
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#.into(),
            r"((u.user_type IS NOT NULL AND lower(u.user_type) = $1) AND (u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) LIKE $2 ESCAPE '\') OR u.id IN (SELECT e.user_id FROM user_emails e WHERE lower(e.value) LIKE $3 ESCAPE '\')))",
            vec![t("employee"), t("%example.com%"), t("%example.org%")],
        ),
    ];
    for (filter, want_sql, want_params) in cases {
        let got = sql(&filter, 1).unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(got.sql, want_sql, "filter: {filter}");
        assert_eq!(got.params, want_params, "filter: {filter}");
    }
}

#[test]
fn placeholders_start_at_first_param() {
    let got = sql(
        r#"userName eq "a" and emails[type eq "work"].value eq "b""#,
        3,
    )
    .unwrap();
    assert_eq!(
        got.sql,
        "(lower(u.user_name) = $3 AND u.id IN (SELECT e.user_id FROM user_emails e WHERE ((e.type IS NOT NULL AND lower(e.type) = $4) AND lower(e.value) = $5)))"
    );
    assert_eq!(got.params, vec![t("a"), t("work"), t("b")]);
    assert!(matches!(
        sql(r#"userName eq "a""#, 0),
        Err(SqlError::Unsupported(_))
    ));
}

#[test]
fn values_only_travel_as_parameters() {
    let hostile = [
        "x' OR 1=1 --",
        "x\" OR 1=1 --",
        "'; DROP TABLE users; --",
        "$1",
        "\\'",
        ") OR (1=1",
    ];
    for v in hostile {
        let filter = Filter::Compare {
            attr: AttrPath::simple("userName"),
            op: CompareOp::Eq,
            value: CompValue::String(v.to_string()),
        };
        let got = to_sql(&filter, 1, &support::USERS).unwrap();
        assert_eq!(got.sql, "lower(u.user_name) = $1", "{v}");
        assert_eq!(got.params, vec![t(&v.to_lowercase())]);
        // Whatever the value, the SQL text is the one generated for a harmless
        // value: only the parameters differ.
        for op in [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Le,
        ] {
            for attr in [
                "userName",
                "externalId",
                "id",
                "title",
                "emails",
                "addresses.country",
            ] {
                let build = |value: &str| {
                    let (name, sub) = match attr.split_once('.') {
                        Some((n, s)) => (n, Some(s.to_string())),
                        None => (attr, None),
                    };
                    let filter = Filter::Compare {
                        attr: AttrPath {
                            urn: None,
                            name: name.to_string(),
                            sub,
                        },
                        op,
                        value: CompValue::String(value.to_string()),
                    };
                    to_sql(&filter, 1, &support::USERS).unwrap()
                };
                let got = build(v);
                let benign = build("v");
                assert_eq!(got.sql, benign.sql, "{attr} {op} {v}");
                assert_eq!(got.params.len(), benign.params.len(), "{attr} {op} {v}");
            }
        }
    }
    // Through the parser too.
    let got = sql(r#"userName eq "x' OR 1=1 --""#, 1).unwrap();
    assert_eq!(got.sql, "lower(u.user_name) = $1");
    assert_eq!(got.params, vec![t("x' or 1=1 --")]);
    let got = sql(r#"externalId eq "x' OR 1=1 --""#, 1).unwrap();
    assert_eq!(
        got.sql,
        "(u.external_id IS NOT NULL AND u.external_id = $1)"
    );
    assert_eq!(got.params, vec![t("x' OR 1=1 --")]);
}

#[test]
fn like_wildcards_are_escaped() {
    let cases: &[(&str, &str)] = &[
        (r#"userName co "100%""#, r"%100\%%"),
        (r#"userName sw "a_b""#, r"a\_b%"),
        (r#"userName ew "back\\slash""#, r"%back\\slash"),
        (r#"userName co "%_\\""#, r"%\%\_\\%"),
        (r#"userName co "%""#, r"%\%%"),
        (r#"userName sw """#, "%"),
        (r#"userName co "x' OR 1=1 --""#, "%x' or 1=1 --%"),
    ];
    for (filter, pattern) in cases {
        let got = sql(filter, 1).unwrap();
        assert_eq!(
            got.sql, r"lower(u.user_name) LIKE $1 ESCAPE '\'",
            "{filter}"
        );
        assert_eq!(got.params, vec![t(pattern)], "{filter}");
    }
}

#[test]
fn not_is_two_valued() {
    // `not (title eq "x")` must match users whose title is NULL. With a bare
    // `lower(u.title) = $1`, NULL would make NOT(...) NULL and drop those rows;
    // the guard makes the inner expression FALSE for NULL so NOT gives TRUE.
    let got = sql(r#"not (title eq "x")"#, 1).unwrap();
    assert_eq!(got.sql, "NOT (u.title IS NOT NULL AND lower(u.title) = $1)");
    // Evaluate the shape in memory with SQL's three-valued logic for title = NULL
    // and title = 'x' / 'y'.
    fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
        match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }
    }
    fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
        match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }
    }
    let not3 = |a: Option<bool>| a.map(|x| !x);
    for (title, eq_expected) in [(None, false), (Some("x"), true), (Some("y"), false)] {
        let is_not_null = Some(title.is_some());
        let is_null = Some(title.is_none());
        let lower_eq = title.map(|v| v == "x"); // NULL = 'x' is NULL
        let lower_ne = title.map(|v| v != "x");
        // (u.title IS NOT NULL AND lower(u.title) = $1)
        let eq = and3(is_not_null, lower_eq);
        assert_eq!(eq, Some(eq_expected));
        assert_eq!(not3(eq), Some(!eq_expected));
        // (u.title IS NULL OR lower(u.title) <> $1)
        let ne = or3(is_null, lower_ne);
        assert_eq!(ne, Some(!eq_expected));
        // The unguarded form would be NULL for a NULL title.
        if title.is_none() {
            assert_eq!(not3(lower_eq), None);
        }
    }
    // And the parser/eval agree: `not (title eq "x")` matches a user without a title.
    let f = parse_filter(r#"not (title eq "x")"#).unwrap();
    assert!(scim_filter::matches(
        &f,
        &serde_json::json!({"userName": "u"})
    ));
    assert!(!scim_filter::matches(
        &f,
        &serde_json::json!({"title": "X"})
    ));

    // Every comparison on a nullable column carries a NULL guard.
    for op in ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
        for attr in [
            "title",
            "externalId",
            "displayName",
            "name.givenName",
            "department",
        ] {
            let got = sql(&format!(r#"{attr} {op} "v""#), 1).unwrap();
            let guarded = if op == "ne" {
                got.sql.starts_with('(') && got.sql.contains(" IS NULL OR ")
            } else {
                got.sql.starts_with('(') && got.sql.contains(" IS NOT NULL AND ")
            };
            assert!(guarded, "{attr} {op}: {}", got.sql);
        }
    }
}

#[test]
fn errors() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    let unknown = |s: &str| SqlError::UnknownAttribute(s.to_string());
    let cases: Vec<(String, SqlError)> = vec![
        (r#"foo eq "x""#.into(), unknown("foo")),
        (
            r#"name.honorificPrefix eq "x""#.into(),
            unknown("name.honorificPrefix"),
        ),
        (r#"userName.x eq "x""#.into(), unknown("userName.x")),
        (r#"emails.display eq "x""#.into(), unknown("emails.display")),
        (r#"phoneNumbers eq "x""#.into(), unknown("phoneNumbers")),
        (r#"meta.version eq "x""#.into(), unknown("meta.version")),
        (r#"meta eq "x""#.into(), unknown("meta")),
        (r#"groups.value eq "x""#.into(), unknown("groups.value")),
        (
            format!(r#"{ent}:userName eq "x""#),
            unknown(&format!("{ent}:userName")),
        ),
        (
            format!(r#"{core}:department eq "x""#),
            unknown(&format!("{core}:department")),
        ),
        (
            format!(r#"{ent}:manager.value eq "x""#),
            unknown(&format!("{ent}:manager.value")),
        ),
        (
            r#"urn:example:ext:userName eq "x""#.into(),
            unknown("urn:example:ext:userName"),
        ),
        (
            r#"phoneNumbers[type eq "work"]"#.into(),
            unknown("phoneNumbers"),
        ),
        (r#"emails[display eq "x"]"#.into(), unknown("display")),
    ];
    for (filter, want) in cases {
        assert_eq!(sql(&filter, 1).unwrap_err(), want, "{filter}");
    }
    let unsupported = [
        r#"active gt true"#,
        r#"active co "t""#,
        r#"active eq "yes""#,
        r#"active eq 1"#,
        r#"emails.primary lt true"#,
        r#"meta.created co "2024""#,
        r#"meta.created sw "2024""#,
        r#"meta.lastModified ew "Z""#,
        r#"meta.created gt "yesterday""#,
        r#"meta.created gt "2024-01-31""#,
        r#"meta.created gt 1706702400000"#,
        r#"title eq 5"#,
        r#"title eq true"#,
        r#"title gt null"#,
        r#"title co null"#,
        r#"userName[value eq "x"]"#,
    ];
    for filter in unsupported {
        match sql(filter, 1) {
            Err(SqlError::Unsupported(msg)) => assert!(!msg.is_empty()),
            other => panic!("{filter}: {other:?}"),
        }
    }
}

#[test]
fn error_messages_are_clear() {
    let e = sql(r#"active gt true"#, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "'active' is a boolean attribute; only eq, ne and pr can be used with it, not gt"
    );
    let e = sql(r#"meta.created gt "yesterday""#, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "'yesterday' is not a valid date-time for 'meta.created'; use RFC 3339, e.g. \"2024-01-31T12:00:00Z\""
    );
    let e = sql(r#"foo eq "x""#, 1).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("the filter uses the attribute 'foo', which is unknown"));
}

#[test]
fn hand_built_nested_value_path_is_unsupported() {
    let inner = Filter::ValuePath {
        attr: AttrPath::simple("x"),
        filter: Box::new(Filter::Present(AttrPath::simple("y"))),
    };
    let f = Filter::ValuePath {
        attr: AttrPath::simple("emails"),
        filter: Box::new(inner),
    };
    assert!(matches!(
        to_sql(&f, 1, &support::USERS),
        Err(SqlError::Unsupported(_))
    ));
}

#[test]
fn org_scoped_translation_restricts_every_multi_valued_subquery() {
    let f = scim_filter::parse_filter(
        r#"emails[type eq "work" and value co "@x"] or addresses.country eq "FI""#,
    )
    .unwrap();
    let frag = scim_filter::to_sql_in_org(&f, 2, "$1", &support::USERS).unwrap();
    assert_eq!(
        frag.sql.matches("org_id = $1 AND").count(),
        2,
        "{}",
        frag.sql
    );
    assert!(frag.sql.contains("e.org_id = $1"), "{}", frag.sql);
    assert!(frag.sql.contains("a.org_id = $1"), "{}", frag.sql);
    // Placeholders of the values still start at the first parameter given.
    assert!(frag.sql.contains("$2") && !frag.sql.contains("$0"));
    // The unscoped translation is unchanged.
    assert!(!scim_filter::to_sql(&f, 2, &support::USERS)
        .unwrap()
        .sql
        .contains("org_id"));
}
