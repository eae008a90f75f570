#![recursion_limit = "512"]
//! The portal's HTTP server: Leptos SSR pages and server functions, `/healthz`, and (in later
//! modules) the SCIM and SAML endpoints. `main.rs` only parses configuration and calls `serve`.

pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;

use std::net::SocketAddr;
use std::sync::Arc;

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

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub leptos_options: LeptosOptions,
    pub config: Arc<Validated>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos_options.clone()
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
    }
}

pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
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
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(i64::from(
            state.config.session_idle_minutes,
        ))));

    let ctx = {
        let services = state.services.clone();
        let trust = state.config.trust_forwarded_for;
        move || {
            provide_context(services.clone());
            provide_context(app::ssr::ClientAddrPolicy {
                trust_forwarded_for: trust,
            });
        }
    };
    let shell = {
        let options = state.leptos_options.clone();
        move || app::shell(options.clone())
    };

    Router::new()
        .merge(http::health::routes())
        .merge(http::scim::routes(state.clone()))
        .merge(http::export::routes())
        .merge(http::saml::routes())
        .leptos_routes_with_context(&state, routes, ctx, shell)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            http::security::cross_site_guard,
        ))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(
            state.config.clone(),
            http::security::security_headers,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(state)
}

/// Binds and serves until Ctrl-C / SIGTERM.
pub async fn serve(state: AppState, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    serve_on(state, listener).await
}

pub async fn serve_on(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    jobs::spawn_housekeeping(state.services.clone());
    match portal_core::mail::Mailer::from_url(&state.config.mail_url, &state.config.mail_from) {
        Ok(mailer) => jobs::spawn_mail_delivery(state.services.clone(), mailer),
        Err(e) => anyhow::bail!("{e}"),
    }
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
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
