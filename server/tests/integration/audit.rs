//! Issue 12 — the audit trail over HTTP, on both databases: the Activity screen's filters and
//! their refusals, the CSV and JSON Lines exports (streamed across several chunks, equal to the
//! filtered list, formula cells defused, scoped to the caller's org, 401 when signed out) and the
//! Overview checklist.

use portal_core::audit::{self, ActivityQuery};
use portal_core::events::{self, NewEvent};
use portal_core::Clock;
use serde_json::Value;

use crate::common::*;

const DAY: i64 = 86_400_000;

fn ev(org: &str, name: &str, success: bool, actor: &str, message: &str) -> NewEvent {
    NewEvent {
        org_id: org.to_string(),
        name: name.to_string(),
        success,
        user_id: None,
        actor: actor.to_string(),
        scim_type: None,
        message: message.to_string(),
        detail: None,
    }
}

/// Records events at the given times, in one transaction.
async fn seed(app: &TestApp, evs: Vec<(NewEvent, i64)>) {
    let mut tx = app.t.svc.db.begin_write().await.unwrap();
    for (e, at) in evs {
        events::record_in_tx(&mut tx, e, at).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn list(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = app.post_fn("list_events", form, Some(cookie)).await;
    let st = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn export(app: &TestApp, cookie: Option<&str>, path: &str) -> reqwest::Response {
    let mut req = app.http.get(format!("{}{path}", app.url));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    sent(req, "GET", path).await
}

/// A CSV document as rows of cells (RFC 4180: quoted cells may hold commas, quotes, newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && row.is_empty(),
        "the last line ends with CRLF"
    );
    rows
}

/// What the CSV shows for a cell: a leading `= + - @`, tab or CR gets a `'`.
fn defused(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Every event the screen lists for `pairs`, all pages, through the domain.
async fn listed(
    app: &TestApp,
    org: &str,
    pairs: &[(&str, &str)],
) -> Vec<portal_core::admin_views::EventRow> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let mut q = ActivityQuery::parse(pairs.iter().copied()).unwrap();
        q.page = page;
        let p = audit::list(&app.t.svc, org, &q).await.unwrap();
        out.extend(p.rows);
        if p.page >= p.pages {
            return out;
        }
        page += 1;
    }
}

