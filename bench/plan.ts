/**
 * Row 6, plan fit: CPU time and subrequests per request and per alarm run, against Cloudflare's
 * limits (Free: 10 ms CPU and 50 subrequests per invocation; Paid: 30 s CPU by default, up to
 * 5 min, and 10,000 subrequests).
 *
 * workerd under `wrangler dev` enforces no CPU limit and reports none, and timing the handler with
 * `performance.now()` would be wall-clock. What is measured instead is the CPU time of the workerd
 * process's own threads (its isolate thread among them; V8's background helpers left out), read from
 * the kernel (/proc/…/schedstat, nanoseconds) around each invocation. That is an upper bound of
 * Cloudflare's CPU time: it also holds what the runtime itself does on that thread (HTTP parsing,
 * SQLite, socket I/O). Each run sends one alert for a fresh project in `auto` mode: the request is
 * from the delivery to its 202 (the alarm starts as the ledger answers, so its first instant may land
 * there), the alarm run from the 202 until the redeploy is sent and Slack posted (gather, plan, act,
 * Slack). Half the runs read the cluster through the driver with SCRAM-SHA-256 (15,000 PBKDF2
 * iterations, mongod's default, which the fake server really checks), half with no credentials:
 * the difference is SCRAM's share. Subrequests are what the fakes received in each run: Admin API
 * and token requests, Slack calls, deploy-hook calls; the driver's TCP sockets are counted apart.
 */
import { type LeakyApp, spawnLeakyApp } from "../fakes/leaky-app-process.ts";
import { type FakeMongo, startFakeMongo } from "../fakes/mongo-server.ts";
import { RESPONDER_APP_NAME } from "../src/constants.ts";
import type { Part } from "./part.ts";
import { median, row } from "./results.ts";
import {
  type BenchCluster,
  connectionAlert,
  hexId,
  responderVars,
  startWorld,
  until,
  workerdThreadCpuNs,
} from "./world.ts";

const RUNS = 6;
const USER = { user: "responder-monitor", password: "bench-monitor-password" };
const FREE = { cpuMs: 10, subrequests: 50 };

const cluster = (prefix: string, i: number, uriSecret: string): BenchCluster => ({
  groupId: hexId(prefix, i + 1),
  name: `Fit${prefix}${i + 1}`,
  target: `fit-${prefix}-${i + 1}`,
  uriSecret,
});
// One warm-up run first, then SCRAM and no-auth runs alternating.
const scram = Array.from({ length: RUNS + 1 }, (_, i) => cluster("a", i, "BENCH_SCRAM_URI"));
const plain = Array.from({ length: RUNS }, (_, i) => cluster("b", i, "BENCH_PLAIN_URI"));
// No connection string at all: the Admin API and the alert value only (what Free can afford).
const apiOnly = Array.from({ length: RUNS }, (_, i) => ({ ...cluster("c", i, ""), uriSecret: undefined }));

