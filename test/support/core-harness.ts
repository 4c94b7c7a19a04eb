/**
 * A hand-driven world for the incident core: the in-memory store, a clock moved by hand, stats
 * sources answering chosen figures, and platform, Atlas and limiter fakes that count every call.
 * Specs drive it through the same entry points the doors use (intake, decisions, `runDue`).
 */
import { type AtlasEvent, alertIntent, atlasAlertSchema, isConnectionAlert } from "../../src/atlas/alert.ts";
import { type Config, parseConfig, type Target } from "../../src/config/schema.ts";
import { runDue } from "../../src/incident/advance.ts";
import { applyDecision, type DecisionRequest } from "../../src/incident/approval.ts";
import type { CoreDeps, FailoverResult, StepContext } from "../../src/incident/deps.ts";
import {
  type AlertDelivery,
  applyDelivery,
  applyTrigger,
  type DeliveryOutcome,
} from "../../src/incident/intake.ts";
import type { JournalRow } from "../../src/incident/journal.ts";
import { createMemoryStore, type MemoryStore } from "../../src/incident/memory-store.ts";
import type { IncidentRecord } from "../../src/incident/record.ts";
import type { PlannedCall, RedeployOutcome, RedeployRequest } from "../../src/platforms/types.ts";
import { budgetCheck, type PastAction } from "../../src/response/policy.ts";
import type { KillLongOperationsResult } from "../../src/stats/kill-operations.ts";
import type { AppConnections, StatsReading } from "../../src/stats/types.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

export const GROUP = M0_CONNECTIONS_OPEN.groupId;
export const CLUSTER = M0_CONNECTIONS_OPEN.clusterName;
export const START = Date.parse("2026-08-13T10:00:10Z");
export const MINUTE = 60_000;

/** The policy the specs run under unless they say otherwise: no cooldown, one redeploy per target. */
export const TEST_POLICY = {
  actAtPercent: 80,
  cooldownMinutes: 0,
  maxRedeploysPerIncident: 1,
  maxActionsPerHour: 6,
  verifyAfterSeconds: [60, 180],
};

export interface TargetSpec {
  name: string;
  clusters?: string[];
  appNames?: string[];
}

export interface ConfigSpec {
  mode?: "auto" | "approve" | "notify" | "dry-run";
  targets?: TargetSpec[];
  policy?: Partial<typeof TEST_POLICY>;
}

/** A real parsed configuration: webhook targets whose secrets exist. */
export function makeConfig(spec: ConfigSpec = {}): Config {
  const targets = spec.targets ?? [{ name: "web" }];
  const env: Record<string, string> = {
    ATLAS_WEBHOOK_SECRET: "webhook-secret-for-tests",
    // Approvals come through the API (h.decide), which ADMIN_TOKEN opens.
    ADMIN_TOKEN: "admin-token-for-core-tests",
    RESPONDER_MODE: spec.mode ?? "auto",
    POLICY: JSON.stringify({ ...TEST_POLICY, ...spec.policy }),
    TARGETS: JSON.stringify(
      targets.map((t) => ({
        kind: "webhook",
        name: t.name,
        secret: `HOOK_${t.name.toUpperCase()}`,
        clusters: t.clusters ?? [],
        appNames: t.appNames ?? [],
      })),
    ),
  };
  for (const t of targets) env[`HOOK_${t.name.toUpperCase()}`] = `https://hooks.example.test/${t.name}`;
  return parseConfig(env);
}

/** What the cluster looks like to every stats source right now. */
export interface Stats {
  /** Connections now; null makes the source fail (nothing can be measured). */
  current: number | null;
  tier: string;
  byApp?: AppConnections[];
}

export function app(name: string, connections: number): AppConnections {
  return { app: name, env: null, region: null, driver: "nodejs 6.8.0", hosts: ["10.0.0.1"], connections };
}

/** A delivery as the webhook route builds it from a body and its `X-MMS-Event` header. */
export function delivery(body: Record<string, unknown>, event: AtlasEvent | null): AlertDelivery {
  const alert = atlasAlertSchema.parse(body);
  return { alert, event, intent: alertIntent(event, alert.status), relevant: isConnectionAlert(alert) };
}

export class CoreHarness {
  readonly store: MemoryStore = createMemoryStore();
  nowMs = START;
  config: Config;
  stats: Stats = { current: 450, tier: "M0" };
  /** Overrides: answer what the fake platform says. */
  deployInProgress: () => boolean | null = () => false;
  redeployOutcome: (target: string) => RedeployOutcome = (target) => ({
    kind: "started",
    detail: `${target} accepted the hook`,
  });
  failoverResult: FailoverResult = { kind: "started", detail: "restartPrimaries accepted" };
  identifyResult: { cluster: string; via: string } | null = null;
  killResult: KillLongOperationsResult | null = null;
  /** When set, the next `sources()` calls throw (a bug or an outage in building a source). */
  sourcesThrow = 0;
  /** When set, the limiter refuses the next reservations with this answer. */
  reserveRefusals: Array<{ ok: false; reason: "cooldown" | "hourly-cap"; until: string }> = [];

  readonly calls = {
    reads: 0,
    plan: [] as RedeployRequest[],
    deployInProgress: [] as string[],
    redeploy: [] as Array<{ target: string; request: RedeployRequest }>,
    failover: [] as Array<{ groupId: string; cluster: string }>,
    identify: [] as Array<{ replicaSetName?: string; hostnameAndPort?: string }>,
    killOps: [] as string[],
    reserve: [] as string[],
    settle: [] as Array<{ key: string; outcome: PastAction["outcome"] }>,
  };
  /** Actions the limiter knows of, across every incident (seed it for cooldown specs). */
  readonly past: Array<PastAction & { key: string }> = [];
  readonly logs: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  private ids = 0;

