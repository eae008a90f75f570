//! The admin team over HTTP (issue 12): the Admins screen, invitations from the Owner's form to
//! the invitee signed in, roles applied at the next request, removal ending sessions, Owners
//! only (403 for everyone else), and the accept form without JavaScript.

use portal_core::admins::Role;
use portal_test_support::add_admin;
use serde_json::Value;

use crate::common::*;

/// id, token hash, expiry, accepted, cancelled.
type InvitationRow = (String, String, i64, Option<i64>, Option<i64>);

const NEW_PW: &str = "the invitee's own passphrase";

async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn call(app: &TestApp, name: &str, form: &[(&str, &str)], cookie: &str) -> (u16, Value) {
    json(app.post_fn(name, form, Some(cookie)).await).await
}

async fn html(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, String) {
    let res = app.get(path, cookie).await;
    let status = res.status().as_u16();
    (status, res.text().await.expect("page"))
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
        .timeout(HTTP_TIMEOUT);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    sent(req, "POST", path).await
}

/// The one invitation link mailed to `to` (waits for the `n`th mail).
async fn invitation_token(app: &TestApp, to: &str, n: usize) -> String {
    let mails = app.wait_mails(to, n).await;
    let last = mails.last().expect("a mail");
    assert!(last.contains("/admin/invite?token="), "{last}");
    let tokens = link_tokens(last);
    assert_eq!(tokens.len(), 1, "{last}");
    tokens[0].clone()
}

/// Who is on the team and who is invited, as stored.
async fn team_rows(app: &TestApp, org: &str) -> Vec<String> {
    let mut out: Vec<String> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT id, email, role FROM admins WHERE org_id = $1 ORDER BY id",
    )
    .bind(org)
    .fetch_all(&app.t.svc.db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| format!("{r:?}"))
    .collect();
    let invs: Vec<InvitationRow> = sqlx::query_as(
        "SELECT id, token_hash, expires_at, accepted_at, cancelled_at FROM admin_invitations WHERE org_id = $1 ORDER BY id",
    )
    .bind(org)
    .fetch_all(&app.t.svc.db.pool)
    .await
    .unwrap();
    out.extend(invs.into_iter().map(|r| format!("{r:?}")));
    out
}

fn member<'a>(team: &'a Value, email: &str) -> &'a Value {
    team["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {team}"))
}

app_test!(
    team_invitation_from_the_owner_to_the_invitee_signed_in,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;

        let (status, body) = call(
            &app,
            "invite_admin",
            &[("email", "new@acme.test"), ("role", "viewer")],
            &owner,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, "new@acme.test");
        let (_, team) = call(&app, "load_team", &[], &owner).await;
        assert_eq!(team["can_manage"], true);
        assert_eq!(team["invitations"][0]["email"], "new@acme.test");
        assert_eq!(team["invitations"][0]["role"], "viewer");
        assert_eq!(team["invitations"][0]["invited_by"], "owner@acme.test");
        // The screen lists it and never shows a token.
        let token = invitation_token(&app, "new@acme.test", 1).await;
        let (status, page) = html(&app, "/admin/team", Some(&owner)).await;
        assert_eq!(status, 200);
        assert!(page.contains("new@acme.test") && page.contains("Send invitation"));
        assert!(!page.contains(&token) && !team.to_string().contains(&token));

        // The accept page: the org and the role, no session needed; looking consumes nothing.
        for _ in 0..2 {
            let (status, page) = html(&app, &format!("/admin/invite?token={token}"), None).await;
            assert_eq!(status, 200);
            assert!(page.contains("Acme") && page.contains("Viewer"), "{page}");
            assert!(page.contains("Accept and sign in"));
        }
        // Mismatched passwords: refused on the second field, nothing consumed.
        let (status, body) = json(
            app.post_fn(
                "accept_invitation",
                &[
                    ("token", &token),
                    ("password", NEW_PW),
                    ("password_confirm", "something else entirely"),
                ],
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["field"], "password_confirm");
        let res = app
            .post_fn(
                "accept_invitation",
                &[
                    ("token", &token),
                    ("password", NEW_PW),
                    ("password_confirm", NEW_PW),
                ],
                None,
            )
            .await;
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "{}",
            res.status()
        );
        let invitee = session_cookie(&res).expect("the invitee is signed in");
        let (status, mine) = call(&app, "load_team", &[], &invitee).await;
        assert_eq!(status, 200, "{mine}");
        assert_eq!(mine["my_role"], "viewer");
        assert_eq!(mine["can_manage"], false);
        assert_eq!(member(&mine, "new@acme.test")["is_me"], true);
        let (_, page) = html(&app, "/admin/team", Some(&invitee)).await;
        assert!(page.contains("Your role: Viewer"), "{page}");
        // The Owner sees the new admin, invited by them; the invitation is gone.
        let (_, team) = call(&app, "load_team", &[], &owner).await;
        let m = member(&team, "new@acme.test");
        assert_eq!(m["role"], "viewer");
        assert_eq!(m["invited_by"], "owner@acme.test");
        assert_eq!(m["two_factor"], false);
        assert!(m["last_sign_in_at"].is_i64());
        assert_eq!(team["invitations"].as_array().unwrap().len(), 0);
        let events: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, actor FROM events WHERE org_id = $1 AND name LIKE 'admin_invite%'",
        )
        .bind(&org)
        .fetch_all(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert!(events.contains(&("admin_invite".into(), "owner@acme.test".into())));
        assert!(events.contains(&("admin_invite_accept".into(), "new@acme.test".into())));

        // Single use: the page and the form both say so, and nobody is signed in.
        let (_, page) = html(&app, &format!("/admin/invite?token={token}"), None).await;
        assert!(page.contains(
            "This invitation link is invalid, has expired, was cancelled or was already used."
        ));
        assert!(!page.contains("Accept and sign in"));
        let res = app
            .post_fn(
                "accept_invitation",
                &[
                    ("token", &token),
                    ("password", NEW_PW),
                    ("password_confirm", NEW_PW),
                ],
                None,
            )
            .await;
        assert_eq!(res.status(), 400);
        assert!(session_cookie(&res).is_none());
        // The new admin signs in with the chosen password.
        app.sign_in("new@acme.test", NEW_PW, None).await;
    }
);

