/**
 * A realistic Atlas connection alert, for `npm run alert:test` and the local sandbox (Atlas has no
 * button that sends a test alert). It has the fields of a real CONNECTIONS_PERCENT host-metric alert.
 * The alert id is derived from the project and cluster, so an OPEN and a later CLOSED for the same
 * cluster are the same Atlas alert, as they would be for real.
 */
import type { AtlasEvent } from "./alert.ts";

export interface SampleAlertOptions {
  groupId: string;
  cluster: string;
  percent: number;
  status: "OPEN" | "CLOSED";
  now: Date;
}

/** 24 hex characters from a string: stable ids for the same project and cluster. */
async function stableHexId(seed: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seed)));
  return Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The alert body and the `X-MMS-Event` Atlas would send with it. */
export async function sampleConnectionAlert(
  options: SampleAlertOptions,
): Promise<{ body: Record<string, unknown>; event: AtlasEvent }> {
  const { groupId, cluster, percent, status, now } = options;
  const id = await stableHexId(`alert:${groupId}:${cluster}`);
  const configId = await stableHexId(`config:${groupId}`);
  const host = `${cluster.toLowerCase()}-shard-00-00.example.mongodb.net:27017`;
  const at = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const body: Record<string, unknown> = {
    id,
    alertConfigId: configId,
    groupId,
    eventTypeName: "OUTSIDE_METRIC_THRESHOLD",
    typeName: "HOST_METRIC",
    status,
    created: at,
    updated: at,
    lastNotified: at,
    clusterName: cluster,
    replicaSetName: `${cluster.toLowerCase()}-shard-0`,
    hostnameAndPort: host,
    metricName: "CONNECTIONS_PERCENT",
    currentValue: { number: percent, units: "RAW" },
    humanReadable: `Host ${host} has Connections % of configured limit ${status === "OPEN" ? "above" : "back below"} the threshold: ${percent}. (test alert from atlas-responder)`,
  };
  if (status === "CLOSED") body.resolved = at;
  return { body, event: status === "OPEN" ? "alert.open" : "alert.close" };
}
