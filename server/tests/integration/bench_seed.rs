//! `server bench-seed` (hidden; `make bench`'s multi-tenant run): what it prints is usable, each
//! organisation's token reaches its own users only, and it refuses a database that has organisations.

use crate::common::*;
use serde_json::Value;

app_test!(
    bench_seed_creates_orgs_with_working_tokens_and_users,
    |app: TestApp| async move {
        let cli = server_cli().env("DATABASE_URL", app.t.tdb.url.clone());
        let out = cli.run(&["bench-seed", "--orgs", "3", "--users-per-org", "2"], "");
        assert!(out.success, "{}", out.stderr);
        let orgs: Vec<(String, String)> = out
            .stdout
            .lines()
            .map(|l| {
                let (org, token) = l.split_once(' ').unwrap();
                (org.to_string(), token.to_string())
            })
            .collect();
        assert_eq!(orgs.len(), 3, "{}", out.stdout);
        let lookup = |org: &str, token: &str, user_name: &str| {
            let url = format!("{}/scim/v2/{org}/Users", app.url);
            let filter = format!("userName eq \"{user_name}\"");
            let req = app
                .http
                .get(url)
                .query(&[("filter", filter.as_str())])
                .bearer_auth(token);
            async move {
                let res = sent(req, "GET", "/Users").await;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                (status, body)
            }
        };
        for (i, (org, token)) in orgs.iter().enumerate() {
            for j in 0..2 {
                let name = portal_server::bench_seed::user_name(i, j);
                let (status, body) = lookup(org, token, &name).await;
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["totalResults"], 1, "{name}: {body}");
                assert_eq!(body["Resources"][0]["userName"], name.as_str());
            }
            // Only the users asked for: no third user.
            let (_, body) = lookup(org, token, &portal_server::bench_seed::user_name(i, 2)).await;
            assert_eq!(body["totalResults"], 0, "{body}");
        }
        // Each token is its own organisation's: not another's users, not another's URL.
        let (o0, t0) = &orgs[0];
        let (o1, t1) = &orgs[1];
        let (_, body) = lookup(o0, t0, &portal_server::bench_seed::user_name(1, 0)).await;
        assert_eq!(body["totalResults"], 0, "{body}");
        let (status, _) = lookup(o1, t0, &portal_server::bench_seed::user_name(1, 0)).await;
        assert_eq!(status, 401);
        let (status, _) = lookup(o1, t1, &portal_server::bench_seed::user_name(1, 0)).await;
        assert_eq!(status, 200);
        // A second seed into the same database is refused before writing anything.
        let again = cli.run(&["bench-seed", "--orgs", "1", "--users-per-org", "1"], "");
        assert!(!again.success);
        assert!(
            again.stderr.contains("needs a fresh database"),
            "{}",
            again.stderr
        );
        assert!(again.stdout.is_empty());
    }
);