app_test!(
    team_resend_cancel_and_bad_input_over_http,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        for (email, role, status) in [
            ("", "admin", 400),
            ("not-an-email", "admin", 400),
            ("x@acme.test", "superuser", 400),
            ("owner@acme.test", "admin", 409),
        ] {
            let (got, body) = call(
                &app,
                "invite_admin",
                &[("email", email), ("role", role)],
                &owner,
            )
            .await;
            assert_eq!(got, status, "{email} {role}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (_, body) = call(
            &app,
            "invite_admin",
            &[("email", "bad"), ("role", "admin")],
            &owner,
        )
        .await;
        assert_eq!(body["field"], "email");
        // A form missing its fields is the client's mistake, never a 500.
        let (got, _) = call(&app, "invite_admin", &[], &owner).await;
        assert_eq!(got, 400);
        assert!(team_rows(&app, &org).await.len() == 1);

        call(
            &app,
            "invite_admin",
            &[("email", "ann@acme.test"), ("role", "admin")],
            &owner,
        )
        .await;
        let first = invitation_token(&app, "ann@acme.test", 1).await;
        let (got, body) = call(
            &app,
            "invite_admin",
            &[("email", "ANN@acme.test"), ("role", "viewer")],
            &owner,
        )
        .await;
        assert_eq!(got, 409, "{body}");
        let (_, team) = call(&app, "load_team", &[], &owner).await;
        let id = team["invitations"][0]["id"].as_str().unwrap().to_string();
        let (got, _) = call(&app, "resend_invitation", &[("id", &id)], &owner).await;
        assert_eq!(got, 200);
        let second = invitation_token(&app, "ann@acme.test", 2).await;
        assert_ne!(first, second);
        let (_, page) = html(&app, &format!("/admin/invite?token={first}"), None).await;
        assert!(page.contains("This invitation link is invalid"));
        let (_, page) = html(&app, &format!("/admin/invite?token={second}"), None).await;
        assert!(page.contains("Accept and sign in"));
        let (got, _) = call(&app, "cancel_invitation", &[("id", &id)], &owner).await;
        assert_eq!(got, 200);
        let (_, page) = html(&app, &format!("/admin/invite?token={second}"), None).await;
        assert!(page.contains("This invitation link is invalid"));
        for name in ["cancel_invitation", "resend_invitation"] {
            let (got, body) = call(&app, name, &[("id", &id)], &owner).await;
            assert_eq!(got, 404, "{name}: {body}");
            assert!(body["message"]
                .as_str()
                .unwrap()
                .contains("no longer pending"));
        }
        // Unknown and hostile ids: not found, never a 500.
        for id in ["", "nope", &"x".repeat(10_000), "' OR '1'='1"] {
            for name in ["cancel_invitation", "resend_invitation", "remove_admin"] {
                let (got, body) = call(&app, name, &[("id", id)], &owner).await;
                assert_eq!(got, 404, "{name} {id}: {body}");
            }
        }
    }
);

