/**
 * The MongoDB stats source: `serverStatus` for the connection count and, where the tier allows,
 * `$currentOp` (idle connections included) to attribute connections to apps by their driver
 * handshake metadata and to list the long-running operations of the responder's own database user.
 * Also the fix routine's one MongoDB action, `killOwnLongOperations`. The only module in src that
 * imports `mongodb`.
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
 *
 * killOp (notes/atlas.md §3.2, §4.3): Atlas lets a database user end only its own operations, so the
 * responder can free connections that apps sharing ITS user keep busy with a stuck query — never
 * another user's, never a connection. Trade-offs, all toward doing less:
 *  - "own" means the server listed the op for us (`allUsers: false`) AND its `effectiveUsers` name the
 *    user of our connection string; with no user in it (or X.509/IAM, whose names differ) nothing is own;
 *  - only reads are killed (find, getMore, count, distinct, aggregate without $out/$merge): killing a
 *    multi-document write leaves it half done, an index build is lost work; others are reported `spared`;
 *  - the responder's own ops (appName "atlas-responder", e.g. a concurrent run) are never touched;
 *  - `$currentOp` sees the node we reach: the primary of a replica set (not ops on secondaries), or,
 *    through mongos, every shard's, whose "shard:opid" ids mongos may refuse to kill without `killop`;
 *  - a killed query usually comes straight back (the app retries it): this buys time, the fix is an index.
 * Listed operations carry no command text and no filter values: those may hold application data.
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
import type {
  AppConnections,
  FailureReason,
  Finding,
  StatsFailure,
  StatsSource,
  StatsSuccess,
} from "./types.ts";

/**
 * Own operations running this long count as stuck: a request's query takes milliseconds to seconds;
 * a minute means a scan that pins its connection busy (and slow enough to be sure it is not a burst).
 */
export const LONG_OPERATION_SECONDS = 60;

/** One long-running operation of the responder's own database user. Never its command or filter. */
export interface LongOperation {
  /** The id killOp takes: a number on mongod; "shardName:opid" when listed through mongos. */
  opid: number | string;
  /** How long it has been running, to the millisecond. */
  secondsRunning: number;
  /** The handshake `appName` of the connection running it, or "(no appName)". */
  app: string;
  /** "db.collection" (or "db.$cmd" for a command without one). */
  ns: string;
  /** `$currentOp.op`: "query" (find), "getmore", "command" (aggregate, count, …), "insert", "update", "remove". */
  op: string;
}

/** A stats reading from this source: `ownLongOperations` is there whenever `$currentOp` answered and the URI names a user. */
export interface MongoStatsSuccess extends StatsSuccess {
  /** The responder's own user's operations running ≥ `longOperationSeconds`, longest first. */
  ownLongOperations?: LongOperation[];
}
export type MongoStatsReading = MongoStatsSuccess | StatsFailure;

/** `createMongoStatsSource`'s answer: a StatsSource whose readings may list own long operations. */
export interface MongoStatsSource extends StatsSource {
  read(): Promise<MongoStatsReading>;
}

export interface MongoStatsSourceOptions {
  /** A `mongodb://` or `mongodb+srv://` connection string for a user with `clusterMonitor`. */
  uri: string;
  clock?: () => Date;
  /** How long a read waits for a usable server; also bounds the TCP connect and handshake. */
  serverSelectionTimeoutMS?: number;
  /** How long one command may wait for its answer. */
  socketTimeoutMS?: number;
  /** Own operations running at least this many seconds are listed in `ownLongOperations`. Default 60. */
  longOperationSeconds?: number;
}

export interface MongoOperationsOptions {
  /** A connection string for the database user whose own operations may be killed (the responder's). */
  uri: string;
  clock?: () => Date;
  serverSelectionTimeoutMS?: number;
  socketTimeoutMS?: number;
}

/** An own operation killOp did not end, and why. */
export interface RefusedKill extends LongOperation {
  /**
   * `unauthorized`: the server said Unauthorized, which mongod also answers for an op that ended
   * before killOp reached it; `error`: any other server refusal (named in `detail`).
   */
  reason: "unauthorized" | "error";
  detail: string;
}

