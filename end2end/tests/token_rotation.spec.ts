import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

// Zero-downtime SCIM token rotation (issue 13): rotate in the UI, both tokens work, the IdP's
// first successful request with the new token retires the old one, and the screen says so.

const PASSWORD = "a long enough passphrase";
const EMAIL = "it@initrode.test";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

async function scimStatus(server: Server, orgId: string, token: string, path = "/Users"): Promise<number> {
  const res = await fetch(`${server.url}/scim/v2/${orgId}${path}`, {
    headers: { Authorization: `Bearer ${token}`, "User-Agent": "JumpCloud SCIM Client" },
    signal: AbortSignal.timeout(15_000),
  });
  await res.text();
  return res.status;
}

async function shownToken(page: Page): Promise<string> {
  const field = page.getByRole("textbox", { name: "New SCIM token" });
  await expect(field).toBeVisible();
  const token = await field.inputValue();
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return token;
}

test.describe("SCIM token rotation", () => {
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Initrode", EMAIL, PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("rotate, cut over at the first request with the new token, retire by hand", async ({ page }) => {
    const screen = `${server.url}/admin/provisioning`;
    await signIn(page, server);
    await page.goto(screen);
    await expect(page.getByTestId("token-status")).toContainText("No token");
    // Rotate is offered only once there is a token to rotate.
    await expect(page.getByText("Rotate token")).toHaveCount(0);
    await page.getByText("Generate new token").click();
    await page.getByRole("button", { name: "Confirm" }).click();
    const old = await shownToken(page);
    expect(await scimStatus(server, orgId, old)).toBe(200);

    // Rotate: a second token, shown once; the old one keeps working.
    await page.goto(screen);
    await page.getByText("Rotate token").click();
    await expect(page.getByLabel("Retire the old token at the latest after")).toHaveValue("168");
    await page.getByLabel("Retire the old token at the latest after").selectOption("72");
    await page.getByRole("button", { name: "Rotate", exact: true }).click();
    const next = await shownToken(page);
    expect(next).not.toBe(old);
    expect(await scimStatus(server, orgId, old)).toBe(200);

    // The screen shows both tokens and which one the IdP uses.
    await page.goto(screen);
    await expect(page.getByTestId("token-status")).toContainText("Rotating");
    await expect(page.getByTestId("old-token")).toContainText("JumpCloud SCIM Client");
    await expect(page.getByTestId("new-token")).toContainText("it@initrode.test");
    await expect(page.getByTestId("cutover")).toContainText("still using the old token");
    expect(await page.content()).not.toContain(next);
    await page.screenshot({ path: "screenshots/token-rotation.png", fullPage: true });

    // A failed request with the new token does not retire the old one.
    expect(await scimStatus(server, orgId, next, "/Users/no-such-user")).toBe(404);
    expect(await scimStatus(server, orgId, old)).toBe(200);

    // The IdP's first successful request with the new token retires the old one.
    expect(await scimStatus(server, orgId, next)).toBe(200);
    expect(await scimStatus(server, orgId, old)).toBe(401);
    await page.goto(screen);
    await expect(page.getByTestId("token-status")).toContainText("Active");
    await expect(page.getByTestId("token-status")).not.toContainText("Rotating");
    await expect(page.getByTestId("retired")).toContainText("retired");
    await expect(page.getByTestId("retired")).toContainText("by system");
    await expect(page.getByTestId("retired")).toContainText("first successful request with the new token");

    // Rotate again and retire the old token by hand.
    await page.getByText("Rotate token").click();
    await page.getByRole("button", { name: "Rotate", exact: true }).click();
    const third = await shownToken(page);
    await page.goto(screen);
    await expect(page.getByTestId("token-status")).toContainText("Rotating");
    await page.getByText("Retire old token now").click();
    await page.getByRole("button", { name: "Retire", exact: true }).click();
    await expect(page.getByTestId("retired")).toContainText(`by ${EMAIL}: retired by hand`);
    expect(await scimStatus(server, orgId, next)).toBe(401);
    expect(await scimStatus(server, orgId, third)).toBe(200);

    // The activity log has the retirements.
    await page.getByRole("link", { name: "Activity" }).click();
    await expect(page.getByText("Previous SCIM token retired: the IdP made its first successful request with the new token")).toBeVisible();
    await expect(page.getByText("Previous SCIM token retired by hand").first()).toBeVisible();
  });
});
