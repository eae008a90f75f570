//! Zero-downtime SCIM token rotation (issue 13), on both databases with the manual clock.

use portal_core::scim_tokens::{self, Authenticated, GRACE_DEFAULT_MS, GRACE_MAX_MS, GRACE_MIN_MS};
use portal_core::{CoreError, Services};
use portal_test_support::{db_test, org_with_admin, TestServices};

const HOUR: i64 = 3_600_000;

async fn auth(svc: &Services, org: &str, token: &str) -> Option<Authenticated> {
    scim_tokens::authenticate(svc, org, token, Some("test-idp/1.0"))
        .await
        .unwrap()
}

/// (events named `name` of the org, their actors).
async fn events(svc: &Services, org: &str, name: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT actor FROM events WHERE org_id = $1 AND name = $2 ORDER BY seq")
        .bind(org)
        .bind(name)
        .fetch_all(&svc.db.pool)
        .await
        .unwrap()
}

/// (unrevoked current, unrevoked next) token counts.
async fn live(svc: &Services, org: &str) -> (i64, i64) {
    let c: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 0",
    )
    .bind(org)
    .fetch_one(&svc.db.pool)
    .await
    .unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL AND is_next = 1",
    )
    .bind(org)
    .fetch_one(&svc.db.pool)
    .await
    .unwrap();
    (c, n)
}

/// An org with a current token: (org id, current token).
async fn org_with_token(svc: &Services, name: &str) -> (String, String) {
    let (org, _) = org_with_admin(svc, name, &format!("a@{}.test", name.to_lowercase())).await;
    let token = scim_tokens::generate(svc, &org.id, "a@x.test")
        .await
        .unwrap();
    (org.id, token.into_exposed())
}

db_test!(
    rotate_both_work_until_the_first_success_with_the_new_one,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, old) = org_with_token(svc, "Acme").await;
        let old_id = scim_tokens::status(svc, &org).await.unwrap().unwrap().id;
        let new = scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap()
            .into_exposed();
        assert_ne!(old, new);
        assert_eq!(live(svc, &org).await, (1, 1));
        let a = auth(svc, &org, &old).await.unwrap();
        assert_eq!(a.token_id, old_id);
        assert!(!a.is_next);
        let b = auth(svc, &org, &new).await.unwrap();
        assert!(b.is_next);
        let r = scim_tokens::rotation(svc, &org).await.unwrap().unwrap();
        assert_eq!(r.next.id, b.token_id);
        assert_eq!(r.retire_at, svc.now() + GRACE_DEFAULT_MS);
        assert_eq!(r.next.last_user_agent.as_deref(), Some("test-idp/1.0"));
        // Authenticated but not yet successful: the old token still works.
        assert!(auth(svc, &org, &old).await.is_some());
        assert!(scim_tokens::cut_over(svc, &org, &b.token_id).await.unwrap());
        assert!(!scim_tokens::cut_over(svc, &org, &b.token_id).await.unwrap());
        assert!(auth(svc, &org, &old).await.is_none());
        let b2 = auth(svc, &org, &new).await.unwrap();
        assert!(!b2.is_next, "the new token is current now");
        assert_eq!(live(svc, &org).await, (1, 0));
        assert_eq!(
            scim_tokens::status(svc, &org).await.unwrap().unwrap().id,
            b.token_id
        );
        assert!(scim_tokens::rotation(svc, &org).await.unwrap().is_none());
        assert_eq!(
            events(svc, &org, "idm_integration_rotate").await,
            ["a@acme.test"]
        );
        assert_eq!(
            events(svc, &org, "idm_integration_retire").await,
            ["system"]
        );
        let retired = scim_tokens::last_retired(svc, &org).await.unwrap().unwrap();
        assert_eq!(retired.id, old_id);
        assert_eq!(retired.retired_by, "system");
        assert!(retired.reason.contains("first successful request"));
        // The old token's later attempts are counted for the admin.
        let (rejected, _) = scim_tokens::rejected_summary(svc, &org).await.unwrap();
        assert_eq!(rejected, 1);
    }
);

