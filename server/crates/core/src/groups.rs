//! SCIM Groups (RFC 7643 §4.2, issue 13): storage, the SCIM operations on them and the admin
//! screen's read models.
//!
//! A group is one `groups` row; its members are one `group_members` row each, so adding or
//! removing one member of a 10,000-member group inserts or deletes one row and never rewrites the
//! list. Members are live users of the group's own organisation: any other id (another org's
//! user, a deleted user, a made-up id) is refused with `invalidValue`, never linked.

use std::collections::{HashMap, HashSet};

use scim_core::{ScimError, ScimType};
use serde_json::{json, Map, Value};
use sqlx::{Any, Row, Transaction};

use crate::error::{CoreError, CoreResult};
use crate::events;
use crate::ids::new_id;
use crate::provisioning::{db_err, event, record, sqlx_err, Caller, ListQuery};
use crate::sql::SqlBuilder;
use crate::{Backend, Services};

pub const GROUP_URN: &str = scim_core::schema::GROUP_URN;

pub const EV_GROUP_CREATE: &str = "group_create_provision";
pub const EV_GROUP_UPDATE: &str = "group_update_provision";
pub const EV_GROUP_DELETE: &str = "group_delete_provision";
pub const EV_GROUP_LOOKUP: &str = "group_lookup_provision";

/// Longest displayName / externalId accepted, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Ids per statement when members are checked, inserted or deleted in bulk (well under both
/// databases' parameter limits).
const CHUNK: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    pub id: String,
    pub org_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A member as a Group resource shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user_id: String,
    /// The user's displayName, else its userName.
    pub display: String,
}

const SELECT: &str = "SELECT g.id, g.org_id, g.display_name, g.external_id, g.version, \
     g.created_at, g.updated_at FROM groups g";

fn from_row(r: &sqlx::any::AnyRow) -> CoreResult<StoredGroup> {
    Ok(StoredGroup {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        display_name: r.try_get("display_name")?,
        external_id: r.try_get("external_id")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A group by id within an org.
pub async fn get_stored(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    id: &str,
) -> CoreResult<Option<StoredGroup>> {
    let row = sqlx::query(&format!("{SELECT} WHERE g.org_id = $1 AND g.id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The members of one group, oldest membership first. Only live users (a deleted user's
/// memberships are removed with it; the join makes sure of it).
pub async fn members(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    group_id: &str,
) -> CoreResult<Vec<Member>> {
    let mut map = members_of(conn, org_id, &[group_id.to_string()]).await?;
    Ok(map.remove(group_id).unwrap_or_default())
}

/// The members of several groups (one page of a list), by group id.
pub async fn members_of(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    group_ids: &[String],
) -> CoreResult<HashMap<String, Vec<Member>>> {
    let mut out: HashMap<String, Vec<Member>> = HashMap::new();
    for chunk in group_ids.chunks(CHUNK) {
        let mut b = SqlBuilder::new(
            "SELECT gm.group_id, u.id, u.user_name, u.display_name FROM group_members gm \
             JOIN users u ON u.id = gm.user_id AND u.org_id = gm.org_id AND u.deleted_at IS NULL \
             WHERE gm.org_id = ",
        );
        b.push_bind(org_id)
            .push(" AND gm.group_id IN (")
            .push_binds(chunk.iter(), ", ")
            .push(") ORDER BY gm.added_at, gm.user_id");
        for r in b.query().fetch_all(&mut *conn).await? {
            let display: Option<String> = r.try_get("display_name")?;
            let user_name: String = r.try_get("user_name")?;
            out.entry(r.try_get("group_id")?).or_default().push(Member {
                user_id: r.try_get("id")?,
                display: display.filter(|d| !d.is_empty()).unwrap_or(user_name),
            });
        }
    }
    Ok(out)
}

/// The groups of several users (the User resource's read-only `groups`), by user id, each as
/// (group id, displayName) sorted by displayName.
pub async fn groups_of_users(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_ids: &[String],
) -> CoreResult<HashMap<String, Vec<(String, String)>>> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for chunk in user_ids.chunks(CHUNK) {
        let mut b = SqlBuilder::new(
            "SELECT gm.user_id, g.id, g.display_name FROM group_members gm \
             JOIN groups g ON g.id = gm.group_id AND g.org_id = gm.org_id WHERE gm.org_id = ",
        );
        b.push_bind(org_id)
            .push(" AND gm.user_id IN (")
            .push_binds(chunk.iter(), ", ")
            .push(") ORDER BY lower(g.display_name), g.id");
        for r in b.query().fetch_all(&mut *conn).await? {
            out.entry(r.try_get("user_id")?)
                .or_default()
                .push((r.try_get("id")?, r.try_get("display_name")?));
        }
    }
    Ok(out)
}

/// The `groups` attribute of a User resource.
pub fn user_groups_json(groups: &[(String, String)], base_url: &str) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|(id, name)| {
                json!({
                    "value": id,
                    "display": name,
                    "$ref": format!("{base_url}/Groups/{id}"),
                    "type": "direct",
                })
            })
            .collect(),
    )
}

/// The resource as SCIM returns it; `members` None leaves the attribute out
/// (`excludedAttributes=members`), so a large group is not read at all.
pub fn to_json(g: &StoredGroup, members: Option<&[Member]>, base_url: &str) -> Value {
    let mut v = json!({
        "schemas": [GROUP_URN],
        "id": g.id,
        "displayName": g.display_name,
        "meta": {
            "resourceType": "Group",
            "created": crate::clock::rfc3339(g.created_at),
            "lastModified": crate::clock::rfc3339(g.updated_at),
            "location": format!("{base_url}/Groups/{}", g.id),
            "version": crate::provisioning::etag(g.version),
        },
    });
    if let Some(ext) = &g.external_id {
        v["externalId"] = Value::String(ext.clone());
    }
    if let Some(members) = members {
        v["members"] = Value::Array(
            members
                .iter()
                .map(|m| {
                    // No `display`: RFC 7643 §8.7.1's Group schema has none on members, and
                    // a client comparing what it wrote with what it reads back would differ.
                    json!({
                        "value": m.user_id,
                        "$ref": format!("{base_url}/Users/{}", m.user_id),
                        "type": "User",
                    })
                })
                .collect(),
        );
    }
    v
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("Group {id} not found."))
}

fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// An attribute name with the Group schema's URN prefix (if any) removed.
fn bare(name: &str) -> &str {
    let n = name.trim();
    match n.get(..GROUP_URN.len() + 1) {
        Some(p) if p.eq_ignore_ascii_case(&format!("{GROUP_URN}:")) => &n[GROUP_URN.len() + 1..],
        _ => n,
    }
}

fn check_text(attr: &str, v: &str) -> Result<String, ScimError> {
    let t = v.trim();
    if t.chars().count() > MAX_NAME_CHARS {
        return Err(ScimError::invalid_value(format!(
            "{attr} is longer than {MAX_NAME_CHARS} characters."
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(format!(
            "{attr} must not contain control characters."
        )));
    }
    Ok(t.to_string())
}

fn display_name(v: Option<&Value>) -> Result<String, ScimError> {
    match v {
        Some(Value::String(s)) => {
            let t = check_text("displayName", s)?;
            if t.is_empty() {
                return Err(ScimError::invalid_value("displayName must not be empty."));
            }
            Ok(t)
        }
        None | Some(Value::Null) => Err(ScimError::invalid_value(
            "displayName is required for a group.",
        )),
        Some(_) => Err(ScimError::invalid_value("displayName must be a string.")),
    }
}

fn external_id(v: Option<&Value>) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(check_text("externalId", s)?).filter(|s| !s.is_empty())),
        Some(_) => Err(ScimError::invalid_value("externalId must be a string.")),
    }
}

