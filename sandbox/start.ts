/**
 * `npm start`: the local sandbox. Everything in it is simulated, on 127.0.0.1, with no account:
 * a fake MongoDB (M0, 500 connections), the fake Atlas Admin API, an alert engine that sends
 * signed Atlas webhooks, a leaky app opening real driver connections, deploy-hook receivers whose
 * redeploy restarts the app with a sane pool, a fake Slack printed in the terminal, and the real
 * Worker under `wrangler dev` on a generated config. Approve from the terminal (`a`), or run it
 * all by itself with `--auto`.
 *
 * It reads only PORT and ADMIN_TOKEN from the environment — never .dev.vars, .env or [vars] — so
 * it cannot reach a real hook, Slack or Atlas. Settings reach wrangler through a 0600 temporary
 * env file, never `--var`. Each run starts from fresh state unless `--keep-state`.
 *
 * Usage: npm start [-- --auto] [--scenario m0|m10] [--keep-state] [--headless]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { writeEnvFile } from "../scripts/wrangler-env.ts";
import { MIN_ADMIN_TOKEN_LENGTH } from "../src/constants.ts";
import { startAlertEngine } from "./alert-engine.ts";
import {
  ALERT_RULE,
  type AppSpec,
  ROOT,
  SANDBOX_POLICY,
  SCENARIOS,
  type ScenarioName,
  writeSandboxConfig,
} from "./config.ts";
import {
  type LeakyApp,
  spawnLeakyApp,
  startFakeAtlas,
  startFakeMongo,
  startFakePlatforms,
  startFakeSlack,
} from "./fakes.ts";
import { freePort, portFree } from "./ports.ts";
import { createTerminal, listenForKeys } from "./terminal.ts";

const USAGE = `usage: npm start [-- --auto] [--scenario m0|m10] [--keep-state] [--headless]
  --auto         act without asking (default: approve mode; press a to approve, s to skip)
  --scenario m10 two apps on an M10 cluster; only the culprit is redeployed
  --keep-state   keep incidents in .wrangler/sandbox-state between runs (default: fresh each run)
  --headless     plain lines, no redrawing (also when stdout is not a terminal)
environment: PORT (default 8787), ADMIN_TOKEN (default: generated)`;

/** The fake Slack user who presses the buttons from the terminal. */
const SLACK_USER = { id: "U0SANDBOX1", name: "you" };
const SCHEDULED_EVERY_MS = 5_000;
const LEAK_STEP_MS = 2_500;
const READY_TIMEOUT_MS = 120_000;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      auto: { type: "boolean", default: false },
      headless: { type: "boolean", default: false },
      "keep-state": { type: "boolean", default: false },
      scenario: { type: "string", default: "m0" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  });
}
try {
  parsed = parseOptions();
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
const options = parsed.values;
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!(options.scenario in SCENARIOS)) fail(`--scenario must be m0 or m10\n${USAGE}`);
const scenario = SCENARIOS[options.scenario as ScenarioName];

const port = Number(process.env.PORT || 8787);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail("PORT must be a TCP port number (1–65535)");
const adminToken = process.env.ADMIN_TOKEN || `sandbox-${randomBytes(18).toString("base64url")}`;
if (adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
  fail(`ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
}
const mode = options.auto ? "auto" : "approve";
const rich = !options.headless && process.stdout.isTTY === true;
const term = createTerminal(rich);

if (!(await portFree(port))) {
  fail(
    `PORT ${port} is in use on 127.0.0.1. Stop what holds it, or pick another: PORT=${port + 1} npm start`,
  );
}

const base = `http://127.0.0.1:${port}`;
term.block([
  "",
  "  ATLAS-RESPONDER SANDBOX — everything here is simulated.",
  "  A fake MongoDB, fake Atlas, fake deploy hooks and a fake Slack, all on 127.0.0.1; no account,",
  "  no real cluster, hook or Slack is touched. Your .dev.vars, .env and [vars] are not read.",
  "",
  `  scenario: ${scenario.name} — ${scenario.title}`,
  `  mode:     ${mode}${mode === "approve" ? " (press a to approve, s to skip; --auto acts by itself)" : ""}`,
  `  POLICY:   ${JSON.stringify(SANDBOX_POLICY)}`,
  `  alert:    OPEN when connections stay ≥ ${ALERT_RULE.thresholdPercent}% for ${ALERT_RULE.openAfterSeconds} s, update every ${ALERT_RULE.updateEverySeconds} s, CLOSED after ${ALERT_RULE.closeAfterSeconds} s back under`,
  "",
]);

// ---------------------------------------------------------------------------------------------
// Teardown: everything started below registers here, and stops in reverse order.

const cleanups: Array<() => void | Promise<void>> = [];
let stopping: Promise<void> | null = null;
function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    term.line("stopping: Worker, apps and fakes…");
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // keep stopping the rest
      }
    }
    term.line("stopped.");
    process.exit(code);
  })();
  return stopping;
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
process.on("SIGHUP", () => void shutdown(0));

