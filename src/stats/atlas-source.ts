/**
 * Connection stats from the Atlas Admin API (source "atlas-admin"): the cluster's tier and per-node
 * limit, and the CONNECTIONS measurements of its nodes (PT1M over PT1H). The limit applies per node
 * (per mongos when sharded), so `current` is the busiest node's latest point and `series` is the
 * busiest node's value minute by minute.
 *
 * Flex clusters: the cluster API refuses them (400 CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API), so that
 * answer, or a 404, sends us to the Flex API once; a second 404 means the cluster does not exist.
 *
 * Trade-off: a read costs two calls plus one per measured node, capped at ATLAS_MAX_MEASURED_PROCESSES
 * (primaries and mongos first) because measurements share Monitoring's 100/min project budget. When the
 * cluster cannot be read the source fails (`ok: false`, safe message); when only processes or
 * measurements fail it still reports tier and limit, with a "partial" finding. Upstream failures are
 * values; any other exception is a bug and propagates.
 */
import type { AtlasAdminClient } from "../atlas/admin-client.ts";
import type { AtlasCluster, AtlasProcess } from "../atlas/admin-schemas.ts";
import { processesOfCluster } from "../atlas/cluster-identity.ts";
import { connectionLimit } from "../atlas/tiers.ts";
import { ATLAS_MAX_MEASURED_PROCESSES } from "../constants.ts";
import { isUpstreamHttpError, isUpstreamNetworkError, isUpstreamTimeoutError } from "../errors.ts";
import type { Clock } from "../outbound/http.ts";
import type { FailureReason, Finding, SeriesPoint, StatsReading, StatsSource } from "./types.ts";

export const ATLAS_SOURCE_NAME = "atlas-admin";

export interface AtlasStatsSourceOptions {
  client: Pick<
    AtlasAdminClient,
    "getCluster" | "getFlexCluster" | "listProcesses" | "getProcessMeasurements"
  >;
  groupId: string;
  clusterName: string;
  clock: Clock;
}

/** Nodes that face the applications come first when the number of measured nodes is capped. */
const MEASURE_ORDER: Record<string, number> = {
  REPLICA_PRIMARY: 0,
  SHARD_MONGOS: 0,
  SHARD_PRIMARY: 1,
  SHARD_STANDALONE: 1,
  REPLICA_SECONDARY: 2,
  SHARD_SECONDARY: 2,
  RECOVERING: 3,
  SHARD_CONFIG: 4,
};

/** Maps an upstream failure to a reason and a message safe anywhere; undefined for anything else (a bug). */
export function describeUpstreamFailure(
  error: unknown,
): { reason: FailureReason; message: string } | undefined {
  if (isUpstreamTimeoutError(error)) return { reason: "timeout", message: error.message };
  // The transport failed before Atlas answered: an HTTP-level failure of this source, not evidence
  // that the cluster refuses connections ("refused" is the MongoDB source's word for that).
  if (isUpstreamNetworkError(error)) return { reason: "http", message: error.message };
  if (isUpstreamHttpError(error)) {
    const reason =
      error.status === 401 || error.status === 403 ? "auth" : error.status === 404 ? "not-found" : "http";
    return { reason, message: error.message };
  }
  return undefined;
}

async function describeCluster(options: AtlasStatsSourceOptions): Promise<AtlasCluster> {
  const { client, groupId, clusterName } = options;
  try {
    return await client.getCluster(groupId, clusterName);
  } catch (error) {
    const flexHint =
      isUpstreamHttpError(error) &&
      (error.code === "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API" || error.status === 404);
    if (!flexHint) throw error;
    try {
      return await client.getFlexCluster(groupId, clusterName);
    } catch (flexError) {
      // Not a Flex cluster either: the cluster API's answer is the one to report.
      if (isUpstreamHttpError(flexError) && (flexError.status === 404 || flexError.status === 400))
        throw error;
      throw flexError;
    }
  }
}