/// The user ids of a `members` value: an array of `{"value": id}` (a single object is taken as
/// a one-element array). Duplicates collapse; nested groups are refused.
fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        Value::Null => vec![],
        _ => {
            return Err(ScimError::invalid_value(
                "members must be an array of objects such as {\"value\": \"<user id>\"}.",
            ))
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        let Some(o) = item.as_object() else {
            return Err(ScimError::invalid_value(
                "Each member must be an object such as {\"value\": \"<user id>\"}.",
            ));
        };
        let Some(Value::String(id)) = get_ci(o, "value") else {
            return Err(ScimError::invalid_value(
                "Each member needs a \"value\": the id of a user of this organisation.",
            ));
        };
        // `type` is a hint (RFC 7643 §4.2); only a nested group is refused.
        if let Some(Value::String(t)) = get_ci(o, "type") {
            if t.trim().eq_ignore_ascii_case("Group") {
                return Err(ScimError::invalid_value(
                    "Nested groups are not supported; a group's members are users.",
                ));
            }
        }
        let id = id.trim().to_string();
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// A POST or PUT body.
struct GroupBody {
    display_name: String,
    external_id: Option<String>,
    /// Empty when the body has no `members`: a PUT replaces the whole resource (RFC 7644 §3.5.1).
    members: Vec<String>,
}

fn parse_body(body: &Value) -> Result<GroupBody, ScimError> {
    let Some(o) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "The request body must be a JSON object (a Group resource).",
        ));
    };
    if let Some(s) = get_ci(o, "schemas") {
        let ok = s.as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x.as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(GROUP_URN))
            })
        });
        if !ok {
            return Err(ScimError::invalid_value(format!(
                "schemas must contain {GROUP_URN}."
            )));
        }
    }
    Ok(GroupBody {
        display_name: display_name(get_ci(o, "displayName"))?,
        external_id: external_id(get_ci(o, "externalId"))?,
        members: match get_ci(o, "members") {
            Some(v) => member_ids(v)?,
            None => vec![],
        },
    })
}

/// Refuses any id that is not a live user of `org_id` (another org's user, a deleted user, an
/// unknown id), naming the first one. On PostgreSQL the users are share-locked until the
/// transaction ends, so a concurrent delete cannot leave a membership of a deleted user behind.
async fn check_members(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    org_id: &str,
    ids: &[String],
) -> Result<(), ScimError> {
    for chunk in ids.chunks(CHUNK) {
        let mut b = SqlBuilder::new("SELECT id FROM users WHERE org_id = ");
        b.push_bind(org_id)
            .push(" AND deleted_at IS NULL AND id IN (")
            .push_binds(chunk.iter(), ", ")
            .push(")");
        if backend == Backend::Postgres {
            b.push(" FOR SHARE");
        }
        let found: HashSet<String> = b
            .query()
            .fetch_all(&mut **tx)
            .await
            .map_err(sqlx_err)?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()
            .map_err(sqlx_err)?;
        if let Some(missing) = chunk.iter().find(|id| !found.contains(*id)) {
            let shown: String = missing.chars().take(80).collect();
            return Err(ScimError::invalid_value(format!(
                "members: {shown:?} is not a user of this organisation."
            )));
        }
    }
    Ok(())
}

