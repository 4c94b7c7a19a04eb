/**
 * The edges every command-line tool shares, against the real processes: --help, unknown flags, a
 * malformed wrangler.toml or .dev.vars (exit 2 naming the file and line, never a stack trace nor the
 * line's text), and the tool-specific edges of monitor:connections and alert:test.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";

const cliPath = (name: string) => fileURLToPath(new URL(`../../src/cli/${name}.ts`, import.meta.url));
const TOOLS = ["check-config", "alert-test", "monitor-connections", "fix-connections"] as const;
const STACK = /^\s+at .+[:(]/m;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  tool: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; command?: string[]; killAfter?: RegExp } = {},
): Promise<Run> {
  const [file, ...pre] = options.command ?? [process.execPath, cliPath(tool)];
  const child = spawn(file!, [...pre, ...args], {
    cwd: options.cwd ?? emptyDir,
    env: { PATH: process.env.PATH ?? "", HOME: emptyDir, ...options.env } as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (options.killAfter?.test(stdout)) child.kill("SIGINT");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let emptyDir: string;
let brokenToml: string;
let brokenDevVars: string;
let unclosedDevVars: string;

beforeAll(() => {
  emptyDir = mkdtempSync(path.join(tmpdir(), "responder-cli-"));
  brokenToml = mkdtempSync(path.join(tmpdir(), "responder-cli-toml-"));
  writeFileSync(path.join(brokenToml, "wrangler.toml"), 'name = "x"\n\n[vars\nRESPONDER_MODE = "auto"\n');
  brokenDevVars = mkdtempSync(path.join(tmpdir(), "responder-cli-vars-"));
  writeFileSync(
    path.join(brokenDevVars, ".dev.vars"),
    "# comment\nATLAS_WEBHOOK_SECRET=fine-value\nthis-line-is-hidden-secret-text\nADMIN_TOKEN=x\n",
  );
  unclosedDevVars = mkdtempSync(path.join(tmpdir(), "responder-cli-quote-"));
  writeFileSync(path.join(unclosedDevVars, ".dev.vars"), 'A=1\nB="never closed-hidden\nC=3\n');
});
afterAll(() => {
  for (const dir of [emptyDir, brokenToml, brokenDevVars, unclosedDevVars])
    rmSync(dir, { recursive: true, force: true });
});

describe.each(TOOLS)("%s", (tool) => {
  it("--help prints the usage and exits 0", async () => {
    const result = await run(tool, ["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run /);
    expect(result.stdout).toContain("--help");
  });

  it("an unknown flag exits 2 with the usage, no stack trace", async () => {
    const result = await run(tool, ["--no-such-flag"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--no-such-flag");
    expect(result.stderr).toContain("usage: npm run ");
    expect(result.stderr).not.toMatch(STACK);
  });

  it("a malformed wrangler.toml exits 2 naming the file and line", async () => {
    const result = await run(tool, [], { cwd: brokenToml });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^wrangler\.toml line 3: not valid TOML/m);
    expect(result.stderr).not.toMatch(STACK);
  });

  it("a malformed .dev.vars line exits 2 naming the file and line, not its text", async () => {
    const result = await run(tool, [], { cwd: brokenDevVars });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\.dev\.vars line 3: expected KEY=value/m);
    expect(`${result.stdout}${result.stderr}`).not.toContain("hidden-secret");
    expect(result.stderr).not.toMatch(STACK);
  });

  it("--help answers even next to a malformed file", async () => {
    expect((await run(tool, ["--help"], { cwd: brokenToml })).code).toBe(0);
  });
});

describe(".dev.vars with a quote that never closes", () => {
  it("exits 2 naming the line the value starts on", async () => {
    const result = await run("check-config", [], { cwd: unclosedDevVars });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\.dev\.vars line 2: /m);
    expect(result.stderr).not.toContain("hidden");
  });
});

describe("monitor:connections, the real process", () => {
  let mongo: FakeMongo;
  beforeAll(async () => {
    mongo = await startFakeMongo({ tier: "M10", connectionLimit: 200 });
  });
  afterAll(() => mongo.close());

  const onlyStats = () => ({
    MONGODB_URI: mongo.uri(),
    CLUSTERS: JSON.stringify([{ groupId: "5e5a0000000000000000abcd", name: "Shop" }]),
    TARGETS: JSON.stringify([{ kind: "vercel", name: "web", secret: "VERCEL_HOOK_WEB" }]),
  });

  it("needs no webhook secret, admin token or target secret, and --cluster when CLUSTERS lists one", async () => {
    const result = await run("monitor-connections", ["--once", "--json"], { env: onlyStats() });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ cluster: "Shop", limit: 200 });
  });

  it("the Worker's own parse still refuses that configuration (check:config)", async () => {
    const result = await run("check-config", [], { env: onlyStats() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("ATLAS_WEBHOOK_SECRET: is required");
    expect(result.stderr).toContain("TARGETS[0].secret");
  });

  it("writes no ANSI escapes when stdout is not a terminal", async () => {
    const result = await run("monitor-connections", ["--interval", "1"], {
      env: onlyStats(),
      killAfter: /source mongodb[\s\S]*source mongodb/,
    });
    expect(result.stdout).toMatch(/connections {2}\d+ \/ 200/);
    expect(result.stdout.match(/source mongodb/g)!.length).toBeGreaterThanOrEqual(2);
    expect(result.stdout).not.toContain("\x1b");
  }, 20_000);

  it("writes no ANSI escapes on a terminal with NO_COLOR set, and clears the screen without it", async () => {
    const command = (env: string) => [
      "script",
      "-qec",
      `${env} ${process.execPath} ${cliPath("monitor-connections")} --interval 1`,
      "/dev/null",
    ];
    const plain = await run("monitor-connections", [], {
      env: { ...onlyStats(), TERM: "xterm" },
      command: command("NO_COLOR=1"),
      killAfter: /source mongodb[\s\S]*source mongodb/,
    });
    expect(plain.stdout).toContain("connections");
    expect(plain.stdout).not.toContain("\x1b[2J");
    const painted = await run("monitor-connections", [], {
      env: { ...onlyStats(), TERM: "xterm" },
      command: command("NO_COLOR="),
      killAfter: /source mongodb[\s\S]*source mongodb/,
    });
    expect(painted.stdout).toContain("\x1b[2J");
  }, 30_000);

  it('says why the count is missing in "connections ? / …"', async () => {
    const result = await run("monitor-connections", ["--once", "--cluster", "Gone"], {
      env: { MONGODB_URI: "mongodb://127.0.0.1:9/?directConnection=true&serverSelectionTimeoutMS=300" },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/connections {2}\? \/ \S+ {2}\? {2}\(no count: mongodb .+\)/);
  }, 15_000);
});

describe("alert:test, the real process", () => {
  let server: Server;
  let url: string;
  const bodies: Array<{ id: string; status: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        bodies.push(JSON.parse(body));
        res.writeHead(202, { "content-type": "application/json" });
        res.end('{"status":"accepted"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const env = { ATLAS_WEBHOOK_SECRET: "alert-test-secret-1" };

  it("gives every OPEN a fresh id, prints it and the exact command that closes it", async () => {
    const first = await run("alert-test", ["--url", url], { env });
    const second = await run("alert-test", ["--url", url], { env });
    expect([first.code, second.code]).toEqual([0, 0]);
    const [a, b] = bodies.slice(-2);
    expect(a!.id).toMatch(/^[0-9a-f]{24}$/);
    expect(b!.id).not.toBe(a!.id);
    expect(second.stdout).toContain(`alert id ${b!.id}`);
    const close = /npm run alert:test -- (.+)$/m.exec(second.stdout)![1]!;
    expect(close).toBe(`--url ${url}/webhooks/atlas --status CLOSED --id ${b!.id}`);
    expect(second.stdout).not.toContain(env.ATLAS_WEBHOOK_SECRET);

    const closed = await run("alert-test", close.split(" "), { env });
    expect(closed.code).toBe(0);
    expect(bodies.at(-1)).toMatchObject({ id: b!.id, status: "CLOSED" });
  });

  it("never prints a --secret it was given, even in the close command", async () => {
    const result = await run("alert-test", ["--url", url, "--secret", "given-on-the-line-9"]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("given-on-the-line-9");
    expect(result.stdout).toContain("--secret '<the same secret>' --status CLOSED --id ");
  });

  it("--status CLOSED without --id exits 2", async () => {
    const result = await run("alert-test", ["--url", url, "--status", "CLOSED"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--status CLOSED needs --id");
  });

  it.each(["101", "-1", "50%", "lots"])("--percent %s exits 2", async (percent) => {
    const result = await run("alert-test", ["--url", url, `--percent=${percent}`], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--percent must be a number from 0 to 100");
  });

  it.each(["0", "100", "99.5"])("--percent %s is accepted", async (percent) => {
    expect((await run("alert-test", ["--url", url, "--percent", percent], { env })).code).toBe(0);
  });

  it("prints the network cause (ECONNREFUSED) and exits 1", async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await run("alert-test", ["--url", `http://127.0.0.1:${port}/`], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not reach http://127.0.0.1:${port}: connect ECONNREFUSED`);
    expect(result.stderr).not.toMatch(STACK);
  });
});
