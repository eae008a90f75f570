//! Issue 12 — the audit trail's filters, classification, export chunks and the Overview's read
//! model, against the store, on both databases.

use portal_core::admin_views::EventResult;
use portal_core::audit::{self, kind_of, ActivityFilter, ActivityQuery, EventKind};
use portal_core::events::{self, NewEvent};
use portal_core::manage::{self, UserForm};
use portal_core::overview::{self, NextStep};
use portal_test_support::{db_test, org_with_admin, TestServices, T0};

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

async fn record_at(t: &TestServices, e: NewEvent, at: i64) {
    events::record(&t.svc.db, e, at).await.unwrap();
}

fn q(pairs: &[(&str, &str)]) -> ActivityQuery {
    ActivityQuery::parse(pairs.iter().copied()).unwrap()
}

async fn names(t: &TestServices, org: &str, query: &ActivityQuery) -> Vec<String> {
    let page = audit::list(&t.svc, org, query).await.unwrap();
    assert_eq!(
        page.total as usize,
        page.rows.len(),
        "one page in these tests"
    );
    page.rows.into_iter().map(|r| r.name).collect()
}

/// Every event name of the tree and of the other areas' conventions, with its message.
const NAMES: &[(&str, &str)] = &[
    ("user_create_provision", "Created"),
    ("user_update_provision", "Updated"),
    ("user_lookup_provision", "Lookup failed"),
    ("user_deprovision", "Deactivated"),
    ("user_delete_provision", "Deleted"),
    ("idm_integration_activate", "Token generated"),
    ("idm_integration_reauth", "Token replaced"),
    ("idm_integration_delete", "Token revoked"),
    ("sso_sign_in", "SSO sign-in refused: bad signature"),
    ("sso_test", "Test sign-in"),
    ("sso_config_update", "SSO configured"),
    ("sso_deactivate", "SSO deactivated"),
    (
        "employee_sign_in",
        "Signed in with SSO (IdP-initiated; certificate ab:cd)",
    ),
    ("employee_sign_in", "Signed in with a magic link"),
    (
        "employee_sign_in",
        "Magic-link sign-in refused: the link had expired",
    ),
    ("user_create_jit", "Created at SSO sign-in"),
    ("magic_link_requested", "Link mailed"),
    ("admin_sign_in", "Signed in"),
    ("admin_create", "Admin account created"),
    ("admin_user_create", "Added"),
    ("admin_user_deactivate", "Deactivated"),
    ("admin_invite", "Invited"),
    ("admin_role_change", "Role changed"),
    ("admin_2fa_enable", "2FA on"),
    ("admin_sign_out_everywhere", "Signed out everywhere"),
    ("org_settings_update", "Settings changed"),
    ("user_purge", "Purged"),
    ("event_purge", "Old events purged"),
    ("brand_new_thing", "Nobody classified me"),
];

db_test!(
    the_kind_filter_agrees_with_the_classification,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Other", "a@other.test").await;
        // Creating the orgs recorded their own `admin_create` events.
        sqlx::query("DELETE FROM events")
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        for (i, (name, message)) in NAMES.iter().enumerate() {
            record_at(&t, ev(&org.id, name, true, "x", message), T0 + i as i64).await;
            record_at(&t, ev(&other.id, name, true, "x", message), T0 + i as i64).await;
        }
        for kind in EventKind::ALL {
            let mut expected: Vec<String> = NAMES
                .iter()
                .filter(|(n, m)| kind_of(n, m) == kind)
                .map(|(n, _)| n.to_string())
                .collect();
            expected.reverse(); // newest first
            assert!(!expected.is_empty(), "{kind:?} has an example");
            let got = names(&t, &org.id, &q(&[("kind", kind.as_str())])).await;
            assert_eq!(got, expected, "{kind:?}");
        }
        // SSO and magic-link sign-ins share a name and are told apart.
        let sso = audit::list(&t.svc, &org.id, &q(&[("kind", "sso")]))
            .await
            .unwrap();
        assert!(sso
            .rows
            .iter()
            .any(|r| r.name == "employee_sign_in" && r.kind == EventKind::Sso));
        assert_eq!(
            audit::list(&t.svc, &org.id, &q(&[("kind", "magic_link")]))
                .await
                .unwrap()
                .rows
                .iter()
                .filter(|r| r.name == "employee_sign_in")
                .count(),
            2
        );
        // Several kinds: the union; all kinds: everything of this org only.
        let two = names(&t, &org.id, &q(&[("kind", "purge,settings")])).await;
        assert_eq!(two, ["event_purge", "user_purge", "org_settings_update"]);
        let all: Vec<(&str, &str)> = EventKind::ALL
            .iter()
            .map(|k| ("kind", k.as_str()))
            .collect();
        assert_eq!(names(&t, &org.id, &q(&all)).await.len(), NAMES.len());
        assert_eq!(
            names(&t, &org.id, &ActivityQuery::default()).await.len(),
            NAMES.len()
        );
        // The rows carry their kind.
        let page = audit::list(&t.svc, &org.id, &ActivityQuery::default())
            .await
            .unwrap();
        for r in &page.rows {
            assert_eq!(r.kind, kind_of(&r.name, &r.message), "{}", r.name);
        }
    }
);

