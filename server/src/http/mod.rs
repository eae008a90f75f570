//! Transport only: parse, authenticate, call one domain function, map the result.

// Issue 11: the site's static files, with caching headers and precompressed variants.
pub mod assets;
pub mod export;
pub mod health;
pub mod observe;
pub mod provisioning;
pub mod saml;
pub mod scim;
pub mod security;
// Issue 12, audit trail: the Activity exports (CSV, JSON Lines).
pub mod audit_export;
