//! SCIM operations on the user store, each one transaction plus one activity event, with errors
//! already in SCIM form. The HTTP layer only parses and authenticates.

use scim_core::{ScimError, ScimType};
use serde_json::{json, Value};

use crate::db::{BatchError, Planned};
use crate::error::CoreError;
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::org_settings::{self, UserPolicy};
use crate::sql::{Script, SqlBuilder, SqlValue};
use crate::users::{self, Source, StoredUser};
use crate::Services;

/// Who is calling, for the events.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    /// `{PUBLIC_URL}/scim/v2/{org_id}`
    pub base_url: String,
    pub user_agent: Option<String>,
    /// The request's row in the SCIM request log (issue 13), carried by its event.
    pub request_id: Option<String>,
}

impl Caller {
    pub(crate) fn actor(&self) -> String {
        match &self.user_agent {
            Some(ua) if !ua.is_empty() => format!("SCIM client ({ua})"),
            _ => "SCIM client".to_string(),
        }
    }
}

pub const EV_CREATE: &str = "user_create_provision";
pub const EV_UPDATE: &str = "user_update_provision";
pub const EV_DEPROVISION: &str = "user_deprovision";
pub const EV_DELETE: &str = "user_delete_provision";
pub const EV_LOOKUP: &str = "user_lookup_provision";

pub(crate) fn db_err(e: CoreError) -> ScimError {
    match e {
        CoreError::Conflict(msg) => ScimError::uniqueness(msg),
        CoreError::Db(cause) => {
            tracing::error!(error = %cause, "SCIM database error");
            ScimError::unavailable()
        }
        CoreError::Internal(cause) => {
            tracing::error!(error = %cause, "SCIM internal error");
            ScimError::internal()
        }
        other => ScimError::invalid_value(other.to_string()),
    }
}

pub(crate) fn sqlx_err(e: sqlx::Error) -> ScimError {
    db_err(CoreError::Db(e))
}

/// The resource as SCIM returns it: stored attributes + id + meta (with the ETag version).
pub fn to_json(u: &StoredUser, base_url: &str) -> Value {
    let mut v = u.attributes.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), Value::String(u.id.clone()));
        o.insert("active".into(), Value::Bool(u.active));
        o.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": crate::clock::rfc3339(u.created_at),
                "lastModified": crate::clock::rfc3339(u.updated_at),
                "location": format!("{base_url}/Users/{}", u.id),
                "version": etag(u.version),
            }),
        );
    }
    v
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Parses an `If-Match` value: `*` → None (any), `W/"3"` / `"3"` → Some(3). Unparsable → Some(-2),
/// which never matches.
pub fn parse_if_match(h: &str) -> Option<i64> {
    let h = h.trim();
    if h == "*" {
        return None;
    }
    let inner = h.trim_start_matches("W/").trim_matches('"');
    Some(inner.parse::<i64>().ok().filter(|v| *v >= 0).unwrap_or(-2))
}

pub(crate) fn event(
    caller: &Caller,
    name: &str,
    user_id: Option<&str>,
    result: &Result<String, ScimError>,
) -> NewEvent {
    let (success, scim_type, message) = match result {
        Ok(msg) => (true, None, msg.clone()),
        Err(e) => (
            false,
            e.scim_type.map(|t| t.as_str().to_string()),
            e.detail.clone(),
        ),
    };
    let status = match result {
        Ok(_) => None,
        Err(e) => Some(e.status.to_string()),
    };
    NewEvent {
        org_id: caller.org_id.clone(),
        name: name.to_string(),
        success,
        user_id: user_id.map(str::to_string),
        actor: caller.actor(),
        scim_type,
        message,
        detail: event_detail(status, caller.request_id.as_deref()),
    }
}

/// The event's detail: the failure's status and the request log row (issue 13), when any.
fn event_detail(status: Option<String>, request_id: Option<&str>) -> Option<String> {
    let mut o = serde_json::Map::new();
    if let Some(s) = status {
        o.insert("status".into(), Value::String(s));
    }
    if let Some(id) = request_id {
        o.insert("request".into(), Value::String(id.to_string()));
    }
    (!o.is_empty()).then(|| Value::Object(o).to_string())
}

