/**
 * Acting and verifying: each outcome of a call, the deploy-running wait, the crash between sending
 * and recording, the budget, failover and killOp on dedicated tiers, and step errors.
 */
import { describe, expect, it } from "vitest";
import { DEPLOY_RUNNING_RETRY_MS, MAX_DEFERRALS } from "../../src/incident/act.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { app, CLUSTER, CoreHarness, GROUP, MINUTE } from "../support/core-harness.ts";

const OPEN = M0_CONNECTIONS_OPEN;

describe("a deploy already running", () => {
  it(`defers the action, and after ${MAX_DEFERRALS} checks escalates: the deploy has been running too long`, async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.deployInProgress = () => true;
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.incident(id)).toMatchObject({ state: "acting", phase: "act", deferrals: 1 });
    expect(h.incident(id).nextRunAt).toBe(h.nowMs + DEPLOY_RUNNING_RETRY_MS);

    for (let check = 2; check <= MAX_DEFERRALS; check++) {
      h.advanceClock(DEPLOY_RUNNING_RETRY_MS);
      await h.run();
    }
    expect(h.calls.deployInProgress).toHaveLength(MAX_DEFERRALS);
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.calls.reserve).toHaveLength(0);
    expect(h.incident(id)).toMatchObject({
      state: "escalated",
      phase: "idle",
      nextRunAt: null,
      deferrals: 6,
    });
    expect(h.find(id, "action:deferred")).toHaveLength(MAX_DEFERRALS - 1);
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      "a deploy of web has been running for over 12 minutes",
    );
  });

  it("counts deferrals in the record, not from the journal", async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.deployInProgress = () => true;
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.find(id, "action:deferred")).toHaveLength(1);
    // The record says five waits already happened: the next one is the sixth, whatever the journal holds.
    h.store.update(id, h.at(), { deferrals: MAX_DEFERRALS - 1 });
    h.advanceClock(DEPLOY_RUNNING_RETRY_MS);
    await h.run();
    expect(h.incident(id)).toMatchObject({ state: "escalated", deferrals: MAX_DEFERRALS });
    expect(h.find(id, "action:deferred")).toHaveLength(1);
  });

  it("acts as soon as the deploy is done, and a new approval starts the count again", async () => {
    const h = new CoreHarness({ mode: "auto" });
    let running = 2;
    h.deployInProgress = () => running-- > 0;
    const id = h.deliver(OPEN).incident!;
    await h.run();
    h.advanceClock(DEPLOY_RUNNING_RETRY_MS);
    await h.run();
    expect(h.incident(id).deferrals).toBe(2);
    h.advanceClock(DEPLOY_RUNNING_RETRY_MS);
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.incident(id).state).toBe("verifying");
  });

  it("a snooze while the action waits holds it: nothing is sent until the snooze ends, then it is planned again", async () => {
    const h = new CoreHarness({ mode: "auto" });
    let running = true;
    h.deployInProgress = () => running;
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.incident(id)).toMatchObject({ state: "acting", phase: "act", deferrals: 1 });
    expect(h.decide(id, { decision: "snooze", by: "U1" })).toEqual({ applied: true, state: "acting" });
    const until = h.find(id, "approval:snoozed")[0]!.detail.until as string;

    running = false;
    h.advanceClock(DEPLOY_RUNNING_RETRY_MS);
    await h.run();
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.calls.reserve).toHaveLength(0);
    expect(h.incident(id)).toMatchObject({ state: "open", phase: "gather", nextRunAt: Date.parse(until) });
    expect(h.find(id, "action:held")[0]!.detail).toEqual({ detail: `the cluster is snoozed until ${until}` });

    h.nowMs = Date.parse(until);
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.steps(id).slice(-4)).toEqual(["stats:ok", "plan:redeploy", "action:sending", "action:started"]);
  });
});