/** An own long operation left running on purpose. */
export interface SparedOperation extends LongOperation {
  /** Not a plain read: killing a write or an index build midway does harm (see the file header). */
  reason: "not-a-read";
}

/** What `killOwnLongOperations` did. Expected failures are values; it never throws for them. */
export type KillLongOperationsResult =
  | {
      ok: true;
      at: string;
      killed: LongOperation[];
      refused: RefusedKill[];
      spared: SparedOperation[];
      /**
       * Set when nothing was attempted: `tier` — the tier refuses `$currentOp` (M0, Flex, serverless),
       * so own operations cannot be listed; `no-user` — the connection string names no user to own them.
       */
      skipped?: "tier" | "no-user";
    }
  | {
      ok: false;
      at: string;
      reason: FailureReason;
      /** Safe to show anywhere: no URI, host or credentials. */
      error: string;
      /** Operations already killed before the failure. */
      killed: LongOperation[];
    };

export interface KillLongOperationsRequest {
  /** Kill own operations running at least this many seconds. Default `LONG_OPERATION_SECONDS`. */
  minSeconds?: number;
}

/** The fix routine's MongoDB actions (M10+): today only killOp of the responder's own user's long reads. */
export interface MongoOperations {
  killOwnLongOperations(request?: KillLongOperationsRequest): Promise<KillLongOperationsResult>;
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
const count = z.number().optional().catch(undefined);
const CurrentOpEntrySchema = z.object({
  type: text,
  connectionId: count,
  client: text,
  appName: text,
  active: z.boolean().optional().catch(undefined),
  opid: z.union([z.number(), z.string()]).optional().catch(undefined),
  op: text,
  ns: text,
  // Int64 on the wire; the driver promotes it to a number (promoteLongs is on by default).
  secs_running: count,
  microsecs_running: count,
  effectiveUsers: z
    .array(z.object({ user: z.string(), db: z.string() }))
    .optional()
    .catch(undefined),
  /** Only fetched to tell reads from writes; never copied into a result. */
  command: z.record(z.string(), z.unknown()).optional().catch(undefined),
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
  active: 1,
  opid: 1,
  op: 1,
  ns: 1,
  secs_running: 1,
  microsecs_running: 1,
  effectiveUsers: 1,
} as const;

/** What the kill step needs of each own operation; `command` only to tell reads from writes. */
const OWN_OPERATION_PROJECTION = {
  type: 1,
  appName: 1,
  "clientMetadata.application.name": 1,
  active: 1,
  opid: 1,
  op: 1,
  ns: 1,
  secs_running: 1,
  microsecs_running: 1,
  effectiveUsers: 1,
  command: 1,
} as const;

/** `$currentOp.op` values that are reads whatever the command (find and its getMores). */
const READ_OPS = new Set(["query", "getmore"]);
/** Commands (reported as op "command") that only read, given no $out/$merge stage. */
const READ_COMMANDS = new Set(["find", "aggregate", "count", "distinct"]);

/** The database user a connection string authenticates as: what `effectiveUsers` must name. */
interface DatabaseUser {
  user: string;
  db: string;
}

interface Failure {
  reason: FailureReason;
  error: string;
  findings: Finding[];
}

/** The short-lived client every call uses: at most two sockets per node, closed before it returns. */
function shortLivedClientOptions(options: {
  serverSelectionTimeoutMS: number;
  socketTimeoutMS?: number;
}): MongoClientOptions {
  return {
    appName: RESPONDER_APP_NAME,
    maxPoolSize: 1,
    minPoolSize: 0,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS,
    connectTimeoutMS: options.serverSelectionTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS ?? DEFAULT_HTTP_TIMEOUT_MS,
    // Polling, never streaming: streaming adds an RTT-pinger socket per node (a third socket).
    serverMonitoringMode: "poll",
    // One attempt per call: the next alarm is the retry, and a driver retry would double the budget.
    retryReads: false,
    retryWrites: false,
  };
}

/** A stats source that reads connection counts (and, on M10+, per-app attribution) over the driver. */
export function createMongoStatsSource(options: MongoStatsSourceOptions): MongoStatsSource {
  const clock = options.clock ?? (() => new Date());
  const serverSelectionTimeoutMS = options.serverSelectionTimeoutMS ?? MONGO_SERVER_SELECTION_TIMEOUT_MS;
  const longOperationSeconds = options.longOperationSeconds ?? LONG_OPERATION_SECONDS;
  const clientOptions = shortLivedClientOptions({
    serverSelectionTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS,
  });

  return {
    name: "mongodb",
    async read(): Promise<MongoStatsReading> {
      const at = clock().toISOString();
      const fail = (failure: Failure): MongoStatsReading => ({
        source: "mongodb",
        ok: false,
        at,
        ...failure,
      });
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
        const entries = await readCurrentOp(admin, findings);
        const user = databaseUser(client);
        const ownLongOperations =
          entries && user
            ? ownLongOperationsIn(entries, user, longOperationSeconds).map(({ operation }) => operation)
            : undefined;
        return {
          source: "mongodb",
          ok: true,
          at,
          current,
          ...(available !== undefined ? { available, limit: current + available } : {}),
          ...(totalCreated !== undefined ? { totalCreated } : {}),
          ...(entries ? { byApp: attribute(entries) } : {}),
          ...(ownLongOperations ? { ownLongOperations } : {}),
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

/**
 * Kills the long-running reads of the connection string's own database user, where the tier lets it
 * list them (M10+). One short-lived client per call, like a stats read.
 */
export function createMongoOperations(options: MongoOperationsOptions): MongoOperations {
  const clock = options.clock ?? (() => new Date());
  const serverSelectionTimeoutMS = options.serverSelectionTimeoutMS ?? MONGO_SERVER_SELECTION_TIMEOUT_MS;
  const clientOptions = shortLivedClientOptions({
    serverSelectionTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS,
  });

  return {
    async killOwnLongOperations(request = {}): Promise<KillLongOperationsResult> {
      const at = clock().toISOString();
      const minSeconds = request.minSeconds ?? LONG_OPERATION_SECONDS;
      const killed: LongOperation[] = [];
      const refused: RefusedKill[] = [];
      const spared: SparedOperation[] = [];
      const fail = (failure: Pick<Failure, "reason" | "error">): KillLongOperationsResult => ({
        ok: false,
        at,
        reason: failure.reason,
        error: failure.error,
        killed,
      });
      let client: MongoClient;
      try {
        client = new MongoClient(options.uri, clientOptions);
      } catch (error) {
        return fail(configFailure(error));
      }
      try {
        const user = databaseUser(client);
        if (!user) return { ok: true, at, killed, refused, spared, skipped: "no-user" };
        await client.connect();
        const admin = client.db("admin");
        let entries: CurrentOpEntry[];
        try {
          // allUsers: false — the server lists only our own user's operations, and needs no inprog.
          entries = await listCurrentOp(
            admin,
            { allUsers: false, idleConnections: false },
            OWN_OPERATION_PROJECTION,
          );
        } catch (error) {
          if (isTierRefusal(error)) return { ok: true, at, killed, refused, spared, skipped: "tier" };
          if (error instanceof MongoServerError && error.code === UNAUTHORIZED_CODE) {
            return fail({
              reason: "auth",
              error:
                "the responder's user may not run $currentOp (Unauthorized; sharded clusters need inprog)",
            });
          }
          throw error;
        }
        for (const { operation, entry } of ownLongOperationsIn(entries, user, minSeconds)) {
          if (!isRead(entry)) {
            spared.push({ ...operation, reason: "not-a-read" });
            continue;
          }
          try {
            await admin.command({ killOp: 1, op: operation.opid });
            killed.push(operation);
          } catch (error) {
            if (!(error instanceof MongoServerError)) throw error;
            refused.push({
              ...operation,
              reason: error.code === UNAUTHORIZED_CODE ? "unauthorized" : "error",
              detail:
                error.code === UNAUTHORIZED_CODE
                  ? "Unauthorized: not the responder's user's operation, or it ended before killOp reached it"
                  : describeError(error),
            });
          }
        }
        return { ok: true, at, killed, refused, spared };
      } catch (error) {
        return fail(classify(error, serverSelectionTimeoutMS));
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  };
}

async function listCurrentOp(
  admin: Db,
  stage: Record<string, boolean>,
  projection: Record<string, 1>,
): Promise<CurrentOpEntry[]> {
  const entries: CurrentOpEntry[] = [];
  const cursor = admin.aggregate([{ $currentOp: stage }, { $project: projection }]);
  for await (const doc of cursor) entries.push(CurrentOpEntrySchema.parse(doc));
  return entries;
}

function isTierRefusal(error: unknown): boolean {
  return (
    error instanceof MongoServerError && (error.code === ATLAS_ERROR_CODE || error.codeName === "AtlasError")
  );
}

/** The user and auth database from the connection string; undefined when it names none. */
function databaseUser(client: MongoClient): DatabaseUser | undefined {
  const credentials = client.options.credentials;
  if (!credentials?.username) return undefined;
  return { user: credentials.username, db: credentials.source || "admin" };
}

/** Active operations run by `user` (and not by the responder itself) for ≥ minSeconds, longest first. */
function ownLongOperationsIn(
  entries: readonly CurrentOpEntry[],
  user: DatabaseUser,
  minSeconds: number,
): { operation: LongOperation; entry: CurrentOpEntry }[] {
  const found: { operation: LongOperation; entry: CurrentOpEntry }[] = [];
  for (const entry of entries) {
    if ((entry.type !== undefined && entry.type !== "op") || entry.active !== true) continue;
    if (entry.opid === undefined || entry.op === undefined || entry.op === "none") continue;
    if (!entry.effectiveUsers?.some((u) => u.user === user.user && u.db === user.db)) continue;
    const app = entry.clientMetadata?.application?.name || entry.appName || NO_APP_NAME;
    if (app === RESPONDER_APP_NAME) continue;
    const seconds =
      entry.microsecs_running !== undefined ? entry.microsecs_running / 1_000_000 : entry.secs_running;
    if (seconds === undefined || seconds < minSeconds) continue;
    found.push({
      operation: {
        opid: entry.opid,
        secondsRunning: Math.round(seconds * 1000) / 1000,
        app,
        ns: entry.ns ?? "",
        op: entry.op,
      },
      entry,
    });
  }
  return found.sort((a, b) => b.operation.secondsRunning - a.operation.secondsRunning);
}

/** A find, getMore, count, distinct or aggregate that writes nothing ($out/$merge): safe to interrupt. */
function isRead(entry: CurrentOpEntry): boolean {
  if (entry.op !== undefined && READ_OPS.has(entry.op)) return true;
  if (entry.op !== "command" || entry.command === undefined) return false;
  // A command over mongod's report limit comes back as { $truncated: "…" }: unknown, so not a read.
  const name = Object.keys(entry.command)[0];
  if (name === undefined || !READ_COMMANDS.has(name)) return false;
  if (name !== "aggregate") return true;
  const pipeline = entry.command.pipeline;
  return (
    Array.isArray(pipeline) &&
    pipeline.every(
      (stage) => typeof stage === "object" && stage !== null && !("$out" in stage || "$merge" in stage),
    )
  );
}

/** Runs `$currentOp`; returns undefined (with a finding saying why) where the tier or user cannot. */
async function readCurrentOp(admin: Db, findings: Finding[]): Promise<CurrentOpEntry[] | undefined> {
  try {
    return await listCurrentOp(
      admin,
      { allUsers: true, idleConnections: true, idleSessions: false },
      CURRENT_OP_PROJECTION,
    );
  } catch (error) {
    if (isTierRefusal(error)) {
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
