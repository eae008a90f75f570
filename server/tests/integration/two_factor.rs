//! The second factor over HTTP (issue 12): the pending second step after the password, its
//! expiry, what a pending session can reach (nothing of the admin's), codes and their throttle,
//! the trusted-device cookie, and `orgs.require_2fa` sending an admin to enrolment; on both
//! databases.

use portal_core::admins::{Admin, Role};
use portal_core::two_factor as tf;
use portal_test_support::{add_admin, org_with_admin};

use crate::common::*;

const VERIFY: &str = "/admin/login/verify";
const ENROL: &str = "/admin/account/2fa";

/// Moves the manual clock to the start of a fresh TOTP step.
fn to_step_start(app: &TestApp) {
    let now = app.t.svc.now();
    app.t
        .clock
        .set_ms((tf::step_at(now) + 2) * tf::TOTP_STEP_MS);
}

async fn secret_of(app: &TestApp, admin_id: &str) -> Vec<u8> {
    let (b32,): (String,) = sqlx::query_as("SELECT secret FROM admin_totp WHERE admin_id = $1")
        .bind(admin_id)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
    data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap()
}

fn code(app: &TestApp, secret: &[u8], offset: i64) -> String {
    tf::totp_code(secret, tf::step_at(app.t.svc.now()) + offset)
}

/// An authenticator app confirmed for `admin` in the store; its secret and recovery codes.
async fn enrol(app: &TestApp, admin: &Admin) -> (Vec<u8>, Vec<String>) {
    tf::begin_totp(&app.t.svc, admin).await.unwrap();
    let secret = secret_of(app, &admin.id).await;
    let codes = tf::confirm_totp(&app.t.svc, admin, &code(app, &secret, 0))
        .await
        .unwrap();
    (
        secret,
        codes.into_iter().map(|c| c.into_exposed()).collect(),
    )
}

/// Posts the password; returns the response's session cookie (the pending one).
async fn password_step(app: &TestApp, email: &str, cookie: Option<&str>) -> String {
    let res = app
        .post_fn("admin_login", &[("email", email), ("password", PW)], cookie)
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    session_cookie(&res).expect("the password step sets a session cookie")
}

