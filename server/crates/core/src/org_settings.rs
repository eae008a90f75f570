//! Organisation settings: the name, how long deleted users and events are kept, the email domains
//! users may have, the userName = work-email rule, and two admin sign-in switches (stored here,
//! enforced by the admin sign-in code).
//!
//! The Organisation settings screen and `server org-settings` both go through [`validate`] and
//! [`update`]; what SCIM, SSO JIT and the Users screen must obey is read with [`user_policy`].

use serde_json::Value;
use sqlx::Row;

use crate::error::{CoreError, CoreResult, Field};
use crate::events::{self, NewEvent};
use crate::Services;

pub const DEFAULT_USER_RETENTION_DAYS: i64 = 30;
pub const MAX_USER_RETENTION_DAYS: i64 = 365;
pub const DEFAULT_EVENT_RETENTION_DAYS: i64 = 365;
pub const MAX_EVENT_RETENTION_DAYS: i64 = 3650;
/// More domains than this is a sign of a mistake (or of a list meant to allow everything).
pub const MAX_ALLOWED_DOMAINS: usize = 50;
const DAY_MS: i64 = 86_400_000;
/// Events removed per transaction by the purge, so that it never holds the write turn for long.
const PURGE_BATCH: i64 = 5_000;

/// An organisation's settings, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub name: String,
    /// Days a soft-deleted user stays restorable before the purge removes it.
    pub user_retention_days: i64,
    /// Days an event stays in the activity log.
    pub event_retention_days: i64,
    /// Lower-case domains users' addresses must be in; empty: every domain.
    pub allowed_domains: Vec<String>,
    pub username_equals_work_email: bool,
    pub require_2fa: bool,
    pub require_sso_for_admins: bool,
}

/// The settings as a person or a script types them. The screen sends every field; the CLI starts
/// from the current values ([`SettingsInput::from`]) and replaces those its flags name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsInput {
    pub name: String,
    pub user_retention_days: String,
    pub event_retention_days: String,
    /// Domains separated by commas, semicolons, spaces or line breaks.
    pub allowed_domains: String,
    pub username_equals_work_email: bool,
    pub require_2fa: bool,
    pub require_sso_for_admins: bool,
}

impl From<&Settings> for SettingsInput {
    fn from(s: &Settings) -> Self {
        Self {
            name: s.name.clone(),
            user_retention_days: s.user_retention_days.to_string(),
            event_retention_days: s.event_retention_days.to_string(),
            allowed_domains: s.allowed_domains.join(", "),
            username_equals_work_email: s.username_equals_work_email,
            require_2fa: s.require_2fa,
            require_sso_for_admins: s.require_sso_for_admins,
        }
    }
}

fn days(raw: &str, field: Field, what: &str, max: i64) -> CoreResult<i64> {
    let msg = || format!("Enter the {what} as a whole number of days from 1 to {max}.");
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| CoreError::invalid_field(field, msg()))?;
    if !(1..=max).contains(&n) {
        return Err(CoreError::invalid_field(field, msg()));
    }
    Ok(n)
}

/// Checks one domain name (already trimmed and lower-cased): letters, digits and hyphens in dot-
/// separated labels of at most 63 characters, at least two labels, no numeric top-level label.
pub fn validate_domain(d: &str) -> Result<(), String> {
    if d.len() > 253 {
        return Err(format!("{d:.40}… is longer than 253 characters."));
    }
    if !d.is_ascii() {
        return Err(format!(
            "{d} is not an ASCII domain name: enter an internationalised domain in its xn-- form."
        ));
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "{d} is not a domain name: enter a name like example.com."
        ));
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!(
                "{d} is not a valid domain name: use letters, digits and hyphens between dots."
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{d} is an IP address, not a domain name."));
    }
    Ok(())
}

