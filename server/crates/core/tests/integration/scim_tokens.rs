//! SCIM token bookkeeping off the request path (issue 11): a request notes its token's use in
//! memory; one task writes it per tick, a read writes it first. Whether a token is accepted is
//! never deferred. On both databases with the manual clock.

use std::time::Duration;

use portal_core::scim_tokens::{self, Authenticated};
use portal_core::Services;
use portal_test_support::{db_test, org_with_admin, TestServices};

const HOUR: Duration = Duration::from_secs(3600);

pub(crate) async fn auth(svc: &Services, org: &str, token: &str) -> Option<Authenticated> {
    scim_tokens::authenticate(svc, org, token, Some("test-idp/1.0"))
        .await
        .unwrap()
}

/// An org with a current token: (org id, token).
pub(crate) async fn org_with_token(svc: &Services, name: &str) -> (String, String) {
    let (org, _) = org_with_admin(svc, name, &format!("a@{}.test", name.to_lowercase())).await;
    let token = scim_tokens::generate(svc, &org.id, "a@x.test")
        .await
        .unwrap();
    (org.id, token.into_exposed())
}

type Row = (
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
);

/// The token rows of the org as stored (no flush): first / last use, client, last success,
/// rejections, last rejection; the newest token first.
async fn stored(svc: &Services, org: &str) -> Vec<Row> {
    sqlx::query_as(
        "SELECT first_used_at, last_used_at, last_user_agent, last_success_at, rejected_count, \
         last_rejected_at FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, is_next DESC",
    )
    .bind(org)
    .fetch_all(&svc.db.pool)
    .await
    .unwrap()
}

db_test!(
    use_is_noted_in_memory_and_written_by_the_next_read,
    |t: TestServices| async move {
        let svc = &t.svc;
        svc.db.token_usage().set_flush_interval(HOUR);
        let (org, token) = org_with_token(svc, "Acme").await;
        let t0 = svc.now();
        let a = auth(svc, &org, &token).await.unwrap();
        scim_tokens::record_success(svc, &a);
        assert_eq!(
            stored(svc, &org).await,
            vec![(None, None, None, None, 0, None)]
        );
        assert_eq!(svc.db.token_usage().waiting(), 1);
        // A later request inside the resolution, before anything was written (the token is
        // held in memory with its use as noted): it notes nothing.
        t.clock.advance_ms(1_000);
        scim_tokens::authenticate(svc, &org, &token, Some("test-idp/2.0"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(svc.db.token_usage().waiting(), 1);
        let status = scim_tokens::status(svc, &org).await.unwrap().unwrap();
        assert_eq!(status.first_used_at, Some(t0));
        assert_eq!(status.last_used_at, Some(t0));
        assert_eq!(status.last_user_agent.as_deref(), Some("test-idp/1.0"));
        assert_eq!(status.last_success_at, Some(t0));
        assert_eq!(svc.db.token_usage().waiting(), 0);
        assert_eq!(
            stored(svc, &org).await,
            vec![(
                Some(t0),
                Some(t0),
                Some("test-idp/1.0".into()),
                Some(t0),
                0,
                None
            )]
        );
        // Within the resolution a request notes nothing; past it, it does again.
        t.clock.advance_ms(1_000);
        let a = auth(svc, &org, &token).await.unwrap();
        scim_tokens::record_success(svc, &a);
        assert_eq!(svc.db.token_usage().waiting(), 0);
        t.clock.advance_ms(60_000);
        let a = auth(svc, &org, &token).await.unwrap();
        scim_tokens::record_success(svc, &a);
        assert_eq!(svc.db.token_usage().waiting(), 1);
        let status = scim_tokens::status(svc, &org).await.unwrap().unwrap();
        assert_eq!(status.first_used_at, Some(t0));
        assert_eq!(status.last_used_at, Some(t0 + 62_000));
        assert_eq!(status.last_user_agent.as_deref(), Some("test-idp/1.0"));
        assert_eq!(status.last_success_at, Some(t0 + 62_000));
    }
);

db_test!(
    the_background_task_writes_without_a_reader,
    |t: TestServices| async move {
        let svc = &t.svc;
        svc.db
            .token_usage()
            .set_flush_interval(Duration::from_millis(20));
        let (org, token) = org_with_token(svc, "Acme").await;
        let now = svc.now();
        let a = auth(svc, &org, &token).await.unwrap();
        scim_tokens::record_success(svc, &a);
        // Polled with a deadline (the db_test! deadline bounds it too): no read flushes here.
        let mut rows = stored(svc, &org).await;
        for _ in 0..500 {
            if rows[0].3.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            rows = stored(svc, &org).await;
        }
        assert_eq!(
            rows,
            vec![(
                Some(now),
                Some(now),
                Some("test-idp/1.0".into()),
                Some(now),
                0,
                None
            )]
        );
        assert_eq!(svc.db.token_usage().waiting(), 0);
    }
);

db_test!(
    a_revoked_token_is_refused_at_once_and_its_rejections_are_counted,
    |t: TestServices| async move {
        let svc = &t.svc;
        svc.db.token_usage().set_flush_interval(HOUR);
        let (org, old) = org_with_token(svc, "Acme").await;
        assert!(auth(svc, &org, &old).await.is_some());
        // Replaced: the old token is refused by the very next check, nothing flushed between.
        let new = scim_tokens::generate(svc, &org, "a@acme.test")
            .await
            .unwrap()
            .into_exposed();
        assert!(auth(svc, &org, &old).await.is_none());
        t.clock.advance_ms(5);
        assert!(auth(svc, &org, &old).await.is_none());
        assert!(auth(svc, &org, &new).await.is_some());
        let now = svc.now();
        assert_eq!(
            scim_tokens::rejected_summary(svc, &org).await.unwrap(),
            (2, Some(now))
        );
        // Revoked: refused at once too.
        scim_tokens::revoke(svc, &org, "a@acme.test").await.unwrap();
        assert!(auth(svc, &org, &new).await.is_none());
        assert_eq!(
            scim_tokens::rejected_summary(svc, &org).await.unwrap(),
            (3, Some(now))
        );
        // A token of another org never matches, and notes nothing.
        let (other, other_token) = org_with_token(svc, "Globex").await;
        assert!(auth(svc, &org, &other_token).await.is_none());
        assert_eq!(svc.db.token_usage().waiting(), 0);
        assert_eq!(stored(svc, &other).await[0].4, 0);
    }
);

db_test!(
    a_late_write_never_moves_a_time_back,
    |t: TestServices| async move {
        let svc = &t.svc;
        svc.db.token_usage().set_flush_interval(HOUR);
        let (org, token) = org_with_token(svc, "Acme").await;
        let t0 = svc.now();
        // This instance notes a use and a success at t0 …
        let a = auth(svc, &org, &token).await.unwrap();
        scim_tokens::record_success(svc, &a);
        // … and before it writes them, another instance writes a later use.
        sqlx::query(
            "UPDATE scim_tokens SET first_used_at = $1, last_used_at = $2, last_user_agent = 'other', \
             last_success_at = $2 WHERE org_id = $3",
        )
        .bind(t0 - 10)
        .bind(t0 + 100)
        .bind(&org)
        .execute(&svc.db.pool)
        .await
        .unwrap();
        scim_tokens::flush_usage(&svc.db).await.unwrap();
        assert_eq!(
            stored(svc, &org).await,
            vec![(
                Some(t0 - 10),
                Some(t0 + 100),
                Some("other".into()),
                Some(t0 + 100),
                0,
                None
            )]
        );
    }
);
