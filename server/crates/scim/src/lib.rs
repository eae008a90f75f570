//! The SCIM 2.0 User resource as pure functions over JSON: what the attributes are
//! ([`schema`]), how a client's body becomes the canonical stored form ([`user`]), how PATCH
//! operations change it ([`patch`]) and how failures are reported ([`error`]). No I/O here.

pub mod error;
pub mod patch;
pub mod schema;
pub mod user;

pub use error::{ScimError, ScimType};
pub use patch::apply_patch;
pub use user::{normalize_user, normalize_user_with, project, NormalizedUser, Rules};

pub const CORE_USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
