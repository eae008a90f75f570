//! The audit trail: every event's kind (one classification, in Rust and in SQL), the Activity
//! screen's filters (one parser for the screen and both exports), the screen's page and the keyset
//! chunks the exports stream.
//!
//! Filters, as the URL carries them (empty values mean "any"):
//! - `kind`: one or more of [`EventKind`], repeated (`kind=sso&kind=jit`) or comma-separated;
//! - `result`: `success` or `failure`;
//! - `name`: one event name, exactly;
//! - `actor`: a case-insensitive substring of the actor (an admin's email, `scim:<client>`, …);
//! - `user`: a user's id, or a userName (case-insensitive, exact);
//! - `from`, `to`: UTC dates `YYYY-MM-DD`, both inclusive;
//! - `page`: the screen's page (the exports ignore it).

use chrono::NaiveDate;
use sqlx::Row;

use crate::admin_views::{fix_for, EventResult, EventRow, EventsPage, PAGE_SIZE};
use crate::error::{CoreError, CoreResult};
use crate::sql::SqlBuilder;
use crate::Services;

/// What an event is about, for filtering; derived from its name (see [`kind_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The admin team and the admins' own actions (sign-in, manual users, roles, 2FA …).
    Admin,
    /// SSO configuration and SSO sign-ins (including their failures and Test sign-ins).
    Sso,
    /// Just-in-time account creation at SSO sign-in.
    Jit,
    /// Magic-link requests and magic-link sign-ins.
    MagicLink,
    /// SCIM provisioning and SCIM token changes.
    Scim,
    /// The organisation's settings.
    Settings,
    /// What the background purge removed.
    Purge,
    /// A name no rule knows (kept reachable by the filter).
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        Self::Admin,
        Self::Sso,
        Self::Jit,
        Self::MagicLink,
        Self::Scim,
        Self::Settings,
        Self::Purge,
        Self::Other,
    ];

    /// The URL (and export) value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Sso => "sso",
            Self::Jit => "jit",
            Self::MagicLink => "magic_link",
            Self::Scim => "scim",
            Self::Settings => "settings",
            Self::Purge => "purge",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How a rule recognises an event.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    Prefix(&'static str),
    Suffix(&'static str),
    /// This exact name, with a message starting with the second string.
    NameAndMessage(&'static str, &'static str),
    Name(&'static str),
}

/// The first matching rule decides. [`kind_of`] and the SQL of [`push_kind_expr`] both read this
/// table, so the screen's filter and the classification cannot disagree.
///
/// `employee_sign_in` is written by both the magic-link and the SSO sign-in; the SSO one says so
/// in its message (`sso::acs`), so that rule alone looks at the message.
const RULES: &[(Pattern, EventKind)] = &[
    // `user_purge`, `event_purge`, … (before `admin_`: a purge is a purge whoever asked).
    (Pattern::Suffix("_purge"), EventKind::Purge),
    // `admin_sign_in`, `admin_create`, `admin_user_*`, `admin_invite*`, `admin_role_change`,
    // `admin_2fa_*`, `admin_session_end`, `admin_sign_out_everywhere`, …
    (Pattern::Prefix("admin_"), EventKind::Admin),
    (Pattern::Prefix("org_settings"), EventKind::Settings),
    (Pattern::Prefix("settings_"), EventKind::Settings),
    // `user_create_jit`
    (Pattern::Suffix("_jit"), EventKind::Jit),
    (
        Pattern::NameAndMessage("employee_sign_in", "Signed in with SSO"),
        EventKind::Sso,
    ),
    (Pattern::Name("employee_sign_in"), EventKind::MagicLink),
    (Pattern::Prefix("magic_link"), EventKind::MagicLink),
    // `sso_sign_in`, `sso_test`, `sso_config_update`, `sso_deactivate`, …
    (Pattern::Prefix("sso_"), EventKind::Sso),
    // `user_*_provision` and `user_deprovision`
    (Pattern::Suffix("provision"), EventKind::Scim),
    (Pattern::Prefix("idm_integration_"), EventKind::Scim),
    (Pattern::Prefix("scim_"), EventKind::Scim),
];

impl Pattern {
    fn matches(self, name: &str, message: &str) -> bool {
        match self {
            Self::Prefix(p) => name.starts_with(p),
            Self::Suffix(s) => name.ends_with(s),
            Self::NameAndMessage(n, m) => name == n && message.starts_with(m),
            Self::Name(n) => name == n,
        }
    }

    /// The same test in SQL, exact and case-sensitive on both databases (`substr` rather than
    /// `LIKE`, which ignores case on SQLite).
    fn push_sql(self, b: &mut SqlBuilder) {
        match self {
            Self::Prefix(p) => {
                let p = b.bind(p);
                b.push(&format!("substr(e.name, 1, length({p})) = {p}"));
            }
            Self::Suffix(s) => {
                let s = b.bind(s);
                b.push(&format!(
                    "(length(e.name) >= length({s}) AND substr(e.name, length(e.name) - length({s}) + 1) = {s})"
                ));
            }
            Self::NameAndMessage(n, m) => {
                let n = b.bind(n);
                let m = b.bind(m);
                b.push(&format!(
                    "(e.name = {n} AND substr(e.message, 1, length({m})) = {m})"
                ));
            }
            Self::Name(n) => {
                b.push("e.name = ").push_bind(n);
            }
        }
    }
}

/// The kind of an event with this name (and message: see [`RULES`]).
pub fn kind_of(name: &str, message: &str) -> EventKind {
    RULES
        .iter()
        .find(|(p, _)| p.matches(name, message))
        .map_or(EventKind::Other, |(_, k)| *k)
}

/// Writes the SQL expression of [`kind_of`] over the columns of `events e`.
pub fn push_kind_expr(b: &mut SqlBuilder) {
    b.push("(CASE");
    for (pattern, kind) in RULES {
        b.push(" WHEN ");
        pattern.push_sql(b);
        b.push(" THEN ").push_bind(kind.as_str());
    }
    b.push(" ELSE ")
        .push_bind(EventKind::Other.as_str())
        .push(" END)");
}

/// The earliest and latest dates a filter may name.
pub const EARLIEST_DATE: &str = "2000-01-01";
pub const LATEST_DATE: &str = "2099-12-31";
const MAX_ACTOR: usize = 200;
const MAX_USER: usize = 256;
const MAX_NAME: usize = 64;
const MAX_PAGE: i64 = 1_000_000;

/// The Activity screen's filters (the exports use the same).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    /// Empty: every kind.
    pub kinds: Vec<EventKind>,
    pub result: Option<EventResult>,
    pub name: Option<String>,
    /// Case-insensitive substring.
    pub actor: Option<String>,
    /// A user id, or a userName (case-insensitive).
    pub user: Option<String>,
    /// UTC, inclusive.
    pub from: Option<NaiveDate>,
    /// UTC, inclusive.
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityQuery {
    pub filter: ActivityFilter,
    pub page: i64,
}

impl Default for ActivityQuery {
    fn default() -> Self {
        Self {
            filter: ActivityFilter::default(),
            page: 1,
        }
    }
}

/// At most 40 characters of a client's value, for an error message.
fn shown(v: &str) -> String {
    let mut s: String = v.chars().take(40).collect();
    if v.chars().count() > 40 {
        s.push('…');
    }
    s
}

fn date(field: &str, v: &str) -> CoreResult<NaiveDate> {
    let d = (v.len() == 10)
        .then(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            CoreError::invalid(format!(
                "The “{field}” date “{}” is not a date like 2026-01-31 (year-month-day).",
                shown(v)
            ))
        })?;
    let (lo, hi) = bounds();
    if d < lo || d > hi {
        return Err(CoreError::invalid(format!(
            "The “{field}” date must lie between {EARLIEST_DATE} and {LATEST_DATE}."
        )));
    }
    Ok(d)
}

fn bounds() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or_default(),
    )
}

