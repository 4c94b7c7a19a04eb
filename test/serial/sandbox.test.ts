/**
 * `npm start`, the sandbox, end to end: the real process (fakes, alert engine, leaky app, the
 * Worker under `wrangler dev`) run headless as a user would, and its promises checked from outside —
 * the loop closes by itself with `--auto`, an approval by the terminal key closes it in approve mode,
 * the user's own .dev.vars/.env/environment never reach it, and nothing it started outlives it
 * (SIGTERM or SIGKILL).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, portFree } from "../../sandbox/ports.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const START = path.join(ROOT, "sandbox", "start.ts");
const TOKEN = "sandbox-test-admin-token-0123";

/** Every live descendant of `pid`, from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

interface Run {
  child: ChildProcess;
  port: number;
  base: string;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

const runs: Run[] = [];
const dirs: string[] = [];

function startSandbox(
  args: string[],
  port: number,
  extra: { cwd?: string; env?: Record<string, string> } = {},
): Run {
  const child = spawn(process.execPath, [START, "--headless", ...args], {
    cwd: extra.cwd ?? ROOT,
    env: { ...process.env, ...extra.env, PORT: String(port), ADMIN_TOKEN: TOKEN },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const run: Run = {
    child,
    port,
    base: `http://127.0.0.1:${port}`,
    output: () => text,
    exited,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(text);
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the sandbox exited before ${pattern}:\n${text.slice(-4000)}`);
        }
        if (Date.now() > deadline)
          throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${text.slice(-4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  };
  runs.push(run);
  return run;
}

async function incident(run: Run, id: string) {
  const response = await fetch(`${run.base}/incidents/${id}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    state: string;
    journal: Array<{ step: string; status: string; detail?: Record<string, unknown> }>;
  };
}

/** The order of the incident's states as the sandbox printed them. */
function stateLine(output: string, id: string): string[] {
  const states: string[] = [];
  for (const match of output.matchAll(new RegExp(`incident ${id}: (?:\\S+ → )?(\\S+)`, "g")))
    states.push(match[1]!);
  return states;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return condition();
}

