/**
 * The incident core over the in-memory store: an incident's life from intake to closed, the modes,
 * and intake's rules. Acting and approving have their own files (incident-act, incident-approval).
 */
import { describe, expect, it } from "vitest";
import { runIncident } from "../../src/incident/advance.ts";
import { createMemoryStore } from "../../src/incident/memory-store.ts";
import { alertWith, DISK_ALERT_OPEN, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { CLUSTER, CoreHarness, GROUP, MINUTE } from "../support/core-harness.ts";

const OPEN = M0_CONNECTIONS_OPEN;
const later = (minutes: number) => new Date(Date.parse(OPEN.updated) + minutes * MINUTE).toISOString();
const closedAlert = (minutes = 30, id = OPEN.id) =>
  alertWith(OPEN, { id, status: "CLOSED", updated: later(minutes), resolved: later(minutes) });

describe("an incident in auto mode on an M0 cluster", () => {
  it("goes open → gather → redeploy → verify recovered → resolved, with before and after in the journal", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const outcome = h.deliver(OPEN);
    expect(outcome.status).toBe("accepted");
    const id = outcome.incident!;
    expect(h.incident(id)).toMatchObject({ state: "open", phase: "gather", origin: "atlas" });

    await h.run();
    expect(h.incident(id)).toMatchObject({ state: "verifying", phase: "verify", checksDone: 0 });
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web"]);
    expect(h.calls.redeploy[0]!.request.idempotencyKey).toBe(`${id}:web:1`);
    expect(h.incident(id).nextRunAt).toBe(h.nowMs + 60_000);

    h.stats.current = 120;
    h.advanceClock(MINUTE);
    await h.run();

    expect(h.incident(id)).toMatchObject({
      state: "resolved",
      phase: "idle",
      nextRunAt: null,
      decision: null,
    });
    expect(h.steps(id)).toEqual([
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:started",
      "verify:recovered",
      "incident:resolved",
    ]);
    expect(h.find(id, "incident:resolved")[0]!.detail).toEqual({
      before: { current: 450, percent: 90 },
      after: { current: 120, percent: 24 },
      note: "connections came down after the action",
    });
    expect(h.store.actions(id).map((a) => a.status)).toEqual(["started"]);
    expect(h.calls.settle).toEqual([{ key: `${id}:web:1`, outcome: "started" }]);
  });

  it("an Atlas incident that resolved waits for Atlas to close its alert, then reads the stats one last time", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    h.stats.current = 100;
    h.advanceClock(MINUTE);
    await h.run();
    expect(h.incident(id).state).toBe("resolved");
    const readsBefore = h.calls.reads;

    h.advanceClock(10 * MINUTE);
    expect(h.deliver(closedAlert(), "alert.close")).toEqual({ status: "accepted", incident: id });
    expect(h.incident(id)).toMatchObject({ state: "closed", phase: "final-read", nextRunAt: h.nowMs });
    expect(h.find(id, "incident:closed")[0]!.detail).toEqual({ reason: "Atlas closed the alert" });

    h.stats.current = 80;
    await h.run();
    expect(h.calls.reads).toBe(readsBefore + 1);
    expect(h.incident(id)).toMatchObject({ state: "closed", phase: "idle", nextRunAt: null });
    expect(h.incident(id).last?.current).toBe(80);
    expect(h.steps(id).slice(-3)).toEqual(["intake:alert-closed", "incident:closed", "stats:final"]);
  });

  it("a manual run that resolves closes itself: no Atlas alert will ever close it", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const id = h.trigger({ reason: "leak suspected" });
    expect(h.incident(id)).toMatchObject({ origin: "manual", state: "open" });
    await h.run();
    h.stats.current = 50;
    h.advanceClock(MINUTE);
    await h.run();
    expect(h.incident(id)).toMatchObject({ state: "closed", phase: "idle", nextRunAt: null });
    expect(h.steps(id).slice(-2)).toEqual(["incident:resolved", "incident:closed"]);
    expect(h.find(id, "incident:closed")[0]!.detail.reason).toBe(
      "resolved, and no Atlas alert is open for it",
    );
    expect(h.find(id, "trigger:opened")[0]!.detail).toEqual({ reason: "leak suspected", dryRun: false });
  });

  it("already below the threshold: resolved with nothing done", async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.stats.current = 200;
    const id = h.trigger();
    await h.run();
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.find(id, "plan:below-threshold")[0]!.detail).toEqual({ percent: 40, threshold: 80 });
    expect(h.find(id, "incident:resolved")[0]!.detail.note).toBe(
      "already below the threshold; nothing was done",
    );
  });

  it("with no figure from any source, nothing is done blind: escalated", async () => {
    const h = new CoreHarness({ mode: "auto" });
    h.stats.current = null;
    const id = h.trigger();
    await h.run();
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.steps(id)).toContain("stats:partial");
    expect(h.incident(id)).toMatchObject({ state: "escalated", phase: "idle", nextRunAt: null });
    expect(h.find(id, "incident:escalated")[0]!.detail.reason).toBe(
      "no source could measure the connections, so nothing was done blind",
    );
  });
});

