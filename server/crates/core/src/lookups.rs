//! The IdP's lookup (`filter=userName eq "…"`, made before each write of a sync) read for several
//! requests at once (issue 11). Lookups that arrive while [`RUNNERS`] statements are already out
//! wait for one of them to come back, then go together in one statement: one round trip to
//! PostgreSQL (or to a SQLite connection's thread) for all of them instead of one each. Nothing
//! waits on purpose: a lookup that finds a runner free is read at once, alone or with the few
//! queued before it, so under light load this is the plain one-lookup read.
//!
//! Each key is an (organisation, userName) pair and comes back under its own number (`k`), and
//! each row is checked to be of its key's organisation: a row of one organisation can only be
//! answered to a lookup made with that organisation's token. A statement that fails answers each
//! of its lookups "read it yourself" and the caller reads alone, so errors are the caller's own,
//! as before — except a read that found no connection or did not end within [`READ_TIMEOUT`]:
//! its lookups and those queued behind it fail at once (503), instead of each trying the
//! exhausted or stalled database again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Backend, Db};
use crate::sql::{SqlBuilder, SqlValue};

/// Statements out at once. The first lookups that find one free are read at once; a lookup that
/// comes while all are out waits for the next to come back, then goes with the others queued.
pub const RUNNERS: usize = 2;
/// Keys per statement, at most. Statements are of 1, 2, 4 … keys (the last key repeated to fill
/// one up), so a connection keeps six of them prepared at most.
pub const MAX_KEYS: usize = 32;
/// Lookups waiting, at most: past it a lookup is read alone at once.
pub const MAX_QUEUE: usize = 512;
/// A shared read that takes longer (waiting for a connection included) fails its lookups.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue of waiting lookups and how many statements are out.
#[derive(Debug, Default)]
pub(crate) struct Lookups {
    state: Mutex<State>,
    /// Statements read, and the lookups they answered (`Db::lookup_counts`).
    statements: AtomicU64,
    keys: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<Pending>,
    running: usize,
}

/// What a waiting lookup is told.
enum Answer {
    /// The live users of its key (one at most, by the unique index).
    Rows(Vec<AnyRow>),
    /// The shared read failed: read alone.
    ReadAlone,
    /// No connection, or the database did not answer in time.
    TimedOut,
    Closed,
}

struct Pending {
    org_id: String,
    /// The userName as the filter compares it (lower-cased, `scim_filter`).
    name: String,
    answer: tokio::sync::oneshot::Sender<Answer>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("org_id", &self.org_id)
            .finish_non_exhaustive()
    }
}

impl Lookups {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes the first [`MAX_KEYS`] waiting lookups whose request still waits for them.
fn take_batch(queue: &mut Vec<Pending>) -> Vec<Pending> {
    queue.retain(|p| !p.answer.is_closed());
    let n = queue.len().min(MAX_KEYS);
    queue.drain(..n).collect()
}

/// The statement that reads the live users of `keys` ((org id, lower-cased userName) pairs):
/// each row comes with `k`, the position of its key, and each key is one probe of index
/// `users_org_user_name` (the query-plan test explains it). On PostgreSQL the probe is a
/// `LATERAL` subquery: as a plain join, a planner without statistics yet (a new deployment)
/// scanned every live user once per statement instead.
pub fn user_name_lookup_statement(backend: Backend, keys: &[(&str, &str)]) -> SqlBuilder {
    let mut b = SqlBuilder::new(match backend {
        Backend::Sqlite => "WITH v (k, org, name) AS (VALUES ",
        Backend::Postgres => "SELECT CAST(v.k AS BIGINT) AS k, u.* FROM (VALUES ",
    });
    for (i, (org, name)) in keys.iter().enumerate() {
        // `k` is our own counter, written into the text; the org id and the name are bound.
        b.push(&format!("{}({i}, ", if i == 0 { "" } else { ", " }))
            .push_bind(SqlValue::from(*org))
            .push(", ")
            .push_bind(SqlValue::from(*name))
            .push(")");
    }
    let columns = crate::users::SELECT_COLUMNS;
    b.push(&match backend {
        Backend::Sqlite => format!(
            ") SELECT CAST(v.k AS BIGINT) AS k, {columns} FROM v JOIN users u \
             ON u.org_id = v.org AND lower(u.user_name) = v.name WHERE u.deleted_at IS NULL"
        ),
        Backend::Postgres => format!(
            ") AS v (k, org, name) CROSS JOIN LATERAL (SELECT {columns} FROM users u \
             WHERE u.org_id = v.org AND lower(u.user_name) = v.name AND u.deleted_at IS NULL \
             LIMIT 2) AS u"
        ),
    });
    b
}

/// Gives its place back when the runner ends abnormally (a panic, or dropped at shutdown): the
/// count must not stay taken, or every later lookup would wait for a runner that never comes.
/// If it was the last runner, the lookups still queued are told to read alone.
struct Running {
    lookups: Arc<Lookups>,
    /// Ended normally: the place was given back under the lock that saw the queue empty.
    ended: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let orphans = {
            let mut st = self.lookups.lock();
            st.running -= 1;
            if st.running == 0 {
                std::mem::take(&mut st.queue)
            } else {
                Vec::new()
            }
        };
        for p in orphans {
            let _ = p.answer.send(Answer::ReadAlone);
        }
    }
}

