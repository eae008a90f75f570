//! Server-side helpers for the server functions: the services, the session, the signed-in admin.

use leptos::prelude::*;
pub use portal_core::admins::{Permission, Role};
use portal_core::session::EmployeeSession;
pub use portal_core::session::{AdminSignInMethod, SignInMethod};
use portal_core::{CoreError, Services};
use tower_sessions::Session;

use crate::dto::AdminView;
use crate::errors::{AppError, FieldName};

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
pub fn to_client(err: CoreError) -> AppError {
    let status = match &err {
        CoreError::Db(cause) => {
            tracing::error!(error = %cause, "database error");
            http::StatusCode::SERVICE_UNAVAILABLE
        }
        CoreError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            http::StatusCode::INTERNAL_SERVER_ERROR
        }
        CoreError::Invalid(_)
        | CoreError::InvalidField { .. }
        | CoreError::SetupTokenInvalid
        | CoreError::LinkInvalid => http::StatusCode::BAD_REQUEST,
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
        CoreError::Forbidden(_) => http::StatusCode::FORBIDDEN,
    };
    let field = err.field().map(field_name);
    let err: AppError = fail(status, err.to_string());
    AppError { field, ..err }
}

/// The form field the page shows a domain validation error next to.
fn field_name(field: portal_core::Field) -> FieldName {
    use portal_core::Field;
    match field {
        Field::SsoUrl => FieldName::SsoUrl,
        Field::Certificate => FieldName::Certificate,
        Field::NextCertificate => FieldName::NextCertificate,
        Field::IdpEntityId => FieldName::IdpEntityId,
        Field::Email => FieldName::Email,
        Field::GivenName => FieldName::GivenName,
        Field::FamilyName => FieldName::FamilyName,
        Field::Department => FieldName::Department,
        Field::Country => FieldName::Country,
        Field::Locality => FieldName::Locality,
        Field::OrgName => FieldName::OrgName,
        Field::Password => FieldName::Password,
        // Issue 12, your account.
        Field::CurrentPassword => FieldName::CurrentPassword,
        // Organisation settings (issue 12, settings).
        Field::UserRetentionDays => FieldName::UserRetentionDays,
        Field::EventRetentionDays => FieldName::EventRetentionDays,
        Field::AllowedDomains => FieldName::AllowedDomains,
    }
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
/// for bad input). Generic so the helpers that still return `ServerFnError` can use it too.
pub fn fail<E: From<AppError>>(status: http::StatusCode, msg: impl Into<String>) -> E {
    respond_with(status);
    E::from(AppError::new(status.as_u16(), msg))
}

/// Sets the status of the response to the current call. A plain form post (JavaScript off) is
/// answered with a redirect back to the form, carrying the error in the URL; a status here would
/// replace that redirect.
pub fn respond_with(status: http::StatusCode) {
    if let (false, Some(res)) = (
        plain_form_post(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        res.set_status(status);
    }
}

/// True while handling a call of a server function (as opposed to rendering a page).
pub fn in_server_fn_call() -> bool {
    use_context::<http::request::Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"))
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

// --- The caller: who is signed in ------------------------------------------------------------
//
// One way to find out, for server functions (`current_admin`, `require_admin`,
// `current_employee`, through `leptos_axum::extract_with_state`) and axum routes (the same types
// as extractors): `CurrentAdmin` / `CurrentEmployee` implement `FromRequestParts` over
// `portal_core::session`. A session or database failure is an error response (503), never
// "signed out".

/// The signed-in admin of a request. Every org-scoped action takes the org from here, never from
/// the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAdmin {
    pub admin_id: String,
    pub org_id: String,
    pub email: String,
    /// Read from the database on every request: a role changed by an Owner applies at once.
    pub role: Role,
}

impl CurrentAdmin {
    /// The acting admin, as the domain's functions take it.
    pub fn actor(&self) -> portal_core::admins::Admin {
        portal_core::admins::Admin {
            id: self.admin_id.clone(),
            org_id: self.org_id.clone(),
            email: self.email.clone(),
            role: self.role,
        }
    }

    /// `Ok` when this admin's role allows `needed`; otherwise the 403 every server function and
    /// route answers (the screens hide what the role cannot do, and this refuses it anyway).
    pub fn allowed(self, needed: Permission) -> Result<Self, AppError> {
        if self.role.allows(needed) {
            Ok(self)
        } else {
            Err(fail(
                http::StatusCode::FORBIDDEN,
                forbidden_message(self.role, needed),
            ))
        }
    }
}

/// What a refused admin is told.
pub fn forbidden_message(role: Role, needed: Permission) -> String {
    let what = match needed {
        Permission::Read => "see this",
        Permission::Manage => "change single sign-on, provisioning or users",
        Permission::Own => "change the admin team or the organisation's settings",
    };
    format!(
        "Your role ({}) cannot {what}. Ask an Owner of your organisation.",
        role.label()
    )
}

/// The signed-in employee of a request, re-checked against the user (active, not deleted) on
/// every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentEmployee {
    pub user_id: String,
    pub org_id: String,
    pub method: SignInMethod,
    /// Given and family name (the userName when both are empty).
    pub name: String,
    pub user_name: String,
    pub org_name: String,
}

/// Why a request has no caller of the kind asked for.
#[derive(Debug)]
pub enum CallerRejection {
    /// Nobody of that kind is signed in on this session.
    SignedOut,
    /// The session or the database could not be read.
    Unavailable(CoreError),
    /// An admin is signed in, but their organisation requires a second factor they have not set
    /// up: only the enrolment screen (`EnrollingAdmin`) serves them (issue 12, two-factor).
    SecondFactorRequired,
}

impl axum::response::IntoResponse for CallerRejection {
    /// For routes that take the caller as a plain extractor: 401, or 503 with `Retry-After`.
    /// Routes that answer differently take `Result<CurrentAdmin, CallerRejection>`.
    fn into_response(self) -> axum::response::Response {
        use http::header::{CACHE_CONTROL, RETRY_AFTER};
        match self {
            Self::SignedOut => (
                http::StatusCode::UNAUTHORIZED,
                [(CACHE_CONTROL, "no-store")],
                "Sign in first.\n",
            )
                .into_response(),
            Self::SecondFactorRequired => (
                http::StatusCode::FORBIDDEN,
                [(CACHE_CONTROL, "no-store")],
                format!("{SECOND_FACTOR_REQUIRED_MESSAGE}\n"),
            )
                .into_response(),
            Self::Unavailable(e) => {
                tracing::error!(error = %e, "could not resolve the signed-in caller");
                (
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    [(CACHE_CONTROL, "no-store"), (RETRY_AFTER, "2")],
                    "A temporary problem occurred; please try again.\n",
                )
                    .into_response()
            }
        }
    }
}

/// Runs one of `portal_core::session`'s resolvers on the request's session.
async fn from_session<S, T, F>(
    parts: &http::request::Parts,
    state: &S,
    resolve: impl FnOnce(Services, Session) -> F,
) -> Result<T, CallerRejection>
where
    Services: axum::extract::FromRef<S>,
    F: std::future::Future<Output = portal_core::error::CoreResult<Option<T>>>,
{
    let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
        CallerRejection::Unavailable(CoreError::Internal("no session layer".into()))
    })?;
    let svc = <Services as axum::extract::FromRef<S>>::from_ref(state);
    match resolve(svc, session).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(CallerRejection::SignedOut),
        Err(e) => Err(CallerRejection::Unavailable(e)),
    }
}

