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

/// The plan of a statement built by the code under test, one line per step.
async fn plan_of(t: &TestServices, b: &portal_core::sql::SqlBuilder) -> String {
    let prefix = match t.svc.db.backend {
        Backend::Sqlite => "EXPLAIN QUERY PLAN ",
        Backend::Postgres => "EXPLAIN ",
    };
    let mut e = portal_core::sql::SqlBuilder::new(prefix);
    e.push_numbered(b.sql(), b.params().to_vec());
    let col = if t.svc.db.backend == Backend::Sqlite {
        "detail"
    } else {
        "QUERY PLAN"
    };
    e.query()
        .fetch_all(&t.svc.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(col).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

db_test!(
    the_scim_lookup_page_finds_its_match_through_an_index,
    |t: TestServices| async move {
        // One organisation of 2,000 users and no statistics yet (a new deployment, or a bench):
        // PostgreSQL then walked the list-order index and tested userName on each user.
        let (org, _) = portal_test_support::org_with_admin(&t.svc, "Big", "a@big.test").await;
        let mut tx = t.svc.db.begin_write().await.unwrap();
        for i in 0..2000 {
            portal_core::users::insert(
                &mut tx,
                &org.id,
                &format!("u{i}"),
                &serde_json::json!({"userName": format!("user{i}@x.test"), "externalId": format!("E{i}"),
                                    "emails": [{"value": format!("user{i}@x.test")}]}),
                portal_core::users::Source::Scim,
                i,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let by_name = (
            "userName eq \"user7@x.test\"",
            &["users_org_user_name", "users_user_name_ci"][..],
        );
        // Without statistics, the lookup every IdP sync makes first; with them, the others too.
        // (Without statistics PostgreSQL may still serve externalId from the list-order index,
        // until autovacuum's first ANALYZE of the table.)
        let mut cases = vec![(false, by_name)];
        cases.extend([
            (true, by_name),
            (
                true,
                ("externalId eq \"E7\"", &["users_org_external_id"][..]),
            ),
            (
                true,
                (
                    "emails.value eq \"user7@x.test\"",
                    &["user_emails_value"][..],
                ),
            ),
        ]);
        for (analyze, (filter, indexes)) in cases {
            if analyze && t.svc.db.backend == Backend::Postgres {
                sqlx::query("ANALYZE")
                    .execute(&t.svc.db.pool)
                    .await
                    .unwrap();
            }
            let b = portal_core::provisioning::filtered_page_statement(&org.id, filter).unwrap();
            let mut statements = vec![(filter.to_string(), b)];
            if filter == by_name.0 {
                // The same lookup made with others at once (`portal_core::lookups`).
                statements.push((
                    format!("{filter} and two more, in one statement"),
                    portal_core::lookups::user_name_lookup_statement(
                        t.svc.db.backend,
                        &(0..portal_core::lookups::MAX_KEYS)
                            .map(|i| {
                                (
                                    if i % 3 == 0 {
                                        "another-org"
                                    } else {
                                        org.id.as_str()
                                    },
                                    if i % 2 == 0 {
                                        "user7@x.test"
                                    } else {
                                        "user1999@x.test"
                                    },
                                )
                            })
                            .collect::<Vec<_>>(),
                    ),
                ));
            }
            for (filter, b) in statements {
                let p = plan_of(&t, &b).await;
                assert!(
                    indexes.iter().any(|i| p.contains(i)),
                    "{filter} should use one of {indexes:?}:\n{p}"
                );
                assert!(
                    !p.contains("users_live_org_created") && !p.contains("users_org_created"),
                    "{filter} walks the list order:\n{p}"
                );
                assert!(
                    !p.contains("SCAN u ") && !p.lines().any(|l| l.ends_with("SCAN u")),
                    "{filter} scans users:\n{p}"
                );
                assert!(
                    !p.contains("Seq Scan on users"),
                    "{filter} scans users:\n{p}"
                );
            }
        }
    }
);

db_test!(
    the_users_search_uses_the_trigram_index,
    |t: TestServices| async move {
        let (org, _) = portal_test_support::org_with_admin(&t.svc, "Big", "a@big.test").await;
        if t.svc.db.backend == Backend::Postgres {
            // 20,000 users in the searched organisation, vacuumed and analysed as autovacuum
            // leaves a table after a bulk load (before that, the GIN indexes' pending entries
            // and missing statistics make the planner prefer a scan).
            for sql in [
                "INSERT INTO users (id, org_id, user_name, external_id, active, source, attributes, version, created_at, updated_at, given_name, family_name) \
                 SELECT 'u' || g, $1, 'user' || g || '@x.test', 'E' || g, 1, 'scim', '{}', 1, g, g, 'Given' || g, 'Family' FROM generate_series(1, 20000) g",
                "VACUUM ANALYZE users",
            ] {
                let q = sqlx::query(sql);
                let q = if sql.contains("$1") { q.bind(&org.id) } else { q };
                q.execute(&t.svc.db.pool).await.unwrap();
            }
        }
        let q = portal_core::admin_views::UsersQuery {
            search: "user1234".into(),
            ..Default::default()
        };
        let b = portal_core::admin_views::users_count_statement(
            t.svc.db.backend,
            &org.id,
            &q,
            portal_core::admin_views::SEARCH_COUNT_CAP,
            portal_core::admin_views::SearchIndex::Trigram,
        );
        let p = plan_of(&t, &b).await;
        match t.svc.db.backend {
            Backend::Sqlite => {
                assert!(p.contains("users_search VIRTUAL TABLE"), "{p}");
                assert!(p.contains("rowid=?"), "candidates by rowid:\n{p}");
                assert!(
                    !p.lines().any(|l| {
                        let l = l.trim_start_matches(['|', '-', '`', ' ']);
                        l == "SCAN u" || l.starts_with("SCAN u ")
                    }),
                    "{p}"
                );
            }
            Backend::Postgres => {
                for index in [
                    "users_search_user_name",
                    "users_search_email",
                    "users_search_name",
                    "users_search_display_name",
                ] {
                    assert!(p.contains(index), "{index}:\n{p}");
                }
                assert!(!p.contains("Seq Scan on users"), "{p}");
            }
        }
    }
);

/// SQLite only: PostgreSQL has no index for a term under 3 characters (pg_trgm cannot serve one
/// either) and scans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_users_search_reads_the_search_text_index() {
    use portal_core::admin_views::{
        users_count_statement, users_page_statement, SearchIndex, UserStatus, UsersQuery,
        SEARCH_COUNT_CAP,
    };
    let mut t = portal_test_support::services(Backend::Sqlite).await;
    let _dir = t.tdb.dir.take();
    portal_test_support::deadline(async move {
        // SQLite reads an indexed expression from the index only where the query has that very
        // expression: the index's text is the search's, the table's alias aside.
        let (index,): (String,) =
            sqlx::query_as("SELECT sql FROM sqlite_master WHERE name = 'users_org_search_text'")
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap();
        let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let expected = format!(
            "CREATE INDEX users_org_search_text ON users ( org_id, {} )",
            squeeze(&portal_core::admin_views::search_text("u")).replace("u.", "")
        );
        assert_eq!(squeeze(&index), expected);
        let (org, _) = portal_test_support::org_with_admin(&t.svc, "Big", "a@big.test").await;
        let q = UsersQuery {
            search: "us".into(),
            ..Default::default()
        };
        let scanned = |p: &str| {
            p.lines().any(|l| {
                let l = l.trim_start_matches(['|', '-', '`', ' ']);
                l == "SCAN u" || l.starts_with("SCAN u ")
            })
        };
        let count = users_count_statement(
            t.svc.db.backend,
            &org.id,
            &q,
            SEARCH_COUNT_CAP,
            SearchIndex::Trigram,
        );
        let p = plan_of(&t, &count).await;
        assert!(
            p.contains("SEARCH u USING INDEX users_org_search_text (org_id=?)"),
            "{p}"
        );
        assert!(!scanned(&p), "{p}");
        // A page of a search under the cap: the candidates from the same index, by rowid.
        let page = users_page_statement(
            t.svc.db.backend,
            &org.id,
            &q,
            1,
            20,
            false,
            SearchIndex::Trigram,
        );
        let p = plan_of(&t, &page).await;
        assert!(
            p.contains("SEARCH s USING INDEX users_org_search_text (org_id=?)"),
            "{p}"
        );
        assert!(p.contains("rowid=?"), "candidates by rowid:\n{p}");
        assert!(!scanned(&p), "{p}");
        // A longer term of a small organisation: its own entries, not the trigram index.
        let q = UsersQuery {
            search: "user1234".into(),
            ..Default::default()
        };
        let count = users_count_statement(
            t.svc.db.backend,
            &org.id,
            &q,
            SEARCH_COUNT_CAP,
            SearchIndex::Text,
        );
        let p = plan_of(&t, &count).await;
        assert!(
            p.contains("SEARCH u USING INDEX users_org_search_text (org_id=?)"),
            "{p}"
        );
        assert!(!p.contains("users_search"), "{p}");
        // With a group or the Deleted status, that organisation reads neither search index:
        // those select its few users through their own index.
        for q in [
            UsersQuery {
                search: "user1234".into(),
                group: "g1".into(),
                ..Default::default()
            },
            UsersQuery {
                search: "user1234".into(),
                status: Some(UserStatus::Deleted),
                ..Default::default()
            },
        ] {
            for b in [
                users_count_statement(
                    t.svc.db.backend,
                    &org.id,
                    &q,
                    SEARCH_COUNT_CAP,
                    SearchIndex::Text,
                ),
                users_page_statement(
                    t.svc.db.backend,
                    &org.id,
                    &q,
                    1,
                    20,
                    false,
                    SearchIndex::Text,
                ),
            ] {
                let p = plan_of(&t, &b).await;
                assert!(!p.contains("users_search"), "{q:?}:\n{p}");
                assert!(!scanned(&p), "{q:?}:\n{p}");
            }
        }
    })
    .await;
}

db_test!(
    the_request_log_user_filter_uses_its_indexes,
    |t: TestServices| async move {
        // An organisation whose log holds many IdP lookups (no user) and a few requests about a
        // user: the filter by user reads those few through the partial indexes (migration
        // 0019), not every row of the organisation.
        let (org, _) = portal_test_support::org_with_admin(&t.svc, "Big", "a@big.test").await;
        let rows: Vec<_> = (0..3000)
            .map(|i| portal_core::scim_requests::Stored {
                id: portal_core::ids::new_id(),
                org_id: org.id.clone(),
                at: i,
                method: "GET".into(),
                path: format!("/Users?filter=userName%20eq%20%22u{i}%22"),
                status: 200,
                duration_us: 100,
                client: None,
                // Every 100th about a user; every 100th from the 50th a failed create (a
                // userName and no id).
                user_id: (i % 100 == 0).then(|| format!("u{i}")),
                user_name: (i % 50 == 0).then(|| format!("u{i}@big.test")),
                request_headers: "{}".into(),
                request_body: None,
                response_body: Some("{}".into()),
            })
            .collect();
        portal_core::scim_requests::insert(&t.svc, &rows)
            .await
            .unwrap();
        sqlx::query("ANALYZE")
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        let q = portal_core::scim_requests::Query::parse("", "u100@big.test", "").unwrap();
        for (what, b) in [
            (
                "count",
                portal_core::scim_requests::count_statement(&org.id, &q),
            ),
            (
                "page",
                portal_core::scim_requests::page_statement(&org.id, &q, 1),
            ),
        ] {
            let p = plan_of(&t, &b).await;
            // Both partial indexes by their exact names (one name starts the other).
            let uses = |index: &str| match t.svc.db.backend {
                Backend::Sqlite => p.contains(&format!("INDEX {index} (")),
                Backend::Postgres => p.contains(&format!("using {index} on")),
            };
            for index in ["scim_requests_org_user_id", "scim_requests_org_user_name"] {
                assert!(uses(index), "{what} should use {index}:\n{p}");
            }
            assert!(
                !p.contains("scim_requests_org_at"),
                "{what} walks the org's rows:\n{p}"
            );
            assert!(
                !p.lines().any(|l| {
                    let l = l.trim_start_matches(['|', '-', '`', ' ']);
                    l.starts_with("SCAN r") || l.starts_with("SCAN s")
                }),
                "{what} scans the log:\n{p}"
            );
            assert!(!p.contains("Seq Scan on scim_requests"), "{what}:\n{p}");
        }
        // And it finds what it should: a row by its user's id, a failed create by its userName.
        for (user, id) in [("u100", Some("u100")), ("U150@big.test", None)] {
            let q = portal_core::scim_requests::Query::parse("", user, "").unwrap();
            let page = portal_core::scim_requests::list(&t.svc, &org.id, &q)
                .await
                .unwrap();
            assert_eq!(page.total, 1, "{user}");
            assert_eq!(page.rows[0].user_id.as_deref(), id);
        }
    }
);
