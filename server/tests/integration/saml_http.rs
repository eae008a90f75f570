//! SAML through the real router, on both databases: SP- and IdP-initiated sign-in, JIT,
//! InResponseTo bound to the browser, the replay cache, wrong org, RelayState, Require SSO and
//! Test sign-in. Responses are signed by `xmlsec1` (see `saml_idp`).

use std::io::Read;

use base64::Engine;
use portal_core::sso::{self, SsoInput};
use portal_core::Clock;

use crate::common::*;
use crate::saml_idp::{self, Opts, Sign};

const IDP_SSO: &str = "https://idp.test/sso";

pub(crate) fn cert(name: &str) -> String {
    std::fs::read_to_string(saml_idp::fixture(&format!("{name}.crt"))).unwrap()
}

/// SSO for `org` with the test IdP's endpoint and JIT on; `input` overrides the rest.
async fn configure_with(app: &TestApp, org: &str, input: SsoInput) {
    sso::save(&app.t.svc, org, "admin@a.test", &input)
        .await
        .unwrap();
}

fn idp_input(certificate: &str) -> SsoInput {
    SsoInput {
        sso_url: IDP_SSO.into(),
        certificate: cert(certificate),
        jit_enabled: true,
        ..SsoInput::default()
    }
}

pub(crate) async fn configure(app: &TestApp, org: &str, jit: bool) {
    configure_with(
        app,
        org,
        SsoInput {
            idp_entity_id: saml_idp::IDP.into(),
            jit_enabled: jit,
            ..idp_input("idp")
        },
    )
    .await;
}

fn opts(app: &TestApp, org: &str) -> Opts {
    saml_idp::opts_for(&app.url, org, app.t.clock.now_ms())
}

pub(crate) fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

/// The AuthnRequest in an IdP redirect: (its XML, its ID).
fn authn_request(location: &str) -> (String, String) {
    let url = url::Url::parse(location).unwrap();
    let req = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .to_string();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(req)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    let id = xml
        .split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (xml, id)
}

/// Starts SP-initiated login; returns (AuthnRequest ID, browser cookie, IdP redirect URL).
pub(crate) async fn start_login(app: &TestApp, org: &str, relay: &str) -> (String, String, String) {
    let res = app
        .get(&format!("/saml/{org}/login?RelayState={relay}"), None)
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(IDP_SSO), "{location}");
    let cookie = set_cookie(&res, "portal_saml").expect("browser-binding cookie");
    let (xml, id) = authn_request(&location);
    assert!(xml.contains(&format!(
        "AssertionConsumerServiceURL=\"{}/saml/{org}/acs\"",
        app.url
    )));
    (id, cookie, location)
}

pub(crate) async fn post_acs(
    app: &TestApp,
    org: &str,
    xml: &str,
    relay: Option<&str>,
    cookie: Option<&str>,
) -> reqwest::Response {
    let b64 = saml_idp::b64(xml);
    let mut form = vec![("SAMLResponse", b64.as_str())];
    if let Some(r) = relay {
        form.push(("RelayState", r));
    }
    // A cross-site form post from the IdP's page, as a browser sends it.
    let mut req = app
        .http
        .post(format!("{}/saml/{org}/acs", app.url))
        .header("Origin", "null")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&form);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    req.send().await.unwrap()
}

pub(crate) async fn last_event(app: &TestApp, org: &str) -> portal_core::events::Event {
    portal_core::events::recent(&app.t.svc.db, org, 1)
        .await
        .unwrap()
        .remove(0)
}

async fn user_source(app: &TestApp, org: &str, email: &str) -> Option<(String, bool)> {
    let mut tx = app.t.svc.db.begin_write().await.unwrap();
    portal_core::users::find_by_user_name(&mut tx, org, email)
        .await
        .unwrap()
        .map(|u| (u.source, u.active))
}