afterEach(async () => {
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill("SIGKILL");
      await run.exited;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

describe("npm start (the sandbox)", () => {
  it("--auto closes the loop by itself, never reads the user's .dev.vars/.env/environment, and stops everything on SIGTERM", async () => {
    // A "real" hook the user configured for `npm run dev`: it must never be called.
    const trapCalls: string[] = [];
    const trap = createHttpServer((req, res) => {
      trapCalls.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end('{"job":{"id":"x"}}');
    });
    await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
    const trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}/v1/integrations/deploy/prj_Real0Hook0Looking/Zk3yQ9real`;
    const userDir = mkdtempSync(path.join(tmpdir(), "sandbox-user-"));
    const privateTmp = mkdtempSync(path.join(tmpdir(), "sandbox-tmp-"));
    dirs.push(userDir, privateTmp);
    const targets = JSON.stringify([
      { kind: "vercel", name: "shop-web", secret: "REAL_HOOK", clusters: ["Cluster0"] },
    ]);
    const userVars = `REAL_HOOK=${trapUrl}\nTARGETS='${targets}'\nRESPONDER_MODE=auto\nSLACK_WEBHOOK_URL=${trapUrl}\n`;
    writeFileSync(path.join(userDir, ".dev.vars"), userVars);
    writeFileSync(path.join(userDir, ".env"), userVars);
    writeFileSync(path.join(userDir, "wrangler.toml"), `name = "mine"\n[vars]\nREAL_HOOK = "${trapUrl}"\n`);

    const port = await freePort();
    const started = Date.now();
    const run = startSandbox(["--auto"], port, {
      cwd: userDir,
      env: { REAL_HOOK: trapUrl, TARGETS: targets, SLACK_WEBHOOK_URL: trapUrl, TMPDIR: privateTmp },
    });
    try {
      await run.waitFor(/admin token: (\S+)/, 150_000);
      expect(run.output()).toMatch(/everything here is simulated/i);
      expect(run.output()).toContain(`admin token: ${TOKEN}`);
      expect(run.output()).toContain(`dashboard:   ${run.base}/`);
      expect(run.output()).toContain(
        'POLICY:   {"actAtPercent":80,"cooldownMinutes":1,"verifyAfterSeconds":[10,20]}',
      );

      // The generated config and env file hold nothing of the user's.
      const files = filesUnder(privateTmp).filter((f) => statSync(f).size < 512 * 1024);
      const configs = files.filter((f) => path.basename(f) === "wrangler.toml");
      const envFiles = files.filter((f) => path.basename(f) === "worker.env");
      expect(configs.length).toBeGreaterThan(0);
      expect(envFiles.length).toBe(1);
      expect(statSync(envFiles[0]!).mode & 0o777).toBe(0o600);
      expect(readFileSync(configs[0]!, "utf8")).not.toMatch(/^\[vars\]/m);
      for (const file of files)
        expect(readFileSync(file, "utf8"), file).not.toContain("prj_Real0Hook0Looking");
      expect(readFileSync(envFiles[0]!, "utf8")).toContain("RESPONDER_MODE='auto'");

      const opened = await run.waitFor(
        /Atlas alert OPEN \(signed\) at [\d.]+% → 202 · incident (\S+)/,
        90_000,
      );
      const id = opened[1]!;
      await run.waitFor(/deploy hook: shop-web redeployed/, 60_000);
      await run.waitFor(new RegExp(`incident ${id}: \\S+ → resolved`), 60_000);
      await run.waitFor(/Atlas alert CLOSED \(signed\) at [\d.]+% → 202/, 60_000);
      await run.waitFor(new RegExp(`incident ${id}: \\S+ → closed`), 30_000);
      const elapsed = (Date.now() - started) / 1000;
      console.log(`sandbox --auto: start → closed in ${elapsed.toFixed(1)} s`);

      const states = stateLine(run.output(), id);
      expect(states.indexOf("resolved")).toBeGreaterThan(-1);
      expect(states.indexOf("resolved")).toBeLessThan(states.indexOf("closed"));
      const record = await incident(run, id);
      expect(record.state).toBe("closed");
      const steps = record.journal.map((e) => `${e.step} ${e.status}`);
      const order = [
        "intake opened",
        "action started",
        "incident resolved",
        "intake alert-closed",
        "incident closed",
      ];
      const at = order.map((s) => steps.indexOf(s));
      expect(
        at.every((i) => i >= 0),
        steps.join("\n"),
      ).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      expect(run.output()).toMatch(/Slack #incidents · message \S+ · posted/);
      expect(trapCalls).toEqual([]);

      const tree = descendants(run.child.pid!);
      expect(tree.length).toBeGreaterThan(2);
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      expect(await waitUntil(() => tree.every((pid) => !alive(pid)), 10_000)).toBe(true);
      expect(await portFree(port)).toBe(true);
      expect(trapCalls).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    }
  }, 240_000);

  it("approve mode waits for a person; the terminal key `a` approves through the Slack button path; SIGKILL leaves nothing behind", async () => {
    const port = await freePort();
    const run = startSandbox([], port);
    await run.waitFor(/admin token: /, 150_000);
    expect(run.output()).toMatch(/mode: +approve/);
    const waiting = await run.waitFor(
      /incident (\S+): \S+ → awaiting-approval|incident (\S+): awaiting-approval/,
      90_000,
    );
    const id = (waiting[1] ?? waiting[2])!;
    await run.waitFor(/\[ Approve[^\]]*\]/, 30_000);
    // Nothing is redeployed before the approval.
    expect(run.output()).not.toContain("deploy hook: shop-web redeployed");
    run.child.stdin!.write("a");
    await run.waitFor(/\/slack\/actions answered 200/, 30_000);
    await run.waitFor(/deploy hook: shop-web redeployed/, 60_000);
    await run.waitFor(new RegExp(`incident ${id}: \\S+ → closed`), 90_000);
    const record = await incident(run, id);
    expect(record.state).toBe("closed");
    const approval = record.journal.find((e) => e.step === "approval" && e.status === "approved");
    expect(approval, JSON.stringify(record.journal)).toBeTruthy();
    expect(JSON.stringify(approval)).toContain("U0SANDBOX1");

    const tree = descendants(run.child.pid!);
    expect(tree.length).toBeGreaterThan(2);
    process.kill(run.child.pid!, "SIGKILL");
    await run.exited;
    expect(
      await waitUntil(() => tree.every((pid) => !alive(pid)), 10_000),
      `alive: ${tree.filter(alive)}`,
    ).toBe(true);
    expect(await waitUntil(() => portFree(port), 5_000)).toBe(true);
  }, 240_000);

  it("--scenario m10 attributes by appName and redeploys only the culprit", async () => {
    const port = await freePort();
    const run = startSandbox(["--auto", "--scenario", "m10"], port);
    const opened = await run.waitFor(
      /Atlas alert OPEN \(signed\) at [\d.]+% → 202 · incident (\S+)/,
      180_000,
    );
    const id = opened[1]!;
    await run.waitFor(new RegExp(`incident ${id}: \\S+ → closed`), 90_000);
    expect(run.output()).toContain("deploy hook: shop-api redeployed");
    expect(run.output()).not.toContain("deploy hook: shop-web redeployed");
    const record = await incident(run, id);
    expect(record.state).toBe("closed");
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  }, 240_000);

  it("a port in use is a clear error naming PORT (exit 2)", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const { port } = holder.address() as { port: number };
    try {
      const run = startSandbox([], port);
      expect(await run.exited).toBe(2);
      expect(run.output()).toMatch(new RegExp(`PORT ${port} is in use`));
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  }, 60_000);
});
