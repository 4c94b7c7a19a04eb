/**
 * The response pipeline end to end, inside workerd: real webhook intake, the ledger's real alarm,
 * the real `mongodb` driver against the fake wire-protocol server, the Admin API client against the
 * fake Atlas, and the redeploy adapters against the fake platforms. A "redeploy" kills the leaky
 * app process, exactly what a real redeploy does to a leak; verification then sees the count drop.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { alertWith } from "../fixtures/atlas-alerts.ts";
import { TEST_SECRETS } from "./bindings.ts";
import { E2E } from "./e2e-plan.ts";
import {
  alertFor,
  atlas,
  atlasRequests,
  incident,
  mongoControl,
  platforms,
  settled,
  steps,
  waitFor,
} from "./e2e-support.ts";
import { admin, captureLogs, deliver, json } from "./support.ts";

const m0Fake = () => inject("e2eMongo").m0.id;

// Every alert writes webhook.recorded. Scenarios that post to the shared Slack channel within the
// same second meet the fake's per-channel rate limit (as with Slack's own), and the Worker logs
// slack.failed before it retries: read here, and held to that one error, instead of printed.
const logs = captureLogs(["webhook.recorded", "slack.failed"]);

// After every scenario: no hook URL, token or key in any incident, journal or log line.
afterEach(async () => {
  for (const line of logs.of("slack.failed")) {
    expect(line).toMatchObject({ level: "warn", error: "ratelimited" });
  }
  const secrets = [
    ...Object.values(TEST_SECRETS),
    inject("atlasCredentials").serviceAccount.clientSecret,
    inject("slack").token,
    inject("slack").signingSecret,
    ...inject("e2eTargets").flatMap((t) => Object.values(t.secrets)),
  ];
  const list = await json<{ incidents: Array<{ id: string }> }>(await admin("/incidents?limit=200"));
  const slackMessages = await (await fetch(`${inject("slack").baseUrl}/__control/messages`)).text();
  const texts = [JSON.stringify(list), slackMessages, ...logs.written()];
  for (const { id } of list.incidents) {
    const detail = await incident(id);
    expect(detail.journal.length).toBeGreaterThan(0);
    texts.push(JSON.stringify(detail));
  }
  for (const secret of secrets) for (const text of texts) expect(text).not.toContain(secret);
});

describe("M0 at 86 %", () => {
  beforeAll(async () => {
    await atlas.project(E2E.m0.groupId, [{ name: E2E.m0.cluster, tier: "M0" }]);
  });

  it("redeploys the first owning target once, sees the count drop, and resolves", async () => {
    const { pid } = await mongoControl.spawn(m0Fake(), "shop-web", 42);
    await platforms.killOnRedeploy("m0-web", pid);

    const first = await alertFor(E2E.m0.groupId, E2E.m0.cluster, 86);
    const id = first.incident;
    const done = await waitFor(id, settled);

    expect(done.state).toBe("resolved");
    expect(await platforms.calls("m0-web")).toHaveLength(1);
    expect(await platforms.calls("m0-worker")).toHaveLength(0);
    expect((await mongoControl.stats(m0Fake())).openByApp["shop-web"] ?? 0).toBe(0);

    const journal = steps(done);
    for (const expected of [
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:started",
      "verify:recovered",
      "incident:resolved",
    ]) {
      expect(journal).toContain(expected);
    }
    expect(journal.indexOf("plan:redeploy")).toBeLessThan(journal.indexOf("action:sending"));
    expect(journal).not.toContain("action:killop"); // M0 cannot list operations
    expect(journal.indexOf("action:started")).toBeLessThan(journal.indexOf("verify:recovered"));
    const plan = done.journal.find((j) => j.step === "plan")!;
    expect(plan.detail).toMatchObject({ target: "m0-web", kind: "vercel" });
    const stats = done.journal.find((j) => j.step === "stats")!;
    expect(stats.detail).toMatchObject({ tier: "M0", limit: 50, byApp: [] });
    const resolved = done.journal.find((j) => j.status === "resolved")!.detail as {
      before: { percent: number };
      after: { percent: number };
    };
    expect(resolved.before.percent).toBeGreaterThanOrEqual(80);
    expect(resolved.after.percent).toBeLessThan(80);

    // Atlas sees the drop and closes its alert: the incident closes after one last reading.
    await deliver(
      alertWith(first.alert, { status: "CLOSED", updated: new Date(Date.now() + 1000).toISOString() }),
      {
        event: "alert.close",
      },
    );
    const closed = await waitFor(id, (i) => steps(i).includes("stats:final"));
    expect(closed.state).toBe("closed");

    // The leak comes back at once: a new incident inside m0-web's cooldown fires nothing.
    // (One test, because storage is reset between tests and the cooldown lives in storage.)
    const again = await mongoControl.spawn(m0Fake(), "shop-web", 42);
    try {
      const second = await alertFor(E2E.m0.groupId, E2E.m0.cluster, 88);
      expect(second.incident).not.toBe(id);
      const blocked = await waitFor(second.incident, (i) => steps(i).includes("plan:blocked"));
      expect(blocked.journal.find((j) => j.step === "plan")!.detail).toMatchObject({
        target: "m0-web",
        reason: "cooldown",
      });
      expect(blocked.state).toBe("open");
      expect(await platforms.calls("m0-web")).toHaveLength(1);
      expect(await platforms.calls("m0-worker")).toHaveLength(0);
    } finally {
      await mongoControl.kill(again.pid);
    }
  }, 30_000);
});

describe("a manual run", () => {
  it("that finds the cluster healthy resolves and closes, since no Atlas alert will close it", async () => {
    await atlas.project(E2E.m0.groupId, [{ name: E2E.m0.cluster, tier: "M0" }]).catch(() => undefined);
    const response = await admin("/trigger", {
      method: "POST",
      body: JSON.stringify({ groupId: E2E.m0.groupId, cluster: E2E.m0.cluster, reason: "checking" }),
    });
    const { incident: id } = await json<{ incident: string }>(response);
    const done = await waitFor(id, (i) => i.state === "closed");
    expect(steps(done)).toEqual(
      expect.arrayContaining(["plan:below-threshold", "incident:resolved", "incident:closed"]),
    );
    expect(await platforms.calls("m0-worker")).toHaveLength(0);
  });
});

describe("M10 with two apps", () => {
  it("redeploys only the culprit's target", async () => {
    const fake = inject("e2eMongo").m10.id;
    await atlas.project(E2E.m10.groupId, [{ name: E2E.m10.cluster, tier: "M10" }]);
    const shop = await mongoControl.spawn(fake, "shop-web", 80, { VERCEL: "1", VERCEL_REGION: "iad1" });
    const admin = await mongoControl.spawn(fake, "admin", 4);
    try {
      await platforms.killOnRedeploy("m10-shop", shop.pid);
      const { incident: id } = await alertFor(E2E.m10.groupId, E2E.m10.cluster, 86, {
        metricName: "CONNECTIONS",
        currentValue: { number: 86, units: "RAW" },
      });
      const done = await waitFor(id, settled);
      expect(done.state).toBe("resolved");
      expect(await platforms.calls("m10-shop")).toHaveLength(1);
      expect(await platforms.calls("m10-admin")).toHaveLength(0);
      const stats = done.journal.find((j) => j.step === "stats")!.detail as {
        byApp: Array<{ app: string; env: string | null; connections: number }>;
      };
      expect(stats.byApp).toEqual([
        { app: "shop-web", env: "vercel", connections: 80 },
        { app: "admin", env: null, connections: 4 },
      ]);
      const advice = done.journal.find((j) => j.step === "advice")!.detail as {
        advice: Array<{ app: string; steps: string[] }>;
      };
      expect(advice.advice[0]!.app).toBe("shop-web");
      expect(advice.advice[0]!.steps.join(" ")).toContain("attachDatabasePool");
      // The M10 fix routine looks for its own user's long reads first (this URI has no user: none to end).
      expect(done.journal.find((j) => j.status === "killop")!.detail).toMatchObject({
        killed: [],
        skipped: "no-user",
      });
    } finally {
      await mongoControl.kill(admin.pid);
    }
  });
});

describe("a full cluster and an Admin API answering 500", () => {
  it("still redeploys on the alert's own value", async () => {
    const fake = inject("e2eMongo").full.id;
    await atlas.project(E2E.full.groupId, [{ name: E2E.full.cluster, tier: "M0" }]);
    await atlas.fail(E2E.full.groupId, 500);
    const { pid } = await mongoControl.spawn(fake, "shop-web", 4);
    try {
      await platforms.killOnRedeploy("full-web", pid);
      const { incident: id } = await alertFor(E2E.full.groupId, E2E.full.cluster, 97);
      const done = await waitFor(id, settled, 30_000);
      const stats = done.journal.find((j) => j.step === "stats")!.detail as {
        percent: number;
        sources: Array<{ name: string; ok: boolean }>;
      };
      expect(stats.percent).toBe(97);
      expect(stats.sources).toEqual([
        expect.objectContaining({ name: "mongodb", ok: false }),
        expect.objectContaining({ name: "atlas-admin", ok: false }),
        expect.objectContaining({ name: "alert", ok: true }),
      ]);
      expect(await platforms.calls("full-web")).toHaveLength(1);
      expect(steps(done)).toContain("action:started");
      expect((await mongoControl.stats(fake)).rejected).toBeGreaterThan(0);
    } finally {
      await atlas.clearFaults();
    }
  }, 40_000);
});

describe("modes", () => {
  let processes: Record<string, string[]>;
  beforeAll(async () => {
    processes = await atlas.project(E2E.modes.groupId, [
      { name: E2E.modes.notify, tier: "M0" },
      { name: E2E.modes.dry, tier: "M0" },
      { name: E2E.modes.approve, tier: "M0" },
    ]);
    // The Admin API reports 430 of 500 on every node: 86 %.
    await atlas.setConnections(
      Object.fromEntries(
        Object.values(processes)
          .flat()
          .map((p) => [p, 430]),
      ),
    );
  });

  it("notify plans and tells, and sends nothing to any platform", async () => {
    const { incident: id } = await alertFor(E2E.modes.groupId, E2E.modes.notify, 86);
    const done = await waitFor(id, (i) => steps(i).includes("action:notify-only"));
    expect(steps(done)).toContain("plan:redeploy");
    expect(await platforms.calls("notify-web")).toHaveLength(0);
  });

  it("dry-run journals the call it would make, with target and kind, and sends nothing", async () => {
    const response = await admin("/trigger", {
      method: "POST",
      body: JSON.stringify({
        groupId: E2E.modes.groupId,
        cluster: E2E.modes.dry,
        dryRun: true,
        reason: "rehearsal",
      }),
    });
    const { incident: id } = await json<{ incident: string }>(response);
    const done = await waitFor(id, (i) => steps(i).includes("action:dry-run"));
    const dry = done.journal.find((j) => j.status === "dry-run")!.detail;
    expect(dry).toMatchObject({ target: "dry-web", kind: "railway", method: "POST" });
    expect(JSON.stringify(dry)).not.toMatch(/token|Bearer/i);
    expect(await platforms.calls("dry-web")).toHaveLength(0);

    // The rehearsal does not stand in the way of the real thing: Atlas's alert opens its own incident.
    const real = await alertFor(E2E.modes.groupId, E2E.modes.dry, 86);
    expect(real.incident).not.toBe(id);
    expect((await incident(id)).journal.at(-1)).toMatchObject({ step: "incident", status: "closed" });
    await waitFor(real.incident, (i) => steps(i).includes("action:started"));
    expect((await platforms.calls("dry-web")).filter((c) => c.accepted)).toHaveLength(1);
  });

  it("names the cluster of an alert that carries only a host, through the Admin API's process list", async () => {
    const host = processes[E2E.modes.notify]![0]!;
    const { incident: id } = await alertFor(E2E.modes.groupId, "ignored", 86, {
      clusterName: undefined,
      replicaSetName: undefined,
      hostnameAndPort: host,
    });
    const done = await waitFor(id, (i) => steps(i).includes("action:notify-only"));
    expect(done.cluster.name).toBe(E2E.modes.notify);
    expect(done.journal.find((j) => j.status === "identified")!.detail).toMatchObject({
      cluster: E2E.modes.notify,
    });
    expect(await platforms.calls("notify-web")).toHaveLength(0);
  });

  it("keeps one incident per cluster when several nodes alert by host only", async () => {
    const [first, second] = processes[E2E.modes.notify]!;
    const a = await alertFor(E2E.modes.groupId, "x", 86, {
      clusterName: undefined,
      replicaSetName: undefined,
      hostnameAndPort: first,
    });
    const b = await alertFor(E2E.modes.groupId, "x", 87, {
      clusterName: undefined,
      replicaSetName: undefined,
      hostnameAndPort: second,
    });
    expect(b.incident).not.toBe(a.incident); // keyed on different hosts until named
    await waitFor(a.incident, (i) => i.cluster.name === E2E.modes.notify);
    await waitFor(b.incident, (i) => i.state === "closed");
    const live = await json<{ incidents: Array<{ id: string; cluster: { name: string } }> }>(
      await admin(`/incidents?cluster=${E2E.modes.notify}`),
    );
    const open = live.incidents.filter((i) => i.id !== b.incident);
    expect(open.map((i) => i.id)).toEqual([a.incident]);
    const merged = await incident(a.incident);
    expect(steps(merged)).toContain("intake:merged");
    const detail = await json<{ alerts: unknown[] }>(await admin(`/incidents/${a.incident}`));
    expect(detail.alerts).toHaveLength(2);
  });

  it("approve waits for a human, acts once on approval, and ignores a second click", async () => {
    const { incident: id } = await alertFor(E2E.modes.groupId, E2E.modes.approve, 86);
    await waitFor(id, (i) => i.state === "awaiting-approval");
    expect(await platforms.calls("approve-web")).toHaveLength(0);
    const ledger = env.LEDGER.getByName(E2E.modes.groupId);
    const click = { decision: "approve", by: "U0APPROVER", source: "slack" } as const;
    expect(await ledger.decide(id, click)).toEqual({ applied: true, state: "acting" });
    expect((await ledger.decide(id, click)).applied).toBe(false);
    const acted = await waitFor(id, (i) => steps(i).includes("action:started"));
    expect(acted.journal.find((j) => j.status === "approved")!.detail).toEqual({
      by: "U0APPROVER",
      source: "slack",
    });
    expect(await platforms.calls("approve-web")).toHaveLength(1);
  });
});

describe("durability around a deploy hook", () => {
  let processes: Record<string, string[]>;
  beforeAll(async () => {
    processes = await atlas.project(E2E.crash.groupId, [
      { name: E2E.crash.after, tier: "M0" },
      { name: E2E.crash.before, tier: "M0" },
    ]);
    await atlas.setConnections(
      Object.fromEntries(
        Object.values(processes)
          .flat()
          .map((p) => [p, 440]),
      ),
    );
  });

  it("a crash after the call was sent leaves it unknown and never repeats it", async () => {
    const { runInDurableObject } = await import("cloudflare:test");
    await platforms.failNext("vercel", "timeout", "crash-after");
    const { incident: id, alert } = await alertFor(E2E.crash.groupId, E2E.crash.after, 88);
    await waitFor(id, (i) => steps(i).includes("action:sending"));
    // The call is in flight (the fake never answers): the ledger crashes now, losing the call's answer.
    // workerd prints "uncaught exception … broken.outputGateBroken; jsg.Error: simulated crash" for the
    // work the abort cuts off (and may note the overdue alarm that resumes it): that is the crash this
    // test is about, and the journal below shows the ledger picked up after it.
    await runInDurableObject(env.LEDGER.getByName(E2E.crash.groupId), (_instance, state) => {
      state.abort("simulated crash");
    }).catch(() => undefined);
    // Atlas re-notifies; the ledger wakes up and resumes from its journal.
    await deliver(alertWith(alert, { updated: new Date(Date.now() + 1000).toISOString() }), {
      event: "alert.update",
    });
    const done = await waitFor(id, (i) => i.state === "escalated", 30_000);
    expect(done.journal.find((j) => j.status === "unknown")!.detail).toMatchObject({
      target: "crash-after",
      detail: expect.stringContaining("will not be repeated"),
    });
    expect(done.journal.find((j) => j.status === "escalated")!.detail).toMatchObject({
      reason: expect.stringContaining("unknown"),
    });
    expect(await platforms.calls("crash-after")).toHaveLength(1);
  }, 40_000);

  it("a crash before the call was sent repeats it exactly once", async () => {
    const { runInDurableObject } = await import("cloudflare:test");
    // Render with an API key: the adapter first asks whether a deploy is running. That read hangs,
    // and the ledger crashes while waiting: nothing has been sent yet.
    await platforms.failNext("render", "timeout", "crash-before", "list-deploys");
    const { incident: id, alert } = await alertFor(E2E.crash.groupId, E2E.crash.before, 88);
    const deadline = Date.now() + 10_000;
    while ((await platforms.calls("crash-before")).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(steps(await incident(id))).not.toContain("action:sending");
    await runInDurableObject(env.LEDGER.getByName(E2E.crash.groupId), (_instance, state) => {
      state.abort("simulated crash");
    }).catch(() => undefined);
    await deliver(alertWith(alert, { updated: new Date(Date.now() + 1000).toISOString() }), {
      event: "alert.update",
    });
    const done = await waitFor(id, (i) => steps(i).includes("action:started"), 30_000);
    const restarts = (await platforms.calls("crash-before")).filter((c) => c.action === "restart");
    expect(restarts).toHaveLength(1);
    expect(steps(done).filter((s) => s === "action:sending")).toHaveLength(1);
  }, 40_000);
});

describe("Test Failover on M10", () => {
  it("always waits for approval, runs once, and is not offered again within 24 hours", async () => {
    const processes = await atlas.project(E2E.failover.groupId, [
      { name: E2E.failover.cluster, tier: "M10" },
    ]);
    await atlas.setConnections(
      Object.fromEntries(
        Object.values(processes)
          .flat()
          .map((p) => [p, 1300]),
      ),
    );
    const { incident: id } = await alertFor(E2E.failover.groupId, E2E.failover.cluster, 87);
    // The cluster's mode is auto, yet a failover drops every connection: it waits for a human.
    const waiting = await waitFor(id, (i) => i.state === "awaiting-approval");
    expect(waiting.journal.find((j) => j.step === "plan")).toMatchObject({ status: "failover" });
    const ledger = env.LEDGER.getByName(E2E.failover.groupId);
    const click = { decision: "approve", by: "U0APPROVER", source: "slack" } as const;
    expect((await ledger.decide(id, click)).applied).toBe(true);
    // Atlas still reports 1300 of 1500 afterwards: no second failover, a human instead.
    const done = await waitFor(id, (i) => i.state === "escalated", 20_000);
    expect(steps(done)).toContain("action:started");
    const restarts = await atlasRequests(E2E.failover.groupId, "restartGroupClusterPrimaries");
    expect(restarts).toHaveLength(1);
    expect(done.journal.filter((j) => j.step === "plan").at(-1)).toMatchObject({ status: "no-targets" });
  }, 30_000);
});

describe("the global action budget", () => {
  it("holds the hourly cap under a burst of incidents", async () => {
    const index = env.LEDGER_INDEX.getByName("index");
    const at = new Date().toISOString();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        index.reserve({
          key: `burst-${i}`,
          target: `burst-target-${i}`,
          at,
          cooldownMinutes: 15,
          maxActionsPerHour: 6,
        }),
      ),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(6);
    expect(answers.filter((a) => !a.ok).map((a) => (a as { reason: string }).reason)).toEqual(
      Array(4).fill("hourly-cap"),
    );
    // A repeated reservation (the same attempt resumed after a crash) is not counted twice.
    expect(
      await index.reserve({
        key: "burst-0",
        target: "burst-target-0",
        at,
        cooldownMinutes: 15,
        maxActionsPerHour: 6,
      }),
    ).toEqual({ ok: true });
  });
});
