//! Organisations and their admins: creation, sign-in with throttling, lookup.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{CoreError, CoreResult};
use crate::events::{self, NewEvent};
use crate::ids::{new_id, new_org_id};
use crate::password::{self, PasswordHash};
use crate::throttle::Limit;
use crate::{Db, Services};

pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_ORG_NAME_LEN: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub retention_days: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
}

/// What an admin may do in their organisation. Stored as `owner` / `admin` / `viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including the admin team and the organisation's settings.
    Owner,
    /// Single sign-on, provisioning and users.
    Admin,
    /// Reads every screen and exports; changes nothing, never sees or generates a token.
    Viewer,
}

/// What an action needs. Every server function and route names one (`app::ssr::require`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read any screen of the org, export.
    Read,
    /// Change SSO, provisioning (SCIM tokens, setup links) and users.
    Manage,
    /// Change the admin team (invite, roles, remove) and the organisation's settings.
    Own,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    /// What the screens show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Viewer => "Viewer",
        }
    }

    /// Reads a stored or submitted role; anything else is refused.
    pub fn parse(raw: &str) -> CoreResult<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "viewer" => Ok(Self::Viewer),
            _ => Err(CoreError::invalid("Choose a role: Owner, Admin or Viewer.")),
        }
    }

    pub fn allows(self, needed: Permission) -> bool {
        match needed {
            Permission::Read => true,
            Permission::Manage => matches!(self, Self::Owner | Self::Admin),
            Permission::Own => self == Self::Owner,
        }
    }
}

/// A role read from the database. A value this version does not know gives the least access.
pub fn stored_role(raw: &str) -> Role {
    Role::parse(raw).unwrap_or(Role::Viewer)
}

/// Normalises and checks an email address; the message says what is wrong.
pub fn validate_email(raw: &str) -> CoreResult<String> {
    let email = raw.trim();
    if email.is_empty() {
        return Err(CoreError::invalid("Enter an email address."));
    }
    if email.chars().count() > MAX_EMAIL_LEN {
        return Err(CoreError::invalid(format!(
            "The email address must be at most {MAX_EMAIL_LEN} characters."
        )));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !valid {
        return Err(CoreError::invalid(
            "Enter a valid email address, like name@example.com.",
        ));
    }
    Ok(email.to_string())
}

pub fn validate_org_name(raw: &str) -> CoreResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(CoreError::invalid("Enter the organisation's name."));
    }
    if name.chars().count() > MAX_ORG_NAME_LEN {
        return Err(CoreError::invalid(format!(
            "The organisation name must be at most {MAX_ORG_NAME_LEN} characters."
        )));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(CoreError::invalid(
            "The organisation name contains control characters.",
        ));
    }
    Ok(name.to_string())
}