/// Adds members (already checked); ones already in the group are left alone. Returns how many
/// were added.
async fn insert_members(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    group_id: &str,
    ids: &[String],
    now: i64,
) -> Result<u64, ScimError> {
    let mut added = 0;
    for chunk in ids.chunks(CHUNK / 4) {
        let mut b = SqlBuilder::new(
            "INSERT INTO group_members (group_id, user_id, org_id, added_at) VALUES ",
        );
        let g = b.bind(group_id);
        let o = b.bind(org_id);
        let t = b.bind(now);
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.push(&format!("({g}, "))
                .push_bind(id)
                .push(&format!(", {o}, {t})"));
        }
        b.push(" ON CONFLICT (group_id, user_id) DO NOTHING");
        added += b
            .query()
            .execute(&mut **tx)
            .await
            .map_err(sqlx_err)?
            .rows_affected();
    }
    Ok(added)
}

async fn delete_members(
    tx: &mut Transaction<'_, Any>,
    group_id: &str,
    ids: &[String],
) -> Result<u64, ScimError> {
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut b = SqlBuilder::new("DELETE FROM group_members WHERE group_id = ");
        b.push_bind(group_id)
            .push(" AND user_id IN (")
            .push_binds(chunk.iter(), ", ")
            .push(")");
        removed += b
            .query()
            .execute(&mut **tx)
            .await
            .map_err(sqlx_err)?
            .rows_affected();
    }
    Ok(removed)
}

async fn clear_members(tx: &mut Transaction<'_, Any>, group_id: &str) -> Result<u64, ScimError> {
    Ok(sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_err)?
        .rows_affected())
}

/// 409 `uniqueness` when another group of the org has this displayName (case-insensitively).
async fn check_unique(
    tx: &mut Transaction<'_, Any>,
    org_id: &str,
    name: &str,
    except: Option<&str>,
) -> Result<(), ScimError> {
    let row = sqlx::query(
        "SELECT id FROM groups WHERE org_id = $1 AND lower(display_name) = lower($2) AND id <> $3",
    )
    .bind(org_id)
    .bind(name)
    .bind(except.unwrap_or(""))
    .fetch_optional(&mut **tx)
    .await
    .map_err(sqlx_err)?;
    match row {
        Some(r) => {
            let id: String = r.try_get("id").map_err(sqlx_err)?;
            Err(duplicate(name, Some(&id)))
        }
        None => Ok(()),
    }
}

fn duplicate(name: &str, id: Option<&str>) -> ScimError {
    match id {
        Some(id) => ScimError::uniqueness(format!(
            "A group with displayName {name:?} already exists (id {id})."
        )),
        None => ScimError::uniqueness(format!("A group with displayName {name:?} already exists.")),
    }
}

fn write_err(e: sqlx::Error, name: &str) -> ScimError {
    if CoreError::is_unique_violation(&e) {
        duplicate(name, None)
    } else {
        sqlx_err(e)
    }
}

fn group_event(
    caller: &Caller,
    name: &str,
    result: &Result<String, ScimError>,
) -> events::NewEvent {
    event(caller, name, None, result)
}

/// POST /Groups.
pub async fn create(
    svc: &Services,
    caller: &Caller,
    body: &Value,
) -> Result<(StoredGroup, Vec<Member>), ScimError> {
    let result = async {
        let b = parse_body(body)?;
        let now = svc.now();
        let mut tx = svc.db.begin_write().await.map_err(sqlx_err)?;
        check_unique(&mut tx, &caller.org_id, &b.display_name, None).await?;
        check_members(&mut tx, svc.db.backend, &caller.org_id, &b.members).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO groups (id, org_id, display_name, external_id, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5)",
        )
        .bind(&id)
        .bind(&caller.org_id)
        .bind(&b.display_name)
        .bind(&b.external_id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| write_err(e, &b.display_name))?;
        insert_members(&mut tx, &caller.org_id, &id, &b.members, now).await?;
        let g = get_stored(&mut tx, &caller.org_id, &id)
            .await
            .map_err(db_err)?
            .ok_or_else(ScimError::internal)?;
        let m = members(&mut tx, &caller.org_id, &id)
            .await
            .map_err(db_err)?;
        let msg = format!(
            "Created group {} with {} member(s)",
            g.display_name,
            m.len()
        );
        events::record_in_tx(&mut tx, group_event(caller, EV_GROUP_CREATE, &Ok(msg)), now)
            .await
            .map_err(db_err)?;
        tx.commit()
            .await
            .map_err(|e| write_err(e, &b.display_name))?;
        Ok::<_, ScimError>((g, m))
    }
    .await;
    if let Err(e) = &result {
        record(svc, caller, EV_GROUP_CREATE, None, &Err(e.clone())).await;
    }
    result
}

