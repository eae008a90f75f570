//! Storage tests: every test runs on SQLite and on PostgreSQL (see `portal_test_support::db_test!`).

use portal_core::admins::{self, NewAdmin};
use portal_core::{setup, CoreError};
use portal_test_support::{db_test, org_with_admin, TestServices, PW};
use sqlx::Row;

async fn count(t: &TestServices, table: &str) -> i64 {
    let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
    row.try_get::<i64, _>("n").unwrap()
}

db_test!(
    stored_password_is_argon2id_and_never_the_password,
    |t: TestServices| async move {
        let (_, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let row = sqlx::query("SELECT password_hash FROM admins WHERE id = $1")
            .bind(&admin.id)
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap();
        let hash: String = row.try_get("password_hash").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_ne!(hash, PW);
        assert!(!hash.contains(PW));
    }
);

db_test!(
    create_admin_reuses_org_by_name_and_refuses_duplicate_email,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (org2, _, created) = admins::create_admin(
            &t.svc,
            NewAdmin {
                org_name: "ACME",
                email: "b@acme.test",
                password: PW,
            },
        )
        .await
        .unwrap();
        assert!(!created);
        assert_eq!(org.id, org2.id);
        // Same email, any case: refused, nothing written.
        let before = (count(&t, "orgs").await, count(&t, "admins").await);
        let err = admins::create_admin(
            &t.svc,
            NewAdmin {
                org_name: "Other Org",
                email: "A@ACME.test",
                password: PW,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CoreError::Conflict(_)), "{err:?}");
        assert_eq!(before, (count(&t, "orgs").await, count(&t, "admins").await));
        assert!(portal_core::ids::is_valid_org_id(&org.id));
    }
);

db_test!(
    bad_admin_input_changes_nothing,
    |t: TestServices| async move {
        let long = "x".repeat(10_000);
        let cases: Vec<(&str, &str, &str)> = vec![
            ("", "a@b.test", PW),
            ("Org", "", PW),
            ("Org", "not-an-email", PW),
            ("Org", "a@b.test", "short"),
            (&long, "a@b.test", PW),
            ("Org", &long, PW),
            ("Org", "a@b.test", &long),
            ("Org\u{0}", "a@b.test", PW),
        ];
        for (org_name, email, password) in cases {
            let err = admins::create_admin(
                &t.svc,
                NewAdmin {
                    org_name,
                    email,
                    password,
                },
            )
            .await
            .unwrap_err();
            assert!(matches!(err, CoreError::Invalid(_)), "{err:?}");
        }
        assert_eq!(count(&t, "orgs").await, 0);
        assert_eq!(count(&t, "admins").await, 0);
    }
);