async fn body(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Whether the cookie's session is a signed-in admin's (the shell's view of it).
async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    let (status, text) = body(app.post_fn("load_admin_view", &[], Some(cookie)).await).await;
    assert_eq!(status, 200, "{text}");
    text.trim() != "null"
}

async fn verify(
    app: &TestApp,
    cookie: &str,
    method: &str,
    code: &str,
) -> (u16, String, Option<String>) {
    let res = app
        .post_fn(
            "verify_second_factor",
            &[("method", method), ("code", code)],
            Some(cookie),
        )
        .await;
    let new_cookie = session_cookie(&res);
    let (status, text) = body(res).await;
    (status, text, new_cookie)
}

async fn events(app: &TestApp, name: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM events WHERE name = $1")
        .bind(name)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap()
        .0
}

app_test!(
    password_then_totp_and_the_pending_session_opens_nothing,
    |app: TestApp| async move {
        to_step_start(&app);
        let (_, admin) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
        let (secret, _) = enrol(&app, &admin).await;

        let res = app
            .post_fn(
                "admin_login",
                &[("email", "a@acme.test"), ("password", PW)],
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        let redirect = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(redirect.as_deref(), Some(VERIFY));
        let pending = session_cookie(&res).expect("a pending session");

        // The pending session is nobody's admin session.
        assert!(!signed_in(&app, &pending).await);
        let page = app.get("/admin", Some(&pending)).await;
        assert_eq!(page.status(), 302);
        assert_eq!(page.headers()["location"], "/admin/login");
        let page = app.get(ENROL, Some(&pending)).await;
        assert_eq!(page.status(), 302);
        for f in [
            "load_provisioning",
            "load_two_factor",
            "begin_totp",
            "regenerate_recovery_codes",
        ] {
            let (status, text) = body(app.post_fn(f, &[], Some(&pending)).await).await;
            assert_eq!(status, 401, "{f}: {text}");
        }
        let (status, text) = body(app.post_fn("admin_signed_in", &[], Some(&pending)).await).await;
        assert_eq!((status, text.trim()), (200, "false"));

        // The verify step shows who is signing in and how.
        let page = app.get(VERIFY, Some(&pending)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("a@acme.test") && html.contains("Code from your authenticator app"));
        let (status, text) =
            body(app.post_fn("load_second_factor", &[], Some(&pending)).await).await;
        assert_eq!(status, 200);
        let o: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(o["totp"], true);
        assert_eq!(o["recovery_codes"], true);
        assert_eq!(o["passkeys"], false);

        // Hostile and wrong input: clear errors, nothing signed in.
        for (method, c) in [
            ("bogus", "123456"),
            ("totp", "12"),
            ("totp", "000000"),
            ("recovery", "nope"),
        ] {
            let (status, text, _) = verify(&app, &pending, method, c).await;
            assert_eq!(status, 400, "{method} {c}: {text}");
            assert!(text.contains("message"), "{text}");
        }
        assert!(!signed_in(&app, &pending).await);
        assert_eq!(events(&app, "admin_sign_in_2fa_failed").await, 3);

        // The right code signs in, under a new session id.
        let (status, text, new) = verify(&app, &pending, "totp", &code(&app, &secret, 1)).await;
        assert_eq!(status, 200, "{text}");
        let session = new.expect("a fresh session cookie");
        assert_ne!(session, pending);
        assert!(signed_in(&app, &session).await);
        assert!(
            !signed_in(&app, &pending).await,
            "the pending session id is dead"
        );
        let page = app.get("/admin", Some(&session)).await;
        assert_eq!(page.status(), 200);
        let (method,): (Option<String>,) =
            sqlx::query_as("SELECT method FROM sessions WHERE admin_id = $1")
                .bind(&admin.id)
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(method.as_deref(), Some("password_totp"));
        // The pending state is gone: the verify step has nothing to verify.
        let (status, _, _) = verify(&app, &session, "totp", &code(&app, &secret, 0)).await;
        assert_eq!(status, 401);

        // The same code cannot sign in again.
        let again = password_step(&app, "a@acme.test", None).await;
        let (status, _, _) = verify(&app, &again, "totp", &code(&app, &secret, 1)).await;
        assert_eq!(status, 400);
        assert!(!signed_in(&app, &again).await);
    }
);

app_test!(
    the_pending_second_step_expires_after_five_minutes,
    |app: TestApp| async move {
        to_step_start(&app);
        let (_, admin) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
        let (secret, _) = enrol(&app, &admin).await;
        let pending = password_step(&app, "a@acme.test", None).await;
        app.t.clock.advance_ms(tf::PENDING_TTL_MS);
        let (status, text, _) = verify(&app, &pending, "totp", &code(&app, &secret, 0)).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("expired"), "{text}");
        assert!(!signed_in(&app, &pending).await);
        let (status, text) =
            body(app.post_fn("load_second_factor", &[], Some(&pending)).await).await;
        assert_eq!((status, text.trim()), (200, "null"));
        let html = app.get(VERIFY, Some(&pending)).await.text().await.unwrap();
        assert!(html.contains("Your sign-in expired"), "the page says so");
        // A fresh password step works.
        let pending = password_step(&app, "a@acme.test", None).await;
        let (status, _, new) = verify(&app, &pending, "totp", &code(&app, &secret, 0)).await;
        assert_eq!(status, 200);
        assert!(signed_in(&app, &new.unwrap()).await);
    }
);

app_test!(a_recovery_code_signs_in_once, |app: TestApp| async move {
    to_step_start(&app);
    let (_, admin) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
    let (_, codes) = enrol(&app, &admin).await;
    let pending = password_step(&app, "a@acme.test", None).await;
    let (status, text, new) = verify(&app, &pending, "recovery", &codes[3]).await;
    assert_eq!(status, 200, "{text}");
    let session = new.unwrap();
    assert!(signed_in(&app, &session).await);
    let (method,): (Option<String>,) =
        sqlx::query_as("SELECT method FROM sessions WHERE admin_id = $1")
            .bind(&admin.id)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
    assert_eq!(method.as_deref(), Some("password_recovery_code"));
    let pending = password_step(&app, "a@acme.test", None).await;
    let (status, _, _) = verify(&app, &pending, "recovery", &codes[3]).await;
    assert_eq!(status, 400);
    assert!(!signed_in(&app, &pending).await);
    assert_eq!(events(&app, "admin_2fa_recovery_used").await, 1);
    // The screen counts what is left.
    let (status, text) = body(app.post_fn("load_two_factor", &[], Some(&session)).await).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["recovery_codes_left"], 9);
    assert_eq!(v["totp_enabled"], true);
});