app_test!(
    team_non_owners_get_403_and_see_no_controls,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let owner_id: String =
            sqlx::query_scalar("SELECT id FROM admins WHERE email = 'owner@acme.test'")
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        let adm = add_admin(&app.t.svc, &org, "admin@acme.test", Role::Admin).await;
        let viewer = add_admin(&app.t.svc, &org, "viewer@acme.test", Role::Viewer).await;
        call(
            &app,
            "invite_admin",
            &[("email", "inv@acme.test"), ("role", "admin")],
            &owner,
        )
        .await;
        let (_, team) = call(&app, "load_team", &[], &owner).await;
        let inv = team["invitations"][0]["id"].as_str().unwrap().to_string();
        let before = team_rows(&app, &org).await;
        for (email, who) in [("admin@acme.test", &adm), ("viewer@acme.test", &viewer)] {
            let cookie = app.sign_in(email, PW, None).await;
            let (status, team) = call(&app, "load_team", &[], &cookie).await;
            assert_eq!(status, 200);
            assert_eq!(team["can_manage"], false);
            assert_eq!(team["members"].as_array().unwrap().len(), 3);
            let (_, page) = html(&app, "/admin/team", Some(&cookie)).await;
            assert!(page.contains("owner@acme.test") && page.contains("inv@acme.test"));
            for control in [
                "Send invitation",
                "Change role",
                "Remove",
                "Resend",
                "Cancel invitation",
            ] {
                assert!(!page.contains(control), "{email} sees {control}");
            }
            for (name, form) in [
                (
                    "invite_admin",
                    vec![("email", "x@acme.test"), ("role", "owner")],
                ),
                ("resend_invitation", vec![("id", inv.as_str())]),
                ("cancel_invitation", vec![("id", inv.as_str())]),
                (
                    "change_admin_role",
                    vec![("id", who.id.as_str()), ("role", "owner")],
                ),
                (
                    "change_admin_role",
                    vec![("id", owner_id.as_str()), ("role", "viewer")],
                ),
                ("remove_admin", vec![("id", owner_id.as_str())]),
            ] {
                let (status, body) = call(&app, name, &form, &cookie).await;
                assert_eq!(status, 403, "{email} {name}: {body}");
                assert!(body["message"].as_str().unwrap().contains("Ask an Owner"));
            }
        }
        // Signed out: 401 everywhere, the screen sends to the sign-in page.
        for name in ["load_team", "invite_admin", "remove_admin"] {
            let res = app
                .post_fn(
                    name,
                    &[
                        ("id", &owner_id),
                        ("email", "x@acme.test"),
                        ("role", "owner"),
                    ],
                    None,
                )
                .await;
            assert_eq!(res.status(), 401, "{name}");
        }
        assert_eq!(team_rows(&app, &org).await, before);
        assert_eq!(mails_in(&[&app.outbox], "x@acme.test").len(), 0);
    }
);

app_test!(
    team_role_change_applies_at_the_next_request,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let m = add_admin(&app.t.svc, &org, "m@acme.test", Role::Admin).await;
        let member = app.sign_in("m@acme.test", PW, None).await;
        // As an Admin: may manage provisioning, not the team.
        let (status, _) = call(&app, "revoke_scim_token", &[], &member).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &app,
            "invite_admin",
            &[("email", "x@acme.test"), ("role", "viewer")],
            &member,
        )
        .await;
        assert_eq!(status, 403);

        let (status, body) = call(
            &app,
            "change_admin_role",
            &[("id", &m.id), ("role", "viewer")],
            &owner,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // The same session, the next request: a Viewer.
        let (status, _) = call(&app, "revoke_scim_token", &[], &member).await;
        assert_eq!(status, 403);
        let (_, team) = call(&app, "load_team", &[], &member).await;
        assert_eq!(team["my_role"], "viewer");

        let (status, _) = call(
            &app,
            "change_admin_role",
            &[("id", &m.id), ("role", "owner")],
            &owner,
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(
            &app,
            "invite_admin",
            &[("email", "x@acme.test"), ("role", "viewer")],
            &member,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (_, team) = call(&app, "load_team", &[], &member).await;
        assert_eq!(team["can_manage"], true);
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE org_id = $1 AND name = 'admin_role_change' AND actor = 'owner@acme.test'",
        )
        .bind(&org)
        .fetch_one(&app.t.svc.db.pool)
        .await
        .unwrap();
        assert_eq!(events, 2);
    }
);

