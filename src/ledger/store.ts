/**
 * The incident store over one project's SQLite tables in the Durable Object: the only file that
 * holds SQL for the ledger. It implements the core's `IncidentStore` (src/incident/store.ts), plus
 * what only the Worker needs: the Slack message's bookkeeping and listing for the API.
 * Synchronous, as the Durable Object SQL API is; `transaction` is `transactionSync`.
 *
 * Storage schema (created idempotently; additive changes only):
 *
 *   incidents   id TEXT PK                  see ids.ts
 *               cluster_key, cluster_name   `name:Cluster0` (or `rs:`/`host:` until named), display name
 *               state TEXT                  model.ts INCIDENT_STATES
 *               phase TEXT                  pipeline position: gather | decide | approval | act | verify | final-read | idle
 *               next_run_at INTEGER NULL    epoch ms when the alarm should advance it; NULL = waiting
 *               mode TEXT NULL              'dry-run' for a dry-run trigger; NULL = the configured mode
 *               origin TEXT                 atlas | manual
 *               opened_at, updated_at, closed_at TEXT (ISO-8601)
 *               alert_json TEXT NULL        latest alert metric/value/at, for the gather step
 *               before_json, last_json TEXT NULL   first and latest assessment
 *               decision_json TEXT NULL     the decision awaiting approval or being acted on
 *               approval_requested_at TEXT NULL   when the current approval was asked for
 *               deferrals INTEGER           waits on a running deploy for the current action
 *               kill_op_done INTEGER        1 once the responder ended its own long reads (M10+)
 *               advised INTEGER             1 once the prevention advice was journaled
 *               checks_done INTEGER         verification reads done since the last action
 *               failures INTEGER            consecutive step errors (backs off the alarm)
 *               slack_ts, slack_channel     the incident's Slack message, once posted (bot mode)
 *               slack_due_at INTEGER NULL   epoch ms when the Slack message should next be brought up to date
 *               slack_synced_seq INTEGER    the last journal seq the Slack message shows
 *               slack_posted_state TEXT     the state last posted (webhook mode posts on state changes)
 *               slack_error TEXT NULL       the last Slack error, journaled once per run of failures
 *               UNIQUE (cluster_key) WHERE state <> 'closed'   -- one live incident per cluster
 *   deliveries  key TEXT PK (alert id|status|updated|X-MMS-Event), received_at, disposition
 *               ('accepted'|'ignored'|'stale'), incident_id, alert_id, event, status, metric, value,
 *               units, updated, alert_json
 *   alerts      alert_id TEXT PK, incident_id, status, updated      latest known state of each Atlas alert
 *   journal     seq INTEGER PK, incident_id, at, step, status, detail (JSON)   append-only, no secrets
 *   actions     id INTEGER PK, incident_id, target, kind, attempt, status ('sending'|'started'|
 *               'failed'|'unknown'|'dry-run'), at, settled_at, idempotency_key, detail (JSON)
 *   readings    cluster_key, at, current     connection counts over time, for trends
 *   snoozes     cluster_key TEXT PK, until, by
 *   failovers   cluster_key, at
 *   meta        key TEXT PK, value TEXT      'registered' once the index knows this project;
 *               'prune_due_at' (epoch ms) when the alarm next applies RETENTION (src/constants.ts)
 *   samples     cluster_key, at, at_ms, current, limit_, percent, tier, sources (JSON)   the cron
 *               watch's samples (src/incident/watch.ts): NULL figures = a gap; 7 days, downsampled
 *               past 24 h to one per 10 minutes, at most MAX_SAMPLES_PER_CLUSTER rows per cluster
 *   watch       cluster_key TEXT PK, armed, eta_warned     the watch's per-cluster memory (hysteresis)
 *   notify_outbox  seq INTEGER PK, incident_id NULL, cluster_key, cluster_name, state, previous_state,
 *               at, summary NULL, due_at, attempts, error   notifications to send (src/notify/sync.ts):
 *               one row per change of incident state, queued by `open`/`update` in the same
 *               transaction; rows without an incident are the watch's notices
 */

import type * as z from "zod";
import type { AtlasEvent } from "../atlas/alert.ts";
import { RETENTION } from "../constants.ts";
import { decodeEntry, type JournalEvent, type JournalRow } from "../incident/journal.ts";
import {
  type ActionRecord,
  type ActionStatus,
  alertValueSchema,
  assessmentSchema,
  type IncidentChanges,
  type IncidentRecord,
  type IncidentState,
  type NewIncident,
  type Phase,
  storedDecisionSchema,
} from "../incident/record.ts";
import type { Sample } from "../incident/samples.ts";
import type {
  AlertState,
  ClusterNotice,
  DeliveryRow,
  IncidentQuery,
  IncidentStore,
  StoredSample,
  WatchState,
} from "../incident/store.ts";
import {
  DOWNSAMPLE_BUCKET_MS,
  FULL_RESOLUTION_MS,
  INITIAL_WATCH_STATE,
  MAX_SAMPLES_PER_CLUSTER,
  SAMPLE_RETENTION_MS,
} from "../incident/watch.ts";
import type { NotifyDue, NotifySyncStore } from "../notify/sync.ts";
import type { BudgetBook } from "../response/budget.ts";
import type { PastAction } from "../response/policy.ts";
import type { SlackState, SlackSync, SlackSyncStore } from "../slack/sync.ts";
import type { SourceSummary } from "../stats/assess.ts";
import type { SeriesPoint } from "../stats/types.ts";

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY,
  cluster_key TEXT NOT NULL,
  cluster_name TEXT NOT NULL,
  state TEXT NOT NULL,
  phase TEXT NOT NULL,
  next_run_at INTEGER,
  mode TEXT,
  origin TEXT NOT NULL,
  opened_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  closed_at TEXT,
  alert_json TEXT,
  before_json TEXT,
  last_json TEXT,
  decision_json TEXT,
  checks_done INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  slack_ts TEXT,
  slack_channel TEXT,
  slack_due_at INTEGER,
  slack_synced_seq INTEGER NOT NULL DEFAULT 0,
  slack_posted_state TEXT,
  slack_error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_live_per_cluster ON incidents (cluster_key) WHERE state <> 'closed';
