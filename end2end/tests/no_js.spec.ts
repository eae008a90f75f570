import { test, expect } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  let server: Server;
  test.beforeAll(async () => {
    server = await startServer();
    createAdmin(server, "Vandelay", "art@vandelay.test", "a long enough passphrase");
  });
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
});
