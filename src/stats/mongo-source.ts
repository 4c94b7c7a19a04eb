/**
 * The MongoDB driver file, and the only module in src that imports `mongodb`: the stats source
 * (`serverStatus` for the connection count and, where the tier allows, `$currentOp` with idle
 * connections, attributed to apps by ./current-op.ts) and the connection the kill action
 * (./kill-operations.ts) works through. Driver errors are classified here and nowhere else.
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
 * Through a sharded cluster's router (`hello.msg === "isdbgrid"`) the apps' connections, idle ones
 * included, live on the mongos: `$currentOp` then runs with `localOps: true`, and the counts and the
 * breakdown are that one router's (a finding says so). Without `localOps` it would list the shards'
 * operations, whose client is the router (`client_s`); when only such entries come back, attribution
 * is impossible and a finding says that too — never an empty breakdown.
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
  MongoError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
} from "mongodb";
import * as z from "zod";
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  MONGO_SERVER_SELECTION_TIMEOUT_MS,
  RESPONDER_APP_NAME,
} from "../constants.ts";
import {
  attribution,
  CURRENT_OP_PROJECTION,
  type CurrentOpEntry,
  CurrentOpEntrySchema,
  type DatabaseUser,
  LONG_OPERATION_SECONDS,
  type LongOperation,
  OWN_OPERATION_PROJECTION,
  ownLongOperationsIn,
} from "./current-op.ts";
import {
  type KillLongOperationsResult,
  killOwnLongOperations,
  type MongoOperations,
} from "./kill-operations.ts";
import type { FailureReason, Finding, StatsFailure, StatsSource, StatsSuccess } from "./types.ts";

/** Kept at the old path for importers that have not moved to ./kill-operations.ts yet. */

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

interface Failure {
  reason: FailureReason;
  error: string;
  findings: Finding[];
}

const failure = (reason: FailureReason, error: string, findings: Finding[] = []): Failure => ({
  reason,
  error,
  findings,
});

/**
 * The short-lived client every call uses: at most two sockets per node, closed before `run` returns.
 * A connection string the driver refuses is a `config` failure, handed to `invalid`.
 */
function shortLived(options: {
  uri: string;
  clock?: () => Date;
  serverSelectionTimeoutMS?: number;
  socketTimeoutMS?: number;
}) {
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
    // One attempt per call: the next alarm is the retry, and a driver retry would double the budget.
    retryReads: false,
    retryWrites: false,
  };
  return {
    clock: options.clock ?? (() => new Date()),
    /** A thrown driver error as a failure that is safe to show anywhere. */
    classify: (error: unknown) => classify(error, serverSelectionTimeoutMS),
    async run<T>(invalid: (failure: Failure) => T, use: (client: MongoClient) => Promise<T>): Promise<T> {
      let client: MongoClient;
      try {
        client = new MongoClient(options.uri, clientOptions);
      } catch (error) {
        return invalid(configFailure(error));
      }
      try {
        return await use(client);
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  };
}

/** A stats source that reads connection counts (and, on M10+, per-app attribution) over the driver. */
export function createMongoStatsSource(options: MongoStatsSourceOptions): MongoStatsSource {
  const mongo = shortLived(options);
  const longOperationSeconds = options.longOperationSeconds ?? LONG_OPERATION_SECONDS;

  return {
    name: "mongodb",
    async read(): Promise<MongoStatsReading> {
      const at = mongo.clock().toISOString();
      const fail = (failure: Failure): MongoStatsReading => ({
        source: "mongodb",
        ok: false,
        at,
        ...failure,
      });
      return mongo.run(fail, async (client) => {
        try {
          await client.connect();
          const admin = client.db("admin");
          const status = ServerStatusSchema.safeParse(await admin.command({ serverStatus: 1 }));
          if (!status.success) {
            return fail(failure("unknown", "serverStatus answered without connection counts"));
          }
          const { current, available, totalCreated } = status.data.connections;
          const findings: Finding[] = [];
          const router = await isRouter(admin);
          if (router) {
            findings.push({
              kind: "partial",
              detail:
                "connected through a mongos (sharded cluster): the count and the breakdown by app are this one router's connections; other routers hold their own",
            });
          }
          const entries = await readCurrentOp(admin, findings, router);
          const apps = entries ? attribution(entries) : undefined;
          if (apps?.finding) findings.push(apps.finding);
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
            ...(apps?.byApp ? { byApp: apps.byApp } : {}),
            ...(ownLongOperations ? { ownLongOperations } : {}),
            findings,
          };
        } catch (error) {
          return fail(mongo.classify(error));
        }
      });
    },
  };
}

/**
 * Kills the long-running reads of the connection string's own database user, where the tier lets it
 * list them (M10+). One short-lived client per call, like a stats read; what is killed is
 * ./kill-operations.ts's decision, over the connection below.
 */
