//! The SAML service provider's endpoints: metadata, SP-initiated login (and the admin's Test
//! sign-in), and the ACS. All checks live in `portal_core::sso` / `portal_saml`.

use std::net::SocketAddr;

use app::ssr::{CallerRejection, CurrentAdmin, Permission};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use portal_core::session::{AdminSignInMethod, SignInMethod};
use portal_core::sso::{self, AcsOutcome, Purpose};
use portal_core::CoreError;
use rand::RngCore;
use serde::Deserialize;
use tower_sessions::Session;

use crate::metrics::SamlOutcome;
use crate::AppState;

/// The ACS body cap: a SAMLResponse is base64 of at most 192 KiB of XML.
const ACS_BODY_LIMIT: usize = 256 * 1024;
const BROWSER_COOKIE_TTL_SECS: i64 = 600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/saml/{org_id}/metadata", get(metadata))
        .route("/saml/{org_id}/login", get(login))
        .route("/saml/{org_id}/test", get(test_sign_in))
        .route("/admin/sso-login", get(admin_sso_login))
        .route(
            "/saml/{org_id}/acs",
            post(acs).layer(DefaultBodyLimit::max(ACS_BODY_LIMIT)),
        )
}

fn esc(s: &str) -> String {
    portal_saml::xml_escape(s)
}

/// A small self-contained page (our own stylesheet only; nothing runs). Error pages name the
/// request id, so a support request can be matched with the server's log line.
pub fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let request_id = match crate::http::observe::current_request_id() {
        Some(id) if status.is_client_error() || status.is_server_error() => format!(
            "<p class=\"muted\">Request ID: <code data-testid=\"request-id\">{}</code></p>",
            esc(&id)
        ),
        _ => String::new(),
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{t}</title><link rel=\"stylesheet\" \
         href=\"/pkg/portal.css\"></head><body><main class=\"centered\"><div class=\"card narrow\">\
         <h1>{t}</h1>{body_html}{request_id}</div></main></body></html>",
        t = esc(title)
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn not_set_up() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Single sign-on is not available",
        "<p>Single sign-on is not set up for this organisation.</p>\
         <p><a href=\"/login\">Sign in with an email link instead</a></p>",
    )
}

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<p>A temporary problem occurred; please try again.</p>",
    )
}

fn core_failure(e: CoreError) -> Response {
    match e {
        CoreError::NotFound => not_set_up(),
        CoreError::Throttled { retry_after_secs } => {
            let mut res = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts",
                &format!(
                    "<p>Too many sign-ins were started from your network. Try again in {} minute(s).</p>",
                    (retry_after_secs + 59) / 60
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        other => {
            tracing::error!(error = %other, "SAML endpoint failed");
            unavailable()
        }
    }
}

async fn org_name(state: &AppState, org_id: &str) -> Result<Option<String>, CoreError> {
    Ok(portal_core::admins::org_by_id(&state.services.db, org_id)
        .await?
        .map(|o| o.name))
}

#[derive(Deserialize)]
struct MetadataQuery {
    download: Option<String>,
}

async fn metadata(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    Query(q): Query<MetadataQuery>,
) -> Response {
    let name = match org_name(&state, &org_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such organisation\n").into_response(),
        Err(e) => return core_failure(e),
    };
    let urls = sso::sp_urls(&state.services, &org_id);
    let xml = portal_saml::metadata::sp_metadata(&urls.entity_id, &urls.acs_url, &name);
    let mut res = xml.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml; charset=utf-8"),
    );
    if q.download.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"sp-metadata-{}.xml\"",
            org_id.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                ""
            )
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    res
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "__Host-portal_saml"
    } else {
        "portal_saml"
    }
}

