import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";
import { invitationLink } from "../helpers/admin";

// The admin team (issue 12): an Owner invites from the Admins screen, the invitee opens the
// mailed link in a fresh browser, chooses a password and lands signed in with the invited role.

const OWNER = "owner@initech.test";
const PW = "a long enough passphrase";
const INVITEE = "milton@initech.test";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill(OWNER);
  await page.getByLabel("Password").fill(PW);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

test.describe("admin team", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    createAdmin(server, "Initech", OWNER, PW);
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("an Owner invites, the invitee accepts in a fresh browser and is signed in with the role", async ({ page, browser }) => {
    await signIn(page, server);
    await page.getByRole("link", { name: "Admins" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/team`);
    await expect(page.getByRole("heading", { name: "Admins", level: 1 })).toBeVisible();
    await expect(page.getByTestId("my-role")).toContainText("Your role: Owner");

    const form = page.getByRole("form", { name: "Invite an admin" });
    await form.getByLabel("Email").fill(INVITEE);
    await form.getByLabel("Role").selectOption("admin");
    await form.getByRole("button", { name: "Send invitation" }).click();
    await expect(page.getByRole("status")).toHaveText(`Invitation sent to ${INVITEE}.`);
    const pending = page.getByRole("row", { name: new RegExp(INVITEE.replace(".", "\\.")) });
    await expect(pending).toContainText("Admin");
    await expect(pending).toContainText(OWNER);

    // The same address again: refused with a plain message.
    await form.getByLabel("Email").fill(INVITEE.toUpperCase());
    await form.getByRole("button", { name: "Send invitation" }).click();
    await expect(form.getByRole("alert")).toContainText("already has a pending invitation");

    // The invitee, in a browser of their own.
    const link = await invitationLink(server, INVITEE);
    const context = await browser.newContext();
    try {
      const invitee = await context.newPage();
      await invitee.goto(link);
      await expect(invitee.getByTestId("invite-org")).toHaveText("Initech");
      await expect(invitee.getByTestId("invite-role")).toHaveText("Admin");
      await expect(invitee.getByLabel("Email")).toHaveValue(INVITEE);
      await invitee.screenshot({ path: "screenshots/team-invite-accept.png" });
      await invitee.getByLabel("Password (at least 12 characters)").fill("milton's red stapler passphrase");
      await invitee.getByLabel("Repeat the password").fill("milton's red stapler passphrase");
      await invitee.getByRole("button", { name: "Accept and sign in" }).click();
      await expect(invitee).toHaveURL(`${server.url}/admin/team`);
      await expect(invitee.getByTestId("admin-email")).toHaveText(INVITEE);
      await expect(invitee.getByTestId("my-role")).toContainText("Your role: Admin");
      // Not an Owner: no controls.
      await expect(invitee.getByRole("button", { name: "Send invitation" })).toHaveCount(0);
      await expect(invitee.getByRole("button", { name: "Change role" })).toHaveCount(0);

      // The Owner sees the new admin; the invitation is gone.
      await page.reload();
      const row = page.getByTestId("team-members").getByRole("row", { name: new RegExp(INVITEE.replace(".", "\\.")) });
      await expect(row).toContainText("Admin");
      await expect(row).toContainText(OWNER);
      await expect(page.getByTestId("no-invitations")).toBeVisible();
      // A second, pending invitation for the screenshot (and its Cancel).
      await form.getByLabel("Email").fill("peter@initech.test");
      await form.getByLabel("Role").selectOption("viewer");
      await form.getByRole("button", { name: "Send invitation" }).click();
      await expect(page.getByRole("status")).toHaveText("Invitation sent to peter@initech.test.");
      const peter = page.getByTestId("team-invitations").getByRole("row", { name: /peter@initech\.test/ });
      await expect(peter).toContainText("Viewer");
      await page.screenshot({ path: "screenshots/team.png", fullPage: true });
      await peter.getByRole("button", { name: "Cancel invitation" }).click();
      await expect(page.getByRole("status")).toHaveText("Invitation cancelled.");
      await expect(page.getByTestId("no-invitations")).toBeVisible();

      // A role change applies at the invitee's next request.
      await row.getByLabel(`Role of ${INVITEE}`).selectOption("viewer");
      await row.getByRole("button", { name: "Change role" }).click();
      await expect(page.getByRole("status")).toContainText("Role changed");
      await invitee.reload();
      await expect(invitee.getByTestId("my-role")).toContainText("Your role: Viewer");

      // The link worked once.
      await invitee.goto(link);
      await expect(invitee.getByRole("alert")).toContainText("This invitation link is invalid, has expired, was cancelled or was already used.");
    } finally {
      await context.close();
    }
  });
});