describe("modes that send nothing", () => {
  it("a dry-run trigger journals the planned call as dry-run and sends nothing", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web" }, { name: "api" }] });
    const id = h.trigger({ dryRun: true });
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.calls.reserve).toHaveLength(0);
    expect(h.find(id, "action:dry-run").map((e) => e.detail)).toEqual([
      { target: "web", kind: "webhook", action: "redeploy", method: "POST", endpoint: "webhook (web)" },
    ]);
    expect(h.store.actions(id).map((a) => [a.target, a.status])).toEqual([["web", "dry-run"]]);
    expect(h.incident(id)).toMatchObject({ mode: "dry-run", phase: "idle", nextRunAt: null });
    expect(h.incident(id).decision).toMatchObject({ kind: "redeploy", target: "web" });
  });

  it("notify mode journals what it would do and rests", async () => {
    const h = new CoreHarness({ mode: "notify" });
    const id = h.deliver(OPEN).incident!;
    await h.settle();
    expect(h.calls.redeploy).toHaveLength(0);
    expect(h.calls.deployInProgress).toHaveLength(0);
    expect(h.find(id, "action:notify-only")[0]!.detail).toMatchObject({
      wouldDo: { target: "web", kind: "webhook" },
    });
    expect(h.incident(id)).toMatchObject({ state: "open", phase: "idle", nextRunAt: null });
    expect(h.store.actions(id)).toEqual([]);
  });
});

