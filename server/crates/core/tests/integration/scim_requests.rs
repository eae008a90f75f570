//! SCIM request log (issue 13): storage, org scoping, filters and the retention purge, on both
//! databases. Redaction details are unit tests in `portal_core::scim_requests`.

use portal_core::scim_requests::{self, Captured, Query};
use portal_core::CoreError;
use portal_test_support::{db_test, org_with_admin, TestServices};
use sqlx::Row;

const DAY: i64 = 86_400_000;
const TOKEN: &str = "scim-token-value-that-must-never-be-stored";

fn captured(
    t: &TestServices,
    org: &str,
    method: &str,
    path: &str,
    status: u16,
    body: &str,
) -> Captured {
    Captured {
        id: portal_core::ids::new_id(),
        org_id: org.to_string(),
        at: t.svc.now(),
        method: method.into(),
        path: path.into(),
        status,
        duration_us: 1234,
        user_agent: Some("Okta SCIM Client 1.0".into()),
        headers: vec![
            ("content-type".into(), "application/scim+json".into()),
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("x-custom".into(), "dropped".into()),
        ],
        request_body: body.as_bytes().to_vec().into(),
        response_body: if status < 400 {
            br#"{"id":"u-1","userName":"ann@acme.test"}"#[..].into()
        } else {
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404"}"#[..]
                .into()
        },
        token: TOKEN.into(),
    }
}

/// A second later, a request [`captured`] and recorded.
async fn logged(
    t: &TestServices,
    org: &str,
    method: &str,
    path: &str,
    status: u16,
    body: &str,
) -> Captured {
    t.clock.advance_ms(1000);
    let c = captured(t, org, method, path, status, body);
    scim_requests::record(&t.svc, &c).await.unwrap();
    c
}

