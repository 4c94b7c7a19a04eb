/**
 * A world for model-based tests of the incident core: the in-memory store behind a wrapper that can
 * make any write fail, and fakes of every outbound dependency (stats sources, the platform, Atlas,
 * the global budget, killOp) that can fail at any call, before or after the call landed. Commands
 * are plain data (so fast-check prints and shrinks them); `apply` runs one through the same entry
 * points the doors use, and `check` asserts the invariants over the whole state after each one.
 *
 * The world keeps its own record of what reached the outside (`landed`), independent of the store,
 * so "fired at most once" and "no cap exceeded" are checked against what the platform saw, not
 * against what the core believes it did.
 */
import { type AtlasEvent, deliveryKey } from "../../src/atlas/alert.ts";
import type { Config, ResponderMode, Target } from "../../src/config/schema.ts";
import { runDue } from "../../src/incident/advance.ts";
import { applyDecision, type HumanDecision } from "../../src/incident/approval.ts";
import type { CoreDeps, StepContext } from "../../src/incident/deps.ts";
import { applyDelivery, applyTrigger } from "../../src/incident/intake.ts";
import { createMemoryStore } from "../../src/incident/memory-store.ts";
import type { IncidentStore } from "../../src/incident/store.ts";
import { watchCluster } from "../../src/incident/watch.ts";
import type { RedeployOutcome, RedeployRequest } from "../../src/platforms/types.ts";
import { type BudgetBook, reserveIn } from "../../src/response/budget.ts";
import type { PastAction } from "../../src/response/policy.ts";
import type { KillLongOperationsResult } from "../../src/stats/kill-operations.ts";
import type { StatsReading } from "../../src/stats/types.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { app, delivery, makeConfig } from "./core-harness.ts";
import {
  checkCalls,
  checkDeliveries,
  checkIncidents,
  checkJournal,
  fail,
  InvariantError,
  type Landed,
  sameState,
} from "./incident-model-invariants.ts";

export const GROUP = M0_CONNECTIONS_OPEN.groupId;

/** Two clusters: a shared-tier one (redeploys in turn) and a dedicated one (attribution, killOp, failover). */
export const CLUSTERS = [
  { name: "Cluster0", rs: "atlas-abc123-shard-0", tier: "M0", high: 470, low: 100 },
  { name: "Prod", rs: "atlas-def456-shard-0", tier: "M10", high: 1400, low: 200 },
] as const;
export const MODES: ResponderMode[] = ["auto", "approve", "notify", "dry-run"];

// -- commands ------------------------------------------------------------------------------------

export type DeliveryKind = "open" | "update" | "close" | "cancel" | "ack" | "dup" | "stale" | "other-metric";
export type FaultKind = "throw" | "lost" | "lost-throw" | "crash";
export type Level = "high" | "low" | "down";

export type Command =
  /** An Atlas delivery; `rs` names the cluster only by its replica set (the core identifies it). */
  | { t: "deliver"; cluster: 0 | 1; rs: boolean; alert: 0 | 1; kind: DeliveryKind }
  /** The condition ends: Atlas closes every alert of the cluster that it last sent as open. */
  | { t: "recover"; cluster: 0 | 1 }
  /** Atlas re-notifies the oldest delivery that was answered with an error. */
  | { t: "renotify" }
  /** The alarm fires now (runs whatever is due). */
  | { t: "alarm" }
  /** The clock moves to the next scheduled run, and the alarm fires. */
  | { t: "wake" }
  | { t: "clock"; ms: number }
  /** The `after`-th fallible operation from now fails (a store write, or an outbound call). */
  /** `times` > 1: an outage, the operations that follow fail too (a crash needs no more). */
  | { t: "fault"; after: number; times: number; kind: FaultKind; scope: "store" | "outbound" | "any" }
  | {
      t: "decide";
      pick: number;
      decision: HumanDecision;
      allowed: boolean;
      requested: "current" | "omitted" | "stale";
      double: boolean;
    }
  | { t: "mode"; cluster: 0 | 1 | "all"; mode: ResponderMode }
  | { t: "load"; cluster: 0 | 1; level: Level }
  /** What the platform and Atlas answer from now on; `fixes`: a started call brings the load down. */
  | { t: "platform"; answer: "started" | "failed" | "unknown"; deploying: boolean; fixes: boolean }
  | { t: "trigger"; cluster: 0 | 1; dryRun: boolean }
  /** The cron watch samples a cluster. */
  | { t: "watch"; cluster: 0 | 1 }
  /** While the `after`-th outbound call from now is out, another request is handled (the Durable Object interleaves). */
  | { t: "during"; after: number; request: Interleaved };

