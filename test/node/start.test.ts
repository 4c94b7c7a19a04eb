/**
 * `npm start` end to end: the real Worker under `wrangler dev`, driven from outside with
 * `alert:test` and the operator API, as a user would on a fresh machine.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertTest } from "../../src/cli/alert-test.ts";

const TOKEN = "start-test-admin-token-0123";
let child: ChildProcess;
let base: string;
let output = "";
let stateDir: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  stateDir = mkdtempSync(path.join(tmpdir(), "responder-start-"));
  child = spawn(process.execPath, ["scripts/start.ts"], {
    env: { ...process.env, PORT: String(port), ADMIN_TOKEN: TOKEN, RESPONDER_STATE_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 90_000;
  while (!output.includes("is running locally") && Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!output.includes("is running locally")) throw new Error(`npm start did not come up:\n${output}`);
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGINT");
    await exited;
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("passes its secrets in an env file, never on a command line", () => {
    const secret = /webhook secret[^:]*: (\S+)/.exec(output)?.[1];
    expect(secret).toBeTruthy();
    const commandLines = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    expect(commandLines).toContain("--env-file");
    expect(commandLines).not.toContain(secret!);
    expect(commandLines).not.toContain(TOKEN);
  });

  it("answers /healthz", async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true });
  });

  it("prints the instructions, uses ADMIN_TOKEN from the environment, and records a signed sample alert", async () => {
    const secret = /webhook secret[^:]*: (\S+)/.exec(output)?.[1];
    expect(secret).toBeTruthy();
    expect(output).toContain(`admin token:    ${TOKEN}`);
    const lines: string[] = [];
    const code = await alertTest(
      ["--url", `${base}/webhooks/atlas`, "--secret", secret!],
      {},
      (l) => lines.push(l),
      (l) => lines.push(l),
    );
    expect(code).toBe(0);
    // The answer, then the command that closes the alert.
    expect(lines.find((l) => l.startsWith("202 "))).toMatch(
      /^202 \{"status":"accepted","incident":"[0-9a-f]{24}-[0-9a-z]{15}"\}$/,
    );
    expect(lines.at(-1)).toMatch(/--status CLOSED --id [0-9a-f]{24}$/);

    const list = await fetch(`${base}/incidents`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await list.json()) as { incidents: Array<{ cluster: { name: string }; state: string }> };
    expect(body.incidents).toHaveLength(1);
    expect(body.incidents[0]).toMatchObject({ cluster: { name: "Cluster0" } });
  });
});