describe("intake", () => {
  it("a delivery seen before is a duplicate and changes nothing", () => {
    const h = new CoreHarness();
    const first = h.deliver(OPEN);
    const journal = h.entries(first.incident!);
    h.advanceClock(MINUTE);
    expect(h.deliver(OPEN)).toEqual({ status: "duplicate", incident: first.incident });
    expect(h.entries(first.incident!)).toEqual(journal);
    expect(h.store.deliveries(first.incident!)).toHaveLength(1);
  });

  it("an alert that is not about connections is recorded, journaled on the live incident and never acted on", async () => {
    const h = new CoreHarness();
    const id = h.deliver(OPEN).incident!;
    const disk = alertWith(DISK_ALERT_OPEN, { groupId: GROUP, clusterName: CLUSTER });
    expect(h.deliver(disk)).toEqual({ status: "ignored", incident: null });
    expect(h.steps(id)).toEqual(["intake:opened", "intake:ignored"]);
    expect(h.store.list({ limit: 10 })).toHaveLength(1);
    expect(h.store.delivery(`${DISK_ALERT_OPEN.id}|OPEN|${DISK_ALERT_OPEN.updated}|alert.open`)).toEqual({
      incidentId: null,
    });
  });

  it("a delivery older than what is known of its alert is stale: journaled, nothing moves", () => {
    const h = new CoreHarness();
    const newer = alertWith(OPEN, { updated: later(5) });
    const id = h.deliver(newer, "alert.update").incident!;
    const before = h.incident(id);
    expect(h.deliver(closedAlert(2), "alert.close")).toEqual({ status: "accepted", incident: id });
    expect(h.incident(id)).toMatchObject({
      state: before.state,
      phase: before.phase,
      nextRunAt: before.nextRunAt,
    });
    expect(h.steps(id)).toEqual(["intake:opened", "intake:stale"]);
    expect(h.store.alert(OPEN.id)).toMatchObject({ status: "OPEN", updated: later(5) });
  });

  it("a second alert on the cluster joins its incident; the incident closes when the last of its alerts closes", () => {
    const h = new CoreHarness();
    const id = h.deliver(OPEN).incident!;
    const other = alertWith(OPEN, { id: "66aa000000000000000000ff", hostnameAndPort: "ac-2:27017" });
    expect(h.deliver(other)).toEqual({ status: "accepted", incident: id });
    expect(h.steps(id)).toEqual(["intake:opened", "intake:joined"]);

    h.deliver(closedAlert(10), "alert.close");
    expect(h.incident(id).state).toBe("open");
    h.deliver(closedAlert(12, "66aa000000000000000000ff"), "alert.close");
    expect(h.incident(id).state).toBe("closed");
    expect(h.store.list({ limit: 10 })).toHaveLength(1);
  });

  it("a cancelled alert closes the incident too, saying so", () => {
    const h = new CoreHarness();
    const id = h.deliver(OPEN).incident!;
    h.deliver(alertWith(OPEN, { status: "CANCELLED", updated: later(3) }), "alert.cancel");
    expect(h.incident(id)).toMatchObject({ state: "closed", phase: "final-read" });
    expect(h.find(id, "incident:closed")[0]!.detail.reason).toBe("Atlas cancelled the alert");
  });

  it("an Atlas alert supersedes a manual run at rest: the manual one closes, a new one opens", async () => {
    const h = new CoreHarness({ mode: "notify" });
    const manual = h.trigger();
    await h.settle();
    expect(h.incident(manual)).toMatchObject({ phase: "idle", state: "open" });

    const atlas = h.deliver(OPEN).incident!;
    expect(atlas).not.toBe(manual);
    expect(h.incident(manual).state).toBe("closed");
    expect(h.find(manual, "incident:closed")[0]!.detail.reason).toBe(`superseded by Atlas alert ${OPEN.id}`);
    expect(h.incident(atlas)).toMatchObject({ origin: "atlas", state: "open", phase: "gather" });
  });

  it("an Atlas alert joins a manual run that is still working", () => {
    const h = new CoreHarness();
    const manual = h.trigger();
    expect(h.deliver(OPEN)).toEqual({ status: "accepted", incident: manual });
    expect(h.steps(manual)).toEqual(["trigger:opened", "intake:joined"]);
    expect(h.incident(manual).alert).toEqual({
      metricName: "CONNECTIONS_PERCENT",
      value: 82.4,
      at: OPEN.updated,
    });
  });

  it("a resolved incident runs again when Atlas says the cluster is still over its threshold", async () => {
    const h = new CoreHarness({ mode: "auto", policy: { maxRedeploysPerIncident: 2 } });
    const id = h.deliver(OPEN).incident!;
    await h.run();
    h.stats.current = 100;
    h.advanceClock(MINUTE);
    await h.run();
    expect(h.incident(id).state).toBe("resolved");

    h.stats.current = 460;
    h.advanceClock(5 * MINUTE);
    h.deliver(
      alertWith(OPEN, { updated: later(6), currentValue: { number: 92, units: "RAW" } }),
      "alert.update",
    );
    expect(h.incident(id)).toMatchObject({
      state: "open",
      phase: "gather",
      nextRunAt: h.nowMs,
      decision: null,
    });
    expect(h.incident(id).alert?.value).toBe(92);
    await h.run();
    expect(h.calls.redeploy.map((c) => c.request.idempotencyKey)).toEqual([`${id}:web:1`, `${id}:web:2`]);
  });

  it("a manual trigger reruns an incident at rest in the mode asked for", async () => {
    const h = new CoreHarness({ mode: "notify" });
    const id = h.deliver(OPEN).incident!;
    await h.settle();
    expect(h.trigger({ dryRun: true })).toBe(id);
    expect(h.incident(id)).toMatchObject({ phase: "gather", mode: "dry-run" });
    await h.settle();
    expect(h.steps(id)).toContain("action:dry-run");
    expect(h.calls.redeploy).toHaveLength(0);
  });
});