/// Records an event on its own (failures); successes are recorded inside their transaction.
pub(crate) async fn record(
    svc: &Services,
    caller: &Caller,
    name: &str,
    user_id: Option<&str>,
    result: &Result<String, ScimError>,
) {
    let ev = event(caller, name, user_id, result);
    let res = async {
        let mut tx = svc.db.begin_write().await?;
        events::record_in_tx(&mut tx, ev, svc.now()).await?;
        tx.commit().await?;
        Ok::<(), CoreError>(())
    }
    .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not record a SCIM event");
    }
}

fn normalized(body: &Value, default_active: bool, policy: &UserPolicy) -> Result<Value, ScimError> {
    let n = scim_core::normalize_user_with(body, policy.rules())?;
    // The portal has no password sign-in for employees: a password an IdP sends on create is
    // accepted and discarded, so it is never stored in any form.
    drop(n.password);
    let mut r = n.resource;
    if r.get("active").is_none() {
        r["active"] = Value::Bool(default_active);
    }
    Ok(r)
}

/// POST /Users. A userName (or externalId) of a soft-deleted user brings that user back.
pub async fn create(
    svc: &Services,
    caller: &Caller,
    body: &Value,
) -> Result<(StoredUser, bool), ScimError> {
    let result = create_inner(svc, caller, body).await;
    if let Err(e) = &result {
        record(svc, caller, EV_CREATE, None, &Err(e.clone())).await;
    }
    result
}

/// The organisation's user rules, read before the write turn is taken: a settings change that
/// commits while this request runs overlaps it, so either order is a correct outcome, and
/// reading it inside would hold SQLite's single writer for one more round trip.
async fn policy_of(svc: &Services, org_id: &str) -> Result<UserPolicy, ScimError> {
    let mut conn = svc.db.pool.acquire().await.map_err(sqlx_err)?;
    org_settings::user_policy(&mut conn, org_id)
        .await
        .map_err(db_err)
}

/// The stored user a write produced, without reading it back: what [`users::get`] would return
/// after the write of `attrs` at `now` over `before` (None for a new row).
fn written(
    org_id: &str,
    id: &str,
    attrs: &Value,
    before: Option<&StoredUser>,
    now: i64,
) -> StoredUser {
    let c = users::columns(attrs);
    StoredUser {
        id: id.to_string(),
        org_id: org_id.to_string(),
        user_name: c.user_name,
        active: c.active,
        source: before.map_or_else(|| Source::Scim.as_str().to_string(), |b| b.source.clone()),
        attributes: attrs.clone(),
        version: before.map_or(1, |b| b.version + 1),
        created_at: before.map_or(now, |b| b.created_at),
        updated_at: now,
        deleted_at: None,
        last_sign_in_at: before.and_then(|b| b.last_sign_in_at),
    }
}

/// A batched write's failure in SCIM form; a violated unique index is the userName's 409.
fn batch_err(e: BatchError<ScimError>, user_name: &str) -> ScimError {
    match e {
        BatchError::Job(e) => e,
        BatchError::Db(e) => db_err(users::map_unique(e, user_name)),
    }
}

