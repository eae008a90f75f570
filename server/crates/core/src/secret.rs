//! Secrets: high-entropy random tokens that are shown once and stored only as SHA-256 hashes.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret value in memory. Neither `Debug`-printable nor serialisable, so it cannot leak into
/// logs or a server-function response by accident; `expose()` is the one deliberate way out.
pub struct Secret(String);

impl Secret {
    /// 256 random bits, base64url without padding (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
    pub fn from_string(s: String) -> Self {
        Self(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn into_exposed(self) -> String {
        self.0
    }
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }
}

/// Whether a presented string could be one of our secrets (URL-safe base64, at most 100
/// characters): anything else is refused before it reaches a hash or a query.
pub fn is_well_formed(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Constant-time comparison of two hex digests.
pub fn digest_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
