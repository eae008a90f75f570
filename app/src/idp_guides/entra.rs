//! Microsoft Entra ID: a non-gallery enterprise application with SAML single sign-on and
//! automatic provisioning (Microsoft Entra admin center labels).

use super::{Field, Guide, Part, Step};

pub const GUIDE: Guide = Guide {
    id: "entra",
    name: "Entra ID",
    sso: Part::Steps {
        intro: "In the Microsoft Entra admin center, create an enterprise application for this portal and set up SAML-based sign-on.",
        steps: &[
            Step {
                text: "Go to **Identity > Applications > Enterprise applications**, click **New application**, then **Create your own application**.",
                ..Step::TEXT
            },
            Step {
                text: "Enter its name, select **Integrate any other application you don't find in the gallery (Non-gallery)** and click **Create**.",
                ..Step::TEXT
            },
            Step {
                text: "Under **Manage > Single sign-on**, select **SAML**. In **Basic SAML Configuration**, click **Edit**, enter these values and click **Save**:",
                fields: &[
                    Field { label: "Identifier (Entity ID)", id: "guide-entity-id", value: "{entity_id}" },
                    Field { label: "Reply URL (Assertion Consumer Service URL)", id: "guide-acs-url", value: "{acs_url}" },
                    Field { label: "Sign on URL", id: "guide-login-url", value: "{login_url}" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "In **Attributes & Claims**, keep **Unique User Identifier (Name ID)** as the user's email address (user.mail or user.userprincipalname when it is the email).",
                ..Step::TEXT
            },
            Step {
                text: "In **SAML Certificates**, download **Certificate (Base64)**.",
                ..Step::TEXT
            },
            Step {
                text: "Copy the values of the application's **Set up** section into **Connect your identity provider** on this screen, then click **Save**:",
                items: &[
                    "**Login URL** into **SAML 2.0 endpoint (HTTP)**.",
                    "**Microsoft Entra Identifier** into **IdP entity ID (Issuer)**.",
                    "The contents of **Certificate (Base64)** into **Public certificate**.",
                ],
                ..Step::TEXT
            },
            Step {
                text: "Under **Manage > Users and groups**, click **Add user/group** and assign everyone who may sign in.",
                ..Step::TEXT
            },
            Step {
                text: "Test it from **My Apps**, or from the employee sign-in page.",
                fields: &[Field { label: "Employee sign-in page", id: "guide-employee-login", value: "{employee_login_url}" }],
                ..Step::TEXT
            },
        ],
        notes: &[
            "Instead of copying the values, you can download **Federation Metadata XML** from **SAML Certificates** and upload it under **Import IdP metadata**.",
        ],
    },
    provisioning: Part::Steps {
        intro: "Entra ID pushes users to this portal over SCIM 2.0 from the same enterprise application.",
        steps: &[
            Step {
                text: "On this screen, click **Generate new token**, then **Confirm**, and copy the token: it is shown only once.",
                ..Step::TEXT
            },
            Step {
                text: "In the enterprise application, go to **Manage > Provisioning**, and set **Provisioning Mode** to **Automatic**.",
                ..Step::TEXT
            },
            Step {
                text: "Under **Admin Credentials**, enter the values below, paste the token as the **Secret Token**, click **Test Connection**, then **Save**.",
                fields: &[Field { label: "Tenant URL", id: "guide-scim-url", value: "{scim_base_url}" }],
                ..Step::TEXT
            },
            Step {
                text: "Under **Mappings**, turn off **Provision Microsoft Entra ID Groups** (groups are not supported) and keep **Provision Microsoft Entra ID Users**.",
                ..Step::TEXT
            },
            Step {
                text: "Under **Settings**, set **Scope** to **Sync only assigned users and groups**, set **Provisioning Status** to **On** and click **Save**.",
                ..Step::TEXT
            },
        ],
        notes: &[
            "After the initial cycle, Entra ID syncs about every 40 minutes; **Provision on demand** pushes one user right away.",
            "Groups are not supported: their members are provisioned as users when the group is assigned.",
            "Under **Mappings > Provision Microsoft Entra ID Users**, map **userPrincipalName** (or **mail**) to both **userName** and **emails[type eq \"work\"].value**.",
        ],
    },
};