describe("the outcome of a redeploy", () => {
  it("failed: plans again, and the next target is redeployed", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web" }, { name: "api" }] });
    h.redeployOutcome = (target) =>
      target === "web"
        ? { kind: "failed", detail: "hook answered 404", status: 404 }
        : { kind: "started", detail: "ok" };
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web", "api"]);
    expect(h.find(id, "action:failed")[0]!.detail).toMatchObject({
      target: "web",
      platform: "webhook",
      status: 404,
    });
    expect(h.store.actions(id).map((a) => [a.target, a.status])).toEqual([
      ["web", "failed"],
      ["api", "started"],
    ]);
    expect(h.incident(id).state).toBe("verifying");
    expect(h.calls.settle.map((s) => s.outcome)).toEqual(["failed", "started"]);
  });

  it("failed, and the cluster was snoozed meanwhile: it waits as open, not as acting", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const until = new Date(h.nowMs + 3600_000).toISOString();
    h.redeployOutcome = () => {
      h.store.snooze(`name:${CLUSTER}`, until, "U1");
      return { kind: "failed", detail: "hook answered 500" };
    };
    const id = h.trigger();
    await h.run();
    expect(h.steps(id).slice(-2)).toEqual(["action:failed", "plan:snoozed"]);
    expect(h.incident(id)).toMatchObject({ state: "open", phase: "gather", nextRunAt: Date.parse(until) });
  });

  it("failed on the only target: nothing left to try, escalated", async () => {
    const h = new CoreHarness({ mode: "auto", policy: { maxRedeploysPerIncident: 3 } });
    h.redeployOutcome = () => ({ kind: "failed", detail: "hook answered 410" });
    const id = h.deliver(OPEN).incident!;
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.incident(id).state).toBe("escalated");
    expect(h.find(id, "plan:exhausted")[0]!.detail).toEqual({ tried: ["web"] });
  });

  it("unknown: escalated at once, and never sent again", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web" }, { name: "api" }] });
    h.redeployOutcome = () => ({ kind: "unknown", detail: "no answer within 10 s" });
    const id = h.deliver(OPEN).incident!;
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.incident(id)).toMatchObject({ state: "escalated", phase: "idle" });
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      "the outcome of the call to web is unknown: check it by hand",
    );
    // A person asks for another run: the policy still refuses to act blind on top of an unknown call.
    h.trigger();
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.find(id, "plan:unknown-outcome")[0]!.detail).toEqual({ target: "web" });
  });
});

describe("a crash between sending and recording the answer", () => {
  it("leaves a sending action: its outcome is unknown, it is never repeated, and the incident escalates", async () => {
    const h = new CoreHarness({ mode: "approve" });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    h.decide(id, { decision: "approve" });
    // What act writes before the call, left as the process died after sending.
    h.store.transaction(() => {
      h.store.journal(id, h.at(), {
        step: "action",
        status: "sending",
        detail: { target: "web", kind: "webhook", action: "redeploy", attempt: 1 },
      });
      h.store.addAction({
        incidentId: id,
        target: "web",
        kind: "webhook",
        attempt: 1,
        status: "sending",
        at: h.at(),
        idempotencyKey: `${id}:web:1`,
        detail: { target: "web" },
      });
    });
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.store.actions(id).map((a) => a.status)).toEqual(["unknown"]);
    expect(h.store.actions(id)[0]!.detail.note).toBe("the responder stopped after sending");
    expect(h.find(id, "action:unknown")[0]!.detail.target).toBe("web");
    expect(h.incident(id)).toMatchObject({ state: "escalated", phase: "idle", nextRunAt: null });
    expect(h.calls.settle).toEqual([{ key: `${id}:web:1`, outcome: "unknown" }]);
  });

  it("a call that dies mid-flight is journaled as an error and then settled as unknown, not sent twice", async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.redeployOutcome = () => {
      throw new Error("connection reset after the request was written");
    };
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.find(id, "act:error")[0]!.detail).toMatchObject({ retryInSeconds: 30 });
    h.redeployOutcome = () => ({ kind: "started", detail: "ok" });
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.store.actions(id).map((a) => a.status)).toEqual(["unknown"]);
    expect(h.incident(id).state).toBe("escalated");
  });

  it("a call that dies mid-flight and Atlas then closes the alert: the final read reports it unknown", async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.redeployOutcome = () => {
      throw new Error("connection reset after the request was written");
    };
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.store.actions(id).map((a) => a.status)).toEqual(["sending"]);
    const closed = {
      ...OPEN,
      status: "CLOSED",
      updated: "2026-08-13T10:05:00Z",
      resolved: "2026-08-13T10:05:00Z",
    };
    h.deliver(closed, "alert.close");
    expect(h.incident(id)).toMatchObject({ state: "closed", phase: "final-read" });
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.store.actions(id).map((a) => a.status)).toEqual(["unknown"]);
    expect(h.steps(id).slice(-2)).toEqual(["stats:final", "action:unknown"]);
    expect(h.calls.settle).toEqual([{ key: `${id}:web:1`, outcome: "unknown" }]);
    expect(h.incident(id)).toMatchObject({ state: "closed", phase: "idle", nextRunAt: null });
  });
});

