/**
 * Rows 3 and 4, reaction and frugality, in one world: `auto` mode, fakes that answer at once, and
 * 20 runs, each on its own project, cluster and deploy target, so that no cooldown or cap of an
 * earlier run can interfere (POLICY.maxActionsPerHour is raised to 100 for the 20 runs; every other
 * POLICY field keeps its default). Each run sends one signed OPEN alert and times, from just before
 * the delivery, the first Slack request and the redeploy call as the fakes record them. The whole
 * loop is the product's: the 202, the ledger's alarm, the stats read (Admin API, and the driver
 * over the wire protocol with SCRAM-SHA-256 against a fake M0 at 88 %), the plan, the deploy hook,
 * the Slack post.
 *
 * Frugality: the responder's own sockets to the fake MongoDB (counted by the server by appName)
 * during the runs and after them, and the outbound requests of each incident by service.
 */

import { type LeakyApp, spawnLeakyApp } from "../fakes/leaky-app-process.ts";
import { RESPONDER_APP_NAME } from "../src/constants.ts";
import type { Part } from "./part.ts";
import { median, row } from "./results.ts";
import { type BenchCluster, connectionAlert, hexId, responderVars, startWorld, until } from "./world.ts";

const RUNS = 20;
const LIMIT = 50;
const LEAK = 44;
const USER = { user: "responder-monitor", password: "bench-monitor-password" };

const clusters: BenchCluster[] = Array.from({ length: RUNS }, (_, i) => ({
  groupId: hexId("7eac", i + 1),
  name: `React${i + 1}`,
  target: `react-web-${i + 1}`,
}));

export const reaction: Part = {
  name: "reaction",
  async run({ say }) {
    let leak: LeakyApp | null = null;
    const world = await startWorld({
      mongo: {
        tier: "M0",
        connectionLimit: LIMIT,
        users: { [USER.user]: USER.password, app: "app-password" },
      },
      vars: (fakes) =>
        responderVars(fakes, {
          mode: "auto",
          clusters,
          uri: fakes.mongo.uri(USER),
          policy: { maxActionsPerHour: 100 },
        }),
    });
    try {
      // The leak: 44 of 50 connections (88 %), held by an app the redeploys do not touch.
      leak = await spawnLeakyApp({
        uri: world.mongo.uri({ user: "app", password: "app-password" }),
        app: "bench-leak",
        connections: LEAK,
        readyTimeoutMs: 30_000,
      });
      world.mongo.resetMaxOpenCounts();
      const toSlack: number[] = [];
      const toRedeploy: number[] = [];
      const perIncident = { atlas: [] as number[], slack: [] as number[], platforms: [] as number[] };
      for (const cluster of clusters) {
        const postsBefore = world.slack.calls({ method: "chat.postMessage" }).length;
        const callsBefore = world.slack.calls().length;
        const t0 = Date.now();
        const answer = await world.deliver(
          connectionAlert({
            id: hexId("a1e7", clusters.indexOf(cluster) + 1),
            groupId: cluster.groupId,
            cluster: cluster.name,
            percent: 88,
            host: cluster.host,
          }),
        );
        if (answer.status !== 202) throw new Error(`the webhook answered ${answer.status}`);
        const redeploy = await until(
          "the redeploy call",
          () => world.platforms.calls({ target: cluster.target }).find((c) => c.accepted) ?? null,
          30_000,
        );
        const post = await until(
          "the Slack post",
          () => world.slack.calls({ method: "chat.postMessage" })[postsBefore] ?? null,
          30_000,
        );
        toRedeploy.push(redeploy.at - t0);
        toSlack.push(post.at - t0);
        // Let the run finish (Slack catching up) before counting what it sent.
        await new Promise((resolve) => setTimeout(resolve, 400));
        perIncident.atlas.push(world.atlas.requests({ groupId: cluster.groupId }).length);
        perIncident.slack.push(world.slack.calls().length - callsBefore);
        perIncident.platforms.push(world.platforms.calls({ target: cluster.target }).length);
      }
      const during = world.mongo.maxOpenCountBy(RESPONDER_APP_NAME);
      const after = await until(
        "the responder's sockets to close",
        () => (world.mongo.openCount(RESPONDER_APP_NAME) === 0 ? 0 : null),
        10_000,
      ).catch(() => world.mongo.openCount(RESPONDER_APP_NAME));
      const tokens = world.atlas.requests().filter((r) => r.groupId === undefined).length;
      say(`reaction: alert → Slack ${toSlack.join(" ")} ms`);
      say(`reaction: alert → redeploy ${toRedeploy.join(" ")} ms`);
      say(
        `frugality: responder sockets max ${during}, after ${after}; per incident Admin API ${perIncident.atlas.join(" ")}, Slack ${perIncident.slack.join(" ")}, platforms ${perIncident.platforms.join(" ")}; token requests ${tokens}`,
      );
      return [
        row({
          name: "reaction alert -> first Slack request (median of 20)",
          value: median(toSlack),
          unit: "ms",
          goal: { max: 500 },
        }),
        row({
          name: "reaction alert -> redeploy call (median of 20)",
          value: median(toRedeploy),
          unit: "ms",
          goal: { max: 1000 },
        }),
        row({
          name: "frugality responder sockets to MongoDB during runs (max)",
          value: during,
          unit: "sockets",
          goal: { max: 2 },
        }),
        row({
          name: "frugality responder sockets to MongoDB after runs",
          value: after,
          unit: "sockets",
          goal: { max: 0 },
        }),
        row({
          name: "frugality Admin API requests per incident (median)",
          value: median(perIncident.atlas),
          unit: "req",
        }),
        row({ name: "frugality Admin API token requests (20 incidents)", value: tokens, unit: "req" }),
        row({
          name: "frugality Slack requests per incident (median)",
          value: median(perIncident.slack),
          unit: "req",
        }),
        row({
          name: "frugality platform requests per incident (median)",
          value: median(perIncident.platforms),
          unit: "req",
        }),
      ];
    } finally {
      await leak?.kill();
      await world.close();
    }
  },
};
