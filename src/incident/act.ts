/**
 * Act: one call to the platform (or to Atlas for Test Failover), sent at most once.
 *
 * Durability (DESIGN §5): an action row and its `sending` entry are written *before* the call and
 * settled after. A run that finds a `sending` row does not know whether the call went out: it marks
 * it `unknown`, never repeats it, and escalates to a human. A crash before the row is written simply
 * runs this step again, which sends exactly once.
 */
import { isSharedTier } from "../atlas/tiers.ts";
import type { Target } from "../config/schema.ts";
import { reserveBudget, settleBudget, stillActing } from "./budget.ts";
import { actionRequest } from "./decide.ts";
import type { StepContext } from "./deps.ts";
import { assessmentDetail } from "./journal.ts";
import { measure } from "./measure.ts";
import type { ActionRecord, IncidentRecord, StoredDecision } from "./record.ts";
import type { IncidentStore } from "./store.ts";
import { escalate, replan, resolve, scheduleVerify, waitUntil } from "./transitions.ts";

/** How long to wait before re-checking when a platform says a deploy is still running. */
export const DEPLOY_RUNNING_RETRY_MS = 2 * 60_000;
/** After this many checks of a deploy that stays running, a human should look (a stuck build). */
export const MAX_DEFERRALS = 6;
/** A plan whose stats are older than this is checked again before it acts (a late approval). */
export const STALE_PLAN_MS = 10 * 60_000;

export async function act(ctx: StepContext, incident: IncidentRecord): Promise<void> {
  const { deps, store } = ctx;
  const now = deps.now();
  const at = now.toISOString();

  // An action journaled as sending but never settled: its outcome is unknown. Never send it again.
  const pending = store.actions(incident.id).find((a) => a.status === "sending");
  if (pending) {
    store.transaction(() => {
      settleInterrupted(store, incident.id, pending, at);
      if (stillActing(ctx, incident)) {
        escalate(
          store,
          incident.id,
          at,
          `the outcome of the call to ${pending.target} is unknown: check it by hand`,
        );
      }
    });
    await settleBudget(ctx, pending.idempotencyKey, "unknown");
    return;
  }
  const decision = incident.decision;
  if (!decision) {
    store.transaction(() => store.update(incident.id, at, { phase: "decide", nextRunAt: now.getTime() }));
    return;
  }

  if (store.transaction(() => heldBySnooze(ctx, incident, at, now.getTime()))) return;

  // The mode is read again here: switching to notify or dry-run stops an approved action too.
  const mode = incident.mode ?? deps.config.modeFor(ctx.groupId, incident.clusterName);
  if (mode === "notify" || mode === "dry-run") {
    store.transaction(() => {
      store.journal(incident.id, at, {
        step: "action",
        status: "held",
        detail: { detail: `the mode is now ${mode}` },
      });
      // Nothing is being done any more: the incident shows as open until the new plan moves it.
      store.update(incident.id, at, { state: "open", phase: "decide", nextRunAt: now.getTime() });
    });
    return;
  }

  // A plan approved long after its stats were read acts only if the cluster still needs it.
  const measuredAt = incident.last ? Date.parse(incident.last.at) : Number.NaN;
  if (!(now.getTime() - measuredAt <= STALE_PLAN_MS)) {
    const fresh = await measure(ctx, incident, false);
    if (fresh.percent !== null && fresh.percent < deps.config.policy.actAtPercent) {
      store.transaction(() => {
        if (!stillActing(ctx, incident)) return;
        store.journal(incident.id, fresh.at, {
          step: "stats",
          status: "ok",
          detail: assessmentDetail(fresh),
        });
        resolve(store, incident, fresh.at, fresh, {
          acted: false,
          note: "recovered before the approved action ran; nothing was done",
        });
      });
      return;
    }
  }

  if (decision.kind === "failover") return failover(ctx, incident, decision);

  const target = deps.config.targets.find((t) => t.name === decision.target);
  if (!target) {
    store.transaction(() => {
      store.journal(incident.id, at, {
        step: "action",
        status: "failed",
        detail: { target: decision.target, detail: "target is no longer configured" },
      });
      replan(store, incident.id, at, now.getTime());
    });
    return;
  }
  return redeploy(ctx, incident, decision, target);
}

