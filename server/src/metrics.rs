//! Prometheus metrics without a metrics framework: a few counters kept here, gauges read from the
//! services at scrape time, rendered in the text exposition format (version 0.0.4).
//!
//! Served only on the private listener `METRICS_ADDR` (`crate::serve_on`), never on the public one.
//! Every label value comes from a closed set (route templates, status codes, fixed names), so the
//! number of series stays bounded whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use portal_core::Services;

/// Upper bounds (seconds) of the request-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of requests no route matched (static files, 404s).
pub const UNMATCHED: &str = "unmatched";

/// What an ACS post came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamlOutcome {
    SignedIn,
    /// An admin's Test sign-in finished (nobody was signed in).
    Tested,
    Refused,
    /// The server could not decide (database unavailable and the like).
    Error,
}

impl SamlOutcome {
    const ALL: [Self; 4] = [Self::SignedIn, Self::Tested, Self::Refused, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::SignedIn => "signed_in",
            Self::Tested => "tested",
            Self::Refused => "refused",
            Self::Error => "error",
        }
    }
}

#[derive(Default)]
struct Durations {
    /// Per bucket of `DURATION_BUCKETS`, requests at or under its bound (not cumulative here).
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → durations.
    durations: Mutex<BTreeMap<(String, String), Durations>>,
    /// (operation, result) → SCIM operations.
    scim: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    saml: [AtomicU64; 4],
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The SCIM operation a request to a SCIM route is, from its method and route template.
fn scim_operation(method: &Method, route: &str) -> Option<&'static str> {
    let rest = route.strip_prefix("/scim/v2/{org_id}")?;
    Some(match (method.as_str(), rest) {
        ("POST", "/Users") => "create",
        ("GET", "/Users") => "list",
        ("POST", "/Users/.search" | "/.search") => "search",
        ("GET", "/Users/{id}") => "get",
        ("PUT", "/Users/{id}") => "replace",
        ("PATCH", "/Users/{id}") => "patch",
        ("DELETE", "/Users/{id}") => "delete",
        (_, r)
            if r.starts_with("/ServiceProviderConfig")
                || r.starts_with("/ResourceTypes")
                || r.starts_with("/Schemas") =>
        {
            "discovery"
        }
        _ => "other",
    })
}

fn scim_result(status: StatusCode) -> &'static str {
    if status.is_server_error() {
        "server_error"
    } else if status.is_client_error() {
        "client_error"
    } else {
        "success"
    }
}

