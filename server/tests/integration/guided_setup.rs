//! Issue 13 — guided setup per IdP: `?idp=` on the Single Sign-On and Automated user provisioning
//! screens renders that IdP's steps with this org's values, for every role, never another org's
//! values nor the SCIM token; unknown or hostile `?idp=` values are a notice, not an error.

use crate::common::*;
use portal_core::admins::Role;
use serde_json::Value;

const IDPS: [&str; 6] = [
    "jumpcloud",
    "okta",
    "entra",
    "google",
    "onelogin",
    "generic",
];

async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let res = app.get(path, Some(cookie)).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

/// The guide's section of a page (from its opening tag to the end of the document).
fn guide(html: &str) -> &str {
    let at = html
        .find("data-testid=\"guide\"")
        .unwrap_or_else(|| panic!("no guide section in the page"));
    &html[at..]
}

/// The `value` of the input with this id.
fn input_value<'a>(html: &'a str, id: &str) -> &'a str {
    let tag = format!("id=\"{id}\"");
    let at = html.find(&tag).unwrap_or_else(|| panic!("no input {id}"));
    let rest = &html[at..];
    let end = rest.find('>').unwrap();
    let tag = &rest[..end];
    let v = tag
        .find("value=\"")
        .unwrap_or_else(|| panic!("{id} has no value: {tag}"))
        + 7;
    let len = tag[v..].find('"').unwrap();
    &tag[v..v + len]
}

app_test!(
    jumpcloud_guides_show_the_articles_field_names_with_our_values,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let urls = portal_core::sso::sp_urls(&app.t.svc, &org);

        let sso = page(&app, "/admin/sso?idp=jumpcloud", &cookie).await;
        let g = guide(&sso);
        assert!(g.contains("data-idp=\"jumpcloud\""));
        let mut at = 0;
        for name in [
            "USER AUTHENTICATION &gt; SSO Applications",
            "Add New Application",
            "Save Application",
            "YOUR_ORG_ID",
            "Actions &gt; Download Certificate",
            "SAML 2.0 endpoint (HTTP)",
            "Public certificate",
            "User Groups",
        ] {
            let i = g[at..]
                .find(name)
                .unwrap_or_else(|| panic!("{name} missing or out of order"));
            at += i;
        }
        assert_eq!(input_value(g, "guide-org-id"), org);
        assert_eq!(input_value(g, "guide-entity-id"), urls.entity_id);
        assert_eq!(input_value(g, "guide-acs-url"), urls.acs_url);
        assert_eq!(input_value(g, "guide-login-url"), urls.login_url);
        assert!(g.contains("aria-label=\"Copy SP Entity ID\""));
        // The picker marks the chosen IdP; the rest of the screen is still there.
        assert!(sso.contains("href=\"/admin/sso?idp=jumpcloud\" aria-current=\"page\""));
        assert!(!sso.contains("href=\"/admin/sso?idp=okta\" aria-current=\"page\""));
        assert!(
            sso.contains("id=\"sp-acs-url\""),
            "the default details stay"
        );

        let scim = page(&app, "/admin/provisioning?idp=jumpcloud", &cookie).await;
        let g = guide(&scim);
        let mut at = 0;
        for name in [
            "Generate new token",
            "Confirm",
            "Identity Management",
            "Configure",
            "Base URL",
            "Token Key",
            "Activate",
            "JumpCloud Property",
            "employeeIdentifier",
        ] {
            let i = g[at..]
                .find(name)
                .unwrap_or_else(|| panic!("{name} missing or out of order"));
            at += i;
        }
        assert_eq!(
            input_value(g, "guide-base-url"),
            format!("{}/scim/v2/{org}", app.t.svc.settings.public_url)
        );
        assert!(g.contains("every 40 minutes"));
    }
);