  constructor(spec: ConfigSpec = {}) {
    this.config = makeConfig(spec);
  }

  now = (): Date => new Date(this.nowMs);
  at = (): string => this.now().toISOString();
  advanceClock(ms: number): void {
    this.nowMs += ms;
  }

  newId = (groupId: string, _at: Date): string => `${groupId}-${String(++this.ids).padStart(4, "0")}`;

  private reading(): StatsReading {
    this.calls.reads++;
    const { current, tier, byApp } = this.stats;
    if (current === null) {
      return {
        source: "mongodb",
        ok: false,
        at: this.at(),
        reason: "timeout",
        error: "mongodb did not answer",
        findings: [],
      };
    }
    return {
      source: "mongodb",
      ok: true,
      at: this.at(),
      current,
      tier,
      ...(byApp ? { byApp } : {}),
      findings: [],
    };
  }

  deps(): CoreDeps {
    const adapterFor = (target: Target) => ({
      target,
      plan: (request: RedeployRequest): PlannedCall => {
        this.calls.plan.push(request);
        return {
          target: target.name,
          kind: target.kind,
          action: "redeploy",
          method: "POST",
          endpoint: `webhook (${target.name})`,
        };
      },
      deployInProgress: async () => {
        this.calls.deployInProgress.push(target.name);
        return this.deployInProgress();
      },
      redeploy: async (request: RedeployRequest) => {
        this.calls.redeploy.push({ target: target.name, request });
        return this.redeployOutcome(target.name);
      },
    });
    return {
      now: this.now,
      config: this.config,
      log: { log: (level, event, fields = {}) => this.logs.push({ level, event, fields }) },
      sources: () => {
        if (this.sourcesThrow > 0) {
          this.sourcesThrow--;
          throw new TypeError("sources could not be built");
        }
        return [{ name: "mongodb", read: async () => this.reading() }];
      },
      adapter: adapterFor,
      failover: async (groupId, cluster) => {
        this.calls.failover.push({ groupId, cluster });
        return this.failoverResult;
      },
      limiter: {
        recent: async () => this.past.map(({ key: _key, ...action }) => action),
        reserve: async (input) => {
          this.calls.reserve.push(input.key);
          if (this.past.some((p) => p.key === input.key)) return { ok: true };
          const refusal = this.reserveRefusals.shift();
          if (refusal) return refusal;
          const blocked = budgetCheck(input.target, this.past, input, new Date(input.at));
          if (blocked) return { ok: false, ...blocked };
          this.past.push({ key: input.key, target: input.target, at: input.at, outcome: "sending" });
          return { ok: true };
        },
        settle: async (key, outcome) => {
          this.calls.settle.push({ key, outcome });
          const found = this.past.find((p) => p.key === key);
          if (found) found.outcome = outcome;
        },
      },
      identify: async (_groupId, location) => {
        this.calls.identify.push(location);
        return this.identifyResult;
      },
      killLongOperations: async (_groupId, cluster) => {
        this.calls.killOps.push(cluster);
        return this.killResult;
      },
    };
  }

  ctx(): StepContext {
    return { groupId: GROUP, store: this.store, deps: this.deps() };
  }

  deliver(body: Record<string, unknown>, event: AtlasEvent | null = "alert.open"): DeliveryOutcome {
    return this.store.transaction(() =>
      applyDelivery(this.store, delivery(body, event), this.now(), this.newId),
    );
  }

  trigger(options: { dryRun?: boolean; reason?: string; cluster?: string } = {}): string {
    return this.store.transaction(
      () =>
        applyTrigger(
          this.store,
          {
            groupId: GROUP,
            cluster: options.cluster ?? CLUSTER,
            dryRun: options.dryRun ?? false,
            reason: options.reason ?? null,
          },
          this.now(),
          this.newId,
        ).incident,
    );
  }

  decide(id: string, request: Partial<DecisionRequest> & Pick<DecisionRequest, "decision">) {
    return this.store.transaction(() =>
      applyDecision(this.store, id, { by: "U0OPERATOR", source: "api", ...request }, this.now()),
    );
  }

  /** Runs what is due now. */
  run(): Promise<number> {
    return runDue(this.ctx());
  }

  /**
   * Runs, then moves the clock to each next scheduled run and runs again, until nothing is scheduled
   * or the next run is further than `withinMs` from now.
   */
  async settle(withinMs = 3 * 3600_000): Promise<void> {
    const limit = this.nowMs + withinMs;
    for (let i = 0; i < 200; i++) {
      await this.run();
      const next = this.store.earliestRun();
      if (next === null || next > limit) return;
      this.nowMs = Math.max(this.nowMs, next);
    }
    throw new Error("the incident never came to rest");
  }

  incident(id: string): IncidentRecord {
    const found = this.store.incident(id);
    if (!found) throw new Error(`no incident ${id}`);
    return found;
  }

  entries(id: string): JournalRow[] {
    return this.store.entries(id);
  }

  /** The journal as `step:status` lines, oldest first. */
  steps(id: string): string[] {
    return this.entries(id).map((e) => `${e.step}:${e.status}`);
  }

  /** The entries of one `step:status`. */
  find(id: string, step: string): JournalRow[] {
    return this.entries(id).filter((e) => `${e.step}:${e.status}` === step);
  }
}
