/**
 * The Atlas Administration API v2 client: the only module that knows Atlas URLs, API versions and
 * auth schemes. Every operation sends the versioned `Accept` it was written against (Atlas answers 406
 * otherwise), parses the answer with a lenient zod schema into a small typed object, and fails with
 * the shared error classes (`UpstreamHttpError.code` = Atlas's `errorCode`). It never reads `env`.
 *
 * Auth: a service account (OAuth client credentials; token cached until OAUTH_REFRESH_MARGIN_MS before
 * it expires, one refresh and one retry on a 401) or a legacy API key (HTTP Digest, MD5, qop=auth; the
 * nonce is reused with a rising `nc`, so only the first call pays the challenge round-trip). A 401
 * means Atlas did nothing, so resending after it is safe even for a POST.
 *
 * Trade-off: MD5 comes from `node:crypto`, which Node has and workerd provides under `nodejs_compat`
 * (enabled in wrangler.toml). WebCrypto would avoid the `node:` import, but Node's WebCrypto has no
 * MD5 and workerd's MD5 is a non-standard extension; a hand-written MD5 would be our own crypto.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  ATLAS_MAX_PROCESS_PAGES,
  ATLAS_MEASUREMENT_GRANULARITY,
  ATLAS_MEASUREMENT_PERIOD,
  ATLAS_PROCESSES_PAGE_SIZE,
  OAUTH_REFRESH_MARGIN_MS,
} from "../config/constants.ts";
import type { AtlasAuth } from "../config/schema.ts";
import { UpstreamHttpError } from "../errors.ts";
import {
  type Clock,
  createHttpClient,
  type ErrorFields,
  type FetchLike,
  type HttpClient,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
} from "../outbound/http.ts";

/** The service name in every error this client throws. */
export const ATLAS_SERVICE = "atlas-admin";

/** The `Accept` version each operation is written against (notes/atlas.md §2.1, checked against the spec). */
export const ATLAS_API_VERSIONS = {
  getCluster: "2024-08-05",
  getFlexCluster: "2024-11-13",
  listProcesses: "2023-01-01",
  getProcessMeasurements: "2023-01-01",
  restartPrimaries: "2023-02-01",
  acknowledgeAlert: "2024-05-30",
  getAlert: "2023-01-01",
} as const;

/** The credentials are part of the configuration; re-exported for callers that build a client. */
export type { AtlasAuth };

