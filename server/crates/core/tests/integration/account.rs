//! The admin's own account (`portal_core::account`) on both databases, with the manual clock:
//! password change, password reset by mail, "Your sessions".

use std::collections::HashMap;

use portal_core::account::{self, Ended, RESET_LINK_INVALID, RESET_TTL_MS};
use portal_core::admins::{self, Admin, Role};
use portal_core::session::{AdminSessionMeta, AdminSignInMethod, ADMIN_ID_KEY, ADMIN_META_KEY};
use portal_core::session_store::DbSessionStore;
use portal_core::{CoreError, Field};
use portal_test_support::{add_admin, db_test, org_with_admin, TestServices, PW};
use sqlx::Row;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

const NEW_PW: &str = "a brand new long passphrase";

/// A stored admin session, as the session layer writes it at sign-in; returns its id (the value
/// of the session cookie).
async fn session_of(
    t: &TestServices,
    admin: &Admin,
    method: AdminSignInMethod,
    client: &str,
) -> String {
    let store = DbSessionStore::new(t.svc.db.clone());
    let mut data = HashMap::new();
    data.insert(ADMIN_ID_KEY.to_string(), serde_json::json!(admin.id));
    data.insert(
        ADMIN_META_KEY.to_string(),
        serde_json::to_value(AdminSessionMeta {
            method,
            client: client.to_string(),
            started_at: t.svc.now(),
            reauthenticated_at: None,
        })
        .unwrap(),
    );
    let mut record = Record {
        id: Id::default(),
        data,
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    record.id.to_string()
}

/// A session row as stored before migration 0009: no owner columns, the admin only in the data.
async fn legacy_session_of(t: &TestServices, admin: &Admin) -> String {
    let id = Id::default().to_string();
    let data = serde_json::json!({ ADMIN_ID_KEY: admin.id }).to_string();
    let expires =
        (tower_sessions::cookie::time::OffsetDateTime::now_utc().unix_timestamp() + 3600) * 1000;
    sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(data)
        .bind(expires)
        .execute(&t.svc.db.pool)
        .await
        .unwrap();
    id
}

async fn session_exists(t: &TestServices, id: &str) -> bool {
    let store = DbSessionStore::new(t.svc.db.clone());
    store
        .load(&id.parse::<Id>().unwrap())
        .await
        .unwrap()
        .is_some()
}

async fn trusted_device(t: &TestServices, admin: &Admin) -> String {
    let token = portal_core::secret::Secret::generate();
    sqlx::query(
        "INSERT INTO admin_devices (token_hash, admin_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)",
    )
    .bind(token.hash())
    .bind(&admin.id)
    .bind(t.svc.now())
    .execute(&t.svc.db.pool)
    .await
    .unwrap();
    token.into_exposed()
}

async fn device_hashes(t: &TestServices, admin: &Admin) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT token_hash FROM admin_devices WHERE admin_id = $1 ORDER BY 1")
            .bind(&admin.id)
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
    rows.into_iter().map(|(h,)| h).collect()
}

async fn signs_in(t: &TestServices, email: &str, password: &str) -> bool {
    match admins::authenticate(&t.svc, email, password, "10.9.9.9").await {
        Ok(_) => true,
        Err(CoreError::BadCredentials) => false,
        Err(e) => panic!("sign-in failed unexpectedly: {e:?}"),
    }
}

/// (name, success, message) of the org's events, oldest first.
async fn events(t: &TestServices, org_id: &str) -> Vec<(String, bool, String, String)> {
    let rows = sqlx::query(
        "SELECT name, success, actor, message FROM events WHERE org_id = $1 ORDER BY at, seq",
    )
    .bind(org_id)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("name").unwrap(),
                r.try_get::<i64, _>("success").unwrap() != 0,
                r.try_get("actor").unwrap(),
                r.try_get("message").unwrap(),
            )
        })
        .collect()
}

async fn mails_to(t: &TestServices, to: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT body_text FROM mail_outbox WHERE to_addr = $1 ORDER BY created_at, id",
    )
    .bind(to)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(b,)| b).collect()
}

async fn mail_count(t: &TestServices) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM mail_outbox")
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
        .0
}

