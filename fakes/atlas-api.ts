/**
 * An honest fake of the Atlas Administration API v2: a `node:http` server on 127.0.0.1 that enforces
 * the rules a real client must live with, for tests and the local sandbox.
 *
 * It owns: the OAuth client-credentials token endpoint (Basic credentials checked, tokens that expire
 * on the fake's clock) and HTTP Digest for API keys (MD5, qop=auth, nonces that go stale, `nc` replay
 * refused, the response hash verified); the versioned `Accept` header (406 INVALID_VERSION_DATE when it
 * is missing or not one the operation lists); Atlas's error body `{ detail, error, errorCode,
 * parameters, reason }`; a per-project token-bucket rate limit (429 RATE_LIMITED with Retry-After);
 * fault injection (the next N matching requests answer with a status, after a delay, or never); and a
 * request log with each answer. State: projects → clusters (tier, provider, Flex or not) → processes;
 * CONNECTIONS measurements come from a pluggable `connectionsNow(processId)` plus a recorded per-minute
 * history, so PT1M series have points.
 *
 * Trade-off: it implements only the operations the responder calls, and only the API versions it was
 * written against (a listed-but-unimplemented version answers 500 FAKE_VERSION_NOT_IMPLEMENTED, loudly,
 * rather than pretending). Error codes marked "unverified" are our best reading of Atlas, not documented.
 * Every credential may reach every project (no roles).
 *
 * Workerd tests cannot call into Node, so the fake also answers a small control API under `/__fake/`
 * (see `FAKE_CONTROL_PREFIX` below), kept out of the request log.
 *
 * CLI (for the sandbox): `node fakes/atlas-api.ts [--port 8081] [--tier M0] [--cluster Cluster0]`
 * prints `{ baseUrl, credentials, groupId }` as JSON and runs until SIGINT/SIGTERM.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

// ------------------------------------------------------------------------------------------------
// Public types

export type FakeTier = "M0" | "M2" | "M5" | "FLEX" | (string & {});
export type FakeProvider = "AWS" | "GCP" | "AZURE";

export interface FakeServiceAccount {
  clientId: string;
  clientSecret: string;
}

export interface FakeApiKey {
  publicKey: string;
  privateKey: string;
}

export interface FakeClusterSpec {
  name: string;
  /** "M0", "M2", "M5" (shared, providerName TENANT), "FLEX", or a dedicated size ("M10", "M30", …). */
  tier: FakeTier;
  /** The cloud, or the backing cloud for TENANT/FLEX. Default AWS. */
  provider?: FakeProvider;
  /** Default REPLICASET. SHARDED adds mongos (port 27016) and config servers. */
  clusterType?: "REPLICASET" | "SHARDED";
  /** Shards of a SHARDED cluster (default 2). */
  shards?: number;
  /**
   * FLEX only: an M2/M5 migrated to Flex. The cluster API still describes it (TENANT, instanceSize M2/M5,
   * effectiveInstanceSize FLEX); a Flex cluster created as Flex gets 400 CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API.
   */
  migratedFrom?: "M2" | "M5";
  /**
   * Whether the processes API lists the nodes. Default true, false for FLEX: whether Atlas lists Flex
   * nodes there is unverified (notes/atlas.md §2.5), so the default makes callers cope without them.
   */
  listProcesses?: boolean;
  mongoDBVersion?: string;
  paused?: boolean;
}

export interface FakeProcess {
  /** `hostname:port`. */
  id: string;
  hostname: string;
  port: number;
  replicaSetName?: string;
  shardName?: string;
  typeName: string;
  userAlias: string;
}

export interface FakeCluster {
  id: string;
  groupId: string;
  name: string;
  tier: string;
  provider: FakeProvider;
  kind: "tenant" | "flex" | "dedicated";
  clusterType: "REPLICASET" | "SHARDED";
  migratedFrom?: "M2" | "M5";
  listProcesses: boolean;
  mongoDBVersion: string;
  paused: boolean;
  createdAt: string;
  /** The deployment id inside host and replica set names ("atlas-<deployment>-shard-0"). */
  deployment: string;
  processes: FakeProcess[];
  connectionStrings: { standard: string; standardSrv: string };
}

export interface FakeAlertInput {
  id?: string;
  alertConfigId?: string;
  eventTypeName?: string;
  metricName?: string;
  status?: "OPEN" | "TRACKING" | "CLOSED" | "CANCELLED";
  clusterName?: string;
  hostnameAndPort?: string;
  replicaSetName?: string;
  currentValue?: { number: number; units: string };
}

export interface FaultSpec {
  /** How many matching requests it affects (default 1). */
  count?: number;
  /** Answer with this status and an Atlas error body (default 500 UNEXPECTED_ERROR). */
  status?: number;
  errorCode?: string;
  /** Adds `Retry-After` (seconds). */
  retryAfterSeconds?: number;
  /** Never answer (the socket stays open until the client gives up or the fake closes). */
  hang?: boolean;
  /** Wait this long first; with no `status`, then answer normally. */
  delayMs?: number;
  /** Only requests with this method / whose path contains this text (default: every API request). */
  match?: { method?: string; path?: string };
}

export interface RateLimitSpec {
  /** Requests a project may make at once (the bucket). */
  capacity: number;
  /** Tokens added back per minute of the fake's clock. */
  refillPerMinute: number;
}

export interface LoggedRequest {
  at: string;
  method: string;
  /** Decoded path, e.g. "/api/atlas/v2/groups/…/processes/host:27017/measurements". */
  path: string;
  query: Record<string, string[]>;
  accept?: string;
  contentType?: string;
  /** Parsed JSON (or form fields for the token endpoint), never a credential. */
  body?: unknown;
  /** Which scheme the request tried, and whose credential (client id / public key), never a secret. */
  auth: { scheme: "bearer" | "digest" | "basic" | "none"; principal?: string };
  /** Our route's operationId (the spec's), or undefined when no route matched. */
  operationId?: string;
  groupId?: string;
  status: number;
  response: { contentType?: string; headers: Record<string, string>; body: unknown };
}

export interface FakeAtlasOptions {
  /** Default 0: any free port on 127.0.0.1. */
  port?: number;
  serviceAccounts?: FakeServiceAccount[];
  apiKeys?: FakeApiKey[];
  /** `expires_in` of issued tokens; Atlas's is 3600. */
  tokenLifetimeSeconds?: number;
  /** Digest nonces go stale after this long (default 300 s). */
  nonceLifetimeSeconds?: number;
  /** Time for tokens, nonces, rate limits and measurements. Default `Date`. */
  clock?: { now(): number };
  rateLimit?: RateLimitSpec;
  /** Live connection count of a process; default: values from `setConnections` (none: no sample). */
  connectionsNow?: (processId: string) => number | null | undefined;
  /** Record a sample of every process every this many ms (for the sandbox); default off. */
  sampleIntervalMs?: number;
  /** Called after a successful Test Failover, e.g. to drop a fake MongoDB's sockets. */
  onRestartPrimaries?: (cluster: FakeCluster) => void;
}