export function createMongoOperations(options: MongoOperationsOptions): MongoOperations {
  const mongo = shortLived(options);
  return {
    async killOwnLongOperations(request = {}): Promise<KillLongOperationsResult> {
      const at = mongo.clock().toISOString();
      return mongo.run(
        ({ reason, error }) => ({ ok: false, at, reason, error, killed: [] }),
        (client) =>
          killOwnLongOperations(
            {
              user: databaseUser(client),
              async listOwnOperations() {
                await client.connect();
                try {
                  // allUsers: false — the server lists only our own user's operations, and needs no inprog.
                  return await listCurrentOp(
                    client.db("admin"),
                    { allUsers: false, idleConnections: false },
                    OWN_OPERATION_PROJECTION,
                  );
                } catch (error) {
                  if (isTierRefusal(error)) return "tier-refused";
                  if (isUnauthorized(error)) return "unauthorized";
                  throw error;
                }
              },
              async killOp(opid) {
                try {
                  await client.db("admin").command({ killOp: 1, op: opid });
                } catch (error) {
                  if (!(error instanceof MongoServerError)) throw error;
                  return { unauthorized: error.code === UNAUTHORIZED_CODE, detail: describeError(error) };
                }
              },
              failure: mongo.classify,
            },
            at,
            request,
          ),
      );
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

const isUnauthorized = (error: unknown): boolean =>
  error instanceof MongoServerError && error.code === UNAUTHORIZED_CODE;

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

const HelloSchema = z.object({ msg: z.string().optional().catch(undefined) });

/** True when the server is a mongos: `hello` says `msg: "isdbgrid"`. */
async function isRouter(admin: Db): Promise<boolean> {
  const hello = HelloSchema.safeParse(await admin.command({ hello: 1 }));
  return hello.success && hello.data.msg === "isdbgrid";
}

/**
 * Runs `$currentOp`; returns undefined (with a finding saying why) where the tier or user cannot.
 * On a mongos, `localOps: true` lists the router's own client connections, where the apps are.
 */
async function readCurrentOp(
  admin: Db,
  findings: Finding[],
  router: boolean,
): Promise<CurrentOpEntry[] | undefined> {
  try {
    return await listCurrentOp(
      admin,
      { allUsers: true, idleConnections: true, idleSessions: false, ...(router ? { localOps: true } : {}) },
      CURRENT_OP_PROJECTION,
    );
  } catch (error) {
    if (isTierRefusal(error)) {
      findings.push({
        kind: "tier-refused",
        detail:
          "this cluster tier does not allow $currentOp (M0, Flex, serverless): connections cannot be attributed to apps",
      });
    } else if (isUnauthorized(error)) {
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

function configFailure(error: unknown): Failure {
  return failure("config", `the MongoDB connection string is invalid (${errorName(error)})`);
}

/** Maps a driver error to a reason and a message that is safe to show anywhere. */
function classify(error: unknown, serverSelectionTimeoutMS: number): Failure {
  const chain = causes(error);
  const serverError = chain.find((e): e is MongoServerError => e instanceof MongoServerError);
  if (serverError?.code === AUTHENTICATION_FAILED_CODE) {
    return failure("auth", "MongoDB rejected the monitoring user's credentials (AuthenticationFailed)");
  }
  if (serverError?.code === UNAUTHORIZED_CODE) {
    return failure(
      "auth",
      "the monitoring user may not run serverStatus (Unauthorized); it needs the clusterMonitor role",
    );
  }
  const codes = new Set(chain.map(systemCode).filter((code): code is string => code !== undefined));
  if ([...codes].some((code) => DNS_CODES.has(code)) || chain.some(isDnsError)) {
    return failure("not-found", "the cluster's host name did not resolve");
  }
  if (
    chain.some(isDroppedConnection) &&
    !chain.some(isHandshakeError) &&
    !(error instanceof MongoServerSelectionError)
  ) {
    // Dropped after the handshake, while a command ran: not the full-cluster sign below.
    return failure(
      "unknown",
      "MongoDB closed the connection in the middle of a command (a restart, a failover or a network cut)",
    );
  }
  if (chain.some(isDroppedConnection)) {
    return failure("refused", "MongoDB accepted the connection and closed it before the handshake finished", [
      {
        kind: "cluster-full",
        detail: "the server drops new connections unanswered, as it does at its connection limit",
      },
    ]);
  }
  if (codes.has("ECONNREFUSED")) {
    return failure("refused", "nothing accepted the connection (ECONNREFUSED)");
  }
  if (
    error instanceof MongoServerSelectionError ||
    chain.some((e) => e instanceof MongoNetworkTimeoutError)
  ) {
    return failure("timeout", `no MongoDB server answered within ${serverSelectionTimeoutMS} ms`);
  }
  if (serverError) {
    return failure("unknown", `MongoDB refused a command (${describeError(serverError)})`);
  }
  if (errorName(error) === "MongoParseError" || errorName(error) === "MongoInvalidArgumentError") {
    return configFailure(error);
  }
  return failure("unknown", `unexpected MongoDB failure (${describeError(error)})`);
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

/** The driver labels a connection that failed while it was being set up (the handshake). */
function isHandshakeError(e: unknown): boolean {
  return e instanceof MongoError && e.hasErrorLabel("HandshakeError");
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
