/**
 * What the response pipeline needs from the outside world, and the runtime-agnostic pieces of each
 * step. The ledger (a Durable Object) owns the sequencing and durability; the Node CLIs build the
 * same dependencies from `.dev.vars` and call the same steps.
 */
import type { Config, Target } from "../config/schema.ts";
import type { Logger } from "../observability/log.ts";
import type { RedeployAdapter } from "../platforms/types.ts";
import type { SlackClient } from "../slack/client.ts";
import type { Assessment } from "../stats/assess.ts";
import type { KillLongOperationsResult } from "../stats/mongo-source.ts";
import type { StatsReading, StatsSource } from "../stats/types.ts";
import type { PastAction } from "./policy.ts";

/** Which cluster a run is about, and the alert value that fired it, if any. */
export interface ClusterContext {
  groupId: string;
  cluster: string;
  /** The latest alert's metric and value; the gather step uses it, verification never does. */
  alert: { metricName: string; value: number; at: string } | null;
}

/** The global action budget: cooldowns and the hourly cap across every project. */
export interface ActionLimiter {
  /** Actions of the last 24 hours (enough for any cooldown), oldest first. */
  recent(now: Date): Promise<PastAction[]>;
  /** Atomically re-checks the budget and records the action; repeating a key is a no-op that succeeds. */
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

export interface PipelineDeps {
  now(): Date;
  config: Config;
  log: Logger;
  /** The live stats sources for a cluster (direct MongoDB, Admin API), plus the alert's value when given. */
  sources(context: ClusterContext): StatsSource[];
  adapter(target: Target): RedeployAdapter;
  /**
   * Test Failover through the Admin API, sent once: `started`, `failed` (Atlas refused), or
   * `unknown` (no clear answer: it may have run). A value, never a throw.
   */
  failover(
    groupId: string,
    cluster: string,
  ): Promise<{ kind: "started" | "failed" | "unknown"; detail: string }>;
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
  /** Slack delivery, or null when Slack is not configured. */
  slack: SlackClient | null;
}

/** Reads every source in parallel; a source that throws (a bug) is reported as a failed reading. */
export async function readAll(sources: readonly StatsSource[], now: Date): Promise<StatsReading[]> {
  return Promise.all(
    sources.map(async (source): Promise<StatsReading> => {
      try {
        return await source.read();
      } catch (error) {
        return {
          source: source.name,
          ok: false,
          at: now.toISOString(),
          reason: "unknown",
          error: `${source.name} failed unexpectedly: ${error instanceof Error ? error.name : typeof error}`,
          findings: [],
        };
      }
    }),
  );
}

/** The part of an assessment worth journaling: figures and sources, not the whole series. */
export function summarizeAssessment(a: Assessment): Record<string, unknown> {
  return {
    tier: a.tier,
    current: a.current,
    limit: a.limit,
    percent: a.percent,
    trendPerMinute: a.trendPerMinute,
    minutesToLimit: a.minutesToLimit,
    byApp: a.byApp.map((app) => ({ app: app.app, env: app.env, connections: app.connections })),
    sources: a.sources,
    findings: a.findings,
  };
}
