/**
 * The response pipeline's sequencing: gather → decide → (approval) → act → verify, one phase per
 * call, each phase's outcome journaled in the same transaction that moves the incident on. The
 * ledger's alarm calls `advance` for every incident whose turn has come.
 *
 * Durability rules (DESIGN §5):
 * - A phase that dies before its transaction leaves the incident where it was; the alarm reruns it.
 *   Gather, decide and verify only read, so rerunning them is harmless.
 * - `act` writes a `sending` action row (and journal line) *before* calling the platform, and
 *   settles it after. An alarm that finds a `sending` row does not know whether the call went out:
 *   it marks it `unknown`, never repeats it, and escalates to a human. A crash before the row is
 *   written simply reruns `act`, which sends exactly once.
 */

import { isSharedTier } from "../atlas/tiers.ts";
import type { Target } from "../config/schema.ts";
import { describeError } from "../observability/log.ts";
import { preventionAdvice } from "../response/advice.ts";
import {
  type ClusterContext,
  type PipelineDeps,
  readAll,
  summarizeAssessment,
} from "../response/pipeline.ts";
import { type Decision, type PastAction, plan } from "../response/policy.ts";
import { createAlertStatsSource } from "../stats/alert-source.ts";
import { type Assessment, assess } from "../stats/assess.ts";
import type { IncidentRecord, LedgerStore } from "./store.ts";

/** How long to wait before re-checking when a platform says a deploy is still running. */
const DEPLOY_RUNNING_RETRY_MS = 2 * 60_000;
/** After this many checks of a deploy that stays running, a human should look (a stuck build). */
const MAX_DEFERRALS = 6;
/** A plan whose stats are older than this is checked again before it acts (a late approval). */
const STALE_PLAN_MS = 10 * 60_000;
/** Backoff after a phase fails unexpectedly: grows per failure, capped. */
const ERROR_BACKOFF_MS = 30_000;
const MAX_ERROR_BACKOFF_MS = 15 * 60_000;

export interface RunnerContext {
  groupId: string;
  store: LedgerStore;
  /** Runs `fn` as one SQLite transaction. */
  transaction<T>(fn: () => T): T;
  deps: PipelineDeps;
}

/** Advances one incident by one phase. Expected failures are journaled; bugs are caught and backed off. */
export async function advance(ctx: RunnerContext, incident: IncidentRecord): Promise<void> {
  try {
    switch (incident.phase) {
      case "gather":
        return await gather(ctx, incident, "stats");
      case "final-read":
        return await gather(ctx, incident, "final");
      case "decide":
        return await decide(ctx, incident);
      case "act":
        return await act(ctx, incident);
      case "verify":
        return await verify(ctx, incident);
      case "approval":
      case "idle":
        // Nothing is due in these phases; clear a stray schedule.
        ctx.transaction(() =>
          ctx.store.update(incident.id, ctx.deps.now().toISOString(), { nextRunAt: null }),
        );
        return;
    }
  } catch (error) {
    const failures = incident.failures + 1;
    const at = ctx.deps.now();
    const delay = Math.min(ERROR_BACKOFF_MS * 2 ** (failures - 1), MAX_ERROR_BACKOFF_MS);
    ctx.deps.log.log("error", "pipeline.step-failed", {
      incident: incident.id,
      phase: incident.phase,
      ...describeError(error),
    });
    ctx.transaction(() => {
      ctx.store.journal(incident.id, at.toISOString(), incident.phase, "error", {
        ...describeError(error),
        retryInSeconds: delay / 1000,
      });
      ctx.store.update(incident.id, at.toISOString(), { failures, nextRunAt: at.getTime() + delay });
    });
  }
}

function clusterContext(ctx: RunnerContext, incident: IncidentRecord, withAlert: boolean): ClusterContext {
  return { groupId: ctx.groupId, cluster: incident.clusterName, alert: withAlert ? incident.alert : null };
}

