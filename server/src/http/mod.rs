//! Transport only: parse, authenticate, call one domain function, map the result.

pub mod export;
pub mod health;
pub mod observe;
pub mod provisioning;
pub mod saml;
pub mod scim;
pub mod security;
