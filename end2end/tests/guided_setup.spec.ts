import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

// Issue 13 — guided setup per IdP: ?idp= on the SSO and provisioning screens shows that IdP's
// steps in its own words with this org's values and working Copy buttons.

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server, email: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

test.describe.serial("guided setup per IdP", () => {
  let server: Server;
  let org: string;
  test.beforeAll(async () => {
    server = await startServer();
    org = createAdmin(server, "Umbrella", "it@umbrella.test", PASSWORD);
    createAdmin(server, "Umbrella", "viewer@umbrella.test", PASSWORD, "viewer");
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("JumpCloud SSO guide: the article's field names, our values, copy buttons, switching IdP", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await signIn(page, server, "it@umbrella.test");
    await page.getByRole("link", { name: "Single Sign-On", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Single Sign-On", level: 1 })).toBeVisible();
    // The default view: the picker, no guide.
    const picker = page.getByRole("navigation", { name: "Guided setup" });
    await expect(picker).toContainText("Set up with:");
    await expect(page.getByTestId("guide")).toHaveCount(0);

    await picker.getByRole("link", { name: "JumpCloud" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/sso?idp=jumpcloud`);
    await expect(picker.getByRole("link", { name: "JumpCloud" })).toHaveAttribute("aria-current", "page");
    const guide = page.getByTestId("guide");
    await expect(guide.getByRole("heading", { name: "Set up SAML single sign-on in JumpCloud" })).toBeVisible();
    for (const name of ["USER AUTHENTICATION > SSO Applications", "Add New Application", "Download Certificate", "SAML 2.0 endpoint (HTTP)", "Public certificate", "User Groups"]) {
      await expect(guide).toContainText(name);
    }
    const acs = `${server.url}/saml/${org}/acs`;
    await expect(guide.getByRole("textbox", { name: "YOUR_ORG_ID" })).toHaveValue(org);
    await expect(guide.getByRole("textbox", { name: "SP Entity ID" })).toHaveValue(`${server.url}/saml/${org}/metadata`);
    await expect(guide.getByRole("textbox", { name: "ACS URL", exact: true })).toHaveValue(acs);
    await guide.getByRole("button", { name: "Copy ACS URL" }).click();
    await expect(guide.getByText("Copied").first()).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(acs);
    await guide.getByRole("button", { name: "Copy YOUR_ORG_ID" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(org);
    // The screen below the guide is unchanged: the form the guide points to.
    await expect(page.getByLabel("SAML 2.0 endpoint (HTTP)")).toBeVisible();
    await page.screenshot({ path: "screenshots/guided-jumpcloud-sso.png", fullPage: true });

    // Switching IdP updates the URL and the guide; a reload keeps it.
    await picker.getByRole("link", { name: "Okta" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/sso?idp=okta`);
    await expect(guide.getByRole("heading", { name: "Set up SAML single sign-on in Okta" })).toBeVisible();
    await expect(guide.getByRole("textbox", { name: "Single sign-on URL" })).toHaveValue(acs);
    await expect(guide.getByRole("textbox", { name: "Audience URI (SP Entity ID)" })).toHaveValue(`${server.url}/saml/${org}/metadata`);
    await page.reload();
    await expect(guide.getByRole("heading", { name: "Set up SAML single sign-on in Okta" })).toBeVisible();
    await picker.getByRole("link", { name: "Entra ID" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/sso?idp=entra`);
    await expect(guide.getByRole("textbox", { name: "Reply URL (Assertion Consumer Service URL)" })).toHaveValue(acs);
    await guide.getByRole("link", { name: "Close the guide" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/sso`);
    await expect(page.getByTestId("guide")).toHaveCount(0);
  });

  test("JumpCloud provisioning guide: Base URL, Token Key, Activate, the attribute table; Google says it cannot push", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await signIn(page, server, "it@umbrella.test");
    await page.getByRole("link", { name: "Automated user provisioning" }).click();
    const picker = page.getByRole("navigation", { name: "Guided setup" });
    await picker.getByRole("link", { name: "JumpCloud" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/provisioning?idp=jumpcloud`);
    const guide = page.getByTestId("guide");
    await expect(guide.getByRole("heading", { name: "Set up SCIM provisioning in JumpCloud" })).toBeVisible();
    for (const name of ["Generate new token", "Identity Management", "Token Key", "Activate", "every 40 minutes"]) {
      await expect(guide).toContainText(name);
    }
    await expect(guide.getByRole("table")).toContainText("employeeIdentifier");
    const base = `${server.url}/scim/v2/${org}`;
    await expect(guide.getByRole("textbox", { name: "Base URL" })).toHaveValue(base);
    await guide.getByRole("button", { name: "Copy Base URL" }).click();
    await expect(guide.getByText("Copied")).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(base);
    await page.screenshot({ path: "screenshots/guided-jumpcloud-scim.png", fullPage: true });

    await picker.getByRole("link", { name: "Google Workspace" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/provisioning?idp=google`);
    await expect(page.getByTestId("guide-not-supported")).toContainText("does not push users to custom SAML apps");
    await picker.getByRole("link", { name: "OneLogin" }).click();
    await expect(guide.getByRole("textbox", { name: "SCIM Base URL" })).toHaveValue(base);
    await expect(guide).toContainText("SCIM Bearer Token");
  });

  test("a Viewer sees the guides; without JavaScript the picker still works", async ({ page, browser }) => {
    await signIn(page, server, "viewer@umbrella.test");
    await page.goto(`${server.url}/admin/provisioning?idp=okta`);
    const guide = page.getByTestId("guide");
    await expect(guide.getByRole("textbox", { name: "SCIM connector base URL" })).toHaveValue(`${server.url}/scim/v2/${org}`);
    // The guide names the button; the Viewer does not get it.
    await expect(guide).toContainText("Generate new token");
    await expect(page.locator("summary", { hasText: "Generate new token" })).toHaveCount(0);

    const nojs = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
    try {
      const p = await nojs.newPage();
      await p.goto(`${server.url}/admin/sso`);
      await p.getByRole("navigation", { name: "Guided setup" }).getByRole("link", { name: "OneLogin" }).click();
      await expect(p).toHaveURL(`${server.url}/admin/sso?idp=onelogin`);
      await expect(p.getByTestId("guide").getByRole("textbox", { name: "ACS (Consumer) URL", exact: true })).toHaveValue(`${server.url}/saml/${org}/acs`);
    } finally {
      await nojs.close();
    }
  });
});
