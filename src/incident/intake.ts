/**
 * Intake: what one delivery or manual trigger does to a project's incidents. Called inside one
 * store transaction, so the delivery record, its incident change and its journal entry commit
 * together or not at all.
 *
 * Rules (DESIGN §3, §5):
 * - A delivery already recorded (same id, status, updated and event) is a duplicate: nothing changes.
 * - An alert that is not about connections is recorded and journaled on the live incident, never acted on.
 * - Atlas does not promise ordering: a delivery older than what is known of its alert changes nothing.
 * - One incident per cluster: opens join the live one; the last of its alerts to close closes it.
 * - A manual run at rest is not what Atlas is alerting about now: an Atlas open supersedes it.
 * - A watch incident (origin `watch`, src/incident/watch.ts) is never superseded, at rest or not: it
 *   was opened for the very condition Atlas now alerts about, so the alert joins it (DESIGN
 *   "Proactive watch") and keeps one history; a resolved one at rest runs again, as any incident does.
 */
import {
  type AlertIntent,
  type AtlasAlert,
  type AtlasEvent,
  clusterRefOf,
  deliveryKey,
} from "../atlas/alert.ts";
import { MAX_ALERT_CLOCK_SKEW_MS } from "../constants.ts";
import type { AlertSummary } from "./journal.ts";
import type { RunMode } from "./record.ts";
import type { IncidentStore } from "./store.ts";
import { close } from "./transitions.ts";

/** One verified, validated webhook delivery. */
export interface AlertDelivery {
  alert: AtlasAlert;
  event: AtlasEvent | null;
  intent: AlertIntent;
  /** False for alerts that are not about connections: recorded, never acted on. */
  relevant: boolean;
}

export type DeliveryOutcome = { status: "accepted" | "duplicate" | "ignored"; incident: string | null };

export interface TriggerRequest {
  groupId: string;
  cluster: string;
  dryRun: boolean;
  reason: string | null;
}

/** Makes new incident ids; injected so the core needs no randomness of its own. */
export type NewId = (groupId: string, at: Date) => string;