/// Reads a list of domains: separated by commas, semicolons, spaces or line breaks; trimmed,
/// lower-cased, a leading `@` and a trailing dot dropped, duplicates removed, order kept.
pub fn parse_domains(raw: &str) -> CoreResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
        let d = part
            .trim()
            .trim_start_matches('@')
            .trim_end_matches('.')
            .to_lowercase();
        if d.is_empty() {
            continue;
        }
        validate_domain(&d).map_err(|m| CoreError::invalid_field(Field::AllowedDomains, m))?;
        if out.contains(&d) {
            continue;
        }
        // Refused as soon as the list is too long, so a huge input costs no more than this.
        if out.len() == MAX_ALLOWED_DOMAINS {
            return Err(CoreError::invalid_field(
                Field::AllowedDomains,
                format!(
                    "At most {MAX_ALLOWED_DOMAINS} domains; leave the field empty to allow every \
                     domain."
                ),
            ));
        }
        out.push(d);
    }
    Ok(out)
}

/// The one validation of the settings, for the screen and the CLI alike. Errors name the field.
pub fn validate(input: &SettingsInput) -> CoreResult<Settings> {
    let name =
        crate::admins::validate_org_name(&input.name).map_err(|e| e.in_field(Field::OrgName))?;
    let user_retention_days = days(
        &input.user_retention_days,
        Field::UserRetentionDays,
        "retention for deleted users",
        MAX_USER_RETENTION_DAYS,
    )?;
    let event_retention_days = days(
        &input.event_retention_days,
        Field::EventRetentionDays,
        "retention for events",
        MAX_EVENT_RETENTION_DAYS,
    )?;
    let allowed_domains = parse_domains(&input.allowed_domains)?;
    Ok(Settings {
        name,
        user_retention_days,
        event_retention_days,
        allowed_domains,
        username_equals_work_email: input.username_equals_work_email,
        require_2fa: input.require_2fa,
        require_sso_for_admins: input.require_sso_for_admins,
    })
}

const SELECT: &str = "SELECT name, retention_days, event_retention_days, allowed_domains, \
     username_equals_work_email, require_2fa, require_sso_for_admins FROM orgs WHERE id = $1";

