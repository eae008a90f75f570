//! A fresh, migrated database per test, on SQLite and on PostgreSQL, with a manual clock.
//!
//! PostgreSQL comes from `PORTAL_TEST_PG_URL` (an admin URL of a throwaway server the test command
//! starts, e.g. `postgres://postgres@127.0.0.1:PORT/postgres`); each test gets its own database in it.
//! A missing variable fails the PostgreSQL half loudly rather than skipping it.

use std::sync::Arc;

use portal_core::clock::{Clock, ManualClock};
use portal_core::services::Settings;
use portal_core::{Backend, Db, Services};

/// Starts at 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

pub struct TestDb {
    pub db: Db,
    pub url: String,
    /// Removed when dropped; the test macro holds it until the test body has finished.
    pub dir: Option<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "portal-test-{tag}-{}",
        portal_core::ids::new_org_id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    TempDir(dir)
}

pub async fn test_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = temp_dir("sqlite");
            let url = format!("sqlite://{}/portal.db", dir.0.display());
            let db = Db::open(&url, 8).await.expect("open sqlite");
            TestDb {
                db,
                url,
                dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let admin_url = std::env::var("PORTAL_TEST_PG_URL").expect(
                "PORTAL_TEST_PG_URL is not set: run the tests through `make test` (scripts/test.sh), \
                 which starts a throwaway PostgreSQL",
            );
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", portal_core::ids::new_org_id());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            let url = format!("{base}/{name}");
            let db = Db::open(&url, 8).await.expect("open postgres");
            TestDb { db, url, dir: None }
        }
    }
}

pub fn settings() -> Settings {
    Settings {
        public_url: "http://127.0.0.1:3000".into(),
        secure_cookies: false,
        throttle: portal_core::throttle::ThrottlePolicy::default(),
        setup_token_ttl_ms: 24 * 3600 * 1000,
        magic_link_ttl_ms: 15 * 60 * 1000,
    }
}

pub struct TestServices {
    pub svc: Services,
    pub clock: Arc<ManualClock>,
    pub tdb: TestDb,
}

pub async fn services(backend: Backend) -> TestServices {
    let tdb = test_db(backend).await;
    let clock = Arc::new(ManualClock::new(T0));
    let svc = Services {
        db: tdb.db.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        settings: Arc::new(settings()),
        argon2: Default::default(),
    };
    TestServices { svc, clock, tdb }
}

/// Every test body fails after this long instead of hanging the run.
pub const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(240);

pub async fn deadline<T>(body: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_DEADLINE, body).await {
        Ok(v) => v,
        Err(_) => panic!("the test did not finish within {TEST_DEADLINE:?}"),
    }
}