app_test!(
    activity_filters_over_http_and_bad_values_are_400,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let other = admin(&app, "Other", "a@other.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let t0 = app.t.clock.now_ms();
        seed(
            &app,
            vec![
                (
                    ev(&org, "sso_sign_in", false, "idp", "bad signature"),
                    t0 - 2 * DAY,
                ),
                (ev(&org, "user_create_jit", true, "idp", "jit"), t0 - DAY),
                (
                    ev(&org, "admin_role_change", true, "owner@acme.test", "role"),
                    t0,
                ),
                (
                    ev(&other, "sso_sign_in", false, "idp", "theirs-marker"),
                    t0 - DAY,
                ),
            ],
        )
        .await;
        let total = |v: &Value| v["total"].as_i64().unwrap();
        let (st, v) = list(&app, &cookie, &[("q[kind]", "sso,jit"), ("q[page]", "1")]).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(total(&v), 2);
        assert_eq!(v["rows"][0]["kind"], "jit");
        assert_eq!(v["rows"][1]["kind"], "sso");
        let (_, v) = list(&app, &cookie, &[("q[result]", "failure")]).await;
        assert_eq!(total(&v), 1);
        assert!(!v.to_string().contains("theirs-marker"));
        let (_, v) = list(&app, &cookie, &[("q[actor]", "OWNER@")]).await;
        assert_eq!(total(&v), 1);
        let yesterday = portal_core::clock::rfc3339(t0 - DAY)[..10].to_string();
        let (_, v) = list(
            &app,
            &cookie,
            &[("q[from]", &yesterday), ("q[to]", &yesterday)],
        )
        .await;
        assert_eq!(total(&v), 1);
        assert_eq!(v["rows"][0]["name"], "user_create_jit");
        // B's org id smuggled into the form changes nothing.
        let (_, v) = list(&app, &cookie, &[("q[org_id]", &other), ("org_id", &other)]).await;
        assert!(!v.to_string().contains("theirs-marker"));

        // Bad values: 400 with a message that says what to fix, from the server function, the
        // page and both exports alike.
        for (key, value, says) in [
            ("kind", "everything", "is not an event kind"),
            ("result", "maybe", "neither “success” nor “failure”"),
            ("from", "31/01/2026", "is not a date like"),
            ("to", "2026-02-30", "is not a date like"),
            ("from", "1970-01-01", "between 2000-01-01 and 2099-12-31"),
            ("page", "0", "whole number"),
        ] {
            let (st, v) = list(&app, &cookie, &[(&format!("q[{key}]"), value)]).await;
            assert_eq!(st, 400, "{key}={value}: {v}");
            assert!(
                v["message"].as_str().unwrap().contains(says),
                "{key}={value}: {v}"
            );
            let res = app
                .get(
                    &format!("/admin/activity?{key}={}", urlencode(value)),
                    Some(&cookie),
                )
                .await;
            assert_eq!(res.status().as_u16(), 400, "page {key}={value}");
            let html = res.text().await.unwrap();
            assert!(
                html.contains("data-testid=\"activity-error\""),
                "page {key}={value}"
            );
            for ext in ["csv", "jsonl"] {
                let res = export(
                    &app,
                    Some(&cookie),
                    &format!("/admin/activity/export.{ext}?{key}={}", urlencode(value)),
                )
                .await;
                assert_eq!(res.status().as_u16(), 400, "{ext} {key}={value}");
                assert_eq!(res.headers()["cache-control"], "no-store");
                let body = res.text().await.unwrap();
                assert!(body.contains(says), "{ext} {key}={value}: {body}");
            }
        }
        let (st, v) = list(
            &app,
            &cookie,
            &[("q[from]", "2026-02-01"), ("q[to]", "2026-01-01")],
        )
        .await;
        assert_eq!(st, 400);
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("after the “to” date"),
            "{v}"
        );
        // A hostile value is not echoed whole.
        let long = "<script>".repeat(500);
        let (st, v) = list(&app, &cookie, &[("q[kind]", &long)]).await;
        assert_eq!(st, 400);
        assert!(v["message"].as_str().unwrap().len() < 400);

        // Signed out: 401, nothing listed.
        let res = app.post_fn("list_events", &[("q[page]", "1")], None).await;
        assert_eq!(res.status().as_u16(), 401);
        // A Viewer reads and exports.
        portal_test_support::add_admin(
            &app.t.svc,
            &org,
            "viewer@acme.test",
            portal_core::admins::Role::Viewer,
        )
        .await;
        let viewer = app.sign_in("viewer@acme.test", PW, None).await;
        let (st, v) = list(&app, &viewer, &[("q[kind]", "admin")]).await;
        assert_eq!(st, 200, "{v}");
        let res = export(&app, Some(&viewer), "/admin/activity/export.csv?kind=admin").await;
        assert_eq!(res.status().as_u16(), 200);
    }
);

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

