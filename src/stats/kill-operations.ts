/**
 * The fix routine's one MongoDB action: end the long-running reads of the responder's own database
 * user (notes/atlas.md §3.2, §4.3). Atlas lets a database user end only its own operations, so the
 * responder can free connections that apps sharing ITS user keep busy with a stuck query — never
 * another user's, never a connection. This file decides what to kill, what to spare and how each
 * outcome reads; the driver file (./mongo-source.ts) provides the connection as an
 * `OwnOperationsConnection`.
 *
 * Trade-offs, all toward doing less:
 *  - "own" means the server listed the op for us (`allUsers: false`) AND its `effectiveUsers` name the
 *    user of our connection string; with no user in it (or X.509/IAM, whose names differ) nothing is own;
 *  - only reads are killed (find, getMore, count, distinct, aggregate without $out/$merge): killing a
 *    multi-document write leaves it half done, an index build is lost work; others are reported `spared`;
 *  - the responder's own ops (appName "atlas-responder", e.g. a concurrent run) are never touched;
 *  - `$currentOp` sees the node we reach: the primary of a replica set (not ops on secondaries), or,
 *    through mongos, every shard's, whose "shard:opid" ids mongos may refuse to kill without `killop`;
 *  - a killed query usually comes straight back (the app retries it): this buys time, the fix is an index.
 * Reaching the driver through an interface costs one indirection; in return the rules above read,
 * and can be tested, without a server.
 */
import {
  type CurrentOpEntry,
  type DatabaseUser,
  isRead,
  LONG_OPERATION_SECONDS,
  type LongOperation,
  ownLongOperationsIn,
} from "./current-op.ts";
import type { FailureReason } from "./types.ts";

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

/** What the action needs of one live connection. Expected refusals are values; anything else throws. */
export interface OwnOperationsConnection {
  /** The user and auth database of the connection string; undefined when it names none. */
  readonly user: DatabaseUser | undefined;
  /**
   * Connects and runs `$currentOp` with `allUsers: false` (the server lists only our own user's
   * operations), or says why they cannot be listed: the tier refuses it, or the user may not.
   */
  listOwnOperations(): Promise<CurrentOpEntry[] | "tier-refused" | "unauthorized">;
  /** `killOp`: undefined once sent; a server's refusal as a value (`detail`: class and code name only). */
  killOp(opid: number | string): Promise<{ unauthorized: boolean; detail: string } | undefined>;
  /** A thrown error as a reason and a message safe to show anywhere. */
  failure(error: unknown): { reason: FailureReason; error: string };
}

/** Kills the own long reads `connection` lists, sparing everything else; never throws for a refusal. */
export async function killOwnLongOperations(
  connection: OwnOperationsConnection,
  at: string,
  request: KillLongOperationsRequest = {},
): Promise<KillLongOperationsResult> {
  const minSeconds = request.minSeconds ?? LONG_OPERATION_SECONDS;
  const killed: LongOperation[] = [];
  const refused: RefusedKill[] = [];
  const spared: SparedOperation[] = [];
  const done = { ok: true as const, at, killed, refused, spared };
  const fail = (failure: { reason: FailureReason; error: string }): KillLongOperationsResult => ({
    ok: false,
    at,
    reason: failure.reason,
    error: failure.error,
    killed,
  });
  try {
    const user = connection.user;
    if (!user) return { ...done, skipped: "no-user" };
    const listed = await connection.listOwnOperations();
    if (listed === "tier-refused") return { ...done, skipped: "tier" };
    if (listed === "unauthorized") {
      return fail({
        reason: "auth",
        error: "the responder's user may not run $currentOp (Unauthorized; sharded clusters need inprog)",
      });
    }
    for (const { operation, entry } of ownLongOperationsIn(listed, user, minSeconds)) {
      if (!isRead(entry)) {
        spared.push({ ...operation, reason: "not-a-read" });
        continue;
      }
      const refusal = await connection.killOp(operation.opid);
      if (!refusal) {
        killed.push(operation);
        continue;
      }
      refused.push({
        ...operation,
        reason: refusal.unauthorized ? "unauthorized" : "error",
        detail: refusal.unauthorized
          ? "Unauthorized: not the responder's user's operation, or it ended before killOp reached it"
          : refusal.detail,
      });
    }
    return done;
  } catch (error) {
    return fail(connection.failure(error));
  }
}
