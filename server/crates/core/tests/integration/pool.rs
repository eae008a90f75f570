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
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&t.tdb.url)
            .await
            .unwrap();
        let killed: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(killed.len() >= 3, "{killed:?}");
        // Past the idle time that gets a connection pinged, every statement finds a live one.
        tokio::time::sleep(Duration::from_secs(6)).await;
        for _ in 0..5 {
            let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(pool).await.unwrap();
            assert_eq!(one, 1);
        }
    })
    .await;
}

/// Three connections checked out at once (so the pool holds at least three).
async fn three_connections(pool: &sqlx::AnyPool) -> Vec<sqlx::pool::PoolConnection<sqlx::Any>> {
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.acquire().await.unwrap());
    }
    held
}