CREATE INDEX IF NOT EXISTS incidents_due ON incidents (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS deliveries (
  key TEXT PRIMARY KEY,
  received_at TEXT NOT NULL,
  disposition TEXT NOT NULL,
  incident_id TEXT,
  alert_id TEXT NOT NULL,
  event TEXT,
  status TEXT NOT NULL,
  metric TEXT,
  value REAL,
  units TEXT,
  updated TEXT NOT NULL,
  alert_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_incident ON deliveries (incident_id, received_at);
CREATE TABLE IF NOT EXISTS alerts (
  alert_id TEXT PRIMARY KEY,
  incident_id TEXT,
  status TEXT NOT NULL,
  updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL,
  at TEXT NOT NULL,
  step TEXT NOT NULL,
  status TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_incident ON journal (incident_id, seq);
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL,
  target TEXT NOT NULL,
  kind TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  at TEXT NOT NULL,
  settled_at TEXT,
  idempotency_key TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_by_incident ON actions (incident_id, id);
CREATE TABLE IF NOT EXISTS readings (cluster_key TEXT NOT NULL, at TEXT NOT NULL, current REAL NOT NULL);
CREATE INDEX IF NOT EXISTS readings_by_cluster ON readings (cluster_key, at);
CREATE TABLE IF NOT EXISTS snoozes (cluster_key TEXT PRIMARY KEY, until TEXT NOT NULL, by TEXT);
CREATE TABLE IF NOT EXISTS failovers (cluster_key TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
  cluster_key TEXT NOT NULL,
  at TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  current REAL,
  limit_ REAL,
  percent REAL,
  tier TEXT,
  sources TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_cluster ON samples (cluster_key, at_ms);
CREATE TABLE IF NOT EXISTS watch (cluster_key TEXT PRIMARY KEY, armed INTEGER NOT NULL, eta_warned INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS notify_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT,
  cluster_key TEXT NOT NULL,
  cluster_name TEXT NOT NULL,
  state TEXT NOT NULL,
  previous_state TEXT,
  at TEXT NOT NULL,
  summary TEXT,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT
);
`;

/** Columns added after the first schema, with how rows written before them are brought up to date. */
const ADDED_COLUMNS: ReadonlyArray<{ name: string; ddl: string; backfill: string }> = [
  {
    name: "approval_requested_at",
    ddl: "ALTER TABLE incidents ADD COLUMN approval_requested_at TEXT",
    // Earlier versions found the current request by its journal line.
    backfill: `UPDATE incidents SET approval_requested_at = (
        SELECT at FROM journal WHERE incident_id = incidents.id AND step = 'approval' AND status = 'requested'
        ORDER BY seq DESC LIMIT 1)`,
  },
  {
    name: "deferrals",
    ddl: "ALTER TABLE incidents ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0",
    backfill: `UPDATE incidents SET deferrals = (
        SELECT COUNT(*) FROM journal WHERE incident_id = incidents.id AND step = 'action' AND status = 'deferred')`,
  },
  {
    name: "kill_op_done",
    ddl: "ALTER TABLE incidents ADD COLUMN kill_op_done INTEGER NOT NULL DEFAULT 0",
    backfill: `UPDATE incidents SET kill_op_done = EXISTS (
        SELECT 1 FROM journal WHERE incident_id = incidents.id AND step = 'action' AND status = 'killop')`,
  },
  {
    name: "advised",
    ddl: "ALTER TABLE incidents ADD COLUMN advised INTEGER NOT NULL DEFAULT 0",
    backfill: `UPDATE incidents SET advised = EXISTS (
        SELECT 1 FROM journal WHERE incident_id = incidents.id AND step = 'advice')`,
  },
];

/** Decodes stored JSON with its schema; a row that no longer decodes reads as absent, never as a crash. */
function decoded<T>(schema: z.ZodType<T>, value: SqlStorageValue | undefined): T | null {
  if (value === null || value === undefined) return null;
  try {
    const result = schema.safeParse(JSON.parse(String(value)));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
const text = (value: SqlStorageValue | undefined) =>
  value === null || value === undefined ? null : String(value);

/** Connection readings behind a trend: an hour is all the trend and the sparkline need, two to spare. */
const READINGS_KEPT_MS = 2 * 3600_000;

/** Closed incidents deleted per prune, each with its journal, deliveries and actions. */
const INCIDENTS_PER_PRUNE = 100;

/** The intake lines a storm repeats; the first (`opened`) and merges are always kept. */
const REPEATED_INTAKE_LINES = ["joined", "noted", "ignored", "stale", "alert-closed", "alert-cancelled"];

/** Rows one prune deleted, by kind (`other`: actions, readings, failovers, snoozes, notifications). */
export interface PruneReport {
  incidents: number;
  deliveries: number;
  alerts: number;
  journal: number;
  samples: number;
  other: number;
}

/** The ledger's tables, for one Durable Object. */
export class LedgerStore implements IncidentStore, SlackSyncStore, NotifySyncStore {
  private readonly sql: SqlStorage;
  private readonly runTransaction: <T>(fn: () => T) => T;

  constructor(sql: SqlStorage, transaction: <T>(fn: () => T) => T = (fn) => fn()) {
    this.sql = sql;
    this.runTransaction = transaction;
  }

  /** Creates the tables, and brings tables of earlier versions up to date in place. */
  migrate(): void {
    this.sql.exec(SCHEMA);
    const have = new Set(
      this.sql
        .exec("SELECT name FROM pragma_table_info('incidents')")
        .toArray()
        .map((r) => String(r.name)),
    );
    for (const column of ADDED_COLUMNS) {
      if (have.has(column.name)) continue;
      this.sql.exec(column.ddl);
      this.sql.exec(column.backfill);
    }
  }

  transaction<T>(fn: () => T): T {
    return this.runTransaction(fn);
  }

  // -- incidents ----------------------------------------------------------------------------------

  incident(id: string): IncidentRecord | null {
    const row = this.sql.exec("SELECT * FROM incidents WHERE id = ?", id).toArray()[0];
    return row ? toIncident(row) : null;
  }

  list(query: IncidentQuery): IncidentRecord[] {
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
    if (query.beforeId) {
      clauses.push("id < ?");
      params.push(query.beforeId);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    return this.sql
      .exec(`SELECT * FROM incidents ${where} ORDER BY id DESC LIMIT ?`, ...params, query.limit)
      .toArray()
      .map(toIncident);
  }

  liveIncident(clusterKey: string): IncidentRecord | null {
    const row = this.sql
      .exec("SELECT * FROM incidents WHERE cluster_key = ? AND state <> 'closed'", clusterKey)
      .toArray()[0];
    return row ? toIncident(row) : null;
  }

  nextDue(nowMs: number): IncidentRecord | null {
    const row = this.sql
      .exec(
        "SELECT * FROM incidents WHERE next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at LIMIT 1",
        nowMs,
      )
      .toArray()[0];
    return row ? toIncident(row) : null;
  }

  earliestRun(): number | null {
    const row = this.sql
      .exec("SELECT MIN(next_run_at) AS at FROM incidents WHERE next_run_at IS NOT NULL")
      .one();
    return row.at === null ? null : Number(row.at);
  }

  /** When the alarm should next fire: the next step, Slack update, notification or prune. */
  earliestWake(): number | null {
    const row = this.sql
      .exec(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(next_run_at) AS at FROM incidents WHERE next_run_at IS NOT NULL
           UNION ALL SELECT MIN(slack_due_at) FROM incidents WHERE slack_due_at IS NOT NULL
           UNION ALL SELECT MIN(due_at) FROM notify_outbox
           UNION ALL SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'prune_due_at')`,
      )
      .one();
    return row.at === null ? null : Number(row.at);
  }

  open(input: NewIncident): void {
    this.sql.exec(
      `INSERT INTO incidents (id, cluster_key, cluster_name, state, phase, next_run_at, mode, origin, opened_at, updated_at)
       VALUES (?, ?, ?, 'open', 'gather', ?, ?, ?, ?, ?)`,
      input.id,
      input.clusterKey,
      input.clusterName,
      input.nextRunAt,
      input.mode,
      input.origin,
      input.at,
      input.at,
    );
    this.sql.exec(
      `INSERT INTO notify_outbox (incident_id, cluster_key, cluster_name, state, previous_state, at, due_at)
       VALUES (?, ?, ?, 'open', NULL, ?, ?)`,
      input.id,
      input.clusterKey,
      input.clusterName,
      input.at,
      Date.parse(input.at),
    );
  }

  update(id: string, at: string, changes: IncidentChanges): void {
    if (changes.state !== undefined) {
      // One notification per change of state, queued with the change itself.
      this.sql.exec(
        `INSERT INTO notify_outbox (incident_id, cluster_key, cluster_name, state, previous_state, at, due_at)
         SELECT id, cluster_key, cluster_name, ?, state, ?, ? FROM incidents WHERE id = ? AND state <> ?`,
        changes.state,
        at,
        Date.parse(at),
        id,
        changes.state,
      );
    }
    const columns: Record<string, SqlStorageValue> = { updated_at: at };
    if (changes.state !== undefined) columns.state = changes.state;
    if (changes.phase !== undefined) columns.phase = changes.phase;
    if (changes.nextRunAt !== undefined) columns.next_run_at = changes.nextRunAt;
    if (changes.mode !== undefined) columns.mode = changes.mode;
    if (changes.alert !== undefined) columns.alert_json = json(changes.alert);
    if (changes.before !== undefined) columns.before_json = json(changes.before);
    if (changes.last !== undefined) columns.last_json = json(changes.last);
    if (changes.decision !== undefined) columns.decision_json = json(changes.decision);
    if (changes.checksDone !== undefined) columns.checks_done = changes.checksDone;
    if (changes.failures !== undefined) columns.failures = changes.failures;
    if (changes.closedAt !== undefined) columns.closed_at = changes.closedAt;
    if (changes.approvalRequestedAt !== undefined)
      columns.approval_requested_at = changes.approvalRequestedAt;
    if (changes.deferrals !== undefined) columns.deferrals = changes.deferrals;
    if (changes.killOpDone !== undefined) columns.kill_op_done = changes.killOpDone ? 1 : 0;
    if (changes.advised !== undefined) columns.advised = changes.advised ? 1 : 0;
    const keys = Object.keys(columns);
    this.sql.exec(
      `UPDATE incidents SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`,
      ...keys.map((k) => columns[k]!),
      id,
    );
  }

  rename(id: string, clusterKey: string, clusterName: string): boolean {
    const clash = this.liveIncident(clusterKey);
    if (clash && clash.id !== id) return false;
    this.sql.exec(
      "UPDATE incidents SET cluster_key = ?, cluster_name = ? WHERE id = ?",
      clusterKey,
      clusterName,
      id,
    );
    return true;
  }

  // -- journal ------------------------------------------------------------------------------------

  /** Appends to the journal; every entry but Slack's own makes the Slack message due for an update. */
  journal(id: string, at: string, event: JournalEvent): void {
    this.append(id, at, event.step, event.status, event.detail);
  }

  private append(id: string, at: string, step: string, status: string, detail: object): void {
    if (step !== "slack" && step !== "notify") {
      this.sql.exec(
        "UPDATE incidents SET slack_due_at = COALESCE(slack_due_at, ?) WHERE id = ?",
        Date.parse(at),
        id,
      );
    }
    this.sql.exec(
      "INSERT INTO journal (incident_id, at, step, status, detail) VALUES (?, ?, ?, ?, ?)",
      id,
      at,
      step,
      status,
      JSON.stringify(detail),
    );
  }

  entries(id: string): JournalRow[] {
    return this.sql
      .exec("SELECT at, step, status, detail FROM journal WHERE incident_id = ? ORDER BY seq", id)
      .toArray()
      .map((row): JournalRow => {
        let detail: unknown;
        try {
          detail = JSON.parse(String(row.detail));
        } catch {
          detail = null;
        }
        const result = decodeEntry({
          at: text(row.at),
          step: text(row.step),
          status: text(row.status),
          detail,
        });
        if (result.ok) return result.entry;
        // Shown, not hidden: a reader sees that this entry could not be read, and why.
        return {
          at: String(row.at),
          step: String(row.step),
          status: String(row.status),
          detail: { unreadable: result.error },
        };
      });
  }

  // -- deliveries and alerts ----------------------------------------------------------------------

  delivery(key: string): { incidentId: string | null } | null {
    const row = this.sql.exec("SELECT incident_id FROM deliveries WHERE key = ?", key).toArray()[0];
    return row ? { incidentId: text(row.incident_id) } : null;
  }

  addDelivery(row: DeliveryRow): void {
    this.sql.exec(
      `INSERT INTO deliveries (key, received_at, disposition, incident_id, alert_id, event, status, metric, value, units, updated, alert_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.key,
      row.receivedAt,
      row.disposition,
      row.incidentId,
      row.alertId,
      row.event,
      row.status,
      row.metric,
      row.value,
      row.units,
      row.updated,
      row.alertJson,
    );
  }

  deliveries(incidentId: string): DeliveryRow[] {
    return this.sql
      .exec("SELECT * FROM deliveries WHERE incident_id = ? ORDER BY received_at, key", incidentId)
      .toArray()
      .map((d) => ({
        key: String(d.key),
        receivedAt: String(d.received_at),
        disposition: d.disposition as DeliveryRow["disposition"],
        incidentId: text(d.incident_id),
        alertId: String(d.alert_id),
        event: (text(d.event) as AtlasEvent | null) ?? null,
        status: String(d.status),
        metric: text(d.metric),
        value: d.value === null ? null : Number(d.value),
        units: text(d.units),
        updated: String(d.updated),
        alertJson: String(d.alert_json),
      }));
  }

  alert(alertId: string): AlertState | null {
    const row = this.sql
      .exec("SELECT alert_id, incident_id, status, updated FROM alerts WHERE alert_id = ?", alertId)
      .toArray()[0];
    return row
      ? {
          alertId: String(row.alert_id),
          incidentId: text(row.incident_id),
          status: String(row.status),
          updated: String(row.updated),
        }
      : null;
  }

  saveAlert(state: AlertState): void {
    this.sql.exec(
      `INSERT INTO alerts (alert_id, incident_id, status, updated) VALUES (?, ?, ?, ?)
       ON CONFLICT (alert_id) DO UPDATE SET incident_id = COALESCE(excluded.incident_id, alerts.incident_id),
         status = excluded.status, updated = excluded.updated`,
      state.alertId,
      state.incidentId,
      state.status,
      state.updated,
    );
  }

  openAlerts(incidentId: string): number {
    return Number(
      this.sql
        .exec(
          "SELECT COUNT(*) AS n FROM alerts WHERE incident_id = ? AND status NOT IN ('CLOSED', 'CANCELLED')",
          incidentId,
        )
        .one().n,
    );
  }

  hasAtlasAlerts(incidentId: string): boolean {
    return (
      this.sql.exec("SELECT 1 FROM alerts WHERE incident_id = ? LIMIT 1", incidentId).toArray().length > 0
    );
  }

  moveAlerts(from: string, into: string): void {
    this.sql.exec("UPDATE deliveries SET incident_id = ? WHERE incident_id = ?", into, from);
    this.sql.exec("UPDATE alerts SET incident_id = ? WHERE incident_id = ?", into, from);
  }

  // -- actions ------------------------------------------------------------------------------------

  actions(incidentId: string): ActionRecord[] {
    return this.sql
      .exec("SELECT * FROM actions WHERE incident_id = ? ORDER BY id", incidentId)
      .toArray()
      .map((row) => ({
        id: Number(row.id),
        incidentId: String(row.incident_id),
        target: String(row.target),
        kind: String(row.kind),
        attempt: Number(row.attempt),
        status: row.status as ActionStatus,
        at: String(row.at),
        idempotencyKey: String(row.idempotency_key),
        detail: (JSON.parse(String(row.detail ?? "{}")) as Record<string, unknown> | null) ?? {},
      }));
  }

  addAction(input: Omit<ActionRecord, "id">): number {
    this.sql.exec(
      "INSERT INTO actions (incident_id, target, kind, attempt, status, at, idempotency_key, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      input.incidentId,
      input.target,
      input.kind,
      input.attempt,
      input.status,
      input.at,
      input.idempotencyKey,
      JSON.stringify(input.detail),
    );
    return Number(this.sql.exec("SELECT last_insert_rowid() AS id").one().id);
  }

  settleAction(id: number, status: ActionStatus, at: string, detail: Record<string, unknown>): void {
    this.sql.exec(
      "UPDATE actions SET status = ?, settled_at = ?, detail = ? WHERE id = ?",
      status,
      at,
      JSON.stringify(detail),
      id,
    );
  }

  // -- what is remembered of a cluster ------------------------------------------------------------

  addReading(clusterKey: string, at: string, current: number): void {
    this.sql.exec(
      "INSERT INTO readings (cluster_key, at, current) VALUES (?, ?, ?)",
      clusterKey,
      at,
      current,
    );
    // An hour is all the trend and the sparkline need.
    const cutoff = new Date(Date.parse(at) - READINGS_KEPT_MS).toISOString();
    this.sql.exec("DELETE FROM readings WHERE cluster_key = ? AND at < ?", clusterKey, cutoff);
  }

  readings(clusterKey: string): SeriesPoint[] {
    return this.sql
      .exec("SELECT at, current FROM readings WHERE cluster_key = ? ORDER BY at", clusterKey)
      .toArray()
      .map((r) => ({ at: String(r.at), value: Number(r.current) }));
  }

  snoozedUntil(clusterKey: string): string | null {
    const row = this.sql.exec("SELECT until FROM snoozes WHERE cluster_key = ?", clusterKey).toArray()[0];
    return row ? String(row.until) : null;
  }

  snooze(clusterKey: string, until: string, by: string | null): void {
    this.sql.exec(
      "INSERT INTO snoozes (cluster_key, until, by) VALUES (?, ?, ?) ON CONFLICT (cluster_key) DO UPDATE SET until = excluded.until, by = excluded.by",
      clusterKey,
      until,
      by,
    );
  }

  lastFailoverAt(clusterKey: string): string | null {
    const row = this.sql.exec("SELECT MAX(at) AS at FROM failovers WHERE cluster_key = ?", clusterKey).one();
    return row.at === null ? null : String(row.at);
  }

  recordFailover(clusterKey: string, at: string): void {
    this.sql.exec("INSERT INTO failovers (cluster_key, at) VALUES (?, ?)", clusterKey, at);
  }

  // -- the cron watch -----------------------------------------------------------------------------

  /** Stores a sample and applies the retention rule of src/incident/watch.ts (`retainSamples`) in SQL. */
  addSample(clusterKey: string, sample: StoredSample): void {
    const atMs = Date.parse(sample.at);
    this.sql.exec(
      "INSERT INTO samples (cluster_key, at, at_ms, current, limit_, percent, tier, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      clusterKey,
      sample.at,
      atMs,
      sample.current,
      sample.limit,
      sample.percent,
      sample.tier,
      JSON.stringify(sample.sources),
    );
    this.sql.exec(
      "DELETE FROM samples WHERE cluster_key = ? AND at_ms < ?",
      clusterKey,
      atMs - SAMPLE_RETENTION_MS,
    );
    const fullSince = atMs - FULL_RESOLUTION_MS;
    this.sql.exec(
      `DELETE FROM samples WHERE cluster_key = ? AND at_ms < ? AND rowid NOT IN (
         SELECT rowid FROM (
           SELECT rowid, ROW_NUMBER() OVER (PARTITION BY at_ms / ? ORDER BY at_ms, rowid) AS n
           FROM samples WHERE cluster_key = ? AND at_ms < ?) WHERE n = 1)`,
      clusterKey,
      fullSince,
      DOWNSAMPLE_BUCKET_MS,
      clusterKey,
      fullSince,
    );
    this.sql.exec(
      `DELETE FROM samples WHERE cluster_key = ? AND rowid NOT IN (
         SELECT rowid FROM samples WHERE cluster_key = ? ORDER BY at_ms DESC, rowid DESC LIMIT ?)`,
      clusterKey,
      clusterKey,
      MAX_SAMPLES_PER_CLUSTER,
    );
  }

  samples(clusterKey: string, sinceIso: string): Sample[] {
    return this.sql
      .exec(
        "SELECT at, current, limit_, percent, tier FROM samples WHERE cluster_key = ? AND at_ms >= ? ORDER BY at_ms, rowid",
        clusterKey,
        Date.parse(sinceIso),
      )
      .toArray()
      .map(toSample);
  }

  /** The cluster's latest sample with its sources, if any. */
  latestSample(clusterKey: string): (Sample & { sources: SourceSummary[] }) | null {
    const row = this.sql
      .exec("SELECT * FROM samples WHERE cluster_key = ? ORDER BY at_ms DESC, rowid DESC LIMIT 1", clusterKey)
      .toArray()[0];
    if (!row) return null;
    let sources: SourceSummary[] = [];
    try {
      const parsed = JSON.parse(String(row.sources)) as unknown;
      if (Array.isArray(parsed)) sources = parsed as SourceSummary[];
    } catch {
      sources = [];
    }
    return { ...toSample(row), sources };
  }

  /** The latest assessment any incident of the cluster holds, if any. */
  latestAssessment(clusterKey: string): IncidentRecord["last"] {
    const row = this.sql
      .exec(
        "SELECT last_json FROM incidents WHERE cluster_key = ? AND last_json IS NOT NULL ORDER BY updated_at DESC LIMIT 1",
        clusterKey,
      )
      .toArray()[0];
    return row ? decoded(assessmentSchema, row.last_json) : null;
  }

  /** Every named cluster this ledger has an incident or a sample for. */
  seenClusters(): string[] {
    return this.sql
      .exec(
        `SELECT cluster_name AS name FROM incidents WHERE cluster_key LIKE 'name:%'
         UNION SELECT substr(cluster_key, 6) FROM samples WHERE cluster_key LIKE 'name:%'
         ORDER BY name`,
      )
      .toArray()
      .map((r) => String(r.name));
  }

  watchState(clusterKey: string): WatchState {
    const row = this.sql
      .exec("SELECT armed, eta_warned FROM watch WHERE cluster_key = ?", clusterKey)
      .toArray()[0];
    return row
      ? { armed: Number(row.armed) === 1, etaWarned: Number(row.eta_warned) === 1 }
      : { ...INITIAL_WATCH_STATE };
  }

  saveWatchState(clusterKey: string, state: WatchState): void {
    this.sql.exec(
      `INSERT INTO watch (cluster_key, armed, eta_warned) VALUES (?, ?, ?)
       ON CONFLICT (cluster_key) DO UPDATE SET armed = excluded.armed, eta_warned = excluded.eta_warned`,
      clusterKey,
      state.armed ? 1 : 0,
      state.etaWarned ? 1 : 0,
    );
  }

  notice(notice: ClusterNotice): void {
    this.sql.exec(
      `INSERT INTO notify_outbox (incident_id, cluster_key, cluster_name, state, previous_state, at, summary, due_at)
       VALUES (NULL, ?, ?, 'warning', NULL, ?, ?, ?)`,
      notice.clusterKey,
      notice.clusterName,
      notice.at,
      notice.summary,
      Date.parse(notice.at),
    );
  }

  // -- the outgoing notifications' queue (src/notify/sync.ts) -------------------------------------

  notifyNext(nowMs: number): NotifyDue | null {
    const row = this.sql
      .exec(
        `SELECT * FROM notify_outbox o WHERE due_at <= ? AND NOT EXISTS (
           SELECT 1 FROM notify_outbox p WHERE p.seq < o.seq AND p.incident_id = o.incident_id)
         ORDER BY seq LIMIT 1`,
        nowMs,
      )
      .toArray()[0];
    return row
      ? {
          seq: Number(row.seq),
          incidentId: text(row.incident_id),
          clusterName: String(row.cluster_name),
          state: String(row.state),
          previousState: text(row.previous_state),
          at: String(row.at),
          summary: text(row.summary),
          attempts: Number(row.attempts),
          error: text(row.error),
        }
      : null;
  }

  notifyDone(seq: number): void {
    this.sql.exec("DELETE FROM notify_outbox WHERE seq = ?", seq);
  }

  notifyRetry(seq: number, retryAt: number, error: string): void {
    this.sql.exec(
      "UPDATE notify_outbox SET due_at = ?, attempts = attempts + 1, error = ? WHERE seq = ?",
      retryAt,
      error,
      seq,
    );
  }

  notifyJournal(
    incidentId: string,
    at: string,
    status: "failed" | "unknown",
    detail: { error: string; detail?: string },
  ): void {
    this.journal(incidentId, at, { step: "notify", status, detail });
  }

  /** Drops queued notifications (NOTIFY_WEBHOOK_URL is not configured). */
  clearNotifyDue(): void {
    this.sql.exec("DELETE FROM notify_outbox");
  }

  // -- retention (RETENTION in src/constants.ts) --------------------------------------------------

  /** When the alarm should next prune; null before the first prune. */
  pruneDueAt(): number | null {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = 'prune_due_at'").toArray()[0];
    return row ? Number(row.value) : null;
  }

  /**
   * Deletes what the retention rules no longer keep, at most `RETENTION.batchRows` rows of each
   * kind, and sets when to prune next: soon when a limit was reached, daily while anything is kept.
   * Run inside `transaction`, so a crash deletes all of a batch or none of it.
   */
  prune(nowMs: number): PruneReport {
    const limit = RETENTION.batchRows;
    const before = (ms: number) => new Date(nowMs - ms).toISOString();
    const report: PruneReport = { incidents: 0, deliveries: 0, alerts: 0, journal: 0, samples: 0, other: 0 };
    let full = false;
    const run = (query: string, ...params: SqlStorageValue[]): number => {
      const deleted = this.sql.exec(query, ...params).rowsWritten;
      if (deleted >= limit) full = true;
      return deleted;
    };

    // Closed incidents past their retention go with everything recorded about them.
    const expired = this.sql
      .exec(
        `SELECT id FROM incidents WHERE state = 'closed' AND COALESCE(closed_at, updated_at) < ?
         ORDER BY COALESCE(closed_at, updated_at) LIMIT ?`,
        before(RETENTION.closedIncidentMs),
        INCIDENTS_PER_PRUNE + 1,
      )
      .toArray()
      .map((r) => String(r.id));
    if (expired.length > INCIDENTS_PER_PRUNE) full = true;
    for (const id of expired.slice(0, INCIDENTS_PER_PRUNE)) {
      report.journal += this.sql.exec("DELETE FROM journal WHERE incident_id = ?", id).rowsWritten;
      report.deliveries += this.sql.exec("DELETE FROM deliveries WHERE incident_id = ?", id).rowsWritten;
      report.alerts += this.sql.exec("DELETE FROM alerts WHERE incident_id = ?", id).rowsWritten;
      report.other += this.sql.exec("DELETE FROM actions WHERE incident_id = ?", id).rowsWritten;
      report.other += this.sql.exec("DELETE FROM notify_outbox WHERE incident_id = ?", id).rowsWritten;
      report.incidents += this.sql.exec("DELETE FROM incidents WHERE id = ?", id).rowsWritten;
    }

    // Deliveries and alert states no incident keeps are only dedupe keys.
    const unattached = "(incident_id IS NULL OR incident_id NOT IN (SELECT id FROM incidents))";
    report.deliveries += run(
      `DELETE FROM deliveries WHERE rowid IN (
         SELECT rowid FROM deliveries WHERE ${unattached} AND received_at < ? LIMIT ?)`,
      before(RETENTION.unattachedMs),
      limit,
    );
    report.alerts += run(
      `DELETE FROM alerts WHERE rowid IN (SELECT rowid FROM alerts WHERE ${unattached} AND updated < ? LIMIT ?)`,
      before(RETENTION.unattachedMs),
      limit,
    );

    // A storm of distinct alert ids must not grow one incident without bound: keep the newest.
    const capped = (table: string, where: string, order: string, keep: number): number => {
      const over = this.sql
        .exec(
          `SELECT incident_id AS id FROM ${table} WHERE incident_id IS NOT NULL AND ${where}
           GROUP BY incident_id HAVING COUNT(*) > ?`,
          keep,
        )
        .toArray()
        .map((r) => String(r.id));
      let deleted = 0;
      for (const id of over) {
        deleted += run(
          `DELETE FROM ${table} WHERE rowid IN (
             SELECT rowid FROM ${table} WHERE incident_id = ? AND ${where}
             ORDER BY ${order} DESC, rowid DESC LIMIT ? OFFSET ?)`,
          id,
          limit,
          keep,
        );
      }
      return deleted;
    };
    report.deliveries += capped("deliveries", "1 = 1", "received_at", RETENTION.maxDeliveriesPerIncident);
    report.alerts += capped(
      "alerts",
      "status IN ('CLOSED', 'CANCELLED')",
      "updated",
      RETENTION.maxClosedAlertsPerIncident,
    );
    report.alerts += capped(
      "alerts",
      "status NOT IN ('CLOSED', 'CANCELLED')",
      "updated",
      RETENTION.maxOpenAlertsPerIncident,
    );
    report.journal += capped(
      "journal",
      `step = 'intake' AND status IN (${REPEATED_INTAKE_LINES.map((s) => `'${s}'`).join(", ")})`,
      "seq",
      RETENTION.maxIntakeLinesPerIncident,
    );

    // The watch prunes a cluster's samples as it writes them; a cluster no longer sampled is pruned here.
    report.samples += run(
      "DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE at_ms < ? LIMIT ?)",
      nowMs - SAMPLE_RETENTION_MS,
      limit,
    );
    report.other += run(
      "DELETE FROM readings WHERE rowid IN (SELECT rowid FROM readings WHERE at < ? LIMIT ?)",
      before(READINGS_KEPT_MS),
      limit,
    );
    report.other += run(
      `DELETE FROM failovers WHERE at < ?
         AND at < (SELECT MAX(at) FROM failovers AS latest WHERE latest.cluster_key = failovers.cluster_key)`,
      before(RETENTION.failoverMs),
    );
    report.other += run("DELETE FROM snoozes WHERE until < ?", new Date(nowMs).toISOString());

    const holdsAnything = this.sql
      .exec(
        `SELECT EXISTS (SELECT 1 FROM incidents) OR EXISTS (SELECT 1 FROM deliveries)
           OR EXISTS (SELECT 1 FROM alerts) OR EXISTS (SELECT 1 FROM samples) AS any`,
      )
      .one().any;
    if (full || holdsAnything) {
      const due = nowMs + (full ? RETENTION.againMs : RETENTION.everyMs);
      this.sql.exec(
        "INSERT INTO meta (key, value) VALUES ('prune_due_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        String(due),
      );
    } else this.sql.exec("DELETE FROM meta WHERE key = 'prune_due_at'");
    return report;
  }

  // -- the project's registration -------------------------------------------------------------------

  /** The project id this ledger serves, once the index knows it. */
  registeredGroupId(): string | null {
    const row = this.sql.exec("SELECT value FROM meta WHERE key = 'registered'").toArray()[0];
    return row ? String(row.value) : null;
  }

  markRegistered(groupId: string): void {
    this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('registered', ?)", groupId.toLowerCase());
  }

  // -- the Slack message's bookkeeping ------------------------------------------------------------

  /** Incidents whose Slack message is due for an update. */
  slackDue(nowMs: number): SlackState[] {
    return this.sql
      .exec(
        `SELECT id, slack_ts, slack_channel, slack_synced_seq, slack_posted_state, slack_error, state,
           (SELECT MAX(seq) FROM journal WHERE incident_id = incidents.id) AS seq
         FROM incidents WHERE slack_due_at IS NOT NULL AND slack_due_at <= ? ORDER BY slack_due_at LIMIT 20`,
        nowMs,
      )
      .toArray()
      .map((row) => ({
        id: String(row.id),
        ts: text(row.slack_ts),
        channel: text(row.slack_channel),
        syncedSeq: Number(row.slack_synced_seq),
        postedState: text(row.slack_posted_state),
        error: text(row.slack_error),
        state: String(row.state),
        seq: Number(row.seq ?? 0),
      }));
  }

  /**
   * Records a Slack sync of the journal up to `seq`. With `retryAt` the message stays due then;
   * otherwise it stays due only if the journal grew while it was being delivered.
   */
  slackSynced(id: string, input: SlackSync): void {
    this.sql.exec(
      `UPDATE incidents SET
         slack_ts = COALESCE(?, slack_ts), slack_channel = COALESCE(?, slack_channel),
         slack_synced_seq = MAX(slack_synced_seq, ?), slack_posted_state = ?, slack_error = ?,
         slack_due_at = CASE
           WHEN ? IS NOT NULL THEN ?
           WHEN (SELECT MAX(seq) FROM journal WHERE incident_id = incidents.id) > ? THEN slack_due_at
           ELSE NULL END
       WHERE id = ?`,
      input.ts ?? null,
      input.channel ?? null,
      input.seq,
      input.state,
      input.error,
      input.retryAt,
      input.retryAt,
      input.seq,
      id,
    );
  }

  /** Journals a Slack delivery problem (it does not make the message due again). */
  slackJournal(
    id: string,
    at: string,
    status: "failed" | "unknown",
    detail: { error: string; detail?: string },
  ): void {
    this.journal(id, at, { step: "slack", status, detail });
  }

  /** Drops pending Slack updates (Slack is not configured). */
  clearSlackDue(): void {
    this.sql.exec("UPDATE incidents SET slack_due_at = NULL WHERE slack_due_at IS NOT NULL");
  }
}

const nullableNumber = (value: SqlStorageValue | undefined) =>
  value === null || value === undefined ? null : Number(value);

function toSample(row: Record<string, SqlStorageValue>): Sample {
  return {
    at: String(row.at),
    current: nullableNumber(row.current),
    limit: nullableNumber(row.limit_),
    percent: nullableNumber(row.percent),
    tier: text(row.tier),
  };
}

function toIncident(row: Record<string, SqlStorageValue>): IncidentRecord {
  return {
    id: String(row.id),
    clusterKey: String(row.cluster_key),
    clusterName: String(row.cluster_name),
    state: row.state as IncidentState,
    phase: row.phase as Phase,
    nextRunAt: row.next_run_at === null ? null : Number(row.next_run_at),
    mode: row.mode === "dry-run" ? "dry-run" : null,
    origin: row.origin === "manual" || row.origin === "watch" ? row.origin : "atlas",
    openedAt: String(row.opened_at),
    updatedAt: String(row.updated_at),
    alert: decoded(alertValueSchema, row.alert_json),
    before: decoded(assessmentSchema, row.before_json),
    last: decoded(assessmentSchema, row.last_json),
    decision: decoded(storedDecisionSchema, row.decision_json),
    checksDone: Number(row.checks_done),
    failures: Number(row.failures),
    approvalRequestedAt: text(row.approval_requested_at),
    deferrals: Number(row.deferrals ?? 0),
    killOpDone: Number(row.kill_op_done ?? 0) === 1,
    advised: Number(row.advised ?? 0) === 1,
  };
}

/**
 * The index's tables (one object for the whole Worker): the projects that have a ledger, and the
 * global action budget's last 24 hours — a `BudgetBook` (src/response/budget.ts).
 *
 *   projects  group_id TEXT PK, first_seen TEXT
 *   actions   key TEXT PK, target TEXT, at TEXT, outcome TEXT
 */
export class IndexStore implements BudgetBook {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  migrate(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS projects (group_id TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS actions (key TEXT PRIMARY KEY, target TEXT NOT NULL, at TEXT NOT NULL, outcome TEXT NOT NULL);
    `);
  }

  register(groupId: string, at: string): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO projects (group_id, first_seen) VALUES (?, ?)",
      groupId.toLowerCase(),
      at,
    );
  }

  projects(): string[] {
    return this.sql
      .exec("SELECT group_id FROM projects ORDER BY group_id")
      .toArray()
      .map((r) => String(r.group_id));
  }

  has(key: string): boolean {
    return this.sql.exec("SELECT 1 FROM actions WHERE key = ?", key).toArray().length > 0;
  }

  prune(since: string): void {
    this.sql.exec("DELETE FROM actions WHERE at < ?", since);
  }

  actions(): PastAction[] {
    return this.sql
      .exec("SELECT target, at, outcome FROM actions ORDER BY at")
      .toArray()
      .map((r) => ({
        target: String(r.target),
        at: String(r.at),
        outcome: r.outcome as PastAction["outcome"],
      }));
  }

  release(key: string): void {
    this.sql.exec("DELETE FROM actions WHERE key = ?", key);
  }

  add(key: string, target: string, at: string): void {
    this.sql.exec(
      "INSERT INTO actions (key, target, at, outcome) VALUES (?, ?, ?, 'sending')",
      key,
      target,
      at,
    );
  }

  settle(key: string, outcome: PastAction["outcome"]): void {
    this.sql.exec("UPDATE actions SET outcome = ? WHERE key = ?", outcome, key);
  }
}
