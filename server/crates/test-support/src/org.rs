//! An org and its first admin, created directly in the store.

use portal_core::admins::{self, Admin, NewAdmin, Org, Role};
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

/// Adds an admin `email` with `role` (password [`PW`]) to an existing org.
pub async fn add_admin(svc: &Services, org_id: &str, email: &str, role: Role) -> Admin {
    let hash = svc
        .argon2
        .hash(PW.to_string())
        .await
        .expect("hash the test password");
    let mut tx = svc.db.begin_write().await.expect("begin");
    let admin = admins::insert_member_in_tx(&mut tx, org_id, email, &hash, role, None, svc.now())
        .await
        .expect("add an admin");
    tx.commit().await.expect("commit");
    admin
}
