//! The admin team (issue 12): invitations, roles, removal and the last-Owner guard, on both
//! databases with a manual clock.

use portal_core::admins::{self, Admin, Role};
use portal_core::invitations::{
    self as inv, INVALID_LINK, INVITATION_TTL_MS, MAX_MAILS_PER_ADDRESS_PER_HOUR,
    MAX_PENDING_PER_ORG,
};
use portal_core::team::{self, LAST_OWNER, NO_LONGER_OWNER};
use portal_core::{CoreError, Field};
use portal_test_support::{add_admin, db_test, org_with_admin, TestServices, PW};
use sqlx::Row;

/// id, token hash, expiry, accepted, cancelled.
type InvitationRow = (String, String, i64, Option<i64>, Option<i64>);

const NEW_PW: &str = "the invitee's own passphrase";

/// The invitation token in the newest queued mail to `to`.
async fn token_for(t: &TestServices, to: &str) -> String {
    let row = sqlx::query(
        "SELECT body_text FROM mail_outbox WHERE to_addr = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(&t.svc.db.pool)
    .await
    .unwrap();
    let text: String = row.try_get("body_text").unwrap();
    let start = text
        .find("/admin/invite?token=")
        .expect("an invitation link")
        + 20;
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn mails_to(t: &TestServices, to: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE to_addr = $1")
        .bind(to)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
}

async fn event_names(t: &TestServices, org: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT name, actor FROM events WHERE org_id = $1 ORDER BY at, seq")
        .bind(org)
        .fetch_all(&t.svc.db.pool)
        .await
        .unwrap()
}

async fn owners(t: &TestServices, org: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE org_id = $1 AND role = 'owner'")
        .bind(org)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
}

async fn role_of(t: &TestServices, id: &str) -> Option<Role> {
    admins::admin_by_id(&t.svc.db, id)
        .await
        .unwrap()
        .map(|a| a.role)
}

fn is_invalid_link(e: &CoreError) -> bool {
    matches!(e, CoreError::Invalid(m) if m == INVALID_LINK)
}

fn is_conflict(e: &CoreError, msg: &str) -> bool {
    matches!(e, CoreError::Conflict(m) if m == msg)
}

/// Everything of one org that a refused team change must leave alone.
async fn team_state(t: &TestServices, org: &str) -> Vec<String> {
    let mut out: Vec<String> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT id, email, role FROM admins WHERE org_id = $1 ORDER BY id",
    )
    .bind(org)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(a, b, c)| format!("admin {a} {b} {c}"))
    .collect();
    let invs: Vec<InvitationRow> = sqlx::query_as(
        "SELECT id, token_hash, expires_at, accepted_at, cancelled_at FROM admin_invitations WHERE org_id = $1 ORDER BY id",
    )
    .bind(org)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap();
    out.extend(invs.into_iter().map(|i| format!("invitation {i:?}")));
    let sessions: Vec<(String,)> = sqlx::query_as(
        "SELECT s.id FROM sessions s JOIN admins a ON a.id = s.admin_id WHERE a.org_id = $1 ORDER BY s.id",
    )
    .bind(org)
    .fetch_all(&t.svc.db.pool)
    .await
    .unwrap();
    out.extend(sessions.into_iter().map(|s| format!("session {}", s.0)));
    out
}

async fn add_session(t: &TestServices, admin_id: &str) -> String {
    let id = portal_core::ids::new_id();
    sqlx::query(
        "INSERT INTO sessions (id, data, expires_at, admin_id, created_at, last_seen_at) VALUES ($1, '{}', $2, $3, $4, $4)",
    )
    .bind(&id)
    .bind(portal_test_support::T0 + 3_600_000_000)
    .bind(admin_id)
    .bind(portal_test_support::T0)
    .execute(&t.svc.db.pool)
    .await
    .unwrap();
    id
}

async fn sessions_of(t: &TestServices, admin_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE admin_id = $1")
        .bind(admin_id)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
}

