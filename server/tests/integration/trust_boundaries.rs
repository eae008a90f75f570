//! Issue 10: organisations are adversaries of each other, one-time secrets are used once even
//! when requests race, and limits hold under bursts — on SQLite and on PostgreSQL.

use std::time::Duration;

use futures::future::join_all;
use portal_core::Clock;
use serde_json::json;

use crate::common::*;
use crate::saml_http::{configure, post_acs, start_login};
use crate::saml_idp;

/// Waits until every mail queued so far has been delivered to the app's outbox.
async fn all_mail_sent(app: &TestApp) {
    for _ in 0..100 {
        let (pending,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL")
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mail was not delivered");
}

async fn scim_user(s: &Scim<'_>, body: serde_json::Value) -> String {
    let (status, created) = s.post("/Users", body).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

// ---- cross-organisation takeover through magic links ----------------------------------------

app_test!(
    magic_links_never_reach_another_orgs_employee,
    |app: TestApp| async move {
        let victim_org = Scim::new(&app, "Victim").await;
        let victim_id = scim_user(&victim_org, user_body("victim@b.test")).await;
        let attacker = Scim::new(&app, "Attacker").await;
        // The attacker's own org holds users whose *secondary* address is the victim's, in every
        // shape an email can take (home, other, untyped), and look-alike sign-in names.
        for (i, kind) in ["home", "other", ""].iter().enumerate() {
            let mut email = json!({"value": "victim@b.test"});
            if !kind.is_empty() {
                email["type"] = json!(kind);
            }
            let mut body = user_body(&format!("attacker{i}@evil.test"));
            body["externalId"] = json!(format!("x{i}"));
            body["emails"] = json!([email]);
            let (status, created) = attacker.post("/Users", body).await;
            // An untyped sole address counts as the work address, which must equal userName
            // while that rule is on; the others are stored. Either way no mail may follow.
            assert!(
                status == 201 || (kind.is_empty() && status == 400),
                "{created}"
            );
            // And beside a work address of the attacker's.
            let mut body = user_body(&format!("attacker{i}b@evil.test"));
            body["externalId"] = json!(format!("y{i}"));
            body["emails"] = json!([
                {"value": format!("attacker{i}b@evil.test"), "type": "work"},
                {"value": "victim@b.test", "type": if kind.is_empty() { "other" } else { kind }, "primary": true}
            ]);
            scim_user(&attacker, body).await;
        }
        // Cyrillic "е" in the domain, and the victim's address as a prefix of another.
        for (i, look_alike) in ["victim@b.t\u{0435}st", "victim@b.test.evil.test"]
            .iter()
            .enumerate()
        {
            let mut body = user_body(look_alike);
            body["externalId"] = json!(format!("l{i}"));
            scim_user(&attacker, body).await;
        }

        let res = app
            .post_fn("request_magic_link", &[("email", "victim@b.test")], None)
            .await;
        assert_eq!(res.status(), 200);
        all_mail_sent(&app).await;

        // Exactly one mail, to the victim, carrying one link — into the victim's own account.
        assert_eq!(all_recipients(&[&app.outbox]), vec!["victim@b.test"]);
        let mails = mails_in(&[&app.outbox], "victim@b.test");
        let tokens = link_tokens(&mails[0]);
        assert_eq!(tokens.len(), 1, "{}", mails[0]);
        let emp = portal_core::magic_links::redeem(&app.t.svc, &tokens[0])
            .await
            .unwrap();
        assert_eq!(
            (emp.org_id, emp.user_id),
            (victim_org.org.clone(), victim_id)
        );
        // No link was made for any account of the attacker's org.
        let (links,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM magic_links WHERE org_id = $1")
            .bind(&attacker.org)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(links, 0);

        // The same address as a sign-in name in the attacker's org (another spelling of the
        // victim's mailbox) gets its own mail, to that address: the attacker still reads nothing.
        let mut body = user_body("Victim@B.test");
        body["externalId"] = json!("same");
        scim_user(&attacker, body).await;
        let res = app
            .post_fn("request_magic_link", &[("email", "VICTIM@b.test")], None)
            .await;
        assert_eq!(res.status(), 200);
        all_mail_sent(&app).await;
        let recipients: Vec<String> = all_recipients(&[&app.outbox])
            .into_iter()
            .map(|r| r.to_lowercase())
            .collect();
        assert_eq!(recipients, vec!["victim@b.test"; 3]);
        for to in ["victim@b.test", "Victim@B.test"] {
            for mail in mails_in(&[&app.outbox], to) {
                assert_eq!(link_tokens(&mail).len(), 1, "one account's link per mail");
            }
        }
    }
);

// ---- single use under concurrency -----------------------------------------------------------

app_test!(
    a_magic_link_signs_in_once_when_redeemed_concurrently,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        scim_user(&s, user_body("eve@acme.test")).await;
        portal_core::magic_links::request(&app.t.svc, "eve@acme.test", "10.0.0.1")
            .await
            .unwrap();
        let mail = app.wait_mails("eve@acme.test", 1).await.remove(0);
        let token = link_tokens(&mail).remove(0);
        // Hold the link's row (PostgreSQL) or the write turn (SQLite) while the redemptions
        // start, so they all read the link as unused and then race for the claim — the
        // interleaving that let 8 of 8 through before the claim's row count was checked.
        let mut blocker = app.t.svc.db.begin_write().await.unwrap();
        if app.t.svc.db.backend == portal_core::Backend::Postgres {
            sqlx::query("SELECT token_hash FROM magic_links FOR UPDATE")
                .fetch_all(&mut **blocker)
                .await
                .unwrap();
        }
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let (http, url, token) = (app.http.clone(), app.url.clone(), token.clone());
                tokio::spawn(async move {
                    http.post(format!("{url}/api/redeem_magic_link"))
                        .header("Origin", &url)
                        .header("Sec-Fetch-Site", "same-origin")
                        .header("Accept", "application/json")
                        .form(&[("token", token)])
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        blocker.commit().await.unwrap();
        let mut statuses = Vec::new();
        for a in attempts {
            statuses.push(a.await.unwrap());
        }
        let ok = statuses.iter().filter(|s| **s < 400).count();
        assert_eq!(ok, 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s <= 400), "{statuses:?}");
        let signed_in = s
            .event_names()
            .await
            .into_iter()
            .filter(|(n, ok)| n == "employee_sign_in" && *ok)
            .count();
        assert_eq!(signed_in, 1);
    }
);

app_test!(
    concurrent_token_generation_leaves_one_working_token,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let runs = (0..4).map(|_| portal_core::scim_tokens::generate(&app.t.svc, &org, "race"));
        let tokens: Vec<String> = join_all(runs)
            .await
            .into_iter()
            .filter_map(|r| r.ok())
            .map(|t| t.into_exposed())
            .collect();
        assert!(!tokens.is_empty());
        let (active,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL",
        )
        .bind(&org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(active, 1);
        let mut working = 0;
        for t in &tokens {
            let res = app
                .http
                .get(format!("{}/scim/v2/{org}/Users", app.url))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                working += 1;
            } else {
                assert_eq!(res.status(), 401);
            }
        }
        assert_eq!(working, 1);
        // The database itself refuses a second active token.
        let second = sqlx::query(
            "INSERT INTO scim_tokens (id, org_id, token_hash, created_at, created_by) VALUES ('x', $1, 'h', 0, 'sql')",
        )
        .bind(&org)
        .execute(&app.t.svc.db.pool)
        .await
        .unwrap_err();
        assert!(
            portal_core::CoreError::is_unique_violation(&second),
            "{second}"
        );
    }
);

app_test!(
    concurrent_writes_without_if_match_all_succeed,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        let id = scim_user(&s, user_body("eve@acme.test")).await;
        let path = format!("/Users/{id}");
        let (_, created) = s.get(&path).await;
        let before: i64 = created["meta"]["version"]
            .as_str()
            .unwrap()
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse()
            .unwrap();
        let patches = (0..12).map(|i| {
            s.patch(
                &path,
                json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": format!("T{i}")}]
                }),
            )
        });
        let puts = (0..12).map(|i| {
            let mut body = user_body("eve@acme.test");
            body["title"] = json!(format!("P{i}"));
            s.put(&path, body)
        });
        let (patched, put) = futures::join!(join_all(patches), join_all(puts));
        for (status, body) in patched.iter().chain(put.iter()) {
            assert_eq!(*status, 200, "no If-Match was sent, so no 412: {body}");
        }
        let version = |u: &serde_json::Value| -> i64 {
            u["meta"]["version"]
                .as_str()
                .unwrap()
                .trim_start_matches("W/")
                .trim_matches('"')
                .parse()
                .unwrap()
        };
        let (_, now) = s.get(&path).await;
        assert_eq!(version(&now), before + 24, "every write applied: {now}");
        // A client that does send a stale If-Match still gets 412.
        let res = app
            .http
            .patch(s.url(&path))
            .bearer_auth(&s.token)
            .header("If-Match", format!("W/\"{before}\""))
            .header("Content-Type", "application/scim+json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "title", "value": "late"}]})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_eq!(status, 412);
    }
);

app_test!(
    setup_token_and_admin_creation_are_single_use_under_concurrency,
    |app: TestApp| async move {
        let token = portal_core::setup::issue_token_if_empty(&app.t.svc)
            .await
            .unwrap()
            .expect("an empty database issues a setup token")
            .into_exposed();
        let names: Vec<String> = (0..6).map(|i| format!("Org {i}")).collect();
        let emails: Vec<String> = (0..6).map(|i| format!("a{i}@x.test")).collect();
        let runs = (0..6).map(|i| {
            portal_core::setup::complete(
                &app.t.svc,
                &token,
                portal_core::admins::NewAdmin {
                    org_name: &names[i],
                    email: &emails[i],
                    password: PW,
                },
            )
        });
        let results = join_all(runs).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        let (orgs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orgs")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(orgs, 1);
        // The same admin address created concurrently: one wins, the others are told why.
        let names: Vec<String> = (0..6).map(|i| format!("Other {i}")).collect();
        let runs = names.iter().map(|n| {
            portal_core::admins::create_admin(
                &app.t.svc,
                portal_core::admins::NewAdmin {
                    org_name: n,
                    email: "same@x.test",
                    password: PW,
                },
            )
        });
        let results = join_all(runs).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(r, portal_core::CoreError::Conflict(_)), "{r:?}");
        }
        let (admins,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM admins WHERE lower(email) = 'same@x.test'")
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(admins, 1);
    }
);

app_test!(
    saml_request_and_assertion_are_used_once_under_concurrency,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        // SP-initiated: one AuthnRequest answered by six simultaneous posts of one response.
        let (id, cookie, _) = start_login(&app, &org, "/app").await;
        let mut o = saml_idp::opts_for(&app.url, &org, app.t.clock.now_ms());
        o.in_response_to = Some(id);
        let xml = saml_idp::signed_xml(&o);
        let posts = (0..6).map(|_| post_acs(&app, &org, &xml, None, Some(&cookie)));
        let ok = join_all(posts)
            .await
            .iter()
            .filter(|r| r.status() == 303)
            .count();
        assert_eq!(ok, 1);
        // IdP-initiated: the replay cache lets one of six identical posts through.
        let mut o = saml_idp::opts_for(&app.url, &org, app.t.clock.now_ms());
        o.assertion_id = "_unsolicited".into();
        o.response_id = "_resp_unsolicited".into();
        let xml = saml_idp::signed_xml(&o);
        let posts = (0..6).map(|_| post_acs(&app, &org, &xml, None, None));
        let ok = join_all(posts)
            .await
            .iter()
            .filter(|r| r.status() == 303)
            .count();
        assert_eq!(ok, 1);
    }
);

