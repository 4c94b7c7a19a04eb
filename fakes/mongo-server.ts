/**
 * An honest fake MongoDB server: a `node:net` TCP server on 127.0.0.1 that speaks enough of the wire
 * protocol (legacy OP_QUERY handshake, OP_MSG with document sequences) for the official driver to
 * connect, authenticate with SCRAM-SHA-256 and run the commands the responder relies on.
 *
 * It owns the rules the responder must live with, counted over REAL sockets: a connection limit
 * (beyond it a connection is accepted and closed unanswered, as a full mongod does), the shared-tier
 * (M0/Flex) restrictions — trimmed `serverStatus`, `$currentOp` refused with 8000 AtlasError — and
 * the driver's handshake metadata behind `$currentOp`'s `clientMetadata`.
 *
 * Long-running operations are real: `find` or `aggregate` on a collection named `slow_<ms>` (a
 * FAKE-ONLY knob, e.g. `slow_60000` or `slow_60000_orders`) stays in progress for that long, holding
 * its connection busy, and then answers an empty cursor. Meanwhile `$currentOp` lists it (`opid`,
 * `secs_running`, `effectiveUsers`, …) and `killOp` may end it, by Atlas's rule: only operations of
 * the caller's own user (mongod's rule for a user without the `killop` action, which Atlas grants to
 * no database user); anything else — another user's op, an op that no longer exists — is
 * `Unauthorized`. The killed op's client gets `Interrupted` (11601). `maxTimeMS` is honoured, and a
 * client that disconnects ends its op.
 *
 * With `mongos: true` it is a sharded cluster's router: `hello` answers `msg: "isdbgrid"`, and
 * `$currentOp` without `localOps` lists what the shards see — the router's own pooled connections to
 * them, with `client_s` (the router's address) instead of `client` and no app metadata — while
 * `localOps: true` lists the router's own client connections, with `client` and `clientMetadata`.
 *
 * Trade-off: it stores no data (no collections, no CRUD) and models no roles; any authenticated user
 * may run every command. Hello replies carry no `topologyVersion`, so drivers poll instead of
 * streaming: the socket counts stay deterministic (no RTT-pinger socket). Passwords are not
 * SASLprep-normalised, so keep them ASCII.
 *
 * CLI (for the sandbox): `node fakes/mongo-server.ts --port 27017 --tier M0 --limit 500 [--user u:p]`
 * prints the connection string on stdout and runs until SIGINT/SIGTERM.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Binary, BSON, type Document, Long } from "bson";

/** Tiers on which Atlas limits serverStatus and forbids `$currentOp` (notes/atlas.md §3.2). */
export const SHARED_TIERS: readonly string[] = ["M0", "M2", "M5", "FLEX", "SERVERLESS"];

/** Whether a tier name is one of Atlas's shared tiers (M0, Flex, legacy M2/M5, serverless). */
export function isSharedTier(tier: string): boolean {
  return SHARED_TIERS.includes(tier.toUpperCase());
}

