//! SCIM token checks served from memory (issue 11).
//!
//! Every SCIM request starts with a token check: one statement that reads the token row, the
//! org's user rules and whether the org has any group. On PostgreSQL that is a network round trip
//! per request, on SQLite a hand-off to a connection's thread; a sync cycle makes thousands of
//! requests with the same token. So a token that checked out is remembered here, and forgotten as
//! soon as anything such a check reads may have changed:
//!
//! - **In this process**: a write transaction ([`crate::db::WriteTx`]) reads the counter below
//!   just before it commits and forgets everything if it is not the value memory was vouched by
//!   (the transaction itself, or another instance, changed something a check reads). Token
//!   changes, rotations, settings and groups all use plain `begin_write`, so a new write path is
//!   covered without knowing about this cache. Writes known to touch nothing a check reads (the
//!   request log, token bookkeeping, throttle counters, failure events, changes of an existing
//!   group) use [`crate::db::Db::begin_write_no_credentials`] and skip that read.
//! - **In another instance, or another process on the same SQLite file** (the CLI): triggers move
//!   the one-row counter `auth_epoch` in the same transaction as the change (migration 0017).
//!   Before serving from memory, a request makes sure the counter was read less than
//!   [`FRESH`] ago (one request reads it, the others go on), and everything is forgotten when it
//!   has moved. A change made elsewhere is therefore seen here within about [`FRESH`]; if the
//!   counter cannot be read for [`STALE_LIMIT`], memory is not used at all.
//!
//! A check that fills the cache records the [generation](TokenCache::generation) before it reads
//! the database; if anything was forgotten in between, its result is not kept (it may have read
//! the state just before a change). Only tokens that checked out are kept, so a client cannot
//! fill the memory with bad tokens; the number of entries is bounded anyway ([`MAX_ENTRIES`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::org_settings::UserPolicy;

/// How long a read of `auth_epoch` vouches for what memory holds.
pub const FRESH: Duration = Duration::from_millis(100);
/// While one request reads the counter, the others keep using memory for at most this long since
/// the last successful read; after that they go to the database.
pub const STALE_LIMIT: Duration = Duration::from_secs(1);
/// Tokens kept at most (two per organisation during a rotation); at the limit memory starts over.
pub const MAX_ENTRIES: usize = 50_000;
/// And their approximate size at most (an org's rules may list many domains).
pub const MAX_BYTES: usize = 32 << 20;

/// No time recorded (first use, last success).
const NONE: i64 = i64::MIN;

/// A token that checked out, as the check read it.
#[derive(Debug)]
pub struct Entry {
    pub(crate) org_id: String,
    pub(crate) token_hash: String,
    pub(crate) token_id: String,
    pub(crate) is_next: bool,
    /// The rotation deadline of a current token: once it has passed, the token goes through the
    /// database again (which retires it).
    pub(crate) retire_at: Option<i64>,
    pub(crate) org_has_groups: bool,
    pub(crate) policy: UserPolicy,
    /// The token's use as last noted (`crate::scim_tokens::note`), so that a burst served from
    /// memory notes it once per resolution as the database path does.
    first_used_at: AtomicI64,
    last_used_at: AtomicI64,
    last_success_at: AtomicI64,
}

fn load(a: &AtomicI64) -> Option<i64> {
    Some(a.load(Ordering::Relaxed)).filter(|&v| v != NONE)
}