/**
 * What may arrive while an alarm awaits the network: a delivery, a click, a trigger (and the
 * cluster's load moving). Not a mode switch: that is a configuration change, which a running alarm
 * does not see.
 */
export type Interleaved = Extract<Command, { t: "deliver" | "decide" | "trigger" | "load" }>;

export interface WorldSpec {
  mode: ResponderMode;
  cooldownMinutes: number;
  maxRedeploysPerIncident: number;
  maxActionsPerHour: number;
  verifyAfterSeconds: number[];
  /** False: no target owns the apps on Prod, so its plan is a failover. */
  prodOwned: boolean;
}

interface SentDelivery {
  body: Record<string, unknown>;
  event: AtlasEvent | null;
  key: string;
}

const WRITES = [
  "open",
  "update",
  "rename",
  "journal",
  "addDelivery",
  "saveAlert",
  "moveAlerts",
  "addAction",
  "settleAction",
  "addReading",
  "snooze",
  "recordFailover",
  "addSample",
  "saveWatchState",
  "notice",
] as const;

/** Thrown by an injected fault; the core treats it as any outage. */
class InjectedFault extends Error {
  constructor(where: string) {
    super(`injected fault in ${where}`);
    this.name = "InjectedFault";
  }
}

export class ModelWorld {
  readonly base = createMemoryStore();
  readonly store: IncidentStore;
  readonly config: Config;
  nowMs = Date.parse("2026-08-13T10:00:00Z");
  /** Every call that reached a platform or Atlas, in order. */
  readonly landed: Landed[] = [];
  readonly logs: Array<{ level: string; event: string }> = [];

  private globalMode: ResponderMode;
  private readonly modes = new Map<string, ResponderMode>();
  private readonly load = new Map<string, Level>(CLUSTERS.map((c) => [c.name, "high"]));
  private answer: "started" | "failed" | "unknown" = "started";
  private deploying = false;
  private fixes = false;
  private interleaved: { after: number; request: Interleaved } | null = null;
  private fault: {
    after: number;
    times: number;
    kind: FaultKind;
    scope: "store" | "outbound" | "any";
  } | null = null;
  private crashed = false;
  /** Faults are off while the world drains. */
  private calm = false;
  private readonly book = new Map<string, PastAction>();
  private readonly committed = new Set<string>();
  private readonly lost: SentDelivery[] = [];
  private readonly lastSent = new Map<string, SentDelivery>();
  private readonly updatedOf = new Map<string, number>();
  /** Every approvalRequestedAt seen per incident, for clicks on older requests. */
  private readonly requests = new Map<string, Set<string>>();
  private ids = 0;
  private readonly violations: Error[] = [];

  readonly spec: WorldSpec;