fn org_from_row(row: &sqlx::any::AnyRow) -> CoreResult<Org> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        retention_days: row.try_get("retention_days")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn org_by_id(db: &Db, org_id: &str) -> CoreResult<Option<Org>> {
    let row = sqlx::query("SELECT id, name, retention_days, created_at FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(org_from_row).transpose()
}

pub async fn org_count(db: &Db) -> CoreResult<i64> {
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orgs")
        .fetch_one(&db.pool)
        .await?;
    Ok(n.0)
}

pub async fn admin_by_id(db: &Db, admin_id: &str) -> CoreResult<Option<Admin>> {
    let row = sqlx::query("SELECT id, org_id, email, role FROM admins WHERE id = $1")
        .bind(admin_id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(admin_from_row).transpose()
}

/// An `admins` row selected with at least `id, org_id, email, role`.
pub fn admin_from_row(r: &sqlx::any::AnyRow) -> CoreResult<Admin> {
    Ok(Admin {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        email: r.try_get("email")?,
        role: stored_role(&r.try_get::<String, _>("role")?),
    })
}

/// Input for creating an admin (first-run setup and `create-admin`).
pub struct NewAdmin<'a> {
    pub org_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Validates everything before writing anything.
pub fn validate_new_admin(input: &NewAdmin<'_>) -> CoreResult<(String, String)> {
    let org_name = validate_org_name(input.org_name)?;
    let email = validate_email(input.email)?;
    password::validate_new_password(input.password)?;
    Ok((org_name, email))
}

/// Creates the admin, and the organisation when no organisation of that name exists yet, in one
/// transaction. Returns (org, admin, org_created).
pub async fn create_admin_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_name: &str,
    email: &str,
    hash: &PasswordHash,
    now: i64,
) -> CoreResult<(Org, Admin, bool)> {
    create_admin_in_tx_as(tx, org_name, email, hash, Role::Owner, now).await
}

/// As [`create_admin_in_tx`], with the role of the new admin. A new organisation's first admin
/// is always its Owner (an organisation always keeps one).
pub async fn create_admin_in_tx_as(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_name: &str,
    email: &str,
    hash: &PasswordHash,
    role: Role,
    now: i64,
) -> CoreResult<(Org, Admin, bool)> {
    let existing = sqlx::query(
        "SELECT id, name, retention_days, created_at FROM orgs WHERE lower(name) = lower($1)",
    )
    .bind(org_name)
    .fetch_optional(&mut **tx)
    .await?;
    let (org, created) = match existing {
        Some(row) => (org_from_row(&row)?, false),
        None => {
            let org = Org {
                id: new_org_id(),
                name: org_name.to_string(),
                retention_days: 30,
                created_at: now,
            };
            sqlx::query(
                "INSERT INTO orgs (id, name, retention_days, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&org.id)
            .bind(&org.name)
            .bind(org.retention_days)
            .bind(org.created_at)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if CoreError::is_unique_violation(&e) {
                    CoreError::Conflict("An organisation with that name already exists.".into())
                } else {
                    e.into()
                }
            })?;
            (org, true)
        }
    };
    if created && role != Role::Owner {
        return Err(CoreError::invalid(
            "A new organisation's first admin is its Owner: create the Owner first, then add \
             Admins and Viewers.",
        ));
    }
    let admin = Admin {
        id: new_id(),
        org_id: org.id.clone(),
        email: email.to_string(),
        role,
    };
    sqlx::query(
        "INSERT INTO admins (id, org_id, email, password_hash, created_at, role) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&admin.id)
    .bind(&admin.org_id)
    .bind(&admin.email)
    .bind(hash.as_str())
    .bind(now)
    .bind(admin.role.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if CoreError::is_unique_violation(&e) {
            CoreError::Conflict("An admin with that email address already exists.".into())
        } else {
            e.into()
        }
    })?;
    events::record_in_tx(
        tx,
        NewEvent::admin(
            &org.id,
            &admin.email,
            "admin_create",
            &format!("Admin account created ({})", admin.role.label()),
        ),
        now,
    )
    .await?;
    Ok((org, admin, created))
}

/// Adds an admin with `role` to an existing organisation (an accepted invitation; tests). The
/// caller validated the email and records the event.
pub async fn insert_member_in_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    email: &str,
    hash: &PasswordHash,
    role: Role,
    invited_by: Option<&str>,
    now: i64,
) -> CoreResult<Admin> {
    let admin = Admin {
        id: new_id(),
        org_id: org_id.to_string(),
        email: email.to_string(),
        role,
    };
    sqlx::query(
        "INSERT INTO admins (id, org_id, email, password_hash, created_at, role, invited_by, password_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5)",
    )
    .bind(&admin.id)
    .bind(&admin.org_id)
    .bind(&admin.email)
    .bind(hash.as_str())
    .bind(now)
    .bind(role.as_str())
    .bind(invited_by)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if CoreError::is_unique_violation(&e) {
            CoreError::Conflict("An admin with that email address already exists.".into())
        } else {
            e.into()
        }
    })?;
    Ok(admin)
}

