//! CSV export of the Users table, streamed chunk by chunk so 100,000 rows never sit in memory.

use app::ssr::CurrentAdmin;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_core::admin_views::{self, UserRow, UsersQuery};

use crate::AppState;

const CHUNK: i64 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/users.csv", get(export))
}

/// One CSV field: quoted when needed, and defused when a spreadsheet would run it as a formula.
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

fn line(r: &UserRow, groups: &std::collections::HashMap<String, Vec<(String, String)>>) -> String {
    let t = |v: Option<i64>| v.map(portal_core::clock::rfc3339).unwrap_or_default();
    let cols = [
        r.name.clone(),
        r.user_name.clone(),
        r.email.clone().unwrap_or_default(),
        r.department.clone().unwrap_or_default(),
        r.country.clone().unwrap_or_default(),
        r.locality.clone().unwrap_or_default(),
        r.status.clone(),
        r.source.clone(),
        t(r.last_sign_in_at),
        t(Some(r.updated_at)),
        t(r.deleted_at),
        // SCIM Groups (issue 13): the user's groups by displayName.
        groups
            .get(&r.id)
            .map(|g| {
                g.iter()
                    .map(|(_, name)| name.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
    ];
    let mut l = cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    l.push_str("\r\n");
    l
}

/// Signed-out callers get the extractor's 401 (503 when the session cannot be read).
async fn export(
    State(state): State<AppState>,
    admin: CurrentAdmin,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    // The Users screen's filters, read as the screen reads them (sort and page do not apply).
    let q = UsersQuery::from_params(|k| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone()));
    let svc = state.services.clone();
    let org = admin.org_id.clone();
    let header_line = "Name,userName,Email,Department,Country,City,Status,Source,Last sign-in,Last change,Deleted at,Groups\r\n".to_string();
    // State: (after-key, done?). The first item is the header line.
    let stream = futures::stream::unfold(
        (None::<(i64, String)>, false, true),
        move |(after, done, first)| {
            let svc = svc.clone();
            let org = org.clone();
            let q = q.clone();
            let header_line = header_line.clone();
            async move {
                if first {
                    return Some((Ok::<_, std::io::Error>(header_line), (None, false, false)));
                }
                if done {
                    return None;
                }
                match admin_views::export_chunk(&svc, &org, &q, after, CHUNK).await {
                    Ok((rows, last)) => {
                        if rows.is_empty() {
                            return None;
                        }
                        let finished = (rows.len() as i64) < CHUNK;
                        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                        let groups = match svc.db.pool.acquire().await {
                            Ok(mut conn) => {
                                portal_core::groups::groups_of_users(&mut conn, &org, &ids).await
                            }
                            Err(e) => Err(e.into()),
                        };
                        let groups = match groups {
                            Ok(g) => g,
                            Err(e) => {
                                tracing::error!(error = %e, "CSV export failed part-way");
                                return Some((
                                    Err(std::io::Error::other("export failed")),
                                    (None, true, false),
                                ));
                            }
                        };
                        let text: String = rows.iter().map(|r| line(r, &groups)).collect();
                        Some((Ok(text), (last, finished, false)))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "CSV export failed part-way");
                        Some((
                            Err(std::io::Error::other("export failed")),
                            (None, true, false),
                        ))
                    }
                }
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"users.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(super::field("plain"), "plain");
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(super::field("@cmd"), "'@cmd");
    }
}