impl Db {
    /// The live users of the organisation whose userName compares equal to `name` (already
    /// lower-cased as the filter compares it), read with the other lookups waiting now. Ok(None):
    /// read it alone (the shared read failed, or too many wait).
    pub(crate) async fn lookup_user_name(
        &self,
        org_id: &str,
        name: &str,
    ) -> Result<Option<Vec<AnyRow>>, sqlx::Error> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let start = {
            let mut st = self.lookups.lock();
            if st.queue.len() >= MAX_QUEUE {
                return Ok(None);
            }
            st.queue.push(Pending {
                org_id: org_id.to_string(),
                name: name.to_string(),
                answer,
            });
            if st.running < RUNNERS {
                st.running += 1;
                Some(take_batch(&mut st.queue))
            } else {
                None
            }
        };
        if let Some(batch) = start {
            // In a task of its own: this request going away must not strand the others.
            let running = Running {
                lookups: self.lookups.clone(),
                ended: false,
            };
            tokio::spawn(run(self.clone(), running, batch));
        }
        match answered.await {
            Ok(Answer::Rows(rows)) => Ok(Some(rows)),
            // Or the runner went away without answering (dropped at shutdown).
            Ok(Answer::ReadAlone) | Err(_) => Ok(None),
            Ok(Answer::TimedOut) => Err(sqlx::Error::PoolTimedOut),
            Ok(Answer::Closed) => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Shared lookup statements out now.
    pub fn lookup_runners(&self) -> usize {
        self.lookups.lock().running
    }

    /// Shared lookup statements read so far, and the lookups they answered.
    pub fn lookup_counts(&self) -> (u64, u64) {
        (
            self.lookups.statements.load(Ordering::Relaxed),
            self.lookups.keys.load(Ordering::Relaxed),
        )
    }
}

/// Reads batches until none is waiting.
async fn run(db: Db, mut running: Running, mut batch: Vec<Pending>) {
    loop {
        let keys: Vec<(&str, &str)> = batch
            .iter()
            .map(|p| (p.org_id.as_str(), p.name.as_str()))
            .collect();
        let found = tokio::time::timeout(READ_TIMEOUT, read(&db, &keys)).await;
        let failed = |a: fn() -> Answer, batch: &mut Vec<Pending>| {
            for p in batch.drain(..) {
                let _ = p.answer.send(a());
            }
        };
        match found {
            Ok(Ok(per_key)) => {
                let lookups = &running.lookups;
                lookups.statements.fetch_add(1, Ordering::Relaxed);
                lookups
                    .keys
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                for (p, rows) in batch.drain(..).zip(per_key) {
                    let _ = p.answer.send(Answer::Rows(rows));
                }
            }
            // The lookups queued meanwhile would wait as long again for the same: they fail too.
            Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => {
                batch.append(&mut running.lookups.lock().queue);
                tracing::warn!(
                    keys = batch.len(),
                    "shared userName lookup found no connection or no answer in time"
                );
                failed(|| Answer::TimedOut, &mut batch);
            }
            Ok(Err(sqlx::Error::PoolClosed)) => {
                batch.append(&mut running.lookups.lock().queue);
                failed(|| Answer::Closed, &mut batch);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, keys = batch.len(), "shared userName lookup failed; each reads alone");
                failed(|| Answer::ReadAlone, &mut batch);
            }
        }
        let mut st = running.lookups.lock();
        batch = take_batch(&mut st.queue);
        if batch.is_empty() {
            // Under the lock: a lookup queued after this starts a runner of its own.
            st.running -= 1;
            drop(st);
            running.ended = true;
            return;
        }
    }
}