app_test!(
    simultaneous_first_sign_ins_of_one_new_user_create_one_account_and_all_sign_in,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        // A double click on the IdP's tile, or two tabs: distinct assertions for one new user,
        // posted at once. Each signs in; one account is created (JIT), no 5xx.
        let xmls: Vec<String> = (0..6)
            .map(|i| {
                let mut o = saml_idp::opts_for(&app.url, &org, app.t.clock.now_ms());
                o.assertion_id = format!("_jit_race_{i}");
                o.response_id = format!("_resp_jit_race_{i}");
                saml_idp::signed_xml(&o)
            })
            .collect();
        let posts = xmls.iter().map(|xml| post_acs(&app, &org, xml, None, None));
        let statuses: Vec<u16> = join_all(posts)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
        let (users,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE org_id = $1 AND lower(user_name) = 'ann@example.com'",
        )
        .bind(&org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(users, 1);
        let (created,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM events WHERE org_id = $1 AND name = 'user_create_jit'",
        )
        .bind(&org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(created, 1);
    }
);

// ---- limits under bursts ---------------------------------------------------------------------

app_test!(
    a_password_burst_gets_only_the_allowed_guesses,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let before = app.t.svc.argon2.verifications();
        let app = &app;
        let guesses = (0..100).map(|i| {
            let pw = format!("wrong password {i}");
            async move {
                app.post_fn(
                    "admin_login",
                    &[("email", "a@acme.test"), ("password", &pw)],
                    None,
                )
                .await
            }
        });
        let responses = join_all(guesses).await;
        let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
        for r in &responses {
            *by_status.entry(r.status().as_u16()).or_default() += 1;
            if r.status() == 429 {
                assert!(r.headers().contains_key("retry-after"));
            }
        }
        let policy = app.t.svc.settings.throttle;
        let verified = app.t.svc.argon2.verifications() - before;
        assert_eq!(
            verified, policy.max_per_account_client as u64,
            "argon2 ran once per allowed guess: {by_status:?}"
        );
        assert_eq!(
            by_status.get(&401),
            Some(&(policy.max_per_account_client as usize))
        );
        assert_eq!(
            by_status.get(&429),
            Some(&(100 - policy.max_per_account_client as usize)),
            "{by_status:?}"
        );
        assert!(app.t.svc.argon2.peak_concurrency() <= app.t.svc.argon2.size());
    }
);

