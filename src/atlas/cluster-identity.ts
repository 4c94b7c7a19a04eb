/**
 * Which cluster is an alert about, and which processes belong to a cluster?
 *
 * Host-metric alerts often carry only `hostnameAndPort` and `replicaSetName`, and the processes API
 * has no cluster name at all. The links are indirect: a process's `userAlias` is the friendly host
 * ("cluster0-shard-00-01.ab1cd.mongodb.net", the cluster name lower-cased), its `hostname` may be the
 * internal one ("atlas-x1y2z3-shard-00-01…"), and a cluster's standard connection string lists its
 * seed hosts and replica set. Everything here is pure except `resolveClusterName`, which takes the
 * processes call as a dependency.
 *
 * Trade-off: a name read from a host alias is lower-case and may be cut to Atlas's 23-character
 * prefix; we prefer a configured cluster (exact spelling) and report `via` so callers know how sure
 * we are. Failing to identify is a value (`found: false`), API failures propagate.
 */
import type { AtlasProcess } from "./admin-schemas.ts";

/** The fields of an Atlas process (`ApiHostView_Atlas`) this module reads. */
export type ProcessRef = Pick<
  AtlasProcess,
  "id" | "hostname" | "port" | "replicaSetName" | "shardName" | "typeName" | "userAlias"
>;

/** A cluster from configuration (`CLUSTERS`), optionally with the hosts of its connection string. */
export interface KnownCluster {
  groupId: string;
  name: string;
  hostnames?: readonly string[];
}

/** What an alert says about where it happened. */
export interface AlertLocation {
  groupId?: string;
  clusterName?: string;
  replicaSetName?: string;
  hostnameAndPort?: string;
}

export type IdentifiedBy =
  /** The alert named the cluster. */
  | "alert"
  /** A configured cluster lists the host. */
  | "configured-hostnames"
  /** A host alias matched a configured cluster's name. */
  | "configured-name"
  /** Read from a process's host alias (lower-case; may be truncated). */
  | "process-alias"
  /** The only configured cluster in the project. */
  | "sole-configured";

export type ClusterIdentity =
  | { found: true; clusterName: string; groupId?: string; via: IdentifiedBy; processIds: string[] }
  | { found: false; reason: string };

/** Atlas builds host names from the first 23 characters of the cluster name (atlas-limits.txt, label limits). */
const HOST_NAME_PREFIX_LENGTH = 23;
const ALIAS_NODE = /^(.+?)-(?:shard|config)-\d+-\d+\./;
const SRV_HOST = /^([a-z0-9-]+)\.[a-z0-9]+\.mongodb(?:-dev)?\.net$/;

/** Splits "host:port" (lower-casing the host); the port is undefined when absent. */
export function parseHostPort(value: string): { host: string; port?: number } {
  const trimmed = value.trim().toLowerCase();
  const match = /^(.*):(\d+)$/.exec(trimmed);
  if (!match) return { host: trimmed };
  return { host: match[1] ?? trimmed, port: Number(match[2]) };
}

/** The cluster-name part of an Atlas node or SRV host ("cluster0-shard-00-01.ab1cd.mongodb.net" → "cluster0"). */
export function clusterPrefixOfHost(host: string): string | undefined {
  const lower = parseHostPort(host).host;
  return ALIAS_NODE.exec(lower)?.[1] ?? SRV_HOST.exec(lower)?.[1];
}

/** The deployment part of a replica set name ("atlas-x1y2z3-shard-0" → "atlas-x1y2z3"). */
export function deploymentOfReplicaSet(replicaSetName: string): string {
  return replicaSetName.replace(/-(?:shard|config)-\d+$/, "");
}

/** Seed hosts ("host:port", lower-case) and `replicaSet` of a non-SRV `mongodb://` connection string. */
export function parseConnectionString(uri: string): {
  hosts: string[];
  replicaSet?: string;
  srvHost?: string;
} {
  const srv = /^mongodb\+srv:\/\/(?:[^@/]*@)?([^/?:,]+)(?:[/?]|$)/i.exec(uri.trim());
  if (srv) return { hosts: [], srvHost: srv[1]!.toLowerCase() };
  const match = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)(?:\/[^?]*)?(?:\?(.*))?$/i.exec(uri.trim());
  if (!match) return { hosts: [] };
  const hosts = (match[1] ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean)
    .map((h) => (/:\d+$/.test(h) ? h : `${h}:27017`));
  const replicaSet = new URLSearchParams(match[2] ?? "").get("replicaSet") ?? undefined;
  return { hosts, replicaSet };
}

function nameMatchesPrefix(name: string, prefix: string): boolean {
  const lower = name.toLowerCase();
  return lower === prefix || lower.slice(0, HOST_NAME_PREFIX_LENGTH) === prefix;
}

function hostsOf(process: ProcessRef): string[] {
  const names = [process.hostname, process.userAlias].filter((h): h is string => Boolean(h));
  return names.map((h) => h.toLowerCase());
}

/**
 * The processes that belong to a cluster: by the hosts and replica set of its standard connection
 * string, then every process of the same deployment (other shards, config servers), and failing
 * that by the cluster name in the host alias.
 */
