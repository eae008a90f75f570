//! The second factor (issue 12): TOTP enrolment and verification (window, replay, races),
//! recovery codes (single use, races), the per-admin throttle, `require_2fa`, turning the app
//! off, and passkeys' ownership checks; on SQLite and PostgreSQL.

use std::sync::Arc;

use portal_core::admins::{Admin, Role};
use portal_core::two_factor::{self as tf, Presented};
use portal_core::{passkeys, CoreError, Services};
use portal_test_support::{add_admin, db_test, org_with_admin, TestServices, PW};

/// The admin's stored (base32) TOTP secret, as raw bytes.
async fn secret_of(t: &TestServices, admin: &Admin) -> Vec<u8> {
    let (b32,): (String,) = sqlx::query_as("SELECT secret FROM admin_totp WHERE admin_id = $1")
        .bind(&admin.id)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
    data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap()
}

fn code_at(secret: &[u8], t: &TestServices, step_offset: i64) -> String {
    tf::totp_code(secret, tf::step_at(t.svc.now()) + step_offset)
}

/// Begins and confirms an app; returns its secret and the recovery codes.
async fn enrol(t: &TestServices, admin: &Admin) -> (Vec<u8>, Vec<String>) {
    tf::begin_totp(&t.svc, admin).await.unwrap();
    let secret = secret_of(t, admin).await;
    let codes = tf::confirm_totp(&t.svc, admin, &code_at(&secret, t, 0))
        .await
        .unwrap();
    (
        secret,
        codes.into_iter().map(|c| c.into_exposed()).collect(),
    )
}

async fn events_named(t: &TestServices, name: &str) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT success, message FROM events WHERE name = $1 ORDER BY seq")
        .bind(name)
        .fetch_all(&t.svc.db.pool)
        .await
        .unwrap()
}

/// Moves the clock to the start of a fresh TOTP step, so `±1 step` arithmetic is exact.
fn to_step_start(t: &TestServices) {
    let now = t.svc.now();
    t.clock.set_ms((tf::step_at(now) + 2) * tf::TOTP_STEP_MS);
}

db_test!(
    totp_enrolment_needs_a_current_code_and_gives_ten_hashed_recovery_codes,
    |t: TestServices| async move {
        to_step_start(&t);
        let (_, admin) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        assert!(!tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        // Confirming before beginning: nothing to confirm.
        assert!(matches!(
            tf::confirm_totp(&t.svc, &admin, "123456").await,
            Err(CoreError::Conflict(_))
        ));
        tf::begin_totp(&t.svc, &admin).await.unwrap();
        let status = tf::status(&t.svc.db, &admin).await.unwrap();
        let setup = status.totp_setup.expect("an unconfirmed setup is shown");
        assert!(!status.totp_enabled);
        assert!(setup
            .uri
            .starts_with("otpauth://totp/Identity%20portal:admin%40acme.test?secret="));
        assert!(setup.qr_data_url.starts_with("data:image/svg+xml;base64,"));
        // Unconfirmed: not a factor yet.
        assert!(!tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        let secret = secret_of(&t, &admin).await;
        assert_eq!(secret.len(), 20);
        // The manual key is the stored secret.
        let key: String = setup.manual_key.split(' ').collect();
        assert_eq!(
            data_encoding::BASE32_NOPAD.decode(key.as_bytes()).unwrap(),
            secret
        );
        // Wrong, malformed and out-of-window codes are refused.
        let bads = [
            "000000".to_string(),
            "12345".to_string(),
            "abcdef".to_string(),
            code_at(&secret, &t, -2),
            code_at(&secret, &t, 2),
        ];
        for bad in &bads {
            if *bad == code_at(&secret, &t, 0) {
                continue;
            }
            assert!(
                matches!(
                    tf::confirm_totp(&t.svc, &admin, bad).await,
                    Err(CoreError::Invalid(_))
                ),
                "{bad}"
            );
        }
        let codes = tf::confirm_totp(&t.svc, &admin, &code_at(&secret, &t, 0))
            .await
            .unwrap();
        assert_eq!(codes.len(), 10);
        assert!(tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        let stored: Vec<(String,)> =
            sqlx::query_as("SELECT code_hash FROM admin_recovery_codes WHERE admin_id = $1")
                .bind(&admin.id)
                .fetch_all(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(stored.len(), 10);
        for c in &codes {
            assert_eq!(c.expose().len(), 19);
            assert!(stored
                .iter()
                .all(|(h,)| !h.contains(c.expose()) && h.len() == 64));
        }
        // A second setup is refused while the first is on.
        assert!(matches!(
            tf::begin_totp(&t.svc, &admin).await,
            Err(CoreError::Conflict(_))
        ));
        assert_eq!(events_named(&t, "admin_2fa_totp_enabled").await.len(), 1);
    }
);

db_test!(
    totp_codes_are_accepted_within_one_step_and_never_twice,
    |t: TestServices| async move {
        to_step_start(&t);
        let (_, admin) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (secret, _) = enrol(&t, &admin).await;
        // The code used to confirm cannot sign in.
        let confirm_code = code_at(&secret, &t, 0);
        assert!(matches!(
            tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&confirm_code)).await,
            Err(CoreError::Invalid(_))
        ));
        // The next step's code is within the window (a clock ahead by one step).
        let next = code_at(&secret, &t, 1);
        tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&next))
            .await
            .unwrap();
        assert!(tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&next))
            .await
            .is_err());
        // Thirty seconds on, "now" is that same step: still used.
        t.clock.advance_ms(tf::TOTP_STEP_MS);
        assert!(
            tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&code_at(&secret, &t, 0)))
                .await
                .is_err()
        );
        // An older step's code (within the window) is refused: a later one was used.
        assert!(
            tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&code_at(&secret, &t, -1)))
                .await
                .is_err()
        );
        // Another 30 s: the new current code works, and spaces are ignored.
        t.clock.advance_ms(tf::TOTP_STEP_MS);
        let c = code_at(&secret, &t, 0);
        let spaced = format!("{} {}", &c[..3], &c[3..]);
        tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&spaced))
            .await
            .unwrap();
        // Two steps ahead is outside the window.
        let far = code_at(&secret, &t, 2);
        if far != code_at(&secret, &t, 1) {
            assert!(tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&far))
                .await
                .is_err());
        }
        let ok = events_named(&t, "admin_sign_in_2fa").await;
        assert_eq!(ok.len(), 2);
        let failed = events_named(&t, "admin_sign_in_2fa_failed").await;
        assert!(failed.iter().all(|(success, _)| *success == 0));
        assert!(failed.len() >= 3);
    }
);

