//! portal-core's integration tests, one binary; each runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod magic_links;
mod migrations;
mod query_plans;
mod retention;
mod storage;
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
// SCIM Groups (issue 13, groups).
mod groups;
