/**
 * The MongoDB stats source: `serverStatus` for the connection count and, where the tier allows,
 * `$currentOp` (idle connections included) to attribute connections to apps by their driver
 * handshake metadata. The only module in src that imports `mongodb`.
 *
 * Each read uses one short-lived client (`maxPoolSize: 1`, polling monitor) closed before the read
 * returns: at most two sockets per node while it runs (the monitor and one pooled connection), none
 * after. Trade-off: a TCP + handshake (+ SCRAM) per read, tens of milliseconds, instead of a cached
 * client — the responder must not itself hold connections to a cluster that is running out of them,
 * and workerd forbids sharing a client's I/O across requests.
 *
 * `current` is the server's own count and so includes the responder's (at most two) sockets; `byApp`
 * leaves them out.
 *
 * Expected failures are values: a tier that refuses `$currentOp` is a `tier-refused` finding; a
 * cluster that accepts and drops our connection is `refused` with a `cluster-full` finding. Error
 * texts are built here from the error's class and code, never copied from the driver, whose messages
 * name the host and port.
 */
import {
  type Db,
  MongoClient,
  type MongoClientOptions,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
} from "mongodb";
import { z } from "zod";
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  MONGO_SERVER_SELECTION_TIMEOUT_MS,
  RESPONDER_APP_NAME,
} from "../config/constants.ts";
import type { AppConnections, FailureReason, Finding, StatsReading, StatsSource } from "./types.ts";

export interface MongoStatsSourceOptions {
  /** A `mongodb://` or `mongodb+srv://` connection string for a user with `clusterMonitor`. */
  uri: string;
  clock?: () => Date;
  /** How long a read waits for a usable server; also bounds the TCP connect and handshake. */
  serverSelectionTimeoutMS?: number;
  /** How long one command may wait for its answer. */
  socketTimeoutMS?: number;
}

/** The app label for connections whose client set no `appName` (matches AppConnections.app's doc). */
export const NO_APP_NAME = "(no appName)";

/** Atlas's "not allowed in this atlas tier" refusal (notes/atlas.md §3.2). */
const ATLAS_ERROR_CODE = 8000;
const AUTHENTICATION_FAILED_CODE = 18;
const UNAUTHORIZED_CODE = 13;

/** Driver / Node error codes meaning the peer dropped a connection it had accepted. */
const DROPPED_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const DNS_CODES = new Set(["ENOTFOUND", "ENODATA", "EBADQUERY", "ESERVFAIL", "EREFUSED", "ENONAME"]);

const ServerStatusSchema = z.object({
  connections: z.object({
    current: z.number(),
    available: z.number().optional(),
    totalCreated: z.number().optional(),
  }),
});

