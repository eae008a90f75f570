//! Setup links for outside IT contacts (issue 13).
//!
//! An Owner or Admin makes a link for the person who will paste our values into the IdP — often
//! someone outside the customer's admin team. The link is scoped to single sign-on, provisioning
//! or both, belongs to one organisation, expires (default [`TTL_DEFAULT_HOURS`]) and can be
//! revoked. It opens only the guided setup screens of its scope: never users, activity, the
//! admin team or settings. It is a bearer credential (256 random bits, stored only as a SHA-256
//! hash, like SCIM tokens and invitations); every request through it is checked again here
//! ([`authorize`]), and every change made through it is an event whose actor names the link.
//!
//! A link works only while the admin who made it is still an Owner or Admin of the
//! organisation and has not changed their password since: removing that admin or demoting them
//! to Viewer revokes their links, and a password change or reset stops them (a removed admin, or
//! whoever stole a session, must not keep a way back in through a link).

use sqlx::Row;

use crate::admins::Admin;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::secret::{is_well_formed, sha256_hex, Secret};
use crate::Services;

const HOUR_MS: i64 = 3_600_000;
/// The default lifetime offered on the screen: 72 hours.
pub const TTL_DEFAULT_HOURS: i64 = 72;
/// The shortest lifetime: 1 hour.
pub const TTL_MIN_HOURS: i64 = 1;
/// The longest lifetime: 7 days. A longer need is a new link, made by someone still an admin.
pub const TTL_MAX_HOURS: i64 = 168;
/// Links one organisation may have working at a time (unexpired and unrevoked): a bound on what an admin can hand out
/// (and on rows a burst can write).
pub const MAX_ACTIVE_PER_ORG: i64 = 20;
/// The longest label (who the link is for).
pub const LABEL_MAX_CHARS: usize = 100;
/// Kept for the record this long after they stop working, then purged by the job.
pub const KEEP_ENDED_MS: i64 = 90 * 24 * HOUR_MS;

/// The one answer to an unknown, malformed, expired or revoked link, and to a link whose maker
/// is no longer an admin: no answer says which.
pub const INVALID_LINK: &str = "This setup link is invalid, has expired or was revoked. \
     Ask the admin who sent it for a new one.";

/// What a link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Sso,
    Provisioning,
    Both,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sso => "sso",
            Self::Provisioning => "provisioning",
            Self::Both => "both",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Sso => "Single sign-on",
            Self::Provisioning => "Provisioning",
            Self::Both => "Single sign-on and provisioning",
        }
    }

    pub fn parse(raw: &str) -> CoreResult<Self> {
        match raw.trim() {
            "sso" => Ok(Self::Sso),
            "provisioning" => Ok(Self::Provisioning),
            "both" => Ok(Self::Both),
            _ => Err(CoreError::invalid(
                "Choose what the link sets up: single sign-on, provisioning or both.",
            )),
        }
    }

    pub fn covers(self, needed: Scope) -> bool {
        self == Self::Both || self == needed
    }
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Active,
    Expired,
    Revoked,
    /// Its maker is no longer an Owner or Admin of the organisation, or changed their password
    /// after making it.
    MakerGone,
}

/// A link as the admin screen lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLink {
    pub id: String,
    pub label: String,
    pub scope: Scope,
    pub created_by_email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<i64>,
    pub use_count: i64,
    pub state: LinkState,
}

/// The caller of a request made through a valid link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCaller {
    pub link_id: String,
    pub org_id: String,
    pub org_name: String,
    pub label: String,
    pub scope: Scope,
    pub expires_at: i64,
    pub created_by_email: String,
}

impl LinkCaller {
    /// The actor of events recorded through this link: names the link (its label and id) and
    /// who sent it.
    pub fn actor(&self) -> String {
        format!(
            "setup link \"{}\" ({}) sent by {}",
            self.label, self.link_id, self.created_by_email
        )
    }
}