db_test!(
    result_actor_user_and_date_filters,
    |t: TestServices| async move {
        let (org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, other_admin) = org_with_admin(&t.svc, "Other", "a@other.test").await;
        sqlx::query("DELETE FROM events")
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        let form = |email: &str| UserForm {
            email: email.into(),
            given_name: "Ann".into(),
            family_name: "Lee".into(),
            ..Default::default()
        };
        let ann = manage::add_user(&t.svc, &admin, &form("ann@acme.test"))
            .await
            .unwrap();
        // The other org has a user with the same userName.
        let twin = manage::add_user(&t.svc, &other_admin, &form("ann@acme.test"))
            .await
            .unwrap();
        sqlx::query("DELETE FROM events")
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        // 2026-01-01T00:00:00Z is T0.
        let jan1 = T0;
        let feb1 = T0 + 31 * DAY;
        let seeded = [
            ("before", jan1 - 1, true, "Ops@Acme.test", None),
            ("first_instant", jan1, false, "scim:Okta", Some(ann.clone())),
            (
                "last_instant",
                feb1 - 1,
                true,
                "100%_real",
                Some(ann.clone()),
            ),
            ("after", feb1, false, "ops@acme.test", None),
        ];
        for (name, at, success, actor, user) in &seeded {
            let mut e = ev(&org.id, name, *success, actor, "m");
            e.user_id = user.clone();
            record_at(&t, e, *at).await;
            let mut e = ev(&other.id, name, *success, actor, "m");
            e.user_id = Some(twin.clone());
            record_at(&t, e, *at).await;
        }
        // Dates: UTC, both ends inclusive.
        assert_eq!(
            names(
                &t,
                &org.id,
                &q(&[("from", "2026-01-01"), ("to", "2026-01-31")])
            )
            .await,
            ["last_instant", "first_instant"]
        );
        assert_eq!(
            names(&t, &org.id, &q(&[("from", "2026-02-01")])).await,
            ["after"]
        );
        assert_eq!(
            names(&t, &org.id, &q(&[("to", "2025-12-31")])).await,
            ["before"]
        );
        assert_eq!(
            names(
                &t,
                &org.id,
                &q(&[("from", "2026-01-01"), ("to", "2026-01-01")])
            )
            .await,
            ["first_instant"]
        );
        // Result.
        assert_eq!(
            names(&t, &org.id, &q(&[("result", "failure")])).await,
            ["after", "first_instant"]
        );
        assert_eq!(
            names(
                &t,
                &org.id,
                &q(&[("result", "success"), ("from", "2026-01-01")])
            )
            .await,
            ["last_instant"]
        );
        // Actor: a case-insensitive substring; `%` and `_` are literal.
        assert_eq!(
            names(&t, &org.id, &q(&[("actor", "OPS@acme")])).await,
            ["after", "before"]
        );
        assert_eq!(
            names(&t, &org.id, &q(&[("actor", "scim:")])).await,
            ["first_instant"]
        );
        assert_eq!(
            names(&t, &org.id, &q(&[("actor", "0%_r")])).await,
            ["last_instant"]
        );
        assert_eq!(
            names(&t, &org.id, &q(&[("actor", "%")])).await,
            ["last_instant"]
        );
        assert_eq!(
            names(&t, &org.id, &q(&[("actor", "_")])).await,
            ["last_instant"]
        );
        // User: by id, or by userName (case-insensitive); never the other org's twin.
        let by_id = names(&t, &org.id, &q(&[("user", &ann)])).await;
        assert_eq!(by_id, ["last_instant", "first_instant"]);
        assert_eq!(
            names(&t, &org.id, &q(&[("user", "ANN@acme.test")])).await,
            ["last_instant", "first_instant"]
        );
        assert!(names(&t, &org.id, &q(&[("user", &twin)])).await.is_empty());
        assert!(
            names(&t, &org.id, &q(&[("user", "ann@acme")]))
                .await
                .is_empty(),
            "exact userName"
        );
        // Combined.
        let combined = names(
            &t,
            &org.id,
            &q(&[
                ("user", "ann@acme.test"),
                ("result", "failure"),
                ("actor", "okta"),
                ("from", "2026-01-01"),
                ("to", "2026-01-01"),
            ]),
        )
        .await;
        assert_eq!(combined, ["first_instant"]);
        // The other org sees its own four only, whatever the filter names.
        assert_eq!(names(&t, &other.id, &q(&[("user", &ann)])).await.len(), 0);
        assert_eq!(
            names(&t, &other.id, &ActivityQuery::default()).await.len(),
            4
        );
        // Page numbers past the end show the last page.
        let page = audit::list(&t.svc, &org.id, &q(&[("page", "99")]))
            .await
            .unwrap();
        assert_eq!((page.page, page.pages, page.total), (1, 1, 4));
    }
);

