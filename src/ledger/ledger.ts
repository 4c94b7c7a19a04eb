/**
 * The incident ledger: a Durable Object per Atlas project, and the Worker's adapter for the
 * incident core (src/incident/). It owns the storage (SQLite, schema and every query in
 * ./store.ts), the alarm and the RPC methods; what a delivery, a trigger, a decision or a step
 * does is the core's.
 *
 * Why one ledger per project: the invariants it keeps — one live incident per cluster, one record
 * per delivery — are scoped to a project's clusters, and a project gets a handful of alerts an hour,
 * so one object serialises them with no contention; teams with many projects get one object each
 * instead of queueing on a global one. What must be global — cooldowns per target and the hourly
 * action cap — lives in the index (./ledger-index.ts), touched only when the responder is about to act.
 *
 * Atomicity: each delivery is decided and written inside one `transactionSync`, which runs without
 * interleaving; the delivery, its incident change and its journal entry commit together or not at
 * all (the route then answers 503 and Atlas re-notifies). Slow work happens in `alarm()`, which is
 * safe to run twice: each incident advances one journaled phase at a time.
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, parseConfig } from "../config/schema.ts";
import { runDue } from "../incident/advance.ts";
import { applyDecision, type DecisionRequest } from "../incident/approval.ts";
import type { CoreDeps } from "../incident/deps.ts";
import { newIncidentId, parseIncidentId } from "../incident/ids.ts";
import {
  type AlertDelivery,
  applyDelivery,
  applyTrigger,
  type DeliveryOutcome,
  type TriggerRequest,
} from "../incident/intake.ts";
import type { ClusterOverview, Sample } from "../incident/samples.ts";
import { type IncidentDetail, type IncidentSummary, incidentDetail, summarize } from "../incident/view.ts";
import { type WatchOutcome, watchCluster } from "../incident/watch.ts";
import type { NotifyClient } from "../notify/client.ts";
import { syncNotify } from "../notify/sync.ts";
import type { SlackClient } from "../slack/client.ts";
import { syncSlack } from "../slack/sync.ts";
import { createWorkerDeps } from "./deps.ts";
import type { LedgerIndex } from "./ledger-index.ts";
import { LedgerStore } from "./store.ts";

export { LedgerIndex } from "./ledger-index.ts";

interface LedgerEnv {
  LEDGER_INDEX: DurableObjectNamespace<LedgerIndex>;
}

/** `GET /incidents` as one ledger answers it. */
export interface LedgerQuery {
  state?: IncidentSummary["state"];
  cluster?: string;
  limit: number;
  /** Only incidents that sort after this id (newest first): the page cursor, from any project. */
  before?: string;
}

/** What tests may replace: the outside world, and the clock. */
export type RunOverrides = Partial<CoreDeps> & { slack?: SlackClient | null; notify?: NotifyClient | null };