db_test!(
    team_invite_then_accept_makes_an_admin_with_the_role,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let id = inv::invite(&t.svc, &owner, "  New.Admin@acme.test ", Role::Admin)
            .await
            .unwrap();
        let token = token_for(&t, "New.Admin@acme.test").await;
        assert_eq!(token.len(), 43);
        // Stored as a hash only.
        let (stored, expires): (String, i64) =
            sqlx::query_as("SELECT token_hash, expires_at FROM admin_invitations WHERE id = $1")
                .bind(&id)
                .fetch_one(&t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(stored, portal_core::secret::sha256_hex(&token));
        assert_eq!(expires, portal_test_support::T0 + INVITATION_TTL_MS);
        let pending = inv::pending(&t.svc, &org.id).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].email, "New.Admin@acme.test");
        assert_eq!(pending[0].role, Role::Admin);
        assert_eq!(pending[0].invited_by_email, "owner@acme.test");

        // Looking does not consume (a mail scanner's prefetch).
        for _ in 0..2 {
            let info = inv::lookup(&t.svc, &token).await.unwrap().expect("valid");
            assert_eq!(info.org_name, "Acme");
            assert_eq!(info.role, Role::Admin);
            assert_eq!(info.invited_by_email, "owner@acme.test");
        }
        // A weak password is refused on its field and consumes nothing.
        let e = inv::accept(&t.svc, &token, "short").await.unwrap_err();
        assert_eq!(e.field(), Some(Field::Password));
        assert!(inv::lookup(&t.svc, &token).await.unwrap().is_some());

        t.clock.advance_ms(60_000);
        let admin = inv::accept(&t.svc, &token, NEW_PW).await.unwrap();
        assert_eq!(admin.org_id, org.id);
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(admin.email, "New.Admin@acme.test");
        let signed_in = admins::authenticate(&t.svc, "new.admin@acme.test", NEW_PW, "10.0.0.1")
            .await
            .unwrap();
        assert_eq!(signed_in.id, admin.id);
        let members = team::members(&t.svc, &org.id).await.unwrap();
        let m = members.iter().find(|m| m.id == admin.id).unwrap();
        assert_eq!(m.invited_by.as_deref(), Some("owner@acme.test"));
        assert!(!m.two_factor);
        assert!(m.last_sign_in_at.is_some());
        assert!(inv::pending(&t.svc, &org.id).await.unwrap().is_empty());

        // Single use.
        assert!(inv::lookup(&t.svc, &token).await.unwrap().is_none());
        let e = inv::accept(&t.svc, &token, NEW_PW).await.unwrap_err();
        assert!(is_invalid_link(&e), "{e:?}");
        // Garbage, tampered and hash-as-token links get the same answer.
        for bad in [
            "",
            "not a token",
            &stored,
            &format!("{}A", &token[..42]),
            &"x".repeat(500),
        ] {
            assert!(inv::lookup(&t.svc, bad).await.unwrap().is_none());
            assert!(is_invalid_link(
                &inv::accept(&t.svc, bad, NEW_PW).await.unwrap_err()
            ));
        }
        let names: Vec<String> = event_names(&t, &org.id)
            .await
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.contains(&"admin_invite".to_string()), "{names:?}");
        assert!(
            names.contains(&"admin_invite_accept".to_string()),
            "{names:?}"
        );
    }
);

db_test!(
    team_invitation_expires_after_seven_days,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        inv::invite(&t.svc, &owner, "late@acme.test", Role::Viewer)
            .await
            .unwrap();
        let token = token_for(&t, "late@acme.test").await;
        t.clock.advance_ms(INVITATION_TTL_MS - 1);
        assert!(inv::lookup(&t.svc, &token).await.unwrap().is_some());
        t.clock.advance_ms(1);
        assert!(inv::lookup(&t.svc, &token).await.unwrap().is_none());
        assert!(is_invalid_link(
            &inv::accept(&t.svc, &token, NEW_PW).await.unwrap_err()
        ));
        assert_eq!(team::members(&t.svc, &org.id).await.unwrap().len(), 1);
        // Still listed (so it can be resent); a new invitation to the address replaces it.
        let pending = inv::pending(&t.svc, &org.id).await.unwrap();
        assert_eq!(pending.len(), 1);
        inv::invite(&t.svc, &owner, "LATE@acme.test", Role::Admin)
            .await
            .unwrap();
        let pending = inv::pending(&t.svc, &org.id).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].role, Role::Admin);
        let fresh = token_for(&t, "LATE@acme.test").await;
        assert_eq!(
            inv::accept(&t.svc, &fresh, NEW_PW).await.unwrap().role,
            Role::Admin
        );
    }
);

