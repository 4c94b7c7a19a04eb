/**
 * Measuring a cluster: every source read in parallel, combined into one assessment. Gather,
 * verification and the stale-plan check all measure the same way.
 */
import { createAlertStatsSource } from "../stats/alert-source.ts";
import { type Assessment, assess } from "../stats/assess.ts";
import type { StatsReading, StatsSource } from "../stats/types.ts";
import type { StepContext } from "./deps.ts";
import type { IncidentRecord } from "./record.ts";

/** Reads every source in parallel; a source that throws (a bug) is reported as a failed reading. */
export async function readAll(sources: readonly StatsSource[], now: Date): Promise<StatsReading[]> {
  return Promise.all(
    sources.map(async (source): Promise<StatsReading> => {
      try {
        return await source.read();
      } catch (error) {
        return {
          source: source.name,
          ok: false,
          at: now.toISOString(),
          reason: "unknown",
          error: `${source.name} failed unexpectedly: ${error instanceof Error ? error.name : typeof error}`,
          findings: [],
        };
      }
    }),
  );
}

/** Measures the incident's cluster; with `withAlert`, the alert's own figure counts as a source. */
export async function measure(
  ctx: StepContext,
  incident: IncidentRecord,
  withAlert: boolean,
): Promise<Assessment> {
  const { deps } = ctx;
  const alert = withAlert ? incident.alert : null;
  const sources = deps.sources({ groupId: ctx.groupId, cluster: incident.clusterName, alert });
  if (alert) sources.push(createAlertStatsSource(alert));
  const readings = await readAll(sources, deps.now());
  const tierHint = deps.config.cluster(ctx.groupId, incident.clusterName)?.tier;
  return assess({
    readings,
    history: ctx.store.readings(incident.clusterKey),
    tierHint: tierHint ?? null,
    now: deps.now(),
  });
}
