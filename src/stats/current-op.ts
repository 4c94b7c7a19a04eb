/**
 * What a `$currentOp` answer means, without the driver: the lenient schema of one entry, the
 * projections the responder asks for, attribution of client connections to apps by their driver
 * handshake metadata, and which long-running operations belong to the responder's own database user
 * and are plain reads.
 *
 * Pure functions over parsed entries, so the rules read and test without a server; the driver file
 * (./mongo-source.ts) runs the aggregation, parses each document with `CurrentOpEntrySchema` and
 * hands the entries here. Trade-off: this file never sees the driver's errors, so why a `$currentOp`
 * failed (tier, privilege, network) is the driver file's to say.
 * Listed operations carry no command text and no filter values: those may hold application data.
 */
import * as z from "zod";
import { RESPONDER_APP_NAME } from "../constants.ts";
import type { AppConnections, Finding } from "./types.ts";

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

/** The app label for connections whose client set no `appName` (matches AppConnections.app's doc). */
export const NO_APP_NAME = "(no appName)";

/** Lenient: a client can send odd metadata; one bad field must not hide the connection. */
const text = z.string().optional().catch(undefined);
const count = z.number().optional().catch(undefined);
export const CurrentOpEntrySchema = z.object({
  type: text,
  connectionId: count,
  client: text,
  /** Set instead of `client` on a shard's entry reached through mongos: the router's address, not the app's. */
  client_s: text,
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
export type CurrentOpEntry = z.infer<typeof CurrentOpEntrySchema>;

/** What every listing reads of an operation: whose it is, what it is, and how long it has run. */
const OPERATION_FIELDS = {
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
} as const;

/** Only what attribution needs: keeps the answer small on a cluster with thousands of connections. */
export const CURRENT_OP_PROJECTION = {
  ...OPERATION_FIELDS,
  connectionId: 1,
  client: 1,
  client_s: 1,
  "clientMetadata.driver.name": 1,
  "clientMetadata.driver.version": 1,
  "clientMetadata.env.name": 1,
  "clientMetadata.env.region": 1,
} as const;

/** What the kill step needs of each own operation; `command` only to tell reads from writes. */
export const OWN_OPERATION_PROJECTION = { ...OPERATION_FIELDS, command: 1 } as const;

/** `$currentOp.op` values that are reads whatever the command (find and its getMores). */
const READ_OPS = new Set(["query", "getmore"]);
/** Commands (reported as op "command") that only read, given no $out/$merge stage. */
const READ_COMMANDS = new Set(["find", "aggregate", "count", "distinct"]);

/** The database user a connection string authenticates as: what `effectiveUsers` must name. */
export interface DatabaseUser {
  user: string;
  db: string;
}

/** Active operations run by `user` (and not by the responder itself) for ≥ minSeconds, longest first. */
export function ownLongOperationsIn(
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
export function isRead(entry: CurrentOpEntry): boolean {
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

/** Groups client connections by app, platform, region and driver, leaving out the responder's own. */
export function attribute(entries: readonly CurrentOpEntry[]): AppConnections[] {
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

/**
 * Whether the entries can say which app holds which connection. A `$currentOp` run through mongos
 * without `localOps` lists the shards' operations, whose clients are the router itself (`client_s`,
 * no `client`): none of them is an app's connection, so a breakdown built from them would be empty
 * for the wrong reason. False only when shard-side entries are all there is.
 */
export function canAttribute(entries: readonly CurrentOpEntry[]): boolean {
  const clients = entries.filter((e) => e.client !== undefined).length;
  const viaRouter = entries.filter((e) => e.client === undefined && e.client_s !== undefined).length;
  return clients > 0 || viaRouter === 0;
}

/** The breakdown by app, or — where the entries cannot give one — the finding that says why. */
export function attribution(
  entries: readonly CurrentOpEntry[],
): { byApp: AppConnections[]; finding?: undefined } | { byApp?: undefined; finding: Finding } {
  if (canAttribute(entries)) return { byApp: attribute(entries) };
  return {
    finding: {
      kind: "partial",
      detail:
        "$currentOp listed only the shards' operations, whose client is the router (client_s): connections cannot be attributed to apps",
    },
  };
}

/** "10.0.0.7:41872" → "10.0.0.7"; "[::1]:41872" → "::1". */
function hostOf(client: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(client);
  if (bracketed) return bracketed[1]!;
  const colon = client.lastIndexOf(":");
  return colon > 0 ? client.slice(0, colon) : client;
}
