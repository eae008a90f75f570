import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

const PASSWORD = "a long enough passphrase";
const TOKEN_FORM = "/api/provisioning/token";

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  let server: Server;
  let orgId: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Vandelay", "art@vandelay.test", PASSWORD);
  });

  async function signIn(page: Page) {
    await page.goto(`${server.url}/admin/login`);
    await page.getByLabel("Email").fill("art@vandelay.test");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${server.url}/admin`);
  }

  async function scimStatus(request: APIRequestContext, token: string): Promise<number> {
    const res = await request.get(`${server.url}/scim/v2/${orgId}/Users`, {
      headers: { Authorization: `Bearer ${token}` },
      timeout: 10_000,
    });
    return res.status();
  }

  /** Generate new token → Confirm, as a plain form post; returns the token and the response. */
  async function generateToken(page: Page) {
    await page.getByText("Generate new token").click();
    const posted = page.waitForResponse(
      (r) => r.url() === `${server.url}${TOKEN_FORM}` && r.request().method() === "POST",
      { timeout: 10_000 },
    );
    await page.getByRole("button", { name: "Confirm" }).click();
    const response = await posted;
    await expect(page).toHaveURL(`${server.url}${TOKEN_FORM}`);
    await expect(page.getByRole("heading", { name: "New SCIM token" })).toBeVisible();
    await expect(page.getByText("It is shown only once")).toBeVisible();
    const token = await page.getByRole("textbox", { name: "New SCIM token" }).inputValue();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return { token, response };
  }
  test.afterAll(async () => {
    await server.stop();
  });

  test("admin sign-in and sign-out are plain form posts", async ({ page }) => {
    await page.goto(`${server.url}/admin/login`);
    await page.getByLabel("Email").fill("art@vandelay.test");
    await page.getByLabel("Password").fill("wrong password!!");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
    await page.getByLabel("Email").fill("art@vandelay.test");
    await page.getByLabel("Password").fill("a long enough passphrase");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${server.url}/admin`);
    await expect(page.getByTestId("admin-email")).toHaveText("art@vandelay.test");
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/login`);
  });

  test("SCIM token: generated and shown once, used, replaced, revoked", async ({ page, request }) => {
    await signIn(page);
    await page.goto(`${server.url}/admin/provisioning`);
    await expect(page.getByTestId("token-status")).toContainText("No token");

    const first = await generateToken(page);
    expect(first.response.status()).toBe(200);
    expect(first.response.headers()["cache-control"]).toBe("no-store");
    await expect(page.getByRole("textbox", { name: "SCIM base URL" })).toHaveValue(`${server.url}/scim/v2/${orgId}`);
    expect(await scimStatus(request, first.token)).toBe(200);

    // Reloading the token page posts the form again: refused, the token just shown still works.
    await page.reload();
    await expect(page.getByRole("heading", { name: "Token not generated" })).toBeVisible();
    await expect(page.getByRole("textbox", { name: "New SCIM token" })).toHaveCount(0);
    expect(await scimStatus(request, first.token)).toBe(200);

    // Back on the screen: the status, never the token.
    await page.getByRole("link", { name: "Back to Automated user provisioning" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/provisioning`);
    await expect(page.getByTestId("token-status")).toContainText("Active");
    expect(await page.content()).not.toContain(first.token);

    // A second generation replaces the first token at once.
    const second = await generateToken(page);
    expect(second.token).not.toBe(first.token);
    expect(second.response.headers()["cache-control"]).toBe("no-store");
    expect(await scimStatus(request, first.token)).toBe(401);
    expect(await scimStatus(request, second.token)).toBe(200);

    // Revoke posts the server function's form and comes back showing the revoked state.
    await page.getByRole("link", { name: "Back to Automated user provisioning" }).click();
    await page.getByText("Revoke token").click();
    await page.getByRole("button", { name: "Revoke", exact: true }).click();
    // Back to the Referer (leptos leaves an empty "?" where it strips old error info).
    await expect(page).toHaveURL(new RegExp(`^${server.url}/admin/provisioning\\??$`));
    await expect(page.getByTestId("token-status")).toContainText("No token");
    expect(await scimStatus(request, second.token)).toBe(401);
  });

  test("Add user lands on the new user's page", async ({ page }) => {
    await signIn(page);
    await page.goto(`${server.url}/admin/users`);
    await page.getByText("Add user", { exact: true }).first().click();
    const form = page.getByRole("form", { name: "Add user" });
    await form.getByLabel("Email (userName)").fill("kramer@vandelay.test");
    await form.getByLabel("First name").fill("Cosmo");
    await form.getByLabel("Last name").fill("Kramer");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect(page).toHaveURL(new RegExp(`^${server.url}/admin/users/[0-9a-f-]{36}$`));
    await expect(page.getByRole("heading", { name: "kramer@vandelay.test" })).toBeVisible();
    await expect(page.getByTestId("user-status")).toHaveText("Active");
  });

  test("a refused field comes back marked, with its message linked", async ({ page }) => {
    await signIn(page);
    await page.goto(`${server.url}/admin/users`);
    await page.getByText("Add user", { exact: true }).first().click();
    const form = page.getByRole("form", { name: "Add user" });
    await form.getByLabel("Email (userName)").fill("newman@localhost");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect(page).toHaveURL(/\/admin\/users\?.*__err=/);
    // The form is open again on the returned page, the email field marked and described.
    const email = page.getByRole("form", { name: "Add user" }).getByLabel("Email (userName)");
    await expect(email).toHaveAttribute("aria-invalid", "true");
    await expect(email).toHaveAccessibleDescription(/Enter a valid email address/);
    await expect(page.getByRole("form", { name: "Add user" }).getByRole("alert")).toContainText("Enter a valid email address");
  });

  test("an employee's link request shows the answer", async ({ page }) => {
    await page.goto(`${server.url}/login?org=${orgId}`);
    await page.getByLabel("Work email").fill("nobody@vandelay.test");
    await page.getByRole("button", { name: "Email me a sign-in link" }).click();
    await expect(page).toHaveURL(`${server.url}/login?org=${orgId}&sent=1`);
    await expect(page.getByRole("status")).toHaveText(/If that address belongs to an active account, a link is on its way/);
  });
});