db_test!(
    grace_period_ends_at_authentication_and_in_the_job,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (a, a_old) = org_with_token(svc, "Acme").await;
        let (b, b_old) = org_with_token(svc, "Beta").await;
        let a_new = scim_tokens::rotate(svc, &a, "a@acme.test", GRACE_MIN_MS)
            .await
            .unwrap()
            .into_exposed();
        scim_tokens::rotate(svc, &b, "a@beta.test", GRACE_MIN_MS)
            .await
            .unwrap();
        t.clock.advance_ms(GRACE_MIN_MS - 1);
        assert_eq!(scim_tokens::retire_expired(svc).await.unwrap(), 0);
        assert!(auth(svc, &a, &a_old).await.is_some());
        assert!(auth(svc, &b, &b_old).await.is_some());
        t.clock.advance_ms(1);
        // At authentication time, before the job: A's old token is refused and retired.
        assert!(auth(svc, &a, &a_old).await.is_none());
        assert_eq!(events(svc, &a, "idm_integration_retire").await, ["system"]);
        assert!(!auth(svc, &a, &a_new).await.unwrap().is_next);
        // The job retires B's (and finds A's done).
        assert_eq!(scim_tokens::retire_expired(svc).await.unwrap(), 1);
        assert_eq!(scim_tokens::retire_expired(svc).await.unwrap(), 0);
        assert!(auth(svc, &b, &b_old).await.is_none());
        assert_eq!(events(svc, &b, "idm_integration_retire").await, ["system"]);
        let retired = scim_tokens::last_retired(svc, &b).await.unwrap().unwrap();
        assert!(retired.reason.contains("grace period"));
        assert_eq!(live(svc, &a).await, (1, 0));
        assert_eq!(live(svc, &b).await, (1, 0));
    }
);

db_test!(
    retire_by_hand_needs_this_orgs_current_token,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (a, a_old) = org_with_token(svc, "Acme").await;
        let (b, _) = org_with_token(svc, "Beta").await;
        let a_old_id = scim_tokens::status(svc, &a).await.unwrap().unwrap().id;
        let b_id = scim_tokens::status(svc, &b).await.unwrap().unwrap().id;
        // No rotation yet: nothing to retire.
        assert!(matches!(
            scim_tokens::retire_old(svc, &a, &a_old_id, "a@acme.test").await,
            Err(CoreError::Conflict(_))
        ));
        let a_new = scim_tokens::rotate(svc, &a, "a@acme.test", 24 * HOUR)
            .await
            .unwrap()
            .into_exposed();
        scim_tokens::rotate(svc, &b, "a@beta.test", 24 * HOUR)
            .await
            .unwrap();
        // Another org's token id, the new token's id, or garbage: not found, nothing changed.
        let a_next_id = scim_tokens::rotation(svc, &a)
            .await
            .unwrap()
            .unwrap()
            .next
            .id;
        for id in [
            b_id.as_str(),
            a_next_id.as_str(),
            "",
            "x' OR '1'='1",
            &"x".repeat(10_000),
        ] {
            assert!(
                matches!(
                    scim_tokens::retire_old(svc, &a, id, "a@acme.test").await,
                    Err(CoreError::NotFound)
                ),
                "{id:.20}"
            );
        }
        assert!(matches!(
            scim_tokens::retire_old(svc, &b, &a_old_id, "a@beta.test").await,
            Err(CoreError::NotFound)
        ));
        assert_eq!(live(svc, &a).await, (1, 1));
        assert_eq!(live(svc, &b).await, (1, 1));
        scim_tokens::retire_old(svc, &a, &a_old_id, "a@acme.test")
            .await
            .unwrap();
        assert!(auth(svc, &a, &a_old).await.is_none());
        assert!(!auth(svc, &a, &a_new).await.unwrap().is_next);
        assert_eq!(
            events(svc, &a, "idm_integration_retire").await,
            ["a@acme.test"]
        );
        assert!(events(svc, &b, "idm_integration_retire").await.is_empty());
        // Twice: the token is no longer current.
        assert!(matches!(
            scim_tokens::retire_old(svc, &a, &a_old_id, "a@acme.test").await,
            Err(CoreError::NotFound)
        ));
        assert_eq!(live(svc, &b).await, (1, 1));
    }
);

