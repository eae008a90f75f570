//! Reads at 100,000 users (issue 11): the Users screen's search through its indexes
//! returns exactly what the scan returned, and SCIM list pages (a cheap total, seek keys for deep
//! pages, one statement for small filters) return exactly what a plain OFFSET walk returns, across
//! every kind of write.

use portal_core::admin_views::{self, SearchIndex, UserStatus, UsersQuery};
use portal_core::provisioning::{self, Caller, ListQuery};
use portal_core::users::{self, Source};
use portal_core::Backend;
use portal_test_support::{db_test, org_with_admin, TestServices};
use serde_json::json;
use sqlx::Row;

fn caller(org: &str) -> Caller {
    Caller {
        org_id: org.to_string(),
        base_url: format!("https://portal.test/scim/v2/{org}"),
        user_agent: Some("core-test".into()),
        request_id: None,
        policy: None,
    }
}

/// The search as it was before the indexes (a scan with these LIKE conditions): the oracle.
async fn scan_search(t: &TestServices, org: &str, term: &str) -> Vec<String> {
    let term = admin_views::searched(term);
    if term.is_empty() {
        let rows = sqlx::query("SELECT id FROM users WHERE org_id = $1")
            .bind(org)
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        return sorted(rows.iter().map(|r| r.get("id")).collect());
    }
    let mut p = String::from("%");
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    let rows = sqlx::query(
        "SELECT u.id FROM users u WHERE u.org_id = $1 AND (lower(u.user_name) LIKE $2 ESCAPE '\\' \
         OR lower(COALESCE(u.email, '')) LIKE $2 ESCAPE '\\' \
         OR lower(COALESCE(u.given_name, '') || ' ' || COALESCE(u.family_name, '')) LIKE $2 ESCAPE '\\' \
         OR lower(COALESCE(u.display_name, '')) LIKE $2 ESCAPE '\\')",
    )
    .bind(org)
    .bind(&p)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap();
    sorted(rows.iter().map(|r| r.get("id")).collect())
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The Users screen's result for a search (every page), the same through either index.
async fn screen_search(t: &TestServices, org: &str, term: &str) -> Vec<String> {
    let trigram = screen_search_in(t, org, term, SearchIndex::Trigram).await;
    let text = screen_search_in(t, org, term, SearchIndex::Text).await;
    assert_eq!(
        trigram, text,
        "{term:?}: the trigram and the search-text indexes"
    );
    trigram
}

async fn screen_search_in(
    t: &TestServices,
    org: &str,
    term: &str,
    index: SearchIndex,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let p = admin_views::list_users_with(
            &t.svc,
            org,
            &UsersQuery {
                search: term.to_string(),
                page,
                ..Default::default()
            },
            admin_views::SEARCH_COUNT_CAP,
            index,
        )
        .await
        .unwrap();
        out.extend(p.rows.iter().map(|r| r.id.clone()));
        if page >= p.pages {
            assert_eq!(
                p.total as usize,
                out.len(),
                "{term:?}: total and rows agree"
            );
            break;
        }
        page += 1;
    }
    sorted(out)
}

const TERMS: &[&str] = &[
    "a",
    "ab",
    "AL",
    "ali",
    "ALICE",
    "  alice  ",
    "smith",
    "ice sm",
    "e s",
    "é",
    "él",
    "élo",
    "ÉLO",
    "ÉLODIE",
    "dürr",
    "DÜRR",
    "straße",
    "STRASSE",
    "ipek",
    "İpek",
    "i̇pek",
    "ß",
    "%",
    "50%",
    "0% o",
    "_",
    "a_b",
    "a_",
    "\\",
    "c:\\",
    "\\p",
    "'",
    "o'b",
    "O'BRIEN",
    "\"",
    "\"hi\"",
    "say \"",
    "acme",
    "@acme.test",
    "zzz",
    "ünï",
    "日本",
    "日本語",
    "本語テ",
    "😀x",
    "x😀y",
    "a\u{1f}b",
    "x\0y",
    "\0",
];

