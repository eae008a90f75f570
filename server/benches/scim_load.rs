//! SCIM load benchmark (not a test): provisions users through the real HTTP stack with concurrent
//! clients and prints throughput and latency percentiles per phase.
//!
//! cargo bench -p server --bench scim_load                 # SQLite, 1,000 users, 8 clients
//! SCIM_BENCH_USERS=2000 SCIM_BENCH_CLIENTS=32 cargo bench -p server --bench scim_load
//! PORTAL_TEST_PG_URL=postgres://… cargo bench -p server --bench scim_load -- postgres
//! SCIM_BENCH_SCALE=100000 …                              # also seed N users and time list pages
//!   SCIM_BENCH_SCALE_PAGES=2000 (list requests per run, default 400), SCIM_BENCH_SCALE_LIST_ONLY=1
//!   (stop after the list runs, e.g. to profile them)
//!
//! Every run first measures an axum hello-world endpoint on the same loopback with the same
//! clients (the floor: what this machine's HTTP stack can do at all) and prints each phase's
//! throughput as a fraction of it. `make bench` runs the whole set (scripts/bench.sh).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leptos::config::LeptosOptions;
use portal_core::Backend;
use portal_server::config::{LogFormat, Validated};
use portal_server::{AppState, AppStateParts};
use portal_test_support as fixture;
use serde_json::{json, Value};

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

struct Phase {
    name: &'static str,
    lat: Vec<Duration>,
    wall: Duration,
}

/// The hello-world floor's throughput (req/s), once measured.
static FLOOR: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

impl Phase {
    fn print(&mut self) -> f64 {
        self.lat.sort();
        let n = self.lat.len();
        let pct = |p: f64| self.lat[((n as f64 * p).ceil() as usize).clamp(1, n) - 1];
        let rate = n as f64 / self.wall.as_secs_f64();
        let ratio = FLOOR
            .get()
            .map(|f| format!("{:>5.1}% of floor", rate / f * 100.0))
            .unwrap_or_default();
        println!(
            "{:<22} {:>6} req {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   {ratio}",
            self.name,
            n,
            rate,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3
        );
        rate
    }
}