describe("naming a cluster the alert did not name", () => {
  const unnamed = alertWith(OPEN, { id: "66aa0000000000000000aaaa", clusterName: undefined });

  it("an incident keyed on its replica set takes the cluster's name from identify", async () => {
    const h = new CoreHarness({ mode: "notify" });
    h.identifyResult = { cluster: CLUSTER, via: "process list" };
    const id = h.deliver(unnamed).incident!;
    expect(h.incident(id).clusterKey).toBe(`rs:${OPEN.replicaSetName}`);
    await h.run();
    expect(h.calls.identify).toEqual([
      { replicaSetName: OPEN.replicaSetName, hostnameAndPort: OPEN.hostnameAndPort },
    ]);
    expect(h.incident(id)).toMatchObject({ clusterKey: `name:${CLUSTER}`, clusterName: CLUSTER });
    expect(h.find(id, "stats:identified")[0]!.detail).toEqual({ cluster: CLUSTER, via: "process list" });
  });

  it("folds into the named cluster's live incident, moving its alerts there", async () => {
    const h = new CoreHarness({ mode: "notify" });
    const named = h.deliver(OPEN).incident!;
    await h.settle();
    const keyed = h.deliver(unnamed).incident!;
    expect(keyed).not.toBe(named);

    h.identifyResult = { cluster: CLUSTER, via: "connection string" };
    await h.run();
    expect(h.incident(keyed)).toMatchObject({ state: "closed", phase: "idle" });
    expect(h.find(keyed, "incident:closed")[0]!.detail.reason).toBe(`the same cluster as incident ${named}`);
    expect(h.find(named, "intake:merged")[0]!.detail).toEqual({ from: keyed });
    expect(h.store.deliveries(named).map((d) => d.alertId)).toEqual([OPEN.id, unnamed.id]);
    expect(h.store.openAlerts(named)).toBe(2);
  });

  it("an alert keyed on its replica set stays with its incident once named: its close closes it", async () => {
    const h = new CoreHarness({ mode: "notify" });
    h.identifyResult = { cluster: CLUSTER, via: "process list" };
    const id = h.deliver(unnamed).incident!;
    await h.settle();
    expect(h.incident(id).clusterKey).toBe(`name:${CLUSTER}`);
    // A later update of the same unnamed alert joins it too, rather than opening a second incident.
    h.advanceClock(MINUTE);
    expect(h.deliver(alertWith(unnamed, { updated: later(1) }), "alert.update").incident).toBe(id);
    const closed = alertWith(unnamed, { status: "CLOSED", updated: later(30), resolved: later(30) });
    expect(h.deliver(closed, "alert.close")).toEqual({ status: "accepted", incident: id });
    expect(h.incident(id).state).toBe("closed");
    expect(h.steps(id)).toContain("intake:alert-closed");
  });

  it("an alert that folded into a manual run at rest supersedes it and joins its replica set's live incident", async () => {
    const h = new CoreHarness({ mode: "notify" });
    h.identifyResult = { cluster: CLUSTER, via: "process list" };
    const manual = h.trigger();
    const folded = h.deliver(unnamed).incident!;
    await h.settle();
    expect(h.incident(folded).state).toBe("closed");
    expect(h.incident(manual)).toMatchObject({ origin: "manual", phase: "idle" });
    // Another unnamed alert opens an incident on the replica set before anything names it...
    const other = alertWith(unnamed, { id: "66aa0000000000000000bbbb" });
    const keyed = h.deliver(other).incident!;
    // ...and the folded alert's update supersedes the manual run: it joins that incident, not a third.
    h.advanceClock(MINUTE);
    const update = h.deliver(alertWith(unnamed, { updated: later(1) }), "alert.update");
    expect(update).toEqual({ status: "accepted", incident: keyed });
    expect(h.incident(manual).state).toBe("closed");
    expect(h.steps(keyed)).toContain("intake:joined");
  });

  it("a closed incident's final read does not fold its closed alerts into the cluster's live incident", async () => {
    const h = new CoreHarness({ mode: "notify" });
    const keyed = h.deliver(unnamed).incident!;
    const cancelled = alertWith(unnamed, { status: "CANCELLED", updated: later(1) });
    h.deliver(cancelled, "alert.cancel");
    expect(h.incident(keyed)).toMatchObject({ state: "closed", phase: "final-read" });
    const manual = h.trigger();
    h.identifyResult = { cluster: CLUSTER, via: "process list" };
    await h.settle();
    expect(h.incident(keyed)).toMatchObject({ state: "closed", phase: "idle" });
    expect(h.steps(manual)).not.toContain("intake:merged");
    expect(h.store.hasAtlasAlerts(manual)).toBe(false);
    // So the manual run that resolves still closes itself.
    h.stats = { current: 100, tier: "M0" };
    h.trigger();
    await h.settle();
    expect(h.incident(manual).state).toBe("closed");
  });

  it("when identify cannot tell, the incident goes on under its replica set", async () => {
    const h = new CoreHarness({ mode: "notify" });
    const id = h.deliver(unnamed).incident!;
    await h.settle();
    expect(h.incident(id).clusterKey).toBe(`rs:${OPEN.replicaSetName}`);
    expect(h.steps(id)).not.toContain("stats:identified");
    expect(h.steps(id)).toContain("action:notify-only");
  });
});