/// Unix milliseconds of a UTC date's first instant.
pub fn day_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis()
}

impl ActivityQuery {
    /// Reads and validates the URL's parameters (`kind` may repeat; for the others the last one
    /// counts; unknown parameters are ignored). A bad value is an `Invalid` error that says what
    /// to fix.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> CoreResult<Self> {
        let mut f = ActivityFilter::default();
        let mut page = 1;
        for (key, value) in pairs {
            let v = value.trim();
            match key {
                "kind" => {
                    for k in v.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                        let kind = EventKind::parse(k).ok_or_else(|| {
                            CoreError::invalid(format!(
                                "“{}” is not an event kind. Choose from: {}.",
                                shown(k),
                                EventKind::ALL.map(EventKind::as_str).join(", ")
                            ))
                        })?;
                        if !f.kinds.contains(&kind) {
                            f.kinds.push(kind);
                        }
                    }
                }
                "result" => {
                    f.result = if v.is_empty() {
                        None
                    } else {
                        Some(EventResult::parse(v).ok_or_else(|| {
                            CoreError::invalid(format!(
                                "The result “{}” is neither “success” nor “failure”.",
                                shown(v)
                            ))
                        })?)
                    };
                }
                "name" => {
                    let ok = v.len() <= MAX_NAME
                        && v.bytes()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
                    if !ok {
                        return Err(CoreError::invalid(format!(
                            "“{}” is not an event name (lowercase letters, digits and _, at most {MAX_NAME}).",
                            shown(v)
                        )));
                    }
                    f.name = (!v.is_empty()).then(|| v.to_string());
                }
                "actor" => {
                    if v.chars().count() > MAX_ACTOR {
                        return Err(CoreError::invalid(format!(
                            "The actor filter is too long (at most {MAX_ACTOR} characters)."
                        )));
                    }
                    f.actor = (!v.is_empty()).then(|| v.to_string());
                }
                "user" => {
                    if v.chars().count() > MAX_USER {
                        return Err(CoreError::invalid(format!(
                            "The user filter is too long (at most {MAX_USER} characters)."
                        )));
                    }
                    f.user = (!v.is_empty()).then(|| v.to_string());
                }
                "from" => f.from = (!v.is_empty()).then(|| date("from", v)).transpose()?,
                "to" => f.to = (!v.is_empty()).then(|| date("to", v)).transpose()?,
                "page" => {
                    page = if v.is_empty() {
                        1
                    } else {
                        v.parse::<i64>()
                            .ok()
                            .filter(|p| (1..=MAX_PAGE).contains(p))
                            .ok_or_else(|| {
                                CoreError::invalid(format!(
                                    "The page “{}” is not a whole number from 1 to {MAX_PAGE}.",
                                    shown(v)
                                ))
                            })?
                    };
                }
                _ => {}
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to) {
            if from > to {
                return Err(CoreError::invalid(format!(
                    "The “from” date ({from}) is after the “to” date ({to}): swap them."
                )));
            }
        }
        Ok(Self { filter: f, page })
    }
}

fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE clause of a filter, over `events e`, scoped to `org_id`. The org and the time range
/// come first: the `(org_id, at DESC, seq DESC)` index serves them.
fn push_where(b: &mut SqlBuilder, org_id: &str, f: &ActivityFilter) {
    let org = b.bind(org_id);
    b.push(&format!("e.org_id = {org}"));
    if let Some(from) = f.from {
        b.push(" AND e.at >= ").push_bind(day_start_ms(from));
    }
    if let Some(to) = f.to {
        let next = to.succ_opt().unwrap_or(to);
        b.push(" AND e.at < ").push_bind(day_start_ms(next));
    }
    match f.result {
        Some(EventResult::Success) => {
            b.push(" AND e.success = 1");
        }
        Some(EventResult::Failure) => {
            b.push(" AND e.success = 0");
        }
        None => {}
    }
    if let Some(name) = &f.name {
        b.push(" AND e.name = ").push_bind(name);
    }
    if let Some(actor) = &f.actor {
        b.push(" AND lower(e.actor) LIKE ")
            .push_bind(like_pattern(actor))
            .push(" ESCAPE '\\'");
    }
    if let Some(user) = &f.user {
        let u = b.bind(user);
        b.push(&format!(
            " AND (e.user_id = {u} OR e.user_id IN (SELECT x.id FROM users x WHERE x.org_id = {org} \
             AND lower(x.user_name) = lower({u})))"
        ));
    }
    if !f.kinds.is_empty() && f.kinds.len() < EventKind::ALL.len() {
        b.push(" AND ");
        push_kind_expr(b);
        b.push(" IN (")
            .push_binds(f.kinds.iter().map(|k| k.as_str()), ", ")
            .push(")");
    }
}