impl From<portal_core::admins::Admin> for CurrentAdmin {
    fn from(admin: portal_core::admins::Admin) -> Self {
        Self {
            admin_id: admin.id,
            org_id: admin.org_id,
            email: admin.email,
            role: admin.role,
        }
    }
}

impl From<(EmployeeSession, portal_core::employees::Employee)> for CurrentEmployee {
    fn from((stored, found): (EmployeeSession, portal_core::employees::Employee)) -> Self {
        Self {
            user_id: found.user_id,
            org_id: found.org_id,
            method: stored.method,
            name: found.name,
            user_name: found.user_name,
            org_name: found.org_name,
        }
    }
}

/// `FromRequestParts` for a caller type, over its resolver in `portal_core::session`.
macro_rules! caller_extractor {
    ($caller:ty, $resolve:path) => {
        impl<S> axum::extract::FromRequestParts<S> for $caller
        where
            Services: axum::extract::FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = CallerRejection;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                from_session(parts, state, |svc, session| async move {
                    $resolve(&svc, &session).await
                })
                .await
                .map(<$caller>::from)
            }
        }
    };
}

caller_extractor!(EnrollingAdmin, portal_core::session::admin);

/// The signed-in admin, refused (`SecondFactorRequired`) while their organisation requires a
/// second factor they have not set up: the one place that enforces `orgs.require_2fa`, for
/// server functions and axum routes alike, however the admin signed in (password, invitation
/// link, SSO).
impl<S> axum::extract::FromRequestParts<S> for CurrentAdmin
where
    Services: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = CallerRejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let EnrollingAdmin(admin) = EnrollingAdmin::from_request_parts(parts, state).await?;
        let svc = <Services as axum::extract::FromRef<S>>::from_ref(state);
        match portal_core::two_factor::enrolment_required(&svc.db, &admin.admin_id, &admin.org_id)
            .await
        {
            Ok(false) => Ok(admin),
            Ok(true) => Err(CallerRejection::SecondFactorRequired),
            Err(e) => Err(CallerRejection::Unavailable(e)),
        }
    }
}
caller_extractor!(CurrentEmployee, portal_core::session::employee);