app_test!(
    exports_stream_the_filtered_list_across_chunks,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let other = admin(&app, "Other", "a@other.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let t0 = app.t.clock.now_ms();
        let n = (portal_server::http::audit_export::CHUNK as usize) * 2 + 37;
        let mut evs = Vec::new();
        for i in 0..n {
            let (name, success) = match i % 4 {
                0 => ("sso_sign_in", false),
                1 => ("user_update_provision", true),
                2 => ("admin_user_update", true),
                _ => ("employee_sign_in", true),
            };
            // Two events to a millisecond: the keyset must neither skip nor repeat ties.
            evs.push((
                ev(&org, name, success, "idp", &format!("event {i}")),
                t0 - DAY + (i as i64) / 2,
            ));
            evs.push((
                ev(&other, name, success, "idp", "theirs-marker"),
                t0 - DAY + i as i64,
            ));
        }
        // Cells a spreadsheet would run, quotes, commas and a line break.
        for (i, (actor, message)) in [
            (
                "=cmd|' /C calc'!A0",
                "=HYPERLINK(\"http://evil.test\",\"click\")",
            ),
            ("+1+1", "-2+3"),
            ("@SUM(1)", "\tTabbed"),
            ("plain", "a, \"quoted\"\r\nsecond line"),
        ]
        .into_iter()
        .enumerate()
        {
            evs.push((
                ev(&org, "admin_user_create", true, actor, message),
                t0 + i as i64,
            ));
        }
        seed(&app, evs).await;
        let total = n + 4;

        // CSV, no filter: a header, then every event of this org, newest first, as listed.
        let res = export(
            &app,
            Some(&cookie),
            &format!("/admin/activity/export.csv?org_id={other}"),
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);
        let h = res.headers().clone();
        assert_eq!(h["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            h["content-disposition"],
            "attachment; filename=\"activity-2026-01-01.csv\""
        );
        assert_eq!(h["cache-control"], "no-store");
        let text = res.text().await.unwrap();
        assert!(!text.contains("theirs-marker"), "another org's events");
        let rows = parse_csv(&text);
        assert_eq!(
            rows[0],
            [
                "Time (UTC)",
                "Kind",
                "Event",
                "Result",
                "Actor",
                "User ID",
                "userName",
                "SCIM error",
                "Message"
            ]
        );
        let want = listed(&app, &org, &[]).await;
        // Creating the org and signing in recorded `admin_create` and `admin_sign_in`.
        assert_eq!(want.len(), total + 2);
        assert_eq!(rows.len() - 1, want.len());
        for (cells, e) in rows[1..].iter().zip(&want) {
            let expected = [
                portal_core::clock::rfc3339(e.at),
                e.kind.as_str().to_string(),
                e.name.clone(),
                if e.success { "success" } else { "failure" }.to_string(),
                defused(&e.actor),
                e.user_id.clone().unwrap_or_default(),
                e.user_name.clone().unwrap_or_default(),
                e.scim_type.clone().unwrap_or_default(),
                defused(&e.message),
            ];
            assert_eq!(cells, &expected);
        }
        // The formula cells, as written.
        assert!(
            text.contains("\"'=HYPERLINK(\"\"http://evil.test\"\",\"\"click\"\")\""),
            "{}",
            &text[..600]
        );
        assert!(text.contains(",'+1+1,"));
        assert!(text.contains(",'-2+3\r\n"));
        assert!(text.contains(",'@SUM(1),"));
        assert!(text.contains(",'\tTabbed\r\n"));
        assert!(text.contains("\"a, \"\"quoted\"\"\r\nsecond line\""));
        assert!(!text.contains(",=") && !text.contains(",+1") && !text.contains(",@"));

        // JSON Lines, filtered: one object per event, equal to the filtered list.
        let filter = [
            ("kind", "sso"),
            ("kind", "magic_link"),
            ("result", "failure"),
        ];
        let query = filter
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let res = export(
            &app,
            Some(&cookie),
            &format!("/admin/activity/export.jsonl?{query}&page=3"),
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(
            res.headers()["content-type"],
            "application/x-ndjson; charset=utf-8"
        );
        assert_eq!(
            res.headers()["content-disposition"],
            "attachment; filename=\"activity-2026-01-01.jsonl\""
        );
        assert_eq!(res.headers()["cache-control"], "no-store");
        let text = res.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let want = listed(&app, &org, &filter).await;
        assert_eq!(
            want.len(),
            n.div_ceil(4),
            "every 4th is a failed SSO sign-in"
        );
        assert!(want.len() > portal_server::http::audit_export::CHUNK as usize / 2);
        assert_eq!(lines.len(), want.len());
        for (l, e) in lines.iter().zip(&want) {
            assert_eq!(l["id"], e.id.as_str());
            assert_eq!(l["at"], portal_core::clock::rfc3339(e.at).as_str());
            assert_eq!(l["kind"], "sso");
            assert_eq!(l["name"], "sso_sign_in");
            assert_eq!(l["success"], false);
            assert_eq!(l["message"], e.message.as_str());
            assert_eq!(l["actor"], "idp");
        }
        // Unfiltered JSON Lines keep the raw text (no spreadsheet defusing there).
        let res = export(
            &app,
            Some(&cookie),
            "/admin/activity/export.jsonl?kind=admin",
        )
        .await;
        let text = res.text().await.unwrap();
        assert!(text.contains("\"message\":\"=HYPERLINK("));
        assert_eq!(
            text.lines().count(),
            listed(&app, &org, &[("kind", "admin")]).await.len()
        );

        // Signed out: 401 for both, no rows.
        for ext in ["csv", "jsonl"] {
            let res = export(&app, None, &format!("/admin/activity/export.{ext}")).await;
            assert_eq!(res.status().as_u16(), 401, "{ext}");
            let body = res.text().await.unwrap();
            assert!(!body.contains("event 1"), "{ext}");
        }
        // The other org's admin gets the other org's events only.
        let theirs = app.sign_in("a@other.test", PW, None).await;
        let res = export(
            &app,
            Some(&theirs),
            &format!("/admin/activity/export.csv?org_id={org}&user={org}"),
        )
        .await;
        let text = res.text().await.unwrap();
        assert_eq!(
            parse_csv(&text).len(),
            1,
            "a user filter naming an org id matches nothing"
        );
        let res = export(
            &app,
            Some(&theirs),
            &format!("/admin/activity/export.csv?org_id={org}"),
        )
        .await;
        let text = res.text().await.unwrap();
        assert!(!text.contains("event 1\r\n") && text.contains("theirs-marker"));
    }
);

async fn overview(app: &TestApp, cookie: &str) -> Value {
    let res = app.post_fn("load_overview", &[], Some(cookie)).await;
    assert_eq!(res.status().as_u16(), 200);
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

app_test!(
    overview_is_a_checklist_of_the_setup,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let v = overview(&app, &cookie).await;
        assert_eq!(v["sso_configured"], false);
        assert_eq!(v["scim_active"], false);
        assert_eq!(v["next_step"], "configure_sso");
        let page = app.get("/admin", Some(&cookie)).await.text().await.unwrap();
        assert!(
            page.contains("data-step=\"configure_sso\""),
            "the page shows the step"
        );
        assert!(page.contains(&org), "the Org ID card stays");

        crate::saml_http::configure(&app, &org, true).await;
        let cfg = portal_core::sso::get(&app.t.svc, &org)
            .await
            .unwrap()
            .unwrap();
        let v = overview(&app, &cookie).await;
        assert_eq!(v["sso_configured"], true);
        assert_eq!(v["sso_last_success_at"], Value::Null);
        assert_eq!(v["certificates"][0]["state"], "valid");
        assert_eq!(v["certificates"][0]["not_after"], cfg.certificate.not_after);
        assert_eq!(v["next_step"], "test_sso");

        let now = app.t.clock.now_ms();
        sqlx::query("UPDATE sso_configs SET last_success_at = $1 WHERE org_id = $2")
            .bind(now)
            .bind(&org)
            .execute(&app.t.svc.db.pool)
            .await
            .unwrap();
        let v = overview(&app, &cookie).await;
        assert_eq!(v["sso_last_success_at"], now);
        assert_eq!(v["next_step"], "generate_scim_token");

        let token = portal_core::scim_tokens::generate(&app.t.svc, &org, "a@acme.test")
            .await
            .unwrap()
            .into_exposed();
        let v = overview(&app, &cookie).await;
        assert_eq!(v["scim_active"], true);
        assert_eq!(v["scim_last_request_at"], Value::Null);
        assert_eq!(v["next_step"], "connect_idp");
        let res = sent(
            app.http
                .get(format!("{}/scim/v2/{org}/Users", app.url))
                .bearer_auth(&token),
            "GET",
            "/scim/v2/{org}/Users",
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);
        let v = overview(&app, &cookie).await;
        assert_eq!(v["scim_last_request_at"], now);
        assert_eq!(v["next_step"], "done");
        assert_eq!(v["users_active"], 0);

        // A failure of the last 24 hours, counted per kind and linked into Activity.
        seed(
            &app,
            vec![(
                ev(&org, "user_create_provision", false, "scim:x", "bad"),
                now,
            )],
        )
        .await;
        let v = overview(&app, &cookie).await;
        assert_eq!(
            v["failures"],
            serde_json::json!([{"kind": "scim", "count": 1}])
        );
        assert_eq!(v["next_step"], "review_failures");
        let page = app.get("/admin", Some(&cookie)).await.text().await.unwrap();
        assert!(
            page.contains(
                "href=\"/admin/activity?result=failure&amp;from=2025-12-31&amp;kind=scim\""
            ),
            "a link into Activity filtered to those failures"
        );

        // 10 days before the certificate expires: renew it (before any failure review).
        // (The clock jumps years: the session has ended, sign in again.)
        app.t.clock.set_ms(cfg.certificate.not_after - 10 * DAY);
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let v = overview(&app, &cookie).await;
        assert_eq!(v["certificates"][0]["state"], "expires_soon");
        assert_eq!(v["next_step"], "renew_certificate");
        app.t.clock.set_ms(cfg.certificate.not_after + 1);
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let v = overview(&app, &cookie).await;
        assert_eq!(v["certificates"][0]["state"], "expired");
        let page = app.get("/admin", Some(&cookie)).await.text().await.unwrap();
        assert!(page.contains("class=\"overview-cert expired\""));

        // Signed out: 401.
        let res = app.post_fn("load_overview", &[], None).await;
        assert_eq!(res.status().as_u16(), 401);
    }
);

app_test!(
    signed_out_overview_and_activity_pages_redirect,
    |app: TestApp| async move {
        for path in ["/admin", "/admin/activity?kind=sso&from=2026-01-01"] {
            for accept in ["*/*", "text/html"] {
                let res = sent(
                    app.http
                        .get(format!("{}{path}", app.url))
                        .header("Accept", accept),
                    "GET",
                    path,
                )
                .await;
                assert_eq!(res.status(), 302, "{path} {accept}");
                assert_eq!(res.headers()["location"], "/admin/login", "{path} {accept}");
            }
        }
    }
);