async function measure(
  ctx: RunnerContext,
  incident: IncidentRecord,
  withAlert: boolean,
): Promise<Assessment> {
  const { deps } = ctx;
  const context = clusterContext(ctx, incident, withAlert);
  const sources = deps.sources(context);
  if (withAlert && incident.alert) sources.push(createAlertStatsSource(incident.alert));
  const now = deps.now();
  const readings = await readAll(sources, now);
  const tierHint =
    deps.config.clusters.find(
      (c) => c.groupId.toLowerCase() === ctx.groupId && c.name === incident.clusterName,
    )?.tier ?? null;
  return assess({ readings, history: ctx.store.readings(incident.clusterKey), tierHint, now: deps.now() });
}

/** Names the cluster of an incident keyed on its replica set or host, when it can. */
async function identify(ctx: RunnerContext, incident: IncidentRecord): Promise<IncidentRecord | null> {
  if (incident.clusterKey.startsWith("name:")) return incident;
  const location = ctx.store.alertLocation(incident.id);
  const identity = location ? await ctx.deps.identify(ctx.groupId, location) : null;
  if (!identity) return incident;
  const at = ctx.deps.now().toISOString();
  const key = `name:${identity.cluster}`;
  return ctx.transaction(() => {
    const current = ctx.store.incident(incident.id);
    if (current?.phase !== incident.phase) return null;
    if (ctx.store.rename(incident.id, key, identity.cluster)) {
      ctx.store.journal(incident.id, at, "stats", "identified", {
        cluster: identity.cluster,
        via: identity.via,
      });
      return { ...incident, clusterKey: key, clusterName: identity.cluster };
    }
    // The cluster already has a live incident (another node's alert got there first): one
    // incident per cluster, so this one folds into it.
    const live = ctx.store.liveIncident(key)!;
    ctx.store.merge(incident.id, live.id, at);
    return null;
  });
}

async function gather(ctx: RunnerContext, original: IncidentRecord, kind: "stats" | "final"): Promise<void> {
  const incident = await identify(ctx, original);
  if (!incident) return;
  const assessment = await measure(ctx, incident, kind === "stats");
  const at = ctx.deps.now();
  ctx.transaction(() => {
    const current = ctx.store.incident(incident.id);
    if (!current || current.phase !== incident.phase) return; // moved on meanwhile (e.g. closed)
    if (assessment.current !== null)
      ctx.store.addReading(incident.clusterKey, assessment.at, assessment.current);
    const okSources = assessment.sources.filter((s) => s.ok).length;
    ctx.store.journal(
      incident.id,
      at.toISOString(),
      "stats",
      kind === "final" ? "final" : okSources === assessment.sources.length ? "ok" : "partial",
      summarizeAssessment(assessment),
    );
    if (kind === "final") {
      ctx.store.update(incident.id, at.toISOString(), {
        phase: "idle",
        nextRunAt: null,
        last: { ...assessment },
        failures: 0,
      });
      return;
    }
    ctx.store.update(incident.id, at.toISOString(), {
      phase: "decide",
      nextRunAt: at.getTime(),
      last: { ...assessment },
      ...(current.before ? {} : { before: { ...assessment } }),
      failures: 0,
    });
  });
}

function pastActions(ctx: RunnerContext, incident: IncidentRecord): PastAction[] {
  return ctx.store
    .actions(incident.id)
    .filter((a) => a.status !== "dry-run")
    .map((a) => ({ target: a.target, at: a.at, outcome: a.status as PastAction["outcome"] }));
}

