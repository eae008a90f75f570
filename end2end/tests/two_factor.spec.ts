import { test, expect, Page } from "@playwright/test";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { startServer, createAdmin, Server } from "../helpers/server";
import { enrolApp, totp } from "../helpers/admin";

// The second factor of admin sign-in (issue 12): an authenticator app (codes computed here from
// the key the screen shows, RFC 6238 HMAC-SHA1), recovery codes, passkeys with Chromium's
// virtual authenticator, and an organisation that requires two-factor authentication.
// The server listens on a localhost URL: WebAuthn needs a domain name, not an IP address.

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server, email: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOut(page: Page, server: Server) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(`${server.url}/admin/login`);
}

test.describe("two-factor sign-in", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer({}, { host: "localhost" });
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("enrol an authenticator app, then sign in with password and code", async ({ page }) => {
    createAdmin(server, "Initech", "totp@initech.test", PASSWORD);
    await signIn(page, server, "totp@initech.test");
    await expect(page).toHaveURL(`${server.url}/admin`);
    const { key } = await enrolApp(page, server, true);
    await page.screenshot({ path: "screenshots/two-factor.png", fullPage: true });

    await signOut(page, server);
    await signIn(page, server, "totp@initech.test");
    await expect(page).toHaveURL(`${server.url}/admin/login/verify`);
    await expect(page.getByRole("heading", { name: "Second sign-in step" })).toBeVisible();
    await expect(page.getByTestId("verify-email")).toHaveText("totp@initech.test");
    // Not signed in yet: the admin screens send the browser back to sign-in.
    await page.goto(`${server.url}/admin/users`);
    await expect(page).toHaveURL(`${server.url}/admin/login`);
    await page.goto(`${server.url}/admin/login/verify`);
    await page.screenshot({ path: "screenshots/two-factor-verify.png", fullPage: true });

    await page.getByRole("textbox", { name: "Code from your authenticator app" }).fill("000000");
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page.getByText("That code is not correct")).toBeVisible();
    await page.getByRole("textbox", { name: "Code from your authenticator app" }).fill(totp(key, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page).toHaveURL(`${server.url}/admin`);
    await expect(page.getByTestId("admin-email")).toHaveText("totp@initech.test");
  });

  test("a recovery code signs in once and is refused the second time", async ({ page }) => {
    createAdmin(server, "Hooli", "recovery@hooli.test", PASSWORD);
    await signIn(page, server, "recovery@hooli.test");
    await expect(page).toHaveURL(`${server.url}/admin`);
    const { codes } = await enrolApp(page, server);
    await signOut(page, server);

    for (const attempt of ["first", "second"]) {
      await signIn(page, server, "recovery@hooli.test");
      await expect(page).toHaveURL(`${server.url}/admin/login/verify`);
      await page.getByText("Use a recovery code").click();
      await page.getByRole("textbox", { name: "Recovery code" }).fill(codes[0]);
      await page.getByRole("button", { name: "Use recovery code" }).click();
      if (attempt === "first") {
        await expect(page).toHaveURL(`${server.url}/admin`);
        await page.goto(`${server.url}/admin/account/2fa`);
        await expect(page.getByTestId("recovery-left")).toHaveText("9 of 10 recovery codes left.");
        await signOut(page, server);
      } else {
        await expect(page.getByText("That code is not correct")).toBeVisible();
        await expect(page).toHaveURL(`${server.url}/admin/login/verify`);
      }
    }
  });

  test("add a passkey with a virtual authenticator and sign in with it", async ({ page }) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    createAdmin(server, "Pied Piper", "passkey@piedpiper.test", PASSWORD);
    await signIn(page, server, "passkey@piedpiper.test");
    await expect(page).toHaveURL(`${server.url}/admin`);
    await page.goto(`${server.url}/admin/account/2fa`);
    await expect(page.getByTestId("no-passkeys")).toBeVisible();
    await page.waitForFunction(() => (window as unknown as { __portalPasskeys?: boolean }).__portalPasskeys === true);
    // A name is required (the browser's own validation), then the ceremony runs.
    await page.getByLabel("Name of the new passkey").fill("Work laptop");
    await page.getByRole("button", { name: "Add passkey" }).click();
    await expect(page.getByTestId("passkey-row")).toHaveCount(1);
    await expect(page.getByTestId("passkey-row")).toContainText("Work laptop");
    // The authenticator holds exactly one credential, for this portal's relying party.
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0].rpId).toBe("localhost");

    await signOut(page, server);
    await signIn(page, server, "passkey@piedpiper.test");
    await expect(page).toHaveURL(`${server.url}/admin/login/verify`);
    await page.waitForFunction(() => (window as unknown as { __portalPasskeys?: boolean }).__portalPasskeys === true);
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await expect(page).toHaveURL(`${server.url}/admin`);
    await expect(page.getByTestId("admin-email")).toHaveText("passkey@piedpiper.test");

    // Used: the list says when; removing it leaves no factor.
    await page.goto(`${server.url}/admin/account/2fa`);
    await expect(page.getByTestId("passkey-row")).not.toContainText("—");
    await page.getByRole("button", { name: "Remove passkey Work laptop" }).click();
    await expect(page.getByTestId("no-passkeys")).toBeVisible();
  });

  test("an organisation that requires 2FA sends an admin without one to enrolment", async ({ page }) => {
    const orgId = createAdmin(server, "Vandelay", "owner@vandelay.test", PASSWORD);
    const db = path.join(server.dir, "portal.db");
    const r = spawnSync(
      "python3",
      [
        "-c",
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('UPDATE orgs SET require_2fa = 1 WHERE id = ?', (sys.argv[2],))\nc.commit()",
        db,
        orgId,
      ],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    await signIn(page, server, "owner@vandelay.test");
    await expect(page).toHaveURL(`${server.url}/admin/account/2fa`);
    await expect(page.getByTestId("2fa-required")).toBeVisible();
    // Every other screen sends the admin back.
    await page.goto(`${server.url}/admin/users`);
    await expect(page).toHaveURL(`${server.url}/admin/account/2fa`);
    await page.getByRole("link", { name: "Activity" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/account/2fa`);
    const { key } = await enrolApp(page, server);
    await expect(page.getByTestId("2fa-required")).toHaveCount(0);
    // The shell lets the admin go now, without a reload.
    await page.getByRole("link", { name: "Users" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/users`);
    await expect(page.getByRole("heading", { name: "Users", level: 1 })).toBeVisible();
    // From now on the second step is asked.
    await signOut(page, server);
    await signIn(page, server, "owner@vandelay.test");
    await expect(page).toHaveURL(`${server.url}/admin/login/verify`);
    await page.getByRole("textbox", { name: "Code from your authenticator app" }).fill(totp(key, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page).toHaveURL(`${server.url}/admin`);
  });
});