/// The caller of the current server-function call, through the same extractor as the routes.
async fn caller<T>() -> Result<Option<T>, AppError>
where
    T: axum::extract::FromRequestParts<Services, Rejection = CallerRejection> + Send + 'static,
{
    let svc = services()?;
    let extracted = leptos_axum::extract_with_state::<Result<T, CallerRejection>, Services>(&svc)
        .await
        .map_err(AppError::from_server_fn_error)?;
    match extracted {
        Ok(caller) => Ok(Some(caller)),
        Err(CallerRejection::SignedOut) => Ok(None),
        Err(CallerRejection::Unavailable(e)) => Err(to_client(e)),
        Err(CallerRejection::SecondFactorRequired) => Err(fail(
            http::StatusCode::FORBIDDEN,
            SECOND_FACTOR_REQUIRED_MESSAGE,
        )),
    }
}

/// The signed-in admin, if the session holds one that still exists.
pub async fn current_admin() -> Result<Option<CurrentAdmin>, AppError> {
    caller().await
}

/// Every admin server function starts here: no admin, no access; a role that does not allow
/// `needed`, a 403. The org id always comes from the session, never from the client.
pub async fn require(needed: Permission) -> Result<CurrentAdmin, AppError> {
    current_admin()
        .await?
        .ok_or_else(|| {
            fail::<AppError>(
                http::StatusCode::UNAUTHORIZED,
                "Your session has ended. Sign in again.",
            )
        })?
        .allowed(needed)
}

/// The signed-in employee, if the session holds one who is still active.
pub async fn current_employee() -> Result<Option<CurrentEmployee>, AppError> {
    caller().await
}

