//! Two server instances (separate processes' worth of state: their own pools, write turns and
//! background jobs) on one PostgreSQL database: what one writes, the other serves.

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_scim_sessions_links_and_throttling() {
    deadline(share_scim_sessions_links_and_throttling()).await;
}

async fn share_scim_sessions_links_and_throttling() {
    let a = spawn(portal_core::Backend::Postgres).await;
    let b = spawn_on(&a.t.tdb.url).await;
    let org = admin(&a, "Acme", "a@acme.test").await;
    let token = portal_core::scim_tokens::generate(&a.t.svc, &org, "test")
        .await
        .unwrap()
        .into_exposed();

    // A SCIM write through A is read through B.
    let created: Value = a
        .http
        .post(format!("{}/scim/v2/{org}/Users", a.url))
        .bearer_auth(&token)
        .json(&user_body("eve@acme.test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let res = b
        .http
        .get(format!("{}/scim/v2/{org}/Users/{id}", b.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // An admin session made on A works on B; sign-out on B ends it on A.
    let cookie = a.sign_in("a@acme.test", PW, None).await;
    assert_eq!(b.get("/admin", Some(&cookie)).await.status(), 200);
    b.post_fn("admin_logout", &[], Some(&cookie)).await;
    assert_eq!(a.get("/admin", Some(&cookie)).await.status(), 302);

    // A magic link requested on A is redeemed on B.
    let res = a
        .post_fn("request_magic_link", &[("email", "eve@acme.test")], None)
        .await;
    assert_eq!(res.status(), 200);
    // Either instance may deliver it (they share the outbox table).
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = mails_in(&[&a.outbox, &b.outbox], "eve@acme.test");
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link_token = link_tokens(mails.last().expect("the link was mailed"))
        .pop()
        .unwrap();
    let res = b
        .post_fn("redeem_magic_link", &[("token", &link_token)], None)
        .await;
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    let res = a
        .post_fn("redeem_magic_link", &[("token", &link_token)], None)
        .await;
    assert_eq!(res.status(), 400, "single use across instances");

    // Sign-in throttling holds across both: failures spread over A and B lock the account.
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app
            .post_fn(
                "admin_login",
                &[("email", "a@acme.test"), ("password", "wrong password!")],
                None,
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = b
        .post_fn(
            "admin_login",
            &[("email", "a@acme.test"), ("password", PW)],
            None,
        )
        .await;
    assert_eq!(res.status(), 429);
    let res = a
        .post_fn(
            "admin_login",
            &[("email", "a@acme.test"), ("password", PW)],
            None,
        )
        .await;
    assert_eq!(res.status(), 429);
}

/// SAML across instances: a request started on A is answered on B, and an assertion ID accepted
/// on B is a replay on A (the cache lives in the shared database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_saml_requests_and_the_replay_cache() {
    deadline(share_saml_requests_and_the_replay_cache()).await;
}

async fn share_saml_requests_and_the_replay_cache() {
    use crate::saml_http::{configure, last_event, post_acs, start_login};
    use crate::saml_idp::{self, Opts};
    use portal_core::Clock;

    let a = spawn(portal_core::Backend::Postgres).await;
    let b = spawn_on(&a.t.tdb.url).await;
    let org = admin(&a, "Acme", "a@acme.test").await;
    configure(&a, &org, true).await;
    let (id, browser, _) = start_login(&a, &org, "/app").await;
    let now = a.t.clock.now_ms();
    // Each test instance has its own PUBLIC_URL, so each response is addressed to the instance it
    // is posted to; a real deployment shares one.
    let to_b = saml_idp::signed_xml(&Opts {
        in_response_to: Some(id),
        assertion_id: "_shared".into(),
        ..saml_idp::opts_for(&b.url, &org, now)
    });
    let res = post_acs(&b, &org, &to_b, None, Some(&browser)).await;
    assert_eq!(res.status(), 303, "B answers the request A started");
    let to_a = saml_idp::signed_xml(&Opts {
        assertion_id: "_shared".into(),
        ..saml_idp::opts_for(&a.url, &org, now)
    });
    assert_eq!(post_acs(&a, &org, &to_a, None, None).await.status(), 403);
    assert!(last_event(&a, &org).await.message.contains("replay"));
}