export interface FakeMongoOptions {
  /** "M0", "FLEX", "M2", "M5" behave as shared tiers; anything else ("M10", "M30", …) as dedicated. Default "M10". */
  tier?: string;
  /** Open connections the server accepts; the next one is closed unanswered. Default 500 (M0/Flex). */
  connectionLimit?: number;
  /** user → password. When set, every command but the handshake, ping and buildInfo needs SCRAM-SHA-256. */
  users?: Record<string, string>;
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Behave as a mongos (a sharded cluster's router) in front of `shards`. Default false. */
  mongos?: boolean;
  /** mongos only: the shard names `$currentOp` reports without `localOps`. Default ["shard0", "shard1"]. */
  shards?: string[];
}

/** mongos only: how many pooled connections the router keeps to each shard (idle ones are listed). */
const ROUTER_POOL_PER_SHARD = 2;

/** One open connection as the server sees it. */
export interface FakeConnectionInfo {
  /** The server's connection number (`connN` in logs and `$currentOp.desc`). */
  id: number;
  /** Peer address "ip:port", as `$currentOp.client` reports it. */
  client: string;
  openedAt: string;
  /** `client.application.name` from the handshake, or null when the client set none. */
  appName: string | null;
  /** The handshake's `client` document (driver, os, platform, env, application), or null before it. */
  clientMetadata: Document | null;
  /** The authenticated user, or null. */
  user: string | null;
}

/** One operation in progress, as `$currentOp` would list it. */
export interface FakeOperationInfo {
  opid: number;
  connectionId: number;
  appName: string | null;
  user: string | null;
  /** `$currentOp.op`: "query" (find), "getmore", "command" (aggregate and the rest), … */
  op: string;
  ns: string;
  startedAt: string;
  secondsRunning: number;
}

/** A killOp the server accepted: who asked, and the operation it ended (null: no such op, auth off). */
export interface FakeKilledOp {
  op: number;
  connectionId: number;
  appName: string | null;
  target: { connectionId: number; appName: string | null; user: string | null } | null;
}

/** One command the server received (sasl payloads redacted). */
export interface FakeCommandRecord {
  at: string;
  connectionId: number;
  appName: string | null;
  db: string;
  name: string;
  command: Document;
}

/** A JSON-friendly snapshot of the server's counters (appName keys use "" for "no appName"). */
export interface FakeMongoStats {
  port: number;
  tier: string;
  connectionLimit: number;
  open: number;
  totalCreated: number;
  rejected: number;
  openByApp: Record<string, number>;
  maxOpenByApp: Record<string, number>;
  connections: FakeConnectionInfo[];
  killedOps: FakeKilledOp[];
}

export interface FakeMongoUriOptions {
  user?: string;
  password?: string;
  appName?: string;
  /** Extra query parameters, e.g. `{ serverSelectionTimeoutMS: "500" }`. */
  params?: Record<string, string>;
}

export interface FakeMongo {
  readonly host: string;
  readonly port: number;
  /** A `mongodb://127.0.0.1:PORT/?directConnection=true` URI, optionally with credentials and options. */
  uri(options?: FakeMongoUriOptions): string;
  openConnections(): FakeConnectionInfo[];
  /** Open sockets, all of them or those whose handshake named `appName` (null: no appName). */
  openCount(appName?: string | null): number;
  /** The most sockets `appName` held at once since start or the last `resetMaxOpenCounts()`. */
  maxOpenCountBy(appName: string | null): number;
  resetMaxOpenCounts(): void;
  rejectedCount(): number;
  totalCreated(): number;
  tier(): string;
  setTier(tier: string): void;
  setConnectionLimit(limit: number): void;
  /** While stalled, new and existing connections get no answers (a hung or unreachable node). */
  setStalled(stalled: boolean): void;
  /** Closes open connections (all, or those matching), as a failover or restart would. Returns how many. */
  dropConnections(match?: (connection: FakeConnectionInfo) => boolean): number;
  /**
   * Fault: the node goes down. Open connections are dropped and the port stops listening, so a new
   * connection is refused (ECONNREFUSED) until `accept()` listens on the same port again.
   */
  refuse(): Promise<void>;
  /** Listens again after `refuse()`. */
  accept(): Promise<void>;
  /**
   * Fault: the next `times` (default 1) commands named `command` (default: any command but the
   * handshake and authentication) are read and then the socket is dropped without an answer.
   */
  dropMidCommand(options?: { command?: string; times?: number }): void;
  /** Fault: every command but the handshake and authentication is answered `ms` late (0 ends it). */
  slow(ms: number): void;
  /** The most recent commands received (bounded), oldest first. */
  commandsSeen(): FakeCommandRecord[];
  /** Operations in progress on client connections (the slow ones are the only ones that last). */
  runningOps(): FakeOperationInfo[];
  killedOps(): FakeMongoStats["killedOps"];
  stats(): FakeMongoStats;
  /** Resolves once `condition()` holds, polling every 10 ms; rejects after `timeoutMs` (default 5 s). */
  waitFor(condition: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

// Wire protocol constants (MongoDB wire protocol spec).
const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const MSG_CHECKSUM_PRESENT = 1 << 0;
const MSG_MORE_TO_COME = 1 << 1;
const HEADER_BYTES = 16;
const MAX_MESSAGE_BYTES = 48_000_000;
const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
/** wire version 21 = MongoDB 7.0, what Atlas runs for M0 today. */
const MAX_WIRE_VERSION = 21;
const SERVER_VERSION = "7.0.14";
/** mongod's default scramSHA256IterationCount. */
const SCRAM_ITERATIONS = 15_000;
/** A cursor's first batch size when the client gives none (mongod's default). */
const DEFAULT_FIRST_BATCH = 101;
/** `find`/`aggregate` on `slow_<ms>[_anything]` takes <ms> milliseconds: the fake-only slow-query knob. */
const SLOW_COLLECTION = /^slow_(\d+)(?:_|$)/;
/** Beyond ~24.8 days setTimeout fires at once; a day is longer than any test or sandbox session. */
const MAX_SLOW_MS = 24 * 60 * 60 * 1000;
/** mongod's cap on a `command` reported by `$currentOp` with `truncateOps: true` (bytes). */
const CURRENT_OP_COMMAND_MAX_BYTES = 1000;
/** Enough history for a test to inspect, bounded so a long sandbox run does not grow without limit. */
const MAX_COMMAND_RECORDS = 5_000;
/** Commands a server with auth enabled answers before authentication. */
const PRE_AUTH_COMMANDS = new Set([
  "hello",
  "isMaster",
  "ismaster",
  "saslStart",
  "saslContinue",
  "ping",
  "buildInfo",
  "buildinfo",
  "endSessions",
]);
const LEGACY_OP_QUERY_COMMANDS = new Set(["hello", "isMaster", "ismaster"]);

interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

interface ScramConversation {
  user: string;
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  skipEmptyExchange: boolean;
  /** The proof checked out and the server signature went back; only an empty exchange remains. */
  verified: boolean;
}

interface ConnectionState {
  id: number;
  socket: Socket;
  client: string;
  openedAt: Date;
  clientMetadata: Document | null;
  appName: string | null;
  user: string | null;
  scram: ScramConversation | null;
  /** True while a command runs on this connection (serverStatus `active`, $currentOp `active`). */
  busy: boolean;
  currentCommand: Document | null;
  currentOpId: number | null;
  /** What `$currentOp` reports for the running command: its `op`, `ns` and start (ms, monotonic). */
  currentOp: string;
  currentNs: string;
  currentStartedAt: number;
  /** Ends the running slow operation with an error (killOp, a disconnect); null when none runs. */
  interrupt: ((error: CommandError) => void) | null;
  /** A reply is still owed: mongod runs one command per connection at a time, so input waits. */
  waiting: boolean;
  pending: Buffer;
}

interface CursorState {
  ns: string;
  docs: Document[];
}

/** A command failed the way mongod reports it: `{ ok: 0, errmsg, code, codeName }`. */
class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  constructor(code: number, codeName: string, message: string) {
    super(message);
    this.code = code;
    this.codeName = codeName;
  }
}

/** Malformed traffic: mongod closes the connection. */
class ProtocolError extends Error {}

/** Starts a fake MongoDB server on 127.0.0.1 and resolves once it listens. */
export async function startFakeMongo(options: FakeMongoOptions = {}): Promise<FakeMongo> {
  const host = "127.0.0.1";
  let tier = (options.tier ?? "M10").toUpperCase();
  const router = options.mongos === true;
  const shards = options.shards ?? ["shard0", "shard1"];
  let connectionLimit = options.connectionLimit ?? 500;
  let stalled = false;
  const startedAt = Date.now();
  const credentials = new Map<string, ScramCredential>();
  for (const [user, password] of Object.entries(options.users ?? {})) {
    credentials.set(user, makeScramCredential(password));
  }
  const authEnabled = credentials.size > 0;

  const open = new Map<number, ConnectionState>();
  const openByApp = new Map<string | null, number>();
  const maxOpenByApp = new Map<string | null, number>();
  const cursors = new Map<number, CursorState>();
  const commands: FakeCommandRecord[] = [];
  const killed: FakeKilledOp[] = [];
  let nextConnectionId = 1;
  let nextRequestId = 1;
  let nextOpId = 1;
  let nextCursorId = 1;
  let totalCreated = 0;
  let rejected = 0;
  const counters = { command: 0, getmore: 0, bytesIn: 0, bytesOut: 0, numRequests: 0 };

  const server: Server = createServer((socket) => {
    // A full mongod accepts the TCP connection, then closes it without a word. The close is a clean
    // FIN: what the client already sent is read and dropped, because destroying a socket with unread
    // bytes answers with a reset, which workerd logs as "Connection reset by peer" on every such test.
    if (open.size >= connectionLimit) {
      rejected += 1;
      socket.on("error", () => {});
      socket.resume();
      socket.end();
      return;
    }
    const id = nextConnectionId++;
    totalCreated += 1;
    const conn: ConnectionState = {
      id,
      socket,
      client: `${socket.remoteAddress}:${socket.remotePort}`,
      openedAt: new Date(),
      clientMetadata: null,
      appName: null,
      user: null,
      scram: null,
      busy: false,
      currentCommand: null,
      currentOpId: null,
      currentOp: "none",
      currentNs: "",
      currentStartedAt: 0,
      interrupt: null,
      waiting: false,
      pending: Buffer.alloc(0),
    };
    open.set(id, conn);
    countApp(null, +1);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => onData(conn, chunk));
    socket.on("error", () => {
      // A peer reset is ordinary (a killed app); "close" follows and does the bookkeeping.
    });
    socket.on("close", () => {
      if (open.delete(id)) countApp(conn.appName, -1);
      conn.pending = Buffer.alloc(0);
      // mongod notices the vanished client and ends its operation.
      conn.interrupt?.(
        new CommandError(279, "ClientDisconnect", "operation was interrupted because a client disconnected"),
      );
    });
  });