db_test!(
    export_chunks_walk_the_filtered_list_once_in_order,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Other", "a@other.test").await;
        // 45 events, three to a millisecond (the keyset must not skip or repeat ties), and the
        // other org's interleaved.
        for i in 0..45_i64 {
            let name = if i % 2 == 0 {
                "sso_sign_in"
            } else {
                "user_create_provision"
            };
            record_at(
                &t,
                ev(&org.id, name, i % 3 != 0, "x", &format!("e{i}")),
                T0 + i / 3,
            )
            .await;
            record_at(&t, ev(&other.id, name, false, "x", "theirs"), T0 + i / 3).await;
        }
        for filter in [
            ActivityFilter::default(),
            ActivityFilter {
                kinds: vec![EventKind::Sso],
                ..Default::default()
            },
            ActivityFilter {
                result: Some(EventResult::Failure),
                ..Default::default()
            },
        ] {
            let listed = audit::list(
                &t.svc,
                &org.id,
                &ActivityQuery {
                    filter: filter.clone(),
                    page: 1,
                },
            )
            .await
            .unwrap();
            let mut exported = Vec::new();
            let mut after = None;
            let mut rounds = 0;
            loop {
                let (rows, last) = audit::export_chunk(&t.svc, &org.id, &filter, after.as_ref(), 4)
                    .await
                    .unwrap();
                rounds += 1;
                let done = rows.len() < 4;
                exported.extend(rows);
                if done {
                    break;
                }
                after = last;
            }
            assert!(rounds > 3, "several chunks");
            assert!(exported.iter().all(|r| r.message != "theirs"));
            assert_eq!(exported, listed.rows, "{filter:?}");
        }
    }
);

