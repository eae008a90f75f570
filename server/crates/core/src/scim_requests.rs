//! The SCIM request log (issue 13): each authenticated SCIM request of an organisation, with its
//! status, duration, client and its request and response bodies, redacted and bounded, for the
//! admins to see what their identity provider sent and what it got back.
//!
//! What is stored, and what never is:
//! - the bearer token never (it is not a header we keep, and any literal occurrence of the
//!   presented token in the path or a body is replaced by `[redacted]`);
//! - a `password` attribute's value is `[redacted]` wherever it appears in a JSON body (as a key,
//!   `…:User:password` included, or as the `value` of a PATCH operation whose `path` is the
//!   password); a body that is not JSON and mentions a password is not stored at all;
//! - request headers only from a short allow-list ([`KEPT_HEADERS`]);
//! - each body at most [`BODY_LIMIT`] bytes, cut with a marker saying how long it was.
//!
//! Rows are written by a batched writer ([`Writer`]) off the request path, and purged after the
//! deployment's retention ([`purge`], run by the server's housekeeping job).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use serde_json::Value;
use sqlx::Row;

use crate::error::{CoreError, CoreResult};
use crate::sql::SqlBuilder;
use crate::Services;

/// Bytes of one stored body, at most.
pub const BODY_LIMIT: usize = 16 * 1024;
/// Bytes of the stored path (with its query), at most.
pub const PATH_LIMIT: usize = 2048;
/// Characters of the stored client (User-Agent), at most.
pub const CLIENT_LIMIT: usize = 120;
pub const REDACTED: &str = "[redacted]";
/// The retention when the deployment does not set one (`SCIM_REQUEST_LOG_RETENTION_DAYS`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Rows per page of the screen.
pub const PAGE_SIZE: i64 = 50;
/// Request headers kept (lower case); every other header is dropped.
pub const KEPT_HEADERS: [&str; 5] = [
    "content-type",
    "accept",
    "content-length",
    "if-match",
    "if-none-match",
];

static SEQ: AtomicI64 = AtomicI64::new(0);

/// One request as the transport saw it, before redaction.
#[derive(Debug, Clone)]
pub struct Captured {
    pub id: String,
    pub org_id: String,
    pub at: i64,
    pub method: String,
    /// Below `/scim/v2/{org_id}`, with the query.
    pub path: String,
    pub status: u16,
    pub duration_us: i64,
    pub user_agent: Option<String>,
    /// Allow-listed or not: [`record`] keeps only [`KEPT_HEADERS`].
    pub headers: Vec<(String, String)>,
    /// Shared with the request and the answer (not copied).
    pub request_body: Bytes,
    pub response_body: Bytes,
    /// The bearer token the client presented: scrubbed from everything stored.
    pub token: String,
}

/// One stored row, redacted and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: String,
    pub org_id: String,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub duration_us: i64,
    pub client: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// JSON object of the kept headers.
    pub request_headers: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let total = s.len();
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        s.push_str(&format!("…[truncated: {total} bytes in all]"));
    }
    s
}

fn scrub(s: &str, token: &str) -> String {
    if token.len() >= 8 && s.contains(token) {
        s.replace(token, REDACTED)
    } else {
        s.to_string()
    }
}

fn is_password_name(k: &str) -> bool {
    let k = k.trim();
    k.eq_ignore_ascii_case("password")
        || k.len() > 9
            && k.is_char_boundary(k.len() - 9)
            && k[k.len() - 9..].eq_ignore_ascii_case(":password")
}