app_test!(
    wrong_codes_are_throttled_per_admin_with_429,
    |app: TestApp| async move {
        to_step_start(&app);
        let (_, admin) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
        let (secret, _) = enrol(&app, &admin).await;
        let pending = password_step(&app, "a@acme.test", None).await;
        for _ in 0..tf::MAX_FAILURES {
            let (status, _, _) = verify(&app, &pending, "totp", "000000").await;
            assert_eq!(status, 400);
        }
        let res = app
            .post_fn(
                "verify_second_factor",
                &[("method", "totp"), ("code", &code(&app, &secret, 1))],
                Some(&pending),
            )
            .await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
        // A new password step does not buy new guesses: the budget is the admin's.
        let pending = password_step(&app, "a@acme.test", None).await;
        let (status, _, _) = verify(&app, &pending, "totp", &code(&app, &secret, 1)).await;
        assert_eq!(status, 429);
        assert!(!signed_in(&app, &pending).await);
    }
);

app_test!(
    a_trusted_device_does_not_skip_the_second_factor,
    |app: TestApp| async move {
        to_step_start(&app);
        let (_, admin) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
        // Without a factor, the password signs in and the browser becomes a trusted device.
        let res = app
            .post_fn(
                "admin_login",
                &[("email", "a@acme.test"), ("password", PW)],
                None,
            )
            .await;
        let device = res
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("portal_device="))
            .map(|v| v.split(';').next().unwrap().to_string())
            .expect("a device cookie");
        let session = session_cookie(&res).unwrap();
        assert!(signed_in(&app, &session).await);
        let (secret, _) = enrol(&app, &admin).await;
        // Signing in again from that device (and over the signed-in session) still asks.
        let pending =
            password_step(&app, "a@acme.test", Some(&format!("{device}; {session}"))).await;
        assert!(!signed_in(&app, &pending).await);
        let (status, _, new) = verify(&app, &pending, "totp", &code(&app, &secret, 1)).await;
        assert_eq!(status, 200);
        assert!(signed_in(&app, &new.unwrap()).await);
    }
);

