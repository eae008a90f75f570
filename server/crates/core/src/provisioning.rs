//! SCIM operations on the user store, each one transaction plus one activity event, with errors
//! already in SCIM form. The HTTP layer only parses and authenticates.

use scim_core::{ScimError, ScimType};
use serde_json::{json, Value};

use crate::db::{BatchError, Planned};
use crate::error::CoreError;
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::list_seek;
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
    /// The organisation's user rules when the caller already has them (the SCIM token check
    /// reads them in its statement, [`crate::scim_tokens::Authenticated::policy`]); None: a
    /// write reads them itself. Either is read before the write, which a settings change may
    /// overlap (see [`policy_of`]).
    pub policy: Option<UserPolicy>,
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
    with_meta(u.attributes.clone(), u, base_url)
}

/// [`to_json`] without copying the attributes (a list page renders each user once).
pub fn into_json(mut u: StoredUser, base_url: &str) -> Value {
    let attributes = std::mem::take(&mut u.attributes);
    with_meta(attributes, &u, base_url)
}

fn with_meta(v: Value, u: &StoredUser, base_url: &str) -> Value {
    with_meta_of(
        v,
        &u.id,
        u.active,
        u.created_at,
        u.updated_at,
        u.version,
        base_url,
    )
}

/// Stored attributes + `id`, `active` and `meta` (what [`to_json`] adds).
pub(crate) fn with_meta_of(
    mut v: Value,
    id: &str,
    active: bool,
    created_at: i64,
    updated_at: i64,
    version: i64,
    base_url: &str,
) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), Value::String(id.to_string()));
        o.insert("active".into(), Value::Bool(active));
        o.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": crate::clock::rfc3339(created_at),
                "lastModified": crate::clock::rfc3339(updated_at),
                "location": format!("{base_url}/Users/{id}"),
                "version": etag(version),
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
        let mut tx = svc.db.begin_write_no_credentials().await?;
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
/// reading it inside would hold SQLite's single writer for one more round trip. Over HTTP they
/// come with the token check (`Caller::policy`), before the body is read: a client that sends its
/// body slowly writes under the rules of when its request began (within the request timeout), as
/// it is authorised by the token that was current then.
async fn policy_of(svc: &Services, caller: &Caller) -> Result<UserPolicy, ScimError> {
    if let Some(p) = &caller.policy {
        return Ok(p.clone());
    }
    let mut conn = svc.db.pool.acquire().await.map_err(sqlx_err)?;
    org_settings::user_policy(&mut conn, &caller.org_id)
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
    let policy = policy_of(svc, caller).await?;
    let attrs = normalized(body, true, &policy)?;
    check_domains(&policy, &attrs, None)?;
    let user_name = attrs["userName"].as_str().unwrap_or_default().to_string();
    if let Some(created) = create_new(svc, caller, &attrs, now).await {
        return Ok((created, false));
    }
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
        .map_err(|e| match e {
            // The soft-deleted user was restored by a racing request in the meantime.
            BatchError::Db(sqlx::Error::RowNotFound) => ScimError::uniqueness(format!(
                "A user with userName {user_name:?} was just created or restored by another request."
            )),
            e => batch_err(e, &user_name),
        })
}

/// The usual create, a user new to the org, written without reading first: one round trip to
/// SQLite inside the write turn instead of two. The insert itself checks what the read would
/// have (`users::push_insert_new_scim_user`); when it finds a user to bring back or a userName
/// taken, or fails for any other reason, its statements are undone and None sends the request
/// the way that reads first, which decides (and words the error) as before.
async fn create_new(
    svc: &Services,
    caller: &Caller,
    attrs: &Value,
    now: i64,
) -> Option<StoredUser> {
    let id = new_id();
    let user = written(&caller.org_id, &id, attrs, None, now);
    let mut script = Script::new();
    users::push_insert_new_scim_user(&mut script, &caller.org_id, &id, attrs, now);
    script.push(events::insert_statement(
        event(
            caller,
            EV_CREATE,
            Some(&id),
            &Ok(format!("Created {}", user.user_name)),
        ),
        now,
    ));
    svc.db
        .batched(move |_conn| {
            Box::pin(async move {
                Ok::<_, ScimError>(Planned {
                    script,
                    first_changes_one_row: true,
                    value: user,
                })
            })
        })
        .await
        .ok()
}

