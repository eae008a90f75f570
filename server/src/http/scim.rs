//! SCIM 2.0 transport at `/scim/v2/{org_id}`: bearer authentication, body limits, JSON parsing,
//! query parameters, response headers. Everything else is in `portal_core::provisioning`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use portal_core::provisioning::{self, Caller, ListQuery};
use portal_core::scim_requests;
use portal_core::user_json;
use portal_core::users::{RawUser, StoredUser};
use scim_core::{schema, ScimError};
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::AppState;

pub const MAX_BODY: usize = 1024 * 1024;
const SCIM_JSON: &str = "application/scim+json";

pub fn routes(state: AppState) -> Router<AppState> {
    let users = Router::new()
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        // Server-root search (RFC 7644 §3.4.3): Users, then Groups (issue 13).
        .route("/.search", post(search_root))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        // SCIM Groups (issue 13, groups).
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, authenticate));
    Router::new().nest("/scim/v2/{org_id}", users)
}

/// A SCIM reply: JSON with the SCIM media type, or an error in the SCIM Error schema.
pub struct Reply {
    status: StatusCode,
    body: Option<Payload>,
    headers: Vec<(header::HeaderName, String)>,
}

/// A reply's JSON body: a tree to serialize, or text already written (`portal_core::user_json`).
enum Payload {
    Json(Value),
    Text(Vec<u8>),
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(Payload::Json(body)),
            headers: vec![],
        }
    }
    /// `body` is JSON text.
    fn json_text(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            body: Some(Payload::Text(body)),
            headers: vec![],
        }
    }
    fn header(mut self, k: header::HeaderName, v: String) -> Self {
        self.headers.push((k, v));
        self
    }
}

impl From<ScimError> for Reply {
    fn from(e: ScimError) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut r = Reply::json(status, e.to_json());
        if e.status == 401 {
            r = r.header(header::WWW_AUTHENTICATE, "Bearer realm=\"SCIM\"".into());
        }
        r
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut res = match self.body {
            Some(Payload::Json(v)) => (self.status, v.to_string()).into_response(),
            Some(Payload::Text(t)) => (self.status, t).into_response(),
            None => self.status.into_response(),
        };
        if res.status() != StatusCode::NO_CONTENT {
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                res.headers_mut().insert(k, v);
            }
        }
        res
    }
}

type R = Result<Reply, Reply>;

tokio::task_local! {
    /// SCIM request log (issue 13): the log row of the request being handled.
    static SCIM_LOG_ID: String;
    /// False for a read (GET) in an org that had no group when its token was checked: the users
    /// it renders have no `groups`, and the query for them is skipped (issue 11).
    static GROUPS_MAY_EXIST: bool;
    /// The organisation's user rules, read with the token (`Authenticated::policy`): a write
    /// needs no statement of its own for them (issue 11).
    static ORG_POLICY: portal_core::org_settings::UserPolicy;
}

/// SCIM request log (issue 13): the batched writer of `portal_core::scim_requests`, started on
/// the first logged request (it needs the runtime).
#[derive(Clone, Default)]
pub struct RequestLog(std::sync::Arc<std::sync::OnceLock<scim_requests::Writer>>);

impl RequestLog {
    fn writer(&self, svc: &portal_core::Services) -> &scim_requests::Writer {
        self.0
            .get_or_init(|| scim_requests::Writer::spawn(svc.clone()))
    }

    /// At shutdown, after the last request: writes what is still queued (at most `limit`).
    pub async fn finish(&self, limit: std::time::Duration) {
        if let Some(w) = self.0.get() {
            w.finish(limit).await;
        }
    }
}

fn caller(state: &AppState, org_id: &str, headers: &HeaderMap) -> Caller {
    Caller {
        request_id: SCIM_LOG_ID.try_with(Clone::clone).ok(),
        policy: ORG_POLICY.try_with(Clone::clone).ok(),
        org_id: org_id.to_string(),
        base_url: format!("{}/scim/v2/{org_id}", state.config.public_url),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect()),
    }
}

