import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { startServer, createAdmin, Server } from "../helpers/server";

// Issue 12, your account: password reset by mail, "Your sessions", changing the password.

const PASSWORD = "a long enough passphrase";
const NEW_PASSWORD = "a brand new long passphrase";

async function signIn(page: Page, server: Server, email: string, password: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

/** The newest password reset link mailed to `to`, read from the server's file outbox. */
async function latestResetLink(server: Server, to: string, timeoutMs = 10_000): Promise<string> {
  const outbox = path.join(server.dir, "outbox");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((f) => f.endsWith(".eml")).sort() : [];
    for (const f of files.reverse()) {
      const raw = fs.readFileSync(path.join(outbox, f), "utf8");
      if (!raw.includes(`To: ${to}`)) continue;
      // Undo quoted-printable soft breaks and escapes.
      const text = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
      const m = text.match(/(http:\/\/[^\s"<]+\/admin\/reset-password\?token=[A-Za-z0-9_-]+)/);
      if (m) return m[1];
    }
    if (Date.now() > deadline) throw new Error(`no reset link for ${to} in ${outbox}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test.describe("password reset by mail", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    createAdmin(server, "Initech", "peter@initech.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("request, read the mail, choose a new password, sign in with it; the link works once", async ({ page }) => {
    await page.goto(`${server.url}/admin/login`);
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/forgot-password`);
    await page.getByLabel("Email").fill("peter@initech.test");
    await page.getByRole("button", { name: "Email me a reset link" }).click();
    await expect(page.getByRole("status")).toContainText("If that address belongs to an administrator");

    const link = await latestResetLink(server, "peter@initech.test");
    await page.goto(link);
    await expect(page.getByRole("heading", { name: "Choose a new password" })).toBeVisible();
    await page.screenshot({ path: "screenshots/reset-password.png", fullPage: true });
    await page.getByLabel("New password (at least 12 characters)").fill(NEW_PASSWORD);
    await page.getByLabel("Repeat the new password").fill("not the same passphrase");
    await page.getByRole("button", { name: "Set new password" }).click();
    await expect(page.getByRole("alert")).toHaveText("The two passwords do not match.");

    await page.getByLabel("New password (at least 12 characters)").fill(NEW_PASSWORD);
    await page.getByLabel("Repeat the new password").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Set new password" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/login?reset=1`);
    await expect(page.getByTestId("reset-done")).toContainText("Sign in with your new password.");

    // Not signed in by the reset: the admin area still sends to sign-in.
    await page.goto(`${server.url}/admin`);
    await expect(page).toHaveURL(`${server.url}/admin/login`);

    // The old password is refused, the new one signs in.
    await page.getByLabel("Email").fill("peter@initech.test");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
    await signIn(page, server, "peter@initech.test", NEW_PASSWORD);
    await expect(page.getByTestId("admin-email")).toHaveText("peter@initech.test");

    // The same link again: one clear message and a way to ask for a new one.
    await page.goto(link);
    await expect(page.getByRole("alert")).toContainText("invalid, has expired or was already used");
    await expect(page.getByRole("link", { name: "Request a new link" })).toBeVisible();
  });

  test("an unknown address gets the same answer", async ({ page }) => {
    await page.goto(`${server.url}/admin/forgot-password`);
    await page.getByLabel("Email").fill("nobody@initech.test");
    await page.getByRole("button", { name: "Email me a reset link" }).click();
    await expect(page.getByRole("status")).toContainText("If that address belongs to an administrator");
  });
});

test.describe("your account and your sessions", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    createAdmin(server, "Hooli", "gavin@hooli.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("end one session, change the password, then sign out everywhere ends the other browser", async ({ page, browser }) => {
    const other = await browser.newContext();
    const third = await browser.newContext();
    try {
      const otherPage = await other.newPage();
      const thirdPage = await third.newPage();
      await signIn(page, server, "gavin@hooli.test", PASSWORD);
      await signIn(otherPage, server, "gavin@hooli.test", PASSWORD);
      await signIn(thirdPage, server, "gavin@hooli.test", PASSWORD);

      await page.getByRole("link", { name: "Your account" }).click();
      await expect(page).toHaveURL(`${server.url}/admin/account`);
      await expect(page.getByTestId("account-email")).toHaveText("gavin@hooli.test");
      await expect(page.getByTestId("account-role")).toHaveText("Owner");
      const rows = page.getByTestId("admin-session");
      await expect(rows).toHaveCount(3);
      await expect(page.getByTestId("this-browser")).toHaveCount(1);
      await expect(rows.first().getByTestId("session-method")).toHaveText("Password");
      await expect(rows.first()).toContainText("Chrome on Linux");
      await page.screenshot({ path: "screenshots/account.png", fullPage: true });

      // End one other session: that browser's next navigation lands on sign-in.
      await rows.nth(1).getByRole("button", { name: "End" }).click(); // the most recently seen other: the third browser
      await expect(rows).toHaveCount(2);
      await thirdPage.goto(`${server.url}/admin/users`);
      await expect(thirdPage).toHaveURL(`${server.url}/admin/login`);

      // Change the password: the other session ends, this one stays.
      await page.getByLabel("Current password").fill(PASSWORD);
      await page.getByLabel("New password (at least 12 characters)").fill(NEW_PASSWORD);
      await page.getByLabel("Repeat the new password").fill(NEW_PASSWORD);
      await page.getByRole("button", { name: "Change password" }).click();
      await expect(page.getByTestId("password-changed")).toHaveText(
        "Your password was changed. 1 other session was signed out.",
      );
      await expect(page.getByLabel("Current password")).toHaveValue("");
      await expect(rows).toHaveCount(1);
      await otherPage.goto(`${server.url}/admin`);
      await expect(otherPage).toHaveURL(`${server.url}/admin/login`);
      await page.reload();
      await expect(page.getByTestId("account-email")).toHaveText("gavin@hooli.test");

      // Sign in again elsewhere, then sign out everywhere from here: both end.
      await signIn(otherPage, server, "gavin@hooli.test", NEW_PASSWORD);
      await page.reload();
      await expect(rows).toHaveCount(2);
      await page.getByRole("button", { name: "Sign out everywhere" }).click();
      await expect(page).toHaveURL(`${server.url}/admin/login`);
      await otherPage.goto(`${server.url}/admin/account`);
      await expect(otherPage).toHaveURL(`${server.url}/admin/login`);
      await page.goto(`${server.url}/admin/account`);
      await expect(page).toHaveURL(`${server.url}/admin/login`);
    } finally {
      await other.close();
      await third.close();
    }
  });
});
