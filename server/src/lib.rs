#![recursion_limit = "512"]
//! The portal's HTTP server: Leptos SSR pages and server functions, `/healthz`, and (in later
//! modules) the SCIM and SAML endpoints. `main.rs` only parses configuration and calls `serve`.

pub mod bench_seed;
pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use portal_core::services::Settings;
use portal_core::session_store::DbSessionStore;
use portal_core::{Clock, Db, Services, SystemClock};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::Validated;

/// What every handler shares, behind one `Arc`: axum clones the state for each request and
/// each layer that extracts it, and a clone of the parts themselves (the services' handles, the
/// Leptos options' strings) took about 4% of the server's CPU under SCIM lookups (issue 11).
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;
    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

pub struct AppStateParts {
    pub services: Services,
    pub leptos_options: LeptosOptions,
    pub config: Arc<Validated>,
    /// Counters served on `METRICS_ADDR` (`metrics::Metrics`).
    pub metrics: Arc<metrics::Metrics>,
    /// SCIM request log (issue 13): the batched writer, started on first use.
    pub scim_log: http::scim::RequestLog,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos_options.clone()
    }
}

/// For the caller extractors (`app::ssr::CurrentAdmin`, `CurrentEmployee`).
impl FromRef<AppState> for Services {
    fn from_ref(s: &AppState) -> Self {
        s.services.clone()
    }
}

pub fn services(db: Db, config: &Validated, clock: Arc<dyn Clock>) -> Services {
    Services {
        db,
        clock,
        settings: Arc::new(Settings {
            public_url: config.public_url.clone(),
            secure_cookies: config.secure_cookies,
            throttle: Default::default(),
            setup_token_ttl_ms: 24 * 3600 * 1000,
            magic_link_ttl_ms: i64::from(config.magic_link_ttl_minutes) * 60_000,
        }),
        argon2: Default::default(),
    }
}

pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The Leptos route list, generated once per process. Generating it runs the app with resource
/// loading suppressed through a *process-global* flag (leptos_server's `SuppressResourceLoad`): a
/// resource first polled by another server's render at that moment waits for ever (leptos issue
/// #4773). Several servers in one process (the integration tests, two instances in the scale-out
/// test) hung a page now and then this way; generating once, before any router serves, closes it.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let session_layer = SessionManagerLayer::new(DbSessionStore::new(state.services.db.clone()))
        .with_name(if state.config.secure_cookies {
            "__Host-portal"
        } else {
            "portal_session"
        })
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::minutes(i64::from(
                state.config.session_idle_minutes,
            )),
        ));

    let ctx = {
        let services = state.services.clone();
        let trusted_proxies = state.config.trusted_proxies;
        // SCIM request log (issue 13).
        let scim_log_days = state.config.scim_request_log_retention_days;
        move || {
            provide_context(services.clone());
            provide_context(app::ssr::ClientAddrPolicy { trusted_proxies });
            provide_context(app::ssr::ScimRequestLogRetention(scim_log_days));
        }
    };
    let shell = {
        let options = state.leptos_options.clone();
        move || app::shell(options.clone())
    };

    let app = Router::new()
        .merge(http::health::routes())
        .merge(http::assets::routes(&state))
        .merge(http::scim::routes(state.clone()))
        .merge(http::export::routes())
        .merge(http::saml::routes())
        .merge(http::provisioning::routes())
        // Issue 12, audit trail: the Activity exports.
        .merge(http::audit_export::routes())
        .leptos_routes_with_context(&state, routes, ctx, shell)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            http::security::cross_site_guard,
        ))
        .layer(axum::middleware::from_fn(http::security::redirect_status))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            http::security::security_headers,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    // Outermost: request ids, the request log line and the request metrics see every answer,
    // timeouts and panics included.
    let keep_incoming_ids = state.config.trusted_proxies > 0;
    http::observe::around(app, state.metrics.clone(), keep_incoming_ids).with_state(state)
}

