//! SCIM token checks served from memory (issue 11): a token that checked out is answered without
//! a statement, and every change a check reads is seen at once in the process that made it, and
//! within about 100 ms by another instance on the same database (the `auth_epoch` triggers). On
//! both databases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::org_settings::{self, SettingsChange};
use portal_core::scim_tokens::{self, Authenticated, GRACE_DEFAULT_MS};
use portal_core::{groups, Db, Services};
use portal_test_support::{db_test, TestServices};

use super::groups::caller;
use super::scim_tokens::{auth, org_with_token};
use serde_json::json;

/// Checks the token twice and asserts the second check came from memory.
async fn warm(svc: &Services, org: &str, token: &str) -> Authenticated {
    auth(svc, org, token).await.expect("the token checks out");
    let hits = svc.db.token_cache().hits();
    let a = auth(svc, org, token).await.expect("the token checks out");
    assert_eq!(
        svc.db.token_cache().hits(),
        hits + 1,
        "the second check is answered from memory"
    );
    a
}

/// A second instance on the same database: its own pool and its own memory.
async fn second_instance(t: &TestServices) -> Services {
    Services {
        db: Db::open(&t.tdb.url, 4)
            .await
            .expect("open the database again"),
        ..t.svc.clone()
    }
}

/// Polls `f` until it is true; fails after `limit`. Returns how long it took.
async fn within<F, Fut>(limit: Duration, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

db_test!(
    a_token_is_checked_once_and_then_answered_from_memory_for_its_own_org_only,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (acme, token) = org_with_token(svc, "Acme").await;
        let (globex, other) = org_with_token(svc, "Globex").await;
        warm(svc, &acme, &token).await;
        warm(svc, &globex, &other).await;
        // A token held in memory is still only its own org's.
        assert!(auth(svc, &globex, &token).await.is_none());
        assert!(auth(svc, &acme, &other).await.is_none());
        // A near miss of a held token is not it.
        let mut wrong = token.clone();
        wrong.pop();
        wrong.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(auth(svc, &acme, &wrong).await.is_none());
        assert!(auth(svc, &acme, "").await.is_none());
        // Bad tokens are never held.
        assert_eq!(svc.db.token_cache().len(), 2);
    }
);

db_test!(
    every_change_a_token_check_reads_is_seen_at_once_by_the_process_that_made_it,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, token) = org_with_token(svc, "Acme").await;

        // The org's user rules.
        assert!(warm(svc, &org, &token)
            .await
            .policy
            .allowed_domains
            .is_empty());
        org_settings::update(
            svc,
            &org,
            "a@acme.test",
            &SettingsChange {
                allowed_domains: Some("acme.test".into()),
                username_equals_work_email: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let a = auth(svc, &org, &token).await.unwrap();
        assert_eq!(a.policy.allowed_domains, vec!["acme.test".to_string()]);
        assert!(!a.policy.username_equals_work_email);

        // The org's first group.
        assert!(!warm(svc, &org, &token).await.org_has_groups);
        groups::create(svc, &caller(&org), &json!({"displayName": "Sales"}))
            .await
            .unwrap();
        assert!(auth(svc, &org, &token).await.unwrap().org_has_groups);

        // A rotation: the next token works; its first success retires the held current token.
        warm(svc, &org, &token).await;
        let next = scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap()
            .into_exposed();
        warm(svc, &org, &token).await;
        let n = warm(svc, &org, &next).await;
        assert!(n.is_next);
        assert!(scim_tokens::cut_over(svc, &org, &n.token_id).await.unwrap());
        assert!(auth(svc, &org, &token).await.is_none(), "retired at once");
        assert!(!auth(svc, &org, &next).await.unwrap().is_next);

        // The rotation deadline of a held token (clock only, no write): the check retires it.
        let third = scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap()
            .into_exposed();
        warm(svc, &org, &next).await;
        t.clock.advance_ms(GRACE_DEFAULT_MS);
        assert!(
            auth(svc, &org, &next).await.is_none(),
            "its deadline passed"
        );
        assert!(auth(svc, &org, &third).await.is_some());

        // Replacement and revocation.
        warm(svc, &org, &third).await;
        let fourth = scim_tokens::generate(svc, &org, "a@acme.test")
            .await
            .unwrap()
            .into_exposed();
        assert!(auth(svc, &org, &third).await.is_none(), "replaced at once");
        warm(svc, &org, &fourth).await;
        assert!(scim_tokens::revoke(svc, &org, "a@acme.test").await.unwrap());
        assert!(auth(svc, &org, &fourth).await.is_none(), "revoked at once");
    }
);