fn split_stored(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

fn from_row(r: &sqlx::any::AnyRow) -> CoreResult<Settings> {
    Ok(Settings {
        name: r.try_get("name")?,
        user_retention_days: r.try_get("retention_days")?,
        event_retention_days: r.try_get("event_retention_days")?,
        allowed_domains: split_stored(&r.try_get::<String, _>("allowed_domains")?),
        username_equals_work_email: r.try_get::<i64, _>("username_equals_work_email")? != 0,
        require_2fa: r.try_get::<i64, _>("require_2fa")? != 0,
        require_sso_for_admins: r.try_get::<i64, _>("require_sso_for_admins")? != 0,
    })
}

/// The settings of one organisation (None: no such organisation).
pub async fn get(svc: &Services, org_id: &str) -> CoreResult<Option<Settings>> {
    let mut conn = svc.db.pool.acquire().await?;
    read(&mut conn, org_id).await
}

async fn read(conn: &mut sqlx::AnyConnection, org_id: &str) -> CoreResult<Option<Settings>> {
    let row = sqlx::query(SELECT)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A change: the fields to set (None: keep). The screen sets all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub name: Option<String>,
    pub user_retention_days: Option<String>,
    pub event_retention_days: Option<String>,
    pub allowed_domains: Option<String>,
    pub username_equals_work_email: Option<bool>,
    pub require_2fa: Option<bool>,
    pub require_sso_for_admins: Option<bool>,
}

impl SettingsChange {
    /// Every field from a complete form.
    pub fn all(input: SettingsInput) -> Self {
        Self {
            name: Some(input.name),
            user_retention_days: Some(input.user_retention_days),
            event_retention_days: Some(input.event_retention_days),
            allowed_domains: Some(input.allowed_domains),
            username_equals_work_email: Some(input.username_equals_work_email),
            require_2fa: Some(input.require_2fa),
            require_sso_for_admins: Some(input.require_sso_for_admins),
        }
    }

    fn over(&self, current: &Settings) -> SettingsInput {
        let mut i = SettingsInput::from(current);
        let set = |t: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                t.clone_from(v);
            }
        };
        set(&mut i.name, &self.name);
        set(&mut i.user_retention_days, &self.user_retention_days);
        set(&mut i.event_retention_days, &self.event_retention_days);
        set(&mut i.allowed_domains, &self.allowed_domains);
        i.username_equals_work_email = self
            .username_equals_work_email
            .unwrap_or(i.username_equals_work_email);
        i.require_2fa = self.require_2fa.unwrap_or(i.require_2fa);
        i.require_sso_for_admins = self
            .require_sso_for_admins
            .unwrap_or(i.require_sso_for_admins);
        i
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn domains_words(d: &[String]) -> String {
    if d.is_empty() {
        "any domain".to_string()
    } else {
        d.join(", ")
    }
}

/// What changed, one phrase per setting: "retention for events 365 → 90 days".
pub fn describe_changes(old: &Settings, new: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    if old.name != new.name {
        out.push(format!("name {:?} → {:?}", old.name, new.name));
    }
    if old.user_retention_days != new.user_retention_days {
        out.push(format!(
            "retention for deleted users {} → {} days",
            old.user_retention_days, new.user_retention_days
        ));
    }
    if old.event_retention_days != new.event_retention_days {
        out.push(format!(
            "retention for events {} → {} days",
            old.event_retention_days, new.event_retention_days
        ));
    }
    if old.allowed_domains != new.allowed_domains {
        out.push(format!(
            "allowed email domains {} → {}",
            domains_words(&old.allowed_domains),
            domains_words(&new.allowed_domains)
        ));
    }
    let switches = [
        (
            "userName must equal the work email",
            old.username_equals_work_email,
            new.username_equals_work_email,
        ),
        (
            "require two-factor authentication",
            old.require_2fa,
            new.require_2fa,
        ),
        (
            "require single sign-on for admins",
            old.require_sso_for_admins,
            new.require_sso_for_admins,
        ),
    ];
    for (what, a, b) in switches {
        if a != b {
            out.push(format!("{what} {} → {}", on_off(a), on_off(b)));
        }
    }
    out
}

/// Validates `change` over the current settings and saves it with one `org_settings_update`
/// event naming each change (none when nothing changed). Returns the settings now in force and
/// the changes. NotFound: no such organisation.
pub async fn update(
    svc: &Services,
    org_id: &str,
    actor: &str,
    change: &SettingsChange,
) -> CoreResult<(Settings, Vec<String>)> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    // Two Owners saving at once: the second reads the first's result, and its event says what
    // it changed from there.
    tx.lock_org(org_id).await?;
    let current = read(&mut tx, org_id).await?.ok_or(CoreError::NotFound)?;
    let new = validate(&change.over(&current))?;
    // Requiring SSO of admins without SSO would leave Admins and Viewers no way in.
    if new.require_sso_for_admins && !current.require_sso_for_admins {
        let sso: Option<(String,)> =
            sqlx::query_as("SELECT org_id FROM sso_configs WHERE org_id = $1")
                .bind(org_id)
                .fetch_optional(&mut **tx)
                .await?;
        if sso.is_none() {
            return Err(CoreError::invalid(
                "Set up single sign-on first: requiring it for admins without it would leave \
                 Admins and Viewers no way to sign in.",
            ));
        }
        // From now on Admins and Viewers sign in through SSO only: their sessions that began
        // otherwise end.
        sqlx::query(
            "DELETE FROM sessions WHERE admin_id IN \
             (SELECT id FROM admins WHERE org_id = $1 AND role <> 'owner') \
             AND (method IS NULL OR method <> 'sso')",
        )
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    }
    let changes = describe_changes(&current, &new);
    if changes.is_empty() {
        return Ok((current, changes));
    }
    sqlx::query(
        "UPDATE orgs SET name = $1, retention_days = $2, event_retention_days = $3, \
         allowed_domains = $4, username_equals_work_email = $5, require_2fa = $6, \
         require_sso_for_admins = $7 WHERE id = $8",
    )
    .bind(&new.name)
    .bind(new.user_retention_days)
    .bind(new.event_retention_days)
    .bind(new.allowed_domains.join(","))
    .bind(i64::from(new.username_equals_work_email))
    .bind(i64::from(new.require_2fa))
    .bind(i64::from(new.require_sso_for_admins))
    .bind(org_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if CoreError::is_unique_violation(&e) {
            CoreError::invalid_field(
                Field::OrgName,
                "Another organisation already uses this name: choose a different one.",
            )
        } else {
            e.into()
        }
    })?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            org_id,
            actor,
            "org_settings_update",
            &format!("Changed organisation settings: {}", changes.join("; ")),
        ),
        now,
    )
    .await?;
    if let Some(ev) = integration_update(&mut tx, org_id, actor, &current, &new).await? {
        events::record_in_tx(&mut tx, ev, now).await?;
    }
    tx.commit().await?;
    Ok((new, changes))
}

