//! Wire types shared by the server functions, the domain crate and the browser. Nothing here may
//! ever hold a secret (the one-time SCIM token travels in its own type in the app crate).

use serde::{Deserialize, Serialize};

/// The Users screen's filters, sort and page (all in the page's URL query).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersQuery {
    pub search: String,
    /// None: any status.
    pub status: Option<UserStatus>,
    /// None: any source.
    pub source: Option<UserSource>,
    pub sort: UserSort,
    pub desc: bool,
    pub page: i64,
}

impl UsersQuery {
    /// Reads the query from the page's URL parameters (`q`, `status`, `source`, `sort`, `dir`,
    /// `page`); unknown values mean "any" / the default.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).unwrap_or_default();
        Self {
            search: get("q"),
            status: UserStatus::parse(&get("status")),
            source: UserSource::parse(&get("source")),
            sort: UserSort::parse(&get("sort")).unwrap_or_default(),
            desc: get("dir") == "desc",
            page: get("page").parse().unwrap_or(1),
        }
    }
}

/// Defines a unit enum whose serde name, URL value and SQL value is one snake_case string.
macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }
        }
    };
}

str_enum!(
    /// A user's lifecycle state, as the Users screen filters it.
    UserStatus {
        Active = "active",
        Deactivated = "deactivated",
        /// Soft-deleted, waiting for the purge.
        Deleted = "deleted",
    }
);

str_enum!(
    /// Where a user came from (the `users.source` column).
    UserSource {
        Scim = "scim",
        SsoJit = "sso_jit",
        Admin = "admin",
    }
);

str_enum!(
    /// The Users table's sort column.
    #[derive(Default)]
    UserSort {
        #[default]
        UserName = "user_name",
        Name = "name",
        Updated = "updated",
        Created = "created",
    }
);

str_enum!(
    /// The Activity screen's result filter.
    EventResult {
        Success = "success",
        Failure = "failure",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub user_name: String,
    pub email: Option<String>,
    pub department: Option<String>,
    pub country: Option<String>,
    pub locality: Option<String>,
    /// "Active", "Deactivated", "Deleted"
    pub status: String,
    pub source: String,
    pub last_sign_in_at: Option<i64>,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersPage {
    pub rows: Vec<UserRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Soft-deleted users waiting for the purge, and the earliest purge time.
    pub deleted_count: i64,
    pub next_purge_at: Option<i64>,
    pub scim_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub at: i64,
    pub name: String,
    pub success: bool,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub actor: String,
    pub scim_type: Option<String>,
    pub message: String,
    /// Plain-words advice for the IdP admin, for failures.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsQuery {
    /// None: successes and failures.
    pub result: Option<EventResult>,
    pub name: String,
    pub user_id: String,
    pub page: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    pub rows: Vec<EventRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDetail {
    pub id: String,
    pub user_name: String,
    pub status: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub purge_at: Option<i64>,
    pub last_sign_in_at: Option<i64>,
    /// The SCIM representation, pretty-printed.
    pub scim_json: String,
    /// (attribute path, value) for every attribute.
    pub attributes: Vec<(String, String)>,
    pub timeline: Vec<EventRow>,
    /// For optimistic concurrency of the admin's edits.
    pub version: i64,
    /// SCIM is on and owns this user: the screen shows its fields read-only.
    pub scim_managed: bool,
    pub edit: UserEdit,
}

/// The hand-editable fields, as currently stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEdit {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub department: String,
    pub country: String,
    pub locality: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningStatus {
    pub token: Option<TokenStatus>,
    pub rejected_count: i64,
    pub last_rejected_at: Option<i64>,
    /// No successful request for more than two 40-minute IdP cycles while a token is active.
    pub stale_since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStatus {
    pub id: String,
    pub created_at: i64,
    pub created_by: String,
    pub first_used_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_round_trip_through_url_and_serde() {
        for s in UserStatus::ALL {
            assert_eq!(UserStatus::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for s in UserSource::ALL {
            assert_eq!(UserSource::parse(s.as_str()), Some(*s));
        }
        for s in UserSort::ALL {
            assert_eq!(UserSort::parse(s.as_str()), Some(*s));
        }
        assert_eq!(UserStatus::parse(""), None);
        assert_eq!(UserStatus::parse("Active"), None);
    }

    #[test]
    fn users_query_from_url_params() {
        let params = [
            ("status", "deleted"),
            ("source", "bogus"),
            ("sort", "name"),
            ("dir", "desc"),
            ("page", "x"),
        ];
        let q = UsersQuery::from_params(|k| {
            params
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(q.status, Some(UserStatus::Deleted));
        assert_eq!(q.source, None);
        assert_eq!(q.sort, UserSort::Name);
        assert!(q.desc);
        assert_eq!(q.page, 1);
    }
}