app_test!(
    half_sent_headers_do_not_starve_normal_requests,
    |app: TestApp| async move {
        use tokio::io::AsyncWriteExt;
        let addr = app.url.trim_start_matches("http://").to_string();
        let mut slow = Vec::new();
        for _ in 0..500 {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            slow.push(s);
        }
        // Keep trickling a byte per socket while a normal client asks.
        let trickle = tokio::spawn(async move {
            for _ in 0..30 {
                for s in slow.iter_mut() {
                    let _ = s.write_all(b"a").await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            slow
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let res = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz", None))
            .await
            .expect("a normal request is answered while 500 clients trickle headers");
        assert_eq!(res.status(), 200);
        // The server gives up on the tricklers once the header read timeout passes.
        let slow = trickle.await.unwrap();
        let mut closed = 0;
        for mut s in slow {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 256];
            let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
            // EOF, a reset, or a 408 response all mean the server let go.
            if matches!(r, Ok(Ok(_)) | Ok(Err(_))) {
                closed += 1;
            }
        }
        assert_eq!(closed, 500, "every trickling connection was cut off");
    }
);

app_test!(
    acs_posts_cannot_flood_or_phish_an_orgs_activity,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        // An unsigned failure response whose StatusMessage is a phishing text.
        let mut o = saml_idp::opts_for(&app.url, &org, app.t.clock.now_ms());
        o.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
        let assertion = saml_idp::assertion_xml(&o, false);
        let xml = saml_idp::response_xml(&o, &assertion).replace(
            "/></samlp:Status>",
            "/><samlp:StatusMessage>The IdP rotated its key: paste this certificate into the Single Sign-On screen: MIIBfake</samlp:StatusMessage></samlp:Status>",
        );
        let res = post_acs(&app, &org, &xml, None, None).await;
        assert_eq!(res.status(), 403);
        let failures = portal_core::sso::recent_failures(&app.t.svc, &org, 5)
            .await
            .unwrap();
        let reason = &failures[0].reason;
        assert!(reason.contains("Responder"), "{reason}");
        assert!(
            !reason.contains("paste") && !reason.contains("MIIB"),
            "unverified text shown to the admin: {reason}"
        );
        // A flood from one client records a bounded number of events.
        let flood = (0..40).map(|_| post_acs(&app, &org, "<not-saml/>", None, None));
        for r in join_all(flood).await {
            assert_eq!(r.status(), 403);
        }
        let (events,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM events WHERE org_id = $1 AND name = 'sso_sign_in' AND success = 0",
        )
        .bind(&org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(events, portal_core::sso::MAX_FAILURE_EVENTS_PER_CLIENT);
    }
);

// ---- smaller findings -------------------------------------------------------------------------

app_test!(
    sent_mail_keeps_no_link_in_the_database,
    |app: TestApp| async move {
        let s = Scim::new(&app, "Acme").await;
        scim_user(&s, user_body("eve@acme.test")).await;
        app.post_fn("request_magic_link", &[("email", "eve@acme.test")], None)
            .await;
        let mail = app.wait_mails("eve@acme.test", 1).await.remove(0);
        assert_eq!(link_tokens(&mail).len(), 1);
        all_mail_sent(&app).await;
        let (text, html): (String, String) =
            sqlx::query_as("SELECT body_text, body_html FROM mail_outbox")
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert!(!text.contains("token=") && !html.contains("token="));
    }
);

app_test!(
    protected_pages_redirect_with_a_redirect_status,
    |app: TestApp| async move {
        for (path, to) in [("/app", "/login"), ("/admin", "/admin/login")] {
            let res = app
                .http
                .get(format!("{}{path}", app.url))
                .header("Accept", "*/*")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 302, "{path}");
            assert_eq!(res.headers()["location"], to);
        }
    }
);

/// The one-time setup URL is a credential: the operator's terminal gets it (stdout), the log
/// stream (stderr, shipped to collectors) does not.
#[test]
fn the_setup_url_goes_to_stdout_never_to_the_log() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let dir = portal_test_support::temp_dir("setup-url");
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/portal.db", dir.0.display()),
        )
        .env("MAIL_URL", format!("file://{}/outbox", dir.0.display()))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "debug,sqlx=warn")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("Setup URL: ") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = child.wait();
    let line = line.expect("the server printed the setup URL on stdout");
    let token = line.split("token=").nth(1).unwrap().trim();
    assert_eq!(token.len(), 43, "{line}");
    assert!(log.contains("setup link was printed"), "{log}");
    assert!(!log.contains(token) && !log.contains("token="), "{log}");
}

