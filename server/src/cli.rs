//! Command line: `server [serve]`, `server create-admin`, `server scim-token`, `server sso-config`,
//! `server org-settings`.

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "server",
    version,
    about = "SSO and user-provisioning admin portal"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Create an admin (and its organisation when no organisation of that name exists yet).
    /// Reads the password from stdin; prints the Org ID as the last line of stdout.
    CreateAdmin {
        #[arg(long)]
        org_name: String,
        #[arg(long)]
        email: String,
        /// owner (everything), admin (SSO, provisioning, users) or viewer (reads only). A new
        /// organisation's first admin is its owner.
        #[arg(long, default_value = "owner")]
        role: String,
    },
    /// Replace the organisation's SCIM token (the old one stops working at once; recorded as an
    /// event) and print only the new token on stdout.
    ScimToken {
        #[arg(long)]
        org: String,
    },
    /// Configure the organisation's SAML single sign-on, validated exactly as the Single Sign-On
    /// screen validates it (for operators locked out by a bad certificate, and for scripts).
    SsoConfig {
        #[arg(long)]
        org: String,
        /// The IdP's SAML 2.0 endpoint (HTTP-Redirect binding).
        #[arg(long)]
        sso_url: String,
        /// The IdP's signing certificate: a PEM or DER file.
        #[arg(long)]
        certificate: std::path::PathBuf,
        /// An optional second certificate for rollover.
        #[arg(long)]
        next_certificate: Option<std::path::PathBuf>,
        /// The IdP's entity ID; when given, the assertion's Issuer must equal it.
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long, value_enum, default_value = "on")]
        jit: OnOff,
        #[arg(long, value_enum, default_value = "off")]
        require_sso: OnOff,
        /// Accept IdP-initiated (unsolicited) sign-in, e.g. launches from the IdP's dashboard.
        #[arg(long, value_enum, default_value = "on")]
        idp_initiated: OnOff,
        /// Save even though a certificate has expired.
        #[arg(long)]
        accept_expired: bool,
    },
    // Organisation settings (issue 12, settings).
    /// Change the organisation's settings, validated exactly as the Organisation settings screen
    /// validates them; flags not given keep their value. Prints the resulting settings.
    OrgSettings {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: Option<String>,
        /// Days a deleted user stays restorable (1–365).
        #[arg(long)]
        user_retention_days: Option<String>,
        /// Days an activity event is kept (1–3650).
        #[arg(long)]
        event_retention_days: Option<String>,
        /// Comma-separated email domains users may have; "" allows every domain.
        #[arg(long)]
        allowed_domains: Option<String>,
        #[arg(long, value_enum)]
        username_equals_work_email: Option<OnOff>,
        #[arg(long = "require-2fa", value_enum)]
        require_2fa: Option<OnOff>,
        #[arg(long, value_enum)]
        require_sso_for_admins: Option<OnOff>,
    },
    /// For `make bench` only: create ORGS organisations "Bench org 0…", each with an Owner nobody
    /// can sign in as, a SCIM token and USERS users `u{j}@o{i}.bench.example`; prints one line
    /// per organisation, in order: `ORG_ID TOKEN`. Use a fresh database.
    #[command(hide = true)]
    BenchSeed {
        #[arg(long)]
        orgs: usize,
        #[arg(long)]
        users_per_org: usize,
        /// Organisations seeded at a time.
        #[arg(long, default_value = "8")]
        concurrency: usize,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}