/// What the admin shell shows about the signed-in admin.
pub async fn admin_view(admin: &CurrentAdmin) -> Result<AdminView, AppError> {
    let svc = services()?;
    let org = portal_core::admins::org_by_id(&svc.db, &admin.org_id)
        .await
        .map_err(to_client)?
        .ok_or_else(|| {
            fail::<AppError>(
                http::StatusCode::UNAUTHORIZED,
                "Your organisation no longer exists.",
            )
        })?;
    let second_factor_required =
        portal_core::two_factor::enrolment_required(&svc.db, &admin.admin_id, &admin.org_id)
            .await
            .map_err(to_client)?;
    Ok(AdminView {
        admin_email: admin.email.clone(),
        org_id: org.id,
        org_name: org.name,
        role: match admin.role {
            Role::Owner => crate::dto::AdminRole::Owner,
            Role::Admin => crate::dto::AdminRole::Admin,
            Role::Viewer => crate::dto::AdminRole::Viewer,
        },
        second_factor_required,
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
    let values = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    portal_core::cookies::read(values, name, portal_core::cookies::is_token)
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
pub async fn start_admin_session(
    admin_id: &str,
    method: AdminSignInMethod,
) -> Result<(), AppError> {
    let session = session().await?;
    let svc = services()?;
    let meta = portal_core::session::AdminSessionMeta {
        method,
        client: client_description().await,
        started_at: svc.now(),
        reauthenticated_at: None,
    };
    portal_core::session::start_admin(&session, admin_id, meta)
        .await
        .map_err(to_client)
}

/// "Chrome on Linux · 203.0.113.7": the browser and address a session started from, as "Your
/// sessions" shows them.
pub async fn client_description() -> String {
    let ua = use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    format!(
        "{} · {}",
        portal_core::session::describe_user_agent(&ua),
        client_addr().await
    )
}

/// Signs the employee in on this session: a fresh session id, so a planted id is useless.
pub async fn start_employee_session(
    employee: &portal_core::employees::Employee,
    method: SignInMethod,
) -> Result<(), AppError> {
    let session = session().await?;
    portal_core::session::start_employee(&session, employee, method)
        .await
        .map_err(to_client)
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

// --- Second factor (issue 12, two-factor) ----------------------------------------------------

/// What an admin who owes their organisation a second factor is told by every other screen.
pub const SECOND_FACTOR_REQUIRED_MESSAGE: &str =
    "Your organisation requires two-factor authentication. Set it up under Two-factor \
     authentication (/admin/account/2fa) first.";

/// The signed-in admin even while their organisation requires a second factor they have not set
/// up: only for the two-factor screen and the shell (which sends such an admin there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollingAdmin(pub CurrentAdmin);

impl From<portal_core::admins::Admin> for EnrollingAdmin {
    fn from(admin: portal_core::admins::Admin) -> Self {
        Self(CurrentAdmin::from(admin))
    }
}

/// The signed-in admin, second factor set up or not (the shell, the two-factor screen).
pub async fn current_admin_enrolling() -> Result<Option<CurrentAdmin>, AppError> {
    Ok(caller::<EnrollingAdmin>().await?.map(|EnrollingAdmin(a)| a))
}

/// `require`, for the two-factor screen's server functions: they must serve an admin whom
/// `orgs.require_2fa` sends there.
pub async fn require_enrolling(needed: Permission) -> Result<CurrentAdmin, AppError> {
    current_admin_enrolling()
        .await?
        .ok_or_else(|| {
            fail::<AppError>(
                http::StatusCode::UNAUTHORIZED,
                "Your session has ended. Sign in again.",
            )
        })?
        .allowed(needed)
}

/// The admin of this session's pending second sign-in step, if any (and not expired).
pub async fn pending_second_factor() -> Result<Option<portal_core::admins::Admin>, AppError> {
    let svc = services()?;
    let session = session().await?;
    portal_core::session::pending_second_factor(&svc, &session)
        .await
        .map_err(to_client)
}

/// SCIM request log (issue 13): days the deployment keeps SCIM requests
/// (`SCIM_REQUEST_LOG_RETENTION_DAYS`; 0: not logged), provided by the server.
#[derive(Clone, Copy, Debug)]
pub struct ScimRequestLogRetention(pub u32);