app_test!(
    sp_initiated_sign_in_creates_the_user_by_jit_and_an_employee_session,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let (id, browser, _) = start_login(&app, &org, "/app").await;
        let xml = saml_idp::signed_xml(&Opts {
            in_response_to: Some(id),
            sign: Sign::Both,
            ..opts(&app, &org)
        });
        let res = post_acs(&app, &org, &xml, None, Some(&browser)).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/app");
        let session = session_cookie(&res).expect("an employee session starts");
        assert_eq!(
            user_source(&app, &org, "ann@example.com").await,
            Some(("sso_jit".into(), true))
        );
        let home = app.post_fn("load_employee", &[], Some(&session)).await;
        let body = home.text().await.unwrap();
        assert!(body.contains("ann@example.com"), "{body}");
        assert!(body.contains("Single sign-on"), "{body}");
        // The employee session is not an admin session.
        let admin_page = app.post_fn("load_admin_view", &[], Some(&session)).await;
        let status = admin_page.status();
        let admin_body = admin_page.text().await.unwrap();
        assert!(
            status != 200 || admin_body == "null",
            "an employee session must not be an admin session: {status} {admin_body}"
        );
        let e = last_event(&app, &org).await;
        assert_eq!((e.name.as_str(), e.success), ("employee_sign_in", true));
        assert!(e.message.contains("SP-initiated"));
    }
);

app_test!(replayed_assertion_is_refused, |app: TestApp| async move {
    let org = admin(&app, "Acme", "admin@a.test").await;
    configure(&app, &org, true).await;
    let xml = saml_idp::signed_xml(&opts(&app, &org));
    assert_eq!(post_acs(&app, &org, &xml, None, None).await.status(), 303);
    let again = post_acs(&app, &org, &xml, None, None).await;
    assert_eq!(again.status(), 403);
    let e = last_event(&app, &org).await;
    assert!(!e.success);
    assert!(e.message.contains("replay"), "{}", e.message);
});

app_test!(
    in_response_to_of_another_browser_is_refused,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let (id, _browser_a, _) = start_login(&app, &org, "/app").await;
        let (_, browser_b, _) = start_login(&app, &org, "/app").await;
        let xml = saml_idp::signed_xml(&Opts {
            in_response_to: Some(id.clone()),
            ..opts(&app, &org)
        });
        let res = post_acs(&app, &org, &xml, None, Some(&browser_b)).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
        let e = last_event(&app, &org).await;
        assert!(e.message.contains("did not start"), "{}", e.message);
        // Without any browser cookie, the same.
        let xml = saml_idp::signed_xml(&Opts {
            in_response_to: Some(id),
            assertion_id: "_other".into(),
            ..opts(&app, &org)
        });
        assert_eq!(post_acs(&app, &org, &xml, None, None).await.status(), 403);
    }
);

app_test!(
    unknown_in_response_to_is_refused,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let (_, browser, _) = start_login(&app, &org, "/app").await;
        let xml = saml_idp::signed_xml(&Opts {
            in_response_to: Some("_never_sent".into()),
            ..opts(&app, &org)
        });
        assert_eq!(
            post_acs(&app, &org, &xml, None, Some(&browser))
                .await
                .status(),
            403
        );
    }
);

app_test!(a_request_is_answered_once_only, |app: TestApp| async move {
    let org = admin(&app, "Acme", "admin@a.test").await;
    configure(&app, &org, true).await;
    let (id, browser, _) = start_login(&app, &org, "/app").await;
    let first = saml_idp::signed_xml(&Opts {
        in_response_to: Some(id.clone()),
        ..opts(&app, &org)
    });
    assert_eq!(
        post_acs(&app, &org, &first, None, Some(&browser))
            .await
            .status(),
        303
    );
    let second = saml_idp::signed_xml(&Opts {
        in_response_to: Some(id),
        assertion_id: "_second".into(),
        ..opts(&app, &org)
    });
    assert_eq!(
        post_acs(&app, &org, &second, None, Some(&browser))
            .await
            .status(),
        403
    );
});