export function processesOfCluster<P extends ProcessRef>(
  cluster: { name: string; connectionStrings?: { standard?: string } },
  processes: readonly P[],
): P[] {
  const seeds = cluster.connectionStrings?.standard
    ? parseConnectionString(cluster.connectionStrings.standard)
    : { hosts: [] as string[] };
  const seedHosts = new Set(seeds.hosts.map((h) => parseHostPort(h).host));
  const direct = processes.filter(
    (p) =>
      hostsOf(p).some((h) => seedHosts.has(h)) ||
      (seeds.replicaSet !== undefined && p.replicaSetName === seeds.replicaSet),
  );
  const byAlias = processes.filter((p) => {
    const prefix = p.userAlias ? clusterPrefixOfHost(p.userAlias) : undefined;
    return prefix !== undefined && nameMatchesPrefix(cluster.name, prefix);
  });
  const anchor = direct.length > 0 ? direct : byAlias;
  const deployments = new Set(
    anchor.flatMap((p) => (p.replicaSetName ? [deploymentOfReplicaSet(p.replicaSetName)] : [])),
  );
  return processes.filter(
    (p) =>
      anchor.includes(p) ||
      (p.replicaSetName !== undefined && deployments.has(deploymentOfReplicaSet(p.replicaSetName))),
  );
}

/** Processes an alert points at: its host (by id, hostname or alias) or, failing that, its replica set. */
export function processesOfAlert<P extends ProcessRef>(
  location: AlertLocation,
  processes: readonly P[],
): P[] {
  if (location.hostnameAndPort) {
    const { host, port } = parseHostPort(location.hostnameAndPort);
    const byHost = processes.filter(
      (p) => hostsOf(p).includes(host) && (port === undefined || p.port === port),
    );
    if (byHost.length > 0) return byHost;
  }
  if (location.replicaSetName) {
    return processes.filter((p) => p.replicaSetName === location.replicaSetName);
  }
  return [];
}

function configuredFor(location: AlertLocation, clusters: readonly KnownCluster[]): KnownCluster[] {
  return location.groupId ? clusters.filter((c) => c.groupId === location.groupId) : [...clusters];
}

/** Matches hosts against configured clusters: first by listed hostnames, then by the name in a host alias. */
function matchConfigured(
  hosts: readonly string[],
  candidates: readonly KnownCluster[],
): { cluster: KnownCluster; via: IdentifiedBy } | undefined {
  const wanted = new Set(hosts.map((h) => parseHostPort(h).host));
  for (const cluster of candidates) {
    const listed = (cluster.hostnames ?? []).map((h) => parseHostPort(h).host);
    if (listed.some((h) => wanted.has(h))) return { cluster, via: "configured-hostnames" };
  }
  const prefixes = new Set([...wanted].flatMap((h) => clusterPrefixOfHost(h) ?? []));
  for (const cluster of candidates) {
    if ([...prefixes].some((prefix) => nameMatchesPrefix(cluster.name, prefix))) {
      return { cluster, via: "configured-name" };
    }
  }
  return undefined;
}

/** Pure: identify the cluster of an alert from its fields, a processes list and the configured clusters. */
export function identifyCluster(
  location: AlertLocation,
  context: { processes?: readonly ProcessRef[]; clusters?: readonly KnownCluster[] },
): ClusterIdentity {
  if (location.clusterName) {
    return {
      found: true,
      clusterName: location.clusterName,
      groupId: location.groupId,
      via: "alert",
      processIds: [],
    };
  }
  const candidates = configuredFor(location, context.clusters ?? []);
  const matched = processesOfAlert(location, context.processes ?? []);
  const hosts = [
    ...(location.hostnameAndPort ? [location.hostnameAndPort] : []),
    ...matched.flatMap((p) => hostsOf(p)),
  ];
  const processIds = matched.map((p) => p.id);

  const configured = matchConfigured(hosts, candidates);
  if (configured) {
    const { cluster, via } = configured;
    return { found: true, clusterName: cluster.name, groupId: cluster.groupId, via, processIds };
  }
  const aliasPrefix = matched
    .map((p) => (p.userAlias ? clusterPrefixOfHost(p.userAlias) : undefined))
    .find(Boolean);
  if (aliasPrefix) {
    return {
      found: true,
      clusterName: aliasPrefix,
      groupId: location.groupId,
      via: "process-alias",
      processIds,
    };
  }
  const [sole, ...others] = candidates;
  if (sole && others.length === 0) {
    return { found: true, clusterName: sole.name, groupId: sole.groupId, via: "sole-configured", processIds };
  }
  const clues = [location.hostnameAndPort && "host", location.replicaSetName && "replica set"].filter(
    Boolean,
  );
  return {
    found: false,
    reason:
      clues.length === 0
        ? "the alert names no cluster, host or replica set"
        : `no process or configured cluster matches the alert's ${clues.join(" and ")}`,
  };
}

/**
 * Identify the cluster of an alert, listing the project's processes only when the alert lacks a
 * cluster name and the configured clusters alone cannot tell. API failures propagate.
 */
export async function resolveClusterName(
  location: AlertLocation,
  deps: {
    listProcesses?: (groupId: string) => Promise<readonly ProcessRef[]>;
    clusters?: readonly KnownCluster[];
  },
): Promise<ClusterIdentity> {
  const withoutApi = identifyCluster(location, { clusters: deps.clusters });
  const settled = withoutApi.found && withoutApi.via !== "sole-configured";
  if (settled || !deps.listProcesses || !location.groupId) return withoutApi;
  if (!location.hostnameAndPort && !location.replicaSetName) return withoutApi;
  const processes = await deps.listProcesses(location.groupId);
  return identifyCluster(location, { processes, clusters: deps.clusters });
}