app_test!(
    an_org_requiring_2fa_sends_an_admin_without_one_to_enrolment,
    |app: TestApp| async move {
        to_step_start(&app);
        let (org, _) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
        let viewer = add_admin(&app.t.svc, &org.id, "v@acme.test", Role::Viewer).await;
        sqlx::query("UPDATE orgs SET require_2fa = 1 WHERE id = $1")
            .bind(&org.id)
            .execute(&app.t.svc.db.pool)
            .await
            .unwrap();
        // No factor: the password signs in, but only enrolment is served.
        let cookie = app.sign_in("v@acme.test", PW, None).await;
        for path in [
            "/admin",
            "/admin/users",
            "/admin/provisioning",
            "/admin/activity",
        ] {
            let page = app.get(path, Some(&cookie)).await;
            assert_eq!(page.status(), 302, "{path}");
            assert_eq!(page.headers()["location"], ENROL, "{path}");
        }
        let page = app.get(ENROL, Some(&cookie)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Your organisation requires two-factor authentication"));
        for f in ["load_provisioning", "load_sso"] {
            let (status, text) = body(app.post_fn(f, &[], Some(&cookie)).await).await;
            assert_eq!(status, 403, "{f}: {text}");
            assert!(
                text.contains("requires two-factor authentication"),
                "{f}: {text}"
            );
        }
        let csv = app.get("/admin/users.csv", Some(&cookie)).await;
        assert_eq!(csv.status(), 403);
        let token = sent(
            app.http
                .post(format!("{}/api/provisioning/token", app.url))
                .header("Origin", &app.url)
                .header("Sec-Fetch-Site", "same-origin")
                .header("Accept", "text/html")
                .header("Cookie", &cookie)
                .form(&[("replaces", "")]),
            "POST",
            "/api/provisioning/token",
        )
        .await;
        assert_eq!(token.status(), 303);
        assert_eq!(token.headers()["location"], ENROL);
        let (status, text) = body(app.post_fn("admin_signed_in", &[], Some(&cookie)).await).await;
        assert_eq!((status, text.trim()), (200, "true"));
        let (_, text) = body(app.post_fn("load_admin_view", &[], Some(&cookie)).await).await;
        assert!(text.contains("\"second_factor_required\":true"), "{text}");

        // Enrolment through the screen's server functions, as a Viewer.
        let (status, text) = body(
            app.post_fn("confirm_totp", &[("code", "123456")], Some(&cookie))
                .await,
        )
        .await;
        assert_eq!(status, 409, "nothing to confirm yet: {text}");
        let (status, _) = body(app.post_fn("begin_totp", &[], Some(&cookie)).await).await;
        assert_eq!(status, 200);
        let (_, text) = body(app.post_fn("load_two_factor", &[], Some(&cookie)).await).await;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v["totp_setup"]["qr_data_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,"));
        let key: String = v["totp_setup"]["manual_key"]
            .as_str()
            .unwrap()
            .split(' ')
            .collect();
        let secret = data_encoding::BASE32_NOPAD.decode(key.as_bytes()).unwrap();
        let (status, text) = body(
            app.post_fn("confirm_totp", &[("code", "000000")], Some(&cookie))
                .await,
        )
        .await;
        assert_eq!(status, 400, "{text}");
        let (status, text) = body(
            app.post_fn(
                "confirm_totp",
                &[("code", &code(&app, &secret, 0))],
                Some(&cookie),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{text}");
        let codes: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(codes["codes"].as_array().unwrap().len(), 10);
        // Now everything the role allows is served again.
        let page = app.get("/admin", Some(&cookie)).await;
        assert_eq!(page.status(), 200);
        let (status, _) = body(app.post_fn("load_provisioning", &[], Some(&cookie)).await).await;
        assert_eq!(status, 200);
        // And the last factor cannot be turned off while the org requires one.
        let (status, text) = body(
            app.post_fn("disable_totp", &[("proof", PW)], Some(&cookie))
                .await,
        )
        .await;
        assert_eq!(status, 409, "{text}");
        assert!(tf::has_factor(&app.t.svc.db, &viewer.id).await.unwrap());
    }
);

app_test!(
    the_second_step_works_without_javascript,
    |app: TestApp| async move {
        to_step_start(&app);
        let (_, admin) = org_with_admin(&app.t.svc, "Acme", "a@acme.test").await;
        let (secret, _) = enrol(&app, &admin).await;
        let pending = password_step(&app, "a@acme.test", None).await;
        let post = |code: String| {
            let req = app
                .http
                .post(format!("{}/api/verify_second_factor", app.url))
                .header("Origin", &app.url)
                .header("Sec-Fetch-Site", "same-origin")
                .header("Accept", "text/html")
                .header("Referer", format!("{}{VERIFY}", app.url))
                .header("Cookie", &pending)
                .form(&[("method", "totp".to_string()), ("code", code)]);
            sent(req, "POST", "/api/verify_second_factor")
        };
        // A wrong code goes back to the form, carrying the error; nobody is signed in.
        let res = post("000000".into()).await;
        assert!(res.status().is_redirection(), "{}", res.status());
        let back = res.headers()["location"].to_str().unwrap().to_string();
        assert!(back.contains(VERIFY) && back.contains("__err"), "{back}");
        assert!(!signed_in(&app, &pending).await);
        // The right one signs in and goes to the admin overview.
        let res = post(code(&app, &secret, 1)).await;
        assert!(res.status().is_redirection(), "{}", res.status());
        assert_eq!(res.headers()["location"], "/admin");
        let session = session_cookie(&res).expect("a fresh session");
        assert!(signed_in(&app, &session).await);
    }
);