const COLUMNS: &str = "e.id, e.at, e.seq, e.name, e.success, e.user_id, u.user_name, e.actor, \
     e.scim_type, e.message, e.detail";
const FROM: &str = "FROM events e LEFT JOIN users u ON u.id = e.user_id AND u.org_id = e.org_id";
/// Newest first; the id breaks ties between instances writing in the same millisecond.
const ORDER: &str = " ORDER BY e.at DESC, e.seq DESC, e.id DESC";

fn event_row(r: &sqlx::any::AnyRow) -> Result<EventRow, sqlx::Error> {
    let success = r.try_get::<i64, _>("success")? != 0;
    let scim_type: Option<String> = r.try_get("scim_type")?;
    let message: String = r.try_get("message")?;
    let name: String = r.try_get("name")?;
    let kind = kind_of(&name, &message);
    Ok(EventRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        kind,
        name,
        success,
        user_id: r.try_get("user_id")?,
        user_name: r.try_get("user_name")?,
        actor: r.try_get("actor")?,
        fix: if success {
            None
        } else {
            fix_for(scim_type.as_deref(), &message)
        },
        scim_type,
        message,
        // SCIM request log (issue 13): a SCIM event's detail names its request.
        request_id: if kind == EventKind::Scim {
            request_of(r.try_get::<Option<String>, _>("detail")?.as_deref())
        } else {
            None
        },
    })
}

/// SCIM request log (issue 13): the request id in a SCIM event's detail (`{"request": id}`),
/// when it is one of ours (letters, digits, `-`).
fn request_of(detail: Option<&str>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(detail?).ok()?;
    v.get("request")?
        .as_str()
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
        .map(str::to_string)
}

/// The statement of one page of the Activity screen (public for the query-plan test).
pub fn page_sql(org_id: &str, f: &ActivityFilter, page: i64) -> SqlBuilder {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} {FROM} WHERE "));
    push_where(&mut b, org_id, f);
    b.push(ORDER)
        .push(" LIMIT ")
        .push_bind(PAGE_SIZE)
        .push(" OFFSET ")
        .push_bind((page - 1) * PAGE_SIZE);
    b
}

/// One page of the Activity screen (newest first), with the total for the pager.
pub async fn list(svc: &Services, org_id: &str, q: &ActivityQuery) -> CoreResult<EventsPage> {
    let mut count = SqlBuilder::new("SELECT COUNT(*) FROM events e WHERE ");
    push_where(&mut count, org_id, &q.filter);
    let (total,) = count.query_as::<(i64,)>().fetch_one(&svc.db.pool).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = q.page.clamp(1, pages);
    let b = page_sql(org_id, &q.filter, page);
    let rows = b.query().fetch_all(&svc.db.pool).await?;
    let rows = rows
        .iter()
        .map(event_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(EventsPage {
        rows,
        total,
        page,
        pages,
    })
}

/// Where an export chunk ends: the next chunk starts after this event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    at: i64,
    seq: i64,
    id: String,
}