async fn people(t: &TestServices, c: &Caller) -> Vec<(String, String)> {
    let specs = [
        json!({"userName": "alice@acme.test", "name": {"givenName": "Alice", "familyName": "Smith"}}),
        json!({"userName": "elodie@acme.test", "name": {"givenName": "ÉLODIE", "familyName": "Dürr"}}),
        json!({"userName": "gross@acme.test", "name": {"givenName": "Hans", "familyName": "Straße"}}),
        json!({"userName": "ipek@acme.test", "name": {"givenName": "İpek", "familyName": "Yılmaz"}}),
        json!({"userName": "percent@acme.test", "displayName": "50% off"}),
        json!({"userName": "under@acme.test", "displayName": "a_b c"}),
        json!({"userName": "slash@acme.test", "displayName": "C:\\path"}),
        json!({"userName": "obrien@acme.test", "displayName": "O'Brien"}),
        json!({"userName": "quote@acme.test", "displayName": "say \"hi\""}),
        json!({"userName": "ab@acme.test", "displayName": "AB"}),
        json!({"userName": "jp@acme.test", "displayName": "日本語テキスト", "name": {"givenName": "ÜNÏ"}}),
        json!({"userName": "emoji@acme.test", "displayName": "x😀y"}),
        json!({"userName": "plain@acme.test"}),
    ];
    let mut out = Vec::new();
    for s in specs {
        let (u, _) = provisioning::create(&t.svc, c, &s).await.unwrap();
        out.push((u.id, u.user_name));
    }
    out
}

async fn assert_search_as_scan(t: &TestServices, org: &str, other: &[String], when: &str) {
    for term in TERMS {
        let got = screen_search(t, org, term).await;
        assert_eq!(
            got,
            scan_search(t, org, term).await,
            "{when}: search {term:?}"
        );
        assert!(
            got.iter().all(|id| !other.contains(id)),
            "{when}: search {term:?} returned another organisation's user"
        );
    }
}

