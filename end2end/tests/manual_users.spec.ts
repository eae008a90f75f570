import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import { startServer, createAdmin, Server } from "../helpers/server";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("hr@hooli.test");
  await page.getByLabel("Password").fill("a long enough passphrase");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${server.url}/admin`);
}

test.describe("manual user management (no SCIM)", () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    createAdmin(server, "Hooli", "hr@hooli.test", "a long enough passphrase");
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("add, edit, deactivate, delete, restore, export", async ({ page }) => {
    await signIn(page, server);
    await page.goto(`${server.url}/admin/users`);
    await page.getByText("Add user", { exact: true }).first().click();
    const form = page.getByRole("form", { name: "Add user" });
    await form.getByLabel("Email (userName)").fill("gavin@hooli.test");
    await form.getByLabel("First name").fill("Gavin");
    await form.getByLabel("Last name").fill("Belson");
    await form.getByLabel("Department").fill("Executive");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect(page.getByRole("row", { name: /gavin@hooli\.test/ })).toContainText("Admin");

    // A duplicate (any case) is refused with a clear message.
    await form.getByLabel("Email (userName)").fill("GAVIN@hooli.test");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect(form.getByRole("alert")).toContainText("already exists");

    // An address the browser accepts but the server does not: the message sits next to the
    // email field, which is marked invalid and described by it; the summary stays at the top.
    const email = form.getByLabel("Email (userName)");
    await email.fill("erlich@localhost");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect(email).toHaveAttribute("aria-invalid", "true");
    await expect(email).toHaveAccessibleDescription(/Enter a valid email address/);
    await expect(form.locator(`#${await email.getAttribute("aria-describedby")}`)).toContainText("Enter a valid email address");
    await expect(form.getByRole("alert")).toContainText("Enter a valid email address");
    await expect(form.getByLabel("First name")).not.toHaveAttribute("aria-invalid", "true");

    await page.getByRole("link", { name: "Gavin Belson" }).click();
    await expect(page.getByTestId("user-status")).toHaveText("Active");
    await page.getByText("Edit", { exact: true }).click();
    const edit = page.getByRole("form", { name: "Edit user" });
    await edit.getByLabel("Department").fill("Board");
    await edit.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("Board").first()).toBeVisible();

    await page.getByRole("button", { name: "Deactivate" }).click();
    await expect(page.getByTestId("user-status")).toHaveText("Deactivated");
    await page.getByRole("button", { name: "Reactivate" }).click();
    await expect(page.getByTestId("user-status")).toHaveText("Active");
    await page.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByTestId("user-status")).toHaveText("Deleted");
    await expect(page.getByTestId("purge-date")).toBeVisible();
    await page.getByRole("button", { name: "Restore" }).click();
    await expect(page.getByTestId("user-status")).toHaveText("Active");

    // CSV export of the list downloads.
    await page.goto(`${server.url}/admin/users`);
    const downloadPromise = page.waitForEvent("download");
    await page.getByRole("link", { name: "Export CSV" }).click();
    const download = await downloadPromise;
    const file = await download.path();
    const csv = fs.readFileSync(file!, "utf8");
    expect(csv.split("\r\n")[0]).toContain("Name,userName,Email");
    expect(csv).toContain("gavin@hooli.test");
    expect(csv).toContain("Board");
  });

  test("a wide Users table scrolls in its own box: the page does not scroll sideways and the navigation keeps its width", async ({ page }) => {
    await page.setViewportSize({ width: 1024, height: 700 });
    await signIn(page, server);
    await page.goto(`${server.url}/admin/users`);
    await page.getByText("Add user", { exact: true }).first().click();
    const form = page.getByRole("form", { name: "Add user" });
    // A long address makes the table wider than the space beside the navigation.
    await form.getByLabel("Email (userName)").fill("a.very.long.address.for.the.layout.check@hooli.test");
    await form.getByLabel("First name").fill("Wide");
    await form.getByLabel("Last name").fill("Table");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect(page.getByRole("row", { name: /a\.very\.long\.address/ })).toBeVisible();
    await page.goto(`${server.url}/admin/users`);
    await expect(page.getByRole("link", { name: "Wide Table" })).toBeVisible();
    const layout = await page.evaluate(() => {
      const wrap = document.querySelector(".table-wrap") as HTMLElement;
      return {
        pageScroll: document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth,
        tableScroll: wrap.scrollWidth - wrap.clientWidth,
        nav: document.querySelector(".sidenav")!.getBoundingClientRect().width,
      };
    });
    expect(layout.tableScroll).toBeGreaterThan(0);
    expect(layout.pageScroll).toBe(0);
    expect(layout.nav).toBe(240);
  });
});
