//! Black-box test harness: the real router on 127.0.0.1:0 over a fresh SQLite or PostgreSQL database.
#![allow(dead_code)]

use std::sync::Arc;

use leptos::config::LeptosOptions;
use portal_core::Backend;
use portal_server::config::{LogFormat, Validated};
use portal_server::{AppState, AppStateParts};
use portal_test_support::{self as fixture, TestServices};
pub use portal_test_support::{deadline, PW};

pub struct TestApp {
    pub url: String,
    /// This instance's private metrics listener (`{metrics_url}/metrics`).
    pub metrics_url: String,
    /// The file outbox this instance delivers mail to.
    pub outbox: std::path::PathBuf,
    pub t: TestServices,
    pub http: reqwest::Client,
    pub _dir: Option<fixture::TempDir>,
}

/// A second server instance on an existing database (its own pool, write turn and jobs).
pub async fn spawn_on(url: &str) -> TestApp {
    let db = portal_core::Db::open(url, 8).await.unwrap();
    // Both instances read the same (manual) time, as two servers with synchronised clocks do.
    let clock = Arc::new(portal_core::clock::ManualClock::new(fixture::T0));
    let svc = portal_core::Services {
        db: db.clone(),
        clock: clock.clone(),
        settings: Arc::new(fixture::settings()),
        argon2: Default::default(),
    };
    let t = TestServices {
        svc,
        clock,
        tdb: fixture::TestDb {
            db,
            url: url.to_string(),
            dir: None,
        },
    };
    start(t, None, 0, None).await
}

pub async fn spawn(backend: Backend) -> TestApp {
    spawn_behind_proxies(backend, 0).await
}

/// A server configured with `TRUSTED_PROXIES = n` (the test client plays the proxies).
pub async fn spawn_behind_proxies(backend: Backend, n: u8) -> TestApp {
    let mut t = fixture::services(backend).await;
    let dir = t.tdb.dir.take();
    start(t, dir, n, None).await
}

/// A server that stops when `stop` is sent (as the binary does on SIGTERM); `served` ends once it
/// has stopped, requests in flight finished and its shutdown work done.
pub struct Stoppable {
    pub app: TestApp,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub served: tokio::task::JoinHandle<()>,
}

pub async fn spawn_stoppable(backend: Backend) -> Stoppable {
    let mut t = fixture::services(backend).await;
    let dir = t.tdb.dir.take();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let (served_tx, served_rx) = tokio::sync::oneshot::channel();
    let app = start(t, dir, 0, Some((stopped, served_tx))).await;
    let served = tokio::spawn(async move {
        let _ = served_rx.await;
    });
    Stoppable { app, stop, served }
}

type StopHandles = (
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
);

async fn start(
    mut t: TestServices,
    dir: Option<fixture::TempDir>,
    trusted_proxies: u8,
    stop: Option<StopHandles>,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let outbox = std::env::temp_dir()
        .join(format!("portal-mail-{}", portal_core::ids::new_org_id()))
        .join("outbox");
    let config = Validated {
        database_url: t.tdb.url.clone(),
        public_url: url.clone(),
        public_origin: url.clone(),
        secure_cookies: false,
        listen_addr: addr,
        metrics_addr: None,
        log_format: LogFormat::Text,
        db_max_connections: 8,
        session_idle_minutes: 60,
        trusted_proxies,
        max_connections: 2048,
        mail_url: format!("file://{}", outbox.display()),
        mail_from: "Portal <no-reply@example.test>".into(),
        magic_link_ttl_minutes: 15,
        // SCIM request log (issue 13).
        scim_request_log_retention_days: 30,
    };
    let mut svc = t.svc.clone();
    let mut settings = (*svc.settings).clone();
    settings.public_url = url.clone();
    svc.settings = Arc::new(settings);
    t.svc = svc.clone();
    let state = AppState::new(AppStateParts {
        services: svc,
        leptos_options: LeptosOptions::builder()
            .output_name("portal")
            .site_root("target/site")
            .build(),
        config: Arc::new(config),
        metrics: Default::default(),
        scim_log: Default::default(),
    });
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}", metrics_listener.local_addr().unwrap());
    tokio::spawn(async move {
        match stop {
            None => {
                let _ = portal_server::serve_with_metrics(state, listener, Some(metrics_listener))
                    .await;
            }
            Some((stopped, served)) => {
                let _ =
                    portal_server::serve_until(state, listener, Some(metrics_listener), async {
                        let _ = stopped.await;
                    })
                    .await;
                let _ = served.send(());
            }
        }
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A request that hangs fails the test instead of stalling the suite.
        .timeout(HTTP_TIMEOUT)
        .build()
        .unwrap();
    TestApp {
        url,
        metrics_url,
        outbox,
        t,
        http,
        _dir: dir,
    }
}

/// Defines `name::sqlite` and `name::postgres`, each with its own server and database.
#[macro_export]
macro_rules! app_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let mut app = $crate::common::spawn(portal_core::Backend::Sqlite).await;
                // Held here: a body that uses only some fields of `app` captures only those,
                // and the rest (the database directory among them) would be dropped at once.
                let _dir = app._dir.take();
                $crate::common::deadline(($body)(app)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let mut app = $crate::common::spawn(portal_core::Backend::Postgres).await;
                // Held here: a body that uses only some fields of `app` captures only those,
                // and the rest (the database directory among them) would be dropped at once.
                let _dir = app._dir.take();
                $crate::common::deadline(($body)(app)).await;
            }
        }
    };
}

