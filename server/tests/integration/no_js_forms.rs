//! Forms posted by the browser itself (before hydration, or with JavaScript off) still deliver
//! their result: the SCIM token page (`/api/provisioning/token`), Revoke, Add user and the
//! magic-link request. And the token route is as closed as the server functions: cross-site and
//! anonymous posts generate nothing.

use crate::common::*;

const TOKEN_FORM: &str = "/api/provisioning/token";
/// Every request here has a deadline (the shared helpers have none).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .get(format!("{}{path}", app.url))
        .header("Accept", "text/html")
        .timeout(TIMEOUT);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    req.send().await.unwrap()
}

/// Signs in through the server function (as the hydrated page does); returns the cookie.
async fn sign_in(app: &TestApp, email: &str) -> String {
    let res = app
        .http
        .post(format!("{}/api/admin_login", app.url))
        .header("Origin", &app.url)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "application/json")
        .form(&[("email", email), ("password", PW)])
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    session_cookie(&res).expect("sign-in sets a session cookie")
}

/// A form posted by a same-origin browser without JavaScript (`Accept: text/html`).
async fn browser_post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
    referer: &str,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}{path}", app.url))
        .header("Origin", &app.url)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "text/html,application/xhtml+xml")
        .header("Referer", format!("{}{referer}", app.url))
        .form(form)
        .timeout(TIMEOUT);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    req.send().await.unwrap()
}

/// The value of the `<input id="{id}" …>` on a server-rendered page.
fn input_value(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let tag = &html[start..start + html[start..].find('>')?];
    let v = &tag[tag.find("value=\"")? + 7..];
    Some(v[..v.find('"')?].to_string())
}

async fn active_token_id(app: &TestApp, org: &str) -> String {
    portal_core::scim_tokens::status(&app.t.svc, org)
        .await
        .unwrap()
        .map(|t| t.id)
        .unwrap_or_default()
}

