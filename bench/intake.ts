/**
 * Row 1, intake: signed, distinct connection alerts spread over 20 projects, against `/healthz` as
 * the baseline measured in the same run — maximum throughput at 50 connections, then p50/p99 at a
 * fixed 100 requests/s. Twice: with the full alarm work (approve mode: Admin API, the driver and
 * Slack behind every incident), and with the alarms held back (notify mode with no Atlas
 * credentials, no connection string and no Slack: each alarm still runs, but does no outbound work),
 * to show how much the alarms' work competes with intake on 2 cores.
 */
import { type LoadResult, load } from "./load.ts";
import type { Part } from "./part.ts";
import { row } from "./results.ts";
import { stubWorker } from "./stub.ts";
import { checkoutTree, connectionAlert, hexId, startWorld, type World } from "./world.ts";

const PROJECTS = Array.from({ length: 20 }, (_, i) => hexId("b1a5", i + 1));
const CLUSTER = "Cluster0";
const SECONDS = 6;

function fullVars(world: Parameters<Parameters<typeof startWorld>[0]["vars"]>[0]): Record<string, string> {
  for (const groupId of PROJECTS) world.atlas.addCluster(groupId, { name: CLUSTER, tier: "M0" });
  const target = world.platforms.target("vercel", "bench-web", { clusters: [CLUSTER] });
  return {
    RESPONDER_MODE: "approve",
    ATLAS_API_BASE_URL: world.atlas.baseUrl,
    ATLAS_CLIENT_ID: world.atlas.credentials.serviceAccount.clientId,
    ATLAS_CLIENT_SECRET: world.atlas.credentials.serviceAccount.clientSecret,
    BENCH_URI: world.mongo.uri(),
    CLUSTERS: JSON.stringify(
      PROJECTS.map((groupId) => ({ groupId, name: CLUSTER, tier: "M0", uriSecret: "BENCH_URI" })),
    ),
    TARGETS: JSON.stringify([target.target]),
    ...target.secrets,
    SLACK_API_BASE_URL: world.slack.apiBaseUrl,
    SLACK_BOT_TOKEN: world.slack.token,
    SLACK_CHANNEL: world.slack.channel("incidents").id,
    SLACK_SIGNING_SECRET: world.slack.signingSecret,
  };
}

function heldBackVars(): Record<string, string> {
  return { RESPONDER_MODE: "notify" };
}

/** Distinct alerts, round-robin over the projects. */
function alerts(prefix: string) {
  let n = 0;
  return () => {
    n += 1;
    const groupId = PROJECTS[n % PROJECTS.length]!;
    return {
      body: connectionAlert({ id: hexId(prefix, n), groupId, cluster: CLUSTER, percent: 85 }),
      event: "alert.open",
    };
  };
}

async function measure(world: World, prefix: string) {
  const webhook = (p: string) => ({ kind: "webhook" as const, secret: world.webhookSecret, next: alerts(p) });
  const healthz = { kind: "get" as const, path: "/healthz" };
  // Warm up: the isolate, the ledgers (first delivery per project opens its incident), the JIT.
  await load(healthz, { base: world.base, connections: 10, duration: 2 });
  await load(webhook(`${prefix}0`), { base: world.base, connections: 10, duration: 2 });
  const maxHealthz = await load(healthz, { base: world.base, connections: 50, duration: SECONDS });
  const maxIntake = await load(webhook(`${prefix}1`), {
    base: world.base,
    connections: 50,
    duration: SECONDS,
  });
  const rateHealthz = await load(healthz, {
    base: world.base,
    connections: 10,
    duration: SECONDS,
    rate: 100,
  });
  const rateIntake = await load(webhook(`${prefix}2`), {
    base: world.base,
    connections: 10,
    duration: SECONDS,
    rate: 100,
  });
  return { maxHealthz, maxIntake, rateHealthz, rateIntake };
}

function describe(r: LoadResult): string {
  return `${r.throughput.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.ok}/${r.sent} 2xx${r.errors ? `, ${r.errors} errors` : ""}`;
}

type Measured = Awaited<ReturnType<typeof measure>>;

async function measureWorld(
  vars: Parameters<typeof startWorld>[0]["vars"],
  prefix: string,
  tree: string | undefined,
  wranglerToml?: string,
): Promise<Measured> {
  const world = await startWorld({
    vars,
    ...(tree ? { tree } : {}),
    ...(wranglerToml ? { wranglerToml } : {}),
  });
  try {
    const measured = await measure(world, prefix);
    const errors = new Set(world.errors().map((l) => l.replace(/"alertId":"[^"]*",?/, "")));
    for (const line of [...errors].slice(0, 3))
      process.stderr.write(`  the Worker logged ${line.slice(0, 400)}\n`);
    return measured;
  } finally {
    await world.close();
  }
}

function rows(m: Measured, suffix: string, withHealthz: boolean) {
  const failures = m.maxIntake.non2xx + m.maxIntake.errors + m.rateIntake.non2xx + m.rateIntake.errors;
  return [
    ...(withHealthz
      ? [
          row({
            name: `healthz throughput @50 conns${suffix}`,
            value: m.maxHealthz.throughput,
            unit: "req/s",
          }),
        ]
      : []),
    row({
      name: `intake throughput @50 conns${suffix}`,
      value: m.maxIntake.throughput,
      unit: "req/s",
      baseline: m.maxHealthz.throughput,
      goal: { min: 0.6 },
    }),
    row({
      name: `intake p50 @100 req/s${suffix}`,
      value: m.rateIntake.p50,
      unit: "ms",
      baseline: m.rateHealthz.p50,
      goal: { max: 2 },
    }),
    row({
      name: `intake p99 @100 req/s${suffix}`,
      value: m.rateIntake.p99,
      unit: "ms",
      baseline: m.rateHealthz.p99,
      goal: { max: 1.5 },
    }),
    row({ name: `intake non-2xx answers${suffix}`, value: failures, unit: "count", goal: { max: 0 } }),
  ];
}

export const intake: Part = {
  name: "intake",
  async run({ say, before }) {
    const out = [];
    const report = (label: string, m: Measured) => {
      for (const [k, v] of Object.entries(m)) say(`  ${label} ${k}: ${describe(v)}`);
    };
    say("intake: full alarm work (approve mode, Admin API, driver, Slack)");
    const full = await measureWorld(fullVars, "a1", undefined);
    report("full", full);
    out.push(...rows(full, "", true));

    say("intake: alarms held back (notify mode, no outbound work)");
    const held = await measureWorld(heldBackVars, "b1", undefined);
    report("held back", held);
    out.push(...rows(held, ", alarms held back", false));

    say("intake: the ceiling, a stub Worker (signature, one Durable Object per project, one INSERT)");
    const stub = stubWorker();
    try {
      const ceiling = await measureWorld(() => ({}), "e1", undefined, stub.toml);
      report("stub", ceiling);
      out.push(...rows(ceiling, " [stub ceiling]", false));
    } finally {
      stub.remove();
    }

    if (before) {
      const tree = checkoutTree(before);
      try {
        say(`intake: the Worker as it was at ${before}, full alarm work`);
        const then = await measureWorld(fullVars, "c1", tree.dir);
        report(`before ${before}`, then);
        out.push(...rows(then, ` [before: ${before}]`, false));
        say(`intake: the Worker as it was at ${before}, alarms held back`);
        const thenHeld = await measureWorld(heldBackVars, "d1", tree.dir);
        report(`before ${before} held back`, thenHeld);
        out.push(...rows(thenHeld, `, alarms held back [before: ${before}]`, false));
      } finally {
        tree.remove();
      }
    }
    return out;
  },
};
