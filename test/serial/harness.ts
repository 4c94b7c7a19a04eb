/**
 * The browser tests' world: the fakes (Atlas Admin API, a MongoDB with a leaky app, the deploy
 * platforms, which kill the leak when the app is redeployed) in this process, and the Worker under
 * `wrangler dev` on 127.0.0.1 with a temporary state folder. Its configuration goes in through a
 * temporary `--env-file` (mode 0600), so no value shows on a command line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeAtlas } from "../../fakes/atlas-api.ts";
import { type LeakyApp, spawnLeakyApp } from "../../fakes/leaky-app-process.ts";
import { startFakeMongo } from "../../fakes/mongo-server.ts";
import { startFakePlatforms } from "../../fakes/platforms.ts";
import { freePort } from "../../sandbox/ports.ts";
import { signAtlasBody } from "../../src/atlas/webhook-signature.ts";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

export const CLUSTER = { groupId: "b0b0b0b0b0b0b0b0b0b0b0b0", name: "ShopCluster", target: "shop-web" };

export interface World {
  base: string;
  adminToken: string;
  /** Sends a signed connection alert for the cluster; answers the incident id. */
  alert(percent: number): Promise<string>;
  /** The incident as the operator API shows it. */
  incident(id: string): Promise<{ state: string; journal: { step: string; status: string }[] }>;
  leakRunning(): boolean;
  /** Runs the Worker's cron handler once (`wrangler dev --test-scheduled`): one watch sample. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const adminToken = `browser-admin-${randomBytes(12).toString("hex")}`;
  const webhookSecret = `browser-whsec-${randomBytes(12).toString("hex")}`;
  const mongo = await startFakeMongo({ tier: "M0", connectionLimit: 500 });
  const atlas = await startFakeAtlas({ connectionsNow: () => mongo.openCount() });
  atlas.addCluster(CLUSTER.groupId, { name: CLUSTER.name, tier: "M0" });
  const platforms = await startFakePlatforms();
  const target = platforms.target("vercel", CLUSTER.target, { clusters: [CLUSTER.name] });
  let leak: LeakyApp | null = await spawnLeakyApp({
    uri: mongo.uri(),
    app: "shop-web",
    connections: 430,
    style: "clients",
  });
  platforms.onRedeploy(CLUSTER.target, async () => {
    await leak?.kill();
  });

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), "responder-browser-"));
  const { serviceAccount } = atlas.credentials;
  const vars: Record<string, string> = {
    ADMIN_TOKEN: adminToken,
    ATLAS_WEBHOOK_SECRET: webhookSecret,
    RESPONDER_MODE: "approve",
    ATLAS_API_BASE_URL: atlas.baseUrl,
    ATLAS_CLIENT_ID: serviceAccount.clientId,
    ATLAS_CLIENT_SECRET: serviceAccount.clientSecret,
    SHOP_URI: mongo.uri(),
    PUBLIC_URL: base,
    POLICY: JSON.stringify({ verifyAfterSeconds: [1, 2] }),
    TARGETS: JSON.stringify([{ ...target.target, clusters: [CLUSTER.name] }]),
    CLUSTERS: JSON.stringify([
      { groupId: CLUSTER.groupId, name: CLUSTER.name, tier: "M0", uriSecret: "SHOP_URI", mode: "approve" },
    ]),
    ...target.secrets,
  };
  const envFile = join(dir, "worker.env");
  for (const [key, value] of Object.entries(vars)) {
    if (value.includes("'") || value.includes("\n")) throw new Error(`${key} cannot go in an env file`);
  }
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join(""),
    { mode: 0o600 },
  );
  await chmod(envFile, 0o600);

  const output: string[] = [];
  const child: ChildProcess = spawn(
    join(process.cwd(), "node_modules/.bin/wrangler"),
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--show-interactive-dev-session=false",
      // wrangler dev runs no crons; the test fires the watch through /__scheduled.
      "--test-scheduled",
      "--persist-to",
      join(dir, "state"),
      "--env-file",
      envFile,
      "--inspector-port",
      String(await freePort()),
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      detached: true,
    },
  );
  child.stdout?.on("data", (chunk) => output.push(String(chunk)));
  child.stderr?.on("data", (chunk) => output.push(String(chunk)));

  const close = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-child.pid, "SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
    }
    await leak?.kill();
    leak = null;
    await Promise.all([platforms.close(), atlas.close(), mongo.close()]);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await close();
      throw new Error(`wrangler dev did not answer /healthz:\n${output.join("").slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  let seq = 0;
  return {
    base,
    adminToken,
    async tick() {
      const response = await fetch(`${base}/__scheduled?cron=${encodeURIComponent("* * * * *")}`);
      if (!response.ok) throw new Error(`/__scheduled answered ${response.status}`);
    },
    async alert(percent) {
      seq += 1;
      const body = alertWith(M0_CONNECTIONS_OPEN, {
        id: `b0b0b0b0b0b0b0b0${String(seq).padStart(8, "0")}`,
        groupId: CLUSTER.groupId,
        clusterName: CLUSTER.name,
        replicaSetName: "atlas-shop-shard-0",
        hostnameAndPort: "shopcluster-shard-00-00.example.mongodb.net:27017",
        currentValue: { number: percent, units: "RAW" },
        created: new Date().toISOString(),
        updated: new Date().toISOString(),
      });
      const raw = JSON.stringify(body);
      const response = await fetch(`${base}/webhooks/atlas`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-mms-event": "alert.open",
          "x-mms-signature": await signAtlasBody(raw, webhookSecret),
        },
        body: raw,
      });
      if (response.status !== 202) throw new Error(`webhook answered ${response.status}`);
      return ((await response.json()) as { incident: string }).incident;
    },
    async incident(id) {
      const response = await fetch(`${base}/incidents/${id}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      return (await response.json()) as { state: string; journal: { step: string; status: string }[] };
    },
    leakRunning: () => leak?.running() ?? false,
    close,
  };
}