/// GET /Groups/{id}; `with_members` false skips reading the members.
pub async fn get(
    svc: &Services,
    caller: &Caller,
    id: &str,
    with_members: bool,
) -> Result<(StoredGroup, Option<Vec<Member>>), ScimError> {
    let mut conn = svc.db.pool.acquire().await.map_err(sqlx_err)?;
    let g = get_stored(&mut conn, &caller.org_id, id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(id))?;
    let m = if with_members {
        Some(
            members(&mut conn, &caller.org_id, id)
                .await
                .map_err(db_err)?,
        )
    } else {
        None
    };
    Ok((g, m))
}

async fn lock_group(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    org_id: &str,
    id: &str,
    if_match: Option<i64>,
) -> Result<StoredGroup, ScimError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM groups WHERE org_id = $1 AND id = $2 FOR UPDATE")
            .bind(org_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(sqlx_err)?;
    }
    let g = get_stored(tx, org_id, id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(id))?;
    if let Some(v) = if_match {
        if v != g.version {
            return Err(ScimError::precondition_failed());
        }
    }
    Ok(g)
}

async fn save(
    tx: &mut Transaction<'_, Any>,
    g: &StoredGroup,
    name: &str,
    external_id: &Option<String>,
    now: i64,
) -> Result<(), ScimError> {
    if !name.eq_ignore_ascii_case(&g.display_name) {
        check_unique(tx, &g.org_id, name, Some(&g.id)).await?;
    }
    sqlx::query(
        "UPDATE groups SET display_name = $1, external_id = $2, version = version + 1, \
         updated_at = $3 WHERE org_id = $4 AND id = $5",
    )
    .bind(name)
    .bind(external_id)
    .bind(now)
    .bind(&g.org_id)
    .bind(&g.id)
    .execute(&mut **tx)
    .await
    .map_err(|e| write_err(e, name))?;
    Ok(())
}

/// What a PUT or PATCH did, for the event.
#[derive(Default)]
struct Change {
    added: u64,
    removed: u64,
    renamed: bool,
}

impl Change {
    fn describe(&self, before: &str, after: &str) -> String {
        let mut parts = Vec::new();
        if self.renamed {
            parts.push(format!("renamed from {before}"));
        }
        if self.added > 0 {
            parts.push(format!("{} member(s) added", self.added));
        }
        if self.removed > 0 {
            parts.push(format!("{} member(s) removed", self.removed));
        }
        if parts.is_empty() {
            format!("No change to group {after}")
        } else {
            format!("Updated group {after}: {}", parts.join(", "))
        }
    }
}

/// PUT and PATCH: lock, read, change, event, commit; `with_members` reads the members after.
async fn modify<F>(
    svc: &Services,
    caller: &Caller,
    id: &str,
    if_match: Option<i64>,
    with_members: bool,
    change: F,
) -> Result<(StoredGroup, Option<Vec<Member>>), ScimError>
where
    F: for<'a> FnOnce(
        &'a mut Transaction<'static, Any>,
        &'a StoredGroup,
        i64,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Change, ScimError>> + Send + 'a>,
    >,
{
    let result = async {
        let now = svc.now();
        // Changes an existing group: what a token check reads ("the org has a group") stays.
        let mut tx = svc
            .db
            .begin_write_no_credentials()
            .await
            .map_err(sqlx_err)?;
        let before = lock_group(&mut tx, svc.db.backend, &caller.org_id, id, if_match).await?;
        let ch = change(&mut tx, &before, now).await?;
        let after = get_stored(&mut tx, &caller.org_id, id)
            .await
            .map_err(db_err)?
            .ok_or_else(ScimError::internal)?;
        let msg = ch.describe(&before.display_name, &after.display_name);
        events::record_in_tx(&mut tx, group_event(caller, EV_GROUP_UPDATE, &Ok(msg)), now)
            .await
            .map_err(db_err)?;
        let m = if with_members {
            Some(members(&mut tx, &caller.org_id, id).await.map_err(db_err)?)
        } else {
            None
        };
        tx.commit()
            .await
            .map_err(|e| write_err(e, &after.display_name))?;
        Ok::<_, ScimError>((after, m))
    }
    .await;
    if let Err(e) = &result {
        record(svc, caller, EV_GROUP_UPDATE, None, &Err(e.clone())).await;
    }
    result
}

/// PUT /Groups/{id}: displayName, externalId and the whole member list (Okta's form) replaced.
pub async fn replace(
    svc: &Services,
    caller: &Caller,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
    with_members: bool,
) -> Result<(StoredGroup, Option<Vec<Member>>), ScimError> {
    let parsed = parse_body(body);
    if let (Ok(_), Some(Value::String(given))) = (&parsed, body.get("id")) {
        if given != id {
            let e = ScimError::mutability(format!(
                "The body's id ({given}) differs from the URL's ({id}); id is read-only."
            ));
            record(svc, caller, EV_GROUP_UPDATE, None, &Err(e.clone())).await;
            return Err(e);
        }
    }
    let b = match parsed {
        Ok(b) => b,
        Err(e) => {
            record(svc, caller, EV_GROUP_UPDATE, None, &Err(e.clone())).await;
            return Err(e);
        }
    };
    let backend = svc.db.backend;
    let org = caller.org_id.clone();
    modify(
        svc,
        caller,
        id,
        if_match,
        with_members,
        move |tx, g, now| {
            Box::pin(async move {
                let mut ch = Change {
                    renamed: b.display_name != g.display_name,
                    ..Change::default()
                };
                save(tx, g, &b.display_name, &b.external_id, now).await?;
                ch.removed =
                    replace_members(tx, backend, &org, &g.id, &b.members, now, &mut ch.added)
                        .await?;
                Ok(ch)
            })
        },
    )
    .await
}