/// The `idm_integration_update` event, when a settings change updates an activated SCIM
/// integration. JumpCloud logs it "when an IT admin attempts to update a configured and activated
/// SCIM Identity Management integration"; this portal's side of that integration is its token
/// (whose changes are `idm_integration_activate` / `_reauth` / `_delete`) and the rules every SCIM
/// request is checked against: the allowed email domains and "userName must equal the work
/// email" ([`UserPolicy`]). A change to either alters which of the IdP's requests succeed, so it
/// is an integration update, recorded beside `org_settings_update`. It is not one while SCIM is
/// off (no current token: nothing is activated), nor for the other settings (name, retention,
/// 2FA, SSO for admins), which do not touch provisioning. SSO settings are not the SCIM
/// integration either: they have their own `sso_*` events.
async fn integration_update(
    tx: &mut crate::db::WriteTx,
    org_id: &str,
    actor: &str,
    current: &Settings,
    new: &Settings,
) -> CoreResult<Option<NewEvent>> {
    let scim_rules_only = Settings {
        allowed_domains: new.allowed_domains.clone(),
        username_equals_work_email: new.username_equals_work_email,
        ..current.clone()
    };
    let changes = describe_changes(current, &scim_rules_only);
    if changes.is_empty() {
        return Ok(None);
    }
    let active: Option<(String,)> =
        sqlx::query_as("SELECT id FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL")
            .bind(org_id)
            .fetch_optional(&mut ***tx)
            .await?;
    if active.is_none() {
        return Ok(None);
    }
    Ok(Some(NewEvent::admin(
        org_id,
        actor,
        EV_INTEGRATION_UPDATE,
        &format!(
            "Changed the rules SCIM requests are checked against: {}",
            changes.join("; ")
        ),
    )))
}

/// See [`integration_update`].
pub const EV_INTEGRATION_UPDATE: &str = "idm_integration_update";

/// What the user store must obey in one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPolicy {
    /// Empty: every domain.
    pub allowed_domains: Vec<String>,
    pub username_equals_work_email: bool,
}

impl Default for UserPolicy {
    fn default() -> Self {
        Self {
            allowed_domains: Vec::new(),
            username_equals_work_email: true,
        }
    }
}

/// The domain of an address (after its last `@`), lower-cased; None when it has no `@`.
fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_lowercase())
}

/// userName and every email value of a canonical resource.
fn addresses(attrs: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(u) = attrs.get("userName").and_then(Value::as_str) {
        out.push(("userName", u.to_string()));
    }
    for e in attrs
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(v) = e.get("value").and_then(Value::as_str) {
            out.push(("emails.value", v.to_string()));
        }
    }
    out
}

impl UserPolicy {
    /// The rules SCIM normalisation applies for this organisation.
    pub fn rules(&self) -> scim_core::Rules {
        scim_core::Rules {
            username_equals_work_email: self.username_equals_work_email,
        }
    }