export class Ledger extends DurableObject<LedgerEnv> {
  private readonly store: LedgerStore;
  private config: Config | null = null;
  /** Set once the index knows this project: the registration never changes after that. */
  private registered = false;
  /** The clock of intake and decisions; the alarm's comes with its dependencies. */
  private readonly now = () => new Date();

  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    this.store = new LedgerStore(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate();
    });
  }

  private get settings(): Config {
    this.config ??= parseConfig(this.env as unknown as Record<string, unknown>);
    return this.config;
  }

  /** Records one webhook delivery: dedupes it, opens/joins/closes the cluster's incident, journals it. */
  async recordAlert(delivery: AlertDelivery): Promise<DeliveryOutcome> {
    await this.ensureRegistered(delivery.alert.groupId);
    const outcome = this.store.transaction(() => {
      const result = applyDelivery(this.store, delivery, this.now(), newIncidentId);
      // With no Slack and no NOTIFY_WEBHOOK_URL, nothing waits to be sent: drop the marks here, as the
      // alarm would, instead of waking it for every delivery that joins an incident.
      if (this.settings.slack.kind === "none") this.store.clearSlackDue();
      if (!this.settings.notify) this.store.clearNotifyDue();
      return result;
    });
    // A duplicate wrote nothing, so the next wake-up is the one already scheduled.
    if (outcome.status !== "duplicate") await this.reschedule();
    return outcome;
  }

  /** Opens an incident for a manual run, or joins the cluster's live one (rerunning it if idle). */
  async trigger(request: TriggerRequest): Promise<{ incident: string; joined: boolean }> {
    await this.ensureRegistered(request.groupId);
    const result = this.store.transaction(() => applyTrigger(this.store, request, this.now(), newIncidentId));
    await this.reschedule();
    return result;
  }

  /** A person's decision on an incident awaiting approval (see src/incident/approval.ts for the rules). */
  async decide(id: string, request: DecisionRequest): Promise<{ applied: boolean; state: string | null }> {
    const result = this.store.transaction(() => applyDecision(this.store, id, request, this.now()));
    await this.reschedule();
    return result;
  }

  /** Runs every incident whose turn has come, then brings Slack and NOTIFY_WEBHOOK_URL up to date. */
  async runDue(overrides: RunOverrides = {}): Promise<number> {
    const { slack: slackOverride, notify: notifyOverride, ...coreOverrides } = overrides;
    const built = createWorkerDeps(this.settings, this.env.LEDGER_INDEX.getByName("index"));
    const deps: CoreDeps = { ...built.core, ...coreOverrides };
    const slack = slackOverride === undefined ? built.slack : slackOverride;
    const notify = notifyOverride === undefined ? built.notify : notifyOverride;
    const groupId = this.store.registeredGroupId() ?? "";
    try {
      const steps = await runDue({ groupId, store: this.store, deps });
      if (slack) {
        await syncSlack({
          groupId,
          store: this.store,
          slack,
          approvalButtons: slack.mode === "bot" && Boolean(deps.config.slack.signingSecret),
          publicUrl: deps.config.publicUrl,
          modeOf: (incident) =>
            this.store.incident(incident.id)?.mode ?? deps.config.modeFor(groupId, incident.cluster.name),
          detail: (id) => incidentDetail(this.store, groupId, id),
          log: deps.log,
          now: deps.now,
        });
      } else this.store.clearSlackDue();
      if (notify) {
        await syncNotify({
          groupId,
          store: this.store,
          client: notify,
          publicUrl: deps.config.publicUrl,
          percentOf: (id) => this.store.incident(id)?.last?.percent ?? null,
          log: deps.log,
          now: deps.now,
        });
      } else this.store.clearNotifyDue();
      this.pruneIfDue(deps);
      return steps;
    } finally {
      await this.reschedule();
    }
  }

  override async alarm(): Promise<void> {
    await this.runDue();
  }

  /**
   * The cron watch for this project: one sample of each named cluster (src/incident/watch.ts), one
   * after the other, each read with the pipeline's sources. A watch incident or a notice it queues
   * is taken up by the alarm, which this schedules.
   */
  async watch(groupId: string, clusters: string[], overrides: RunOverrides = {}): Promise<WatchOutcome[]> {
    await this.ensureRegistered(groupId);
    const { slack: _slack, notify: _notify, ...coreOverrides } = overrides;
    const built = createWorkerDeps(this.settings, this.env.LEDGER_INDEX.getByName("index"));
    const deps: CoreDeps = { ...built.core, ...coreOverrides };
    const outcomes: WatchOutcome[] = [];
    try {
      for (const cluster of clusters) {
        const outcome = await watchCluster({ groupId, store: this.store, deps }, cluster, newIncidentId);
        outcomes.push(outcome);
        if (outcome.gap) deps.log.log("info", "watch.gap", { groupId, cluster });
        if (outcome.opened)
          deps.log.log("warn", "watch.opened", {
            groupId,
            cluster,
            incident: outcome.opened,
            percent: outcome.percent,
          });
        if (outcome.warned !== null)
          deps.log.log("warn", "watch.eta", {
            groupId,
            cluster,
            minutesToLimit: outcome.warned,
            incident: outcome.warnedOn,
          });
      }
      this.pruneIfDue(deps);
      return outcomes;
    } finally {
      await this.reschedule();
    }
  }

  /** Applies the retention rules (RETENTION in src/constants.ts) when their turn has come. */
  private pruneIfDue(deps: Pick<CoreDeps, "now" | "log">): void {
    const nowMs = deps.now().getTime();
    const due = this.store.pruneDueAt();
    if (due !== null && due > nowMs) return;
    const report = this.store.transaction(() => this.store.prune(nowMs));
    if (Object.values(report).some((n) => n > 0)) deps.log.log("info", "retention.pruned", { ...report });
  }

  /** A cluster's samples since `sinceIso`, oldest first. */
  samples(cluster: string, sinceIso: string): Sample[] {
    return this.store.samples(`name:${cluster}`, sinceIso);
  }

  /**
   * This project's clusters for the dashboard: those named (the configured ones) and every cluster
   * this ledger has an incident or a sample of, each with its latest reading — the newer of its
   * latest sample and its incidents' latest assessment.
   */
  overview(groupId: string, configured: Array<{ name: string; tier?: string }>): ClusterOverview[] {
    const names = new Set([...configured.map((c) => c.name), ...this.store.seenClusters()]);
    return [...names].sort().map((name): ClusterOverview => {
      const key = `name:${name}`;
      const hint = configured.find((c) => c.name === name);
      const sample = this.store.latestSample(key);
      const assessed = this.store.latestAssessment(key);
      const fromAssessment = assessed
        ? {
            at: assessed.at,
            current: assessed.current,
            limit: assessed.limit,
            percent: assessed.percent,
            tier: assessed.tier,
            sources: assessed.sources,
          }
        : null;
      const latest =
        sample && fromAssessment
          ? Date.parse(fromAssessment.at) > Date.parse(sample.at)
            ? fromAssessment
            : sample
          : (sample ?? fromAssessment);
      return {
        groupId,
        name,
        tier: latest?.tier ?? hint?.tier ?? null,
        latest,
        configured: hint !== undefined,
      };
    });
  }

  /** This project's incidents, newest first. */
  listIncidents(groupId: string, query: LedgerQuery): IncidentSummary[] {
    // The cursor may come from another project: compare on the time-ordered part of the id.
    const cursor = query.before ? parseIncidentId(query.before) : null;
    return this.store
      .list({
        state: query.state,
        cluster: query.cluster,
        limit: query.limit,
        ...(cursor ? { beforeId: `${groupId.toLowerCase()}-${cursor.sortKey}` } : {}),
      })
      .map((incident) => summarize(groupId, incident));
  }

  /** One incident with its alerts and journal; null when this project has no such incident. */
  getIncident(groupId: string, id: string): IncidentDetail | null {
    return incidentDetail(this.store, groupId, id);
  }

  private async reschedule(): Promise<void> {
    const next = this.store.earliestWake();
    // getAlarm() is answered from the runtime's cache; an unchanged alarm is not written again.
    const current = await this.ctx.storage.getAlarm();
    if (next === current) return;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  /** Tells the index about this project once; safe to repeat, so concurrent first calls are fine. */
  private async ensureRegistered(groupId: string): Promise<void> {
    if (this.registered || this.store.registeredGroupId() !== null) {
      this.registered = true;
      return;
    }
    await this.env.LEDGER_INDEX.getByName("index").register(groupId, this.now().toISOString());
    this.store.markRegistered(groupId);
    this.registered = true;
  }
}