impl Metrics {
    /// One finished request. `route` is the matched route template (`None`: no route matched).
    pub fn record_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        took: Duration,
    ) {
        let method_l = method_label(method);
        let route_l = route.unwrap_or(UNMATCHED);
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method_l.to_string(), route_l.to_string(), status.as_u16()))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.durations.lock() {
            let d = m
                .entry((method_l.to_string(), route_l.to_string()))
                .or_default();
            let secs = took.as_secs_f64();
            d.count += 1;
            d.sum_secs += secs;
            if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
                d.buckets[i] += 1;
            }
        }
        if let Some(op) = route.and_then(|r| scim_operation(method, r)) {
            if let Ok(mut m) = self.scim.lock() {
                *m.entry((op, scim_result(status))).or_default() += 1;
            }
        }
    }

    pub fn record_saml(&self, outcome: SamlOutcome) {
        let i = SamlOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.saml[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition of every metric, with the services' gauges read now.
    pub fn render(&self, svc: &Services, db_max_connections: u32) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "portal_http_requests_total",
            "counter",
            "HTTP requests by method, route template and status.",
        );
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "portal_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(method),
                    escape(route)
                );
            }
        }
        header(
            &mut out,
            "portal_http_request_duration_seconds",
            "histogram",
            "Time to the response's headers, by method and route template.",
        );
        if let Ok(m) = self.durations.lock() {
            for ((method, route), d) in m.iter() {
                let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
                let mut cumulative = 0;
                for (bound, n) in DURATION_BUCKETS.iter().zip(d.buckets) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "portal_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "portal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    d.count
                );
                let _ = writeln!(
                    out,
                    "portal_http_request_duration_seconds_sum{{{labels}}} {}",
                    d.sum_secs
                );
                let _ = writeln!(
                    out,
                    "portal_http_request_duration_seconds_count{{{labels}}} {}",
                    d.count
                );
            }
        }
        header(
            &mut out,
            "portal_scim_operations_total",
            "counter",
            "SCIM requests by operation and result (success, client_error, server_error).",
        );
        if let Ok(m) = self.scim.lock() {
            for ((op, result), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "portal_scim_operations_total{{operation=\"{op}\",result=\"{result}\"}} {n}"
                );
            }
        }
        header(
            &mut out,
            "portal_scim_token_checks_from_memory_total",
            "counter",
            "SCIM token checks answered from memory (the others read the database).",
        );
        let _ = writeln!(
            out,
            "portal_scim_token_checks_from_memory_total {}",
            svc.db.token_cache().hits()
        );
        header(
            &mut out,
            "portal_scim_request_log_unlogged_total",
            "counter",
            "SCIM requests left out of the request log: its queue was full, or their batch could not be written.",
        );
        let _ = writeln!(
            out,
            "portal_scim_request_log_unlogged_total {}",
            portal_core::scim_requests::unlogged()
        );
        header(
            &mut out,
            "portal_saml_acs_total",
            "counter",
            "SAML responses posted to the ACS, by outcome.",
        );
        for (o, n) in SamlOutcome::ALL.iter().zip(&self.saml) {
            let _ = writeln!(
                out,
                "portal_saml_acs_total{{outcome=\"{}\"}} {}",
                o.label(),
                n.load(Ordering::Relaxed)
            );
        }
        let argon2 = &svc.argon2;
        gauge(
            &mut out,
            "portal_argon2_pool_size",
            "Password hashes or verifications that may run at once.",
            argon2.size(),
        );
        gauge(
            &mut out,
            "portal_argon2_running",
            "Password hashes or verifications running now.",
            argon2.running(),
        );
        gauge(
            &mut out,
            "portal_argon2_waiting",
            "Password hashes or verifications queued for a slot now.",
            argon2.waiting(),
        );
        gauge(
            &mut out,
            "portal_argon2_peak_running",
            "The most password hashes or verifications seen running at once.",
            argon2.peak_concurrency(),
        );
        header(
            &mut out,
            "portal_argon2_verifications_total",
            "counter",
            "Password verifications run.",
        );
        let _ = writeln!(
            out,
            "portal_argon2_verifications_total {}",
            argon2.verifications()
        );
        let (statements, keys) = svc.db.lookup_counts();
        for (name, help, value) in [
            (
                "portal_scim_lookup_statements_total",
                "Statements that read SCIM userName lookups, several at once (issue 11).",
                statements,
            ),
            (
                "portal_scim_lookup_keys_total",
                "SCIM userName lookups answered by those statements.",
                keys,
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        let pool = &svc.db.pool;
        gauge(
            &mut out,
            "portal_db_pool_connections",
            "Open database connections (in use and idle).",
            pool.size(),
        );
        gauge(
            &mut out,
            "portal_db_pool_idle_connections",
            "Open database connections not in use (idle in the pool or kept for reads).",
            pool.num_idle() + svc.db.kept_for_reads(),
        );
        gauge(
            &mut out,
            "portal_db_pool_max_connections",
            "The pool's limit (DB_MAX_CONNECTIONS).",
            db_max_connections,
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_operations_are_named_by_method_and_route() {
        let op = |m: Method, r: &str| scim_operation(&m, r);
        assert_eq!(op(Method::POST, "/scim/v2/{org_id}/Users"), Some("create"));
        assert_eq!(
            op(Method::PATCH, "/scim/v2/{org_id}/Users/{id}"),
            Some("patch")
        );
        assert_eq!(
            op(Method::GET, "/scim/v2/{org_id}/Schemas/{id}"),
            Some("discovery")
        );
        assert_eq!(op(Method::GET, "/admin/users"), None);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn durations_fall_into_cumulative_buckets() {
        let m = Metrics::default();
        m.record_request(
            &Method::GET,
            Some("/healthz"),
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.record_request(
            &Method::GET,
            Some("/healthz"),
            StatusCode::OK,
            Duration::from_millis(30),
        );
        m.record_request(
            &Method::GET,
            None,
            StatusCode::NOT_FOUND,
            Duration::from_secs(20),
        );
        let d = m.durations.lock().unwrap();
        let h = &d[&("GET".to_string(), "/healthz".to_string())];
        assert_eq!(h.count, 2);
        assert_eq!(h.buckets[0], 1); // ≤ 5 ms
        assert_eq!(h.buckets[3], 1); // ≤ 50 ms
                                     // Over the last bound: only in +Inf (the count).
        let u = &d[&("GET".to_string(), UNMATCHED.to_string())];
        assert_eq!((u.count, u.buckets.iter().sum::<u64>()), (1, 0));
    }
}
