//! Request ids, the request log line and `/metrics`: scraped after a few requests, on its private
//! listener only. And the listen address the README promises when the binary runs directly.

use std::collections::HashMap;

use crate::common::*;

/// Every sample of a Prometheus text exposition, `name{labels}` → value, after checking the
/// format: each sample's metric has a `# TYPE` line before it, each line is a comment or
/// `name[{labels}] value`.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let mut typed: Vec<String> = Vec::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap().to_string();
            let kind = it.next().unwrap();
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type of {name}: {kind}"
            );
            typed.push(name);
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.is_empty() && !line.starts_with('#'), "line {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name in {line:?}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(
                    labels.starts_with('{') && labels.ends_with('}'),
                    "labels in {line:?}"
                );
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                    assert!(!v.trim_end_matches('"').contains('"'), "{line:?}");
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|base| typed.iter().any(|t| t == base))
            .unwrap_or(name);
        assert!(
            typed.iter().any(|t| t == family),
            "{name} has no # TYPE line before its samples"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

app_test!(
    metrics_count_requests_scim_and_saml_on_the_private_listener_only,
    |app: TestApp| async move {
        for _ in 0..2 {
            let res = app.get("/healthz", None).await;
            assert_eq!(res.status(), 200);
            let id = res.headers()["x-request-id"].to_str().unwrap();
            assert!(!id.is_empty());
        }
        assert_eq!(app.get("/admin/users.csv", None).await.status(), 401);
        let scim = Scim::new(&app, "Acme").await;
        let (status, created) = scim.post("/Users", user_body("eve@acme.test")).await;
        assert_eq!(status, 201, "{created}");
        // The same token again: its check is answered from memory.
        let (status, _) = scim
            .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
            .await;
        assert_eq!(status, 200);
        let stranger = Scim {
            app: &app,
            org: scim.org.clone(),
            token: "not-the-token".into(),
        };
        let (status, _) = stranger
            .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
            .await;
        assert_eq!(status, 401);

        // A refused ACS post: the error page names the request id the response header carries.
        // No proxy of ours is configured, so an id the client chose is replaced.
        let res = app
            .http
            .post(format!("{}/saml/{}/acs", app.url, scim.org))
            .header("x-request-id", "edge-1234.abc")
            .form(&[("SAMLResponse", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, "edge-1234.abc");
        let page = res.text().await.unwrap();
        assert!(
            page.contains(&format!(
                "Request ID: <code data-testid=\"request-id\">{id}</code>"
            )),
            "{page}"
        );
        // Behind a proxy of ours, its well-formed id is kept.
        let proxied = spawn_behind_proxies(app.t.svc.db.backend, 1).await;
        let res = proxied
            .http
            .get(format!("{}/healthz", proxied.url))
            .header("x-request-id", "edge-1234.abc")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-request-id"], "edge-1234.abc");
        // One that is not (it would land in logs and pages) is replaced.
        let res = app
            .http
            .get(format!("{}/healthz", app.url))
            .header("x-request-id", "<b>hi</b>")
            .send()
            .await
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap();
        assert!(id.len() >= 32 && !id.contains('<'), "{id}");

        // Not on the public listener.
        let res = app.get("/metrics", None).await;
        assert_eq!(res.status(), 404);
        assert!(!res
            .text()
            .await
            .unwrap()
            .contains("portal_http_requests_total"));

        let res = app
            .http
            .get(format!("{}/metrics", app.metrics_url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let m = parse_exposition(&res.text().await.unwrap());
        let get = |series: &str| {
            *m.get(series)
                .unwrap_or_else(|| panic!("{series} missing from {m:#?}"))
        };
        assert_eq!(
            get(r#"portal_http_requests_total{method="GET",route="/healthz",status="200"}"#),
            3.0
        );
        assert_eq!(
            get(
                r#"portal_http_requests_total{method="GET",route="/admin/users.csv",status="401"}"#
            ),
            1.0
        );
        assert_eq!(
            get(
                r#"portal_http_requests_total{method="POST",route="/scim/v2/{org_id}/Users",status="201"}"#
            ),
            1.0
        );
        assert_eq!(
            get(r#"portal_http_requests_total{method="GET",route="unmatched",status="404"}"#),
            1.0
        );
        assert_eq!(
            get(r#"portal_http_request_duration_seconds_count{method="GET",route="/healthz"}"#),
            3.0
        );
        assert_eq!(
            get(
                r#"portal_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"}"#
            ),
            3.0
        );
        assert_eq!(
            get(r#"portal_scim_operations_total{operation="create",result="success"}"#),
            1.0
        );
        assert_eq!(
            get(r#"portal_scim_operations_total{operation="get",result="client_error"}"#),
            1.0
        );
        assert_eq!(get("portal_scim_token_checks_from_memory_total"), 1.0);
        // Process-wide (other tests in this binary log requests too): present, and a count.
        let unlogged = get("portal_scim_request_log_unlogged_total");
        assert!(unlogged >= 0.0 && unlogged.fract() == 0.0, "{unlogged}");
        assert_eq!(get(r#"portal_saml_acs_total{outcome="refused"}"#), 1.0);
        assert_eq!(get(r#"portal_saml_acs_total{outcome="signed_in"}"#), 0.0);
        assert_eq!(get("portal_db_pool_max_connections"), 8.0);
        assert!(get("portal_db_pool_connections") >= 1.0);
        assert!(get("portal_db_pool_idle_connections") <= get("portal_db_pool_connections"));
        assert_eq!(
            get("portal_argon2_pool_size"),
            app.t.svc.argon2.size() as f64
        );
        assert_eq!(get("portal_argon2_running"), 0.0);
        assert_eq!(get("portal_argon2_waiting"), 0.0);
        assert_eq!(get("portal_argon2_verifications_total"), 0.0);
    }
);

/// The binary on its own (no cargo-leptos, no `LISTEN_ADDR`) listens on `LEPTOS_SITE_ADDR`, as
/// the README's configuration table says; `METRICS_ADDR` opens the metrics listener; each request
/// is one log line with its route template, status and request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_listens_on_leptos_site_addr_and_serves_metrics_on_metrics_addr() {
    deadline(async {
        let dir = portal_test_support::temp_dir("site-addr");
        let (port, metrics_port) = (free_port(), free_port());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("serve")
            .env_remove("LISTEN_ADDR")
            .env_remove("LEPTOS_OUTPUT_NAME")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/portal.db", dir.0.display()),
            )
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("MAIL_URL", format!("file://{}/outbox", dir.0.display()))
            .env("RUST_LOG", "warn,portal_server::http::observe=info")
            .env("LOG_FORMAT", "text")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the server binary");
        struct Kill(Option<std::process::Child>);
        impl Drop for Kill {
            fn drop(&mut self) {
                if let Some(c) = self.0.as_mut() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
        let mut child = Kill(Some(child));
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .unwrap();
        let mut up = false;
        for _ in 0..200 {
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
            {
                assert_eq!(r.status(), 200);
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(up, "nothing answered on LEPTOS_SITE_ADDR 127.0.0.1:{port}");
        let res = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        // Sign-in links carry their token in the query: the log line names the route only.
        http.get(format!(
            "http://127.0.0.1:{port}/login/link?token=SECRETtoken0123456789"
        ))
        .send()
        .await
        .unwrap();
        let text = http
            .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let m = parse_exposition(&text);
        assert_eq!(
            m[r#"portal_http_requests_total{method="GET",route="/healthz",status="200"}"#],
            1.0
        );

        let mut c = child.0.take().unwrap();
        let _ = c.kill();
        let out = c.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        let line = log
            .lines()
            .find(|l| l.contains("route=/healthz"))
            .unwrap_or_else(|| panic!("no request line for /healthz in:\n{log}"));
        assert!(line.contains("method=GET"), "{line}");
        assert!(line.contains("status=200"), "{line}");
        assert!(line.contains("request_id="), "{line}");
        assert!(line.contains("duration_ms="), "{line}");
        assert_eq!(
            log.lines().filter(|l| l.contains("route=/healthz")).count(),
            1,
            "one line per request:\n{log}"
        );
        assert!(log.contains("route=/login/link"), "{log}");
        assert!(
            !log.contains("SECRETtoken"),
            "a token reached the log:\n{log}"
        );
    })
    .await;
}
