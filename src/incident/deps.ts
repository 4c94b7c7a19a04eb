/**
 * What the incident core needs from the outside world. Each door builds these: the Durable Object
 * from the Worker's bindings (src/ledger/deps.ts), the Node CLI from `.dev.vars` and the
 * environment. Everything here is an interface; the core never builds a client itself.
 */
import type { Config, Target } from "../config/schema.ts";
import type { Logger } from "../observability/log.ts";
import type { RedeployAdapter } from "../platforms/types.ts";
import type { PastAction } from "../response/policy.ts";
import type { KillLongOperationsResult } from "../stats/kill-operations.ts";
import type { StatsSource } from "../stats/types.ts";
import type { AlertValue } from "./record.ts";
import type { IncidentStore } from "./store.ts";

/** Which cluster a run is about, and the alert value that fired it, if any. */
export interface ClusterContext {
  groupId: string;
  cluster: string;
  /** The latest alert's metric and value; the gather step uses it, verification never does. */
  alert: AlertValue | null;
}

/** The global action budget: cooldowns and the hourly cap across every project. */
export interface ActionLimiter {
  /** Actions of the last 24 hours (enough for any cooldown), oldest first. */
  recent(now: Date): Promise<PastAction[]>;
  /**
   * Atomically re-checks the budget and records the action. A repeated key is checked again at its
   * new time and still counts once (src/response/budget.ts).
   */
  reserve(input: {
    key: string;
    target: string;
    at: string;
    cooldownMinutes: number;
    maxActionsPerHour: number;
  }): Promise<{ ok: true } | { ok: false; reason: "cooldown" | "hourly-cap"; until: string }>;
  /** Records how a reserved action ended. */
  settle(key: string, outcome: PastAction["outcome"]): Promise<void>;
}

/** Test Failover's answer: `unknown` when Atlas gave no clear answer (it may have run). */
export interface FailoverResult {
  kind: "started" | "failed" | "unknown";
  detail: string;
}

export interface CoreDeps {
  now(): Date;
  config: Config;
  log: Logger;
  /** The live stats sources for a cluster (direct MongoDB, Admin API), plus the alert's value when given. */
  sources(context: ClusterContext): StatsSource[];
  adapter(target: Target): RedeployAdapter;
  /** Test Failover through the Admin API, sent once. A value, never a throw. */
  failover(groupId: string, cluster: string): Promise<FailoverResult>;
  limiter: ActionLimiter;
  /**
   * Names the cluster of an alert that did not (from its replica set or host, through the Admin
   * API's process list or CLUSTERS' connection strings); null when it cannot tell.
   */
  identify(
    groupId: string,
    location: { replicaSetName?: string; hostnameAndPort?: string },
  ): Promise<{ cluster: string; via: string } | null>;
  /**
   * The M10+ part of the fix routine before a redeploy: ends long-running *reads* of the
   * responder's own database user (`killOp` reaches no other user's operations, and no
   * connection). Null when the cluster has no connection string.
   */
  killLongOperations(groupId: string, cluster: string): Promise<KillLongOperationsResult | null>;
}

/** The context every step runs in: one project's store and the outside world. */
export interface StepContext {
  groupId: string;
  store: IncidentStore;
  deps: CoreDeps;
}
