//! "Generate new token" without JavaScript. The confirm form on the Automated user provisioning
//! screen posts here before hydration (or with JavaScript off): a server function posted as a
//! plain form answers with a redirect back to the page, which would lose the token, so this
//! route answers with the token page itself. The token lives only in this one `no-store`
//! response: not in the session, the database (only its SHA-256), a URL or a log line.
//!
//! "Rotate token" (issue 13) posts here too, with `mode=rotate` and the grace period: the same
//! one-time page shows the next token, and says the current one keeps working until the IdP's
//! first successful request with the new one.
//!
//! The path is under `/api/`, so `security::cross_site_guard` refuses cross-site posts before
//! this handler runs, exactly as for the server functions.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use portal_core::CoreError;

use app::routes::admin::provisioning::{
    GRACE_FIELD, MODE_FIELD, MODE_ROTATE, REPLACES_FIELD, TOKEN_FORM_PATH,
};
use app::ssr::{forbidden_message, CallerRejection, CurrentAdmin, Permission};

use crate::http::saml::page;
use crate::AppState;

const SCREEN: &str = "/admin/provisioning";

pub fn routes() -> Router<AppState> {
    // A GET (a bookmark, or Back into the form result) has nothing to show: the token is gone.
    Router::new().route(
        TOKEN_FORM_PATH,
        post(generate).get(|| async { see_other(SCREEN) }),
    )
}

fn esc(s: &str) -> String {
    portal_saml::xml_escape(s)
}

fn see_other(to: &'static str) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A field of the form (`""`: absent).
fn field_of(body: &[u8], name: &str) -> String {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The token id the admin saw when confirming (`""`: none).
fn replaces(body: &[u8]) -> String {
    field_of(body, REPLACES_FIELD)
}

fn back_link() -> String {
    format!(
        "<p><a class=\"button-like\" href=\"{SCREEN}\">Back to Automated user provisioning</a></p>"
    )
}

fn failure(e: CoreError) -> Response {
    match e {
        CoreError::Conflict(msg) => page(
            StatusCode::CONFLICT,
            "Token not generated",
            &format!(
                "<p class=\"alert error\" role=\"alert\">{}</p>{}",
                esc(&msg),
                back_link()
            ),
        ),
        CoreError::Invalid(msg) => page(
            StatusCode::BAD_REQUEST,
            "Token not generated",
            &format!(
                "<p class=\"alert error\" role=\"alert\">{}</p>{}",
                esc(&msg),
                back_link()
            ),
        ),
        CoreError::NotFound => page(
            StatusCode::NOT_FOUND,
            "Organisation not found",
            "<p class=\"alert error\" role=\"alert\">Your organisation no longer exists.</p>",
        ),
        other => {
            tracing::error!(error = %other, "generating a SCIM token (form post) failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                &format!(
                    "<p class=\"alert error\" role=\"alert\">A temporary problem occurred; no token was generated.</p>{}",
                    back_link()
                ),
            )
        }
    }
}

/// The org always comes from the signed-in admin (the same extractor as the server functions),
/// never from the form.
async fn generate(
    State(state): State<AppState>,
    admin: Result<CurrentAdmin, CallerRejection>,
    body: Bytes,
) -> Response {
    let admin = match admin {
        Ok(a) => a,
        Err(CallerRejection::SignedOut) => return see_other("/admin/login"),
        Err(CallerRejection::Unavailable(e)) => return failure(e),
        // Second factor (issue 12, two-factor): the org requires one this admin has not set up.
        Err(CallerRejection::SecondFactorRequired) => return see_other("/admin/account/2fa"),
    };
    if !admin.role.allows(Permission::Manage) {
        return page(
            StatusCode::FORBIDDEN,
            "Token not generated",
            &format!(
                "<p class=\"alert error\" role=\"alert\">{}</p>{}",
                forbidden_message(admin.role, Permission::Manage),
                back_link()
            ),
        );
    }
    let svc = &state.services;
    let rotating = field_of(&body, MODE_FIELD) == MODE_ROTATE;
    // A resubmitted form (a reload of this page, Back then Confirm) must not replace the token the
    // admin has just been shown. The check and the replacement are not one transaction: this
    // only catches the stale form; concurrent generations are serialised by
    // `scim_tokens::generate` itself.
    // For a rotation the form names the next token it saw (none, or the one it would replace).
    let current = if rotating {
        match portal_core::scim_tokens::rotation(svc, &admin.org_id).await {
            Ok(r) => r.map(|r| r.next.id).unwrap_or_default(),
            Err(e) => return failure(e),
        }
    } else {
        match portal_core::scim_tokens::status(svc, &admin.org_id).await {
            Ok(s) => s.map(|t| t.id).unwrap_or_default(),
            Err(e) => return failure(e),
        }
    };
    if replaces(&body) != current {
        return page(
            StatusCode::CONFLICT,
            "Token not generated",
            &format!(
                "<p class=\"alert warn\" role=\"alert\">The SCIM token changed since this form \
                 was loaded (for example, the page that showed the new token was reloaded, or an \
                 older copy of the screen was used). Nothing was changed: the token generated \
                 last still works.</p>\
                 <p>If you did not copy that token, generate a new one.</p>{}",
                back_link()
            ),
        );
    }
    let result = if rotating {
        let Ok(hours) = field_of(&body, GRACE_FIELD).trim().parse::<i64>() else {
            return failure(CoreError::Invalid(
                "Choose a grace period between 1 hour and 30 days.".into(),
            ));
        };
        portal_core::scim_tokens::rotate(
            svc,
            &admin.org_id,
            &admin.email,
            hours.saturating_mul(3_600_000),
        )
        .await
    } else {
        portal_core::scim_tokens::generate(svc, &admin.org_id, &admin.email).await
    };
    let token = match result {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    let after = if rotating {
        "Your current token keeps working until your IdP's first successful request with this \
         one, which retires it."
    } else {
        "Any previous token has stopped working."
    };
    let base_url = format!("{}/scim/v2/{}", svc.settings.public_url, admin.org_id);
    let field = |id: &str, label: &str, value: &str| {
        format!(
            "<div class=\"copy-field\"><label for=\"{id}\">{label}</label><div class=\"copy-row\">\
             <input id=\"{id}\" type=\"text\" readonly class=\"mono\" autocomplete=\"off\" \
             spellcheck=\"false\" value=\"{}\"></div></div>",
            esc(value)
        )
    };
    let body = format!(
        "<div class=\"secret-once\" role=\"region\" aria-label=\"New SCIM token\">\
         <p class=\"alert warn\"><strong>Copy this token now.</strong> It is shown only once and \
         cannot be retrieved later. Paste it as the Token Key in your IdP.</p>{}</div>\
         <p class=\"muted\">Select the field and copy it. {}</p>\
         {}{}",
        field("new-scim-token", "New SCIM token", token.expose()),
        after,
        field("scim-base-url", "SCIM base URL", &base_url),
        back_link()
    );
    // `page` sets `Cache-Control: no-store` and a CSP under which nothing runs.
    page(StatusCode::OK, "New SCIM token", &body)
}
