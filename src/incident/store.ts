/**
 * What the incident core needs from storage. Synchronous, like the Durable Object's SQLite API;
 * `transaction` runs its function with no interleaving and commits all of it or none. Two stores
 * implement it: the Durable Object's SQL tables (src/ledger/sql-store.ts) and an in-memory one
 * (./memory-store.ts) that the Node CLI saves to a state file and the Node specs drive.
 */
import type { AlertIntent, AtlasEvent } from "../atlas/alert.ts";
import type { SourceSummary } from "../stats/assess.ts";
import type { SeriesPoint } from "../stats/types.ts";
import type { JournalEvent, JournalRow } from "./journal.ts";
import type {
  ActionRecord,
  ActionStatus,
  IncidentChanges,
  IncidentRecord,
  IncidentState,
  NewIncident,
} from "./record.ts";
import type { Sample } from "./samples.ts";

/** One recorded webhook delivery. */
export interface DeliveryRow {
  key: string;
  receivedAt: string;
  disposition: "accepted" | "ignored" | "stale";
  incidentId: string | null;
  alertId: string;
  event: AtlasEvent | null;
  status: string;
  metric: string | null;
  value: number | null;
  units: string | null;
  updated: string;
  /** The alert as Atlas sent it (it holds no secret). */
  alertJson: string;
  intent?: AlertIntent;
}

/** The latest known state of one Atlas alert. */
export interface AlertState {
  alertId: string;
  incidentId: string | null;
  status: string;
  updated: string;
}

export interface IncidentQuery {
  state?: IncidentState;
  cluster?: string;
  limit: number;
  /** Only incidents whose id sorts before this one (newest first): the page cursor. */
  beforeId?: string;
}

/** One cron-watch sample as stored: its figures and which sources answered. */
export type StoredSample = Sample & { sources: SourceSummary[] };

/** What the watch remembers of a cluster between runs (src/incident/watch.ts). */
export interface WatchState {
  /** False from a watch incident's opening until the percentage falls 10 points below the threshold. */
  armed: boolean;
  /** True while a time-to-limit warning has been given and the time to the limit is still short. */
  etaWarned: boolean;
}

/** A notification about a cluster that has no live incident (the watch's time-to-limit warning). */
export interface ClusterNotice {
  clusterKey: string;
  clusterName: string;
  at: string;
  summary: string;
}

export interface IncidentStore {
  transaction<T>(fn: () => T): T;

  // incidents
  incident(id: string): IncidentRecord | null;
  /** The cluster's incident that is not closed, if any (at most one: one incident per cluster). */
  liveIncident(clusterKey: string): IncidentRecord | null;
  /** The incident whose turn is due soonest, if its time has come. */
  nextDue(nowMs: number): IncidentRecord | null;
  /** When the step machine next has work, or null. */
  earliestRun(): number | null;
  list(query: IncidentQuery): IncidentRecord[];
  open(input: NewIncident): void;
  /** Moves an incident along; only the given fields change. */
  update(id: string, at: string, changes: IncidentChanges): void;
  /** Gives an incident its real cluster name; false when that cluster already has a live incident. */
  rename(id: string, clusterKey: string, clusterName: string): boolean;

  // journal
  journal(id: string, at: string, event: JournalEvent): void;
  entries(id: string): JournalRow[];

  // deliveries and alerts (intake)
  delivery(key: string): { incidentId: string | null } | null;
  addDelivery(row: DeliveryRow): void;
  deliveries(incidentId: string): DeliveryRow[];
  alert(alertId: string): AlertState | null;
  saveAlert(state: AlertState): void;
  /** How many Atlas alerts that joined the incident are neither closed nor cancelled. */
  openAlerts(incidentId: string): number;
  /** Whether any Atlas alert joined the incident (manual runs have none). */
  hasAtlasAlerts(incidentId: string): boolean;
  /** Moves a duplicate incident's deliveries and alerts to another incident. */
  moveAlerts(from: string, into: string): void;

  // actions
  actions(incidentId: string): ActionRecord[];
  addAction(input: Omit<ActionRecord, "id">): number;
  settleAction(id: number, status: ActionStatus, at: string, detail: Record<string, unknown>): void;

  // what the store remembers of a cluster across incidents
  addReading(clusterKey: string, at: string, current: number): void;
  readings(clusterKey: string): SeriesPoint[];
  snoozedUntil(clusterKey: string): string | null;
  snooze(clusterKey: string, until: string, by: string | null): void;
  lastFailoverAt(clusterKey: string): string | null;
  recordFailover(clusterKey: string, at: string): void;

  // the cron watch (src/incident/watch.ts)
  /** Stores a sample and applies the retention rule (watch.ts `retainSamples`) to the cluster's samples. */
  addSample(clusterKey: string, sample: StoredSample): void;
  /** The cluster's samples taken at or after `sinceIso`, oldest first. */
  samples(clusterKey: string, sinceIso: string): Sample[];
  watchState(clusterKey: string): WatchState;
  saveWatchState(clusterKey: string, state: WatchState): void;
  /** Queues a notification that belongs to no incident; the store's notifier sends it. */
  notice(notice: ClusterNotice): void;
}