app_test!(
    silent_sockets_are_cut_off_and_do_not_starve_normal_requests,
    |app: TestApp| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = app.url.trim_start_matches("http://").to_string();
        // Sockets that send nothing, and sockets that start an HTTP/2 preface and stop.
        let mut silent = Vec::new();
        for i in 0..200 {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            if i % 2 == 1 {
                s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
            }
            silent.push(s);
        }
        let res = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz", None))
            .await
            .expect("a normal request is answered beside 200 silent sockets");
        assert_eq!(res.status(), 200);
        let started = std::time::Instant::now();
        let mut closed = 0;
        for mut s in silent {
            let mut buf = [0u8; 256];
            let left = Duration::from_secs(25).saturating_sub(started.elapsed());
            if let Ok(r) = tokio::time::timeout(left, s.read(&mut buf)).await {
                // EOF, a reset or an error response: the server let go.
                let _ = r;
                closed += 1;
            }
        }
        assert_eq!(closed, 200, "every silent connection was cut off");
    }
);

/// Behind one proxy of ours, the client is the right-most `X-Forwarded-For` entry: changing the
/// client-written entries to its left does not buy new attempts.
async fn forwarded_for_is_read_from_the_right(backend: portal_core::Backend) {
    let mut app = spawn_behind_proxies(backend, 1).await;
    let _dir = app._dir.take();
    deadline(async {
        admin(&app, "Acme", "a@acme.test").await;
        let login = |xff: String, pw: &'static str| {
            let req = app
                .http
                .post(format!("{}/api/admin_login", app.url))
                .header("Origin", &app.url)
                .header("Sec-Fetch-Site", "same-origin")
                .header("Accept", "application/json")
                .header("X-Forwarded-For", xff)
                .form(&[("email", "a@acme.test"), ("password", pw)]);
            async move { sent(req, "POST", "/api/admin_login").await.status() }
        };
        for i in 0..5 {
            let status = login(format!("198.51.100.{i}, 203.0.113.7"), "wrong password!").await;
            assert_eq!(status, 401);
        }
        // A fresh left-most (client-written) entry is still the same client.
        let status = login("192.0.2.99, 203.0.113.7".into(), PW).await;
        assert_eq!(status, 429);
        // Another client (the proxy saw another address) is not held back.
        let status = login("198.51.100.1, 203.0.113.8".into(), PW).await;
        assert!(status.is_success() || status.is_redirection(), "{status}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_read_from_the_right_sqlite() {
    forwarded_for_is_read_from_the_right(portal_core::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_read_from_the_right_postgres() {
    forwarded_for_is_read_from_the_right(portal_core::Backend::Postgres).await;
}