// ---------------------------------------------------------------------------------------------
// The fakes

const mongo = await startFakeMongo({ tier: scenario.tier, connectionLimit: scenario.connectionLimit });
cleanups.push(() => mongo.close());
const atlas = await startFakeAtlas({ connectionsNow: () => mongo.openCount(), sampleIntervalMs: 5_000 });
cleanups.push(() => atlas.close());
const cluster = atlas.addCluster(scenario.groupId, { name: scenario.cluster, tier: scenario.tier });
const node = cluster.processes[0]!;
const platforms = await startFakePlatforms();
cleanups.push(() => platforms.close());
const slack = await startFakeSlack({ channels: ["incidents"] });
cleanups.push(() => slack.close());

// The apps: instances per app; a redeploy replaces them all with one healthy instance.
const instances = new Map<string, LeakyApp[]>();
cleanups.push(async () => {
  await Promise.all([...instances.values()].flat().map((app) => app.kill()));
});
let redeployed = false;

async function startInstance(app: AppSpec, connections: number, style: "pool" | "clients"): Promise<void> {
  const instance = await spawnLeakyApp({
    uri: mongo.uri(),
    app: app.name,
    connections,
    style,
    env: { VERCEL: "1", VERCEL_REGION: "iad1", VERCEL_ENV: "production" },
    readyTimeoutMs: 30_000,
  });
  if (stopping) {
    await instance.kill();
    return;
  }
  instances.set(app.name, [...(instances.get(app.name) ?? []), instance]);
}

const targets = scenario.apps.map((app) => {
  const setup = platforms.target("vercel", app.name, { clusters: [scenario.cluster], appNames: [app.name] });
  platforms.onRedeploy(app.name, async () => {
    redeployed = true;
    term.line(
      `deploy hook: ${app.name} redeployed — restarting it with a sane pool (${app.healthy} connections)`,
    );
    const old = instances.get(app.name) ?? [];
    instances.set(app.name, []);
    await Promise.all(old.map((instance) => instance.kill()));
    await startInstance(app, app.healthy, "pool");
    term.line(`${app.name}: back up, holding ${mongo.openCount(app.name)} connections`);
  });
  return setup;
});

for (const app of scenario.apps) await startInstance(app, app.healthy, "pool");

// ---------------------------------------------------------------------------------------------
// The Worker under `wrangler dev`, on a generated config and a 0600 env file

const webhookSecret = `sandbox-whsec-${randomBytes(16).toString("hex")}`;
const generated = writeSandboxConfig();
cleanups.push(() => generated.remove());
const stateDir = options["keep-state"]
  ? path.join(ROOT, ".wrangler", "sandbox-state")
  : mkdtempSync(path.join(tmpdir(), "atlas-responder-sandbox-state-"));
if (options["keep-state"]) mkdirSync(stateDir, { recursive: true });
else cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));

const { serviceAccount } = atlas.credentials;
const values: Record<string, string> = {
  ADMIN_TOKEN: adminToken,
  ATLAS_WEBHOOK_SECRET: webhookSecret,
  RESPONDER_MODE: mode,
  PUBLIC_URL: base,
  POLICY: JSON.stringify(SANDBOX_POLICY),
  ATLAS_API_BASE_URL: atlas.baseUrl,
  ATLAS_CLIENT_ID: serviceAccount.clientId,
  ATLAS_CLIENT_SECRET: serviceAccount.clientSecret,
  SANDBOX_MONGODB_URI: mongo.uri(),
  CLUSTERS: JSON.stringify([
    {
      groupId: scenario.groupId,
      name: scenario.cluster,
      tier: scenario.tier,
      uriSecret: "SANDBOX_MONGODB_URI",
    },
  ]),
  TARGETS: JSON.stringify(targets.map((t) => t.target)),
  SLACK_API_BASE_URL: slack.apiBaseUrl,
  SLACK_BOT_TOKEN: slack.token,
  SLACK_CHANNEL: slack.channel("incidents").id,
  SLACK_SIGNING_SECRET: slack.signingSecret,
  SLACK_APPROVERS: SLACK_USER.id,
};
for (const t of targets) Object.assign(values, t.secrets);
const envFile = writeEnvFile(values);
cleanups.push(() => envFile.remove());