export interface AtlasAdminClientOptions {
  fetch: FetchLike;
  /** e.g. "https://cloud.mongodb.com" (ATLAS_API_BASE_URL). */
  baseUrl: string;
  auth: AtlasAuth;
  timeoutMs?: number;
  clock?: Clock;
  /** How retries wait; tests inject one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** A cluster as the responder needs it, from either the cluster or the Flex API. */
export interface AtlasCluster {
  groupId: string;
  name: string;
  /** "tenant": M0 and legacy M2/M5; "flex": Flex (including M2/M5 migrated to Flex); "dedicated": M10+. */
  kind: "dedicated" | "tenant" | "flex";
  /** The tier that sets the limits: "M0", "FLEX", "M10", …; undefined when Atlas did not say. */
  tier: string | undefined;
  /** As configured (`electableSpecs.instanceSize`); "FLEX" for Flex clusters. */
  instanceSize?: string;
  /** What the cluster really runs as, when Atlas reports it separately (e.g. an M2 now on FLEX). */
  effectiveInstanceSize?: string;
  /** AWS, AZURE, GCP, TENANT or FLEX. */
  providerName?: string;
  /** The cloud under a TENANT or FLEX cluster. */
  backingProviderName?: string;
  /** The cloud the nodes actually run on: the backing provider for TENANT/FLEX, else the provider. */
  cloudProvider?: string;
  regionName?: string;
  stateName?: string;
  paused: boolean;
  clusterType?: string;
  mongoDBVersion?: string;
  connectionStrings: { standard?: string; standardSrv?: string };
}

/** One MongoDB process (`ApiHostView_Atlas`). */
export interface AtlasProcess {
  /** `hostname:port`, the processId of the measurements API. */
  id: string;
  hostname: string;
  port: number;
  replicaSetName?: string;
  shardName?: string;
  /** REPLICA_PRIMARY, REPLICA_SECONDARY, SHARD_MONGOS, … */
  typeName?: string;
  userAlias?: string;
  version?: string;
  lastPing?: string;
}

export interface AtlasDataPoint {
  at: string;
  /** null where Atlas has no data for that interval. */
  value: number | null;
}

export interface AtlasMeasurements {
  processId: string;
  granularity?: string;
  start?: string;
  end?: string;
  measurements: Array<{ name: string; units?: string; points: AtlasDataPoint[] }>;
}

export type MeasurementWindow = { period: string } | { start: string; end: string };

export interface MeasurementQuery {
  /** ISO-8601 duration, default PT1M. */
  granularity?: string;
  /** `{ period }` (default PT1H) or `{ start, end }`; Atlas refuses both at once. */
  window?: MeasurementWindow;
  /** Measurement names (`m`), default ["CONNECTIONS"]. */
  metrics?: readonly string[];
}

/** An alert as the API returns it; only the fields the responder reads. */
export interface AtlasAlert {
  id: string;
  groupId?: string;
  alertConfigId?: string;
  eventTypeName?: string;
  metricName?: string;
  status?: string;
  clusterName?: string;
  hostnameAndPort?: string;
  replicaSetName?: string;
  currentValue?: { number?: number; units?: string };
  created?: string;
  updated?: string;
  resolved?: string;
  acknowledgedUntil?: string;
  acknowledgementComment?: string;
}

export interface AtlasAdminClient {
  /** GET a cluster (2024-08-05). Flex clusters answer 400 CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API. */
  getCluster(groupId: string, clusterName: string): Promise<AtlasCluster>;
  /** GET a Flex cluster (2024-11-13). */
  getFlexCluster(groupId: string, name: string): Promise<AtlasCluster>;
  /** Every process of the project, following pages. */
  listProcesses(groupId: string, options?: { pageSize?: number }): Promise<AtlasProcess[]>;
  /** Measurements of one process, CONNECTIONS at PT1M over PT1H unless told otherwise. */
  getProcessMeasurements(
    groupId: string,
    processId: string,
    query?: MeasurementQuery,
  ): Promise<AtlasMeasurements>;
  /** Test Failover (M10+). A POST: sent once, never retried. */
  restartPrimaries(groupId: string, clusterName: string): Promise<void>;
  /** Acknowledge an alert until a time, which stops Atlas re-notifying (2024-05-30). */
  acknowledgeAlert(
    groupId: string,
    alertId: string,
    ack: { until: Date | string; comment?: string },
  ): Promise<AtlasAlert>;
  /** GET one alert (2023-01-01). */
  getAlert(groupId: string, alertId: string): Promise<AtlasAlert>;
}

// ---------------------------------------------------------------------------------------------
// Response schemas: lenient (unknown fields are dropped, most fields optional), strict where we rely.

const HardwareSpec = z.object({
  instanceSize: z.string().optional(),
  effectiveInstanceSize: z.string().optional(),
  nodeCount: z.number().optional(),
});

const RegionConfig = z.object({
  providerName: z.string().optional(),
  backingProviderName: z.string().optional(),
  regionName: z.string().optional(),
  priority: z.number().optional(),
  electableSpecs: HardwareSpec.optional(),
  effectiveElectableSpecs: HardwareSpec.optional(),
});

const ConnectionStrings = z.object({ standard: z.string().optional(), standardSrv: z.string().optional() });

const ClusterBody = z.object({
  name: z.string(),
  groupId: z.string().optional(),
  clusterType: z.string().optional(),
  stateName: z.string().optional(),
  paused: z.boolean().optional(),
  mongoDBVersion: z.string().optional(),
  connectionStrings: ConnectionStrings.optional(),
  replicationSpecs: z.array(z.object({ regionConfigs: z.array(RegionConfig).optional() })).optional(),
});

const FlexBody = z.object({
  name: z.string(),
  groupId: z.string().optional(),
  clusterType: z.string().optional(),
  stateName: z.string().optional(),
  mongoDBVersion: z.string().optional(),
  connectionStrings: ConnectionStrings.optional(),
  providerSettings: z.object({
    providerName: z.string().optional(),
    backingProviderName: z.string().optional(),
    regionName: z.string().optional(),
  }),
});

const ProcessBody = z.object({
  id: z.string(),
  hostname: z.string(),
  port: z.number(),
  replicaSetName: z.string().optional(),
  shardName: z.string().optional(),
  typeName: z.string().optional(),
  userAlias: z.string().optional(),
  version: z.string().optional(),
  lastPing: z.string().optional(),
});

const ProcessPage = z.object({ results: z.array(ProcessBody), totalCount: z.number().optional() });

const MeasurementsBody = z.object({
  processId: z.string().optional(),
  granularity: z.string().optional(),
  start: z.string().optional(),
  end: z.string().optional(),
  measurements: z
    .array(
      z.object({
        name: z.string(),
        units: z.string().optional(),
        dataPoints: z
          .array(z.object({ timestamp: z.string(), value: z.number().nullable().optional() }))
          .optional(),
      }),
    )
    .optional(),
});

const AlertBody = z.object({
  id: z.string(),
  groupId: z.string().optional(),
  alertConfigId: z.string().optional(),
  eventTypeName: z.string().optional(),
  metricName: z.string().optional(),
  status: z.string().optional(),
  clusterName: z.string().optional(),
  hostnameAndPort: z.string().optional(),
  replicaSetName: z.string().optional(),
  currentValue: z.object({ number: z.number().optional(), units: z.string().optional() }).optional(),
  created: z.string().optional(),
  updated: z.string().optional(),
  resolved: z.string().optional(),
  acknowledgedUntil: z.string().optional(),
  acknowledgementComment: z.string().optional(),
});

const TokenBody = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
  token_type: z.string().optional(),
});