db_test!(
    racing_submissions_of_one_totp_code_pass_once,
    |t: TestServices| async move {
        to_step_start(&t);
        let (_, admin) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (secret, _) = enrol(&t, &admin).await;
        let code = code_at(&secret, &t, 1);
        let svc = Arc::new(t.svc.clone());
        let mut tasks = Vec::new();
        for _ in 0..tf::MAX_FAILURES {
            let (svc, admin, code) = (svc.clone(), admin.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                tf::verify_sign_in(&svc, &admin, Presented::Totp(&code)).await
            }));
        }
        let mut passed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => passed += 1,
                Err(CoreError::Invalid(_) | CoreError::Throttled { .. }) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(passed, 1, "exactly one racing submission passes");
    }
);

db_test!(
    recovery_codes_work_once_even_when_raced,
    |t: TestServices| async move {
        to_step_start(&t);
        let (_, admin) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let (_, codes) = enrol(&t, &admin).await;
        // Case and separators do not matter.
        let first = codes[0].to_uppercase().replace('-', " ");
        tf::verify_sign_in(&t.svc, &admin, Presented::RecoveryCode(&first))
            .await
            .unwrap();
        assert!(matches!(
            tf::verify_sign_in(&t.svc, &admin, Presented::RecoveryCode(&codes[0])).await,
            Err(CoreError::Invalid(_))
        ));
        let used = events_named(&t, "admin_2fa_recovery_used").await;
        assert_eq!(used.len(), 1);
        assert!(used[0].1.contains("9 left"), "{used:?}");
        // Another admin's code is not this admin's.
        let other = add_admin(&t.svc, &admin.org_id, "other@acme.test", Role::Admin).await;
        let (_, other_codes) = enrol(&t, &other).await;
        assert!(
            tf::verify_sign_in(&t.svc, &admin, Presented::RecoveryCode(&other_codes[0]))
                .await
                .is_err()
        );
        // A race over one code: exactly one passes.
        let svc = Arc::new(t.svc.clone());
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (svc, admin, code) = (svc.clone(), admin.clone(), codes[1].clone());
            tasks.push(tokio::spawn(async move {
                tf::verify_sign_in(&svc, &admin, Presented::RecoveryCode(&code)).await
            }));
        }
        let mut passed = 0;
        for task in tasks {
            if task.await.unwrap().is_ok() {
                passed += 1;
            }
        }
        assert_eq!(passed, 1);
        assert_eq!(
            tf::status(&t.svc.db, &admin)
                .await
                .unwrap()
                .recovery_codes_left,
            8
        );
        // Regenerating replaces every code.
        let fresh = tf::regenerate_recovery_codes(&t.svc, &admin).await.unwrap();
        assert_eq!(
            tf::status(&t.svc.db, &admin)
                .await
                .unwrap()
                .recovery_codes_left,
            10
        );
        t.clock.advance_ms(tf::FAILURE_WINDOW_MS);
        assert!(
            tf::verify_sign_in(&t.svc, &admin, Presented::RecoveryCode(&codes[2]))
                .await
                .is_err()
        );
        tf::verify_sign_in(&t.svc, &admin, Presented::RecoveryCode(fresh[0].expose()))
            .await
            .unwrap();
    }
);

