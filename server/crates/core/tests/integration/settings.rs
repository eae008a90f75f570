//! Organisation settings in the domain: the one validation the screen and the CLI share, saving
//! with its event, the user rules it feeds (manual users), and the event retention purge with an
//! injected clock, on both databases.

use portal_core::error::Field;
use portal_core::manage::{self, UserForm};
use portal_core::org_settings::{self, Settings, SettingsChange, SettingsInput};
use portal_core::CoreError;
use portal_test_support::{db_test, org_with_admin, TestServices};

const DAY: i64 = 86_400_000;

fn input() -> SettingsInput {
    SettingsInput {
        name: "Acme".into(),
        user_retention_days: "30".into(),
        event_retention_days: "365".into(),
        allowed_domains: String::new(),
        username_equals_work_email: true,
        require_2fa: false,
        require_sso_for_admins: false,
    }
}

fn field_of(e: CoreError) -> Option<Field> {
    e.field()
}

#[test]
fn validation_bounds_domains_and_names() {
    let ok = |f: &dyn Fn(&mut SettingsInput)| {
        let mut i = input();
        f(&mut i);
        org_settings::validate(&i)
    };
    // Bounds, inclusive.
    for (v, good) in [
        ("1", true),
        ("365", true),
        ("0", false),
        ("366", false),
        (" 7 ", true),
        ("7.5", false),
        ("", false),
    ] {
        let r = ok(&|i| i.user_retention_days = v.into());
        assert_eq!(r.is_ok(), good, "user retention {v:?}");
        if let Err(e) = r {
            assert_eq!(field_of(e), Some(Field::UserRetentionDays));
        }
    }
    for (v, good) in [
        ("1", true),
        ("3650", true),
        ("0", false),
        ("3651", false),
        ("-1", false),
    ] {
        let r = ok(&|i| i.event_retention_days = v.into());
        assert_eq!(r.is_ok(), good, "event retention {v:?}");
        if let Err(e) = r {
            assert_eq!(field_of(e), Some(Field::EventRetentionDays));
        }
    }
    // Names: trimmed, required, at most 100 characters, no control characters.
    assert_eq!(
        ok(&|i| i.name = "  Acme Oy ".into()).unwrap().name,
        "Acme Oy"
    );
    for bad in ["", "   ", "a\u{0}b", "line\nbreak"] {
        let e = ok(&|i| i.name = bad.into()).unwrap_err();
        assert_eq!(field_of(e), Some(Field::OrgName), "{bad:?}");
    }
    assert!(ok(&|i| i.name = "x".repeat(100)).is_ok());
    assert!(ok(&|i| i.name = "x".repeat(101)).is_err());
    // Domains: separators, case, a leading @ and a trailing dot, duplicates.
    let s = ok(&|i| {
        i.allowed_domains = " @Acme.TEST,\nacme.example;acme.test. \r\n xn--bcher-kva.test ".into()
    })
    .unwrap();
    assert_eq!(
        s.allowed_domains,
        ["acme.test", "acme.example", "xn--bcher-kva.test"]
    );
    assert!(ok(&|i| i.allowed_domains = " , \n ".into())
        .unwrap()
        .allowed_domains
        .is_empty());
    for bad in [
        "localhost",
        "exa_mple.com",
        "-acme.test",
        "acme-.test",
        "acme..test",
        ".acme.test",
        "10.0.0.1",
        "bücher.test",
        "a@b.test",
        "*.acme.test",
        "acme.test/path",
        &format!("{}.test", "a".repeat(64)),
        &format!("{}.test", vec!["a".repeat(60); 5].join(".")),
    ] {
        let e = ok(&|i| i.allowed_domains = bad.to_string()).unwrap_err();
        assert_eq!(field_of(e), Some(Field::AllowedDomains), "{bad:?}");
    }
    let fifty: String = (0..50).map(|i| format!("d{i}.test ")).collect();
    assert_eq!(
        ok(&|i| i.allowed_domains = fifty.clone())
            .unwrap()
            .allowed_domains
            .len(),
        50
    );
    // Huge inputs: a long list is refused at its 51st domain, repeats collapse.
    let huge: String = (0..200_000).map(|i| format!("d{i}.test,")).collect();
    let e = ok(&|i| i.allowed_domains = huge.clone()).unwrap_err();
    assert_eq!(e.field(), Some(Field::AllowedDomains));
    let repeated = "a.test,".repeat(100_000);
    assert_eq!(
        ok(&|i| i.allowed_domains = repeated.clone())
            .unwrap()
            .allowed_domains,
        ["a.test"]
    );
    let e = ok(&|i| i.allowed_domains = format!("{fifty} d50.test")).unwrap_err();
    assert!(e.to_string().contains("At most 50"), "{e}");
}