/** wrangler's environment: the user's, minus anything the Worker could read as configuration. */
function wranglerEnv(): NodeJS.ProcessEnv {
  const env: Record<string, string> = {};
  const config =
    /^(ATLAS_|SLACK_|NOTIFY_|MONGODB_|CLOUDFLARE_|WRANGLER_|CF_)|^(ADMIN_TOKEN|RESPONDER_MODE|POLICY|TARGETS|CLUSTERS|PUBLIC_URL|PORT)$/;
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !config.test(key)) env[key] = value;
  }
  env.WRANGLER_SEND_METRICS = "false";
  env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  return env as unknown as NodeJS.ProcessEnv;
}

const localWrangler = path.join(ROOT, "node_modules", ".bin", "wrangler");
const wranglerArgs = [
  existsSync(localWrangler) ? localWrangler : "wrangler",
  "dev",
  "--config",
  generated.configPath,
  "--ip",
  "127.0.0.1",
  "--port",
  String(port),
  "--inspector-port",
  String(await freePort()),
  "--show-interactive-dev-session=false",
  "--test-scheduled",
  "--persist-to",
  stateDir,
  "--env-file",
  envFile.path,
];
const wranglerOutput: string[] = [];
// The guard ends wrangler and workerd with us, even when we are killed outright.
const worker: ChildProcess = spawn(
  process.execPath,
  [path.join(ROOT, "sandbox", "guard.ts"), ...wranglerArgs],
  {
    cwd: generated.dir,
    env: wranglerEnv(),
    stdio: ["pipe", "pipe", "pipe"],
  },
);
const workerExited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
const keep = (chunk: Buffer) => {
  wranglerOutput.push(chunk.toString());
  if (wranglerOutput.length > 400) wranglerOutput.splice(0, wranglerOutput.length - 400);
};
worker.stdout?.on("data", keep);
worker.stderr?.on("data", keep);
cleanups.push(async () => {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  worker.kill("SIGTERM");
  const force = setTimeout(() => worker.kill("SIGKILL"), 8_000);
  await workerExited;
  clearTimeout(force);
});
worker.once("exit", (code) => {
  if (stopping) return;
  term.line(
    `the Worker (wrangler dev) exited (${code}); its last output:\n${wranglerOutput.join("").slice(-3000)}`,
  );
  void shutdown(1);
});

