//! portal-core's integration tests, one binary; each runs on SQLite and on PostgreSQL.

mod magic_links;
mod query_plans;
mod retention;
mod storage;
