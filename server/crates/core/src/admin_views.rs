//! Read models for the admin screens: the Users table, a user's detail and timeline, the activity
//! log, and the provisioning status. Every query is scoped by the org id from the admin's session.

use sqlx::Row;

use crate::error::CoreResult;
use crate::scim_tokens::TokenStatus;
use crate::sql::SqlBuilder;
use crate::users::{self, StoredUser};
use crate::{Backend, Services};

pub const PAGE_SIZE: i64 = 50;
/// A search counts its matches up to this many: past it the screen says "more than 1,000" and
/// lists the first 1,000 (Export CSV has them all). A term most users match then costs a walk of
/// the sort order, not a count and a sort of every match.
pub const SEARCH_COUNT_CAP: i64 = 1_000;

// The read models below are the domain's own: the app converts them to its wire types
// (app/src/dto.rs) in each screen's server-side code, so this crate never depends on the UI.

/// The Users screen's filters, sort and page (all in the page's URL query).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersQuery {
    pub search: String,
    /// None: any status.
    pub status: Option<UserStatus>,
    /// None: any source.
    pub source: Option<UserSource>,
    pub sort: UserSort,
    pub desc: bool,
    pub page: i64,
    /// SCIM Groups (issue 13): only members of this group (its id); empty: any.
    pub group: String,
}

impl UsersQuery {
    /// Reads the query from the page's URL parameters (`q`, `status`, `source`, `sort`, `dir`,
    /// `page`); unknown values mean "any" / the default.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).unwrap_or_default();
        Self {
            search: get("q"),
            status: UserStatus::parse(&get("status")),
            source: UserSource::parse(&get("source")),
            sort: UserSort::parse(&get("sort")).unwrap_or_default(),
            desc: get("dir") == "desc",
            page: get("page").parse().unwrap_or(1),
            group: get("group"),
        }
    }
}

/// Defines a unit enum whose URL value and SQL value is one snake_case string.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }
        }
    };
}

str_enum!(
    /// A user's lifecycle state, as the Users screen filters it.
    UserStatus {
        Active = "active",
        Deactivated = "deactivated",
        /// Soft-deleted, waiting for the purge.
        Deleted = "deleted",
    }
);

str_enum!(
    /// Where a user came from (the `users.source` column).
    UserSource {
        Scim = "scim",
        SsoJit = "sso_jit",
        Admin = "admin",
    }
);

str_enum!(
    /// The Users table's sort column.
    #[derive(Default)]
    UserSort {
        #[default]
        UserName = "user_name",
        Name = "name",
        Updated = "updated",
        Created = "created",
    }
);

