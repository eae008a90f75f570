//! The IdP's `userName eq` lookups read several at once (`portal_core::lookups`, issue 11): each
//! lookup gets its own organisation's user and nothing else, however the lookups of different
//! organisations are batched together, and a lookup cut short or a failed read strands nobody.

use std::time::Duration;

use crate::groups::caller;
use portal_core::lookups::user_name_lookup_statement;
use portal_core::provisioning::{self, ListQuery};
use portal_core::users::{self, Source};
use portal_core::Backend;
use portal_test_support::{db_test, deadline, org_with_admin, services, TestServices};
use serde_json::json;
use sqlx::Row;

fn lookup(name: &str) -> ListQuery {
    ListQuery {
        filter: Some(format!("userName eq \"{name}\"")),
        ..Default::default()
    }
}

/// Two organisations that both have `same@x.test` (different users), each a user the other
/// does not have, and a soft-deleted user in the first.
async fn two_orgs(t: &TestServices) -> (String, String) {
    let (a, _) = org_with_admin(&t.svc, "Alpha", "admin@alpha.test").await;
    let (b, _) = org_with_admin(&t.svc, "Beta", "admin@beta.test").await;
    let mut tx = t.svc.db.begin_write().await.unwrap();
    for (org, id, name) in [
        (&a.id, "a-same", "Same@X.test"),
        (&b.id, "b-same", "same@x.test"),
        (&a.id, "a-only", "only-alpha@x.test"),
        (&b.id, "b-only", "only-beta@x.test"),
        (&a.id, "a-gone", "gone@x.test"),
    ] {
        users::insert(
            &mut tx,
            org,
            id,
            &json!({"userName": name}),
            Source::Scim,
            1,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("UPDATE users SET deleted_at = 2 WHERE id = 'a-gone'")
        .execute(&t.svc.db.pool)
        .await
        .unwrap();
    (a.id, b.id)
}

/// The user id each organisation's lookup of each name must find (None: no user).
fn expected(org: &str, a: &str, name: &str) -> Option<&'static str> {
    let alpha = org == a;
    match name.to_ascii_lowercase().as_str() {
        "same@x.test" => Some(if alpha { "a-same" } else { "b-same" }),
        "only-alpha@x.test" if alpha => Some("a-only"),
        "only-beta@x.test" if !alpha => Some("b-only"),
        _ => None,
    }
}

const NAMES: [&str; 6] = [
    "same@x.test",
    "SAME@x.TEST",
    "only-alpha@x.test",
    "only-beta@x.test",
    "gone@x.test",
    "nobody@x.test",
];

db_test!(
    lookups_read_together_answer_each_organisation_its_own_user,
    |t: TestServices| async move {
        let (a, b) = two_orgs(&t).await;
        let (statements_before, keys_before) = t.svc.db.lookup_counts();
        // Many lookups at once, the two organisations' interleaved: they share statements.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..240 {
            let org = if i % 2 == 0 { a.clone() } else { b.clone() };
            let name = NAMES[(i / 2) % NAMES.len()];
            let svc = t.svc.clone();
            tasks.spawn(async move {
                let page = provisioning::list_raw(&svc, &caller(&org), &lookup(name))
                    .await
                    .unwrap();
                (
                    org,
                    name,
                    page.total,
                    page.users.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
                )
            });
        }
        let mut answered = 0;
        while let Some(r) = tasks.join_next().await {
            let (org, name, total, ids) = r.unwrap();
            let want = expected(&org, &a, name);
            assert_eq!(
                ids,
                want.into_iter().map(String::from).collect::<Vec<_>>(),
                "org {org} looking up {name}"
            );
            assert_eq!(
                total,
                want.is_some() as i64,
                "org {org} looking up {name}: total"
            );
            answered += 1;
        }
        assert_eq!(answered, 240);
        let (statements, keys) = t.svc.db.lookup_counts();
        let (statements, keys) = (statements - statements_before, keys - keys_before);
        assert_eq!(keys, 240, "every lookup went through the shared read");
        assert!(
            statements < keys,
            "lookups made at once shared statements ({statements} statements for {keys} lookups)"
        );
        // The same through the parsed-user path (`list`), which the admin tools use.
        let page = provisioning::list(&t.svc, &caller(&b), &lookup("Same@x.test"))
            .await
            .unwrap();
        assert_eq!(page.users.len(), 1);
        assert_eq!(page.users[0].id, "b-same");
        assert_eq!(page.users[0].org_id, b);
    }
);

