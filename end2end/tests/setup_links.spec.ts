import { test, expect, Page } from "@playwright/test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startServer, createAdmin, Server } from "../helpers/server";
import { hydrated } from "../helpers/admin";
import { IDP_CERT } from "../helpers/idp";

// Issue 13 — setup links for outside IT contacts: an Owner sends a link scoped to single
// sign-on; in a fresh browser (no admin session) it opens the guided SSO setup and saves the
// IdP's values, cannot reach Users or provisioning, and stops working once it expires.

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server, email: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

/** Moves a link's expiry into the past, as time passing would (the server reads the clock). */
function expire(server: Server, label: string) {
  const r = spawnSync(
    "python3",
    [
      "-c",
      "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nn = c.execute('UPDATE setup_links SET expires_at = 0 WHERE label = ?', (sys.argv[2],)).rowcount\nc.commit()\nsys.exit(0 if n == 1 else 3)",
      path.join(server.dir, "portal.db"),
      label,
    ],
    { encoding: "utf8", timeout: 10_000 },
  );
  expect(r.status, r.stderr).toBe(0);
}

test.describe.serial("setup links", () => {
  let server: Server;
  let org: string;
  test.beforeAll(async () => {
    server = await startServer();
    org = createAdmin(server, "Initech", "owner@initech.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("an SSO setup link opens only SSO setup in a fresh browser, names itself in Activity, and expires", async ({ page, browser }) => {
    await signIn(page, server, "owner@initech.test");
    await page.getByRole("link", { name: "Setup links" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/setup-links`);
    await expect(page.getByRole("heading", { name: "Setup links", level: 1 })).toBeVisible();
    await hydrated(page);
    await page.getByLabel("Who is it for?").fill("Dana from IT");
    await page.getByLabel("What it sets up").selectOption("sso");
    await expect(page.getByLabel("Expires after (hours, 1–168)")).toHaveValue("72");
    await page.getByRole("button", { name: "Create setup link" }).click();
    const field = page.getByRole("textbox", { name: "Setup link" });
    await expect(field).toHaveValue(new RegExp(`^${server.url}/setup-link/[A-Za-z0-9_-]{43}$`));
    const link = await field.inputValue();
    await expect(page.getByTestId("setup-links")).toContainText("Dana from IT");
    await expect(page.getByTestId("setup-links")).toContainText("Active");
    await page.screenshot({ path: "screenshots/setup-links-admin.png", fullPage: true });

    // The IT contact: a fresh browser context, no admin session.
    const contact = await browser.newContext();
    try {
      const it = await contact.newPage();
      await it.goto(link);
      await expect(it.getByRole("heading", { name: "Set up Initech's identity provider" })).toBeVisible();
      await expect(it.getByTestId("setup-link-for")).toContainText("sent by owner@initech.test to Dana from IT");
      await expect(it.getByTestId("start-provisioning")).toHaveCount(0);
      await it.getByTestId("start-sso").click();
      await expect(it).toHaveURL(`${link}/sso`);
      await expect(it.getByRole("heading", { name: "Set up single sign-on", level: 1 })).toBeVisible();
      // The JumpCloud guide on the link's own page, with this org's values.
      await it.getByRole("navigation", { name: "Guided setup" }).getByRole("link", { name: "JumpCloud" }).click();
      await expect(it).toHaveURL(`${link}/sso?idp=jumpcloud`);
      const guide = it.getByTestId("guide");
      await expect(guide).toContainText("SAML 2.0 endpoint (HTTP)");
      await expect(guide.getByRole("textbox", { name: "ACS URL", exact: true })).toHaveValue(`${server.url}/saml/${org}/acs`);
      // Saves the IdP's values.
      await hydrated(it);
      await it.getByLabel("SAML 2.0 endpoint (HTTP)").fill("https://sso.jumpcloud.test/saml2/initech");
      await it.getByLabel("Public certificate").fill(fs.readFileSync(IDP_CERT, "utf8"));
      await it.getByRole("button", { name: "Save" }).click();
      await expect(it.getByTestId("sso-saved")).toBeVisible();
      await it.screenshot({ path: "screenshots/setup-link-sso.png", fullPage: true });

      // Nothing else opens: not Users, not the admin shell, not provisioning.
      await it.goto(`${server.url}/admin/users`);
      await expect(it).toHaveURL(`${server.url}/admin/login`);
      await it.goto(`${link}/provisioning`);
      await expect(it.getByTestId("setup-link-scope")).toHaveText("This setup link is for single sign-on only.");
      await expect(it.getByText("/scim/v2/")).toHaveCount(0);

      // The admin sees the change in Activity, under the link's name.
      await page.goto(`${server.url}/admin/activity`);
      await expect(page.getByText(/setup link "Dana from IT" \(.+\) sent by owner@initech\.test/).first()).toBeVisible();
      await page.goto(`${server.url}/admin/sso`);
      await expect(page.getByTestId("sso-url")).toHaveText("https://sso.jumpcloud.test/saml2/initech");

      // Expiry: once the link's time is up it opens nothing.
      expire(server, "Dana from IT");
      await it.goto(`${link}/sso`);
      await expect(it.getByTestId("setup-link-invalid")).toContainText("This setup link is invalid, has expired or was revoked.");
      await expect(it.getByLabel("SAML 2.0 endpoint (HTTP)")).toHaveCount(0);
      await page.goto(`${server.url}/admin/setup-links`);
      await expect(page.getByTestId("setup-links")).toContainText("Expired");
    } finally {
      await contact.close();
    }
  });

  test("a revoked provisioning link stops at once", async ({ page, browser }) => {
    await signIn(page, server, "owner@initech.test");
    await page.goto(`${server.url}/admin/setup-links`);
    await hydrated(page);
    await page.getByLabel("Who is it for?").fill("scim-contractor@initech.test");
    await page.getByLabel("What it sets up").selectOption("provisioning");
    await page.getByRole("button", { name: "Create setup link" }).click();
    const link = await page.getByRole("textbox", { name: "Setup link" }).inputValue();
    expect(link).toContain("/setup-link/");

    const contact = await browser.newContext();
    try {
      const it = await contact.newPage();
      await it.goto(`${link}/provisioning`);
      await expect(it.getByRole("textbox", { name: "SCIM base URL" })).toHaveValue(`${server.url}/scim/v2/${org}`);
      await hydrated(it);
      await it.getByRole("button", { name: "Generate token" }).click();
      await expect(it.getByRole("textbox", { name: "New SCIM token" })).toHaveValue(/^[A-Za-z0-9_-]{43}$/);

      const row = page.getByTestId("setup-links").locator("tr", { hasText: "scim-contractor@initech.test" });
      await page.reload();
      await hydrated(page);
      await row.getByRole("button", { name: "Revoke" }).click();
      await expect(row).toContainText("Revoked");
      await it.reload();
      await expect(it.getByTestId("setup-link-invalid")).toBeVisible();
    } finally {
      await contact.close();
    }
  });
});