  constructor(spec: WorldSpec) {
    this.spec = spec;
    this.globalMode = spec.mode;
    const parsed = makeConfig({
      mode: spec.mode,
      targets: [
        { name: "web", appNames: [spec.prodOwned ? "web" : "storefront"] },
        { name: "jobs", clusters: ["Cluster0"] },
      ],
      policy: {
        cooldownMinutes: spec.cooldownMinutes,
        maxRedeploysPerIncident: spec.maxRedeploysPerIncident,
        maxActionsPerHour: spec.maxActionsPerHour,
        verifyAfterSeconds: spec.verifyAfterSeconds,
      },
    });
    this.config = {
      ...parsed,
      modeFor: (_groupId, cluster) => this.modes.get(this.clusterOf(cluster)) ?? this.globalMode,
    };
    const store: IncidentStore = { ...this.base };
    for (const name of WRITES) {
      const write = this.base[name] as (...args: unknown[]) => unknown;
      (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        if (this.trip("store") !== "ok") throw new InjectedFault(`store.${name}`);
        return write(...args);
      };
    }
    this.store = store;
  }

  now = (): Date => new Date(this.nowMs);

  /** The configured cluster a name or replica set stands for. */
  private clusterOf(name: string): string {
    return CLUSTERS.find((c) => c.name === name || c.rs === name)?.name ?? name;
  }

  private trip(scope: "store" | "outbound"): "ok" | FaultKind {
    if (this.calm) return "ok";
    if (scope === "outbound") this.meanwhile();
    // After a crash nothing more happens: every write and call fails, and nothing lands.
    if (this.crashed) return "throw";
    const f = this.fault;
    if (!f || (f.scope !== "any" && f.scope !== scope)) return "ok";
    if (--f.after > 0) return "ok";
    if (f.kind === "crash") this.crashed = true;
    if (f.kind === "crash" || --f.times <= 0) this.fault = null;
    return f.kind;
  }

  // -- the outside world -------------------------------------------------------------------------

  private reading(cluster: string): StatsReading {
    const c = CLUSTERS.find((x) => x.name === this.clusterOf(cluster))!;
    const level = this.load.get(c.name)!;
    const at = this.now().toISOString();
    if (level === "down")
      return { source: "mongodb", ok: false, at, reason: "timeout", error: "no answer", findings: [] };
    const current = level === "high" ? c.high : c.low;
    return {
      source: "mongodb",
      ok: true,
      at,
      current,
      tier: c.tier,
      ...(c.tier === "M10"
        ? { byApp: [app("web", Math.round(current * 0.7)), app("api", Math.round(current * 0.3))] }
        : {}),
      findings: [],
    };
  }

  /** An outbound call that changes something: lands (or not) and answers according to the fault. */
  private async fire<T>(call: Omit<Landed, "clear" | "at">, answer: () => T, unknown: () => T): Promise<T> {
    // Checked as the call starts: a request handled while it is out cannot stop it.
    const entry: Landed = { ...call, at: this.nowMs, clear: true };
    const violations = this.violations.length;
    this.checkCall(entry);
    const trip = this.trip("outbound");
    if (trip === "throw") {
      this.violations.length = violations;
      throw new InjectedFault(`${call.kind} before sending`);
    }
    entry.clear = trip === "ok";
    this.landed.push(entry);
    if (trip === "lost") return unknown();
    if (trip !== "ok") throw new InjectedFault(`${call.kind} after sending`);
    const value = answer();
    if (this.answer === "unknown" && call.kind !== "killop") entry.clear = false;
    return value;
  }

  private guard(where: string, lost?: () => void): void {
    const trip = this.trip("outbound");
    if (trip === "ok") return;
    if (trip !== "throw") lost?.();
    throw new InjectedFault(where);
  }

  private afterStarted(incidentId: string): void {
    const incident = this.base.incident(incidentId);
    if (this.fixes && incident) this.load.set(this.clusterOf(incident.clusterName), "low");
  }

