import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

// SCIM request log (issue 13): a failing SCIM request, then the admin finds it in the log with
// its body redacted and the error the IdP got back.

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("it@reqlog.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

async function scim(server: Server, orgId: string, token: string, method: string, path: string, body: unknown) {
  const res = await fetch(`${server.url}/scim/v2/${orgId}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/scim+json",
      "User-Agent": "JumpCloud SCIM Client",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

test.describe("SCIM request log", () => {
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Reqlog", "it@reqlog.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("a failed SCIM request is listed with its redacted body and its error", async ({ page }) => {
    const token = server.cli(["scim-token", "--org", orgId]).stdout.trim();
    const bad = await scim(server, orgId, token, "POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "",
      password: "correct horse battery staple",
      name: { givenName: "Bad", familyName: "Request" },
    });
    expect(bad.status).toBe(400);
    const good = await scim(server, orgId, token, "POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "ann@reqlog.test",
      name: { givenName: "Ann", familyName: "Lee" },
      emails: [{ value: "ann@reqlog.test", type: "work", primary: true }],
    });
    expect(good.status).toBe(201);

    await signIn(page, server);
    await page.getByRole("link", { name: "Automated user provisioning" }).click();
    await page.getByTestId("scim-requests-link").click();
    await expect(page.getByRole("heading", { name: "SCIM requests" })).toBeVisible();
    await expect(page.getByTestId("requests-total")).toContainText("2 request(s)");

    // Only the failures: the filter is in the URL.
    await page.getByLabel("Status").selectOption("4xx");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/status=4xx/);
    await expect(page.getByTestId("requests-total")).toContainText("1 request(s)");
    const row = page.getByTestId("requests-table").locator("tbody tr");
    await expect(row).toHaveCount(1);
    await expect(row).toContainText("POST /Users");
    await expect(row).toContainText("400");
    await expect(row).toContainText("JumpCloud SCIM Client");

    await row.getByRole("link", { name: "POST /Users" }).click();
    await expect(page.getByTestId("request-status")).toHaveText("400");
    const reqBody = page.getByTestId("request-body");
    await expect(reqBody).toContainText('"password": "[redacted]"');
    await expect(reqBody).not.toContainText("correct horse");
    await expect(page.getByTestId("response-body")).toContainText(bad.json.scimType);
    await expect(page.getByTestId("request-headers")).not.toContainText(token);
    await expect(page.locator("body")).not.toContainText(token);
    await page.screenshot({ path: "screenshots/request-log.png", fullPage: true });

    // The Activity entry of the failure links to the same request.
    await page.goto(`${server.url}/admin/activity?kind=scim&result=failure`);
    await page.getByTestId("event-request-link").first().click();
    await expect(page.getByTestId("request-status")).toHaveText("400");

    // The user page links to the user's requests.
    await page.goto(`${server.url}/admin/users/${good.json.id}`);
    await page.getByTestId("user-requests-link").click();
    await expect(page).toHaveURL(new RegExp(`user=${good.json.id}`));
    await expect(page.getByTestId("requests-table").locator("tbody tr")).toHaveCount(1);
    await expect(page.getByTestId("requests-table")).toContainText("201");
  });
});
