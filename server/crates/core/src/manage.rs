//! Manual user management by admins (for organisations without SCIM, and for users SCIM does not
//! own), and the retention purge of soft-deleted users.

use serde_json::{json, Value};
use sqlx::Row;

use crate::admins::Admin;
use crate::error::{CoreError, CoreResult, Field};
use crate::events::{self, NewEvent};
use crate::ids::new_id;
use crate::org_settings::{self, UserPolicy};
use crate::users::{self, Source};
use crate::Services;

/// The fields an admin edits by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserForm {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub department: String,
    pub country: String,
    pub locality: String,
}

fn field(field: Field, name: &str, v: &str, max: usize) -> CoreResult<Option<String>> {
    let v = v.trim();
    if v.chars().count() > max {
        return Err(CoreError::invalid_field(
            field,
            format!("{name} must be at most {max} characters."),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(CoreError::invalid_field(
            field,
            format!("{name} contains control characters."),
        ));
    }
    Ok((!v.is_empty()).then(|| v.to_string()))
}

/// Builds the canonical SCIM attributes from the form (SSO JIT fills the same form from an
/// assertion and reports only the message), keeping the other stored attributes.
pub(crate) fn attributes(form: &UserForm, base: Option<&Value>, active: bool) -> CoreResult<Value> {
    form_attributes(form, base, active, &UserPolicy::default()).map_err(CoreError::without_field)
}

/// [`attributes`] for the admin's form: a refusal names the field to fix. The organisation's
/// `policy` decides whether an existing userName that differs from the email is kept (the
/// userName = work-email rule off) and which email domains are allowed.
fn form_attributes(
    form: &UserForm,
    base: Option<&Value>,
    active: bool,
    policy: &UserPolicy,
) -> CoreResult<Value> {
    let email = crate::admins::validate_email(&form.email).map_err(|e| e.in_field(Field::Email))?;
    let given = field(Field::GivenName, "First name", &form.given_name, 200)?;
    let family = field(Field::FamilyName, "Last name", &form.family_name, 200)?;
    let dept = field(Field::Department, "Department", &form.department, 200)?;
    let country = field(Field::Country, "Country", &form.country, 100)?;
    let city = field(Field::Locality, "City", &form.locality, 200)?;
    let mut r = base.cloned().unwrap_or_else(|| json!({}));
    // With the rule off, a userName that already differs from the work email (an Entra ID or
    // Okta UPN) is the user's sign-in name and stays; otherwise the userName follows the email.
    let keeps_user_name = !policy.username_equals_work_email
        && base.is_some_and(|b| {
            let c = users::columns(b);
            !c.user_name.is_empty()
                && c.email
                    .as_deref()
                    .is_none_or(|e| !e.eq_ignore_ascii_case(&c.user_name))
        });
    if !keeps_user_name {
        r["userName"] = json!(email);
    }
    r["active"] = json!(active);
    let mut name = serde_json::Map::new();
    if let Some(g) = given {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = family {
        name.insert("familyName".into(), json!(f));
    }
    r["name"] = Value::Object(name);
    r["emails"] = json!([{ "value": email, "type": "work", "primary": true }]);
    let mut addr = serde_json::Map::new();
    addr.insert("type".into(), json!("work"));
    if let Some(c) = country {
        addr.insert("country".into(), json!(c));
    }
    if let Some(c) = city {
        addr.insert("locality".into(), json!(c));
    }
    r["addresses"] = if addr.len() > 1 {
        json!([addr])
    } else {
        json!([])
    };
    let ent = users::ENTERPRISE_URN;
    match dept {
        Some(d) => r[ent] = json!({ "department": d }),
        None => {
            if let Some(o) = r.as_object_mut() {
                o.remove(ent);
            }
        }
    }
    // Re-validate through the same rules SCIM input follows.
    let n = scim_core::normalize_user_with(&r, policy.rules())
        .map_err(|e| CoreError::invalid(e.detail))?;
    let mut out = n.resource;
    if let Some((_, address)) = policy.refused_address(&out, base) {
        return Err(CoreError::invalid_field(
            Field::Email,
            format!(
                "{address} is outside this organisation's allowed email domains ({}).",
                policy.allowed_words()
            ),
        ));
    }
    out["active"] = json!(active);
    Ok(out)
}

/// Whether SCIM owns this user now: SCIM is on and the user came from SCIM.
pub async fn scim_managed(svc: &Services, org_id: &str, source: &str) -> CoreResult<bool> {
    // Called inside an admin's write, which holds SQLite's write turn: `is_on` writes nothing
    // (`status` would flush the waiting token use and wait for that turn).
    Ok(source == Source::Scim.as_str() && crate::scim_tokens::is_on(svc, org_id).await?)
}

fn admin_event(admin: &Admin, name: &str, user_id: &str, message: String) -> NewEvent {
    NewEvent {
        user_id: Some(user_id.to_string()),
        ..NewEvent::admin(&admin.org_id, &admin.email, name, &message)
    }
}

/// Records the admin's change on the user's timeline and commits it with the change.
async fn finish(
    mut tx: crate::db::WriteTx,
    admin: &Admin,
    name: &str,
    user_id: &str,
    message: String,
    now: i64,
) -> CoreResult<()> {
    events::record_in_tx(&mut tx, admin_event(admin, name, user_id, message), now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_user(svc: &Services, admin: &Admin, form: &UserForm) -> CoreResult<String> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let policy = org_settings::user_policy(&mut tx, &admin.org_id).await?;
    let attrs = form_attributes(form, None, true, &policy)?;
    let user_name = attrs["userName"].as_str().unwrap_or_default().to_string();
    if let Some(existing) = users::find_by_user_name(&mut tx, &admin.org_id, &user_name).await? {
        return Err(CoreError::Conflict(if existing.deleted_at.is_some() {
            format!("{user_name} is a deleted user of this organisation: restore it instead.")
        } else {
            format!("A user with the email {user_name} already exists.")
        }));
    }
    let id = new_id();
    users::insert(&mut tx, &admin.org_id, &id, &attrs, Source::Admin, now).await?;
    events::record_in_tx(
        &mut tx,
        admin_event(
            admin,
            "admin_user_create",
            &id,
            format!("Added {user_name}"),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn load_for_change(
    tx: &mut crate::db::WriteTx,
    svc: &Services,
    admin: &Admin,
    id: &str,
    version: i64,
) -> CoreResult<users::StoredUser> {
    let u = users::get(tx, &admin.org_id, id, true)
        .await?
        .ok_or(CoreError::NotFound)?;
    if u.version != version {
        return Err(CoreError::Stale);
    }
    if scim_managed(svc, &admin.org_id, &u.source).await? {
        return Err(CoreError::invalid(
            "This user is managed by your identity provider through SCIM: change it there.",
        ));
    }
    Ok(u)
}

pub async fn edit_user(
    svc: &Services,
    admin: &Admin,
    id: &str,
    version: i64,
    form: &UserForm,
) -> CoreResult<()> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let u = load_for_change(&mut tx, svc, admin, id, version).await?;
    if u.deleted_at.is_some() {
        return Err(CoreError::invalid("Restore this user before editing it."));
    }
    let policy = org_settings::user_policy(&mut tx, &admin.org_id).await?;
    let attrs = form_attributes(form, Some(&u.attributes), u.active, &policy)?;
    if !users::update(
        &mut tx,
        &admin.org_id,
        id,
        &attrs,
        Some(version),
        false,
        now,
    )
    .await?
    {
        return Err(CoreError::Stale);
    }
    finish(
        tx,
        admin,
        "admin_user_update",
        id,
        format!("Edited {}", u.user_name),
        now,
    )
    .await
}

/// Deactivate / reactivate.
pub async fn set_active(
    svc: &Services,
    admin: &Admin,
    id: &str,
    version: i64,
    active: bool,
) -> CoreResult<()> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let u = load_for_change(&mut tx, svc, admin, id, version).await?;
    if u.deleted_at.is_some() {
        return Err(CoreError::invalid("Restore this user first."));
    }
    let mut attrs = u.attributes.clone();
    attrs["active"] = json!(active);
    if !users::update(
        &mut tx,
        &admin.org_id,
        id,
        &attrs,
        Some(version),
        false,
        now,
    )
    .await?
    {
        return Err(CoreError::Stale);
    }
    let (name, verb) = if active {
        ("admin_user_reactivate", "Reactivated")
    } else {
        ("admin_user_deactivate", "Deactivated")
    };
    finish(tx, admin, name, id, format!("{verb} {}", u.user_name), now).await
}

pub async fn delete_user(svc: &Services, admin: &Admin, id: &str, version: i64) -> CoreResult<()> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let u = load_for_change(&mut tx, svc, admin, id, version).await?;
    if u.deleted_at.is_some() {
        return Err(CoreError::invalid("This user is already deleted."));
    }
    if !users::soft_delete(&mut tx, &admin.org_id, id, Some(version), now).await? {
        return Err(CoreError::Stale);
    }
    finish(
        tx,
        admin,
        "admin_user_delete",
        id,
        format!("Deleted {} (restorable until purged)", u.user_name),
        now,
    )
    .await
}

pub async fn restore_user(svc: &Services, admin: &Admin, id: &str, version: i64) -> CoreResult<()> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    // A purged user no longer exists: NotFound, nothing changes.
    let u = load_for_change(&mut tx, svc, admin, id, version).await?;
    if u.deleted_at.is_none() {
        return Err(CoreError::invalid("This user is not deleted."));
    }
    if !users::update(
        &mut tx,
        &admin.org_id,
        id,
        &u.attributes,
        Some(version),
        true,
        now,
    )
    .await?
    {
        return Err(CoreError::Stale);
    }
    finish(
        tx,
        admin,
        "admin_user_restore",
        id,
        format!("Restored {}", u.user_name),
        now,
    )
    .await
}

/// Purges soft-deleted users whose organisation's retention period has passed. Each purge is an
/// event. Returns how many users were purged.
pub async fn purge_expired(svc: &Services) -> CoreResult<u64> {
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let rows = sqlx::query(
        "SELECT u.id, u.org_id, u.user_name FROM users u JOIN orgs o ON o.id = u.org_id \
         WHERE u.deleted_at IS NOT NULL AND u.deleted_at + o.retention_days * 86400000 <= $1",
    )
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    let mut purged = 0;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let org_id: String = r.try_get("org_id")?;
        let user_name: String = r.try_get("user_name")?;
        // Restored (by an admin or a SCIM revival) since the list was read: not purged, and
        // no event says it was.
        let gone = sqlx::query("DELETE FROM users WHERE id = $1 AND deleted_at IS NOT NULL")
            .bind(&id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if gone != 1 {
            continue;
        }
        events::record_in_tx(
            &mut tx,
            NewEvent {
                org_id: org_id.clone(),
                name: "user_purge".into(),
                success: true,
                user_id: Some(id.clone()),
                actor: "system (retention)".into(),
                scim_type: None,
                message: format!("Purged {user_name}: deleted longer than the retention period"),
                detail: None,
            },
            now,
        )
        .await?;
        purged += 1;
    }
    tx.commit().await?;
    Ok(purged)
}

/// "N users will be purged on D": (count of deleted users, earliest purge time).
pub async fn purge_outlook(svc: &Services, org_id: &str) -> CoreResult<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(u.deleted_at + o.retention_days * 86400000) AS first \
         FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.org_id = $1 AND u.deleted_at IS NOT NULL",
    )
    .bind(org_id)
    .fetch_one(&svc.db.pool)
    .await?;
    Ok((row.try_get("n")?, row.try_get("first")?))
}
