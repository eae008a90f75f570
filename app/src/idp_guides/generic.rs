//! Any other SAML 2.0 identity provider or SCIM 2.0 client: what this portal expects, in the
//! protocols' own terms.

use super::{Field, Guide, Part, Step};

pub const GUIDE: Guide = Guide {
    id: "generic",
    name: "Other SAML/SCIM",
    sso: Part::Steps {
        intro: "Any SAML 2.0 identity provider works. Create a SAML application (service provider) with these values; the names vary by product.",
        steps: &[
            Step {
                text: "Enter this portal's service provider values (or give the IdP the SP metadata URL if it imports metadata):",
                fields: &[
                    Field { label: "Entity ID / Audience", id: "guide-entity-id", value: "{entity_id}" },
                    Field { label: "ACS URL (Assertion Consumer Service, HTTP-POST)", id: "guide-acs-url", value: "{acs_url}" },
                    Field { label: "SP-initiated login URL", id: "guide-login-url", value: "{login_url}" },
                    Field { label: "SP metadata URL", id: "guide-metadata-url", value: "{metadata_url}" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "Send the user's email address as the **NameID** (format emailAddress or unspecified) or as an email attribute, and sign the response or the assertion.",
                ..Step::TEXT
            },
            Step {
                text: "Copy the IdP's values into **Connect your identity provider** on this screen, then click **Save**:",
                items: &[
                    "Its single sign-on URL (HTTP-Redirect binding) into **SAML 2.0 endpoint (HTTP)**.",
                    "Its entity ID (Issuer) into **IdP entity ID (Issuer)**.",
                    "Its X.509 signing certificate into **Public certificate**.",
                ],
                ..Step::TEXT
            },
            Step {
                text: "Assign the users who may sign in, then click **Test sign-in** here or open the employee sign-in page.",
                fields: &[Field { label: "Employee sign-in page", id: "guide-employee-login", value: "{employee_login_url}" }],
                ..Step::TEXT
            },
        ],
        notes: &[
            "If the IdP publishes metadata, upload it under **Import IdP metadata** instead of copying the values.",
        ],
    },
    provisioning: Part::Steps {
        intro: "Any SCIM 2.0 client (RFC 7643/7644) can provision users here.",
        steps: &[
            Step {
                text: "On this screen, click **Generate new token**, then **Confirm**, and copy the token: it is shown only once.",
                ..Step::TEXT
            },
            Step {
                text: "Configure the client with the base URL below and send the token in every request's header as **Authorization: Bearer** followed by the token.",
                fields: &[Field { label: "SCIM base URL", id: "guide-scim-url", value: "{scim_base_url}" }],
                ..Step::TEXT
            },
            Step {
                text: "Provision **Users** (POST, PUT, PATCH, DELETE) with **userName** as the unique identifier; setting **active** to false deactivates a user.",
                ..Step::TEXT
            },
        ],
        notes: &[
            "Groups are not supported: turn off group push.",
            "The service provider's capabilities are at /ServiceProviderConfig, /Schemas and /ResourceTypes under the base URL.",
        ],
    },
};