/** Lenient: a client can send odd metadata; one bad field must not hide the connection. */
const text = z.string().optional().catch(undefined);
const CurrentOpEntrySchema = z.object({
  type: text,
  connectionId: z.number().optional().catch(undefined),
  client: text,
  appName: text,
  clientMetadata: z
    .object({
      application: z.object({ name: text }).optional().catch(undefined),
      driver: z.object({ name: text, version: text }).optional().catch(undefined),
      env: z.object({ name: text, region: text }).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});
type CurrentOpEntry = z.infer<typeof CurrentOpEntrySchema>;

/** Only what attribution needs: keeps the answer small on a cluster with thousands of connections. */
const CURRENT_OP_PROJECTION = {
  type: 1,
  connectionId: 1,
  client: 1,
  appName: 1,
  "clientMetadata.application.name": 1,
  "clientMetadata.driver.name": 1,
  "clientMetadata.driver.version": 1,
  "clientMetadata.env.name": 1,
  "clientMetadata.env.region": 1,
} as const;

interface Failure {
  reason: FailureReason;
  error: string;
  findings: Finding[];
}

/** A stats source that reads connection counts (and, on M10+, per-app attribution) over the driver. */
export function createMongoStatsSource(options: MongoStatsSourceOptions): StatsSource {
  const clock = options.clock ?? (() => new Date());
  const serverSelectionTimeoutMS = options.serverSelectionTimeoutMS ?? MONGO_SERVER_SELECTION_TIMEOUT_MS;
  const clientOptions: MongoClientOptions = {
    appName: RESPONDER_APP_NAME,
    maxPoolSize: 1,
    minPoolSize: 0,
    serverSelectionTimeoutMS,
    connectTimeoutMS: serverSelectionTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS ?? DEFAULT_HTTP_TIMEOUT_MS,
    // Polling, never streaming: streaming adds an RTT-pinger socket per node (a third socket).
    serverMonitoringMode: "poll",
    // One attempt per read: the next alarm is the retry, and a driver retry would double the budget.
    retryReads: false,
    retryWrites: false,
  };

  return {
    name: "mongodb",
    async read(): Promise<StatsReading> {
      const at = clock().toISOString();
      const fail = (failure: Failure): StatsReading => ({ source: "mongodb", ok: false, at, ...failure });
      let client: MongoClient;
      try {
        client = new MongoClient(options.uri, clientOptions);
      } catch (error) {
        return fail(configFailure(error));
      }
      try {
        await client.connect();
        const admin = client.db("admin");
        const status = ServerStatusSchema.safeParse(await admin.command({ serverStatus: 1 }));
        if (!status.success) {
          return fail({
            reason: "unknown",
            error: "serverStatus answered without connection counts",
            findings: [],
          });
        }
        const { current, available, totalCreated } = status.data.connections;
        const findings: Finding[] = [];
        const byApp = await readByApp(admin, findings);
        return {
          source: "mongodb",
          ok: true,
          at,
          current,
          ...(available !== undefined ? { available, limit: current + available } : {}),
          ...(totalCreated !== undefined ? { totalCreated } : {}),
          ...(byApp ? { byApp } : {}),
          findings,
        };
      } catch (error) {
        return fail(classify(error, serverSelectionTimeoutMS));
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  };
}

/** Runs `$currentOp`; returns undefined (with a finding saying why) where it cannot attribute. */
async function readByApp(admin: Db, findings: Finding[]): Promise<AppConnections[] | undefined> {
  const entries: CurrentOpEntry[] = [];
  try {
    const cursor = admin.aggregate([
      { $currentOp: { allUsers: true, idleConnections: true, idleSessions: false } },
      { $project: CURRENT_OP_PROJECTION },
    ]);
    for await (const doc of cursor) entries.push(CurrentOpEntrySchema.parse(doc));
  } catch (error) {
    if (
      error instanceof MongoServerError &&
      (error.code === ATLAS_ERROR_CODE || error.codeName === "AtlasError")
    ) {
      findings.push({
        kind: "tier-refused",
        detail:
          "this cluster tier does not allow $currentOp (M0, Flex, serverless): connections cannot be attributed to apps",
      });
    } else if (error instanceof MongoServerError && error.code === UNAUTHORIZED_CODE) {
      findings.push({
        kind: "partial",
        detail:
          "the monitoring user may not run $currentOp (needs the inprog privilege, e.g. clusterMonitor)",
      });
    } else {
      findings.push({ kind: "partial", detail: `$currentOp failed (${describeError(error)})` });
    }
    return undefined;
  }
  return attribute(entries);
}

/** Groups client connections by app, platform, region and driver, leaving out the responder's own. */
function attribute(entries: readonly CurrentOpEntry[]): AppConnections[] {
  const groups = new Map<string, AppConnections & { hostSet: Set<string> }>();
  const seen = new Set<number | string>();
  for (const entry of entries) {
    // Internal threads have no client; idle sessions and cursors are not connections.
    if (entry.client === undefined || (entry.type !== undefined && entry.type !== "op")) continue;
    const id = entry.connectionId ?? entry.client;
    if (seen.has(id)) continue;
    seen.add(id);
    const metadata = entry.clientMetadata;
    const app = metadata?.application?.name || entry.appName || NO_APP_NAME;
    if (app === RESPONDER_APP_NAME) continue;
    const env = metadata?.env?.name ?? null;
    const region = metadata?.env?.region ?? null;
    const driver = metadata?.driver?.name
      ? `${metadata.driver.name} ${metadata.driver.version ?? ""}`.trim()
      : null;
    const key = JSON.stringify([app, env, region, driver]);
    let group = groups.get(key);
    if (!group) {
      group = { app, env, region, driver, hosts: [], connections: 0, hostSet: new Set() };
      groups.set(key, group);
    }
    group.connections += 1;
    group.hostSet.add(hostOf(entry.client));
  }
  return [...groups.values()]
    .map(({ hostSet, ...group }) => ({ ...group, hosts: [...hostSet].sort() }))
    .sort((a, b) => b.connections - a.connections || a.app.localeCompare(b.app));
}

/** "10.0.0.7:41872" → "10.0.0.7"; "[::1]:41872" → "::1". */
function hostOf(client: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(client);
  if (bracketed) return bracketed[1]!;
  const colon = client.lastIndexOf(":");
  return colon > 0 ? client.slice(0, colon) : client;
}

function configFailure(error: unknown): Failure {
  return {
    reason: "config",
    error: `the MongoDB connection string is invalid (${errorName(error)})`,
    findings: [],
  };
}

/** Maps a driver error to a reason and a message that is safe to show anywhere. */
function classify(error: unknown, serverSelectionTimeoutMS: number): Failure {
  const chain = causes(error);
  const serverError = chain.find((e): e is MongoServerError => e instanceof MongoServerError);
  if (serverError?.code === AUTHENTICATION_FAILED_CODE) {
    return {
      reason: "auth",
      error: "MongoDB rejected the monitoring user's credentials (AuthenticationFailed)",
      findings: [],
    };
  }
  if (serverError?.code === UNAUTHORIZED_CODE) {
    return {
      reason: "auth",
      error: "the monitoring user may not run serverStatus (Unauthorized); it needs the clusterMonitor role",
      findings: [],
    };
  }
  const codes = new Set(chain.map(systemCode).filter((code): code is string => code !== undefined));
  if ([...codes].some((code) => DNS_CODES.has(code)) || chain.some(isDnsError)) {
    return { reason: "not-found", error: "the cluster's host name did not resolve", findings: [] };
  }
  if (chain.some(isDroppedConnection)) {
    return {
      reason: "refused",
      error: "MongoDB accepted the connection and closed it before the handshake finished",
      findings: [
        {
          kind: "cluster-full",
          detail: "the server drops new connections unanswered, as it does at its connection limit",
        },
      ],
    };
  }
  if (codes.has("ECONNREFUSED")) {
    return { reason: "refused", error: "nothing accepted the connection (ECONNREFUSED)", findings: [] };
  }
  if (
    error instanceof MongoServerSelectionError ||
    chain.some((e) => e instanceof MongoNetworkTimeoutError)
  ) {
    return {
      reason: "timeout",
      error: `no MongoDB server answered within ${serverSelectionTimeoutMS} ms`,
      findings: [],
    };
  }
  if (serverError) {
    return {
      reason: "unknown",
      error: `MongoDB refused a command (${describeError(serverError)})`,
      findings: [],
    };
  }
  if (errorName(error) === "MongoParseError" || errorName(error) === "MongoInvalidArgumentError") {
    return configFailure(error);
  }
  return { reason: "unknown", error: `unexpected MongoDB failure (${describeError(error)})`, findings: [] };
}

/** The error, its `cause`s and, for a server-selection failure, each server's last monitoring error. */
function causes(error: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (e: unknown, depth: number) => {
    if (e === undefined || e === null || depth > 5 || out.includes(e)) return;
    out.push(e);
    if (e instanceof MongoServerSelectionError) {
      for (const server of e.reason?.servers.values() ?? []) visit(server.error, depth + 1);
    }
    if (e instanceof Error) visit(e.cause, depth + 1);
  };
  visit(error, 0);
  return out;
}

/** The peer closed or reset a connection it had accepted (a full mongod's answer). */
function isDroppedConnection(e: unknown): boolean {
  if (!(e instanceof MongoNetworkError) || e instanceof MongoNetworkTimeoutError) return false;
  const code = systemCode(e.cause);
  if (code !== undefined) return DROPPED_CODES.has(code);
  // The driver reports a clean close by the peer as "connection <n> to <host> closed", without a cause.
  if (e.cause === undefined) return / closed$/.test(e.message);
  // workerd's node:net reports a reset without a code, as "Network connection lost."
  return e.cause instanceof Error && /^Network connection lost/.test(e.cause.message);
}

function isDnsError(e: unknown): boolean {
  return e instanceof Error && /^(querySRV|queryTxt|getaddrinfo) /.test(e.message);
}

function systemCode(e: unknown): string | undefined {
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** Class name plus the server's code name, e.g. "MongoServerError: CommandNotFound": no free text. */
function describeError(error: unknown): string {
  const codeName = error instanceof MongoServerError ? error.codeName : undefined;
  const code = systemCode(error) ?? systemCode(error instanceof Error ? error.cause : undefined);
  return [errorName(error), codeName ?? code].filter(Boolean).join(": ");
}
