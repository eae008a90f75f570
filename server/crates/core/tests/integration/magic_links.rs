//! Magic links with an injected clock, on both databases.

use portal_core::admins;
use portal_core::magic_links as ml;
use portal_core::{manage, CoreError};
use portal_test_support::{db_test, org_with_admin, TestServices};
use sqlx::Row;

async fn setup(t: &TestServices, org: &str, email: &str) -> (String, String) {
    let (o, admin) =
        org_with_admin(&t.svc, org, &format!("admin@{}.test", org.to_lowercase())).await;
    let uid = manage::add_user(
        &t.svc,
        &admin,
        &manage::UserForm {
            email: email.into(),
            given_name: "Eve".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (o.id, uid)
}

/// The link in the newest queued mail to `to`.
async fn link_in_outbox(t: &TestServices, to: &str) -> Option<String> {
    let row = sqlx::query("SELECT body_text FROM mail_outbox WHERE to_addr = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
        .bind(to)
        .fetch_optional(&t.svc.db.pool)
        .await
        .unwrap()?;
    let text: String = row.try_get("body_text").unwrap();
    let start = text.find("token=")? + 6;
    Some(text[start..].split_whitespace().next().unwrap().to_string())
}

async fn outbox_count(t: &TestServices) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM mail_outbox")
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
        .0
}

db_test!(
    link_is_single_use_hash_only_and_signs_into_its_org,
    |t: TestServices| async move {
        let (org, uid) = setup(&t, "Acme", "eve@acme.test").await;
        ml::request(&t.svc, "EVE@acme.test", "10.0.0.1")
            .await
            .unwrap();
        let token = link_in_outbox(&t, "eve@acme.test")
            .await
            .expect("a mail with a link");
        assert_eq!(token.len(), 43);
        let stored: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM magic_links")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0].0, token);
        assert_eq!(stored[0].0, portal_core::secret::sha256_hex(&token));
        assert!(ml::is_valid(&t.svc, &token).await.unwrap());
        // Checking validity (a mail scanner's prefetch) does not consume it.
        assert!(ml::is_valid(&t.svc, &token).await.unwrap());
        let emp = ml::redeem(&t.svc, &token).await.unwrap();
        assert_eq!(
            (emp.org_id.as_str(), emp.user_id.as_str()),
            (org.as_str(), uid.as_str())
        );
        assert_eq!(emp.name, "Eve");
        assert!(matches!(
            ml::redeem(&t.svc, &token).await.unwrap_err(),
            CoreError::LinkInvalid
        ));
        assert!(!ml::is_valid(&t.svc, &token).await.unwrap());
        // Tampered and garbage tokens.
        let mut tampered = token.clone();
        tampered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
        for bad in [tampered.as_str(), "", "x", "' OR 1=1 --", &"a".repeat(5000)] {
            assert!(matches!(
                ml::redeem(&t.svc, bad).await.unwrap_err(),
                CoreError::LinkInvalid
            ));
        }
        // The session's org is the link's: the same user id under another org is nobody.
        let (other_org, _) = setup(&t, "Globex", "eve@globex.test").await;
        let mut conn = t.svc.db.pool.acquire().await.unwrap();
        assert!(
            portal_core::employees::employee(&mut conn, &other_org, &uid)
                .await
                .unwrap()
                .is_none()
        );
        assert!(portal_core::employees::employee(&mut conn, &org, &uid)
            .await
            .unwrap()
            .is_some());
    }
);

db_test!(link_expires, |t: TestServices| async move {
    setup(&t, "Acme", "eve@acme.test").await;
    ml::request(&t.svc, "eve@acme.test", "10.0.0.1")
        .await
        .unwrap();
    let token = link_in_outbox(&t, "eve@acme.test").await.unwrap();
    t.clock.advance_ms(t.svc.settings.magic_link_ttl_ms);
    assert!(!ml::is_valid(&t.svc, &token).await.unwrap());
    assert!(matches!(
        ml::redeem(&t.svc, &token).await.unwrap_err(),
        CoreError::LinkInvalid
    ));
});

db_test!(
    no_link_for_unknown_deactivated_or_deleted_users,
    |t: TestServices| async move {
        let (_, uid) = setup(&t, "Acme", "eve@acme.test").await;
        let admin =
            admins::authenticate(&t.svc, "admin@acme.test", "a long enough passphrase", "x")
                .await
                .unwrap();
        // Unknown: same Ok answer, nothing queued.
        ml::request(&t.svc, "nobody@acme.test", "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(outbox_count(&t).await, 0);
        manage::set_active(&t.svc, &admin, &uid, 1, false)
            .await
            .unwrap();
        ml::request(&t.svc, "eve@acme.test", "10.0.0.2")
            .await
            .unwrap();
        assert_eq!(outbox_count(&t).await, 0);
        manage::set_active(&t.svc, &admin, &uid, 2, true)
            .await
            .unwrap();
        manage::delete_user(&t.svc, &admin, &uid, 3).await.unwrap();
        ml::request(&t.svc, "eve@acme.test", "10.0.0.3")
            .await
            .unwrap();
        assert_eq!(outbox_count(&t).await, 0);
        // A malformed address is the only error.
        assert!(matches!(
            ml::request(&t.svc, "not an email", "10.0.0.4")
                .await
                .unwrap_err(),
            CoreError::Invalid(_)
        ));
    }
);

db_test!(
    deactivation_kills_outstanding_links_and_sessions,
    |t: TestServices| async move {
        let (org, uid) = setup(&t, "Acme", "eve@acme.test").await;
        let admin =
            admins::authenticate(&t.svc, "admin@acme.test", "a long enough passphrase", "x")
                .await
                .unwrap();
        ml::request(&t.svc, "eve@acme.test", "10.0.0.1")
            .await
            .unwrap();
        let first = link_in_outbox(&t, "eve@acme.test").await.unwrap();
        t.clock.advance_ms(1);
        ml::request(&t.svc, "eve@acme.test", "10.0.0.1")
            .await
            .unwrap();
        let second = link_in_outbox(&t, "eve@acme.test").await.unwrap();
        assert_ne!(first, second);
        ml::redeem(&t.svc, &first).await.unwrap();
        manage::set_active(&t.svc, &admin, &uid, 1, false)
            .await
            .unwrap();
        assert!(matches!(
            ml::redeem(&t.svc, &second).await.unwrap_err(),
            CoreError::LinkInvalid
        ));
        let mut conn = t.svc.db.pool.acquire().await.unwrap();
        assert!(
            portal_core::employees::employee(&mut conn, &org, &uid)
                .await
                .unwrap()
                .is_none(),
            "the session stops working"
        );
        // The refused attempt is on the user's timeline.
        let evs = portal_core::events::recent(&t.svc.db, &org, 50)
            .await
            .unwrap();
        assert!(evs
            .iter()
            .any(|e| e.name == "employee_sign_in" && e.success));
    }
);

db_test!(
    requests_are_throttled_per_address_and_per_client,
    |t: TestServices| async move {
        setup(&t, "Acme", "eve@acme.test").await;
        // One client asking for one address.
        for _ in 0..ml::MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR {
            ml::request(&t.svc, "eve@acme.test", "10.0.1.1")
                .await
                .unwrap();
        }
        let n = ml::MAX_PER_ADDRESS_AND_CLIENT_PER_HOUR;
        assert_eq!(outbox_count(&t).await, n);
        // The next one answers the same but sends nothing…
        ml::request(&t.svc, "EVE@acme.test", "10.0.1.1")
            .await
            .unwrap();
        assert_eq!(outbox_count(&t).await, n);
        // …while the employee's own network still gets a link: a stranger asking for the
        // address does not use up its owner's requests.
        ml::request(&t.svc, "eve@acme.test", "10.0.2.1")
            .await
            .unwrap();
        assert_eq!(outbox_count(&t).await, n + 1);
        // The address's own cap (mail bombing from many networks).
        for i in 0..ml::MAX_PER_ADDRESS_PER_HOUR {
            ml::request(&t.svc, "eve@acme.test", &format!("10.0.3.{i}"))
                .await
                .unwrap();
        }
        let sent = ml::MAX_PER_ADDRESS_PER_HOUR;
        assert_eq!(outbox_count(&t).await, sent);
        t.clock.advance_ms(3_600_001);
        ml::request(&t.svc, "eve@acme.test", "10.0.1.1")
            .await
            .unwrap();
        assert_eq!(outbox_count(&t).await, sent + 1);
        // One client asking for many addresses.
        for i in 0..ml::MAX_PER_CLIENT_PER_HOUR {
            ml::request(&t.svc, &format!("x{i}@acme.test"), "10.9.9.9")
                .await
                .unwrap();
        }
        setup(&t, "Other", "late@acme.test").await;
        ml::request(&t.svc, "late@acme.test", "10.9.9.9")
            .await
            .unwrap();
        let n: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM mail_outbox WHERE to_addr = 'late@acme.test'")
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(n.0, 0);
    }
);

db_test!(
    an_address_in_two_orgs_gets_one_mail_per_account_each_to_that_account,
    |t: TestServices| async move {
        setup(&t, "Acme", "eve@shared.test").await;
        setup(&t, "Globex", "Eve@Shared.test").await;
        ml::request(&t.svc, "eve@shared.test", "10.0.0.1")
            .await
            .unwrap();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT to_addr, body_text FROM mail_outbox ORDER BY to_addr")
                .fetch_all(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(rows.len(), 2, "one message per account");
        // Each to the account's own stored address, with that account's link only.
        assert_eq!(rows[0].0, "Eve@Shared.test");
        assert_eq!(rows[1].0, "eve@shared.test");
        for (_, text) in &rows {
            assert_eq!(text.matches("token=").count(), 1, "{text}");
        }
        assert!(rows[0].1.contains("Globex") && !rows[0].1.contains("Acme"));
        assert!(rows[1].1.contains("Acme") && !rows[1].1.contains("Globex"));
    }
);

#[test]
fn greetings_keep_one_short_plain_line_of_the_name() {
    assert_eq!(ml::greeting(Some("Ann")), "Hello Ann,");
    assert_eq!(ml::greeting(None), "Hello,");
    assert_eq!(ml::greeting(Some("   ")), "Hello,");
    assert_eq!(
        ml::greeting(Some("Zoë O'Brien-Åberg")),
        "Hello Zoë O'Brien-Åberg,"
    );
    // An IdP-controlled name cannot add lines, links or markup to the mail.
    let g = ml::greeting(Some(
        "Ann\r\n\r\nYour account is locked: visit https://evil.example/x <b>now</b>",
    ));
    assert!(!g.contains('\n') && !g.contains('\r'), "{g}");
    assert!(
        !g.contains("https://") && !g.contains("evil.example") && !g.contains('<'),
        "{g}"
    );
    assert!(g.chars().count() <= "Hello ,".len() + 40, "{g}");
    assert_eq!(ml::greeting(Some("\u{202e}\u{0007}Bob")), "Hello Bob,");
}
