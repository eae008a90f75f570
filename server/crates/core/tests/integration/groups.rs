//! SCIM Groups (issue 13): the member table, on SQLite and PostgreSQL.

use portal_core::groups;
use portal_core::provisioning::{self, Caller};
use portal_test_support::{db_test, org_with_admin, TestServices};
use serde_json::{json, Value};
use sqlx::Row;

pub(crate) fn caller(org: &str) -> Caller {
    Caller {
        org_id: org.to_string(),
        base_url: format!("https://portal.test/scim/v2/{org}"),
        user_agent: Some("core-test".into()),
        request_id: None,
        policy: None,
    }
}

async fn user(t: &TestServices, c: &Caller, name: &str) -> String {
    let (u, _) = provisioning::create(
        &t.svc,
        c,
        &json!({"userName": format!("{name}@acme.test"), "displayName": name}),
    )
    .await
    .unwrap();
    u.id
}

/// `n` users inserted in bulk (the SCIM path would take minutes for 10,000).
async fn bulk_users(t: &TestServices, org: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("bulk{org}{i:06}")).collect();
    for chunk in ids.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO users (id, org_id, user_name, active, source, attributes, version, created_at, updated_at) VALUES ",
        );
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "('{id}', '{org}', '{id}@acme.test', 1, 'scim', '{{\"userName\":\"{id}@acme.test\"}}', 1, 0, 0)"
            ));
        }
        sqlx::query(&sql).execute(&t.svc.db.pool).await.unwrap();
    }
    ids
}

async fn member_rows(t: &TestServices, group: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1")
        .bind(group)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

fn add(ids: &[&str]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members",
            "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]
    })
}

fn remove_one(id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]
    })
}

db_test!(
    ten_thousand_members_one_added_and_one_removed_touch_one_row,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let c = caller(&org.id);
        let ids = bulk_users(&t, &org.id, 10_001).await;
        let members: Vec<Value> = ids[..10_000].iter().map(|i| json!({"value": i})).collect();
        let (g, m) = groups::create(
            &t.svc,
            &c,
            &json!({"displayName": "Everyone", "members": members}),
        )
        .await
        .unwrap();
        assert_eq!(m.len(), 10_000);
        // Mark every existing row, so that a rewrite of the list would show.
        sqlx::query("UPDATE group_members SET added_at = 7 WHERE group_id = $1")
            .bind(&g.id)
            .execute(&t.svc.db.pool)
            .await
            .unwrap();
        t.clock.advance_ms(60_000);
        let (_, none) = groups::patch(&t.svc, &c, &g.id, &add(&[&ids[10_000]]), None, false)
            .await
            .unwrap();
        assert!(none.is_none(), "members are not read when not asked for");
        assert_eq!(member_rows(&t, &g.id).await, 10_001);
        let untouched: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1 AND added_at = 7",
        )
        .bind(&g.id)
        .fetch_one(&t.svc.db.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        assert_eq!(
            untouched, 10_000,
            "the existing memberships were not rewritten"
        );
        groups::patch(&t.svc, &c, &g.id, &remove_one(&ids[5]), None, false)
            .await
            .unwrap();
        assert_eq!(member_rows(&t, &g.id).await, 10_000);
        let (_, m) = groups::get(&t.svc, &c, &g.id, true).await.unwrap();
        let m = m.unwrap();
        assert_eq!(m.len(), 10_000);
        assert!(!m.iter().any(|x| x.user_id == ids[5]));
        assert!(m.iter().any(|x| x.user_id == ids[10_000]));
        let (after, _) = groups::get(&t.svc, &c, &g.id, false).await.unwrap();
        assert_eq!(after.version, 3);
    }
);