app_test!(
    idp_initiated_sign_in_redirects_to_local_relay_state_only,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        for (i, (relay, expected)) in [
            ("/app", "/app"),
            ("https://evil.example/", "/app"),
            ("//evil.example/x", "/app"),
            ("/\\evil.example", "/app"),
            ("/\t/evil.example", "/app"),
            ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
            ("javascript:alert(1)", "/app"),
        ]
        .into_iter()
        .enumerate()
        {
            let xml = saml_idp::signed_xml(&Opts {
                assertion_id: format!("_idp{i}"),
                ..opts(&app, &org)
            });
            let res = post_acs(&app, &org, &xml, Some(relay), None).await;
            assert_eq!(res.status(), 303, "{relay}");
            assert_eq!(res.headers()["location"], expected, "{relay}");
        }
        let e = last_event(&app, &org).await;
        assert!(e.message.contains("IdP-initiated"));
    }
);

app_test!(
    unknown_user_is_refused_when_jit_is_off,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, false).await;
        let res = post_acs(
            &app,
            &org,
            &saml_idp::signed_xml(&opts(&app, &org)),
            None,
            None,
        )
        .await;
        assert_eq!(res.status(), 403);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("has not been provisioned"));
        assert_eq!(user_source(&app, &org, "ann@example.com").await, None);
    }
);

app_test!(
    deactivated_and_deleted_users_are_refused_with_a_clear_page,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let signin = |n: &str| {
            saml_idp::signed_xml(&Opts {
                assertion_id: format!("_{n}"),
                ..opts(&app, &org)
            })
        };
        assert_eq!(
            post_acs(&app, &org, &signin("a"), None, None)
                .await
                .status(),
            303
        );
        sqlx::query("UPDATE users SET active = 0 WHERE org_id = $1")
            .bind(&org)
            .execute(&app.t.svc.db.pool)
            .await
            .unwrap();
        let res = post_acs(&app, &org, &signin("b"), None, None).await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("deactivated"));
        sqlx::query("UPDATE users SET active = 1, deleted_at = 1 WHERE org_id = $1")
            .bind(&org)
            .execute(&app.t.svc.db.pool)
            .await
            .unwrap();
        let res = post_acs(&app, &org, &signin("c"), None, None).await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("deleted"));
    }
);

app_test!(
    response_for_org_a_fails_at_org_b,
    |app: TestApp| async move {
        let org_a = admin(&app, "Acme", "admin@a.test").await;
        let org_b = admin(&app, "Bravo", "admin@b.test").await;
        configure(&app, &org_a, true).await;
        configure_with(&app, &org_b, idp_input("other")).await;
        // Addressed to org B in every field, but signed by org A's IdP.
        let xml = saml_idp::signed_xml(&opts(&app, &org_b));
        let res = post_acs(&app, &org_b, &xml, None, None).await;
        assert_eq!(res.status(), 403);
        let e = last_event(&app, &org_b).await;
        assert!(
            e.message.contains("not the one configured here"),
            "{}",
            e.message
        );
        // Org A's own response posted to org B's ACS fails on its addresses too.
        let xml = saml_idp::signed_xml(&Opts {
            assertion_id: "_a2".into(),
            ..opts(&app, &org_a)
        });
        assert_eq!(post_acs(&app, &org_b, &xml, None, None).await.status(), 403);
        assert_eq!(user_source(&app, &org_b, "ann@example.com").await, None);
    }
);

