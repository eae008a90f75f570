//! The lookups IdPs make are served by indexes, never a scan of the users table.

use portal_core::Backend;
use portal_test_support::{db_test, TestServices};
use sqlx::Row;

async fn plan(t: &TestServices, filter: &str) -> String {
    let f = scim_filter::parse_filter(filter).unwrap();
    let frag =
        scim_filter::to_sql_in_org(&f, 2, "$1", &portal_core::users::SCIM_FILTER_COLUMNS).unwrap();
    let sql = format!(
        "SELECT u.id FROM users u WHERE u.org_id = $1 AND u.deleted_at IS NULL AND {}",
        frag.sql
    );
    let mut conn = t.svc.db.pool.acquire().await.unwrap();
    let explain = match t.svc.db.backend {
        Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        Backend::Postgres => {
            format!("EXPLAIN {sql}")
        }
    };
    let mut q = sqlx::query(&explain).bind("o1");
    for p in &frag.params {
        q = match p {
            scim_filter::SqlParam::Text(s) => q.bind(s.clone()),
            scim_filter::SqlParam::Int(i) => q.bind(*i),
            scim_filter::SqlParam::Float(f) => q.bind(*f),
        };
    }
    let rows = q.fetch_all(&mut *conn).await.unwrap();
    rows.iter()
        .map(|r| {
            let col = if t.svc.db.backend == Backend::Sqlite {
                "detail"
            } else {
                "QUERY PLAN"
            };
            r.try_get::<String, _>(col).unwrap()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

db_test!(idp_lookups_use_indexes, |t: TestServices| async move {
    if t.svc.db.backend == Backend::Postgres {
        // Give the planner realistic statistics: 20,000 users in 20 orgs.
        for sql in [
            "INSERT INTO orgs (id, name, retention_days, created_at) SELECT 'o' || g, 'Org ' || g, 30, 0 FROM generate_series(1, 20) g",
            "INSERT INTO users (id, org_id, user_name, external_id, active, source, attributes, version, created_at, updated_at) \
             SELECT 'u' || g, 'o' || (g % 20 + 1), 'user' || g || '@x.test', 'E' || g, 1, 'scim', '{}', 1, g, g FROM generate_series(1, 20000) g",
            "INSERT INTO user_emails (user_id, org_id, position, value, type, primary_flag) \
             SELECT 'u' || g, 'o' || (g % 20 + 1), 0, 'user' || g || '@x.test', 'work', 1 FROM generate_series(1, 20000) g",
            "ANALYZE",
        ] {
            sqlx::query(sql).execute(&t.svc.db.pool).await.unwrap();
        }
    }
    // Either userName index serves the lookup (PostgreSQL may pick the cross-org one).
    for (filter, indexes) in [
        (
            "userName eq \"a@b.c\"",
            &["users_org_user_name", "users_user_name_ci"][..],
        ),
        ("externalId eq \"E1\"", &["users_org_external_id"][..]),
        ("emails.value eq \"a@b.c\"", &["user_emails_value"][..]),
        (
            "emails[type eq \"work\"].value eq \"a@b.c\"",
            &["user_emails_value"][..],
        ),
    ] {
        let p = plan(&t, filter).await;
        assert!(
            indexes.iter().any(|i| p.contains(i)),
            "{filter} should use one of {indexes:?}:\n{p}"
        );
        if t.svc.db.backend == Backend::Sqlite {
            assert!(!p.contains("SCAN u"), "{filter} scans users:\n{p}");
        } else {
            assert!(
                !p.contains("Seq Scan on users"),
                "{filter} scans users:\n{p}"
            );
        }
    }
});

db_test!(
    the_login_lookup_across_organisations_uses_an_index,
    |t: TestServices| async move {
        if t.svc.db.backend == Backend::Postgres {
            for sql in [
                "INSERT INTO orgs (id, name, retention_days, created_at) SELECT 'o' || g, 'Org ' || g, 30, 0 FROM generate_series(1, 20) g",
                "INSERT INTO users (id, org_id, user_name, external_id, active, source, attributes, version, created_at, updated_at) \
                 SELECT 'u' || g, 'o' || (g % 20 + 1), 'user' || g || '@x.test', 'E' || g, 1, 'scim', '{}', 1, g, g FROM generate_series(1, 20000) g",
                "ANALYZE",
            ] {
                sqlx::query(sql).execute(&t.svc.db.pool).await.unwrap();
            }
        }
        let explain = match t.svc.db.backend {
            Backend::Sqlite => format!(
                "EXPLAIN QUERY PLAN {}",
                portal_core::magic_links::ACCOUNTS_BY_SIGN_IN_NAME
            ),
            Backend::Postgres => format!(
                "EXPLAIN {}",
                portal_core::magic_links::ACCOUNTS_BY_SIGN_IN_NAME
            ),
        };
        let col = if t.svc.db.backend == Backend::Sqlite {
            "detail"
        } else {
            "QUERY PLAN"
        };
        let rows = sqlx::query(&explain)
            .bind("user7@x.test")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        let p = rows
            .iter()
            .map(|r| r.try_get::<String, _>(col).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(p.contains("users_user_name_ci"), "{p}");
        assert!(
            !p.contains("SCAN u ") && !p.contains("Seq Scan on users"),
            "{p}"
        );
    }
);