/// Peak resident memory of this process (server and load generator together), from Linux.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The floor: an axum hello-world endpoint on the same loopback, same clients, same client code.
async fn measure_floor(http: &reqwest::Client, total: usize, clients: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/hello",
        axum::routing::get(|| async { axum::Json(json!({"hello": "world"})) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = Arc::new(format!("http://{addr}/hello"));
    let h = http.clone();
    let mut p = run_phase("hello-world floor", total, clients, move |_| {
        let h = h.clone();
        let url = url.clone();
        async move {
            let r = h.get(url.as_str()).send().await.unwrap();
            let st = r.status().as_u16();
            let _ = r.bytes().await;
            st
        }
    })
    .await;
    let rate = p.print();
    let _ = FLOOR.set(rate);
}

async fn run_phase<F, Fut>(name: &'static str, total: usize, clients: usize, f: F) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u16> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let f = f.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                let status = f(i).await;
                lat.push(t.elapsed());
                assert!(status < 300, "{name} request {i} answered {status}");
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client task"));
    }
    Phase {
        name,
        lat,
        wall: start.elapsed(),
    }
}

/// 50 timed runs of one admin Users page read (the same core function the Users screen's server
/// function calls); `read` answers the page's total, which `ok` checks.
async fn users_page_phase<Fut: std::future::Future<Output = i64>>(
    label: &'static str,
    read: impl Fn() -> Fut,
    ok: impl Fn(i64) -> bool,
) {
    let mut lat = Vec::new();
    let start = Instant::now();
    for _ in 0..50 {
        let t = Instant::now();
        let total = read().await;
        assert!(ok(total), "{label}: {total} users");
        lat.push(t.elapsed());
    }
    Phase {
        name: label,
        lat,
        wall: start.elapsed(),
    }
    .print();
}

fn body(i: usize) -> Value {
    let u = format!("user{i}@bench.test");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": u, "externalId": format!("E{i}"), "active": true,
        "name": {"givenName": format!("Given{i}"), "familyName": "Bench"},
        "emails": [{"value": u, "type": "work", "primary": true}],
        "addresses": [{"type": "work", "country": "FI", "locality": "Helsinki"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
    })
}

async fn seed(svc: &portal_core::Services, org: &str, n: usize) {
    // Fast path: the same rows the API writes, in large transactions.
    let start = Instant::now();
    let mut done = 0;
    while done < n {
        let mut tx = svc.db.begin_write().await.unwrap();
        for i in done..(done + 5000).min(n) {
            let nb = scim_core::normalize_user(&body(1_000_000 + i)).unwrap();
            portal_core::users::insert(
                &mut tx,
                org,
                &portal_core::ids::new_id(),
                &nb.resource,
                portal_core::users::Source::Scim,
                1_700_000_000_000 + i as i64,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        done = (done + 5000).min(n);
    }
    println!("seeded {n} users in {:.1} s", start.elapsed().as_secs_f64());
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async_main());
}

async fn async_main() {
    let backend = if std::env::args().any(|a| a == "postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let users = env_usize("SCIM_BENCH_USERS", 1000);
    let clients = env_usize("SCIM_BENCH_CLIENTS", 8);
    let scale = env_usize("SCIM_BENCH_SCALE", 0);
    let mut t = fixture::services(backend).await;
    let _dir = t.tdb.dir.take();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let config = Validated {
        database_url: t.tdb.url.clone(),
        public_url: url.clone(),
        public_origin: url.clone(),
        secure_cookies: false,
        listen_addr: addr,
        metrics_addr: None,
        log_format: LogFormat::Text,
        db_max_connections: 16,
        session_idle_minutes: 60,
        trusted_proxies: 0,
        max_connections: 2048,
        mail_url: format!(
            "file://{}/outbox",
            std::env::temp_dir()
                .join(format!("portal-mail-{}", portal_core::ids::new_org_id()))
                .display()
        ),
        mail_from: "Portal <no-reply@example.test>".into(),
        magic_link_ttl_minutes: 15,
        // SCIM request log (issue 13): 0 measures the SCIM path without it.
        scim_request_log_retention_days: std::env::var("SCIM_BENCH_REQUEST_LOG_DAYS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    };
    let svc = portal_server::services(t.svc.db.clone(), &config, portal_server::system_clock());
    let state = AppState::new(AppStateParts {
        services: svc.clone(),
        leptos_options: LeptosOptions::builder().output_name("portal").build(),
        config: Arc::new(config),
        metrics: Default::default(),
        scim_log: Default::default(),
    });
    tokio::spawn(async move { portal_server::serve_on(state, listener).await });
    let (org, _, _) = portal_core::admins::create_admin(
        &svc,
        portal_core::admins::NewAdmin {
            org_name: "Bench",
            email: "bench@bench.test",
            password: "bench password 123",
        },
    )
    .await
    .unwrap();
    let token = portal_core::scim_tokens::generate(&svc, &org.id, "bench")
        .await
        .unwrap()
        .into_exposed();
    let base = Arc::new(format!("{url}/scim/v2/{}", org.id));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    println!(
        "SCIM load: {backend:?}, {users} users, {clients} concurrent clients, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    measure_floor(&http, users.max(2000), clients).await;

    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); users]));
    macro_rules! phase {
        ($name:expr, $n:expr, |$i:ident, $h:ident, $b:ident, $tok:ident, $ids:ident| $body:expr) => {{
            let http = http.clone();
            let base = base.clone();
            let token = token.clone();
            let ids = ids.clone();
            let mut p = run_phase($name, $n, clients, move |$i| {
                let $h = http.clone();
                let $b = base.clone();
                let $tok = token.clone();
                let $ids = ids.clone();
                async move { $body }
            })
            .await;
            p.print();
        }};
    }
    phase!("create (POST)", users, |i, h, b, tok, ids| {
        let r = h
            .post(format!("{b}/Users"))
            .bearer_auth(&tok)
            .json(&body(i))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        ids.lock().unwrap()[i] = v["id"].as_str().unwrap_or_default().to_string();
        st
    });
    phase!("lookup userName eq", users, |i, h, b, tok, _ids| {
        let r = h
            .get(format!("{b}/Users"))
            .query(&[("filter", format!("userName eq \"user{i}@bench.test\""))])
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let _ = r.bytes().await;
        st
    });
    phase!("get", users, |i, h, b, tok, ids| {
        let id = ids.lock().unwrap()[i].clone();
        let r = h
            .get(format!("{b}/Users/{id}"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let _ = r.bytes().await;
        st
    });
    phase!("replace (PUT)", users, |i, h, b, tok, ids| {
        let id = ids.lock().unwrap()[i].clone();
        let mut v = body(i);
        v["title"] = json!("Engineer");
        let r = h
            .put(format!("{b}/Users/{id}"))
            .bearer_auth(&tok)
            .json(&v)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let _ = r.bytes().await;
        st
    });
    phase!("PATCH", users, |i, h, b, tok, ids| {
        let id = ids.lock().unwrap()[i].clone();
        let v = json!({"Operations": [{"op": "replace", "path": "name.familyName", "value": "Patched"}]});
        let r = h
            .patch(format!("{b}/Users/{id}"))
            .bearer_auth(&tok)
            .json(&v)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let _ = r.bytes().await;
        st
    });
    // SCIM Groups (issue 13): one member added to / removed from a 10,000-member group, beside
    // the user PATCH above; the cost must not grow with the group (one row per member).
    let big_group = {
        let mut member_ids = Vec::with_capacity(10_000);
        let mut tx = svc.db.begin_write().await.unwrap();
        for i in 0..10_000 {
            let nb = scim_core::normalize_user(&body(2_000_000 + i)).unwrap();
            let id = portal_core::ids::new_id();
            portal_core::users::insert(
                &mut tx,
                &org.id,
                &id,
                &nb.resource,
                portal_core::users::Source::Scim,
                1_700_000_000_000,
            )
            .await
            .unwrap();
            member_ids.push(json!({ "value": id }));
        }
        tx.commit().await.unwrap();
        let caller = portal_core::provisioning::Caller {
            org_id: org.id.clone(),
            base_url: base.to_string(),
            user_agent: Some("bench".into()),
            request_id: None,
            policy: None,
        };
        let (g, m) = portal_core::groups::create(
            &svc,
            &caller,
            &json!({"displayName": "Everyone (bench)", "members": member_ids}),
        )
        .await
        .unwrap();
        assert_eq!(m.len(), 10_000);
        g.id
    };
    let group_url = Arc::new(format!("{base}/Groups/{big_group}"));
    for (name, op) in [
        ("group +1 (10k members)", "add"),
        ("group -1 (10k members)", "remove"),
    ] {
        let http = http.clone();
        let group_url = group_url.clone();
        let token = token.clone();
        let ids = ids.clone();
        let mut p = run_phase(name, users, clients, move |i| {
            let h = http.clone();
            let url = group_url.clone();
            let tok = token.clone();
            let id = ids.lock().unwrap()[i].clone();
            async move {
                let v = if op == "add" {
                    json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]})
                } else {
                    json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
                };
                let r = h
                    .patch(url.as_str())
                    .bearer_auth(&tok)
                    .json(&v)
                    .send()
                    .await
                    .unwrap();
                let st = r.status().as_u16();
                let _ = r.bytes().await;
                st
            }
        })
        .await;
        p.print();
    }
    let pages = (users / 100).max(1);
    phase!("list page (100 users)", pages * 20, |i, h, b, tok, _ids| {
        let start = (i % pages) * 100 + 1;
        let r = h
            .get(format!("{b}/Users?startIndex={start}&count=100"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let _ = r.bytes().await;
        st
    });
    phase!("delete", users, |i, h, b, tok, ids| {
        let id = ids.lock().unwrap()[i].clone();
        h.delete(format!("{b}/Users/{id}"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });

    if scale > 0 {
        seed(&svc, &org.id, scale).await;
        if backend == Backend::Postgres {
            // What autovacuum does within a minute of a bulk load: statistics, the visibility map
            // (index-only walks) and the GIN indexes' pending entries merged.
            let t = Instant::now();
            sqlx::query("VACUUM ANALYZE users")
                .execute(&svc.db.pool)
                .await
                .unwrap();
            println!("VACUUM ANALYZE users: {:.1} s", t.elapsed().as_secs_f64());
        }
        let pages = scale / 100;
        let list_requests = env_usize("SCIM_BENCH_SCALE_PAGES", 400);
        // The first run finds the deep pages' seek keys (crate::list_seek) as it goes; the second
        // runs with them known, as every run after the organisation's last create or delete does.
        for name in ["list page @scale", "list page @scale again"] {
            phase!(name, list_requests, |i, h, b, tok, _ids| {
                // Spread over the whole range, deep pages included.
                let start = ((i * 7919) % pages) * 100 + 1;
                let r = h
                    .get(format!("{b}/Users?startIndex={start}&count=100"))
                    .bearer_auth(&tok)
                    .send()
                    .await
                    .unwrap();
                let st = r.status().as_u16();
                let _ = r.bytes().await;
                st
            });
        }
        if std::env::var_os("SCIM_BENCH_SCALE_LIST_ONLY").is_some() {
            return;
        }
        // The admin Users page's server time (the server function's query work), 50 runs each.
        for (label, q) in [
            (
                "users page 1",
                portal_core::admin_views::UsersQuery {
                    page: 1,
                    ..Default::default()
                },
            ),
            (
                "users deep page",
                portal_core::admin_views::UsersQuery {
                    page: 1900,
                    ..Default::default()
                },
            ),
            (
                "users search",
                portal_core::admin_views::UsersQuery {
                    search: "user1000123".into(),
                    ..Default::default()
                },
            ),
            (
                "users search 'Given12'",
                portal_core::admin_views::UsersQuery {
                    search: "Given12".into(),
                    ..Default::default()
                },
            ),
            (
                "users search 'us' (short)",
                portal_core::admin_views::UsersQuery {
                    search: "us".into(),
                    ..Default::default()
                },
            ),
            (
                "users search 'qz' (short, no match)",
                portal_core::admin_views::UsersQuery {
                    search: "qz".into(),
                    ..Default::default()
                },
            ),
            (
                "users search 'bench' (every user)",
                portal_core::admin_views::UsersQuery {
                    search: "bench".into(),
                    ..Default::default()
                },
            ),
            (
                "users filter",
                portal_core::admin_views::UsersQuery {
                    status: Some(portal_core::admin_views::UserStatus::Active),
                    source: Some(portal_core::admin_views::UserSource::Scim),
                    page: 3,
                    ..Default::default()
                },
            ),
        ] {
            let (svc, org_id, q) = (&svc, &org.id, &q);
            users_page_phase(
                label,
                move || async move {
                    portal_core::admin_views::list_users(svc, org_id, q)
                        .await
                        .unwrap()
                        .total
                },
                |total| total > 0 || label.contains("no match"),
            )
            .await;
        }
        // A 100-user organisation beside the 100,000-user one, its users matching the same term:
        // its search reads its own entries (what list_users picks for it), not the trigram index
        // every organisation shares (which would read the large organisation's matches too).
        let (small, _, _) = portal_core::admins::create_admin(
            &svc,
            portal_core::admins::NewAdmin {
                org_name: "Small",
                email: "small@small.test",
                password: "bench password 123",
            },
        )
        .await
        .unwrap();
        seed(&svc, &small.id, 100).await;
        for (label, index) in [
            (
                "small org search 'bench', own entries",
                portal_core::admin_views::SearchIndex::Text,
            ),
            (
                "small org search 'bench', trigram index",
                portal_core::admin_views::SearchIndex::Trigram,
            ),
        ] {
            let q = portal_core::admin_views::UsersQuery {
                search: "bench".into(),
                ..Default::default()
            };
            let (svc, org_id, q) = (&svc, &small.id, &q);
            users_page_phase(
                label,
                move || async move {
                    portal_core::admin_views::list_users_with(
                        svc,
                        org_id,
                        q,
                        portal_core::admin_views::SEARCH_COUNT_CAP,
                        index,
                    )
                    .await
                    .unwrap()
                    .total
                },
                |total| total == 100,
            )
            .await;
        }
        phase!("lookup @scale", 2000, |i, h, b, tok, _ids| {
            let n = 1_000_000 + (i * 7919) % scale;
            let r = h
                .get(format!("{b}/Users"))
                .query(&[("filter", format!("userName eq \"user{n}@bench.test\""))])
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            let _ = r.bytes().await;
            st
        });
        // A JumpCloud-style no-change sync cycle: one `userName eq` lookup per user.
        let cycle = Instant::now();
        phase!("no-change cycle", scale, |i, h, b, tok, _ids| {
            let n = 1_000_000 + i;
            let r = h
                .get(format!("{b}/Users"))
                .query(&[("filter", format!("userName eq \"user{n}@bench.test\""))])
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            assert_eq!(body["totalResults"], 1, "user{n} is found");
            st
        });
        println!(
            "no-change cycle over {scale} users: {:.1} s",
            cycle.elapsed().as_secs_f64()
        );
        // A full import listing, as an IdP's initial import walks it: count=100 pages in order.
        let listing = Instant::now();
        let mut seen = 0usize;
        let mut start = 1usize;
        loop {
            let r: Value = http
                .get(format!("{base}/Users?startIndex={start}&count=100"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let got = r["Resources"].as_array().map(|a| a.len()).unwrap_or(0);
            seen += got;
            if got < 100 {
                break;
            }
            start += 100;
        }
        println!(
            "full listing of {seen} users in count=100 pages: {:.1} s",
            listing.elapsed().as_secs_f64()
        );
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak RSS (server + load generator in one process): {mb:.0} MB");
    }
}