describe("the in-memory store", () => {
  it("a transaction that throws leaves the state as it was", () => {
    const store = createMemoryStore();
    const at = "2026-08-13T10:00:00.000Z";
    store.open({
      id: "a",
      clusterKey: "name:A",
      clusterName: "A",
      mode: null,
      origin: "manual",
      at,
      nextRunAt: 0,
    });
    expect(() =>
      store.transaction(() => {
        store.update("a", at, { state: "escalated" });
        store.journal("a", at, { step: "incident", status: "escalated", detail: { reason: "x" } });
        store.transaction(() => store.snooze("name:A", at, null));
        store.open({
          id: "b",
          clusterKey: "name:B",
          clusterName: "B",
          mode: null,
          origin: "manual",
          at,
          nextRunAt: 0,
        });
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(store.incident("a")?.state).toBe("open");
    expect(store.incident("b")).toBeNull();
    expect(store.entries("a")).toEqual([]);
    expect(store.snoozedUntil("name:A")).toBeNull();
  });

  it("a transaction that returns commits everything it wrote", () => {
    const store = createMemoryStore();
    const at = "2026-08-13T10:00:00.000Z";
    const result = store.transaction(() => {
      store.open({
        id: "a",
        clusterKey: "name:A",
        clusterName: "A",
        mode: null,
        origin: "manual",
        at,
        nextRunAt: 5,
      });
      return store.addAction({
        incidentId: "a",
        target: "web",
        kind: "webhook",
        attempt: 1,
        status: "sending",
        at,
        idempotencyKey: "a:web:1",
        detail: {},
      });
    });
    expect(result).toBe(1);
    expect(store.nextDue(5)?.id).toBe("a");
    expect(store.actions("a")).toHaveLength(1);
    expect(createMemoryStore(store.snapshot()).incident("a")).toEqual(store.incident("a"));
  });
});

describe("a person asking for a run", () => {
  it("joins an incident waiting out a snooze and measures now, without sending early", async () => {
    const h = new CoreHarness({ mode: "approve" });
    const id = h.trigger();
    await h.run();
    h.decide(id, { decision: "snooze" });
    const snoozed = h.incident(id);
    expect(snoozed.phase).toBe("gather");
    expect(snoozed.nextRunAt).toBeGreaterThan(h.nowMs);

    expect(h.trigger()).toBe(id);
    expect(h.incident(id).nextRunAt).toBe(h.nowMs);
    const reads = h.calls.reads;
    await h.run();
    expect(h.calls.reads).toBe(reads + 1);
    // Still snoozed: it measured, and waits again; nothing was sent.
    expect(h.steps(id).at(-1)).toBe("plan:snoozed");
    expect(h.calls.redeploy).toHaveLength(0);
  });

  it("runIncident advances only the incident asked for", async () => {
    const h = new CoreHarness({ mode: "auto" });
    const mine = h.trigger();
    const other = h.trigger({ cluster: "Other" });
    await runIncident(h.ctx(), mine);
    expect(h.incident(mine).state).toBe("verifying");
    expect(h.steps(other)).toEqual(["trigger:opened"]);
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web"]);
  });
});