/// Every SCIM request: the org's current token, or 401. Also caps the body at 1 MiB (413).
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Inside `nest` the URI has the prefix stripped; the org id is in the original one.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let org_id = path
        .strip_prefix("/scim/v2/")
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(char::is_whitespace)?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        });
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let authenticated = match presented.as_deref() {
        Some(token) if portal_core::ids::is_valid_org_id(&org_id) => {
            match portal_core::scim_tokens::authenticate(
                &state.services,
                &org_id,
                token,
                ua.as_deref(),
            )
            .await
            {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "SCIM token check failed");
                    return Reply::from(ScimError::unavailable()).into_response();
                }
            }
        }
        _ => None,
    };
    let Some(authenticated) = authenticated else {
        return Reply::from(ScimError::unauthorized()).into_response();
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        // More than the drain would read anyway: answer at once and close.
        return Reply::from(ScimError::payload_too_large())
            .header(header::CONNECTION, "close".into())
            .into_response();
    }
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        let (_, body) = req.into_parts();
        return too_large(body.into_data_stream(), 0).await.into_response();
    }
    // A read needs no snapshot across its statements (each already reads at its own moment), so
    // the org's groups may be known from the token check; a write always asks.
    let groups_may_exist = req.method() != axum::http::Method::GET || authenticated.org_has_groups;
    let res = GROUPS_MAY_EXIST
        .scope(
            groups_may_exist,
            ORG_POLICY.scope(authenticated.policy.clone(), async {
                if state.config.scim_request_log_retention_days == 0 {
                    next.run(req).await
                } else {
                    run_logged(&state, org_id.clone(), &path, ua, presented, req, next).await
                }
            }),
        )
        .await;
    // Only an answer below 400 counts as the integration working (the provisioning screen warns
    // when there has been none for two sync cycles); it is noted in memory and written off the
    // request path (`portal_core::scim_tokens::Usage`).
    if res.status().as_u16() < 400 {
        portal_core::scim_tokens::record_success(&state.services, &authenticated);
    }
    // Token rotation (issue 13): the IdP's first successful request with the next token retires
    // the current one (exactly once, under the org's lock). A failed request does not: the IdP
    // may not have stored the new token yet.
    if authenticated.is_next && res.status().is_success() {
        if let Err(e) =
            portal_core::scim_tokens::cut_over(&state.services, &org_id, &authenticated.token_id)
                .await
        {
            // The request itself succeeded; the next successful one retries the cut-over.
            tracing::warn!(error = %e, "SCIM token cut-over failed");
        }
    }
    res
}

/// SCIM request log (issue 13): runs an authenticated request (only requests with the org's own
/// token are logged: anyone can knock with a bad token, and that must not fill an org's log) and
/// hands what it carried and got to the log's writer.
async fn run_logged(
    state: &AppState,
    org_id: String,
    path: &str,
    ua: Option<String>,
    presented: Option<String>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let at = state.services.now();
    // Time-ordered: each new row goes at the end of the table's primary-key index instead of a
    // random place in it.
    let id = portal_core::ids::new_time_ordered_id();
    let method = req.method().to_string();
    let prefix = format!("/scim/v2/{org_id}");
    let rel = path.strip_prefix(&prefix).unwrap_or(path);
    let query = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .and_then(|u| u.0.query().map(str::to_string))
        .or_else(|| req.uri().query().map(str::to_string));
    let rel_path = match query {
        Some(q) => format!("{rel}?{q}"),
        None => rel.to_string(),
    };
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(k, _)| scim_requests::KEPT_HEADERS.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let (parts, body) = req.into_parts();
    let (request_body, res) = match read_body(body).await {
        Ok(bytes) => {
            let req = Request::from_parts(parts, Body::from(bytes.clone()));
            let res = SCIM_LOG_ID.scope(id.clone(), next.run(req)).await;
            (bytes, res)
        }
        Err(reply) => (Bytes::new(), reply.into_response()),
    };
    // Every SCIM answer is a complete body already (`Reply`); reading it back is a copy.
    let (res_parts, res_body) = res.into_parts();
    let response_body = axum::body::to_bytes(res_body, usize::MAX)
        .await
        .unwrap_or_default();
    state
        .scim_log
        .writer(&state.services)
        .submit(scim_requests::Captured {
            id,
            org_id,
            at,
            method,
            path: rel_path,
            status: res_parts.status.as_u16(),
            duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            user_agent: ua,
            headers,
            request_body,
            response_body: response_body.clone(),
            token: presented.unwrap_or_default(),
        });
    Response::from_parts(res_parts, Body::from(response_body))
}

