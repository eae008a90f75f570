//! Command line: `server [serve]`, `server create-admin`, `server scim-token`.

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
    },
    /// Replace the organisation's SCIM token (the old one stops working at once; recorded as an
    /// event) and print only the new token on stdout.
    ScimToken {
        #[arg(long)]
        org: String,
    },
}
