/**
 * The bench's world: the fakes (MongoDB wire protocol, Atlas Admin API, deploy platforms, Slack) in
 * this process, and the real Worker under `wrangler dev` on 127.0.0.1 with a generated config (the
 * repo's entry, Durable Objects and migrations, no `[vars]`), fresh state, and its settings in a
 * 0600 `--env-file`. wrangler runs under sandbox/guard.ts, so it and workerd end with this process
 * even when it is killed outright; `stopAll()` (also on SIGINT/SIGTERM) stops everything started.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "smol-toml";
import { type FakeAtlas, startFakeAtlas } from "../fakes/atlas-api.ts";
import { type FakeMongo, type FakeMongoOptions, startFakeMongo } from "../fakes/mongo-server.ts";
import { type FakePlatforms, startFakePlatforms } from "../fakes/platforms.ts";
import { type FakeSlack, startFakeSlack } from "../fakes/slack.ts";
import { writeEnvFile } from "../scripts/wrangler-env.ts";
import { signAtlasBody } from "../src/atlas/webhook-signature.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const READY_TIMEOUT_MS = 120_000;

export interface Fakes {
  mongo: FakeMongo;
  atlas: FakeAtlas;
  platforms: FakePlatforms;
  slack: FakeSlack;
}

export interface WorldOptions {
  mongo?: FakeMongoOptions;
  /** The Worker's settings, built once the fakes are up (ATLAS_WEBHOOK_SECRET and ADMIN_TOKEN are added). */
  vars(fakes: Fakes): Record<string, string>;
  /** Where the Durable Objects' state folder goes (default: a new temporary folder). */
  stateRoot?: string;
  /** The responder's source at an earlier commit (see `checkoutTree`), for a before/after in one run. */
  tree?: string;
  /** Another Worker's wrangler.toml (the hello-world baseline); default the responder's. */
  wranglerToml?: string;
  /** The path that must answer 200 before the world is ready; default /healthz. */
  readyPath?: string;
  /** Extra `wrangler dev` arguments, e.g. `--minify`. */
  args?: string[];
}

export interface World extends Fakes {
  readonly base: string;
  readonly inspectorPort: number;
  readonly adminToken: string;
  readonly webhookSecret: string;
  /** Milliseconds from spawning `wrangler dev` to its first 200 on /healthz. */
  readonly startMs: number;
  /** The workerd process running the Worker (for its CPU time), or null if it was not found. */
  workerdPid(): number | null;
  /** The raw body and headers of a signed webhook delivery. */
  signed(body: unknown, event?: string): Promise<{ raw: string; headers: Record<string, string> }>;
  /** Sends one signed delivery and answers status and JSON body. */
  deliver(body: unknown, event?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Bearer GET of an operator route. */
  admin<T>(pathname: string): Promise<T>;
  /** wrangler's recent output (for a failure message). */
  output(): string;
  /** The Worker's error log lines (JSON, level "error") among wrangler's recent output. */
  errors(): string[];
  close(): Promise<void>;
}

const running = new Set<() => Promise<void>>();

/** Stops every world still running; safe to call more than once. */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((close) => close()));
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${signal}, stopping everything it started…\n`);
    void stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The repo's wrangler.toml, keeping only what the Worker needs: no `[vars]`, no routes, no crons. */
export function benchWranglerToml(main = path.join(ROOT, "src", "index.ts")): string {
  const repo = parse(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")) as Record<string, unknown>;
  const config: Record<string, unknown> = { name: "atlas-responder-bench", main };
  for (const key of ["compatibility_date", "compatibility_flags", "durable_objects", "migrations"]) {
    if (repo[key] !== undefined) config[key] = repo[key];
  }
  return `# Generated by npm run bench. Settings arrive in a 0600 --env-file; no [vars].\n${stringify(config)}\n`;
}

/** Descendant pids of `root` (from /proc), with their command names. */
function descendants(root: number): Array<{ pid: number; comm: string }> {
  const parents = new Map<number, number[]>();
  const comms = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      comms.set(Number(entry), comm);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of parents.get(pid) ?? []) {
      out.push({ pid: child, comm: comms.get(child) ?? "" });
      queue.push(child);
    }
  }
  return out;
}

