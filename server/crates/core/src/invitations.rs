//! Invitations to an organisation's admin team: an Owner invites an email address with a role;
//! the address receives a single-use link (256 random bits, stored only as a SHA-256 hash) valid
//! for [`INVITATION_TTL_MS`]; whoever opens it sets a password and becomes an admin of that org.

use sqlx::Row;

use crate::admins::{self, stored_role, Admin, Role};
use crate::error::{CoreError, CoreResult, Field};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::secret::{sha256_hex, Secret};
use crate::team::lock_as_owner;
use crate::Services;

/// How long an invitation link works: 7 days.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Pending (unexpired) invitations one organisation may have at a time.
pub const MAX_PENDING_PER_ORG: i64 = 50;
/// Invitation mails (invitations and resends) one address may receive from one org per hour: an
/// Owner cannot turn invite / cancel / resend into a mail cannon aimed at someone's inbox.
pub const MAX_MAILS_PER_ADDRESS_PER_HOUR: i64 = 5;
const HOUR: i64 = 3_600_000;
/// The one answer to an unknown, expired, cancelled, used or malformed invitation link.
pub const INVALID_LINK: &str =
    "This invitation link is invalid, has expired, was cancelled or was already used. \
     Ask an Owner of the organisation to invite you again.";

/// An invitation not yet accepted or cancelled (expired ones included, so they can be resent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub invited_by_email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What the accept page shows about a valid invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationInfo {
    pub org_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by_email: String,
    pub expires_at: i64,
}

