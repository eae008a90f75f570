//! Crash safety: provision users with concurrent clients, `kill -9` the server part-way, restart
//! it, and check that every acknowledged (201) user is present and whole, and that the database
//! passes its integrity check. On SQLite (WAL) and PostgreSQL.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_core::Backend;
use portal_test_support as fixture;
use serde_json::{json, Value};

use crate::common::{deadline, free_port, server_cli, HTTP_TIMEOUT};

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_server")
}

/// An HTTP client whose calls give up instead of hanging the test.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .unwrap()
}

async fn start(db_url: &str, port: u16, mail_dir: &std::path::Path) -> Server {
    let child = Command::new(bin())
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("MAIL_URL", format!("file://{}", mail_dir.display()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary");
    let server = Server(child);
    let http = client();
    for _ in 0..200 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status() == 200 {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

/// Runs the CLI to completion (off the async runtime) and returns what it printed.
async fn cli(db_url: &str, args: &[&str], stdin: &str) -> String {
    let out = server_cli()
        .env("DATABASE_URL", db_url)
        .run_async(args, stdin)
        .await;
    assert!(out.success, "{}", out.stderr);
    out.stdout
}

async fn crash_and_recover(backend: Backend) {
    let mut t = fixture::services(backend).await;
    let _dir = t.tdb.dir.take();
    let url = t.tdb.url.clone();
    t.svc.db.close().await;
    let mail = fixture::temp_dir("crash-mail");
    let out = cli(
        &url,
        &[
            "create-admin",
            "--org-name",
            "Crash",
            "--email",
            "c@crash.test",
        ],
        "a long enough passphrase\n",
    )
    .await;
    let org = out.trim().lines().last().unwrap().to_string();
    let token = cli(&url, &["scim-token", "--org", &org], "")
        .await
        .trim()
        .to_string();

    let port = free_port();
    let server = start(&url, port, &mail.0).await;
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let http = client();
    let mut tasks = Vec::new();
    for c in 0..8 {
        let (http, token, org, acked) = (http.clone(), token.clone(), org.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..125 {
                let u = format!("u{c}-{i}@crash.test");
                let body = json!({"userName": u, "name": {"givenName": "G", "familyName": format!("F{i}")}, "emails": [{"value": u, "type": "work"}]});
                let res = http.post(format!("http://127.0.0.1:{port}/scim/v2/{org}/Users")).bearer_auth(&token).json(&body).send().await;
                match res {
                    Ok(r) if r.status() == 201 => {
                        if let Ok(v) = r.json::<Value>().await {
                            acked.lock().unwrap().push((v["id"].as_str().unwrap().to_string(), u));
                        }
                    }
                    _ => return, // the server is gone
                }
            }
        }));
    }
    // Kill it part-way, without any chance to clean up.
    while acked.lock().unwrap().len() < 300 {
        // Clients that all stopped early would leave this loop waiting for ever.
        assert!(
            !tasks.iter().all(|t| t.is_finished()),
            "the clients stopped after {} users",
            acked.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut server = server;
    server.0.kill().unwrap(); // SIGKILL
    let _ = server.0.wait();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300 && acked.len() < 1000,
        "killed part-way: {}",
        acked.len()
    );

    // Restart on the same database; every acknowledged user is there and whole.
    let port = free_port();
    let _server = start(&url, port, &mail.0).await;
    for (id, user_name) in &acked {
        let res = http
            .get(format!("http://127.0.0.1:{port}/scim/v2/{org}/Users/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "acknowledged user {user_name} lost");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["userName"], user_name.as_str());
        assert_eq!(v["emails"][0]["value"], user_name.as_str());
        assert_eq!(v["name"]["givenName"], "G");
    }
    // Nothing half-written: every user row has its email row, and the store is consistent.
    let db = portal_core::Db::open(&url, 2).await.unwrap();
    let (orphans,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id)")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(orphans, 0);
    if backend == Backend::Sqlite {
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    } else {
        // PostgreSQL: every index agrees with its table (amcheck ships with PostgreSQL).
        sqlx::query("CREATE EXTENSION IF NOT EXISTS amcheck")
            .execute(&db.pool)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM (SELECT bt_index_check(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace) AS checked",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(n > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_user_after_kill_9() {
    deadline(crash_and_recover(Backend::Sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_user_after_kill_9() {
    deadline(crash_and_recover(Backend::Postgres)).await;
}
