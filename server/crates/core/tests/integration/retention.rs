//! The retention purge, with an injected clock, on both databases.

use portal_core::manage;
use portal_test_support::{db_test, org_with_admin, TestServices, T0};

const DAY: i64 = 86_400_000;

db_test!(
    purge_removes_exactly_the_expired_and_logs_them,
    |t: TestServices| async move {
        let (org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let form = |e: &str| manage::UserForm {
            email: e.into(),
            ..Default::default()
        };
        let old = manage::add_user(&t.svc, &admin, &form("old@acme.test"))
            .await
            .unwrap();
        let recent = manage::add_user(&t.svc, &admin, &form("recent@acme.test"))
            .await
            .unwrap();
        let kept = manage::add_user(&t.svc, &admin, &form("kept@acme.test"))
            .await
            .unwrap();
        manage::delete_user(&t.svc, &admin, &old, 1).await.unwrap();
        t.clock.advance_ms(10 * DAY);
        manage::delete_user(&t.svc, &admin, &recent, 1)
            .await
            .unwrap();
        let (n, first) = manage::purge_outlook(&t.svc, &org.id).await.unwrap();
        assert_eq!(n, 2);
        assert_eq!(first, Some(T0 + 30 * DAY));
        // Day 29.99 after the first delete: nothing yet.
        t.clock.advance_ms(20 * DAY - 1);
        assert_eq!(manage::purge_expired(&t.svc).await.unwrap(), 0);
        t.clock.advance_ms(1);
        assert_eq!(manage::purge_expired(&t.svc).await.unwrap(), 1);
        let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM users ORDER BY user_name")
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        let ids: Vec<String> = ids.into_iter().map(|r| r.0).collect();
        assert!(!ids.contains(&old));
        assert!(ids.contains(&recent) && ids.contains(&kept));
        let evs = portal_core::events::recent(&t.svc.db, &org.id, 100)
            .await
            .unwrap();
        let purges: Vec<_> = evs.iter().filter(|e| e.name == "user_purge").collect();
        assert_eq!(purges.len(), 1);
        assert_eq!(purges[0].user_id.as_deref(), Some(old.as_str()));
        assert!(purges[0].message.contains("old@acme.test"));
        // Restoring a purged user: not found, nothing changes.
        let err = manage::restore_user(&t.svc, &admin, &old, 2)
            .await
            .unwrap_err();
        assert!(matches!(err, portal_core::CoreError::NotFound));
        // A restored user is never purged.
        manage::restore_user(&t.svc, &admin, &recent, 2)
            .await
            .unwrap();
        t.clock.advance_ms(365 * DAY);
        assert_eq!(manage::purge_expired(&t.svc).await.unwrap(), 0);
        assert_eq!(manage::purge_outlook(&t.svc, &org.id).await.unwrap().0, 0);
    }
);