export interface FakeAtlas {
  readonly baseUrl: string;
  readonly port: number;
  /** The first service account and API key (generated unless given). */
  readonly credentials: { serviceAccount: FakeServiceAccount; apiKey: FakeApiKey };
  /** Creates a project (random 24-hex id unless given) and returns its id. */
  addProject(groupId?: string): string;
  /** Adds a cluster (creating the project if needed) with its processes. */
  addCluster(groupId: string, spec: FakeClusterSpec): FakeCluster;
  removeCluster(groupId: string, name: string): void;
  cluster(groupId: string, name: string): FakeCluster | undefined;
  /** Every listed process of a project, as the processes API returns them. */
  processes(groupId: string): FakeProcess[];
  /** Sets the live count `connectionsNow` reports for a process (default source). */
  setConnections(processId: string, value: number | null): void;
  /** Replaces the live-count source; `undefined` restores the default (values from `setConnections`). */
  setConnectionsNow(fn: ((processId: string) => number | null | undefined) | undefined): void;
  /** Seeds history: one value per minute, the last one at `endingAt` (default now). */
  recordHistory(processId: string, values: readonly (number | null)[], endingAt?: number): void;
  /** Records `connectionsNow` for every process at the current minute. */
  sample(): void;
  addAlert(groupId: string, alert?: FakeAlertInput): Record<string, unknown>;
  alert(groupId: string, alertId: string): Record<string, unknown> | undefined;
  /** Injects a fault into the next matching request(s). */
  failNext(fault: FaultSpec): void;
  clearFaults(): void;
  setRateLimit(limit: RateLimitSpec | undefined): void;
  /** Forgets every issued token: the next call with one gets 401. */
  revokeTokens(): void;
  /** Stops listing a version for an operation (as Atlas does after a sunset): requests with it get 406. */
  retireVersion(operationId: string, version: string): void;
  /** How many issued tokens the fake still knows (expired ones included, revoked ones not). */
  issuedTokens(): number;
  requests(filter?: { groupId?: string; operationId?: string }): LoggedRequest[];
  clearRequests(): void;
  close(): Promise<void>;
}

/**
 * The `/__fake/` control API, for code that cannot call the fake directly (workerd tests):
 *   POST   /__fake/projects                      {clusters?: FakeClusterSpec[]}   → 201 {groupId, clusters}
 *   POST   /__fake/projects/:groupId/clusters    FakeClusterSpec                  → 201 FakeCluster
 *   POST   /__fake/projects/:groupId/alerts      FakeAlertInput                   → 201 alert
 *   PUT    /__fake/connections                   {[processId]: number | null}     → 204
 *   POST   /__fake/history/:processId            {values, endingAt?}              → 204
 *   POST   /__fake/faults                        FaultSpec                        → 204
 *   DELETE /__fake/faults                                                         → 204
 *   POST   /__fake/tokens/revoke                                                  → 204
 *   GET    /__fake/requests?groupId=&operationId=                                 → {requests}
 *   DELETE /__fake/requests                                                       → 204
 */
export const FAKE_CONTROL_PREFIX = "/__fake";

// ------------------------------------------------------------------------------------------------
// Constants

const REALM = "MMS Public API";
const MINUTE = 60_000;
const GRANULARITY_MS: Record<string, number> = {
  PT1M: MINUTE,
  PT5M: 5 * MINUTE,
  PT1H: 60 * MINUTE,
  P1D: 1440 * MINUTE,
};
/** Measurements the fake knows; any other `m` is refused like an invalid one. CONNECTIONS has data. */
const KNOWN_MEASUREMENTS = new Set([
  "CONNECTIONS",
  "OPCOUNTER_CMD",
  "OPCOUNTER_QUERY",
  "OPCOUNTER_INSERT",
  "OPCOUNTER_UPDATE",
  "OPCOUNTER_DELETE",
  "OPCOUNTER_GETMORE",
  "NETWORK_BYTES_IN",
  "NETWORK_BYTES_OUT",
  "NETWORK_NUM_REQUESTS",
  "LOGICAL_SIZE",
]);
const REGION: Record<FakeProvider, string> = { AWS: "US_EAST_1", AZURE: "US_EAST_2", GCP: "CENTRAL_US" };
const SHARED_TIERS = new Set(["M0", "M2", "M5"]);
const STATUS_REASON: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

// ------------------------------------------------------------------------------------------------
// Helpers

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const objectId = () => hex(12);
const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");
const lowerAlnum = (length: number) =>
  [...randomBytes(length)].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Parses an ISO-8601 duration such as PT1H, PT15M, P1D, P2DT3H into milliseconds. */
export function parseIsoDuration(value: string): number | undefined {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value);
  if (!match || value === "P" || value.endsWith("T")) return undefined;
  const [, d, h, m, s] = match;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(m ?? 0)) * MINUTE + Number(s ?? 0) * 1000;
}

function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const match of text.matchAll(/([a-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/gi)) {
    const key = match[1]?.toLowerCase();
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3];
    if (key && value !== undefined) params.set(key, value);
  }
  return params;
}

/** Atlas's error body. */
function apiError(status: number, errorCode: string, detail: string, parameters: unknown[] = []) {
  return { detail, error: status, errorCode, parameters, reason: STATUS_REASON[status] ?? "Error" };
}

class Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const errorReply = (
  status: number,
  code: string,
  detail: string,
  parameters: unknown[] = [],
  headers: Record<string, string> = {},
) => new Reply(status, apiError(status, code, detail, parameters), headers);

interface RouteContext {
  groupId: string;
  params: Record<string, string>;
  query: URLSearchParams;
  version: string;
  body: unknown;
  url: URL;
}

interface Route {
  operationId: string;
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
  /** Versions the spec lists for the operation. */
  listed: string[];
  /** Versions the fake can answer. */
  implemented: string[];
  handle(context: RouteContext): Reply;
}

function route(
  operationId: string,
  method: string,
  template: string,
  listed: string[],
  implemented: string[],
  handle: (context: RouteContext) => Reply,
): Route {
  const names: string[] = [];
  const source = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return {
    operationId,
    method,
    template,
    pattern: new RegExp(`^${source}$`),
    names,
    listed,
    implemented,
    handle,
  };
}

// ------------------------------------------------------------------------------------------------