/// Replaces the member list: removes those not in `ids`, adds the new ones. Returns how many
/// were removed (`added` gets how many were added).
async fn replace_members(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    org_id: &str,
    group_id: &str,
    ids: &[String],
    now: i64,
    added: &mut u64,
) -> Result<u64, ScimError> {
    check_members(tx, backend, org_id, ids).await?;
    let current: Vec<String> = sqlx::query("SELECT user_id FROM group_members WHERE group_id = $1")
        .bind(group_id)
        .fetch_all(&mut **tx)
        .await
        .map_err(sqlx_err)?
        .iter()
        .map(|r| r.try_get::<String, _>("user_id"))
        .collect::<Result<_, _>>()
        .map_err(sqlx_err)?;
    let wanted: HashSet<&String> = ids.iter().collect();
    let gone: Vec<String> = current
        .iter()
        .filter(|u| !wanted.contains(u))
        .cloned()
        .collect();
    let removed = if ids.is_empty() {
        clear_members(tx, group_id).await?
    } else {
        delete_members(tx, group_id, &gone).await?
    };
    *added += insert_members(tx, org_id, group_id, ids, now).await?;
    Ok(removed)
}

/// One PATCH operation on a group.
enum Op {
    SetName(String),
    SetExternalId(Option<String>),
    Add(Vec<String>),
    Remove(Vec<String>),
    ReplaceMembers(Vec<String>),
    ClearMembers,
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "The path {path:?} is not supported on a group; use displayName, externalId, members or members[value eq \"<user id>\"]."
    ))
}

/// The user ids a `members[...]` filter names: `value eq "id"`, or several joined with `or`.
fn filter_ids(f: &scim_filter::Filter, out: &mut Vec<String>) -> Result<(), ScimError> {
    use scim_filter::{CompValue, CompareOp, Filter};
    match f {
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value: CompValue::String(v),
        } if attr.urn.is_none()
            && attr.sub.is_none()
            && attr.name.eq_ignore_ascii_case("value") =>
        {
            out.push(v.clone());
            Ok(())
        }
        Filter::Or(a, b) => {
            filter_ids(a, out)?;
            filter_ids(b, out)
        }
        _ => Err(ScimError::invalid_filter(
            "A members filter must be value eq \"<user id>\" (several may be joined with or).",
        )),
    }
}

fn parse_ops(body: &Value) -> Result<Vec<Op>, ScimError> {
    let Some(o) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "The request body must be a JSON object (PatchOp).",
        ));
    };
    let Some(Value::Array(ops)) = get_ci(o, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "A PATCH needs \"Operations\": an array of operations.",
        ));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("Operations is empty."));
    }
    let mut out = Vec::new();
    for op in ops {
        let Some(op) = op.as_object() else {
            return Err(ScimError::invalid_syntax(
                "Each operation must be an object.",
            ));
        };
        let kind = match get_ci(op, "op").and_then(Value::as_str) {
            Some(k) if k.eq_ignore_ascii_case("add") => "add",
            Some(k) if k.eq_ignore_ascii_case("remove") => "remove",
            Some(k) if k.eq_ignore_ascii_case("replace") => "replace",
            _ => {
                return Err(ScimError::invalid_syntax(
                    "Each operation needs \"op\": add, remove or replace.",
                ))
            }
        };
        let value = get_ci(op, "value");
        let path = match get_ci(op, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(_) => return Err(ScimError::invalid_path("path must be a string.")),
        };
        match path {
            None => {
                if kind == "remove" {
                    return Err(ScimError::no_target("A remove operation needs a path."));
                }
                let Some(Value::Object(v)) = value else {
                    return Err(ScimError::invalid_value(
                        "An operation without a path needs an object value.",
                    ));
                };
                for (k, v) in v {
                    match bare(k).to_ascii_lowercase().as_str() {
                        "displayname" => out.push(Op::SetName(display_name(Some(v))?)),
                        "externalid" => out.push(Op::SetExternalId(external_id(Some(v))?)),
                        "members" => {
                            let ids = member_ids(v)?;
                            out.push(if kind == "add" {
                                Op::Add(ids)
                            } else {
                                Op::ReplaceMembers(ids)
                            });
                        }
                        "id" | "schemas" | "meta" => {}
                        other => {
                            return Err(ScimError::invalid_value(format!(
                                "{other:?} is not a Group attribute; use displayName, externalId or members."
                            )))
                        }
                    }
                }
            }
            Some(p) => {
                let parsed = scim_filter::parse_path(bare(p))
                    .map_err(|e| ScimError::invalid_path(format!("The path is not valid: {e}")))?;
                let attr = &parsed.attr;
                if attr.urn.is_some() || attr.sub.is_some() || parsed.sub.is_some() {
                    return Err(invalid_path(p));
                }
                let name = attr.name.to_ascii_lowercase();
                match (name.as_str(), kind, &parsed.filter) {
                    ("displayname", "remove", None) => {
                        return Err(ScimError::mutability(
                            "displayName is required; it cannot be removed.",
                        ))
                    }
                    ("displayname", _, None) => out.push(Op::SetName(display_name(value)?)),
                    ("externalid", "remove", None) => out.push(Op::SetExternalId(None)),
                    ("externalid", _, None) => out.push(Op::SetExternalId(external_id(value)?)),
                    ("members", "add", None) => {
                        out.push(Op::Add(member_ids(value.unwrap_or(&Value::Null))?))
                    }
                    ("members", "replace", None) => out.push(Op::ReplaceMembers(member_ids(
                        value.unwrap_or(&Value::Null),
                    )?)),
                    ("members", "remove", None) => match value {
                        None | Some(Value::Null) => out.push(Op::ClearMembers),
                        Some(v) => out.push(Op::Remove(member_ids(v)?)),
                    },
                    ("members", "remove", Some(f)) => {
                        let mut ids = Vec::new();
                        filter_ids(f, &mut ids)?;
                        out.push(Op::Remove(ids));
                    }
                    _ => return Err(invalid_path(p)),
                }
            }
        }
    }
    Ok(out)
}