app_test!(
    bad_posts_get_clear_errors_not_500s,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let huge = "A".repeat(300 * 1024);
        let res = app
            .http
            .post(format!("{}/saml/{org}/acs", app.url))
            .form(&[("SAMLResponse", huge.as_str())])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
        let res = app
            .http
            .post(format!("{}/saml/{org}/acs", app.url))
            .form(&[("RelayState", "/app")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let res = post_acs(&app, &org, "<not xml", None, None).await;
        assert_eq!(res.status(), 403);
        // Unknown org: the same refusal page, no detail.
        let xml = saml_idp::signed_xml(&opts(&app, &org));
        let res = post_acs(&app, "00000000000000000000000000000000", &xml, None, None).await;
        assert_eq!(res.status(), 403);
        // Login for an org without SSO.
        let other = admin(&app, "Bravo", "admin@b.test").await;
        assert_eq!(
            app.get(&format!("/saml/{other}/login"), None)
                .await
                .status(),
            404
        );
    }
);

app_test!(metadata_is_served_per_org, |app: TestApp| async move {
    let org = admin(&app, "Acme & Co", "admin@a.test").await;
    let res = app.get(&format!("/saml/{org}/metadata"), None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/samlmetadata+xml"));
    let xml = res.text().await.unwrap();
    assert!(xml.contains(&format!("entityID=\"{}/saml/{org}/metadata\"", app.url)));
    assert!(xml.contains(&format!("Location=\"{}/saml/{org}/acs\"", app.url)));
    assert!(xml.contains("Acme &amp; Co"));
    let dl = app
        .get(&format!("/saml/{org}/metadata?download=1"), None)
        .await;
    assert!(dl.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(
        app.get("/saml/ffffffffffffffffffffffffffffffff/metadata", None)
            .await
            .status(),
        404
    );
});

app_test!(
    require_sso_turns_magic_links_off,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        // A user exists (signed in once by SSO).
        let xml = saml_idp::signed_xml(&opts(&app, &org));
        assert_eq!(post_acs(&app, &org, &xml, None, None).await.status(), 303);
        // A link requested before Require SSO dies with it.
        portal_core::magic_links::request(&app.t.svc, "ann@example.com", "1.2.3.4")
            .await
            .unwrap();
        sso::set_options(&app.t.svc, &org, "admin@a.test", true, true)
            .await
            .unwrap();
        portal_core::magic_links::request(&app.t.svc, "ann@example.com", "1.2.3.4")
            .await
            .unwrap();
        let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM magic_links")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(links, 1, "no new link once SSO is required");
        // Delivered mail leaves no body in the database; read what reached the outbox.
        let all = app.wait_mails("ann@example.com", 2).await;
        assert!(
            all.iter()
                .any(|b| b.contains(&format!("/saml/{org}/login")) && !b.contains("token=")),
            "{all:?}"
        );
    }
);

app_test!(
    test_sign_in_shows_the_result_and_signs_nobody_in,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let admin_cookie = app.sign_in("admin@a.test", PW, None).await;
        // Only an admin of this org may start it.
        assert_eq!(
            app.get(&format!("/saml/{org}/test"), None).await.status(),
            403
        );
        let res = app
            .get(&format!("/saml/{org}/test"), Some(&admin_cookie))
            .await;
        assert_eq!(res.status(), 303);
        let browser = set_cookie(&res, "portal_saml").unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let (_, id) = authn_request(&location);
        let signed = saml_idp::signed_xml(&Opts {
            in_response_to: Some(id.clone()),
            ..opts(&app, &org)
        });
        let res = post_acs(&app, &org, &signed, None, Some(&browser)).await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            format!("/admin/sso/test/{id}")
        );
        assert!(session_cookie(&res).is_none(), "nobody is signed in");
        assert_eq!(user_source(&app, &org, "ann@example.com").await, None);
        let result = sso::test_result(&app.t.svc, &org, &id)
            .await
            .unwrap()
            .unwrap();
        assert!(result.success);
        assert_eq!(result.name_id.as_deref(), Some("ann@example.com"));
        let prof = result.profile.unwrap();
        assert_eq!(prof.given_name.as_deref(), Some("Ann"));
        assert_eq!(prof.department.as_deref(), Some("Research"));
        assert!(prof.missing_expected().is_empty());
        // Another org's admin cannot read it.
        let other = admin(&app, "Bravo", "admin@b.test").await;
        assert!(sso::test_result(&app.t.svc, &other, &id).await.is_err());
    }
);