db_test!(overview_of_a_seeded_org, |t: TestServices| async move {
    let (org, admin) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
    let o = overview::overview(&t.svc, &org.id).await.unwrap();
    assert!(o.sso.is_none() && o.scim.is_none());
    assert_eq!(o.next, NextStep::ConfigureSso);
    assert_eq!(
        (o.users.active, o.users.deactivated, o.users.deleted),
        (0, 0, 0)
    );
    assert_eq!(o.failure_count(), 0);

    // Users in every state.
    let mut ids = Vec::new();
    for i in 0..5 {
        let form = UserForm {
            email: format!("u{i}@acme.test"),
            given_name: "U".into(),
            family_name: format!("{i}"),
            ..Default::default()
        };
        ids.push(manage::add_user(&t.svc, &admin, &form).await.unwrap());
    }
    let version = |id: String| {
        let pool = t.svc.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT version FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let v = version(ids[0].clone()).await;
    manage::set_active(&t.svc, &admin, &ids[0], v, false)
        .await
        .unwrap();
    for id in &ids[1..3] {
        let v = version(id.clone()).await;
        manage::delete_user(&t.svc, &admin, id, v).await.unwrap();
    }
    // Failures: two inside the last 24 hours (SCIM, SSO), one just outside.
    t.clock.set_ms(T0 + 10 * DAY);
    let now = T0 + 10 * DAY;
    record_at(
        &t,
        ev(&org.id, "user_create_provision", false, "scim:x", "bad"),
        now - 1000,
    )
    .await;
    record_at(
        &t,
        ev(&org.id, "sso_sign_in", false, "idp", "bad"),
        now - DAY,
    )
    .await;
    record_at(
        &t,
        ev(&org.id, "sso_sign_in", false, "idp", "old"),
        now - DAY - 1,
    )
    .await;
    record_at(
        &t,
        ev(&org.id, "sso_sign_in", true, "idp", "fine"),
        now - 10,
    )
    .await;
    // Another org's failures do not count.
    let (other, _) = org_with_admin(&t.svc, "Other", "a@other.test").await;
    record_at(
        &t,
        ev(&other.id, "sso_sign_in", false, "idp", "theirs"),
        now - 10,
    )
    .await;
    // A SCIM token, never used yet.
    portal_core::scim_tokens::generate(&t.svc, &org.id, "a@acme.test")
        .await
        .unwrap();

    let o = overview::overview(&t.svc, &org.id).await.unwrap();
    assert_eq!(
        (o.users.active, o.users.deactivated, o.users.deleted),
        (2, 1, 2)
    );
    assert_eq!(o.failures, vec![(EventKind::Sso, 1), (EventKind::Scim, 1)]);
    assert_eq!(o.failures_since, now - DAY);
    let scim = o.scim.as_ref().unwrap();
    assert_eq!(scim.token_created_at, now);
    assert_eq!(scim.last_request_at, None);
    assert_eq!(scim.last_success_at, None);
    assert_eq!(o.next, NextStep::ConfigureSso, "SSO comes first");
    // A successful provisioning change is the IdP's last success.
    record_at(
        &t,
        ev(&org.id, "user_update_provision", true, "scim:x", "ok"),
        now - 5000,
    )
    .await;
    let o = overview::overview(&t.svc, &org.id).await.unwrap();
    assert_eq!(o.scim.unwrap().last_success_at, Some(now - 5000));
});

db_test!(
    the_activity_page_reads_the_org_and_time_index,
    |t: TestServices| async move {
        use portal_core::sql::SqlBuilder;
        use sqlx::Row;
        let sqlite = t.svc.db.backend == portal_core::Backend::Sqlite;
        if !sqlite {
            // Realistic statistics: 40,000 events in 20 orgs over 40 days.
            for sql in [
                "INSERT INTO orgs (id, name, retention_days, created_at) SELECT 'o' || g, 'Org ' || g, 30, 0 FROM generate_series(1, 20) g",
                "INSERT INTO events (id, org_id, at, seq, name, success, user_id, actor, scim_type, message, detail) \
                 SELECT 'e' || g, 'o' || (g % 20 + 1), 1767225600000 + g::bigint * 86400, g, 'user_update_provision', 1, NULL, 'scim:x', NULL, 'm', NULL \
                 FROM generate_series(1, 40000) g",
                "ANALYZE",
            ] {
                sqlx::query(sql).execute(&t.svc.db.pool).await.unwrap();
            }
        }
        let filter = ActivityQuery::parse([
            ("from", "2026-01-05"),
            ("to", "2026-01-06"),
            ("kind", "scim"),
            ("result", "success"),
            ("actor", "scim"),
        ])
        .unwrap()
        .filter;
        let page = audit::page_sql("o1", &filter, 1);
        let mut explain = SqlBuilder::new(if sqlite {
            "EXPLAIN QUERY PLAN "
        } else {
            "EXPLAIN "
        });
        explain.push_numbered(page.sql(), page.params().to_vec());
        let rows = explain.query().fetch_all(&t.svc.db.pool).await.unwrap();
        let plan = rows
            .iter()
            .map(|r| {
                r.try_get::<String, _>(if sqlite { "detail" } else { "QUERY PLAN" })
                    .unwrap()
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(plan.contains("events_org_at"), "uses (org_id, at):\n{plan}");
        assert!(
            !plan.contains("SCAN e\n") && !plan.ends_with("SCAN e"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan on events"), "{plan}");
    }
);