db_test!(
    bad_rotations_are_refused_and_write_nothing,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, _) = org_with_admin(svc, "Acme", "a@acme.test").await;
        // No token yet.
        assert!(matches!(
            scim_tokens::rotate(svc, &org.id, "a@acme.test", GRACE_DEFAULT_MS).await,
            Err(CoreError::Conflict(_))
        ));
        scim_tokens::generate(svc, &org.id, "a@acme.test")
            .await
            .unwrap();
        for grace in [
            i64::MIN,
            -1,
            0,
            GRACE_MIN_MS - 1,
            GRACE_MAX_MS + 1,
            i64::MAX,
        ] {
            assert!(
                matches!(
                    scim_tokens::rotate(svc, &org.id, "a@acme.test", grace).await,
                    Err(CoreError::Invalid(_))
                ),
                "{grace}"
            );
        }
        assert!(matches!(
            scim_tokens::rotate(svc, "no-such-org", "a@acme.test", GRACE_DEFAULT_MS).await,
            Err(CoreError::NotFound)
        ));
        assert_eq!(live(svc, &org.id).await, (1, 0));
        assert!(events(svc, &org.id, "idm_integration_rotate")
            .await
            .is_empty());
        // Both ends of the range are accepted.
        scim_tokens::rotate(svc, &org.id, "a@acme.test", GRACE_MIN_MS)
            .await
            .unwrap();
        scim_tokens::rotate(svc, &org.id, "a@acme.test", GRACE_MAX_MS)
            .await
            .unwrap();
        assert_eq!(live(svc, &org.id).await, (1, 1));
    }
);

db_test!(
    rotate_again_replace_now_and_revoke_during_a_rotation,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, old) = org_with_token(svc, "Acme").await;
        let first = scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap()
            .into_exposed();
        t.clock.advance_ms(HOUR);
        // Rotating again replaces the unused next token and restarts the grace period.
        let second = scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_MIN_MS)
            .await
            .unwrap()
            .into_exposed();
        assert!(auth(svc, &org, &first).await.is_none());
        assert!(auth(svc, &org, &old).await.is_some());
        assert!(auth(svc, &org, &second).await.unwrap().is_next);
        let r = scim_tokens::rotation(svc, &org).await.unwrap().unwrap();
        assert_eq!(r.retire_at, svc.now() + GRACE_MIN_MS);
        assert_eq!(live(svc, &org).await, (1, 1));
        // "Replace now" replaces both.
        let replaced = scim_tokens::generate(svc, &org, "a@acme.test")
            .await
            .unwrap()
            .into_exposed();
        assert!(auth(svc, &org, &old).await.is_none());
        assert!(auth(svc, &org, &second).await.is_none());
        assert!(!auth(svc, &org, &replaced).await.unwrap().is_next);
        assert_eq!(live(svc, &org).await, (1, 0));
        assert!(scim_tokens::last_retired(svc, &org)
            .await
            .unwrap()
            .is_none());
        // The grace deadline of the replaced token is gone with it.
        t.clock.advance_ms(GRACE_MAX_MS);
        assert_eq!(scim_tokens::retire_expired(svc).await.unwrap(), 0);
        assert!(auth(svc, &org, &replaced).await.is_some());
        // Revoke during a rotation revokes both.
        let next = scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap()
            .into_exposed();
        assert!(scim_tokens::revoke(svc, &org, "a@acme.test").await.unwrap());
        assert!(auth(svc, &org, &replaced).await.is_none());
        assert!(auth(svc, &org, &next).await.is_none());
        assert_eq!(live(svc, &org).await, (0, 0));
        assert!(events(svc, &org, "idm_integration_retire").await.is_empty());
    }
);

