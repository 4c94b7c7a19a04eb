/**
 * The step machine: advances one incident by one phase. Each phase's outcome is journaled in the
 * same transaction that moves the incident on, so a run that dies mid-phase leaves the incident
 * where it was and the next run repeats that phase (gather, decide and verify only read; act is
 * guarded by its `sending` row). Expected failures are values the steps journal; anything thrown is
 * a bug or an outage, journaled and retried with a growing backoff.
 */
import { describeError } from "../observability/log.ts";
import { act } from "./act.ts";
import { decide } from "./decide.ts";
import type { StepContext } from "./deps.ts";
import { gather } from "./gather.ts";
import type { IncidentRecord } from "./record.ts";
import { verify } from "./verify.ts";

/** Backoff after a phase fails unexpectedly: grows per failure, capped. */
const ERROR_BACKOFF_MS = 30_000;
const MAX_ERROR_BACKOFF_MS = 15 * 60_000;
/** At most this many phase steps per run: a bug can never spin a run forever. */
export const MAX_STEPS_PER_RUN = 50;

export async function advance(ctx: StepContext, incident: IncidentRecord): Promise<void> {
  try {
    await step(ctx, incident);
    // A phase that completed ends a run of failures, whichever phase it was.
    if (incident.failures > 0) {
      ctx.store.transaction(() => {
        if ((ctx.store.incident(incident.id)?.failures ?? 0) > 0)
          ctx.store.update(incident.id, ctx.deps.now().toISOString(), { failures: 0 });
      });
    }
  } catch (error) {
    const failures = incident.failures + 1;
    const at = ctx.deps.now();
    const delay = Math.min(ERROR_BACKOFF_MS * 2 ** (failures - 1), MAX_ERROR_BACKOFF_MS);
    const described = describeError(error);
    ctx.deps.log.log("error", "pipeline.step-failed", {
      incident: incident.id,
      phase: incident.phase,
      ...described,
    });
    ctx.store.transaction(() => {
      ctx.store.journal(incident.id, at.toISOString(), {
        step: incident.phase,
        status: "error",
        detail: { ...described, retryInSeconds: delay / 1000 },
      });
      ctx.store.update(incident.id, at.toISOString(), { failures, nextRunAt: at.getTime() + delay });
    });
  }
}

async function step(ctx: StepContext, incident: IncidentRecord): Promise<void> {
  switch (incident.phase) {
    case "gather":
      return gather(ctx, incident, "stats");
    case "final-read":
      return gather(ctx, incident, "final");
    case "decide":
      return decide(ctx, incident);
    case "act":
      return act(ctx, incident);
    case "verify":
      return verify(ctx, incident);
    case "approval":
    case "idle":
      // Nothing is due in these phases; clear a stray schedule.
      ctx.store.transaction(() =>
        ctx.store.update(incident.id, ctx.deps.now().toISOString(), { nextRunAt: null }),
      );
      return;
  }
}

/**
 * Advances one incident while its turn has come, at most `MAX_STEPS_PER_RUN` phases; a door that
 * works on one cluster (the CLI) uses this so it never moves another cluster's incident unasked.
 */
export async function runIncident(ctx: StepContext, id: string, onStep?: () => void): Promise<number> {
  let steps = 0;
  for (let incident = ctx.store.incident(id); incident && steps < MAX_STEPS_PER_RUN; steps++) {
    if (incident.nextRunAt === null || incident.nextRunAt > ctx.deps.now().getTime()) break;
    await advance(ctx, incident);
    onStep?.();
    incident = ctx.store.incident(id);
  }
  return steps;
}

/** Advances every incident whose turn has come, at most `MAX_STEPS_PER_RUN` phases; answers how many ran. */
export async function runDue(ctx: StepContext): Promise<number> {
  let steps = 0;
  while (steps < MAX_STEPS_PER_RUN) {
    const due = ctx.store.nextDue(ctx.deps.now().getTime());
    if (!due) break;
    await advance(ctx, due);
    steps++;
  }
  return steps;
}
