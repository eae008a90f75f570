//! The column names the translation tests expect: the portal's users schema, as
//! `portal_core::users::SCIM_FILTER_COLUMNS` names it (this crate cannot depend on the storage
//! crate; the storage crate's query-plan test runs the real table against both databases).
#![allow(dead_code)]

pub static USERS: scim_filter::ColumnMap = {
    use scim_filter::{Col, MultiTable};
    scim_filter::ColumnMap {
        user: &[
            ("id", Col::exact("u.id", false)),
            ("username", Col::ci("u.user_name", false)),
            ("externalid", Col::exact("u.external_id", true)),
            ("active", Col::boolean("u.active")),
            ("displayname", Col::ci("u.display_name", true)),
            ("nickname", Col::ci("u.nick_name", true)),
            ("title", Col::ci("u.title", true)),
            ("usertype", Col::ci("u.user_type", true)),
            ("preferredlanguage", Col::ci("u.preferred_language", true)),
            ("locale", Col::ci("u.locale", true)),
            ("timezone", Col::ci("u.timezone", true)),
            ("profileurl", Col::ci("u.profile_url", true)),
            ("name", Col::ci("u.formatted_name", true)),
        ],
        name: &[
            ("givenname", Col::ci("u.given_name", true)),
            ("familyname", Col::ci("u.family_name", true)),
            ("formatted", Col::ci("u.formatted_name", true)),
            ("middlename", Col::ci("u.middle_name", true)),
        ],
        meta: &[
            ("created", Col::datetime("u.created_at")),
            ("lastmodified", Col::datetime("u.updated_at")),
        ],
        enterprise: &[
            ("department", Col::ci("u.department", true)),
            ("employeenumber", Col::ci("u.employee_number", true)),
            ("costcenter", Col::ci("u.cost_center", true)),
            ("organization", Col::ci("u.organization", true)),
            ("division", Col::ci("u.division", true)),
        ],
        emails: MultiTable {
            table: "user_emails",
            alias: "e",
            columns: &[
                ("value", Col::ci("e.value", false)),
                ("type", Col::ci("e.type", true)),
                ("primary", Col::boolean("e.primary_flag")),
            ],
        },
        addresses: MultiTable {
            table: "user_addresses",
            alias: "a",
            columns: &[
                ("type", Col::ci("a.type", true)),
                ("country", Col::ci("a.country", true)),
                ("locality", Col::ci("a.locality", true)),
                ("region", Col::ci("a.region", true)),
                ("postalcode", Col::ci("a.postal_code", true)),
                ("streetaddress", Col::ci("a.street_address", true)),
                ("formatted", Col::ci("a.formatted", true)),
                ("primary", Col::boolean("a.primary_flag")),
            ],
        },
    }
};
