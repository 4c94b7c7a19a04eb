/**
 * The incident as its readers see it: the API (DESIGN §3), Slack and the dashboard. Built from a
 * store, never from the storage itself, so every door shows the same thing.
 */
import type { AtlasAlert, AtlasEvent } from "../atlas/alert.ts";
import type { JournalRow } from "./journal.ts";
import type { IncidentRecord, IncidentState } from "./record.ts";
import type { IncidentStore } from "./store.ts";

export type { JournalRow as JournalEntry } from "./journal.ts";
export { INCIDENT_STATES, type IncidentState } from "./record.ts";

export interface IncidentSummary {
  id: string;
  cluster: { groupId: string; name: string };
  state: IncidentState;
  openedAt: string;
  updatedAt: string;
}

export interface AlertRecord {
  alertId: string;
  event: AtlasEvent | null;
  status: AtlasAlert["status"];
  metricName: string | null;
  currentValue: { number: number; units: string | null } | null;
  updated: string;
  receivedAt: string;
}

export interface IncidentDetail extends IncidentSummary {
  alerts: AlertRecord[];
  journal: JournalRow[];
}

export function summarize(groupId: string, incident: IncidentRecord): IncidentSummary {
  return {
    id: incident.id,
    cluster: { groupId, name: incident.clusterName },
    state: incident.state,
    openedAt: incident.openedAt,
    updatedAt: incident.updatedAt,
  };
}

/** One incident with its alerts and journal; null when the store has no such incident. */
export function incidentDetail(store: IncidentStore, groupId: string, id: string): IncidentDetail | null {
  const incident = store.incident(id);
  if (!incident) return null;
  const alerts = store.deliveries(id).map(
    (d): AlertRecord => ({
      alertId: d.alertId,
      event: d.event,
      status: d.status as AlertRecord["status"],
      metricName: d.metric,
      currentValue: d.value === null ? null : { number: d.value, units: d.units },
      updated: d.updated,
      receivedAt: d.receivedAt,
    }),
  );
  return { ...summarize(groupId, incident), alerts, journal: store.entries(id) };
}
