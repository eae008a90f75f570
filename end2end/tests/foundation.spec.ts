import { test, expect, Page } from "@playwright/test";
import { startServer, setupUrl, createAdmin, Server } from "../helpers/server";

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server, email: string, password: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test.describe("first run", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("the printed setup URL creates the organisation and admin once", async ({ page }) => {
    const url = setupUrl(server);
    await page.goto(url);
    await expect(page.getByRole("heading", { name: "Set up the portal" })).toBeVisible();
    await page.getByLabel("Organisation name").fill("Acme Corp");
    await page.getByLabel("Your email").fill("admin@acme.test");
    await page.getByLabel("Password (at least 12 characters)").fill(PASSWORD);
    await page.getByLabel("Repeat the password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create organisation" }).click();
    await expect(page).toHaveURL(`${server.url}/admin`);
    await expect(page.getByTestId("org-name")).toHaveText("Acme Corp");
    await expect(page.getByTestId("admin-email")).toHaveText("admin@acme.test");

    // The token is dead now.
    const again = await page.context().browser()!.newContext();
    const p2 = await again.newPage();
    await p2.goto(url);
    await expect(p2.getByRole("alert")).toContainText("invalid or has already been used");
    await again.close();
  });
});

test.describe("admin sign-in", () => {
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Globex", "root@globex.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("wrong password shows the generic message", async ({ page }) => {
    await signIn(page, server, "root@globex.test", "not the password");
    await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
    await signIn(page, server, "nobody@globex.test", "not the password");
    await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
  });

  test("sign in, copy the Org ID, reload keeps the session, sign out ends it", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await signIn(page, server, "root@globex.test", PASSWORD);
    await expect(page).toHaveURL(`${server.url}/admin`);
    await expect(page.getByRole("textbox", { name: "Org ID" })).toHaveValue(orgId);

    await page.getByRole("button", { name: "Copy Org ID" }).click();
    await expect(page.getByRole("status")).toHaveText("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(orgId);

    await page.reload();
    await expect(page.getByTestId("admin-email")).toHaveText("root@globex.test");

    const oldCookies = await context.cookies();
    expect(oldCookies.find((c) => c.name === "portal_session")?.httpOnly).toBe(true);
    expect(oldCookies.find((c) => c.name === "portal_session")?.sameSite).toBe("Lax");

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/login`);

    // Replaying the old cookie opens nothing: the session was deleted on the server.
    await context.clearCookies();
    await context.addCookies(oldCookies);
    await page.goto(`${server.url}/admin`);
    await expect(page).toHaveURL(`${server.url}/admin/login`);
    await expect(page.getByRole("heading", { name: "Administrator sign-in" })).toBeVisible();
  });

  test("pages carry security headers and a nonce-based CSP", async ({ request }) => {
    const res = await request.get(`${server.url}/admin/login`);
    const csp = res.headers()["content-security-policy"];
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+'/);
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers()["x-content-type-options"]).toBe("nosniff");
    expect(res.headers()["referrer-policy"]).toBe("same-origin");
  });
});