term.line(`starting the Worker under wrangler dev on ${base} …`);
const readyBy = Date.now() + READY_TIMEOUT_MS;
for (;;) {
  try {
    const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (response.status < 500 || response.status === 503) break;
  } catch {
    // not up yet
  }
  if (Date.now() > readyBy) {
    term.line(`the Worker did not answer ${base}/healthz within ${READY_TIMEOUT_MS / 1000} s:`);
    term.block([wranglerOutput.join("").slice(-3000)]);
    await shutdown(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}
/** Seconds since `npm start` began (the process), for the "loop within a minute" promise. */
const since = () => `${process.uptime().toFixed(1)} s`;

term.block([
  "",
  `  dashboard:   ${base}/`,
  `  admin token: ${adminToken}`,
  `  API:         curl -H 'Authorization: Bearer ${adminToken}' ${base}/incidents`,
  `  keys:        ${mode === "approve" ? "a approve · s skip · " : ""}q quit (Ctrl-C works too)`,
  "",
]);
term.line(
  `Worker ready (${scenario.cluster}, ${scenario.tier}, limit ${scenario.connectionLimit}); apps: ${scenario.apps.map((a) => `${a.name} ${mongo.openCount(a.name)}`).join(", ")}`,
);

// ---------------------------------------------------------------------------------------------
// The loop around the Worker: the alert engine, the cron it would run, Slack, the incident

const percentNow = () => (100 * mongo.openCount()) / scenario.connectionLimit;
const engine = startAlertEngine({
  rule: ALERT_RULE,
  url: `${base}/webhooks/atlas`,
  secret: webhookSecret,
  groupId: scenario.groupId,
  cluster: scenario.cluster,
  hostnameAndPort: node.id,
  replicaSetName: node.replicaSetName ?? `${scenario.cluster.toLowerCase()}-shard-0`,
  percent: percentNow,
  report(event) {
    const name = event.kind === "open" ? "OPEN" : event.kind === "update" ? "alert.update" : "CLOSED";
    const answer = event.status === null ? `failed: ${event.error}` : `${event.status}`;
    term.line(
      `Atlas alert ${name} (signed) at ${event.percent}% → ${answer}${event.incident ? ` · incident ${event.incident}` : ""}`,
    );
  },
});
cleanups.push(() => engine.stop());

let scheduledWarned = false;
const scheduled = setInterval(async () => {
  try {
    const response = await fetch(`${base}/__scheduled?cron=${encodeURIComponent("* * * * *")}`, {
      signal: AbortSignal.timeout(20_000),
    });
    await response.arrayBuffer();
    if (!response.ok && !scheduledWarned) {
      scheduledWarned = true;
      term.line(
        `cron watch: the scheduled handler answered ${response.status} (not in this Worker yet?); will keep trying quietly`,
      );
    }
  } catch (error) {
    if (!scheduledWarned) {
      scheduledWarned = true;
      term.line(`cron watch: ${(error as Error).message}; will keep trying quietly`);
    }
  }
}, SCHEDULED_EVERY_MS);
cleanups.push(() => clearInterval(scheduled));

const shown = new Map<string, number>();
const slackTimer = setInterval(() => {
  for (const message of slack.messages()) {
    const versions = message.versions.length;
    if (shown.get(message.ts) === versions) continue;
    shown.set(message.ts, versions);
    term.slack(message, versions);
  }
}, 400);
cleanups.push(() => clearInterval(slackTimer));

const states = new Map<string, string>();
const incidentTimer = setInterval(async () => {
  try {
    const response = await fetch(`${base}/incidents`, {
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) return;
    const body = (await response.json()) as { incidents: Array<{ id: string; state: string }> };
    for (const incident of body.incidents) {
      if (states.get(incident.id) === incident.state) continue;
      const before = states.get(incident.id);
      states.set(incident.id, incident.state);
      term.line(
        `incident ${incident.id}: ${before ? `${before} → ` : ""}${incident.state} (${since()} after npm start)`,
      );
    }
  } catch {
    // the Worker is busy or stopping; next tick
  }
}, 1_000);
cleanups.push(() => clearInterval(incidentTimer));

// The leak: instances of the leaking app start one after another, as traffic grows.
void (async () => {
  for (const app of scenario.apps) {
    if (!app.leak) continue;
    term.line(
      `${app.name}: starts leaking — ${app.leak.instances} instances will open ${app.leak.connectionsEach} connections each`,
    );
    for (let i = 0; i < app.leak.instances && !stopping && !redeployed; i++) {
      await new Promise((resolve) => setTimeout(resolve, i === 0 ? 1_000 : LEAK_STEP_MS));
      if (stopping || redeployed) break;
      try {
        await startInstance(app, app.leak.connectionsEach, "clients");
      } catch (error) {
        term.line(`${app.name}: an instance did not start: ${(error as Error).message}`);
        continue;
      }
      term.line(
        `${app.name}: ${mongo.openCount(app.name)} connections · cluster at ${percentNow().toFixed(0)}% of ${scenario.connectionLimit}`,
      );
    }
  }
})();

// ---------------------------------------------------------------------------------------------
// Keys: the same decision path as the Slack buttons (a signed block_actions POST to /slack/actions)

async function decide(decision: "approve" | "skip"): Promise<void> {
  const suffix = `.${decision}`;
  const candidates = slack
    .messages()
    .map((message) => ({
      message,
      button: slack.visible(message.ts).buttons.find((b) => b.actionId.endsWith(suffix)),
    }))
    .filter((c) => c.button);
  const last = candidates.at(-1);
  if (!last?.button) {
    term.line(`nothing to ${decision}: no Slack message shows that button yet`);
    return;
  }
  term.line(`you pressed ${decision === "approve" ? "Approve" : "Skip"} in Slack (as ${SLACK_USER.name})`);
  try {
    const response = await slack.click(`${base}/slack/actions`, {
      ts: last.message.ts,
      actionId: last.button.actionId,
      user: SLACK_USER,
    });
    await response.arrayBuffer();
    term.line(`/slack/actions answered ${response.status}`);
  } catch (error) {
    term.line(`/slack/actions failed: ${(error as Error).message}`);
  }
}

const restoreKeys = listenForKeys((key) => {
  if (key === "\u0003" || key === "q") void shutdown(0);
  else if (key === "a" && mode === "approve") void decide("approve");
  else if (key === "s" && mode === "approve") void decide("skip");
});
cleanups.push(restoreKeys);