/** Starts the fakes and the Worker; resolves once /healthz answers 200. */
export async function startWorld(options: WorldOptions): Promise<World> {
  installHandlers();
  const cleanups: Array<() => unknown> = [];
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      running.delete(close);
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch {
          // keep stopping the rest
        }
      }
    })();
    return closed;
  };
  running.add(close);
  try {
    const mongo = await startFakeMongo({ tier: "M0", connectionLimit: 500, ...options.mongo });
    cleanups.push(() => mongo.close());
    const atlas = await startFakeAtlas({ connectionsNow: () => mongo.openCount() });
    cleanups.push(() => atlas.close());
    const platforms = await startFakePlatforms();
    cleanups.push(() => platforms.close());
    const slack = await startFakeSlack({ channels: ["incidents"] });
    cleanups.push(() => slack.close());
    const fakes: Fakes = { mongo, atlas, platforms, slack };

    const adminToken = `bench-admin-${randomBytes(16).toString("hex")}`;
    const webhookSecret = `bench-whsec-${randomBytes(16).toString("hex")}`;
    const envFile = writeEnvFile({
      ADMIN_TOKEN: adminToken,
      ATLAS_WEBHOOK_SECRET: webhookSecret,
      ...options.vars(fakes),
    });
    cleanups.push(() => envFile.remove());
    const dir = mkdtempSync(path.join(tmpdir(), "atlas-responder-bench-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const configPath = path.join(dir, "wrangler.toml");
    const toml =
      options.wranglerToml ??
      benchWranglerToml(options.tree ? path.join(options.tree, "src", "index.ts") : undefined);
    writeFileSync(configPath, toml, { mode: 0o600 });

    const port = await freePort();
    const inspectorPort = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const wrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
    const args = [
      wrangler,
      "dev",
      "--config",
      configPath,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
      "--persist-to",
      options.stateRoot
        ? mkdtempSync(path.join(options.stateRoot, "atlas-responder-bench-state-"))
        : path.join(dir, "state"),
      "--env-file",
      envFile.path,
      ...(options.args ?? []),
    ];
    const output: string[] = [];
    const started = performance.now();
    const env = {
      ...cleanEnv(),
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
    } as unknown as NodeJS.ProcessEnv;
    const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "sandbox", "guard.ts"), ...args], {
      cwd: dir,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 300) output.splice(0, output.length - 300);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanups.push(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), 8_000);
      await exited;
      clearTimeout(force);
    });

    const readyBy = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        const response = await fetch(`${base}${options.readyPath ?? "/healthz"}`, {
          signal: AbortSignal.timeout(2000),
        });
        await response.arrayBuffer();
        if (response.status === 200) break;
      } catch {
        // not up yet
      }
      if (Date.now() > readyBy || child.exitCode !== null) {
        throw new Error(
          `wrangler dev did not answer ${options.readyPath ?? "/healthz"}:\n${output.join("").slice(-3000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const startMs = performance.now() - started;

    const signed = async (body: unknown, event = "alert.open") => {
      const raw = JSON.stringify(body);
      return {
        raw,
        headers: {
          "content-type": "application/json",
          "x-mms-event": event,
          "x-mms-signature": await signAtlasBody(raw, webhookSecret),
        },
      };
    };
    return {
      ...fakes,
      base,
      inspectorPort,
      adminToken,
      webhookSecret,
      startMs,
      // wrangler runs two: its own proxy (listening on our port) and the one running the Worker.
      workerdPid: () =>
        child.pid === undefined
          ? null
          : (descendants(child.pid).find(
              (p) =>
                p.comm === "workerd" &&
                !readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes(`=127.0.0.1:${port}\0`),
            )?.pid ?? null),
      signed,
      async deliver(body, event) {
        const { raw, headers } = await signed(body, event);
        const response = await fetch(`${base}/webhooks/atlas`, { method: "POST", headers, body: raw });
        const text = await response.text();
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON
        }
        return { status: response.status, body: parsed };
      },
      async admin<T>(pathname: string) {
        const response = await fetch(`${base}${pathname}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        if (!response.ok) throw new Error(`${pathname} answered ${response.status}`);
        return (await response.json()) as T;
      },
      output: () => output.join(""),
      errors: () =>
        output
          .join("")
          .split("\n")
          .filter((line) => line.includes('"level":"error"')),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The user's environment minus anything the Worker or wrangler could read as configuration. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const config =
    /^(ATLAS_|SLACK_|NOTIFY_|MONGODB_|CLOUDFLARE_|WRANGLER_|CF_)|^(ADMIN_TOKEN|RESPONDER_MODE|POLICY|TARGETS|CLUSTERS|PUBLIC_URL|PORT)$/;
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !config.test(key)) env[key] = value;
  }
  return env;
}

/**
 * Nanoseconds the process's `workerd` threads (the isolate's thread among them; not V8's background
 * helper threads) have spent on a CPU so far, from /proc/PID/task/TID/schedstat.
 */
export function workerdThreadCpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      if (comm !== "workerd") continue;
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended
    }
  }
  return total;
}

