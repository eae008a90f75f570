//! What every request handler needs: the database, the clock and the few settings the domain uses.

use std::sync::Arc;

use crate::clock::Clock;
use crate::db::Db;

#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Bounded argon2 work (password hashing and verification).
    pub argon2: Arc<crate::password::Argon2Pool>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Externally visible base URL without a trailing slash, e.g. `https://portal.example.com`.
    pub public_url: String,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    pub throttle: crate::throttle::ThrottlePolicy,
    /// How long an unused first-run setup link stays valid.
    pub setup_token_ttl_ms: i64,
    /// How long an employee's magic link stays valid.
    pub magic_link_ttl_ms: i64,
}

impl Services {
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