db_test!(
    team_resend_replaces_the_link_and_cancel_ends_it,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let id = inv::invite(&t.svc, &owner, "ann@acme.test", Role::Admin)
            .await
            .unwrap();
        let first = token_for(&t, "ann@acme.test").await;
        t.clock.advance_ms(6 * 24 * 3600 * 1000);
        inv::resend(&t.svc, &owner, &id).await.unwrap();
        assert_eq!(mails_to(&t, "ann@acme.test").await, 2);
        let second = token_for(&t, "ann@acme.test").await;
        assert_ne!(first, second);
        assert!(inv::lookup(&t.svc, &first).await.unwrap().is_none());
        assert!(is_invalid_link(
            &inv::accept(&t.svc, &first, NEW_PW).await.unwrap_err()
        ));
        // A new 7 days from the resend.
        t.clock.advance_ms(INVITATION_TTL_MS - 1);
        assert!(inv::lookup(&t.svc, &second).await.unwrap().is_some());

        inv::cancel(&t.svc, &owner, &id).await.unwrap();
        assert!(inv::lookup(&t.svc, &second).await.unwrap().is_none());
        assert!(is_invalid_link(
            &inv::accept(&t.svc, &second, NEW_PW).await.unwrap_err()
        ));
        assert!(inv::pending(&t.svc, &org.id).await.unwrap().is_empty());
        // A cancelled invitation can be neither cancelled nor resent again.
        assert!(matches!(
            inv::cancel(&t.svc, &owner, &id).await.unwrap_err(),
            CoreError::NotFound
        ));
        assert!(matches!(
            inv::resend(&t.svc, &owner, &id).await.unwrap_err(),
            CoreError::NotFound
        ));
        let names: Vec<String> = event_names(&t, &org.id)
            .await
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(
            names.contains(&"admin_invite_resend".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"admin_invite_cancel".to_string()),
            "{names:?}"
        );
    }
);

db_test!(
    team_invite_refuses_admins_duplicates_bad_input_and_too_many,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let (_other, _) = org_with_admin(&t.svc, "Other", "boss@other.test").await;
        add_admin(&t.svc, &org.id, "member@acme.test", Role::Viewer).await;
        let before = team_state(&t, &org.id).await;
        let e = inv::invite(&t.svc, &owner, "MEMBER@acme.test", Role::Admin)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CoreError::Conflict(m) if m.contains("already an admin of your organisation")),
            "{e:?}"
        );
        // Another org's admin: said plainly, without naming the org.
        let e = inv::invite(&t.svc, &owner, "boss@other.test", Role::Admin)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CoreError::Conflict(m) if m.contains("another organisation") && !m.contains("Other")),
            "{e:?}"
        );
        for bad in [
            "",
            "not-an-email",
            "a@b",
            &format!("{}@acme.test", "x".repeat(260)),
        ] {
            let e = inv::invite(&t.svc, &owner, bad, Role::Admin)
                .await
                .unwrap_err();
            assert_eq!(e.field(), Some(Field::Email), "{bad}: {e:?}");
        }
        assert_eq!(team_state(&t, &org.id).await, before);
        assert_eq!(mails_to(&t, "boss@other.test").await, 0);

        inv::invite(&t.svc, &owner, "twice@acme.test", Role::Admin)
            .await
            .unwrap();
        let e = inv::invite(&t.svc, &owner, "Twice@Acme.test", Role::Viewer)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CoreError::Conflict(m) if m.contains("already has a pending invitation")),
            "{e:?}"
        );
        assert_eq!(inv::pending(&t.svc, &org.id).await.unwrap().len(), 1);

        for i in 1..MAX_PENDING_PER_ORG {
            inv::invite(&t.svc, &owner, &format!("p{i}@acme.test"), Role::Viewer)
                .await
                .unwrap();
        }
        let e = inv::invite(&t.svc, &owner, "one-too-many@acme.test", Role::Viewer)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CoreError::Invalid(m) if m.contains("pending invitations")),
            "{e:?}"
        );
        assert_eq!(
            inv::pending(&t.svc, &org.id).await.unwrap().len() as i64,
            MAX_PENDING_PER_ORG
        );
        // The invited address became an admin meanwhile (the CLI): resend is refused.
        let id = inv::pending(&t.svc, &org.id).await.unwrap()[0].id.clone();
        let email = inv::pending(&t.svc, &org.id).await.unwrap()[0]
            .email
            .clone();
        add_admin(&t.svc, &org.id, &email, Role::Viewer).await;
        assert!(matches!(
            inv::resend(&t.svc, &owner, &id).await.unwrap_err(),
            CoreError::Conflict(_)
        ));
    }
);