  deps(): CoreDeps {
    const book: BudgetBook = {
      has: (key) => this.book.has(key),
      prune: (since) => {
        for (const [key, a] of this.book) if (a.at < since) this.book.delete(key);
      },
      actions: () => [...this.book.values()].sort((a, b) => (a.at < b.at ? -1 : 1)),
      add: (key, target, at) => this.book.set(key, { target, at, outcome: "sending" }),
      release: (key) => this.book.delete(key),
    };
    const adapter = (target: Target) => ({
      target,
      plan: () => ({
        target: target.name,
        kind: target.kind,
        action: "redeploy",
        method: "POST",
        endpoint: `webhook (${target.name})`,
      }),
      deployInProgress: async () => {
        const trip = this.trip("outbound");
        if (trip === "lost") return null;
        if (trip !== "ok") throw new InjectedFault("deployInProgress");
        return this.deploying;
      },
      redeploy: (request: RedeployRequest) =>
        this.fire<RedeployOutcome>(
          {
            kind: "redeploy",
            key: request.idempotencyKey,
            target: target.name,
            incidentId: request.incidentId,
          },
          () => {
            if (this.answer === "started") this.afterStarted(request.incidentId);
            return this.answer === "started"
              ? { kind: "started", detail: "hook accepted" }
              : this.answer === "failed"
                ? { kind: "failed", detail: "hook refused", status: 400 }
                : { kind: "unknown", detail: "no answer" };
          },
          () => ({ kind: "unknown", detail: "timed out after sending" }),
        ),
    });
    return {
      now: this.now,
      config: this.config,
      log: { log: (level, event) => this.logs.push({ level, event }) },
      sources: (context) => {
        this.guard("sources");
        return [
          {
            name: "mongodb",
            read: async () => {
              const trip = this.trip("outbound");
              if (trip === "lost")
                return {
                  source: "mongodb",
                  ok: false,
                  at: this.now().toISOString(),
                  reason: "timeout",
                  error: "timed out",
                  findings: [],
                };
              if (trip !== "ok") throw new InjectedFault("mongodb read");
              return this.reading(context.cluster);
            },
          },
        ];
      },
      adapter,
      failover: async (_groupId, cluster) => {
        const incident = this.liveFor(cluster);
        return this.fire(
          {
            kind: "failover",
            key: `failover:${incident}`,
            target: `failover:${this.clusterOf(cluster)}`,
            incidentId: incident,
          },
          () => {
            if (this.answer === "started") this.afterStarted(incident);
            return { kind: this.answer, detail: `restartPrimaries: ${this.answer}` };
          },
          () => ({ kind: "unknown" as const, detail: "no answer" }),
        );
      },
      limiter: {
        recent: async () => {
          this.guard("limiter.recent");
          return [...this.book.values()];
        },
        reserve: async (input) => {
          const trip = this.trip("outbound");
          if (trip === "throw") throw new InjectedFault("limiter.reserve");
          const answer = reserveIn(book, input);
          if (trip !== "ok") throw new InjectedFault("limiter.reserve after taking");
          return answer;
        },
        settle: async (key, outcome) => {
          this.guard("limiter.settle");
          const found = this.book.get(key);
          if (found) found.outcome = outcome;
        },
      },
      identify: async (_groupId, location) => {
        const trip = this.trip("outbound");
        if (trip === "lost") return null;
        if (trip !== "ok") throw new InjectedFault("identify");
        const c = CLUSTERS.find((x) => x.rs === location.replicaSetName);
        return c ? { cluster: c.name, via: "process list" } : null;
      },
      killLongOperations: async (_groupId, cluster) => {
        const incident = this.liveFor(cluster);
        return this.fire<KillLongOperationsResult>(
          { kind: "killop", key: `killop:${incident}`, target: cluster, incidentId: incident },
          () => ({ ok: true as const, at: this.now().toISOString(), killed: [], refused: [], spared: [] }),
          () => ({
            ok: false as const,
            at: this.now().toISOString(),
            reason: "timeout" as const,
            error: "no answer",
            killed: [],
          }),
        );
      },
    };
  }

  /** Handles the interleaved request when its outbound call comes, as its own request. */
  private meanwhile(): void {
    const next = this.interleaved;
    if (!next || this.crashed || --next.after > 0) return;
    this.interleaved = null;
    try {
      this.runNow(next.request);
    } finally {
      this.crashed = false;
    }
  }

