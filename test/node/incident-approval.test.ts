/**
 * Approvals: what a person's approve, skip or snooze does, and what an approved action checks again
 * before it runs (the mode, the figures, the target).
 */
import { describe, expect, it } from "vitest";
import { STALE_PLAN_MS } from "../../src/incident/act.ts";
import { SNOOZE_MS } from "../../src/incident/approval.ts";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { CoreHarness, MINUTE, makeConfig } from "../support/core-harness.ts";

const OPEN = M0_CONNECTIONS_OPEN;

/** An incident in approve mode, planned and waiting for a person. */
async function awaiting(h = new CoreHarness({ mode: "approve" })) {
  const id = h.deliver(OPEN).incident!;
  await h.run();
  return { h, id };
}

describe("approve mode", () => {
  it("plans, asks for approval and waits without sending anything", async () => {
    const { h, id } = await awaiting();
    expect(h.incident(id)).toMatchObject({
      state: "awaiting-approval",
      phase: "approval",
      nextRunAt: null,
      approvalRequestedAt: h.at(),
      decision: { kind: "redeploy", target: "web" },
    });
    expect(h.find(id, "approval:requested")[0]!.detail).toMatchObject({ target: "web", kind: "webhook" });
    expect(h.calls.redeploy).toHaveLength(0);
    h.advanceClock(3600_000);
    expect(await h.run()).toBe(0);
  });

  it("an approval acts once; a second approval is not applied", async () => {
    const { h, id } = await awaiting();
    h.advanceClock(MINUTE);
    expect(h.decide(id, { decision: "approve", by: "U1", source: "slack" })).toEqual({
      applied: true,
      state: "acting",
    });
    expect(h.find(id, "approval:approved")[0]!.detail).toEqual({ by: "U1", source: "slack" });
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.incident(id).state).toBe("verifying");

    expect(h.decide(id, { decision: "approve", by: "U2" })).toEqual({ applied: false, state: "verifying" });
    await h.run();
    expect(h.calls.redeploy).toHaveLength(1);
    expect(h.find(id, "approval:approved")).toHaveLength(1);
  });

  it("a click on an older request than the current one is not applied", async () => {
    const { h, id } = await awaiting();
    const requestedAt = h.incident(id).approvalRequestedAt!;
    const older = new Date(Date.parse(requestedAt) - 30 * MINUTE).toISOString();
    expect(h.decide(id, { decision: "approve", requestedAt: older })).toEqual({
      applied: false,
      state: "awaiting-approval",
    });
    expect(h.incident(id).phase).toBe("approval");
    expect(h.steps(id)).not.toContain("approval:approved");
    expect(h.decide(id, { decision: "approve", requestedAt })).toEqual({ applied: true, state: "acting" });
  });

  it("a skip leaves the incident open and at rest, with nothing planned", async () => {
    const { h, id } = await awaiting();
    expect(h.decide(id, { decision: "skip", by: "U1" })).toEqual({ applied: true, state: "open" });
    expect(h.incident(id)).toMatchObject({ state: "open", phase: "idle", nextRunAt: null, decision: null });
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(0);
  });

  it("a snooze waits an hour, and the cluster stays snoozed for that hour even in a new incident", async () => {
    const { h, id } = await awaiting();
    const until = new Date(h.nowMs + SNOOZE_MS).toISOString();
    expect(h.decide(id, { decision: "snooze", by: "U1" })).toEqual({ applied: true, state: "open" });
    expect(h.find(id, "approval:snoozed")[0]!.detail).toEqual({ by: "U1", until, source: "api" });
    expect(h.incident(id)).toMatchObject({ phase: "gather", nextRunAt: Date.parse(until), decision: null });
    expect(h.store.snoozedUntil(`name:${OPEN.clusterName}`)).toBe(until);

    // Atlas closes this alert and opens another ten minutes later: the new incident is snoozed too.
    h.advanceClock(5 * MINUTE);
    h.deliver(alertWith(OPEN, { status: "CLOSED", updated: "2026-08-13T10:05:00Z" }), "alert.close");
    await h.run();
    h.advanceClock(10 * MINUTE);
    const next = h.deliver(
      alertWith(OPEN, { id: "66aa0000000000000000bbbb", updated: "2026-08-13T10:15:00Z" }),
    ).incident!;
    expect(next).not.toBe(id);
    await h.run();
    expect(h.find(next, "plan:snoozed")[0]!.detail).toEqual({ until });
    expect(h.incident(next)).toMatchObject({ phase: "gather", nextRunAt: Date.parse(until) });
    expect(h.steps(next)).not.toContain("approval:requested");

    // A second snooze while the first holds is not applied.
    expect(h.decide(next, { decision: "snooze" }).applied).toBe(false);

    // When the hour is up it measures again and asks again.
    h.nowMs = Date.parse(until);
    await h.run();
    expect(h.incident(next).state).toBe("awaiting-approval");
    expect(h.calls.redeploy).toHaveLength(0);
  });

  it("a person who may not approve is journaled as refused, and nothing changes", async () => {
    const { h, id } = await awaiting();
    const before = h.incident(id);
    expect(h.decide(id, { decision: "approve", by: "U9", source: "slack", allowed: false })).toEqual({
      applied: false,
      state: "awaiting-approval",
    });
    expect(h.find(id, "approval:refused")[0]!.detail).toEqual({
      by: "U9",
      decision: "approve",
      reason: "not in SLACK_APPROVERS",
    });
    expect(h.incident(id)).toEqual(before);
    expect(h.store.snoozedUntil(`name:${OPEN.clusterName}`)).toBeNull();
    await h.run();
    expect(h.calls.redeploy).toHaveLength(0);
  });

  it("a decision on an incident that does not exist is not applied", () => {
    const h = new CoreHarness({ mode: "approve" });
    expect(h.decide("nope", { decision: "approve" })).toEqual({ applied: false, state: null });
  });
});