async fn create_inner(
    svc: &Services,
    caller: &Caller,
    body: &Value,
) -> Result<(StoredUser, bool), ScimError> {
    let now = svc.now();
    let policy = policy_of(svc, &caller.org_id).await?;
    let attrs = normalized(body, true, &policy)?;
    check_domains(&policy, &attrs, None)?;
    let user_name = attrs["userName"].as_str().unwrap_or_default().to_string();
    let (caller_c, name) = (caller.clone(), user_name.clone());
    svc.db
        .batched(move |conn| {
            Box::pin(async move {
                let caller = caller_c;
                let external_id = attrs.get("externalId").and_then(Value::as_str);
                let (by_name, by_external_id) =
                    users::find_for_create(conn, &caller.org_id, &name, external_id)
                        .await
                        .map_err(db_err)?;
                let revive = match by_name {
                    Some(u) if u.deleted_at.is_none() => {
                        return Err(ScimError::uniqueness(format!(
                            "A user with userName {name:?} already exists (id {}).",
                            u.id
                        )))
                    }
                    Some(u) => Some(u),
                    None => by_external_id,
                };
                // The user's rows and its event: one script (one round trip on SQLite).
                let mut script = Script::new();
                let user = match &revive {
                    Some(u) => {
                        users::push_update(
                            &mut script,
                            &caller.org_id,
                            &u.id,
                            &attrs,
                            None,
                            true,
                            now,
                        );
                        written(&caller.org_id, &u.id, &attrs, Some(u), now)
                    }
                    None => {
                        let id = new_id();
                        users::push_insert(
                            &mut script,
                            &caller.org_id,
                            &id,
                            &attrs,
                            Source::Scim,
                            now,
                        );
                        written(&caller.org_id, &id, &attrs, None, now)
                    }
                };
                let msg = if revive.is_some() {
                    format!(
                        "Re-provisioned {} (restored the soft-deleted user with its history)",
                        user.user_name
                    )
                } else {
                    format!("Created {}", user.user_name)
                };
                script.push(events::insert_statement(
                    event(&caller, EV_CREATE, Some(&user.id), &Ok(msg)),
                    now,
                ));
                Ok(Planned {
                    script,
                    first_changes_one_row: true,
                    value: (user, revive.is_some()),
                })
            })
        })
        .await
        .map_err(|e| batch_err(e, &user_name))
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("User {id} not found."))
}

/// GET /Users/{id}; a soft-deleted user is 404.
pub async fn get(svc: &Services, caller: &Caller, id: &str) -> Result<StoredUser, ScimError> {
    let mut conn = svc.db.pool.acquire().await.map_err(sqlx_err)?;
    let r = users::get(&mut conn, &caller.org_id, id, false)
        .await
        .map_err(db_err)?;
    r.ok_or_else(|| not_found(id))
}

/// Refuses addresses outside the organisation's allowed email domains that the user did not
/// already have (`before`: the stored attributes, None on create).
fn check_domains(
    policy: &UserPolicy,
    attrs: &Value,
    before: Option<&Value>,
) -> Result<(), ScimError> {
    match policy.refused_address(attrs, before) {
        Some((attr, address)) => Err(ScimError::invalid_value(policy.refusal(attr, &address))),
        None => Ok(()),
    }
}

/// PUT (replace) and PATCH share this: read, compute, check the organisation's rules on the
/// result (only the final state counts), write with the version checked.
async fn modify(
    svc: &Services,
    caller: &Caller,
    id: &str,
    if_match: Option<i64>,
    compute: impl FnOnce(&StoredUser, &UserPolicy) -> Result<Value, ScimError> + Send + 'static,
) -> Result<(StoredUser, StoredUser), ScimError> {
    let now = svc.now();
    let policy = policy_of(svc, &caller.org_id).await?;
    let backend = svc.db.backend;
    let (caller_c, id_c) = (caller.clone(), id.to_string());
    // The userName being written, for the 409 of a unique index violated by the script.
    let new_name = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let new_name_c = new_name.clone();
    svc.db
        .batched(move |conn| {
            Box::pin(async move {
                let (caller, id) = (caller_c, id_c);
                // Without the lock, a concurrent writer on PostgreSQL would make the version
                // check below fail with a 412 the client never asked for (it sent no If-Match).
                users::lock_for_update(conn, backend, &caller.org_id, &id)
                    .await
                    .map_err(db_err)?;
                let before = users::get(conn, &caller.org_id, &id, false)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| not_found(&id))?;
                if let Some(v) = if_match {
                    if v != before.version {
                        return Err(ScimError::precondition_failed());
                    }
                }
                let attrs = compute(&before, &policy)?;
                check_domains(&policy, &attrs, Some(&before.attributes))?;
                check_rename(conn, &caller, &before, &attrs).await?;
                let after = written(&caller.org_id, &id, &attrs, Some(&before), now);
                if let Ok(mut n) = new_name_c.lock() {
                    n.clone_from(&after.user_name);
                }
                let (name, msg) = describe_change(&before, &after);
                let mut script = Script::new();
                users::push_update(
                    &mut script,
                    &caller.org_id,
                    &id,
                    &attrs,
                    Some(before.version),
                    false,
                    now,
                );
                script.push(events::insert_statement(
                    event(&caller, name, Some(&id), &Ok(msg)),
                    now,
                ));
                Ok(Planned {
                    script,
                    first_changes_one_row: true,
                    value: (before, after),
                })
            })
        })
        .await
        .map_err(|e| match e {
            // The version moved under the write (it cannot while the row is locked): 412.
            BatchError::Db(sqlx::Error::RowNotFound) => ScimError::precondition_failed(),
            BatchError::Db(e) => {
                let name = new_name.lock().map(|n| n.clone()).unwrap_or_default();
                db_err(users::map_unique(e, &name))
            }
            BatchError::Job(e) => e,
        })
}

