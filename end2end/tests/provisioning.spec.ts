import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("it@initech.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

async function scim(server: Server, orgId: string, token: string, method: string, path: string, body?: unknown, ua = "JumpCloud SCIM Client") {
  const res = await fetch(`${server.url}/scim/v2/${orgId}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/scim+json",
      "User-Agent": ua,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function generateToken(page: Page): Promise<string> {
  await page.getByText("Generate new token").click();
  await expect(page.getByText(/replaces the existing token|turns SCIM provisioning on/)).toBeVisible();
  await page.getByRole("button", { name: "Confirm" }).click();
  const field = page.getByRole("textbox", { name: "New SCIM token" });
  await expect(field).toBeVisible();
  const token = await field.inputValue();
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return token;
}

test.describe("automated user provisioning", () => {
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Initech", "it@initech.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("token shown once, cut-over, users and activity", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await signIn(page, server);
    await page.getByRole("link", { name: "Automated user provisioning" }).click();
    await expect(page.getByRole("heading", { name: "Automated user provisioning" })).toBeVisible();
    await expect(page.getByRole("textbox", { name: "SCIM base URL" })).toHaveValue(`${server.url}/scim/v2/${orgId}`);
    await expect(page.getByTestId("token-status")).toContainText("No token");

    // Generate → confirm → shown once → copy.
    const first = await generateToken(page);
    await page.getByRole("button", { name: "Copy New SCIM token" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first);
    await page.screenshot({ path: "screenshots/provisioning.png", fullPage: true });

    // A reload shows only the status.
    await page.reload();
    await expect(page.getByTestId("token-status")).toContainText("Active");
    await expect(page.getByRole("textbox", { name: "New SCIM token" })).toHaveCount(0);
    expect(await page.content()).not.toContain(first);
    await expect(page.getByTestId("cutover")).toContainText("Waiting for your IdP's first request");

    // The token works.
    expect((await scim(server, orgId, first, "GET", "/Users")).status).toBe(200);

    // Generate again: the first token is refused from that moment.
    const second = await generateToken(page);
    expect(second).not.toBe(first);
    expect((await scim(server, orgId, first, "GET", "/Users")).status).toBe(401);
    await page.reload();
    await expect(page.getByTestId("cutover")).toContainText("Waiting for your IdP's first request");
    await expect(page.getByTestId("rejected-warning")).toContainText("1 request(s) arrived with a replaced or revoked token");

    // Provision a user with the new token; the cut-over indicator flips.
    const created = await scim(server, orgId, second, "POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      userName: "peter@initech.test",
      name: { givenName: "Peter", familyName: "Gibbons" },
      emails: [{ value: "peter@initech.test", type: "work", primary: true }],
      addresses: [{ type: "work", country: "US", locality: "Austin" }],
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "Engineering" },
    });
    expect(created.status).toBe(201);
    const uid = created.json.id as string;
    await scim(server, orgId, second, "POST", "/Users", {
      userName: "milton@initech.test",
      name: { givenName: "Milton", familyName: "Waddams" },
      emails: [{ value: "milton@initech.test", type: "work" }],
    });
    await page.reload();
    await expect(page.getByTestId("cutover")).toContainText("Your IdP is using the new token");
    await expect(page.getByTestId("cutover")).toContainText("JumpCloud SCIM Client");

    // Users: source SCIM, then Deactivated, then Deleted with a purge date.
    await page.getByRole("link", { name: "Users", exact: true }).click();
    const row = page.getByRole("row", { name: /peter@initech\.test/ });
    await expect(row).toContainText("SCIM");
    await expect(row).toContainText("Active");
    await expect(row).toContainText("Engineering");
    await expect(row).toContainText("Austin");
    await page.screenshot({ path: "screenshots/users.png", fullPage: true });

    expect((await scim(server, orgId, second, "PATCH", `/Users/${uid}`, { Operations: [{ op: "replace", path: "active", value: false }] })).status).toBe(200);
    await page.reload();
    await expect(page.getByRole("row", { name: /peter@initech\.test/ })).toContainText("Deactivated");

    expect((await scim(server, orgId, second, "DELETE", `/Users/${uid}`)).status).toBe(204);
    await page.reload();
    await expect(page.getByRole("row", { name: /peter@initech\.test/ })).toContainText("Deleted");
    await page.getByRole("link", { name: "Peter Gibbons" }).click();
    await expect(page.getByTestId("user-status")).toHaveText("Deleted");
    await expect(page.getByTestId("purge-date")).toContainText("will be purged on");
    await expect(page.getByRole("list").getByText("user_delete_provision")).toBeVisible();

    // Search and filter narrow the table and survive a reload.
    await page.goto(`${server.url}/admin/users`);
    await expect(page.getByTestId("users-total")).toHaveText("2 user(s)");
    // Typing before hydration can be undone by it: wait until the page is live.
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
    await page.getByLabel("Search").fill("milton");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/q=milton/);
    await expect(page.getByTestId("users-total")).toHaveText("1 user(s)");
    await page.reload();
    await expect(page.getByTestId("users-total")).toHaveText("1 user(s)");
    await expect(page.getByRole("row", { name: /milton@initech\.test/ })).toBeVisible();
    await page.goto(`${server.url}/admin/users?status=deleted`);
    await expect(page.getByTestId("users-total")).toHaveText("1 user(s)");
    await expect(page.getByRole("row", { name: /peter@initech\.test/ })).toBeVisible();

    // Activity lists the create, deprovision and delete events.
    await page.getByRole("link", { name: "Activity" }).click();
    for (const name of ["user_create_provision", "user_deprovision", "user_delete_provision", "idm_integration_reauth", "idm_integration_activate"]) {
      await expect(page.getByRole("list").getByText(name, { exact: true }).first()).toBeVisible();
    }
    // A failure shows its SCIM error and a fix in plain words.
    const bad = await scim(server, orgId, second, "POST", "/Users", {
      userName: "bill@initech.test",
      emails: [{ value: "william@initech.test", type: "work" }],
    });
    expect(bad.status).toBe(400);
    await page.goto(`${server.url}/admin/activity?result=failure`);
    await expect(page.getByText("map both from Company Email in JumpCloud")).toBeVisible();

    // Revoke turns SCIM off.
    await page.goto(`${server.url}/admin/provisioning`);
    await page.getByText("Revoke token").click();
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    await expect(page.getByTestId("token-status")).toContainText("No token");
    expect((await scim(server, orgId, second, "GET", "/Users")).status).toBe(401);
  });
});
