//! The assertion consumer service: verify, then act — sign in, JIT-create, or report a Test
//! sign-in — with InResponseTo and the replay cache checked in the same transaction.

use super::*;
use crate::employees::Employee;
use crate::error::CoreError;
use crate::error::CoreResult;
use crate::events;
use crate::events::NewEvent;
use crate::ids::new_id;
use crate::manage::UserForm;
use crate::throttle::Limit;
use crate::users;
use crate::users::Source;
use crate::Services;
use portal_saml::attributes::profile;
use portal_saml::attributes::Profile;
use portal_saml::response;
use portal_saml::response::Expectations;
use portal_saml::response::Failure;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// What Test sign-in shows the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub success: bool,
    /// The precise failure, when it failed.
    pub failure: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub issuer: Option<String>,
    pub certificate_fingerprint: Option<String>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub profile: Option<Profile>,
    pub at: i64,
}

#[derive(Debug)]
pub enum AcsOutcome {
    SignedIn {
        employee: Employee,
        redirect: String,
    },
    /// An admin's Test sign-in finished; its result is stored under the request ID.
    Tested { request_id: String },
    /// An admin of the organisation signed in through SSO (their role is unchanged). An Owner
    /// still owes the second step (`second_step`): see `admin_sign_in`.
    AdminSignedIn {
        admin: crate::admins::Admin,
        second_step: bool,
    },
    /// Refused; the message is for the employee's page (the admin sees the detail in Recent SSO
    /// failures).
    Refused { message: String },
}

struct Pending {
    id: String,
    purpose: String,
    relay_state: Option<String>,
}

async fn pending_request(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    id: &str,
    browser: Option<&str>,
    now: i64,
) -> CoreResult<Option<Pending>> {
    let Some(browser) = browser else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT id, purpose, relay_state FROM saml_requests WHERE id = $1 AND org_id = $2 \
         AND browser_hash = $3 AND consumed_at IS NULL AND expires_at > $4",
    )
    .bind(id)
    .bind(org_id)
    .bind(browser_hash(browser))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Pending {
            id: r.try_get("id")?,
            purpose: r.try_get("purpose")?,
            relay_state: r.try_get("relay_state")?,
        })
    })
    .transpose()
}

fn failure_event(org_id: &str, user_id: Option<String>, reason: &str) -> NewEvent {
    NewEvent {
        org_id: org_id.to_string(),
        name: "sso_sign_in".into(),
        success: false,
        user_id,
        actor: "idp".into(),
        scim_type: None,
        message: format!("SSO sign-in refused: {reason}"),
        detail: Some(reason.to_string()),
    }
}

/// Failure events an ACS records per client and org, and per org.
pub const MAX_FAILURE_EVENTS_PER_CLIENT: i64 = 20;
pub const FAILURE_EVENTS_CLIENT_WINDOW_MS: i64 = 10 * 60_000;
pub const MAX_FAILURE_EVENTS_PER_ORG: i64 = 200;
pub const FAILURE_EVENTS_ORG_WINDOW_MS: i64 = 3_600_000;

const GENERIC_REFUSAL: &str = "Single sign-on did not work. Ask your administrator to check the \
     Single Sign-On settings (Recent SSO failures names the reason).";

/// Why a response was refused: the detail for the admins (Recent SSO failures) and the words
/// for the person at the browser.
struct Refusal {
    user_id: Option<String>,
    reason: String,
    message: String,
}

impl Refusal {
    fn new(user_id: Option<String>, reason: impl Into<String>) -> Self {
        Self {
            user_id,
            reason: reason.into(),
            message: GENERIC_REFUSAL.to_string(),
        }
    }

    /// What the employee is told instead of the generic words.
    fn telling(mut self, message: &str) -> Self {
        self.message = message.to_string();
        self
    }
}

/// Handles a POST to the ACS. Never trusts the message before it is verified; InResponseTo and
/// the replay cache are checked here, in the same transaction that acts on the assertion. Every
/// refusal, wherever `consume` finds it, is recorded and answered in one place (`refusal`).
pub async fn acs(
    svc: &Services,
    org_id: &str,
    saml_response: &str,
    posted_relay_state: Option<&str>,
    browser_secret: Option<&str>,
    client: &str,
) -> CoreResult<AcsOutcome> {
    let now = svc.now();
    let Some(cfg) = get(svc, org_id).await? else {
        // Unknown orgs and orgs without SSO look the same from outside.
        return Ok(AcsOutcome::Refused {
            message: "Single sign-on is not set up for this organisation.".into(),
        });
    };
    let consumed = consume(
        svc,
        &cfg,
        org_id,
        saml_response,
        posted_relay_state,
        browser_secret,
        now,
    )
    .await?;
    match consumed {
        Ok(outcome) => Ok(outcome),
        Err(r) => refusal(svc, org_id, client, r, now).await,
    }
}

