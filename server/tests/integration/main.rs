//! The server's integration tests, one binary (one link, one copy of the dependencies on disk).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[macro_use]
mod common;

mod admin_http;
mod admin_screens;
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
// Second factor for admin sign-in (issue 12, two-factor).
mod two_factor;

/// The test IdP: response templates signed by `xmlsec1`, shared with portal-saml's own tests.
use portal_test_support::saml_idp;