  function countApp(appName: string | null, delta: number): void {
    const next = (openByApp.get(appName) ?? 0) + delta;
    openByApp.set(appName, next);
    if (next > (maxOpenByApp.get(appName) ?? 0)) maxOpenByApp.set(appName, next);
  }

  function onData(conn: ConnectionState, chunk: Buffer): void {
    if (stalled) return;
    conn.pending = conn.pending.length === 0 ? chunk : Buffer.concat([conn.pending, chunk]);
    drain(conn);
  }

  /** Runs the buffered messages in order, pausing while a slow command's reply is still owed. */
  function drain(conn: ConnectionState): void {
    while (!conn.waiting && conn.pending.length >= 4) {
      const length = conn.pending.readInt32LE(0);
      if (length < HEADER_BYTES || length > MAX_MESSAGE_BYTES) {
        conn.socket.destroy();
        return;
      }
      if (conn.pending.length < length) return;
      const message = conn.pending.subarray(0, length);
      conn.pending = conn.pending.subarray(length);
      counters.bytesIn += length;
      counters.numRequests += 1;
      try {
        onMessage(conn, message);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        conn.socket.destroy();
        return;
      }
    }
  }

  /** The faults `dropMidCommand` and `slow` act on everything but these. */
  const HANDSHAKE_COMMANDS = new Set(["hello", "isMaster", "ismaster", "saslStart", "saslContinue"]);
  const drops: Array<{ command: string | null; remaining: number }> = [];
  let slowMs = 0;

  /** Takes a pending drop fault for this command, if one matches. */
  function takeDrop(name: string): boolean {
    const index = drops.findIndex((d) =>
      d.command === null ? !HANDSHAKE_COMMANDS.has(name) : d.command === name,
    );
    if (index === -1) return false;
    const drop = drops[index]!;
    drop.remaining -= 1;
    if (drop.remaining <= 0) drops.splice(index, 1);
    return true;
  }

  /** A reply held back by the `slow` fault. */
  function late(name: string, reply: Document | Promise<Document>): Document | Promise<Document> {
    if (slowMs <= 0 || HANDSHAKE_COMMANDS.has(name)) return reply;
    const wait = slowMs;
    return new Promise<Document>((resolve) => setTimeout(() => resolve(reply), wait));
  }

  function onMessage(conn: ConnectionState, message: Buffer): void {
    const requestId = message.readInt32LE(4);
    const opCode = message.readInt32LE(12);
    const body = message.subarray(HEADER_BYTES);
    if (opCode === OP_MSG && drops.length > 0) {
      const { command } = parseOpMsg(body);
      const name = Object.keys(command)[0] ?? "";
      if (takeDrop(name)) {
        const db = typeof command.$db === "string" ? command.$db : "";
        record(conn, db, name, command);
        conn.socket.destroy();
        return;
      }
    }
    if (opCode === OP_QUERY) {
      const { db, command } = parseOpQuery(body);
      const reply = execute(conn, db, command, true);
      answer(conn, reply, (doc) => send(conn, encodeOpReply(nextRequestId++, requestId, doc)));
      return;
    }
    if (opCode === OP_MSG) {
      const { flags, command } = parseOpMsg(body);
      const db = typeof command.$db === "string" ? command.$db : null;
      const reply =
        db === null
          ? errorReply(new CommandError(40571, "Location40571", "OP_MSG requests require a $db argument"))
          : late(Object.keys(command)[0] ?? "", execute(conn, db, command, false));
      answer(conn, reply, (doc) => {
        // moreToCome: the client wants no answer (the driver's endSessions on close).
        if ((flags & MSG_MORE_TO_COME) === 0) send(conn, encodeOpMsg(nextRequestId++, requestId, doc));
      });
      return;
    }
    // OP_COMPRESSED is never negotiated (the handshake answers no compression); anything else is obsolete.
    throw new ProtocolError(`unsupported opCode ${opCode}`);
  }

  /** Replies now, or once a slow command ends; until then the connection reads no further commands. */
  function answer(
    conn: ConnectionState,
    reply: Document | Promise<Document>,
    deliver: (doc: Document) => void,
  ): void {
    if (!(reply instanceof Promise)) {
      deliver(reply);
      return;
    }
    conn.waiting = true;
    void reply.then((doc) => {
      deliver(doc);
      conn.waiting = false;
      drain(conn);
    });
  }