db_test!(
    team_accept_fails_cleanly_when_the_address_became_an_admin,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        inv::invite(&t.svc, &owner, "dup@acme.test", Role::Admin)
            .await
            .unwrap();
        let token = token_for(&t, "dup@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Other", "boss@other.test").await;
        add_admin(&t.svc, &other.id, "dup@acme.test", Role::Viewer).await;
        let e = inv::accept(&t.svc, &token, NEW_PW).await.unwrap_err();
        assert!(matches!(e, CoreError::Conflict(_)), "{e:?}");
        // Nothing half-written: no admin in Acme, no accepted invitation.
        assert_eq!(team::members(&t.svc, &org.id).await.unwrap().len(), 1);
        assert_eq!(inv::pending(&t.svc, &org.id).await.unwrap().len(), 1);
    }
);

db_test!(
    team_racing_accepts_of_one_link_make_one_account,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        inv::invite(&t.svc, &owner, "race@acme.test", Role::Viewer)
            .await
            .unwrap();
        let token = token_for(&t, "race@acme.test").await;
        let (a, b) = tokio::join!(
            inv::accept(&t.svc, &token, NEW_PW),
            inv::accept(&t.svc, &token, "another long passphrase")
        );
        assert_eq!(
            u8::from(a.is_ok()) + u8::from(b.is_ok()),
            1,
            "{a:?} / {b:?}"
        );
        let loser = if a.is_ok() { b } else { a };
        assert!(is_invalid_link(&loser.unwrap_err()));
        assert_eq!(team::members(&t.svc, &org.id).await.unwrap().len(), 2);
    }
);

db_test!(
    team_role_changes_and_the_last_owner_guard,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let viewer = add_admin(&t.svc, &org.id, "viewer@acme.test", Role::Viewer).await;
        // The only Owner can neither demote nor remove themself.
        let before = team_state(&t, &org.id).await;
        for role in [Role::Admin, Role::Viewer] {
            let e = team::change_role(&t.svc, &owner, &owner.id, role)
                .await
                .unwrap_err();
            assert!(is_conflict(&e, LAST_OWNER), "{e:?}");
        }
        let e = team::remove(&t.svc, &owner, &owner.id).await.unwrap_err();
        assert!(is_conflict(&e, LAST_OWNER), "{e:?}");
        assert_eq!(team_state(&t, &org.id).await, before);

        team::change_role(&t.svc, &owner, &viewer.id, Role::Admin)
            .await
            .unwrap();
        assert_eq!(role_of(&t, &viewer.id).await, Some(Role::Admin));
        // The same role again changes nothing and logs nothing.
        let n = event_names(&t, &org.id).await.len();
        team::change_role(&t.svc, &owner, &viewer.id, Role::Admin)
            .await
            .unwrap();
        assert_eq!(event_names(&t, &org.id).await.len(), n);
        team::change_role(&t.svc, &owner, &viewer.id, Role::Owner)
            .await
            .unwrap();
        // Two Owners: one may step down; then the other is the last.
        team::change_role(&t.svc, &owner, &owner.id, Role::Viewer)
            .await
            .unwrap();
        assert_eq!(owners(&t, &org.id).await, 1);
        let new_owner = Admin {
            role: Role::Owner,
            ..viewer.clone()
        };
        let e = team::change_role(&t.svc, &new_owner, &new_owner.id, Role::Admin)
            .await
            .unwrap_err();
        assert!(is_conflict(&e, LAST_OWNER), "{e:?}");
        // The demoted Owner acts no more, whatever the caller believes its role to be.
        let e = team::change_role(&t.svc, &owner, &new_owner.id, Role::Viewer)
            .await
            .unwrap_err();
        assert!(is_conflict(&e, NO_LONGER_OWNER), "{e:?}");
        assert_eq!(owners(&t, &org.id).await, 1);
        let names = event_names(&t, &org.id).await;
        assert!(names
            .iter()
            .any(|(n, actor)| n == "admin_role_change" && actor == "owner@acme.test"));
    }
);