/// A PUT or PATCH that renames a user onto another user's `userName` of the same organisation
/// (compared case-insensitively, soft-deleted users included: they keep their name until purged)
/// is a 409 `uniqueness` naming the holder, before anything is written. The unique index
/// `users_org_user_name` stays the guard against two renames racing past this check; its
/// violation maps to the same 409. Other organisations' names never matter.
async fn check_rename(
    tx: &mut sqlx::AnyConnection,
    caller: &Caller,
    before: &StoredUser,
    attrs: &Value,
) -> Result<(), ScimError> {
    let Some(new_name) = attrs.get("userName").and_then(Value::as_str) else {
        return Ok(());
    };
    if new_name == before.user_name {
        return Ok(());
    }
    let holder = users::find_by_user_name(tx, &caller.org_id, new_name)
        .await
        .map_err(db_err)?;
    match holder {
        Some(h) if h.id != before.id => Err(ScimError::uniqueness(if h.deleted_at.is_some() {
            format!(
                "userName {new_name:?} belongs to a deleted user (id {}) that can still be \
                 restored; it is free again once that user is purged.",
                h.id
            )
        } else {
            format!(
                "A user with userName {new_name:?} already exists (id {}).",
                h.id
            )
        })),
        _ => Ok(()),
    }
}

fn describe_change(before: &StoredUser, after: &StoredUser) -> (&'static str, String) {
    if before.active && !after.active {
        (EV_DEPROVISION, format!("Deactivated {}", after.user_name))
    } else if !before.active && after.active {
        (EV_UPDATE, format!("Reactivated {}", after.user_name))
    } else if before.attributes == after.attributes {
        (EV_UPDATE, format!("No change to {}", after.user_name))
    } else {
        (EV_UPDATE, format!("Updated {}", after.user_name))
    }
}

async fn finish_modify(
    svc: &Services,
    caller: &Caller,
    id: &str,
    result: Result<(StoredUser, StoredUser), ScimError>,
    body: &Value,
) -> Result<StoredUser, ScimError> {
    match result {
        Ok((_, after)) => Ok(after),
        Err(e) => {
            // A failed change that was meant to deactivate is reported as a deprovision failure.
            let name = if intends_deactivation(body) {
                EV_DEPROVISION
            } else {
                EV_UPDATE
            };
            let uid = (e.status != 404).then_some(id);
            record(svc, caller, name, uid, &Err(e.clone())).await;
            Err(e)
        }
    }
}

fn is_false(v: &Value) -> bool {
    matches!(v, Value::Bool(false)) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"))
}

fn get_ci<'a>(o: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Whether a PUT body or PATCH request sets `active` to false, so that its failure is reported
/// as a failed deprovision (the name IdPs use for it).
fn intends_deactivation(body: &Value) -> bool {
    let Some(o) = body.as_object() else {
        return false;
    };
    if get_ci(o, "active").is_some_and(is_false) {
        return true;
    }
    let ops = get_ci(o, "Operations").and_then(Value::as_array);
    ops.into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|op| {
            let value = get_ci(op, "value");
            let remove = get_ci(op, "op")
                .and_then(Value::as_str)
                .is_some_and(|o| o.eq_ignore_ascii_case("remove"));
            match get_ci(op, "path").and_then(Value::as_str) {
                Some(path) => {
                    path.trim().eq_ignore_ascii_case("active")
                        && (remove || value.is_some_and(|v| v.is_null() || is_false(v)))
                }
                None => value
                    .and_then(Value::as_object)
                    .and_then(|v| get_ci(v, "active"))
                    .is_some_and(is_false),
            }
        })
}

