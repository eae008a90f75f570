//! The server's integration tests, one binary (one link, one copy of the dependencies on disk).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[macro_use]
mod common;

mod admin_http;
mod admin_screens;
// Issue 11: `server bench-seed` for the multi-tenant benchmark.
mod bench_seed;
mod crash_safety;
mod cross_tenant;
mod idp_replays;
mod mail_smtp;
mod no_js_forms;
mod observability;
mod saml_http;
mod scale_out;
mod scim_http;
mod trust_boundaries;
// Issue 12 (lead): admins through SSO.
mod admin_sso;
mod roles;
// Issue 12, audit trail and overview:
mod audit;
// Issue 12, your account.
mod account;
// Organisation settings (issue 12, settings).
mod settings;
// Admin team: the admins list, roles, invitations (issue 12, team).
mod team;
// Second factor for admin sign-in (issue 12, two-factor).
mod two_factor;
// Zero-downtime SCIM token rotation (issue 13).
mod token_rotation;

// Guided setup per IdP (issue 13, guided setup).
mod guided_setup;
// Issue 13, SCIM fidelity.
mod scim_fidelity;
// SCIM Groups (issue 13, groups).
mod scim_groups;
// Setup links for outside IT contacts (issue 13).
mod setup_links;

/// The test IdP: response templates signed by `xmlsec1`, shared with portal-saml's own tests.
use portal_test_support::saml_idp;
// SCIM request log (issue 13).
mod scim_request_log;
