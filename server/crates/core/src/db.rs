//! The database handle: one `AnyPool` over SQLite or PostgreSQL, chosen by the URL scheme.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use crate::error::{CoreError, CoreResult};
use crate::sql::{Script, SqlBuilder};

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
    /// handler, which sleeps in growing steps) keeps write latency flat under concurrency. The
    /// same turn carries the open group-commit batch ([`Db::batched`]).
    writer: Arc<Writer>,
    /// Seek positions of deep SCIM list pages, per organisation (`crate::list_seek`).
    pub(crate) list_seeks: std::sync::Arc<crate::list_seek::ListSeeks>,
    /// SCIM token bookkeeping waiting to be written (`crate::scim_tokens::Usage`).
    pub(crate) token_usage: Arc<crate::scim_tokens::Usage>,
    /// SCIM tokens that checked out, forgotten at every [`WriteTx`] commit
    /// (`crate::token_cache`).
    pub(crate) token_cache: Arc<crate::token_cache::TokenCache>,
    /// Connections kept between short reads ([`Db::reader`]).
    readers: Arc<Readers>,
    /// userName lookups waiting to be read together (`crate::lookups`).
    pub(crate) lookups: Arc<crate::lookups::Lookups>,
}

/// Connections kept between the short reads of [`Db::reader`], out of sqlx's pool: a connection
/// given back to that pool is pinged first (sqlx 0.8 does it on every release, to find one a
/// cancelled statement left half-read), one more round trip per statement — to the server on
/// PostgreSQL, to the connection's thread on SQLite. A read that finished has had its whole
/// answer, so its connection is kept here without that ping; one that did not (an error, a
/// request dropped mid-statement) goes back to the pool, which checks it as before.
///
/// Kept connections are still the pool's (they count against `DB_MAX_CONNECTIONS`), so they are
/// kept briefly: at most a quarter of the pool, none while the pool has no connection to spare,
/// each given back after [`KEPT_IDLE`] unused (a task sweeps every [`KEPT_IDLE`]) and after
/// [`KEPT_LIFETIME`] in all (so the pool's own lifetime and idle rules still apply to it).
#[derive(Debug)]
struct Readers {
    idle: std::sync::Mutex<Vec<Kept>>,
    /// How many are kept at most: a quarter of the pool (none for a pool under four).
    keep: usize,
}

#[derive(Debug)]
struct Kept {
    conn: PoolConnection<sqlx::Any>,
    /// Taken out of the pool at.
    taken: Instant,
    /// Kept here since.
    since: Instant,
}

/// A kept connection unused this long goes back to the pool.
const KEPT_IDLE: Duration = Duration::from_secs(1);
/// A connection goes back to the pool after this long out of it, however busy.
const KEPT_LIFETIME: Duration = Duration::from_secs(60);

impl Readers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes out the connections unused for [`KEPT_IDLE`] (all of them when `all`), to be
    /// dropped by the caller outside the lock (dropping one gives it back to the pool).
    fn take_stale(&self, all: bool) -> Vec<Kept> {
        let mut idle = self.lock();
        let (stale, fresh): (Vec<_>, Vec<_>) = idle
            .drain(..)
            .partition(|k| all || k.since.elapsed() >= KEPT_IDLE);
        *idle = fresh;
        stale
    }
}

/// A connection for one short read (plain SELECTs only), from [`Db::reader`]. Call
/// [`ReadConn::done`] when the read has finished without error and its rows were read to the
/// end, so that it is kept for the next one.
pub struct ReadConn<'a> {
    conn: Option<PoolConnection<sqlx::Any>>,
    taken: Instant,
    db: &'a Db,
    finished: bool,
}

impl ReadConn<'_> {
    /// The read finished and its answer was read to the end: the connection is kept.
    pub fn done(mut self) {
        self.finished = true;
    }
}

impl std::ops::Deref for ReadConn<'_> {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        self.conn
            .as_ref()
            .expect("a ReadConn holds its connection until dropped")
    }
}

