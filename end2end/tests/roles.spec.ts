import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

// Issue 12: a Viewer reads every screen and changes nothing. The buttons are absent, and the
// server refuses a crafted call all the same.

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server, email: string) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

test.describe("roles", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    createAdmin(server, "Globex", "owner@globex.test", PASSWORD);
    createAdmin(server, "Globex", "viewer@globex.test", PASSWORD, "viewer");
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("a Viewer sees every screen without controls, and a crafted call is refused", async ({ page }) => {
    await signIn(page, server, "viewer@globex.test");
    await expect(page.getByTestId("admin-role")).toHaveText("Viewer");

    await page.getByRole("link", { name: "Single Sign-On", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Single Sign-On" })).toBeVisible();
    await expect(page.getByTestId("read-only")).toContainText("read-only");
    await expect(page.getByRole("textbox", { name: "Entity ID / Audience" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
    await expect(page.getByText("Preview import")).toHaveCount(0);

    await page.getByRole("link", { name: "Automated user provisioning" }).click();
    await expect(page.getByRole("heading", { name: "Automated user provisioning" })).toBeVisible();
    await expect(page.getByTestId("read-only")).toBeVisible();
    await expect(page.getByRole("textbox", { name: "SCIM base URL" })).toBeVisible();
    await expect(page.getByText("Generate new token")).toHaveCount(0);
    await page.screenshot({ path: "screenshots/viewer-provisioning.png", fullPage: true });

    await page.getByRole("link", { name: "Users" }).click();
    await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
    await expect(page.locator("summary", { hasText: "Add user" })).toHaveCount(0);

    // The same calls the hidden buttons would make, crafted by hand: refused, nothing changes.
    const generate = await page.request.post(`${server.url}/api/generate_scim_token`, {
      headers: { Accept: "application/json", Origin: server.url },
      form: {},
    });
    expect(generate.status()).toBe(403);
    expect(await generate.text()).toContain("Viewer");
    const add = await page.request.post(`${server.url}/api/admin_add_user`, {
      headers: { Accept: "application/json", Origin: server.url },
      form: { email: "sneaky@globex.test", given_name: "S", family_name: "N", department: "", country: "", locality: "" },
    });
    expect(add.status()).toBe(403);
    await page.reload();
    await expect(page.getByText("sneaky@globex.test")).toHaveCount(0);
    await page.goto(`${server.url}/admin/provisioning`);
    await expect(page.getByTestId("token-status")).toContainText("No token");
  });

  test("an Owner sees the controls", async ({ page }) => {
    await signIn(page, server, "owner@globex.test");
    await expect(page.getByTestId("admin-role")).toHaveText("Owner");
    await page.getByRole("link", { name: "Automated user provisioning" }).click();
    await expect(page.getByText("Generate new token")).toBeVisible();
    await expect(page.getByTestId("read-only")).toHaveCount(0);
  });
});
