/**
 * A person's decision on an incident: approve, skip or snooze, from Slack, the dashboard or the
 * CLI. Every door goes through here, under the same rules:
 * - nothing is applied (and nothing breaks) when there is nothing to decide: already decided, not
 *   awaiting approval, or a click on an older request than the current one;
 * - a person who may not approve is journaled as refused, and changes nothing;
 * - a snooze holds the cluster for an hour, whatever the incident's phase.
 * Run inside the store's transaction.
 */
import type { DecisionSource } from "./journal.ts";
import type { IncidentStore } from "./store.ts";
import { rest, startActing, waitUntil } from "./transitions.ts";

export type HumanDecision = "approve" | "skip" | "snooze";

/** How long a snooze holds a cluster. */
export const SNOOZE_MS = 3600_000;

export interface DecisionRequest {
  decision: HumanDecision;
  by: string | null;
  source: DecisionSource;
  /** When the request being answered was made (a Slack button carries it); omitted: the current one. */
  requestedAt?: string;
  /** False when the person may not approve (not in SLACK_APPROVERS). */
  allowed?: boolean;
}

export function applyDecision(
  store: IncidentStore,
  id: string,
  request: DecisionRequest,
  now: Date,
): { applied: boolean; state: string | null } {
  const incident = store.incident(id);
  if (!incident) return { applied: false, state: null };
  const at = now.toISOString();
  const { decision, by, source } = request;
  if (request.allowed === false) {
    if (incident.phase === "approval") {
      store.journal(id, at, {
        step: "approval",
        status: "refused",
        detail: { by, decision, reason: "not in SLACK_APPROVERS" },
      });
    }
    return { applied: false, state: incident.state };
  }
  if (decision === "snooze") {
    const current = store.snoozedUntil(incident.clusterKey);
    if (current && Date.parse(current) > now.getTime()) return { applied: false, state: incident.state };
    const until = new Date(now.getTime() + SNOOZE_MS).toISOString();
    store.snooze(incident.clusterKey, until, by);
    store.journal(id, at, { step: "approval", status: "snoozed", detail: { by, until, source } });
    if (incident.phase === "approval") waitUntil(store, id, at, until, { reopen: true });
    return { applied: true, state: store.incident(id)!.state };
  }
  if (incident.phase !== "approval") return { applied: false, state: incident.state };
  if (request.requestedAt !== undefined && request.requestedAt !== incident.approvalRequestedAt) {
    return { applied: false, state: incident.state };
  }
  if (decision === "approve") {
    store.journal(id, at, { step: "approval", status: "approved", detail: { by, source } });
    startActing(store, id, at, now.getTime());
  } else {
    store.journal(id, at, { step: "approval", status: "skipped", detail: { by, source } });
    rest(store, id, at, { state: "open", decision: null });
  }
  return { applied: true, state: store.incident(id)!.state };
}