  /** The incident acting on a cluster (failover and killOp calls carry only the cluster). */
  private liveFor(cluster: string): string {
    const acting = this.base
      .snapshot()
      .incidents.filter((i) => i.clusterName === cluster && i.phase === "act");
    if (acting.length !== 1) {
      const ids = acting.map((i) => i.id);
      this.violations.push(new InvariantError(`a call for ${cluster}, acting in ${JSON.stringify(ids)}`));
    }
    return acting[0]?.id ?? "(none)";
  }

  ctx(): StepContext {
    return { groupId: GROUP, store: this.store, deps: this.deps() };
  }

  newId = (groupId: string): string => `${groupId}-${String(++this.ids).padStart(4, "0")}`;

  // -- commands ----------------------------------------------------------------------------------

  async apply(command: Command): Promise<void> {
    this.crashed = false;
    try {
      await this.run(command);
    } finally {
      this.crashed = false;
    }
  }

  private runNow(command: Interleaved): void {
    switch (command.t) {
      case "deliver":
        this.deliver(command);
        return;
      case "decide":
        this.decide(command);
        return;
      case "trigger":
        this.trigger(command);
        return;
      case "load":
        this.load.set(CLUSTERS[command.cluster].name, command.level);
        return;
    }
  }

  private async run(command: Command): Promise<void> {
    switch (command.t) {
      case "deliver":
      case "decide":
      case "trigger":
      case "load":
        return this.runNow(command);
      case "mode":
        if (command.cluster === "all") {
          this.globalMode = command.mode;
          this.modes.clear();
        } else this.modes.set(CLUSTERS[command.cluster].name, command.mode);
        return;
      case "watch":
        try {
          await watchCluster(this.ctx(), CLUSTERS[command.cluster].name, this.newId);
        } catch (error) {
          if (!(error instanceof InjectedFault)) throw error;
        }
        return;
      case "during":
        this.interleaved = { after: command.after, request: command.request };
        return;
      case "recover":
        for (const alert of [0, 1] as const) {
          for (const rs of [false, true]) {
            const id = `66aa0000000000000000${command.cluster}${alert}${rs ? 1 : 0}0`;
            if (this.lastSent.get(id)?.body.status === "OPEN")
              this.deliver({ t: "deliver", cluster: command.cluster, rs, alert, kind: "close" });
          }
        }
        return;
      case "renotify": {
        const next = this.lost.shift();
        if (next) this.send(next);
        return;
      }
      case "alarm":
        return this.alarm();
      case "wake": {
        const next = this.base.earliestRun();
        if (next !== null) this.nowMs = Math.max(this.nowMs, next);
        return this.alarm();
      }
      case "clock":
        this.nowMs += command.ms;
        return;
      case "fault":
        this.fault = { after: command.after, times: command.times, kind: command.kind, scope: command.scope };
        return;
      case "platform":
        this.answer = command.answer;
        this.deploying = command.deploying;
        this.fixes = command.fixes;
        return;
    }
  }

  private async alarm(): Promise<void> {
    try {
      await runDue(this.ctx());
    } catch (error) {
      // The alarm died (an injected outage in its error handling): the Durable Object retries it.
      if (!(error instanceof InjectedFault)) throw error;
    }
  }