/** CPU milliseconds (user + system) the process has used so far, from /proc (10 ms ticks). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat (here 11 and 12 after the comm), in clock ticks.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** A connection alert as Atlas sends it (CONNECTIONS_PERCENT, host metric), with a given id. */
export function connectionAlert(input: {
  id: string;
  groupId: string;
  cluster: string;
  percent: number;
  status?: "OPEN" | "CLOSED";
  at?: Date;
  /** `host:port` of the node; default one made from the cluster name. */
  host?: string;
}): Record<string, unknown> {
  const at = (input.at ?? new Date()).toISOString();
  const host = input.host ?? `${input.cluster.toLowerCase()}-shard-00-00.example.mongodb.net:27017`;
  return {
    id: input.id,
    alertConfigId: input.id.split("").reverse().join(""),
    groupId: input.groupId,
    eventTypeName: "OUTSIDE_METRIC_THRESHOLD",
    typeName: "HOST_METRIC",
    status: input.status ?? "OPEN",
    created: at,
    updated: at,
    lastNotified: at,
    clusterName: input.cluster,
    replicaSetName: `${input.cluster.toLowerCase()}-shard-0`,
    hostnameAndPort: host,
    metricName: "CONNECTIONS_PERCENT",
    currentValue: { number: input.percent, units: "RAW" },
    humanReadable: `Host ${host} has Connections % of configured limit above the threshold: ${input.percent}.`,
  };
}

/** 24 hex characters: `prefix` (hex) padded with a counter. */
export function hexId(prefix: string, n: number): string {
  return `${prefix}${n.toString(16).padStart(24 - prefix.length, "0")}`;
}

export interface BenchCluster {
  groupId: string;
  name: string;
  /** The redeploy target that owns it (a fake Vercel deploy hook). */
  target: string;
  /** `host:port` of its first node, as the fake Admin API lists it (set by `responderVars`). */
  host?: string;
  /** The secret holding its connection string (default BENCH_MONGODB_URI when `uri` is given). */
  uriSecret?: string;
}

/**
 * A full responder configuration against the fakes: the Admin API (service account), Slack (bot
 * token, channel, signing secret), one Vercel target per cluster, CLUSTERS with a connection string
 * (`uri`, when given), and `policy`. Registers each cluster with the fake Atlas.
 */
export function responderVars(
  fakes: Fakes,
  input: {
    mode: string;
    clusters: BenchCluster[];
    uri?: string;
    /** More connection strings by secret name, for clusters that name one. */
    uris?: Record<string, string>;
    policy?: Record<string, unknown>;
  },
): Record<string, string> {
  const owned = new Map<string, string[]>();
  for (const cluster of input.clusters) {
    const added = fakes.atlas.addCluster(cluster.groupId, { name: cluster.name, tier: "M0" });
    cluster.host = added.processes[0]?.id;
    owned.set(cluster.target, [...(owned.get(cluster.target) ?? []), cluster.name]);
  }
  const targets = [...owned].map(([name, clusters]) => fakes.platforms.target("vercel", name, { clusters }));
  const vars: Record<string, string> = {
    RESPONDER_MODE: input.mode,
    ATLAS_API_BASE_URL: fakes.atlas.baseUrl,
    ATLAS_CLIENT_ID: fakes.atlas.credentials.serviceAccount.clientId,
    ATLAS_CLIENT_SECRET: fakes.atlas.credentials.serviceAccount.clientSecret,
    CLUSTERS: JSON.stringify(
      input.clusters.map((c) => ({
        groupId: c.groupId,
        name: c.name,
        tier: "M0",
        ...(c.uriSecret ? { uriSecret: c.uriSecret } : input.uri ? { uriSecret: "BENCH_MONGODB_URI" } : {}),
      })),
    ),
    TARGETS: JSON.stringify(targets.map((t) => t.target)),
    SLACK_API_BASE_URL: fakes.slack.apiBaseUrl,
    SLACK_BOT_TOKEN: fakes.slack.token,
    SLACK_CHANNEL: fakes.slack.channel("incidents").id,
    SLACK_SIGNING_SECRET: fakes.slack.signingSecret,
    ...(input.uri ? { BENCH_MONGODB_URI: input.uri } : {}),
    ...input.uris,
    ...(input.policy ? { POLICY: JSON.stringify(input.policy) } : {}),
  };
  for (const t of targets) Object.assign(vars, t.secrets);
  return vars;
}

/** Polls `check` every 25 ms until it answers a value; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | null> | T | null,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The Worker's source (src/ and package.json) at commit `rev`, in a temporary folder that shares
 * this checkout's node_modules: the "before" of a before/after measured in the same run.
 */
export function checkoutTree(rev: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "atlas-responder-bench-tree-"));
  const archive = spawnSync("git", ["-C", ROOT, "archive", "--format=tar", rev, "src", "package.json"], {
    maxBuffer: 256 * 1024 * 1024,
  });
  if (archive.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`git archive ${rev} failed: ${String(archive.stderr).trim()}`);
  }
  const untar = spawnSync("tar", ["-x", "-C", dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error("could not unpack the earlier tree");
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
