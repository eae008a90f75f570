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
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if is_api && res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return client_errors_are_not_500(res).await;
    }
    res
}

/// Leptos answers a server-function call whose arguments do not deserialise (a missing or
/// malformed form field) with 500; that is the client's mistake, so it becomes a 400 with the
/// same body (which the server-function client still decodes as the error).
async fn client_errors_are_not_500(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if bytes.starts_with(b"Args|") || bytes.starts_with(b"Deserialization|") {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
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