/**
 * Settles an action the responder stopped after sending (its row says `sending`, no answer was
 * recorded) as unknown, and journals that it will not be repeated. Run inside the store's
 * transaction; the caller settles the budget.
 */
export function settleInterrupted(
  store: IncidentStore,
  incidentId: string,
  pending: ActionRecord,
  at: string,
): void {
  store.settleAction(pending.id, "unknown", at, {
    ...pending.detail,
    note: "the responder stopped after sending",
  });
  store.journal(incidentId, at, {
    step: "action",
    status: "unknown",
    detail: {
      target: pending.target,
      ...(typeof pending.detail.action === "string" ? { action: pending.detail.action } : {}),
      detail:
        "the responder stopped between sending the call and recording its answer; it will not be repeated",
    },
  });
}

async function redeploy(
  ctx: StepContext,
  incident: IncidentRecord,
  decision: Extract<StoredDecision, { kind: "redeploy" }>,
  target: Target,
): Promise<void> {
  const { deps, store } = ctx;
  const now = deps.now();
  const at = now.toISOString();
  // On dedicated tiers, first end the responder's own user's long-running reads: they pin
  // connections busy, and ending them costs nothing. Shared tiers cannot list operations.
  const tier = incident.last?.tier ?? null;
  if (tier !== null && !isSharedTier(tier) && !incident.killOpDone) await killLongOperations(ctx, incident);

  const adapter = deps.adapter(target);
  if ((await adapter.deployInProgress()) === true) {
    store.transaction(() => {
      if (!stillActing(ctx, incident)) return;
      const deferrals = (store.incident(incident.id)?.deferrals ?? 0) + 1;
      if (deferrals >= MAX_DEFERRALS) {
        escalate(
          store,
          incident.id,
          at,
          `a deploy of ${target.name} has been running for over ${(MAX_DEFERRALS * DEPLOY_RUNNING_RETRY_MS) / 60_000} minutes`,
          { deferrals },
        );
        return;
      }
      store.journal(incident.id, at, {
        step: "action",
        status: "deferred",
        detail: { target: target.name, detail: "a deploy of this target is still running" },
      });
      store.update(incident.id, at, { deferrals, nextRunAt: now.getTime() + DEPLOY_RUNNING_RETRY_MS });
    });
    return;
  }

  const attempt =
    store.actions(incident.id).filter((a) => a.target === target.name && a.status !== "dry-run").length + 1;
  const request = actionRequest(incident.id, target.name, attempt, decision.reason);
  if (!(await reserveBudget(ctx, incident, request.idempotencyKey, target.name, at))) return;

  const call = adapter.plan(request);
  const actionId = store.transaction(() => {
    // Closed, moved on or snoozed while we checked the platform and the budget: send nothing.
    if (!stillActing(ctx, incident) || heldBySnooze(ctx, incident, at, now.getTime())) return null;
    store.journal(incident.id, at, { step: "action", status: "sending", detail: { ...call, attempt } });
    return store.addAction({
      incidentId: incident.id,
      target: target.name,
      kind: target.kind,
      attempt,
      status: "sending",
      at,
      idempotencyKey: request.idempotencyKey,
      detail: { ...call },
    });
  });
  if (actionId === null) {
    await settleBudget(ctx, request.idempotencyKey, "failed");
    return;
  }

  const outcome = await adapter.redeploy(request);

  const settled = deps.now();
  const when = settled.toISOString();
  store.transaction(() => {
    store.settleAction(actionId, outcome.kind, when, { ...call, outcome });
    const { kind, ...outcomeDetail } = outcome;
    store.journal(incident.id, when, {
      step: "action",
      status: kind,
      detail: { target: target.name, platform: target.kind, action: call.action, ...outcomeDetail },
    });
    // Atlas closed the incident while the call was out: record what happened, change nothing else.
    if (!stillActing(ctx, incident)) return;
    switch (kind) {
      case "started":
        return scheduleVerify(store, incident.id, when, settled.getTime(), deps.config.policy);
      case "failed":
        return replan(store, incident.id, when, settled.getTime());
      case "unknown":
        return escalate(
          store,
          incident.id,
          when,
          `the outcome of the call to ${target.name} is unknown: check it by hand`,
        );
    }
  });
  await settleBudget(ctx, request.idempotencyKey, outcome.kind);
}

