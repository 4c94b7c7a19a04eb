/**
 * The incident ledger: a Durable Object per Atlas project, with SQLite storage.
 *
 * Why one per project: every invariant the ledger keeps — one live incident per cluster, one record
 * per delivery, the hourly action cap later on — is scoped to a project's clusters, and a project
 * gets a handful of alerts an hour, so one object serialises them with no contention. Teams with many
 * projects get one object each instead of queueing on a global one. `LedgerIndex` (below) remembers
 * which projects exist so `GET /incidents` can list them all.
 *
 * Atomicity: each delivery is decided and written inside one `transactionSync`, which runs without
 * interleaving; either the delivery, its incident change and its journal line are all committed, or
 * the call throws and nothing is (the route then answers 503 and Atlas re-notifies).
 *
 * Storage schema (SQLite, created in the constructor, additive migrations only):
 *
 *   incidents   id TEXT PK            -- see ids.ts
 *               cluster_key TEXT      -- `name:Cluster0`, or `rs:`/`host:` until the name is known
 *               cluster_name TEXT     -- what to show
 *               state TEXT            -- model.ts INCIDENT_STATES
 *               opened_at, updated_at TEXT (ISO-8601), closed_at TEXT NULL
 *               origin TEXT           -- 'atlas' | 'manual'
 *               UNIQUE (cluster_key) WHERE state <> 'closed'   -- one live incident per cluster
 *   deliveries  key TEXT PK           -- alert id | status | updated | X-MMS-Event (dedupe)
 *               received_at TEXT, disposition TEXT ('accepted' | 'ignored' | 'stale')
 *               incident_id TEXT NULL, alert_id, event, status, metric, value, units, updated
 *               alert_json TEXT       -- the validated alert (known fields only)
 *   alerts      alert_id TEXT PK      -- latest known status of each Atlas alert
 *               incident_id TEXT NULL, status TEXT, updated TEXT
 *   journal     seq INTEGER PK AUTOINCREMENT, incident_id TEXT, at TEXT, step TEXT, status TEXT,
 *               detail TEXT (JSON)    -- append-only; never holds a secret
 *   meta        key TEXT PK, value TEXT   -- 'registered' once the index knows this project
 */
import { DurableObject } from "cloudflare:workers";
import { clusterRefOf, deliveryKey } from "../atlas/alert.ts";
import { newIncidentId, parseIncidentId } from "./ids.ts";
import {
  type AlertDelivery,
  type AlertRecord,
  type DeliveryOutcome,
  INCIDENT_STATES,
  type IncidentDetail,
  type IncidentQuery,
  type IncidentState,
  type IncidentSummary,
  type JournalEntry,
  type TriggerRequest,
} from "./model.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY,
  cluster_key TEXT NOT NULL,
  cluster_name TEXT NOT NULL,
  state TEXT NOT NULL,
  opened_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  closed_at TEXT,
  origin TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_one_live_per_cluster ON incidents (cluster_key) WHERE state <> 'closed';
CREATE INDEX IF NOT EXISTS incidents_newest ON incidents (id DESC);
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
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

type Row = Record<string, SqlStorageValue>;

interface IncidentRow extends Row {
  id: string;
  cluster_name: string;
  state: string;
  opened_at: string;
  updated_at: string;
}

/** Env the ledger needs: the index of projects. */
interface LedgerEnv {
  LEDGER_INDEX: DurableObjectNamespace<LedgerIndex>;
}