db_test!(
    team_two_owners_demoting_each_other_at_once_leave_one_owner,
    |t: TestServices| async move {
        for round in 0..8 {
            let (org, first) = org_with_admin(
                &t.svc,
                &format!("Acme {round}"),
                &format!("first{round}@acme.test"),
            )
            .await;
            let second = add_admin(
                &t.svc,
                &org.id,
                &format!("second{round}@acme.test"),
                Role::Owner,
            )
            .await;
            assert_eq!(owners(&t, &org.id).await, 2);
            // Demote each other, or remove each other, at the same time.
            let (a, b) = if round % 2 == 0 {
                tokio::join!(
                    team::change_role(&t.svc, &first, &second.id, Role::Viewer),
                    team::change_role(&t.svc, &second, &first.id, Role::Viewer)
                )
            } else {
                let (a, b) = tokio::join!(
                    team::remove(&t.svc, &first, &second.id),
                    team::remove(&t.svc, &second, &first.id)
                );
                (a.map(|_| ()), b.map(|_| ()))
            };
            assert_eq!(owners(&t, &org.id).await, 1, "round {round}: {a:?} / {b:?}");
            assert_eq!(
                u8::from(a.is_ok()) + u8::from(b.is_ok()),
                1,
                "round {round}: {a:?} / {b:?}"
            );
            let loser = if a.is_ok() { b } else { a };
            let e = loser.unwrap_err();
            assert!(
                is_conflict(&e, NO_LONGER_OWNER) || is_conflict(&e, LAST_OWNER),
                "round {round}: {e:?}"
            );
        }
    }
);

db_test!(
    team_removal_ends_sessions_and_frees_the_address,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let gone = add_admin(&t.svc, &org.id, "gone@acme.test", Role::Admin).await;
        let s1 = add_session(&t, &gone.id).await;
        add_session(&t, &gone.id).await;
        add_session(&t, &owner.id).await;
        assert_eq!(sessions_of(&t, &gone.id).await, 2);
        let removed = team::remove(&t.svc, &owner, &gone.id).await.unwrap();
        assert_eq!(removed.email, "gone@acme.test");
        assert_eq!(sessions_of(&t, &gone.id).await, 0);
        assert_eq!(sessions_of(&t, &owner.id).await, 1);
        assert!(admins::admin_by_id(&t.svc.db, &gone.id)
            .await
            .unwrap()
            .is_none());
        let left: Option<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE id = $1")
            .bind(&s1)
            .fetch_optional(&t.svc.db.pool)
            .await
            .unwrap();
        assert!(left.is_none());
        assert!(
            admins::authenticate(&t.svc, "gone@acme.test", PW, "10.0.0.2")
                .await
                .is_err()
        );
        // The address can be invited again.
        inv::invite(&t.svc, &owner, "gone@acme.test", Role::Viewer)
            .await
            .unwrap();
        assert!(event_names(&t, &org.id)
            .await
            .iter()
            .any(|(n, _)| n == "admin_remove"));
    }
);

