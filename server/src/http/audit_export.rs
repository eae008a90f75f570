//! Exports of the Activity screen's filtered events, CSV and JSON Lines, streamed in keyset chunks
//! so a long audit trail never sits in memory. The filters are read by the screen's own parser
//! (`portal_core::audit::ActivityQuery::parse`): a bad value is a 400 that says what to fix.

use app::ssr::{CurrentAdmin, Permission};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_core::admin_views::EventRow;
use portal_core::audit::{self, ActivityFilter, ActivityQuery, Cursor};

use crate::AppState;

/// Events per database round trip.
pub const CHUNK: i64 = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/activity/export.csv", get(export_csv))
        .route("/admin/activity/export.jsonl", get(export_jsonl))
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Jsonl,
}

/// One CSV field: defused when a spreadsheet would run it as a formula (a leading `= + - @`,
/// tab or carriage return gets a `'`), quoted when needed. The same rule as the Users export.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

const CSV_HEADER: &str =
    "Time (UTC),Kind,Event,Result,Actor,User ID,userName,SCIM error,Message\r\n";

fn csv_line(e: &EventRow) -> String {
    let cols = [
        portal_core::clock::rfc3339(e.at),
        e.kind.as_str().to_string(),
        e.name.clone(),
        if e.success { "success" } else { "failure" }.to_string(),
        e.actor.clone(),
        e.user_id.clone().unwrap_or_default(),
        e.user_name.clone().unwrap_or_default(),
        e.scim_type.clone().unwrap_or_default(),
        e.message.clone(),
    ];
    let mut l = cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    l.push_str("\r\n");
    l
}

fn json_line(e: &EventRow) -> String {
    let v = serde_json::json!({
        "id": e.id,
        "at": portal_core::clock::rfc3339(e.at),
        "kind": e.kind.as_str(),
        "name": e.name,
        "success": e.success,
        "actor": e.actor,
        "user_id": e.user_id,
        "user_name": e.user_name,
        "scim_type": e.scim_type,
        "message": e.message,
    });
    let mut l = v.to_string();
    l.push('\n');
    l
}

async fn export_csv(
    State(state): State<AppState>,
    admin: CurrentAdmin,
    RawQuery(raw): RawQuery,
) -> Response {
    export(state, admin, raw, Format::Csv)
}

async fn export_jsonl(
    State(state): State<AppState>,
    admin: CurrentAdmin,
    RawQuery(raw): RawQuery,
) -> Response {
    export(state, admin, raw, Format::Jsonl)
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        message,
    )
        .into_response()
}

/// Signed-out callers get the extractor's 401 (503 when the session cannot be read). The org is
/// the admin's own; an `org_id` in the query is ignored like any other unknown parameter.
fn export(state: AppState, admin: CurrentAdmin, raw: Option<String>, format: Format) -> Response {
    let admin = match admin.allowed(Permission::Read) {
        Ok(a) => a,
        Err(e) => return refuse(StatusCode::FORBIDDEN, e.message),
    };
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let filter = match ActivityQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(q) => q.filter,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let svc = state.services.clone();
    let today = portal_core::clock::rfc3339(svc.now());
    let day = today.get(..10).unwrap_or("export").to_string();
    let (content_type, extension, header_line) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv", Some(CSV_HEADER)),
        Format::Jsonl => ("application/x-ndjson; charset=utf-8", "jsonl", None),
    };
    let org = admin.org_id;
    let stream = chunks(svc, org, filter, format, header_line);
    let disposition = format!("attachment; filename=\"activity-{day}.{extension}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Where the stream is: the header line still to send, then chunk after chunk until one comes
/// back short.
enum Step {
    Header,
    After(Option<Cursor>),
    Done,
}

fn chunks(
    svc: portal_core::Services,
    org: String,
    filter: ActivityFilter,
    format: Format,
    header_line: Option<&'static str>,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    futures::stream::unfold(Step::Header, move |step| {
        let svc = svc.clone();
        let org = org.clone();
        let filter = filter.clone();
        async move {
            let after = match step {
                Step::Done => return None,
                Step::Header => {
                    if let Some(h) = header_line {
                        return Some((Ok(h.to_string()), Step::After(None)));
                    }
                    None
                }
                Step::After(after) => after,
            };
            match audit::export_chunk(&svc, &org, &filter, after.as_ref(), CHUNK).await {
                Ok((rows, last)) => {
                    if rows.is_empty() {
                        return None;
                    }
                    let next = if (rows.len() as i64) < CHUNK {
                        Step::Done
                    } else {
                        Step::After(last)
                    };
                    let text: String = rows
                        .iter()
                        .map(|e| match format {
                            Format::Csv => csv_line(e),
                            Format::Jsonl => json_line(e),
                        })
                        .collect();
                    Some((Ok(text), next))
                }
                Err(e) => {
                    // The status line is gone already: the body ends in an error, so the
                    // download fails instead of looking complete.
                    tracing::error!(error = %e, "activity export failed part-way");
                    Some((Err(std::io::Error::other("export failed")), Step::Done))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("@cmd"), "'@cmd");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(field("a=b"), "a=b");
    }
}