db_test!(
    wrong_codes_are_throttled_per_admin,
    |t: TestServices| async move {
        to_step_start(&t);
        let (_, admin) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        let other = add_admin(&t.svc, &admin.org_id, "other@acme.test", Role::Viewer).await;
        let (secret, _) = enrol(&t, &admin).await;
        let (other_secret, _) = enrol(&t, &other).await;
        for _ in 0..tf::MAX_FAILURES {
            assert!(matches!(
                tf::verify_sign_in(&t.svc, &admin, Presented::Totp("000000")).await,
                Err(CoreError::Invalid(_))
            ));
        }
        // Now even the right code is refused, without being checked.
        let good = code_at(&secret, &t, 1);
        assert!(matches!(
            tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&good)).await,
            Err(CoreError::Throttled { .. })
        ));
        assert_eq!(
            events_named(&t, "admin_sign_in_2fa_failed").await.len(),
            tf::MAX_FAILURES as usize
        );
        // Another admin is not held up.
        tf::verify_sign_in(
            &t.svc,
            &other,
            Presented::Totp(&code_at(&other_secret, &t, 1)),
        )
        .await
        .unwrap();
        // After the window, the code (not used, since it was never checked) works.
        t.clock.advance_ms(tf::FAILURE_WINDOW_MS);
        tf::verify_sign_in(&t.svc, &admin, Presented::Totp(&code_at(&secret, &t, 0)))
            .await
            .unwrap();
    }
);

