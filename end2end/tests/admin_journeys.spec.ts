import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";
import { IDP_CERT } from "../helpers/idp";
import { startTestIdp, TestIdp } from "../helpers/test_idp";
import { enrolApp, invitationLink, totp } from "../helpers/admin";

// Issue 12, whole journeys across the admin-team features: an invited admin accepts, sets up an
// authenticator app and signs in with it; an admin signs in through the organisation's IdP.

const PASSWORD = "a long enough passphrase";
const OWNER = "owner@umbrella.test";

async function passwordStep(page: Page, server: Server, email: string, password: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test.describe.serial("admin journeys", () => {
  let server: Server;
  let idp: TestIdp;
  let org: string;
  test.beforeAll(async () => {
    server = await startServer();
    idp = await startTestIdp();
    org = createAdmin(server, "Umbrella", OWNER, PASSWORD);
    createAdmin(server, "Umbrella", "ops@umbrella.test", PASSWORD, "admin");
    const r = server.cli(["sso-config", "--org", org, "--sso-url", idp.ssoUrl, "--certificate", IDP_CERT]);
    if (r.status !== 0) throw new Error(`sso-config failed: ${r.stderr}`);
  });
  test.afterAll(async () => {
    await server.stop();
    await idp.stop();
  });

  test("invite → accept → set up an authenticator app → sign in with password and code", async ({ page, browser }) => {
    const invitee = "alice@umbrella.test";
    const inviteePassword = "alice's long enough passphrase";
    await passwordStep(page, server, OWNER, PASSWORD);
    await expect(page).toHaveURL(`${server.url}/admin`);
    await page.getByRole("link", { name: "Admins" }).click();
    const form = page.getByRole("form", { name: "Invite an admin" });
    await form.getByLabel("Email").fill(invitee);
    await form.getByLabel("Role").selectOption("viewer");
    await form.getByRole("button", { name: "Send invitation" }).click();
    await expect(page.getByRole("status")).toHaveText(`Invitation sent to ${invitee}.`);

    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(await invitationLink(server, invitee));
      await tab.getByLabel("Password (at least 12 characters)").fill(inviteePassword);
      await tab.getByLabel("Repeat the password").fill(inviteePassword);
      await tab.getByRole("button", { name: "Accept and sign in" }).click();
      await expect(tab.getByTestId("admin-email")).toHaveText(invitee);
      await expect(tab.getByTestId("admin-role")).toHaveText("Viewer");
      const { key } = await enrolApp(tab, server);

      // Signed out, the password alone is not enough any more.
      await tab.getByRole("button", { name: "Sign out" }).click();
      await expect(tab).toHaveURL(`${server.url}/admin/login`);
      await passwordStep(tab, server, invitee, inviteePassword);
      await expect(tab).toHaveURL(`${server.url}/admin/login/verify`);
      await tab.getByRole("textbox", { name: "Code from your authenticator app" }).fill(totp(key, 1));
      await tab.getByRole("button", { name: "Verify" }).click();
      await expect(tab).toHaveURL(`${server.url}/admin`);
      await expect(tab.getByTestId("admin-email")).toHaveText(invitee);

      // Your sessions names how this one started.
      await tab.getByRole("link", { name: "Your account" }).click();
      await expect(tab.getByText("Password + authenticator app").first()).toBeVisible();
    } finally {
      await context.close();
    }

    // The Owner's Admins list shows the new admin with two-factor on.
    await page.reload();
    const row = page.getByTestId("team-members").getByRole("row", { name: /alice@umbrella\.test/ });
    await expect(row).toContainText("Viewer");
    await expect(row).toContainText("On");
  });

  test("an admin signs in through the organisation's IdP; an address that is no admin is refused", async ({ browser }) => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      idp.as({ nameId: "ops@umbrella.test" });
      await page.goto(`${server.url}/admin/login?org=${org}`);
      await expect(page.getByTestId("admin-sso")).toBeVisible();
      await page.screenshot({ path: "screenshots/admin-login-sso.png" });
      await page.getByTestId("admin-sso").click();
      await expect(page).toHaveURL(`${server.url}/admin`);
      await expect(page.getByTestId("admin-email")).toHaveText("ops@umbrella.test");
      await expect(page.getByTestId("admin-role")).toHaveText("Admin");
      await page.getByRole("link", { name: "Your account" }).click();
      await expect(page.getByText("Single sign-on").first()).toBeVisible();
    } finally {
      await context.close();
    }

    // Without ?org=, the sign-in page asks for the Org ID (a plain GET form).
    const plain = await browser.newContext();
    try {
      const page = await plain.newPage();
      idp.as({ nameId: "ops@umbrella.test" });
      await page.goto(`${server.url}/admin/login`);
      await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
      await page.getByText("Sign in with single sign-on").click();
      await page.getByLabel("Org ID").fill(org);
      await page.getByRole("button", { name: "Continue with SSO" }).click();
      await expect(page).toHaveURL(`${server.url}/admin/login?org=${org}`);
      await page.getByTestId("admin-sso").click();
      await expect(page).toHaveURL(`${server.url}/admin`);
      await expect(page.getByTestId("admin-email")).toHaveText("ops@umbrella.test");
    } finally {
      await plain.close();
    }

    // The IdP vouches for someone who is an employee at most: no admin session.
    const other = await browser.newContext();
    try {
      const page = await other.newPage();
      idp.as({ nameId: "intruder@umbrella.test" });
      await page.goto(`${server.url}/admin/login?org=${org}`);
      await page.getByTestId("admin-sso").click();
      await expect(page.getByText("not an administrator of this organisation")).toBeVisible();
      await page.goto(`${server.url}/admin`);
      await expect(page).toHaveURL(`${server.url}/admin/login`);
    } finally {
      await other.close();
    }
  });
});