app_test!(
    failed_test_sign_in_reports_the_precise_reason,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let admin_cookie = app.sign_in("admin@a.test", PW, None).await;
        let res = app
            .get(&format!("/saml/{org}/test"), Some(&admin_cookie))
            .await;
        let browser = set_cookie(&res, "portal_saml").unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let (_, id) = authn_request(&location);
        let signed = saml_idp::signed_xml(&Opts {
            in_response_to: Some(id.clone()),
            audience: Some("https://somewhere-else.example".into()),
            ..opts(&app, &org)
        });
        let res = post_acs(&app, &org, &signed, None, Some(&browser)).await;
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            format!("/admin/sso/test/{id}")
        );
        let result = sso::test_result(&app.t.svc, &org, &id)
            .await
            .unwrap()
            .unwrap();
        assert!(!result.success);
        assert!(result.failure.unwrap().contains("another audience"));
        let failures = sso::recent_failures(&app.t.svc, &org, 10).await.unwrap();
        assert!(failures[0].reason.contains("another audience"));
    }
);

app_test!(
    configuration_is_validated_and_bad_input_saves_nothing,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        let key = std::fs::read_to_string(saml_idp::fixture("idp.key")).unwrap();
        let base = SsoInput {
            sso_url: IDP_SSO.into(),
            certificate: cert("idp"),
            jit_enabled: true,
            ..SsoInput::default()
        };
        let cases = [
            (
                SsoInput {
                    certificate: key.clone(),
                    ..base.clone()
                },
                "private key",
            ),
            (
                SsoInput {
                    certificate: "garbage".into(),
                    ..base.clone()
                },
                "not a certificate",
            ),
            (
                SsoInput {
                    sso_url: "http://idp.example/sso".into(),
                    ..base.clone()
                },
                "https",
            ),
            (
                SsoInput {
                    sso_url: "not a url".into(),
                    ..base.clone()
                },
                "not a URL",
            ),
            (
                SsoInput {
                    next_certificate: cert("idp"),
                    ..base.clone()
                },
                "same as the current",
            ),
        ];
        for (input, words) in cases {
            let err = sso::save(&app.t.svc, &org, "admin@a.test", &input)
                .await
                .unwrap_err();
            assert!(err.to_string().contains(words), "{err} should say {words}");
        }
        assert!(sso::get(&app.t.svc, &org).await.unwrap().is_none());
        let stored: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE name = 'sso_config_update'")
                .fetch_one(&app.t.svc.db.pool)
                .await
                .unwrap();
        assert_eq!(stored, 0);
        // The private key was not stored anywhere.
        let body = key.lines().nth(1).unwrap();
        let leaked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE message LIKE $1")
            .bind(format!("%{body}%"))
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(leaked, 0);
        // http is fine for this machine (testing), and the config saves.
        let cfg = sso::save(
            &app.t.svc,
            &org,
            "admin@a.test",
            &SsoInput {
                sso_url: "http://127.0.0.1:9/sso".into(),
                ..base.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(cfg.certificate.key, "RSA 2048-bit");
        // Rollover: add next, promote it.
        let cfg = sso::save(
            &app.t.svc,
            &org,
            "admin@a.test",
            &SsoInput {
                next_certificate: cert("other"),
                ..base.clone()
            },
        )
        .await
        .unwrap();
        let next_fp = cfg.next_certificate.unwrap().fingerprint;
        let promoted = sso::promote_next(&app.t.svc, &org, "admin@a.test")
            .await
            .unwrap();
        assert_eq!(promoted.certificate.fingerprint, next_fp);
        assert!(promoted.next_certificate.is_none());

        // An expired certificate is saved only with the admin's acknowledgement.
        app.t.clock.set_ms(2_200_000_000_000); // 2039, after the fixtures expire (2036)
        let expired = SsoInput {
            sso_url: IDP_SSO.into(),
            ..base.clone()
        };
        let err = sso::save(&app.t.svc, &org, "admin@a.test", &expired)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("expired on"), "{err}");
        assert_eq!(
            sso::get(&app.t.svc, &org)
                .await
                .unwrap()
                .unwrap()
                .certificate
                .fingerprint,
            next_fp,
            "nothing changed"
        );
        sso::save(
            &app.t.svc,
            &org,
            "admin@a.test",
            &SsoInput {
                accept_expired: true,
                ..expired
            },
        )
        .await
        .unwrap();
    }
);