function lastValue(points: ReadonlyArray<{ value: number | null }>): number | undefined {
  for (let i = points.length - 1; i >= 0; i--) {
    const value = points[i]?.value;
    if (value !== null && value !== undefined) return value;
  }
  return undefined;
}

/** Creates the Admin API stats source for one cluster. */
export function createAtlasStatsSource(options: AtlasStatsSourceOptions): StatsSource {
  const { client, groupId, clock } = options;

  async function read(): Promise<StatsReading> {
    const at = new Date(clock.now()).toISOString();
    const findings: Finding[] = [];

    let cluster: AtlasCluster;
    try {
      cluster = await describeCluster(options);
    } catch (error) {
      const failure = describeUpstreamFailure(error);
      if (!failure) throw error;
      return {
        source: ATLAS_SOURCE_NAME,
        ok: false,
        at,
        reason: failure.reason,
        error: failure.message,
        findings,
      };
    }

    const tier = cluster.tier;
    const limit = connectionLimit({ tier, provider: cluster.cloudProvider })?.limit;
    if (tier === undefined)
      findings.push({ kind: "partial", detail: "Atlas did not report the cluster's tier" });
    else if (limit === undefined)
      findings.push({ kind: "partial", detail: `no documented connection limit for ${tier}` });
    if (cluster.paused) findings.push({ kind: "partial", detail: "the cluster is paused" });

    const base = { source: ATLAS_SOURCE_NAME, ok: true as const, at, tier, limit, findings };

    let nodes: AtlasProcess[];
    try {
      nodes = processesOfCluster(cluster, await client.listProcesses(groupId));
    } catch (error) {
      const failure = describeUpstreamFailure(error);
      if (!failure) throw error;
      findings.push({ kind: "partial", detail: `processes unavailable: ${failure.message}` });
      return base;
    }
    if (nodes.length === 0) {
      findings.push({ kind: "partial", detail: "the Admin API lists no processes for this cluster" });
      return base;
    }

    const measured = [...nodes]
      .sort((a, b) => (MEASURE_ORDER[a.typeName ?? ""] ?? 5) - (MEASURE_ORDER[b.typeName ?? ""] ?? 5))
      .slice(0, ATLAS_MAX_MEASURED_PROCESSES);
    if (measured.length < nodes.length) {
      findings.push({ kind: "partial", detail: `measured ${measured.length} of ${nodes.length} nodes` });
    }

    const results = await Promise.allSettled(
      measured.map((node) => client.getProcessMeasurements(groupId, node.id, { metrics: ["CONNECTIONS"] })),
    );
    const failures: string[] = [];
    const perMinute = new Map<string, number>();
    let current: number | undefined;
    for (const result of results) {
      if (result.status === "rejected") {
        const failure = describeUpstreamFailure(result.reason);
        if (!failure) throw result.reason;
        failures.push(failure.message);
        continue;
      }
      const points = result.value.measurements.find((m) => m.name === "CONNECTIONS")?.points ?? [];
      const latest = lastValue(points);
      if (latest !== undefined) current = Math.max(current ?? latest, latest);
      for (const point of points) {
        if (point.value === null) continue;
        perMinute.set(point.at, Math.max(perMinute.get(point.at) ?? point.value, point.value));
      }
    }
    if (failures.length > 0) {
      findings.push({
        kind: "partial",
        detail: `${failures.length} of ${measured.length} nodes could not be measured: ${failures[0]}`,
      });
    }
    if (current === undefined && failures.length < measured.length) {
      findings.push({
        kind: "partial",
        detail: "Atlas returned no CONNECTIONS data points for this cluster",
      });
    }

    const series: SeriesPoint[] = [...perMinute]
      .map(([pointAt, value]) => ({ at: pointAt, value }))
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    return { ...base, current, series };
  }

  return { name: ATLAS_SOURCE_NAME, read };
}
