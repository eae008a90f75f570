//! OneLogin (administration labels): SSO through a "SAML Custom Connector (Advanced)" app, or
//! SSO and provisioning through a "SCIM Provisioner with SAML (SCIM v2 Core)" app, whose
//! Configuration tab names the SAML fields differently.

use super::{Field, Guide, Part, Step};

pub const GUIDE: Guide = Guide {
    id: "onelogin",
    name: "OneLogin",
    sso: Part::Steps {
        intro: "In OneLogin's administration, add an app for this portal from the **SAML Custom Connector (Advanced)** connector. If you also want provisioning, use the **SCIM Provisioner with SAML (SCIM v2 Core)** connector instead (see the note below the steps).",
        steps: &[
            Step {
                text: "Go to **Applications > Applications**, click **Add App**, search for **SAML Custom Connector (Advanced)**, select it, enter a **Display Name** and click **Save**.",
                ..Step::TEXT
            },
            Step {
                text: "On the **Configuration** tab, enter these values and click **Save**:",
                fields: &[
                    Field { label: "Audience (EntityID)", id: "guide-entity-id", value: "{entity_id}" },
                    Field { label: "Recipient", id: "guide-recipient", value: "{acs_url}" },
                    Field { label: "ACS (Consumer) URL Validator", id: "guide-acs-validator", value: "{acs_url_pattern}" },
                    Field { label: "ACS (Consumer) URL", id: "guide-acs-url", value: "{acs_url}" },
                    Field { label: "Login URL", id: "guide-login-url", value: "{login_url}" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "On the **Parameters** tab, make sure **NameID value** is the user's **Email**.",
                ..Step::TEXT
            },
            Step {
                text: "On the **SSO** tab, copy OneLogin's values into **Connect your identity provider** on this screen, then click **Save**:",
                items: &[
                    "**SAML 2.0 Endpoint (HTTP)** into **SAML 2.0 endpoint (HTTP)**.",
                    "**Issuer URL** into **IdP entity ID (Issuer)**.",
                    "**X.509 Certificate > View Details**, the certificate, into **Public certificate**.",
                ],
                ..Step::TEXT
            },
            Step {
                text: "Give users access: on the **Access** tab, enable the roles whose users may sign in (or add the app to users on **Users > Applications**).",
                ..Step::TEXT
            },
            Step {
                text: "Test it from the OneLogin portal, or from the employee sign-in page.",
                fields: &[Field { label: "Employee sign-in page", id: "guide-employee-login", value: "{employee_login_url}" }],
                ..Step::TEXT
            },
        ],
        notes: &[
            "Instead of copying the values, you can use **More Actions > SAML Metadata** on the app and upload the file under **Import IdP metadata**.",
            "An app from **SCIM Provisioner with SAML (SCIM v2 Core)** has **SAML Audience URL** (enter the **Audience (EntityID)** value above) and **SAML Consumer URL** (enter the **ACS (Consumer) URL** value above) on its **Configuration** tab instead of the fields of step 2; the other steps are the same.",
        ],
    },
    provisioning: Part::Steps {
        intro: "OneLogin provisions users over SCIM 2.0 from an app made with the **SCIM Provisioner with SAML (SCIM v2 Core)** connector; a **SAML Custom Connector (Advanced)** app cannot provision. The same app carries SSO: the Single Sign-On screen's OneLogin guide has the values of its **SAML Audience URL** and **SAML Consumer URL**.",
        steps: &[
            Step {
                text: "Go to **Applications > Applications**, click **Add App**, search for **SCIM Provisioner with SAML (SCIM v2 Core)**, select it, enter a **Display Name** and click **Save** (or open the app you already made from it).",
                ..Step::TEXT
            },
            Step {
                text: "On this screen, click **Generate new token**, then **Confirm**, and copy the token: it is shown only once.",
                ..Step::TEXT
            },
            Step {
                text: "On the app's **Configuration** tab, under **API Connection**, enter the values below, paste the token as the **SCIM Bearer Token**, keep the default **SCIM JSON Template**, and click **Save**:",
                fields: &[Field { label: "SCIM Base URL", id: "guide-scim-url", value: "{scim_base_url}" }],
                ..Step::TEXT
            },
            Step {
                text: "Next to **API Status**, click **Enable**.",
                ..Step::TEXT
            },
            Step {
                text: "On the **Parameters** tab, set **SCIM Username** to **Email**, so that userName and the work email are the same address.",
                ..Step::TEXT
            },
            Step {
                text: "On the **Provisioning** tab, check **Enable provisioning**, choose whether creating, deleting and updating users needs an administrator's approval, choose what happens when a user is deleted or loses access (**Suspend** keeps the user, deactivated), and click **Save**.",
                ..Step::TEXT
            },
            Step {
                text: "Users who get the app through a role are then created here.",
                ..Step::TEXT
            },
        ],
        notes: &[
            "Groups are not supported: do not map OneLogin roles or groups to SCIM groups.",
        ],
    },
};