/// How much of an oversized body is read and thrown away so that its client receives the 413,
/// and for how long. A server that answers and closes while the client is still sending makes
/// the client's TCP stack see a reset, and most clients then report "connection reset" instead of
/// the 413 (the answer is lost with the unread data). Only authenticated callers get this
/// courtesy, and both bounds keep it cheap: past them the connection is closed as before.
pub const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(20);

/// The 413 for an oversized body, after reading the rest of it (up to [`DRAIN_LIMIT`] bytes in
/// all and [`DRAIN_TIME`]). `read` is what was already consumed. When the body is bigger still,
/// the answer says `Connection: close` and the client may see the reset after all.
async fn too_large(mut rest: axum::body::BodyDataStream, read: u64) -> Reply {
    use futures::StreamExt;
    let drained = tokio::time::timeout(DRAIN_TIME, async {
        let mut total = read;
        while let Some(chunk) = rest.next().await {
            match chunk {
                Ok(c) => total += c.len() as u64,
                Err(_) => return false,
            }
            if total > DRAIN_LIMIT {
                return false;
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    let reply = Reply::from(ScimError::payload_too_large());
    if drained {
        reply
    } else {
        reply.header(header::CONNECTION, "close".into())
    }
}

/// Reads a body of at most [`MAX_BODY`] bytes (a chunked body has no Content-Length for the
/// check in [`authenticate`]); past that, 413 after draining the rest.
async fn read_body(body: Body) -> Result<Bytes, Reply> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            Reply::from(ScimError::invalid_syntax(
                "The request body could not be read.",
            ))
        })?;
        if buf.len() + chunk.len() > MAX_BODY {
            let read = (buf.len() + chunk.len()) as u64;
            return Err(too_large(stream, read).await);
        }
        buf.extend_from_slice(&chunk);
    }
    // Without its spare capacity: the request log keeps these bytes until they are written.
    buf.shrink_to_fit();
    Ok(Bytes::from(buf))
}

async fn read_json(body: Body) -> Result<Value, Reply> {
    let bytes: Bytes = read_body(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "The request body is empty; a JSON object is required.",
        )
        .into());
    }
    serde_json::from_slice::<Value>(&bytes).map_err(|e| {
        ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}")).into()
    })
}

fn if_match(headers: &HeaderMap) -> Option<i64> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .and_then(provisioning::parse_if_match)
}

/// The User resource with its read-only `groups` (issue 13).
fn user_json(u: &StoredUser, c: &Caller, groups: &HashMap<String, Vec<(String, String)>>) -> Value {
    with_groups(provisioning::to_json(u, &c.base_url), &u.id, c, groups)
}

fn with_groups(
    mut v: Value,
    id: &str,
    c: &Caller,
    groups: &HashMap<String, Vec<(String, String)>>,
) -> Value {
    if let Some(g) = groups.get(id).filter(|g| !g.is_empty()) {
        v["groups"] = portal_core::groups::user_groups_json(g, &c.base_url);
    }
    v
}

/// The groups of these users, for their `groups` attribute.
async fn groups_of(
    state: &AppState,
    c: &Caller,
    ids: Vec<String>,
) -> Result<HashMap<String, Vec<(String, String)>>, Reply> {
    if ids.is_empty() || !GROUPS_MAY_EXIST.try_with(|m| *m).unwrap_or(true) {
        return Ok(HashMap::new());
    }
    let mut conn = state.services.db.pool.acquire().await.map_err(|e| {
        tracing::error!(error = %e, "SCIM database error");
        Reply::from(ScimError::unavailable())
    })?;
    portal_core::groups::groups_of_users(&mut conn, &c.org_id, &ids)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "SCIM database error");
            Reply::from(ScimError::unavailable())
        })
}

async fn user_reply(
    state: &AppState,
    status: StatusCode,
    u: &StoredUser,
    c: &Caller,
    proj: &Projection,
) -> R {
    let groups = groups_of(state, c, vec![u.id.clone()]).await?;
    Ok(user_reply_with(status, u, c, proj, &groups))
}

