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
    pub trust_forwarded_for: bool,
}

pub fn services() -> Result<Services, ServerFnError> {
    use_context::<Services>().ok_or_else(|| ServerFnError::new("server misconfigured"))
}

pub async fn session() -> Result<Session, ServerFnError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|_| ServerFnError::new("Your session could not be read. Reload the page."))
}

/// The client's address, for throttling.
pub async fn client_addr() -> String {
    let trust = use_context::<ClientAddrPolicy>().is_some_and(|p| p.trust_forwarded_for);
    if trust {
        if let Some(parts) = use_context::<http::request::Parts>() {
            if let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
            {
                return first.trim().to_string();
            }
        }
    }
    match leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>().await {
        Ok(axum::extract::ConnectInfo(addr)) => addr.ip().to_string(),
        Err(_) => "unknown".to_string(),
    }
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
        CoreError::Throttled { .. } => http::StatusCode::TOO_MANY_REQUESTS,
        CoreError::Conflict(_) | CoreError::Stale => http::StatusCode::CONFLICT,
        CoreError::NotFound => http::StatusCode::NOT_FOUND,
    };
    fail(status, err.to_string())
}

/// An error the page shows as is, with the HTTP status the response carries (never a bare 500
/// for bad input).
pub fn fail(status: http::StatusCode, msg: impl Into<String>) -> ServerFnError {
    // A plain form post (JavaScript off) is answered with a redirect back to the form, carrying
    // the error in the URL; a status here would replace that redirect.
    let plain_form = use_context::<http::request::Parts>().is_some_and(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if let (false, Some(res)) = (plain_form, use_context::<leptos_axum::ResponseOptions>()) {
        res.set_status(status);
    }
    ServerFnError::new(msg.into())
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