impl Entry {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        org_id: &str,
        token_hash: &str,
        token_id: &str,
        is_next: bool,
        retire_at: Option<i64>,
        org_has_groups: bool,
        policy: UserPolicy,
        used: (Option<i64>, Option<i64>),
        last_success_at: Option<i64>,
    ) -> Self {
        Self {
            org_id: org_id.to_string(),
            token_hash: token_hash.to_string(),
            token_id: token_id.to_string(),
            is_next,
            retire_at,
            org_has_groups,
            policy,
            first_used_at: AtomicI64::new(used.0.unwrap_or(NONE)),
            last_used_at: AtomicI64::new(used.1.unwrap_or(NONE)),
            last_success_at: AtomicI64::new(last_success_at.unwrap_or(NONE)),
        }
    }

    pub(crate) fn used(&self) -> (Option<i64>, Option<i64>) {
        (load(&self.first_used_at), load(&self.last_used_at))
    }

    pub(crate) fn mark_used(&self, now: i64) {
        if load(&self.first_used_at).is_none() {
            self.first_used_at.store(now, Ordering::Relaxed);
        }
        self.last_used_at.fetch_max(now, Ordering::Relaxed);
    }

    /// Approximate memory held for it.
    fn weight(&self) -> usize {
        256 + self.org_id.len()
            + self.token_hash.len()
            + self.token_id.len()
            + self
                .policy
                .allowed_domains
                .iter()
                .map(|d| d.len() + 32)
                .sum::<usize>()
    }

    pub(crate) fn last_success_at(&self) -> Option<i64> {
        load(&self.last_success_at)
    }

    pub(crate) fn mark_success(&self, now: i64) {
        self.last_success_at.fetch_max(now, Ordering::Relaxed);
    }
}

/// When memory was last vouched for, and by which counter value.
#[derive(Debug, Default)]
struct Checked {
    /// When the last successful read of `auth_epoch` started.
    at: Option<Instant>,
    epoch: Option<i64>,
}

/// The tokens held, by hash (SHA-256, hex), and their [`Entry::weight`] in all.
#[derive(Debug, Default)]
struct Held {
    map: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RwLock<Held>,
    /// Moves each time memory is forgotten; read and compared under `entries`' lock.
    generation: AtomicU64,
    checked: Mutex<Checked>,
    /// A request is reading `auth_epoch`.
    checking: AtomicBool,
    /// Tests: how many checks were answered from memory.
    hits: AtomicU64,
}

