//! The database handle: one `AnyPool` over SQLite or PostgreSQL, chosen by the URL scheme.

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::error::{CoreError, CoreResult};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer at a time; queueing writers here (instead of in SQLite's busy
    /// handler, which sleeps in growing steps) keeps write latency flat under concurrency.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Seek positions of deep SCIM list pages, per organisation (`crate::list_seek`).
    pub(crate) list_seeks: std::sync::Arc<crate::list_seek::ListSeeks>,
}

/// A write transaction; on SQLite it also holds the process's write turn until it ends.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::Transaction<'static, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Why a database URL could not be used, in one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum DbOpenError {
    #[error("DATABASE_URL is not valid: {0}")]
    BadUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("database migration failed: {0}")]
    Migrate(String),
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, DbOpenError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(DbOpenError::BadUrl(
                "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
            )),
        }
    }
}

impl Db {
    /// Connects (creating a SQLite file and its directory if needed) and runs the migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, DbOpenError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            url = prepare_sqlite_url(&url)?;
        }
        let opts: AnyConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| DbOpenError::BadUrl(e.to_string()))?;
        let opts = opts.log_statements(tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; a busy writer waits instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| DbOpenError::Connect(e.to_string()))?;
        let db = Self {
            pool,
            backend,
            write_lock: Default::default(),
            list_seeks: Default::default(),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), DbOpenError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| DbOpenError::Migrate(e.to_string()))
    }

    /// A transaction that will write. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so a read-then-write cannot fail half-way with "database is locked" when
    /// another writer got in between; concurrent writers queue on the busy timeout instead.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = self.write_lock.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _turn: Some(turn),
                })
            }
            Backend::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    /// For `/healthz`.
    pub async fn ping(&self) -> CoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(CoreError::from)
    }
}

/// `sqlite://data/portal.db` → creates `data/` and asks SQLite to create the file.
fn prepare_sqlite_url(url: &str) -> Result<String, DbOpenError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| DbOpenError::BadUrl("expected sqlite://PATH".into()))?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(DbOpenError::BadUrl("the SQLite path is empty".into()));
    }
    if path != ":memory:" {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    DbOpenError::Connect(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}
