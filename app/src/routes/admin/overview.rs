//! The Overview (`/admin`): the organisation's setup as a checklist — single sign-on and its last
//! successful sign-in, the SCIM token and the IdP's last request, users by status, failures of
//! the last 24 hours (linked into Activity), the IdP certificate's expiry and the next step —
//! and the Org ID card.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::AdminResource;
use crate::components::CopyField;
use crate::dto::{AdminView, OverviewView};
use crate::errors::AppError;
use crate::routes::admin::activity::kind_label;
use crate::time_fmt::{date, opt, utc};

/// `crate::ssr::require(Permission::Read)` for a screen's loader, except that while the page
/// itself renders for a signed-out visitor it leaves the response status alone: the layout
/// answers with its redirect to the sign-in page (302), which a 401 would replace.
#[cfg(feature = "ssr")]
pub(crate) async fn require_read() -> Result<crate::ssr::CurrentAdmin, AppError> {
    use crate::ssr::{current_admin, in_server_fn_call, require, Permission};
    if !in_server_fn_call() && current_admin().await?.is_none() {
        return Err(AppError::new(401, "Your session has ended. Sign in again."));
    }
    require(Permission::Read).await
}

#[server(endpoint = "load_overview")]
pub async fn load_overview() -> Result<OverviewView, AppError> {
    use crate::ssr::{services, to_client};
    let admin = require_read().await?;
    let svc = services()?;
    portal_core::overview::overview(&svc, &admin.org_id)
        .await
        .map(Into::into)
        .map_err(to_client)
}

/// The Activity screen filtered to the failures of the window (from its first UTC day: the date
/// filter counts whole days), of one kind or all.
fn failures_href(o: &OverviewView, kind: Option<&str>) -> String {
    let mut href = format!(
        "/admin/activity?result=failure&from={}",
        date(o.failures_since)
    );
    if let Some(k) = kind {
        href.push_str("&kind=");
        href.push_str(k);
    }
    href
}

/// What to do next: the words and where.
fn next_step(o: &OverviewView) -> (String, String, &'static str) {
    match o.next_step.as_str() {
        "configure_sso" => (
            "Configure single sign-on: paste your identity provider's SAML endpoint and certificate.".into(),
            "/admin/sso".into(),
            "Set up single sign-on",
        ),
        "test_sso" => (
            "Single sign-on is configured but nobody has signed in with it yet: run a Test sign-in.".into(),
            "/admin/sso".into(),
            "Test single sign-on",
        ),
        "generate_scim_token" => (
            "Turn on automated user provisioning: generate a SCIM token for your identity provider.".into(),
            "/admin/provisioning".into(),
            "Set up provisioning",
        ),
        "connect_idp" => (
            "Your identity provider has not used its SCIM token yet: paste the SCIM base URL and the token into it and start provisioning.".into(),
            "/admin/provisioning".into(),
            "Open provisioning",
        ),
        "renew_certificate" => (
            "Your identity provider's certificate expires soon or has expired: add its new certificate as the next certificate before it does.".into(),
            "/admin/sso".into(),
            "Update the certificate",
        ),
        "review_failures" => (
            format!(
                "{} failure(s) in the last 24 hours: review them and fix their cause.",
                o.failures.iter().map(|f| f.count).sum::<i64>()
            ),
            failures_href(o, None),
            "Review failures",
        ),
        _ => (
            "Everything is set up. Activity keeps the record of every sign-in and change.".into(),
            "/admin/activity".into(),
            "Open Activity",
        ),
    }
}

/// One line of the checklist.
#[component]
fn Check(
    testid: &'static str,
    done: bool,
    #[prop(optional)] warn: bool,
    title: &'static str,
    children: Children,
) -> impl IntoView {
    let (cls, mark, state) = match (done, warn) {
        (true, false) => ("check done", "✓", "Done"),
        (true, true) => ("check warn", "!", "Needs attention"),
        (false, _) => ("check todo", "○", "To do"),
    };
    view! {
        <li class=cls data-testid=testid>
            <span class="check-mark" aria-hidden="true">{mark}</span>
            <div>
                <strong>{title}</strong>
                <span class="visually-hidden">{format!(" ({state})")}</span>
                <div class="check-detail">{children()}</div>
            </div>
        </li>
    }
}

