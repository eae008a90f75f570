import { test, expect } from "@playwright/test";
import { startServer, createAdmin, latestMagicLink, Server } from "../helpers/server";

test.describe("employee magic-link sign-in", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    const org = createAdmin(server, "Umbrella", "admin@umbrella.test", "a long enough passphrase");
    const token = server.cli(["scim-token", "--org", org]).stdout.trim();
    const res = await fetch(`${server.url}/scim/v2/${org}/Users`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json" },
      body: JSON.stringify({
        userName: "alice@umbrella.test",
        name: { givenName: "Alice", familyName: "Abernathy" },
        emails: [{ value: "alice@umbrella.test", type: "work" }],
      }),
    });
    expect(res.status).toBe(201);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("request, read from the outbox, sign in, sign out; the link works once", async ({ page }) => {
    await page.goto(`${server.url}/login`);
    await page.getByLabel("Work email").fill("alice@umbrella.test");
    await page.getByRole("button", { name: "Email me a sign-in link" }).click();
    await expect(page.getByRole("status")).toHaveText(/If that address belongs to an active account, a link is on its way/);

    const link = await latestMagicLink(server, "alice@umbrella.test");
    await page.goto(link);
    await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${server.url}/app`);
    await expect(page.getByTestId("employee-name")).toHaveText("Welcome, Alice Abernathy");
    await expect(page.getByTestId("employee-org")).toHaveText("Umbrella");
    await expect(page.getByTestId("employee-email")).toHaveText("alice@umbrella.test");
    await expect(page.getByTestId("employee-method")).toHaveText("Magic link");
    await page.screenshot({ path: "screenshots/employee-home.png" });

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${server.url}/login`);
    await page.goto(`${server.url}/app`);
    await expect(page).toHaveURL(`${server.url}/login`);

    // The same link again fails with one clear page offering a new link.
    await page.goto(link);
    await expect(page.getByRole("alert")).toContainText("invalid, has expired or was already used");
    await expect(page.getByRole("link", { name: "Request a new link" })).toBeVisible();
  });

  test("an unknown address gets the same answer", async ({ page }) => {
    await page.goto(`${server.url}/login`);
    await page.getByLabel("Work email").fill("nobody@umbrella.test");
    await page.getByRole("button", { name: "Email me a sign-in link" }).click();
    await expect(page.getByRole("status")).toHaveText(/If that address belongs to an active account, a link is on its way/);
  });
});