describe("verification", () => {
  it("still high after every check: the next target, then nothing left: escalated", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web" }, { name: "api" }] });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web"]);

    h.advanceClock(MINUTE);
    await h.run();
    expect(h.incident(id)).toMatchObject({ state: "verifying", checksDone: 1 });
    h.advanceClock(2 * MINUTE);
    await h.run();
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web", "api"]);

    await h.settle();
    expect(h.find(id, "verify:still-high").map((e) => [e.detail.check, e.detail.of])).toEqual([
      [1, 2],
      [2, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(h.find(id, "plan:exhausted")[0]!.detail).toEqual({ tried: ["web", "api"] });
    expect(h.incident(id)).toMatchObject({ state: "escalated", phase: "idle" });
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      "still above the threshold after redeploying web, api",
    );
  });

  it("schedules each check from when the action was sent", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const id = h.deliver(OPEN).incident!;
    const sentAt = h.nowMs;
    await h.run();
    h.advanceClock(MINUTE);
    await h.run();
    expect(h.incident(id).nextRunAt).toBe(sentAt + 180_000);
  });

  it("never measured after every check: escalated, since recovery cannot be claimed blind", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    h.stats.current = null;
    await h.settle();
    expect(h.find(id, "verify:unmeasured")).toHaveLength(2);
    expect(h.incident(id)).toMatchObject({ state: "escalated", checksDone: 2 });
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      "recovery could not be measured: no live stats source answered",
    );
    expect(h.calls.redeploy).toHaveLength(1);
  });

  it("does not count the alert's own figure as a measurement", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    h.stats.current = null;
    h.advanceClock(MINUTE);
    await h.run();
    expect(h.find(id, "verify:unmeasured")[0]!.detail).toMatchObject({ percent: null, current: null });
  });
});

describe("the action budget", () => {
  it("a limiter that refuses at the last moment blocks the plan until it allows, then acts", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const until = new Date(h.nowMs + 20 * MINUTE).toISOString();
    h.reserveRefusals.push({ ok: false, reason: "hourly-cap", until });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.find(id, "plan:blocked")[0]!.detail).toEqual({ target: "web", reason: "hourly-cap", until });
    expect(h.incident(id)).toMatchObject({ state: "open", phase: "gather", nextRunAt: Date.parse(until) });
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.store.actions(id)).toEqual([]);

    h.advanceClock(19 * MINUTE);
    expect(await h.run()).toBe(0);
    h.nowMs = Date.parse(until);
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
  });

  it("a target in its cooldown is blocked at planning, and acted on when the cooldown ends", async () => {
    const h = new CoreHarness({ mode: "auto", policy: { cooldownMinutes: 15 } });
    const lastAt = new Date(h.nowMs - 5 * MINUTE).toISOString();
    h.past.push({ key: "other:web:1", target: "web", at: lastAt, outcome: "started" });
    const id = h.trigger();
    await h.run();
    const until = new Date(Date.parse(lastAt) + 15 * MINUTE).toISOString();
    expect(h.find(id, "plan:blocked")[0]!.detail).toEqual({ target: "web", reason: "cooldown", until });
    expect(h.incident(id).nextRunAt).toBe(Date.parse(until));
    expect(h.calls.reserve).toHaveLength(0);
    h.nowMs = Date.parse(until);
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
  });

  it("the hourly cap counts every project's actions", async () => {
    const h = new CoreHarness({ mode: "auto", policy: { maxActionsPerHour: 2 } });
    for (const [i, m] of [40, 10].entries()) {
      h.past.push({
        key: `x${i}`,
        target: `other${i}`,
        at: new Date(h.nowMs - m * MINUTE).toISOString(),
        outcome: "started",
      });
    }
    const id = h.trigger();
    await h.run();
    expect(h.find(id, "plan:blocked")[0]!.detail).toMatchObject({
      reason: "hourly-cap",
      until: new Date(h.nowMs + 20 * MINUTE).toISOString(),
    });
  });
});

