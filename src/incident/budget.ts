/**
 * The global action budget around one call: reserve before sending (cooldown and hourly cap,
 * re-checked atomically by the limiter), settle after. The store is the source of truth for what
 * happened, so a failure to settle is only logged.
 */
import { describeError } from "../observability/log.ts";
import type { PastAction } from "../response/policy.ts";
import type { StepContext } from "./deps.ts";
import type { IncidentRecord } from "./record.ts";
import { waitUntil } from "./transitions.ts";

/**
 * Takes one action from the budget. When the budget says no, the incident waits and measures again
 * when it allows, and this answers false.
 */
export async function reserveBudget(
  ctx: StepContext,
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
  ctx.store.transaction(() => {
    if (!stillActing(ctx, incident)) return;
    ctx.store.journal(incident.id, at, {
      step: "plan",
      status: "blocked",
      detail: { target, reason: reservation.reason, until: reservation.until },
    });
    waitUntil(ctx.store, incident.id, at, reservation.until, { reopen: true });
  });
  return false;
}

/** Records how a reserved action ended. */
export async function settleBudget(
  ctx: StepContext,
  key: string,
  outcome: PastAction["outcome"],
): Promise<void> {
  try {
    await ctx.deps.limiter.settle(key, outcome);
  } catch (error) {
    ctx.deps.log.log("warn", "budget.settle-failed", { key, ...describeError(error) });
  }
}

/** Nothing closed or moved the incident while we were waiting on the network. */
export function stillActing(ctx: StepContext, incident: IncidentRecord): boolean {
  return ctx.store.incident(incident.id)?.phase === "act";
}