/// Clears `checking` however the read ends (also when the request is dropped while it waits).
struct Checking<'a>(&'a AtomicBool);

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl TokenCache {
    /// Forgets every token. Called after a write transaction commits, and when `auth_epoch` moved.
    pub fn forget_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        *entries = Held::default();
    }

    /// Whether memory was last vouched for by this value of `auth_epoch` (a write transaction
    /// that reads another value forgets everything when it commits).
    pub(crate) fn vouched_by(&self, epoch: i64) -> bool {
        self.checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .epoch
            == Some(epoch)
    }

    /// [`Self::forget_all`] after a write transaction that read `auth_epoch` = `epoch` (which
    /// then includes its own changes) committed: memory, empty now, stands for that value, so the
    /// next read of the counter does not forget again for the same change. A value that turns
    /// out wrong (the commit failed, or a newer one was read meanwhile) only makes the next read
    /// forget once more.
    pub(crate) fn forget_all_at(&self, epoch: Option<i64>) {
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        self.forget_all();
        if epoch.is_some() {
            checked.epoch = epoch;
        }
    }

    /// Read before a check goes to the database; pass it to [`Self::keep`].
    pub(crate) fn generation(&self) -> u64 {
        let _entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps a token that checked out, unless memory was forgotten since `generation` was read.
    pub(crate) fn keep(&self, generation: u64, entry: Arc<Entry>) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let weight = entry.weight();
        if entries.map.len() >= MAX_ENTRIES || entries.bytes + weight > MAX_BYTES {
            *entries = Held::default();
        }
        entries.bytes += weight;
        if let Some(old) = entries.map.insert(entry.token_hash.clone(), entry) {
            entries.bytes -= old.weight();
        }
    }

    /// The kept token with this hash for this org, if memory may be used now (see the module
    /// documentation); reads `auth_epoch` first when the last read is older than [`FRESH`].
    pub(crate) async fn get(
        &self,
        pool: &sqlx::AnyPool,
        org_id: &str,
        token_hash: &str,
    ) -> Option<Arc<Entry>> {
        if !self.vouched(pool).await {
            return None;
        }
        let entry = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .get(token_hash)
            .cloned()?;
        // The hash identifies the token; the org and the constant-time comparison are the same
        // checks the database path makes.
        if entry.org_id != org_id || !crate::secret::digest_eq(&entry.token_hash, token_hash) {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry)
    }

    /// Whether memory may be used: `auth_epoch` was read less than [`FRESH`] ago, or this request
    /// read it now, or another request is reading it and the last read is less than
    /// [`STALE_LIMIT`] old.
    async fn vouched(&self, pool: &sqlx::AnyPool) -> bool {
        let last = self
            .checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .at;
        let age = last.map(|t| t.elapsed());
        if age.is_some_and(|a| a < FRESH) {
            return true;
        }
        if self
            .checking
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return age.is_some_and(|a| a < STALE_LIMIT);
        }
        let _checking = Checking(&self.checking);
        let started = Instant::now();
        let read: Result<(i64,), sqlx::Error> =
            sqlx::query_as("SELECT CAST(n AS BIGINT) FROM auth_epoch WHERE id = 1")
                .fetch_one(pool)
                .await;
        let epoch = match read {
            Ok((n,)) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not read auth_epoch: SCIM token checks go to the database");
                return false;
            }
        };
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        if checked.epoch != Some(epoch) {
            // Before the new read vouches for memory.
            self.forget_all();
            checked.epoch = Some(epoch);
        }
        checked.at = Some(started);
        true
    }

    /// How many token checks were answered from memory since the start (tests, metrics).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Tokens held now.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl crate::db::Db {
    /// SCIM tokens held in memory ([`TokenCache`]).
    pub fn token_cache(&self) -> &TokenCache {
        &self.token_cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: &str) -> Arc<Entry> {
        Arc::new(Entry::new(
            "org",
            hash,
            "tok",
            false,
            None,
            false,
            UserPolicy::default(),
            (None, None),
            None,
        ))
    }

    #[test]
    fn a_check_that_read_before_memory_was_forgotten_is_not_kept() {
        let cache = TokenCache::default();
        let before = cache.generation();
        cache.forget_all();
        cache.keep(before, entry("aa"));
        assert_eq!(cache.len(), 0);
        cache.keep(cache.generation(), entry("aa"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn memory_starts_over_at_its_limit() {
        let cache = TokenCache::default();
        for i in 0..MAX_ENTRIES {
            cache.keep(cache.generation(), entry(&format!("{i:064x}")));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.keep(cache.generation(), entry("ff"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn memory_starts_over_at_its_size_limit() {
        let cache = TokenCache::default();
        let big = |hash: &str| {
            Arc::new(Entry::new(
                "org",
                hash,
                "tok",
                false,
                None,
                false,
                UserPolicy {
                    allowed_domains: vec!["d".repeat(250); 50],
                    username_equals_work_email: true,
                },
                (None, None),
                None,
            ))
        };
        let per = big(&format!("{:064x}", 0)).weight();
        let fit = MAX_BYTES / per;
        for i in 0..fit {
            cache.keep(cache.generation(), big(&format!("{i:064x}")));
        }
        assert_eq!(cache.len(), fit);
        cache.keep(cache.generation(), big(&format!("{fit:064x}")));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn use_marks_only_move_forward() {
        let e = entry("aa");
        assert_eq!(e.used(), (None, None));
        e.mark_used(10);
        e.mark_used(5);
        assert_eq!(e.used(), (Some(10), Some(10)));
        e.mark_used(20);
        assert_eq!(e.used(), (Some(10), Some(20)));
        e.mark_success(7);
        e.mark_success(3);
        assert_eq!(e.last_success_at(), Some(7));
    }
}
