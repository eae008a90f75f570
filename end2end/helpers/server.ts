import { spawn, spawnSync, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
// PORTAL_SERVER_BIN runs the suite against another build (e.g. target/release/server).
const BIN = process.env.PORTAL_SERVER_BIN ? path.resolve(ROOT, process.env.PORTAL_SERVER_BIN) : path.join(ROOT, "target", "debug", "server");

export interface Server {
  url: string;
  port: number;
  databaseUrl: string;
  dir: string;
  /** Everything the server printed so far (stdout + stderr). */
  output: () => string;
  /** Runs a subcommand of the server binary against the same database. */
  cli: (args: string[], stdin?: string) => { status: number | null; stdout: string; stderr: string };
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr && typeof addr === "object") {
        const port = addr.port;
        srv.close(() => resolve(port));
      } else reject(new Error("no port"));
    });
  });
}

/** Starts the built server on a free port with a fresh SQLite database under a temp directory.
 * `opts.host` names the host of its public URL (default 127.0.0.1; passkeys need a domain name,
 * e.g. `localhost`); it always listens on 127.0.0.1. */
export async function startServer(extraEnv: Record<string, string> = {}, opts: { host?: string } = {}): Promise<Server> {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run \`cargo leptos build\` first`);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-e2e-"));
  const url = `http://${opts.host ?? "127.0.0.1"}:${port}`;
  const databaseUrl = `sqlite://${dir}/portal.db`;
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: url,
    LISTEN_ADDR: `127.0.0.1:${port}`,
    LEPTOS_OUTPUT_NAME: "portal",
    LEPTOS_SITE_ROOT: path.join(ROOT, "target", "site"),
    LEPTOS_SITE_PKG_DIR: "pkg",
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_RELOAD_PORT: "3001",
    MAIL_URL: `file://${dir}/outbox`,
    RUST_LOG: "info,sqlx=warn",
    ...extraEnv,
  };
  let out = "";
  const child: ChildProcess = spawn(BIN, ["serve"], { cwd: ROOT, env });
  child.stdout?.on("data", (d) => (out += d.toString()));
  child.stderr?.on("data", (d) => (out += d.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    databaseUrl,
    dir,
    output: () => out,
    cli: (args, stdin) => {
      const r = spawnSync(BIN, args, { cwd: ROOT, env, input: stdin ?? "", encoding: "utf8" });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The one-time setup URL the server printed on first start. */
export function setupUrl(server: Server): string {
  const m = server.output().match(/Setup URL: (\S+)/);
  if (!m) throw new Error(`no setup URL in the server output:\n${server.output()}`);
  return m[1];
}

/** Creates an organisation and admin through the CLI; returns the Org ID (last stdout line).
 *  `role` (owner, admin, viewer) adds an admin of that role to an existing organisation. */
export function createAdmin(server: Server, orgName: string, email: string, password: string, role = "owner"): string {
  const r = server.cli(["create-admin", "--org-name", orgName, "--email", email, "--role", role], password + "\n");
  if (r.status !== 0) throw new Error(`create-admin failed: ${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  return lines[lines.length - 1];
}

/** The newest magic link mailed to `to`, read from the server's file outbox (.eml files). */
export async function latestMagicLink(server: Server, to: string, timeoutMs = 10_000): Promise<string> {
  const outbox = path.join(server.dir, "outbox");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((f) => f.endsWith(".eml")).sort() : [];
    for (const f of files.reverse()) {
      const raw = fs.readFileSync(path.join(outbox, f), "utf8");
      if (!raw.includes(`To: ${to}`)) continue;
      // Undo quoted-printable soft breaks and escapes.
      const text = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
      const m = text.match(/(http:\/\/[^\s"<]+\/login\/link\?token=[A-Za-z0-9_-]+)/);
      if (m) return m[1];
    }
    if (Date.now() > deadline) throw new Error(`no magic link for ${to} in ${outbox}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
