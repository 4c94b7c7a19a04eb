/**
 * The incident ledger: a Durable Object per Atlas project, with SQLite storage (schema in
 * ./store.ts), and `LedgerIndex`, one object that knows every project and holds the global action
 * budget.
 *
 * Why one ledger per project: the invariants it keeps — one live incident per cluster, one record
 * per delivery — are scoped to a project's clusters, and a project gets a handful of alerts an hour,
 * so one object serialises them with no contention; teams with many projects get one object each
 * instead of queueing on a global one. What must be global — cooldowns per target and the hourly
 * action cap — lives in the index, which is touched only when the responder is about to act.
 *
 * Atomicity: each delivery is decided and written inside one `transactionSync`, which runs without
 * interleaving; the delivery, its incident change and its journal line commit together or not at
 * all (the route then answers 503 and Atlas re-notifies). Slow work happens in `alarm()`, which is
 * safe to run twice: each incident advances one journaled phase at a time (./runner.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { clusterRefOf, deliveryKey } from "../atlas/alert.ts";
import { type Config, parseConfig } from "../config/schema.ts";
import type { ActionLimiter, PipelineDeps } from "../response/pipeline.ts";
import { budgetCheck, type PastAction } from "../response/policy.ts";
import { createPipelineDeps } from "./deps.ts";
import { newIncidentId, parseIncidentId } from "./ids.ts";
import type {
  AlertDelivery,
  AlertRecord,
  DeliveryOutcome,
  IncidentDetail,
  IncidentQuery,
  IncidentSummary,
  JournalEntry,
  TriggerRequest,
} from "./model.ts";
import { advance } from "./runner.ts";
import { syncSlack } from "./slack-sync.ts";
import { type IncidentRecord, LedgerStore, type RunMode } from "./store.ts";

/** At most this many phase steps per alarm: a bug can never spin an alarm forever. */
const MAX_STEPS_PER_ALARM = 50;

interface LedgerEnv {
  LEDGER_INDEX: DurableObjectNamespace<LedgerIndex>;
}

export type Decision = "approve" | "skip" | "snooze";