async function decide(ctx: RunnerContext, incident: IncidentRecord): Promise<void> {
  const { deps, store } = ctx;
  const assessment = incident.last as unknown as Assessment | null;
  if (!assessment) {
    ctx.transaction(() =>
      store.update(incident.id, deps.now().toISOString(), {
        phase: "gather",
        nextRunAt: deps.now().getTime(),
      }),
    );
    return;
  }
  const recentActions = await deps.limiter.recent(deps.now());
  const now = deps.now();
  const decision = plan({
    assessment,
    cluster: incident.clusterName,
    policy: deps.config.policy,
    targets: deps.config.targets,
    attempts: pastActions(ctx, incident),
    recentActions,
    lastFailoverAt: store.lastFailoverAt(incident.clusterKey),
    snoozedUntil: store.snoozedUntil(incident.clusterKey),
    now,
  });
  const at = now.toISOString();
  const firstDecision = !store.actions(incident.id).length && incident.decision === null;

  ctx.transaction(() => {
    const current = store.incident(incident.id);
    if (current?.phase !== "decide") return;
    store.journal(incident.id, at, "plan", decision.kind, describeDecision(decision));
    if (
      firstDecision &&
      (decision.kind === "redeploy" || decision.kind === "failover" || decision.kind === "no-targets")
    ) {
      const culprits = decision.kind === "redeploy" ? decision.culprits : [];
      store.journal(incident.id, at, "advice", "ok", { advice: preventionAdvice(assessment, culprits) });
    }
    const mode = current.mode ?? deps.config.modeFor(ctx.groupId, incident.clusterName);
    const tried = store.actions(incident.id).filter((a) => a.status !== "dry-run").length > 0;
    switch (decision.kind) {
      case "below-threshold":
        store.update(incident.id, at, { state: "resolved", phase: "idle", nextRunAt: null, decision: null });
        store.journal(incident.id, at, "incident", "resolved", resolution(current, assessment, tried));
        closeIfManual(ctx, incident.id, at);
        return;
      case "cannot-measure":
      case "unknown-outcome":
      case "exhausted":
      case "no-targets":
        store.update(incident.id, at, { state: "escalated", phase: "idle", nextRunAt: null, decision: null });
        store.journal(incident.id, at, "incident", "escalated", { reason: escalationReason(decision) });
        return;
      case "snoozed":
        store.update(incident.id, at, { phase: "gather", nextRunAt: Date.parse(decision.until) });
        return;
      case "blocked":
        store.update(incident.id, at, {
          state: "open",
          phase: "gather",
          nextRunAt: Date.parse(decision.until),
        });
        return;
      case "redeploy":
      case "failover": {
        const stored = storedDecision(decision);
        if (mode === "notify") {
          store.update(incident.id, at, { phase: "idle", nextRunAt: null, decision: stored });
          store.journal(incident.id, at, "action", "notify-only", { wouldDo: describeDecision(decision) });
          return;
        }
        if (mode === "dry-run") {
          const calls =
            decision.kind === "redeploy"
              ? [
                  deps
                    .adapter(decision.target)
                    .plan(actionRequest(incident.id, decision.target.name, 1, decision.reason)),
                ]
              : [
                  {
                    target: incident.clusterName,
                    kind: "atlas",
                    action: "test failover",
                    method: "POST",
                    endpoint: "Atlas Admin API restartPrimaries",
                  },
                ];
          for (const call of calls) {
            store.addAction({
              incidentId: incident.id,
              target: call.target,
              kind: call.kind,
              attempt: 0,
              status: "dry-run",
              at,
              idempotencyKey: `${incident.id}:${call.target}:dry-run`,
              detail: { ...call },
            });
            store.journal(incident.id, at, "action", "dry-run", { ...call });
          }
          store.update(incident.id, at, { phase: "idle", nextRunAt: null, decision: stored });
          return;
        }
        // Failover drops every connection of the cluster: it always waits for a human.
        if (mode === "approve" || decision.kind === "failover") {
          store.update(incident.id, at, {
            state: "awaiting-approval",
            phase: "approval",
            nextRunAt: null,
            decision: stored,
          });
          store.journal(incident.id, at, "approval", "requested", describeDecision(decision));
          return;
        }
        store.update(incident.id, at, {
          state: "acting",
          phase: "act",
          nextRunAt: now.getTime(),
          decision: stored,
        });
        return;
      }
    }
  });
}