/// Verifies and acts on a response; a refusal comes back as `Err(Refusal)`, with every write of
/// this attempt rolled back (the transaction is dropped on return).
async fn consume(
    svc: &Services,
    cfg: &SsoConfig,
    org_id: &str,
    saml_response: &str,
    posted_relay_state: Option<&str>,
    browser_secret: Option<&str>,
    now: i64,
) -> CoreResult<Result<AcsOutcome, Refusal>> {
    let urls = sp_urls(svc, org_id);
    let certs: Vec<Vec<u8>> = std::iter::once(&cfg.certificate)
        .chain(cfg.next_certificate.iter())
        .map(|c| c.der())
        .collect();
    let decoded = response::decode(saml_response);
    // Signature verification is CPU work in C: off the async workers.
    let verdict = match &decoded {
        Err(f) => Err(f.clone()),
        Ok(xml) => {
            let xml = xml.clone();
            let entity_id = urls.entity_id.clone();
            let acs_url = urls.acs_url.clone();
            let issuer = cfg.idp_entity_id.clone();
            let certs = certs.clone();
            tokio::task::spawn_blocking(move || {
                response::validate(
                    &xml,
                    &Expectations {
                        entity_id: &entity_id,
                        acs_url: &acs_url,
                        idp_issuer: issuer.as_deref(),
                        certificates: &certs,
                        now_ms: now,
                        skew_ms: SKEW_MS,
                    },
                )
            })
            .await
            .map_err(|e| CoreError::Internal(format!("SAML validation task: {e}")))?
        }
    };

    let verified = match verdict {
        Ok(v) => v,
        Err(failure) => {
            // A failed Test sign-in still reports to the admin who started it. The (unverified)
            // InResponseTo only routes the report; it grants nothing.
            let irt = decoded.as_deref().ok().and_then(unverified_in_response_to);
            return refuse(svc, org_id, &failure, irt.as_deref(), browser_secret, now).await;
        }
    };

    let mut tx = svc.db.begin_write().await?;
    // InResponseTo: when present it must be an outstanding request of this browser.
    let pending = match &verified.in_response_to {
        Some(irt) => match pending_request(&mut tx, org_id, irt, browser_secret, now).await? {
            Some(p) => {
                let used = sqlx::query(
                    "UPDATE saml_requests SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL",
                )
                .bind(now)
                .bind(&p.id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if used != 1 {
                    None
                } else {
                    Some(p)
                }
            }
            None => None,
        },
        None => None,
    };
    if let (Some(irt), None) = (&verified.in_response_to, &pending) {
        let reason = format!(
            "the response answers a request ({irt}) that this browser did not start, that was \
             already answered, or that expired"
        );
        return Ok(Err(Refusal::new(None, reason)));
    }
    if verified.in_response_to.is_none() && cfg.refuse_unsolicited {
        return Ok(Err(Refusal::new(
            None,
            "the response was not requested by this portal: IdP-initiated sign-in is turned off \
             for this organisation (employees start at the sign-in page)",
        )));
    }
    // Replay cache: an assertion ID is accepted once.
    let fresh = sqlx::query(
        "INSERT INTO saml_replay (org_id, assertion_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(org_id)
    .bind(&verified.assertion_id)
    .bind(verified.replay_until_ms)
    .execute(&mut **tx)
    .await;
    match fresh {
        Ok(_) => {}
        Err(e) if CoreError::is_unique_violation(&e) => {
            let reason = format!(
                "the assertion {} was already used (replay)",
                verified.assertion_id
            );
            return Ok(Err(Refusal::new(None, reason)));
        }
        Err(e) => return Err(e.into()),
    }

    let used_cert = if verified.certificate_index == 0 {
        &cfg.certificate
    } else {
        cfg.next_certificate.as_ref().unwrap_or(&cfg.certificate)
    };
    let prof = profile(&verified.name_id, &verified.attributes);

    if pending
        .as_ref()
        .is_some_and(|p| p.purpose == Purpose::AdminLogin.as_str())
    {
        return admin_sign_in(tx, org_id, &prof, &used_cert.fingerprint, now).await;
    }

    if let Some(p) = pending.as_ref().filter(|p| p.purpose == "test") {
        let result = TestResult {
            success: true,
            failure: None,
            name_id: Some(verified.name_id.clone()),
            name_id_format: verified.name_id_format.clone(),
            issuer: Some(verified.issuer.clone()),
            certificate_fingerprint: Some(used_cert.fingerprint.clone()),
            attributes: verified.attributes.clone(),
            profile: Some(prof),
            at: now,
        };
        store_test_result(&mut tx, &p.id, &result).await?;
        events::record_in_tx(
            &mut tx,
            NewEvent {
                org_id: org_id.to_string(),
                name: "sso_test".into(),
                success: true,
                user_id: None,
                actor: "idp".into(),
                scim_type: None,
                message: format!("Test sign-in succeeded for {}", verified.name_id),
                detail: None,
            },
            now,
        )
        .await?;
        mark_success(&mut tx, org_id, &used_cert.fingerprint, now).await?;
        tx.commit().await?;
        return Ok(Ok(AcsOutcome::Tested {
            request_id: p.id.clone(),
        }));
    }

    if prof.email_conflict {
        return Ok(Err(Refusal::new(
            None,
            "the assertion carried several different email addresses and no email NameID; \
             configure the IdP to send the user's email as NameID",
        )));
    }
    let Some(email) = prof.email.clone() else {
        return Ok(Err(Refusal::new(
            None,
            format!(
                "the assertion carried no email address: NameID was {:?} and no email attribute \
                 was sent",
                verified.name_id
            ),
        )));
    };
    let policy = crate::org_settings::user_policy(&mut tx, org_id).await?;
    let mut existing = match account_of(&mut tx, org_id, &email).await? {
        Ok(found) => found,
        Err(refused) => return Ok(Err(refused)),
    };
    if existing.is_none() && cfg.jit_enabled {
        // About to create the account: after any other sign-in of this org that is creating
        // one (a double click, two tabs), and then look again — that one may have made it.
        // Without this, the second insert fails on PostgreSQL's unique index.
        tx.lock_org(org_id).await?;
        existing = match account_of(&mut tx, org_id, &email).await? {
            Ok(found) => found,
            Err(refused) => return Ok(Err(refused)),
        };
    }
    let user_id = match existing {
        Some(u) if u.deleted_at.is_some() => {
            return Ok(Err(Refusal::new(
                Some(u.id),
                format!("{email} is a deleted user"),
            )
            .telling(
                "Your account has been deleted. Ask your administrator to restore it.",
            )));
        }
        Some(u) if !u.active => {
            return Ok(Err(Refusal::new(
                Some(u.id),
                format!("{email} is deactivated"),
            )
            .telling(
                "Your account is deactivated. Ask your administrator to reactivate it.",
            )));
        }
        Some(u) => u.id,
        None if !cfg.jit_enabled => {
            return Ok(Err(Refusal::new(
                None,
                format!("{email} has no account and JIT provisioning is off"),
            )
            .telling(
                "Your account has not been provisioned. Ask your administrator to add you.",
            )));
        }
        None if !policy.allows(&email) => {
            return Ok(Err(Refusal::new(
                None,
                format!(
                    "JIT refused to create {email}: its domain is outside the organisation's \
                     allowed email domains ({})",
                    policy.allowed_words()
                ),
            )
            .telling(
                "Your email address is not in a domain this organisation allows, so no account \
                 was created. Ask your administrator.",
            )));
        }
        None => match jit_create(&mut tx, org_id, &prof, &email, now).await {
            Ok(id) => id,
            Err(CoreError::Invalid(why)) => {
                return Ok(Err(Refusal::new(
                    None,
                    format!("JIT could not create {email}: {why}"),
                )));
            }
            // The IdP's provisioning (SCIM) created the account at this very moment: nothing of
            // this attempt is kept, and signing in again finds the account.
            Err(CoreError::Conflict(why)) => {
                return Ok(Err(Refusal::new(
                    None,
                    format!("JIT could not create {email}: {why}"),
                )
                .telling(
                    "Your account was being created at the same moment. Sign in again.",
                )));
            }
            Err(e) => return Err(e),
        },
    };
    let Some(employee) = crate::employees::employee(&mut tx, org_id, &user_id).await? else {
        return Err(CoreError::Internal("user vanished during sign-in".into()));
    };
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&user_id)
        .execute(&mut **tx)
        .await?;
    mark_success(&mut tx, org_id, &used_cert.fingerprint, now).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent {
            org_id: org_id.to_string(),
            name: "employee_sign_in".into(),
            success: true,
            user_id: Some(user_id.clone()),
            actor: employee.user_name.clone(),
            scim_type: None,
            message: format!(
                "Signed in with SSO ({}; certificate {})",
                if pending.is_some() {
                    "SP-initiated"
                } else {
                    "IdP-initiated"
                },
                short_fp(&used_cert.fingerprint)
            ),
            detail: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let redirect = pending
        .and_then(|p| p.relay_state)
        .or_else(|| local_path(posted_relay_state))
        .unwrap_or_else(|| "/app".to_string());
    Ok(Ok(AcsOutcome::SignedIn { employee, redirect }))
}

/// An admin's SSO sign-in: the asserted address must be an admin of this organisation (JIT never
/// creates admins); the role stays what the Owners made it.
async fn admin_sign_in(
    mut tx: crate::db::WriteTx,
    org_id: &str,
    prof: &Profile,
    fingerprint: &str,
    now: i64,
) -> CoreResult<Result<AcsOutcome, Refusal>> {
    const NOT_AN_ADMIN: &str = "Your identity provider signed you in, but your address is not an \
         administrator of this organisation. Ask an Owner to invite you.";
    if prof.email_conflict {
        return Ok(Err(Refusal::new(
            None,
            "admin sign-in: the assertion carried several different email addresses and no \
             email NameID",
        )));
    }
    let Some(email) = prof.email.clone() else {
        return Ok(Err(Refusal::new(
            None,
            "admin sign-in: the assertion carried no email address",
        )));
    };
    let row = sqlx::query(
        "SELECT id, org_id, email, role FROM admins WHERE org_id = $1 AND lower(email) = lower($2)",
    )
    .bind(org_id)
    .bind(&email)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(admin) = row
        .as_ref()
        .map(crate::admins::admin_from_row)
        .transpose()?
    else {
        return Ok(Err(Refusal::new(
            None,
            format!("admin sign-in: {email} is not an administrator of this organisation"),
        )
        .telling(NOT_AN_ADMIN)));
    };
    // Admins may change the IdP's certificate, so an assertion alone must not make anyone an
    // Owner: an Owner signing in through SSO completes their own second factor as well, and an
    // Owner without one signs in with the password (and sets one up).
    let second_step = admin.role == crate::admins::Role::Owner;
    if second_step {
        let factors: (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM admin_totp WHERE admin_id = $1 AND confirmed_at IS NOT NULL) \
                  + (SELECT COUNT(*) FROM admin_passkeys WHERE admin_id = $1)",
        )
        .bind(&admin.id)
        .fetch_one(&mut **tx)
        .await?;
        if factors.0 == 0 {
            return Ok(Err(Refusal::new(
                None,
                format!("admin sign-in: {email} is an Owner without a second factor"),
            )
            .telling(
                "Owners sign in through single sign-on only together with their second factor. \
                 Sign in with your password and set up two-factor authentication first.",
            )));
        }
    }
    sqlx::query("UPDATE admins SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&admin.id)
        .execute(&mut **tx)
        .await?;
    mark_success(&mut tx, org_id, fingerprint, now).await?;
    events::record_in_tx(
        &mut tx,
        NewEvent::admin(
            org_id,
            &admin.email,
            "admin_sign_in",
            &format!(
                "Admin signed in with SSO (certificate {})",
                short_fp(fingerprint)
            ),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(AcsOutcome::AdminSignedIn { admin, second_step }))
}

fn short_fp(fp: &str) -> String {
    fp.chars().take(11).collect::<String>() + "…"
}

async fn mark_success(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    fingerprint: &str,
    now: i64,
) -> CoreResult<()> {
    sqlx::query(
        "UPDATE sso_configs SET last_success_at = $1, last_success_fingerprint = $2 WHERE org_id = $3",
    )
    .bind(now)
    .bind(fingerprint)
    .bind(org_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The account a verified address signs in to: the one whose sign-in name (userName) is the
/// address; else, for organisations whose userNames differ from the mail address (the userName =
/// work-email rule off), the one account whose work email it is. Several such accounts are a
/// refusal (which one is meant cannot be told).
async fn account_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    email: &str,
) -> CoreResult<Result<Option<users::StoredUser>, Refusal>> {
    if let Some(u) = users::find_by_user_name(tx, org_id, email).await? {
        return Ok(Ok(Some(u)));
    }
    let mut by_email = users::find_by_work_email(tx, org_id, email, 2).await?;
    if by_email.len() > 1 {
        return Ok(Err(Refusal::new(
            None,
            format!(
                "no user has the userName {email} and several users have it as their work \
                 email; give each user a distinct work email or send the userName as NameID"
            ),
        )));
    }
    Ok(Ok(by_email.pop()))
}

async fn jit_create(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    p: &Profile,
    email: &str,
    now: i64,
) -> CoreResult<String> {
    let form = UserForm {
        email: email.to_string(),
        given_name: p.given_name.clone().unwrap_or_default(),
        family_name: p.family_name.clone().unwrap_or_default(),
        department: p.department.clone().unwrap_or_default(),
        country: p.country.clone().unwrap_or_default(),
        locality: p.city.clone().unwrap_or_default(),
    };
    let mut attrs = crate::manage::attributes(&form, None, true)?;
    if let Some(lang) = &p.language {
        attrs["preferredLanguage"] = serde_json::json!(lang);
    }
    let id = new_id();
    users::insert(tx, org_id, &id, &attrs, Source::SsoJit, now).await?;
    events::record_in_tx(
        tx,
        NewEvent {
            org_id: org_id.to_string(),
            name: "user_create_jit".into(),
            success: true,
            user_id: Some(id.clone()),
            actor: "idp".into(),
            scim_type: None,
            message: format!("Created {email} at first SSO sign-in (JIT)"),
            detail: None,
        },
        now,
    )
    .await?;
    Ok(id)
}

async fn store_test_result(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    request_id: &str,
    result: &TestResult,
) -> CoreResult<()> {
    sqlx::query("UPDATE saml_requests SET result = $1, consumed_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(result).map_err(|e| CoreError::Internal(e.to_string()))?)
        .bind(result.at)
        .bind(request_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn unverified_in_response_to(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 20_000,
        },
    )
    .ok()?;
    doc.root_element()
        .attribute("InResponseTo")
        .map(str::to_string)
}

/// A response that did not verify. A failed Test sign-in still reports to the admin who started
/// it: the (unverified) InResponseTo only routes the report to that admin's own pending request
/// from the same browser; it grants nothing.
async fn refuse(
    svc: &Services,
    org_id: &str,
    failure: &Failure,
    irt: Option<&str>,
    browser_secret: Option<&str>,
    now: i64,
) -> CoreResult<Result<AcsOutcome, Refusal>> {
    // Nothing is verified yet: only our own words about the failure are stored and shown.
    let reason = failure.explanation();
    if let Some(irt) = irt {
        let mut tx = svc.db.begin_write().await?;
        if let Some(p) = pending_request(&mut tx, org_id, irt, browser_secret, now).await? {
            if p.purpose == "test" {
                let result = TestResult {
                    success: false,
                    failure: Some(reason.clone()),
                    name_id: None,
                    name_id_format: None,
                    issuer: None,
                    certificate_fingerprint: None,
                    attributes: Vec::new(),
                    profile: None,
                    at: now,
                };
                store_test_result(&mut tx, &p.id, &result).await?;
                events::record_in_tx(&mut tx, failure_event(org_id, None, &reason), now).await?;
                tx.commit().await?;
                return Ok(Ok(AcsOutcome::Tested { request_id: p.id }));
            }
        }
    }
    Ok(Err(Refusal::new(None, reason)))
}

/// The one refusal path: logged, recorded as an event (within limits), answered.
async fn refusal(
    svc: &Services,
    org_id: &str,
    client: &str,
    r: Refusal,
    now: i64,
) -> CoreResult<AcsOutcome> {
    let Refusal {
        user_id,
        reason,
        message,
    } = r;
    let reason = reason.as_str();
    tracing::info!(org_id, client, reason, "SSO sign-in refused");
    // Anyone can post to an ACS: failure events are limited per client and per org, so posts
    // cannot flood the organisation's activity (or its storage).
    let limits = [
        Limit::new(
            format!("acs-fail:{org_id}:{client}"),
            MAX_FAILURE_EVENTS_PER_CLIENT,
            FAILURE_EVENTS_CLIENT_WINDOW_MS,
        ),
        Limit::new(
            format!("acs-fail:{org_id}"),
            MAX_FAILURE_EVENTS_PER_ORG,
            FAILURE_EVENTS_ORG_WINDOW_MS,
        ),
    ];
    if crate::throttle::take(&svc.db, &limits, now)
        .await?
        .is_none()
    {
        events::record(&svc.db, failure_event(org_id, user_id, reason), now).await?;
    } else {
        tracing::info!(
            org_id,
            client,
            "SSO failure event not recorded: limit reached"
        );
    }
    Ok(AcsOutcome::Refused { message })
}