impl std::ops::DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn
            .as_mut()
            .expect("a ReadConn holds its connection until dropped")
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let pool = &self.db.pool;
        let readers = &self.db.readers;
        let keep = self.finished
            && !Connection::is_in_transaction(&*conn)
            && self.taken.elapsed() < KEPT_LIFETIME
            && !pool.is_closed()
            // The pool has a connection to spare: nobody is waiting for this one.
            && (pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections());
        if keep {
            let mut idle = readers.lock();
            if idle.len() < readers.keep {
                idle.push(Kept {
                    conn,
                    taken: self.taken,
                    since: Instant::now(),
                });
                return;
            }
        }
        // Back to sqlx's pool (pinged there), outside the lock.
        drop(conn);
    }
}

/// The process's SQLite write turn and the group-commit batch it may hold open.
#[derive(Debug, Default)]
struct Writer {
    turn: Arc<tokio::sync::Mutex<Batch>>,
    /// Writers waiting for the turn: while there are any, a batch stays open for them.
    waiting: AtomicUsize,
}

/// A transaction shared by the batched writes of several requests, committed once for all.
#[derive(Debug, Default)]
struct Batch {
    tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
    /// Writes it holds; at [`MAX_BATCH`] it is committed even with writers waiting.
    jobs: usize,
    /// A write that could not be undone on its own: the whole batch is rolled back.
    poisoned: bool,
    /// The last write's savepoint is still open (released by the next write, or the commit); a
    /// write undone alone leaves it open too, empty.
    savepoint_open: bool,
    /// Tells the batch's members how its commit went (true: committed).
    outcome: Option<tokio::sync::watch::Sender<Option<bool>>>,
    subscribers: Option<tokio::sync::watch::Receiver<Option<bool>>>,
}

/// A PostgreSQL connection idle this long is pinged before it is handed out.
const PING_IDLE: Duration = Duration::from_secs(5);

/// Writes per batch, at most: bounds how long the first of them waits for its answer.
const MAX_BATCH: usize = 64;
/// A batch member that has heard nothing for this long commits the batch itself (the writer that
/// was to do it went away).
const BATCH_STALL: Duration = Duration::from_millis(20);

/// Counts a writer as waiting for the turn until it gets it (or is dropped while waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Self(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a batched write decided to do, from its reads: the statements to run (all of its
/// writes), whether the first must change exactly one row, and the value to answer with once
/// they are committed.
pub struct Planned<T> {
    pub script: Script,
    pub first_changes_one_row: bool,
    pub value: T,
}

/// Why a batched write failed: its own refusal, or the database.
#[derive(Debug)]
pub enum BatchError<E> {
    Job(E),
    Db(sqlx::Error),
}

impl<E> From<sqlx::Error> for BatchError<E> {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

/// A write transaction; on SQLite it also holds the process's write turn until it ends.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<Batch>>,
    /// Forgotten when this transaction ends by a commit (None: opened with
    /// [`Db::begin_write_no_credentials`]).
    token_cache: Option<Arc<crate::token_cache::TokenCache>>,
}

impl WriteTx {
    /// Commits. If what a SCIM token check reads has changed (the `auth_epoch` counter the
    /// triggers move, read inside this transaction, is not the one memory was last vouched by),
    /// the tokens held in memory are forgotten, also when the commit fails or is cut short (the
    /// request dropped while it waits): the process that made a change sees it at once, other
    /// instances within about 100 ms (`crate::token_cache`).
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Some(cache) = self.token_cache.take() else {
            return self.tx.commit().await;
        };
        let epoch = async {
            if self.tx.backend_name() == "PostgreSQL" {
                // The counter's triggers are deferred to the commit: run them now.
                sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
                    .execute(&mut *self.tx)
                    .await?;
            }
            sqlx::query_as::<_, (i64,)>("SELECT CAST(n AS BIGINT) FROM auth_epoch WHERE id = 1")
                .fetch_one(&mut *self.tx)
                .await
        }
        .await;
        let _forget = match epoch {
            Ok((n,)) if cache.vouched_by(n) => ForgetOnDrop(None),
            Ok((n,)) => ForgetOnDrop(Some((cache, Some(n)))),
            Err(_) => ForgetOnDrop(Some((cache, None))),
        };
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// [`lock_row`] of the organisation: read-then-write changes of an org's settings, SSO,
    /// tokens, links or team take it first. False when the org does not exist.
    pub async fn lock_org(&mut self, org_id: &str) -> Result<bool, sqlx::Error> {
        lock_row(&mut self.tx, Locked::Org, org_id).await
    }
}