fn redact_value(v: &mut Value) {
    match v {
        Value::Object(o) => {
            // A PATCH operation on the password: `{"op": "replace", "path": "password", "value": …}`.
            let patch_on_password = o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, p)| p.as_str())
                .is_some_and(is_password_name);
            for (k, x) in o.iter_mut() {
                if is_password_name(k) || patch_on_password && k.eq_ignore_ascii_case("value") {
                    *x = Value::String(REDACTED.into());
                } else {
                    redact_value(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// A body as stored: JSON with every password redacted, the token scrubbed, at most
/// [`BODY_LIMIT`] bytes. None for an empty body.
pub fn redact_body(raw: &[u8], token: &str) -> Option<String> {
    redact_parsed(raw, serde_json::from_slice::<Value>(raw).ok(), token)
}

/// [`redact_body`] with the body already parsed (None: not JSON), so it is parsed once.
fn redact_parsed(raw: &[u8], parsed: Option<Value>, token: &str) -> Option<String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let text = match parsed {
        Some(mut v) => {
            redact_value(&mut v);
            v.to_string()
        }
        None => {
            let s = String::from_utf8_lossy(raw);
            if s.to_ascii_lowercase().contains("password") {
                return Some(format!(
                    "[not JSON; not stored because it mentions a password: {} bytes]",
                    raw.len()
                ));
            }
            s.into_owned()
        }
    };
    Some(cut(scrub(&text, token), BODY_LIMIT))
}

fn short_client(ua: &str) -> String {
    let ua: String = ua.chars().filter(|c| !c.is_control()).collect();
    let ua = ua.trim();
    if ua.chars().count() > CLIENT_LIMIT {
        let mut s: String = ua.chars().take(CLIENT_LIMIT).collect();
        s.push('…');
        s
    } else {
        ua.to_string()
    }
}

/// The user a request is about: the id in `/Users/{id}`, else the answer's `id`; the userName of
/// the request, else of the answer.
fn user_of(
    path: &str,
    req: Option<&Value>,
    res: Option<&Value>,
) -> (Option<String>, Option<String>) {
    let from_path = path
        .split(['?', '#'])
        .next()
        .and_then(|p| p.strip_prefix("/Users/"))
        .filter(|id| !id.is_empty() && !id.contains('/') && *id != ".search")
        .map(str::to_string);
    let str_of = |v: Option<&Value>, k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let is_user = res.is_some_and(|r| r.get("userName").is_some());
    let user_id = from_path.or_else(|| is_user.then(|| str_of(res, "id")).flatten());
    let user_name = str_of(req, "userName")
        .filter(|s| !s.trim().is_empty())
        .or_else(|| str_of(res, "userName"))
        .filter(|s| !s.trim().is_empty());
    (user_id.map(|s| cut(s, 256)), user_name.map(|s| cut(s, 256)))
}

/// Redacts and bounds what the transport captured.
pub fn redact(c: &Captured) -> Stored {
    let headers: serde_json::Map<String, Value> = c
        .headers
        .iter()
        .filter(|(k, _)| KEPT_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                Value::String(cut(scrub(v, &c.token), 256)),
            )
        })
        .collect();
    let path = cut(scrub(&c.path, &c.token), PATH_LIMIT);
    let req_json = serde_json::from_slice::<Value>(&c.request_body).ok();
    // An answer that redaction cannot change (every answer of this server, which never sends a
    // password back) is not parsed into a tree and written out again (issue 11: that was most of
    // the log's cost per request): its text is stored as it is, and only its top-level members
    // are looked at for the user it is about.
    let plain_response = plain_body(&c.response_body);
    let res_json = match plain_response {
        Some(text) => crate::user_json::top_level(text).map(|members| {
            Value::Object(
                members
                    .into_iter()
                    .filter(|(k, _)| matches!(*k, "id" | "userName"))
                    .filter_map(|(k, v)| Some((k.to_string(), serde_json::from_str(v).ok()?)))
                    .collect(),
            )
        }),
        None => serde_json::from_slice::<Value>(&c.response_body).ok(),
    };
    let (user_id, user_name) = user_of(&path, req_json.as_ref(), res_json.as_ref());
    let response_body = match plain_response {
        Some(text) if !text.bytes().all(|b| b.is_ascii_whitespace()) => {
            Some(cut(scrub(text, &c.token), BODY_LIMIT))
        }
        Some(_) => None,
        None => redact_parsed(&c.response_body, res_json, &c.token),
    };
    Stored {
        id: c.id.clone(),
        org_id: c.org_id.clone(),
        at: c.at,
        method: cut(c.method.clone(), 16),
        path,
        status: i64::from(c.status),
        duration_us: c.duration_us.max(0),
        client: c
            .user_agent
            .as_deref()
            .map(|ua| scrub(&short_client(ua), &c.token))
            .filter(|s| !s.is_empty()),
        user_id: user_id.map(|s| scrub(&s, &c.token)),
        user_name: user_name.map(|s| scrub(&s, &c.token)),
        request_headers: Value::Object(headers).to_string(),
        request_body: redact_parsed(&c.request_body, req_json, &c.token),
        response_body,
    }
}

/// `raw` when it is UTF-8 and redaction could not change it: [`redact_value`] only replaces
/// members named `password` (or `…:password`) and the value of a PATCH operation whose path
/// names it, so the text must spell "password" (in any case) for it to act, or spell it with
/// `\u` escapes. Such a body holds the same JSON as redaction would give back (its members in
/// the order they were sent, where parsing would sort them); when it is not JSON, it is stored as
/// it is anyway.
fn plain_body(raw: &[u8]) -> Option<&str> {
    if raw.windows(2).any(|w| w == b"\\u") {
        return None;
    }
    let spells_password = raw.iter().enumerate().any(|(i, b)| {
        (b | 0x20) == b'p'
            && raw
                .get(i..i + 8)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"password"))
    });
    if spells_password {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

/// Rows per INSERT statement on SQLite. SQLite finds a numbered parameter (`$n`) by walking
/// the statement's list of parameter names, and sqlx asks for each one's name when it binds, so
/// binding one statement costs the square of its parameters: a 200-row INSERT (2,800 parameters)
/// took 16% of the server's CPU under a lookup load (issue 11). Each distinct statement text is
/// also prepared and kept per connection, so a batch is written as 8-row statements (one text,
/// kept prepared) and its rest as one statement that is not kept.
const SQLITE_ROWS_PER_STATEMENT: usize = 8;
/// On PostgreSQL a statement is a round trip, and binding costs nothing per parameter.
const POSTGRES_ROWS_PER_STATEMENT: usize = 100;

/// Writes rows in one transaction, several rows per INSERT.
pub async fn insert(svc: &Services, rows: &[Stored]) -> CoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let per_statement = match svc.db.backend {
        crate::db::Backend::Sqlite => SQLITE_ROWS_PER_STATEMENT,
        crate::db::Backend::Postgres => POSTGRES_ROWS_PER_STATEMENT,
    };
    let whole = rows.len() / per_statement * per_statement;
    let (full, rest) = rows.split_at(whole);
    let mut tx = svc.db.begin_write_no_credentials().await?;
    // Full statements share one text (prepared once per connection); the rest is one statement
    // whose text will rarely come again, so it is not kept prepared.
    for (chunk, keep) in full
        .chunks(per_statement)
        .map(|c| (c, true))
        .chain((!rest.is_empty()).then_some((rest, false)))
    {
        let mut b = SqlBuilder::new(
            "INSERT INTO scim_requests (id, org_id, at, seq, method, path, status, duration_us, \
             client, user_id, user_name, request_headers, request_body, response_body) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            b.push(if i == 0 { "(" } else { ", (" });
            b.push_binds(
                [
                    crate::sql::SqlValue::from(&r.id),
                    (&r.org_id).into(),
                    r.at.into(),
                    SEQ.fetch_add(1, Ordering::Relaxed).into(),
                    (&r.method).into(),
                    (&r.path).into(),
                    r.status.into(),
                    r.duration_us.into(),
                    (&r.client).into(),
                    (&r.user_id).into(),
                    (&r.user_name).into(),
                    (&r.request_headers).into(),
                    (&r.request_body).into(),
                    (&r.response_body).into(),
                ],
                ", ",
            );
            b.push(")");
        }
        b.query().persistent(keep).execute(&mut **tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Redacts and writes one request now (tests, and the writer's fallback).
pub async fn record(svc: &Services, c: &Captured) -> CoreResult<()> {
    insert(svc, &[redact(c)]).await
}

/// Queue length of the writer: beyond it, requests are not logged (counted, and a warning says
/// so at most every [`DROP_WARNING_EVERY`]).
pub const QUEUE: usize = 4096;
/// Bytes of captured requests (as `captured_bytes` counts them) held by the writer at most, queued or being
/// written: past it, requests are not logged (as past [`QUEUE`]). Without it the queue's length
/// alone would let 4,096 requests of a megabyte each, or list pages under load, hold gigabytes.
pub const QUEUE_BYTES: usize = 32 << 20;
/// A request of more than [`LARGE_REQUEST`] bytes is held only while the writer holds less than
/// [`QUEUE_BYTES`] minus this: the rest is kept for ordinary requests, so that one organisation
/// sending megabyte bodies faster than the log is written does not leave every other
/// organisation's requests out of it.
pub const SMALL_REQUEST_ROOM: usize = 8 << 20;
/// See [`SMALL_REQUEST_ROOM`].
pub const LARGE_REQUEST: usize = 64 << 10;
/// Rows per write transaction, at most.
pub const BATCH: usize = 500;
/// Bytes of captured bodies per write transaction, at most (past it the batch is written even
/// if it has fewer rows): one organisation sending large bodies does not make one long write
/// that holds SQLite's write lock, or a long redaction.
pub const BATCH_BYTES: usize = 4 << 20;
/// Once a request is queued, the writer waits this long for others before it writes: fewer,
/// larger transactions (on SQLite each commit also makes every other connection drop its page
/// cache). A logged request shows on the screen this much later. Not when a whole batch is
/// already waiting ([`BATCH`] rows or [`BATCH_BYTES`]): under load the writer writes batch after
/// batch (a linger per batch capped it at [`BATCH`] rows per 50 ms, fewer than a busy server
/// answers, and at about 60 list pages).
pub const LINGER: Duration = Duration::from_millis(50);
/// How often, at most, the writer warns that requests went unlogged.
pub const DROP_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Requests not logged since the start because the writer's queue was full (metrics).
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Rows in batches the writer could not write, since the start (metrics).
static FAILED_ROWS: AtomicU64 = AtomicU64::new(0);

/// Requests left out of the log since the start: not queued because the queue was full, or in a
/// batch that could not be written.
pub fn unlogged() -> u64 {
    DROPPED.load(Ordering::Relaxed) + FAILED_ROWS.load(Ordering::Relaxed)
}

/// What a captured request holds in memory, near enough: its bodies, path, headers (a client
/// sets their size: a User-Agent of hundreds of kilobytes is valid HTTP) and token.
fn captured_bytes(c: &Captured) -> usize {
    c.request_body.len()
        + c.response_body.len()
        + c.path.len()
        + c.user_agent.as_ref().map_or(0, String::len)
        + c.headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
        + c.token.len()
}

/// Gives a written batch's bytes back to the writer's budget, also if the task is dropped
/// half-way (at shutdown).
struct Release<'a> {
    held: &'a std::sync::atomic::AtomicUsize,
    bytes: usize,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The batched writer: the SCIM transport hands each captured request over without waiting; one
/// task redacts and writes them, many per transaction, so the SCIM path never waits on this
/// table (and on SQLite takes the write turn once per batch, not once per request).
#[derive(Clone, Debug)]
pub struct Writer {
    tx: tokio::sync::mpsc::Sender<Captured>,
    /// Bytes of the requests handed over and not yet written ([`QUEUE_BYTES`]).
    held: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// When a dropped request was last warned about, and how many were dropped since.
    warned: std::sync::Arc<Mutex<(Option<Instant>, u64)>>,
    /// Tells the task to write what is queued without lingering, and stop ([`Writer::finish`]).
    closing: std::sync::Arc<tokio::sync::Notify>,
    task: std::sync::Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Writer {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn spawn(svc: Services) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Captured>(QUEUE);
        let closing = std::sync::Arc::new(tokio::sync::Notify::new());
        let closed = closing.clone();
        let held = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let written = held.clone();
        let task = tokio::spawn(async move {
            let mut batch: Vec<Captured> = Vec::new();
            let mut stopping = false;
            loop {
                if !stopping {
                    tokio::select! {
                        c = rx.recv() => match c {
                            Some(c) => batch.push(c),
                            None => stopping = true,
                        },
                        () = closed.notified() => stopping = true,
                    }
                    // (Nothing of an earlier batch is held now: `written` is what is queued.)
                    let whole_batch_waits = rx.len() + batch.len() >= BATCH
                        || written.load(Ordering::Acquire) >= BATCH_BYTES;
                    if !stopping && !whole_batch_waits {
                        tokio::select! {
                            () = tokio::time::sleep(LINGER) => {}
                            () = closed.notified() => stopping = true,
                        }
                    }
                }
                let mut bytes: usize = batch.iter().map(captured_bytes).sum();
                while batch.len() < BATCH && bytes < BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(c) => {
                            bytes += captured_bytes(&c);
                            batch.push(c);
                        }
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    if stopping {
                        return;
                    }
                    continue;
                }
                // Redaction parses request bodies (up to 1 MiB each): off the async threads.
                let taken = std::mem::take(&mut batch);
                let n = taken.len();
                // Given back once the batch is written (or failed): until then it is held.
                let release = Release {
                    held: &written,
                    bytes,
                };
                let rows = match tokio::task::spawn_blocking(move || {
                    taken.iter().map(redact).collect::<Vec<Stored>>()
                })
                .await
                {
                    Ok(rows) => rows,
                    Err(e) => {
                        FAILED_ROWS.fetch_add(n as u64, Ordering::Relaxed);
                        tracing::error!(error = %e, rows = n, "could not redact SCIM request log rows");
                        continue;
                    }
                };
                if let Err(e) = insert(&svc, &rows).await {
                    FAILED_ROWS.fetch_add(n as u64, Ordering::Relaxed);
                    tracing::warn!(error = ?e, rows = n, "could not write the SCIM request log");
                }
                drop(release);
            }
        });
        Self {
            tx,
            held,
            warned: Default::default(),
            closing,
            task: std::sync::Arc::new(Mutex::new(Some(task))),
        }
    }

    /// Hands a request over; false when the queue is full, in requests or in bytes (the request
    /// is not logged).
    pub fn submit(&self, c: Captured) -> bool {
        let bytes = captured_bytes(&c);
        let limit = if bytes > LARGE_REQUEST {
            QUEUE_BYTES - SMALL_REQUEST_ROOM
        } else {
            QUEUE_BYTES
        };
        let fits = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + bytes <= limit).then_some(held + bytes)
            })
            .is_ok();
        let sent = fits
            && match self.tx.try_send(c) {
                Ok(()) => true,
                Err(_) => {
                    self.held.fetch_sub(bytes, Ordering::AcqRel);
                    false
                }
            };
        if sent {
            return true;
        }
        DROPPED.fetch_add(1, Ordering::Relaxed);
        // One line per interval, not one per request: under a flood that fills the queue, a
        // line each would cost more than the requests themselves.
        let mut w = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        w.1 += 1;
        if w.0.is_none_or(|at| at.elapsed() >= DROP_WARNING_EVERY) {
            tracing::warn!(
                requests = w.1,
                "SCIM request log queue full: requests were not logged"
            );
            *w = (Some(Instant::now()), 0);
        }
        false
    }

    /// At shutdown, once no request is served any more: writes what is queued, at once, and
    /// stops the task; waits at most `limit`. Requests handed over later are not logged.
    pub async fn finish(&self, limit: Duration) {
        self.closing.notify_one();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            if tokio::time::timeout(limit, task).await.is_err() {
                tracing::warn!("the SCIM request log was not written in time at shutdown");
            }
        }
    }
}

/// Deletes rows older than `retention_ms` (every organisation). Returns how many.
pub async fn purge(svc: &Services, retention_ms: i64) -> CoreResult<u64> {
    let cutoff = svc.now() - retention_ms;
    let mut tx = svc.db.begin_write_no_credentials().await?;
    let n = sqlx::query("DELETE FROM scim_requests WHERE at < $1")
        .bind(cutoff)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// The screen's status filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// 1xx–3xx.
    Success,
    ClientError,
    ServerError,
}

impl StatusFilter {
    pub fn parse(s: &str) -> CoreResult<Option<Self>> {
        match s.trim() {
            "" => Ok(None),
            "success" => Ok(Some(Self::Success)),
            "4xx" => Ok(Some(Self::ClientError)),
            "5xx" => Ok(Some(Self::ServerError)),
            other => Err(CoreError::invalid(format!(
                "Unknown status filter {:?}: use success, 4xx or 5xx.",
                cut(other.to_string(), 40)
            ))),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub status: Option<StatusFilter>,
    /// A user id or userName; empty for any.
    pub user: String,
    pub page: i64,
}

impl Query {
    /// From the URL's values; a bad one is an error that says what to fix.
    pub fn parse(status: &str, user: &str, page: &str) -> CoreResult<Self> {
        let user = user.trim();
        if user.len() > 256 {
            return Err(CoreError::invalid(
                "The user filter is at most 256 characters.",
            ));
        }
        let page = match page.trim() {
            "" => 1,
            p => p
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| CoreError::invalid("The page must be a number from 1."))?,
        };
        Ok(Self {
            status: StatusFilter::parse(status)?,
            user: user.to_string(),
            page,
        })
    }
}

/// One row of the list (no bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: String,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub duration_us: i64,
    pub client: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<Summary>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

/// ` FROM … WHERE …` of the rows a query matches, as `r`.
fn push_from_where(b: &mut SqlBuilder, org_id: &str, q: &Query) {
    let org = b.bind(org_id);
    if q.user.is_empty() {
        b.push(" FROM scim_requests r WHERE ");
    } else {
        let u = b.bind(q.user.clone());
        // The user's id, or the id of the org's user of that userName; and the rows about no
        // id (a create that failed) by the userName they name, or by the name of the org's user
        // of that id. Each way is its own select, which the partial index on its column serves
        // (migration 0019: a row about a user is in one of them; each select states its
        // index's condition), and the rows they find are read by id; an OR in the WHERE made
        // the databases walk all the organisation's rows instead. (`CROSS JOIN`: SQLite then
        // reads the matches first; PostgreSQL plans it as any join, which a test checks.) A row
        // with an id is found by its user's current userName, not by the one it was sent with.
        b.push(&format!(
            " FROM (\
             SELECT s.id FROM scim_requests s WHERE s.org_id = {org} AND s.user_id IS NOT NULL \
             AND s.user_id = {u} \
             UNION SELECT s.id FROM scim_requests s WHERE s.org_id = {org} AND s.user_id IS NOT NULL \
             AND s.user_id IN (SELECT x.id FROM users x WHERE x.org_id = {org} AND lower(x.user_name) = lower({u})) \
             UNION SELECT s.id FROM scim_requests s WHERE s.org_id = {org} AND s.user_id IS NULL \
             AND s.user_name IS NOT NULL AND lower(s.user_name) = lower({u}) \
             UNION SELECT s.id FROM scim_requests s WHERE s.org_id = {org} AND s.user_id IS NULL \
             AND s.user_name IS NOT NULL \
             AND lower(s.user_name) IN (SELECT lower(x.user_name) FROM users x WHERE x.org_id = {org} AND x.id = {u})\
             ) m CROSS JOIN scim_requests r WHERE r.id = m.id AND "
        ));
    }
    b.push(&format!("r.org_id = {org}"));
    match q.status {
        None => {}
        Some(StatusFilter::Success) => {
            b.push(" AND r.status < 400");
        }
        Some(StatusFilter::ClientError) => {
            b.push(" AND r.status >= 400 AND r.status < 500");
        }
        Some(StatusFilter::ServerError) => {
            b.push(" AND r.status >= 500");
        }
    }
}

const SUMMARY: &str =
    "r.id, r.at, r.method, r.path, r.status, r.duration_us, r.client, r.user_id, r.user_name";

fn summary(r: &sqlx::any::AnyRow) -> Result<Summary, sqlx::Error> {
    Ok(Summary {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        status: r.try_get("status")?,
        duration_us: r.try_get("duration_us")?,
        client: r.try_get("client")?,
        user_id: r.try_get("user_id")?,
        user_name: r.try_get("user_name")?,
    })
}

/// The statement that counts the requests a [`Query`] matches (its plan is tested).
pub fn count_statement(org_id: &str, q: &Query) -> SqlBuilder {
    let mut count = SqlBuilder::new("SELECT COUNT(*)");
    push_from_where(&mut count, org_id, q);
    count
}

/// The statement that reads one page (from 1) of the requests a [`Query`] matches, newest first
/// (its plan is tested).
pub fn page_statement(org_id: &str, q: &Query, page: i64) -> SqlBuilder {
    let mut b = SqlBuilder::new(&format!("SELECT {SUMMARY}"));
    push_from_where(&mut b, org_id, q);
    b.push(" ORDER BY r.at DESC, r.seq DESC, r.id DESC LIMIT ")
        .push_bind(PAGE_SIZE)
        .push(" OFFSET ")
        .push_bind((page.max(1) - 1) * PAGE_SIZE);
    b
}

/// One page of an organisation's requests, newest first.
pub async fn list(svc: &Services, org_id: &str, q: &Query) -> CoreResult<Page> {
    let (total,) = count_statement(org_id, q)
        .query_as::<(i64,)>()
        .fetch_one(&svc.db.pool)
        .await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = q.page.clamp(1, pages);
    let rows = page_statement(org_id, q, page)
        .query()
        .fetch_all(&svc.db.pool)
        .await?
        .iter()
        .map(summary)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        rows,
        total,
        page,
        pages,
    })
}