async fn scim_status(app: &TestApp, org: &str, token: &str) -> u16 {
    app.http
        .get(format!("{}/scim/v2/{org}/Users", app.url))
        .bearer_auth(token)
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn token_rows(app: &TestApp, org: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1")
        .bind(org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
    n
}

/// Every stored text the token could have leaked into.
async fn stored_texts(app: &TestApp) -> Vec<String> {
    let mut all = Vec::new();
    for sql in [
        "SELECT data FROM sessions",
        "SELECT token_hash FROM scim_tokens",
        "SELECT message FROM events",
        "SELECT actor FROM events",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .fetch_all(&app.t.svc.db.pool)
            .await
            .unwrap();
        all.extend(rows.into_iter().map(|(s,)| s));
    }
    all
}

app_test!(
    token_form_shows_the_token_once_and_keeps_it_nowhere,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = sign_in(&app, "a@acme.test").await;

        let res = browser_post(
            &app,
            TOKEN_FORM,
            &[("replaces", "")],
            Some(&cookie),
            "/admin/provisioning",
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(res.headers().get("location").is_none());
        assert!(res.headers().get("set-cookie").is_none());
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{csp}"
        );
        let html = res.text().await.unwrap();
        let first = input_value(&html, "new-scim-token").expect("the token field");
        assert_eq!(first.len(), 43, "{first}");
        assert!(html.contains("shown only once"));
        assert!(html.contains("href=\"/admin/provisioning\""));
        assert_eq!(
            input_value(&html, "scim-base-url").as_deref(),
            Some(format!("{}/scim/v2/{org}", app.url).as_str())
        );
        assert_eq!(scim_status(&app, &org, &first).await, 200);

        // Only the hash is stored; not the session, not the events.
        let stored = stored_texts(&app).await;
        assert!(!stored.is_empty());
        assert!(stored.iter().all(|s| !s.contains(&first)));
        assert!(stored
            .iter()
            .any(|s| s == &portal_core::secret::sha256_hex(&first)));

        // The provisioning screen shows the status, never the token.
        let screen = get(&app, "/admin/provisioning", Some(&cookie)).await;
        assert_eq!(screen.status(), 200);
        assert!(!screen.text().await.unwrap().contains(&first));

        // The same form again (a reload of the token page) changes nothing.
        let again = browser_post(
            &app,
            TOKEN_FORM,
            &[("replaces", "")],
            Some(&cookie),
            "/admin/provisioning",
        )
        .await;
        assert_eq!(again.status(), 409);
        assert_eq!(again.headers()["cache-control"], "no-store");
        assert!(input_value(&again.text().await.unwrap(), "new-scim-token").is_none());
        assert_eq!(token_rows(&app, &org).await, 1);
        assert_eq!(scim_status(&app, &org, &first).await, 200);

        // A form naming the current token replaces it; the first one stops working.
        let current = active_token_id(&app, &org).await;
        let res = browser_post(
            &app,
            TOKEN_FORM,
            &[("replaces", &current)],
            Some(&cookie),
            "/admin/provisioning",
        )
        .await;
        assert_eq!(res.status(), 200);
        let second = input_value(&res.text().await.unwrap(), "new-scim-token").unwrap();
        assert_ne!(first, second);
        assert_eq!(scim_status(&app, &org, &first).await, 401);
        assert_eq!(scim_status(&app, &org, &second).await, 200);

        // A GET has nothing to show.
        let get = get(&app, TOKEN_FORM, Some(&cookie)).await;
        assert_eq!(get.status(), 303);
        assert_eq!(get.headers()["location"], "/admin/provisioning");
    }
);

app_test!(
    token_form_refuses_cross_site_and_anonymous_posts,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = sign_in(&app, "a@acme.test").await;
        let post = |site: Option<&str>, origin: Option<&str>, cookie: Option<&str>| {
            let mut req = app
                .http
                .post(format!("{}{TOKEN_FORM}", app.url))
                .header("Accept", "text/html")
                .form(&[("replaces", "")])
                .timeout(TIMEOUT);
            if let Some(s) = site {
                req = req.header("Sec-Fetch-Site", s);
            }
            if let Some(o) = origin {
                req = req.header("Origin", o);
            }
            if let Some(c) = cookie {
                req = req.header("Cookie", c);
            }
            req.send()
        };

        // Cross-site (or another origin of the same site), with the admin's cookie: refused
        // before the handler runs.
        for (site, origin) in [
            (Some("cross-site"), Some("https://evil.example")),
            (Some("same-site"), Some("http://sub.example.test")),
            (None, Some("https://evil.example")),
        ] {
            let res = post(site, origin, Some(&cookie)).await.unwrap();
            assert_eq!(res.status(), 403, "{site:?} {origin:?}");
            assert!(!res.text().await.unwrap().contains("new-scim-token"));
        }
        assert_eq!(token_rows(&app, &org).await, 0);

        // No session, or a forged one: sent to sign-in, nothing generated.
        for c in [None, Some("portal_session=forged-value")] {
            let res = post(Some("same-origin"), Some(&app.url), c).await.unwrap();
            assert_eq!(res.status(), 303);
            assert_eq!(res.headers()["location"], "/admin/login");
            assert_eq!(res.headers()["cache-control"], "no-store");
        }
        assert_eq!(token_rows(&app, &org).await, 0);
    }
);

app_test!(
    token_form_acts_on_the_session_org_only,
    |app: TestApp| async move {
        let a = admin(&app, "Acme", "a@acme.test").await;
        let b = admin(&app, "Bolt", "b@bolt.test").await;
        let a_token = portal_core::scim_tokens::generate(&app.t.svc, &a, "test")
            .await
            .unwrap()
            .into_exposed();
        let a_id = active_token_id(&app, &a).await;
        let cookie = sign_in(&app, "b@bolt.test").await;
        // Org A's token id and org id in the form do not make B's admin act on org A.
        let res = browser_post(
            &app,
            TOKEN_FORM,
            &[("replaces", &a_id), ("org_id", &a)],
            Some(&cookie),
            "/admin/provisioning",
        )
        .await;
        assert_eq!(res.status(), 409);
        let res = browser_post(
            &app,
            TOKEN_FORM,
            &[("replaces", ""), ("org_id", &a)],
            Some(&cookie),
            "/admin/provisioning",
        )
        .await;
        assert_eq!(res.status(), 200);
        let b_token = input_value(&res.text().await.unwrap(), "new-scim-token").unwrap();
        assert_eq!(scim_status(&app, &a, &a_token).await, 200);
        assert_eq!(scim_status(&app, &b, &b_token).await, 200);
        assert_eq!(scim_status(&app, &a, &b_token).await, 401);
        assert_eq!(active_token_id(&app, &a).await, a_id);
    }
);

