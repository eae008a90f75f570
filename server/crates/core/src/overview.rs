//! The Overview screen's read model: the organisation's setup as a checklist (SSO, provisioning,
//! users by status, recent failures, certificate expiry) and the first step still to do.

use sqlx::Row;

use crate::audit::EventKind;
use crate::error::CoreResult;
use crate::provisioning::{EV_CREATE, EV_DELETE, EV_DEPROVISION, EV_LOOKUP, EV_UPDATE};
use crate::sso::EXPIRY_WARNING_MS;
use crate::Services;

/// "Recent failures" look back this far.
pub const FAILURE_WINDOW_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertState {
    Valid,
    /// Expires within [`EXPIRY_WARNING_MS`].
    ExpiresSoon,
    Expired,
}

impl CertState {
    pub fn at(not_after: i64, now: i64) -> Self {
        if not_after <= now {
            Self::Expired
        } else if not_after - now <= EXPIRY_WARNING_MS {
            Self::ExpiresSoon
        } else {
            Self::Valid
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// The certificate in use (false: the next one, added for rollover).
    pub current: bool,
    pub subject: String,
    pub not_after: i64,
    pub state: CertState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSummary {
    pub last_success_at: Option<i64>,
    pub certificates: Vec<CertSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimSummary {
    pub token_created_at: i64,
    /// The IdP's last authenticated request.
    pub last_request_at: Option<i64>,
    /// The IdP's last successful change (create, update, deprovision, delete).
    pub last_success_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounts {
    pub active: i64,
    pub deactivated: i64,
    pub deleted: i64,
}

/// The first unmet step of the setup, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    ConfigureSso,
    TestSso,
    GenerateScimToken,
    ConnectIdp,
    RenewCertificate,
    ReviewFailures,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// None: SSO is not configured.
    pub sso: Option<SsoSummary>,
    /// None: no active SCIM token.
    pub scim: Option<ScimSummary>,
    pub users: UserCounts,
    /// Failed events of the last [`FAILURE_WINDOW_MS`], per kind.
    pub failures: Vec<(EventKind, i64)>,
    /// The start of the failure window.
    pub failures_since: i64,
    pub next: NextStep,
}

impl Overview {
    pub fn failure_count(&self) -> i64 {
        self.failures.iter().map(|(_, n)| n).sum()
    }
}

async fn user_counts(svc: &Services, org_id: &str) -> CoreResult<UserCounts> {
    let row = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN deleted_at IS NULL AND active = 1 THEN 1 ELSE 0 END), 0) AS active, \
           COALESCE(SUM(CASE WHEN deleted_at IS NULL AND active = 0 THEN 1 ELSE 0 END), 0) AS deactivated, \
           COALESCE(SUM(CASE WHEN deleted_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS deleted \
         FROM users WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_one(&svc.db.pool)
    .await?;
    Ok(UserCounts {
        active: row.try_get("active")?,
        deactivated: row.try_get("deactivated")?,
        deleted: row.try_get("deleted")?,
    })
}

/// The newest successful provisioning change (read by the events' org-and-time index, newest
/// first).
async fn last_scim_success(svc: &Services, org_id: &str) -> CoreResult<Option<i64>> {
    let mut b = crate::sql::SqlBuilder::new("SELECT e.at FROM events e WHERE e.org_id = ");
    b.push_bind(org_id)
        .push(" AND e.success = 1 AND e.name IN (")
        .push_binds(
            [EV_CREATE, EV_UPDATE, EV_DEPROVISION, EV_DELETE, EV_LOOKUP],
            ", ",
        )
        .push(") ORDER BY e.at DESC, e.seq DESC LIMIT 1");
    let row = b.query().fetch_optional(&svc.db.pool).await?;
    Ok(row.map(|r| r.try_get("at")).transpose()?)
}

/// The Overview of one organisation.
pub async fn overview(svc: &Services, org_id: &str) -> CoreResult<Overview> {
    let now = svc.now();
    let sso = crate::sso::get(svc, org_id).await?.map(|cfg| {
        let mut certificates = vec![CertSummary {
            current: true,
            subject: cfg.certificate.subject.clone(),
            not_after: cfg.certificate.not_after,
            state: CertState::at(cfg.certificate.not_after, now),
        }];
        if let Some(next) = &cfg.next_certificate {
            certificates.push(CertSummary {
                current: false,
                subject: next.subject.clone(),
                not_after: next.not_after,
                state: CertState::at(next.not_after, now),
            });
        }
        SsoSummary {
            last_success_at: cfg.last_success_at,
            certificates,
        }
    });
    let scim = match crate::scim_tokens::status(svc, org_id).await? {
        Some(t) => Some(ScimSummary {
            token_created_at: t.created_at,
            last_request_at: t.last_used_at,
            last_success_at: last_scim_success(svc, org_id).await?,
        }),
        None => None,
    };
    let users = user_counts(svc, org_id).await?;
    let failures_since = now - FAILURE_WINDOW_MS;
    let failures = crate::audit::failures_by_kind(svc, org_id, failures_since).await?;
    let mut o = Overview {
        sso,
        scim,
        users,
        failures,
        failures_since,
        next: NextStep::Done,
    };
    o.next = next_step(&o);
    Ok(o)
}

fn next_step(o: &Overview) -> NextStep {
    let Some(sso) = &o.sso else {
        return NextStep::ConfigureSso;
    };
    if sso.last_success_at.is_none() {
        return NextStep::TestSso;
    }
    let Some(scim) = &o.scim else {
        return NextStep::GenerateScimToken;
    };
    if scim.last_request_at.is_none() {
        return NextStep::ConnectIdp;
    }
    // A rollover certificate that is still good covers an expiring current one.
    let covered = sso.certificates.iter().any(|c| c.state == CertState::Valid);
    if !covered {
        return NextStep::RenewCertificate;
    }
    if o.failure_count() > 0 {
        return NextStep::ReviewFailures;
    }
    NextStep::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_states() {
        let now = 1_000_000_000_000;
        assert_eq!(CertState::at(now, now), CertState::Expired);
        assert_eq!(CertState::at(now - 1, now), CertState::Expired);
        assert_eq!(CertState::at(now + 1, now), CertState::ExpiresSoon);
        assert_eq!(
            CertState::at(now + EXPIRY_WARNING_MS, now),
            CertState::ExpiresSoon
        );
        assert_eq!(
            CertState::at(now + EXPIRY_WARNING_MS + 1, now),
            CertState::Valid
        );
    }

    #[test]
    fn the_next_step_is_the_first_unmet_one() {
        let cert = |state| CertSummary {
            current: true,
            subject: "CN=idp".into(),
            not_after: 0,
            state,
        };
        let mut o = Overview {
            sso: None,
            scim: None,
            users: UserCounts::default(),
            failures: vec![(EventKind::Scim, 2)],
            failures_since: 0,
            next: NextStep::Done,
        };
        assert_eq!(next_step(&o), NextStep::ConfigureSso);
        o.sso = Some(SsoSummary {
            last_success_at: None,
            certificates: vec![cert(CertState::Expired)],
        });
        assert_eq!(next_step(&o), NextStep::TestSso);
        o.sso.as_mut().unwrap().last_success_at = Some(1);
        assert_eq!(next_step(&o), NextStep::GenerateScimToken);
        o.scim = Some(ScimSummary {
            token_created_at: 1,
            last_request_at: None,
            last_success_at: None,
        });
        assert_eq!(next_step(&o), NextStep::ConnectIdp);
        o.scim.as_mut().unwrap().last_request_at = Some(2);
        assert_eq!(next_step(&o), NextStep::RenewCertificate);
        o.sso
            .as_mut()
            .unwrap()
            .certificates
            .push(cert(CertState::Valid));
        assert_eq!(next_step(&o), NextStep::ReviewFailures);
        o.failures.clear();
        assert_eq!(next_step(&o), NextStep::Done);
    }
}
