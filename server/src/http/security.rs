//! Security headers on every response, and refusal of cross-site posts to server functions.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Validated;

/// Leptos pages set their own CSP with a per-response nonce (see `app::shell`); everything else
/// (JSON, XML, static files) gets a policy that allows nothing to run.
pub async fn security_headers(
    State(config): State<Arc<Validated>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        if !h.contains_key(&k) {
            h.insert(k, HeaderValue::from_static(v));
        }
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // same-origin: no URL leaks to other sites, and forms posted without JavaScript can be sent
    // back to the page they came from.
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if config.secure_cookies {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    res
}

/// Server functions change state with POSTs carrying the admin's cookie; a browser posting from
/// another site is refused. Browsers send `Sec-Fetch-Site` (and `Origin`) on every POST; clients
/// that send neither are not browsers and carry no ambient cookie.
pub async fn cross_site_guard(
    State(config): State<Arc<Validated>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    if req.method() != Method::GET
        && req.method() != Method::HEAD
        && req.uri().path().starts_with("/api/")
        && !same_origin_request(&req, &config.public_origin)
    {
        tracing::warn!(path = %req.uri().path(), "refused a cross-site request to a server function");
        return (
            StatusCode::FORBIDDEN,
            "Cross-site requests are not allowed. Reload the page and try again.",
        )
            .into_response();
    }
    // Arguments that do not deserialise are answered with 400 by `app::errors::AppError`.
    next.run(req).await
}

fn same_origin_request(req: &Request<Body>, public_origin: &str) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin == public_origin;
    }
    true
}

/// A page that redirects while rendering (`<Redirect>`) gets its `Location` header, but Leptos sets
/// the 302 status only when the request's `Accept` names `text/html`; a client that asked for
/// `*/*` would get the protected page's shell with status 200. Any page response that carries a
/// `Location` is a redirect. (Server functions under `/api/` keep Leptos's own redirect protocol.)
pub async fn redirect_status(req: Request, next: Next) -> Response {
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    if is_page && res.status() == StatusCode::OK && res.headers().contains_key(header::LOCATION) {
        *res.status_mut() = StatusCode::FOUND;
    }
    res
}
