/**
 * An in-memory incident store: the Node CLI's (saved to its state file between runs) and the Node
 * specs'. Its state is plain JSON, so `snapshot()` can be written anywhere and `createMemoryStore`
 * can load it back. A transaction that throws leaves the state as it was, like SQLite's.
 *
 * Trade-off: every query scans; fine for a laptop's handful of incidents, not for a server.
 */
import type { SeriesPoint } from "../stats/types.ts";
import type { JournalEvent, JournalRow } from "./journal.ts";
import type { ActionRecord, ActionStatus, IncidentChanges, IncidentRecord, NewIncident } from "./record.ts";
import type {
  AlertState,
  ClusterNotice,
  DeliveryRow,
  IncidentStore,
  StoredSample,
  WatchState,
} from "./store.ts";
import { INITIAL_WATCH_STATE, retainSamples } from "./watch.ts";

/** How long readings are kept: an hour is all the trend and the sparkline need, twice for margin. */
const READINGS_KEPT_MS = 2 * 3600_000;

export interface MemoryState {
  version: 1;
  incidents: Array<IncidentRecord & { closedAt: string | null }>;
  journal: Array<JournalRow & { incidentId: string; seq: number }>;
  deliveries: DeliveryRow[];
  alerts: AlertState[];
  actions: ActionRecord[];
  readings: Array<{ clusterKey: string; at: string; value: number }>;
  snoozes: Array<{ clusterKey: string; until: string; by: string | null }>;
  failovers: Array<{ clusterKey: string; at: string }>;
  /** The cron watch's (absent in state files written before it). */
  samples?: Array<StoredSample & { clusterKey: string }>;
  watch?: Array<WatchState & { clusterKey: string }>;
  notices?: ClusterNotice[];
}

export function emptyMemoryState(): MemoryState {
  return {
    version: 1,
    incidents: [],
    journal: [],
    deliveries: [],
    alerts: [],
    actions: [],
    readings: [],
    snoozes: [],
    failovers: [],
  };
}

export interface MemoryStore extends IncidentStore {
  /** A copy of the whole state, safe to serialise. */
  snapshot(): MemoryState;
}

const copy = <T>(value: T): T => structuredClone(value);