str_enum!(
    /// The Activity screen's result filter.
    EventResult {
        Success = "success",
        Failure = "failure",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub user_name: String,
    pub email: Option<String>,
    pub department: Option<String>,
    pub country: Option<String>,
    pub locality: Option<String>,
    /// "Active", "Deactivated", "Deleted"
    pub status: String,
    pub source: String,
    pub last_sign_in_at: Option<i64>,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersPage {
    pub rows: Vec<UserRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// A search matched more users than [`SEARCH_COUNT_CAP`]: `total` is the cap, and the pages
    /// hold the first of them.
    pub more: bool,
    /// Soft-deleted users waiting for the purge, and the earliest purge time.
    pub deleted_count: i64,
    pub next_purge_at: Option<i64>,
    pub scim_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub at: i64,
    /// From the name (`crate::audit::kind_of`).
    pub kind: crate::audit::EventKind,
    pub name: String,
    pub success: bool,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub actor: String,
    pub scim_type: Option<String>,
    pub message: String,
    /// Plain-words advice for the IdP admin, for failures.
    pub fix: Option<String>,
    /// SCIM request log (issue 13): the request a SCIM event came from.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsQuery {
    /// None: successes and failures.
    pub result: Option<EventResult>,
    pub name: String,
    pub user_id: String,
    pub page: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPage {
    pub rows: Vec<EventRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserDetail {
    pub id: String,
    pub user_name: String,
    pub status: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub purge_at: Option<i64>,
    pub last_sign_in_at: Option<i64>,
    /// The SCIM representation, pretty-printed.
    pub scim_json: String,
    /// (attribute path, value) for every attribute.
    pub attributes: Vec<(String, String)>,
    pub timeline: Vec<EventRow>,
    /// For optimistic concurrency of the admin's edits.
    pub version: i64,
    /// SCIM is on and owns this user: the screen shows its fields read-only.
    pub scim_managed: bool,
    pub edit: UserEdit,
}

/// The hand-editable fields, as currently stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserEdit {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub department: String,
    pub country: String,
    pub locality: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningStatus {
    pub token: Option<TokenStatus>,
    pub rejected_count: i64,
    pub last_rejected_at: Option<i64>,
    /// No successful request for more than two 40-minute IdP cycles while a token is active.
    pub stale_since: Option<i64>,
    /// Zero-downtime rotation (issue 13): the next token beside the current one.
    pub rotation: Option<crate::scim_tokens::Rotation>,
    /// The token the current one replaced through a rotation, and why it was retired.
    pub last_retired: Option<crate::scim_tokens::RetiredToken>,
}

fn status_of(active: bool, deleted: bool) -> &'static str {
    if deleted {
        "Deleted"
    } else if active {
        "Active"
    } else {
        "Deactivated"
    }
}

pub fn source_label(s: &str) -> &'static str {
    match s {
        "scim" => "SCIM",
        "sso_jit" => "SSO-JIT",
        _ => "Admin",
    }
}

fn like_escape(s: &str) -> String {
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

/// The search term's candidates from the trigram index (SQLite, migration 0016): an FTS5 phrase
/// is a substring match, `"` doubled inside it.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The one text a search term is looked for in first (SQLite, migration 0020: index
/// `users_org_search_text` on `(org_id, this)`, some 100 bytes per user) — every term of an
/// organisation that reads [`SearchIndex::Text`], and a term of 1 or 2 characters of any: the four searched
/// texts of the row `alias`, lower-cased, one after the other. It contains every text the LIKE
/// conditions below compare, so it only ever adds candidates, and those conditions still decide.
pub fn search_text(alias: &str) -> String {
    format!(
        "lower({alias}.user_name || char(31) || COALESCE({alias}.email, '') || char(31) \
         || COALESCE({alias}.given_name, '') || ' ' || COALESCE({alias}.family_name, '') \
         || char(31) || COALESCE({alias}.display_name, ''))"
    )
}

/// The search term as the screen searches it: control characters left out (PostgreSQL refuses a
/// NUL in a text value; no one types the others), 100 characters at most.
pub fn searched(search: &str) -> String {
    search
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect()
}

/// A term the trigram index cannot serve (under 3 characters, lower-cased).
fn is_short(search: &str) -> bool {
    search.to_lowercase().chars().count() < 3
}

/// Which index a search of 3 characters or more reads first (SQLite). The trigram index is one
/// for every organisation: a term finds the matches of all of them, so its cost grows with the
/// other organisations' users (a term they all share, such as a mail domain, would cost a small
/// organisation the read of every user that has it). The search-text index is per organisation:
/// its cost is the organisation's own size (with a group or the Deleted status, neither is read:
/// those select the organisation's few users through their own index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchIndex {
    /// The trigram index (migration 0016): for organisations larger than [`TRIGRAM_FROM_USERS`],
    /// for a term it finds few users with ([`search_index`]).
    Trigram,
    /// The organisation's entries in the search-text index (migration 0020), one by one.
    Text,
}

/// Live users above which an organisation's searches may read the trigram index: up to it, its
/// own entries of the search-text index are read (≈ 0.2 µs each: 4 ms for 20,000).
pub const TRIGRAM_FROM_USERS: i64 = 20_000;

/// Users of all organisations that one of a term's trigrams may be found in before a large
/// organisation's search reads its own entries instead: past it, the shared index would cost the
/// read of other organisations' users (a term another organisation planted in many users, or one
/// they all share) beyond what reading its own entries costs.
pub const TRIGRAM_CANDIDATES_MAX: i64 = 10_000;

/// Trigrams of a term probed at most (the first ones, in the term's order).
const TRIGRAMS_PROBED: usize = 16;
/// A first pass counts each trigram up to this many users only: a selective term usually has a
/// trigram this rare, found without counting 10,000 users of each common one before it.
const TRIGRAM_FIRST_PASS: i64 = 1_000;

/// The index an organisation's search `q` reads first (SQLite; elsewhere the answer does not
/// matter): its own entries, unless the organisation is larger than [`TRIGRAM_FROM_USERS`] (the
/// live-user counter of migration 0016) and one of the term's first [`TRIGRAMS_PROBED`] trigrams
/// is in at most [`TRIGRAM_CANDIDATES_MAX`] users of all organisations. Each trigram is counted
/// alone (a single-trigram query reads one entry per user it counts, and stops at the bound):
/// the term's phrase would also read, and not count, every user holding all its trigrams apart,
/// which another organisation could plant without bound. The term's phrase query then walks that
/// rarest trigram's users, skipping ahead in the others' lists. Soft-deleted users waiting for
/// the purge are not counted, though their entries are read too: an organisation that keeps very
/// many of them only slows its own searches.
pub async fn search_index(svc: &Services, org_id: &str, q: &UsersQuery) -> CoreResult<SearchIndex> {
    search_index_with(svc, org_id, q, TRIGRAM_CANDIDATES_MAX).await
}

/// [`search_index`] with the bound on the trigram index's candidates chosen by the caller (tests
/// use a small one).
pub async fn search_index_with(
    svc: &Services,
    org_id: &str,
    q: &UsersQuery,
    max_candidates: i64,
) -> CoreResult<SearchIndex> {
    let search = searched(&q.search);
    if svc.db.backend != Backend::Sqlite || is_short(&search) {
        // Nothing to choose: PostgreSQL's planner picks its pg_trgm indexes itself, and a term
        // under 3 characters (or none) never reads the trigram index.
        return Ok(SearchIndex::Text);
    }
    let (live,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT) FROM org_user_counts WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_one(&svc.db.pool)
    .await?;
    if live <= TRIGRAM_FROM_USERS {
        return Ok(SearchIndex::Text);
    }
    // Each trigram's users in every organisation, counted up to a bound only: first a small one,
    // then `max_candidates`.
    let term: Vec<char> = search.to_lowercase().chars().collect();
    let mut trigrams: Vec<String> = Vec::new();
    for w in term.windows(3) {
        let trigram: String = w.iter().collect();
        if trigrams.len() == TRIGRAMS_PROBED {
            break;
        }
        if !trigrams.contains(&trigram) {
            trigrams.push(trigram);
        }
    }
    let first = TRIGRAM_FIRST_PASS.min(max_candidates);
    let bounds = if first < max_candidates {
        vec![first, max_candidates]
    } else {
        vec![max_candidates]
    };
    for bound in bounds {
        for trigram in &trigrams {
            let (found,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM (SELECT 1 FROM users_search WHERE users_search MATCH $1 LIMIT $2) AS c",
            )
            .bind(fts_phrase(trigram))
            .bind(bound + 1)
            .fetch_one(&svc.db.pool)
            .await?;
            if found <= bound {
                return Ok(SearchIndex::Trigram);
            }
        }
    }
    Ok(SearchIndex::Text)
}

/// Whether the term is looked for in the search-text index (SQLite; `INDEXED BY`, as the planner
/// would as soon walk another index of the organisation and read every row): a term under 3
/// characters, or any term when `index` says so. Not with a group or the Deleted status: those
/// select few users through their own index first.
fn reads_search_text(backend: Backend, q: &UsersQuery, index: SearchIndex) -> bool {
    let search = searched(&q.search);
    backend == Backend::Sqlite
        && !search.is_empty()
        && (is_short(&search) || index == SearchIndex::Text)
        && searched(&q.group).is_empty()
        && q.status != Some(UserStatus::Deleted)
}

/// How a search finds its rows (SQLite; PostgreSQL's planner picks its pg_trgm indexes itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Counting and the CSV export: the term tested in the search-text index entry by entry, so
    /// a capped count stops at the cap; or, for a large organisation and a term of 3 characters
    /// or more, its candidates from the trigram index.
    Filter,
    /// A page of a search that matched at most the cap: the candidates from the trigram index or
    /// the search-text index, then sorted.
    Candidates,
    /// A page of a search that matched more than the cap: the organisation's users in the
    /// page's order, tested one by one (a page is found long before the end).
    Walk,
}

/// Appends the WHERE clause of the Users screen's filters (scoped to `org_id`) and binds its values.
fn push_users_where(
    b: &mut SqlBuilder,
    backend: Backend,
    org_id: &str,
    q: &UsersQuery,
    via: Via,
    index: SearchIndex,
) {
    let search = searched(&q.search);
    let term = search.to_lowercase();
    // A term is looked up in the trigram index or in the search-text index first (see
    // `SearchIndex`); the LIKE conditions below still decide, so the result is the scan's. (Both
    // indexes hold at least the rows the scan finds: the trigram index folds case at least as
    // widely as lower(), and the search text holds the four texts.) PostgreSQL answers the same
    // LIKE conditions from its pg_trgm indexes.
    let text = reads_search_text(backend, q, index);
    let pattern = (!search.is_empty()).then(|| b.bind(like_escape(&search)));
    match (via, pattern) {
        (Via::Filter | Via::Candidates, Some(_))
            if backend == Backend::Sqlite
                && index == SearchIndex::Trigram
                && !is_short(&search) =>
        {
            // `+` keeps SQLite from walking an org_id index instead of the candidates' rowids.
            b.push("u.rowid IN (SELECT rowid FROM users_search WHERE users_search MATCH ")
                .push_bind(fts_phrase(&term))
                .push(") AND +u.org_id = ")
                .push_bind(org_id);
        }
        (Via::Filter, Some(p)) if text => {
            b.push("u.org_id = ")
                .push_bind(org_id)
                .push(&format!(" AND {} LIKE {p} ESCAPE '\\'", search_text("u")));
        }
        (Via::Candidates, Some(p)) if text => {
            b.push("u.rowid IN (SELECT s.rowid FROM users s INDEXED BY users_org_search_text WHERE s.org_id = ")
                .push_bind(org_id)
                .push(&format!(
                    " AND {} LIKE {p} ESCAPE '\\') AND +u.org_id = ",
                    search_text("s")
                ))
                .push_bind(org_id);
        }
        _ => {
            b.push("u.org_id = ").push_bind(org_id);
        }
    }
    match q.status {
        Some(UserStatus::Active) => {
            b.push(" AND u.deleted_at IS NULL AND u.active = 1");
        }
        Some(UserStatus::Deactivated) => {
            b.push(" AND u.deleted_at IS NULL AND u.active = 0");
        }
        Some(UserStatus::Deleted) => {
            b.push(" AND u.deleted_at IS NOT NULL");
        }
        None => {}
    }
    if let Some(source) = q.source {
        b.push(" AND u.source = ").push_bind(source.as_str());
    }
    // SCIM Groups (issue 13): the members of one of this org's groups.
    let group = searched(&q.group);
    if !group.is_empty() {
        b.push(" AND u.id IN (SELECT gm.user_id FROM group_members gm WHERE gm.org_id = ")
            .push_bind(org_id)
            .push(" AND gm.group_id = ")
            .push_bind(group)
            .push(")");
    }
    if let Some(p) = pattern {
        b.push(&format!(
            " AND (lower(u.user_name) LIKE {p} ESCAPE '\\' OR lower(COALESCE(u.email, '')) LIKE {p} ESCAPE '\\' \
             OR lower(COALESCE(u.given_name, '') || ' ' || COALESCE(u.family_name, '')) LIKE {p} ESCAPE '\\' \
             OR lower(COALESCE(u.display_name, '')) LIKE {p} ESCAPE '\\')"
        ));
    }
}

fn user_row(r: &sqlx::any::AnyRow) -> Result<UserRow, sqlx::Error> {
    let given: Option<String> = r.try_get("given_name")?;
    let family: Option<String> = r.try_get("family_name")?;
    let display: Option<String> = r.try_get("display_name")?;
    let name = match (given, family) {
        (Some(g), Some(f)) => format!("{g} {f}"),
        (Some(g), None) => g,
        (None, Some(f)) => f,
        (None, None) => display.unwrap_or_default(),
    };
    let deleted_at: Option<i64> = r.try_get("deleted_at")?;
    let source: String = r.try_get("source")?;
    Ok(UserRow {
        id: r.try_get("id")?,
        name,
        user_name: r.try_get("user_name")?,
        email: r.try_get("email")?,
        department: r.try_get("department")?,
        country: r.try_get("country")?,
        locality: r.try_get("locality")?,
        status: status_of(r.try_get::<i64, _>("active")? != 0, deleted_at.is_some()).into(),
        source: source_label(&source).into(),
        last_sign_in_at: r.try_get("last_sign_in_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted_at,
    })
}

const ROW_COLUMNS: &str = "u.id, u.user_name, u.email, u.given_name, u.family_name, u.display_name, u.department, \
     u.country, u.locality, u.active, u.source, u.last_sign_in_at, u.updated_at, u.deleted_at, u.created_at";

/// One chunk of the CSV export: the filtered users in (created_at, id) order after `after`.
/// Keyset pagination, so exporting 100,000 users costs 100 index range scans, not a growing OFFSET.
pub async fn export_chunk(
    svc: &Services,
    org_id: &str,
    q: &UsersQuery,
    after: Option<(i64, String)>,
    limit: i64,
) -> CoreResult<(Vec<UserRow>, Option<(i64, String)>)> {
    let mut b = SqlBuilder::new(&format!("SELECT {ROW_COLUMNS} FROM users u WHERE "));
    // The organisation's own entries, tested as the export walks its users in creation order:
    // the whole export reads the organisation once, and never the index all organisations share.
    push_users_where(
        &mut b,
        svc.db.backend,
        org_id,
        q,
        Via::Filter,
        SearchIndex::Text,
    );
    if let Some((at, id)) = after {
        let at = b.bind(at);
        b.push(&format!(
            " AND (u.created_at > {at} OR (u.created_at = {at} AND u.id > "
        ))
        .push_bind(id)
        .push("))");
    }
    b.push(" ORDER BY u.created_at, u.id LIMIT ")
        .push_bind(limit);
    let rows = b.query().fetch_all(&svc.db.pool).await?;
    let last = match rows.last() {
        Some(r) => Some((
            r.try_get::<i64, _>("created_at")?,
            r.try_get::<String, _>("id")?,
        )),
        None => None,
    };
    let out = rows
        .iter()
        .map(user_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((out, last))
}

/// The Users table's count of the users `q` selects, up to `cap` + 1 when `q` searches (also what
/// the query-plan tests explain).
pub fn users_count_statement(
    backend: Backend,
    org_id: &str,
    q: &UsersQuery,
    cap: i64,
    index: SearchIndex,
) -> SqlBuilder {
    if searched(&q.search).is_empty() {
        let mut count = SqlBuilder::new("SELECT COUNT(*) FROM users u WHERE ");
        push_users_where(&mut count, backend, org_id, q, Via::Filter, index);
        return count;
    }
    // The search-text index tested entry by entry.
    let from = if reads_search_text(backend, q, index) {
        "users u INDEXED BY users_org_search_text"
    } else {
        "users u"
    };
    let mut count = SqlBuilder::new(&format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE "
    ));
    push_users_where(&mut count, backend, org_id, q, Via::Filter, index);
    count
        .push(" LIMIT ")
        .push_bind(cap + 1)
        .push(") AS matches");
    count
}

/// One page of the Users table (`page` of those `total` users; `more`: a search matched more than
/// its count's cap). Also what the query-plan tests explain.
pub fn users_page_statement(
    backend: Backend,
    org_id: &str,
    q: &UsersQuery,
    page: i64,
    total: i64,
    more: bool,
    index: SearchIndex,
) -> SqlBuilder {
    let dir = if q.desc { "DESC" } else { "ASC" };
    let order = match q.sort {
        UserSort::Name => format!("lower(COALESCE(u.family_name, u.user_name)) {dir}, lower(COALESCE(u.given_name, '')) {dir}, u.id {dir}"),
        UserSort::Updated => format!("u.updated_at {dir}, u.id {dir}"),
        UserSort::Created => format!("u.created_at {dir}, u.id {dir}"),
        // userName is unique per org (case-insensitively), so it orders alone and the
        // (org_id, lower(user_name)) index serves the sort.
        UserSort::UserName => format!("lower(u.user_name) {dir}"),
    };
    let mut b = SqlBuilder::new(&format!(
        "SELECT {ROW_COLUMNS} FROM users u WHERE u.id IN (SELECT u.id FROM users u WHERE "
    ));
    let page = page.max(1);
    let via = if more { Via::Walk } else { Via::Candidates };
    push_users_where(&mut b, backend, org_id, q, via, index);
    // The last page of a capped search ends at the cap.
    let limit = if more {
        PAGE_SIZE.min(total - (page - 1) * PAGE_SIZE).max(0)
    } else {
        PAGE_SIZE
    };
    b.push(&format!(" ORDER BY {order} LIMIT "))
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind((page - 1) * PAGE_SIZE)
        .push(&format!(") ORDER BY {order}"));
    b
}

/// The Users table: one page, with the filters in `q`. A count and a page (and, for a search on
/// SQLite, the organisation's size), no N+1.
pub async fn list_users(svc: &Services, org_id: &str, q: &UsersQuery) -> CoreResult<UsersPage> {
    let index = search_index(svc, org_id, q).await?;
    list_users_with(svc, org_id, q, SEARCH_COUNT_CAP, index).await
}

/// [`list_users`] with a search's count capped at `cap` and the index it reads first chosen by the
/// caller (tests try each).
pub async fn list_users_with(
    svc: &Services,
    org_id: &str,
    q: &UsersQuery,
    cap: i64,
    index: SearchIndex,
) -> CoreResult<UsersPage> {
    let count = users_count_statement(svc.db.backend, org_id, q, cap, index);
    let (counted,) = count.query_as::<(i64,)>().fetch_one(&svc.db.pool).await?;
    let more = !searched(&q.search).is_empty() && counted > cap;
    let total = if more { cap } else { counted };
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = q.page.clamp(1, pages);
    // Nothing matched: no second look (for a short term, a second walk of its index).
    let rows = if total == 0 {
        Vec::new()
    } else {
        let b = users_page_statement(svc.db.backend, org_id, q, page, total, more, index);
        b.query().fetch_all(&svc.db.pool).await?
    };
    let rows = rows
        .iter()
        .map(user_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let (deleted_count, next_purge_at) = crate::manage::purge_outlook(svc, org_id).await?;
    let scim_active = crate::scim_tokens::is_on(svc, org_id).await?;
    Ok(UsersPage {
        rows,
        total,
        page,
        pages,
        more,
        deleted_count,
        next_purge_at,
        scim_active,
    })
}

/// What an IdP admin should change, in plain words, for a failed provisioning event.
pub fn fix_for(scim_type: Option<&str>, message: &str) -> Option<String> {
    let m = message.to_lowercase();
    let s = match scim_type {
        Some("invalidValue") if m.contains("work email") => {
            "userName and the work email come from different attributes: map both from Company Email in JumpCloud (in Okta and Entra ID, map userName and emails[type eq \"work\"].value from the same source)."
        }
        Some("invalidValue") => "A value the IdP sent has the wrong type or format; correct the attribute mapping named in the error.",
        Some("uniqueness") => "A user with this userName already exists here. Check for duplicate accounts in your IdP, or match the existing user by userName instead of creating it.",
        Some("invalidFilter") => "The IdP sent a search this service cannot read. Check the attribute names in the IdP's matching settings (userName, externalId or emails.value).",
        Some("mutability") => "The IdP tried to change a read-only attribute (id or meta). Remove that attribute from the IdP's mapping.",
        Some("invalidPath") | Some("noTarget") => "The IdP's update named an attribute path this service does not have. Check the attribute mapping for unsupported attributes.",
        Some("invalidSyntax") => "The IdP sent a request that is not valid SCIM JSON. Check for custom attribute templates with syntax errors.",
        Some("tooMany") => "The IdP asked for too many results at once; lower its page size.",
        _ if m.contains("not found") => "The IdP updated a user that no longer exists here (deleted or purged). Let the IdP re-create it, or re-assign the user to the application.",
        _ if m.contains("changed since") => "Two updates crossed: the IdP will retry with the current version on its next cycle.",
        _ => return None,
    };
    Some(s.to_string())
}

/// A user's timeline and the other fixed lists: the Activity screen's query with these filters.
pub async fn list_events(svc: &Services, org_id: &str, q: &EventsQuery) -> CoreResult<EventsPage> {
    let non_empty = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.chars().take(64).collect::<String>())
    };
    let query = crate::audit::ActivityQuery {
        filter: crate::audit::ActivityFilter {
            result: q.result,
            name: non_empty(&q.name),
            user: non_empty(&q.user_id),
            ..Default::default()
        },
        page: q.page,
    };
    crate::audit::list(svc, org_id, &query).await
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "schemas" {
                    continue;
                }
                let key = if k.starts_with("urn:") {
                    "enterprise".to_string()
                } else {
                    k.clone()
                };
                let p = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&p, x, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// A user of this org (deleted ones included) with its timeline; None for another org's id.
pub async fn user_detail(
    svc: &Services,
    org_id: &str,
    user_id: &str,
) -> CoreResult<Option<UserDetail>> {
    let mut conn = svc.db.pool.acquire().await?;
    let Some(u): Option<StoredUser> = users::get(&mut conn, org_id, user_id, true).await? else {
        return Ok(None);
    };
    drop(conn);
    let org = crate::admins::org_by_id(&svc.db, org_id).await?;
    let retention_ms = org.map(|o| o.retention_days).unwrap_or(30) * 86_400_000;
    let base = format!("{}/scim/v2/{org_id}", svc.settings.public_url);
    let json = crate::provisioning::to_json(&u, &base);
    let mut attributes = Vec::new();
    flatten("", &u.attributes, &mut attributes);
    let timeline = list_events(
        svc,
        org_id,
        &EventsQuery {
            user_id: u.id.clone(),
            page: 1,
            ..Default::default()
        },
    )
    .await?
    .rows;
    let c = crate::users::columns(&u.attributes);
    let edit = UserEdit {
        email: c.email.clone().unwrap_or_else(|| u.user_name.clone()),
        given_name: c.given_name.clone().unwrap_or_default(),
        family_name: c.family_name.clone().unwrap_or_default(),
        department: c.department.clone().unwrap_or_default(),
        country: c.country.clone().unwrap_or_default(),
        locality: c.locality.clone().unwrap_or_default(),
    };
    let scim_managed = crate::manage::scim_managed(svc, org_id, &u.source).await?;
    Ok(Some(UserDetail {
        version: u.version,
        scim_managed,
        edit,
        id: u.id.clone(),
        user_name: u.user_name.clone(),
        status: status_of(u.active, u.deleted_at.is_some()).into(),
        source: source_label(&u.source).into(),
        created_at: u.created_at,
        updated_at: u.updated_at,
        deleted_at: u.deleted_at,
        purge_at: u.deleted_at.map(|d| d + retention_ms),
        last_sign_in_at: u.last_sign_in_at,
        scim_json: serde_json::to_string_pretty(&json).unwrap_or_default(),
        attributes,
        timeline,
    }))
}

/// 2 × the IdP's 40-minute provisioning cycle.
pub const SILENCE_WARNING_MS: i64 = 80 * 60 * 1000;

pub async fn provisioning_status(svc: &Services, org_id: &str) -> CoreResult<ProvisioningStatus> {
    let token = crate::scim_tokens::status(svc, org_id).await?;
    let (rejected_count, last_rejected_at) =
        crate::scim_tokens::rejected_summary(svc, org_id).await?;
    let rotation = crate::scim_tokens::rotation(svc, org_id).await?;
    let last_retired = crate::scim_tokens::last_retired(svc, org_id).await?;
    let now = svc.now();
    // Only successful requests count: an IdP whose every request now fails (a 401 is not even
    // authenticated; a 4xx or 5xx is) is as broken as one that stopped calling.
    let stale_since = token.as_ref().and_then(|t| {
        // Only successful requests count, with either token during a rotation.
        let next_ok = rotation.as_ref().and_then(|r| r.next.last_success_at);
        let last = t.last_success_at.max(next_ok).unwrap_or(t.created_at);
        (now - last > SILENCE_WARNING_MS).then_some(last)
    });
    Ok(ProvisioningStatus {
        token,
        rejected_count,
        last_rejected_at,
        stale_since,
        rotation,
        last_retired,
    })
}