db_test!(
    two_concurrent_adds_of_the_same_member_make_one_membership,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let c = caller(&org.id);
        let ann = user(&t, &c, "ann").await;
        let (g, _) = groups::create(&t.svc, &c, &json!({"displayName": "Sales"}))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let svc = t.svc.clone();
            let c = c.clone();
            let gid = g.id.clone();
            let body = add(&[&ann]);
            tasks.push(tokio::spawn(async move {
                groups::patch(&svc, &c, &gid, &body, None, false).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(member_rows(&t, &g.id).await, 1);
        let (after, m) = groups::get(&t.svc, &c, &g.id, true).await.unwrap();
        assert_eq!(m.unwrap().len(), 1);
        assert_eq!(after.version, 9, "each PATCH bumped the version once");
    }
);

db_test!(
    two_concurrent_creates_of_one_display_name_make_one_group,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let c = caller(&org.id);
        let mut tasks = Vec::new();
        for i in 0..6 {
            let svc = t.svc.clone();
            let c = c.clone();
            let name = if i % 2 == 0 {
                "Engineering"
            } else {
                "ENGINEERING"
            };
            tasks.push(tokio::spawn(async move {
                groups::create(&svc, &c, &json!({"displayName": name})).await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(e.status, 409, "{e}");
                    assert_eq!(e.scim_type.unwrap().as_str(), "uniqueness");
                }
            }
        }
        assert_eq!(ok, 1);
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM groups WHERE org_id = $1")
            .bind(&org.id)
            .fetch_one(&t.svc.db.pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(n, 1);
    }
);

db_test!(
    deleting_a_user_removes_its_memberships_and_another_orgs_user_is_refused,
    |t: TestServices| async move {
        let (org, _) = org_with_admin(&t.svc, "Acme", "a@acme.test").await;
        let (other, _) = org_with_admin(&t.svc, "Globex", "a@globex.test").await;
        let c = caller(&org.id);
        let co = caller(&other.id);
        let ann = user(&t, &c, "ann").await;
        let bob = user(&t, &c, "bob").await;
        let eve = user(&t, &co, "eve").await;
        let (g, _) = groups::create(
            &t.svc,
            &c,
            &json!({"displayName": "Sales", "members": [{"value": ann}, {"value": bob}]}),
        )
        .await
        .unwrap();
        // Another org's user: refused, nothing written.
        let e = groups::patch(&t.svc, &c, &g.id, &add(&[&eve]), None, false)
            .await
            .unwrap_err();
        assert_eq!(
            (e.status, e.scim_type.unwrap().as_str()),
            (400, "invalidValue")
        );
        let e = groups::create(
            &t.svc,
            &c,
            &json!({"displayName": "Mixed", "members": [{"value": ann}, {"value": eve}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(member_rows(&t, &g.id).await, 2);
        // Another org cannot see or change the group.
        assert_eq!(
            groups::get(&t.svc, &co, &g.id, true)
                .await
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            groups::patch(&t.svc, &co, &g.id, &add(&[&eve]), None, false)
                .await
                .unwrap_err()
                .status,
            404
        );
        // Soft delete: the membership goes.
        provisioning::delete(&t.svc, &c, &bob, None).await.unwrap();
        let (_, m) = groups::get(&t.svc, &c, &g.id, true).await.unwrap();
        let m = m.unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].user_id, ann);
        assert_eq!(member_rows(&t, &g.id).await, 1);
        // A deleted user cannot be added back.
        let e = groups::patch(&t.svc, &c, &g.id, &add(&[&bob]), None, false)
            .await
            .unwrap_err();
        assert_eq!(e.status, 400);
        // The screen's counts and the user's groups.
        let s = groups::summaries(&t.svc, &org.id).await.unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].member_count, 1);
        let mut conn = t.svc.db.pool.acquire().await.unwrap();
        let of = groups::groups_of_users(&mut conn, &org.id, &[ann.clone(), bob.clone()])
            .await
            .unwrap();
        assert_eq!(of[&ann], vec![(g.id.clone(), "Sales".to_string())]);
        assert!(!of.contains_key(&bob));
        // Deleting the group leaves the users.
        groups::delete(&t.svc, &c, &g.id, None).await.unwrap();
        assert_eq!(member_rows(&t, &g.id).await, 0);
        assert!(provisioning::get(&t.svc, &c, &ann).await.is_ok());
        let names: Vec<String> = portal_core::events::recent(&t.svc.db, &org.id, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        for ev in [
            "group_create_provision",
            "group_update_provision",
            "group_delete_provision",
        ] {
            assert!(names.iter().any(|n| n == ev), "{ev} in {names:?}");
        }
    }
);
