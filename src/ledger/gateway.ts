/**
 * How the Worker reaches the ledgers: one Durable Object per project, named by its id, plus the
 * index that lists the projects. Routes see only this small interface.
 */
import type { DecisionRequest } from "../incident/approval.ts";
import { compareNewestFirst } from "../incident/ids.ts";
import type { AlertDelivery, DeliveryOutcome, TriggerRequest } from "../incident/intake.ts";
import type { IncidentDetail, IncidentSummary } from "../incident/view.ts";
import type { Ledger, LedgerIndex, LedgerQuery } from "./ledger.ts";

export interface LedgerGateway {
  record(groupId: string, delivery: AlertDelivery): Promise<DeliveryOutcome>;
  trigger(request: TriggerRequest): Promise<{ incident: string; joined: boolean }>;
  /** Incidents of every project, newest first, at most `query.limit`. */
  list(query: LedgerQuery): Promise<IncidentSummary[]>;
  get(groupId: string, id: string): Promise<IncidentDetail | null>;
  /** A person's decision, under the core's rules (src/incident/approval.ts). */
  decide(
    groupId: string,
    id: string,
    request: DecisionRequest,
  ): Promise<{ applied: boolean; state: string | null }>;
}

export interface LedgerBindings {
  LEDGER: DurableObjectNamespace<Ledger>;
  LEDGER_INDEX: DurableObjectNamespace<LedgerIndex>;
}

/** The gateway over the Worker's Durable Object bindings. */
export function createLedgerGateway(env: LedgerBindings): LedgerGateway {
  const ledger = (groupId: string) => env.LEDGER.getByName(groupId.toLowerCase());
  return {
    record: (groupId, delivery) => ledger(groupId).recordAlert(delivery),
    trigger: (request) => ledger(request.groupId).trigger(request),
    async list(query) {
      const projects = await env.LEDGER_INDEX.getByName("index").projects();
      // Each ledger returns its newest `limit`; the merged newest `limit` is among them.
      const pages = await Promise.all(
        projects.map((groupId) => ledger(groupId).listIncidents(groupId, query)),
      );
      return pages
        .flat()
        .sort((a, b) => compareNewestFirst(a.id, b.id))
        .slice(0, query.limit);
    },
    get: (groupId, id) => ledger(groupId).getIncident(groupId, id),
    decide: (groupId, id, request) => ledger(groupId).decide(id, request),
  };
}
