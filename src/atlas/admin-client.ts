/**
 * The Atlas Administration API v2 client: the calls the responder makes, each with the versioned
 * `Accept` it was written against (Atlas answers 406 otherwise), its answer parsed by
 * ./admin-schemas.ts into a small typed object, and failures as the shared error classes
 * (`UpstreamHttpError.code` = Atlas's `errorCode`). Auth is ./admin-auth.ts's; this file only asks it
 * for a header and tells it about a 401. It never reads `env`: `createAtlasAdminClientFor` builds the
 * one client a configuration allows, for its caller to share.
 * Trade-off: every call goes through one `call` loop (sign, send, recover once from a 401), so a call
 * that would want a different retry rule has to be written outside it.
 */
import * as z from "zod";
import type { AtlasAuth, Config } from "../config/schema.ts";
import {
  ATLAS_MAX_PROCESS_PAGES,
  ATLAS_MEASUREMENT_GRANULARITY,
  ATLAS_MEASUREMENT_PERIOD,
  ATLAS_PROCESSES_PAGE_SIZE,
} from "../constants.ts";
import {
  type Clock,
  createHttpClient,
  type FetchLike,
  type HttpMethod,
  type HttpRequest,
} from "../outbound/http.ts";
import { digestAuth, serviceAccountAuth } from "./admin-auth.ts";
import {
  AlertBody,
  ATLAS_SERVICE,
  type AtlasAlert,
  type AtlasCluster,
  type AtlasMeasurements,
  type AtlasProcess,
  atlasErrorFields,
  ClusterBody,
  FlexBody,
  MeasurementsBody,
  ProcessPage,
  parseBody,
  toAlert,
  toCluster,
  toFlexCluster,
} from "./admin-schemas.ts";

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

export type MeasurementWindow = { period: string } | { start: string; end: string };

export interface MeasurementQuery {
  /** ISO-8601 duration, default PT1M. */
  granularity?: string;
  /** `{ period }` (default PT1H) or `{ start, end }`; Atlas refuses both at once. */
  window?: MeasurementWindow;
  /** Measurement names (`m`), default ["CONNECTIONS"]. */
  metrics?: readonly string[];
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

/** One path segment. ':' stays literal (a legal path character) so a processId reads "host:27017", as Atlas's own clients send it. */
const segment = (value: string) => encodeURIComponent(value).replace(/%3A/gi, ":");

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

/**
 * The one Admin API client a configuration allows, or null without credentials. Build it once per
 * configuration and share it: a service account's token is cached per client.
 */
export function createAtlasAdminClientFor(
  config: Config,
  fetch: FetchLike,
  clock: Clock,
): AtlasAdminClient | null {
  const { baseUrl, auth } = config.atlas;
  return auth ? createAtlasAdminClient({ fetch, baseUrl, auth, clock }) : null;
}
