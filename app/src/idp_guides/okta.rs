//! Okta: a SAML 2.0 app integration made with the App Integration Wizard, and SCIM provisioning
//! turned on for it (Admin Console labels).

use super::{Field, Guide, Part, Step};

pub const GUIDE: Guide = Guide {
    id: "okta",
    name: "Okta",
    sso: Part::Steps {
        intro: "In the Okta Admin Console, create a SAML 2.0 app integration for this portal.",
        steps: &[
            Step {
                text: "Go to **Applications > Applications** and click **Create App Integration**. Select **SAML 2.0** and click **Next**.",
                ..Step::TEXT
            },
            Step {
                text: "In **General Settings**, enter an **App name** and click **Next**.",
                ..Step::TEXT
            },
            Step {
                text: "In **Configure SAML**, under **SAML Settings**, enter:",
                items: &[
                    "Keep **Use this for Recipient URL and Destination URL** checked.",
                    "**Name ID format**: EmailAddress.",
                    "**Application username**: Email.",
                ],
                fields: &[
                    Field { label: "Single sign-on URL", id: "guide-acs-url", value: "{acs_url}" },
                    Field { label: "Audience URI (SP Entity ID)", id: "guide-entity-id", value: "{entity_id}" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "Click **Next**, choose **This is an internal app that we have created**, and click **Finish**.",
                ..Step::TEXT
            },
            Step {
                text: "On the app's **Sign On** tab, open **View SAML setup instructions** and copy its values into **Connect your identity provider** on this screen, then click **Save**:",
                items: &[
                    "**Identity Provider Single Sign-On URL** into **SAML 2.0 endpoint (HTTP)**.",
                    "**Identity Provider Issuer** into **IdP entity ID (Issuer)**.",
                    "**X.509 Certificate** into **Public certificate**.",
                ],
                ..Step::TEXT
            },
            Step {
                text: "On the **Assignments** tab, click **Assign > Assign to People** or **Assign to Groups** for everyone who may sign in.",
                ..Step::TEXT
            },
            Step {
                text: "Test it: sign in from the Okta End-User Dashboard tile, or from the employee sign-in page.",
                fields: &[Field { label: "Employee sign-in page", id: "guide-employee-login", value: "{employee_login_url}" }],
                ..Step::TEXT
            },
        ],
        notes: &[
            "Instead of copying the three values, you can paste Okta's IdP metadata (**Sign On > Metadata details > Metadata URL**, opened in a browser) into **Import IdP metadata**.",
        ],
    },
    provisioning: Part::Steps {
        intro: "Okta pushes users to this portal over SCIM 2.0 from the same SAML app integration.",
        steps: &[
            Step {
                text: "On the app's **General** tab, under **App Settings**, click **Edit**, set **Provisioning** to **SCIM** and click **Save**.",
                ..Step::TEXT
            },
            Step {
                text: "On this screen, click **Generate new token**, then **Confirm**, and copy the token: it is shown only once.",
                ..Step::TEXT
            },
            Step {
                text: "On the app's **Provisioning** tab, under **Integration**, click **Edit** and enter:",
                items: &[
                    "**Supported provisioning actions**: **Push New Users** and **Push Profile Updates** (not **Push Groups**: groups are not supported).",
                    "**Authentication Mode**: **HTTP Header**, and paste the token as the **Bearer** token under **Authorization**.",
                ],
                fields: &[
                    Field { label: "SCIM connector base URL", id: "guide-scim-url", value: "{scim_base_url}" },
                    Field { label: "Unique identifier field for users", id: "guide-unique-id", value: "userName" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "Click **Test Connector Configuration**, close the result, and click **Save**.",
                ..Step::TEXT
            },
            Step {
                text: "Under **Provisioning > To App**, click **Edit**, enable **Create Users**, **Update User Attributes** and **Deactivate Users**, and click **Save**.",
                ..Step::TEXT
            },
            Step {
                text: "Assign people or groups on the **Assignments** tab: Okta creates them here.",
                ..Step::TEXT
            },
        ],
        notes: &[
            "Groups are not supported: do not enable **Push Groups**.",
            "When you generate a new token here, paste it into Okta's **Authorization** field right away: the old one stops working.",
        ],
    },
};