/// The operator's way in: `server sso-config`, validated exactly like the screen.
#[test]
fn sso_config_command_validates_like_the_screen() {
    let dir = portal_test_support::temp_dir("sso-cli");
    let cli = server_cli()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/portal.db", dir.0.display()),
        )
        .env("PUBLIC_URL", "https://portal.example.com");
    let run = |args: &[&str], stdin: &str| {
        let out = cli.run(args, stdin);
        (out.success, out.stdout, out.stderr)
    };
    let (ok, out, err) = run(
        &[
            "create-admin",
            "--org-name",
            "Acme",
            "--email",
            "ops@acme.test",
        ],
        PW,
    );
    assert!(ok, "{err}");
    let org = out.lines().last().unwrap().trim().to_string();
    let key = saml_idp::fixture("idp.key");
    let crt = saml_idp::fixture("idp.crt");
    let (ok, out, err) = run(
        &[
            "sso-config",
            "--org",
            &org,
            "--sso-url",
            IDP_SSO,
            "--certificate",
            key.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok, "{out}");
    assert!(err.contains("Never share a private key"), "{err}");
    let (ok, _, err) = run(
        &[
            "sso-config",
            "--org",
            &org,
            "--sso-url",
            "http://idp.example/sso",
            "--certificate",
            crt.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("https"), "{err}");
    let (ok, out, err) = run(
        &[
            "sso-config",
            "--org",
            &org,
            "--sso-url",
            IDP_SSO,
            "--certificate",
            crt.to_str().unwrap(),
            "--issuer",
            saml_idp::IDP,
            "--jit",
            "off",
            "--idp-initiated",
            "off",
        ],
        "",
    );
    assert!(ok, "{err}");
    let fp = portal_saml::cert::fingerprint(&saml_idp::cert_der("idp"));
    assert!(out.contains(&fp), "{out}");
    assert!(
        out.contains(&format!("https://portal.example.com/saml/{org}/acs")),
        "{out}"
    );
    assert!(
        out.contains("jit off · require sso off · idp-initiated off"),
        "{out}"
    );
    let (ok, _, err) = run(
        &[
            "sso-config",
            "--org",
            "ffffffffffffffffffffffffffffffff",
            "--sso-url",
            IDP_SSO,
            "--certificate",
            crt.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("no organisation"), "{err}");
}

app_test!(
    orgs_sharing_one_idp_certificate_stay_apart,
    |app: TestApp| async move {
        // Some IdPs sign for every tenant with one key: the addresses keep orgs apart.
        let org_a = admin(&app, "Acme", "admin@a.test").await;
        let org_b = admin(&app, "Bravo", "admin@b.test").await;
        configure(&app, &org_a, true).await;
        configure(&app, &org_b, true).await;
        let for_a = saml_idp::signed_xml(&opts(&app, &org_a));
        let res = post_acs(&app, &org_b, &for_a, None, None).await;
        assert_eq!(res.status(), 403);
        let e = last_event(&app, &org_b).await;
        assert!(e.message.contains("Destination"), "{}", e.message);
        // Even with B's Destination, the Audience and Recipient still name org A.
        let mixed = saml_idp::signed_xml(&Opts {
            destination: Some(format!("{}/saml/{org_b}/acs", app.url)),
            ..opts(&app, &org_a)
        });
        assert_eq!(
            post_acs(&app, &org_b, &mixed, None, None).await.status(),
            403
        );
        let e = last_event(&app, &org_b).await;
        assert!(e.message.contains("audience"), "{}", e.message);
        assert_eq!(user_source(&app, &org_b, "ann@example.com").await, None);
    }
);

app_test!(
    ambiguous_email_attributes_are_refused,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        let xml = saml_idp::signed_xml(&Opts {
            name_id_xml: "opaque-7f3a".into(),
            attributes: vec![
                ("email".into(), "ann@example.com".into()),
                ("mail".into(), "boss@example.com".into()),
                ("manager.email".into(), "boss@example.com".into()),
            ],
            ..opts(&app, &org)
        });
        let res = post_acs(&app, &org, &xml, None, None).await;
        assert_eq!(res.status(), 403);
        assert!(last_event(&app, &org)
            .await
            .message
            .contains("several different email"));
        // One address (plus a manager's, which is not the user's) signs in as that address.
        let xml = saml_idp::signed_xml(&Opts {
            name_id_xml: "opaque-7f3a".into(),
            assertion_id: "_one".into(),
            attributes: vec![
                ("manager.email".into(), "boss@example.com".into()),
                ("email".into(), "ann@example.com".into()),
            ],
            ..opts(&app, &org)
        });
        assert_eq!(post_acs(&app, &org, &xml, None, None).await.status(), 303);
        assert!(user_source(&app, &org, "ann@example.com").await.is_some());
        assert_eq!(user_source(&app, &org, "boss@example.com").await, None);
    }
);

app_test!(
    rollover_reports_which_certificate_verified_and_deactivation_stops_sso,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        // The IdP still signs with its old key ("other"); the new one ("idp") is the next.
        configure_with(
            &app,
            &org,
            SsoInput {
                next_certificate: cert("idp"),
                ..idp_input("other")
            },
        )
        .await;
        let xml = saml_idp::signed_xml(&opts(&app, &org));
        assert_eq!(post_acs(&app, &org, &xml, None, None).await.status(), 303);
        let cfg = sso::get(&app.t.svc, &org).await.unwrap().unwrap();
        let next_fp = cfg.next_certificate.as_ref().unwrap().fingerprint.clone();
        assert_eq!(
            cfg.last_success_fingerprint.as_deref(),
            Some(next_fp.as_str())
        );
        assert!(cfg.last_success_at.is_some());
        // Promote: the next certificate becomes the only one, the old one no longer verifies.
        sso::promote_next(&app.t.svc, &org, "admin@a.test")
            .await
            .unwrap();
        let old_signed = saml_idp::signed_xml(&Opts {
            key: "other",
            assertion_id: "_old".into(),
            ..opts(&app, &org)
        });
        assert_eq!(
            post_acs(&app, &org, &old_signed, None, None).await.status(),
            403
        );
        // Deactivate: SSO is off, recorded with the admin, and sign-in is refused.
        sso::deactivate(&app.t.svc, &org, "admin@a.test")
            .await
            .unwrap();
        let e = last_event(&app, &org).await;
        assert_eq!(
            (e.name.as_str(), e.actor.as_str()),
            ("sso_deactivate", "admin@a.test")
        );
        let again = saml_idp::signed_xml(&Opts {
            assertion_id: "_after".into(),
            ..opts(&app, &org)
        });
        let res = post_acs(&app, &org, &again, None, None).await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("not set up"));
        assert_eq!(
            app.get(&format!("/saml/{org}/login"), None).await.status(),
            404
        );
    }
);