    /// Whether an address may be given to a user here. A userName that is not an address (no
    /// `@`, possible when the userName rule is off) has no domain to refuse.
    pub fn allows(&self, address: &str) -> bool {
        if self.allowed_domains.is_empty() {
            return true;
        }
        match domain_of(address) {
            Some(d) => self.allowed_domains.contains(&d),
            None => true,
        }
    }

    /// The words naming the allowed domains.
    pub fn allowed_words(&self) -> String {
        self.allowed_domains.join(", ")
    }

    /// The first address in `attrs` (userName, then emails) outside the allowed domains that
    /// `before` did not already carry, with the attribute it is in. Addresses a user already had
    /// stay acceptable: existing users are not locked out of other changes (deactivation above
    /// all) by a list set after they were created.
    pub fn refused_address(
        &self,
        attrs: &Value,
        before: Option<&Value>,
    ) -> Option<(&'static str, String)> {
        if self.allowed_domains.is_empty() {
            return None;
        }
        let had: Vec<String> = before
            .map(addresses)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, a)| a.to_lowercase())
            .collect();
        addresses(attrs)
            .into_iter()
            .find(|(_, a)| !self.allows(a) && !had.contains(&a.to_lowercase()))
    }

    /// The refusal for an address outside the allowed domains, naming them.
    pub fn refusal(&self, attr: &str, address: &str) -> String {
        format!(
            "{attr} {address} is outside this organisation's allowed email domains ({}). Use an \
             address in one of them, or ask an Owner to add the domain under Organisation settings.",
            self.allowed_words()
        )
    }
}

/// The user rules from an `orgs` row's stored columns.
pub(crate) fn policy_from(allowed_domains: &str, username_equals_work_email: i64) -> UserPolicy {
    UserPolicy {
        allowed_domains: split_stored(allowed_domains),
        username_equals_work_email: username_equals_work_email != 0,
    }
}

/// The user rules of `org_id` (the defaults when the organisation does not exist).
pub async fn user_policy(conn: &mut sqlx::AnyConnection, org_id: &str) -> CoreResult<UserPolicy> {
    let row =
        sqlx::query("SELECT allowed_domains, username_equals_work_email FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some(r) => Ok(policy_from(
            &r.try_get::<String, _>("allowed_domains")?,
            r.try_get::<i64, _>("username_equals_work_email")?,
        )),
        None => Ok(UserPolicy::default()),
    }
}

/// Removes each organisation's events older than its event retention, in batches, and records
/// one `event_purge` event per organisation that lost any. Returns (org id, events removed) for
/// those organisations.
pub async fn purge_old_events(svc: &Services) -> CoreResult<Vec<(String, u64)>> {
    let now = svc.now();
    let orgs: Vec<(String, i64)> = sqlx::query_as("SELECT id, event_retention_days FROM orgs")
        .fetch_all(&svc.db.pool)
        .await?;
    let mut out = Vec::new();
    for (org_id, days) in orgs {
        let cutoff = now - days.clamp(1, MAX_EVENT_RETENTION_DAYS) * DAY_MS;
        let mut removed: u64 = 0;
        loop {
            let mut tx = svc.db.begin_write().await?;
            let n = sqlx::query(
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE org_id = $1 \
                 AND at < $2 LIMIT $3)",
            )
            .bind(&org_id)
            .bind(cutoff)
            .bind(PURGE_BATCH)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            removed += n;
            let last = n < PURGE_BATCH as u64;
            if last && removed > 0 {
                events::record_in_tx(
                    &mut tx,
                    NewEvent {
                        org_id: org_id.clone(),
                        name: "event_purge".into(),
                        success: true,
                        user_id: None,
                        actor: "system (retention)".into(),
                        scim_type: None,
                        message: format!(
                            "Removed {removed} activity event(s) older than {days} days (the \
                             organisation's event retention)"
                        ),
                        detail: None,
                    },
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            if last {
                break;
            }
        }
        if removed > 0 {
            out.push((org_id, removed));
        }
    }
    Ok(out)
}