/// PUT /Users/{id}: the body replaces every attribute. A body without `active` keeps the
/// current value (Okta sends PUT without it).
pub async fn replace(
    svc: &Services,
    caller: &Caller,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
) -> Result<StoredUser, ScimError> {
    let body_c = body.clone();
    let result = modify(svc, caller, id, if_match, move |before, policy| {
        let body = &body_c;
        let mut attrs = normalized(body, before.active, policy)?;
        if let (Some(Value::String(given)), true) = (body.get("id"), body.get("id").is_some()) {
            if given != &before.id {
                return Err(ScimError::mutability(format!(
                    "The body's id ({given}) differs from the URL's ({}); id is read-only.",
                    before.id
                )));
            }
        }
        if attrs.get("active").is_none() {
            attrs["active"] = Value::Bool(before.active);
        }
        Ok(attrs)
    })
    .await;
    finish_modify(svc, caller, id, result, body).await
}

/// PATCH /Users/{id}.
pub async fn patch(
    svc: &Services,
    caller: &Caller,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
) -> Result<StoredUser, ScimError> {
    let body_c = body.clone();
    let result = modify(svc, caller, id, if_match, move |before, policy| {
        let body = &body_c;
        let mut current = before.attributes.clone();
        current["id"] = Value::String(before.id.clone());
        current["active"] = Value::Bool(before.active);
        let mut patched = scim_core::apply_patch(&current, body)?;
        // `active` was set above, so it is missing only when an operation removed it (`remove`,
        // or `replace` with null). RFC 7644 §3.5.2.2 leaves a removed single-valued attribute
        // "unassigned"; an unassigned permission to sign in is none, so the user is deactivated
        // (fail closed) and `active` is returned as false, never missing. /Schemas and the
        // README say so.
        if patched.get("active").is_none() {
            patched["active"] = Value::Bool(false);
        }
        normalized(&patched, before.active, policy)
    })
    .await;
    finish_modify(svc, caller, id, result, body).await
}

/// DELETE /Users/{id}: soft delete.
pub async fn delete(
    svc: &Services,
    caller: &Caller,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), ScimError> {
    let now = svc.now();
    let backend = svc.db.backend;
    let (caller_c, id_c) = (caller.clone(), id.to_string());
    let result = svc
        .db
        .batched(move |conn| {
            Box::pin(async move {
                let (caller, id) = (caller_c, id_c);
                users::lock_for_update(conn, backend, &caller.org_id, &id)
                    .await
                    .map_err(db_err)?;
                let before = users::get(conn, &caller.org_id, &id, false)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| not_found(&id))?;
                if let Some(v) = if_match {
                    if v != before.version {
                        return Err(ScimError::precondition_failed());
                    }
                }
                let msg = format!(
                    "Deleted {} (soft delete: restorable until purged)",
                    before.user_name
                );
                let mut script = Script::new();
                users::push_soft_delete(
                    &mut script,
                    &caller.org_id,
                    &id,
                    Some(before.version),
                    now,
                );
                script.push(events::insert_statement(
                    event(&caller, EV_DELETE, Some(&id), &Ok(msg)),
                    now,
                ));
                Ok(Planned {
                    script,
                    first_changes_one_row: true,
                    value: (),
                })
            })
        })
        .await
        .map_err(|e| match e {
            BatchError::Db(sqlx::Error::RowNotFound) => ScimError::precondition_failed(),
            BatchError::Db(e) => sqlx_err(e),
            BatchError::Job(e) => e,
        });
    if let Err(e) = &result {
        let uid = (e.status != 404).then_some(id);
        record(svc, caller, EV_DELETE, uid, &Err(e.clone())).await;
    }
    result
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub descending: bool,
}

pub struct ListPage {
    pub total: i64,
    pub start_index: i64,
    pub users: Vec<StoredUser>,
}

fn sort_column(attr: &str) -> Option<&'static str> {
    let a = attr
        .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:User:")
        .unwrap_or(attr)
        .to_ascii_lowercase();
    Some(match a.as_str() {
        "id" => "u.id",
        "username" => "lower(u.user_name)",
        "externalid" => "u.external_id",
        "displayname" => "lower(u.display_name)",
        "name.givenname" => "lower(u.given_name)",
        "name.familyname" => "lower(u.family_name)",
        "title" => "lower(u.title)",
        "emails" | "emails.value" => "lower(u.email)",
        "active" => "u.active",
        "meta.created" => "u.created_at",
        "meta.lastmodified" => "u.updated_at",
        _ => return None,
    })
}

