/**
 * The Atlas alert as it arrives on the webhook, and what it means for the responder.
 *
 * The body has the shape of the Admin API Alerts resource (notes/atlas.md §1.3). The schema is strict
 * about what the responder relies on (ids, status, timestamps, the metric and its value) and ignores
 * everything else, so a new Atlas field never breaks intake. Unknown keys are dropped rather than
 * copied, which also keeps keys like `__proto__` out of anything we store.
 */
import * as z from "zod";

/** Alert metrics that are about connections; every other alert is journaled and ignored. */
export const CONNECTION_METRICS = new Set([
  "CONNECTIONS",
  "CONNECTIONS_PERCENT",
  "CONNECTIONS_MAX",
  "FLEX_CONNECTIONS",
  "FLEX_CONNECTIONS_PERCENT",
  "SERVERLESS_CONNECTIONS",
  "SERVERLESS_CONNECTIONS_PERCENT",
]);

/** Metrics whose value is a percentage of the connection limit rather than a count. */
export const PERCENT_METRICS = new Set([
  "CONNECTIONS_PERCENT",
  "FLEX_CONNECTIONS_PERCENT",
  "SERVERLESS_CONNECTIONS_PERCENT",
]);

/** `X-MMS-Event` values Atlas sends (notes/atlas.md §1.2). */
export const ATLAS_EVENTS = [
  "alert.open",
  "alert.update",
  "alert.close",
  "alert.acknowledge",
  "alert.cancel",
  "alert.inform",
] as const;
export type AtlasEvent = (typeof ATLAS_EVENTS)[number];

const isoTimestamp = z.iso.datetime({ offset: true, error: "must be an ISO-8601 timestamp" });
const shortText = (max: number) => z.string().max(max);

/**
 * The metric's value. Both fields are optional in the spec (`HostMetricValue`, `RawMetricValueView`);
 * `units` is free text because Atlas sends `RAW` for connection metrics, which the spec's enum lacks.
 * A value without a number tells the responder nothing, so it is dropped rather than refused.
 */
const currentValueSchema = z
  .object({ number: z.number().finite().optional(), units: shortText(64).optional() })
  .optional()
  .transform((value) =>
    value?.number === undefined
      ? undefined
      : { number: value.number, ...(value.units === undefined ? {} : { units: value.units }) },
  );

const projectId = z.string().regex(/^[0-9a-f]{1,64}$/i, "must be an Atlas project id (hex)");

/**
 * The body as Atlas may deliver it. Only what the spec requires of every alert view we parse
 * (`id`, `eventTypeName`, `status`, `created`, `updated`) is required; `groupId` is optional there,
 * and an alert without one is routed to its project through `CLUSTERS` by the webhook route.
 */
export const atlasAlertBodySchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an Atlas id"),
  groupId: projectId.optional(),
  eventTypeName: shortText(128).min(1),
  status: z.enum(["OPEN", "TRACKING", "CLOSED", "CANCELLED", "INFORMATIONAL"]),
  created: isoTimestamp,
  updated: isoTimestamp,
  alertConfigId: shortText(64).optional(),
  orgId: shortText(64).optional(),
  typeName: shortText(128).optional(),
  metricName: shortText(128).optional(),
  currentValue: currentValueSchema,
  clusterName: shortText(128).min(1).optional(),
  replicaSetName: shortText(256).min(1).optional(),
  hostnameAndPort: shortText(300).min(1).optional(),
  lastNotified: isoTimestamp.optional(),
  resolved: isoTimestamp.optional(),
  humanReadable: shortText(8192).optional(),
});
export type AtlasAlertBody = z.infer<typeof atlasAlertBodySchema>;

/** An alert that names its project: what the ledger records. */
export const atlasAlertSchema = atlasAlertBodySchema.extend({ groupId: projectId });
export type AtlasAlert = z.infer<typeof atlasAlertSchema>;

/** What an alert delivery asks of the ledger. */
export type AlertIntent =
  /** Open an incident for the cluster, or join the live one. */
  | "open"
  /** This alert is resolved in Atlas. */
  | "close"
  /** This alert became invalid in Atlas (e.g. the cluster was deleted). */
  | "cancel"
  /** Informational: journal it on the live incident, change nothing. */
  | "note";

/** Parses an `X-MMS-Event` header; null when missing or not an Atlas event. */
export function parseAtlasEvent(header: string | null | undefined): AtlasEvent | null {
  const value = header?.trim().toLowerCase();
  return (ATLAS_EVENTS as readonly string[]).includes(value ?? "") ? (value as AtlasEvent) : null;
}

/** What the delivery means. The header decides; without one, the alert's own status does. */
export function alertIntent(event: AtlasEvent | null, status: AtlasAlert["status"]): AlertIntent {
  switch (event) {
    case "alert.open":
    case "alert.update":
      return "open";
    case "alert.close":
      return "close";
    case "alert.cancel":
      return "cancel";
    case "alert.acknowledge":
    case "alert.inform":
      return "note";
    case null:
      switch (status) {
        case "OPEN":
          return "open";
        case "CLOSED":
          return "close";
        case "CANCELLED":
          return "cancel";
        case "TRACKING": // the condition has not yet lasted past the alert's delay
        case "INFORMATIONAL":
          return "note";
      }
  }
}