app_test!(
    an_org_can_refuse_idp_initiated_sign_in,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure_with(
            &app,
            &org,
            SsoInput {
                refuse_unsolicited: true,
                ..idp_input("idp")
            },
        )
        .await;
        // An unsolicited response (what a login-CSRF page would post) is refused…
        let xml = saml_idp::signed_xml(&opts(&app, &org));
        let res = post_acs(&app, &org, &xml, Some("/app"), None).await;
        assert_eq!(res.status(), 403);
        assert!(session_cookie(&res).is_none());
        let e = last_event(&app, &org).await;
        assert!(
            e.message.contains("IdP-initiated sign-in is turned off"),
            "{}",
            e.message
        );
        // …while SP-initiated sign-in works.
        let (id, browser, _) = start_login(&app, &org, "/app").await;
        let xml = saml_idp::signed_xml(&Opts {
            in_response_to: Some(id),
            assertion_id: "_sp".into(),
            ..opts(&app, &org)
        });
        assert_eq!(
            post_acs(&app, &org, &xml, None, Some(&browser))
                .await
                .status(),
            303
        );
        let cfg = sso::get(&app.t.svc, &org).await.unwrap().unwrap();
        assert!(cfg.refuse_unsolicited);
    }
);

app_test!(
    sign_in_starts_are_throttled_per_client,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, true).await;
        for _ in 0..sso::MAX_STARTS_PER_CLIENT {
            assert_eq!(
                app.get(&format!("/saml/{org}/login"), None).await.status(),
                303
            );
        }
        let res = app.get(&format!("/saml/{org}/login"), None).await;
        assert_eq!(res.status(), 429);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("Try again in 10 minute(s)"));
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM saml_requests")
            .fetch_one(&app.t.svc.db.pool)
            .await
            .unwrap();
        assert_eq!(
            rows,
            sso::MAX_STARTS_PER_CLIENT,
            "no row for the refused start"
        );
        // The window passes.
        app.t.clock.advance_ms(sso::STARTS_WINDOW_MS + 1);
        assert_eq!(
            app.get(&format!("/saml/{org}/login"), None).await.status(),
            303
        );
    }
);