/**
 * A resolved incident that no Atlas alert joined has nobody left to close it (Atlas closes only
 * its own alerts): it closes now, so the cluster's next alert starts fresh.
 */
function closeIfManual(ctx: RunnerContext, id: string, at: string): void {
  if (ctx.store.hasAtlasAlerts(id)) return;
  ctx.store.update(id, at, { state: "closed", closedAt: at });
  ctx.store.journal(id, at, "incident", "closed", { reason: "resolved, and no Atlas alert is open for it" });
}

/** Records the outcome in the global budget; the ledger is the source of truth, so a failure here is only logged. */
async function settleBudget(ctx: RunnerContext, key: string, outcome: PastAction["outcome"]): Promise<void> {
  try {
    await ctx.deps.limiter.settle(key, outcome);
  } catch (error) {
    ctx.deps.log.log("warn", "budget.settle-failed", { key, ...describeError(error) });
  }
}

/**
 * Takes one action from the global budget (cooldown and hourly cap, re-checked atomically). When
 * the budget says no, the incident waits and measures again when it allows; answers false then.
 */
async function reserveBudget(
  ctx: RunnerContext,
  incident: IncidentRecord,
  key: string,
  target: string,
  at: string,
): Promise<boolean> {
  const { policy } = ctx.deps.config;
  const reservation = await ctx.deps.limiter.reserve({
    key,
    target,
    at,
    cooldownMinutes: policy.cooldownMinutes,
    maxActionsPerHour: policy.maxActionsPerHour,
  });
  if (reservation.ok) return true;
  ctx.transaction(() => {
    if (!stillActing(ctx, incident)) return;
    ctx.store.journal(incident.id, at, "plan", "blocked", {
      target,
      reason: reservation.reason,
      until: reservation.until,
    });
    ctx.store.update(incident.id, at, {
      state: "open",
      phase: "gather",
      nextRunAt: Date.parse(reservation.until),
      decision: null,
    });
  });
  return false;
}

/** Nothing closed or moved the incident while we were waiting on the network. */
function stillActing(ctx: RunnerContext, incident: IncidentRecord): boolean {
  return ctx.store.incident(incident.id)?.phase === "act";
}