db_test!(
    setup_token_works_exactly_once,
    |t: TestServices| async move {
        let token = setup::issue_token_if_empty(&t.svc)
            .await
            .unwrap()
            .expect("empty db gets a token");
        // Only the hash is stored.
        let stored: String = sqlx::query("SELECT token_hash FROM setup_tokens")
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap()
            .try_get("token_hash")
            .unwrap();
        assert_ne!(stored, token.expose());
        assert!(setup::token_is_valid(&t.svc, token.expose()).await.unwrap());
        assert!(!setup::token_is_valid(&t.svc, "wrong").await.unwrap());

        // A wrong token changes nothing.
        let input = || NewAdmin {
            org_name: "Acme",
            email: "a@acme.test",
            password: PW,
        };
        let err = setup::complete(&t.svc, "wrong-token", input())
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::SetupTokenInvalid));
        // Invalid fields with the right token change nothing and do not burn the token.
        let err = setup::complete(
            &t.svc,
            token.expose(),
            NewAdmin {
                org_name: "Acme",
                email: "bad",
                password: PW,
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::InvalidField {
                    field: portal_core::Field::Email,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(count(&t, "orgs").await, 0);

        let (org, admin) = setup::complete(&t.svc, token.expose(), input())
            .await
            .unwrap();
        assert_eq!(org.name, "Acme");
        assert_eq!(admin.email, "a@acme.test");

        let err = setup::complete(
            &t.svc,
            token.expose(),
            NewAdmin {
                org_name: "Second",
                email: "x@y.test",
                password: PW,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CoreError::SetupTokenInvalid));
        assert!(!setup::token_is_valid(&t.svc, token.expose()).await.unwrap());
        assert_eq!(count(&t, "orgs").await, 1);
        // Once an organisation exists, no new setup token is issued.
        assert!(setup::issue_token_if_empty(&t.svc).await.unwrap().is_none());
    }
);

db_test!(setup_token_expires, |t: TestServices| async move {
    let token = setup::issue_token_if_empty(&t.svc).await.unwrap().unwrap();
    t.clock.advance_ms(t.svc.settings.setup_token_ttl_ms + 1);
    let err = setup::complete(
        &t.svc,
        token.expose(),
        NewAdmin {
            org_name: "Acme",
            email: "a@acme.test",
            password: PW,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CoreError::SetupTokenInvalid));
});

db_test!(
    sign_in_same_error_for_unknown_email_and_wrong_password,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let wrong = admins::authenticate(&t.svc, "a@acme.test", "wrong password!", "10.0.0.1")
            .await
            .unwrap_err();
        let unknown =
            admins::authenticate(&t.svc, "nobody@acme.test", "wrong password!", "10.0.0.2")
                .await
                .unwrap_err();
        assert_eq!(wrong.to_string(), unknown.to_string());
        assert!(matches!(wrong, CoreError::BadCredentials));
        let ok = admins::authenticate(&t.svc, "A@Acme.test", PW, "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(ok.email, "a@acme.test");
    }
);

db_test!(
    sign_in_is_throttled_per_account_and_client_then_released,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        for _ in 0..5 {
            let err = admins::authenticate(&t.svc, "a@acme.test", "wrong password!", "10.0.0.1")
                .await
                .unwrap_err();
            assert!(matches!(err, CoreError::BadCredentials));
        }
        // Even the right password is refused from that client now, with a time to retry.
        let err = admins::authenticate(&t.svc, "a@acme.test", PW, "10.0.0.1")
            .await
            .unwrap_err();
        match err {
            CoreError::Throttled { retry_after_secs } => {
                assert!(retry_after_secs > 0 && retry_after_secs <= 15 * 60)
            }
            other => panic!("expected throttling, got {other:?}"),
        }
        assert!(err_text_mentions_minutes(&t, "10.0.0.1").await);
        // A guesser elsewhere does not lock the admin out of their own network.
        admins::authenticate(&t.svc, "a@acme.test", PW, "10.9.9.9")
            .await
            .unwrap();
        t.clock.advance_ms(15 * 60 * 1000 + 1);
        admins::authenticate(&t.svc, "a@acme.test", PW, "10.0.0.1")
            .await
            .unwrap();
    }
);

db_test!(
    account_wide_limit_stops_distributed_guessing_but_not_a_trusted_device,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        // The real admin signed in once on their browser: it became a trusted device.
        let first = admins::authenticate_device(&t.svc, "a@acme.test", PW, "10.0.0.1", None)
            .await
            .unwrap();
        let device = first.new_device.expect("a new device token").into_exposed();
        let policy = t.svc.settings.throttle;
        // Guesses from many addresses exhaust the account-wide limit (the admin's own sign-in
        // above counted as one attempt)…
        for i in 0..policy.max_per_account - 1 {
            let err = admins::authenticate(
                &t.svc,
                "a@acme.test",
                "wrong password!",
                &format!("198.51.100.{i}"),
            )
            .await
            .unwrap_err();
            assert!(matches!(err, CoreError::BadCredentials), "{err:?}");
        }
        // …so a fresh browser from yet another address is held back (even with the password)…
        let err = admins::authenticate(&t.svc, "a@acme.test", PW, "203.0.113.7")
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::Throttled { .. }), "{err:?}");
        // …but the admin's trusted browser still gets in, and is not given a second token.
        let again =
            admins::authenticate_device(&t.svc, "a@acme.test", PW, "10.0.0.1", Some(&device))
                .await
                .unwrap();
        assert!(again.new_device.is_none());
        // A device token is worth nothing for another account, nor when made up.
        org_with_admin(&t.svc, "Globex", "b@globex.test").await;
        for i in 0..policy.max_per_account {
            let _ = admins::authenticate(
                &t.svc,
                "b@globex.test",
                "wrong password!",
                &format!("198.51.101.{i}"),
            )
            .await;
        }
        for forged in [device.as_str(), "made-up-device-token"] {
            let err =
                admins::authenticate_device(&t.svc, "b@globex.test", PW, "10.0.0.1", Some(forged))
                    .await
                    .unwrap_err();
            assert!(matches!(err, CoreError::Throttled { .. }), "{err:?}");
        }
        // Only the token's hash is stored.
        let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM admin_devices")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(stored, vec![(portal_core::secret::sha256_hex(&device),)]);
    }
);