/// The org's open invitations, newest first.
pub async fn pending(svc: &Services, org_id: &str) -> CoreResult<Vec<PendingInvitation>> {
    let rows = sqlx::query(
        "SELECT id, email, role, invited_by_email, created_at, expires_at FROM admin_invitations \
         WHERE org_id = $1 AND accepted_at IS NULL AND cancelled_at IS NULL \
         ORDER BY created_at DESC, id",
    )
    .bind(org_id)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingInvitation {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                role: stored_role(&r.try_get::<String, _>("role")?),
                invited_by_email: r.try_get("invited_by_email")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The accept page's address for `token`.
fn link(svc: &Services, token: &Secret) -> String {
    format!(
        "{}/admin/invite?token={}",
        svc.settings.public_url,
        token.expose()
    )
}

/// Queues the invitation mail (inside the caller's transaction).
async fn mail(
    tx: &mut crate::db::WriteTx,
    org_id: &str,
    to: &str,
    role: Role,
    inviter: &str,
    link: &str,
    now: i64,
) -> CoreResult<()> {
    let (org_name,): (String,) = sqlx::query_as("SELECT name FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_one(&mut ***tx)
        .await?;
    let role = role.label();
    let subject = format!("You are invited to administer {org_name}");
    let text = format!(
        "Hello,\n\n{inviter} invited you to join {org_name} in the identity portal as {role}.\n\n\
         Open this link to choose your password and sign in. It works once and expires in 7 days:\n{link}\n\n\
         If you did not expect this, ignore this email: nothing happens without the link.\n"
    );
    let html = format!(
        "<p>Hello,</p><p>{} invited you to join <strong>{}</strong> in the identity portal as {}.</p>\
         <p><a href=\"{}\">Accept the invitation</a> to choose your password and sign in. \
         The link works once and expires in 7 days.</p>\
         <p>If you did not expect this, ignore this email: nothing happens without the link.</p>",
        html_escape(inviter),
        html_escape(&org_name),
        html_escape(role),
        html_escape(link)
    );
    crate::mail::queue(tx, to, &subject, &text, &html, now).await
}

/// Refuses an address that already belongs to an admin (anywhere: admin emails are unique across
/// organisations; the answer does not say which organisation).
async fn ensure_not_an_admin(
    tx: &mut crate::db::WriteTx,
    org_id: &str,
    email: &str,
) -> CoreResult<()> {
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT org_id FROM admins WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&mut ***tx)
            .await?;
    match existing {
        Some((org,)) if org == org_id => Err(CoreError::Conflict(format!(
            "{email} is already an admin of your organisation."
        ))),
        Some(_) => Err(CoreError::Conflict(
            "This email address already has an admin account in another organisation. \
             An address can belong to one admin account only."
                .into(),
        )),
        None => Ok(()),
    }
}

/// Takes one invitation mail to `email` from the org's budget; refused when it is spent. Returns
/// the hit, to give back if nothing is sent after all.
async fn take_mail_budget(
    svc: &Services,
    org_id: &str,
    email: &str,
    now: i64,
) -> CoreResult<Vec<String>> {
    let limit = crate::throttle::Limit::new(
        format!("invite-mail:{org_id}:{}", email.to_lowercase()),
        MAX_MAILS_PER_ADDRESS_PER_HOUR,
        HOUR,
    );
    match crate::throttle::take_hits(&svc.db, &[limit], now).await? {
        Ok(hits) => Ok(hits),
        Err(secs) => Err(CoreError::invalid(format!(
            "{email} was sent {MAX_MAILS_PER_ADDRESS_PER_HOUR} invitation emails in the last hour. \
             Try again in {} minute(s).",
            (secs + 59) / 60
        ))),
    }
}

/// Runs `work` with one mail taken from the budget of `email`; gives it back when `work` fails.
async fn with_mail_budget<T>(
    svc: &Services,
    org_id: &str,
    email: &str,
    now: i64,
    work: impl std::future::Future<Output = CoreResult<T>>,
) -> CoreResult<T> {
    let hits = take_mail_budget(svc, org_id, email, now).await?;
    let out = work.await;
    if out.is_err() {
        crate::throttle::give_back(&svc.db, &hits).await?;
    }
    out
}

/// Invites `email` to the actor's org with `role` and mails the link. Returns the invitation id.
pub async fn invite(svc: &Services, actor: &Admin, email: &str, role: Role) -> CoreResult<String> {
    let email = admins::validate_email(email).map_err(|e| e.in_field(Field::Email))?;
    let now = svc.now();
    with_mail_budget(
        svc,
        &actor.org_id,
        &email,
        now,
        invite_now(svc, actor, &email, role, now),
    )
    .await
}

async fn invite_now(
    svc: &Services,
    actor: &Admin,
    email: &str,
    role: Role,
    now: i64,
) -> CoreResult<String> {
    let email = email.to_string();
    let mut tx = svc.db.begin_write().await?;
    lock_as_owner(&mut tx, actor).await?;
    ensure_not_an_admin(&mut tx, &actor.org_id, &email).await?;
    let open = sqlx::query(
        "SELECT id, expires_at FROM admin_invitations WHERE org_id = $1 AND lower(email) = lower($2) \
         AND accepted_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(&actor.org_id)
    .bind(&email)
    .fetch_all(&mut **tx)
    .await?;
    for r in &open {
        let expires_at: i64 = r.try_get("expires_at")?;
        if expires_at > now {
            return Err(CoreError::Conflict(format!(
                "{email} already has a pending invitation. Use Resend to send a new link."
            )));
        }
    }
    // An expired invitation to the same address is replaced by the new one.
    sqlx::query(
        "UPDATE admin_invitations SET cancelled_at = $1 WHERE org_id = $2 AND lower(email) = lower($3) \
         AND accepted_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(now)
    .bind(&actor.org_id)
    .bind(&email)
    .execute(&mut **tx)
    .await?;
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM admin_invitations WHERE org_id = $1 AND accepted_at IS NULL \
         AND cancelled_at IS NULL AND expires_at > $2",
    )
    .bind(&actor.org_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    if count >= MAX_PENDING_PER_ORG {
        return Err(CoreError::invalid(format!(
            "Your organisation already has {MAX_PENDING_PER_ORG} pending invitations, the most it can have. \
             Cancel some, or wait until they are accepted or expire."
        )));
    }
    let id = new_id();
    let token = Secret::generate();
    sqlx::query(
        "INSERT INTO admin_invitations (id, org_id, email, role, token_hash, invited_by_id, invited_by_email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&actor.org_id)
    .bind(&email)
    .bind(role.as_str())
    .bind(token.hash())
    .bind(&actor.id)
    .bind(&actor.email)
    .bind(now)
    .bind(now + INVITATION_TTL_MS)
    .execute(&mut **tx)
    .await?;
    mail(
        &mut tx,
        &actor.org_id,
        &email,
        role,
        &actor.email,
        &link(svc, &token),
        now,
    )
    .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &actor.org_id,
            &actor.email,
            "admin_invite",
            &format!("Invited {email} as {}", role.label()),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn open_invitation(
    tx: &mut crate::db::WriteTx,
    org_id: &str,
    id: &str,
) -> CoreResult<PendingInvitation> {
    if id.is_empty() || id.len() > 64 {
        return Err(CoreError::NotFound);
    }
    let row = sqlx::query(
        "SELECT id, email, role, invited_by_email, created_at, expires_at FROM admin_invitations \
         WHERE id = $1 AND org_id = $2 AND accepted_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut ***tx)
    .await?
    .ok_or(CoreError::NotFound)?;
    Ok(PendingInvitation {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: stored_role(&row.try_get::<String, _>("role")?),
        invited_by_email: row.try_get("invited_by_email")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// Mails a new link for an open invitation of the actor's org (also an expired one): the old link
/// stops working, the new one is valid for another 7 days.
pub async fn resend(svc: &Services, actor: &Admin, id: &str) -> CoreResult<()> {
    let now = svc.now();
    if id.is_empty() || id.len() > 64 {
        return Err(CoreError::NotFound);
    }
    let email: Option<(String,)> =
        sqlx::query_as("SELECT email FROM admin_invitations WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(&actor.org_id)
            .fetch_optional(&svc.db.pool)
            .await?;
    let Some((email,)) = email else {
        return Err(CoreError::NotFound);
    };
    with_mail_budget(
        svc,
        &actor.org_id,
        &email,
        now,
        resend_now(svc, actor, id, now),
    )
    .await
}

async fn resend_now(svc: &Services, actor: &Admin, id: &str, now: i64) -> CoreResult<()> {
    let mut tx = svc.db.begin_write().await?;
    lock_as_owner(&mut tx, actor).await?;
    let inv = open_invitation(&mut tx, &actor.org_id, id).await?;
    ensure_not_an_admin(&mut tx, &actor.org_id, &inv.email).await?;
    let token = Secret::generate();
    // Still open when written: an acceptance that committed since `open_invitation` read it
    // (acceptance does not take the org lock) leaves nothing to resend (PostgreSQL re-checks
    // the condition after waiting for the accepting transaction).
    let resent = sqlx::query(
        "UPDATE admin_invitations SET token_hash = $1, expires_at = $2 WHERE id = $3 AND org_id = $4 \
         AND accepted_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(token.hash())
    .bind(now + INVITATION_TTL_MS)
    .bind(&inv.id)
    .bind(&actor.org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if resent != 1 {
        return Err(CoreError::NotFound);
    }
    mail(
        &mut tx,
        &actor.org_id,
        &inv.email,
        inv.role,
        &inv.invited_by_email,
        &link(svc, &token),
        now,
    )
    .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &actor.org_id,
            &actor.email,
            "admin_invite_resend",
            &format!(
                "Sent a new invitation link to {}; the previous link stopped working",
                inv.email
            ),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels an open invitation of the actor's org: its link stops working.
pub async fn cancel(svc: &Services, actor: &Admin, id: &str) -> CoreResult<()> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    lock_as_owner(&mut tx, actor).await?;
    let inv = open_invitation(&mut tx, &actor.org_id, id).await?;
    // Still open when written (see `resend_now`): an invitation accepted meanwhile is not
    // reported as cancelled.
    let cancelled = sqlx::query(
        "UPDATE admin_invitations SET cancelled_at = $1 WHERE id = $2 AND org_id = $3 \
         AND accepted_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(now)
    .bind(&inv.id)
    .bind(&actor.org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if cancelled != 1 {
        return Err(CoreError::NotFound);
    }
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &actor.org_id,
            &actor.email,
            "admin_invite_cancel",
            &format!("Cancelled the invitation of {}", inv.email),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The invitation a link stands for, while it can be accepted (for the accept page; does not
/// consume it, so a mail scanner's prefetch changes nothing).
pub async fn lookup(svc: &Services, token: &str) -> CoreResult<Option<InvitationInfo>> {
    if !crate::secret::is_well_formed(token) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT o.name AS org_name, i.email, i.role, i.invited_by_email, i.expires_at \
         FROM admin_invitations i JOIN orgs o ON o.id = i.org_id \
         WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.cancelled_at IS NULL AND i.expires_at > $2",
    )
    .bind(sha256_hex(token))
    .bind(svc.now())
    .fetch_optional(&svc.db.pool)
    .await?;
    row.map(|r| {
        Ok(InvitationInfo {
            org_name: r.try_get("org_name")?,
            email: r.try_get("email")?,
            role: stored_role(&r.try_get::<String, _>("role")?),
            invited_by_email: r.try_get("invited_by_email")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Accepts the invitation: creates the admin with the invited role and `password`, and marks the
/// invitation used, in one transaction. Of two racing accepts of one link exactly one creates an
/// account. Returns the new admin (the caller signs them in).
pub async fn accept(svc: &Services, token: &str, password: &str) -> CoreResult<Admin> {
    if lookup(svc, token).await?.is_none() {
        return Err(CoreError::invalid(INVALID_LINK));
    }
    crate::password::validate_new_password(password).map_err(|e| e.in_field(Field::Password))?;
    let hash = svc.argon2.hash(password.to_string()).await?;
    let now = svc.now();
    let token_hash = sha256_hex(token);
    let mut tx = svc.db.begin_write().await?;
    // The claim decides: PostgreSQL re-checks the condition after a concurrent claim commits;
    // SQLite runs one writer at a time.
    let claimed = sqlx::query(
        "UPDATE admin_invitations SET accepted_at = $1 WHERE token_hash = $2 \
         AND accepted_at IS NULL AND cancelled_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&token_hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Err(CoreError::invalid(INVALID_LINK));
    }
    let row = sqlx::query(
        "SELECT org_id, email, role, invited_by_email FROM admin_invitations WHERE token_hash = $1",
    )
    .bind(&token_hash)
    .fetch_one(&mut **tx)
    .await?;
    let org_id: String = row.try_get("org_id")?;
    let email: String = row.try_get("email")?;
    let role = stored_role(&row.try_get::<String, _>("role")?);
    let invited_by: String = row.try_get("invited_by_email")?;
    let admin = admins::insert_member_in_tx(
        &mut tx,
        &org_id,
        &email,
        &hash,
        role,
        Some(&invited_by),
        now,
    )
    .await?;
    sqlx::query("UPDATE admins SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &org_id,
            &email,
            "admin_invite_accept",
            &format!(
                "Accepted the invitation of {invited_by} and joined as {}",
                role.label()
            ),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(admin)
}