fn user_reply_with(
    status: StatusCode,
    u: &StoredUser,
    c: &Caller,
    proj: &Projection,
    groups: &HashMap<String, Vec<(String, String)>>,
) -> Reply {
    let body = proj.apply(user_json(u, c, groups));
    let mut r = Reply::json(status, body).header(header::ETAG, provisioning::etag(u.version));
    if status == StatusCode::CREATED {
        r = r.header(header::LOCATION, format!("{}/Users/{}", c.base_url, u.id));
    }
    r
}

#[derive(Default)]
struct Projection {
    attributes: Option<Vec<String>>,
    excluded: Option<Vec<String>>,
}

impl Projection {
    /// Neither `attributes` nor `excludedAttributes`: the whole resource.
    fn is_whole(&self) -> bool {
        self.attributes.as_ref().is_none_or(|a| a.is_empty())
            && self.excluded.as_ref().is_none_or(|e| e.is_empty())
    }

    /// `attributes` / `excludedAttributes` applied; the common case (neither) costs nothing.
    fn apply(&self, json: Value) -> Value {
        if self.is_whole() {
            return json;
        }
        scim_core::project(&json, self.attributes.as_deref(), self.excluded.as_deref())
    }

    /// A user's resource as the reply's body: written from its stored text when whole (no
    /// `Value` tree), else built and projected.
    fn user_body(&self, u: &RawUser, c: &Caller, groups: &[(String, String)]) -> Payload {
        if self.is_whole() {
            let mut out = Vec::with_capacity(u.attributes.len() + 512);
            user_json::write_user(&mut out, u, &c.base_url, groups);
            Payload::Text(out)
        } else {
            Payload::Json(self.apply(user_json::to_value(u, &c.base_url, groups)))
        }
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn q<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn int_param(name: &str, v: Option<&str>) -> Result<Option<i64>, Reply> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
            ScimError::invalid_value(format!("{name} must be an integer, not {s:?}.")).into()
        }),
    }
}

fn sort_order(v: Option<&str>) -> Result<bool, Reply> {
    match v.map(str::trim) {
        None | Some("") => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("descending") => Ok(true),
        Some(s) => Err(ScimError::invalid_value(format!(
            "sortOrder must be 'ascending' or 'descending', not {s:?}."
        ))
        .into()),
    }
}

async fn run_list(state: &AppState, c: &Caller, query: ListQuery, proj: Projection) -> R {
    let page = provisioning::list_raw(&state.services, c, &query).await?;
    let groups = groups_of(state, c, page.users.iter().map(|u| u.id.clone()).collect()).await?;
    let groups_of_user = |u: &RawUser| groups.get(&u.id).map(Vec::as_slice).unwrap_or(&[]);
    if !proj.is_whole() {
        let resources: Vec<Value> = page
            .users
            .iter()
            .map(|u| proj.apply(user_json::to_value(u, &c.base_url, groups_of_user(u))))
            .collect();
        return Ok(list_response(page.total, page.start_index, resources));
    }
    // The ListResponse written as text, each user from its stored text (issue 11): the same
    // JSON as `list_response` of the users' trees, with the members in the same order.
    let mut out: Vec<u8> = Vec::with_capacity(
        256 + page
            .users
            .iter()
            .map(|u| u.attributes.len() + 512)
            .sum::<usize>(),
    );
    out.extend_from_slice(b"{\"Resources\":[");
    for (n, u) in page.users.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        user_json::write_user(&mut out, u, &c.base_url, groups_of_user(u));
    }
    out.extend_from_slice(
        format!(
            "],\"itemsPerPage\":{},\"schemas\":[{}],\"startIndex\":{},\"totalResults\":{}}}",
            page.users.len(),
            Value::from(scim_core::LIST_RESPONSE_URN),
            page.start_index,
            page.total
        )
        .as_bytes(),
    );
    Ok(Reply::json_text(StatusCode::OK, out))
}

/// A ListResponse (RFC 7644 §3.4.2) of one page of resources.
fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [scim_core::LIST_RESPONSE_URN],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

async fn list_users(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let (query, proj) = list_query(raw.as_deref())?;
    run_list(&state, &c, query, proj).await
}