db_test!(
    refused_attempts_do_not_extend_a_lock_and_each_key_keeps_its_window,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        for _ in 0..5 {
            let _ =
                admins::authenticate(&t.svc, "a@acme.test", "wrong password!", "10.0.0.1").await;
        }
        // Hammering while locked records nothing: the lock ends when the first five age out.
        for _ in 0..50 {
            t.clock.advance_ms(10_000);
            let _ =
                admins::authenticate(&t.svc, "a@acme.test", "wrong password!", "10.0.0.1").await;
        }
        t.clock.advance_ms(15 * 60 * 1000 - 500_000 + 1);
        admins::authenticate(&t.svc, "a@acme.test", PW, "10.0.0.1")
            .await
            .unwrap();
        // Pruning keeps an hour-long key's hits for its hour, not the 15-minute window.
        portal_core::magic_links::request(&t.svc, "x@acme.test", "10.0.0.2")
            .await
            .unwrap();
        t.clock.advance_ms(20 * 60 * 1000);
        portal_core::throttle::prune(&t.svc.db, t.svc.now())
            .await
            .unwrap();
        let (left,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM auth_failures WHERE key LIKE 'ml-%'")
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(
            left, 3,
            "the hourly magic-link hits survive a 20-minute-old prune"
        );
        t.clock.advance_ms(41 * 60 * 1000);
        portal_core::throttle::prune(&t.svc.db, t.svc.now())
            .await
            .unwrap();
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM auth_failures")
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
);

async fn err_text_mentions_minutes(t: &TestServices, client: &str) -> bool {
    match admins::authenticate(&t.svc, "a@acme.test", PW, client).await {
        Err(e) => e.to_string().contains("Try again in"),
        Ok(_) => false,
    }
}

db_test!(
    sign_in_is_throttled_per_client_address,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        for i in 0..20 {
            let _ = admins::authenticate(
                &t.svc,
                &format!("u{i}@acme.test"),
                "wrong password!",
                "10.1.1.1",
            )
            .await;
        }
        let err = admins::authenticate(&t.svc, "a@acme.test", PW, "10.1.1.1")
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::Throttled { .. }), "{err:?}");
        // Another address is not affected.
        admins::authenticate(&t.svc, "a@acme.test", PW, "10.2.2.2")
            .await
            .unwrap();
    }
);

db_test!(
    a_sign_in_refused_as_busy_does_not_count_against_the_user,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        // One argon2 run at a time and no queue: concurrent attempts beyond the first are busy.
        let mut svc = t.svc.clone();
        svc.argon2 = std::sync::Arc::new(portal_core::password::Argon2Pool::new(1, 0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let svc = svc.clone();
                tokio::spawn(async move {
                    admins::authenticate(&svc, "a@acme.test", "wrong password!", "10.0.0.1").await
                })
            })
            .collect();
        let (mut checked, mut busy) = (0, 0);
        for h in handles {
            match h.await.unwrap() {
                Err(CoreError::BadCredentials) => checked += 1,
                Err(CoreError::Busy { .. }) => busy += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(checked >= 1 && checked + busy == 4, "{checked} {busy}");
        let (hits,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM auth_failures WHERE key = 'acct-ip:a@acme.test:10.0.0.1'",
        )
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(hits, checked, "only checked passwords count");
    }
);