async function act(ctx: RunnerContext, incident: IncidentRecord): Promise<void> {
  const { deps, store } = ctx;
  const now = deps.now();
  const at = now.toISOString();
  const decision = incident.decision as StoredDecision | null;

  // An action journaled as sending but never settled: its outcome is unknown. Never send it again.
  const pending = store.actions(incident.id).find((a) => a.status === "sending");
  if (pending) {
    ctx.transaction(() => {
      store.settleAction(pending.id, "unknown", at, {
        ...pending.detail,
        note: "the responder stopped after sending",
      });
      store.journal(incident.id, at, "action", "unknown", {
        target: pending.target,
        detail:
          "the responder stopped between sending the call and recording its answer; it will not be repeated",
      });
      if (stillActing(ctx, incident)) {
        store.update(incident.id, at, { state: "escalated", phase: "idle", nextRunAt: null });
        store.journal(incident.id, at, "incident", "escalated", {
          reason: `the outcome of the call to ${pending.target} is unknown: check it by hand`,
        });
      }
    });
    await settleBudget(ctx, pending.idempotencyKey, "unknown");
    return;
  }
  if (!decision) {
    ctx.transaction(() => store.update(incident.id, at, { phase: "decide", nextRunAt: now.getTime() }));
    return;
  }

  // The mode is read again here: switching to notify or dry-run stops an approved action too.
  const mode = incident.mode ?? deps.config.modeFor(ctx.groupId, incident.clusterName);
  if (mode === "notify" || mode === "dry-run") {
    ctx.transaction(() => {
      store.journal(incident.id, at, "action", "held", { detail: `the mode is now ${mode}` });
      store.update(incident.id, at, { phase: "decide", nextRunAt: now.getTime() });
    });
    return;
  }

  // A plan approved long after its stats were read acts only if the cluster still needs it.
  const measuredAt = Date.parse(String((incident.last as { at?: string } | null)?.at ?? ""));
  if (!(now.getTime() - measuredAt <= STALE_PLAN_MS)) {
    const fresh = await measure(ctx, incident, false);
    if (fresh.percent !== null && fresh.percent < deps.config.policy.actAtPercent) {
      ctx.transaction(() => {
        if (!stillActing(ctx, incident)) return;
        store.journal(incident.id, fresh.at, "stats", "ok", summarizeAssessment(fresh));
        store.update(incident.id, fresh.at, {
          state: "resolved",
          phase: "idle",
          nextRunAt: null,
          last: { ...fresh },
          decision: null,
        });
        store.journal(incident.id, fresh.at, "incident", "resolved", {
          ...resolution(incident, fresh, false),
          note: "recovered before the approved action ran; nothing was done",
        });
      });
      return;
    }
  }

  if (decision.kind === "failover") return failover(ctx, incident, decision);

  const target = deps.config.targets.find((t) => t.name === decision.target);
  if (!target) {
    ctx.transaction(() => {
      store.journal(incident.id, at, "action", "failed", {
        target: decision.target,
        detail: "target is no longer configured",
      });
      store.update(incident.id, at, { phase: "decide", nextRunAt: now.getTime(), decision: null });
    });
    return;
  }
  // On dedicated tiers, first end the responder's own user's long-running reads: they pin
  // connections busy, and ending them costs nothing. Shared tiers cannot list operations.
  const tier = (incident.last as { tier?: string | null } | null)?.tier ?? null;
  if (tier !== null && !isSharedTier(tier)) await killLongOperations(ctx, incident);

  const adapter = deps.adapter(target);
  if ((await adapter.deployInProgress()) === true) {
    ctx.transaction(() => {
      if (!stillActing(ctx, incident)) return;
      const deferrals = store.countJournal(incident.id, "action", "deferred");
      if (deferrals + 1 >= MAX_DEFERRALS) {
        store.update(incident.id, at, { state: "escalated", phase: "idle", nextRunAt: null });
        store.journal(incident.id, at, "incident", "escalated", {
          reason: `a deploy of ${target.name} has been running for over ${(MAX_DEFERRALS * DEPLOY_RUNNING_RETRY_MS) / 60_000} minutes`,
        });
        return;
      }
      store.journal(incident.id, at, "action", "deferred", {
        target: target.name,
        detail: "a deploy of this target is still running",
      });
      store.update(incident.id, at, { nextRunAt: now.getTime() + DEPLOY_RUNNING_RETRY_MS });
    });
    return;
  }

  const attempt =
    store.actions(incident.id).filter((a) => a.target === target.name && a.status !== "dry-run").length + 1;
  const request = actionRequest(incident.id, target.name, attempt, decision.reason);
  if (!(await reserveBudget(ctx, incident, request.idempotencyKey, target.name, at))) return;

  const call = adapter.plan(request);
  const actionId = ctx.transaction(() => {
    // Closed or moved on while we checked the platform and the budget: send nothing.
    if (!stillActing(ctx, incident)) return null;
    store.journal(incident.id, at, "action", "sending", { ...call, attempt });
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

  const settledAt = deps.now();
  ctx.transaction(() => {
    store.settleAction(actionId, outcome.kind, settledAt.toISOString(), { ...call, outcome });
    const { kind: _outcome, ...outcomeDetail } = outcome;
    store.journal(incident.id, settledAt.toISOString(), "action", outcome.kind, {
      target: target.name,
      platform: target.kind,
      ...outcomeDetail,
    });
    // Atlas closed the incident while the call was out: record what happened, change nothing else.
    if (!stillActing(ctx, incident)) return;
    switch (outcome.kind) {
      case "started": {
        const first = deps.config.policy.verifyAfterSeconds[0]!;
        store.update(incident.id, settledAt.toISOString(), {
          state: "verifying",
          phase: "verify",
          checksDone: 0,
          nextRunAt: settledAt.getTime() + first * 1000,
        });
        return;
      }
      case "failed":
        store.update(incident.id, settledAt.toISOString(), {
          phase: "decide",
          nextRunAt: settledAt.getTime(),
          decision: null,
        });
        return;
      case "unknown":
        store.update(incident.id, settledAt.toISOString(), {
          state: "escalated",
          phase: "idle",
          nextRunAt: null,
        });
        store.journal(incident.id, settledAt.toISOString(), "incident", "escalated", {
          reason: `the outcome of the call to ${target.name} is unknown: check it by hand`,
        });
        return;
    }
  });
  await settleBudget(ctx, request.idempotencyKey, outcome.kind);
}

async function killLongOperations(ctx: RunnerContext, incident: IncidentRecord): Promise<void> {
  // Once per incident: a redeploy that follows is the real fix.
  if (ctx.store.countJournal(incident.id, "action", "killop") > 0) return;
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
  ctx.transaction(() =>
    ctx.store.journal(incident.id, result.at, "action", "killop", {
      killed: summary(result.killed),
      refused: summary(result.refused),
      spared: summary(result.spared),
      ...(result.skipped ? { skipped: result.skipped } : {}),
    }),
  );
}

async function failover(
  ctx: RunnerContext,
  incident: IncidentRecord,
  decision: StoredDecision,
): Promise<void> {
  const { deps, store } = ctx;
  const at = deps.now().toISOString();
  const attempt = store.actions(incident.id).filter((a) => a.kind === "atlas").length + 1;
  const key = `${incident.id}:failover:${attempt}`;
  // A failover counts against the same hourly cap as any other action.
  if (!(await reserveBudget(ctx, incident, key, `failover:${incident.clusterName}`, at))) return;
  const actionId = ctx.transaction(() => {
    if (!stillActing(ctx, incident)) return null;
    store.journal(incident.id, at, "action", "sending", {
      target: incident.clusterName,
      kind: "atlas",
      action: "test failover",
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
  ctx.transaction(() => {
    store.settleAction(actionId, result.kind, when, { action: "test failover", detail: result.detail });
    store.journal(incident.id, when, "action", result.kind, {
      target: incident.clusterName,
      kind: "atlas",
      detail: result.detail,
    });
    if (!stillActing(ctx, incident)) return;
    if (result.kind === "started") {
      store.update(incident.id, when, {
        state: "verifying",
        phase: "verify",
        checksDone: 0,
        nextRunAt: settled.getTime() + deps.config.policy.verifyAfterSeconds[0]! * 1000,
      });
      return;
    }
    store.update(incident.id, when, { state: "escalated", phase: "idle", nextRunAt: null });
    store.journal(incident.id, when, "incident", "escalated", {
      reason:
        result.kind === "unknown"
          ? "the outcome of Test Failover is unknown: check the cluster"
          : "Test Failover failed",
    });
  });
  await settleBudget(ctx, key, result.kind);
}

async function verify(ctx: RunnerContext, incident: IncidentRecord): Promise<void> {
  const { deps, store } = ctx;
  const assessment = await measure(ctx, incident, false);
  const now = deps.now();
  const at = now.toISOString();
  const checks = deps.config.policy.verifyAfterSeconds;
  const threshold = deps.config.policy.actAtPercent;
  ctx.transaction(() => {
    const current = store.incident(incident.id);
    if (current?.phase !== "verify") return;
    if (assessment.current !== null) store.addReading(incident.clusterKey, assessment.at, assessment.current);
    const done = current.checksDone + 1;
    const recovered = assessment.percent !== null && assessment.percent < threshold;
    store.journal(
      incident.id,
      at,
      "verify",
      assessment.percent === null ? "unmeasured" : recovered ? "recovered" : "still-high",
      {
        check: done,
        of: checks.length,
        ...summarizeAssessment(assessment),
      },
    );
    if (recovered) {
      store.update(incident.id, at, {
        state: "resolved",
        phase: "idle",
        nextRunAt: null,
        last: { ...assessment },
        checksDone: done,
        decision: null,
      });
      store.journal(incident.id, at, "incident", "resolved", resolution(current, assessment, true));
      closeIfManual(ctx, incident.id, at);
      return;
    }
    if (done < checks.length) {
      const lastAction = store
        .actions(incident.id)
        .filter((a) => a.status === "started")
        .at(-1);
      const base = lastAction ? Date.parse(lastAction.at) : now.getTime();
      store.update(incident.id, at, {
        checksDone: done,
        nextRunAt: Math.max(now.getTime(), base + checks[done]! * 1000),
        last: { ...assessment },
      });
      return;
    }
    if (assessment.percent === null) {
      store.update(incident.id, at, { state: "escalated", phase: "idle", nextRunAt: null, checksDone: done });
      store.journal(incident.id, at, "incident", "escalated", {
        reason: "recovery could not be measured: no live stats source answered",
      });
      return;
    }
    // Still high after every check: plan again (the next target, or escalation).
    store.update(incident.id, at, {
      state: "open",
      phase: "decide",
      nextRunAt: now.getTime(),
      last: { ...assessment },
      checksDone: done,
      decision: null,
    });
  });
}

// -- decisions as stored and journaled ------------------------------------------------------------

type StoredDecision =
  | { kind: "redeploy"; target: string; reason: string; culprits: string[] }
  | { kind: "failover"; reason: string };

function storedDecision(decision: Extract<Decision, { kind: "redeploy" | "failover" }>): StoredDecision {
  return decision.kind === "redeploy"
    ? {
        kind: "redeploy",
        target: decision.target.name,
        reason: decision.reason,
        culprits: decision.culprits.map((c) => c.app),
      }
    : { kind: "failover", reason: decision.reason };
}

/** A decision as a journal detail: names and figures only. */
export function describeDecision(decision: Decision): Record<string, unknown> {
  switch (decision.kind) {
    case "redeploy":
      return {
        target: decision.target.name,
        kind: decision.target.kind,
        reason: decision.reason,
        culprits: decision.culprits.map((c) => c.app),
      };
    case "failover":
      return { action: "test failover", reason: decision.reason };
    case "below-threshold":
      return { percent: decision.percent, threshold: decision.threshold };
    case "blocked":
      return { target: decision.target, reason: decision.reason, until: decision.until };
    case "snoozed":
      return { until: decision.until };
    case "unknown-outcome":
      return { target: decision.target };
    case "exhausted":
      return { tried: decision.tried };
    case "no-targets":
      return { reason: decision.reason };
    case "cannot-measure":
      return { reason: "no source could measure the connections" };
  }
}

function escalationReason(decision: Decision): string {
  switch (decision.kind) {
    case "cannot-measure":
      return "no source could measure the connections, so nothing was done blind";
    case "unknown-outcome":
      return `the outcome of an earlier call to ${decision.target} is unknown`;
    case "exhausted":
      return `still above the threshold after redeploying ${decision.tried.join(", ")}`;
    case "no-targets":
      return decision.reason;
    default:
      return decision.kind;
  }
}

function resolution(incident: IncidentRecord, after: Assessment, acted: boolean): Record<string, unknown> {
  const before = incident.before as { current?: number | null; percent?: number | null } | null;
  return {
    before: { current: before?.current ?? null, percent: before?.percent ?? null },
    after: { current: after.current, percent: after.percent },
    note: acted ? "connections came down after the action" : "already below the threshold; nothing was done",
  };
}

function actionRequest(incidentId: string, target: string, attempt: number, reason: string) {
  return { incidentId, reason, idempotencyKey: `${incidentId}:${target}:${attempt}` };
}

export type { Target };
