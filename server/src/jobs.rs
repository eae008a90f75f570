//! Background housekeeping: expired sessions, old throttling rows, and the retention purges
//! (deleted users and activity events, each by its organisation's setting).

use std::time::Duration;

use portal_core::Services;
use tower_sessions::session_store::ExpiredDeletion;

pub fn spawn_housekeeping(svc: Services) {
    tokio::spawn(async move {
        let store = portal_core::session_store::DbSessionStore::new(svc.db.clone());
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "session cleanup failed");
            }
            match portal_core::manage::purge_expired(&svc).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    purged = n,
                    "purged soft-deleted users past their retention period"
                ),
                Err(e) => tracing::warn!(error = %e, "retention purge failed"),
            }
            // Organisation settings (issue 12, settings): each org's event retention.
            match portal_core::org_settings::purge_old_events(&svc).await {
                Ok(purged) => {
                    for (org_id, events) in purged {
                        tracing::info!(
                            org_id = %org_id,
                            events,
                            "purged activity events past the organisation's event retention"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event retention purge failed"),
            }
            if let Err(e) = portal_core::sso::purge_expired(&svc).await {
                tracing::warn!(error = %e, "SAML request/replay cleanup failed");
            }
            if let Err(e) = portal_core::throttle::prune(&svc.db, svc.now()).await {
                tracing::warn!(error = %e, "throttle cleanup failed");
            }
            // Issue 12, your account: used and expired password reset links.
            if let Err(e) = portal_core::account::prune_resets(&svc, svc.now()).await {
                tracing::warn!(error = %e, "password reset cleanup failed");
            }
            // Setup links (issue 13) that stopped working long ago (their events stay).
            if let Err(e) = portal_core::setup_links::purge(&svc).await {
                tracing::warn!(error = %e, "setup link cleanup failed");
            }
            // Token rotation (issue 13): old SCIM tokens whose grace period has ended.
            match portal_core::scim_tokens::retire_expired(&svc).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    retired = n,
                    "retired SCIM tokens whose rotation grace period ended"
                ),
                Err(e) => tracing::warn!(error = %e, "SCIM token retirement failed"),
            }
        }
    });
}

/// Delivers queued mail every second (file outbox or SMTP), retrying failures with backoff.
pub fn spawn_mail_delivery(svc: Services, mailer: portal_core::mail::Mailer) {
    tracing::info!(mailer = ?mailer, "mail delivery");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = portal_core::mail::deliver_due(&svc, &mailer).await {
                tracing::warn!(error = %e, "mail delivery pass failed");
            }
        }
    });
}

/// SCIM request log (issue 13): every five minutes, the requests older than the deployment's
/// retention (`SCIM_REQUEST_LOG_RETENTION_DAYS`) are deleted. Off when the log is off (0 days).
pub fn spawn_scim_request_log_purge(svc: Services, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    let retention_ms = i64::from(retention_days) * 24 * 3600 * 1000;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            match portal_core::scim_requests::purge(&svc, retention_ms).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged SCIM requests past their retention"),
                Err(e) => tracing::warn!(error = %e, "SCIM request log purge failed"),
            }
        }
    });
}