export const plan: Part = {
  name: "plan",
  async run({ say }) {
    const leaks: LeakyApp[] = [];
    let open: FakeMongo | null = null;
    // A second fake M0 without authentication, for the runs without SCRAM.
    open = await startFakeMongo({ tier: "M0", connectionLimit: 50 });
    const plainMongo = open;
    const live = await startWorld({
      mongo: { tier: "M0", connectionLimit: 50, users: { [USER.user]: USER.password, app: "app-password" } },
      vars: (fakes) =>
        responderVars(fakes, {
          mode: "auto",
          clusters: [...scram, ...plain, ...apiOnly],
          uris: { BENCH_SCRAM_URI: fakes.mongo.uri(USER), BENCH_PLAIN_URI: plainMongo.uri() },
          policy: { maxActionsPerHour: 100 },
        }),
    });
    try {
      leaks.push(
        await spawnLeakyApp({
          uri: live.mongo.uri({ user: "app", password: "app-password" }),
          app: "bench-leak",
          connections: 44,
          readyTimeoutMs: 30_000,
        }),
        await spawnLeakyApp({
          uri: plainMongo.uri(),
          app: "bench-leak",
          connections: 44,
          readyTimeoutMs: 30_000,
        }),
      );
      let pid = live.workerdPid();
      /** The workerd threads' CPU ms, tagged with the pid: wrangler may restart its workerd. */
      const cpu = (): { pid: number; ms: number } => {
        try {
          if (pid !== null) return { pid, ms: workerdThreadCpuNs(pid) / 1e6 };
        } catch {
          // gone: find it again
        }
        pid = live.workerdPid();
        if (pid === null) throw new Error("the Worker's workerd process was not found");
        return { pid, ms: workerdThreadCpuNs(pid) / 1e6 };
      };
      const span = (a: { pid: number; ms: number }, b: { pid: number; ms: number }) =>
        a.pid === b.pid ? b.ms - a.ms : null;
      const timed = async (body: unknown) => {
        const { raw, headers } = await live.signed(body);
        const t0 = cpu();
        const response = await fetch(`${live.base}/webhooks/atlas`, { method: "POST", headers, body: raw });
        await response.arrayBuffer();
        const t1 = cpu();
        if (response.status !== 202) throw new Error(`the webhook answered ${response.status}`);
        return { t0, t1 };
      };
      const result = {
        first: [] as number[],
        request: [] as number[],
        scram: [] as number[],
        plain: [] as number[],
        api: [] as number[],
        fetches: [] as number[],
        sockets: [] as number[],
      };
      const order = [scram[0]!, ...plain.flatMap((p, i) => [scram[i + 1]!, p, apiOnly[i]!])];
      const kind = (c: BenchCluster) =>
        c.uriSecret === "BENCH_PLAIN_URI" ? "plain" : c.uriSecret ? "scram" : "api";
      for (const [i, c] of order.entries()) {
        const mongo = c.uriSecret === "BENCH_PLAIN_URI" ? plainMongo : live.mongo;
        const before = {
          fetches: live.atlas.requests().length + live.slack.calls().length + live.platforms.calls().length,
          sockets: mongo.stats().totalCreated,
        };
        const postsBefore = live.slack.calls({ method: "chat.postMessage" }).length;
        const alert = connectionAlert({
          id: hexId("f17", i + 1),
          groupId: c.groupId,
          cluster: c.name,
          percent: 88,
          host: c.host,
        });
        const { t0, t1 } = await timed(alert);
        await until(
          "the redeploy call",
          () => live.platforms.calls({ target: c.target }).find((x) => x.accepted) ?? null,
          30_000,
        );
        await until(
          "the Slack post",
          () => live.slack.calls({ method: "chat.postMessage" })[postsBefore] ?? null,
          30_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const t2 = cpu();
        const fetches =
          live.atlas.requests().length +
          live.slack.calls().length +
          live.platforms.calls().length -
          before.fetches;
        const sockets = mongo.stats().totalCreated - before.sockets;
        // Steady-state intake: more alerts joining the incident (its ledger exists), one at a time.
        for (let k = 0; k < 3; k++) {
          const join = await timed(
            connectionAlert({
              id: hexId(`f18${k}`, i + 1),
              groupId: c.groupId,
              cluster: c.name,
              percent: 89,
              host: c.host,
            }),
          );
          await new Promise((resolve) => setTimeout(resolve, 150));
          const ms = span(join.t0, join.t1);
          if (i > 0 && ms !== null) result.request.push(ms);
        }
        if (i === 0) continue; // warm-up: the isolate's first run compiles the driver
        const first = span(t0, t1);
        const run = span(t1, t2);
        if (first !== null) result.first.push(first);
        if (run !== null) result[kind(c)].push(run);
        result.fetches.push(fetches);
        result.sockets.push(sockets);
      }
      const authenticated = live.mongo
        .commandsSeen()
        .filter((x) => x.appName === RESPONDER_APP_NAME && x.name === "saslContinue").length;
      const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(" ");
      say(
        `plan fit: workerd thread CPU per first delivery of a project ${f(result.first)} ms; per joining delivery ${f(result.request)} ms`,
      );
      say(
        `plan fit: per alarm run with SCRAM ${f(result.scram)} ms; driver without auth ${f(result.plain)} ms; Admin API only ${f(result.api)} ms; saslContinue commands seen: ${authenticated}`,
      );
      say(
        `plan fit: fetch subrequests per run ${result.fetches.join(" ")}; driver sockets ${result.sockets.join(" ")}`,
      );
      return [
        row({
          name: "plan CPU per intake request (workerd threads, median)",
          value: median(result.request),
          unit: "ms",
          goal: { max: FREE.cpuMs },
        }),
        row({
          name: "plan CPU per first delivery of a project (new ledger)",
          value: median(result.first),
          unit: "ms",
          goal: { max: FREE.cpuMs },
        }),
        row({
          name: "plan CPU per alarm run, driver + SCRAM (median)",
          value: median(result.scram),
          unit: "ms",
          goal: { max: FREE.cpuMs },
        }),
        row({
          name: "plan CPU per alarm run, driver without auth (median)",
          value: median(result.plain),
          unit: "ms",
          goal: { max: FREE.cpuMs },
        }),
        row({
          name: "plan CPU per alarm run, Admin API + alert only (median)",
          value: median(result.api),
          unit: "ms",
          goal: { max: FREE.cpuMs },
        }),
        row({
          name: "plan subrequests per intake request (DO calls)",
          value: 1,
          unit: "req",
          goal: { max: FREE.subrequests },
        }),
        row({
          name: "plan fetch subrequests per alarm run (median)",
          value: median(result.fetches),
          unit: "req",
          goal: { max: FREE.subrequests },
        }),
        row({
          name: "plan driver sockets per alarm run (median)",
          value: median(result.sockets),
          unit: "sockets",
        }),
      ];
    } finally {
      await Promise.all(leaks.map((l) => l.kill()));
      await live.close();
      await open?.close();
    }
  },
};