db_test!(
    users_search_returns_what_the_scan_returns,
    |t: TestServices| async move {
        let (a, _) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (b, _) = org_with_admin(&t.svc, "Other", "admin@other.test").await;
        let ca = caller(&a.id);
        let ours = people(&t, &ca).await;
        let theirs: Vec<String> = people(&t, &caller(&b.id))
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let alice = ours[0].0.clone();
        // Not vacuous: the oracle finds what it should.
        assert_eq!(screen_search(&t, &a.id, "ALICE").await, vec![alice.clone()]);
        assert_eq!(
            screen_search(&t, &a.id, "ice sm").await,
            vec![alice.clone()]
        );
        assert_eq!(
            screen_search(&t, &a.id, "50%").await,
            vec![ours[4].0.clone()]
        );
        assert_eq!(
            screen_search(&t, &a.id, "a_b").await,
            vec![ours[5].0.clone()]
        );
        assert_eq!(
            screen_search(&t, &a.id, "c:\\").await,
            vec![ours[6].0.clone()]
        );
        assert_eq!(screen_search(&t, &a.id, "o'b").await.len(), 1);
        assert_eq!(
            screen_search(&t, &a.id, "\"hi\"").await,
            vec![ours[8].0.clone()]
        );
        assert_eq!(
            screen_search(&t, &a.id, "本語テ").await,
            vec![ours[10].0.clone()]
        );
        assert!(screen_search(&t, &a.id, "zzz").await.is_empty());
        assert_eq!(screen_search(&t, &a.id, "acme").await.len(), ours.len());
        assert_search_as_scan(&t, &a.id, &theirs, "created").await;

        // Every write keeps the index in step: a rename, an email change, a deactivation, a soft
        // delete (still listed without a status filter), a purge.
        let renamed = provisioning::replace(
            &t.svc,
            &ca,
            &alice,
            &json!({"userName": "zq@elsewhere.test", "displayName": "Zorro Quux",
                    "emails": [{"value": "zq@elsewhere.test", "type": "work"}]}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(screen_search(&t, &a.id, "zorro").await, vec![alice.clone()]);
        assert_eq!(
            screen_search(&t, &a.id, "elsewhere").await,
            vec![alice.clone()]
        );
        assert!(screen_search(&t, &a.id, "smith").await.is_empty());
        assert!(screen_search(&t, &a.id, "alice").await.is_empty());
        provisioning::patch(
            &t.svc,
            &ca,
            &ours[1].0,
            &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
            None,
        )
        .await
        .unwrap();
        provisioning::delete(&t.svc, &ca, &ours[2].0, None)
            .await
            .unwrap();
        assert_eq!(
            screen_search(&t, &a.id, "straße").await,
            vec![ours[2].0.clone()]
        );
        // A search with the Deleted status (the partial index of soft-deleted users), through
        // either index.
        for index in [SearchIndex::Trigram, SearchIndex::Text] {
            let deleted = admin_views::list_users_with(
                &t.svc,
                &a.id,
                &UsersQuery {
                    search: "straße".into(),
                    status: Some(UserStatus::Deleted),
                    ..Default::default()
                },
                admin_views::SEARCH_COUNT_CAP,
                index,
            )
            .await
            .unwrap();
            let ids: Vec<String> = deleted.rows.iter().map(|r| r.id.clone()).collect();
            assert_eq!(ids, vec![ours[2].0.clone()], "{index:?}");
        }
        assert_search_as_scan(&t, &a.id, &theirs, "after the writes").await;
        t.clock.advance_ms(40 * 86_400_000);
        assert!(portal_core::manage::purge_expired(&t.svc).await.unwrap() >= 1);
        assert!(screen_search(&t, &a.id, "straße").await.is_empty());
        assert_search_as_scan(&t, &a.id, &theirs, "after the purge").await;
        assert_eq!(renamed.user_name, "zq@elsewhere.test");

        if t.svc.db.backend == Backend::Sqlite {
            // The index is keyed by the users table's rowids; VACUUM keeps them.
            sqlx::query("VACUUM").execute(&t.svc.db.pool).await.unwrap();
            assert_eq!(screen_search(&t, &a.id, "zorro").await, vec![alice.clone()]);
            assert_search_as_scan(&t, &a.id, &theirs, "after VACUUM").await;
        }
    }
);

/// Every live user id of the org in SCIM's default order, and the total the counter keeps.
async fn reference(t: &TestServices, org: &str) -> (Vec<String>, i64) {
    let rows = sqlx::query(
        "SELECT id FROM users WHERE org_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
    )
    .bind(org)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap();
    let counted: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT) AS n FROM org_user_counts WHERE org_id = $1",
    )
    .bind(org)
    .fetch_one(&t.svc.db.pool)
    .await
    .unwrap()
    .get("n");
    (rows.iter().map(|r| r.get("id")).collect(), counted)
}

