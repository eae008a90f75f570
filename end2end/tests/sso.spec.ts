import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import { X509Certificate } from "node:crypto";
import { startServer, createAdmin, Server } from "../helpers/server";
import { IDP_CERT, IDP_KEY, IDP_METADATA, IDP_ENTITY_ID, OTHER_CERT, OTHER_KEY } from "../helpers/idp";
import { startTestIdp, TestIdp } from "../helpers/test_idp";

const PASSWORD = "a long enough passphrase";
const fingerprint = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256;

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("it@hooli.test");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

test.describe.serial("SAML single sign-on", () => {
  let server: Server;
  let idp: TestIdp;
  let org: string;
  test.beforeAll(async () => {
    server = await startServer();
    idp = await startTestIdp();
    org = createAdmin(server, "Hooli", "it@hooli.test", PASSWORD);
  });
  test.afterAll(async () => {
    await server.stop();
    await idp.stop();
  });

  test("admin pastes the endpoint and certificate, uploads a next certificate, imports metadata", async ({ page }) => {
    await signIn(page, server);
    await page.getByRole("link", { name: "Single Sign-On", exact: true }).click();
    await expect(page).toHaveURL(`${server.url}/admin/sso`);
    await expect(page.getByRole("textbox", { name: "Entity ID / Audience" })).toHaveValue(`${server.url}/saml/${org}/metadata`);
    await expect(page.getByRole("textbox", { name: "ACS URL (Assertion Consumer Service)" })).toHaveValue(`${server.url}/saml/${org}/acs`);
    await expect(page.getByRole("textbox", { name: "Org ID" })).toHaveValue(org);

    // A private key is refused with a warning and nothing is saved.
    await page.getByLabel("SAML 2.0 endpoint (HTTP)").fill(idp.ssoUrl);
    await page.getByLabel("Public certificate").fill(fs.readFileSync(IDP_KEY, "utf8"));
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Never share a private key" })).toBeVisible();
    await expect(page.getByTestId("sso-status")).toHaveCount(0);
    // …next to the field it is about: marked invalid, the message linked as its description.
    const certField = page.getByLabel("Public certificate");
    await expect(certField).toHaveAttribute("aria-invalid", "true");
    await expect(certField).toHaveAccessibleDescription(/Never share a private key/);
    const certMessage = page.locator(`#${await certField.getAttribute("aria-describedby")}`);
    await expect(certMessage).toContainText("Never share a private key");
    await expect(page.getByLabel("SAML 2.0 endpoint (HTTP)")).not.toHaveAttribute("aria-invalid", "true");

    // A non-https endpoint elsewhere than this machine is refused.
    await page.getByLabel("SAML 2.0 endpoint (HTTP)").fill("http://idp.example.com/sso");
    await page.getByLabel("Public certificate").fill(fs.readFileSync(IDP_CERT, "utf8"));
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "https" })).toBeVisible();
    const urlField = page.getByLabel("SAML 2.0 endpoint (HTTP)");
    await expect(urlField).toHaveAttribute("aria-invalid", "true");
    await expect(urlField).toHaveAccessibleDescription(/https/);
    await expect(page.locator("#sso-url-error")).toContainText("https");
    await expect(certField).not.toHaveAttribute("aria-invalid", "true");

    // The real thing.
    await page.getByLabel("SAML 2.0 endpoint (HTTP)").fill(idp.ssoUrl);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("current-cert-fingerprint")).toHaveText(fingerprint(IDP_CERT));
    await expect(page.getByTestId("current-cert")).toContainText("RSA 2048-bit");
    await expect(page.getByTestId("sso-url")).toHaveText(idp.ssoUrl);

    // Upload the next certificate as a file (rollover), then remove it.
    await page.getByText("Next certificate (for rollover), optional").click();
    await page.locator("#next-cert-file").setInputFiles(OTHER_CERT);
    await expect(page.getByLabel("Next certificate", { exact: true })).toHaveValue(/BEGIN CERTIFICATE/);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("next-cert-fingerprint")).toHaveText(fingerprint(OTHER_CERT));
    await page.screenshot({ path: "screenshots/sso-configured.png", fullPage: true });
    await page.getByRole("button", { name: "Remove next certificate" }).click();
    await expect(page.getByTestId("next-cert")).toHaveCount(0);

    // Import IdP metadata: a preview of the changes, then the form is filled.
    await page.getByLabel("IdP metadata XML").fill(fs.readFileSync(IDP_METADATA, "utf8"));
    await page.getByRole("button", { name: "Preview import" }).click();
    const preview = page.getByTestId("metadata-preview");
    await expect(preview).toContainText(`IdP entity ID: (none) → ${IDP_ENTITY_ID}`);
    await expect(preview).toContainText("SAML 2.0 endpoint:");
    await preview.getByRole("button", { name: "Use these values" }).click();
    await expect(page.getByLabel("IdP entity ID (Issuer), optional")).toHaveValue(IDP_ENTITY_ID);
    await expect(page.getByLabel("SAML 2.0 endpoint (HTTP)")).toHaveValue("http://127.0.0.1:9/idp/sso");
    // Keep the test IdP's endpoint (the metadata names a placeholder), save with the Issuer.
    await page.getByLabel("SAML 2.0 endpoint (HTTP)").fill(idp.ssoUrl);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText(`${IDP_ENTITY_ID}`, { exact: true })).toBeVisible();
  });

  test("an employee signs in through SP-initiated login; JIT creates the user", async ({ browser, page }) => {
    idp.as({ nameId: "sam@hooli.test", attributes: { firstname: "Sam", lastname: "Sato", department: "Ops", city: "Palo Alto" } });
    const employee = await (await browser.newContext()).newPage();
    await employee.goto(`${server.url}/login?org=${org}`);
    await employee.getByTestId("sso-button").click();
    await expect(employee).toHaveURL(`${server.url}/app`);
    await expect(employee.getByTestId("employee-name")).toHaveText("Welcome, Sam Sato");
    await expect(employee.getByTestId("employee-org")).toHaveText("Hooli");
    await expect(employee.getByTestId("employee-method")).toHaveText("Single sign-on");
    await employee.close();

    await signIn(page, server);
    await page.goto(`${server.url}/admin/users`);
    const row = page.getByRole("row").filter({ hasText: "sam@hooli.test" });
    await expect(row).toContainText("SSO-JIT");
    await expect(row).toContainText("Ops");
  });

  test("an employee signs in through an IdP-initiated POST", async ({ browser }) => {
    idp.as({ nameId: "sam@hooli.test" });
    const employee = await (await browser.newContext()).newPage();
    await employee.goto(idp.launchUrl(`${server.url}/saml/${org}/acs`, `${server.url}/saml/${org}/metadata`, "/app"));
    await expect(employee).toHaveURL(`${server.url}/app`);
    await expect(employee.getByTestId("employee-method")).toHaveText("Single sign-on");
  });

  test("Test sign-in shows what the assertion carried and which field each attribute filled", async ({ page }) => {
    idp.as({ nameId: "tess@hooli.test", attributes: { email: "tess@hooli.test", given_name: "Tess", department: "QA" } });
    await signIn(page, server);
    await page.goto(`${server.url}/admin/sso`);
    const [result] = await Promise.all([page.waitForEvent("popup"), page.getByTestId("test-sign-in").click()]);
    await expect(result).toHaveURL(new RegExp(`${server.url}/admin/sso/test/_[0-9a-f]+`));
    await expect(result.getByTestId("test-result")).toContainText("Success");
    await expect(result.getByTestId("test-name-id")).toHaveText("tess@hooli.test");
    await expect(result.getByTestId("test-fields").getByRole("row").filter({ hasText: "Department" })).toContainText("department");
    await expect(result.getByTestId("test-missing")).toContainText("Last name");
    await expect(result.getByTestId("test-attributes")).toContainText("given_name");
    await result.screenshot({ path: "screenshots/sso-test-sign-in.png", fullPage: true });
    // Nobody was signed in or created.
    await page.goto(`${server.url}/admin/users`);
    await expect(page.getByRole("row").filter({ hasText: "tess@hooli.test" })).toHaveCount(0);
  });

  test("a response signed by another certificate fails and shows in Recent SSO failures", async ({ browser, page }) => {
    idp.as({ nameId: "sam@hooli.test", keyFile: OTHER_KEY, certFile: OTHER_CERT });
    const employee = await (await browser.newContext()).newPage();
    await employee.goto(`${server.url}/saml/${org}/login`);
    await expect(employee.getByRole("heading", { name: "Sign-in failed" })).toBeVisible();
    await expect(employee).not.toHaveURL(`${server.url}/app`);

    await signIn(page, server);
    await page.goto(`${server.url}/admin/sso`);
    await expect(page.getByTestId("sso-failures")).toContainText(
      `not the one configured here: fingerprint ${fingerprint(OTHER_CERT)}`,
    );
  });

  test("Require SSO: the sign-in page offers only SSO", async ({ browser, page }) => {
    idp.as({ nameId: "sam@hooli.test" });
    await signIn(page, server);
    await page.goto(`${server.url}/admin/sso`);
    await page.getByLabel(/Require SSO/).check();
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("sso-status")).toContainText("Require SSO on");

    const employee = await (await browser.newContext()).newPage();
    await employee.goto(`${server.url}/login?org=${org}`);
    await expect(employee.getByTestId("sso-required")).toHaveText("Hooli signs in with single sign-on.");
    await expect(employee.getByLabel("Work email")).toBeHidden();
    await employee.getByTestId("sso-button").click();
    await expect(employee).toHaveURL(`${server.url}/app`);
  });
});