/// The reset token in a mail's text.
fn token_in(mail: &str) -> String {
    let start = mail
        .find("/admin/reset-password?token=")
        .expect("a reset link in the mail")
        + "/admin/reset-password?token=".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Requests a reset for `email` and returns the token of the newest mail to it.
async fn reset_token(t: &TestServices, email: &str, client: &str) -> String {
    account::request_reset(&t.svc, email, client).await.unwrap();
    let mails = mails_to(t, email).await;
    token_in(mails.last().expect("a reset mail"))
}

fn field_of(e: &CoreError) -> Option<Field> {
    e.field()
}

db_test!(
    change_password_needs_the_current_one_and_ends_only_the_other_sessions,
    |t: TestServices| async move {
        let (org, admin) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let viewer = add_admin(&t.svc, &org.id, "viewer@acme.test", Role::Viewer).await;
        let this = session_of(
            &t,
            &admin,
            AdminSignInMethod::Password,
            "Firefox on Linux · 10.0.0.1",
        )
        .await;
        let other1 = session_of(
            &t,
            &admin,
            AdminSignInMethod::Password,
            "Chrome on Windows · 10.0.0.2",
        )
        .await;
        let other2 = session_of(
            &t,
            &admin,
            AdminSignInMethod::PasswordTotp,
            "Safari on iOS · 10.0.0.3",
        )
        .await;
        let viewers = session_of(
            &t,
            &viewer,
            AdminSignInMethod::Password,
            "Edge on Windows · 10.0.0.4",
        )
        .await;
        let this_device = trusted_device(&t, &admin).await;
        let _other_device = trusted_device(&t, &admin).await;
        let viewer_device = trusted_device(&t, &viewer).await;
        let pending_reset = reset_token(&t, "owner@acme.test", "10.0.0.1").await;

        // Wrong current password: refused on its field, nothing changes, the refusal is recorded.
        let e = account::change_password(
            &t.svc,
            &admin,
            "not my password",
            NEW_PW,
            Some(&this),
            Some(&this_device),
        )
        .await
        .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::CurrentPassword), "{e:?}");
        assert_eq!(e.to_string(), "The current password is incorrect.");
        for id in [&this, &other1, &other2, &viewers] {
            assert!(session_exists(&t, id).await);
        }
        assert!(signs_in(&t, "owner@acme.test", PW).await);
        let ev = events(&t, &org.id).await;
        assert!(
            ev.iter()
                .any(|(n, ok, actor, _)| n == "admin_password_change"
                    && !ok
                    && actor == "owner@acme.test"),
            "{ev:?}"
        );

        // The new password follows the setup policy and must differ; an empty current one is asked for.
        let e = account::change_password(&t.svc, &admin, PW, "short", Some(&this), None)
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::Password), "{e:?}");
        let e = account::change_password(&t.svc, &admin, PW, PW, Some(&this), None)
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::Password), "{e:?}");
        let e = account::change_password(&t.svc, &admin, "", NEW_PW, Some(&this), None)
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::CurrentPassword), "{e:?}");
        let e = account::change_password(
            &t.svc,
            &admin,
            PW,
            "twelve chars\0 and a NUL",
            Some(&this),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::Password), "{e:?}");
        assert!(signs_in(&t, "owner@acme.test", PW).await);
        // (Each sign-in above, from a browser without the cookie, made a trusted device too.)
        let devices_before = device_hashes(&t, &admin).await.len() as u64;
        assert!(devices_before >= 2);

        let changed =
            account::change_password(&t.svc, &admin, PW, NEW_PW, Some(&this), Some(&this_device))
                .await
                .unwrap();
        assert_eq!(changed.sessions_ended, 2);
        assert_eq!(changed.devices_forgotten, devices_before - 1);
        assert!(session_exists(&t, &this).await, "this session stays");
        assert!(!session_exists(&t, &other1).await);
        assert!(!session_exists(&t, &other2).await);
        assert!(
            session_exists(&t, &viewers).await,
            "another admin's session is not touched"
        );
        assert_eq!(
            device_hashes(&t, &admin).await,
            vec![portal_core::secret::sha256_hex(&this_device)]
        );
        assert_eq!(
            device_hashes(&t, &viewer).await,
            vec![portal_core::secret::sha256_hex(&viewer_device)]
        );
        assert!(
            !signs_in(&t, "owner@acme.test", PW).await,
            "the old password no longer signs in"
        );
        assert!(signs_in(&t, "owner@acme.test", NEW_PW).await);
        assert!(signs_in(&t, "viewer@acme.test", PW).await);
        let acct = account::account(&t.svc, &admin).await.unwrap();
        assert_eq!(acct.password_changed_at, Some(t.svc.now()));
        // A reset link asked for before the change still works: it proves the mailbox, and
        // someone holding a session and the password must not be able to block a reset.
        assert!(account::reset_link_is_valid(&t.svc, &pending_reset)
            .await
            .unwrap());
        let ev = events(&t, &org.id).await;
        assert!(
            ev.iter()
                .any(|(n, ok, actor, m)| n == "admin_password_change"
                    && *ok
                    && actor == "owner@acme.test"
                    && m.contains("2 other session(s) ended")),
            "{ev:?}"
        );
        // The stored hash is argon2id, never the password.
        let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM admins WHERE id = $1")
            .bind(&admin.id)
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$") && !hash.contains(NEW_PW));
    }
);