app_test!(
    team_last_owner_is_kept_and_removal_ends_sessions,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let owner_id: String =
            sqlx::query_scalar("SELECT id FROM admins WHERE email = 'owner@acme.test'")
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        // The only Owner: neither a demotion nor a removal, of themself.
        for (name, form) in [
            (
                "change_admin_role",
                vec![("id", owner_id.as_str()), ("role", "admin")],
            ),
            ("remove_admin", vec![("id", owner_id.as_str())]),
        ] {
            let (status, body) = call(&app, name, &form, &owner).await;
            assert_eq!(status, 409, "{name}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("at least one Owner"),
                "{body}"
            );
        }
        let (status, _) = call(&app, "load_team", &[], &owner).await;
        assert_eq!(status, 200);

        // Removal: both of the admin's sessions end at once.
        let gone = add_admin(&app.t.svc, &org, "gone@acme.test", Role::Owner).await;
        let s1 = app.sign_in("gone@acme.test", PW, None).await;
        let s2 = app.sign_in("gone@acme.test", PW, None).await;
        for s in [&s1, &s2] {
            assert_eq!(call(&app, "load_team", &[], s).await.0, 200);
        }
        let (status, body) = call(&app, "remove_admin", &[("id", &gone.id)], &owner).await;
        assert_eq!(status, 200, "{body}");
        for s in [&s1, &s2] {
            assert_eq!(call(&app, "load_team", &[], s).await.0, 401);
            let res = app.get("/admin/team", Some(s)).await;
            let page = res.text().await.unwrap();
            assert!(!page.contains("gone@acme.test"), "{page}");
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE admin_id = $1")
            .bind(&gone.id)
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(rows, 0);
        let res = app
            .post_fn(
                "admin_login",
                &[("email", "gone@acme.test"), ("password", PW)],
                None,
            )
            .await;
        assert_eq!(res.status(), 401);

        // With a second Owner, an Owner may remove themself, and is signed out.
        let second = add_admin(&app.t.svc, &org, "second@acme.test", Role::Owner).await;
        let res = app
            .post_fn("remove_admin", &[("id", &owner_id)], Some(&owner))
            .await;
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "{}",
            res.status()
        );
        assert_eq!(call(&app, "load_team", &[], &owner).await.0, 401);
        let second_cookie = app.sign_in("second@acme.test", PW, None).await;
        let (_, team) = call(&app, "load_team", &[], &second_cookie).await;
        assert_eq!(team["members"].as_array().unwrap().len(), 1);
        assert_eq!(member(&team, "second@acme.test")["id"], second.id.as_str());
    }
);

app_test!(
    team_accept_form_works_without_javascript,
    |app: TestApp| async move {
        admin(&app, "Acme", "owner@acme.test").await;
        let owner = app.sign_in("owner@acme.test", PW, None).await;
        let res = browser_post(
            &app,
            "/api/invite_admin",
            &[("email", "nojs@acme.test"), ("role", "admin")],
            Some(&owner),
            "/admin/team",
        )
        .await;
        assert_eq!(res.status(), 302);
        assert!(res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/admin/team"));
        let token = invitation_token(&app, "nojs@acme.test", 1).await;
        let page_path = format!("/admin/invite?token={token}");

        // A refusal returns to the page with the error, which marks the field.
        let res = browser_post(
            &app,
            "/api/accept_invitation",
            &[
                ("token", &token),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
            None,
            &page_path,
        )
        .await;
        assert_eq!(res.status(), 302);
        assert!(session_cookie(&res).is_none());
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.contains("__err=") && location.contains(&token),
            "{location}"
        );
        let (status, page) = html(&app, location.trim_start_matches(&app.url), None).await;
        assert_eq!(status, 200);
        assert!(page.contains("field-error"), "{page}");
        assert!(page.contains("aria-invalid=\"true\""));

        let res = browser_post(
            &app,
            "/api/accept_invitation",
            &[
                ("token", &token),
                ("password", NEW_PW),
                ("password_confirm", NEW_PW),
            ],
            None,
            &page_path,
        )
        .await;
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], "/admin/team");
        let cookie = session_cookie(&res).expect("signed in");
        let (status, page) = html(&app, "/admin/team", Some(&cookie)).await;
        assert_eq!(status, 200);
        assert!(page.contains("Your role: Admin"), "{page}");
    }
);