/// PATCH /Groups/{id}. Member changes touch only the named members' rows.
pub async fn patch(
    svc: &Services,
    caller: &Caller,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
    with_members: bool,
) -> Result<(StoredGroup, Option<Vec<Member>>), ScimError> {
    let ops = match parse_ops(body) {
        Ok(ops) => ops,
        Err(e) => {
            record(svc, caller, EV_GROUP_UPDATE, None, &Err(e.clone())).await;
            return Err(e);
        }
    };
    let backend = svc.db.backend;
    let org = caller.org_id.clone();
    modify(
        svc,
        caller,
        id,
        if_match,
        with_members,
        move |tx, g, now| {
            Box::pin(async move {
                let mut ch = Change::default();
                let mut name = g.display_name.clone();
                let mut ext = g.external_id.clone();
                for op in ops {
                    match op {
                        Op::SetName(n) => name = n,
                        Op::SetExternalId(e) => ext = e,
                        Op::Add(ids) => {
                            check_members(tx, backend, &org, &ids).await?;
                            ch.added += insert_members(tx, &org, &g.id, &ids, now).await?;
                        }
                        Op::Remove(ids) => ch.removed += delete_members(tx, &g.id, &ids).await?,
                        Op::ReplaceMembers(ids) => {
                            ch.removed +=
                                replace_members(tx, backend, &org, &g.id, &ids, now, &mut ch.added)
                                    .await?;
                        }
                        Op::ClearMembers => ch.removed += clear_members(tx, &g.id).await?,
                    }
                }
                ch.renamed = name != g.display_name;
                save(tx, g, &name, &ext, now).await?;
                Ok(ch)
            })
        },
    )
    .await
}

/// DELETE /Groups/{id}: the group and its memberships (the users stay).
pub async fn delete(
    svc: &Services,
    caller: &Caller,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), ScimError> {
    let result = async {
        let now = svc.now();
        // A token check held in memory may then think the org still has a group: that costs a
        // groups query, never a wrong answer.
        let mut tx = svc
            .db
            .begin_write_no_credentials()
            .await
            .map_err(sqlx_err)?;
        let g = lock_group(&mut tx, svc.db.backend, &caller.org_id, id, if_match).await?;
        clear_members(&mut tx, id).await?;
        sqlx::query("DELETE FROM groups WHERE org_id = $1 AND id = $2")
            .bind(&caller.org_id)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(sqlx_err)?;
        let msg = format!("Deleted group {}", g.display_name);
        events::record_in_tx(&mut tx, group_event(caller, EV_GROUP_DELETE, &Ok(msg)), now)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(sqlx_err)?;
        Ok::<_, ScimError>(())
    }
    .await;
    if let Err(e) = &result {
        record(svc, caller, EV_GROUP_DELETE, None, &Err(e.clone())).await;
    }
    result
}

/// Where each Group filter attribute is stored, for `scim_filter::to_sql_in_org` (the groups
/// table is aliased `u`, as the translator expects). `members.value` is reached through the
/// filter crate's first multi-valued slot: [`list`] renames `members` before translating, and
/// the derived table gives `group_members` the `user_id` (here: the group) / `value` (here: the
/// member) shape the translator joins on.
pub static GROUP_FILTER_COLUMNS: scim_filter::ColumnMap = {
    use scim_filter::{Col, MultiTable};
    scim_filter::ColumnMap {
        user: &[
            ("id", Col::exact("u.id", false)),
            ("displayname", Col::ci("u.display_name", false)),
            ("externalid", Col::exact("u.external_id", true)),
        ],
        name: &[],
        meta: &[
            ("created", Col::datetime("u.created_at")),
            ("lastmodified", Col::datetime("u.updated_at")),
        ],
        enterprise: &[],
        emails: MultiTable {
            table: "(SELECT group_id AS user_id, org_id, user_id AS value FROM group_members)",
            alias: "gm",
            columns: &[("value", Col::exact("gm.value", false))],
        },
        addresses: MultiTable {
            table: "group_members",
            alias: "ga",
            columns: &[],
        },
    }
};

const FILTERABLE: &str = "groups can be filtered on id, displayName, externalId, members.value, meta.created and meta.lastModified";