/// One request of the organisation, bodies included; NotFound for another org's id.
pub async fn get(svc: &Services, org_id: &str, id: &str) -> CoreResult<Stored> {
    if id.is_empty() || id.len() > 64 {
        return Err(CoreError::NotFound);
    }
    let r = sqlx::query(
        "SELECT id, org_id, at, method, path, status, duration_us, client, user_id, user_name, \
         request_headers, request_body, response_body FROM scim_requests WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&svc.db.pool)
    .await?
    .ok_or(CoreError::NotFound)?;
    Ok(Stored {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        at: r.try_get("at")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        status: r.try_get("status")?,
        duration_us: r.try_get("duration_us")?,
        client: r.try_get("client")?,
        user_id: r.try_get("user_id")?,
        user_name: r.try_get("user_name")?,
        request_headers: r.try_get("request_headers")?,
        request_body: r.try_get("request_body")?,
        response_body: r.try_get("response_body")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_they_are() {
        let body = serde_json::json!({
            "userName": "a@b.test",
            "password": "hunter2",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "hunter3",
            "Operations": [
                {"op": "replace", "path": "password", "value": "hunter4"},
                {"op": "replace", "value": {"PassWord": "hunter5", "active": true}},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": "hunter6"},
                {"op": "replace", "path": "displayName", "value": "Ann"}
            ]
        });
        let out = redact_body(body.to_string().as_bytes(), "tok").unwrap();
        for n in 2..=6 {
            assert!(!out.contains(&format!("hunter{n}")), "{out}");
        }
        assert!(out.contains("\"Ann\"") && out.contains("a@b.test"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 5, "{out}");
    }

    #[test]
    fn non_json_mentioning_a_password_is_not_stored_and_tokens_are_scrubbed() {
        let out = redact_body(b"{\"password\": \"hunter2\"", "tok").unwrap();
        assert!(!out.contains("hunter2"), "{out}");
        let token = "s3cr3t-token-value";
        let out = redact_body(format!("{{\"x\": \"{token}\"}}").as_bytes(), token).unwrap();
        assert!(!out.contains(token) && out.contains(REDACTED), "{out}");
        assert_eq!(redact_body(b"  ", token), None);
    }

    #[test]
    fn big_bodies_are_cut_with_a_marker() {
        let big = serde_json::json!({ "x": "é".repeat(20_000) }).to_string();
        let out = redact_body(big.as_bytes(), "tok").unwrap();
        assert!(out.len() < BODY_LIMIT + 100, "{}", out.len());
        assert!(out.ends_with(&format!("…[truncated: {} bytes in all]", big.len())));
    }

    fn captured(path: &str, response: &str, token: &str) -> Captured {
        Captured {
            id: "r1".into(),
            org_id: "o1".into(),
            at: 1,
            method: "GET".into(),
            path: path.into(),
            status: 200,
            duration_us: 5,
            user_agent: None,
            headers: vec![],
            request_body: Bytes::new(),
            response_body: response.as_bytes().to_vec().into(),
            token: token.into(),
        }
    }

    /// What [`redact`] stored before large answers skipped the parse: every body parsed whole.
    fn redacted_whole(c: &Captured) -> Stored {
        let res = serde_json::from_slice::<Value>(&c.response_body).ok();
        let (user_id, user_name) = user_of(&c.path, None, res.as_ref());
        Stored {
            user_id,
            user_name,
            response_body: redact_parsed(&c.response_body, res, &c.token),
            ..redact(c)
        }
    }

    #[test]
    fn a_large_answer_is_stored_as_if_parsed_whole_and_its_passwords_still_redacted() {
        let token = "s3cr3t-token-value";
        let user = |i: usize| {
            serde_json::json!({"id": format!("u{i}"), "userName": format!("user{i}@b.test"),
                "name": {"givenName": "Ann \"Q\" ü", "familyName": token}})
        };
        let list = serde_json::json!({
            "Resources": (0..300).map(user).collect::<Vec<_>>(), "totalResults": 300,
        })
        .to_string();
        assert!(list.len() > BODY_LIMIT && plain_body(list.as_bytes()).is_some());
        let c = captured("/Users?count=300", &list, token);
        let stored = redact(&c);
        assert_eq!(stored, redacted_whole(&c));
        let body = stored.response_body.unwrap();
        assert!(body.contains(REDACTED) && !body.contains(token), "scrubbed");
        assert!(body.ends_with(&format!(
            "…[truncated: {} bytes in all]",
            list.len() - 300 * (token.len() - REDACTED.len())
        )));
        // One large user answer: its id and userName are still found.
        let mut one = user(7);
        one["x"] = Value::String("y".repeat(20_000));
        let c = captured("/Users", &one.to_string(), token);
        assert_eq!(redact(&c), redacted_whole(&c));
        assert_eq!(
            (redact(&c).user_id, redact(&c).user_name),
            (Some("u7".into()), Some("user7@b.test".into()))
        );
        // A password in a large answer, in any case or spelled with escapes: redacted as ever.
        for (key, value) in [("password", "hunter2"), ("PassWord", "hunter2")] {
            let mut u = one.clone();
            u[key] = Value::String(value.into());
            let c = captured("/Users", &u.to_string(), token);
            let body = redact(&c).response_body.unwrap();
            assert!(
                !body.contains("hunter2") && body.contains(REDACTED),
                "{key}"
            );
        }
        let escaped = one
            .to_string()
            .replacen('{', "{\"pass\\u0077ord\":\"hunter2\",", 1);
        let c = captured("/Users", &escaped, token);
        let body = redact(&c).response_body.unwrap();
        assert!(
            !body.contains("hunter2") && body.contains(REDACTED),
            "{body:.200}"
        );
    }

    #[test]
    fn a_small_answer_is_stored_as_sent_when_redaction_cannot_change_it() {
        let token = "s3cr3t-token-value";
        // Members in the order this server writes them (parsing would sort them).
        let body = format!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u9","userName":"ann@b.test","name":{{"givenName":"{token}"}}}}"#
        );
        let c = captured("/Users", &body, token);
        let stored = redact(&c);
        assert_eq!(
            stored.response_body.as_deref(),
            Some(body.replace(token, REDACTED).as_str())
        );
        let json =
            |s: &Option<String>| serde_json::from_str::<Value>(s.as_deref().unwrap()).unwrap();
        let whole = redacted_whole(&c);
        assert_eq!(json(&stored.response_body), json(&whole.response_body));
        assert_eq!(
            (stored.user_id.as_deref(), stored.user_name.as_deref()),
            (Some("u9"), Some("ann@b.test"))
        );
        // Nothing but white space: nothing stored, as before.
        assert_eq!(
            redact(&captured("/Users", " \n", token)).response_body,
            None
        );
        // A password in a small answer, plain or escaped: still redacted.
        for body in [
            r#"{"id":"u1","password":"hunter2"}"#,
            r#"{"id":"u1","pass\u0077ord":"hunter2"}"#,
        ] {
            let out = redact(&captured("/Users", body, token))
                .response_body
                .unwrap();
            assert!(!out.contains("hunter2") && out.contains(REDACTED), "{out}");
        }
    }

    #[test]
    fn the_user_comes_from_the_path_or_the_answer() {
        let res = serde_json::json!({"id": "u1", "userName": "ann"});
        assert_eq!(
            user_of("/Users/u2?attributes=x", None, Some(&res)),
            (Some("u2".into()), Some("ann".into()))
        );
        assert_eq!(
            user_of("/Users", None, Some(&res)),
            (Some("u1".into()), Some("ann".into()))
        );
        let list = serde_json::json!({"Resources": [], "id": "x"});
        assert_eq!(user_of("/Users/.search", None, Some(&list)), (None, None));
    }

    #[test]
    fn status_filters_parse_and_bad_values_say_what_to_use() {
        assert_eq!(
            Query::parse("4xx", " ann ", "2").unwrap(),
            Query {
                status: Some(StatusFilter::ClientError),
                user: "ann".into(),
                page: 2
            }
        );
        assert!(Query::parse("3xx", "", "").is_err());
        assert!(Query::parse("", "", "0").is_err());
        assert!(Query::parse("", &"x".repeat(300), "").is_err());
    }
}
