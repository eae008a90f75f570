//! Real SMTP delivery: a real SMTP server (Python's aiosmtpd from PyPI, installed by
//! scripts/setup.sh into .tools/venv) on 127.0.0.1 receives the magic-link mail.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portal_core::mail::Mailer;
use portal_core::Backend;
use portal_test_support as fixture;

use crate::common::deadline;

struct Smtpd(Child);
impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_mail_arrives_over_smtp_with_both_parts() {
    deadline(mail_arrives_over_smtp()).await;
}

async fn mail_arrives_over_smtp() {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools/venv/bin/python");
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing: run scripts/setup.sh (make test does)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maildir = fixture::temp_dir("maildir");
    let _smtpd = Smtpd(
        Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.0.join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut t = fixture::services(Backend::Sqlite).await;
    let _dir = t.tdb.dir.take();
    let (_, admin) = fixture::org_with_admin(&t.svc, "Acme Corp", "admin@acme.test").await;
    portal_core::manage::add_user(
        &t.svc,
        &admin,
        &portal_core::manage::UserForm {
            email: "eve@acme.test".into(),
            given_name: "Eve".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    portal_core::magic_links::request(&t.svc, "eve@acme.test", "127.0.0.1")
        .await
        .unwrap();
    let mailer = Mailer::from_url(
        &format!("smtp://127.0.0.1:{port}?starttls=never"),
        "Identity portal <no-reply@portal.test>",
    )
    .unwrap();
    assert_eq!(
        portal_core::mail::deliver_due(&t.svc, &mailer)
            .await
            .unwrap(),
        1
    );

    let new_dir = maildir.0.join("box").join("new");
    let mut files = Vec::new();
    for _ in 0..50 {
        files = std::fs::read_dir(&new_dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 1, "one message in {}", new_dir.display());
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        raw.contains("From: \"Identity portal\" <no-reply@portal.test>"),
        "{raw}"
    );
    assert!(raw.contains("To: eve@acme.test"));
    assert!(raw.contains("Subject: Your sign-in link for Acme Corp"));
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("Content-Type: text/plain"));
    assert!(raw.contains("Content-Type: text/html"));
    let unfolded = raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(unfolded.contains("/login/link?token="), "{raw}");
    assert!(unfolded.contains("expires in 15 minutes"));
    assert!(unfolded.contains("ignore this email"));
    // Sent once: a second pass has nothing to do.
    assert_eq!(
        portal_core::mail::deliver_due(&t.svc, &mailer)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_delivery_is_retried_later_not_lost() {
    deadline(failed_delivery_is_retried()).await;
}

async fn failed_delivery_is_retried() {
    let mut t = fixture::services(Backend::Sqlite).await;
    let _dir = t.tdb.dir.take();
    let (_, admin) = fixture::org_with_admin(&t.svc, "Acme", "admin@acme.test").await;
    portal_core::manage::add_user(
        &t.svc,
        &admin,
        &portal_core::manage::UserForm {
            email: "eve@acme.test".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    portal_core::magic_links::request(&t.svc, "eve@acme.test", "127.0.0.1")
        .await
        .unwrap();
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Mailer::from_url(
        &format!("smtp://127.0.0.1:{port}?starttls=never"),
        "p <p@p.test>",
    )
    .unwrap();
    assert_eq!(
        portal_core::mail::deliver_due(&t.svc, &down).await.unwrap(),
        0
    );
    let (attempts, err): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM mail_outbox")
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(err.is_some());
    // Not due again until the backoff passes; then a working transport delivers it.
    let outbox = fixture::temp_dir("outbox");
    let file = Mailer::from_url(&format!("file://{}", outbox.0.display()), "p <p@p.test>").unwrap();
    assert_eq!(
        portal_core::mail::deliver_due(&t.svc, &file).await.unwrap(),
        0
    );
    t.clock.advance_ms(120_001);
    assert_eq!(
        portal_core::mail::deliver_due(&t.svc, &file).await.unwrap(),
        1
    );
    assert_eq!(std::fs::read_dir(&outbox.0).unwrap().count(), 1);
}