/** Starts the fake Atlas Admin API on 127.0.0.1. */
export async function startFakeAtlas(options: FakeAtlasOptions = {}): Promise<FakeAtlas> {
  const clock = options.clock ?? Date;
  const serviceAccounts = options.serviceAccounts ?? [
    { clientId: `mdb_sa_id_${hex(12)}`, clientSecret: `mdb_sa_sk_${hex(20)}` },
  ];
  const apiKeys = options.apiKeys ?? [{ publicKey: lowerAlnum(8), privateKey: crypto.randomUUID() }];
  const tokenLifetime = options.tokenLifetimeSeconds ?? 3600;
  const nonceLifetimeMs = (options.nonceLifetimeSeconds ?? 300) * 1000;

  const projects = new Map<string, { suffix: string; clusters: Map<string, FakeCluster> }>();
  const alerts = new Map<string, Map<string, Record<string, unknown>>>();
  const tokens = new Map<string, { clientId: string; expiresAt: number }>();
  const nonces = new Map<string, { issuedAt: number; used: Set<string> }>();
  const faults: Array<{ remaining: number; spec: FaultSpec }> = [];
  const buckets = new Map<string, { tokens: number; at: number }>();
  const liveConnections = new Map<string, number | null>();
  const history = new Map<string, Map<number, number>>();
  const log: LoggedRequest[] = [];
  const hung = new Set<ServerResponse>();
  const retired = new Map<string, Set<string>>();
  let rateLimit = options.rateLimit;
  const storedConnections = (processId: string) => liveConnections.get(processId);
  let connectionsNow = options.connectionsNow ?? storedConnections;
  let baseUrl = "";

  const nowIso = () => new Date(clock.now()).toISOString();
  const minuteOf = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;

  // ---- state -----------------------------------------------------------------------------------

  function addProject(groupId = objectId()): string {
    if (!/^[a-f0-9]{24}$/.test(groupId))
      throw new Error(`fake atlas: groupId must be 24 hex digits: ${groupId}`);
    if (!projects.has(groupId)) projects.set(groupId, { suffix: lowerAlnum(5), clusters: new Map() });
    return groupId;
  }

  function buildProcesses(
    alias: string,
    deployment: string,
    suffix: string,
    clusterType: "REPLICASET" | "SHARDED",
    shards: number,
  ): FakeProcess[] {
    const host = (kind: string, set: number, node: number, atlasName: boolean) =>
      `${atlasName ? `atlas-${deployment}` : alias}-${kind}-${String(set).padStart(2, "0")}-${String(node).padStart(2, "0")}.${suffix}.mongodb.net`;
    const processes: FakeProcess[] = [];
    if (clusterType === "REPLICASET") {
      for (let node = 0; node < 3; node++) {
        const hostname = host("shard", 0, node, true);
        processes.push({
          id: `${hostname}:27017`,
          hostname,
          port: 27017,
          replicaSetName: `atlas-${deployment}-shard-0`,
          typeName: node === 0 ? "REPLICA_PRIMARY" : "REPLICA_SECONDARY",
          userAlias: host("shard", 0, node, false),
        });
      }
      return processes;
    }
    for (let shard = 0; shard < shards; shard++) {
      for (let node = 0; node < 3; node++) {
        const hostname = host("shard", shard, node, true);
        const set = `atlas-${deployment}-shard-${shard}`;
        processes.push({
          id: `${hostname}:27017`,
          hostname,
          port: 27017,
          replicaSetName: set,
          shardName: set,
          typeName: node === 0 ? "SHARD_PRIMARY" : "SHARD_SECONDARY",
          userAlias: host("shard", shard, node, false),
        });
        // Atlas runs a mongos beside every shard node, on port 27016.
        processes.push({
          id: `${hostname}:27016`,
          hostname,
          port: 27016,
          typeName: "SHARD_MONGOS",
          userAlias: host("shard", shard, node, false),
        });
      }
    }
    for (let node = 0; node < 3; node++) {
      const hostname = host("config", 0, node, true);
      processes.push({
        id: `${hostname}:27017`,
        hostname,
        port: 27017,
        replicaSetName: `atlas-${deployment}-config-0`,
        typeName: "SHARD_CONFIG",
        userAlias: host("config", 0, node, false),
      });
    }
    return processes;
  }

  function addCluster(groupId: string, spec: FakeClusterSpec): FakeCluster {
    addProject(groupId);
    const project = projects.get(groupId)!;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9-]*$/.test(spec.name))
      throw new Error(`fake atlas: invalid cluster name ${spec.name}`);
    const tier = spec.tier.toUpperCase();
    const kind = tier === "FLEX" ? "flex" : SHARED_TIERS.has(tier) ? "tenant" : "dedicated";
    const clusterType = kind === "dedicated" ? (spec.clusterType ?? "REPLICASET") : "REPLICASET";
    const deployment = lowerAlnum(6);
    // Atlas builds host names from the first 23 characters of the name, lower-cased.
    const alias = spec.name.toLowerCase().slice(0, 23);
    const processes = buildProcesses(alias, deployment, project.suffix, clusterType, spec.shards ?? 2);
    const seeds =
      clusterType === "REPLICASET"
        ? processes.map((p) => `${p.userAlias}:${p.port}`)
        : processes.filter((p) => p.typeName === "SHARD_MONGOS").map((p) => `${p.userAlias}:${p.port}`);
    const replicaSet = clusterType === "REPLICASET" ? `&replicaSet=atlas-${deployment}-shard-0` : "";
    const cluster: FakeCluster = {
      id: objectId(),
      groupId,
      name: spec.name,
      tier,
      provider: spec.provider ?? "AWS",
      kind,
      clusterType,
      migratedFrom: kind === "flex" ? spec.migratedFrom : undefined,
      listProcesses: spec.listProcesses ?? kind !== "flex",
      mongoDBVersion: spec.mongoDBVersion ?? "8.0.4",
      paused: spec.paused ?? false,
      createdAt: nowIso(),
      deployment,
      processes,
      connectionStrings: {
        standard: `mongodb://${seeds.join(",")}/?ssl=true&authSource=admin${replicaSet}`,
        standardSrv: `mongodb+srv://${alias}.${project.suffix}.mongodb.net`,
      },
    };
    project.clusters.set(spec.name, cluster);
    return cluster;
  }

  function findCluster(groupId: string, name: string): FakeCluster | undefined {
    return projects.get(groupId)?.clusters.get(name);
  }

  function listedProcesses(groupId: string): FakeProcess[] {
    const project = projects.get(groupId);
    if (!project) return [];
    return [...project.clusters.values()].filter((c) => c.listProcesses).flatMap((c) => c.processes);
  }

  function allProcesses(): FakeProcess[] {
    return [...projects.values()].flatMap((p) => [...p.clusters.values()].flatMap((c) => c.processes));
  }

  function record(processId: string, at: number, value: number | null | undefined) {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    let points = history.get(processId);
    if (!points) {
      points = new Map();
      history.set(processId, points);
    }
    points.set(minuteOf(at), value);
  }

  function sample() {
    const now = clock.now();
    for (const process of allProcesses()) record(process.id, now, connectionsNow(process.id));
  }

  function addAlert(groupId: string, input: FakeAlertInput = {}): Record<string, unknown> {
    addProject(groupId);
    const id = input.id ?? objectId();
    const now = nowIso();
    const alert: Record<string, unknown> = {
      id,
      alertConfigId: input.alertConfigId ?? objectId(),
      groupId,
      eventTypeName: input.eventTypeName ?? "OUTSIDE_METRIC_THRESHOLD",
      metricName: input.metricName ?? "CONNECTIONS_PERCENT",
      status: input.status ?? "OPEN",
      created: now,
      updated: now,
      lastNotified: now,
      links: [{ href: `${baseUrl}/api/atlas/v2/groups/${groupId}/alerts/${id}`, rel: "self" }],
    };
    for (const key of ["clusterName", "hostnameAndPort", "replicaSetName", "currentValue"] as const) {
      if (input[key] !== undefined) alert[key] = input[key];
    }
    // Host-metric alerts carry `{ number, units: "RAW" }` (RawMetricValueView). Flex alerts declare
    // HostMetricValue, whose units list has no RAW or percent, so no value is invented for them.
    if (input.currentValue === undefined && alert.eventTypeName === "OUTSIDE_METRIC_THRESHOLD") {
      alert.currentValue = { number: 82.4, units: "RAW" };
    }
    let store = alerts.get(groupId);
    if (!store) {
      store = new Map();
      alerts.set(groupId, store);
    }
    store.set(id, alert);
    return alert;
  }

  // ---- views (shapes per the spec's response schemas) ------------------------------------------

  function clusterView(cluster: FakeCluster) {
    const tenant = cluster.kind !== "dedicated";
    const instanceSize = cluster.kind === "flex" ? cluster.migratedFrom : cluster.tier;
    const regionConfig = tenant
      ? {
          providerName: "TENANT",
          backingProviderName: cluster.provider,
          regionName: REGION[cluster.provider],
          priority: 7,
          electableSpecs: {
            instanceSize,
            effectiveInstanceSize: cluster.kind === "flex" ? "FLEX" : cluster.tier,
          },
        }
      : {
          providerName: cluster.provider,
          regionName: REGION[cluster.provider],
          priority: 7,
          electableSpecs: { instanceSize: cluster.tier, nodeCount: 3, diskSizeGB: 10 },
          readOnlySpecs: { instanceSize: cluster.tier, nodeCount: 0, diskSizeGB: 10 },
          analyticsSpecs: { instanceSize: cluster.tier, nodeCount: 0, diskSizeGB: 10 },
        };
    const shards = new Set(cluster.processes.flatMap((p) => (p.shardName ? [p.shardName] : []))).size;
    return {
      id: cluster.id,
      groupId: cluster.groupId,
      name: cluster.name,
      clusterType: cluster.clusterType,
      stateName: "IDLE",
      paused: cluster.paused,
      mongoDBVersion: cluster.mongoDBVersion,
      mongoDBMajorVersion: cluster.mongoDBVersion.split(".").slice(0, 2).join("."),
      versionReleaseSystem: "LTS",
      backupEnabled: false,
      terminationProtectionEnabled: false,
      createDate: cluster.createdAt,
      connectionStrings: cluster.connectionStrings,
      // One replication spec per shard (2024-08-05 lists shards individually).
      replicationSpecs: Array.from({ length: Math.max(1, shards) }, () => ({
        id: objectId(),
        zoneId: objectId(),
        zoneName: "Zone 1",
        regionConfigs: [regionConfig],
      })),
      links: [
        { href: `${baseUrl}/api/atlas/v2/groups/${cluster.groupId}/clusters/${cluster.name}`, rel: "self" },
      ],
    };
  }

  function flexView(cluster: FakeCluster) {
    return {
      id: cluster.id,
      groupId: cluster.groupId,
      name: cluster.name,
      clusterType: "REPLICASET",
      stateName: "IDLE",
      mongoDBVersion: cluster.mongoDBVersion,
      versionReleaseSystem: "LTS",
      terminationProtectionEnabled: false,
      createDate: cluster.createdAt,
      providerSettings: {
        providerName: "FLEX",
        backingProviderName: cluster.provider,
        regionName: REGION[cluster.provider],
        diskSizeGB: 5,
      },
      backupSettings: { enabled: true },
      connectionStrings: cluster.connectionStrings,
      links: [
        {
          href: `${baseUrl}/api/atlas/v2/groups/${cluster.groupId}/flexClusters/${cluster.name}`,
          rel: "self",
        },
      ],
    };
  }

  function processView(groupId: string, process: FakeProcess, cluster: FakeCluster) {
    return {
      id: process.id,
      hostname: process.hostname,
      port: process.port,
      ...(process.replicaSetName === undefined ? {} : { replicaSetName: process.replicaSetName }),
      ...(process.shardName === undefined ? {} : { shardName: process.shardName }),
      typeName: process.typeName,
      userAlias: process.userAlias,
      version: cluster.mongoDBVersion,
      groupId,
      created: cluster.createdAt,
      lastPing: nowIso(),
      links: [{ href: `${baseUrl}/api/atlas/v2/groups/${groupId}/processes/${process.id}`, rel: "self" }],
    };
  }

  // ---- operations ------------------------------------------------------------------------------

  function clusterOrError(groupId: string, name: string): FakeCluster | Reply {
    const cluster = findCluster(groupId, name);
    // CLUSTER_NOT_FOUND is what Atlas answers (seen in Atlas mocks and the Terraform provider's handling).
    return (
      cluster ??
      errorReply(404, "CLUSTER_NOT_FOUND", `No cluster named ${name} exists in group ${groupId}.`, [
        name,
        groupId,
      ])
    );
  }

  // 400 VALIDATION_ERROR (the spec's own example code), GROUP_NOT_FOUND, INVALID_GROUP_ID and
  // MALFORMED_JSON are unverified; CLUSTER_NOT_FOUND, CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API,
  // CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API, INVALID_VERSION_DATE and RATE_LIMITED are seen from real Atlas.
  const routes: Route[] = [
    route(
      "getGroupCluster",
      "GET",
      "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}",
      ["2023-01-01", "2023-02-01", "2024-08-05"],
      ["2024-08-05"],
      ({ groupId, params }) => {
        const cluster = clusterOrError(groupId, params.clusterName ?? "");
        if (cluster instanceof Reply) return cluster;
        if (cluster.kind === "flex" && !cluster.migratedFrom) {
          return errorReply(
            400,
            "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API",
            `Flex cluster ${cluster.name} cannot be used in the Cluster API.`,
            [cluster.name],
          );
        }
        return new Reply(200, clusterView(cluster));
      },
    ),
    route(
      "getGroupFlexCluster",
      "GET",
      "/api/atlas/v2/groups/{groupId}/flexClusters/{name}",
      ["2024-11-13"],
      ["2024-11-13"],
      ({ groupId, params }) => {
        const name = params.name ?? "";
        const cluster = findCluster(groupId, name);
        if (!cluster)
          return errorReply(404, "RESOURCE_NOT_FOUND", `Cannot find resource flex cluster ${name}.`, [name]);
        if (cluster.kind !== "flex") {
          return errorReply(
            400,
            "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API",
            `Cluster ${name} is not a flex cluster and cannot be used in the Flex Cluster API.`,
            [name],
          );
        }
        return new Reply(200, flexView(cluster));
      },
    ),
    route(
      "listGroupProcesses",
      "GET",
      "/api/atlas/v2/groups/{groupId}/processes",
      ["2023-01-01"],
      ["2023-01-01"],
      ({ groupId, query, url }) => {
        const itemsPerPage = Number(query.get("itemsPerPage") ?? 100);
        const pageNum = Number(query.get("pageNum") ?? 1);
        if (!Number.isInteger(itemsPerPage) || itemsPerPage < 1 || itemsPerPage > 500) {
          return errorReply(400, "VALIDATION_ERROR", "itemsPerPage must be between 1 and 500.", [
            "itemsPerPage",
          ]);
        }
        if (!Number.isInteger(pageNum) || pageNum < 1) {
          return errorReply(400, "VALIDATION_ERROR", "pageNum must be at least 1.", ["pageNum"]);
        }
        const project = projects.get(groupId)!;
        const all = [...project.clusters.values()]
          .filter((c) => c.listProcesses)
          .flatMap((c) => c.processes.map((p) => processView(groupId, p, c)));
        const page = all.slice((pageNum - 1) * itemsPerPage, pageNum * itemsPerPage);
        const link = (n: number) => {
          const target = new URL(url.href);
          target.searchParams.set("pageNum", String(n));
          target.searchParams.set("itemsPerPage", String(itemsPerPage));
          return `${baseUrl}${target.pathname}${target.search}`;
        };
        const links = [{ href: link(pageNum), rel: "self" }];
        if (pageNum * itemsPerPage < all.length) links.push({ href: link(pageNum + 1), rel: "next" });
        if (pageNum > 1) links.push({ href: link(pageNum - 1), rel: "previous" });
        const includeCount = query.get("includeCount") !== "false";
        return new Reply(200, { links, results: page, ...(includeCount ? { totalCount: all.length } : {}) });
      },
    ),
    route(
      "getGroupProcessMeasurements",
      "GET",
      "/api/atlas/v2/groups/{groupId}/processes/{processId}/measurements",
      ["2023-01-01"],
      ["2023-01-01"],
      ({ groupId, params, query }) => {
        const processId = params.processId ?? "";
        const process = listedProcesses(groupId).find((p) => p.id === processId);
        if (!process) {
          return errorReply(404, "RESOURCE_NOT_FOUND", `Cannot find resource process ${processId}.`, [
            processId,
          ]);
        }
        const granularity = query.get("granularity");
        if (granularity === null)
          return errorReply(400, "VALIDATION_ERROR", "granularity is required.", ["granularity"]);
        const step = GRANULARITY_MS[granularity];
        if (step === undefined) {
          return errorReply(400, "VALIDATION_ERROR", `Invalid granularity ${granularity}.`, ["granularity"]);
        }
        const period = query.get("period");
        const start = query.get("start");
        const end = query.get("end");
        if (period !== null && (start !== null || end !== null)) {
          return errorReply(400, "VALIDATION_ERROR", "Specify either period or start and end, not both.", [
            "period",
          ]);
        }
        const now = clock.now();
        let from: number;
        let to: number;
        if (period !== null) {
          const length = parseIsoDuration(period);
          if (length === undefined || length < step) {
            return errorReply(400, "VALIDATION_ERROR", `Invalid period ${period}.`, ["period"]);
          }
          to = Math.floor(now / step) * step + step;
          from = to - Math.ceil(length / step) * step;
        } else if (start !== null && end !== null) {
          from = Math.floor(Date.parse(start) / step) * step;
          to = Date.parse(end);
          if (Number.isNaN(from) || Number.isNaN(to) || to <= from) {
            return errorReply(400, "VALIDATION_ERROR", "start and end must be ISO-8601 times, start first.", [
              "start",
            ]);
          }
        } else {
          return errorReply(400, "VALIDATION_ERROR", "Specify period, or start and end.", ["period"]);
        }
        const metrics = query.getAll("m");
        const unknown = metrics.find((m) => !KNOWN_MEASUREMENTS.has(m));
        // CONNECTIONS_PERCENT / CONNECTIONS_MAX are alert metrics only; they are not measurements.
        if (unknown) return errorReply(400, "VALIDATION_ERROR", `Invalid measurement ${unknown}.`, [unknown]);
        record(processId, now, connectionsNow(processId));
        const points = history.get(processId) ?? new Map<number, number>();
        const series = (name: string) => {
          const dataPoints = [];
          for (let t = from; t < to; t += step) {
            let value: number | null = null;
            if (name === "CONNECTIONS") {
              const inBucket: number[] = [];
              for (let minute = t; minute < t + step; minute += MINUTE) {
                const v = points.get(minute);
                if (v !== undefined) inBucket.push(v);
              }
              if (inBucket.length > 0) value = inBucket.reduce((a, b) => a + b, 0) / inBucket.length;
            }
            dataPoints.push({ timestamp: new Date(t).toISOString(), value });
          }
          return {
            name,
            units: name.startsWith("NETWORK_BYTES") || name === "LOGICAL_SIZE" ? "BYTES" : "SCALAR",
            dataPoints,
          };
        };
        const names = metrics.length > 0 ? [...new Set(metrics)] : [...KNOWN_MEASUREMENTS];
        return new Reply(200, {
          groupId,
          hostId: processId,
          processId,
          granularity,
          start: new Date(from).toISOString(),
          end: new Date(to).toISOString(),
          measurements: names.map(series),
          links: [
            {
              href: `${baseUrl}/api/atlas/v2/groups/${groupId}/processes/${processId}/measurements`,
              rel: "self",
            },
          ],
        });
      },
    ),
    route(
      "restartGroupClusterPrimaries",
      "POST",
      "/api/atlas/v2/groups/{groupId}/clusters/{clusterName}/restartPrimaries",
      ["2023-01-01", "2023-02-01"],
      ["2023-01-01", "2023-02-01"],
      ({ groupId, params }) => {
        const cluster = clusterOrError(groupId, params.clusterName ?? "");
        if (cluster instanceof Reply) return cluster;
        if (cluster.kind !== "dedicated") {
          // Test Failover is M10+ only (notes §3.1); the error code is unverified.
          return errorReply(
            400,
            "TENANT_CLUSTER_UPDATE_UNSUPPORTED",
            `Test failover is not supported on ${cluster.tier} clusters.`,
            [cluster.name],
          );
        }
        for (const set of new Set(cluster.processes.map((p) => p.replicaSetName))) {
          const members = cluster.processes.filter(
            (p) => p.replicaSetName === set && /PRIMARY|SECONDARY/.test(p.typeName),
          );
          const primary = members.findIndex((p) => p.typeName.endsWith("PRIMARY"));
          if (primary < 0 || members.length < 2) continue;
          const next = members[(primary + 1) % members.length]!;
          const old = members[primary]!;
          const prefix = old.typeName.startsWith("SHARD") ? "SHARD_" : "REPLICA_";
          old.typeName = `${prefix}SECONDARY`;
          next.typeName = `${prefix}PRIMARY`;
        }
        options.onRestartPrimaries?.(cluster);
        return new Reply(200, {});
      },
    ),
    route(
      "getGroupAlert",
      "GET",
      "/api/atlas/v2/groups/{groupId}/alerts/{alertId}",
      ["2023-01-01"],
      ["2023-01-01"],
      ({ groupId, params }) => {
        const alert = alerts.get(groupId)?.get(params.alertId ?? "");
        return alert
          ? new Reply(200, alert)
          : errorReply(404, "RESOURCE_NOT_FOUND", `Cannot find resource alert ${params.alertId}.`);
      },
    ),
    route(
      "acknowledgeGroupAlert",
      "PATCH",
      "/api/atlas/v2/groups/{groupId}/alerts/{alertId}",
      ["2023-01-01", "2024-05-30"],
      ["2023-01-01", "2024-05-30"],
      ({ groupId, params, body }) => {
        const alert = alerts.get(groupId)?.get(params.alertId ?? "");
        if (!alert)
          return errorReply(404, "RESOURCE_NOT_FOUND", `Cannot find resource alert ${params.alertId}.`);
        if (typeof body !== "object" || body === null) {
          return errorReply(400, "VALIDATION_ERROR", "The request body must be a JSON object.");
        }
        const ack = body as Record<string, unknown>;
        if (ack.unacknowledgeAlert === true) {
          delete alert.acknowledgedUntil;
          delete alert.acknowledgementComment;
        } else {
          const until = ack.acknowledgedUntil;
          if (typeof until !== "string" || Number.isNaN(Date.parse(until))) {
            return errorReply(400, "VALIDATION_ERROR", "acknowledgedUntil must be an ISO-8601 time.", [
              "acknowledgedUntil",
            ]);
          }
          const comment = ack.acknowledgementComment;
          if (comment !== undefined && (typeof comment !== "string" || comment.length > 200)) {
            return errorReply(
              400,
              "VALIDATION_ERROR",
              "acknowledgementComment must be at most 200 characters.",
            );
          }
          alert.acknowledgedUntil = new Date(Date.parse(until)).toISOString();
          if (comment !== undefined) alert.acknowledgementComment = comment;
        }
        alert.updated = nowIso();
        return new Reply(200, alert);
      },
    ),
  ];

  // ---- auth ------------------------------------------------------------------------------------

  function challenge(stale = false): string {
    const nonce = randomBytes(24).toString("base64");
    nonces.set(nonce, { issuedAt: clock.now(), used: new Set() });
    const staleParam = stale ? ", stale=true" : "";
    return `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth"${staleParam}`;
  }

  function unauthorized(detail: string, stale = false): Reply {
    // The error code for a bad credential is unverified; the body shape is Atlas's.
    return errorReply(401, "UNAUTHORIZED", detail, [], { "www-authenticate": challenge(stale) });
  }

  type AuthResult = { ok: true; principal: string } | { ok: false; reply: Reply };

  function authenticate(
    req: IncomingMessage,
    requestTarget: string,
    scheme: LoggedRequest["auth"],
  ): AuthResult {
    const header = req.headers.authorization ?? "";
    if (/^bearer\s/i.test(header)) {
      const token = tokens.get(header.replace(/^bearer\s+/i, "").trim());
      if (!token) return { ok: false, reply: unauthorized("Invalid or revoked access token.") };
      if (clock.now() >= token.expiresAt)
        return { ok: false, reply: unauthorized("The access token has expired.") };
      scheme.principal = token.clientId;
      return { ok: true, principal: token.clientId };
    }
    if (/^digest\s/i.test(header)) {
      const params = parseAuthParams(header.replace(/^digest\s+/i, ""));
      const username = params.get("username") ?? "";
      scheme.principal = username;
      const key = apiKeys.find((k) => k.publicKey === username);
      const nonce = params.get("nonce") ?? "";
      const issued = nonces.get(nonce);
      if (!issued) return { ok: false, reply: unauthorized("Unknown digest nonce.") };
      if (clock.now() - issued.issuedAt > nonceLifetimeMs) {
        nonces.delete(nonce);
        return { ok: false, reply: unauthorized("The digest nonce is stale.", true) };
      }
      const nc = params.get("nc") ?? "";
      const qop = params.get("qop");
      if (!key || params.get("realm") !== REALM || qop !== "auth" || !/^[0-9a-f]{8}$/i.test(nc)) {
        return { ok: false, reply: unauthorized("You are not authorized for this resource.") };
      }
      if (params.get("uri") !== requestTarget) {
        return { ok: false, reply: unauthorized("The digest uri does not match the request.") };
      }
      if (issued.used.has(nc.toLowerCase()))
        return { ok: false, reply: unauthorized("Replayed digest nonce count.") };
      const ha1 = md5(`${key.publicKey}:${REALM}:${key.privateKey}`);
      const ha2 = md5(`${req.method}:${requestTarget}`);
      const expected = md5(`${ha1}:${nonce}:${nc}:${params.get("cnonce") ?? ""}:auth:${ha2}`);
      if (!safeEqual(expected, (params.get("response") ?? "").toLowerCase())) {
        return { ok: false, reply: unauthorized("You are not authorized for this resource.") };
      }
      issued.used.add(nc.toLowerCase());
      return { ok: true, principal: key.publicKey };
    }
    return { ok: false, reply: unauthorized("This resource requires authentication.") };
  }

  function issueToken(req: IncomingMessage, form: URLSearchParams, scheme: LoggedRequest["auth"]): Reply {
    const header = req.headers.authorization ?? "";
    let clientId = "";
    let clientSecret = "";
    if (/^basic\s/i.test(header)) {
      const decoded = Buffer.from(header.replace(/^basic\s+/i, ""), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      clientId = colon < 0 ? decoded : decoded.slice(0, colon);
      clientSecret = colon < 0 ? "" : decoded.slice(colon + 1);
    }
    scheme.principal = clientId || undefined;
    // RFC 6749 §5.2 error bodies; Atlas's exact wording here is unverified.
    if (form.get("grant_type") !== "client_credentials") {
      return new Reply(400, {
        error: "unsupported_grant_type",
        error_description: "Only client_credentials is supported.",
      });
    }
    const account = serviceAccounts.find((a) => a.clientId === clientId);
    if (!account || !safeEqual(account.clientSecret, clientSecret)) {
      return new Reply(
        401,
        { error: "invalid_client", error_description: "Invalid client credentials." },
        { "www-authenticate": 'Basic realm="Atlas"' },
      );
    }
    const accessToken = `fake.${randomBytes(24).toString("base64url")}`;
    tokens.set(accessToken, { clientId, expiresAt: clock.now() + tokenLifetime * 1000 });
    return new Reply(200, { access_token: accessToken, expires_in: tokenLifetime, token_type: "Bearer" });
  }

  // ---- faults and rate limits --------------------------------------------------------------------

  function takeFault(method: string, path: string): FaultSpec | undefined {
    const index = faults.findIndex(
      ({ spec }) =>
        (spec.match?.method === undefined || spec.match.method.toUpperCase() === method) &&
        (spec.match?.path === undefined || path.includes(spec.match.path)),
    );
    if (index < 0) return undefined;
    const entry = faults[index]!;
    entry.remaining -= 1;
    if (entry.remaining <= 0) faults.splice(index, 1);
    return entry.spec;
  }

  function throttle(groupId: string): Reply | Record<string, string> {
    if (!rateLimit) return {};
    const now = clock.now();
    const perMs = rateLimit.refillPerMinute / MINUTE;
    const bucket = buckets.get(groupId) ?? { tokens: rateLimit.capacity, at: now };
    bucket.tokens = Math.min(rateLimit.capacity, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    buckets.set(groupId, bucket);
    const headers = { "ratelimit-limit": String(rateLimit.capacity) };
    if (bucket.tokens < 1) {
      const waitSeconds = perMs > 0 ? Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) : 60;
      return errorReply(
        429,
        "RATE_LIMITED",
        `Rate limit exceeded for this project. Please retry after ${waitSeconds} seconds.`,
        [],
        { ...headers, "ratelimit-remaining": "0", "retry-after": String(waitSeconds) },
      );
    }
    bucket.tokens -= 1;
    return { ...headers, "ratelimit-remaining": String(Math.floor(bucket.tokens)) };
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  function send(res: ServerResponse, reply: Reply, contentType: string) {
    const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
    res.writeHead(reply.status, { "content-type": contentType, ...reply.headers });
    res.end(text);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, raw: string) {
    const method = req.method ?? "GET";
    const path = decodeURIComponent(url.pathname);
    const query: Record<string, string[]> = {};
    for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key);
    const accept = req.headers.accept;
    const contentType = req.headers["content-type"];
    const auth: LoggedRequest["auth"] = { scheme: "none" };
    const authorization = req.headers.authorization ?? "";
    if (/^bearer\s/i.test(authorization)) auth.scheme = "bearer";
    else if (/^digest\s/i.test(authorization)) auth.scheme = "digest";
    else if (/^basic\s/i.test(authorization)) auth.scheme = "basic";

    let parsedBody: unknown;
    let operationId: string | undefined;
    let groupId: string | undefined;
    let reply: Reply;
    let replyType = "application/json";

    const entry = (status: number, response: LoggedRequest["response"]): LoggedRequest => ({
      at: nowIso(),
      method,
      path,
      query,
      accept,
      contentType,
      body: parsedBody,
      auth,
      operationId,
      groupId,
      status,
      response,
    });
    /** A hung request is logged with status 0: it was received and never answered. */
    const hang = () => {
      log.push(entry(0, { headers: {}, body: undefined }));
      hung.add(res);
    };
    const finish = (final: Reply, type: string) => {
      log.push(entry(final.status, { contentType: type, headers: final.headers, body: final.body }));
      send(res, final, type);
    };
    const faulted = async (): Promise<Reply | "hang" | undefined> => {
      const fault = takeFault(method, path);
      if (!fault) return undefined;
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault.hang) return "hang";
      if (fault.status === undefined) return undefined;
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) };
      const code = fault.errorCode ?? (fault.status === 429 ? "RATE_LIMITED" : "UNEXPECTED_ERROR");
      return errorReply(fault.status, code, `Injected ${fault.status}.`, [], headers);
    };

    if (path === "/api/oauth/token" && method === "POST") {
      operationId = "oauthToken";
      const form = new URLSearchParams(raw);
      parsedBody = { grant_type: form.get("grant_type") };
      const fault = await faulted();
      if (fault === "hang") {
        hang();
        return;
      }
      finish(fault ?? issueToken(req, form, auth), "application/json");
      return;
    }

    const match = routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).find(({ m }) => m !== null);
    const sameMethod = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
    if (!match || !sameMethod) {
      reply = match
        ? errorReply(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${path}.`)
        : errorReply(404, "RESOURCE_NOT_FOUND", `Cannot find resource ${path}.`);
      finish(reply, replyType);
      return;
    }
    const selected = sameMethod;
    operationId = selected.operationId;
    const values = (selected.pattern.exec(url.pathname) ?? []).slice(1).map((v) => decodeURIComponent(v));
    const params = Object.fromEntries(selected.names.map((name, i) => [name, values[i] ?? ""]));
    groupId = params.groupId;

    const authResult = authenticate(req, `${url.pathname}${url.search}`, auth);
    if (!authResult.ok) {
      finish(authResult.reply, replyType);
      return;
    }

    const versions = (accept ?? "")
      .split(",")
      .map((part) => /^\s*application\/vnd\.atlas\.(\d{4}-\d{2}-\d{2})\+json\s*(?:;.*)?$/i.exec(part)?.[1])
      .filter((v): v is string => v !== undefined);
    const version = versions.find(
      (v) => selected.listed.includes(v) && !retired.get(selected.operationId)?.has(v),
    );
    if (!version) {
      finish(errorReply(406, "INVALID_VERSION_DATE", "Invalid accept header or version date."), replyType);
      return;
    }
    if (!selected.implemented.includes(version)) {
      finish(
        errorReply(
          500,
          "FAKE_VERSION_NOT_IMPLEMENTED",
          `The fake answers ${selected.operationId} only as ${selected.implemented.join(", ")}.`,
        ),
        replyType,
      );
      return;
    }

    if (raw !== "") {
      try {
        parsedBody = JSON.parse(raw);
      } catch {
        finish(errorReply(400, "MALFORMED_JSON", "The request body is not valid JSON."), replyType);
        return;
      }
    }

    const fault = await faulted();
    if (fault === "hang") {
      hang();
      return;
    }
    if (fault) {
      finish(fault, replyType);
      return;
    }

    if (!/^[a-f0-9]{24}$/.test(groupId ?? "")) {
      finish(
        errorReply(400, "INVALID_GROUP_ID", `${groupId} is not a valid group id.`, [groupId]),
        replyType,
      );
      return;
    }
    if (!projects.has(groupId!)) {
      finish(errorReply(404, "GROUP_NOT_FOUND", `No group with ID ${groupId} exists.`, [groupId]), replyType);
      return;
    }
    const limited = throttle(groupId!);
    if (limited instanceof Reply) {
      finish(limited, replyType);
      return;
    }

    reply = selected.handle({
      groupId: groupId!,
      params,
      query: url.searchParams,
      version,
      body: parsedBody,
      url,
    });
    if (reply.status < 300) replyType = `application/vnd.atlas.${version}+json;charset=utf-8`;
    finish(new Reply(reply.status, reply.body, { ...limited, ...reply.headers }), replyType);
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL, raw: string) {
    const parts = url.pathname
      .slice(FAKE_CONTROL_PREFIX.length)
      .split("/")
      .filter(Boolean)
      .map(decodeURIComponent);
    const body = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
    const method = req.method ?? "GET";
    const json = (status: number, payload?: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(payload === undefined ? "" : JSON.stringify(payload));
    };
    const [root, id, sub] = parts;
    if (root === "projects" && id === undefined && method === "POST") {
      const groupId = addProject(typeof body.groupId === "string" ? body.groupId : undefined);
      const clusters = ((body.clusters as FakeClusterSpec[] | undefined) ?? []).map((c) =>
        addCluster(groupId, c),
      );
      return json(201, { groupId, clusters });
    }
    if (root === "projects" && id && sub === "clusters" && method === "POST") {
      return json(201, addCluster(id, body as unknown as FakeClusterSpec));
    }
    if (root === "projects" && id && sub === "alerts" && method === "POST") {
      return json(201, addAlert(id, body as FakeAlertInput));
    }
    if (root === "connections" && method === "PUT") {
      for (const [processId, value] of Object.entries(body))
        liveConnections.set(processId, value as number | null);
      return json(204);
    }
    if (root === "history" && id && method === "POST") {
      const endingAt = typeof body.endingAt === "number" ? body.endingAt : undefined;
      recordHistoryFn(id, (body.values as (number | null)[]) ?? [], endingAt);
      return json(204);
    }
    if (root === "faults" && method === "POST") {
      faults.push({ remaining: Number(body.count ?? 1), spec: body as FaultSpec });
      return json(204);
    }
    if (root === "faults" && method === "DELETE") {
      faults.length = 0;
      return json(204);
    }
    if (root === "tokens" && id === "revoke" && method === "POST") {
      tokens.clear();
      return json(204);
    }
    if (root === "requests" && method === "GET") {
      const groupId = url.searchParams.get("groupId") ?? undefined;
      const operationId = url.searchParams.get("operationId") ?? undefined;
      return json(200, { requests: requestsFn({ groupId, operationId }) });
    }
    if (root === "requests" && method === "DELETE") {
      log.length = 0;
      return json(204);
    }
    return json(404, { error: `no control route ${method} ${url.pathname}` });
  }

  function recordHistoryFn(processId: string, values: readonly (number | null)[], endingAt = clock.now()) {
    const last = minuteOf(endingAt);
    for (const [index, value] of values.entries()) {
      record(processId, last - (values.length - 1 - index) * MINUTE, value);
    }
  }

  function requestsFn(filter: { groupId?: string; operationId?: string } = {}): LoggedRequest[] {
    return log.filter(
      (entry) =>
        (filter.groupId === undefined || entry.groupId === filter.groupId) &&
        (filter.operationId === undefined || entry.operationId === filter.operationId),
    );
  }

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? "/", "http://fake-atlas");
        const raw = await readBody(req);
        if (url.pathname.startsWith(`${FAKE_CONTROL_PREFIX}/`)) await handleControl(req, res, url, raw);
        else await handleApi(req, res, url, raw);
      } catch (error) {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(
            JSON.stringify(apiError(500, "UNEXPECTED_ERROR", `fake atlas: ${(error as Error).message}`)),
          );
        }
      }
    })();
  });
  // Keep-alive sockets from the clients must not hold `close()` open.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake atlas: no TCP address");
  baseUrl = `http://127.0.0.1:${address.port}`;

  const sampler = options.sampleIntervalMs ? setInterval(sample, options.sampleIntervalMs) : undefined;
  sampler?.unref();

  return {
    baseUrl,
    port: address.port,
    credentials: { serviceAccount: serviceAccounts[0]!, apiKey: apiKeys[0]! },
    addProject,
    addCluster,
    removeCluster(groupId, name) {
      projects.get(groupId)?.clusters.delete(name);
    },
    cluster: findCluster,
    processes: listedProcesses,
    setConnections(processId, value) {
      liveConnections.set(processId, value);
    },
    setConnectionsNow(fn) {
      connectionsNow = fn ?? storedConnections;
    },
    recordHistory: recordHistoryFn,
    sample,
    addAlert,
    alert: (groupId, alertId) => alerts.get(groupId)?.get(alertId),
    failNext(fault) {
      faults.push({ remaining: fault.count ?? 1, spec: fault });
    },
    clearFaults() {
      faults.length = 0;
    },
    setRateLimit(limit) {
      rateLimit = limit;
      buckets.clear();
    },
    revokeTokens() {
      tokens.clear();
    },
    retireVersion(operationId, version) {
      const set = retired.get(operationId) ?? new Set<string>();
      set.add(version);
      retired.set(operationId, set);
    },
    issuedTokens: () => tokens.size,
    requests: requestsFn,
    clearRequests() {
      log.length = 0;
    },
    async close() {
      if (sampler) clearInterval(sampler);
      for (const res of hung) res.destroy();
      hung.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ------------------------------------------------------------------------------------------------
// CLI for the sandbox

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      tier: { type: "string", default: "M0" },
      cluster: { type: "string", default: "Cluster0" },
    },
  });
  const fake = await startFakeAtlas({ port: Number(values.port), sampleIntervalMs: MINUTE });
  const groupId = fake.addProject();
  fake.addCluster(groupId, { name: values.cluster, tier: values.tier });
  process.stdout.write(
    `${JSON.stringify({ baseUrl: fake.baseUrl, credentials: fake.credentials, groupId })}\n`,
  );
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