describe("an approved action checks again before it runs", () => {
  it("holds when the mode became notify after the approval, and sends nothing", async () => {
    const { h, id } = await awaiting();
    h.decide(id, { decision: "approve" });
    h.config = makeConfig({ mode: "notify" });
    await h.run();
    expect(h.find(id, "action:held")[0]!.detail).toEqual({ detail: "the mode is now notify" });
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.calls.deployInProgress).toHaveLength(0);
    expect(h.calls.reserve).toHaveLength(0);
    // It plans again under the new mode: notify-only, at rest.
    expect(h.steps(id).slice(-3)).toEqual(["action:held", "plan:redeploy", "action:notify-only"]);
    expect(h.incident(id)).toMatchObject({ phase: "idle", nextRunAt: null });
    expect(h.store.actions(id)).toEqual([]);
  });

  it("after a held action the incident no longer shows as acting", async () => {
    const { h, id } = await awaiting();
    h.decide(id, { decision: "approve" });
    h.config = makeConfig({ mode: "notify" });
    await h.run();
    expect(h.incident(id).state).toBe("open");
  });

  it(`approved more than ${STALE_PLAN_MS / MINUTE} minutes after the read, a recovered cluster is resolved with nothing done`, async () => {
    const { h, id } = await awaiting();
    h.advanceClock(11 * MINUTE);
    h.stats.current = 150;
    h.decide(id, { decision: "approve" });
    const reads = h.calls.reads;
    await h.run();
    expect(h.calls.reads).toBe(reads + 1);
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.calls.reserve).toHaveLength(0);
    expect(h.incident(id)).toMatchObject({ state: "resolved", phase: "idle", decision: null });
    expect(h.steps(id).slice(-2)).toEqual(["stats:ok", "incident:resolved"]);
    expect(h.find(id, "incident:resolved")[0]!.detail).toEqual({
      before: { current: 450, percent: 90 },
      after: { current: 150, percent: 30 },
      note: "recovered before the approved action ran; nothing was done",
    });
  });

  it("approved late while the cluster is still high, it reads again and acts", async () => {
    const { h, id } = await awaiting();
    h.advanceClock(11 * MINUTE);
    h.stats.current = 470;
    h.decide(id, { decision: "approve" });
    const reads = h.calls.reads;
    await h.run();
    expect(h.calls.reads).toBe(reads + 1);
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web"]);
    expect(h.incident(id).state).toBe("verifying");
  });

  it("approved within ten minutes, it acts on the figures it has without reading again", async () => {
    const { h, id } = await awaiting();
    h.advanceClock(9 * MINUTE);
    h.stats.current = 150;
    h.decide(id, { decision: "approve" });
    const reads = h.calls.reads;
    await h.run();
    expect(h.calls.reads).toBe(reads);
    expect(h.calls.redeploy).toHaveLength(1);
  });

  it("a target that left the configuration fails the action and plans again: the next target", async () => {
    const h = new CoreHarness({ mode: "approve", targets: [{ name: "web" }, { name: "api" }] });
    const { id } = await awaiting(h);
    expect(h.incident(id).decision).toMatchObject({ target: "web" });
    h.config = makeConfig({ mode: "approve", targets: [{ name: "api" }] });
    h.decide(id, { decision: "approve" });
    await h.run();
    expect(h.find(id, "action:failed")[0]!.detail).toEqual({
      target: "web",
      detail: "target is no longer configured",
    });
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.incident(id)).toMatchObject({
      state: "awaiting-approval",
      decision: { kind: "redeploy", target: "api" },
    });
    expect(h.find(id, "approval:requested")).toHaveLength(2);
    // The advice was given with the first plan; the re-plan does not repeat it.
    expect(h.find(id, "advice:ok")).toHaveLength(1);
    expect(h.incident(id).advised).toBe(true);
  });

  it("a target that left the configuration, with none left, escalates", async () => {
    const { h, id } = await awaiting();
    h.config = makeConfig({ mode: "approve", targets: [] });
    h.decide(id, { decision: "approve" });
    await h.run();
    const steps = h.steps(id);
    expect(steps.indexOf("action:failed")).toBeLessThan(steps.indexOf("plan:no-targets"));
    expect(steps.at(-1)).toBe("incident:escalated");
    expect(h.incident(id)).toMatchObject({ state: "escalated", phase: "idle", nextRunAt: null });
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      `no target owns cluster ${OPEN.clusterName}`,
    );
    expect(h.calls.redeploy).toHaveLength(0);
  });
});