/// Forgets the SCIM tokens held in memory when dropped: after a commit, whether it succeeded,
/// failed or was cancelled half-way.
/// With the counter's value the transaction read, which memory then stands for (everything up to
/// it is committed or was this transaction's own).
struct ForgetOnDrop(Option<(Arc<crate::token_cache::TokenCache>, Option<i64>)>);

impl Drop for ForgetOnDrop {
    fn drop(&mut self) {
        if let Some((cache, epoch)) = &self.0 {
            cache.forget_all_at(*epoch);
        }
    }
}

/// A row whose dependants' read-then-write changes are serialised by [`lock_row`].
#[derive(Clone, Copy, Debug)]
pub enum Locked {
    /// An organisation: its settings, SSO, tokens, links, team, just-in-time accounts.
    Org,
    /// An admin: their second factors, recovery codes, reset links.
    Admin,
}

/// Serialises a write transaction with every other one that locks the same row: on PostgreSQL a
/// row lock held to commit; on SQLite the write transaction already holds the one writer. So two
/// read-then-write changes at once cannot both act on what they read. Not `FOR UPDATE`: rows
/// written with a key to the locked one (events, users, the replay cache) share-lock its key,
/// and two transactions that each wrote one before locking would deadlock; `FOR NO KEY UPDATE`
/// conflicts with itself, not with them. Returns whether the row exists.
pub async fn lock_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    what: Locked,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let postgres = tx.backend_name() == "PostgreSQL";
    let sql = match (what, postgres) {
        (Locked::Org, true) => "SELECT id FROM orgs WHERE id = $1 FOR NO KEY UPDATE",
        (Locked::Org, false) => "SELECT id FROM orgs WHERE id = $1",
        (Locked::Admin, true) => "SELECT id FROM admins WHERE id = $1 FOR NO KEY UPDATE",
        (Locked::Admin, false) => "SELECT id FROM admins WHERE id = $1",
    };
    let row: Option<(String,)> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
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