export class Ledger extends DurableObject<LedgerEnv> {
  private readonly store: LedgerStore;
  private config: Config | null = null;

  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    this.store = new LedgerStore(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate();
    });
  }

  private get settings(): Config {
    this.config ??= parseConfig(this.env as unknown as Record<string, unknown>);
    return this.config;
  }

  private groupId(): string {
    return String(
      this.ctx.storage.sql.exec("SELECT value FROM meta WHERE key = 'registered'").toArray()[0]?.value ?? "",
    );
  }

  /** Records one webhook delivery: dedupes it, opens/joins/closes the cluster's incident, journals it. */
  async recordAlert(delivery: AlertDelivery): Promise<DeliveryOutcome> {
    await this.ensureRegistered(delivery.alert.groupId);
    const outcome = this.ctx.storage.transactionSync(() => this.applyDelivery(delivery, new Date()));
    await this.reschedule();
    return outcome;
  }

  /** Opens an incident for a manual run, or joins the cluster's live one (rerunning it if idle). */
  async trigger(request: TriggerRequest): Promise<{ incident: string; joined: boolean }> {
    await this.ensureRegistered(request.groupId);
    const result = this.ctx.storage.transactionSync(() => {
      const now = new Date();
      const at = now.toISOString();
      const key = `name:${request.cluster}`;
      const mode: RunMode = request.dryRun ? "dry-run" : null;
      const detail = { reason: request.reason, dryRun: request.dryRun };
      const live = this.store.liveIncident(key);
      if (live) {
        this.store.journal(live.id, at, "trigger", "joined", detail);
        // A human asked for a run: an incident at rest runs again, in the mode asked for.
        if (live.phase === "idle") {
          this.store.update(live.id, at, {
            state: "open",
            phase: "gather",
            nextRunAt: now.getTime(),
            mode,
            decision: null,
          });
        } else this.store.update(live.id, at, {});
        return { incident: live.id, joined: true };
      }
      const id = newIncidentId(request.groupId, now);
      this.store.open({
        id,
        clusterKey: key,
        clusterName: request.cluster,
        mode,
        origin: "manual",
        at,
        nextRunAt: now.getTime(),
      });
      this.store.journal(id, at, "trigger", "opened", detail);
      return { incident: id, joined: false };
    });
    await this.reschedule();
    return result;
  }

  /**
   * A human's decision on an incident awaiting approval. Not applied (and harmless) when there is
   * nothing to decide: already decided, not awaiting, a click on an older version of the message
   * (`requestedAt` is not the current request), or a user who may not approve.
   */
  async decide(
    id: string,
    decision: Decision,
    by: string | null,
    options: { requestedAt?: string; allowed?: boolean } = {},
  ): Promise<{ applied: boolean; state: string | null }> {
    const result = this.ctx.storage.transactionSync(() => {
      const incident = this.store.incident(id);
      if (!incident) return { applied: false, state: null };
      const now = new Date();
      const at = now.toISOString();
      if (options.allowed === false) {
        if (incident.phase === "approval") {
          this.store.journal(id, at, "approval", "refused", {
            by,
            decision,
            reason: "not in SLACK_APPROVERS",
          });
        }
        return { applied: false, state: incident.state };
      }
      if (decision === "snooze") {
        const until = new Date(now.getTime() + 3600_000).toISOString();
        const current = this.store.snoozedUntil(incident.clusterKey);
        if (current && Date.parse(current) > now.getTime()) return { applied: false, state: incident.state };
        this.store.snooze(incident.clusterKey, until, by);
        this.store.journal(id, at, "approval", "snoozed", { by, until });
        if (incident.phase === "approval") {
          this.store.update(id, at, {
            state: "open",
            phase: "gather",
            nextRunAt: Date.parse(until),
            decision: null,
          });
        }
        return { applied: true, state: this.store.incident(id)!.state };
      }
      if (incident.phase !== "approval") return { applied: false, state: incident.state };
      if (options.requestedAt !== undefined && options.requestedAt !== this.lastApprovalRequest(id)) {
        return { applied: false, state: incident.state };
      }
      if (decision === "approve") {
        this.store.journal(id, at, "approval", "approved", { by });
        this.store.update(id, at, { state: "acting", phase: "act", nextRunAt: now.getTime() });
      } else {
        this.store.journal(id, at, "approval", "skipped", { by });
        this.store.update(id, at, { state: "open", phase: "idle", nextRunAt: null, decision: null });
      }
      return { applied: true, state: this.store.incident(id)!.state };
    });
    await this.reschedule();
    return result;
  }

  private lastApprovalRequest(id: string): string | undefined {
    const row = this.ctx.storage.sql
      .exec(
        "SELECT at FROM journal WHERE incident_id = ? AND step = 'approval' AND status = 'requested' ORDER BY seq DESC LIMIT 1",
        id,
      )
      .toArray()[0];
    return row ? String(row.at) : undefined;
  }

  /** Runs every incident whose turn has come. `overrides` let tests replace the outside world. */
  async runDue(overrides: Partial<PipelineDeps> = {}): Promise<number> {
    const deps = {
      ...createPipelineDeps(this.settings, this.env.LEDGER_INDEX.getByName("index")),
      ...overrides,
    };
    const groupId = this.groupId();
    let steps = 0;
    try {
      steps = await this.advanceDue(deps, groupId);
    } finally {
      await this.reschedule();
    }
    return steps;
  }

  private async advanceDue(deps: PipelineDeps, groupId: string): Promise<number> {
    let steps = 0;
    while (steps < MAX_STEPS_PER_ALARM) {
      const due = this.store.nextDue(deps.now().getTime());
      if (!due) break;
      await advance(
        { groupId, store: this.store, transaction: (fn) => this.ctx.storage.transactionSync(fn), deps },
        due,
      );
      steps++;
    }
    if (deps.slack) {
      const slack = deps.slack;
      await syncSlack({
        groupId,
        store: this.store,
        transaction: (fn) => this.ctx.storage.transactionSync(fn),
        slack,
        approvalButtons: slack.mode === "bot" && Boolean(deps.config.slack.signingSecret),
        modeOf: (incident) =>
          this.store.incident(incident.id)?.mode ?? deps.config.modeFor(groupId, incident.cluster.name),
        detail: (id) => this.getIncident(groupId, id),
        log: deps.log,
        now: deps.now,
      });
    } else this.store.clearSlackDue();
    return steps;
  }

  override async alarm(): Promise<void> {
    await this.runDue();
  }

  /** This project's incidents, newest first. */
  listIncidents(groupId: string, query: IncidentQuery): IncidentSummary[] {
    const clauses: string[] = [];
    const params: SqlStorageValue[] = [];
    if (query.state) {
      clauses.push("state = ?");
      params.push(query.state);
    }
    if (query.cluster) {
      clauses.push("cluster_name = ?");
      params.push(query.cluster);
    }
    const cursor = query.before ? parseIncidentId(query.before) : null;
    if (cursor) {
      // The cursor may come from another project: compare on the time-ordered part of the id.
      clauses.push("id < ?");
      params.push(`${groupId.toLowerCase()}-${cursor.sortKey}`);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    return this.store.select(where, params, query.limit).map((incident) => summarize(groupId, incident));
  }

  /** One incident with its alerts and journal; null when this project has no such incident. */
  getIncident(groupId: string, id: string): IncidentDetail | null {
    const incident = this.store.incident(id);
    if (!incident) return null;
    const sql = this.ctx.storage.sql;
    const alerts = sql
      .exec("SELECT * FROM deliveries WHERE incident_id = ? ORDER BY received_at, key", id)
      .toArray()
      .map(
        (d): AlertRecord => ({
          alertId: String(d.alert_id),
          event: (d.event as AlertRecord["event"]) ?? null,
          status: d.status as AlertRecord["status"],
          metricName: (d.metric as string | null) ?? null,
          currentValue: d.value === null ? null : { number: Number(d.value), units: String(d.units) },
          updated: String(d.updated),
          receivedAt: String(d.received_at),
        }),
      );
    const journal = sql
      .exec("SELECT at, step, status, detail FROM journal WHERE incident_id = ? ORDER BY seq", id)
      .toArray()
      .map(
        (j): JournalEntry => ({
          at: String(j.at),
          step: String(j.step),
          status: String(j.status),
          detail: JSON.parse(String(j.detail)) as Record<string, unknown>,
        }),
      );
    return { ...summarize(groupId, incident), alerts, journal };
  }

  private applyDelivery({ alert, event, intent, relevant }: AlertDelivery, now: Date): DeliveryOutcome {
    const sql = this.ctx.storage.sql;
    const key = deliveryKey(alert, event);
    const seen = sql.exec("SELECT incident_id FROM deliveries WHERE key = ?", key).toArray()[0];
    if (seen) return { status: "duplicate", incident: (seen.incident_id as string | null) ?? null };

    const at = now.toISOString();
    const cluster = clusterRefOf(alert);
    const record = (disposition: string, incident: string | null) =>
      sql.exec(
        `INSERT INTO deliveries (key, received_at, disposition, incident_id, alert_id, event, status, metric, value, units, updated, alert_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        key,
        at,
        disposition,
        incident,
        alert.id,
        event,
        alert.status,
        alert.metricName ?? null,
        alert.currentValue?.number ?? null,
        alert.currentValue?.units ?? null,
        alert.updated,
        JSON.stringify(alert),
      );
    const summary = {
      alertId: alert.id,
      event,
      status: alert.status,
      metric: alert.metricName ?? null,
      value: alert.currentValue?.number ?? null,
    };

    if (!relevant) {
      record("ignored", null);
      // Journaled where people look: on the cluster's live incident, if it has one. Never acted on.
      const live = this.store.liveIncident(cluster.key);
      if (live) this.store.journal(live.id, at, "intake", "ignored", summary);
      return { status: "ignored", incident: null };
    }

    // Atlas does not promise ordering: a delivery older than what we know of this alert changes nothing.
    const known = sql
      .exec("SELECT incident_id, status, updated FROM alerts WHERE alert_id = ?", alert.id)
      .toArray()[0];
    if (known && Date.parse(String(known.updated)) > Date.parse(alert.updated)) {
      const incident = (known.incident_id as string | null) ?? null;
      record("stale", incident);
      if (incident) this.store.journal(incident, at, "intake", "stale", summary);
      return { status: "accepted", incident };
    }

    const alertValue =
      alert.metricName && alert.currentValue
        ? { metricName: alert.metricName, value: alert.currentValue.number, at: alert.updated }
        : undefined;
    let live = this.store.liveIncident(cluster.key);
    // A manual run at rest (resolved, escalated, dry-run, skipped) is not what Atlas is alerting
    // about now: close it and let the alert open an incident of its own.
    if (live && intent === "open" && live.origin === "manual" && live.phase === "idle") {
      this.store.update(live.id, at, { state: "closed", closedAt: at, nextRunAt: null, decision: null });
      this.store.journal(live.id, at, "incident", "closed", {
        reason: `superseded by Atlas alert ${alert.id}`,
      });
      live = null;
    }
    let incident: string | null = live?.id ?? null;
    switch (intent) {
      case "open": {
        if (live) {
          this.store.journal(live.id, at, "intake", "joined", summary);
          // Atlas still says the cluster is over its threshold after we thought it recovered: run again.
          const rerun = live.state === "resolved" && live.phase === "idle";
          this.store.update(live.id, at, {
            ...(alertValue ? { alert: alertValue } : {}),
            ...(rerun
              ? { state: "open", phase: "gather", nextRunAt: now.getTime(), decision: null, mode: null }
              : {}),
          });
        } else {
          incident = newIncidentId(alert.groupId, now);
          this.store.open({
            id: incident,
            clusterKey: cluster.key,
            clusterName: cluster.name,
            mode: null,
            origin: "atlas",
            at,
            nextRunAt: now.getTime(),
          });
          if (alertValue) this.store.update(incident, at, { alert: alertValue });
          this.store.journal(incident, at, "intake", "opened", summary);
        }
        break;
      }
      case "close":
      case "cancel": {
        if (!live) break;
        this.store.journal(
          live.id,
          at,
          "intake",
          intent === "close" ? "alert-closed" : "alert-cancelled",
          summary,
        );
        this.store.update(live.id, at, {});
        break;
      }
      case "note": {
        if (live) {
          this.store.journal(live.id, at, "intake", "noted", summary);
          this.store.update(live.id, at, {});
        }
        break;
      }
    }

    sql.exec(
      `INSERT INTO alerts (alert_id, incident_id, status, updated) VALUES (?, ?, ?, ?)
       ON CONFLICT (alert_id) DO UPDATE SET incident_id = COALESCE(excluded.incident_id, alerts.incident_id),
         status = excluded.status, updated = excluded.updated`,
      alert.id,
      incident,
      alert.status,
      alert.updated,
    );
    record("accepted", incident);

    // The incident closes when every Atlas alert that joined it has closed or been cancelled.
    if (incident && (intent === "close" || intent === "cancel"))
      this.closeIfAllAlertsEnded(incident, now, intent);
    return { status: "accepted", incident };
  }

  private closeIfAllAlertsEnded(id: string, now: Date, intent: "close" | "cancel"): void {
    const open = this.ctx.storage.sql
      .exec(
        "SELECT COUNT(*) AS n FROM alerts WHERE incident_id = ? AND status NOT IN ('CLOSED', 'CANCELLED')",
        id,
      )
      .one().n as number;
    if (open > 0) return;
    const at = now.toISOString();
    // Closed now, so the cluster's next alert opens a new incident; one last stats read follows.
    this.store.update(id, at, {
      state: "closed",
      phase: "final-read",
      nextRunAt: now.getTime(),
      closedAt: at,
      decision: null,
    });
    this.store.journal(id, at, "incident", "closed", {
      reason: intent === "close" ? "Atlas closed the alert" : "Atlas cancelled the alert",
    });
  }

  private async reschedule(): Promise<void> {
    const next = this.store.earliestRun();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  /** Tells the index about this project once; safe to repeat, so concurrent first calls are fine. */
  private async ensureRegistered(groupId: string): Promise<void> {
    const done =
      this.ctx.storage.sql.exec("SELECT 1 FROM meta WHERE key = 'registered'").toArray().length > 0;
    if (done) return;
    await this.env.LEDGER_INDEX.getByName("index").register(groupId);
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO meta (key, value) VALUES ('registered', ?)",
      groupId.toLowerCase(),
    );
  }
}

function summarize(groupId: string, incident: IncidentRecord): IncidentSummary {
  return {
    id: incident.id,
    cluster: { groupId, name: incident.clusterName },
    state: incident.state,
    openedAt: incident.openedAt,
    updatedAt: incident.updatedAt,
  };
}

/**
 * The list of projects that have a ledger, and the global action budget.
 * Schema: `projects (group_id TEXT PK, first_seen TEXT)`,
 *         `actions (key TEXT PK, target TEXT, at TEXT, outcome TEXT)` — the last 24 h of actions.
 */
export class LedgerIndex extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS projects (group_id TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS actions (key TEXT PRIMARY KEY, target TEXT NOT NULL, at TEXT NOT NULL, outcome TEXT NOT NULL);
    `);
  }

  /** Adds a project; repeating it is harmless. */
  register(groupId: string): void {
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO projects (group_id, first_seen) VALUES (?, ?)",
      groupId.toLowerCase(),
      new Date().toISOString(),
    );
  }

  /** Every known project id. */
  projects(): string[] {
    return this.ctx.storage.sql
      .exec("SELECT group_id FROM projects ORDER BY group_id")
      .toArray()
      .map((r) => String(r.group_id));
  }

  /** Actions of the 24 hours before `now`, oldest first. */
  recentActions(nowIso: string): PastAction[] {
    const since = new Date(Date.parse(nowIso) - 24 * 3600_000).toISOString();
    this.ctx.storage.sql.exec("DELETE FROM actions WHERE at < ?", since);
    return this.ctx.storage.sql
      .exec("SELECT target, at, outcome FROM actions ORDER BY at")
      .toArray()
      .map((r) => ({
        target: String(r.target),
        at: String(r.at),
        outcome: r.outcome as PastAction["outcome"],
      }));
  }

  /** Re-checks the budget and records the action, atomically; a repeated key succeeds without counting twice. */
  reserve(input: Parameters<ActionLimiter["reserve"]>[0]): Awaited<ReturnType<ActionLimiter["reserve"]>> {
    return this.ctx.storage.transactionSync(() => {
      const existing = this.ctx.storage.sql.exec("SELECT 1 FROM actions WHERE key = ?", input.key).toArray();
      if (existing.length > 0) return { ok: true as const };
      const blocked = budgetCheck(input.target, this.recentActions(input.at), input, new Date(input.at));
      if (blocked) return { ok: false as const, ...blocked };
      this.ctx.storage.sql.exec(
        "INSERT INTO actions (key, target, at, outcome) VALUES (?, ?, ?, 'sending')",
        input.key,
        input.target,
        input.at,
      );
      return { ok: true as const };
    });
  }

  /** Records how a reserved action ended. */
  settle(key: string, outcome: PastAction["outcome"]): void {
    this.ctx.storage.sql.exec("UPDATE actions SET outcome = ? WHERE key = ?", outcome, key);
  }
}