/** Atlas errors are `{ error: <status>, errorCode, detail, reason }`; the OAuth endpoint uses RFC 6749's `{ error, error_description }`. */
export function atlasErrorFields(body: unknown): ErrorFields {
  if (typeof body !== "object" || body === null) return {};
  const fields = body as Record<string, unknown>;
  const code =
    typeof fields.errorCode === "string"
      ? fields.errorCode
      : typeof fields.error === "string"
        ? fields.error
        : undefined;
  const detail =
    typeof fields.detail === "string"
      ? fields.detail
      : typeof fields.error_description === "string"
        ? fields.error_description
        : undefined;
  return { code, detail: detail?.slice(0, 300) };
}

// ---------------------------------------------------------------------------------------------
// Auth

interface Authorizer {
  /** The `Authorization` for the next request; undefined lets the server challenge first (Digest). */
  header(method: HttpMethod, requestTarget: string): Promise<string | undefined>;
  /** Learns from a 401 (drop the token, take the new nonce); false when another try cannot help. */
  recover(response: HttpResponse, sent: string | undefined): Promise<boolean>;
}

function serviceAccountAuth(
  auth: { clientId: string; clientSecret: string },
  http: HttpClient,
  tokenUrl: URL,
  clock: Clock,
): Authorizer {
  let cached: { header: string; refreshAt: number } | undefined;
  let minting: Promise<string> | undefined;

  async function mint(): Promise<string> {
    const request: HttpRequest = {
      method: "POST",
      url: tokenUrl,
      headers: {
        accept: "application/json",
        authorization: `Basic ${btoa(`${auth.clientId}:${auth.clientSecret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
      // Minting a token changes nothing at Atlas, so this POST may be retried like a read.
      idempotent: true,
    };
    const response = await http.request(request);
    const token = parseBody(TokenBody, request, response);
    const lifetimeMs = token.expires_in * 1000;
    // Refresh a margin early; a token too short-lived for the margin is refreshed at half its life.
    const usable =
      lifetimeMs > 2 * OAUTH_REFRESH_MARGIN_MS ? lifetimeMs - OAUTH_REFRESH_MARGIN_MS : lifetimeMs / 2;
    const header = `Bearer ${token.access_token}`;
    cached = { header, refreshAt: clock.now() + usable };
    return header;
  }

  return {
    async header() {
      if (cached && clock.now() < cached.refreshAt) return cached.header;
      // One mint at a time: concurrent calls share it instead of each asking for a token.
      minting ??= mint().finally(() => {
        minting = undefined;
      });
      return minting;
    },
    async recover(_response, sent) {
      // Drop the token only if it is the one that failed; a concurrent call may have replaced it already.
      if (cached && cached.header === sent) cached = undefined;
      return true;
    },
  };
}

interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
}

/** Reads the Digest challenge of a `WWW-Authenticate` header; undefined when there is none. */
export function parseDigestChallenge(header: string | null): DigestChallenge | undefined {
  if (!header || !/^\s*digest\s/i.test(header)) return undefined;
  const params = new Map<string, string>();
  const pattern = /([a-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/gi;
  for (const match of header.replace(/^\s*digest\s+/i, "").matchAll(pattern)) {
    const key = match[1]?.toLowerCase();
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3];
    if (key && value !== undefined) params.set(key, value);
  }
  const realm = params.get("realm");
  const nonce = params.get("nonce");
  if (realm === undefined || nonce === undefined) return undefined;
  // qop may offer a list ("auth,auth-int"); we only speak "auth".
  const offered = params
    .get("qop")
    ?.split(",")
    .map((q) => q.trim().toLowerCase());
  return {
    realm,
    nonce,
    qop: offered?.includes("auth") ? "auth" : undefined,
    opaque: params.get("opaque"),
    algorithm: params.get("algorithm"),
  };
}

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");
const quote = (value: string) => `"${value.replace(/["\\]/g, "\\$&")}"`;

/** The Digest `Authorization` value (RFC 7616, MD5). Exported for known-answer tests. */
export function digestAuthorization(input: {
  username: string;
  password: string;
  method: string;
  uri: string;
  challenge: DigestChallenge;
  nc: number;
  cnonce: string;
}): string {
  const { username, password, method, uri, challenge, nc, cnonce } = input;
  const ha1 = md5(`${username}:${challenge.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const ncHex = nc.toString(16).padStart(8, "0");
  const response = challenge.qop
    ? md5(`${ha1}:${challenge.nonce}:${ncHex}:${cnonce}:${challenge.qop}:${ha2}`)
    : md5(`${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(uri)}`,
    "algorithm=MD5",
    `response=${quote(response)}`,
  ];
  if (challenge.qop) parts.push(`qop=${challenge.qop}`, `nc=${ncHex}`, `cnonce=${quote(cnonce)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  return `Digest ${parts.join(", ")}`;
}

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  crypto.getRandomValues(buffer);
  return [...buffer].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function digestAuth(auth: { publicKey: string; privateKey: string }): Authorizer {
  let challenge: DigestChallenge | undefined;
  let nc = 0;
  return {
    async header(method, requestTarget) {
      if (!challenge) return undefined;
      nc += 1;
      return digestAuthorization({
        username: auth.publicKey,
        password: auth.privateKey,
        method,
        uri: requestTarget,
        challenge,
        nc,
        cnonce: randomHex(16),
      });
    },
    async recover(response) {
      const fresh = parseDigestChallenge(response.headers.get("www-authenticate"));
      if (!fresh) return false;
      challenge = fresh;
      nc = 0;
      return true;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function parseBody<T>(schema: z.ZodType<T>, request: HttpRequest, response: HttpResponse): T {
  const parsed = schema.safeParse(response.body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(body)";
  // An answer we cannot read is reported like a failed call: same class, with the status Atlas sent.
  throw new UpstreamHttpError({
    service: ATLAS_SERVICE,
    method: request.method,
    url: request.url,
    status: response.status,
    code: "UNEXPECTED_RESPONSE",
    detail: `${where}: ${issue?.message ?? "does not match the expected shape"}`,
  });
}

/** One path segment. ':' stays literal (a legal path character) so a processId reads "host:27017", as Atlas's own clients send it. */
const segment = (value: string) => encodeURIComponent(value).replace(/%3A/gi, ":");

function toCluster(groupId: string, body: z.infer<typeof ClusterBody>): AtlasCluster {
  const configs = body.replicationSpecs?.[0]?.regionConfigs ?? [];
  // The highest-priority region holds the electable nodes that set the tier.
  const region = [...configs].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
  const spec = region?.effectiveElectableSpecs ?? region?.electableSpecs;
  const instanceSize = spec?.instanceSize;
  const effectiveInstanceSize = spec?.effectiveInstanceSize;
  const providerName = region?.providerName;
  const tier = effectiveInstanceSize ?? instanceSize;
  const kind = providerName === "TENANT" ? (tier === "FLEX" ? "flex" : "tenant") : "dedicated";
  const backingProviderName = region?.backingProviderName;
  return {
    groupId: body.groupId ?? groupId,
    name: body.name,
    kind,
    tier,
    instanceSize,
    effectiveInstanceSize,
    providerName,
    backingProviderName,
    cloudProvider: providerName === "TENANT" ? backingProviderName : providerName,
    regionName: region?.regionName,
    stateName: body.stateName,
    paused: body.paused ?? false,
    clusterType: body.clusterType,
    mongoDBVersion: body.mongoDBVersion,
    connectionStrings: { ...body.connectionStrings },
  };
}

function toFlexCluster(groupId: string, body: z.infer<typeof FlexBody>): AtlasCluster {
  const settings = body.providerSettings;
  return {
    groupId: body.groupId ?? groupId,
    name: body.name,
    kind: "flex",
    tier: "FLEX",
    instanceSize: "FLEX",
    providerName: settings.providerName ?? "FLEX",
    backingProviderName: settings.backingProviderName,
    cloudProvider: settings.backingProviderName,
    regionName: settings.regionName,
    stateName: body.stateName,
    paused: false,
    clusterType: body.clusterType ?? "REPLICASET",
    mongoDBVersion: body.mongoDBVersion,
    connectionStrings: { ...body.connectionStrings },
  };
}

function toAlert(body: z.infer<typeof AlertBody>): AtlasAlert {
  return { ...body };
}

// ---------------------------------------------------------------------------------------------

/** Creates the Atlas Admin API client. */
export function createAtlasAdminClient(options: AtlasAdminClientOptions): AtlasAdminClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const clock = options.clock ?? Date;
  const http = createHttpClient({
    service: ATLAS_SERVICE,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    describeError: atlasErrorFields,
    sleep: options.sleep,
    random: options.random,
    clock,
  });
  const authorizer =
    options.auth.kind === "service-account"
      ? serviceAccountAuth(options.auth, http, new URL(`${base}/api/oauth/token`), clock)
      : digestAuth(options.auth);

  async function call<T>(op: {
    method: HttpMethod;
    path: string;
    version: string;
    query?: URLSearchParams;
    json?: unknown;
    schema: z.ZodType<T>;
  }): Promise<T> {
    const url = new URL(`${base}/api/atlas/v2${op.path}`);
    if (op.query && [...op.query].length > 0) url.search = op.query.toString();
    const mediaType = `application/vnd.atlas.${op.version}+json`;
    const headers: Record<string, string> = { accept: mediaType };
    if (op.json !== undefined) headers["content-type"] = mediaType;
    let recovered = false;
    for (;;) {
      // Signed per attempt: a retried request must carry a fresh Digest `nc`, or Atlas sees a replay.
      let sent: string | undefined;
      const request: HttpRequest = {
        method: op.method,
        url,
        headers,
        json: op.json,
        passStatuses: [401],
        headersPerAttempt: async (): Promise<Record<string, string>> => {
          sent = await authorizer.header(op.method, `${url.pathname}${url.search}`);
          return sent === undefined ? {} : { authorization: sent };
        },
      };
      const response = await http.request(request);
      if (response.status !== 401) return parseBody(op.schema, request, response);
      // Exactly one recovery: a second 401 means the credentials themselves are refused.
      if (recovered || !(await authorizer.recover(response, sent))) throw http.errorFor(request, response);
      recovered = true;
    }
  }

  const group = (groupId: string) => `/groups/${segment(groupId)}`;

  return {
    async getCluster(groupId, clusterName) {
      const body = await call({
        method: "GET",
        path: `${group(groupId)}/clusters/${segment(clusterName)}`,
        version: ATLAS_API_VERSIONS.getCluster,
        schema: ClusterBody,
      });
      return toCluster(groupId, body);
    },

    async getFlexCluster(groupId, name) {
      const body = await call({
        method: "GET",
        path: `${group(groupId)}/flexClusters/${segment(name)}`,
        version: ATLAS_API_VERSIONS.getFlexCluster,
        schema: FlexBody,
      });
      return toFlexCluster(groupId, body);
    },

    async listProcesses(groupId, listOptions) {
      const pageSize = Math.min(Math.max(1, listOptions?.pageSize ?? ATLAS_PROCESSES_PAGE_SIZE), 500);
      const processes: AtlasProcess[] = [];
      for (let pageNum = 1; pageNum <= ATLAS_MAX_PROCESS_PAGES; pageNum++) {
        const page = await call({
          method: "GET",
          path: `${group(groupId)}/processes`,
          version: ATLAS_API_VERSIONS.listProcesses,
          query: new URLSearchParams({ itemsPerPage: String(pageSize), pageNum: String(pageNum) }),
          schema: ProcessPage,
        });
        processes.push(...page.results);
        const total = page.totalCount;
        if (page.results.length < pageSize || (total !== undefined && processes.length >= total)) break;
      }
      return processes;
    },

    async getProcessMeasurements(groupId, processId, query = {}) {
      const params = new URLSearchParams({ granularity: query.granularity ?? ATLAS_MEASUREMENT_GRANULARITY });
      const window = query.window ?? { period: ATLAS_MEASUREMENT_PERIOD };
      if ("period" in window) {
        params.set("period", window.period);
      } else {
        params.set("start", window.start);
        params.set("end", window.end);
      }
      for (const metric of query.metrics ?? ["CONNECTIONS"]) params.append("m", metric);
      const body = await call({
        method: "GET",
        path: `${group(groupId)}/processes/${segment(processId)}/measurements`,
        version: ATLAS_API_VERSIONS.getProcessMeasurements,
        query: params,
        schema: MeasurementsBody,
      });
      return {
        processId: body.processId ?? processId,
        granularity: body.granularity,
        start: body.start,
        end: body.end,
        measurements: (body.measurements ?? []).map((m) => ({
          name: m.name,
          units: m.units,
          points: (m.dataPoints ?? []).map((p) => ({ at: p.timestamp, value: p.value ?? null })),
        })),
      };
    },

    async restartPrimaries(groupId, clusterName) {
      await call({
        method: "POST",
        path: `${group(groupId)}/clusters/${segment(clusterName)}/restartPrimaries`,
        version: ATLAS_API_VERSIONS.restartPrimaries,
        schema: z.unknown(),
      });
    },

    async acknowledgeAlert(groupId, alertId, ack) {
      const until = typeof ack.until === "string" ? ack.until : ack.until.toISOString();
      const body = await call({
        method: "PATCH",
        path: `${group(groupId)}/alerts/${segment(alertId)}`,
        version: ATLAS_API_VERSIONS.acknowledgeAlert,
        json: {
          acknowledgedUntil: until,
          // The spec caps the comment at 200 characters.
          ...(ack.comment === undefined ? {} : { acknowledgementComment: ack.comment.slice(0, 200) }),
        },
        schema: AlertBody,
      });
      return toAlert(body);
    },

    async getAlert(groupId, alertId) {
      const body = await call({
        method: "GET",
        path: `${group(groupId)}/alerts/${segment(alertId)}`,
        version: ATLAS_API_VERSIONS.getAlert,
        schema: AlertBody,
      });
      return toAlert(body);
    },
  };
}