/// One chunk of an export: the filtered events after `after`, in the screen's order (newest
/// first). Keyset pagination: each chunk is one index range scan, never a growing OFFSET, and
/// only one chunk is in memory at a time.
pub async fn export_chunk(
    svc: &Services,
    org_id: &str,
    f: &ActivityFilter,
    after: Option<&Cursor>,
    limit: i64,
) -> CoreResult<(Vec<EventRow>, Option<Cursor>)> {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} {FROM} WHERE "));
    push_where(&mut b, org_id, f);
    if let Some(c) = after {
        let at = b.bind(c.at);
        let seq = b.bind(c.seq);
        let id = b.bind(&c.id);
        b.push(&format!(
            " AND (e.at < {at} OR (e.at = {at} AND (e.seq < {seq} OR (e.seq = {seq} AND e.id < {id}))))"
        ));
    }
    b.push(ORDER).push(" LIMIT ").push_bind(limit);
    let rows = b.query().fetch_all(&svc.db.pool).await?;
    let last = match rows.last() {
        Some(r) => Some(Cursor {
            at: r.try_get("at")?,
            seq: r.try_get("seq")?,
            id: r.try_get("id")?,
        }),
        None => None,
    };
    let rows = rows
        .iter()
        .map(event_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((rows, last))
}