describe("dedicated tiers", () => {
  const attributed = { current: 1400, tier: "M10", byApp: [app("checkout", 1200), app("web", 100)] };

  it("no target owns the apps holding most connections: failover is planned, and waits for approval even in auto mode", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web", appNames: ["web"] }] });
    h.stats = { ...attributed };
    const id = h.trigger();
    await h.run();
    expect(h.find(id, "plan:failover")[0]!.detail).toEqual({
      action: "test failover",
      reason: "no target owns the apps holding most connections (checkout)",
    });
    expect(h.incident(id)).toMatchObject({
      state: "awaiting-approval",
      decision: { kind: "failover" },
    });
    expect(h.calls.failover).toHaveLength(0);

    h.decide(id, { decision: "approve" });
    await h.run();
    expect(h.calls.failover).toEqual([{ groupId: GROUP, cluster: CLUSTER }]);
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.incident(id)).toMatchObject({ state: "verifying", phase: "verify" });
    expect(h.store.lastFailoverAt(`name:${CLUSTER}`)).toBe(h.at());
    expect(h.store.actions(id).map((a) => [a.kind, a.status])).toEqual([["atlas", "started"]]);
    expect(h.calls.reserve).toEqual([`${id}:failover:1`]);
  });

  it("with no targets at all on an M10, failover is the plan; on M0 it is escalation", async () => {
    const dedicated = new CoreHarness({ mode: "auto", targets: [] });
    dedicated.stats = { current: 1400, tier: "M10" };
    const a = dedicated.trigger();
    await dedicated.run();
    expect(dedicated.incident(a).state).toBe("awaiting-approval");
    expect(dedicated.find(a, "plan:failover")[0]!.detail.reason).toBe(`no target owns cluster ${CLUSTER}`);

    const shared = new CoreHarness({ mode: "auto", targets: [] });
    const b = shared.trigger();
    await shared.run();
    expect(shared.incident(b).state).toBe("escalated");
    expect(shared.steps(b)).toContain("plan:no-targets");
  });

  it("a failover that fails escalates", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [] });
    h.stats = { current: 1400, tier: "M10" };
    h.failoverResult = { kind: "unknown", detail: "Atlas answered 504" };
    const id = h.trigger();
    await h.run();
    h.decide(id, { decision: "approve" });
    await h.run();
    expect(h.incident(id).state).toBe("escalated");
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      "the outcome of Test Failover is unknown: check the cluster",
    );
  });

  it("ends the responder's own long reads once per incident before redeploying", async () => {
    const h = new CoreHarness({
      mode: "auto",
      targets: [{ name: "web", appNames: ["web"] }],
      policy: { maxRedeploysPerIncident: 2 },
    });
    h.stats = { current: 1400, tier: "M10", byApp: [app("web", 1300)] };
    const op = { opid: 7, secondsRunning: 900, app: "web", ns: "shop.orders", op: "query" };
    h.killResult = { ok: true, at: h.at(), killed: [op], refused: [], spared: [] };
    const id = h.trigger();
    await h.run();
    expect(h.calls.killOps).toEqual([CLUSTER]);
    expect(h.find(id, "action:killop")[0]!.detail).toEqual({
      killed: [{ app: "web", ns: "shop.orders", secondsRunning: 900 }],
      refused: [],
      spared: [],
    });
    expect(h.incident(id).killOpDone).toBe(true);
    expect(h.steps(id).indexOf("action:killop")).toBeLessThan(h.steps(id).indexOf("action:sending"));

    // Still high after both checks: the same target again, without a second killOp.
    await h.settle(4 * MINUTE);
    expect(h.calls.redeploy.map((c) => c.request.idempotencyKey)).toEqual([`${id}:web:1`, `${id}:web:2`]);
    expect(h.calls.killOps).toHaveLength(1);
  });

  it("a killOp that fails is logged, not journaled, not tried again, and the redeploy goes ahead", async () => {
    const h = new CoreHarness({
      mode: "auto",
      targets: [{ name: "web", appNames: ["web"] }],
      policy: { maxRedeploysPerIncident: 2 },
    });
    h.stats = { current: 1400, tier: "M10", byApp: [app("web", 1300)] };
    h.killResult = { ok: false, at: h.at(), reason: "auth", error: "not authorized", killed: [] };
    const id = h.trigger();
    await h.run();
    expect(h.steps(id)).not.toContain("action:killop");
    expect(h.incident(id).killOpDone).toBe(true);
    expect(h.logs.map((l) => l.event)).toContain("killop.failed");
    expect(h.calls.redeploy).toHaveLength(1);
    await h.settle(4 * MINUTE);
    expect(h.calls.redeploy).toHaveLength(2);
    expect(h.calls.killOps).toHaveLength(1);
  });

  it("a killOp whose answer is lost is not sent again: the run that retries goes straight to the redeploy", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web", appNames: ["web"] }] });
    h.stats = { current: 1400, tier: "M10", byApp: [app("web", 1300)] };
    h.killResult = { ok: true, at: h.at(), killed: [], refused: [], spared: [] };
    const id = h.trigger();
    // The reads were ended, then the run died before it could record that (the journal write failed).
    const journal = h.store.journal;
    h.store.journal = (incident, at, event) => {
      if (event.status === "killop") throw new Error("storage unavailable");
      journal(incident, at, event);
    };
    await h.run();
    h.store.journal = journal;
    expect(h.calls.killOps).toHaveLength(1);
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.find(id, "act:error")).toHaveLength(1);
    await h.settle(MINUTE);
    expect(h.calls.killOps).toHaveLength(1);
    expect(h.calls.redeploy).toHaveLength(1);
  });

  it("never tries killOp on a shared tier", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    expect(h.calls.killOps).toEqual([]);
    expect(h.incident(id).killOpDone).toBe(false);
    expect(h.calls.redeploy).toHaveLength(1);
  });
});

