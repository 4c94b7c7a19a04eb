/**
 * `npm run dev`: refuses an invalid configuration before wrangler starts (exit 2, the problems
 * listed), and hands a valid one to wrangler through a 0600 env file that is gone when it exits —
 * never on the command line. The env-file writer is tested directly too.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../sandbox/ports.ts";
import { envLine, workerValues, writeEnvFile } from "../../scripts/wrangler-env.ts";

const DEV = fileURLToPath(new URL("../../scripts/dev.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What wrangler reads back from an env file: dotenv's parse, then `\$` → `$` (dotenv-expand). */
const readBack = (text: string) =>
  Object.fromEntries(Object.entries(parseEnv(text)).map(([k, v]) => [k, String(v).replace(/\\\$/g, "$")]));

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "responder-dev-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the env-file writer", () => {
  it("writes a 0600 file in a 0700 folder that reads back exactly, and removes both", () => {
    const values = {
      ATLAS_WEBHOOK_SECRET: ["whsec-$HOME-$", "{PATH}-'q'"].join(""),
      ADMIN_TOKEN: 'plain-"double"-token',
      TARGETS: JSON.stringify([{ kind: "vercel", name: "web", secret: "HOOK" }]),
      MULTI: "line one\nline two $X",
    };
    const file = writeEnvFile(values);
    try {
      expect(statSync(file.path).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(file.path)).mode & 0o777).toBe(0o700);
      expect(readBack(readFileSync(file.path, "utf8"))).toEqual(values);
    } finally {
      file.remove();
    }
    expect(() => statSync(file.path)).toThrow();
    expect(() => statSync(path.dirname(file.path))).toThrow();
    file.remove();
  });

  it("refuses a value it cannot carry, naming only the key", () => {
    expect(() => envLine("K", `a'b"c\`d`)).toThrow(/^K holds a value/);
    expect(() => envLine("K", `a'b"c\`d`)).not.toThrow(/a'b/);
  });

  it("passes .dev.vars, environment overrides of wrangler.toml and configuration-only entries; not the rest", () => {
    const saved = { ...process.env };
    try {
      process.env.RESPONDER_MODE = "auto";
      process.env.ATLAS_CLIENT_ID = "from-env";
      process.env.UNRELATED_THING = "nope";
      process.env.HOOK_WEB = "https://hooks.example.test/x";
      const values = workerValues({
        env: {
          ...process.env,
          FROM_DEV_VARS: "dv",
          TARGETS: [{ kind: "vercel", name: "web", secret: "HOOK_WEB" }],
        },
        files: [],
        keys: { toml: ["RESPONDER_MODE", "TARGETS"], devVars: ["FROM_DEV_VARS"] },
      });
      expect(values).toMatchObject({
        FROM_DEV_VARS: "dv",
        RESPONDER_MODE: "auto",
        ATLAS_CLIENT_ID: "from-env",
        HOOK_WEB: "https://hooks.example.test/x",
      });
      expect(values).not.toHaveProperty("UNRELATED_THING");
      expect(values).not.toHaveProperty("PATH");
      // A TOML table the environment does not override stays in wrangler.toml.
      expect(values).not.toHaveProperty("TARGETS");
    } finally {
      process.env = saved;
    }
  });
});

function runDev(cwd: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [DEV], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: work, ...env } as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("npm run dev refuses an invalid configuration", () => {
  it("exits 2 listing every problem by key, never a value, before wrangler starts", async () => {
    const cwd = mkdtempSync(path.join(work, "bad-"));
    writeFileSync(path.join(cwd, ".dev.vars"), "RESPONDER_MODE=sometimes-hidden\nPOLICY={broken-hidden\n");
    const result = await runDev(cwd, {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Configuration has 3 problems:");
    for (const key of ["ATLAS_WEBHOOK_SECRET", "RESPONDER_MODE", "POLICY"])
      expect(result.stderr).toContain(`  ${key}:`);
    expect(result.stderr).not.toContain("hidden");
    expect(result.stderr).not.toContain("wrangler");
  });

  it("exits 2 on what only check:config refuses (approve mode, nothing can approve)", async () => {
    const cwd = mkdtempSync(path.join(work, "approve-"));
    const result = await runDev(cwd, { ATLAS_WEBHOOK_SECRET: "whsec-real-1", RESPONDER_MODE: "approve" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("RESPONDER_MODE: is approve, but nothing can approve");
  });

  it("exits 2 naming the line of a malformed .dev.vars", async () => {
    const cwd = mkdtempSync(path.join(work, "vars-"));
    writeFileSync(path.join(cwd, ".dev.vars"), "A=1\nnot a line\n");
    const result = await runDev(cwd, {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\.dev\.vars line 2: /m);
  });
});

describe("npm run dev on a valid configuration", () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("answers /healthz with the secret in a 0600 file, not on any command line, and removes the file on exit", async () => {
    const port = await freePort();
    const tmp = mkdtempSync(path.join(work, "tmp-"));
    const state = mkdtempSync(path.join(work, "state-"));
    const SECRET = `dev-secret-${port}-visible-nowhere`;
    child = spawn(process.execPath, [DEV], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        TMPDIR: tmp,
        RESPONDER_STATE_DIR: state,
        ATLAS_WEBHOOK_SECRET: SECRET,
        ADMIN_TOKEN: "dev-admin-token-0123456789",
        RESPONDER_MODE: "auto",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const deadline = Date.now() + 25_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline && child.exitCode === null) {
      try {
        healthy = (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    expect(healthy, output).toBe(true);

    const [folder] = readdirSync(tmp).filter((n) => n.startsWith("atlas-responder-env-"));
    const file = path.join(tmp, folder!, "worker.env");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readBack(readFileSync(file, "utf8")).ATLAS_WEBHOOK_SECRET).toBe(SECRET);
    const commandLines = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    expect(commandLines).toContain("--env-file");
    expect(commandLines).not.toContain(SECRET);

    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGINT");
    await exited;
    expect(readdirSync(tmp).filter((n) => n.startsWith("atlas-responder-env-"))).toEqual([]);
    expect(output).not.toContain(SECRET);
  }, 30_000);
});