/// Checks a filter names only Group attributes and renames `members` for the column map.
fn group_filter(
    f: scim_filter::Filter,
    inside_members: bool,
) -> Result<scim_filter::Filter, ScimError> {
    use scim_filter::{AttrPath, Filter};
    fn attr(a: AttrPath, inside_members: bool) -> Result<AttrPath, ScimError> {
        let unknown = || ScimError::invalid_filter(format!("The filter uses {a}; {FILTERABLE}."));
        if let Some(u) = &a.urn {
            if !u.eq_ignore_ascii_case(GROUP_URN) {
                return Err(unknown());
            }
        }
        let name = a.name.to_ascii_lowercase();
        let sub = a.sub.as_deref().map(str::to_ascii_lowercase);
        let ok = if inside_members {
            name == "value" && sub.is_none()
        } else {
            matches!(
                (name.as_str(), sub.as_deref()),
                ("id" | "displayname" | "externalid", None)
                    | ("members", None | Some("value"))
                    | ("meta", Some("created" | "lastmodified"))
            )
        };
        if !ok {
            return Err(unknown());
        }
        Ok(AttrPath {
            urn: None,
            name: if name == "members" {
                "emails".into()
            } else {
                a.name
            },
            sub: a.sub,
        })
    }
    Ok(match f {
        Filter::Compare { attr: a, op, value } => Filter::Compare {
            attr: attr(a, inside_members)?,
            op,
            value,
        },
        Filter::Present(a) => Filter::Present(attr(a, inside_members)?),
        Filter::And(a, b) => Filter::And(
            Box::new(group_filter(*a, inside_members)?),
            Box::new(group_filter(*b, inside_members)?),
        ),
        Filter::Or(a, b) => Filter::Or(
            Box::new(group_filter(*a, inside_members)?),
            Box::new(group_filter(*b, inside_members)?),
        ),
        Filter::Not(a) => Filter::Not(Box::new(group_filter(*a, inside_members)?)),
        Filter::ValuePath { attr: a, filter } => {
            if inside_members || a.sub.is_some() || !a.name.eq_ignore_ascii_case("members") {
                return Err(ScimError::invalid_filter(format!(
                    "The filter uses {a}[…]; {FILTERABLE}."
                )));
            }
            Filter::ValuePath {
                attr: attr(a, false)?,
                filter: Box::new(group_filter(*filter, true)?),
            }
        }
    })
}

fn sort_column(attr: &str) -> Option<&'static str> {
    Some(match bare(attr).to_ascii_lowercase().as_str() {
        "id" => "u.id",
        "displayname" => "lower(u.display_name)",
        "externalid" => "u.external_id",
        "meta.created" => "u.created_at",
        "meta.lastmodified" => "u.updated_at",
        _ => return None,
    })
}

pub struct GroupPage {
    pub total: i64,
    pub start_index: i64,
    pub groups: Vec<(StoredGroup, Option<Vec<Member>>)>,
}

/// GET /Groups and POST /Groups/.search.
pub async fn list(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
    with_members: bool,
) -> Result<GroupPage, ScimError> {
    let result = list_inner(svc, caller, q, with_members).await;
    if let Err(e) = &result {
        record(svc, caller, EV_GROUP_LOOKUP, None, &Err(e.clone())).await;
    }
    result
}

async fn list_inner(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
    with_members: bool,
) -> Result<GroupPage, ScimError> {
    let start_index = q.start_index.unwrap_or(1).max(1);
    let count = q
        .count
        .unwrap_or(scim_core::schema::MAX_RESULTS as i64)
        .clamp(0, scim_core::schema::MAX_RESULTS as i64);
    let mut where_b = SqlBuilder::new("u.org_id = ");
    where_b.push_bind(caller.org_id.as_str());
    if let Some(f) = q.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        let filter = scim_filter::parse_filter(f)
            .map_err(|e| ScimError::invalid_filter(format!("The filter is not valid: {e}")))?;
        let filter = group_filter(filter, false)?;
        let frag = scim_filter::to_sql_in_org(&filter, 2, "$1", &GROUP_FILTER_COLUMNS)
            .map_err(|e| ScimError::invalid_filter(e.to_string()))?;
        where_b.push(" AND ").push_fragment(frag);
    }
    let order = match q.sort_by.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => {
            let col = sort_column(s).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("sortBy '{s}' is not supported on groups; use displayName, externalId, meta.created or meta.lastModified"),
                )
            })?;
            let dir = if q.descending { "DESC" } else { "ASC" };
            format!("{col} {dir}, u.created_at {dir}, u.id {dir}")
        }
        None => "u.created_at ASC, u.id ASC".to_string(),
    };
    let mut conn = svc.db.pool.acquire().await.map_err(sqlx_err)?;
    let mut count_b = SqlBuilder::new("SELECT COUNT(*) AS n FROM groups u WHERE ");
    count_b.push_numbered(where_b.sql(), where_b.params().iter().cloned());
    let total: i64 = count_b
        .query()
        .fetch_one(&mut *conn)
        .await
        .map_err(sqlx_err)?
        .try_get("n")
        .map_err(sqlx_err)?;
    let mut groups = Vec::new();
    if count > 0 && total >= start_index {
        let mut b = SqlBuilder::new(
            "SELECT u.id, u.org_id, u.display_name, u.external_id, u.version, u.created_at, \
             u.updated_at FROM groups u WHERE ",
        );
        b.push_numbered(where_b.sql(), where_b.params().iter().cloned())
            .push(&format!(" ORDER BY {order} LIMIT "))
            .push_bind(count)
            .push(" OFFSET ")
            .push_bind(start_index - 1);
        let rows = b.query().fetch_all(&mut *conn).await.map_err(sqlx_err)?;
        let page: Vec<StoredGroup> = rows
            .iter()
            .map(from_row)
            .collect::<CoreResult<_>>()
            .map_err(db_err)?;
        let mut members = if with_members {
            let ids: Vec<String> = page.iter().map(|g| g.id.clone()).collect();
            Some(
                members_of(&mut conn, &caller.org_id, &ids)
                    .await
                    .map_err(db_err)?,
            )
        } else {
            None
        };
        for g in page {
            let m = members
                .as_mut()
                .map(|m| m.remove(&g.id).unwrap_or_default());
            groups.push((g, m));
        }
    }
    Ok(GroupPage {
        total,
        start_index,
        groups,
    })
}