/// Page cache per SQLite connection, in KiB when negative (issue 11: server memory).
pub const SQLITE_CACHE_SIZE: &str = "PRAGMA cache_size = -1024";
/// The WAL's size, in pages, past which the connection that commits copies it into the database
/// file itself (SQLite's default is 1,000): normally [`checkpoints`] has done it long before.
pub const SQLITE_WAL_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 10000";
/// How often [`checkpoints`] copies the WAL into the database file while writes come in, and
/// how often it looks when none came since it last looked.
const CHECKPOINT_BUSY: Duration = Duration::from_millis(20);
const CHECKPOINT_IDLE: Duration = Duration::from_millis(500);

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
            // sqlx's own check pings every connection before handing it out: a round trip to the
            // connection's thread on SQLite, to the server on PostgreSQL, that every statement
            // paid (a SCIM lookup three times). A file the process itself has open cannot have
            // gone away; a PostgreSQL server can, but a connection used a moment ago was alive
            // then: only one idle for a while is pinged (and replaced when that fails).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    // A connection whose transaction SQLite ended by itself (SQLITE_FULL,
                    // SQLITE_IOERR …) refused sqlx's ROLLBACK, so sqlx still counts it as inside
                    // a transaction and every later transaction on it would fail: closed here
                    // (the pool then opens another). An idle connection is never in one.
                    if sqlx::Connection::is_in_transaction(conn) {
                        tracing::warn!("closing a database connection left inside a transaction");
                        return Ok(false);
                    }
                    if backend == Backend::Postgres && meta.idle_for >= PING_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; a busy writer waits instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        // The WAL is copied into the database file by a task of its own
                        // (`checkpoints`), not by whichever write commits when it passes 1,000
                        // pages: that copy ends with an fsync, which held the one writer.
                        conn.execute(SQLITE_WAL_AUTOCHECKPOINT).await?;
                        // 1 MiB of page cache per connection (SQLite's default: 2 MiB), sixteen
                        // connections at most: the operating system caches the file as well, and
                        // every commit of another connection empties this cache anyway.
                        conn.execute(SQLITE_CACHE_SIZE).await?;
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
            writer: Default::default(),
            list_seeks: Default::default(),
            token_usage: Default::default(),
            token_cache: Default::default(),
            readers: Arc::new(Readers {
                idle: Default::default(),
                keep: max_connections as usize / 4,
            }),
            lookups: Default::default(),
        };
        db.migrate().await?;
        if backend == Backend::Sqlite {
            tokio::spawn(checkpoints(db.pool.clone(), Arc::downgrade(&db.writer)));
        }
        // Gives kept read connections back to the pool once unused (ends with the `Db`).
        let readers = Arc::downgrade(&db.readers);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEPT_IDLE).await;
                let Some(readers) = readers.upgrade() else {
                    break;
                };
                drop(readers.take_stale(false));
            }
        });
        Ok(db)
    }

    /// A connection for one short read (a SCIM lookup or get): one kept from an earlier read
    /// ([`Readers`]), or one from the pool.
    pub async fn reader(&self) -> Result<ReadConn<'_>, sqlx::Error> {
        if self.pool.is_closed() {
            drop(self.readers.take_stale(true));
            return Err(sqlx::Error::PoolClosed);
        }
        let kept = self.readers.lock().pop();
        let (conn, taken) = match kept {
            Some(k) => (k.conn, k.taken),
            None => (self.pool.acquire().await?, Instant::now()),
        };
        Ok(ReadConn {
            conn: Some(conn),
            taken,
            db: self,
            finished: false,
        })
    }

    /// Connections kept for reads ([`Db::reader`]): open and not in use, though not idle in
    /// the pool.
    pub fn kept_for_reads(&self) -> usize {
        self.readers.lock().len()
    }

    /// Closes the pool, after giving it back the connections kept for reads (sqlx's `close`
    /// waits for every connection to come back).
    pub async fn close(&self) {
        let close = self.pool.close();
        tokio::pin!(close);
        // Once the pool is marked closed no read keeps its connection; one kept just before is
        // given back on the next turn.
        loop {
            drop(self.readers.take_stale(true));
            tokio::select! {
                () = &mut close => return,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
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
    /// another writer got in between; concurrent writers queue on the busy timeout instead. An
    /// open group-commit batch is committed first.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let mut tx = self.begin_write_no_credentials().await?;
        tx.token_cache = Some(self.token_cache.clone());
        Ok(tx)
    }

    /// [`Db::begin_write`] for a write that changes nothing a SCIM token check reads (no token,
    /// org rule or group): the SCIM request log, token bookkeeping, throttle counters, failure
    /// events, changes of an existing group. Its commit skips the `auth_epoch` read of
    /// [`WriteTx::commit`] and leaves the tokens held in memory (`crate::token_cache`); were it
    /// to change one after all, the triggers would still tell every instance within about 100 ms.
    pub async fn begin_write_no_credentials(&self) -> Result<WriteTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let mut turn = {
                    let _waiting = Waiting::new(&self.writer.waiting);
                    self.writer.turn.clone().lock_owned().await
                };
                if turn.tx.is_some() {
                    // In a task of its own, so that this caller going away cannot cut it short.
                    turn = tokio::spawn(async move {
                        end_batch(&mut turn).await;
                        turn
                    })
                    .await
                    .map_err(|e| sqlx::Error::Protocol(format!("batch commit task: {e}")))?;
                }
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _turn: Some(turn),
                    token_cache: None,
                })
            }
            Backend::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
                token_cache: None,
            }),
        }
    }

    /// A write with group commit on SQLite: `plan` reads what it needs (inside the write turn,
    /// so what it reads cannot change before its statements run) and returns every statement of
    /// its write as one [`Script`]. Concurrent writes share one transaction, each script inside a
    /// savepoint of its own (a failed one is undone alone), and the transaction is committed when
    /// no other write is waiting (or [`MAX_BATCH`] are in it): one commit for many writes, and one
    /// round trip to SQLite per script. Each caller is answered only after the commit that holds
    /// its write succeeded. `plan` must not write: only the script may.
    ///
    /// On PostgreSQL, which has real concurrent writers, each write is its own transaction.
    pub async fn batched<T, E, F>(&self, plan: F) -> Result<T, BatchError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut sqlx::AnyConnection,
            ) -> futures::future::BoxFuture<'c, Result<Planned<T>, E>>
            + Send
            + 'static,
    {
        if self.backend == Backend::Postgres {
            let mut tx = self.begin_write().await?;
            let planned = plan(&mut tx).await.map_err(BatchError::Job)?;
            let affected = planned.script.run(&mut tx).await?;
            if planned.first_changes_one_row && affected.first() != Some(&1) {
                return Err(BatchError::Db(sqlx::Error::RowNotFound));
            }
            tx.commit().await?;
            return Ok(planned.value);
        }
        // Everything from taking the write turn on runs in a task of its own: a caller that goes
        // away (a client that hangs up, a request timeout) must neither leave a batch open with
        // nobody to commit it nor stop a script half-way inside a transaction others will commit.
        let writer = self.writer.clone();
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let mut turn = {
                let _waiting = Waiting::new(&writer.waiting);
                writer.turn.clone().lock_owned().await
            };
            if turn.tx.is_none() {
                turn.tx = Some(pool.begin_with("BEGIN IMMEDIATE").await?);
                let (outcome, subscribers) = tokio::sync::watch::channel(None);
                turn.outcome = Some(outcome);
                turn.subscribers = Some(subscribers);
                turn.jobs = 0;
                turn.poisoned = false;
                turn.savepoint_open = false;
            }
            let planned = match turn.tx.as_mut() {
                Some(tx) => plan(tx).await,
                None => return Err(BatchError::Db(sqlx::Error::PoolClosed)),
            };
            run_in_batch(writer, turn, planned).await
        });
        match task.await {
            Ok(result) => result,
            Err(e) => {
                // The task panicked (its turn was released while unwinding): roll back the batch
                // it may have left open, half a write and all. Members of that batch are waiting
                // for its outcome and answer 503; none was answered before.
                let mut turn = self.writer.turn.clone().lock_owned().await;
                if turn.tx.is_some() {
                    turn.poisoned = true;
                }
                end_batch(&mut turn).await;
                Err(BatchError::Db(sqlx::Error::Protocol(format!(
                    "batched write task: {e}"
                ))))
            }
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

/// Runs a planned write inside the open batch, decides whether to commit the batch now, and
/// waits for the commit that holds the write.
async fn run_in_batch<T, E>(
    writer: Arc<Writer>,
    mut turn: tokio::sync::OwnedMutexGuard<Batch>,
    planned: Result<Planned<T>, E>,
) -> Result<T, BatchError<E>> {
    let result = match planned {
        Err(e) => Err(BatchError::Job(e)),
        Ok(p) => {
            // Poisoned while the script runs: if this task dies half-way (a panic), the batch is
            // rolled back rather than committed with half a write in it.
            let was_poisoned = turn.poisoned;
            turn.poisoned = true;
            let release_previous = turn.savepoint_open;
            match turn.tx.as_mut() {
                None => Err(BatchError::Db(sqlx::Error::PoolClosed)),
                Some(tx) => {
                    // The previous write's savepoint is released in this round trip, and this
                    // one's is left open until the next write or the commit: so a write whose
                    // first statement changed no row can still be undone alone, at no extra
                    // round trip when it did.
                    let mut script = Script::new();
                    if release_previous {
                        script.push(SqlBuilder::new("RELEASE batched_write"));
                    }
                    script.push(SqlBuilder::new("SAVEPOINT batched_write"));
                    for s in p.script.statements() {
                        script.push(s.clone());
                    }
                    let (affected, error) = run_counted(tx, &script).await;
                    let opened = usize::from(release_previous) + 1;
                    let first = opened;
                    if affected.len() < opened {
                        // The RELEASE or the SAVEPOINT itself failed: nothing can be undone
                        // alone (the batch stays poisoned).
                        Err(BatchError::Db(error.unwrap_or(sqlx::Error::RowNotFound)))
                    } else {
                        let guard_failed =
                            p.first_changes_one_row && affected.get(first).is_some_and(|&n| n != 1);
                        if error.is_none() && !guard_failed {
                            turn.poisoned = was_poisoned;
                            turn.savepoint_open = true;
                            turn.jobs += 1;
                            Ok(p.value)
                        } else {
                            // Rolled back to, not released: the (now empty) savepoint stays
                            // open for the next write's RELEASE, which fails, and so rolls the
                            // whole batch back, if SQLite has ended the transaction in the
                            // meantime (an I/O error in a later write's reads). Were it
                            // released, that write's SAVEPOINT would quietly begin a new
                            // transaction and the batch's COMMIT commit only that, answering
                            // the writes before this one as committed.
                            let undone =
                                sqlx::Executor::execute(&mut **tx, "ROLLBACK TO batched_write")
                                    .await;
                            turn.savepoint_open = true;
                            match undone {
                                Ok(_) => turn.poisoned = was_poisoned,
                                Err(u) => {
                                    tracing::error!(error = %u, "could not undo a failed batched write");
                                }
                            }
                            match error {
                                // The first statement changed no row; what failed after it
                                // (a child row of a user not inserted) follows from that.
                                _ if guard_failed => Err(BatchError::Db(sqlx::Error::RowNotFound)),
                                Some(e) => Err(BatchError::Db(e)),
                                None => Err(BatchError::Db(sqlx::Error::RowNotFound)),
                            }
                        }
                    }
                }
            }
        }
    };
    let Some(mut outcome) = turn.subscribers.clone() else {
        return result;
    };
    if turn.poisoned || turn.jobs >= MAX_BATCH || writer.waiting.load(Ordering::Acquire) == 0 {
        end_batch(&mut turn).await;
    }
    drop(turn);
    // Every member waits for the batch's end, a refused one too: its answer may rest on a
    // write of the batch (a uniqueness conflict with a user created in it).
    let committed = loop {
        if let Some(ok) = *outcome.borrow_and_update() {
            break ok;
        }
        match tokio::time::timeout(BATCH_STALL, outcome.changed()).await {
            Ok(Ok(())) => {}
            // The sender is gone: what it sent last (if anything) is the outcome.
            Ok(Err(_)) => break outcome.borrow().unwrap_or(false),
            Err(_) => {
                let mut turn = writer.turn.clone().lock_owned().await;
                let same = turn
                    .subscribers
                    .as_ref()
                    .is_some_and(|s| s.same_channel(&outcome));
                if same {
                    end_batch(&mut turn).await;
                }
            }
        }
    };
    match result {
        Ok(_) if !committed => Err(BatchError::Db(sqlx::Error::Protocol(
            "the batch holding this write was not committed".into(),
        ))),
        // A refusal may rest on a write of the batch that was undone (a uniqueness conflict
        // with a user created in it): not final, the client should try again.
        Err(BatchError::Job(_)) if !committed => Err(BatchError::Db(sqlx::Error::Protocol(
            "the batch this write was checked against was not committed".into(),
        ))),
        other => other,
    }
}

/// Commits the open batch (rolls it back when poisoned) and tells its members.
async fn end_batch(turn: &mut Batch) {
    let Some(tx) = turn.tx.take() else {
        return;
    };
    let ok = if turn.poisoned {
        // SQLite may have ended the transaction by itself (SQLITE_FULL, say): the ROLLBACK then
        // fails, and the pool closes the connection when it is next taken (`Db::open`,
        // `before_acquire`).
        if let Err(e) = tx.rollback().await {
            tracing::error!(error = %e, "could not roll back a poisoned write batch");
        }
        false
    } else {
        match tx.commit().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, writes = turn.jobs, "could not commit a write batch");
                false
            }
        }
    };
    if let Some(outcome) = turn.outcome.take() {
        outcome.send_replace(Some(ok));
    }
    turn.subscribers = None;
    turn.jobs = 0;
    turn.poisoned = false;
    turn.savepoint_open = false;
}