/** Records one delivery; run inside `store.transaction`. */
export function applyDelivery(
  store: IncidentStore,
  { alert, event, intent, relevant }: AlertDelivery,
  now: Date,
  newId: NewId,
): DeliveryOutcome {
  const key = deliveryKey(alert, event);
  const seen = store.delivery(key);
  if (seen) return { status: "duplicate", incident: seen.incidentId };

  const at = now.toISOString();
  const cluster = clusterRefOf(alert);
  const record = (disposition: "accepted" | "ignored" | "stale", incidentId: string | null) =>
    store.addDelivery({
      key,
      receivedAt: at,
      disposition,
      incidentId,
      alertId: alert.id,
      event,
      status: alert.status,
      metric: alert.metricName ?? null,
      value: alert.currentValue?.number ?? null,
      units: alert.currentValue?.units ?? null,
      updated: alert.updated,
      alertJson: JSON.stringify(alert),
    });
  const summary: AlertSummary = {
    alertId: alert.id,
    event,
    status: alert.status,
    metric: alert.metricName ?? null,
    value: alert.currentValue?.number ?? null,
  };

  if (!relevant) {
    record("ignored", null);
    // Journaled where people look: on the cluster's live incident, if it has one.
    const live = store.liveIncident(cluster.key);
    if (live) store.journal(live.id, at, { step: "intake", status: "ignored", detail: summary });
    return { status: "ignored", incident: null };
  }

  // Atlas's `updated` orders an alert's deliveries, but a clock far ahead of ours is never trusted:
  // an alert dated next year would make every real delivery after it stale, and its value outrank
  // fresher measurements. Ours caps it, a few minutes of skew allowed.
  const latest = now.getTime() + MAX_ALERT_CLOCK_SKEW_MS;
  const updated = Date.parse(alert.updated) > latest ? new Date(latest).toISOString() : alert.updated;
  const known = store.alert(alert.id);
  if (known && Date.parse(known.updated) > Date.parse(updated)) {
    record("stale", known.incidentId);
    if (known.incidentId)
      store.journal(known.incidentId, at, { step: "intake", status: "stale", detail: summary });
    return { status: "accepted", incident: known.incidentId };
  }

  const alertValue =
    alert.metricName && alert.currentValue
      ? { metricName: alert.metricName, value: alert.currentValue.number, at: updated }
      : undefined;
  // An alert keyed by its replica set or host stays with the incident it joined, though that
  // incident has since been named after its cluster (gather.ts): else its close would close nothing.
  const joined = known?.incidentId ? store.incident(known.incidentId) : null;
  let live = joined && joined.state !== "closed" ? joined : store.liveIncident(cluster.key);
  if (live && intent === "open" && live.origin === "manual" && live.phase === "idle") {
    close(store, live.id, at, `superseded by Atlas alert ${alert.id}`);
    // The alert's own key may still have a live incident (one not yet named): it joins that one.
    live = store.liveIncident(cluster.key);
  }
  let incident: string | null = live?.id ?? null;
  switch (intent) {
    case "open": {
      if (live) {
        store.journal(live.id, at, { step: "intake", status: "joined", detail: summary });
        // Atlas still says the cluster is over its threshold after we thought it recovered: run again.
        const rerun = live.state === "resolved" && live.phase === "idle";
        store.update(live.id, at, {
          ...(alertValue ? { alert: alertValue } : {}),
          ...(rerun
            ? { state: "open", phase: "gather", nextRunAt: now.getTime(), decision: null, mode: null }
            : {}),
        });
      } else {
        incident = newId(alert.groupId, now);
        store.open({
          id: incident,
          clusterKey: cluster.key,
          clusterName: cluster.name,
          mode: null,
          origin: "atlas",
          at,
          nextRunAt: now.getTime(),
        });
        if (alertValue) store.update(incident, at, { alert: alertValue });
        store.journal(incident, at, { step: "intake", status: "opened", detail: summary });
      }
      break;
    }
    case "close":
    case "cancel":
      if (live) {
        store.journal(live.id, at, {
          step: "intake",
          status: intent === "close" ? "alert-closed" : "alert-cancelled",
          detail: summary,
        });
        store.update(live.id, at, {});
      }
      break;
    case "note":
      if (live) {
        store.journal(live.id, at, { step: "intake", status: "noted", detail: summary });
        store.update(live.id, at, {});
      }
      break;
  }

  store.saveAlert({
    alertId: alert.id,
    incidentId: incident ?? known?.incidentId ?? null,
    status: alert.status,
    updated,
  });
  record("accepted", incident);

  // The incident closes when every Atlas alert that joined it has closed or been cancelled; one
  // last stats read follows, and the cluster's next alert opens a new incident.
  if (incident && (intent === "close" || intent === "cancel") && store.openAlerts(incident) === 0) {
    close(store, incident, at, intent === "close" ? "Atlas closed the alert" : "Atlas cancelled the alert", {
      finalRead: true,
      nowMs: now.getTime(),
    });
  }
  return { status: "accepted", incident };
}

/** Opens an incident for a manual run, or joins the cluster's live one (rerunning it if at rest). */
export function applyTrigger(
  store: IncidentStore,
  request: TriggerRequest,
  now: Date,
  newId: NewId,
): { incident: string; joined: boolean } {
  const at = now.toISOString();
  const key = `name:${request.cluster}`;
  const mode: RunMode = request.dryRun ? "dry-run" : null;
  const detail = { reason: request.reason, dryRun: request.dryRun };
  const live = store.liveIncident(key);
  if (live) {
    store.journal(live.id, at, { step: "trigger", status: "joined", detail });
    // A human asked for a run: an incident at rest runs again, in the mode asked for, and one
    // waiting out a cooldown or snooze measures now (the plan re-checks the budget, so this never
    // sends early).
    if (live.phase === "gather" && live.nextRunAt !== null && live.nextRunAt > now.getTime()) {
      store.update(live.id, at, { nextRunAt: now.getTime() });
    } else if (live.phase === "idle") {
      store.update(live.id, at, {
        state: "open",
        phase: "gather",
        nextRunAt: now.getTime(),
        mode,
        decision: null,
      });
    } else store.update(live.id, at, {});
    return { incident: live.id, joined: true };
  }
  const id = newId(request.groupId, now);
  store.open({
    id,
    clusterKey: key,
    clusterName: request.cluster,
    mode,
    origin: "manual",
    at,
    nextRunAt: now.getTime(),
  });
  store.journal(id, at, { step: "trigger", status: "opened", detail });
  return { incident: id, joined: false };
}
