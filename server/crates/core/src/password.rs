//! Admin passwords: argon2id with (at least) OWASP's minimum parameters.

use argon2::password_hash::{rand_core::OsRng, PasswordHash as PhcHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{CoreError, CoreResult};

/// OWASP (2023): argon2id, m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 256;

/// A PHC-format argon2id hash. Deliberately not `Serialize`: it never crosses the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's accepted ranges.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy; the message says what to fix.
pub fn validate_new_password(password: &str) -> CoreResult<()> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(CoreError::invalid(format!(
            "The password must be at least {MIN_PASSWORD_LEN} characters long."
        )));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(CoreError::invalid(format!(
            "The password must be at most {MAX_PASSWORD_LEN} characters long."
        )));
    }
    if password.chars().any(|c| c == '\0') {
        return Err(CoreError::invalid("The password contains a NUL character."));
    }
    Ok(())
}

/// CPU-heavy: call through `Argon2Pool`.
pub fn hash(password: &str) -> CoreResult<PasswordHash> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| PasswordHash(h.to_string()))
        .map_err(|e| CoreError::Internal(format!("argon2 hash: {e}")))
}

pub fn verify(password: &str, stored: &PasswordHash) -> bool {
    match PhcHash::new(&stored.0) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Runs argon2 (hashing and verification) on a bounded number of blocking threads. Each
/// verification holds 19 MiB for its duration, so the permits bound the memory; a request that
/// would wait behind a full queue is answered "busy, retry" instead of piling up.
#[derive(Debug)]
pub struct Argon2Pool {
    permits: Arc<tokio::sync::Semaphore>,
    size: usize,
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    verifications: AtomicU64,
}

/// One place counted in `counter` while this lives (also when its future is cancelled).
struct Counted {
    counter: Arc<AtomicUsize>,
    /// How many were counted before this one.
    before: usize,
}

impl Counted {
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        let before = counter.fetch_add(1, Ordering::SeqCst);
        Self {
            counter: counter.clone(),
            before,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Seconds a client told "busy" should wait.
pub const BUSY_RETRY_AFTER_SECS: i64 = 2;

impl Argon2Pool {
    /// `size` concurrent argon2 runs, at most `max_waiting` queued behind them.
    pub fn new(size: usize, max_waiting: usize) -> Self {
        let size = size.max(1);
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(size)),
            size,
            max_waiting,
            waiting: Default::default(),
            running: Default::default(),
            peak: Default::default(),
            verifications: Default::default(),
        }
    }

    /// One run per core, and a short queue.
    pub fn for_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, cores * 8)
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Password verifications run so far (for tests and metrics).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }

    /// The most argon2 runs seen at once.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// argon2 runs in progress now (for metrics).
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Requests queued for an argon2 slot now (for metrics).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    async fn run<T: Send + 'static>(
        &self,
        is_verification: bool,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> CoreResult<T> {
        let busy = || CoreError::Busy {
            retry_after_secs: BUSY_RETRY_AFTER_SECS,
        };
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // The guard gives the queue place back even when the request is cancelled
                // while it waits (a client that hangs up, a request timeout).
                let place = Counted::enter(&self.waiting);
                if place.before >= self.max_waiting {
                    return Err(busy());
                }
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| busy())?
            }
        };
        if is_verification {
            self.verifications.fetch_add(1, Ordering::SeqCst);
        }
        let (running, peak) = (self.running.clone(), self.peak.clone());
        // The permit and the running count travel with the work: a cancelled request cannot
        // free its slot while argon2 still holds its memory on the blocking thread.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now_running = Counted::enter(&running);
            peak.fetch_max(now_running.before + 1, Ordering::SeqCst);
            work()
        })
        .await
        .map_err(|e| CoreError::Internal(format!("join: {e}")))
    }

    pub async fn hash(&self, password: String) -> CoreResult<PasswordHash> {
        self.run(false, move || hash(&password)).await?
    }

    /// Err only when the pool is saturated (`CoreError::Busy`).
    pub async fn verify(&self, password: String, stored: PasswordHash) -> CoreResult<bool> {
        self.run(true, move || verify(&password, &stored)).await
    }
}

impl Default for Argon2Pool {
    fn default() -> Self {
        Self::for_machine()
    }
}

/// A hash of a random password, verified against when the email is unknown so that an unknown
/// account costs the same time as a wrong password.
pub fn dummy_hash() -> &'static PasswordHash {
    static DUMMY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash(crate::secret::Secret::generate().expose())
            .unwrap_or_else(|_| PasswordHash(String::new()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_never_the_password() {
        let pw = "correct horse battery staple";
        let h = hash(pw).unwrap();
        assert!(
            h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            h.as_str()
        );
        assert!(!h.as_str().contains(pw));
        assert!(verify(pw, &h));
        assert!(!verify("correct horse battery stapl", &h));
        // Salted: the same password hashes differently each time.
        assert_ne!(hash(pw).unwrap().as_str(), h.as_str());
    }

    #[test]
    fn policy_rejects_short_long_and_nul() {
        assert!(validate_new_password("short").is_err());
        assert!(validate_new_password(&"x".repeat(10_000)).is_err());
        assert!(validate_new_password("abcdefghijkl\0").is_err());
        assert!(validate_new_password("a fine long passphrase").is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_bounds_concurrent_runs_and_refuses_past_its_queue() {
        let pool = std::sync::Arc::new(Argon2Pool::new(1, 2));
        let stored = hash("a long enough passphrase").unwrap();
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let (p, s) = (pool.clone(), stored.clone());
                tokio::spawn(async move { p.verify("wrong guess!".into(), s).await })
            })
            .collect();
        let (mut ran, mut busy) = (0, 0);
        for h in handles {
            match h.await.unwrap() {
                Ok(ok) => {
                    assert!(!ok);
                    ran += 1;
                }
                Err(CoreError::Busy { retry_after_secs }) => {
                    assert!(retry_after_secs > 0);
                    busy += 1;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(ran + busy, 10);
        assert!(busy >= 1, "a full queue refuses instead of piling up");
        assert_eq!(pool.peak_concurrency(), 1);
        assert_eq!(
            pool.verifications(),
            ran as u64,
            "refused calls never ran argon2"
        );
    }

    #[test]
    fn garbage_stored_hash_never_verifies() {
        assert!(!verify(
            "x",
            &PasswordHash::from_stored("not a hash".into())
        ));
    }
}
