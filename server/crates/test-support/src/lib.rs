//! Test support for the portal's tests, in one place: a fresh database per test on SQLite and on
//! PostgreSQL (`db_test!`), an org and its admin, runs of the server's CLI, and the SAML test IdP.
//!
//! A dev-dependency of `portal-core` and `server` only, so none of this is compiled into the
//! production crates. It depends on `portal-core` itself; cargo allows that cycle for
//! integration tests (`tests/`) and benches, which link the same single build of `portal-core`.
//! Unit tests inside `portal-core/src` cannot use it: they are a second build of `portal-core`,
//! whose types would not be this crate's.
// Test code: a failed unwrap is a failed test (clippy.toml allows it in `#[test]`s only, and this
// crate is a library).
#![allow(clippy::unwrap_used)]

pub mod cli;
mod db;
pub mod org;

/// The test IdP: SAML responses signed by Debian's `xmlsec1`. Its file and its key material stay
/// in portal-saml's tests (`server/crates/saml/tests/{common/mod.rs,fixtures}`): that pure crate's
/// own tests use them without depending on this crate (and so on portal-core and a database),
/// and the fuzz target reads the same certificate.
#[path = "../../saml/tests/common/mod.rs"]
pub mod saml_idp;

pub use db::{
    deadline, services, settings, temp_dir, test_db, TempDir, TestDb, TestServices, T0,
    TEST_DEADLINE,
};
pub use org::{add_admin, org_with_admin, PW};
/// Re-exported for `db_test!`, so a test crate needs no `portal_core::Backend` import.
pub use portal_core::Backend;

/// Defines one test per database: `db_test!(name, |t| async move { … })` → `name::sqlite` and
/// `name::postgres`, each with a fresh database and a manual clock (`t: TestServices`).
#[macro_export]
macro_rules! db_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let mut t = $crate::services($crate::Backend::Sqlite).await;
                let _dir = t.tdb.dir.take();
                $crate::deadline(($body)(t)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let mut t = $crate::services($crate::Backend::Postgres).await;
                let _dir = t.tdb.dir.take();
                $crate::deadline(($body)(t)).await;
            }
        }
    };
}
