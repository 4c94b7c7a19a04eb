/**
 * A cluster running out of connections, for the `fix:connections` specs: a fake M0 MongoDB with a
 * 20-connection limit, a leaky app process holding 16 of them, and a fake webhook deploy target
 * whose accepted redeploy kills that app (as a real redeploy replaces the leaking processes). The
 * CLI runs as a real process in a temporary directory holding its `.dev.vars`, with its own
 * `XDG_STATE_HOME`; `runPty` gives it a real pseudo-terminal through `script(1)`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type LeakyApp, spawnLeakyApp } from "../../fakes/leaky-app-process.ts";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";
import { type FakePlatforms, startFakePlatforms } from "../../fakes/platforms.ts";

export const CLI = fileURLToPath(new URL("../../src/cli/fix-connections.ts", import.meta.url));
export const GROUP_ID = "5e5a0000000000000000f1c5";
export const ADMIN_TOKEN = "admin-token-for-fix-tests-0123";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr without colour codes and carriage returns. */
  text: string;
}

export interface FixFixture {
  dir: string;
  stateHome: string;
  mongo: FakeMongo;
  platforms: FakePlatforms;
  hookUrl: string;
  app: LeakyApp | null;
  /** Starts (another) leaky app holding 16 connections. */
  leak(): Promise<void>;
  /** Accepted redeploys of the target so far. */
  redeploys(): number;
  env(extra?: Record<string, string>): Record<string, string>;
  run(
    args: string[],
    options?: { env?: Record<string, string>; onSpawn?: (child: ChildProcess) => void },
  ): Promise<RunResult>;
  /** Runs under `script -qec` (a real TTY) and types `answer` once `prompt` shows. */
  runPty(
    args: string[],
    answer: string,
    options?: { prompt?: RegExp; env?: Record<string, string> },
  ): Promise<RunResult>;
  close(): Promise<void>;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g");
export const plain = (text: string) => text.replace(ANSI, "").replace(/\r/g, "");

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function startFixFixture(
  options: { devVars?: Record<string, string> } = {},
): Promise<FixFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), "fix-connections-"));
  const stateHome = path.join(dir, "state");
  const mongo = await startFakeMongo({ tier: "M0", connectionLimit: 20 });
  const platforms = await startFakePlatforms();
  const setup = platforms.target("webhook", "web");
  const hookUrl = setup.secrets[setup.target.secret]!;
  const vars: Record<string, string> = {
    ATLAS_WEBHOOK_SECRET: "whsec-fix-tests-value",
    ADMIN_TOKEN,
    MONGODB_URI: mongo.uri(),
    CLUSTERS: JSON.stringify([{ groupId: GROUP_ID, name: "Cluster0", tier: "M0" }]),
    TARGETS: JSON.stringify([setup.target]),
    POLICY: JSON.stringify({ verifyAfterSeconds: [1, 2] }),
    ...setup.secrets,
    ...options.devVars,
  };
  writeFileSync(
    path.join(dir, ".dev.vars"),
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'`)
      .join("\n"),
  );

  const fixture: FixFixture = {
    dir,
    stateHome,
    mongo,
    platforms,
    hookUrl,
    app: null,
    async leak() {
      fixture.app = await spawnLeakyApp({
        uri: mongo.uri(),
        app: "shop-web",
        connections: 16,
        style: "clients",
      });
    },
    redeploys: () => platforms.calls({ target: "web" }).filter((c) => c.accepted).length,
    env: (extra = {}) => ({
      PATH: process.env.PATH ?? "",
      HOME: dir,
      XDG_STATE_HOME: stateHome,
      ...extra,
    }),
    run(args, runOptions = {}) {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: dir,
        env: fixture.env(runOptions.env) as unknown as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      runOptions.onSpawn?.(child);
      return collect(child);
    },
    runPty(args, answer, ptyOptions = {}) {
      const prompt = ptyOptions.prompt ?? /\[y\/N\]/;
      const command = [process.execPath, CLI, ...args].map(quote).join(" ");
      const child = spawn("script", ["-qec", command, "/dev/null"], {
        cwd: dir,
        env: fixture.env({ TERM: "xterm", ...ptyOptions.env }) as unknown as NodeJS.ProcessEnv,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let typed = false;
      return collect(child, (text) => {
        if (!typed && prompt.test(plain(text))) {
          typed = true;
          child.stdin?.write(`${answer}\r`);
        }
      });
    },
    async close() {
      await fixture.app?.kill();
      await Promise.all([mongo.close(), platforms.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // A redeploy replaces the leaking processes.
  platforms.onRedeploy("web", async () => {
    await fixture.app?.kill();
  });
  await fixture.leak();
  return fixture;
}

function collect(child: ChildProcess, onStdout?: (text: string) => void): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout?.(stdout);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      child.stdin?.end();
      resolve({ code, stdout, stderr, text: plain(`${stdout}\n${stderr}`) });
    });
  });
}