/// `create-admin` for operators: creates the organisation when missing, then the admin (an
/// Owner).
pub async fn create_admin(svc: &Services, input: NewAdmin<'_>) -> CoreResult<(Org, Admin, bool)> {
    create_admin_as(svc, input, Role::Owner).await
}

/// `create-admin --role …`: as [`create_admin`], with the new admin's role.
pub async fn create_admin_as(
    svc: &Services,
    input: NewAdmin<'_>,
    role: Role,
) -> CoreResult<(Org, Admin, bool)> {
    let (org_name, email) = validate_new_admin(&input)?;
    let hash = svc.argon2.hash(input.password.to_string()).await?;
    let now = svc.now();
    let mut tx = svc.db.begin_write().await?;
    let out = create_admin_in_tx_as(&mut tx, &org_name, &email, &hash, role, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// What an Admin or Viewer of an organisation that requires SSO for admins is told at the
/// password form.
pub const SSO_REQUIRED: &str = "Your organisation requires single sign-on for administrators. \
     Use \"Sign in with SSO\" with your Org ID.";

/// Whether the organisation's Owners turned on "Require single sign-on for admins".
pub async fn requires_sso_for_admins(db: &Db, org_id: &str) -> CoreResult<bool> {
    // Only while SSO is set up: deactivating SSO must not lock Admins and Viewers out.
    let v: Option<(i64,)> = sqlx::query_as(
        "SELECT o.require_sso_for_admins FROM orgs o \
         WHERE o.id = $1 AND EXISTS (SELECT 1 FROM sso_configs c WHERE c.org_id = o.id)",
    )
    .bind(org_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(v.is_some_and(|(v,)| v != 0))
}

/// A successful sign-in: the admin and, when the browser was not yet a trusted device of this
/// account, the device token to give it (as a long-lived cookie).
#[derive(Debug)]
pub struct SignedIn {
    pub admin: Admin,
    pub new_device: Option<crate::secret::Secret>,
}

/// Devices remembered per admin; older ones are forgotten.
pub const MAX_DEVICES_PER_ADMIN: i64 = 10;

/// Email + password sign-in without a device token (CLI tools and tests).
pub async fn authenticate(
    svc: &Services,
    email: &str,
    password: &str,
    client: &str,
) -> CoreResult<Admin> {
    authenticate_device(svc, email, password, client, None)
        .await
        .map(|s| s.admin)
}

/// Email + password sign-in. Unknown email and wrong password give the same error and cost the
/// same time. Limits (`ThrottlePolicy`) are taken before the password is checked, atomically, so
/// a burst gets exactly the allowed number of guesses; a trusted device (`device`, the token a
/// previous sign-in of this account gave this browser) has its own limit instead of the
/// account-wide one, so nobody elsewhere can keep the real admin out.
pub async fn authenticate_device(
    svc: &Services,
    email: &str,
    password: &str,
    client: &str,
    device: Option<&str>,
) -> CoreResult<SignedIn> {
    let email = email.trim();
    if email.is_empty() || password.is_empty() {
        return Err(CoreError::invalid("Enter your email address and password."));
    }
    // Control characters (NUL among them) never reach the database.
    if email.chars().count() > MAX_EMAIL_LEN
        || password.chars().count() > password::MAX_PASSWORD_LEN
        || email.chars().any(char::is_control)
    {
        return Err(CoreError::BadCredentials);
    }
    let now = svc.now();
    let policy = svc.settings.throttle;
    let email_key = email.to_lowercase();
    let device_hash = match device.filter(|d| crate::secret::is_well_formed(d)) {
        Some(d) => {
            let hash = crate::secret::sha256_hex(d);
            let row = sqlx::query(
                "SELECT d.token_hash FROM admin_devices d JOIN admins a ON a.id = d.admin_id \
                 WHERE d.token_hash = $1 AND lower(a.email) = lower($2)",
            )
            .bind(&hash)
            .bind(email)
            .fetch_optional(&svc.db.pool)
            .await?;
            row.map(|_| hash)
        }
        None => None,
    };
    let acct_client_key = format!("acct-ip:{email_key}:{client}");
    let acct_key = format!("acct:{email_key}");
    let limits = match &device_hash {
        Some(hash) => vec![Limit::new(
            format!("dev:{hash}"),
            policy.max_per_device,
            policy.window_ms,
        )],
        None => vec![
            Limit::new(
                acct_client_key.clone(),
                policy.max_per_account_client,
                policy.window_ms,
            ),
            Limit::new(
                format!("ip:{client}"),
                policy.max_per_client,
                policy.window_ms,
            ),
            Limit::new(acct_key, policy.max_per_account, policy.account_window_ms),
        ],
    };
    let hits = match crate::throttle::take_hits(&svc.db, &limits, now).await? {
        Ok(hits) => hits,
        Err(secs) => {
            return Err(CoreError::Throttled {
                retry_after_secs: secs,
            })
        }
    };
    let row = sqlx::query(
        "SELECT id, org_id, email, role, password_hash FROM admins WHERE lower(email) = lower($1)",
    )
    .bind(email)
    .fetch_optional(&svc.db.pool)
    .await?;
    let (admin, stored, stored_text) = match row {
        Some(r) => {
            let text: String = r.try_get("password_hash")?;
            (
                Some(admin_from_row(&r)?),
                PasswordHash::from_stored(text.clone()),
                text,
            )
        }
        None => (None, password::dummy_hash().clone(), String::new()),
    };
    let ok = match svc.argon2.verify(password.to_string(), stored).await {
        Ok(ok) => ok,
        Err(busy @ CoreError::Busy { .. }) => {
            // No password was checked: the attempt does not count.
            crate::throttle::give_back(&svc.db, &hits).await?;
            return Err(busy);
        }
        Err(e) => return Err(e),
    };
    let Some(admin) = admin.filter(|_| ok) else {
        return Err(CoreError::BadCredentials);
    };
    // An organisation that requires SSO for admins keeps the password for its Owners only (the
    // break-glass path when the IdP is down). Said only after the password was right.
    if admin.role != Role::Owner && requires_sso_for_admins(&svc.db, &admin.org_id).await? {
        return Err(CoreError::Forbidden(SSO_REQUIRED.to_string()));
    }
    // Only this client's count for the account is forgotten: the account-wide window keeps
    // sliding, so the real admin signing in does not hand a distributed guesser a fresh budget.
    crate::throttle::clear(&svc.db, &acct_client_key).await?;
    let mut tx = svc.db.begin_write().await?;
    let new_device = match &device_hash {
        Some(hash) => {
            sqlx::query("UPDATE admin_devices SET last_used_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(hash)
                .execute(&mut **tx)
                .await?;
            None
        }
        None => {
            let token = crate::secret::Secret::generate();
            sqlx::query(
                "INSERT INTO admin_devices (token_hash, admin_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)",
            )
            .bind(token.hash())
            .bind(&admin.id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "DELETE FROM admin_devices WHERE admin_id = $1 AND token_hash NOT IN \
                 (SELECT token_hash FROM admin_devices WHERE admin_id = $1 \
                  ORDER BY last_used_at DESC, created_at DESC LIMIT $2)",
            )
            .bind(&admin.id)
            .bind(MAX_DEVICES_PER_ADMIN)
            .execute(&mut **tx)
            .await?;
            Some(token)
        }
    };
    // Only while the password checked is still the account's: a reset or change that committed
    // during the (slow) check signed every session out and must not let this one in.
    let still =
        sqlx::query("UPDATE admins SET last_sign_in_at = $1 WHERE id = $2 AND password_hash = $3")
            .bind(now)
            .bind(&admin.id)
            .bind(&stored_text)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if still != 1 {
        return Err(CoreError::BadCredentials);
    }
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            &admin.org_id,
            &admin.email,
            "admin_sign_in",
            "Admin signed in",
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn { admin, new_device })
}