/// A list's query parameters (GET /Users, GET /Groups).
fn list_query(raw: Option<&str>) -> Result<(ListQuery, Projection), Reply> {
    let pairs = query_pairs(raw);
    let query = ListQuery {
        filter: q(&pairs, "filter").map(str::to_string),
        start_index: int_param("startIndex", q(&pairs, "startIndex"))?,
        count: int_param("count", q(&pairs, "count"))?,
        sort_by: q(&pairs, "sortBy").map(str::to_string),
        descending: sort_order(q(&pairs, "sortOrder"))?,
    };
    let proj = Projection {
        attributes: q(&pairs, "attributes").map(split_list),
        excluded: q(&pairs, "excludedAttributes").map(split_list),
    };
    Ok((query, proj))
}

async fn search_users(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let (query, proj) = search_query(body).await?;
    run_list(&state, &c, query, proj).await
}

/// A SearchRequest body (POST /Users/.search, /Groups/.search).
async fn search_query(body: Body) -> Result<(ListQuery, Projection), Reply> {
    let v = read_json(body).await?;
    let Some(o) = v.as_object() else {
        return Err(ScimError::invalid_syntax(
            "The search body must be a JSON object (SearchRequest).",
        )
        .into());
    };
    let get = |k: &str| {
        o.iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)
    };
    let string = |k: &str| -> Result<Option<String>, Reply> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string.")).into()),
        }
    };
    let int = |k: &str| -> Result<Option<i64>, Reply> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{k} must be an integer.")).into()),
            Some(Value::String(s)) => int_param(k, Some(s)),
            Some(_) => Err(ScimError::invalid_value(format!("{k} must be an integer.")).into()),
        }
    };
    let list = |k: &str| -> Result<Option<Vec<String>>, Reply> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        ScimError::invalid_value(format!("{k} must be an array of strings.")).into()
                    })
                })
                .collect::<Result<Vec<_>, Reply>>()
                .map(Some),
            Some(Value::String(s)) => Ok(Some(split_list(s))),
            Some(_) => {
                Err(ScimError::invalid_value(format!("{k} must be an array of strings.")).into())
            }
        }
    };
    let query = ListQuery {
        filter: string("filter")?,
        start_index: int("startIndex")?,
        count: int("count")?,
        sort_by: string("sortBy")?,
        descending: sort_order(string("sortOrder")?.as_deref())?,
    };
    let proj = Projection {
        attributes: list("attributes")?,
        excluded: list("excludedAttributes")?,
    };
    Ok((query, proj))
}

fn projection_from_query(raw: Option<&str>) -> Projection {
    let pairs = query_pairs(raw);
    Projection {
        attributes: q(&pairs, "attributes").map(split_list),
        excluded: q(&pairs, "excludedAttributes").map(split_list),
    }
}

async fn create_user(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let v = match read_json(body).await {
        Ok(v) => v,
        Err(e) => return Err(e),
    };
    let (u, revived) = provisioning::create(&state.services, &c, &v).await?;
    let proj = projection_from_query(raw.as_deref());
    if !revived {
        // A user created just now is in no group yet: no query for its `groups`.
        return Ok(user_reply_with(
            StatusCode::CREATED,
            &u,
            &c,
            &proj,
            &HashMap::new(),
        ));
    }
    user_reply(&state, StatusCode::CREATED, &u, &c, &proj).await
}

async fn get_user(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let (u, groups) = provisioning::get_raw(&state.services, &c, &id).await?;
    // Conditional GET with If-None-Match answers 304 when nothing changed.
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if inm.trim() == provisioning::etag(u.version) {
            return Ok(Reply {
                status: StatusCode::NOT_MODIFIED,
                body: None,
                headers: vec![],
            });
        }
    }
    let body = projection_from_query(raw.as_deref()).user_body(&u, &c, &groups);
    Ok(Reply {
        status: StatusCode::OK,
        body: Some(body),
        headers: vec![(header::ETAG, provisioning::etag(u.version))],
    })
}

async fn replace_user(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let v = read_json(body).await?;
    let u = provisioning::replace(&state.services, &c, &id, &v, if_match(&headers)).await?;
    user_reply(
        &state,
        StatusCode::OK,
        &u,
        &c,
        &projection_from_query(raw.as_deref()),
    )
    .await
}