  private deliver(command: Extract<Command, { t: "deliver" }>): void {
    const c = CLUSTERS[command.cluster];
    const id = `66aa0000000000000000${command.cluster}${command.alert}${command.rs ? 1 : 0}0`;
    if (command.kind === "dup") {
      const last = this.lastSent.get(id);
      if (last) this.send(last);
      return;
    }
    const latest = this.updatedOf.get(id);
    const updatedMs =
      command.kind === "stale" ? (latest ?? this.nowMs) - 60_000 : Math.max(this.nowMs, latest ?? 0);
    if (command.kind !== "stale") this.updatedOf.set(id, updatedMs);
    const status = command.kind === "close" ? "CLOSED" : command.kind === "cancel" ? "CANCELLED" : "OPEN";
    const event: AtlasEvent | null = {
      open: "alert.open",
      update: "alert.update",
      close: "alert.close",
      cancel: "alert.cancel",
      ack: "alert.acknowledge",
      stale: "alert.update",
      "other-metric": "alert.open",
    }[command.kind] as AtlasEvent;
    const { clusterName: _name, ...rest } = M0_CONNECTIONS_OPEN;
    const body: Record<string, unknown> = {
      ...rest,
      id,
      status,
      created: new Date(updatedMs).toISOString(),
      updated: new Date(updatedMs).toISOString(),
      replicaSetName: c.rs,
      ...(command.rs ? {} : { clusterName: c.name }),
      ...(command.kind === "other-metric"
        ? { metricName: "DISK_PARTITION_SPACE_USED_DATA", currentValue: { number: 95, units: "RAW" } }
        : { currentValue: { number: 85, units: "RAW" } }),
    };
    const sent: SentDelivery = { body, event, key: deliveryKey(delivery(body, event).alert, event) };
    this.lastSent.set(id, sent);
    this.send(sent);
  }

  /** One delivery through intake, as the webhook route records it, with what must hold of its answer. */
  private send(sent: SentDelivery): void {
    const before = this.base.snapshot();
    const input = delivery(sent.body, sent.event);
    let outcome: ReturnType<typeof applyDelivery>;
    try {
      outcome = this.store.transaction(() => applyDelivery(this.store, input, this.now(), this.newId));
    } catch (error) {
      if (!(error instanceof InjectedFault)) throw error;
      // The route answers 503 and Atlas re-notifies; nothing of it may have been kept.
      sameState(before, this.base.snapshot(), "a delivery that failed changed the state");
      if (!this.committed.has(sent.key) && !this.lost.some((l) => l.key === sent.key)) this.lost.push(sent);
      return;
    }
    if (this.committed.has(sent.key)) {
      if (outcome.status !== "duplicate") fail("a repeated delivery was not a duplicate", { sent, outcome });
      sameState(before, this.base.snapshot(), "a duplicate delivery changed the state");
      return;
    }
    const expected = input.relevant ? "accepted" : "ignored";
    if (outcome.status !== expected) fail(`a new delivery was not ${expected}`, { sent, outcome });
    this.committed.add(sent.key);
    const i = this.lost.findIndex((l) => l.key === sent.key);
    if (i >= 0) this.lost.splice(i, 1);
  }

  private trigger(command: Extract<Command, { t: "trigger" }>): void {
    const request = {
      groupId: GROUP,
      cluster: CLUSTERS[command.cluster].name,
      dryRun: command.dryRun,
      reason: null,
    };
    const before = this.base.snapshot();
    try {
      this.store.transaction(() => applyTrigger(this.store, request, this.now(), this.newId));
    } catch (error) {
      if (!(error instanceof InjectedFault)) throw error;
      sameState(before, this.base.snapshot(), "a trigger that failed changed the state");
    }
  }