app_test!(
    revoke_posted_without_javascript_returns_to_the_revoked_screen,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let token = portal_core::scim_tokens::generate(&app.t.svc, &org, "test")
            .await
            .unwrap()
            .into_exposed();
        let cookie = sign_in(&app, "a@acme.test").await;
        let res = browser_post(
            &app,
            "/api/revoke_scim_token",
            &[],
            Some(&cookie),
            "/admin/provisioning",
        )
        .await;
        assert_eq!(res.status(), 302);
        // Back to the Referer (leptos leaves an empty `?` where it strips old error info).
        assert_eq!(
            res.headers()["location"]
                .to_str()
                .unwrap()
                .trim_end_matches('?'),
            format!("{}/admin/provisioning", app.url)
        );
        assert_eq!(scim_status(&app, &org, &token).await, 401);
        let screen = get(&app, "/admin/provisioning", Some(&cookie)).await;
        assert!(screen.text().await.unwrap().contains("No token"));
    }
);

app_test!(
    add_user_posted_without_javascript_lands_on_the_new_user,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let cookie = sign_in(&app, "a@acme.test").await;
        let res = browser_post(
            &app,
            "/api/admin_add_user",
            &[
                ("email", "gavin@acme.test"),
                ("given_name", "Gavin"),
                ("family_name", "Belson"),
                ("department", ""),
                ("country", ""),
                ("locality", ""),
            ],
            Some(&cookie),
            "/admin/users",
        )
        .await;
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/admin/users/"), "{location}");
        let page = get(&app, &location, Some(&cookie)).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("gavin@acme.test"));

        // A refused add still returns to the form with the error (leptos puts it in the URL).
        let res = browser_post(
            &app,
            "/api/admin_add_user",
            &[
                ("email", "GAVIN@acme.test"),
                ("given_name", ""),
                ("family_name", ""),
                ("department", ""),
                ("country", ""),
                ("locality", ""),
            ],
            Some(&cookie),
            "/admin/users",
        )
        .await;
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with(&format!("{}/admin/users?", app.url))
                && location.contains("__err="),
            "{location}"
        );

        // A refusal about one field: the page it returns to marks that field and links the
        // message to it, with the summary at the top of the form.
        let res = browser_post(
            &app,
            "/api/admin_add_user",
            &[
                ("email", "gavin@localhost"),
                ("given_name", ""),
                ("family_name", ""),
                ("department", ""),
                ("country", ""),
                ("locality", ""),
            ],
            Some(&cookie),
            "/admin/users",
        )
        .await;
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let err = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find_map(|(k, v)| (k == "__err").then(|| v.into_owned()))
            .expect("the error in the URL");
        let err = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE, err).unwrap();
        let err: serde_json::Value = serde_json::from_slice(&err).unwrap();
        assert_eq!(err["field"], "email", "{err}");
        let page = get(&app, location.trim_start_matches(&app.url), Some(&cookie)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let input = element(&html, "add-email").expect("the email input");
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(
            input.contains("aria-describedby=\"add-email-error\""),
            "{input}"
        );
        let message = element(&html, "add-email-error").expect("the message");
        assert!(message.contains("field-error"), "{message}");
        assert!(html.contains("Enter a valid email address"));
        let summary = html.find("role=\"alert\"").expect("the summary");
        assert!(summary < html.find("id=\"add-email\"").unwrap());
        // Other fields are not marked.
        assert!(!element(&html, "add-given")
            .unwrap()
            .contains("aria-invalid"));
    }
);

/// The opening tag of the element with `id` on a server-rendered page.
fn element(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(html[start..=end].to_string())
}

app_test!(
    magic_link_request_without_javascript_shows_the_answer,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let res = browser_post(
            &app,
            "/api/request_magic_link",
            &[("email", "nobody@acme.test")],
            None,
            &format!("/login?org={org}"),
        )
        .await;
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("/login?org={org}&sent=1"));
        let page = get(&app, &location, None).await;
        assert_eq!(page.status(), 200);
        assert!(page
            .text()
            .await
            .unwrap()
            .contains(portal_core::magic_links::GENERIC_ANSWER));

        // Without a valid org in the Referer, the plain answer page.
        let res = browser_post(
            &app,
            "/api/request_magic_link",
            &[("email", "nobody@acme.test")],
            None,
            "/login?org=%22%3E%3Cscript%3E",
        )
        .await;
        assert_eq!(res.headers()["location"], "/login?sent=1");
    }
);