/// POST /.search at the server root (RFC 7644 §3.4.3): Users, then Groups, as one list paged
/// across both. A filter only one resource type understands (userName, members.value) matches
/// nothing of the other; when neither understands it, the Users error is the answer.
pub async fn search_all(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
    with_members: bool,
) -> Result<(i64, i64, Vec<crate::users::StoredUser>, GroupPage), ScimError> {
    let result = async {
        let start_index = q.start_index.unwrap_or(1).max(1);
        let count = q
            .count
            .unwrap_or(scim_core::schema::MAX_RESULTS as i64)
            .clamp(0, scim_core::schema::MAX_RESULTS as i64);
        let users_q = ListQuery {
            start_index: Some(start_index),
            count: Some(count),
            ..q.clone()
        };
        let users = crate::provisioning::list_inner(svc, caller, &users_q).await;
        // Groups start where the users end.
        let (users_total, users_page) = match &users {
            Ok(p) => (p.total, p.users.clone()),
            Err(_) => (0, vec![]),
        };
        let group_start = (start_index - users_total).max(1);
        let group_count = count - users_page.len() as i64;
        let groups_q = ListQuery {
            start_index: Some(group_start),
            count: Some(group_count.max(0)),
            ..q.clone()
        };
        let groups = list_inner(svc, caller, &groups_q, with_members).await;
        match (users, groups) {
            (Err(e), Err(_)) => Err(e),
            (_, groups) => {
                let groups = groups.unwrap_or(GroupPage {
                    total: 0,
                    start_index: group_start,
                    groups: vec![],
                });
                Ok((users_total + groups.total, start_index, users_page, groups))
            }
        }
    }
    .await;
    if let Err(e) = &result {
        record(
            svc,
            caller,
            crate::provisioning::EV_LOOKUP,
            None,
            &Err(e.clone()),
        )
        .await;
    }
    result
}

// ---- The admin screens' read models ----

/// A group as the Groups screen lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_count: i64,
    pub updated_at: i64,
}

/// Every group of the org by displayName, with its member count (live users only).
pub async fn summaries(svc: &Services, org_id: &str) -> CoreResult<Vec<GroupSummary>> {
    let rows = sqlx::query(
        "SELECT g.id, g.display_name, g.external_id, g.updated_at, \
         (SELECT COUNT(*) FROM group_members gm JOIN users u ON u.id = gm.user_id \
          AND u.deleted_at IS NULL WHERE gm.group_id = g.id) AS n \
         FROM groups g WHERE g.org_id = $1 ORDER BY lower(g.display_name), g.id",
    )
    .bind(org_id)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(GroupSummary {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                external_id: r.try_get("external_id")?,
                updated_at: r.try_get("updated_at")?,
                member_count: r.try_get("n")?,
            })
        })
        .collect()
}

/// One group of the org with its members' ids and names (for the Groups screen).
pub struct GroupDetail {
    pub group: StoredGroup,
    pub members: Vec<MemberDetail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberDetail {
    pub user_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub active: bool,
}

/// A group of the org and its members by userName; None when the org has no such group.
pub async fn detail(svc: &Services, org_id: &str, id: &str) -> CoreResult<Option<GroupDetail>> {
    let mut conn = svc.db.pool.acquire().await?;
    let Some(group) = get_stored(&mut conn, org_id, id).await? else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "SELECT u.id, u.user_name, u.display_name, u.active FROM group_members gm \
         JOIN users u ON u.id = gm.user_id AND u.org_id = gm.org_id AND u.deleted_at IS NULL \
         WHERE gm.org_id = $1 AND gm.group_id = $2 ORDER BY lower(u.user_name), u.id",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let members = rows
        .iter()
        .map(|r| {
            Ok(MemberDetail {
                user_id: r.try_get("id")?,
                user_name: r.try_get("user_name")?,
                display_name: r.try_get("display_name")?,
                active: r.try_get::<i64, _>("active")? != 0,
            })
        })
        .collect::<CoreResult<_>>()?;
    Ok(Some(GroupDetail { group, members }))
}

/// The SQL condition "user `u` is a member of group `$n`", for the Users screen's and the CSV
/// export's `?group=` filter (the caller binds the group id).
pub fn member_of_condition(placeholder: &str) -> String {
    format!("u.id IN (SELECT gm.user_id FROM group_members gm WHERE gm.group_id = {placeholder})")
}