  private decide(command: Extract<Command, { t: "decide" }>): void {
    // Most clicks are on a request that is waiting; the rest on any incident, closed ones included.
    const all = this.base.snapshot().incidents.sort((a, b) => (a.id < b.id ? -1 : 1));
    const waiting = all.filter((i) => i.phase === "approval");
    const incidents = command.pick < 4 && waiting.length > 0 ? waiting : all;
    if (incidents.length === 0) return;
    const incident = incidents[command.pick % incidents.length]!;
    const older = [...(this.requests.get(incident.id) ?? [])].filter(
      (r) => r !== incident.approvalRequestedAt,
    );
    const requestedAt =
      command.requested === "current"
        ? (incident.approvalRequestedAt ?? undefined)
        : command.requested === "stale"
          ? (older[0] ?? new Date(this.nowMs - 3600_000).toISOString())
          : undefined;
    const request = {
      decision: command.decision,
      by: command.allowed ? "U0APPROVER" : "U0STRANGER",
      source: "slack" as const,
      allowed: command.allowed,
      ...(requestedAt === undefined ? {} : { requestedAt }),
    };
    const click = () => {
      const before = this.base.snapshot();
      const current = before.incidents.find((i) => i.id === incident.id)!;
      let result: ReturnType<typeof applyDecision>;
      try {
        result = this.store.transaction(() => applyDecision(this.store, incident.id, request, this.now()));
      } catch (error) {
        if (!(error instanceof InjectedFault)) throw error;
        sameState(before, this.base.snapshot(), "a decision that failed changed the state");
        return;
      }
      const after = this.base.snapshot();
      const facts = { request, phase: current.phase, result };
      if (!command.allowed) {
        if (result.applied) fail("a click from a non-approver was applied", facts);
        sameState(
          { ...before, journal: [] },
          { ...after, journal: [] },
          "a non-approver's click changed the state",
        );
        return;
      }
      const isStale = requestedAt !== undefined && requestedAt !== current.approvalRequestedAt;
      if (command.decision !== "snooze" && (isStale || current.phase !== "approval")) {
        if (result.applied) fail("a click on a stale or absent request was applied", facts);
        sameState(before, after, "a click on a stale or absent request changed the state");
      }
    };
    click();
    if (command.double) click();
  }

  // -- invariants --------------------------------------------------------------------------------

  /**
   * Called as each call lands: what must hold of the world at that moment. Recorded, not thrown,
   * since the core would catch a throw from inside its dependencies; `check` reports it.
   */
  private checkCall(call: Landed): void {
    try {
      this.checkCallNow(call);
    } catch (error) {
      this.violations.push(error as Error);
    }
  }

  private checkCallNow(call: Landed): void {
    if (call.kind === "killop") return;
    const incident = this.base.incident(call.incidentId);
    if (!incident) fail("a call for an unknown incident", call);
    const mode = incident.mode ?? this.config.modeFor(GROUP, incident.clusterName);
    if (mode === "notify" || mode === "dry-run") fail(`a call was made in ${mode} mode`, call);
    const snoozed = this.base.snoozedUntil(incident.clusterKey);
    if (snoozed && Date.parse(snoozed) > this.nowMs)
      fail("a call was made while the cluster was snoozed", { call, snoozed });
    if (call.kind === "failover") {
      const entries = this.base.entries(call.incidentId);
      const asked = entries.findLastIndex((e) => e.step === "approval" && e.status === "requested");
      const approved = entries.findLastIndex((e) => e.step === "approval" && e.status === "approved");
      if (asked < 0 || approved < asked) fail("a failover without an approval of its request", call);
    }
  }

  /** Every invariant over the whole state; `settled` adds what must hold once nothing is due. */
  check(settled = false): void {
    if (this.violations.length > 0) throw this.violations[0];
    const state = this.base.snapshot();
    checkDeliveries(state, this.committed);
    checkIncidents(state, settled);
    checkJournal(state);
    checkCalls(this.landed, this.spec);
    for (const i of state.incidents) {
      if (i.approvalRequestedAt) {
        const seen = this.requests.get(i.id) ?? new Set<string>();
        seen.add(i.approvalRequestedAt);
        this.requests.set(i.id, seen);
      }
    }
  }

  /** Faults off, lost deliveries re-sent, and the clock moved from run to run until nothing is due. */
  async drain(): Promise<void> {
    this.calm = true;
    this.fault = null;
    this.interleaved = null;
    for (let next = this.lost.shift(); next; next = this.lost.shift()) this.send(next);
    for (let i = 0; i < 400; i++) {
      await runDue(this.ctx());
      this.check();
      const next = this.base.earliestRun();
      if (next === null) {
        this.check(true);
        return;
      }
      this.nowMs = Math.max(this.nowMs, next);
    }
    fail("the incidents never came to rest", this.base.snapshot().incidents);
  }
}