/// Failed events since `since`, counted per kind (kinds without failures left out).
pub async fn failures_by_kind(
    svc: &Services,
    org_id: &str,
    since: i64,
) -> CoreResult<Vec<(EventKind, i64)>> {
    let mut b = SqlBuilder::new("SELECT k, COUNT(*) AS n FROM (SELECT ");
    push_kind_expr(&mut b);
    b.push(" AS k FROM events e WHERE e.org_id = ")
        .push_bind(org_id)
        .push(" AND e.at >= ")
        .push_bind(since)
        .push(" AND e.success = 0) t GROUP BY k");
    let rows = b.query().fetch_all(&svc.db.pool).await?;
    let mut out = Vec::new();
    for r in &rows {
        let k: String = r.try_get("k")?;
        let n: i64 = r.try_get("n")?;
        out.push((EventKind::parse(&k).unwrap_or(EventKind::Other), n));
    }
    out.sort_by_key(|(k, _)| EventKind::ALL.iter().position(|x| x == k));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_has_its_kind() {
        use EventKind::*;
        for (name, message, kind) in [
            // SCIM
            ("user_create_provision", "", Scim),
            ("user_update_provision", "", Scim),
            ("user_lookup_provision", "", Scim),
            ("user_deprovision", "", Scim),
            ("user_delete_provision", "", Scim),
            ("idm_integration_activate", "", Scim),
            ("idm_integration_reauth", "", Scim),
            ("idm_integration_delete", "", Scim),
            // Issue 13, SCIM fidelity: SCIM rules changed while SCIM is on.
            ("idm_integration_update", "", Scim),
            // SSO
            ("sso_sign_in", "SSO sign-in refused: bad signature", Sso),
            ("sso_test", "", Sso),
            ("sso_config_update", "", Sso),
            ("sso_deactivate", "", Sso),
            (
                "employee_sign_in",
                "Signed in with SSO (IdP-initiated; certificate ab:cd)",
                Sso,
            ),
            // JIT
            ("user_create_jit", "", Jit),
            // Magic link
            ("magic_link_requested", "", MagicLink),
            ("employee_sign_in", "Signed in with a magic link", MagicLink),
            (
                "employee_sign_in",
                "Magic-link sign-in refused: the link had expired",
                MagicLink,
            ),
            // Admin, including the manual-user actions and the team's new names
            ("admin_sign_in", "", Admin),
            ("admin_create", "", Admin),
            ("admin_user_create", "", Admin),
            ("admin_user_update", "", Admin),
            ("admin_user_deactivate", "", Admin),
            ("admin_user_reactivate", "", Admin),
            ("admin_user_delete", "", Admin),
            ("admin_user_restore", "", Admin),
            ("admin_invite", "", Admin),
            ("admin_invite_accept", "", Admin),
            ("admin_role_change", "", Admin),
            ("admin_remove", "", Admin),
            ("admin_password_reset", "", Admin),
            ("admin_2fa_enable", "", Admin),
            ("admin_session_end", "", Admin),
            ("admin_sign_out_everywhere", "", Admin),
            // Settings and purges
            ("org_settings_update", "", Settings),
            ("user_purge", "", Purge),
            ("event_purge", "", Purge),
            ("admin_event_purge", "", Purge),
            // Unknown
            ("something_new", "", Other),
            ("", "", Other),
            ("ADMIN_SIGN_IN", "", Other),
        ] {
            assert_eq!(kind_of(name, message), kind, "{name} / {message}");
        }
    }

    #[test]
    fn kinds_round_trip_through_their_url_value() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("SSO"), None);
    }

    fn parse(q: &str) -> CoreResult<ActivityQuery> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        ActivityQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    #[test]
    fn filters_parse_from_the_url() {
        let q = parse(
            "kind=sso&kind=jit,admin&kind=sso&result=failure&actor=+Ops%40x+&user=u1&from=2026-01-01&to=2026-01-31&page=3&org_id=other",
        )
        .unwrap();
        assert_eq!(
            q.filter.kinds,
            vec![EventKind::Sso, EventKind::Jit, EventKind::Admin]
        );
        assert_eq!(q.filter.result, Some(EventResult::Failure));
        assert_eq!(q.filter.actor.as_deref(), Some("Ops@x"));
        assert_eq!(q.filter.user.as_deref(), Some("u1"));
        assert_eq!(q.filter.from, NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(q.filter.to, NaiveDate::from_ymd_opt(2026, 1, 31));
        assert_eq!(q.page, 3);
        assert_eq!(parse("").unwrap(), ActivityQuery::default());
        assert_eq!(
            parse("kind=&result=&from=&to=&page=&actor=&user=").unwrap(),
            ActivityQuery::default()
        );
        assert_eq!(parse("from=2026-03-05&to=2026-03-05").unwrap().page, 1);
    }

    #[test]
    fn bad_filters_say_what_to_fix() {
        for (q, says) in [
            ("kind=everything", "not an event kind"),
            ("result=maybe", "neither"),
            ("from=yesterday", "not a date"),
            ("to=2026-02-30", "not a date"),
            ("from=2026-1-5", "not a date"),
            ("from=1999-12-31", "between 2000-01-01 and 2099-12-31"),
            ("to=2100-01-01", "between"),
            ("from=2026-02-01&to=2026-01-31", "after the “to” date"),
            ("page=0", "whole number"),
            ("page=-1", "whole number"),
            ("page=abc", "whole number"),
            ("page=99999999999999999999", "whole number"),
            ("name=DROP TABLE", "not an event name"),
        ] {
            let e = parse(q).expect_err(q).to_string();
            assert!(e.contains(says), "{q}: {e}");
            assert!(matches!(parse(q), Err(CoreError::Invalid(_))), "{q}");
        }
        let long = format!("actor={}", "a".repeat(201));
        assert!(parse(&long).unwrap_err().to_string().contains("too long"));
        let long = format!("user={}", "a".repeat(257));
        assert!(parse(&long).unwrap_err().to_string().contains("too long"));
        // A hostile value is echoed shortened.
        let e = parse(&format!("kind={}", "x".repeat(5000)))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn the_kind_filter_is_one_case_expression_with_bound_patterns() {
        let mut b = SqlBuilder::new("");
        push_where(
            &mut b,
            "org-1",
            &ActivityFilter {
                kinds: vec![EventKind::Sso, EventKind::Jit],
                ..Default::default()
            },
        );
        assert!(
            b.sql().starts_with("e.org_id = $1 AND (CASE WHEN "),
            "{}",
            b.sql()
        );
        assert!(
            !b.sql().contains("admin_"),
            "patterns are bound: {}",
            b.sql()
        );
        let n = b.params().len();
        assert!(b.sql().ends_with(&format!("IN (${}, ${})", n - 1, n)));
    }
}