/// A port nothing listens on right now (for server processes that bind it themselves).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends a request; a failure (a timeout among them) names the request, so the panic says which
/// step of the test it was.
pub async fn sent(req: reqwest::RequestBuilder, method: &str, path: &str) -> reqwest::Response {
    match req.send().await {
        Ok(res) => res,
        Err(e) if e.is_timeout() => panic!("{method} {path}: no answer within {HTTP_TIMEOUT:?}"),
        Err(e) => panic!("{method} {path}: {e:?}"),
    }
}

/// Every HTTP call a test makes gives up after this long.
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The server's command line, for `create-admin`, `scim-token`, `sso-config`, … runs.
pub fn server_cli() -> portal_test_support::cli::Cli {
    portal_test_support::cli::Cli::new(env!("CARGO_BIN_EXE_server"))
}

/// The text bodies of the mails delivered to `to` (exact address, case-insensitive) in these
/// outboxes, oldest first, with quoted-printable soft breaks and `=3D` undone.
pub fn mails_in(outboxes: &[&std::path::Path], to: &str) -> Vec<String> {
    let mut found: Vec<(String, String)> = Vec::new();
    for dir in outboxes {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.ends_with(".eml") {
                continue;
            }
            let Ok(raw) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let rcpt = raw
                .lines()
                .find_map(|l| l.strip_prefix("To: "))
                .map(|v| {
                    v.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
                .unwrap_or_default();
            if rcpt.eq_ignore_ascii_case(to) {
                let text = raw
                    .replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=");
                found.push((name, text));
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, t)| t).collect()
}

/// Every recipient that has a mail in these outboxes.
pub fn all_recipients(outboxes: &[&std::path::Path]) -> Vec<String> {
    let mut out = Vec::new();
    for dir in outboxes {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(raw) = std::fs::read_to_string(e.path()) {
                if let Some(r) = raw.lines().find_map(|l| l.strip_prefix("To: ")) {
                    out.push(
                        r.trim()
                            .trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_string(),
                    );
                }
            }
        }
    }
    out.sort();
    out
}

/// The distinct sign-in link tokens in a mail (its text and HTML parts carry the same link).
pub fn link_tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for rest in text.split("token=").skip(1) {
        let t: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

impl TestApp {
    /// Waits (up to 10 s) until `n` mails to `to` have been delivered to this instance's
    /// outbox, and returns their texts.
    pub async fn wait_mails(&self, to: &str, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let m = mails_in(&[&self.outbox], to);
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("expected {n} mail(s) to {to} in {}", self.outbox.display());
    }
}

/// Creates an org + admin (password `PW`) directly in the store; returns the org id.
pub async fn admin(app: &TestApp, org: &str, email: &str) -> String {
    fixture::org_with_admin(&app.t.svc, org, email).await.0.id
}

/// The `name=value` of the session cookie a response sets, if any.
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("portal_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

impl TestApp {
    /// Posts a server-function form as a same-origin browser would.
    pub async fn post_fn(
        &self,
        name: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/api/{name}", self.url))
            .header("Origin", &self.url)
            .header("Sec-Fetch-Site", "same-origin")
            .header("Accept", "application/json")
            .form(form);
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        sent(req, "POST", &format!("/api/{name}")).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}{path}", self.url))
            .header("Accept", "text/html");
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        sent(req, "GET", path).await
    }

    /// Signs in and returns the session cookie.
    pub async fn sign_in(&self, email: &str, password: &str, cookie: Option<&str>) -> String {
        let res = self
            .post_fn(
                "admin_login",
                &[("email", email), ("password", password)],
                cookie,
            )
            .await;
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "{}",
            res.status()
        );
        session_cookie(&res).expect("sign-in sets a session cookie")
    }
}

/// SCIM client helpers.
pub struct Scim<'a> {
    pub app: &'a TestApp,
    pub org: String,
    pub token: String,
}

impl<'a> Scim<'a> {
    pub async fn new(app: &'a TestApp, org_name: &str) -> Scim<'a> {
        let org = admin(
            app,
            org_name,
            &format!("admin@{}.test", org_name.to_lowercase()),
        )
        .await;
        let token = portal_core::scim_tokens::generate(&app.t.svc, &org, "test")
            .await
            .unwrap()
            .into_exposed();
        Scim { app, org, token }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2/{}{path}", self.app.url, self.org)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
        let method_name = method.clone();
        let mut req = self
            .app
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("User-Agent", "test-client/1.0");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let res = sent(req, method_name.as_str(), path).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        };
        (status, json, headers)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (s, j, _) = self.send(reqwest::Method::GET, path, None).await;
        (s, j)
    }
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let (s, j, _) = self.send(reqwest::Method::POST, path, Some(body)).await;
        (s, j)
    }
    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let (s, j, _) = self.send(reqwest::Method::PUT, path, Some(body)).await;
        (s, j)
    }
    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let (s, j, _) = self.send(reqwest::Method::PATCH, path, Some(body)).await;
        (s, j)
    }
    pub async fn delete(&self, path: &str) -> u16 {
        self.send(reqwest::Method::DELETE, path, None).await.0
    }

    /// Counts rows in a table for this org (to prove nothing was written).
    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) =
            sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1"))
                .bind(&self.org)
                .fetch_one(&self.app.t.svc.db.pool)
                .await
                .unwrap();
        n
    }

    pub async fn event_names(&self) -> Vec<(String, bool)> {
        let evs = portal_core::events::recent(&self.app.t.svc.db, &self.org, 1000)
            .await
            .unwrap();
        evs.into_iter().rev().map(|e| (e.name, e.success)).collect()
    }
}

pub fn user_body(user_name: &str) -> serde_json::Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name,
        "active": true,
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "addresses": [{"type": "work", "country": "FI", "locality": "Helsinki"}],
        "preferredLanguage": "fi",
        "externalId": format!("ext-{user_name}"),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
    })
}
