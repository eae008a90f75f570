import { test, expect } from "@playwright/test";
import { startServer, createAdmin } from "../helpers/server";

// Time to interactive of the admin Users page: navigation start → hydration finished (the wasm
// entry point marks <html data-hydrated>), median of 10 cold loads (no cache, fresh context).
test("time to interactive of the Users page", async ({ browser }) => {
  const server = await startServer();
  try {
    const org = createAdmin(server, "Bench", "bench@bench.test", "a long enough passphrase");
    const token = server.cli(["scim-token", "--org", org]).stdout.trim();
    const users = Number(process.env.TTI_USERS ?? "1000");
    for (let i = 0; i < users; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, users - i) }, (_, k) =>
          fetch(`${server.url}/scim/v2/${org}/Users`, {
            method: "POST",
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/scim+json" },
            body: JSON.stringify({ userName: `u${i + k}@bench.test`, name: { givenName: "U", familyName: `${i + k}` } }),
          }).then((r) => expect(r.status).toBe(201)),
        ),
      );
    }
    const samples: number[] = [];
    for (let run = 0; run < 10; run++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/admin/login`);
      await page.getByLabel("Email").fill("bench@bench.test");
      await page.getByLabel("Password").fill("a long enough passphrase");
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page).toHaveURL(`${server.url}/admin`);
      const cdp = await context.newCDPSession(page);
      await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
      await page.goto(`${server.url}/admin/users`, { waitUntil: "commit" });
      await page.waitForFunction(() => document.documentElement.dataset.hydrated === "true", null, { polling: "raf" });
      const tti = await page.evaluate(() => performance.now());
      await expect(page.getByRole("row").nth(1)).toBeVisible();
      samples.push(tti);
      await context.close();
    }
    samples.sort((a, b) => a - b);
    const median = (samples[4] + samples[5]) / 2;
    console.log(`Users page time to interactive (${users} users, cold cache): median ${median.toFixed(0)} ms, min ${samples[0].toFixed(0)} ms, max ${samples[9].toFixed(0)} ms`);
  } finally {
    await server.stop();
  }
});