db_test!(
    team_non_owners_and_other_orgs_change_nothing,
    |t: TestServices| async move {
        let (a, a_owner) = org_with_admin(&t.svc, "Alpha", "owner@alpha.test").await;
        let (b, b_owner) = org_with_admin(&t.svc, "Bravo", "owner@bravo.test").await;
        let a_admin = add_admin(&t.svc, &a.id, "admin@alpha.test", Role::Admin).await;
        let a_viewer = add_admin(&t.svc, &a.id, "viewer@alpha.test", Role::Viewer).await;
        let b_member = add_admin(&t.svc, &b.id, "member@bravo.test", Role::Viewer).await;
        add_session(&t, &b_member.id).await;
        let b_inv = inv::invite(&t.svc, &b_owner, "invitee@bravo.test", Role::Admin)
            .await
            .unwrap();
        let a_inv = inv::invite(&t.svc, &a_owner, "invitee@alpha.test", Role::Admin)
            .await
            .unwrap();
        let a_before = team_state(&t, &a.id).await;
        let b_before = team_state(&t, &b.id).await;

        // Admins and Viewers of A: refused, whatever role they claim.
        for actor in [&a_admin, &a_viewer] {
            let claimed = Admin {
                role: Role::Owner,
                ..actor.clone()
            };
            let refused = [
                team::change_role(&t.svc, &claimed, &a_viewer.id, Role::Owner).await,
                team::remove(&t.svc, &claimed, &a_owner.id)
                    .await
                    .map(|_| ()),
                inv::invite(&t.svc, &claimed, "x@alpha.test", Role::Owner)
                    .await
                    .map(|_| ()),
                inv::resend(&t.svc, &claimed, &a_inv).await,
                inv::cancel(&t.svc, &claimed, &a_inv).await,
            ];
            for r in refused {
                assert!(is_conflict(&r.unwrap_err(), NO_LONGER_OWNER));
            }
        }
        // A's Owner aimed at B's admins and invitation: not found.
        for r in [
            team::change_role(&t.svc, &a_owner, &b_member.id, Role::Owner).await,
            team::change_role(&t.svc, &a_owner, &b_owner.id, Role::Viewer).await,
            team::remove(&t.svc, &a_owner, &b_member.id)
                .await
                .map(|_| ()),
            team::remove(&t.svc, &a_owner, &b_owner.id)
                .await
                .map(|_| ()),
            inv::resend(&t.svc, &a_owner, &b_inv).await,
            inv::cancel(&t.svc, &a_owner, &b_inv).await,
            team::remove(&t.svc, &a_owner, &"x".repeat(5000))
                .await
                .map(|_| ()),
        ] {
            assert!(matches!(r.unwrap_err(), CoreError::NotFound));
        }
        assert_eq!(team_state(&t, &a.id).await, a_before);
        assert_eq!(team_state(&t, &b.id).await, b_before);
        assert_eq!(mails_to(&t, "invitee@bravo.test").await, 1);
        // A's list shows A's only.
        let members = team::members(&t.svc, &a.id).await.unwrap();
        assert!(members.iter().all(|m| m.email.ends_with("@alpha.test")));
        let pending = inv::pending(&t.svc, &a.id).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].email, "invitee@alpha.test");
    }
);

db_test!(
    team_list_shows_second_factors,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let totp = add_admin(&t.svc, &org.id, "totp@acme.test", Role::Admin).await;
        let pending_totp = add_admin(&t.svc, &org.id, "unconfirmed@acme.test", Role::Admin).await;
        let passkey = add_admin(&t.svc, &org.id, "passkey@acme.test", Role::Viewer).await;
        for (id, confirmed) in [(&totp.id, Some(1_i64)), (&pending_totp.id, None)] {
            sqlx::query(
                "INSERT INTO admin_totp (admin_id, secret, created_at, confirmed_at) VALUES ($1, 'x', 1, $2)",
            )
            .bind(id)
            .bind(confirmed)
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO admin_passkeys (id, admin_id, name, credential_id, passkey, created_at) VALUES ('pk1', $1, 'key', 'cred1', '{}', 1)",
        )
        .bind(&passkey.id)
        .execute(&t.svc.db.pool)
        .await
        .unwrap();
        let members = team::members(&t.svc, &org.id).await.unwrap();
        let on: Vec<(&str, bool)> = members
            .iter()
            .map(|m| (m.email.as_str(), m.two_factor))
            .collect();
        assert_eq!(
            on,
            vec![
                ("owner@acme.test", false),
                ("passkey@acme.test", true),
                ("totp@acme.test", true),
                ("unconfirmed@acme.test", false),
            ]
        );
    }
);