/// GET /Users and POST /Users/.search.
pub async fn list(svc: &Services, caller: &Caller, q: &ListQuery) -> Result<ListPage, ScimError> {
    let result = list_inner(svc, caller, q).await;
    if let Err(e) = &result {
        // Lookups are only worth an event when they fail (as JumpCloud logs them).
        record(svc, caller, EV_LOOKUP, None, &Err(e.clone())).await;
    }
    result
}

pub(crate) async fn list_inner(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
) -> Result<ListPage, ScimError> {
    let start_index = q.start_index.unwrap_or(1).max(1);
    let count = q
        .count
        .unwrap_or(scim_core::schema::MAX_RESULTS as i64)
        .clamp(0, scim_core::schema::MAX_RESULTS as i64);
    let mut where_sql = String::from("u.org_id = $1 AND u.deleted_at IS NULL");
    let mut params: Vec<scim_filter::SqlParam> = Vec::new();
    if let Some(f) = q.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        let filter = scim_filter::parse_filter(f)
            .map_err(|e| ScimError::invalid_filter(format!("The filter is not valid: {e}")))?;
        let frag = scim_filter::to_sql_in_org(&filter, 2, "$1", &crate::users::SCIM_FILTER_COLUMNS)
            .map_err(|e| ScimError::invalid_filter(e.to_string()))?;
        where_sql.push_str(" AND ");
        where_sql.push_str(&frag.sql);
        params = frag.params;
    }
    let order = match q.sort_by.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => {
            let col = sort_column(s.trim()).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("sortBy '{s}' is not supported; use userName, displayName, name.givenName, name.familyName, externalId, emails.value, meta.created or meta.lastModified"),
                )
            })?;
            let dir = if q.descending { "DESC" } else { "ASC" };
            format!("{col} {dir}, u.created_at {dir}, u.id {dir}")
        }
        None => "u.created_at ASC, u.id ASC".to_string(),
    };
    fn bind_all<'q>(
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        org: &'q str,
        params: &'q [scim_filter::SqlParam],
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        query = query.bind(org);
        for p in params {
            query = match p {
                scim_filter::SqlParam::Text(s) => query.bind(s.as_str()),
                scim_filter::SqlParam::Int(i) => query.bind(*i),
                scim_filter::SqlParam::Float(f) => query.bind(*f),
            };
        }
        query
    }
    let mut conn = svc.db.pool.acquire().await.map_err(sqlx_err)?;
    let count_sql = format!("SELECT COUNT(*) AS n FROM users u WHERE {where_sql}");
    let total: i64 = {
        use sqlx::Row;
        let row = bind_all(sqlx::query(&count_sql), &caller.org_id, &params)
            .fetch_one(&mut *conn)
            .await
            .map_err(sqlx_err)?;
        row.try_get("n").map_err(sqlx_err)?
    };
    let mut users_out = Vec::new();
    if count > 0 && total >= start_index {
        // The page's ids come from an index-only walk; only those 100 rows are then read whole.
        let mut b = SqlBuilder::new(&format!(
            "SELECT {} FROM users u WHERE u.id IN (SELECT u.id FROM users u WHERE ",
            users::SELECT_COLUMNS
        ));
        // `where_sql` is numbered from $1 (the org id), then the filter's values.
        b.push_numbered(
            &where_sql,
            std::iter::once(SqlValue::from(caller.org_id.as_str()))
                .chain(params.iter().cloned().map(SqlValue::from)),
        )
        .push(&format!(" ORDER BY {order} LIMIT "))
        .push_bind(count)
        .push(" OFFSET ")
        .push_bind(start_index - 1)
        .push(&format!(") ORDER BY {order}"));
        let rows = b.query().fetch_all(&mut *conn).await.map_err(sqlx_err)?;
        for r in &rows {
            users_out.push(users::from_row(r).map_err(db_err)?);
        }
    }
    Ok(ListPage {
        total,
        start_index,
        users: users_out,
    })
}
