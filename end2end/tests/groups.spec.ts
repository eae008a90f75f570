// SCIM Groups (issue 13): users and a group provisioned over SCIM appear on the Groups screen,
// with member counts, the group's members, and the Users screen filtered by the group.
import { test, expect, Page } from "@playwright/test";
import { startServer, createAdmin, Server } from "../helpers/server";

const PASSWORD = "a long enough passphrase";

async function signIn(page: Page, server: Server) {
  await page.goto(`${server.url}/admin/login`);
  await page.getByLabel("Email").fill("it@initech.test");
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
      "User-Agent": "Azure AD SCIM Provisioning",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

test.describe("SCIM groups", () => {
  let server: Server;
  let orgId: string;
  let token: string;
  test.beforeAll(async () => {
    server = await startServer();
    orgId = createAdmin(server, "Initech", "it@initech.test", PASSWORD);
    const r = server.cli(["scim-token", "--org", orgId]);
    if (r.status !== 0) throw new Error(`scim-token failed: ${r.stderr}`);
    token = r.stdout.trim().split("\n").pop() as string;
  });
  test.afterAll(async () => {
    await server.stop();
  });

  test("groups provisioned over SCIM on the Groups screen", async ({ page }) => {
    const ids: string[] = [];
    for (const [given, family] of [["Peter", "Gibbons"], ["Samir", "Nagheenanajar"], ["Milton", "Waddams"]]) {
      const userName = `${given.toLowerCase()}@initech.test`;
      const r = await scim(server, orgId, token, "POST", "/Users", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        userName,
        displayName: `${given} ${family}`,
        name: { givenName: given, familyName: family },
        emails: [{ value: userName, type: "work", primary: true }],
        active: true,
      });
      expect(r.status).toBe(201);
      ids.push(r.json.id);
    }
    const eng = await scim(server, orgId, token, "POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "Engineering",
      externalId: "aad-eng",
      members: [],
    });
    expect(eng.status).toBe(201);
    // Entra's form: add members with one PATCH.
    const add = await scim(server, orgId, token, "PATCH", `/Groups/${eng.json.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "add", path: "members", value: [{ value: ids[0] }, { value: ids[1] }] }],
    });
    expect(add.status).toBe(204);
    const ops = await scim(server, orgId, token, "POST", "/Groups", { displayName: "Facilities", members: [{ value: ids[2] }] });
    expect(ops.status).toBe(201);

    await signIn(page, server);
    await page.getByRole("link", { name: "Groups", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Groups", exact: true })).toBeVisible();
    const table = page.getByTestId("groups-table");
    await expect(table.getByRole("row")).toHaveCount(3);
    await expect(table.getByRole("row", { name: /Engineering/ })).toContainText("2");
    await expect(table.getByRole("row", { name: /Facilities/ })).toContainText("1");
    await expect(table.getByRole("row", { name: /Engineering/ })).toContainText("aad-eng");

    await table.getByRole("link", { name: "Engineering" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/groups?group=${eng.json.id}`);
    const members = page.getByTestId("group-members");
    await expect(members.getByRole("heading", { name: "Members of Engineering" })).toBeVisible();
    await expect(members.getByRole("listitem")).toHaveCount(2);
    await expect(members).toContainText("Peter Gibbons (peter@initech.test)");
    await expect(members).toContainText("Samir Nagheenanajar (samir@initech.test)");
    await page.screenshot({ path: "screenshots/groups.png", fullPage: true });

    // The Users screen filtered by the group.
    await members.getByRole("link", { name: "Show in Users" }).click();
    await expect(page).toHaveURL(`${server.url}/admin/users?group=${eng.json.id}`);
    await expect(page.getByTestId("users-group-filter")).toBeVisible();
    await expect(page.getByTestId("users-total")).toHaveText("2 user(s)");
    await expect(page.getByRole("cell", { name: "milton@initech.test" })).toHaveCount(0);

    // A member removed in the IdP (Entra's filter form) leaves the group on the screen.
    const rm = await scim(server, orgId, token, "PATCH", `/Groups/${eng.json.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "remove", path: `members[value eq "${ids[1]}"]` }],
    });
    expect(rm.status).toBe(204);
    await page.goto(`${server.url}/admin/groups`);
    await expect(page.getByTestId("groups-table").getByRole("row", { name: /Engineering/ }).getByTestId("group-member-count")).toHaveText("1");
  });
});