async fn patch_user(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let v = read_json(body).await?;
    let u = provisioning::patch(&state.services, &c, &id, &v, if_match(&headers)).await?;
    user_reply(
        &state,
        StatusCode::OK,
        &u,
        &c,
        &projection_from_query(raw.as_deref()),
    )
    .await
}

async fn delete_user(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> R {
    let c = caller(&state, &org_id, &headers);
    provisioning::delete(&state.services, &c, &id, if_match(&headers)).await?;
    Ok(Reply {
        status: StatusCode::NO_CONTENT,
        body: None,
        headers: vec![],
    })
}

fn base(state: &AppState, org_id: &str) -> String {
    format!("{}/scim/v2/{org_id}", state.config.public_url)
}

async fn service_provider_config(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
) -> Reply {
    Reply::json(
        StatusCode::OK,
        schema::service_provider_config(&base(&state, &org_id)),
    )
}

async fn resource_types(State(state): State<AppState>, Path(org_id): Path<String>) -> Reply {
    Reply::json(
        StatusCode::OK,
        schema::resource_types(&base(&state, &org_id)),
    )
}

async fn resource_type(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
) -> Reply {
    match schema::resource_type_by_id(&base(&state, &org_id), &id) {
        Some(v) => Reply::json(StatusCode::OK, v),
        None => ScimError::not_found(format!(
            "No resource type {id}; User and Group are supported."
        ))
        .into(),
    }
}

async fn schemas(State(state): State<AppState>, Path(org_id): Path<String>) -> Reply {
    Reply::json(StatusCode::OK, schema::schemas(&base(&state, &org_id)))
}

async fn schema_by_id(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
) -> Reply {
    match schema::schema_by_id(&base(&state, &org_id), &id) {
        Some(v) => Reply::json(StatusCode::OK, v),
        None => ScimError::not_found(format!("No schema {id}.")).into(),
    }
}

async fn not_found() -> Reply {
    ScimError::not_found("No such SCIM endpoint. Supported: /Users, /Users/.search, /Groups, /Groups/.search, /ServiceProviderConfig, /ResourceTypes, /Schemas.").into()
}

// ---- SCIM Groups (issue 13, groups) ----

impl Projection {
    /// Whether the reply shows `members`; when it does not, they are not read at all (a
    /// 10,000-member group listed with `excludedAttributes=members` costs one row).
    fn wants_members(&self) -> bool {
        let is_members = |a: &String| {
            let a = a.trim();
            let a = a
                .get(..portal_core::groups::GROUP_URN.len() + 1)
                .filter(|p| p.eq_ignore_ascii_case(&format!("{}:", portal_core::groups::GROUP_URN)))
                .map_or(a, |p| &a[p.len()..]);
            a.eq_ignore_ascii_case("members")
                || a.get(..8)
                    .is_some_and(|p| p.eq_ignore_ascii_case("members."))
        };
        match (&self.attributes, &self.excluded) {
            (Some(a), _) if !a.is_empty() => a.iter().any(is_members),
            (_, Some(e)) => !e.iter().any(is_members),
            _ => true,
        }
    }

    fn is_empty(&self) -> bool {
        self.attributes.as_ref().is_none_or(|a| a.is_empty())
            && self.excluded.as_ref().is_none_or(|e| e.is_empty())
    }

    /// Like `apply`, with the Group schema's URN prefix taken off the attribute names.
    fn apply_group(&self, json: Value) -> Value {
        let strip = |l: &Option<Vec<String>>| {
            l.as_ref().map(|l| {
                l.iter()
                    .map(|a| {
                        let p = format!("{}:", portal_core::groups::GROUP_URN);
                        match a.get(..p.len()) {
                            Some(x) if x.eq_ignore_ascii_case(&p) => a[p.len()..].to_string(),
                            _ => a.clone(),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        };
        Projection {
            attributes: strip(&self.attributes),
            excluded: strip(&self.excluded),
        }
        .apply(json)
    }
}

fn group_reply(
    status: StatusCode,
    g: &portal_core::groups::StoredGroup,
    members: Option<&[portal_core::groups::Member]>,
    c: &Caller,
    proj: &Projection,
) -> Reply {
    let body = proj.apply_group(portal_core::groups::to_json(g, members, &c.base_url));
    let mut r = Reply::json(status, body).header(header::ETAG, provisioning::etag(g.version));
    if status == StatusCode::CREATED {
        r = r.header(header::LOCATION, format!("{}/Groups/{}", c.base_url, g.id));
    }
    r
}

async fn run_group_list(state: &AppState, c: &Caller, query: ListQuery, proj: Projection) -> R {
    let page = portal_core::groups::list(&state.services, c, &query, proj.wants_members()).await?;
    let resources: Vec<Value> = page
        .groups
        .iter()
        .map(|(g, m)| proj.apply_group(portal_core::groups::to_json(g, m.as_deref(), &c.base_url)))
        .collect();
    Ok(list_response(page.total, page.start_index, resources))
}

async fn list_groups(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let (query, proj) = list_query(raw.as_deref())?;
    run_group_list(&state, &c, query, proj).await
}

async fn search_groups(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let (query, proj) = search_query(body).await?;
    run_group_list(&state, &c, query, proj).await
}

async fn create_group(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let v = read_json(body).await?;
    let (g, m) = portal_core::groups::create(&state.services, &c, &v).await?;
    let proj = projection_from_query(raw.as_deref());
    let m = proj.wants_members().then_some(m.as_slice());
    Ok(group_reply(StatusCode::CREATED, &g, m, &c, &proj))
}

async fn get_group(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let proj = projection_from_query(raw.as_deref());
    let (g, m) = portal_core::groups::get(&state.services, &c, &id, proj.wants_members()).await?;
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if inm.trim() == provisioning::etag(g.version) {
            return Ok(Reply {
                status: StatusCode::NOT_MODIFIED,
                body: None,
                headers: vec![],
            });
        }
    }
    Ok(group_reply(StatusCode::OK, &g, m.as_deref(), &c, &proj))
}

async fn replace_group(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let v = read_json(body).await?;
    let proj = projection_from_query(raw.as_deref());
    let (g, m) = portal_core::groups::replace(
        &state.services,
        &c,
        &id,
        &v,
        if_match(&headers),
        proj.wants_members(),
    )
    .await?;
    Ok(group_reply(StatusCode::OK, &g, m.as_deref(), &c, &proj))
}

/// PATCH answers 204 (RFC 7644 §3.5.2 allows it), so adding one member to a 10,000-member group
/// never reads the other 9,999; a client that asks for attributes (`attributes=` or
/// `excludedAttributes=`) gets 200 with the resource so projected.
async fn patch_group(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let v = read_json(body).await?;
    let proj = projection_from_query(raw.as_deref());
    let want_body = !proj.is_empty();
    let (g, m) = portal_core::groups::patch(
        &state.services,
        &c,
        &id,
        &v,
        if_match(&headers),
        want_body && proj.wants_members(),
    )
    .await?;
    if !want_body {
        return Ok(Reply {
            status: StatusCode::NO_CONTENT,
            body: None,
            headers: vec![(header::ETAG, provisioning::etag(g.version))],
        });
    }
    Ok(group_reply(StatusCode::OK, &g, m.as_deref(), &c, &proj))
}

async fn delete_group(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> R {
    let c = caller(&state, &org_id, &headers);
    portal_core::groups::delete(&state.services, &c, &id, if_match(&headers)).await?;
    Ok(Reply {
        status: StatusCode::NO_CONTENT,
        body: None,
        headers: vec![],
    })
}

/// POST /.search: Users and Groups in one list.
async fn search_root(
    State(state): State<AppState>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> R {
    let c = caller(&state, &org_id, &headers);
    let (query, proj) = search_query(body).await?;
    let (total, start_index, users, groups) =
        portal_core::groups::search_all(&state.services, &c, &query, proj.wants_members()).await?;
    let user_groups = groups_of(&state, &c, users.iter().map(|u| u.id.clone()).collect()).await?;
    let mut resources: Vec<Value> = users
        .iter()
        .map(|u| proj.apply(user_json(u, &c, &user_groups)))
        .collect();
    resources.extend(groups.groups.iter().map(|(g, m)| {
        proj.apply_group(portal_core::groups::to_json(g, m.as_deref(), &c.base_url))
    }));
    Ok(Reply::json(
        StatusCode::OK,
        json!({
            "schemas": [scim_core::LIST_RESPONSE_URN],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}
