//! `server bench-seed` (hidden; for `make bench`'s multi-tenant run): creates organisations, each
//! with an Owner, a SCIM token and users, through the same code paths as `create-admin`,
//! `scim-token` and SCIM `POST /Users`. Never used by the serving path.
//!
//! Organisation `i` (from 0) is named `Bench org {i}`; its users have the userNames
//! `u{j}@o{i}.bench.example` for `j` in `0..users_per_org`, so that a load generator can build a
//! lookup for any of them from the two indices. The Owners' password is random and discarded:
//! nobody can sign in to a bench organisation.

use futures::StreamExt;
use portal_core::admins::Role;
use portal_core::provisioning::Caller;
use portal_core::secret::Secret;
use portal_core::Services;
use serde_json::json;

/// One seeded organisation: its id and its SCIM token (the only copy).
pub struct SeededOrg {
    pub org_id: String,
    pub token: Secret,
}

/// The userName of user `j` of bench organisation `i`.
pub fn user_name(i: usize, j: usize) -> String {
    format!("u{j}@o{i}.bench.example")
}

/// Seeds `orgs` organisations of `users_per_org` users each, `concurrency` organisations at a
/// time; returns them in index order. Refuses a database that has organisations already; fails
/// on the first error.
pub async fn seed(
    svc: &Services,
    orgs: usize,
    users_per_org: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<SeededOrg>> {
    let existing = portal_core::admins::org_count(&svc.db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if existing > 0 {
        anyhow::bail!(
            "the database has {existing} organisations already: bench-seed needs a fresh database"
        );
    }
    // One argon2 hash for every Owner (hashing 2,000 passwords would take most of the run).
    let hash = svc
        .argon2
        .hash(Secret::generate().into_exposed())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let results: Vec<anyhow::Result<SeededOrg>> = futures::stream::iter(0..orgs)
        .map(|i| {
            let hash = hash.clone();
            async move {
                let now = svc.now();
                let mut tx = svc.db.begin_write().await?;
                let (org, _, created) = portal_core::admins::create_admin_in_tx_as(
                    &mut tx,
                    &format!("Bench org {i}"),
                    &format!("owner@o{i}.bench.example"),
                    &hash,
                    Role::Owner,
                    now,
                )
                .await
                .map_err(|e| anyhow::anyhow!("organisation {i}: {e}"))?;
                if !created {
                    anyhow::bail!("an organisation named \"Bench org {i}\" exists already");
                }
                tx.commit().await?;
                let token = portal_core::scim_tokens::generate(svc, &org.id, "bench-seed")
                    .await
                    .map_err(|e| anyhow::anyhow!("organisation {i}: {e}"))?;
                let caller = Caller {
                    org_id: org.id.clone(),
                    base_url: format!("{}/scim/v2/{}", svc.settings.public_url, org.id),
                    user_agent: Some("bench-seed".into()),
                    request_id: None,
                    policy: None,
                };
                for j in 0..users_per_org {
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": user_name(i, j),
                        "name": {"givenName": "Bench", "familyName": format!("User {j}")},
                        "emails": [{"value": user_name(i, j), "type": "work", "primary": true}],
                        "active": true,
                    });
                    portal_core::provisioning::create(svc, &caller, &body)
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!("organisation {i}, user {j}: {} {}", e.status, e.detail)
                        })?;
                }
                Ok(SeededOrg {
                    org_id: org.id,
                    token,
                })
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}