db_test!(
    update_saves_records_and_refuses_without_writing,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Globex", "a@globex.test").await;
        let defaults = org_settings::get(&t.svc, &org.id).await.unwrap().unwrap();
        assert_eq!(
            defaults,
            Settings {
                name: "Acme".into(),
                user_retention_days: 30,
                event_retention_days: 365,
                allowed_domains: vec![],
                username_equals_work_email: true,
                require_2fa: false,
                require_sso_for_admins: false,
            }
        );
        // A partial change (the CLI's) keeps the rest.
        let (s, changes) = org_settings::update(
            &t.svc,
            &org.id,
            "cli",
            &SettingsChange {
                user_retention_days: Some("7".into()),
                allowed_domains: Some("acme.test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(s.user_retention_days, 7);
        assert_eq!(s.event_retention_days, 365);
        assert_eq!(s.name, "Acme");
        assert_eq!(
            changes,
            [
                "retention for deleted users 30 → 7 days",
                "allowed email domains any domain → acme.test"
            ]
        );
        let evs = portal_core::events::recent(&t.svc.db, &org.id, 10)
            .await
            .unwrap();
        assert_eq!(evs[0].name, "org_settings_update");
        assert_eq!(evs[0].actor, "cli");
        assert_eq!(
            evs[0].message,
            "Changed organisation settings: retention for deleted users 30 → 7 days; allowed \
             email domains any domain → acme.test"
        );
        let saved = org_settings::get(&t.svc, &org.id).await.unwrap().unwrap();
        // Refusals write nothing, in this org or the other.
        let other_before = org_settings::get(&t.svc, &other.id).await.unwrap();
        for bad in [
            SettingsChange {
                name: Some("globex".into()),
                ..Default::default()
            },
            SettingsChange {
                event_retention_days: Some("0".into()),
                user_retention_days: Some("9".into()),
                ..Default::default()
            },
            SettingsChange {
                allowed_domains: Some("ok.test, not ok".into()),
                ..Default::default()
            },
        ] {
            let e = org_settings::update(&t.svc, &org.id, "cli", &bad)
                .await
                .unwrap_err();
            assert!(e.field().is_some(), "{e}");
            assert_eq!(
                org_settings::get(&t.svc, &org.id).await.unwrap().unwrap(),
                saved
            );
        }
        assert_eq!(
            org_settings::get(&t.svc, &other.id).await.unwrap(),
            other_before
        );
        let n = portal_core::events::recent(&t.svc.db, &org.id, 100)
            .await
            .unwrap()
            .len();
        assert_eq!(n, evs.len(), "no event for a refusal");
        let e = org_settings::update(&t.svc, &"f".repeat(32), "cli", &SettingsChange::default())
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::NotFound));
    }
);

