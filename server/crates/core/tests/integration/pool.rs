//! The connection pool (issue 11): connections are not pinged before every statement (a round
//! trip each), but a PostgreSQL connection idle for a while is, and replaced when it is dead.

use std::time::Duration;

use portal_core::Backend;
use portal_test_support::{deadline, services};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_dropped_by_the_server_while_idle_are_replaced() {
    deadline(async {
        let t = services(Backend::Postgres).await;
        let pool = &t.svc.db.pool;
        // A few connections in the pool, then idle.
        let held: Vec<_> = three_connections(pool).await;
        drop(held);
        // The server drops them (a restart, or a proxy's idle timeout would).
        let killed = kill_the_test_databases_connections(&t.tdb.url).await;
        assert!(killed >= 3, "{killed} connections killed");
        // Past the idle time that gets a connection pinged, every statement finds a live one.
        tokio::time::sleep(Duration::from_secs(6)).await;
        for _ in 0..5 {
            let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(pool).await.unwrap();
            assert_eq!(one, 1);
        }
    })
    .await;
}

/// Has the server end every other connection to the test database (as a restart, or a proxy's
/// idle timeout would); how many it ended.
async fn kill_the_test_databases_connections(url: &str) -> usize {
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    killed.len()
}

/// Three connections checked out at once (so the pool holds at least three).
async fn three_connections(pool: &sqlx::AnyPool) -> Vec<sqlx::pool::PoolConnection<sqlx::Any>> {
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.acquire().await.unwrap());
    }
    held
}

/// A statement that runs for a few seconds, to be dropped part-way.
fn slow_statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "SELECT CAST(1 AS BIGINT) FROM pg_sleep(3)",
        Backend::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000000) \
             SELECT COUNT(*) FROM c"
        }
    }
}

portal_test_support::db_test!(
    a_finished_read_keeps_its_connection_and_a_dropped_one_is_not_handed_to_the_next_read,
    |t: portal_test_support::TestServices| async move {
        let db = &t.svc.db;
        // A read that finished: its connection (and so its temporary table) serves the next one.
        let mut r = db.reader().await.unwrap();
        sqlx::query("CREATE TEMPORARY TABLE read_marker (x INTEGER)")
            .execute(&mut *r)
            .await
            .unwrap();
        r.done();
        let mut r = db.reader().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM read_marker")
            .fetch_one(&mut *r)
            .await
            .expect("the kept connection serves the next read");
        assert_eq!(n, 0);
        r.done();
        // A read dropped in the middle of its statement (a client that went away): its
        // connection is still busy with it, so the next read must get another one at once.
        let mut r = db.reader().await.unwrap();
        let slow = tokio::time::timeout(
            Duration::from_millis(300),
            sqlx::query(slow_statement(db.backend)).fetch_all(&mut *r),
        )
        .await;
        assert!(slow.is_err(), "the slow statement was to be cut off");
        drop(r);
        let next = tokio::time::timeout(Duration::from_secs(2), async {
            let mut r = db.reader().await.unwrap();
            let (one,): (i64,) = sqlx::query_as("SELECT CAST(1 AS BIGINT)")
                .fetch_one(&mut *r)
                .await
                .unwrap();
            r.done();
            one
        })
        .await
        .expect("the next read waited for the dropped read's statement");
        assert_eq!(next, 1);
    }
);

portal_test_support::db_test!(
    a_small_pool_keeps_no_connection_aside_for_reads,
    |t: portal_test_support::TestServices| async move {
        // Three connections: none is kept for reads, so three holders at once still get theirs.
        let db = portal_core::Db::open(&t.tdb.url, 3).await.unwrap();
        for _ in 0..3 {
            db.reader().await.unwrap().done();
        }
        let held = tokio::time::timeout(Duration::from_secs(5), three_connections(&db.pool))
            .await
            .expect("a connection was kept aside from a pool of three");
        assert_eq!(held.len(), 3);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_kept_for_reads_and_dropped_by_the_server_are_replaced() {
    deadline(async {
        let t = services(Backend::Postgres).await;
        let db = &t.svc.db;
        // Two reads at once, both kept afterwards.
        let (a, b) = (db.reader().await.unwrap(), db.reader().await.unwrap());
        a.done();
        b.done();
        let killed = kill_the_test_databases_connections(&t.tdb.url).await;
        assert!(killed >= 2, "{killed} connections killed");
        // Past the idle time that gets a connection pinged, every read finds a live one.
        tokio::time::sleep(Duration::from_secs(6)).await;
        for _ in 0..5 {
            let mut r = db.reader().await.unwrap();
            let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(&mut *r).await.unwrap();
            assert_eq!(one, 1);
            r.done();
        }
    })
    .await;
}

portal_test_support::db_test!(
    connections_kept_for_reads_go_back_to_the_pool_when_unused_and_at_close,
    |t: portal_test_support::TestServices| async move {
        // The test pool has 8 connections, so 2 are kept for reads at most.
        let db = &t.svc.db;
        // Two reads finish and both connections are kept. (The sweep gives back a connection
        // kept unused for a second: if this thread is held up that long between the reads and
        // the count, on a loaded machine, the reads are made again.)
        let keep_two = || async {
            loop {
                let (a, b) = (db.reader().await.unwrap(), db.reader().await.unwrap());
                a.done();
                b.done();
                if db.kept_for_reads() == 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), keep_two())
            .await
            .expect("two finished reads did not keep their connections");
        // Every other connection in use: the two kept ones come back to the pool once unused,
        // so the next holder gets one well within the pool's 10 s acquire timeout.
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(db.pool.acquire().await.unwrap());
        }
        let seventh = tokio::time::timeout(Duration::from_secs(4), db.pool.acquire())
            .await
            .expect("the connections kept for reads were not given back");
        held.push(seventh.unwrap());
        assert_eq!(db.kept_for_reads(), 0);
        drop(held);
        // (They go back to the pool in tasks of their own: a connection is kept only while the
        // pool has one to spare.)
        tokio::time::timeout(Duration::from_secs(3), async {
            while db.pool.num_idle() < 8 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the held connections went back to the pool");
        // Closing the pool does not wait for kept connections, and no read is served after.
        tokio::time::timeout(Duration::from_secs(5), keep_two())
            .await
            .expect("two finished reads did not keep their connections");
        tokio::time::timeout(Duration::from_secs(3), db.close())
            .await
            .expect("closing the pool waited for the connections kept for reads");
        assert!(matches!(db.reader().await, Err(sqlx::Error::PoolClosed)));
    }
);
