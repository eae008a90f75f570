//! The user store behind SCIM and the admin screens.
//!
//! A user is kept as its canonical SCIM JSON (`attributes`) plus the columns filters, sorting and
//! the Users screen read, and one row per email and address for the lookups IdPs make. Every write
//! goes through one transaction that rewrites all of them together.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::error::{CoreError, CoreResult};
use crate::sql::{Script, SqlBuilder, SqlValue};

pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    pub id: String,
    pub org_id: String,
    pub user_name: String,
    pub active: bool,
    pub source: String,
    /// Canonical SCIM attributes (no id, meta or password).
    pub attributes: Value,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub last_sign_in_at: Option<i64>,
}

/// What a SCIM answer shows of a user, with its attributes as stored (text, not parsed): list
/// pages and gets render it without a `Value` tree (`crate::user_json`).
#[derive(Debug, Clone, PartialEq)]
pub struct RawUser {
    pub id: String,
    pub active: bool,
    /// The canonical SCIM attributes as stored (no id, meta or password).
    pub attributes: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RawUser {
    /// Reads a row of [`SELECT_COLUMNS`].
    pub fn from_row(r: &AnyRow) -> CoreResult<RawUser> {
        Ok(RawUser {
            id: r.try_get("id")?,
            active: r.try_get::<i64, _>("active")? != 0,
            attributes: r.try_get("attributes")?,
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// A page of users read as one value (issue 11): `string_agg` of each user's fields, fields
/// separated by U+001F and users by U+001E, in `order`. The SQLite driver hands rows over one by
/// one between its thread and the request's task; one value instead of a hundred rows saves those
/// hand-overs. Neither separator can occur in a field: ids, numbers, and JSON text as `serde_json`
/// writes it (control characters escaped). Read with [`RawUser::from_page_text`].
pub fn raw_page_select(backend: crate::Backend, order: &str) -> String {
    let (field, record) = match backend {
        crate::Backend::Postgres => ("chr(31)", "chr(30)"),
        crate::Backend::Sqlite => ("char(31)", "char(30)"),
    };
    format!(
        "SELECT string_agg(CAST(u.id AS TEXT) || {field} || CAST(u.active AS TEXT) || {field} || \
         CAST(u.version AS TEXT) || {field} || CAST(u.created_at AS TEXT) || {field} || \
         CAST(u.updated_at AS TEXT) || {field} || u.attributes, {record} ORDER BY {order}) AS page \
         FROM users u"
    )
}

impl RawUser {
    /// The users of a [`raw_page_select`] value, in its order.
    pub fn from_page_text(text: &str) -> CoreResult<Vec<RawUser>> {
        let bad = || CoreError::Internal("a page of users that does not split".into());
        let int =
            |f: Option<&str>| -> CoreResult<i64> { f.and_then(|f| f.parse().ok()).ok_or_else(bad) };
        text.split('\u{1e}')
            .map(|record| {
                let mut f = record.splitn(6, '\u{1f}');
                Ok(RawUser {
                    id: f.next().ok_or_else(bad)?.to_string(),
                    active: int(f.next())? != 0,
                    version: int(f.next())?,
                    created_at: int(f.next())?,
                    updated_at: int(f.next())?,
                    attributes: f.next().ok_or_else(bad)?.to_string(),
                })
            })
            .collect()
    }
}

/// Where a user came from, shown on the Users screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Scim,
    SsoJit,
    Admin,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Scim => "scim",
            Source::SsoJit => "sso_jit",
            Source::Admin => "admin",
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Columns {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub display_name: Option<String>,
    pub nick_name: Option<String>,
    pub title: Option<String>,
    pub user_type: Option<String>,
    pub preferred_language: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub profile_url: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted_name: Option<String>,
    pub middle_name: Option<String>,
    pub department: Option<String>,
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
    pub locality: Option<String>,
    pub emails: Vec<EmailRow>,
    pub addresses: Vec<AddressRow>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct EmailRow {
    pub value: String,
    pub type_: Option<String>,
    pub primary: bool,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct AddressRow {
    pub type_: Option<String>,
    pub country: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub street_address: Option<String>,
    pub formatted: Option<String>,
    pub primary: bool,
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::to_string)
        .filter(|x| !x.is_empty())
}

/// The element a "work" lookup means: type work, else the primary one, else the first.
fn pick_work(items: &[Value]) -> Option<&Value> {
    items
        .iter()
        .find(|e| {
            e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("work"))
        })
        .or_else(|| {
            items
                .iter()
                .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        })
        .or_else(|| items.first())
}

/// Reads the stored columns out of a canonical SCIM resource.
pub fn columns(r: &Value) -> Columns {
    let name = r.get("name");
    let ent = r.get(ENTERPRISE_URN);
    let emails_json = r
        .get("emails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let addresses_json = r
        .get("addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let emails: Vec<EmailRow> = emails_json
        .iter()
        .filter_map(|e| {
            Some(EmailRow {
                value: s(e.get("value"))?,
                type_: s(e.get("type")),
                primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect();
    let addresses: Vec<AddressRow> = addresses_json
        .iter()
        .map(|a| AddressRow {
            type_: s(a.get("type")),
            country: s(a.get("country")),
            locality: s(a.get("locality")),
            region: s(a.get("region")),
            postal_code: s(a.get("postalCode")),
            street_address: s(a.get("streetAddress")),
            formatted: s(a.get("formatted")),
            primary: a.get("primary").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect();
    let work_email = pick_work(&emails_json).and_then(|e| s(e.get("value")));
    let work_address = pick_work(&addresses_json);
    Columns {
        user_name: s(r.get("userName")).unwrap_or_default(),
        external_id: s(r.get("externalId")),
        active: r.get("active").and_then(Value::as_bool).unwrap_or(true),
        display_name: s(r.get("displayName")),
        nick_name: s(r.get("nickName")),
        title: s(r.get("title")),
        user_type: s(r.get("userType")),
        preferred_language: s(r.get("preferredLanguage")),
        locale: s(r.get("locale")),
        timezone: s(r.get("timezone")),
        profile_url: s(r.get("profileUrl")),
        given_name: s(name.and_then(|n| n.get("givenName"))),
        family_name: s(name.and_then(|n| n.get("familyName"))),
        formatted_name: s(name.and_then(|n| n.get("formatted"))),
        middle_name: s(name.and_then(|n| n.get("middleName"))),
        department: s(ent.and_then(|e| e.get("department"))),
        employee_number: s(ent.and_then(|e| e.get("employeeNumber"))),
        cost_center: s(ent.and_then(|e| e.get("costCenter"))),
        organization: s(ent.and_then(|e| e.get("organization"))),
        division: s(ent.and_then(|e| e.get("division"))),
        email: work_email,
        country: work_address.and_then(|a| s(a.get("country"))),
        locality: work_address.and_then(|a| s(a.get("locality"))),
        emails,
        addresses,
    }
}

pub const SELECT_COLUMNS: &str = "u.id, u.org_id, u.user_name, u.active, u.source, u.attributes, \
     u.version, u.created_at, u.updated_at, u.deleted_at, u.last_sign_in_at";

pub fn from_row(r: &AnyRow) -> CoreResult<StoredUser> {
    let attributes: String = r.try_get("attributes")?;
    Ok(StoredUser {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        user_name: r.try_get("user_name")?,
        active: r.try_get::<i64, _>("active")? != 0,
        source: r.try_get("source")?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| CoreError::Internal(format!("stored user JSON: {e}")))?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted_at: r.try_get("deleted_at")?,
        last_sign_in_at: r.try_get("last_sign_in_at")?,
    })
}

/// A user by id within an org; `include_deleted` for the admin screens.
pub async fn get(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    id: &str,
    include_deleted: bool,
) -> CoreResult<Option<StoredUser>> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM users u WHERE u.org_id = $1 AND u.id = $2{}",
        if include_deleted {
            ""
        } else {
            " AND u.deleted_at IS NULL"
        }
    );
    let row = sqlx::query(&sql)
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Takes the row lock of a user for the rest of the transaction before it is read for a
/// read-modify-write. On PostgreSQL two writers of one user then run one after the other (the
/// second reads the first's result) instead of the second failing its version check; SQLite
/// already runs one write transaction at a time.
pub async fn lock_for_update(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    org_id: &str,
    id: &str,
) -> CoreResult<()> {
    if backend == crate::Backend::Postgres {
        sqlx::query("SELECT id FROM users WHERE org_id = $1 AND id = $2 FOR UPDATE")
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Finds a user by userName (case-insensitive), deleted or not.
pub async fn find_by_user_name(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_name: &str,
) -> CoreResult<Option<StoredUser>> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM users u WHERE u.org_id = $1 AND lower(u.user_name) = lower($2)"
    );
    let row = sqlx::query(&sql)
        .bind(org_id)
        .bind(user_name)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The work-email lookup's condition (org, address), served by the `users_org_email_ci` index
/// (checked by the query-plan test).
pub const BY_WORK_EMAIL: &str = "u.org_id = $1 AND lower(u.email) = lower($2)";

/// Users (deleted or not) whose work email is `email` (case-insensitive), at most `limit`: SSO
/// finds a user by it when no userName matches (the userName = work-email rule off).
pub async fn find_by_work_email(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    email: &str,
    limit: i64,
) -> CoreResult<Vec<StoredUser>> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM users u WHERE {BY_WORK_EMAIL} ORDER BY u.created_at, u.id \
         LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(email)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(from_row).collect()
}

/// What a SCIM create must know before it writes, in one query: the user holding `user_name`
/// (case-insensitive, deleted or not) and, when `external_id` is given, the most recently
/// deleted user with that externalId (re-provisioning brings it back).
pub async fn find_for_create(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_name: &str,
    external_id: Option<&str>,
) -> CoreResult<(Option<StoredUser>, Option<StoredUser>)> {
    let sql = format!(
        "SELECT 0 AS k, {SELECT_COLUMNS} FROM users u WHERE u.org_id = $1 \
         AND lower(u.user_name) = lower($2) \
         UNION ALL SELECT * FROM (SELECT 1 AS k, {SELECT_COLUMNS} FROM users u \
         WHERE u.org_id = $1 AND u.external_id = $3 AND u.deleted_at IS NOT NULL \
         ORDER BY u.deleted_at DESC LIMIT 1) d"
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(user_name)
        .bind(external_id)
        .fetch_all(&mut *conn)
        .await?;
    let (mut by_name, mut by_external_id) = (None, None);
    for r in &rows {
        let user = Some(from_row(r)?);
        if r.try_get::<i64, _>("k")? == 0 {
            by_name = user;
        } else {
            by_external_id = user;
        }
    }
    Ok((by_name, by_external_id))
}

/// A soft-deleted user with this externalId (re-provisioning brings it back).
pub async fn find_deleted_by_external_id(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    external_id: &str,
) -> CoreResult<Option<StoredUser>> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM users u WHERE u.org_id = $1 AND u.external_id = $2 \
         AND u.deleted_at IS NOT NULL ORDER BY u.deleted_at DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(org_id)
        .bind(external_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) fn map_unique(e: sqlx::Error, user_name: &str) -> CoreError {
    if CoreError::is_unique_violation(&e) {
        CoreError::Conflict(format!(
            "A user with userName {user_name:?} already exists in this organisation."
        ))
    } else {
        e.into()
    }
}

/// The searchable/displayed columns and their values: one list, so a name cannot drift from the
/// value bound for it.
fn column_values(c: &Columns) -> [(&'static str, SqlValue); 23] {
    [
        ("user_name", (&c.user_name).into()),
        ("external_id", (&c.external_id).into()),
        ("active", c.active.into()),
        ("display_name", (&c.display_name).into()),
        ("nick_name", (&c.nick_name).into()),
        ("title", (&c.title).into()),
        ("user_type", (&c.user_type).into()),
        ("preferred_language", (&c.preferred_language).into()),
        ("locale", (&c.locale).into()),
        ("timezone", (&c.timezone).into()),
        ("profile_url", (&c.profile_url).into()),
        ("given_name", (&c.given_name).into()),
        ("family_name", (&c.family_name).into()),
        ("formatted_name", (&c.formatted_name).into()),
        ("middle_name", (&c.middle_name).into()),
        ("department", (&c.department).into()),
        ("employee_number", (&c.employee_number).into()),
        ("cost_center", (&c.cost_center).into()),
        ("organization", (&c.organization).into()),
        ("division", (&c.division).into()),
        ("email", (&c.email).into()),
        ("country", (&c.country).into()),
        ("locality", (&c.locality).into()),
    ]
}

/// Appends the statements that insert a new user row with its children to `script`.
pub fn push_insert(
    script: &mut Script,
    org_id: &str,
    id: &str,
    attributes: &Value,
    source: Source,
    now: i64,
) {
    push_insert_with(script, org_id, id, attributes, source, now, false);
}

/// [`push_insert`] of a new SCIM user, for a write that has read nothing first: the user row is
/// inserted only when no soft-deleted user of the org has the `externalId` it carries (that user
/// would be brought back instead), and a userName any user of the org has (live or soft-deleted)
/// fails the insert on the unique index. So the first statement changes one row exactly when
/// a plain insert is the right outcome; otherwise the caller undoes the script and decides after
/// reading (`provisioning::create`).
pub fn push_insert_new_scim_user(
    script: &mut Script,
    org_id: &str,
    id: &str,
    attributes: &Value,
    now: i64,
) {
    push_insert_with(script, org_id, id, attributes, Source::Scim, now, true);
}

/// `guarded`: [`push_insert_new_scim_user`]'s form (`INSERT … SELECT`, with its externalId check
/// when the user carries one).
fn push_insert_with(
    script: &mut Script,
    org_id: &str,
    id: &str,
    attributes: &Value,
    source: Source,
    now: i64,
    guarded: bool,
) {
    let c = columns(attributes);
    let cols = column_values(&c);
    let names: Vec<&str> = cols.iter().map(|(name, _)| *name).collect();
    let mut b = SqlBuilder::new("INSERT INTO users (");
    b.push(&names.join(", "))
        .push(", attributes, version, created_at, updated_at, id, org_id, source) ")
        .push(if guarded { "SELECT " } else { "VALUES (" })
        .push_binds(cols.into_iter().map(|(_, v)| v), ", ")
        .push(", ")
        .push_bind(attributes.to_string())
        .push(", 1, ");
    let now = b.bind(now);
    b.push(&format!("{now}, {now}, ")).push_bind(id).push(", ");
    let org = b.bind(org_id);
    b.push(&format!("{org}, ")).push_bind(source.as_str());
    if !guarded {
        b.push(")");
    } else if let Some(external_id) = attributes.get("externalId").and_then(Value::as_str) {
        b.push(&format!(
            " WHERE NOT EXISTS (SELECT 1 FROM users WHERE org_id = {org} AND external_id = "
        ))
        .push_bind(external_id)
        .push(" AND deleted_at IS NOT NULL)");
    }
    script.push(b);
    push_children(script, org_id, id, &c);
}

/// Runs a script of user writes; a violated unique index is the userName's 409.
pub async fn run_script(
    conn: &mut sqlx::AnyConnection,
    script: &Script,
    user_name: &str,
) -> CoreResult<Vec<u64>> {
    script.run(conn).await.map_err(|e| map_unique(e, user_name))
}

/// Inserts a new user row with its children.
pub async fn insert(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    id: &str,
    attributes: &Value,
    source: Source,
    now: i64,
) -> CoreResult<()> {
    let mut script = Script::new();
    push_insert(&mut script, org_id, id, attributes, source, now);
    let user_name = attributes["userName"].as_str().unwrap_or_default();
    run_script(tx, &script, user_name).await.map(|_| ())
}

/// Appends the statements that rewrite a user's attributes (and revive it when `revive`),
/// bumping the version. The first statement's count is 0 when no row matched (gone, or
/// `expected_version` is stale): the statements after it have run all the same, so the caller
/// must then roll its transaction back (every caller returns an error, which drops it).
pub fn push_update(
    script: &mut Script,
    org_id: &str,
    id: &str,
    attributes: &Value,
    expected_version: Option<i64>,
    revive: bool,
    now: i64,
) {
    let c = columns(attributes);
    let mut b = SqlBuilder::new("UPDATE users SET ");
    for (i, (name, value)) in column_values(&c).into_iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.push(name).push(" = ").push_bind(value);
    }
    b.push(", attributes = ")
        .push_bind(attributes.to_string())
        .push(", version = version + 1, updated_at = ")
        .push_bind(now);
    if revive {
        b.push(", deleted_at = NULL");
    }
    b.push(" WHERE org_id = ")
        .push_bind(org_id)
        .push(" AND id = ")
        .push_bind(id);
    if revive {
        // Only a user still deleted: of two racing revivals (PostgreSQL) the second changes
        // nothing and is refused, instead of answering with a version it did not write.
        b.push(" AND deleted_at IS NOT NULL");
    } else {
        b.push(" AND deleted_at IS NULL");
    }
    let expected = b.bind(expected_version.unwrap_or(-1));
    b.push(&format!(" AND ({expected} < 0 OR version = {expected})"));
    script.push(b);
    if !c.active {
        // A deactivated user's outstanding sign-in links die with the deactivation.
        let mut d = SqlBuilder::new("DELETE FROM magic_links WHERE user_id = ");
        d.push_bind(id);
        script.push(d);
    }
    for table in ["user_emails", "user_addresses"] {
        let mut d = SqlBuilder::new(&format!("DELETE FROM {table} WHERE user_id = "));
        d.push_bind(id);
        script.push(d);
    }
    push_children(script, org_id, id, &c);
}

/// Rewrites a user's attributes (and revives it when `revive`), bumping the version.
/// Returns false when no row matched (gone, or `expected_version` is stale); the caller must
/// then roll back (see [`push_update`]).
pub async fn update(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    id: &str,
    attributes: &Value,
    expected_version: Option<i64>,
    revive: bool,
    now: i64,
) -> CoreResult<bool> {
    let mut script = Script::new();
    push_update(
        &mut script,
        org_id,
        id,
        attributes,
        expected_version,
        revive,
        now,
    );
    let user_name = attributes["userName"].as_str().unwrap_or_default();
    let affected = run_script(tx, &script, user_name).await?;
    Ok(affected.first() == Some(&1))
}

/// One multi-row INSERT per child table (a user has a handful of emails and addresses).
fn push_children(script: &mut Script, org_id: &str, id: &str, c: &Columns) {
    if !c.emails.is_empty() {
        let mut b = SqlBuilder::new(
            "INSERT INTO user_emails (user_id, org_id, position, value, type, primary_flag) VALUES ",
        );
        for (i, e) in c.emails.iter().enumerate() {
            b.push(if i == 0 { "(" } else { ", (" });
            b.push_binds(
                [
                    SqlValue::from(id),
                    org_id.into(),
                    (i as i64).into(),
                    (&e.value).into(),
                    (&e.type_).into(),
                    e.primary.into(),
                ],
                ", ",
            )
            .push(")");
        }
        script.push(b);
    }
    if !c.addresses.is_empty() {
        let mut b = SqlBuilder::new(
            "INSERT INTO user_addresses (user_id, org_id, position, type, country, locality, region, \
             postal_code, street_address, formatted, primary_flag) VALUES ",
        );
        for (i, a) in c.addresses.iter().enumerate() {
            b.push(if i == 0 { "(" } else { ", (" });
            b.push_binds(
                [
                    SqlValue::from(id),
                    org_id.into(),
                    (i as i64).into(),
                    (&a.type_).into(),
                    (&a.country).into(),
                    (&a.locality).into(),
                    (&a.region).into(),
                    (&a.postal_code).into(),
                    (&a.street_address).into(),
                    (&a.formatted).into(),
                    a.primary.into(),
                ],
                ", ",
            )
            .push(")");
        }
        script.push(b);
    }
}

/// Appends the statements of a soft delete: the row stays (restorable, with its history) but
/// SCIM no longer sees it. The first statement's count is 0 when no row matched; the caller must
/// then roll back (as for [`push_update`]).
pub fn push_soft_delete(
    script: &mut Script,
    org_id: &str,
    id: &str,
    expected_version: Option<i64>,
    now: i64,
) {
    let mut b = SqlBuilder::new("UPDATE users SET deleted_at = ");
    let now = b.bind(now);
    b.push(&format!(
        "{now}, updated_at = {now}, version = version + 1 WHERE org_id = "
    ))
    .push_bind(org_id)
    .push(" AND id = ")
    .push_bind(id)
    .push(" AND deleted_at IS NULL");
    let expected = b.bind(expected_version.unwrap_or(-1));
    b.push(&format!(" AND ({expected} < 0 OR version = {expected})"));
    script.push(b);
    let mut d = SqlBuilder::new("DELETE FROM magic_links WHERE user_id = ");
    d.push_bind(id);
    script.push(d);
    // A deleted user leaves its groups (issue 13, SCIM Groups); re-provisioning it does not
    // bring the memberships back: the IdP pushes them again.
    let mut d = SqlBuilder::new("DELETE FROM group_members WHERE user_id = ");
    d.push_bind(id);
    script.push(d);
}

/// Soft delete (see [`push_soft_delete`]); false when no row matched, and the caller must then
/// roll back.
pub async fn soft_delete(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    id: &str,
    expected_version: Option<i64>,
    now: i64,
) -> CoreResult<bool> {
    let mut script = Script::new();
    push_soft_delete(&mut script, org_id, id, expected_version, now);
    let affected = script.run(tx).await?;
    Ok(affected.first() == Some(&1))
}

/// Where each SCIM filter attribute is stored, for `scim_filter::to_sql_in_org`: the storage owns
/// its column names, the filter crate owns the grammar and the attribute model.
pub static SCIM_FILTER_COLUMNS: scim_filter::ColumnMap = {
    use scim_filter::{Col, MultiTable};
    scim_filter::ColumnMap {
        user: &[
            ("id", Col::exact("u.id", false)),
            ("username", Col::ci("u.user_name", false)),
            ("externalid", Col::exact("u.external_id", true)),
            ("active", Col::boolean("u.active")),
            ("displayname", Col::ci("u.display_name", true)),
            ("nickname", Col::ci("u.nick_name", true)),
            ("title", Col::ci("u.title", true)),
            ("usertype", Col::ci("u.user_type", true)),
            ("preferredlanguage", Col::ci("u.preferred_language", true)),
            ("locale", Col::ci("u.locale", true)),
            ("timezone", Col::ci("u.timezone", true)),
            ("profileurl", Col::ci("u.profile_url", true)),
            ("name", Col::ci("u.formatted_name", true)),
        ],
        name: &[
            ("givenname", Col::ci("u.given_name", true)),
            ("familyname", Col::ci("u.family_name", true)),
            ("formatted", Col::ci("u.formatted_name", true)),
            ("middlename", Col::ci("u.middle_name", true)),
        ],
        meta: &[
            ("created", Col::datetime("u.created_at")),
            ("lastmodified", Col::datetime("u.updated_at")),
        ],
        enterprise: &[
            ("department", Col::ci("u.department", true)),
            ("employeenumber", Col::ci("u.employee_number", true)),
            ("costcenter", Col::ci("u.cost_center", true)),
            ("organization", Col::ci("u.organization", true)),
            ("division", Col::ci("u.division", true)),
        ],
        emails: MultiTable {
            table: "user_emails",
            alias: "e",
            columns: &[
                ("value", Col::ci("e.value", false)),
                ("type", Col::ci("e.type", true)),
                ("primary", Col::boolean("e.primary_flag")),
            ],
        },
        addresses: MultiTable {
            table: "user_addresses",
            alias: "a",
            columns: &[
                ("type", Col::ci("a.type", true)),
                ("country", Col::ci("a.country", true)),
                ("locality", Col::ci("a.locality", true)),
                ("region", Col::ci("a.region", true)),
                ("postalcode", Col::ci("a.postal_code", true)),
                ("streetaddress", Col::ci("a.street_address", true)),
                ("formatted", Col::ci("a.formatted", true)),
                ("primary", Col::boolean("a.primary_flag")),
            ],
        },
    }
};