/// The rows of each key, in the keys' order.
async fn read(db: &Db, keys: &[(&str, &str)]) -> Result<Vec<Vec<AnyRow>>, sqlx::Error> {
    // 1, 2, 4 … keys: the last one repeated (its extra rows are left out below).
    let mut padded = keys.to_vec();
    if let Some(last) = keys.last() {
        padded.resize(keys.len().next_power_of_two(), *last);
    }
    let b = user_name_lookup_statement(db.backend, &padded);
    let mut conn = db.reader().await?;
    let rows = b.query().fetch_all(&mut *conn).await?;
    conn.done();
    assign(rows, keys, padded.len(), |r| {
        Ok((r.try_get("k")?, r.try_get::<String, _>("org_id")?))
    })
}

/// Hands each row to the key it was read for (`key_of`: its key number and organisation), in the
/// keys' order; rows of the padding keys past `keys` are left out. A row numbered for no key of
/// the statement, or of another organisation than its key's, is an error: the whole batch then
/// reads alone, and no lookup is answered with another's rows.
fn assign<R>(
    rows: Vec<R>,
    keys: &[(&str, &str)],
    padded: usize,
    key_of: impl Fn(&R) -> Result<(i64, String), sqlx::Error>,
) -> Result<Vec<Vec<R>>, sqlx::Error> {
    let mut per_key: Vec<Vec<R>> = keys.iter().map(|_| Vec::new()).collect();
    for r in rows {
        let (k, org) = key_of(&r)?;
        let Some(k) = usize::try_from(k).ok().filter(|k| *k < padded) else {
            return Err(sqlx::Error::Protocol(format!(
                "a lookup row for key {k} of {padded}"
            )));
        };
        let Some(rows) = per_key.get_mut(k) else {
            continue; // a repeat of the last key
        };
        if org != keys[k].0 {
            return Err(sqlx::Error::Protocol(format!(
                "a lookup row of another organisation for key {k}"
            )));
        }
        rows.push(r);
    }
    Ok(per_key)
}

#[cfg(test)]
mod tests {
    use super::assign;

    type Row = (i64, &'static str, &'static str);

    fn key_of(r: &Row) -> Result<(i64, String), sqlx::Error> {
        Ok((r.0, r.1.to_string()))
    }

    const KEYS: [(&str, &str); 3] = [("org-a", "x"), ("org-b", "x"), ("org-a", "y")];

    #[test]
    fn each_row_goes_to_its_own_key_and_the_padding_is_left_out() {
        // Three keys padded to four (the last repeated): rows in any order.
        let rows: Vec<Row> = vec![
            (3, "org-a", "padding"),
            (1, "org-b", "b-x"),
            (0, "org-a", "a-x"),
            (2, "org-a", "a-y"),
        ];
        let per_key = assign(rows, &KEYS, 4, key_of).unwrap();
        let ids: Vec<Vec<&str>> = per_key
            .iter()
            .map(|rows| rows.iter().map(|r| r.2).collect())
            .collect();
        assert_eq!(ids, vec![vec!["a-x"], vec!["b-x"], vec!["a-y"]]);
        // A key nobody matched gets no rows (not another key's).
        let per_key = assign(vec![(1, "org-b", "b-x")], &KEYS, 4, key_of).unwrap();
        assert!(per_key[0].is_empty() && per_key[2].is_empty());
        assert_eq!(per_key[1].len(), 1);
    }

    #[test]
    fn a_row_of_another_organisation_fails_the_batch() {
        // Key 1 is org-b's lookup: a row of org-a numbered 1 must not reach it.
        let err = assign(vec![(1, "org-a", "a-x")], &KEYS, 4, key_of).unwrap_err();
        assert!(err.to_string().contains("another organisation"), "{err}");
    }

    #[test]
    fn a_row_for_no_key_of_the_statement_fails_the_batch() {
        for k in [4, -1, i64::MAX] {
            let err = assign(vec![(k, "org-a", "a-x")], &KEYS, 4, key_of).unwrap_err();
            assert!(err.to_string().contains("lookup row for key"), "{k}: {err}");
        }
    }
}
