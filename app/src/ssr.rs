//! Server-side helpers for the server functions: the services, the session, the signed-in admin.

use leptos::prelude::*;
use portal_core::{CoreError, Services};
use tower_sessions::Session;

use crate::dto::AdminView;

pub const ADMIN_ID_KEY: &str = "admin_id";
/// Employee sign-ins live under their own key, apart from the admin's.
pub const EMPLOYEE_KEY: &str = "employee";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EmployeeSession {
    pub user_id: String,
    pub org_id: String,
    /// "magic_link" or "sso"
    pub method: String,
}

#[derive(Clone, Copy, Debug)]
pub struct ClientAddrPolicy {
    /// Proxies of ours in front of the server (`X-Forwarded-For` is read from the right).
    pub trusted_proxies: u8,
}

pub fn services() -> Result<Services, ServerFnError> {
    use_context::<Services>().ok_or_else(|| ServerFnError::new("server misconfigured"))
}

pub async fn session() -> Result<Session, ServerFnError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|_| ServerFnError::new("Your session could not be read. Reload the page."))
}

/// The client's address, for throttling (see `portal_core::client_addr`).
pub async fn client_addr() -> String {
    let trusted = use_context::<ClientAddrPolicy>().map_or(0, |p| p.trusted_proxies);
    let peer = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|axum::extract::ConnectInfo(addr)| addr);
    let parts = use_context::<http::request::Parts>();
    let hops = parts
        .iter()
        .flat_map(|p| p.headers.get_all("x-forwarded-for").iter())
        .filter_map(|v| v.to_str().ok());
    portal_core::client_addr::resolve(peer, hops, trusted)
}

/// Maps a domain error to what the page may show; internal causes go to the log only.
pub fn to_client(err: CoreError) -> ServerFnError {
    let status = match &err {
        CoreError::Db(cause) => {
            tracing::error!(error = %cause, "database error");
            http::StatusCode::SERVICE_UNAVAILABLE
        }
        CoreError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            http::StatusCode::INTERNAL_SERVER_ERROR
        }
        CoreError::Invalid(_) | CoreError::SetupTokenInvalid | CoreError::LinkInvalid => {
            http::StatusCode::BAD_REQUEST
        }
        CoreError::BadCredentials => http::StatusCode::UNAUTHORIZED,
        CoreError::Throttled { retry_after_secs } => {
            retry_after(*retry_after_secs);
            http::StatusCode::TOO_MANY_REQUESTS
        }
        CoreError::Busy { retry_after_secs } => {
            retry_after(*retry_after_secs);
            http::StatusCode::SERVICE_UNAVAILABLE
        }
        CoreError::Conflict(_) | CoreError::Stale => http::StatusCode::CONFLICT,
        CoreError::NotFound => http::StatusCode::NOT_FOUND,
    };
    fail(status, err.to_string())
}

fn retry_after(secs: i64) {
    if let (Some(res), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&secs.max(1).to_string()),
    ) {
        res.insert_header(http::header::RETRY_AFTER, v);
    }
}

/// An error the page shows as is, with the HTTP status the response carries (never a bare 500
/// for bad input).
pub fn fail(status: http::StatusCode, msg: impl Into<String>) -> ServerFnError {
    // A plain form post (JavaScript off) is answered with a redirect back to the form, carrying
    // the error in the URL; a status here would replace that redirect.
    if let (false, Some(res)) = (
        plain_form_post(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        res.set_status(status);
    }
    ServerFnError::new(msg.into())
}

/// True when the browser posted the form itself (before hydration or without JavaScript), as
/// leptos_axum decides it: such a call is answered with a redirect back to the Referer and its
/// return value is dropped, so a server function whose result matters redirects somewhere that
/// shows it.
pub fn plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

/// The value of `name` in the query of the page the form was posted from.
pub fn referer_query_param(name: &str) -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    let referer = parts.headers.get(http::header::REFERER)?.to_str().ok()?;
    let (_, query) = referer.split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The signed-in admin, if the session holds one that still exists.
pub async fn current_admin(
) -> Result<Option<(portal_core::admins::Admin, AdminView)>, ServerFnError> {
    let svc = services()?;
    let session = session().await?;
    let Some(admin_id) = session
        .get::<String>(ADMIN_ID_KEY)
        .await
        .map_err(|_| ServerFnError::new("Your session could not be read. Reload the page."))?
    else {
        return Ok(None);
    };
    let Some(admin) = portal_core::admins::admin_by_id(&svc.db, &admin_id)
        .await
        .map_err(to_client)?
    else {
        let _ = session.flush().await;
        return Ok(None);
    };
    let org = portal_core::admins::org_by_id(&svc.db, &admin.org_id)
        .await
        .map_err(to_client)?
        .ok_or_else(|| ServerFnError::new("Your organisation no longer exists."))?;
    let view = AdminView {
        admin_email: admin.email.clone(),
        org_id: org.id,
        org_name: org.name,
    };
    Ok(Some((admin, view)))
}

/// Every admin server function starts here: no admin, no access. The org id always comes from
/// the session, never from the client.
pub async fn require_admin() -> Result<(portal_core::admins::Admin, AdminView), ServerFnError> {
    current_admin().await?.ok_or_else(|| {
        fail(
            http::StatusCode::UNAUTHORIZED,
            "Your session has ended. Sign in again.",
        )
    })
}

/// The cookie that marks a browser as a trusted device of the admin accounts that signed in on
/// it (`portal_core::admins::authenticate_device`).
fn device_cookie_name(svc: &Services) -> &'static str {
    if svc.settings.secure_cookies {
        "__Host-portal_device"
    } else {
        "portal_device"
    }
}

pub fn device_cookie(svc: &Services) -> Option<String> {
    let name = device_cookie_name(svc);
    let parts = use_context::<http::request::Parts>()?;
    let found = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| {
            *k == name
                && !v.is_empty()
                && v.len() <= 100
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|(_, v)| v.to_string());
    found
}

/// Remembers this browser for a year (HttpOnly; only a hash is stored on the server).
pub fn set_device_cookie(svc: &Services, token: &str) {
    let secure = if svc.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}",
        device_cookie_name(svc)
    );
    if let (Some(res), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}

/// Signs the admin in on this session: a fresh session id, so a planted id is useless.
pub async fn start_admin_session(admin_id: &str) -> Result<(), ServerFnError> {
    let session = session().await?;
    session
        .cycle_id()
        .await
        .map_err(|_| ServerFnError::new("Your session could not be started. Try again."))?;
    session
        .insert(ADMIN_ID_KEY, admin_id.to_string())
        .await
        .map_err(|_| ServerFnError::new("Your session could not be started. Try again."))?;
    Ok(())
}

/// Pages get a Content-Security-Policy whose script nonce changes per response, so no inline script
/// runs unless the server wrote it.
pub fn set_page_csp() {
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