/**
 * A snooze holds the cluster whatever the phase: an action not yet sent waits it out and is planned
 * again then (in approve mode, asked again). Run inside the store's transaction; true when held.
 */
function heldBySnooze(ctx: StepContext, incident: IncidentRecord, at: string, nowMs: number): boolean {
  const until = ctx.store.snoozedUntil(incident.clusterKey);
  if (until === null || Date.parse(until) <= nowMs) return false;
  ctx.store.journal(incident.id, at, {
    step: "action",
    status: "held",
    detail: { detail: `the cluster is snoozed until ${until}` },
  });
  waitUntil(ctx.store, incident.id, at, until, { reopen: true });
  return true;
}

/**
 * Ends the responder's own long-running reads, tried once per incident: a redeploy that follows is
 * the real fix. The try is recorded before the call, so a run that dies after it (its answer lost)
 * never ends reads a second time; a failed try is logged and not repeated.
 */
async function killLongOperations(ctx: StepContext, incident: IncidentRecord): Promise<void> {
  const tried = ctx.store.transaction(() => {
    if (!stillActing(ctx, incident)) return false;
    ctx.store.update(incident.id, ctx.deps.now().toISOString(), { killOpDone: true });
    return true;
  });
  if (!tried) return;
  const result = await ctx.deps.killLongOperations(ctx.groupId, incident.clusterName);
  if (!result) return;
  if (!result.ok) {
    ctx.deps.log.log("warn", "killop.failed", {
      incident: incident.id,
      reason: result.reason,
      error: result.error,
    });
    return;
  }
  const summary = (ops: ReadonlyArray<{ app: string; ns: string; secondsRunning: number }>) =>
    ops.map((op) => ({ app: op.app, ns: op.ns, secondsRunning: op.secondsRunning }));
  ctx.store.transaction(() => {
    ctx.store.journal(incident.id, result.at, {
      step: "action",
      status: "killop",
      detail: {
        killed: summary(result.killed),
        refused: summary(result.refused),
        spared: summary(result.spared),
        ...(result.skipped ? { skipped: result.skipped } : {}),
      },
    });
  });
}

async function failover(
  ctx: StepContext,
  incident: IncidentRecord,
  decision: Extract<StoredDecision, { kind: "failover" }>,
): Promise<void> {
  const { deps, store } = ctx;
  const at = deps.now().toISOString();
  const attempt = store.actions(incident.id).filter((a) => a.kind === "atlas").length + 1;
  const key = `${incident.id}:failover:${attempt}`;
  // A failover counts against the same hourly cap as any other action.
  if (!(await reserveBudget(ctx, incident, key, `failover:${incident.clusterName}`, at))) return;
  const actionId = store.transaction(() => {
    if (!stillActing(ctx, incident) || heldBySnooze(ctx, incident, at, Date.parse(at))) return null;
    store.journal(incident.id, at, {
      step: "action",
      status: "sending",
      detail: { target: incident.clusterName, kind: "atlas", action: "test failover", attempt },
    });
    store.recordFailover(incident.clusterKey, at);
    return store.addAction({
      incidentId: incident.id,
      target: incident.clusterName,
      kind: "atlas",
      attempt,
      status: "sending",
      at,
      idempotencyKey: key,
      detail: { action: "test failover", reason: decision.reason },
    });
  });
  if (actionId === null) {
    await settleBudget(ctx, key, "failed");
    return;
  }
  const result = await deps.failover(ctx.groupId, incident.clusterName);
  const settled = deps.now();
  const when = settled.toISOString();
  store.transaction(() => {
    store.settleAction(actionId, result.kind, when, { action: "test failover", detail: result.detail });
    store.journal(incident.id, when, {
      step: "action",
      status: result.kind,
      detail: { target: incident.clusterName, kind: "atlas", action: "test failover", detail: result.detail },
    });
    if (!stillActing(ctx, incident)) return;
    if (result.kind === "started")
      return scheduleVerify(store, incident.id, when, settled.getTime(), deps.config.policy);
    escalate(
      store,
      incident.id,
      when,
      result.kind === "unknown"
        ? "the outcome of Test Failover is unknown: check the cluster"
        : "Test Failover failed",
    );
  });
  await settleBudget(ctx, key, result.kind);
}
