use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use leptos::config::LeptosOptions;
use portal_core::admins::NewAdmin;
use portal_server::cli::{Cli, Command};
use portal_server::config::{LogFormat, Validated};
use portal_server::{services, system_clock, AppState, AppStateParts};

/// mimalloc instead of glibc's malloc (issue 11): multi-tenant SCIM lookups +32% on SQLite and
/// +15% on PostgreSQL (means of alternating runs), at about 30 MB more peak memory (BENCHMARKS.md,
/// "mimalloc"). Only the server binary: the test binaries keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal, never in a file or a log collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn leptos_options() -> LeptosOptions {
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        if let Ok(conf) = leptos::config::get_configuration(None) {
            return conf.leptos_options;
        }
    }
    LeptosOptions::builder()
        .output_name("portal")
        .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()))
        .build()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.config.log_format);
    let config = match cli.config.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Validated) -> anyhow::Result<()> {
    let db = portal_core::Db::open(&config.database_url, config.db_max_connections).await?;
    let svc = services(db, &config, system_clock());
    match command {
        Command::Serve => {
            let mut leptos_options = leptos_options();
            // LISTEN_ADDR, else LEPTOS_SITE_ADDR (also when the binary runs without
            // cargo-leptos), else 127.0.0.1:3000: resolved by `Config::validate`.
            let addr = config.listen_addr;
            leptos_options.site_addr = addr;
            tracing::info!(config = ?config, "starting");
            if let Some(token) = portal_core::setup::issue_token_if_empty(&svc).await? {
                // The link is a credential: it goes to the operator's terminal (stdout) only,
                // never into the log stream that collectors ship elsewhere.
                tracing::warn!(
                    "No organisation exists yet: the one-time setup link was printed to standard output"
                );
                println!(
                    "Setup URL: {}/setup?token={}",
                    config.public_url,
                    token.expose()
                );
            }
            let state = AppState::new(AppStateParts {
                services: svc,
                leptos_options,
                config: std::sync::Arc::new(config),
                metrics: Default::default(),
                scim_log: Default::default(),
            });
            portal_server::serve(state, addr).await
        }
        Command::CreateAdmin {
            org_name,
            email,
            role,
        } => {
            let role = portal_core::admins::Role::parse(&role)
                .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let mut password = String::new();
            std::io::stdin()
                .take(4096)
                .read_to_string(&mut password)
                .map_err(|e| anyhow::anyhow!("cannot read the password from stdin: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let (org, admin, created) = portal_core::admins::create_admin_as(
                &svc,
                NewAdmin {
                    org_name: &org_name,
                    email: &email,
                    password,
                },
                role,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            if created {
                println!("Created organisation {:?}", org.name);
            }
            println!("Created admin {}", admin.email);
            println!("{}", org.id);
            Ok(())
        }
        Command::ScimToken { org } => {
            if !portal_core::ids::is_valid_org_id(&org) {
                anyhow::bail!("--org must be an Org ID (32 hexadecimal characters)");
            }
            let token =
                portal_core::scim_tokens::generate(&svc, &org, "operator (server scim-token)")
                    .await
                    .map_err(|e| match e {
                        portal_core::CoreError::NotFound => {
                            anyhow::anyhow!("no organisation with Org ID {org}")
                        }
                        other => anyhow::anyhow!("{other}"),
                    })?;
            println!("{}", token.expose());
            Ok(())
        }
        Command::SsoConfig {
            org,
            sso_url,
            certificate,
            next_certificate,
            issuer,
            jit,
            require_sso,
            idp_initiated,
            accept_expired,
        } => {
            if !portal_core::ids::is_valid_org_id(&org) {
                anyhow::bail!("--org must be an Org ID (32 hexadecimal characters)");
            }
            let read = |p: &std::path::Path| -> anyhow::Result<String> {
                let bytes = std::fs::read(p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
                // DER files are passed on as base64, which the shared validation accepts.
                Ok(match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(e) => {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD.encode(e.into_bytes())
                    }
                })
            };
            let input = portal_core::sso::SsoInput {
                sso_url,
                certificate: read(&certificate)?,
                next_certificate: next_certificate
                    .as_deref()
                    .map(read)
                    .transpose()?
                    .unwrap_or_default(),
                idp_entity_id: issuer.unwrap_or_default(),
                jit_enabled: jit == portal_server::cli::OnOff::On,
                require_sso: require_sso == portal_server::cli::OnOff::On,
                refuse_unsolicited: idp_initiated == portal_server::cli::OnOff::Off,
                accept_expired,
            };
            let cfg = portal_core::sso::save(&svc, &org, "operator (server sso-config)", &input)
                .await
                .map_err(|e| match e {
                    portal_core::CoreError::NotFound => {
                        anyhow::anyhow!("no organisation with Org ID {org}")
                    }
                    other => anyhow::anyhow!("{other}"),
                })?;
            let urls = portal_core::sso::sp_urls(&svc, &org);
            println!("SSO configured for {org}");
            println!("certificate  {}", cfg.certificate.fingerprint);
            println!("entity id    {}", urls.entity_id);
            println!("acs url      {}", urls.acs_url);
            println!(
                "jit {} · require sso {} · idp-initiated {}",
                if cfg.jit_enabled { "on" } else { "off" },
                if cfg.require_sso { "on" } else { "off" },
                if cfg.refuse_unsolicited { "off" } else { "on" }
            );
            Ok(())
        }
        // Organisation settings (issue 12, settings).
        Command::OrgSettings {
            org,
            name,
            user_retention_days,
            event_retention_days,
            allowed_domains,
            username_equals_work_email,
            require_2fa,
            require_sso_for_admins,
        } => {
            use portal_server::cli::OnOff;
            if !portal_core::ids::is_valid_org_id(&org) {
                anyhow::bail!("--org must be an Org ID (32 hexadecimal characters)");
            }
            let on = |v: Option<OnOff>| v.map(|v| v == OnOff::On);
            let change = portal_core::org_settings::SettingsChange {
                name,
                user_retention_days,
                event_retention_days,
                allowed_domains,
                username_equals_work_email: on(username_equals_work_email),
                require_2fa: on(require_2fa),
                require_sso_for_admins: on(require_sso_for_admins),
            };
            let (s, changes) = portal_core::org_settings::update(
                &svc,
                &org,
                "operator (server org-settings)",
                &change,
            )
            .await
            .map_err(|e| match e {
                portal_core::CoreError::NotFound => {
                    anyhow::anyhow!("no organisation with Org ID {org}")
                }
                other => anyhow::anyhow!("{other}"),
            })?;
            if changes.is_empty() {
                println!("No change.");
            } else {
                println!("Changed: {}", changes.join("; "));
            }
            let on_off = |b: bool| if b { "on" } else { "off" };
            println!("name                        {}", s.name);
            println!("user retention days         {}", s.user_retention_days);
            println!("event retention days        {}", s.event_retention_days);
            println!(
                "allowed domains             {}",
                if s.allowed_domains.is_empty() {
                    "(any)".to_string()
                } else {
                    s.allowed_domains.join(",")
                }
            );
            println!(
                "username equals work email  {}",
                on_off(s.username_equals_work_email)
            );
            println!("require 2fa                 {}", on_off(s.require_2fa));
            println!(
                "require sso for admins      {}",
                on_off(s.require_sso_for_admins)
            );
            Ok(())
        }
        Command::BenchSeed {
            orgs,
            users_per_org,
            concurrency,
        } => {
            let seeded =
                portal_server::bench_seed::seed(&svc, orgs, users_per_org, concurrency).await?;
            let mut out = String::with_capacity(seeded.len() * 80);
            for o in &seeded {
                out.push_str(&o.org_id);
                out.push(' ');
                out.push_str(o.token.expose());
                out.push('\n');
            }
            print!("{out}");
            Ok(())
        }
    }
}
