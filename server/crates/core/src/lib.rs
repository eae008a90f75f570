//! Domain and storage of the portal, shared by the HTTP server and the Leptos server functions.
//!
//! Everything here runs on SQLite and on PostgreSQL through one `sqlx::AnyPool`; the SQL uses
//! `$n` placeholders, BIGINT timestamps (unix milliseconds) and 0/1 booleans so that one query text
//! serves both databases.

pub mod admin_views;
pub mod admins;
pub mod client_addr;
pub mod clock;
pub mod cookies;
pub mod db;
pub mod employees;
pub mod error;
pub mod events;
pub mod ids;
pub mod list_seek;
pub mod lookups;
pub mod magic_links;
pub mod mail;
pub mod manage;
pub mod password;
pub mod provisioning;
pub mod scim_tokens;
pub mod secret;
pub mod services;
pub mod session;
pub mod session_store;
pub mod setup;
pub mod sql;
pub mod sso;
pub mod throttle;
pub mod token_cache;
pub mod user_json;
pub mod users;
// Issue 12, audit trail and overview:
pub mod audit;
pub mod overview;

// Issue 12: the admin's own account (password change and reset, "Your sessions").
pub mod account;
// Organisation settings (issue 12, settings).
pub mod org_settings;
// Admin team: the admins list, roles, invitations (issue 12, team).
pub mod invitations;
pub mod team;
// Second factor for admin sign-in (issue 12, two-factor).
pub mod passkeys;
pub mod two_factor;
// SCIM Groups (issue 13, groups).
pub mod groups;
// Setup links for outside IT contacts (issue 13).
pub mod setup_links;

pub use clock::{Clock, SystemClock};
pub use db::{Backend, Db};
pub use error::{CoreError, Field};
pub use portal_saml as saml;
pub use services::Services;
// SCIM request log (issue 13).
pub mod scim_requests;