db_test!(
    require_2fa_and_turning_the_app_off,
    |t: TestServices| async move {
        to_step_start(&t);
        let (org, admin) = org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
        assert!(!tf::enrolment_required(&t.svc.db, &admin.id, &org.id)
            .await
            .unwrap());
        sqlx::query("UPDATE orgs SET require_2fa = 1 WHERE id = $1")
            .bind(&org.id)
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        assert!(tf::enrolment_required(&t.svc.db, &admin.id, &org.id)
            .await
            .unwrap());
        let (secret, _) = enrol(&t, &admin).await;
        assert!(!tf::enrolment_required(&t.svc.db, &admin.id, &org.id)
            .await
            .unwrap());
        // The last factor cannot go while the org requires one; nothing changes.
        let err = tf::disable_totp(&t.svc, &admin, PW).await.unwrap_err();
        assert!(matches!(err, CoreError::Conflict(_)), "{err:?}");
        assert!(tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        assert_eq!(
            tf::status(&t.svc.db, &admin)
                .await
                .unwrap()
                .recovery_codes_left,
            10
        );
        sqlx::query("UPDATE orgs SET require_2fa = 0 WHERE id = $1")
            .bind(&org.id)
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        // Neither a wrong password nor a wrong code nor nothing turns it off.
        for bad in ["not my password", "000000"] {
            assert!(matches!(
                tf::disable_totp(&t.svc, &admin, bad).await,
                Err(CoreError::Invalid(_))
            ));
        }
        assert!(matches!(
            tf::disable_totp(&t.svc, &admin, " ").await,
            Err(CoreError::Invalid(_))
        ));
        assert!(tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        // A current code does, and the recovery codes go with the last factor.
        tf::disable_totp(&t.svc, &admin, &code_at(&secret, &t, 1))
            .await
            .unwrap();
        assert!(!tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        let status = tf::status(&t.svc.db, &admin).await.unwrap();
        assert_eq!(status.recovery_codes_left, 0);
        assert!(status.totp_setup.is_none() && !status.totp_enabled);
        assert_eq!(events_named(&t, "admin_2fa_totp_disabled").await.len(), 1);
        // And with the password.
        let (_, _) = enrol(&t, &admin).await;
        tf::disable_totp(&t.svc, &admin, PW).await.unwrap();
        assert!(!tf::has_factor(&t.svc.db, &admin.id).await.unwrap());
        // Regenerating codes without a factor is refused.
        assert!(matches!(
            tf::regenerate_recovery_codes(&t.svc, &admin).await,
            Err(CoreError::Conflict(_))
        ));
    }
);

fn with_public_url(svc: &Services, url: &str) -> Services {
    let mut svc = svc.clone();
    let mut settings = (*svc.settings).clone();
    settings.public_url = url.into();
    svc.settings = Arc::new(settings);
    svc
}

db_test!(
    passkeys_belong_to_their_admin_and_need_a_domain,
    |t: TestServices| async move {
        let (_, a) = org_with_admin(&t.svc, "Alpha", "admin@alpha.test").await;
        let (_, b) = org_with_admin(&t.svc, "Bravo", "admin@bravo.test").await;
        // An IP address cannot be a WebAuthn relying party.
        assert!(!passkeys::available(&t.svc));
        assert!(matches!(
            passkeys::begin_registration(&t.svc, &a, "Laptop").await,
            Err(CoreError::Conflict(_))
        ));
        let svc = with_public_url(&t.svc, "https://portal.example.com");
        assert!(passkeys::available(&svc));
        for bad in ["", "   ", &"x".repeat(61), "bad\u{7}name"] {
            assert!(matches!(
                passkeys::begin_registration(&svc, &a, bad).await,
                Err(CoreError::Invalid(_))
            ));
        }
        let (options, ceremony) = passkeys::begin_registration(&svc, &a, "Laptop")
            .await
            .unwrap();
        let options: serde_json::Value = serde_json::from_str(&options).unwrap();
        assert_eq!(options["publicKey"]["rp"]["id"], "portal.example.com");
        assert!(options["publicKey"]["challenge"]
            .as_str()
            .is_some_and(|c| c.len() >= 43));
        // B cannot finish A's ceremony, nor anyone a missing one; garbage is refused cleanly.
        assert!(matches!(
            passkeys::finish_registration(&svc, &b, Some(ceremony), "{}").await,
            Err(CoreError::Invalid(_))
        ));
        assert!(matches!(
            passkeys::finish_registration(&svc, &a, None, "{}").await,
            Err(CoreError::Invalid(_))
        ));
        let (_, ceremony) = passkeys::begin_registration(&svc, &a, "Laptop")
            .await
            .unwrap();
        assert!(matches!(
            passkeys::finish_registration(&svc, &a, Some(ceremony), "not json").await,
            Err(CoreError::Invalid(_))
        ));
        // An expired ceremony is refused.
        let (_, ceremony) = passkeys::begin_registration(&svc, &a, "Laptop")
            .await
            .unwrap();
        t.clock.advance_ms(passkeys::CEREMONY_TTL_MS);
        assert!(matches!(
            passkeys::finish_registration(&svc, &a, Some(ceremony), "{}").await,
            Err(CoreError::Invalid(_))
        ));
        // Stored passkeys: B cannot remove A's; A can, and it counts as a factor until then.
        for (admin, id) in [(&a, "pk-a"), (&b, "pk-b")] {
            sqlx::query(
                "INSERT INTO admin_passkeys (id, admin_id, name, credential_id, passkey, created_at) \
                 VALUES ($1, $2, 'Key', $1, '{}', 0)",
            )
            .bind(id)
            .bind(&admin.id)
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        }
        assert!(tf::has_factor(&t.svc.db, &a.id).await.unwrap());
        assert!(matches!(
            passkeys::remove(&svc, &b, "pk-a").await,
            Err(CoreError::NotFound)
        ));
        assert!(matches!(
            passkeys::remove(&svc, &b, "").await,
            Err(CoreError::NotFound)
        ));
        assert_eq!(passkeys::list(&t.svc.db, &a.id).await.unwrap().len(), 1);
        passkeys::remove(&svc, &a, "pk-a").await.unwrap();
        assert!(passkeys::list(&t.svc.db, &a.id).await.unwrap().is_empty());
        assert!(!tf::has_factor(&t.svc.db, &a.id).await.unwrap());
        assert_eq!(events_named(&t, "admin_2fa_passkey_removed").await.len(), 1);
        // A sign-in ceremony needs a passkey to exist.
        assert!(matches!(
            passkeys::begin_authentication(&svc, &a).await,
            Err(CoreError::Conflict(_))
        ));
    }
);

db_test!(
    a_double_click_on_new_recovery_codes_leaves_ten_working_codes,
    |t: TestServices| async move {
        let (_org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        enrol(&t, &admin).await;
        let runs = (0..4).map(|_| tf::regenerate_recovery_codes(&t.svc, &admin));
        let results = futures::future::join_all(runs).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let working: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM admin_recovery_codes WHERE admin_id = $1 AND used_at IS NULL",
        )
        .bind(&admin.id)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(working, 10);
    }
);
