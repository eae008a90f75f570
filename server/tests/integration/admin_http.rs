//! Admin sign-in, sessions and the HTTP security surface, against the real router on both databases.

use crate::common::*;

app_test!(
    healthz_answers_when_the_database_does,
    |app: TestApp| async move {
        let res = app.get("/healthz", None).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        app.t.svc.db.close().await;
        let res = app.get("/healthz", None).await;
        assert_eq!(res.status(), 503);
    }
);

app_test!(
    sign_in_then_sign_out_kills_the_session_server_side,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;

        let page = app.get("/admin", Some(&cookie)).await;
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("'nonce-") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let body = page.text().await.unwrap();
        assert!(body.contains("a@acme.test"), "admin page shows the admin");

        let out = app.post_fn("admin_logout", &[], Some(&cookie)).await;
        assert!(out.status().is_success() || out.status().is_redirection());
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "sign-out deletes the session row");

        // The old cookie opens nothing.
        let page = app.get("/admin", Some(&cookie)).await;
        assert_eq!(page.status(), 302);
        assert_eq!(page.headers()["location"], "/admin/login");
    }
);

app_test!(
    admin_pages_without_a_session_redirect_to_sign_in,
    |app: TestApp| async move {
        let page = app.get("/admin", None).await;
        assert_eq!(page.status(), 302);
        assert_eq!(page.headers()["location"], "/admin/login");
        let page = app.get("/admin", Some("portal_session=forged-value")).await;
        assert_eq!(page.status(), 302);
    }
);

app_test!(session_id_is_cycled_at_sign_in, |app: TestApp| async move {
    admin(&app, "Acme", "a@acme.test").await;
    let first = app.sign_in("a@acme.test", PW, None).await;
    let second = app.sign_in("a@acme.test", PW, Some(&first)).await;
    assert_ne!(first, second);
    // The pre-sign-in id is dead.
    let page = app.get("/admin", Some(&first)).await;
    assert_eq!(page.status(), 302);
    let page = app.get("/admin", Some(&second)).await;
    assert_eq!(page.status(), 200);
});

app_test!(
    session_cookie_is_httponly_and_lax,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let res = app
            .post_fn(
                "admin_login",
                &[("email", "a@acme.test"), ("password", PW)],
                None,
            )
            .await;
        let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        assert!(
            !set_cookie.contains("Secure"),
            "plain http in tests: {set_cookie}"
        );
    }
);

app_test!(
    wrong_password_and_unknown_email_look_the_same,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let a = app
            .post_fn(
                "admin_login",
                &[("email", "a@acme.test"), ("password", "wrong password")],
                None,
            )
            .await;
        let b = app
            .post_fn(
                "admin_login",
                &[("email", "zz@acme.test"), ("password", "wrong password")],
                None,
            )
            .await;
        assert_eq!(a.status(), 401);
        assert_eq!(b.status(), 401);
        assert!(session_cookie(&a).is_none() && session_cookie(&b).is_none());
        assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());
    }
);

app_test!(
    bad_sign_in_input_is_a_clear_4xx,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let long = "x".repeat(10_000);
        for (email, pw) in [
            ("", ""),
            (long.as_str(), PW),
            ("a@acme.test", long.as_str()),
            ("\u{0}", "\u{0}"),
        ] {
            let res = app
                .post_fn("admin_login", &[("email", email), ("password", pw)], None)
                .await;
            assert!(
                res.status().is_client_error(),
                "{} for {:?}",
                res.status(),
                &email[..email.len().min(10)]
            );
        }
        // Missing fields entirely.
        let res = app.post_fn("admin_login", &[], None).await;
        assert!(res.status().is_client_error(), "{}", res.status());
    }
);

app_test!(
    cross_site_posts_to_server_functions_are_refused,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let form = [("email", "a@acme.test"), ("password", PW)];
        let cross = app
            .http
            .post(format!("{}/api/admin_login", app.url))
            .header("Sec-Fetch-Site", "cross-site")
            .header("Origin", "https://evil.example")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403);
        assert!(session_cookie(&cross).is_none());
        // An older browser without Sec-Fetch-Site but with a foreign Origin.
        let foreign = app
            .http
            .post(format!("{}/api/admin_login", app.url))
            .header("Origin", "https://evil.example")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), 403);
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        // The same request from our own origin works.
        app.sign_in("a@acme.test", PW, None).await;
    }
);

app_test!(setup_page_and_token_over_http, |app: TestApp| async move {
    let token = portal_core::setup::issue_token_if_empty(&app.t.svc)
        .await
        .unwrap()
        .unwrap();
    let form = |t: &str| {
        vec![
            ("token", t.to_string()),
            ("org_name", "Acme".to_string()),
            ("email", "a@acme.test".to_string()),
            ("password", PW.to_string()),
            ("password_confirm", PW.to_string()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| {
        v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let wrong = app
        .http
        .post(format!("{}/api/complete_setup", app.url))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "application/json")
        .form(&as_refs(&form("nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let ok = app
        .http
        .post(format!("{}/api/complete_setup", app.url))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "application/json")
        .form(&as_refs(&form(token.expose())))
        .send()
        .await
        .unwrap();
    assert!(
        ok.status().is_success() || ok.status().is_redirection(),
        "{}",
        ok.status()
    );
    let cookie = session_cookie(&ok).expect("setup signs the admin in");
    assert_eq!(app.get("/admin", Some(&cookie)).await.status(), 200);
    let again = app
        .http
        .post(format!("{}/api/complete_setup", app.url))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", "application/json")
        .form(&as_refs(&form(token.expose())))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orgs")
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
});