describe("an unexpected error in a step", () => {
  it("is journaled as <phase>:error, retried with a growing backoff, and counted until a run succeeds", async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.sourcesThrow = 2;
    const id = h.trigger();
    await h.run();
    expect(h.find(id, "gather:error")[0]!.detail).toEqual({
      error: "TypeError",
      message: "sources could not be built",
      retryInSeconds: 30,
    });
    expect(h.incident(id)).toMatchObject({ phase: "gather", failures: 1, nextRunAt: h.nowMs + 30_000 });
    expect(h.logs.find((l) => l.event === "pipeline.step-failed")?.level).toBe("error");

    h.advanceClock(30_000);
    await h.run();
    expect(h.find(id, "gather:error").map((e) => e.detail.retryInSeconds)).toEqual([30, 60]);
    expect(h.incident(id)).toMatchObject({ failures: 2, nextRunAt: h.nowMs + 60_000 });

    h.advanceClock(59_000);
    expect(await h.run()).toBe(0);
    h.advanceClock(1_000);
    await h.run();
    expect(h.incident(id).failures).toBe(0);
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.incident(id).state).toBe("verifying");
  });
});

describe("a run of failures", () => {
  it("ends when any phase completes, not only gather", async () => {
    const h = new CoreHarness({ mode: "approve" });
    const id = h.trigger();
    await h.run();
    expect(h.incident(id).state).toBe("awaiting-approval");
    // A phase that threw earlier left a count behind; the next phase that completes clears it.
    h.store.transaction(() => h.store.update(id, h.at(), { failures: 3 }));
    h.decide(id, { decision: "approve" });
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.incident(id)).toMatchObject({ state: "verifying", failures: 0 });
  });
});