export class Ledger extends DurableObject<LedgerEnv> {
  private readonly sql: SqlStorage;
  private readonly now: () => Date = () => new Date();

  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(SCHEMA);
    });
  }

  /** Records one webhook delivery: dedupes it, opens/joins/closes the cluster's incident, journals it. */
  async recordAlert(delivery: AlertDelivery): Promise<DeliveryOutcome> {
    await this.ensureRegistered(delivery.alert.groupId);
    return this.ctx.storage.transactionSync(() => this.applyDelivery(delivery));
  }

  /** Opens an incident for a manual run, or joins the cluster's live one. */
  async trigger(request: TriggerRequest): Promise<{ incident: string; joined: boolean }> {
    await this.ensureRegistered(request.groupId);
    return this.ctx.storage.transactionSync(() => {
      const at = this.now().toISOString();
      const key = `name:${request.cluster}`;
      const live = this.liveIncident(key);
      const detail = { reason: request.reason, dryRun: request.dryRun };
      if (live) {
        this.journal(live.id, at, "trigger", "joined", detail);
        this.touch(live.id, at);
        return { incident: live.id, joined: true };
      }
      const id = this.openIncident(request.groupId, key, request.cluster, "manual", at);
      this.journal(id, at, "trigger", "opened", detail);
      return { incident: id, joined: false };
    });
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
    const rows = this.sql
      .exec<IncidentRow>(
        `SELECT id, cluster_name, state, opened_at, updated_at FROM incidents ${where} ORDER BY id DESC LIMIT ?`,
        ...params,
        query.limit,
      )
      .toArray();
    return rows.map((row) => summarize(groupId, row));
  }

  /** One incident with its alerts and journal; null when this project has no such incident. */
  getIncident(groupId: string, id: string): IncidentDetail | null {
    const row = this.sql
      .exec<IncidentRow>(
        "SELECT id, cluster_name, state, opened_at, updated_at FROM incidents WHERE id = ?",
        id,
      )
      .toArray()[0];
    if (!row) return null;
    const alerts = this.sql
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
    const journal = this.sql
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
    return { ...summarize(groupId, row), alerts, journal };
  }

  private applyDelivery({ alert, event, intent, relevant }: AlertDelivery): DeliveryOutcome {
    const key = deliveryKey(alert, event);
    const seen = this.sql.exec("SELECT incident_id FROM deliveries WHERE key = ?", key).toArray()[0];
    if (seen) return { status: "duplicate", incident: (seen.incident_id as string | null) ?? null };

    const at = this.now().toISOString();
    const cluster = clusterRefOf(alert);
    const record = (disposition: string, incident: string | null) =>
      this.sql.exec(
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
      return { status: "ignored", incident: null };
    }

    // Atlas does not promise ordering: a delivery older than what we know of this alert changes nothing.
    const known = this.sql
      .exec("SELECT incident_id, status, updated FROM alerts WHERE alert_id = ?", alert.id)
      .toArray()[0];
    if (known && Date.parse(String(known.updated)) > Date.parse(alert.updated)) {
      const incident = (known.incident_id as string | null) ?? null;
      record("stale", incident);
      if (incident) this.journal(incident, at, "intake", "stale", summary);
      return { status: "accepted", incident };
    }

    const live = this.liveIncident(cluster.key);
    let incident: string | null = live?.id ?? null;
    switch (intent) {
      case "open": {
        if (live) {
          this.journal(live.id, at, "intake", "joined", summary);
          this.touch(live.id, at);
        } else {
          incident = this.openIncident(alert.groupId, cluster.key, cluster.name, "atlas", at);
          this.journal(incident, at, "intake", "opened", summary);
        }
        break;
      }
      case "close":
      case "cancel": {
        const target = live?.id ?? null;
        incident = target;
        if (!target) break;
        this.journal(target, at, "intake", intent === "close" ? "alert-closed" : "alert-cancelled", summary);
        this.touch(target, at);
        break;
      }
      case "note": {
        if (live) {
          this.journal(live.id, at, "intake", "noted", summary);
          this.touch(live.id, at);
        }
        break;
      }
    }

    this.sql.exec(
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
      this.closeIfAllAlertsEnded(incident, at, intent);
    return { status: "accepted", incident };
  }

  private closeIfAllAlertsEnded(id: string, at: string, intent: "close" | "cancel"): void {
    const open = this.sql
      .exec(
        "SELECT COUNT(*) AS n FROM alerts WHERE incident_id = ? AND status NOT IN ('CLOSED', 'CANCELLED')",
        id,
      )
      .one().n as number;
    if (open > 0) return;
    this.sql.exec(
      "UPDATE incidents SET state = 'closed', closed_at = ?, updated_at = ? WHERE id = ?",
      at,
      at,
      id,
    );
    this.journal(id, at, "incident", "closed", {
      reason: intent === "close" ? "Atlas closed the alert" : "Atlas cancelled the alert",
    });
  }

  private liveIncident(clusterKey: string): { id: string; state: IncidentState } | null {
    const row = this.sql
      .exec("SELECT id, state FROM incidents WHERE cluster_key = ? AND state <> 'closed'", clusterKey)
      .toArray()[0];
    return row ? { id: String(row.id), state: row.state as IncidentState } : null;
  }

  private openIncident(
    groupId: string,
    clusterKey: string,
    clusterName: string,
    origin: string,
    at: string,
  ): string {
    const id = newIncidentId(groupId, new Date(at));
    this.sql.exec(
      "INSERT INTO incidents (id, cluster_key, cluster_name, state, opened_at, updated_at, origin) VALUES (?, ?, ?, 'open', ?, ?, ?)",
      id,
      clusterKey,
      clusterName,
      at,
      at,
      origin,
    );
    return id;
  }

  private touch(id: string, at: string): void {
    this.sql.exec("UPDATE incidents SET updated_at = ? WHERE id = ?", at, id);
  }

  private journal(
    incident: string,
    at: string,
    step: string,
    status: string,
    detail: Record<string, unknown>,
  ): void {
    this.sql.exec(
      "INSERT INTO journal (incident_id, at, step, status, detail) VALUES (?, ?, ?, ?, ?)",
      incident,
      at,
      step,
      status,
      JSON.stringify(detail),
    );
  }

  /** Tells the index about this project once; safe to repeat, so concurrent first calls are fine. */
  private async ensureRegistered(groupId: string): Promise<void> {
    const done = this.sql.exec("SELECT 1 FROM meta WHERE key = 'registered'").toArray().length > 0;
    if (done) return;
    await this.env.LEDGER_INDEX.getByName("index").register(groupId);
    this.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('registered', ?)", groupId);
  }
}

function summarize(groupId: string, row: IncidentRow): IncidentSummary {
  const state = (INCIDENT_STATES as readonly string[]).includes(row.state)
    ? (row.state as IncidentState)
    : "open";
  return {
    id: row.id,
    cluster: { groupId, name: row.cluster_name },
    state,
    openedAt: row.opened_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The list of projects that have a ledger, so `GET /incidents` can fan out to each.
 * Schema: `projects (group_id TEXT PK, first_seen TEXT)`.
 */
export class LedgerIndex extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS projects (group_id TEXT PRIMARY KEY, first_seen TEXT NOT NULL)",
    );
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
}
