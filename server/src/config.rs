//! Typed configuration from environment variables and CLI flags, validated at start.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

#[derive(Args, Clone)]
pub struct Config {
    /// `sqlite://PATH` (default, created on first run) or `postgres://USER:PASS@HOST:PORT/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/portal.db",
        global = true
    )]
    pub database_url: String,

    /// The externally visible base URL (scheme, host, optional port; no path). Used for SAML and
    /// SCIM URLs and to decide whether cookies are `Secure`.
    #[arg(
        long,
        env = "PUBLIC_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub public_url: String,

    /// Address to listen on. Defaults to cargo-leptos's `LEPTOS_SITE_ADDR`, else 127.0.0.1:3000.
    #[arg(long, env = "LISTEN_ADDR", global = true)]
    pub listen_addr: Option<SocketAddr>,

    /// cargo-leptos's address variable: the listen address when `LISTEN_ADDR` is not set.
    #[arg(long, env = "LEPTOS_SITE_ADDR", global = true, hide = true)]
    pub leptos_site_addr: Option<SocketAddr>,

    /// A second listener serving Prometheus metrics at `/metrics` (off when unset). Keep it
    /// private: it is never served on the public listener.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// `text` for people, `json` for log collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Maximum database connections per server instance.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16, global = true)]
    pub db_max_connections: u32,

    /// Admin sessions end after this many minutes without a request.
    #[arg(
        long,
        env = "SESSION_IDLE_MINUTES",
        default_value_t = 480,
        global = true
    )]
    pub session_idle_minutes: u32,

    /// Where mail goes: `file://DIR` (one .eml per message) or `smtp://[user:pass@]host[:port][?starttls=required|opportunistic|never]` or `smtps://…`.
    #[arg(
        long,
        env = "MAIL_URL",
        default_value = "file://data/outbox",
        global = true
    )]
    pub mail_url: String,

    /// The sender of the portal's mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Identity portal <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Minutes an employee's magic link stays valid.
    #[arg(
        long,
        env = "MAGIC_LINK_TTL_MINUTES",
        default_value_t = 15,
        global = true
    )]
    pub magic_link_ttl_minutes: u32,

    /// How many proxies of yours stand in front of the server. The client address (for sign-in
    /// limits) is then read from `X-Forwarded-For` counting that many entries from the right —
    /// the entries further left are whatever the client sent. 0: the socket's peer address.
    #[arg(long, env = "TRUSTED_PROXIES", default_value_t = 0, global = true)]
    pub trusted_proxies: u8,

    /// Older spelling of `--trusted-proxies 1`.
    #[arg(
        long,
        env = "TRUST_FORWARDED_FOR",
        default_value_t = false,
        global = true,
        hide = true
    )]
    pub trust_forwarded_for: bool,

    /// Open connections the server accepts at once; further clients wait in the listen queue.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 2048, global = true)]
    pub max_connections: u32,

    /// SCIM request log (issue 13): days each SCIM request (redacted) is kept; 0 turns the log off.
    #[arg(
        long,
        env = "SCIM_REQUEST_LOG_RETENTION_DAYS",
        default_value_t = portal_core::scim_requests::DEFAULT_RETENTION_DAYS,
        global = true
    )]
    pub scim_request_log_retention_days: u32,
}

/// Where the server listens when neither `LISTEN_ADDR` nor `LEPTOS_SITE_ADDR` says.
pub const DEFAULT_LISTEN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    3000,
));

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The configuration after validation.
#[derive(Clone)]
pub struct Validated {
    pub database_url: String,
    /// No trailing slash.
    pub public_url: String,
    pub public_origin: String,
    pub secure_cookies: bool,
    /// `LISTEN_ADDR`, else `LEPTOS_SITE_ADDR`, else [`DEFAULT_LISTEN_ADDR`].
    pub listen_addr: SocketAddr,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub db_max_connections: u32,
    pub session_idle_minutes: u32,
    /// Proxies of ours in front of the server (see `Config::trusted_proxies`).
    pub trusted_proxies: u8,
    pub max_connections: u32,
    pub mail_url: String,
    pub mail_from: String,
    pub magic_link_ttl_minutes: u32,
    /// SCIM request log (issue 13): days kept; 0: not logged.
    pub scim_request_log_retention_days: u32,
}

impl std::fmt::Debug for Validated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("listen_addr", &self.listen_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("log_format", &self.log_format)
            .field("db_max_connections", &self.db_max_connections)
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_connections", &self.max_connections)
            .field("mail_url", &redact_url(&self.mail_url))
            .field("mail_from", &self.mail_from)
            .field("magic_link_ttl_minutes", &self.magic_link_ttl_minutes)
            .field(
                "scim_request_log_retention_days",
                &self.scim_request_log_retention_days,
            )
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) if raw.starts_with("file://") => raw.to_string(),
        Err(_) => "<unparsable>".to_string(),
    }
}

