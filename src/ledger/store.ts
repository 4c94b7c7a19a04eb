/**
 * Typed access to one project's ledger tables (SQLite in the Durable Object). The schema is
 * defined here and every write the pipeline makes goes through here; the intake's delivery and
 * alert rows are written beside their dedupe logic in ledger.ts. Synchronous, as the
 * Durable Object SQL API is; callers group writes in `transactionSync`.
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
 *   meta        key TEXT PK, value TEXT      'registered' once the index knows this project
 */
import type { IncidentState } from "./model.ts";

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
`;

export type Phase = "gather" | "decide" | "approval" | "act" | "verify" | "final-read" | "idle";
/** A run is either dry (asked for by a trigger) or follows the configured mode at the time it decides. */
export type RunMode = "dry-run" | null;

export interface IncidentRecord {
  id: string;
  clusterKey: string;
  clusterName: string;
  state: IncidentState;
  phase: Phase;
  nextRunAt: number | null;
  mode: RunMode;
  origin: string;
  openedAt: string;
  updatedAt: string;
  alert: { metricName: string; value: number; at: string } | null;
  before: Record<string, unknown> | null;
  last: Record<string, unknown> | null;
  decision: Record<string, unknown> | null;
  checksDone: number;
  failures: number;
}

export interface SlackState {
  id: string;
  ts: string | null;
  channel: string | null;
  syncedSeq: number;
  postedState: string | null;
  error: string | null;
  state: string;
  /** The incident's latest journal seq. */
  seq: number;
}

export interface ActionRecord {
  id: number;
  incidentId: string;
  target: string;
  kind: string;
  attempt: number;
  status: "sending" | "started" | "failed" | "unknown" | "dry-run";
  at: string;
  idempotencyKey: string;
  detail: Record<string, unknown>;
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
const parse = <T>(value: SqlStorageValue | undefined): T | null =>
  value === null || value === undefined ? null : (JSON.parse(String(value)) as T);

/** The ledger's tables, for one Durable Object. */
export class LedgerStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  migrate(): void {
    this.sql.exec(SCHEMA);
  }

  incident(id: string): IncidentRecord | null {
    const row = this.sql.exec("SELECT * FROM incidents WHERE id = ?", id).toArray()[0];
    return row ? toIncident(row) : null;
  }

  /** Incidents matching a WHERE clause (with its parameters), newest first. */
  select(where: string, params: SqlStorageValue[], limit: number): IncidentRecord[] {
    return this.sql
      .exec(`SELECT * FROM incidents ${where} ORDER BY id DESC LIMIT ?`, ...params, limit)
      .toArray()
      .map(toIncident);
  }

  liveIncident(clusterKey: string): IncidentRecord | null {
    const row = this.sql
      .exec("SELECT * FROM incidents WHERE cluster_key = ? AND state <> 'closed'", clusterKey)
      .toArray()[0];
    return row ? toIncident(row) : null;
  }

  /** The incident whose turn is due soonest, if its time has come. */
  nextDue(nowMs: number): IncidentRecord | null {
    const row = this.sql
      .exec(
        "SELECT * FROM incidents WHERE next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at LIMIT 1",
        nowMs,
      )
      .toArray()[0];
    return row ? toIncident(row) : null;
  }

  /** When the alarm should next fire, or null when nothing is scheduled. */
  earliestRun(): number | null {
    const row = this.sql
      .exec(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(next_run_at) AS at FROM incidents WHERE next_run_at IS NOT NULL
           UNION ALL SELECT MIN(slack_due_at) FROM incidents WHERE slack_due_at IS NOT NULL)`,
      )
      .one();
    return row.at === null ? null : Number(row.at);
  }

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
        ts: row.slack_ts === null ? null : String(row.slack_ts),
        channel: row.slack_channel === null ? null : String(row.slack_channel),
        syncedSeq: Number(row.slack_synced_seq),
        postedState: row.slack_posted_state === null ? null : String(row.slack_posted_state),
        error: row.slack_error === null ? null : String(row.slack_error),
        state: String(row.state),
        seq: Number(row.seq ?? 0),
      }));
  }

  /**
   * Records a Slack sync of the journal up to `seq`. With `retryAt` the message stays due then;
   * otherwise it stays due only if the journal grew while it was being delivered.
   */
  slackSynced(
    id: string,
    input: {
      seq: number;
      ts?: string | null;
      channel?: string | null;
      state: string;
      retryAt: number | null;
      error: string | null;
    },
  ): void {
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

  /** Where the incident's latest alert says it happened (for naming a cluster the alert did not name). */
  alertLocation(id: string): { replicaSetName?: string; hostnameAndPort?: string } | null {
    const row = this.sql
      .exec("SELECT alert_json FROM deliveries WHERE incident_id = ? ORDER BY received_at DESC LIMIT 1", id)
      .toArray()[0];
    if (!row) return null;
    const alert = JSON.parse(String(row.alert_json)) as { replicaSetName?: string; hostnameAndPort?: string };
    return { replicaSetName: alert.replicaSetName, hostnameAndPort: alert.hostnameAndPort };
  }

  /** Gives an incident its real cluster name; false when that cluster already has a live incident. */
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

  /**
   * Folds a duplicate incident (the same cluster, keyed on another node's host before its name
   * was known) into the cluster's live one: its alerts and deliveries move, and it closes.
   */
  merge(duplicate: string, into: string, at: string): void {
    this.sql.exec("UPDATE deliveries SET incident_id = ? WHERE incident_id = ?", into, duplicate);
    this.sql.exec("UPDATE alerts SET incident_id = ? WHERE incident_id = ?", into, duplicate);
    this.journal(into, at, "intake", "merged", { from: duplicate });
    this.update(duplicate, at, {
      state: "closed",
      phase: "idle",
      nextRunAt: null,
      closedAt: at,
      decision: null,
    });
    this.journal(duplicate, at, "incident", "closed", { reason: `the same cluster as incident ${into}` });
  }

  /** Drops pending Slack updates (Slack is not configured). */
  clearSlackDue(): void {
    this.sql.exec("UPDATE incidents SET slack_due_at = NULL WHERE slack_due_at IS NOT NULL");
  }

  open(input: {
    id: string;
    clusterKey: string;
    clusterName: string;
    mode: RunMode;
    origin: string;
    at: string;
    nextRunAt: number;
  }): void {
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
  }

  /** Moves an incident along; only the given fields change. */
  update(
    id: string,
    at: string,
    changes: Partial<{
      state: IncidentState;
      phase: Phase;
      nextRunAt: number | null;
      mode: RunMode;
      alert: IncidentRecord["alert"];
      before: Record<string, unknown>;
      last: Record<string, unknown>;
      decision: Record<string, unknown> | null;
      checksDone: number;
      failures: number;
      closedAt: string;
    }>,
  ): void {
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
    const keys = Object.keys(columns);
    this.sql.exec(
      `UPDATE incidents SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`,
      ...keys.map((k) => columns[k]!),
      id,
    );
  }

  /** Appends to the journal; every line but Slack's own makes the Slack message due for an update. */
  journal(
    incident: string,
    at: string,
    step: string,
    status: string,
    detail: Record<string, unknown> = {},
  ): void {
    if (step !== "slack") {
      this.sql.exec(
        "UPDATE incidents SET slack_due_at = COALESCE(slack_due_at, ?) WHERE id = ?",
        Date.parse(at),
        incident,
      );
    }
    this.sql.exec(
      "INSERT INTO journal (incident_id, at, step, status, detail) VALUES (?, ?, ?, ?, ?)",
      incident,
      at,
      step,
      status,
      JSON.stringify(detail),
    );
  }

  /** Whether any Atlas alert joined the incident (manual runs have none). */
  hasAtlasAlerts(id: string): boolean {
    return this.sql.exec("SELECT 1 FROM alerts WHERE incident_id = ? LIMIT 1", id).toArray().length > 0;
  }

  /** How many journal lines of this step and status the incident has. */
  countJournal(incident: string, step: string, status: string): number {
    return Number(
      this.sql
        .exec(
          "SELECT COUNT(*) AS n FROM journal WHERE incident_id = ? AND step = ? AND status = ?",
          incident,
          step,
          status,
        )
        .one().n,
    );
  }

  actions(incident: string): ActionRecord[] {
    return this.sql
      .exec("SELECT * FROM actions WHERE incident_id = ? ORDER BY id", incident)
      .toArray()
      .map((row) => ({
        id: Number(row.id),
        incidentId: String(row.incident_id),
        target: String(row.target),
        kind: String(row.kind),
        attempt: Number(row.attempt),
        status: row.status as ActionRecord["status"],
        at: String(row.at),
        idempotencyKey: String(row.idempotency_key),
        detail: parse<Record<string, unknown>>(row.detail) ?? {},
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

  settleAction(
    id: number,
    status: ActionRecord["status"],
    at: string,
    detail: Record<string, unknown>,
  ): void {
    this.sql.exec(
      "UPDATE actions SET status = ?, settled_at = ?, detail = ? WHERE id = ?",
      status,
      at,
      JSON.stringify(detail),
      id,
    );
  }

  addReading(clusterKey: string, at: string, current: number): void {
    this.sql.exec(
      "INSERT INTO readings (cluster_key, at, current) VALUES (?, ?, ?)",
      clusterKey,
      at,
      current,
    );
    // An hour is all the trend and the sparkline need.
    const cutoff = new Date(Date.parse(at) - 2 * 3600_000).toISOString();
    this.sql.exec("DELETE FROM readings WHERE cluster_key = ? AND at < ?", clusterKey, cutoff);
  }

  readings(clusterKey: string): Array<{ at: string; value: number }> {
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
    origin: String(row.origin),
    openedAt: String(row.opened_at),
    updatedAt: String(row.updated_at),
    alert: parse(row.alert_json),
    before: parse(row.before_json),
    last: parse(row.last_json),
    decision: parse(row.decision_json),
    checksDone: Number(row.checks_done),
    failures: Number(row.failures),
  };
}