/// Copies SQLite's WAL into the database file, on a connection of the pool, until the pool
/// closes or the `Db` is gone (`alive`): every [`CHECKPOINT_BUSY`] while writes come in, every
/// [`CHECKPOINT_IDLE`] otherwise. A passive checkpoint: it never waits for the writer or readers,
/// and the writer goes on meanwhile (it starts the WAL over once everything in it is copied). Left
/// to the connection that commits (SQLite's automatic checkpoint every 1,000 pages), the copy and
/// its fsync held the one writer: measured, 15–20% of the rate of SCIM creates and a higher p99
/// (`BENCHMARKS.md`). Checked often under writes, so that what is left for a committing write to
/// copy when the WAL passes [`SQLITE_WAL_AUTOCHECKPOINT`] stays small.
async fn checkpoints(pool: AnyPool, alive: std::sync::Weak<Writer>) {
    let mut last = (-1, -1);
    let mut pause = CHECKPOINT_IDLE;
    let mut failing = false;
    loop {
        tokio::time::sleep(pause).await;
        if pool.is_closed() || alive.strong_count() == 0 {
            return;
        }
        let result = async {
            let mut conn = pool.acquire().await?;
            // (busy, frames in the WAL, frames copied)
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut *conn)
                .await
        }
        .await;
        match result {
            Ok((_, frames, copied)) => {
                if failing {
                    tracing::info!("the SQLite WAL is copied into the database file again");
                    failing = false;
                }
                pause = if (frames, copied) == last {
                    CHECKPOINT_IDLE
                } else {
                    CHECKPOINT_BUSY
                };
                last = (frames, copied);
            }
            Err(e) => {
                if pool.is_closed() {
                    return;
                }
                pause = CHECKPOINT_IDLE;
                // Once per spell of failures, not every half second.
                if !failing {
                    tracing::warn!(error = %e, "could not copy the SQLite WAL into the database file");
                    failing = true;
                }
            }
        }
    }
}

/// Runs a script on SQLite in one round trip: the rows each statement changed, as far as it
/// got, and the error that stopped it.
async fn run_counted(
    conn: &mut sqlx::AnyConnection,
    script: &Script,
) -> (Vec<u64>, Option<sqlx::Error>) {
    use futures::TryStreamExt;
    use sqlx::Executor;
    let all = script.joined();
    let mut affected = Vec::with_capacity(script.len());
    let mut results = conn.execute_many(all.query());
    loop {
        match results.try_next().await {
            Ok(Some(r)) => affected.push(r.rows_affected()),
            Ok(None) => break,
            Err(e) => return (affected, Some(e)),
        }
    }
    if affected.len() != script.len() {
        let e = sqlx::Error::Protocol(format!(
            "a script of {} statements reported {} results",
            script.len(),
            affected.len()
        ));
        return (affected, Some(e));
    }
    (affected, None)
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