db_test!(
    checks_of_the_current_password_are_throttled,
    |t: TestServices| async move {
        let (_, admin) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        for i in 0..account::PASSWORD_CHECKS_PER_WINDOW {
            let e = account::change_password(
                &t.svc,
                &admin,
                &format!("guess number {i}"),
                NEW_PW,
                None,
                None,
            )
            .await
            .unwrap_err();
            assert_eq!(field_of(&e), Some(Field::CurrentPassword), "{e:?}");
        }
        let before = t.svc.argon2.verifications();
        // Even the right password is not checked now.
        let e = account::change_password(&t.svc, &admin, PW, NEW_PW, None, None)
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::Throttled { .. }), "{e:?}");
        assert_eq!(t.svc.argon2.verifications(), before);
        assert!(signs_in(&t, "owner@acme.test", PW).await);
        // The window passes.
        t.clock.advance_ms(account::PASSWORD_CHECK_WINDOW_MS + 1);
        account::change_password(&t.svc, &admin, PW, NEW_PW, None, None)
            .await
            .unwrap();
        assert!(signs_in(&t, "owner@acme.test", NEW_PW).await);
    }
);

db_test!(
    a_reset_request_answers_the_same_and_mails_only_a_known_admin,
    |t: TestServices| async move {
        let (org, _admin) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        // Unknown address: Ok, no mail, no link, no event.
        account::request_reset(&t.svc, "nobody@acme.test", "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(mail_count(&t).await, 0);
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM password_resets")
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        // A malformed address is the only error, on the email field.
        let e = account::request_reset(&t.svc, "not an address", "10.0.0.1")
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::Email), "{e:?}");

        // Known, typed in another case: one mail to the stored address, a hash-only link.
        account::request_reset(&t.svc, "OWNER@Acme.test", "10.0.0.1")
            .await
            .unwrap();
        let mails = mails_to(&t, "owner@acme.test").await;
        assert_eq!(mails.len(), 1);
        assert!(mails[0].contains("expires in 30 minutes"), "{}", mails[0]);
        let token = token_in(&mails[0]);
        assert_eq!(token.len(), 43);
        let rows = sqlx::query("SELECT token_hash, expires_at, created_at FROM password_resets")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let hash: String = rows[0].try_get("token_hash").unwrap();
        assert_eq!(hash, portal_core::secret::sha256_hex(&token));
        let expires: i64 = rows[0].try_get("expires_at").unwrap();
        assert_eq!(expires, t.svc.now() + RESET_TTL_MS);
        assert!(account::reset_link_is_valid(&t.svc, &token).await.unwrap());
        let ev = events(&t, &org.id).await;
        assert_eq!(
            ev.iter()
                .filter(|(n, _, _, _)| n == "admin_password_reset_requested")
                .count(),
            1,
            "{ev:?}"
        );
    }
);

