/**
 * Gather: name the cluster if the alert did not, measure it, and journal what was measured. Only
 * reads, so an alarm that dies here simply runs it again.
 */
import { settleInterrupted } from "./act.ts";
import { settleBudget } from "./budget.ts";
import type { StepContext } from "./deps.ts";
import { assessmentDetail } from "./journal.ts";
import { measure } from "./measure.ts";
import type { IncidentRecord } from "./record.ts";
import { close } from "./transitions.ts";

/** `stats` measures before deciding; `final` is the last read after the incident closed. */
export async function gather(
  ctx: StepContext,
  original: IncidentRecord,
  kind: "stats" | "final",
): Promise<void> {
  const incident = await identify(ctx, original);
  if (!incident) return;
  const assessment = await measure(ctx, incident, kind === "stats");
  const at = ctx.deps.now();
  const { store } = ctx;
  const interrupted: string[] = [];
  store.transaction(() => {
    const current = store.incident(incident.id);
    if (!current || current.phase !== incident.phase) return; // moved on meanwhile (e.g. closed)
    if (assessment.current !== null) store.addReading(incident.clusterKey, assessment.at, assessment.current);
    const complete = assessment.sources.every((s) => s.ok);
    store.journal(incident.id, at.toISOString(), {
      step: "stats",
      status: kind === "final" ? "final" : complete ? "ok" : "partial",
      detail: assessmentDetail(assessment),
    });
    if (kind === "final") {
      // Closed while an action's answer was never recorded (the run stopped after sending): say
      // its outcome is unknown, or the journal would show it as still being sent.
      for (const pending of store.actions(incident.id).filter((a) => a.status === "sending")) {
        settleInterrupted(store, incident.id, pending, at.toISOString());
        interrupted.push(pending.idempotencyKey);
      }
      store.update(incident.id, at.toISOString(), {
        phase: "idle",
        nextRunAt: null,
        last: assessment,
        failures: 0,
      });
      return;
    }
    store.update(incident.id, at.toISOString(), {
      phase: "decide",
      nextRunAt: at.getTime(),
      last: assessment,
      ...(current.before ? {} : { before: assessment }),
      failures: 0,
    });
  });
  for (const key of interrupted) await settleBudget(ctx, key, "unknown");
}

/** Where the incident's latest alert says it happened, for naming a cluster the alert did not name. */
function alertLocation(
  ctx: StepContext,
  id: string,
): { replicaSetName?: string; hostnameAndPort?: string } | null {
  const latest = ctx.store.deliveries(id).at(-1);
  if (!latest) return null;
  try {
    const alert = JSON.parse(latest.alertJson) as { replicaSetName?: unknown; hostnameAndPort?: unknown };
    return {
      ...(typeof alert.replicaSetName === "string" ? { replicaSetName: alert.replicaSetName } : {}),
      ...(typeof alert.hostnameAndPort === "string" ? { hostnameAndPort: alert.hostnameAndPort } : {}),
    };
  } catch {
    return null;
  }
}

/**
 * Names the cluster of an incident keyed on its replica set or host, when it can. Answers the
 * incident to go on with, or null when it folded into the cluster's live incident or moved on.
 */
async function identify(ctx: StepContext, incident: IncidentRecord): Promise<IncidentRecord | null> {
  if (incident.clusterKey.startsWith("name:")) return incident;
  const location = alertLocation(ctx, incident.id);
  const identity = location ? await ctx.deps.identify(ctx.groupId, location) : null;
  if (!identity) return incident;
  const at = ctx.deps.now().toISOString();
  const key = `name:${identity.cluster}`;
  const { store } = ctx;
  return store.transaction(() => {
    const current = store.incident(incident.id);
    if (current?.phase !== incident.phase) return null;
    if (store.rename(incident.id, key, identity.cluster)) {
      store.journal(incident.id, at, {
        step: "stats",
        status: "identified",
        detail: { cluster: identity.cluster, via: identity.via },
      });
      return { ...incident, clusterKey: key, clusterName: identity.cluster };
    }
    // A closed incident (its final read) keeps its alerts: folding them into the live one would
    // give it alerts that already closed, and nobody left to close it.
    if (current.state === "closed") return incident;
    // The cluster already has a live incident (another node's alert got there first): one
    // incident per cluster, so this one folds into it.
    const live = store.liveIncident(key)!;
    store.moveAlerts(incident.id, live.id);
    store.journal(live.id, at, { step: "intake", status: "merged", detail: { from: incident.id } });
    close(store, incident.id, at, `the same cluster as incident ${live.id}`);
    return null;
  });
}