/// A user of `org` with this id and userName, as a SCIM create writes it.
async fn add_user(t: &TestServices, org: &str, id: &str, user_name: &str) {
    let mut tx = t.svc.db.begin_write().await.unwrap();
    portal_core::users::insert(
        &mut tx,
        org,
        id,
        &serde_json::json!({ "userName": user_name }),
        portal_core::users::Source::Scim,
        t.svc.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

db_test!(
    stored_rows_are_redacted_scoped_to_their_org_and_filtered,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Other", "a@other.test").await;
        let body =
            format!(r#"{{"userName":"ann@acme.test","password":"hunter2","note":"{TOKEN}"}}"#);
        let ok = captured(&t, &org.id, "POST", "/Users", 201, &body);
        scim_requests::record(&t.svc, &ok).await.unwrap();
        // The user that create made (the answer names it: id u-1).
        add_user(&t, &org.id, "u-1", "ann@acme.test").await;
        t.clock.advance_ms(1000);
        let bad = captured(&t, &org.id, "GET", "/Users/nope", 404, "");
        scim_requests::record(&t.svc, &bad).await.unwrap();
        t.clock.advance_ms(1000);
        let theirs = captured(&t, &other.id, "GET", "/Users", 500, "");
        scim_requests::record(&t.svc, &theirs).await.unwrap();

        let got = scim_requests::get(&t.svc, &org.id, &ok.id).await.unwrap();
        assert_eq!(got.status, 201);
        assert_eq!(got.duration_us, 1234);
        assert_eq!(got.client.as_deref(), Some("Okta SCIM Client 1.0"));
        assert_eq!(got.user_id.as_deref(), Some("u-1"));
        assert_eq!(got.user_name.as_deref(), Some("ann@acme.test"));
        let req = got.request_body.clone().unwrap();
        assert!(
            req.contains("[redacted]") && !req.contains("hunter2"),
            "{req}"
        );
        assert_eq!(
            got.request_headers,
            r#"{"content-type":"application/scim+json"}"#
        );
        // The token appears in no column of any row.
        type Texts = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Texts> =
            sqlx::query_as(
                "SELECT path, method, request_headers, request_body, response_body, client FROM scim_requests",
            )
            .fetch_all(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        assert!(!format!("{rows:?}").contains(TOKEN));
        assert!(!format!("{rows:?}").contains("hunter2"));

        // Another org's id is not found, from either side.
        assert!(matches!(
            scim_requests::get(&t.svc, &other.id, &ok.id).await,
            Err(CoreError::NotFound)
        ));
        assert!(matches!(
            scim_requests::get(&t.svc, &org.id, &theirs.id).await,
            Err(CoreError::NotFound)
        ));

        // Newest first, org-scoped, filtered by status and user.
        let all = scim_requests::list(&t.svc, &org.id, &Query::parse("", "", "").unwrap())
            .await
            .unwrap();
        let ids: Vec<&str> = all.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [bad.id.as_str(), ok.id.as_str()]);
        let ids_for = |status: &str, user: &str| {
            let q = Query::parse(status, user, "").unwrap();
            let svc = t.svc.clone();
            let org = org.id.clone();
            async move {
                scim_requests::list(&svc, &org, &q)
                    .await
                    .unwrap()
                    .rows
                    .into_iter()
                    .map(|r| r.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(ids_for("success", "").await, vec![ok.id.clone()]);
        assert_eq!(ids_for("4xx", "").await, vec![bad.id.clone()]);
        assert!(ids_for("5xx", "").await.is_empty());
        assert_eq!(ids_for("", "ANN@acme.test").await, vec![ok.id.clone()]);
        assert_eq!(ids_for("", "u-1").await, vec![ok.id.clone()]);
        assert_eq!(ids_for("", "nope").await, vec![bad.id.clone()]);
        // A filter value is bound, never spliced into the SQL.
        assert!(ids_for("", "' OR 1=1 --").await.is_empty());

        // A create that failed names no id: it is found by the userName it sent.
        let failed = logged(
            &t,
            &org.id,
            "POST",
            "/Users",
            409,
            r#"{"userName":"Bob@acme.test"}"#,
        )
        .await;
        assert_eq!(ids_for("", "bob@ACME.test").await, vec![failed.id.clone()]);
        // A row about a user is found by the user's id and current userName, also after the
        // user was renamed.
        sqlx::query("UPDATE users SET user_name = 'ann.new@acme.test' WHERE id = 'u-1'")
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(ids_for("", "ann.new@acme.test").await, vec![ok.id.clone()]);
        assert_eq!(ids_for("", "u-1").await, vec![ok.id.clone()]);
        // A failed create under a user's current userName is among that user's requests.
        let retried = logged(
            &t,
            &org.id,
            "POST",
            "/Users",
            409,
            r#"{"userName":"ann.new@acme.test"}"#,
        )
        .await;
        assert_eq!(
            ids_for("", "u-1").await,
            vec![retried.id.clone(), ok.id.clone()]
        );

        // Names and ids of another organisation's users mean nothing here: this org's rows may
        // carry them (its token writes what it likes), but a filter only maps through its own.
        add_user(&t, &other.id, "o-9", "zed@other.test").await;
        let probe = logged(&t, &org.id, "GET", "/Users/o-9", 404, "").await;
        let named = logged(
            &t,
            &org.id,
            "POST",
            "/Users",
            400,
            r#"{"userName":"zed@other.test"}"#,
        )
        .await;
        assert_eq!(ids_for("", "o-9").await, vec![probe.id.clone()]);
        assert_eq!(ids_for("", "zed@other.test").await, vec![named.id.clone()]);

        // The other organisation's filter finds none of these.
        let q = Query::parse("", "u-1", "").unwrap();
        assert_eq!(
            scim_requests::list(&t.svc, &other.id, &q)
                .await
                .unwrap()
                .total,
            0
        );
    }
);

db_test!(
    rows_are_purged_after_the_retention,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let old = captured(&t, &org.id, "GET", "/Users", 200, "");
        scim_requests::record(&t.svc, &old).await.unwrap();
        t.clock.advance_ms(20 * DAY);
        let recent = captured(&t, &org.id, "GET", "/Users", 200, "");
        scim_requests::record(&t.svc, &recent).await.unwrap();
        // 29 days after the first: nothing is old enough yet.
        t.clock.advance_ms(9 * DAY);
        assert_eq!(scim_requests::purge(&t.svc, 30 * DAY).await.unwrap(), 0);
        t.clock.advance_ms(DAY + 1);
        assert_eq!(scim_requests::purge(&t.svc, 30 * DAY).await.unwrap(), 1);
        assert!(scim_requests::get(&t.svc, &org.id, &old.id).await.is_err());
        assert!(scim_requests::get(&t.svc, &org.id, &recent.id)
            .await
            .is_ok());
    }
);

db_test!(
    large_bodies_are_cut_and_many_rows_page,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let huge = format!(
            r#"{{"userName":"big@acme.test","x":"{}"}}"#,
            "y".repeat(900_000)
        );
        let big = captured(&t, &org.id, "POST", "/Users", 400, &huge);
        scim_requests::record(&t.svc, &big).await.unwrap();
        let got = scim_requests::get(&t.svc, &org.id, &big.id).await.unwrap();
        let body = got.request_body.unwrap();
        assert!(
            body.len() <= scim_requests::BODY_LIMIT + 64,
            "{}",
            body.len()
        );
        assert!(body.contains("[truncated:"), "marker missing");
        // A batch of 120 rows (more than two pages) in one write.
        let rows: Vec<_> = (0..120)
            .map(|i| {
                scim_requests::redact(&captured(
                    &t,
                    &org.id,
                    "GET",
                    &format!("/Users/{i}"),
                    200,
                    "",
                ))
            })
            .collect();
        scim_requests::insert(&t.svc, &rows).await.unwrap();
        let p3 = scim_requests::list(&t.svc, &org.id, &Query::parse("", "", "3").unwrap())
            .await
            .unwrap();
        assert_eq!(
            (p3.total, p3.pages, p3.page, p3.rows.len()),
            (121, 3, 3, 21)
        );
        // A page past the end shows the last one.
        let p9 = scim_requests::list(&t.svc, &org.id, &Query::parse("", "", "9").unwrap())
            .await
            .unwrap();
        assert_eq!(p9.page, 3);
    }
);

/// Holds back every insert into the log (PostgreSQL) until the returned transaction ends.
async fn lock_log(url: &str) -> sqlx::Transaction<'static, sqlx::Any> {
    crate::lookups::lock_table(url, "scim_requests").await
}

/// The log's writer holds at most [`scim_requests::QUEUE_BYTES`] of captured requests, not
/// 4,096 of any size: requests of a megabyte each, sent faster than the log is written (here its
/// inserts wait behind a lock), are not logged past that, instead of growing the server's memory
/// by gigabytes; room is kept for ordinary requests (another organisation's); everything held is
/// written; and the room comes back whole, also after requests refused for the queue's length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_writer_holds_a_bounded_number_of_bytes() {
    use std::time::Duration;
    portal_test_support::deadline(async {
        let t = portal_test_support::services(portal_core::Backend::Postgres).await;
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Other", "a@other.test").await;
        let logged = || async {
            sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM scim_requests")
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
        };
        let written = |n: i64| async move {
            let until = std::time::Instant::now() + Duration::from_secs(30);
            while logged().await < n {
                assert!(
                    std::time::Instant::now() < until,
                    "the held requests are written"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(logged().await, n, "every request held was written, once");
        };
        let writer = scim_requests::Writer::spawn(t.svc.clone());
        let big = format!(r#"{{"note":"{}"}}"#, "x".repeat(1 << 20));
        let submit_big = |n: usize| {
            (0..n)
                .filter(|_| writer.submit(captured(&t, &org.id, "PUT", "/Users/u-1", 200, &big)))
                .count() as i64
        };

        let lock = lock_log(&t.tdb.url).await;
        let first = submit_big(64);
        let most = ((scim_requests::QUEUE_BYTES - scim_requests::SMALL_REQUEST_ROOM) >> 20) as i64;
        assert!(
            (most - 4..=most).contains(&first),
            "{first} requests of 1 MiB held (at most {most})"
        );
        // Another organisation's ordinary requests still get in: 1,000 of 4 KB.
        let small = format!(r#"{{"note":"{}"}}"#, "y".repeat(4 << 10));
        let theirs = (0..1000)
            .filter(|_| writer.submit(captured(&t, &other.id, "PUT", "/Users/u-2", 200, &small)))
            .count() as i64;
        assert_eq!(theirs, 1000, "room is kept for ordinary requests");
        lock.rollback().await.unwrap();
        written(first + theirs).await;

        // 5,000 requests of 6 KB: more than the queue's 4,096 places (refused ones give their
        // bytes back), well under its bytes.
        let lock = lock_log(&t.tdb.url).await;
        let mid = format!(r#"{{"note":"{}"}}"#, "z".repeat(6 << 10));
        let many = (0..5000)
            .filter(|_| writer.submit(captured(&t, &other.id, "PUT", "/Users/u-2", 200, &mid)))
            .count() as i64;
        assert!(many < 5000, "the queue's length refused some ({many} held)");
        lock.rollback().await.unwrap();
        written(first + theirs + many).await;

        // A client's headers count too: a 400 KB User-Agent on an empty request.
        let lock = lock_log(&t.tdb.url).await;
        let long_agent = (0..200)
            .filter(|_| {
                let mut c = captured(&t, &org.id, "GET", "/Users", 200, "");
                c.user_agent = Some("a".repeat(400 << 10));
                writer.submit(c)
            })
            .count() as i64;
        let most_agents =
            ((scim_requests::QUEUE_BYTES - scim_requests::SMALL_REQUEST_ROOM) / (400 << 10)) as i64;
        assert!(
            long_agent <= most_agents,
            "{long_agent} requests with a 400 KB User-Agent held (at most {most_agents})"
        );
        lock.rollback().await.unwrap();
        written(first + theirs + many + long_agent).await;

        // The whole room is there again.
        let lock = lock_log(&t.tdb.url).await;
        let again = submit_big(64);
        assert_eq!(again, first, "as many held as the first time");
        lock.rollback().await.unwrap();
        writer.finish(Duration::from_secs(10)).await;
        assert_eq!(logged().await, first + theirs + many + long_agent + again);
    })
    .await;
}
