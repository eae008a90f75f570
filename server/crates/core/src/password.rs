//! Admin passwords: argon2id with (at least) OWASP's minimum parameters.

use argon2::password_hash::{rand_core::OsRng, PasswordHash as PhcHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

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

/// CPU-heavy: call from a blocking thread (`hash_blocking`).
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

pub async fn hash_blocking(password: String) -> CoreResult<PasswordHash> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| CoreError::Internal(format!("join: {e}")))?
}

pub async fn verify_blocking(password: String, stored: PasswordHash) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &stored))
        .await
        .unwrap_or(false)
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

    #[test]
    fn garbage_stored_hash_never_verifies() {
        assert!(!verify(
            "x",
            &PasswordHash::from_stored("not a hash".into())
        ));
    }
}