/// `/metrics` (Prometheus text format), for the private listener only.
pub fn metrics_router(state: AppState) -> Router {
    async fn scrape(
        axum::extract::State(state): axum::extract::State<AppState>,
    ) -> impl axum::response::IntoResponse {
        let body = state
            .metrics
            .render(&state.services, state.config.db_max_connections);
        (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
    }
    Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

/// Binds and serves until Ctrl-C / SIGTERM.
pub async fn serve(state: AppState, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    serve_on(state, listener).await
}

/// How long a client may take to send a request's headers, and a whole request's handling.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves on `listener`, and `/metrics` on `METRICS_ADDR` when that is configured.
pub async fn serve_on(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let metrics_listener = match state.config.metrics_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on METRICS_ADDR {addr}: {e}"))?,
        ),
        None => None,
    };
    serve_with_metrics(state, listener, metrics_listener).await
}

/// [`serve_on`] with the metrics listener already bound (tests bind port 0).
pub async fn serve_with_metrics(
    state: AppState,
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<()> {
    serve_until(state, listener, metrics_listener, shutdown_signal()).await
}

/// [`serve_with_metrics`] until `shutdown` completes (Ctrl-C / SIGTERM in the binary); then the
/// requests in flight finish and what is still waiting to be written (SCIM token use, the SCIM
/// request log) is written.
pub async fn serve_until(
    state: AppState,
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    jobs::spawn_housekeeping(state.services.clone());
    // SCIM request log (issue 13): its retention purge.
    jobs::spawn_scim_request_log_purge(
        state.services.clone(),
        state.config.scim_request_log_retention_days,
    );
    match portal_core::mail::Mailer::from_url(&state.config.mail_url, &state.config.mail_from) {
        Ok(mailer) => jobs::spawn_mail_delivery(state.services.clone(), mailer),
        Err(e) => anyhow::bail!("{e}"),
    }
    // A plain server is enough here: the listener is private and the answer is small.
    let metrics_task = match metrics_listener {
        Some(l) => {
            tracing::info!("metrics on http://{}/metrics", l.local_addr()?);
            let app = metrics_router(state.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(l, app).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            }))
        }
        None => None,
    };
    let max_connections = state.config.max_connections as usize;
    let services = state.services.clone();
    let scim_log = state.scim_log.clone();
    let app = router(state);
    serve_connections(listener, app, max_connections, shutdown).await;
    // The SCIM request log lingers before it writes: write what the last requests left now.
    scim_log.finish(Duration::from_secs(10)).await;
    if let Some(task) = metrics_task {
        task.abort();
    }
    // SCIM token use is noted in memory and written once per tick: write the rest now.
    if let Err(e) = portal_core::scim_tokens::flush_usage(&services.db).await {
        tracing::error!(error = %e, "could not write SCIM token use at shutdown");
    }
    Ok(())
}

/// The longest a connection is kept, whatever it does (a client that never reads its response
/// would otherwise hold its slot for ever).
pub const CONNECTION_MAX_LIFETIME: Duration = Duration::from_secs(600);

/// The accept loop. Unlike `axum::serve`, it bounds what one client can hold: the first byte must
/// come within `HEADER_READ_TIMEOUT` and the headers within the same time after it (a client
/// trickling a header byte by byte is cut off), a connection lives at most
/// `CONNECTION_MAX_LIFETIME`, at most `max_connections` connections are served at once (the rest
/// wait in the listen queue), and responses are not held back by Nagle's algorithm. HTTP/1.1
/// only: TLS and HTTP/2 belong to the proxy in front, and cleartext HTTP/2 would add a preface
/// read and idle pings that no timeout above covers.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    max_connections: usize,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::Service;

    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(tower_service) = make_service.call(peer).await;
        let hyper_service = hyper_util::service::TowerToHyperService::new(tower_service);
        // No route upgrades a connection (no WebSockets), so none is allowed.
        let conn = builder.serve_connection(TokioIo::new(stream), hyper_service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_MAX_LIFETIME, conn).await;
            drop(slot);
        });
    }
    drop(listener);
    // Let requests in flight finish, for a while.
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