db_test!(
    reset_requests_are_throttled_per_address_and_client,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        for _ in 0..account::RESET_MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR {
            account::request_reset(&t.svc, "owner@acme.test", "10.0.0.1")
                .await
                .unwrap();
        }
        assert_eq!(mails_to(&t, "owner@acme.test").await.len(), 3);
        // Throttled: the same answer, no mail.
        account::request_reset(&t.svc, "owner@acme.test", "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(mails_to(&t, "owner@acme.test").await.len(), 3);
        // Another client is not held back by this one.
        account::request_reset(&t.svc, "owner@acme.test", "10.0.0.2")
            .await
            .unwrap();
        assert_eq!(mails_to(&t, "owner@acme.test").await.len(), 4);
        // The address-wide cap holds against many clients.
        for i in 0..20 {
            account::request_reset(&t.svc, "owner@acme.test", &format!("10.1.0.{i}"))
                .await
                .unwrap();
        }
        assert_eq!(
            mails_to(&t, "owner@acme.test").await.len() as i64,
            account::RESET_MAX_PER_ADDRESS_PER_HOUR
        );
        // One client asking for many addresses is capped too (unknown addresses included).
        for i in 0..40 {
            account::request_reset(&t.svc, &format!("someone{i}@acme.test"), "10.2.0.1")
                .await
                .unwrap();
        }
        let (hits,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM auth_failures WHERE key = 'pr-ip:10.2.0.1'")
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(hits, account::RESET_MAX_PER_CLIENT_PER_HOUR);
        // An hour later the address may ask again.
        t.clock.advance_ms(3_600_001);
        account::request_reset(&t.svc, "owner@acme.test", "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(
            mails_to(&t, "owner@acme.test").await.len() as i64,
            account::RESET_MAX_PER_ADDRESS_PER_HOUR + 1
        );
    }
);

db_test!(
    a_reset_link_works_once_expires_and_ends_every_session,
    |t: TestServices| async move {
        let (org, admin) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let viewer = add_admin(&t.svc, &org.id, "viewer@acme.test", Role::Viewer).await;
        let s1 = session_of(
            &t,
            &admin,
            AdminSignInMethod::Password,
            "Firefox on Linux · 10.0.0.1",
        )
        .await;
        let s2 = session_of(
            &t,
            &admin,
            AdminSignInMethod::Sso,
            "Chrome on macOS · 10.0.0.2",
        )
        .await;
        let viewers = session_of(
            &t,
            &viewer,
            AdminSignInMethod::Password,
            "Edge on Windows · 10.0.0.4",
        )
        .await;
        let s3 = legacy_session_of(&t, &admin).await;
        trusted_device(&t, &admin).await;
        let viewer_device = trusted_device(&t, &viewer).await;

        // A newer request replaces the older link.
        let first = reset_token(&t, "owner@acme.test", "10.0.0.1").await;
        t.clock.advance_ms(1_000);
        let second = reset_token(&t, "owner@acme.test", "10.0.0.1").await;
        assert_ne!(first, second);
        assert!(!account::reset_link_is_valid(&t.svc, &first).await.unwrap());
        let e = account::reset_password(&t.svc, &first, NEW_PW)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), RESET_LINK_INVALID);

        // Expiry, by the manual clock: valid until 30 minutes have passed.
        t.clock.advance_ms(RESET_TTL_MS - 1);
        assert!(account::reset_link_is_valid(&t.svc, &second).await.unwrap());
        t.clock.advance_ms(1);
        assert!(!account::reset_link_is_valid(&t.svc, &second).await.unwrap());
        let e = account::reset_password(&t.svc, &second, NEW_PW)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), RESET_LINK_INVALID);
        assert!(signs_in(&t, "owner@acme.test", PW).await);

        // Unknown, tampered, the stored hash itself: the same one message.
        for bad in [
            "",
            "x",
            "not/a token",
            &"A".repeat(43),
            &portal_core::secret::sha256_hex(&second),
            &"a".repeat(5000),
        ] {
            let e = account::reset_password(&t.svc, bad, NEW_PW)
                .await
                .unwrap_err();
            assert_eq!(e.to_string(), RESET_LINK_INVALID, "{bad:?}");
        }

        let third = reset_token(&t, "owner@acme.test", "10.0.0.1").await;
        // A password the policy refuses leaves the link usable.
        let e = account::reset_password(&t.svc, &third, "too short")
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), Some(Field::Password), "{e:?}");
        assert!(account::reset_link_is_valid(&t.svc, &third).await.unwrap());

        let who = account::reset_password(&t.svc, &third, NEW_PW)
            .await
            .unwrap();
        assert_eq!(who.id, admin.id);
        assert!(!session_exists(&t, &s1).await);
        assert!(!session_exists(&t, &s2).await);
        assert!(!session_exists(&t, &s3).await);
        assert!(
            session_exists(&t, &viewers).await,
            "another admin's session is not touched"
        );
        assert!(
            device_hashes(&t, &admin).await.is_empty(),
            "every trusted browser is forgotten"
        );
        assert_eq!(
            device_hashes(&t, &viewer).await,
            vec![portal_core::secret::sha256_hex(&viewer_device)]
        );
        assert!(!signs_in(&t, "owner@acme.test", PW).await);
        assert!(signs_in(&t, "owner@acme.test", NEW_PW).await);
        // Used once.
        assert!(!account::reset_link_is_valid(&t.svc, &third).await.unwrap());
        let e = account::reset_password(&t.svc, &third, "yet another long passphrase")
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), RESET_LINK_INVALID);
        assert!(signs_in(&t, "owner@acme.test", NEW_PW).await);
        let ev = events(&t, &org.id).await;
        assert!(
            ev.iter()
                .any(|(n, ok, actor, m)| n == "admin_password_reset"
                    && *ok
                    && actor == "owner@acme.test"
                    && m.contains("3 session(s) ended")),
            "{ev:?}"
        );
        // Only hashes were ever stored.
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM password_resets WHERE token_hash = $1 OR token_hash = $2",
        )
        .bind(&third)
        .bind(&second)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(n, 0);
    }
);