app_test!(
    every_idp_has_both_guides_and_google_says_it_cannot_push_users,
    |app: TestApp| async move {
        let org = admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        let urls = portal_core::sso::sp_urls(&app.t.svc, &org);
        let scim_url = format!("{}/scim/v2/{org}", app.t.svc.settings.public_url);
        for idp in IDPS {
            let sso = page(&app, &format!("/admin/sso?idp={idp}"), &cookie).await;
            let g = guide(&sso);
            assert!(g.contains(&format!("data-idp=\"{idp}\"")), "{idp}");
            assert_eq!(input_value(g, "guide-acs-url"), urls.acs_url, "{idp}");
            assert_eq!(input_value(g, "guide-entity-id"), urls.entity_id, "{idp}");
            for p in [
                "{acs_url}",
                "{acs_url_pattern}",
                "{entity_id}",
                "{login_url}",
                "{org_id}",
            ] {
                assert!(!g.contains(p), "{idp}: unfilled {p}");
            }
            let scim = page(&app, &format!("/admin/provisioning?idp={idp}"), &cookie).await;
            let g = guide(&scim);
            if idp == "google" {
                assert!(g.contains("data-testid=\"guide-not-supported\""));
                assert!(g.contains("does not push users to custom SAML apps"));
                assert!(!g.contains("guide-scim-url"));
            } else {
                let id = if idp == "jumpcloud" {
                    "guide-base-url"
                } else {
                    "guide-scim-url"
                };
                assert_eq!(input_value(g, id), scim_url, "{idp}");
            }
            assert!(
                !g.contains("{scim_base_url}"),
                "{idp}: unfilled placeholder"
            );
        }
        // The IdPs' own field names.
        let okta = page(&app, "/admin/provisioning?idp=okta", &cookie).await;
        for name in [
            "SCIM connector base URL",
            "Unique identifier field for users",
            "HTTP Header",
        ] {
            assert!(guide(&okta).contains(name), "okta: {name}");
        }
        let okta = page(&app, "/admin/sso?idp=okta", &cookie).await;
        for name in ["Single sign-on URL", "Audience URI (SP Entity ID)"] {
            assert!(guide(&okta).contains(name), "okta: {name}");
        }
        let entra = page(&app, "/admin/sso?idp=entra", &cookie).await;
        for name in [
            "Identifier (Entity ID)",
            "Reply URL (Assertion Consumer Service URL)",
            "Sign on URL",
        ] {
            assert!(guide(&entra).contains(name), "entra: {name}");
        }
        let entra = page(&app, "/admin/provisioning?idp=entra", &cookie).await;
        for name in ["Tenant URL", "Secret Token"] {
            assert!(guide(&entra).contains(name), "entra: {name}");
        }
        let google = page(&app, "/admin/sso?idp=google", &cookie).await;
        for name in ["ACS URL", "Entity ID", "Name ID format"] {
            assert!(guide(&google).contains(name), "google: {name}");
        }
        let onelogin = page(&app, "/admin/sso?idp=onelogin", &cookie).await;
        for name in [
            "Audience (EntityID)",
            "ACS (Consumer) URL Validator",
            "ACS (Consumer) URL",
        ] {
            assert!(guide(&onelogin).contains(name), "onelogin: {name}");
        }
        let pattern = input_value(guide(&onelogin), "guide-acs-validator");
        assert!(
            pattern.starts_with("^http") && pattern.ends_with("\\/acs$"),
            "{pattern}"
        );
        assert!(
            pattern
                .match_indices('.')
                .all(|(i, _)| pattern[..i].ends_with('\\')),
            "every dot escaped: {pattern}"
        );
        let onelogin = page(&app, "/admin/provisioning?idp=onelogin", &cookie).await;
        for name in ["SCIM Base URL", "SCIM Bearer Token"] {
            assert!(guide(&onelogin).contains(name), "onelogin: {name}");
        }
    }
);

