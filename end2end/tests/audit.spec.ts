// Issue 12 — the audit trail and the Overview checklist in a browser: the Overview follows the
// setup (SSO not configured → configured), Activity filters by kind, result and date live in the
// URL (a reload keeps them), and the CSV export downloads exactly the filtered rows.
import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import { startServer, createAdmin, Server } from "../helpers/server";
import { IDP_CERT } from "../helpers/idp";
import { hydrated } from "../helpers/admin";

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("it@umbrella.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

async function scim(server: Server, orgId: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}/scim/v2/${orgId}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/scim+json",
      "User-Agent": "Okta SCIM Client",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return res.status;
}

/// A CSV document as rows of cells (quoted cells may hold commas, quotes and line breaks).
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      // the \n ends the row
    } else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  expect(cell).toBe("");
  return rows;
}

const today = () => new Date().toISOString().slice(0, 10);
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

test.describe.serial("audit trail and overview", () => {
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Umbrella", "it@umbrella.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("the Overview follows the setup", async ({ page }) => {
    await signIn(page, server);
    await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
    await expect(page.getByTestId("check-sso")).toContainText("Not configured");
    await expect(page.getByTestId("next-step")).toHaveAttribute("data-step", "configure_sso");
    await expect(page.getByRole("textbox", { name: "Org ID" })).toHaveValue(orgId);

    // The next step links to its screen; save SSO there.
    await page.getByTestId("next-step").getByRole("link", { name: "Set up single sign-on" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/sso`);
    await page.getByLabel("SAML 2.0 endpoint (HTTP)").fill("https://idp.umbrella.example/sso");
    await page.getByLabel("Public certificate").fill(fs.readFileSync(IDP_CERT, "utf8"));
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("current-cert")).toContainText("RSA 2048-bit");

    await page.getByRole("link", { name: "Overview" }).click();
    await expect(page.getByTestId("check-sso")).toContainText("Configured. Last successful sign-in: —");
    await expect(page.getByTestId("check-cert")).toContainText("(valid)");
    await expect(page.getByTestId("next-step")).toHaveAttribute("data-step", "test_sso");
    await expect(page.getByTestId("check-scim")).toContainText("No active token");
    await expect(page.getByTestId("check-failures")).toContainText("None.");
  });

  test("Activity filters live in the URL and the CSV export has the filtered rows", async ({ page }) => {
    await signIn(page, server);
    // SCIM activity: a token, a user created, a request refused.
    await page.goto(`${server.url}/admin/provisioning`);
    await page.getByText("Generate new token").click();
    await page.getByRole("button", { name: "Confirm" }).click();
    const field = page.getByRole("textbox", { name: "New SCIM token" });
    await expect(field).toBeVisible();
    const token = await field.inputValue();
    expect(
      await scim(server, orgId, token, "POST", "/Users", {
        userName: "jill@umbrella.test",
        emails: [{ value: "jill@umbrella.test", type: "work" }],
        name: { givenName: "Jill", familyName: "Valentine" },
      }),
    ).toBe(201);
    expect(
      await scim(server, orgId, token, "POST", "/Users", {
        userName: "=cmd@umbrella.test",
        emails: [{ value: "other@umbrella.test", type: "work" }],
      }),
    ).toBe(400);

    // Filter by kind and date through the form.
    await page.goto(`${server.url}/admin/activity`);
    await hydrated(page);
    await page.getByRole("checkbox", { name: "SCIM" }).check();
    await page.getByLabel("From (UTC)").fill(today());
    await page.getByLabel("To (UTC, inclusive)").fill(today());
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(new RegExp(`kind=scim.*from=${today()}.*to=${today()}`));
    const events = page.locator("ol.events > li");
    await expect(events).toHaveCount(3); // token generated, user created, create refused
    for (const kind of await events.evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")))) {
      expect(kind).toBe("scim");
    }
    await expect(page.getByTestId("activity-total")).toHaveText("3 event(s)");

    // A reload keeps the filters, in the form and in the list.
    await page.reload();
    await hydrated(page);
    await expect(page.getByRole("checkbox", { name: "SCIM" })).toBeChecked();
    await expect(page.getByRole("checkbox", { name: "SSO" })).not.toBeChecked();
    await expect(page.getByLabel("From (UTC)")).toHaveValue(today());
    await expect(events).toHaveCount(3);

    // Failures only.
    await page.getByLabel("Result").selectOption("failure");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/result=failure/);
    await expect(page.getByTestId("activity-total")).toHaveText("1 event(s)");
    await expect(page.getByText("How to fix:")).toBeVisible();
    await page.screenshot({ path: "screenshots/activity.png", fullPage: true });

    // The CSV export carries the filters: the same one row, the formula defused.
    const csvLink = page.getByTestId("export-csv");
    await expect(csvLink).toHaveAttribute("href", /kind=scim/);
    const [download] = await Promise.all([page.waitForEvent("download"), csvLink.click()]);
    expect(download.suggestedFilename()).toMatch(/^activity-\d{4}-\d{2}-\d{2}\.csv$/);
    const rows = parseCsv(fs.readFileSync(await download.path(), "utf8"));
    expect(rows[0]).toEqual(["Time (UTC)", "Kind", "Event", "Result", "Actor", "User ID", "userName", "SCIM error", "Message"]);
    expect(rows).toHaveLength(2);
    expect(rows[1][1]).toBe("scim");
    expect(rows[1][2]).toBe("user_create_provision");
    expect(rows[1][3]).toBe("failure");
    expect(rows[1][7]).toBe("invalidValue");

    // Without the result filter: the three SCIM events, newest first, as listed.
    await page.goto(`${server.url}/admin/activity?kind=scim&from=${today()}&to=${today()}`);
    await expect(events).toHaveCount(3);
    const names = await page.locator("ol.events .event-name").allTextContents();
    const [all] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
    const allRows = parseCsv(fs.readFileSync(await all.path(), "utf8"));
    expect(allRows.slice(1).map((r) => r[2])).toEqual(names);

    // A day without events; a bad date range is refused in words.
    await page.goto(`${server.url}/admin/activity?kind=scim&from=${yesterday()}&to=${yesterday()}`);
    await expect(page.getByTestId("activity-empty")).toContainText("No events match these filters");
    await page.goto(`${server.url}/admin/activity?from=${today()}&to=${yesterday()}`);
    await expect(page.getByTestId("activity-error")).toContainText("is after the “to” date");

    // The Overview now counts the failure and links into Activity filtered to it.
    await page.goto(`${server.url}/admin`);
    await expect(page.getByTestId("check-scim")).toContainText("Token active since");
    await expect(page.getByTestId("users-active")).toHaveText("1");
    await expect(page.getByTestId("failures-link")).toHaveText("1 failure(s)");
    await page.screenshot({ path: "screenshots/overview.png", fullPage: true });
    await page.getByTestId("failures-link").click();
    await expect(page).toHaveURL(/\/admin\/activity\?result=failure&from=/);
    await expect(page.getByTestId("activity-total")).toHaveText("1 event(s)");

    // From a user's page to that user's activity.
    await page.goto(`${server.url}/admin/users`);
    await page.getByRole("link", { name: "Jill Valentine" }).click();
    await page.getByTestId("user-activity-link").click();
    await expect(page).toHaveURL(/\/admin\/activity\?user=/);
    await expect(page.getByLabel("User (id or userName)")).not.toHaveValue("");
    await expect(page.getByTestId("activity-total")).toHaveText("1 event(s)");
    await expect(page.locator("ol.events .event-name")).toHaveText(["user_create_provision"]);
  });
});