impl Config {
    pub fn validate(&self) -> Result<Validated, String> {
        portal_core::db::Backend::from_url(&self.database_url).map_err(|e| e.to_string())?;
        if self.database_url.starts_with("postgres") {
            url::Url::parse(&self.database_url)
                .map_err(|e| format!("DATABASE_URL is not a valid URL: {e}"))?;
        }
        let public = url::Url::parse(self.public_url.trim())
            .map_err(|e| format!("PUBLIC_URL is not a valid URL: {e}"))?;
        if !matches!(public.scheme(), "http" | "https") {
            return Err("PUBLIC_URL must start with http:// or https://".into());
        }
        if public.host_str().is_none() {
            return Err("PUBLIC_URL has no host".into());
        }
        if public.path() != "/" || public.query().is_some() || public.fragment().is_some() {
            return Err(
                "PUBLIC_URL must be a bare origin such as https://portal.example.com (no path)"
                    .into(),
            );
        }
        if public.scheme() == "http"
            && !matches!(public.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        {
            tracing::warn!(
                "PUBLIC_URL is plain http on a non-local host: cookies will not be Secure"
            );
        }
        let origin = public.origin().ascii_serialization();
        if self.db_max_connections == 0 {
            return Err("DB_MAX_CONNECTIONS must be at least 1".into());
        }
        if self.max_connections == 0 {
            return Err("MAX_CONNECTIONS must be at least 1".into());
        }
        if self.session_idle_minutes == 0 {
            return Err("SESSION_IDLE_MINUTES must be at least 1".into());
        }
        if !(1..=1440).contains(&self.magic_link_ttl_minutes) {
            return Err("MAGIC_LINK_TTL_MINUTES must be between 1 and 1440".into());
        }
        if self.scim_request_log_retention_days > 3650 {
            return Err("SCIM_REQUEST_LOG_RETENTION_DAYS must be between 0 (off) and 3650".into());
        }
        portal_core::mail::Mailer::from_url(&self.mail_url, &self.mail_from)?;
        Ok(Validated {
            scim_request_log_retention_days: self.scim_request_log_retention_days,
            mail_url: self.mail_url.clone(),
            mail_from: self.mail_from.clone(),
            magic_link_ttl_minutes: self.magic_link_ttl_minutes,
            database_url: self.database_url.clone(),
            public_url: origin.clone(),
            public_origin: origin,
            secure_cookies: public.scheme() == "https",
            listen_addr: self
                .listen_addr
                .or(self.leptos_site_addr)
                .unwrap_or(DEFAULT_LISTEN_ADDR),
            metrics_addr: self.metrics_addr,
            log_format: self.log_format,
            db_max_connections: self.db_max_connections,
            session_idle_minutes: self.session_idle_minutes,
            trusted_proxies: if self.trusted_proxies == 0 && self.trust_forwarded_for {
                1
            } else {
                self.trusted_proxies
            },
            max_connections: self.max_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        c: Config,
    }

    fn parse(args: &[&str]) -> Result<Validated, String> {
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        T::try_parse_from(all)
            .map_err(|e| e.to_string())?
            .c
            .validate()
    }

    #[test]
    fn defaults_are_valid() {
        let v = parse(&[]).unwrap();
        assert!(!v.secure_cookies);
        assert_eq!(v.public_url, "http://127.0.0.1:3000");
    }

    #[test]
    fn the_listen_address_is_listen_addr_else_leptos_site_addr_else_the_default() {
        // Parsed from flags here; the binary reads the same settings from the environment
        // (`server/tests/integration/observability.rs` runs it with only LEPTOS_SITE_ADDR set).
        if std::env::var_os("LISTEN_ADDR").is_none() {
            let v = parse(&["--leptos-site-addr", "127.0.0.1:4001"]).unwrap();
            assert_eq!(v.listen_addr, "127.0.0.1:4001".parse().unwrap());
        }
        let v = parse(&[
            "--leptos-site-addr",
            "127.0.0.1:4001",
            "--listen-addr",
            "0.0.0.0:8080",
        ])
        .unwrap();
        assert_eq!(v.listen_addr, "0.0.0.0:8080".parse().unwrap());
        assert!(parse(&["--leptos-site-addr", "nonsense"])
            .unwrap_err()
            .contains("leptos-site-addr"));
        assert_eq!(
            parse(&["--metrics-addr", "127.0.0.1:9100"])
                .unwrap()
                .metrics_addr,
            Some("127.0.0.1:9100".parse().unwrap())
        );
    }

    #[test]
    fn https_makes_cookies_secure() {
        let v = parse(&["--public-url", "https://portal.example.com/"]).unwrap();
        assert!(v.secure_cookies);
        assert_eq!(v.public_url, "https://portal.example.com");
    }

    #[test]
    fn bad_values_are_refused_with_a_message() {
        assert!(parse(&["--database-url", "mysql://x"])
            .unwrap_err()
            .contains("DATABASE_URL"));
        assert!(parse(&["--database-url", "nonsense"])
            .unwrap_err()
            .contains("DATABASE_URL"));
        assert!(parse(&["--public-url", "ftp://x"])
            .unwrap_err()
            .contains("PUBLIC_URL"));
        assert!(parse(&["--public-url", "https://x.com/path"])
            .unwrap_err()
            .contains("PUBLIC_URL"));
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let v = parse(&["--database-url", "postgres://u:hunter2@db/portal"]).unwrap();
        let s = format!("{v:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("***"));
    }
}