  function send(conn: ConnectionState, bytes: Buffer): void {
    counters.bytesOut += bytes.length;
    if (!conn.socket.destroyed) conn.socket.write(bytes);
  }

  function execute(
    conn: ConnectionState,
    db: string,
    command: Document,
    viaOpQuery: boolean,
  ): Document | Promise<Document> {
    const name = Object.keys(command)[0] ?? "";
    record(conn, db, name, command);
    counters[name === "getMore" ? "getmore" : "command"] += 1;
    beginOp(conn, db, name, command);
    let slow = false;
    try {
      if (viaOpQuery && !LEGACY_OP_QUERY_COMMANDS.has(name)) {
        throw new CommandError(
          352,
          "UnsupportedOpQueryCommand",
          `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
        );
      }
      if (authEnabled && conn.user === null && !PRE_AUTH_COMMANDS.has(name)) {
        throw new CommandError(13, "Unauthorized", `Command ${name} requires authentication`);
      }
      const result = runCommand(conn, db, name, command);
      if (result instanceof Promise) {
        slow = true;
        return result.then((doc) => ({ ...doc, ok: 1 }), failureReply).finally(() => endOp(conn));
      }
      return { ...result, ok: 1 };
    } catch (error) {
      return failureReply(error);
    } finally {
      if (!slow) endOp(conn);
    }
  }

  function beginOp(conn: ConnectionState, db: string, name: string, command: Document): void {
    conn.busy = true;
    conn.currentCommand = command;
    conn.currentOpId = nextOpId++;
    conn.currentOp = OP_TYPES[name] ?? "command";
    conn.currentStartedAt = performance.now();
    const target = command[name];
    conn.currentNs =
      (name === "find" || name === "aggregate") && typeof target === "string"
        ? `${db}.${target}`
        : name === "aggregate"
          ? `${db}.$cmd.aggregate`
          : `${db}.$cmd`;
  }

  function endOp(conn: ConnectionState): void {
    conn.busy = false;
    conn.currentCommand = null;
    conn.currentOpId = null;
    conn.currentOp = "none";
    conn.currentNs = "";
    conn.interrupt = null;
  }

  /** A slow `find`/`aggregate`: in progress for the collection's <ms>, then an empty first batch. */
  function slowRead(
    conn: ConnectionState,
    db: string,
    collection: string,
    command: Document,
  ): Promise<Document> {
    const ms = Math.min(Number(SLOW_COLLECTION.exec(collection)?.[1] ?? 0), MAX_SLOW_MS);
    const maxTimeMS =
      typeof command.maxTimeMS === "number" && command.maxTimeMS > 0 ? command.maxTimeMS : null;
    return new Promise<Document>((resolve, reject) => {
      const finish = (outcome: () => void) => {
        clearTimeout(done);
        if (expiry) clearTimeout(expiry);
        conn.interrupt = null;
        outcome();
      };
      const done = setTimeout(
        () => finish(() => resolve({ cursor: { id: Long.ZERO, ns: `${db}.${collection}`, firstBatch: [] } })),
        ms,
      );
      const expiry =
        maxTimeMS !== null && maxTimeMS < ms
          ? setTimeout(
              () =>
                finish(() =>
                  reject(new CommandError(50, "MaxTimeMSExpired", "operation exceeded time limit")),
                ),
              maxTimeMS,
            )
          : null;
      conn.interrupt = (error) => finish(() => reject(error));
    });
  }

  function record(conn: ConnectionState, db: string, name: string, command: Document): void {
    const redacted =
      name === "saslStart" || name === "saslContinue" ? { ...command, payload: "(redacted)" } : command;
    commands.push({
      at: new Date().toISOString(),
      connectionId: conn.id,
      appName: conn.appName,
      db,
      name,
      command: redacted,
    });
    if (commands.length > MAX_COMMAND_RECORDS) commands.splice(0, commands.length - MAX_COMMAND_RECORDS);
  }

  function runCommand(
    conn: ConnectionState,
    db: string,
    name: string,
    command: Document,
  ): Document | Promise<Document> {
    switch (name) {
      case "hello":
      case "isMaster":
      case "ismaster":
        return hello(conn, name, command);
      case "ping":
        return {};
      case "buildInfo":
      case "buildinfo":
        return {
          version: SERVER_VERSION,
          gitVersion: "0000000000000000000000000000000000000000",
          versionArray: SERVER_VERSION.split(".").map(Number).concat([0]),
          bits: 64,
          maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
        };
      case "endSessions":
        return {};
      case "saslStart":
        return saslStart(conn, command);
      case "saslContinue":
        return saslContinue(conn, command);
      case "serverStatus":
        return serverStatus();
      case "aggregate":
        return aggregate(conn, db, command);
      case "find":
        return find(conn, db, command);
      case "getMore":
        return getMore(db, command);
      case "killCursors":
        return killCursors(command);
      case "killOp":
        return killOp(conn, db, command);
      default:
        throw new CommandError(59, "CommandNotFound", `no such command: '${name}'`);
    }
  }

  function hello(conn: ConnectionState, name: string, command: Document): Document {
    if (command.client !== undefined) {
      // The handshake spec: metadata may only be sent once per connection.
      if (conn.clientMetadata !== null) {
        throw new CommandError(
          186,
          "ClientMetadataCannotBeMutated",
          "The client metadata document may only be sent in the first hello",
        );
      }
      const metadata = command.client as Document;
      conn.clientMetadata = metadata;
      const appName =
        typeof metadata.application?.name === "string" ? (metadata.application.name as string) : null;
      if (appName !== null) {
        countApp(null, -1);
        conn.appName = appName;
        countApp(appName, +1);
      }
    }
    const reply: Document = {
      ...(name === "hello" ? { isWritablePrimary: true } : { ismaster: true }),
      ...(command.helloOk === true ? { helloOk: true } : {}),
      // How a mongos says it is one; drivers then treat the server as a router.
      ...(router ? { msg: "isdbgrid" } : {}),
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: conn.id,
      minWireVersion: 0,
      maxWireVersion: MAX_WIRE_VERSION,
      readOnly: false,
    };
    if (typeof command.saslSupportedMechs === "string") {
      const user = command.saslSupportedMechs.slice(command.saslSupportedMechs.indexOf(".") + 1);
      if (credentials.has(user)) reply.saslSupportedMechs = ["SCRAM-SHA-256"];
    }
    const speculative = command.speculativeAuthenticate as Document | undefined;
    if (speculative && authEnabled && speculative.saslStart === 1) {
      try {
        reply.speculativeAuthenticate = saslStart(conn, speculative);
      } catch {
        // mongod just leaves speculativeAuthenticate out; the driver then runs saslStart itself.
      }
    }
    return reply;
  }

  function saslStart(conn: ConnectionState, command: Document): Document {
    const payload = binaryText(command.payload);
    const mechanism = command.mechanism;
    // "n,,n=user,r=nonce": no channel binding, no authzid.
    const match = /^n,,(n=([^,]*),r=([^,]+))$/.exec(payload);
    if (mechanism !== "SCRAM-SHA-256" || !match) throw authFailed();
    const clientFirstBare = match[1]!;
    const user = match[2]!.replaceAll("=2C", ",").replaceAll("=3D", "=");
    const credential = credentials.get(user);
    if (!credential) throw authFailed();
    const nonce = `${match[3]}${randomBytes(24).toString("base64")}`;
    const serverFirst = `r=${nonce},s=${credential.salt.toString("base64")},i=${SCRAM_ITERATIONS}`;
    const options = (command.options ?? {}) as Document;
    conn.scram = {
      user,
      clientFirstBare,
      serverFirst,
      nonce,
      skipEmptyExchange: options.skipEmptyExchange === true,
      verified: false,
    };
    return { conversationId: 1, done: false, payload: new Binary(Buffer.from(serverFirst)) };
  }

  function saslContinue(conn: ConnectionState, command: Document): Document {
    const conversation = conn.scram;
    if (!conversation || command.conversationId !== 1) throw authFailed();
    if (conversation.verified) {
      // The optional empty final round of a client that did not ask to skip it.
      conn.scram = null;
      conn.user = conversation.user;
      return { conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)) };
    }
    const credential = credentials.get(conversation.user);
    const match = /^(c=biws,r=([^,]+)),p=([A-Za-z0-9+/=]+)$/.exec(binaryText(command.payload));
    if (!credential || !match || match[2] !== conversation.nonce) {
      conn.scram = null;
      throw authFailed();
    }
    const authMessage = `${conversation.clientFirstBare},${conversation.serverFirst},${match[1]}`;
    const clientSignature = hmac(credential.storedKey, authMessage);
    const proof = Buffer.from(match[3]!, "base64");
    if (proof.length !== clientSignature.length) {
      conn.scram = null;
      throw authFailed();
    }
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i += 1) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), credential.storedKey)) {
      conn.scram = null;
      throw authFailed();
    }
    const serverSignature = hmac(credential.serverKey, authMessage).toString("base64");
    const payload = new Binary(Buffer.from(`v=${serverSignature}`));
    if (conversation.skipEmptyExchange) {
      conn.scram = null;
      conn.user = conversation.user;
      return { conversationId: 1, done: true, payload };
    }
    conversation.verified = true;
    return { conversationId: 1, done: false, payload };
  }

  function serverStatus(): Document {
    const current = open.size;
    const shared = isSharedTier(tier);
    const uptimeMillis = Date.now() - startedAt;
    const connections: Document = {
      current,
      available: Math.max(0, connectionLimit - current),
      totalCreated,
    };
    if (!shared) {
      Object.assign(connections, {
        rejected,
        active: [...open.values()].filter((c) => c.busy).length,
        threaded: current,
        exhaustIsMaster: 0,
        exhaustHello: 0,
        awaitingTopologyChanges: 0,
      });
    }
    // On M0/Flex, Atlas returns only a fixed list of sections (notes/atlas.md §3.2).
    const status: Document = {
      host: `${host}:${port}`,
      version: SERVER_VERSION,
      uptime: Math.floor(uptimeMillis / 1000),
      connections,
      opcounters: {
        insert: 0,
        query: 0,
        update: 0,
        delete: 0,
        getmore: counters.getmore,
        command: counters.command,
      },
      network: { bytesIn: counters.bytesIn, bytesOut: counters.bytesOut, numRequests: counters.numRequests },
      mem: { bits: 64, resident: Math.round(process.memoryUsage().rss / 1048576), virtual: 0 },
    };
    if (!shared) {
      Object.assign(status, {
        process: "mongod",
        pid: Long.fromNumber(process.pid),
        uptimeMillis: Long.fromNumber(uptimeMillis),
        localTime: new Date(),
        asserts: { regular: 0, warning: 0, msg: 0, user: 0, rollovers: 0 },
      });
    }
    return status;
  }

  function find(conn: ConnectionState, db: string, command: Document): Promise<Document> {
    const collection = command.find;
    if (typeof collection !== "string" || !SLOW_COLLECTION.test(collection)) {
      // No data lives here: an honest "not implemented" rather than a made-up empty result.
      throw new CommandError(
        115,
        "CommandNotSupported",
        "fake mongo stores no data: find only runs on slow_<ms> collections",
      );
    }
    return slowRead(conn, db, collection, command);
  }

  function aggregate(conn: ConnectionState, db: string, command: Document): Document | Promise<Document> {
    const pipeline = command.pipeline;
    if (!Array.isArray(pipeline)) {
      throw new CommandError(14, "TypeMismatch", "'pipeline' option must be specified as an array");
    }
    const currentOpAt = pipeline.findIndex((stage: Document) => stage && "$currentOp" in stage);
    if (currentOpAt === -1) {
      if (typeof command.aggregate === "string" && SLOW_COLLECTION.test(command.aggregate)) {
        return slowRead(conn, db, command.aggregate, command);
      }
      // No data lives here: an honest "not implemented" rather than a made-up empty result.
      throw new CommandError(
        115,
        "CommandNotSupported",
        "fake mongo only implements aggregate with $currentOp, or on slow_<ms> collections",
      );
    }
    if (isSharedTier(tier)) {
      throw new CommandError(8000, "AtlasError", "$currentOp is not allowed in this atlas tier");
    }
    if (currentOpAt !== 0) {
      throw new CommandError(
        40602,
        "Location40602",
        "$currentOp is only valid as the first stage in a pipeline",
      );
    }
    if (db !== "admin" || command.aggregate !== 1) {
      throw new CommandError(
        73,
        "InvalidNamespace",
        "$currentOp must be run against the 'admin' database with {aggregate: 1}",
      );
    }
    let docs = currentOp(conn, (pipeline[0] as Document).$currentOp as Document);
    for (const stage of pipeline.slice(1) as Document[]) {
      if (stage.$project && typeof stage.$project === "object") {
        docs = docs.map((doc) => projectInclusion(doc, stage.$project as Document));
      } else {
        throw new CommandError(
          115,
          "CommandNotSupported",
          `fake mongo does not implement the ${Object.keys(stage)[0]} stage`,
        );
      }
    }
    const cursorOptions = (command.cursor ?? {}) as Document;
    const batchSize =
      typeof cursorOptions.batchSize === "number" ? cursorOptions.batchSize : DEFAULT_FIRST_BATCH;
    return cursorReply(`${db}.$cmd.aggregate`, docs, batchSize, "firstBatch");
  }

  /**
   * `$currentOp` through a mongos without `localOps`: each shard's view, where the clients are the
   * router's pooled connections (`client_s`), so the apps behind the router are not visible.
   */
  function shardsCurrentOp(options: Document): Document[] {
    const idleConnections = options.idleConnections === true;
    const docs: Document[] = [];
    let n = 0;
    const busy = [...open.values()].filter((c) => c.busy);
    shards.forEach((shard, s) => {
      for (let i = 0; i < ROUTER_POOL_PER_SHARD; i++) {
        n += 1;
        // The first busy router op is forwarded on the first pooled connection of each shard.
        const forwarded = i === 0 ? busy[0] : undefined;
        if (!idleConnections && !forwarded) continue;
        docs.push({
          shard,
          type: "op",
          host: `${shard}-00-0${s}.fake:27018`,
          desc: `conn${1000 + n}`,
          connectionId: 1000 + n,
          client_s: `${host}:${40000 + n}`,
          clientMetadata: { driver: { name: "NetworkInterfaceTL", version: "7.0.0" } },
          active: forwarded !== undefined,
          ...(forwarded
            ? {
                opid: `${shard}:${forwarded.currentOpId}`,
                op: forwarded.currentOp,
                ns: forwarded.currentNs,
                secs_running: Long.fromNumber(0),
              }
            : { op: "none", ns: "" }),
        });
      }
    });
    return docs;
  }

  function currentOp(caller: ConnectionState, options: Document): Document[] {
    if (router && options.localOps !== true) return shardsCurrentOp(options);
    // mongod: allUsers (default false) needs the inprog privilege; without it only the caller's own
    // user's connections show. With auth off every client counts as the caller's.
    const allUsers = options.allUsers === true;
    const idleConnections = options.idleConnections === true;
    const truncateOps = options.truncateOps === true;
    const now = performance.now();
    const docs: Document[] = [];
    for (const conn of open.values()) {
      if (!idleConnections && !conn.busy) continue;
      if (authEnabled && !allUsers && conn.user !== caller.user) continue;
      const doc: Document = {
        type: "op",
        host: `${host}:${port}`,
        desc: `conn${conn.id}`,
        connectionId: conn.id,
        client: conn.client,
        ...(conn.appName !== null ? { appName: conn.appName } : {}),
        ...(conn.clientMetadata !== null ? { clientMetadata: conn.clientMetadata } : {}),
        ...(conn.user !== null ? { effectiveUsers: [{ user: conn.user, db: "admin" }] } : {}),
        active: conn.busy,
        currentOpTime: new Date().toISOString(),
        threaded: true,
      };
      if (conn.busy) {
        const micros = Math.max(0, Math.round((now - conn.currentStartedAt) * 1000));
        Object.assign(doc, {
          opid: conn.currentOpId,
          secs_running: Long.fromNumber(Math.floor(micros / 1_000_000)),
          microsecs_running: Long.fromNumber(micros),
          op: conn.currentOp,
          ns: conn.currentNs,
          command: truncateOps ? truncateCommand(conn.currentCommand ?? {}) : conn.currentCommand,
        });
      } else {
        Object.assign(doc, { op: "none", ns: "", command: {} });
      }
      Object.assign(doc, {
        numYields: 0,
        locks: {},
        waitingForLock: false,
        lockStats: {},
        waitingForFlowControl: false,
        flowControlStats: {},
      });
      docs.push(doc);
    }
    return docs;
  }

  function cursorReply(
    ns: string,
    docs: Document[],
    batchSize: number,
    field: "firstBatch" | "nextBatch",
    existingId?: number,
  ): Document {
    const batch = docs.slice(0, batchSize);
    const rest = docs.slice(batchSize);
    let id = 0;
    if (rest.length > 0) {
      // mongod keeps a cursor's id stable across getMore batches.
      id = existingId ?? nextCursorId++;
      cursors.set(id, { ns, docs: rest });
    }
    // Drivers read the cursor id as a BSON long; an int32 here would break them.
    return { cursor: { id: Long.fromNumber(id), ns, [field]: batch } };
  }

  function getMore(db: string, command: Document): Document {
    const id = Number(command.getMore);
    const cursor = cursors.get(id);
    if (!cursor || cursor.ns !== `${db}.${command.collection}`) {
      throw new CommandError(43, "CursorNotFound", `cursor id ${id} not found`);
    }
    cursors.delete(id);
    const batchSize =
      typeof command.batchSize === "number" && command.batchSize > 0 ? command.batchSize : cursor.docs.length;
    return cursorReply(cursor.ns, cursor.docs, batchSize, "nextBatch", id);
  }

  function killCursors(command: Document): Document {
    const ids = (Array.isArray(command.cursors) ? command.cursors : []).map((id: unknown) => Number(id));
    const killedIds = ids.filter((id: number) => cursors.delete(id));
    return {
      cursorsKilled: killedIds.map((id: number) => Long.fromNumber(id)),
      cursorsNotFound: ids
        .filter((id: number) => !killedIds.includes(id))
        .map((id: number) => Long.fromNumber(id)),
      cursorsAlive: [],
      cursorsUnknown: [],
    };
  }

  /**
   * mongod's KillOpCmdBase: with auth on and no `killop` privilege (Atlas grants it to no database
   * user, notes/atlas.md §4.3), killOp is allowed only when the op exists AND runs under the caller's
   * own user; everything else — another user's op, one that already ended — is Unauthorized. With
   * auth off, any op may be killed and an unknown one is a silent success.
   */
  function killOp(conn: ConnectionState, db: string, command: Document): Document {
    if (db !== "admin") {
      throw new CommandError(13, "Unauthorized", "killOp may only be run against the admin database.");
    }
    if (typeof command.op !== "number") {
      throw new CommandError(14, "TypeMismatch", 'Did not provide "op" field');
    }
    const opid = command.op;
    const target = [...open.values()].find((c) => c.busy && c.currentOpId === opid && c !== conn) ?? null;
    if (authEnabled && (target === null || target.user !== conn.user)) {
      throw new CommandError(
        13,
        "Unauthorized",
        `not authorized on admin to execute command { killOp: ${command.killOp}, op: ${opid}, $db: "admin" }`,
      );
    }
    killed.push({
      op: opid,
      connectionId: conn.id,
      appName: conn.appName,
      target: target && { connectionId: target.id, appName: target.appName, user: target.user },
    });
    target?.interrupt?.(new CommandError(11601, "Interrupted", "operation was interrupted"));
    return { info: "attempting to kill op" };
  }

  function snapshot(conn: ConnectionState): FakeConnectionInfo {
    return {
      id: conn.id,
      client: conn.client,
      openedAt: conn.openedAt.toISOString(),
      appName: conn.appName,
      clientMetadata: conn.clientMetadata,
      user: conn.user,
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake mongo: no TCP address");
  const port = address.port;

  const byAppRecord = (map: Map<string | null, number>) =>
    Object.fromEntries([...map].filter(([, n]) => n > 0).map(([app, n]) => [app ?? "", n]));

  return {
    host,
    port,
    uri(uriOptions = {}) {
      const auth =
        uriOptions.user !== undefined
          ? `${encodeURIComponent(uriOptions.user)}:${encodeURIComponent(uriOptions.password ?? "")}@`
          : "";
      const params = new URLSearchParams({ directConnection: "true" });
      if (uriOptions.appName !== undefined) params.set("appName", uriOptions.appName);
      for (const [key, value] of Object.entries(uriOptions.params ?? {})) params.set(key, value);
      return `mongodb://${auth}${host}:${port}/?${params}`;
    },
    openConnections: () => [...open.values()].map(snapshot),
    openCount: (appName) => (appName === undefined ? open.size : (openByApp.get(appName) ?? 0)),
    maxOpenCountBy: (appName) => maxOpenByApp.get(appName) ?? 0,
    resetMaxOpenCounts() {
      maxOpenByApp.clear();
      for (const [app, n] of openByApp) maxOpenByApp.set(app, n);
    },
    rejectedCount: () => rejected,
    totalCreated: () => totalCreated,
    tier: () => tier,
    setTier(next) {
      tier = next.toUpperCase();
    },
    setConnectionLimit(limit) {
      connectionLimit = limit;
    },
    setStalled(next) {
      stalled = next;
    },
    dropConnections(match) {
      let dropped = 0;
      for (const conn of [...open.values()]) {
        if (match && !match(snapshot(conn))) continue;
        conn.socket.destroy();
        dropped += 1;
      }
      return dropped;
    },
    async refuse() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of open.values()) conn.socket.destroy();
      await closed;
      // Each socket's own "close" does the bookkeeping; let them all run before answering.
      for (let i = 0; open.size > 0 && i < 100; i++) await new Promise((resolve) => setImmediate(resolve));
    },
    async accept() {
      if (server.listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    },
    dropMidCommand(dropOptions = {}) {
      drops.push({ command: dropOptions.command ?? null, remaining: dropOptions.times ?? 1 });
    },
    slow(ms) {
      slowMs = Math.max(0, ms);
    },
    commandsSeen: () => [...commands],
    runningOps: () => {
      const now = performance.now();
      return [...open.values()]
        .filter((conn) => conn.busy && conn.currentOpId !== null)
        .map((conn) => ({
          opid: conn.currentOpId!,
          connectionId: conn.id,
          appName: conn.appName,
          user: conn.user,
          op: conn.currentOp,
          ns: conn.currentNs,
          startedAt: new Date(Date.now() - (now - conn.currentStartedAt)).toISOString(),
          secondsRunning: (now - conn.currentStartedAt) / 1000,
        }));
    },
    killedOps: () => [...killed],
    stats: () => ({
      port,
      tier,
      connectionLimit,
      open: open.size,
      totalCreated,
      rejected,
      openByApp: byAppRecord(openByApp),
      maxOpenByApp: byAppRecord(maxOpenByApp),
      connections: [...open.values()].map(snapshot),
      killedOps: [...killed],
    }),
    async waitFor(condition, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`fake mongo: condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of open.values()) conn.socket.destroy();
      await closed;
    },
  };
}

/** `$currentOp.op` per command name, as mongod's CurOp reports them; anything else is "command". */
const OP_TYPES: Record<string, string> = {
  find: "query",
  getMore: "getmore",
  insert: "insert",
  update: "update",
  delete: "remove",
};

function errorReply(error: CommandError): Document {
  return { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName };
}

/**
 * A CommandError answers as mongod does; anything else is a bug in the fake (or a command shape it
 * never expected) and answers like mongod's InternalError instead of throwing inside a socket
 * handler, which would take down the test runner hosting it.
 */
function failureReply(error: unknown): Document {
  if (error instanceof CommandError) return errorReply(error);
  return errorReply(new CommandError(1, "InternalError", `fake mongo: ${(error as Error).message}`));
}

/** mongod's `truncateOps`: a command over 1000 bytes is reported as `{ $truncated: "<its text, cut>" }`. */
function truncateCommand(command: Document): Document {
  if (BSON.calculateObjectSize(command) <= CURRENT_OP_COMMAND_MAX_BYTES) return command;
  return { $truncated: JSON.stringify(command).slice(0, CURRENT_OP_COMMAND_MAX_BYTES) };
}

function authFailed(): CommandError {
  return new CommandError(18, "AuthenticationFailed", "Authentication failed.");
}

function parseOpQuery(body: Buffer): { db: string; command: Document } {
  // flags(int32) fullCollectionName(cstring) numberToSkip(int32) numberToReturn(int32) query(document)
  const nameEnd = body.indexOf(0, 4);
  if (nameEnd === -1) throw new ProtocolError("OP_QUERY without a collection name");
  const fullCollectionName = body.toString("utf8", 4, nameEnd);
  const docStart = nameEnd + 1 + 8;
  const query = readDocument(body, docStart);
  // Old drivers wrap the command as { $query: {...}, $readPreference: ... }.
  const command = query.$query && typeof query.$query === "object" ? (query.$query as Document) : query;
  return { db: fullCollectionName.split(".")[0] ?? "admin", command };
}

function parseOpMsg(body: Buffer): { flags: number; command: Document } {
  const flags = body.readUInt32LE(0);
  // The CRC-32C trailer is tolerated, not verified: TCP already protects local traffic.
  const end = flags & MSG_CHECKSUM_PRESENT ? body.length - 4 : body.length;
  let offset = 4;
  let command: Document | null = null;
  const sequences: [string, Document[]][] = [];
  while (offset < end) {
    const kind = body[offset];
    offset += 1;
    if (kind === 0) {
      command = readDocument(body, offset);
      offset += body.readInt32LE(offset);
    } else if (kind === 1) {
      // size(int32, includes itself) identifier(cstring) documents…
      const sectionEnd = offset + body.readInt32LE(offset);
      const idEnd = body.indexOf(0, offset + 4);
      if (idEnd === -1 || sectionEnd > end) throw new ProtocolError("bad OP_MSG document sequence");
      const identifier = body.toString("utf8", offset + 4, idEnd);
      const docs: Document[] = [];
      for (let at = idEnd + 1; at < sectionEnd; at += body.readInt32LE(at)) docs.push(readDocument(body, at));
      sequences.push([identifier, docs]);
      offset = sectionEnd;
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (command === null) throw new ProtocolError("OP_MSG without a body section");
  // A document sequence is the same as an array field of that name in the body.
  for (const [identifier, docs] of sequences) command[identifier] = docs;
  return { flags, command };
}

function readDocument(buffer: Buffer, offset: number): Document {
  if (offset + 4 > buffer.length) throw new ProtocolError("truncated BSON document");
  const size = buffer.readInt32LE(offset);
  if (size < 5 || offset + size > buffer.length) throw new ProtocolError("truncated BSON document");
  try {
    return BSON.deserialize(buffer.subarray(offset, offset + size));
  } catch (error) {
    throw new ProtocolError(`invalid BSON: ${(error as Error).message}`);
  }
}

function encodeOpMsg(requestId: number, responseTo: number, doc: Document): Buffer {
  const body = BSON.serialize(doc);
  const head = Buffer.alloc(HEADER_BYTES + 5);
  head.writeInt32LE(head.length + body.length, 0);
  head.writeInt32LE(requestId, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(OP_MSG, 12);
  head.writeUInt32LE(0, 16); // flagBits
  head.writeUInt8(0, 20); // section kind 0: the body
  return Buffer.concat([head, body]);
}

function encodeOpReply(requestId: number, responseTo: number, doc: Document): Buffer {
  const body = BSON.serialize(doc);
  const head = Buffer.alloc(HEADER_BYTES + 20);
  head.writeInt32LE(head.length + body.length, 0);
  head.writeInt32LE(requestId, 4);
  head.writeInt32LE(responseTo, 8);
  head.writeInt32LE(OP_REPLY, 12);
  head.writeInt32LE(0, 16); // responseFlags
  head.writeBigInt64LE(0n, 20); // cursorID
  head.writeInt32LE(0, 28); // startingFrom
  head.writeInt32LE(1, 32); // numberReturned
  return Buffer.concat([head, body]);
}

function binaryText(value: unknown): string {
  if (value instanceof Binary) return Buffer.from(value.buffer.subarray(0, value.position)).toString("utf8");
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  return "";
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

function makeScramCredential(password: string): ScramCredential {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, "sha256");
  return {
    salt,
    storedKey: sha256(hmac(salted, "Client Key")),
    serverKey: hmac(salted, "Server Key"),
  };
}

/** Inclusion projection over dotted paths (`{ "clientMetadata.env": 1 }`), enough for `$project` after `$currentOp`. */
function projectInclusion(doc: Document, projection: Document): Document {
  const out: Document = {};
  for (const [field, include] of Object.entries(projection)) {
    if (!include) continue;
    const parts = field.split(".");
    let source: unknown = doc;
    for (const part of parts)
      source = source && typeof source === "object" ? (source as Document)[part] : undefined;
    if (source === undefined) continue;
    let target = out;
    for (const part of parts.slice(0, -1)) {
      if (typeof target[part] !== "object" || target[part] === null) target[part] = {};
      target = target[part] as Document;
    }
    target[parts.at(-1)!] = source;
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "27017" },
      tier: { type: "string", default: "M0" },
      limit: { type: "string", default: "500" },
      user: { type: "string", multiple: true },
    },
  });
  const users: Record<string, string> = {};
  for (const pair of values.user ?? []) {
    const colon = pair.indexOf(":");
    if (colon < 1) throw new Error(`--user expects name:password, got "${pair.split(":")[0]}"`);
    users[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  const fake = await startFakeMongo({
    port: Number(values.port),
    tier: values.tier,
    connectionLimit: Number(values.limit),
    users,
  });
  const [firstUser] = Object.keys(users);
  process.stdout.write(`${fake.uri(firstUser ? { user: firstUser, password: users[firstUser] } : {})}\n`);
  process.stderr.write(
    `simulated MongoDB server (tier ${fake.tier()}, limit ${values.limit}); not a real database. Ctrl-C stops it.\n`,
  );
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  });
}
