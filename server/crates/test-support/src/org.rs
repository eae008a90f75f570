//! An org and its first admin, created directly in the store.

use portal_core::admins::{self, Admin, NewAdmin, Org};
use portal_core::Services;

/// The password of every admin these helpers create.
pub const PW: &str = "a long enough passphrase";

/// Creates an org named `org` and its first admin `email` (password [`PW`]).
pub async fn org_with_admin(svc: &Services, org: &str, email: &str) -> (Org, Admin) {
    let (org, admin, _) = admins::create_admin(
        svc,
        NewAdmin {
            org_name: org,
            email,
            password: PW,
        },
    )
    .await
    .expect("create an org and its admin");
    (org, admin)
}