/** True for alerts about connections, the only ones the responder acts on. */
export function isConnectionAlert(alert: Pick<AtlasAlert, "metricName">): boolean {
  return alert.metricName !== undefined && CONNECTION_METRICS.has(alert.metricName);
}

/** Which cluster an alert is about, as far as the alert itself says. */
export interface ClusterRef {
  /** Stable key within the project: `name:Cluster0`, or `rs:…`/`host:…` until the name is resolved. */
  key: string;
  /** The best name to show. */
  name: string;
  /** True when the key is the real cluster name. */
  resolved: boolean;
}

/** Keys the alert on its cluster name, falling back to the replica set, the host, then the project. */
export function clusterRefOf(
  alert: Pick<AtlasAlert, "clusterName" | "replicaSetName" | "hostnameAndPort">,
): ClusterRef {
  if (alert.clusterName) return { key: `name:${alert.clusterName}`, name: alert.clusterName, resolved: true };
  if (alert.replicaSetName)
    return { key: `rs:${alert.replicaSetName}`, name: alert.replicaSetName, resolved: false };
  if (alert.hostnameAndPort)
    return { key: `host:${alert.hostnameAndPort}`, name: alert.hostnameAndPort, resolved: false };
  return { key: "project", name: "(whole project)", resolved: false };
}

/** The dedupe key of one delivery: Atlas may deliver the same notification more than once. */
export function deliveryKey(
  alert: Pick<AtlasAlert, "id" | "status" | "updated">,
  event: AtlasEvent | null,
): string {
  return [alert.id, alert.status, alert.updated, event ?? "-"].join("|");
}

/** A configured cluster (`CLUSTERS`) as project routing sees it: hosts from its connection string. */
export interface RoutableCluster {
  groupId: string;
  name: string;
  /** "host:port", lower-case, as `parseConnectionString` lists them. */
  hosts: readonly string[];
  /** A `mongodb+srv://` string's host name (`cluster0.ab1cd.mongodb.net`), when that is its form. */
  srvHost?: string;
}

export type ProjectRoute =
  | { found: true; groupId: string; via: "alert" | "cluster-name" | "host" | "srv-domain" }
  | { found: false; reason: string };

/** "host:port", lower-case, with MongoDB's default port when none is given. */
function normalHost(hostAndPort: string): string {
  const trimmed = hostAndPort.trim().toLowerCase();
  return /:\d+$/.test(trimmed) ? trimmed : `${trimmed}:27017`;
}

/** `a.b.c` → `b.c`; null below three labels, where a parent domain would be a public suffix. */
function parentDomain(host: string): string | null {
  const labels = host.toLowerCase().split(".");
  return labels.length >= 3 ? labels.slice(1).join(".") : null;
}

/** The one project among `clusters`, or null when there is none or more than one. */
function soleProject(clusters: readonly RoutableCluster[]): string | null {
  const projects = new Set(clusters.map((c) => c.groupId.toLowerCase()));
  return projects.size === 1 ? (clusters[0]?.groupId ?? null) : null;
}

/**
 * Which project an alert belongs to. The spec leaves `groupId` optional; without one the alert is
 * routed by its cluster name, then its host (a host of a `mongodb://` string, or in the domain of a
 * `mongodb+srv://` one), to the one configured cluster it can only be about.
 * Ambiguity is never guessed at: two projects with a cluster of that name route nowhere.
 */
export function projectOfAlert(
  alert: Pick<AtlasAlertBody, "groupId" | "clusterName" | "hostnameAndPort">,
  clusters: readonly RoutableCluster[],
): ProjectRoute {
  if (alert.groupId) return { found: true, groupId: alert.groupId, via: "alert" };
  if (alert.clusterName) {
    const groupId = soleProject(clusters.filter((c) => c.name === alert.clusterName));
    if (groupId) return { found: true, groupId, via: "cluster-name" };
  }
  if (alert.hostnameAndPort) {
    const host = normalHost(alert.hostnameAndPort);
    const groupId = soleProject(clusters.filter((c) => c.hosts.map(normalHost).includes(host)));
    if (groupId) return { found: true, groupId, via: "host" };
    // The hosts behind a `mongodb+srv://` name share its parent domain — the SRV spec has drivers
    // refuse any that do not — and Atlas gives each project its own (`ab1cd.mongodb.net`).
    const domain = parentDomain(host.replace(/:\d+$/, ""));
    const bySrv = soleProject(clusters.filter((c) => c.srvHost && parentDomain(c.srvHost) === domain));
    if (domain && bySrv) return { found: true, groupId: bySrv, via: "srv-domain" };
  }
  const by = [
    alert.clusterName ? "clusterName" : null,
    alert.hostnameAndPort ? "hostnameAndPort" : null,
  ].filter(Boolean);
  return {
    found: false,
    reason:
      by.length === 0
        ? "is required when the alert names no cluster or host"
        : `is required: no single CLUSTERS entry matches the alert's ${by.join(" or ")}`,
  };
}
