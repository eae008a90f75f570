import { expect, Page } from "@playwright/test";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Server } from "./server";

/** Decodes the base32 key an authenticator-app setup shows (RFC 4648, spaces ignored). */
export function base32Decode(input: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of input.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of the step `offset` steps from now. */
export function totp(key: Buffer, offset = 0): string {
  const step = Math.floor(Date.now() / 30_000) + offset;
  const msg = Buffer.alloc(8);
  msg.writeBigInt64BE(BigInt(step));
  const mac = crypto.createHmac("sha1", key).update(msg).digest();
  const o = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(bin % 1_000_000).padStart(6, "0");
}

/** The newest invitation link mailed to `to`, read from the server's file outbox. */
export async function invitationLink(server: Server, to: string, timeoutMs = 10_000): Promise<string> {
  const outbox = path.join(server.dir, "outbox");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((f) => f.endsWith(".eml")).sort() : [];
    for (const f of files.reverse()) {
      const raw = fs.readFileSync(path.join(outbox, f), "utf8");
      if (!raw.includes(`To: ${to}`)) continue;
      const text = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
      const m = text.match(/(http:\/\/[^\s"<]+\/admin\/invite\?token=[A-Za-z0-9_-]+)/);
      if (m) return m[1];
    }
    if (Date.now() > deadline) throw new Error(`no invitation link for ${to} in ${outbox}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sets up the authenticator app on the two-factor screen; returns its key and recovery codes. */
export async function enrolApp(page: Page, server: Server, screenshot = false): Promise<{ key: Buffer; codes: string[] }> {
  await page.getByRole("link", { name: "Two-factor authentication" }).click();
  await expect(page).toHaveURL(`${server.url}/admin/account/2fa`);
  await expect(page.getByRole("heading", { name: "Two-factor authentication", level: 1 })).toBeVisible();
  await expect(page.getByTestId("totp-status")).toContainText("Off");
  await page.getByRole("button", { name: "Set up authenticator app" }).click();
  await expect(page.getByTestId("totp-qr")).toBeVisible();
  // The QR code is a real image (an SVG data URL the CSP allows), not a broken one.
  expect(await page.getByTestId("totp-qr").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  const key = base32Decode((await page.getByTestId("totp-key").textContent()) ?? "");
  expect(key.length).toBe(20);
  if (screenshot) await page.screenshot({ path: "screenshots/two-factor-setup.png", fullPage: true });
  // A wrong code is refused with a message.
  await page.getByLabel("Code from the app").fill(totp(key, 10));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByText("That code is not correct")).toBeVisible();
  await page.getByLabel("Code from the app").fill(totp(key, 0));
  await page.getByRole("button", { name: "Turn on" }).click();
  const shown = page.getByTestId("recovery-codes");
  await expect(shown).toBeVisible();
  const codes = (await shown.locator("li code").allTextContents()).map((c) => c.trim());
  expect(codes).toHaveLength(10);
  await expect(page.getByTestId("totp-status")).toContainText("On");
  await expect(page.getByTestId("recovery-left")).toHaveText("10 of 10 recovery codes left.");
  return { key, codes };
}

/** Waits until the page has hydrated: a form filled before that can be reset by hydration. */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}