db_test!(
    team_invitation_mails_to_one_address_are_capped,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let id = inv::invite(&t.svc, &owner, "inbox@acme.test", Role::Viewer)
            .await
            .unwrap();
        for _ in 1..MAX_MAILS_PER_ADDRESS_PER_HOUR {
            inv::resend(&t.svc, &owner, &id).await.unwrap();
        }
        let before = team_state(&t, &org.id).await;
        let e = inv::resend(&t.svc, &owner, &id).await.unwrap_err();
        assert!(
            matches!(&e, CoreError::Invalid(m) if m.contains("invitation emails in the last hour")),
            "{e:?}"
        );
        // Cancel and invite again: the same budget.
        inv::cancel(&t.svc, &owner, &id).await.unwrap();
        let e = inv::invite(&t.svc, &owner, "INBOX@acme.test", Role::Viewer)
            .await
            .unwrap_err();
        assert!(matches!(e, CoreError::Invalid(_)), "{e:?}");
        assert_eq!(
            mails_to(&t, "inbox@acme.test").await,
            MAX_MAILS_PER_ADDRESS_PER_HOUR
        );
        assert_ne!(team_state(&t, &org.id).await, before); // the cancel
                                                           // A refused invitation gives its mail back: a duplicate does not spend the budget.
        inv::invite(&t.svc, &owner, "other@acme.test", Role::Viewer)
            .await
            .unwrap();
        for _ in 0..10 {
            assert!(matches!(
                inv::invite(&t.svc, &owner, "other@acme.test", Role::Viewer)
                    .await
                    .unwrap_err(),
                CoreError::Conflict(_)
            ));
        }
        let other = inv::pending(&t.svc, &org.id).await.unwrap()[0].id.clone();
        inv::resend(&t.svc, &owner, &other).await.unwrap();
        t.clock.advance_ms(3_600_000);
        inv::invite(&t.svc, &owner, "inbox@acme.test", Role::Viewer)
            .await
            .unwrap();
    }
);

// Found in review: an Owner who is removed or demoted takes back the invitations they sent, so
// they cannot come back through one (e.g. an Owner-role invitation to another address of theirs).
db_test!(
    team_an_owner_removed_or_demoted_takes_back_their_invitations,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        let rogue = add_admin(&t.svc, &org.id, "rogue@acme.test", Role::Owner).await;
        inv::invite(&t.svc, &rogue, "rogue.again@elsewhere.test", Role::Owner)
            .await
            .unwrap();
        let back_door = token_for(&t, "rogue.again@elsewhere.test").await;
        let demoted = add_admin(&t.svc, &org.id, "demoted@acme.test", Role::Owner).await;
        inv::invite(&t.svc, &demoted, "friend@elsewhere.test", Role::Admin)
            .await
            .unwrap();
        let friend = token_for(&t, "friend@elsewhere.test").await;
        // The owner's own invitation stays.
        inv::invite(&t.svc, &owner, "kept@acme.test", Role::Viewer)
            .await
            .unwrap();
        let kept = token_for(&t, "kept@acme.test").await;

        team::remove(&t.svc, &owner, &rogue.id).await.unwrap();
        team::change_role(&t.svc, &owner, &demoted.id, Role::Admin)
            .await
            .unwrap();

        let e = inv::accept(&t.svc, &back_door, NEW_PW).await.unwrap_err();
        assert!(is_invalid_link(&e), "{e:?}");
        let e = inv::accept(&t.svc, &friend, NEW_PW).await.unwrap_err();
        assert!(is_invalid_link(&e), "{e:?}");
        assert_eq!(owners(&t, &org.id).await, 1);
        let joined = inv::accept(&t.svc, &kept, NEW_PW).await.unwrap();
        assert_eq!(joined.role, Role::Viewer);
    }
);

db_test!(
    team_an_invitation_accepted_and_cancelled_at_once_ends_one_way_only,
    |t: TestServices| async move {
        let (org, owner) = org_with_admin(&t.svc, "Acme", "owner@acme.test").await;
        for i in 0..8 {
            let email = format!("race{i}@acme.test");
            let id = inv::invite(&t.svc, &owner, &email, Role::Owner)
                .await
                .unwrap();
            let token = token_for(&t, &email).await;
            let (accepted, cancelled) = tokio::join!(
                inv::accept(&t.svc, &token, NEW_PW),
                inv::cancel(&t.svc, &owner, &id)
            );
            // Exactly one of them happened, and what the owner was told is what is true.
            assert!(
                accepted.is_ok() != cancelled.is_ok(),
                "{email}: accepted {:?}, cancelled {:?}",
                accepted.as_ref().map(|a| &a.email),
                cancelled
            );
            let joined: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM admins WHERE org_id = $1 AND lower(email) = $2",
            )
            .bind(&org.id)
            .bind(&email)
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap();
            assert_eq!(joined, i64::from(accepted.is_ok()), "{email}");
            let cancel_events = event_names(&t, &org.id)
                .await
                .into_iter()
                .filter(|(n, _)| n == "admin_invite_cancel")
                .count();
            assert!(cancel_events <= i as usize + 1);
            if accepted.is_ok() {
                assert!(
                    matches!(cancelled, Err(CoreError::NotFound)),
                    "{cancelled:?}"
                );
            }
        }
    }
);
