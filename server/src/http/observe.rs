//! Request ids, the request log and the request metrics, around the whole application.
//!
//! Every request gets an id: a well-formed `x-request-id` from the proxy in front is kept,
//! anything else is replaced by a fresh UUID. The id is returned in the response's
//! `x-request-id` header, is a field of the request's log line and is shown on the HTML error
//! pages the server renders itself (`crate::http::saml::page`). One log line per request
//! (`tower_http::trace`): method, route template (never the raw path or query, which can carry
//! tokens), status, duration and request id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request being handled (for error pages), if any.
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(Clone::clone).ok()
}

/// Up to 64 letters, digits, `-`, `_`, `.`: what proxies send; anything else is not kept (it
/// would end up in logs and pages).
fn acceptable_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// An incoming id is kept only from a proxy of ours (`TRUSTED_PROXIES` > 0) and only when it is
/// well-formed; otherwise a fresh one is made, so a client cannot choose or reuse the id that
/// names its request in logs and on error pages.
async fn drop_untrusted_id(
    State(keep_incoming): State<bool>,
    mut req: Request,
    next: Next,
) -> Response {
    if req
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|v| !keep_incoming || !acceptable_id(v))
    {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// Counts the request (by route template and status) and makes its id available to handlers.
async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let method = req.method().clone();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let started = Instant::now();
    let res = CURRENT_REQUEST_ID.scope(id, next.run(req)).await;
    metrics.record_request(&method, route.as_deref(), res.status(), started.elapsed());
    res
}

fn span_for(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(crate::metrics::UNMATCHED, |p| p.as_str());
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %req.method(), route = %route, request_id = %id)
}

fn log_response(res: &Response, took: Duration, _span: &Span) {
    let status = res.status().as_u16();
    let duration_ms = took.as_secs_f64() * 1000.0;
    if res.status().is_server_error() {
        tracing::warn!(status, duration_ms, "request");
    } else {
        tracing::info!(status, duration_ms, "request");
    }
}

/// Wraps the application (`crate::router`). These are route layers, so each request's matched
/// route template is known here.
pub fn around<S: Clone + Send + Sync + 'static>(
    app: Router<S>,
    metrics: Arc<Metrics>,
    keep_incoming_ids: bool,
) -> Router<S> {
    app.layer(axum::middleware::from_fn_with_state(metrics, track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span_for)
                .on_request(())
                .on_response(log_response)
                // The status is on the response line already: one line per request.
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(
            keep_incoming_ids,
            drop_untrusted_id,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        let ok = |s: &str| acceptable_id(&HeaderValue::from_str(s).unwrap());
        assert!(ok("3f2a-11.b_c"));
        assert!(!ok(""));
        assert!(!ok("<script>"));
        assert!(!ok("a b"));
        assert!(!ok(&"a".repeat(65)));
    }
}
