/**
 * The named moves of an incident. Each sets state, phase and schedule together and writes the
 * journal entry that explains it, so no step can move an incident without saying why, or say why
 * without moving it. Callers run them inside the store's transaction.
 */
import type { Policy } from "../config/schema.ts";
import type { Assessment } from "../stats/assess.ts";
import type { PlanDetail } from "./journal.ts";
import type { IncidentChanges, IncidentRecord, StoredDecision } from "./record.ts";
import type { IncidentStore } from "./store.ts";

/** Hands the incident to a human: nothing more happens until someone acts. */
export function escalate(
  store: IncidentStore,
  id: string,
  at: string,
  reason: string,
  changes: IncidentChanges = {},
): void {
  store.update(id, at, {
    ...changes,
    state: "escalated",
    phase: "idle",
    nextRunAt: null,
    decision: null,
  });
  store.journal(id, at, { step: "incident", status: "escalated", detail: { reason } });
}

/**
 * Below the threshold: resolved, with before → after. A resolved incident that no Atlas alert
 * joined has nobody left to close it (Atlas closes only its own alerts): it closes now, so the
 * cluster's next alert starts fresh.
 */
export function resolve(
  store: IncidentStore,
  incident: IncidentRecord,
  at: string,
  after: Assessment,
  options: { acted: boolean; note?: string; changes?: IncidentChanges },
): void {
  store.update(incident.id, at, {
    ...options.changes,
    state: "resolved",
    phase: "idle",
    nextRunAt: null,
    last: after,
    decision: null,
  });
  store.journal(incident.id, at, {
    step: "incident",
    status: "resolved",
    detail: {
      before: { current: incident.before?.current ?? null, percent: incident.before?.percent ?? null },
      after: { current: after.current, percent: after.percent },
      note:
        options.note ??
        (options.acted
          ? "connections came down after the action"
          : "already below the threshold; nothing was done"),
    },
  });
  if (!store.hasAtlasAlerts(incident.id)) {
    close(store, incident.id, at, "resolved, and no Atlas alert is open for it");
  }
}

/** Closes the incident; with `finalRead`, one last stats read follows. */
export function close(
  store: IncidentStore,
  id: string,
  at: string,
  reason: string,
  options: { finalRead?: boolean; nowMs?: number } = {},
): void {
  store.update(id, at, {
    state: "closed",
    closedAt: at,
    decision: null,
    ...(options.finalRead
      ? { phase: "final-read", nextRunAt: options.nowMs ?? Date.parse(at) }
      : { phase: "idle", nextRunAt: null }),
  });
  store.journal(id, at, { step: "incident", status: "closed", detail: { reason } });
}

/** Posts the plan and waits for a person (Slack, the dashboard, the CLI prompt). */
export function awaitApproval(
  store: IncidentStore,
  id: string,
  at: string,
  decision: StoredDecision,
  plan: PlanDetail,
): void {
  store.update(id, at, {
    state: "awaiting-approval",
    phase: "approval",
    nextRunAt: null,
    decision,
    approvalRequestedAt: at,
  });
  store.journal(id, at, { step: "approval", status: "requested", detail: plan });
}

/** The action may go ahead now. */
export function startActing(
  store: IncidentStore,
  id: string,
  at: string,
  nowMs: number,
  decision?: StoredDecision,
): void {
  store.update(id, at, {
    state: "acting",
    phase: "act",
    nextRunAt: nowMs,
    deferrals: 0,
    ...(decision ? { decision } : {}),
  });
}

/** The call was accepted: read the stats again after the first verification delay. */
export function scheduleVerify(
  store: IncidentStore,
  id: string,
  at: string,
  settledMs: number,
  policy: Policy,
): void {
  store.update(id, at, {
    state: "verifying",
    phase: "verify",
    checksDone: 0,
    nextRunAt: settledMs + policy.verifyAfterSeconds[0]! * 1000,
  });
}

/** Plans again now (the next target, or escalation), from the latest figures; open until the plan moves it. */
export function replan(
  store: IncidentStore,
  id: string,
  at: string,
  nowMs: number,
  changes: IncidentChanges = {},
): void {
  store.update(id, at, { state: "open", ...changes, phase: "decide", nextRunAt: nowMs, decision: null });
}

/** Measures again at `until` (a snooze, a cooldown, the hourly cap). */
export function waitUntil(
  store: IncidentStore,
  id: string,
  at: string,
  until: string,
  options: { reopen: boolean },
): void {
  store.update(id, at, {
    ...(options.reopen ? { state: "open" as const, decision: null } : {}),
    phase: "gather",
    nextRunAt: Date.parse(until),
  });
}

/** Nothing more to do on its own: the incident rests in its state until a person or an alert moves it. */
export function rest(store: IncidentStore, id: string, at: string, changes: IncidentChanges = {}): void {
  store.update(id, at, { ...changes, phase: "idle", nextRunAt: null });
}