db_test!(
    manual_users_follow_the_domains_and_the_username_rule,
    |t: TestServices| async move {
        let (org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let form = |e: &str| UserForm {
            email: e.into(),
            ..Default::default()
        };
        let old = manage::add_user(&t.svc, &admin, &form("old@elsewhere.test"))
            .await
            .unwrap();
        org_settings::update(
            &t.svc,
            &org.id,
            "a@acme.test",
            &SettingsChange {
                allowed_domains: Some("acme.test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let e = manage::add_user(&t.svc, &admin, &form("eve@evil.test"))
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some(Field::Email));
        assert!(e.to_string().contains("(acme.test)"), "{e}");
        manage::add_user(&t.svc, &admin, &form("ann@ACME.test"))
            .await
            .unwrap();
        // The existing user outside the list keeps its address through an edit…
        manage::edit_user(
            &t.svc,
            &admin,
            &old,
            1,
            &UserForm {
                given_name: "Old".into(),
                ..form("old@elsewhere.test")
            },
        )
        .await
        .unwrap();
        // …but cannot be moved to another outside address.
        let e = manage::edit_user(&t.svc, &admin, &old, 2, &form("old@evil.test"))
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some(Field::Email));

        // The rule off: a userName that already differs from the email (an Entra UPN brought in
        // by SCIM earlier) stays when an admin edits the email; one that equals it follows it.
        org_settings::update(
            &t.svc,
            &org.id,
            "a@acme.test",
            &SettingsChange {
                allowed_domains: Some(String::new()),
                username_equals_work_email: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let upn = {
            let mut tx = t.svc.db.begin_write().await.unwrap();
            let id = portal_core::ids::new_id();
            let attrs = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bob.upn@acme.onmicrosoft.test",
                "active": true,
                "emails": [{"value": "bob@acme.test", "type": "work", "primary": true}],
            });
            portal_core::users::insert(
                &mut tx,
                &org.id,
                &id,
                &attrs,
                portal_core::users::Source::Admin,
                t.svc.now(),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            id
        };
        manage::edit_user(&t.svc, &admin, &upn, 1, &form("robert@acme.test"))
            .await
            .unwrap();
        manage::edit_user(&t.svc, &admin, &old, 2, &form("older@elsewhere.test"))
            .await
            .unwrap();
        let mut conn = t.svc.db.pool.acquire().await.unwrap();
        let u = portal_core::users::get(&mut conn, &org.id, &upn, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.user_name, "bob.upn@acme.onmicrosoft.test");
        assert_eq!(u.attributes["emails"][0]["value"], "robert@acme.test");
        let u = portal_core::users::get(&mut conn, &org.id, &old, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.user_name, "older@elsewhere.test");
    }
);

async fn event_count(t: &TestServices, org: &str) -> usize {
    portal_core::events::recent(&t.svc.db, org, 100_000)
        .await
        .unwrap()
        .len()
}

db_test!(
    event_purge_follows_each_orgs_retention,
    |t: TestServices| async move {
        let (a, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (b, _) = org_with_admin(&t.svc, "Globex", "a@globex.test").await;
        org_settings::update(
            &t.svc,
            &a.id,
            "a@acme.test",
            &SettingsChange {
                event_retention_days: Some("10".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // Day 0: A has 2 events (admin_create, the settings change), B 1.
        let ev = |org: &str, i: usize| {
            portal_core::events::NewEvent::admin(
                org,
                "x@y.test",
                "test_event",
                &format!("event {i}"),
            )
        };
        t.clock.advance_ms(5 * DAY);
        for i in 0..3 {
            portal_core::events::record(&t.svc.db, ev(&a.id, i), t.svc.now())
                .await
                .unwrap();
            portal_core::events::record(&t.svc.db, ev(&b.id, i), t.svc.now())
                .await
                .unwrap();
        }
        assert_eq!(event_count(&t, &a.id).await, 5);
        // Exactly 10 days after day 0: nothing is older than 10 days yet.
        t.clock.advance_ms(5 * DAY);
        assert!(org_settings::purge_old_events(&t.svc)
            .await
            .unwrap()
            .is_empty());
        t.clock.advance_ms(1);
        let purged = org_settings::purge_old_events(&t.svc).await.unwrap();
        assert_eq!(purged, [(a.id.clone(), 2)]);
        // A's three newer events and the purge's own; B (365 days) untouched.
        let evs = portal_core::events::recent(&t.svc.db, &a.id, 100)
            .await
            .unwrap();
        assert_eq!(evs.len(), 4);
        assert_eq!(evs[0].name, "event_purge");
        assert_eq!(evs[0].actor, "system (retention)");
        assert!(
            evs[0]
                .message
                .contains("Removed 2 activity event(s) older than 10 days"),
            "{}",
            evs[0].message
        );
        assert_eq!(event_count(&t, &b.id).await, 4);
        // Nothing more to remove: no further purge event.
        assert!(org_settings::purge_old_events(&t.svc)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(event_count(&t, &a.id).await, 4);
        // A shorter retention applies at the next purge.
        t.clock.advance_ms(DAY);
        org_settings::update(
            &t.svc,
            &a.id,
            "a@acme.test",
            &SettingsChange {
                event_retention_days: Some("1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let purged = org_settings::purge_old_events(&t.svc).await.unwrap();
        assert_eq!(purged, [(a.id.clone(), 3)]);
        let names: Vec<String> = portal_core::events::recent(&t.svc.db, &a.id, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["event_purge", "org_settings_update", "event_purge"]);
    }
);

db_test!(
    deleted_users_are_purged_by_each_orgs_user_retention,
    |t: TestServices| async move {
        let (a, admin_a) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (_, admin_b) = org_with_admin(&t.svc, "Globex", "a@globex.test").await;
        org_settings::update(
            &t.svc,
            &a.id,
            "a@acme.test",
            &SettingsChange {
                user_retention_days: Some("3".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let form = |e: &str| UserForm {
            email: e.into(),
            ..Default::default()
        };
        let ua = manage::add_user(&t.svc, &admin_a, &form("gone@acme.test"))
            .await
            .unwrap();
        let ub = manage::add_user(&t.svc, &admin_b, &form("kept@globex.test"))
            .await
            .unwrap();
        manage::delete_user(&t.svc, &admin_a, &ua, 1).await.unwrap();
        manage::delete_user(&t.svc, &admin_b, &ub, 1).await.unwrap();
        t.clock.advance_ms(3 * DAY);
        assert_eq!(manage::purge_expired(&t.svc).await.unwrap(), 1);
        let left: Vec<(String,)> = sqlx::query_as("SELECT id FROM users")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(left, [(ub,)]);
    }
);

/// SSO's work-email lookup (the userName rule off) is served by its index, not a scan.
#[tokio::test]
async fn work_email_lookup_uses_its_index() {
    portal_test_support::deadline(async {
        let mut t = portal_test_support::services(portal_core::Backend::Sqlite).await;
        let _dir = t.tdb.dir.take();
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT u.id FROM users u WHERE {}",
            portal_core::users::BY_WORK_EMAIL
        );
        let rows = sqlx::query(&sql)
            .bind("o1")
            .bind("a@b.test")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("users_org_email_ci"), "{plan}");
        assert!(!plan.contains("SCAN u"), "{plan}");
    })
    .await;
}