app_test!(
    an_option_change_cannot_undo_a_certificate_saved_or_sso_deactivated_meanwhile,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "admin@a.test").await;
        configure(&app, &org, false).await;
        // Admin A's screen read the configuration; then B saves another IdP certificate.
        let read = sso::get(&app.t.svc, &org).await.unwrap().unwrap();
        app.t.clock.advance_ms(1_000);
        sso::save(&app.t.svc, &org, "b@a.test", &idp_input("other"))
            .await
            .unwrap();
        // A's option change, made from what A read, is refused and puts nothing back.
        let toggled = SsoInput {
            jit_enabled: true,
            accept_expired: true,
            ..sso::input_of(&read)
        };
        let e = sso::save_over(&app.t.svc, &org, "a@a.test", &toggled, read.updated_at)
            .await
            .unwrap_err();
        assert!(matches!(e, portal_core::CoreError::Stale), "{e:?}");
        let now = sso::get(&app.t.svc, &org).await.unwrap().unwrap();
        assert_eq!(now.certificate.pem.trim(), cert("other").trim());
        assert_eq!(now.updated_by, "b@a.test");
        // Made from a fresh read, it goes through and keeps B's certificate.
        let cfg = sso::set_options(&app.t.svc, &org, "a@a.test", true, false)
            .await
            .unwrap();
        assert!(cfg.jit_enabled);
        assert_eq!(cfg.certificate.pem.trim(), cert("other").trim());
        // A deactivation meanwhile is not undone by a change made from an earlier read.
        let read = sso::get(&app.t.svc, &org).await.unwrap().unwrap();
        app.t.clock.advance_ms(1_000);
        sso::deactivate(&app.t.svc, &org, "b@a.test").await.unwrap();
        let e = sso::save_over(
            &app.t.svc,
            &org,
            "a@a.test",
            &SsoInput {
                require_sso: true,
                accept_expired: true,
                ..sso::input_of(&read)
            },
            read.updated_at,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, portal_core::CoreError::Stale), "{e:?}");
        assert!(sso::get(&app.t.svc, &org).await.unwrap().is_none());
    }
);