db_test!(
    the_shared_lookup_statement_keeps_each_key_to_its_own_organisation,
    |t: TestServices| async move {
        let (a, b) = two_orgs(&t).await;
        // Every (organisation, name) pair at once, in one statement.
        let keys: Vec<(String, String)> = [&a, &b]
            .iter()
            .flat_map(|o| NAMES.iter().map(move |n| (o.to_string(), n.to_lowercase())))
            .collect();
        let refs: Vec<(&str, &str)> = keys.iter().map(|(o, n)| (o.as_str(), n.as_str())).collect();
        let rows = user_name_lookup_statement(t.svc.db.backend, &refs)
            .query()
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        let mut got: Vec<(i64, String, String)> = rows
            .iter()
            .map(|r| (r.get("k"), r.get("id"), r.get("org_id")))
            .collect();
        got.sort();
        let mut want = Vec::new();
        for (k, (org, name)) in keys.iter().enumerate() {
            if let Some(id) = expected(org, &a, name) {
                want.push((k as i64, id.to_string(), org.clone()));
            }
        }
        want.sort();
        assert_eq!(got, want);
    }
);

db_test!(
    lookups_cut_short_or_failing_strand_nobody,
    |t: TestServices| async move {
        let (a, _b) = two_orgs(&t).await;
        // Half of a burst is dropped while waiting (a client hanging up): the rest are answered,
        // and so is a lookup after them.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..100 {
            let svc = t.svc.clone();
            let org = a.clone();
            tasks.spawn(async move {
                let q = lookup("same@x.test");
                let c = caller(&org);
                let read = provisioning::list_raw(&svc, &c, &q);
                if i % 2 == 0 {
                    // Cut off at its first wait.
                    tokio::time::timeout(Duration::ZERO, read)
                        .await
                        .ok()
                        .map(|r| r.unwrap())
                } else {
                    Some(read.await.unwrap())
                }
            });
        }
        let mut answered = 0;
        while let Some(r) = tasks.join_next().await {
            if let Some(page) = r.unwrap() {
                assert_eq!(page.users.len(), 1);
                assert_eq!(page.users[0].id, "a-same");
                answered += 1;
            }
        }
        // (A zero timeout may still let its lookup finish.)
        assert!(
            answered >= 50,
            "the lookups not cut off are answered ({answered})"
        );
        let page = tokio::time::timeout(
            Duration::from_secs(10),
            provisioning::list_raw(&t.svc, &caller(&a), &lookup("only-alpha@x.test")),
        )
        .await
        .expect("a lookup after the burst is answered")
        .unwrap();
        assert_eq!(page.users[0].id, "a-only");
        // With the database gone, lookups fail with the database's error instead of waiting for
        // a shared read that never comes.
        t.svc.db.close().await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let svc = t.svc.clone();
            let org = a.clone();
            tasks.spawn(async move {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    provisioning::list_raw(&svc, &caller(&org), &lookup("same@x.test")),
                )
                .await
                .expect("a lookup on a closed database ends")
                .is_err()
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert!(r.unwrap(), "a lookup on a closed database is an error");
        }
    }
);