db_test!(
    another_instance_sees_each_change_within_the_freshness_window,
    |t: TestServices| async move {
        let a = &t.svc;
        let b = &second_instance(&t).await;
        let (org, token) = org_with_token(a, "Acme").await;
        // The window is 100 ms; 2 s leaves room for a loaded machine, and is still far below
        // "never", which is what a missing trigger gives.
        let limit = Duration::from_secs(2);

        warm(b, &org, &token).await;
        org_settings::update(
            a,
            &org,
            "a@acme.test",
            &SettingsChange {
                allowed_domains: Some("acme.test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        within(limit, "the other instance's rule change", || async {
            !auth(b, &org, &token)
                .await
                .unwrap()
                .policy
                .allowed_domains
                .is_empty()
        })
        .await;

        warm(b, &org, &token).await;
        groups::create(a, &caller(&org), &json!({"displayName": "Sales"}))
            .await
            .unwrap();
        within(limit, "the other instance's first group", || async {
            auth(b, &org, &token).await.unwrap().org_has_groups
        })
        .await;

        // A rotation started elsewhere gives the held current token a deadline; once it has
        // passed, the other instance refuses the token too.
        warm(b, &org, &token).await;
        let next = scim_tokens::rotate(a, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap()
            .into_exposed();
        assert!(auth(b, &org, &next).await.is_some());
        t.clock.advance_ms(GRACE_DEFAULT_MS);
        within(limit, "the other instance's rotation deadline", || async {
            auth(b, &org, &token).await.is_none()
        })
        .await;
        let token = next;

        warm(b, &org, &token).await;
        assert!(scim_tokens::revoke(a, &org, "a@acme.test").await.unwrap());
        let took = within(limit, "the other instance's revocation", || async {
            auth(b, &org, &token).await.is_none()
        })
        .await;
        assert!(took < limit, "{took:?}");

        // A change written by something that is not this code at all (another tool on the same
        // database): the triggers move the counter all the same.
        let fresh = scim_tokens::generate(a, &org, "a@acme.test")
            .await
            .unwrap()
            .into_exposed();
        warm(a, &org, &fresh).await;
        warm(b, &org, &fresh).await;
        sqlx::query("UPDATE scim_tokens SET revoked_at = 1 WHERE org_id = $1")
            .bind(&org)
            .execute(&a.db.pool)
            .await
            .unwrap();
        for (name, svc) in [("this instance", a), ("the other instance", b)] {
            within(limit, name, || async {
                auth(svc, &org, &fresh).await.is_none()
            })
            .await;
        }
    }
);

db_test!(
    writes_that_change_no_credential_keep_what_memory_holds,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, token) = org_with_token(svc, "Acme").await;
        let c = caller(&org);
        warm(svc, &org, &token).await;
        // SCIM user writes (batched), a failure event, token bookkeeping.
        portal_core::provisioning::create(svc, &c, &json!({"userName": "ann@acme.test"}))
            .await
            .unwrap();
        portal_core::provisioning::create(svc, &c, &json!({"userName": "ann@acme.test"}))
            .await
            .unwrap_err();
        scim_tokens::flush_usage(&svc.db).await.unwrap();
        let hits = svc.db.token_cache().hits();
        auth(svc, &org, &token).await.unwrap();
        assert_eq!(svc.db.token_cache().hits(), hits + 1);
        // A write transaction that changes nothing a check reads (the org's name) keeps it too;
        // one that changes the org's rules forgets.
        for (change, forgets) in [
            (
                SettingsChange {
                    name: Some("Acme Inc".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                SettingsChange {
                    username_equals_work_email: Some(false),
                    ..Default::default()
                },
                true,
            ),
        ] {
            auth(svc, &org, &token).await.unwrap();
            assert_eq!(svc.db.token_cache().len(), 1);
            org_settings::update(svc, &org, "a@acme.test", &change)
                .await
                .unwrap();
            assert_eq!(svc.db.token_cache().is_empty(), forgets, "{change:?}");
        }
    }
);

/// Many tasks checking a token while another revokes it, and memory being forgotten all the
/// while (so the checks keep reading the database, some of them across the revocation's commit):
/// once `revoke` has returned, no check accepts the token. A check that read the row just before
/// the commit and keeps it just after is what the generation number refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_racing_a_revocation_never_brings_the_token_back() {
    use std::sync::atomic::{AtomicBool, Ordering};
    for backend in [portal_core::Backend::Sqlite, portal_core::Backend::Postgres] {
        let mut t = portal_test_support::services(backend).await;
        let _dir = t.tdb.dir.take();
        portal_test_support::deadline(async {
            let svc = Arc::new(t.svc.clone());
            for round in 0..20 {
                let (org, token) = org_with_token(&svc, &format!("Acme{round}")).await;
                warm(&svc, &org, &token).await;
                let stop_checks = Arc::new(AtomicBool::new(false));
                let stop_forgetting = Arc::new(AtomicBool::new(false));
                let checkers: Vec<_> = (0..4)
                    .map(|_| {
                        let (svc, org, token, stop) =
                            (svc.clone(), org.clone(), token.clone(), stop_checks.clone());
                        tokio::spawn(async move {
                            while !stop.load(Ordering::Relaxed) {
                                auth(&svc, &org, &token).await;
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                let forgetter = {
                    let (svc, stop) = (svc.clone(), stop_forgetting.clone());
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            svc.db.token_cache().forget_all();
                            tokio::task::yield_now().await;
                        }
                    })
                };
                tokio::time::sleep(Duration::from_millis(10)).await;
                assert!(scim_tokens::revoke(&svc, &org, "a@x.test").await.unwrap());
                stop_forgetting.store(true, Ordering::Relaxed);
                forgetter.await.unwrap();
                // Checks in flight finish; whatever they kept must not be the revoked token.
                tokio::time::sleep(Duration::from_millis(20)).await;
                for _ in 0..50 {
                    assert!(
                        auth(&svc, &org, &token).await.is_none(),
                        "{backend:?} round {round}: a revoked token was accepted"
                    );
                }
                stop_checks.store(true, Ordering::Relaxed);
                for c in checkers {
                    c.await.unwrap();
                }
            }
        })
        .await;
    }
}
