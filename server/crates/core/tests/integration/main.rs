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
// Zero-downtime SCIM token rotation (issue 13).
mod token_rotation;
// SCIM request log (issue 13).
mod scim_requests;
// SCIM Groups (issue 13, groups).
mod groups;
// Reads at 100,000 users (issue 11): search indexes, list totals and seek keys.
mod reads;
// Group commit on SQLite (issue 11, writes): cancellation and panics.
mod batched;
// SCIM token bookkeeping off the request path (issue 11).
mod scim_tokens;
// SCIM token checks served from memory (issue 11).
mod token_cache;
// The connection pool: no ping per statement, idle PostgreSQL connections checked (issue 11).
mod pool;
// The IdP's userName lookups read several at once (issue 11).
mod lookups;