/// Trims and checks the label: who the link is for, as the admin describes them.
pub fn validate_label(raw: &str) -> CoreResult<String> {
    let label = raw.trim();
    if label.is_empty() {
        return Err(CoreError::invalid(
            "Say who the link is for (a name or an email address).",
        ));
    }
    if label.chars().count() > LABEL_MAX_CHARS {
        return Err(CoreError::invalid(format!(
            "The label is too long (at most {LABEL_MAX_CHARS} characters)."
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "The label cannot contain control characters.",
        ));
    }
    // The label is part of the actor of every event made through the link: no quotes (it is
    // quoted there) and no invisible or direction-changing characters that could make it read
    // as another actor.
    if label.contains('"') || label.chars().any(invisible) {
        return Err(CoreError::invalid(
            "The label cannot contain double quotes or invisible or direction-changing characters.",
        ));
    }
    Ok(label.to_string())
}

/// Format characters that change how text reads without showing: soft hyphen, Arabic letter
/// mark, zero-width characters and joiners, bidirectional marks, embeddings, overrides and
/// isolates, word joiner and invisible operators, line and paragraph separators, BOM.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The address of the link's start page for `token`.
pub fn url(svc: &Services, token: &str) -> String {
    format!("{}/setup-link/{token}", svc.settings.public_url)
}

/// Makes a link. Only an Owner or Admin may (the caller checks the role; this checks it again
/// inside the transaction that writes, so a demotion that commits first wins). Returns the link
/// and its secret — the only time the secret exists outside the recipient's hands.
pub async fn create(
    svc: &Services,
    by: &Admin,
    label: &str,
    scope: &str,
    hours: i64,
) -> CoreResult<(SetupLink, Secret)> {
    let label = validate_label(label)?;
    let scope = Scope::parse(scope)?;
    if !(TTL_MIN_HOURS..=TTL_MAX_HOURS).contains(&hours) {
        return Err(CoreError::invalid(format!(
            "A setup link lasts between {TTL_MIN_HOURS} hour and {TTL_MAX_HOURS} hours (7 days)."
        )));
    }
    let now = svc.now();
    let token = Secret::generate();
    let id = new_id();
    let expires_at = now + hours * HOUR_MS;
    let mut tx = svc.db.begin_write().await?;
    // Serialise link making per org (PostgreSQL: the org row; SQLite: the one writer), so a
    // burst cannot pass the count below together.
    if !tx.lock_org(&by.org_id).await? {
        return Err(CoreError::NotFound);
    }
    if !maker_may_send(&mut tx, &by.org_id, &by.id).await? {
        return Err(CoreError::Forbidden(
            "Only an Owner or Admin of the organisation can send setup links.".into(),
        ));
    }
    let (active,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM setup_links WHERE org_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(&by.org_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    if active >= MAX_ACTIVE_PER_ORG {
        return Err(CoreError::Conflict(format!(
            "Your organisation already has {MAX_ACTIVE_PER_ORG} working setup links; revoke one first."
        )));
    }
    sqlx::query(
        "INSERT INTO setup_links (id, org_id, token_hash, label, scope, created_by_id, created_by_email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&by.org_id)
    .bind(token.hash())
    .bind(&label)
    .bind(scope.as_str())
    .bind(&by.id)
    .bind(&by.email)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &by.org_id,
            &by.email,
            "setup_link_created",
            &format!(
                "Setup link \"{label}\" ({id}) sent for {}, valid until {}",
                scope.label().to_lowercase(),
                crate::clock::rfc3339(expires_at)
            ),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    let link = SetupLink {
        id,
        label,
        scope,
        created_by_email: by.email.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoked_by: None,
        last_used_at: None,
        use_count: 0,
        state: LinkState::Active,
    };
    Ok((link, token))
}

async fn maker_may_send(
    tx: &mut crate::db::WriteTx,
    org_id: &str,
    admin_id: &str,
) -> CoreResult<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM admins WHERE id = $1 AND org_id = $2")
            .bind(admin_id)
            .bind(org_id)
            .fetch_optional(&mut ***tx)
            .await?;
    Ok(row.is_some_and(|(role,)| role == "owner" || role == "admin"))
}

/// The org's links, newest first: working ones and those that stopped working (kept for the
/// record until [`purge`]).
pub async fn list(svc: &Services, org_id: &str) -> CoreResult<Vec<SetupLink>> {
    let now = svc.now();
    let rows = sqlx::query(
        "SELECT l.id, l.label, l.scope, l.created_by_email, l.created_at, l.expires_at, l.revoked_at, \
         l.revoked_by, l.last_used_at, l.use_count, a.role AS maker_role, \
         a.password_changed_at AS maker_pw_changed \
         FROM setup_links l LEFT JOIN admins a ON a.id = l.created_by_id AND a.org_id = l.org_id \
         WHERE l.org_id = $1 ORDER BY l.created_at DESC, l.id",
    )
    .bind(org_id)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let revoked_at: Option<i64> = r.try_get("revoked_at")?;
            let expires_at: i64 = r.try_get("expires_at")?;
            let maker: Option<String> = r.try_get("maker_role")?;
            let pw_changed: Option<i64> = r.try_get("maker_pw_changed")?;
            let created_at: i64 = r.try_get("created_at")?;
            let state = if revoked_at.is_some() {
                LinkState::Revoked
            } else if expires_at <= now {
                LinkState::Expired
            } else if !matches!(maker.as_deref(), Some("owner" | "admin"))
                || pw_changed.is_some_and(|t| t > created_at)
            {
                LinkState::MakerGone
            } else {
                LinkState::Active
            };
            Ok(SetupLink {
                id: r.try_get("id")?,
                label: r.try_get("label")?,
                scope: Scope::parse(&r.try_get::<String, _>("scope")?)?,
                created_by_email: r.try_get("created_by_email")?,
                created_at,
                expires_at,
                revoked_at,
                revoked_by: r.try_get("revoked_by")?,
                last_used_at: r.try_get("last_used_at")?,
                use_count: r.try_get("use_count")?,
                state,
            })
        })
        .collect()
}

/// Revokes one of the org's links: it stops working at once. Another org's link id, or an
/// unknown one, is `NotFound`; revoking a link that no longer works is a no-op (`Ok(false)`).
pub async fn revoke(svc: &Services, org_id: &str, id: &str, actor: &str) -> CoreResult<bool> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT label, revoked_at FROM setup_links WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((label, revoked_at)) = row else {
        return Err(CoreError::NotFound);
    };
    if revoked_at.is_some() {
        return Ok(false);
    }
    let n = sqlx::query(
        "UPDATE setup_links SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND org_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(actor)
    .bind(id)
    .bind(org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n > 0 {
        events::record_in_tx(
            &mut tx,
            NewEvent::admin(
                org_id,
                actor,
                "setup_link_revoked",
                &format!("Setup link \"{label}\" ({id}) revoked"),
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// Checks a presented link and, when it works, who is calling. `None` for anything that does not
/// work (see [`INVALID_LINK`]): unknown, malformed, expired, revoked, or sent by someone who is no
/// longer an Owner or Admin of the org or whose password changed since (a reset after a stolen
/// session ends the links made with it, as it ends the sessions).
pub async fn authorize(svc: &Services, token: &str) -> CoreResult<Option<LinkCaller>> {
    if !is_well_formed(token) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT l.id, l.org_id, o.name AS org_name, l.label, l.scope, l.expires_at, l.created_by_email \
         FROM setup_links l JOIN orgs o ON o.id = l.org_id \
         JOIN admins a ON a.id = l.created_by_id AND a.org_id = l.org_id \
         WHERE l.token_hash = $1 AND l.revoked_at IS NULL AND l.expires_at > $2 \
         AND a.role IN ('owner', 'admin') \
         AND (a.password_changed_at IS NULL OR a.password_changed_at <= l.created_at)",
    )
    .bind(sha256_hex(token))
    .bind(svc.now())
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    Ok(Some(LinkCaller {
        link_id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        label: r.try_get("label")?,
        scope: Scope::parse(&r.try_get::<String, _>("scope")?)?,
        expires_at: r.try_get("expires_at")?,
        created_by_email: r.try_get("created_by_email")?,
    }))
}

/// Actions (saves, token generations) one link may make within [`ACTION_WINDOW_MS`]: far more
/// than an IT contact setting up and correcting an integration needs, few enough that a leaked
/// link cannot flood the org's events or churn its settings.
pub const MAX_ACTIONS_PER_WINDOW: i64 = 20;
pub const ACTION_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Like [`authorize`], for an action: the link must cover `needed` (a link for single sign-on
/// cannot touch provisioning and the reverse; the refusal names what the link is for) and be
/// under its rate limit ([`MAX_ACTIONS_PER_WINDOW`]; 429 with `Retry-After` beyond it, taken
/// atomically so racing requests cannot all pass). Notes the use (last action, count) — only
/// actions count, so a mail scanner opening the page does not.
pub async fn authorize_for(svc: &Services, token: &str, needed: Scope) -> CoreResult<LinkCaller> {
    let caller = authorize(svc, token)
        .await?
        .ok_or_else(|| CoreError::invalid(INVALID_LINK))?;
    if !caller.scope.covers(needed) {
        return Err(CoreError::Forbidden(format!(
            "This setup link is for {} only.",
            caller.scope.label().to_lowercase()
        )));
    }
    let limit = [crate::throttle::Limit::new(
        format!("setup-link:{}", caller.link_id),
        MAX_ACTIONS_PER_WINDOW,
        ACTION_WINDOW_MS,
    )];
    if let Some(secs) = crate::throttle::take(&svc.db, &limit, svc.now()).await? {
        return Err(CoreError::Throttled {
            retry_after_secs: secs,
        });
    }
    let noted = sqlx::query(
        "UPDATE setup_links SET last_used_at = $1, use_count = use_count + 1 WHERE id = $2",
    )
    .bind(svc.now())
    .bind(&caller.link_id)
    .execute(&svc.db.pool)
    .await;
    if let Err(e) = noted {
        tracing::warn!(error = %e, "could not note the use of a setup link");
    }
    Ok(caller)
}

/// Revokes every working link `sender_id` sent (their demotion to Viewer or their removal), in
/// the caller's transaction.
pub async fn revoke_sent_by(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    sender_id: &str,
    by: &str,
    now: i64,
) -> CoreResult<u64> {
    let n = sqlx::query(
        "UPDATE setup_links SET revoked_at = $1, revoked_by = $2 \
         WHERE org_id = $3 AND created_by_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(org_id)
    .bind(sender_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n)
}

/// Deletes links that stopped working more than [`KEEP_ENDED_MS`] ago (the events stay).
pub async fn purge(svc: &Services) -> CoreResult<u64> {
    let cutoff = svc.now() - KEEP_ENDED_MS;
    let n = sqlx::query(
        "DELETE FROM setup_links WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)",
    )
    .bind(cutoff)
    .execute(&svc.db.pool)
    .await?
    .rows_affected();
    Ok(n)
}
