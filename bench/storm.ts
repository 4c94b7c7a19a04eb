/**
 * Row 2, the storm: 1,000 deliveries of one alert at 200 concurrency, then 200 distinct alerts for
 * the same cluster, in `auto` mode with the Admin API, Slack and a deploy hook (all fakes answering at
 * once). Every answer must be 2xx, and the storm must make exactly one incident, one redeploy call and
 * one chat.postMessage; chat.update calls are counted. Drain time is the time the 1,200 deliveries take
 * to be answered; the storm's throughput is compared with /healthz at the same concurrency, measured
 * in the same run. Also: how many Admin API requests the project gets (Atlas allows 100 a minute).
 */
import { load } from "./load.ts";
import type { Part } from "./part.ts";
import { row } from "./results.ts";
import {
  type BenchCluster,
  checkoutTree,
  connectionAlert,
  hexId,
  responderVars,
  startWorld,
  until,
} from "./world.ts";

const CLUSTER: BenchCluster = { groupId: hexId("5707", 1), name: "StormCluster", target: "storm-web" };

export const storm: Part = {
  name: "storm",
  async run({ say, before }) {
    const now = await stormRun(say, undefined, "");
    if (!before) return now;
    const tree = checkoutTree(before);
    try {
      say(`storm: the Worker as it was at ${before}`);
      return [...now, ...(await stormRun(say, tree.dir, ` [before: ${before}]`))];
    } finally {
      tree.remove();
    }
  },
};

async function stormRun(say: (line: string) => void, tree: string | undefined, suffix: string) {
  const world = await startWorld({
    ...(tree ? { tree } : {}),
    vars: (fakes) => {
      // M0, 500 connections, 450 open: 90 %, over POLICY.actAtPercent.
      fakes.atlas.setConnectionsNow(() => 450);
      return responderVars(fakes, { mode: "auto", clusters: [CLUSTER] });
    },
  });
  try {
    await load({ kind: "get", path: "/healthz" }, { base: world.base, connections: 50, duration: 2 });
    const baseline = await load(
      { kind: "get", path: "/healthz" },
      { base: world.base, connections: 200, amount: 1200 },
    );
    say(`storm: /healthz at 200 connections: ${baseline.throughput.toFixed(0)} req/s`);

    const started = Date.now();
    const one = connectionAlert({
      id: hexId("a1e7", 1),
      groupId: CLUSTER.groupId,
      cluster: CLUSTER.name,
      percent: 90,
      host: CLUSTER.host,
    });
    const same = await load(
      { kind: "webhook", secret: world.webhookSecret, next: () => ({ body: one, event: "alert.open" }) },
      { base: world.base, connections: 200, amount: 1000 },
    );
    let n = 1;
    const distinct = await load(
      {
        kind: "webhook",
        secret: world.webhookSecret,
        next: () => {
          n += 1;
          return {
            body: connectionAlert({
              id: hexId("a1e7", n),
              groupId: CLUSTER.groupId,
              cluster: CLUSTER.name,
              percent: 90,
              host: CLUSTER.host,
            }),
            event: "alert.open",
          };
        },
      },
      { base: world.base, connections: 200, amount: 200 },
    );
    const drainMs = Date.now() - started;
    for (const line of new Set(world.errors().map((l) => l.replace(/"alertId":"[^"]*",?/, "")))) {
      say(`storm: the Worker logged ${line.slice(0, 400)}`);
    }
    const answered = same.ok + distinct.ok;
    const bad = same.non2xx + same.errors + distinct.non2xx + distinct.errors + (1200 - answered);
    const throughput = answered / (same.seconds + distinct.seconds || drainMs / 1000);
    say(
      `storm: 1,000 same: ${same.throughput.toFixed(0)} req/s ${JSON.stringify(same.statuses)}; 200 distinct: ${distinct.throughput.toFixed(0)} req/s ${JSON.stringify(distinct.statuses)}`,
    );

    // The responder's own work: the run, the redeploy, then Slack catching up with the joins.
    await until(
      "the redeploy call",
      () => (world.platforms.calls({ target: CLUSTER.target }).some((c) => c.accepted) ? true : null),
      60_000,
    );
    let last = -1;
    let stableSince = Date.now();
    await until(
      "Slack to go quiet",
      () => {
        const count = world.slack.calls().length;
        if (count !== last) {
          last = count;
          stableSince = Date.now();
        }
        return Date.now() - stableSince > 3_000 ? true : null;
      },
      90_000,
    );
    const settledMs = Date.now() - started - 3_000;
    const incidents = (
      await world.admin<{ incidents: Array<{ id: string; state: string }> }>("/incidents?limit=50")
    ).incidents;
    const redeploys = world.platforms
      .calls({ target: CLUSTER.target })
      .filter((c) => c.action === "redeploy").length;
    const posts = world.slack.calls({ method: "chat.postMessage" }).length;
    const updates = world.slack.calls({ method: "chat.update" }).length;
    const adminApi = world.atlas.requests({ groupId: CLUSTER.groupId }).length;
    say(
      `storm: ${incidents.length} incident(s) ${incidents.map((i) => i.state).join(",")}, ${redeploys} redeploy, ${posts} post, ${updates} update, ${adminApi} Admin API requests; settled after ${(settledMs / 1000).toFixed(1)} s`,
    );
    return [
      row({
        name: `storm non-2xx answers (of 1,200)${suffix}`,
        value: bad,
        unit: "count",
        goal: { max: 0 },
      }),
      row({ name: `storm incidents${suffix}`, value: incidents.length, unit: "count", goal: { max: 1 } }),
      row({ name: `storm redeploy calls${suffix}`, value: redeploys, unit: "count", goal: { max: 1 } }),
      row({ name: `storm chat.postMessage${suffix}`, value: posts, unit: "count", goal: { max: 1 } }),
      row({ name: `storm chat.update${suffix}`, value: updates, unit: "count" }),
      row({ name: `storm drain time (1,200 deliveries)${suffix}`, value: drainMs, unit: "ms" }),
      row({
        name: `storm throughput @200 conns${suffix}`,
        value: throughput,
        unit: "req/s",
        baseline: baseline.throughput,
        goal: { min: 0.5 },
      }),
      row({ name: `storm settled (redeploy + Slack quiet)${suffix}`, value: settledMs, unit: "ms" }),
      row({
        name: `storm Admin API requests (project)${suffix}`,
        value: adminApi,
        unit: "req",
        goal: { max: 100 },
        onRatio: false,
      }),
    ];
  } finally {
    await world.close();
  }
}