#[component]
fn Checklist(o: OverviewView) -> impl IntoView {
    let (text, href, label) = next_step(&o);
    let failures: i64 = o.failures.iter().map(|f| f.count).sum();
    let cert_warn = o.certificates.iter().any(|c| c.state != "valid")
        && !o.certificates.iter().any(|c| c.state == "valid");
    let all = failures_href(&o, None);
    let by_kind: Vec<(String, String)> = o
        .failures
        .iter()
        .map(|f| {
            (
                failures_href(&o, Some(&f.kind)),
                format!("{} {}", f.count, kind_label(&f.kind)),
            )
        })
        .collect();
    let OverviewView {
        sso_configured,
        sso_last_success_at,
        certificates,
        scim_active,
        scim_token_created_at,
        scim_last_request_at,
        scim_last_success_at,
        users_active,
        users_deactivated,
        users_deleted,
        next_step: step,
        ..
    } = o;
    view! {
        <section class="card next-step" aria-labelledby="next-heading" data-testid="next-step" data-step=step>
            <h2 id="next-heading">"What to do next"</h2>
            <p>{text}</p>
            <p><A href=href attr:class="button-like">{label}</A></p>
        </section>
        <section class="card" aria-labelledby="setup-heading">
            <h2 id="setup-heading">"Setup"</h2>
            <ul class="checklist">
                <Check testid="check-sso" done=sso_configured title="Single sign-on">
                    {if sso_configured {
                        view! {
                            "Configured. Last successful sign-in: "
                            <span data-testid="sso-last-success">{opt(sso_last_success_at)}</span>
                            "."
                        }.into_any()
                    } else {
                        view! { "Not configured. " <A href="/admin/sso">"Set up single sign-on"</A> }.into_any()
                    }}
                </Check>
                <Check testid="check-scim" done=scim_active title="Automated user provisioning (SCIM)">
                    {if scim_active {
                        view! {
                            {format!("Token active since {}. ", opt(scim_token_created_at))}
                            "Last request from your identity provider: "
                            <span data-testid="scim-last-request">{opt(scim_last_request_at)}</span>
                            "; last successful change: "
                            <span data-testid="scim-last-success">{opt(scim_last_success_at)}</span>
                            "."
                        }.into_any()
                    } else {
                        view! { "No active token. " <A href="/admin/provisioning">"Generate a SCIM token"</A> }.into_any()
                    }}
                </Check>
                {sso_configured.then(|| view! {
                    <Check testid="check-cert" done=true warn=cert_warn title="IdP certificate">
                        <ul class="certs">
                            {certificates.iter().map(|c| {
                                let (cls, words) = match c.state.as_str() {
                                    "expired" => ("overview-cert expired", "expired"),
                                    "expires_soon" => ("overview-cert expiring", "expires soon"),
                                    _ => ("overview-cert", "valid"),
                                };
                                view! {
                                    <li class=cls data-state=c.state.clone()>
                                        {if c.current { "In use: " } else { "Next: " }}
                                        <span class="mono">{c.subject.clone()}</span>
                                        {format!(" — {} {}", if c.state == "expired" { "expired" } else { "expires" }, utc(c.not_after))}
                                        <strong>{format!(" ({words})")}</strong>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </Check>
                })}
                <Check testid="check-failures" done=failures == 0 title="Failures in the last 24 hours">
                    {if failures == 0 {
                        view! { "None." }.into_any()
                    } else {
                        view! {
                            <A href=all.clone() attr:data-testid="failures-link">{format!("{failures} failure(s)")}</A>
                            ": "
                            {by_kind.into_iter().enumerate().map(|(i, (href, text))| view! {
                                {(i > 0).then_some(", ")}
                                <A href=href>{text}</A>
                            }).collect_view()}
                        }.into_any()
                    }}
                </Check>
            </ul>
        </section>
        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Users"</h2>
            <dl class="facts user-counts">
                <dt>"Active"</dt>
                <dd data-testid="users-active"><A href="/admin/users?status=active">{users_active.to_string()}</A></dd>
                <dt>"Deactivated"</dt>
                <dd data-testid="users-deactivated"><A href="/admin/users?status=deactivated">{users_deactivated.to_string()}</A></dd>
                <dt>"Deleted (restorable until purged)"</dt>
                <dd data-testid="users-deleted"><A href="/admin/users?status=deleted">{users_deleted.to_string()}</A></dd>
            </dl>
        </section>
    }
}

#[component]
pub fn AdminHome() -> impl IntoView {
    let admin = expect_context::<AdminResource>().0;
    let overview = crate::components::resource(|| (), |_| load_overview());
    view! {
        <Title text="Overview · Identity portal" />
        <h1>"Overview"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || overview.get().map(|r| match r {
                Ok(o) => view! { <Checklist o /> }.into_any(),
                Err(e) => view! { <p class="alert error" role="alert">{crate::errors::message(&e)}</p> }.into_any(),
            })}
        </Transition>
        <Suspense>
            {move || admin.get().and_then(|r| r.ok()).flatten().map(|view| view! { <OrgCard view /> })}
        </Suspense>
    }
}

#[component]
fn OrgCard(view: AdminView) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="org-heading">
            <h2 id="org-heading">"Your organisation"</h2>
            <p>
                "Your identity provider needs the Org ID below when you configure single sign-on and user provisioning."
            </p>
            <dl class="facts">
                <dt>"Name"</dt>
                <dd data-testid="org-name">{view.org_name.clone()}</dd>
            </dl>
            <CopyField label="Org ID" id="org-id" value=view.org_id.clone() />
        </section>
    }
}

#[cfg(feature = "ssr")]
mod wire {
    use crate::dto::{OverviewCert, OverviewFailures, OverviewView};
    use portal_core::overview::{CertState, NextStep, Overview};

    impl From<Overview> for OverviewView {
        fn from(o: Overview) -> Self {
            let Overview {
                sso,
                scim,
                users,
                failures,
                failures_since,
                next,
            } = o;
            Self {
                sso_configured: sso.is_some(),
                sso_last_success_at: sso.as_ref().and_then(|s| s.last_success_at),
                certificates: sso
                    .map(|s| s.certificates)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| OverviewCert {
                        current: c.current,
                        subject: c.subject,
                        not_after: c.not_after,
                        state: match c.state {
                            CertState::Valid => "valid",
                            CertState::ExpiresSoon => "expires_soon",
                            CertState::Expired => "expired",
                        }
                        .into(),
                    })
                    .collect(),
                scim_active: scim.is_some(),
                scim_token_created_at: scim.as_ref().map(|s| s.token_created_at),
                scim_last_request_at: scim.as_ref().and_then(|s| s.last_request_at),
                scim_last_success_at: scim.as_ref().and_then(|s| s.last_success_at),
                users_active: users.active,
                users_deactivated: users.deactivated,
                users_deleted: users.deleted,
                failures: failures
                    .into_iter()
                    .map(|(k, count)| OverviewFailures {
                        kind: k.as_str().into(),
                        count,
                    })
                    .collect(),
                failures_since,
                next_step: match next {
                    NextStep::ConfigureSso => "configure_sso",
                    NextStep::TestSso => "test_sso",
                    NextStep::GenerateScimToken => "generate_scim_token",
                    NextStep::ConnectIdp => "connect_idp",
                    NextStep::RenewCertificate => "renew_certificate",
                    NextStep::ReviewFailures => "review_failures",
                    NextStep::Done => "done",
                }
                .into(),
            }
        }
    }
}