async fn assert_pages_as_offset(t: &TestServices, c: &Caller, when: &str) {
    let (all, counted) = reference(t, &c.org_id).await;
    assert_eq!(counted, all.len() as i64, "{when}: the counter is exact");
    let n = all.len() as i64;
    for (start, count) in [
        (1, 100),
        (2, 100),
        (999, 100),
        (1000, 3),
        (1001, 100),
        (1002, 7),
        (1999, 100),
        (2001, 100),
        (n - 50, 100),
        (n, 100),
        (n + 1, 100),
        (n + 500, 100),
        (1500, 0),
    ] {
        let page = provisioning::list(
            &t.svc,
            c,
            &ListQuery {
                start_index: Some(start),
                count: Some(count),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(page.total, n, "{when}: totalResults at startIndex {start}");
        let from = ((start - 1) as usize).min(all.len());
        let to = (from + count as usize).min(all.len());
        let got: Vec<String> = page.users.iter().map(|u| u.id.clone()).collect();
        assert_eq!(got, all[from..to], "{when}: page at startIndex {start}");
    }
}

/// Users inserted the way the bench seeds them, several per millisecond (ties order by id).
async fn bulk(t: &TestServices, org: &str, from: usize, n: usize, at: impl Fn(usize) -> i64) {
    let mut tx = t.svc.db.begin_write().await.unwrap();
    for i in from..from + n {
        users::insert(
            &mut tx,
            org,
            &format!("{org}-u{i:05}"),
            &json!({"userName": format!("u{i}@bulk.test"), "externalId": format!("X{i}"), "active": true}),
            Source::Scim,
            at(i),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

db_test!(
    list_pages_and_totals_match_an_offset_walk_across_writes,
    |t: TestServices| async move {
        let (a, _) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (b, _) = org_with_admin(&t.svc, "Other", "admin@other.test").await;
        let c = caller(&a.id);
        bulk(&t, &a.id, 0, 2600, |i| 1_000 + (i / 3) as i64).await;
        bulk(&t, &b.id, 0, 1200, |i| 1_000 + i as i64).await;
        assert_pages_as_offset(&t, &c, "seeded").await;
        // Again: now the seek keys are remembered.
        assert_pages_as_offset(&t, &c, "seeded, keys known").await;

        // Soft deletes before, inside and after the first key's block; a revive; a hard delete of
        // a live and of a soft-deleted row; users inserted in the middle of the order (a tie).
        for i in [4, 1200, 2300] {
            provisioning::delete(&t.svc, &c, &format!("{}-u{i:05}", a.id), None)
                .await
                .unwrap();
        }
        assert_pages_as_offset(&t, &c, "after soft deletes").await;
        provisioning::create(
            &t.svc,
            &c,
            &json!({"userName": "u1200@bulk.test", "externalId": "X1200"}),
        )
        .await
        .unwrap();
        assert_pages_as_offset(&t, &c, "after a revive").await;
        bulk(&t, &a.id, 5000, 5, |_| 1_000 + 300).await;
        assert_pages_as_offset(&t, &c, "after inserts in the middle").await;
        for id in [format!("{}-u00005", a.id), format!("{}-u00004", a.id)] {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(&id)
                .execute(&t.svc.db.pool)
                .await
                .unwrap();
        }
        assert_pages_as_offset(&t, &c, "after hard deletes").await;
        // The other organisation's writes change nothing here, and its own pages are exact.
        provisioning::delete(&t.svc, &caller(&b.id), &format!("{}-u00010", b.id), None)
            .await
            .unwrap();
        assert_pages_as_offset(&t, &c, "after another org's delete").await;
        assert_pages_as_offset(&t, &caller(&b.id), "the other org").await;
    }
);

db_test!(
    filtered_pages_count_exactly_on_both_paths,
    |t: TestServices| async move {
        let (a, _) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (b, _) = org_with_admin(&t.svc, "Other", "admin@other.test").await;
        let c = caller(&a.id);
        bulk(&t, &a.id, 0, 1300, |i| 1_000 + (i / 2) as i64).await;
        bulk(&t, &b.id, 0, 50, |i| 1_000 + i as i64).await;
        let list = |filter: &str, start: i64, count: i64| {
            let q = ListQuery {
                filter: Some(filter.to_string()),
                start_index: Some(start),
                count: Some(count),
                ..Default::default()
            };
            let c = c.clone();
            let svc = t.svc.clone();
            async move { provisioning::list(&svc, &c, &q).await.unwrap() }
        };
        // A lookup: one user, or none (in this org; the other org has the same userNames).
        let p = list("userName eq \"U7@BULK.test\"", 1, 100).await;
        assert_eq!(p.total, 1);
        assert_eq!(p.users[0].id, format!("{}-u00007", a.id));
        let p = list("userName eq \"nobody@bulk.test\"", 1, 100).await;
        assert_eq!((p.total, p.users.len()), (0, 0));
        // The lookup's own statement (a unique match): the same answers past the match, with no
        // page, with the schema's URN, and not for a soft-deleted user.
        let p = list("userName eq \"u7@bulk.test\"", 2, 100).await;
        assert_eq!((p.total, p.users.len()), (1, 0), "past the only match");
        let p = list("userName eq \"u7@bulk.test\"", 1, 0).await;
        assert_eq!((p.total, p.users.len()), (1, 0), "count=0");
        let p = list(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"u8@bulk.test\"",
            1,
            100,
        )
        .await;
        assert_eq!(p.users[0].id, format!("{}-u00008", a.id));
        provisioning::delete(&t.svc, &c, &format!("{}-u00009", a.id), None)
            .await
            .unwrap();
        let p = list("userName eq \"u9@bulk.test\"", 1, 100).await;
        assert_eq!((p.total, p.users.len()), (0, 0), "a soft-deleted user");
        let p = list("externalId eq \"X7\"", 2, 100).await;
        assert_eq!((p.total, p.users.len()), (1, 0), "past the only match");
        // A few hundred matches (the one-statement path) and more than 500 (count + page), each
        // against the plain query.
        for (filter, sql_cond) in [
            ("userName sw \"u1\"", "lower(user_name) LIKE 'u1%'"),
            ("userName co \"5\"", "lower(user_name) LIKE '%5%'"),
            ("active eq true", "active = 1"),
        ] {
            let rows = sqlx::query(&format!(
                "SELECT id FROM users WHERE org_id = $1 AND deleted_at IS NULL AND {sql_cond} \
                 ORDER BY created_at, id"
            ))
            .bind(&a.id)
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
            let all: Vec<String> = rows.iter().map(|r| r.get("id")).collect();
            for (start, count) in [(1, 100), (51, 100), (all.len() as i64 - 3, 100), (1, 0)] {
                let p = list(filter, start, count).await;
                assert_eq!(p.total, all.len() as i64, "{filter} total");
                let from = (start - 1) as usize;
                let to = (from + count as usize).min(all.len());
                let got: Vec<String> = p.users.iter().map(|u| u.id.clone()).collect();
                assert_eq!(got, all[from..to], "{filter} at {start}");
            }
            assert!(all.len() > 100, "{filter} matches several pages");
        }
        // sortBy on the one-statement path.
        let p = provisioning::list(
            &t.svc,
            &c,
            &ListQuery {
                filter: Some("userName sw \"u12\"".into()),
                sort_by: Some("userName".into()),
                descending: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let names: Vec<&str> = p.users.iter().map(|u| u.user_name.as_str()).collect();
        let mut expected = names.clone();
        expected.sort_by(|x, y| y.cmp(x));
        assert_eq!(names, expected);
        assert_eq!(p.total, 111, "u12, u120..u129, u1200..u1299");
    }
);

db_test!(
    a_search_matching_more_than_the_cap_lists_the_first_of_them_in_order,
    |t: TestServices| async move {
        // 70 users in each of two organisations, with the same userNames: a search both match.
        let (a, _) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (b, _) = org_with_admin(&t.svc, "Other", "admin@other.test").await;
        bulk(&t, &a.id, 0, 70, |i| i as i64).await;
        bulk(&t, &b.id, 0, 70, |i| i as i64).await;
        for desc in [false, true] {
            let dir = if desc { "DESC" } else { "ASC" };
            let first: Vec<String> = sqlx::query(&format!(
                "SELECT id FROM users WHERE org_id = $1 ORDER BY lower(user_name) {dir} LIMIT 55"
            ))
            .bind(&a.id)
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("id"))
            .collect();
            // A short term (the search-text index) and a long one (the trigram index, or the
            // search-text index of a small organisation).
            for (term, index) in [
                ("bu", SearchIndex::Trigram),
                ("BULK.test", SearchIndex::Trigram),
                ("BULK.test", SearchIndex::Text),
            ] {
                let query = |page| UsersQuery {
                    search: term.into(),
                    desc,
                    page,
                    ..Default::default()
                };
                let mut got = Vec::new();
                for page in [1, 2, 3] {
                    let p = admin_views::list_users_with(&t.svc, &a.id, &query(page), 55, index)
                        .await
                        .unwrap();
                    assert!(p.more, "{term:?}: more than the cap");
                    assert_eq!((p.total, p.pages), (55, 2), "{term:?}: the cap's pages");
                    assert_eq!(p.page, page.min(2), "{term:?}: a page past the cap");
                    if page <= 2 {
                        got.extend(p.rows.iter().map(|r| r.id.clone()));
                    }
                }
                assert_eq!(got, first, "{term:?} {dir}: the first 55 in the page order");
                // At the cap or under it, the count is exact.
                for (cap, more) in [(70, false), (69, true), (1000, false)] {
                    let p = admin_views::list_users_with(&t.svc, &a.id, &query(1), cap, index)
                        .await
                        .unwrap();
                    assert_eq!(p.more, more, "{term:?}: cap {cap}");
                    assert_eq!(p.total, if more { cap } else { 70 }, "{term:?}: cap {cap}");
                    assert_eq!(p.rows.len(), 50);
                    assert!(
                        p.rows.iter().all(|r| r.id.starts_with(&a.id)),
                        "{:?}",
                        p.rows
                    );
                }
            }
        }
        // The walk of a capped search is the organisation's own: filtered by status, it still
        // never lists the other organisation's users.
        let p = admin_views::list_users_with(
            &t.svc,
            &a.id,
            &UsersQuery {
                search: "u".into(),
                status: Some(UserStatus::Active),
                ..Default::default()
            },
            10,
            SearchIndex::Text,
        )
        .await
        .unwrap();
        assert!(p.more);
        assert_eq!(p.rows.len(), 10);
        assert!(
            p.rows.iter().all(|r| r.id.starts_with(&a.id)),
            "{:?}",
            p.rows
        );

        // Which index an organisation's searches read (SQLite): its own entries up to
        // TRIGRAM_FROM_USERS live users (its counter), the trigram index above.
        let live = |n: i64| {
            sqlx::query("UPDATE org_user_counts SET live = $2 WHERE org_id = $1")
                .bind(a.id.clone())
                .bind(n)
                .execute(&t.svc.db.pool)
        };
        let query_for = |search: &str| UsersQuery {
            search: search.into(),
            ..Default::default()
        };
        let expected = |big: bool| {
            if big && t.svc.db.backend == Backend::Sqlite {
                SearchIndex::Trigram
            } else {
                SearchIndex::Text
            }
        };
        let mut tx = t.svc.db.begin_write().await.unwrap();
        for i in 0..5 {
            users::insert(
                &mut tx,
                &b.id,
                &format!("{}-apart{i}", b.id),
                &json!({"userName": format!("apart{i}@elsewhere.test"), "displayName": "bul ulk", "active": true}),
                Source::Scim,
                1_000 + i as i64,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        for (n, big) in [(70, false), (20_000, false), (20_001, true)] {
            live(n).await.unwrap();
            let got = admin_views::search_index(&t.svc, &a.id, &query_for("bulk"))
                .await
                .unwrap();
            assert_eq!(got, expected(big), "{n} live users");
            if big {
                // Each trigram of "bulk" is in 145 users: the 140 with "@bulk.test", and the
                // other organisation's 5 holding "bul" and "ulk" apart (the phrase finds 140).
                let got = admin_views::search_index_with(&t.svc, &a.id, &query_for("bulk"), 144)
                    .await
                    .unwrap();
                assert_eq!(
                    got,
                    SearchIndex::Text,
                    "{n}: 145 users per trigram, 144 allowed"
                );
                let got = admin_views::search_index_with(&t.svc, &a.id, &query_for("bulk"), 145)
                    .await
                    .unwrap();
                assert_eq!(
                    got,
                    expected(big),
                    "{n}: 145 users per trigram, 145 allowed"
                );
                // One rare trigram is enough: "lkz" is in no user.
                let got = admin_views::search_index_with(&t.svc, &a.id, &query_for("bulkzz"), 144)
                    .await
                    .unwrap();
                assert_eq!(got, expected(big), "{n}: a trigram in no user");
            }
            // The other organisation's size never decides.
            let got = admin_views::search_index(&t.svc, &b.id, &query_for("bulk"))
                .await
                .unwrap();
            assert_eq!(got, SearchIndex::Text, "the other organisation, beside {n}");
        }
    }
);
