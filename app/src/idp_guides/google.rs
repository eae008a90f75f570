//! Google Workspace: a custom SAML app (Admin console labels). Google does not push users to
//! custom SAML apps, so the provisioning part says so.

use super::{Field, Guide, Part, Step};

pub const GUIDE: Guide = Guide {
    id: "google",
    name: "Google Workspace",
    sso: Part::Steps {
        intro: "In the Google Admin console, add a custom SAML app for this portal. You need super administrator privileges.",
        steps: &[
            Step {
                text: "Go to **Apps > Web and mobile apps**, click **Add app > Add custom SAML app**, enter an **App name** and click **Continue**.",
                ..Step::TEXT
            },
            Step {
                text: "On **Google Identity Provider details**, copy the **SSO URL** and **Entity ID**, and click **Download** next to **Certificate**. Click **Continue**.",
                ..Step::TEXT
            },
            Step {
                text: "On **Service provider details**, enter these values, set **Name ID format** to **EMAIL** and **Name ID** to **Basic Information > Primary email**, then click **Continue** and **Finish**:",
                fields: &[
                    Field { label: "ACS URL", id: "guide-acs-url", value: "{acs_url}" },
                    Field { label: "Entity ID", id: "guide-entity-id", value: "{entity_id}" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "On this screen, under **Connect your identity provider**, enter Google's values and click **Save**:",
                items: &[
                    "Google's **SSO URL** into **SAML 2.0 endpoint (HTTP)**.",
                    "Google's **Entity ID** into **IdP entity ID (Issuer)**.",
                    "The downloaded certificate into **Public certificate**.",
                ],
                ..Step::TEXT
            },
            Step {
                text: "Open the app's **User access**, choose **ON for everyone** (or for the organisational units that may sign in) and click **Save**. The change can take a while to reach every user.",
                ..Step::TEXT
            },
            Step {
                text: "Test it from the Google apps menu, or from the employee sign-in page.",
                fields: &[Field { label: "Employee sign-in page", id: "guide-employee-login", value: "{employee_login_url}" }],
                ..Step::TEXT
            },
        ],
        notes: &[
            "Instead of copying the values, you can click **Download Metadata** on **Google Identity Provider details** and upload the file under **Import IdP metadata**.",
        ],
    },
    provisioning: Part::NotSupported(
        "Google Workspace does not push users to custom SAML apps over SCIM: its automatic user provisioning is available only for some apps of Google's own catalog, and this portal is not one of them. Create users here another way: turn on **JIT provisioning** on the Single Sign-On screen (a user's first sign-in creates the account), add them on the **Users** screen, or connect another tool that speaks SCIM 2.0 using the **Other SAML/SCIM** guide.",
    ),
};
