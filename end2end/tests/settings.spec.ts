import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

// Organisation settings (issue 12): the Owner restricts the email domains on the screen, and the
// SCIM API obeys at once.

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("owner@initech.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

async function scimPost(server: Server, orgId: string, token: string, userName: string) {
  const res = await fetch(`${server.url}/scim/v2/${orgId}/Users`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/scim+json",
      "User-Agent": "Okta SCIM Client",
    },
    body: JSON.stringify({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName,
      active: true,
      name: { givenName: "Pat", familyName: "Lee" },
      emails: [{ value: userName, type: "work", primary: true }],
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

test.describe("organisation settings", () => {
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Initech", "owner@initech.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("the Owner's allowed domains bind SCIM", async ({ page }) => {
    const r = server.cli(["scim-token", "--org", orgId]);
    expect(r.status, r.stderr).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    await signIn(page, server);
    await page.getByRole("link", { name: "Organisation settings" }).click();
    await expect(page.getByRole("heading", { name: "Organisation settings", level: 1 })).toBeVisible();
    const form = page.getByRole("form", { name: "Organisation settings" });
    const domains = form.getByLabel("Allowed email domains");
    await expect(form.getByLabel("Organisation name")).toHaveValue("Initech");
    await expect(form.getByLabel(/Retention for deleted users/)).toHaveValue("30");
    await expect(form.getByLabel(/Retention for events/)).toHaveValue("365");
    await expect(form.getByLabel("userName must equal the work email")).toBeChecked();
    await expect(domains).toHaveValue("");

    // A bad domain: the field says what is wrong, nothing is saved.
    await domains.fill("initech.test, not a domain");
    await form.getByRole("button", { name: "Save settings" }).click();
    await expect(domains).toHaveAttribute("aria-invalid", "true");
    await expect(page.locator("#allowed-domains-error")).toContainText("not a domain");

    // A good list, normalised on save; the page says what changed.
    await domains.fill("@Initech.TEST\ninitech.example");
    await form.getByLabel(/Retention for events/).fill("90");
    await form.getByRole("button", { name: "Save settings" }).click();
    const saved = page.getByTestId("settings-saved");
    await expect(saved).toContainText("allowed email domains any domain → initech.test, initech.example");
    await expect(saved).toContainText("retention for events 365 → 90 days");
    await expect(form.getByLabel("Allowed email domains")).toHaveValue("initech.test\ninitech.example");
    await page.screenshot({ path: "screenshots/settings.png", fullPage: true });

    // SCIM: outside the list → 400 invalidValue naming the allowed domains; inside → created.
    const refused = await scimPost(server, orgId, token, "mallory@evil.example");
    expect(refused.status).toBe(400);
    expect(refused.json.scimType).toBe("invalidValue");
    expect(refused.json.detail).toContain("initech.test, initech.example");
    const created = await scimPost(server, orgId, token, "pat@initech.example");
    expect(created.status).toBe(201);
    expect(created.json.userName).toBe("pat@initech.example");

    // The refusal and the change are in the activity, in plain words.
    await page.goto(`${server.url}/admin/activity`);
    await expect(page.getByText(/mallory@evil\.example is outside this organisation's allowed email domains/)).toBeVisible();
    await expect(page.getByText(/Changed organisation settings: .*retention for events 365 → 90 days/)).toBeVisible();
  });
});