/// The browser secret that binds AuthnRequests to this browser (created when missing).
/// The cookie is (re)set on every login start, so its lifetime always covers the round trip.
fn browser_secret(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let secret = read_cookie(headers, cookie_name(state)).unwrap_or_else(|| {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        hex::encode(b)
    });
    // The ACS is a cross-site POST from the IdP: on https the cookie must be SameSite=None to come
    // along. On plain http (this machine only) browsers refuse None without Secure, and Lax
    // suffices because the IdP is then on the same site.
    let attrs = if state.config.secure_cookies {
        "; Secure; SameSite=None"
    } else {
        "; SameSite=Lax"
    };
    let cookie = format!(
        "{}={secret}; Path=/; HttpOnly; Max-Age={BROWSER_COOKIE_TTL_SECS}{attrs}",
        cookie_name(state)
    );
    (secret, HeaderValue::from_str(&cookie).ok())
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    portal_core::cookies::read(values, name, portal_core::cookies::is_hex_256)
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The client's address for throttling (see `portal_core::client_addr`).
fn client_addr(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    portal_core::client_addr::resolve(Some(peer), hops, state.config.trusted_proxies)
}

async fn redirect_to_idp(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    org_id: &str,
    relay: Option<&str>,
    purpose: Purpose,
    admin_id: Option<&str>,
) -> Response {
    let (secret, set_cookie) = browser_secret(state, headers);
    let client = client_addr(state, headers, peer);
    match sso::start(
        &state.services,
        org_id,
        &secret,
        relay,
        purpose,
        admin_id,
        &client,
    )
    .await
    {
        Ok(url) => {
            let mut res = Redirect::to(&url).into_response();
            if let Some(c) = set_cookie {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => core_failure(e),
    }
}

async fn login(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    Query(q): Query<LoginQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    redirect_to_idp(
        &state,
        &headers,
        peer,
        &org_id,
        q.relay_state.as_deref(),
        Purpose::Login,
        None,
    )
    .await
}

#[derive(Deserialize)]
struct AdminSsoQuery {
    org: Option<String>,
}

/// "Sign in with SSO" on `/admin/login?org=…` (a plain GET form, so it works without JavaScript):
/// an SP-initiated request whose answer signs in an admin of that organisation.
async fn admin_sso_login(
    State(state): State<AppState>,
    Query(q): Query<AdminSsoQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let org_id = q.org.unwrap_or_default().trim().to_string();
    if org_id.is_empty()
        || org_id.len() > 100
        || !org_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign in with SSO",
            "<p>Enter your organisation's Org ID (your Owner can find it on the Overview).</p>\
             <p><a href=\"/admin/login\">Back to sign-in</a></p>",
        );
    }
    // A sign-in started from another site (a link in a mail or on a page) could sign the
    // browser in as someone of the linking party's choosing (login CSRF): the person confirms
    // here first. Browsers that send no Fetch Metadata go straight on.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site");
    if cross_site {
        let href = format!("/admin/sso-login?org={}", esc(&org_id));
        return page(
            StatusCode::OK,
            "Sign in with SSO",
            &format!(
                "<p>You followed a link from another site to sign in to the admin portal through \
                 your organisation's identity provider. Continue only if you meant to.</p>\
                 <p><a class=\"button\" href=\"{href}\" data-testid=\"continue-sso\">Continue \
                 to single sign-on</a></p><p><a href=\"/admin/login\">Back to sign-in</a></p>"
            ),
        );
    }
    redirect_to_idp(
        &state,
        &headers,
        peer,
        &org_id,
        None,
        Purpose::AdminLogin,
        None,
    )
    .await
}

/// Test sign-in: an SP-initiated login whose result is shown to the admin instead of signing in.
async fn test_sign_in(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    admin: Result<CurrentAdmin, CallerRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match admin {
        Ok(a) if a.org_id == org_id && a.role.allows(Permission::Manage) => {
            redirect_to_idp(
                &state,
                &headers,
                peer,
                &org_id,
                None,
                Purpose::Test,
                Some(&a.admin_id),
            )
            .await
        }
        Err(CallerRejection::Unavailable(e)) => core_failure(e),
        _ => page(
            StatusCode::FORBIDDEN,
            "Sign in as an administrator",
            "<p>Test sign-in is for the Owners and Admins of this organisation.</p>\
             <p><a href=\"/admin/login\">Admin sign-in</a></p>",
        ),
    }
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn acs(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        state.metrics.record_saml(SamlOutcome::Refused);
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "<p>The identity provider's answer could not be read (expected an HTML form post \
             with a SAMLResponse of at most 256 KiB).</p>",
        );
    };
    let Some(saml_response) = form.saml_response.filter(|s| !s.trim().is_empty()) else {
        state.metrics.record_saml(SamlOutcome::Refused);
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "<p>The post carried no SAMLResponse.</p>",
        );
    };
    let browser = read_cookie(&headers, cookie_name(&state));
    let outcome = sso::acs(
        &state.services,
        &org_id,
        &saml_response,
        form.relay_state.as_deref(),
        browser.as_deref(),
        &client_addr(&state, &headers, peer),
    )
    .await;
    let outcome = match outcome {
        Ok(AcsOutcome::SignedIn { employee, redirect }) => {
            match portal_core::session::start_employee(&session, &employee, SignInMethod::Sso).await
            {
                Ok(()) => Ok(AcsOutcome::SignedIn { employee, redirect }),
                Err(e) => Err(e),
            }
        }
        Ok(AcsOutcome::AdminSignedIn {
            admin,
            second_step: true,
        }) => {
            // An Owner owes their own second factor (sso::acs::admin_sign_in).
            let expires = state.services.now() + portal_core::two_factor::PENDING_TTL_MS;
            match portal_core::session::start_pending_second_factor(&session, &admin.id, expires)
                .await
            {
                Ok(()) => Ok(AcsOutcome::AdminSignedIn {
                    admin,
                    second_step: true,
                }),
                Err(e) => Err(e),
            }
        }
        Ok(AcsOutcome::AdminSignedIn { admin, .. }) => {
            let ua = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let meta = portal_core::session::AdminSessionMeta {
                method: AdminSignInMethod::Sso,
                client: format!(
                    "{} · {}",
                    portal_core::session::describe_user_agent(ua),
                    client_addr(&state, &headers, peer)
                ),
                started_at: state.services.now(),
                reauthenticated_at: None,
            };
            match portal_core::session::start_admin(&session, &admin.id, meta).await {
                Ok(()) => Ok(AcsOutcome::AdminSignedIn {
                    admin,
                    second_step: false,
                }),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    state.metrics.record_saml(match &outcome {
        Ok(AcsOutcome::SignedIn { .. } | AcsOutcome::AdminSignedIn { .. }) => SamlOutcome::SignedIn,
        Ok(AcsOutcome::Tested { .. }) => SamlOutcome::Tested,
        Ok(AcsOutcome::Refused { .. }) => SamlOutcome::Refused,
        Err(_) => SamlOutcome::Error,
    });
    match outcome {
        Ok(AcsOutcome::SignedIn { redirect, .. }) => Redirect::to(&redirect).into_response(),
        Ok(AcsOutcome::AdminSignedIn {
            second_step: true, ..
        }) => Redirect::to(app::routes::admin_login_verify::VERIFY_PATH).into_response(),
        Ok(AcsOutcome::AdminSignedIn { .. }) => Redirect::to("/admin").into_response(),
        Ok(AcsOutcome::Tested { request_id }) => {
            Redirect::to(&format!("/admin/sso/test/{request_id}")).into_response()
        }
        Ok(AcsOutcome::Refused { message }) => page(
            StatusCode::FORBIDDEN,
            "Sign-in failed",
            &format!(
                "<p>{}</p><p><a href=\"/login\">Back to sign-in</a></p>",
                esc(&message)
            ),
        ),
        Err(e) => core_failure(e),
    }
}