db_test!(
    concurrent_cut_overs_retire_the_old_token_exactly_once,
    |t: TestServices| async move {
        let svc = &t.svc;
        for round in 0..3 {
            let (org, _) = org_with_token(svc, &format!("Race{round}")).await;
            scim_tokens::rotate(svc, &org, "a@x.test", GRACE_MIN_MS)
                .await
                .unwrap();
            let next = scim_tokens::rotation(svc, &org)
                .await
                .unwrap()
                .unwrap()
                .next
                .id;
            let old = scim_tokens::status(svc, &org).await.unwrap().unwrap().id;
            // The cut-over, the job (grace ended) and an admin's "retire now" all at once.
            t.clock.advance_ms(GRACE_MIN_MS);
            let mut runs = Vec::new();
            for i in 0..8 {
                let (svc, org, next, old) = (svc.clone(), org.clone(), next.clone(), old.clone());
                runs.push(tokio::spawn(async move {
                    match i % 3 {
                        0 => scim_tokens::cut_over(&svc, &org, &next).await.unwrap(),
                        1 => scim_tokens::retire_expired(&svc).await.unwrap() > 0,
                        _ => scim_tokens::retire_old(&svc, &org, &old, "a@x.test")
                            .await
                            .is_ok(),
                    }
                }));
            }
            let mut done = 0;
            for r in runs {
                done += usize::from(r.await.unwrap());
            }
            assert_eq!(done, 1, "round {round}");
            assert_eq!(events(svc, &org, "idm_integration_retire").await.len(), 1);
            assert_eq!(live(svc, &org).await, (1, 0));
            assert_eq!(
                scim_tokens::status(svc, &org).await.unwrap().unwrap().id,
                next
            );
        }
    }
);

db_test!(
    concurrent_rotations_leave_one_next_token,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, old) = org_with_token(svc, "Acme").await;
        let runs: Vec<_> = (0..6)
            .map(|_| {
                let (svc, org) = (svc.clone(), org.clone());
                tokio::spawn(async move {
                    scim_tokens::rotate(&svc, &org, "a@acme.test", GRACE_DEFAULT_MS).await
                })
            })
            .collect();
        let mut ok = Vec::new();
        for r in runs {
            match r.await.unwrap() {
                Ok(s) => ok.push(s.into_exposed()),
                Err(CoreError::Conflict(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(!ok.is_empty());
        assert_eq!(live(svc, &org).await, (1, 1));
        // Exactly one of the handed-out next tokens works: the last one.
        let working = {
            let mut n = 0;
            for tok in &ok {
                n += usize::from(auth(svc, &org, tok).await.is_some());
            }
            n
        };
        assert_eq!(working, 1);
        assert!(auth(svc, &org, &old).await.is_some());
    }
);

db_test!(
    the_database_refuses_a_second_current_or_next_token,
    |t: TestServices| async move {
        let svc = &t.svc;
        let (org, _) = org_with_token(svc, "Acme").await;
        scim_tokens::rotate(svc, &org, "a@acme.test", GRACE_DEFAULT_MS)
            .await
            .unwrap();
        for is_next in [0, 1] {
            let e = sqlx::query(
                "INSERT INTO scim_tokens (id, org_id, token_hash, created_at, created_by, is_next) \
                 VALUES ($1, $2, $3, 0, 'sql', $4)",
            )
            .bind(format!("extra{is_next}"))
            .bind(&org)
            .bind(format!("hash{is_next}"))
            .bind(is_next)
            .execute(&svc.db.pool)
            .await
            .unwrap_err();
            assert!(CoreError::is_unique_violation(&e), "{e}");
        }
        let e = sqlx::query(
            "INSERT INTO scim_tokens (id, org_id, token_hash, created_at, created_by, is_next) \
             VALUES ('bad', $1, 'h', 0, 'sql', 2)",
        )
        .bind(&org)
        .execute(&svc.db.pool)
        .await;
        assert!(e.is_err(), "is_next is 0 or 1");
    }
);