db_test!(
    racing_uses_of_one_reset_link_succeed_once,
    |t: TestServices| async move {
        org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let token = reset_token(&t, "owner@acme.test", "10.0.0.1").await;
        let mut tasks = Vec::new();
        for i in 0..6 {
            let svc = t.svc.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let pw = format!("racing passphrase number {i}");
                (account::reset_password(&svc, &token, &pw).await, pw)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (Ok(_), pw) => winners.push(pw),
                (Err(e), _) => assert_eq!(e.to_string(), RESET_LINK_INVALID),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one use succeeds: {winners:?}");
        assert!(signs_in(&t, "owner@acme.test", &winners[0]).await);
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM events WHERE name = 'admin_password_reset'")
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(n, 1);
    }
);

db_test!(
    sessions_list_method_and_client_and_end_only_ones_own,
    |t: TestServices| async move {
        let (org, admin) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let colleague = add_admin(&t.svc, &org.id, "colleague@acme.test", Role::Admin).await;
        let (_, stranger) = org_with_admin(&t.svc, "Bolt", "owner@bolt.test").await;
        let this = session_of(
            &t,
            &admin,
            AdminSignInMethod::Password,
            "Firefox on Linux · 10.0.0.1",
        )
        .await;
        let other = session_of(
            &t,
            &admin,
            AdminSignInMethod::PasswordTotp,
            "Chrome on Windows · 10.0.0.2",
        )
        .await;
        let theirs = session_of(
            &t,
            &colleague,
            AdminSignInMethod::Password,
            "Edge on Windows · 10.0.0.3",
        )
        .await;
        let strangers = session_of(
            &t,
            &stranger,
            AdminSignInMethod::Sso,
            "Safari on iOS · 10.0.0.4",
        )
        .await;

        let list = account::sessions(&t.svc, &admin.id, Some(&this))
            .await
            .unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        assert!(list[0].current, "this browser first");
        assert_eq!(
            list[0].client.as_deref(),
            Some("Firefox on Linux · 10.0.0.1")
        );
        assert_eq!(list[0].method, Some(AdminSignInMethod::Password));
        assert!(!list[1].current);
        assert_eq!(
            list[1].client.as_deref(),
            Some("Chrome on Windows · 10.0.0.2")
        );
        assert_eq!(list[1].method, Some(AdminSignInMethod::PasswordTotp));
        // References are opaque: never the id, and not derivable back to it.
        for s in &list {
            assert!(!s.reference.contains(&this) && !s.reference.contains(&other));
            assert_eq!(s.reference.len(), 64);
        }
        assert_eq!(list[1].reference, account::session_reference(&other));

        // Another admin's session (same org, other org), a raw id, junk: not found, nothing ends.
        for bad in [
            account::session_reference(&theirs),
            account::session_reference(&strangers),
            theirs.clone(),
            other.clone(),
            String::new(),
            "zz".repeat(32),
            "0".repeat(64),
        ] {
            let e = account::end_session(&t.svc, &admin, &bad, Some(&this))
                .await
                .unwrap_err();
            assert!(matches!(e, CoreError::NotFound), "{bad}: {e:?}");
        }
        for id in [&this, &other, &theirs, &strangers] {
            assert!(session_exists(&t, id).await);
        }

        // One's own other session ends; ending it again is not found.
        let r = account::session_reference(&other);
        assert_eq!(
            account::end_session(&t.svc, &admin, &r, Some(&this))
                .await
                .unwrap(),
            Ended::Other
        );
        assert!(!session_exists(&t, &other).await);
        assert!(session_exists(&t, &this).await);
        assert!(matches!(
            account::end_session(&t.svc, &admin, &r, Some(&this))
                .await
                .unwrap_err(),
            CoreError::NotFound
        ));
        let ev = events(&t, &org.id).await;
        assert_eq!(
            ev.iter()
                .filter(|(n, _, _, _)| n == "admin_session_end")
                .count(),
            1,
            "{ev:?}"
        );

        // Sign out everywhere: all of this admin's sessions, nobody else's — rows written before
        // the owner column existed included (their owner is only in the data).
        let again = session_of(&t, &admin, AdminSignInMethod::Password, "Opera · 10.0.0.5").await;
        let legacy = legacy_session_of(&t, &admin).await;
        let their_legacy = legacy_session_of(&t, &colleague).await;
        let listed = account::sessions(&t.svc, &admin.id, Some(&this))
            .await
            .unwrap();
        assert_eq!(listed.len(), 3, "{listed:?}");
        assert!(listed
            .iter()
            .any(|s| s.reference == account::session_reference(&legacy) && s.method.is_none()));
        assert_eq!(
            account::sign_out_everywhere(&t.svc, &admin).await.unwrap(),
            3
        );
        assert!(!session_exists(&t, &this).await);
        assert!(!session_exists(&t, &again).await);
        assert!(!session_exists(&t, &legacy).await);
        assert!(session_exists(&t, &their_legacy).await);
        assert!(session_exists(&t, &theirs).await);
        assert!(session_exists(&t, &strangers).await);
        assert!(account::sessions(&t.svc, &admin.id, None)
            .await
            .unwrap()
            .is_empty());
        let ev = events(&t, &org.id).await;
        assert!(
            ev.iter()
                .any(|(n, _, actor, m)| n == "admin_sign_out_everywhere"
                    && actor == "owner@acme.test"
                    && m.contains("3 session(s)")),
            "{ev:?}"
        );
    }
);

db_test!(
    a_sign_in_checked_while_the_password_is_reset_does_not_get_in,
    |t: TestServices| async move {
        let (_org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let new_hash = portal_core::password::hash("a brand new passphrase")
            .unwrap()
            .as_str()
            .to_string();
        let before = t.svc.argon2.verifications();
        let svc = t.svc.clone();
        let signing_in =
            tokio::spawn(
                async move { admins::authenticate(&svc, "a@acme.test", PW, "10.0.0.1").await },
            );
        // The old password is being checked (argon2 takes tens of milliseconds) when a reset
        // commits: the new hash, every session signed out.
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while t.svc.argon2.verifications() == before {
                tokio::time::sleep(std::time::Duration::from_micros(200)).await;
            }
        })
        .await
        .expect("the sign-in reached its password check");
        sqlx::query("UPDATE admins SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
            .bind(&new_hash)
            .bind(t.svc.now())
            .bind(&admin.id)
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        let result = tokio::time::timeout(std::time::Duration::from_secs(10), signing_in)
            .await
            .expect("the sign-in ends")
            .unwrap();
        assert!(
            matches!(result, Err(CoreError::BadCredentials)),
            "{:?}",
            result.map(|a| a.email)
        );
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE org_id = $1 AND name = 'admin_sign_in'",
        )
        .bind(&admin.org_id)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(events, 0);
    }
);

db_test!(
    reset_requests_at_once_leave_one_working_link,
    |t: TestServices| async move {
        let (_org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let runs = (0..3).map(|i| {
            let client = format!("10.0.0.{i}");
            let svc = t.svc.clone();
            async move { account::request_reset(&svc, "a@acme.test", &client).await }
        });
        let results = futures::future::join_all(runs).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let working: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM password_resets WHERE admin_id = $1 AND used_at IS NULL",
        )
        .bind(&admin.id)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(working, 1);
    }
);