/// Holds every statement that reads or writes `table` (PostgreSQL, a name written by the test
/// itself), until the returned transaction ends.
pub(crate) async fn lock_table(url: &str, table: &str) -> sqlx::Transaction<'static, sqlx::Any> {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn lock_users(url: &str) -> sqlx::Transaction<'static, sqlx::Any> {
    lock_table(url, "users").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_behind_a_stalled_read_fail_in_time_instead_of_waiting_for_ever() {
    deadline(async {
        let t = services(Backend::Postgres).await;
        let (a, _b) = two_orgs(&t).await;
        let lock = lock_users(&t.tdb.url).await;
        let started = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let svc = t.svc.clone();
            let org = a.clone();
            tasks.spawn(async move {
                provisioning::list_raw(&svc, &caller(&org), &lookup("same@x.test"))
                    .await
                    .is_err()
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert!(
                r.unwrap(),
                "a lookup behind a stalled read is refused (503)"
            );
        }
        let took = started.elapsed();
        assert!(
            took < portal_core::lookups::READ_TIMEOUT + Duration::from_secs(5),
            "refused within the read timeout ({took:?})"
        );
        lock.rollback().await.unwrap();
        let page = provisioning::list_raw(&t.svc, &caller(&a), &lookup("same@x.test"))
            .await
            .unwrap();
        assert_eq!(page.users[0].id, "a-same");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_go_on_after_the_shared_reads_were_dropped_half_way() {
    deadline(async {
        let t = services(Backend::Postgres).await;
        let (a, _b) = two_orgs(&t).await;
        let lock = lock_users(&t.tdb.url).await;
        // Lookups on a runtime of their own, whose shared reads stall behind the lock …
        let other = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        for _ in 0..10 {
            let svc = t.svc.clone();
            let org = a.clone();
            other.spawn(async move {
                let _ = provisioning::list_raw(&svc, &caller(&org), &lookup("same@x.test")).await;
            });
        }
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while t.svc.db.lookup_runners() < portal_core::lookups::RUNNERS {
            assert!(
                std::time::Instant::now() < until,
                "the shared reads started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // … and that runtime goes away with them (a shutdown, or a panic in the reads).
        other.shutdown_background();
        lock.rollback().await.unwrap();
        let page = tokio::time::timeout(
            Duration::from_secs(5),
            provisioning::list_raw(&t.svc, &caller(&a), &lookup("same@x.test")),
        )
        .await
        .expect("lookups are still read")
        .unwrap();
        assert_eq!(page.users[0].id, "a-same");
        // (The other runtime's tasks are dropped by its threads as they stop.)
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while t.svc.db.lookup_runners() > 0 {
            assert!(
                std::time::Instant::now() < until,
                "no shared read is left counted"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// A shared read that fails with an ordinary database error (here its connection is terminated
/// by the server) must not be taken for "nobody has that userName" — an IdP told so would create
/// the user a second time: each of its lookups reads alone and finds its own user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_read_that_fails_is_not_taken_for_an_empty_answer() {
    deadline(async {
        let t = services(Backend::Postgres).await;
        let (a, b) = two_orgs(&t).await;
        let lock = lock_users(&t.tdb.url).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let svc = t.svc.clone();
            let org = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move {
                let page = provisioning::list_raw(&svc, &caller(&org), &lookup("same@x.test"))
                    .await
                    .expect("a lookup whose shared read failed is read again");
                (
                    org,
                    page.users.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
                )
            });
        }
        // The shared statements wait behind the lock; end their connections (this test's
        // database only: the other tests run beside it on the same server).
        let admin = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&t.tdb.url)
            .await
            .unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        let mut killed = 0;
        while killed == 0 {
            assert!(
                std::time::Instant::now() < until,
                "the shared reads started"
            );
            killed = sqlx::query(
                "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%AS v (k, org, name)%' \
                 AND query NOT LIKE '%pg_stat_activity%'",
            )
            .fetch_one(&admin)
            .await
            .unwrap()
            .get::<i64, _>(0);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        lock.rollback().await.unwrap();
        while let Some(r) = tasks.join_next().await {
            let (org, ids) = r.unwrap();
            let want = if org == a { "a-same" } else { "b-same" };
            assert_eq!(
                ids,
                vec![want.to_string()],
                "each lookup finds its own user"
            );
        }
    })
    .await;
}