app_test!(
    without_idp_the_screens_are_unchanged_and_bad_values_are_a_notice,
    |app: TestApp| async move {
        admin(&app, "Acme", "a@acme.test").await;
        let cookie = app.sign_in("a@acme.test", PW, None).await;
        for path in ["/admin/sso", "/admin/provisioning"] {
            let html = page(&app, path, &cookie).await;
            assert!(html.contains("Set up with:"), "{path}: the picker");
            assert!(
                html.contains(&format!("href=\"{path}?idp=jumpcloud\"")),
                "{path}"
            );
            assert!(
                !html.contains("data-testid=\"guide\""),
                "{path}: no guide by default"
            );
            assert!(!html.contains("?idp=jumpcloud\" aria-current"), "{path}");
            let long = "x".repeat(4000);
            for bad in [
                "nope",
                "JumpCloud",
                "",
                "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                "jumpcloud%00",
                long.as_str(),
            ] {
                let res = app.get(&format!("{path}?idp={bad}"), Some(&cookie)).await;
                assert_eq!(
                    res.status(),
                    200,
                    "{path}?idp={}",
                    &bad[..bad.len().min(40)]
                );
                let html = res.text().await.unwrap();
                assert!(!html.contains("data-testid=\"guide\""), "{path}: {bad:.40}");
                assert!(
                    !html.contains("<script>alert(1)"),
                    "the value is never echoed"
                );
                if !bad.is_empty() {
                    assert!(
                        html.contains("data-testid=\"guide-unknown\""),
                        "{path}: {bad:.40}"
                    );
                }
            }
            // Repeated parameters: no error, one guide.
            let html = page(&app, &format!("{path}?idp=nope&idp=okta"), &cookie).await;
            assert!(
                html.contains("data-idp=\"okta\""),
                "{path}: the last value counts (as for every query of the router)"
            );
            assert_eq!(html.matches("data-testid=\"guide\"").count(), 1);
        }
        // Signed out: the guided page is refused like the page itself.
        let res = app.get("/admin/sso?idp=jumpcloud", None).await;
        let html = res.text().await.unwrap();
        assert!(!html.contains("data-testid=\"guide\""));
    }
);

app_test!(
    viewers_see_the_guides_with_their_own_orgs_values_and_never_the_token,
    |app: TestApp| async move {
        let acme = admin(&app, "Acme", "a@acme.test").await;
        let globex = admin(&app, "Globex", "g@globex.test").await;
        portal_test_support::add_admin(&app.t.svc, &acme, "viewer@acme.test", Role::Viewer).await;
        let owner = app.sign_in("a@acme.test", PW, None).await;
        let viewer = app.sign_in("viewer@acme.test", PW, None).await;
        let other = app.sign_in("g@globex.test", PW, None).await;

        // A token exists: no guide, for any role, shows it.
        let res = app.post_fn("generate_scim_token", &[], Some(&owner)).await;
        assert_eq!(res.status(), 200);
        let token = serde_json::from_str::<Value>(&res.text().await.unwrap()).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();

        for idp in IDPS {
            for (cookie, org, not) in [
                (&viewer, &acme, &globex),
                (&owner, &acme, &globex),
                (&other, &globex, &acme),
            ] {
                for screen in ["sso", "provisioning"] {
                    let html = page(&app, &format!("/admin/{screen}?idp={idp}"), cookie).await;
                    let g = guide(&html);
                    assert!(g.contains(org.as_str()), "{screen} {idp}: own org's values");
                    assert!(
                        !html.contains(not.as_str()),
                        "{screen} {idp}: another org's id"
                    );
                    assert!(!html.contains(&token), "{screen} {idp}: the token");
                }
            }
        }
        // The viewer's guide has Copy buttons but no Manage controls beyond the guide.
        let html = page(&app, "/admin/provisioning?idp=jumpcloud", &viewer).await;
        assert!(guide(&html).contains("aria-label=\"Copy Base URL\""));
        assert!(
            !html.contains("action=\"/api/provisioning/token\""),
            "viewers cannot generate"
        );
    }
);