/// Inside a batched write: the live user `id` of the org, locked on PostgreSQL (without the lock
/// a concurrent writer would make the version check fail with a 412 the client never asked for)
/// and checked against the client's `If-Match`.
async fn current_for_write(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    org_id: &str,
    id: &str,
    if_match: Option<i64>,
) -> Result<StoredUser, ScimError> {
    users::lock_for_update(conn, backend, org_id, id)
        .await
        .map_err(db_err)?;
    let before = users::get(conn, org_id, id, false)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(id))?;
    if if_match.is_some_and(|v| v != before.version) {
        return Err(ScimError::precondition_failed());
    }
    Ok(before)
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

/// GET /Users/{id} as the SCIM transport renders it: the user with its attributes as stored
/// (text) and its groups (id, displayName), read on one connection.
pub async fn get_raw(
    svc: &Services,
    caller: &Caller,
    id: &str,
) -> Result<(users::RawUser, Vec<(String, String)>), ScimError> {
    let mut conn = svc.db.reader().await.map_err(sqlx_err)?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM users u WHERE u.org_id = $1 AND u.id = $2 AND u.deleted_at IS NULL",
        users::SELECT_COLUMNS
    ))
    .bind(&caller.org_id)
    .bind(id)
    // Read to the end (one row at most), as a kept connection must be (`Db::reader`).
    .fetch_all(&mut *conn)
    .await
    .map_err(sqlx_err)?
    .pop();
    let Some(row) = row else {
        conn.done();
        return Err(not_found(id));
    };
    let user = users::RawUser::from_row(&row).map_err(db_err)?;
    let mut groups =
        crate::groups::groups_of_users(&mut conn, &caller.org_id, std::slice::from_ref(&user.id))
            .await
            .map_err(db_err)?;
    conn.done();
    let groups = groups.remove(&user.id).unwrap_or_default();
    Ok((user, groups))
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
    let policy = policy_of(svc, caller).await?;
    let backend = svc.db.backend;
    let (caller_c, id_c) = (caller.clone(), id.to_string());
    // The userName being written, for the 409 of a unique index violated by the script.
    let new_name = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let new_name_c = new_name.clone();
    svc.db
        .batched(move |conn| {
            Box::pin(async move {
                let (caller, id) = (caller_c, id_c);
                let before =
                    current_for_write(conn, backend, &caller.org_id, &id, if_match).await?;
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
                let before =
                    current_for_write(conn, backend, &caller.org_id, &id, if_match).await?;
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

pub struct ListPage<U = StoredUser> {
    pub total: i64,
    pub start_index: i64,
    pub users: Vec<U>,
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

/// SCIM's list order when no sortBy is given.
const DEFAULT_ORDER: &str = "u.created_at ASC, u.id ASC";

/// A list's condition: the SQL numbered from `$1` (the org id), the filter's values after it, and
/// whether the filter can match one user at most.
struct ListWhere {
    sql: String,
    params: Vec<scim_filter::SqlParam>,
    unique: bool,
}

/// `userName eq "…"`, the lookup every IdP makes before it writes a user: userName is unique in
/// the organisation (index `users_org_user_name`, live and soft-deleted users alike).
fn is_user_name_eq(f: &scim_filter::Filter) -> bool {
    use scim_filter::{CompValue, CompareOp, Filter};
    matches!(f, Filter::Compare { attr, op: CompareOp::Eq, value: CompValue::String(_) }
    if attr.sub.is_none()
        && attr.name.eq_ignore_ascii_case("userName")
        && attr.urn.as_deref().is_none_or(|u| {
            u.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:User")
        }))
}

fn list_where(filter: &str) -> Result<ListWhere, ScimError> {
    let mut sql = String::from("u.org_id = $1 AND u.deleted_at IS NULL");
    if filter.trim().is_empty() {
        return Ok(ListWhere {
            sql,
            params: Vec::new(),
            unique: false,
        });
    }
    let filter = scim_filter::parse_filter(filter)
        .map_err(|e| ScimError::invalid_filter(format!("The filter is not valid: {e}")))?;
    let frag = scim_filter::to_sql_in_org(&filter, 2, "$1", &crate::users::SCIM_FILTER_COLUMNS)
        .map_err(|e| ScimError::invalid_filter(e.to_string()))?;
    sql.push_str(" AND ");
    sql.push_str(&frag.sql);
    Ok(ListWhere {
        sql,
        params: frag.params,
        unique: is_user_name_eq(&filter),
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

/// [`list`] with each user's attributes as stored (text): what the SCIM transport renders
/// without parsing them (`crate::user_json`).
pub async fn list_raw(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
) -> Result<ListPage<users::RawUser>, ScimError> {
    let result = list_rows(
        svc,
        caller,
        q,
        users::RawUser::from_row,
        Some(users::RawUser::from_page_text),
    )
    .await;
    if let Err(e) = &result {
        record(svc, caller, EV_LOOKUP, None, &Err(e.clone())).await;
    }
    result
}

pub(crate) async fn list_inner(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
) -> Result<ListPage, ScimError> {
    list_rows(svc, caller, q, users::from_row, None).await
}

/// Splits a page read as one value into its users.
type PageOf<U> = fn(&str) -> crate::error::CoreResult<Vec<U>>;

async fn list_rows<U>(
    svc: &Services,
    caller: &Caller,
    q: &ListQuery,
    user_of: fn(&sqlx::any::AnyRow) -> crate::error::CoreResult<U>,
    // The page read as one value (`users::raw_page_select`) and split by this.
    page_of: Option<PageOf<U>>,
) -> Result<ListPage<U>, ScimError> {
    let start_index = q.start_index.unwrap_or(1).max(1);
    let count = q
        .count
        .unwrap_or(scim_core::schema::MAX_RESULTS as i64)
        .clamp(0, scim_core::schema::MAX_RESULTS as i64);
    let ListWhere {
        sql: where_sql,
        params,
        unique,
    } = list_where(q.filter.as_deref().unwrap_or_default())?;
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
        None => DEFAULT_ORDER.to_string(),
    };
    let filtered = q.filter.as_deref().is_some_and(|f| !f.trim().is_empty());
    let where_params = || {
        std::iter::once(SqlValue::from(caller.org_id.as_str()))
            .chain(params.iter().cloned().map(SqlValue::from))
    };
    if unique {
        // `userName eq "…"`: its one value is the lower-cased name.
        let name = match params.as_slice() {
            [scim_filter::SqlParam::Text(name)] => Some(name.as_str()),
            _ => None,
        };
        let rows = match name {
            Some(name) => svc
                .db
                .lookup_user_name(&caller.org_id, name)
                .await
                .map_err(sqlx_err)?,
            None => None,
        };
        let rows = match rows {
            Some(rows) => rows,
            None => read_all(svc, &unique_match_statement(&where_sql, where_params())).await?,
        };
        if let Some(page) = unique_match_page(rows, start_index, count, user_of)? {
            return Ok(page);
        }
    }
    // The lookups IdPs make (`externalId eq …`, `emails.value eq …`) match one user or a few.
    if filtered && count > 0 {
        if let Some(page) = small_match_page(
            svc,
            &where_sql,
            where_params(),
            &order,
            start_index,
            count,
            user_of,
        )
        .await?
        {
            return Ok(page);
        }
    }
    // One snapshot for the total, the seek keys and the page, so they agree with each other.
    let mut tx = svc.db.pool.begin().await.map_err(sqlx_err)?;
    if svc.db.backend == crate::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(sqlx_err)?;
    }
    let (total, changes) = if filtered {
        let mut b = SqlBuilder::new("SELECT COUNT(*) FROM users u WHERE ");
        b.push_numbered(&where_sql, where_params());
        let (n,) = b
            .query_as::<(i64,)>()
            .fetch_one(&mut *tx)
            .await
            .map_err(sqlx_err)?;
        (n, 0)
    } else {
        // Kept by triggers (migration 0016): no COUNT(*) over the organisation's users.
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT), CAST(COALESCE(SUM(changes), 0) AS BIGINT) \
             FROM org_user_counts WHERE org_id = $1",
        )
        .bind(&caller.org_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(sqlx_err)?
    };
    let mut users_out = Vec::new();
    if count > 0 && total >= start_index {
        let mut offset = start_index - 1;
        // Deep pages in the default order start from a remembered key (crate::list_seek).
        let seek = if !filtered && q.sort_by.as_deref().is_none_or(|s| s.trim().is_empty()) {
            seek_key(
                &mut tx,
                svc,
                &caller.org_id,
                changes,
                offset / list_seek::EVERY,
            )
            .await?
        } else {
            None
        };
        // The page's ids come from an index-only walk; only those rows are then read whole.
        let select = match page_of {
            Some(_) => users::raw_page_select(svc.db.backend, &order),
            None => format!("SELECT {} FROM users u", users::SELECT_COLUMNS),
        };
        let mut b = SqlBuilder::new(&format!(
            "{select} WHERE u.id IN (SELECT u.id FROM users u WHERE "
        ));
        // `where_sql` is numbered from $1 (the org id), then the filter's values.
        b.push_numbered(&where_sql, where_params());
        if let Some((passed, (at, id))) = seek {
            offset -= passed;
            b.push(" AND (u.created_at, u.id) > (")
                .push_bind(at)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        b.push(&format!(" ORDER BY {order} LIMIT "))
            .push_bind(count)
            .push(" OFFSET ")
            .push_bind(offset)
            .push(")");
        if page_of.is_none() {
            b.push(&format!(" ORDER BY {order}"));
        }
        let rows = b.query().fetch_all(&mut *tx).await.map_err(sqlx_err)?;
        if let Some(page_of) = page_of {
            use sqlx::Row;
            let text: Option<String> = match rows.first() {
                Some(r) => r.try_get("page").map_err(sqlx_err)?,
                None => None,
            };
            if let Some(text) = text {
                users_out = page_of(&text).map_err(db_err)?;
            }
        } else {
            for r in &rows {
                users_out.push(user_of(r).map_err(db_err)?);
            }
        }
    }
    tx.commit().await.map_err(sqlx_err)?;
    Ok(ListPage {
        total,
        start_index,
        users: users_out,
    })
}

fn small_match_statement(
    where_sql: &str,
    where_params: impl Iterator<Item = SqlValue>,
    order: &str,
    start_index: i64,
    count: i64,
) -> SqlBuilder {
    let mut b = SqlBuilder::new("WITH m AS MATERIALIZED (SELECT u.id FROM users u WHERE ");
    b.push_numbered(where_sql, where_params)
        .push(" LIMIT ")
        .push_bind(SMALL_MATCH + 1)
        .push(&format!(
            ") SELECT {}, (SELECT COUNT(*) FROM m) AS matched FROM users u \
             WHERE u.id IN (SELECT m.id FROM m) ORDER BY {order} LIMIT ",
            users::SELECT_COLUMNS
        ))
        .push_bind(count)
        .push(" OFFSET ")
        .push_bind(start_index - 1);
    b
}

/// The statement that answers the first page (100 users, default order) of a filtered list in
/// `org_id`, first of all an IdP's lookup: what the query-plan tests explain.
pub fn filtered_page_statement(org_id: &str, filter: &str) -> Result<SqlBuilder, ScimError> {
    let w = list_where(filter)?;
    let params =
        std::iter::once(SqlValue::from(org_id)).chain(w.params.into_iter().map(SqlValue::from));
    Ok(if w.unique {
        unique_match_statement(&w.sql, params)
    } else {
        small_match_statement(
            &w.sql,
            params,
            DEFAULT_ORDER,
            1,
            scim_core::schema::MAX_RESULTS as i64,
        )
    })
}

/// The rows of a lookup's statement, on a connection kept between reads (`Db::reader`).
async fn read_all(svc: &Services, b: &SqlBuilder) -> Result<Vec<sqlx::any::AnyRow>, ScimError> {
    let mut conn = svc.db.reader().await.map_err(sqlx_err)?;
    let rows = b.query().fetch_all(&mut *conn).await.map_err(sqlx_err)?;
    conn.done();
    Ok(rows)
}

/// The match of a filter that matches one user at most, read through the filter's index alone:
/// no count, sort or page around it. (Two rows are asked for, to notice if it ever matched more.)
fn unique_match_statement(
    where_sql: &str,
    where_params: impl Iterator<Item = SqlValue>,
) -> SqlBuilder {
    let mut b = SqlBuilder::new(&format!(
        "SELECT {} FROM users u WHERE ",
        users::SELECT_COLUMNS
    ));
    b.push_numbered(where_sql, where_params).push(" LIMIT 2");
    b
}

/// The page of a filter that matches one user at most, from the rows of
/// [`unique_match_statement`] or of the shared lookup (`crate::lookups`); None if it matched more
/// after all (the caller then answers it as any filter).
fn unique_match_page<U>(
    rows: Vec<sqlx::any::AnyRow>,
    start_index: i64,
    count: i64,
    user_of: fn(&sqlx::any::AnyRow) -> crate::error::CoreResult<U>,
) -> Result<Option<ListPage<U>>, ScimError> {
    if rows.len() > 1 {
        return Ok(None);
    }
    let users = if start_index == 1 && count > 0 {
        rows.iter()
            .map(user_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?
    } else {
        Vec::new()
    };
    Ok(Some(ListPage {
        total: rows.len() as i64,
        start_index,
        users,
    }))
}

/// A filter matching at most this many users is answered by one statement
/// ([`small_match_page`]).
const SMALL_MATCH: i64 = 500;

/// The page of a filter that matches few users, with its exact total, in one statement: the
/// matches (at most [`SMALL_MATCH`] + 1) are found first, through the filter's own index, then
/// counted and sorted. Without that order a planner may walk the organisation's users in list
/// order and test the filter on each (PostgreSQL without statistics did, for every `userName eq`
/// lookup). None when the filter matches more, or when the page is empty past the first one (the
/// caller then counts).
async fn small_match_page<U>(
    svc: &Services,
    where_sql: &str,
    where_params: impl Iterator<Item = SqlValue>,
    order: &str,
    start_index: i64,
    count: i64,
    user_of: fn(&sqlx::any::AnyRow) -> crate::error::CoreResult<U>,
) -> Result<Option<ListPage<U>>, ScimError> {
    use sqlx::Row;
    let b = small_match_statement(where_sql, where_params, order, start_index, count);
    let rows = read_all(svc, &b).await?;
    let Some(first) = rows.first() else {
        // No row of the first page: nothing matches. Past it, the total is still unknown.
        return Ok((start_index == 1).then_some(ListPage {
            total: 0,
            start_index,
            users: Vec::new(),
        }));
    };
    let matched: i64 = first.try_get("matched").map_err(sqlx_err)?;
    if matched > SMALL_MATCH {
        return Ok(None);
    }
    let users = rows
        .iter()
        .map(user_of)
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(Some(ListPage {
        total: matched,
        start_index,
        users,
    }))
}

/// The remembered key nearest before the `blocks * EVERY`th live user of the organisation, as
/// (its position, its key); keys not yet known are read now, from the last known one, in the
/// caller's snapshot (`changes` was read in it too).
async fn seek_key(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    org_id: &str,
    changes: i64,
    blocks: i64,
) -> Result<Option<(i64, (i64, String))>, ScimError> {
    if blocks < 1 {
        return Ok(None);
    }
    let mut keys = svc.db.list_seeks.get(org_id, changes);
    let _turn = if (keys.len() as i64) < blocks {
        // Another request may be finding them now: wait for its turn to end, then look again.
        let turn = svc.db.list_seeks.finder(org_id).await;
        keys = svc.db.list_seeks.get(org_id, changes);
        Some(turn)
    } else {
        None
    };
    let known = keys.len();
    while (keys.len() as i64) < blocks {
        let mut b = SqlBuilder::new("SELECT u.created_at, u.id FROM users u WHERE u.org_id = ");
        b.push_bind(org_id).push(" AND u.deleted_at IS NULL");
        if let Some((at, id)) = keys.last() {
            b.push(" AND (u.created_at, u.id) > (")
                .push_bind(*at)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        b.push(" ORDER BY u.created_at, u.id LIMIT 1 OFFSET ")
            .push_bind(list_seek::EVERY - 1);
        match b
            .query_as::<(i64, String)>()
            .fetch_optional(&mut *conn)
            .await
            .map_err(sqlx_err)?
        {
            Some(key) => keys.push(key),
            None => break,
        }
    }
    let found = (keys.len() as i64).min(blocks);
    let key = match found {
        0 => None,
        n => Some((n * list_seek::EVERY, keys[(n - 1) as usize].clone())),
    };
    if keys.len() > known {
        svc.db.list_seeks.put(org_id, changes, keys);
    }
    Ok(key)
}