export function createMemoryStore(initial: MemoryState = emptyMemoryState()): MemoryStore {
  let state = copy(initial);
  let depth = 0;
  const find = (id: string) => state.incidents.find((i) => i.id === id);
  const strip = ({ closedAt: _closedAt, ...incident }: MemoryState["incidents"][number]): IncidentRecord =>
    copy(incident);

  const store: MemoryStore = {
    snapshot: () => copy(state),
    transaction(fn) {
      if (depth > 0) return fn();
      const saved = copy(state);
      depth++;
      try {
        return fn();
      } catch (error) {
        state = saved;
        throw error;
      } finally {
        depth--;
      }
    },

    incident: (id) => {
      const found = find(id);
      return found ? strip(found) : null;
    },
    liveIncident: (clusterKey) => {
      const found = state.incidents.find((i) => i.clusterKey === clusterKey && i.state !== "closed");
      return found ? strip(found) : null;
    },
    nextDue(nowMs) {
      const due = state.incidents
        .filter((i) => i.nextRunAt !== null && i.nextRunAt <= nowMs)
        .sort((a, b) => a.nextRunAt! - b.nextRunAt!)[0];
      return due ? strip(due) : null;
    },
    earliestRun() {
      const times = state.incidents.flatMap((i) => (i.nextRunAt === null ? [] : [i.nextRunAt]));
      return times.length ? Math.min(...times) : null;
    },
    list(query) {
      return state.incidents
        .filter((i) => (query.state ? i.state === query.state : true))
        .filter((i) => (query.cluster ? i.clusterName === query.cluster : true))
        .filter((i) => (query.beforeId ? i.id < query.beforeId : true))
        .sort((a, b) => (a.id < b.id ? 1 : -1))
        .slice(0, query.limit)
        .map(strip);
    },
    open(input: NewIncident) {
      if (state.incidents.some((i) => i.id === input.id)) throw new Error(`incident ${input.id} exists`);
      if (store.liveIncident(input.clusterKey)) throw new Error(`${input.clusterKey} has a live incident`);
      state.incidents.push({
        id: input.id,
        clusterKey: input.clusterKey,
        clusterName: input.clusterName,
        state: "open",
        phase: "gather",
        nextRunAt: input.nextRunAt,
        mode: input.mode,
        origin: input.origin,
        openedAt: input.at,
        updatedAt: input.at,
        closedAt: null,
        alert: null,
        before: null,
        last: null,
        decision: null,
        checksDone: 0,
        failures: 0,
        approvalRequestedAt: null,
        deferrals: 0,
        killOpDone: false,
        advised: false,
      });
    },
    update(id, at, changes: IncidentChanges) {
      const found = find(id);
      if (!found) return;
      Object.assign(found, copy(changes), { updatedAt: at });
    },
    rename(id, clusterKey, clusterName) {
      const clash = store.liveIncident(clusterKey);
      if (clash && clash.id !== id) return false;
      const found = find(id);
      if (found) Object.assign(found, { clusterKey, clusterName });
      return true;
    },

    journal(id, at, event: JournalEvent) {
      const seq = (state.journal.at(-1)?.seq ?? 0) + 1;
      const detail = copy(event.detail) as Record<string, unknown>;
      state.journal.push({ incidentId: id, seq, at, step: event.step, status: event.status, detail });
    },
    entries: (id) =>
      state.journal
        .filter((j) => j.incidentId === id)
        .map(({ at, step, status, detail }) => copy({ at, step, status, detail })),

    delivery(key) {
      const found = state.deliveries.find((d) => d.key === key);
      return found ? { incidentId: found.incidentId } : null;
    },
    addDelivery(row) {
      if (state.deliveries.some((d) => d.key === row.key)) throw new Error(`delivery ${row.key} exists`);
      state.deliveries.push(copy(row));
    },
    deliveries: (incidentId) =>
      state.deliveries
        .filter((d) => d.incidentId === incidentId)
        .sort((a, b) =>
          a.receivedAt === b.receivedAt ? (a.key < b.key ? -1 : 1) : a.receivedAt < b.receivedAt ? -1 : 1,
        )
        .map(copy),
    alert(alertId) {
      const found = state.alerts.find((a) => a.alertId === alertId);
      return found ? copy(found) : null;
    },
    saveAlert(alert) {
      state.alerts = [...state.alerts.filter((a) => a.alertId !== alert.alertId), copy(alert)];
    },
    openAlerts: (incidentId) =>
      state.alerts.filter(
        (a) => a.incidentId === incidentId && a.status !== "CLOSED" && a.status !== "CANCELLED",
      ).length,
    hasAtlasAlerts: (incidentId) => state.alerts.some((a) => a.incidentId === incidentId),
    moveAlerts(from, into) {
      for (const d of state.deliveries) if (d.incidentId === from) d.incidentId = into;
      for (const a of state.alerts) if (a.incidentId === from) a.incidentId = into;
    },

    actions: (incidentId) => state.actions.filter((a) => a.incidentId === incidentId).map(copy),
    addAction(input) {
      const id = (state.actions.at(-1)?.id ?? 0) + 1;
      state.actions.push({ ...copy(input), id });
      return id;
    },
    settleAction(id, status: ActionStatus, _at, detail) {
      const found = state.actions.find((a) => a.id === id);
      if (found) Object.assign(found, { status, detail: copy(detail) });
    },

    addReading(clusterKey, at, value) {
      const cutoff = Date.parse(at) - READINGS_KEPT_MS;
      state.readings = [
        ...state.readings.filter((r) => r.clusterKey !== clusterKey || Date.parse(r.at) >= cutoff),
        { clusterKey, at, value },
      ];
    },
    readings: (clusterKey): SeriesPoint[] =>
      state.readings
        .filter((r) => r.clusterKey === clusterKey)
        .sort((a, b) => (a.at < b.at ? -1 : 1))
        .map(({ at, value }) => ({ at, value })),
    snoozedUntil: (clusterKey) => state.snoozes.find((s) => s.clusterKey === clusterKey)?.until ?? null,
    snooze(clusterKey, until, by) {
      state.snoozes = [
        ...state.snoozes.filter((s) => s.clusterKey !== clusterKey),
        { clusterKey, until, by },
      ];
    },
    lastFailoverAt(clusterKey) {
      const times = state.failovers.filter((f) => f.clusterKey === clusterKey).map((f) => f.at);
      return times.length ? times.sort().at(-1)! : null;
    },
    recordFailover(clusterKey, at) {
      state.failovers.push({ clusterKey, at });
    },

    addSample(clusterKey, sample) {
      const all = state.samples ?? [];
      const mine = retainSamples(
        [...all.filter((s) => s.clusterKey === clusterKey), { ...copy(sample), clusterKey }],
        Date.parse(sample.at),
      );
      state.samples = [...all.filter((s) => s.clusterKey !== clusterKey), ...mine];
    },
    samples: (clusterKey, sinceIso) =>
      (state.samples ?? [])
        .filter((s) => s.clusterKey === clusterKey && Date.parse(s.at) >= Date.parse(sinceIso))
        .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
        .map(({ at, current, limit, percent, tier }) => ({ at, current, limit, percent, tier })),
    watchState(clusterKey) {
      const found = (state.watch ?? []).find((w) => w.clusterKey === clusterKey);
      return found ? { armed: found.armed, etaWarned: found.etaWarned } : { ...INITIAL_WATCH_STATE };
    },
    saveWatchState(clusterKey, watch) {
      state.watch = [
        ...(state.watch ?? []).filter((w) => w.clusterKey !== clusterKey),
        { clusterKey, ...watch },
      ];
    },
    notice(notice) {
      state.notices = [...(state.notices ?? []), copy(notice)];
    },
  };
  return store;
}
