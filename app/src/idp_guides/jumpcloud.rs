//! JumpCloud, in the order and words of JumpCloud's own setup article for this kind of
//! application ("SAML 2.0 endpoint (HTTP)", "Public certificate", "Base URL", "Token Key", …).

use super::{Field, Guide, Part, Step, Table};

pub const GUIDE: Guide = Guide {
    id: "jumpcloud",
    name: "JumpCloud",
    sso: Part::Steps {
        intro: "You need a JumpCloud administrator account and the JumpCloud SSO Package or higher (or the SSO à la carte option). Setting up SSO is optional: without it, employees sign in with email links.",
        steps: &[
            Step {
                text: "Log in to the **JumpCloud Admin Portal** and go to **USER AUTHENTICATION > SSO Applications**.",
                ..Step::TEXT
            },
            Step {
                text: "Click **+ Add New Application**, type the name of the application in the **Search** field, select it and click **Next**.",
                items: &[
                    "Optionally, customise the display label, **Description**, **User Portal Image** and **Show in User Portal**.",
                    "Optionally, expand **Advanced Settings** to choose the end of the SSO IdP URL (https://sso.jumpcloud.com/saml2/…). It cannot be edited after the application is created.",
                ],
                ..Step::TEXT
            },
            Step {
                text: "Click **Save Application**, then **Configure Application**.",
                ..Step::TEXT
            },
            Step {
                text: "Select the **SSO** tab. Replace any instances of **YOUR_ORG_ID** with your Org ID, add or change any attributes, and click **save**. The SP values must read:",
                fields: &[
                    Field { label: "YOUR_ORG_ID", id: "guide-org-id", value: "{org_id}" },
                    Field { label: "SP Entity ID", id: "guide-entity-id", value: "{entity_id}" },
                    Field { label: "ACS URL", id: "guide-acs-url", value: "{acs_url}" },
                    Field { label: "Login URL", id: "guide-login-url", value: "{login_url}" },
                ],
                ..Step::TEXT
            },
            Step {
                text: "Download the certificate: find your application in the **Configured Applications** list, click its row to reopen its configuration, then click **Actions > Download Certificate**. The **certificate.pem** file goes to your Downloads folder.",
                ..Step::TEXT
            },
            Step {
                text: "On this screen, under **Connect your identity provider**, enter the following information and click **Save**:",
                items: &[
                    "In the **SAML 2.0 endpoint (HTTP)** field, enter the JumpCloud **IDP URL** (on the application's SSO tab).",
                    "In the **Public certificate** field, paste the contents of the certificate downloaded in the previous step (or upload the file).",
                ],
                ..Step::TEXT
            },
            Step {
                text: "Authorise user access: in **USER AUTHENTICATION > SSO Applications**, select the application, select the **User Groups** tab, check the box next to each group that may sign in, and click **Save**. Users are implicitly denied access until then.",
                ..Step::TEXT
            },
            Step {
                text: "Validate both workflows. IdP-initiated: in the **JumpCloud User Console**, go to **Applications** and click the application's tile. SP-initiated: open the employee sign-in page, which redirects to JumpCloud and back.",
                fields: &[Field { label: "Employee sign-in page", id: "guide-employee-login", value: "{employee_login_url}" }],
                ..Step::TEXT
            },
        ],
        notes: &[
            "JIT provisioning: when **JIT provisioning** is on here, a user's first SSO sign-in creates the account from the SAML assertion; JumpCloud sends the JIT attributes by default.",
            "Use **Test sign-in** on this screen after saving to see exactly what JumpCloud sends.",
        ],
    },
    provisioning: Part::Steps {
        intro: "Automatically provision, update and deprovision users from JumpCloud with the Identity Management (SCIM) integration. Setting up SCIM is optional: without it, manage users on the Users screen.",
        steps: &[
            Step {
                text: "On this screen, click **Generate new token**.",
                ..Step::TEXT
            },
            Step {
                text: "Click **Confirm** when the warning appears letting you know that the token you are generating will replace the existing one. If this is your first time setting up SCIM, you can ignore this message.",
                ..Step::TEXT
            },
            Step {
                text: "Copy the SCIM endpoint URL and the SCIM token for the next steps. The token is shown only once: keep it in a secure place, like the JumpCloud Password Manager, until it is pasted.",
                ..Step::TEXT
            },
            Step {
                text: "In the **JumpCloud Admin Portal**, create the application or select it from the **Configured Applications** list, select the **Identity Management** tab and click **Configure**.",
                ..Step::TEXT
            },
            Step {
                text: "You're presented with two fields:",
                items: &[
                    "**Base URL**: paste the SCIM endpoint URL.",
                    "**Token Key**: paste the SCIM token generated above.",
                ],
                fields: &[Field { label: "Base URL", id: "guide-base-url", value: "{scim_base_url}" }],
                ..Step::TEXT
            },
            Step {
                text: "Click **Activate**. You will receive a confirmation that the Identity Management integration has been successfully verified.",
                ..Step::TEXT
            },
            Step {
                text: "Connect user groups to the application (the **User Groups** tab) to provision the members of those groups. JumpCloud sends these attributes:",
                table: Some(&Table {
                    caption: "User attributes",
                    head: &["JumpCloud Property", "JumpCloud UI", "SCIM v2 Mapping", "Stored here as"],
                    rows: &[
                        &["username", "Username", "userName", "userName"],
                        &["active", "Status", "active", "active"],
                        &["firstname", "First Name", "name.givenName", "name.givenName"],
                        &["lastname", "Last Name", "name.familyName", "name.familyName"],
                        &["preferredLanguage", "preferredLanguage", "preferredLanguage", "preferredLanguage"],
                        &["department", "Department", "department", "department"],
                        &["email", "Company Email", "emails", "emails"],
                        &["addresses.country", "Work Country", "addresses.country", "addresses.country"],
                        &["addresses.locality", "Work City", "addresses.locality", "addresses.locality"],
                        &["employeeIdentifier", "Employee ID", "externalId", "externalId"],
                    ],
                }),
                ..Step::TEXT
            },
        ],
        notes: &[
            "Subsequent provisioning cycles occur automatically every 40 minutes.",
            "Both **userName** and **emails[type eq \"work\"].value** must use the same source attribute.",
            "Groups are not supported: provision users only.",
            "To update the token, deactivate the IdM integration, update the token, then reactivate the IdM integration.",
        ],
    },
};
