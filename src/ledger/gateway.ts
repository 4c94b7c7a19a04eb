/**
 * How the Worker reaches the ledgers: one Durable Object per project, named by its id, plus the
 * index that lists the projects. Routes see only this small interface.
 */
import type { ClusterConfig, Config } from "../config/schema.ts";
import type { DecisionRequest } from "../incident/approval.ts";
import { compareNewestFirst } from "../incident/ids.ts";
import type { AlertDelivery, DeliveryOutcome, TriggerRequest } from "../incident/intake.ts";
import type { ClusterOverview, Sample } from "../incident/samples.ts";
import type { IncidentDetail, IncidentSummary } from "../incident/view.ts";
import type { WatchOutcome } from "../incident/watch.ts";
import { describeError, type Logger } from "../observability/log.ts";
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
  /** The cron watch's samples of one cluster since `sinceIso`, oldest first (gaps included). */
  samples(groupId: string, cluster: string, sinceIso: string): Promise<Sample[]>;
  /** Every configured cluster and every cluster seen in alerts, across projects, with its latest reading. */
  overview(): Promise<ClusterOverview[]>;
}

export interface LedgerBindings {
  LEDGER: DurableObjectNamespace<Ledger>;
  LEDGER_INDEX: DurableObjectNamespace<LedgerIndex>;
}

/** The gateway over the Worker's Durable Object bindings. */
export function createLedgerGateway(
  env: LedgerBindings,
  config: Pick<Config, "clusters"> = { clusters: [] },
): LedgerGateway {
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
    samples: (groupId, cluster, sinceIso) => ledger(groupId).samples(cluster, sinceIso),
    async overview() {
      const projects = new Set(await env.LEDGER_INDEX.getByName("index").projects());
      const configured = byProject(config.clusters);
      for (const groupId of configured.keys()) projects.add(groupId);
      const pages = await Promise.all(
        [...projects].sort().map((groupId) => {
          const clusters = (configured.get(groupId) ?? []).map((c) => ({
            name: c.name,
            ...(c.tier ? { tier: c.tier } : {}),
          }));
          return ledger(groupId).overview(configured.get(groupId)?.[0]?.groupId ?? groupId, clusters);
        }),
      );
      return pages.flat();
    },
  };
}

/** CLUSTERS by project (lower-case id), in configured order. */
function byProject(clusters: readonly ClusterConfig[]): Map<string, ClusterConfig[]> {
  const projects = new Map<string, ClusterConfig[]>();
  for (const cluster of clusters) {
    const key = cluster.groupId.toLowerCase();
    projects.set(key, [...(projects.get(key) ?? []), cluster]);
  }
  return projects;
}

/**
 * One cron run of the watch: each project's configured clusters sampled by its ledger, projects in
 * parallel. Nothing configured, nothing done. A ledger that fails is logged and the others go on.
 */
export async function runWatch(
  env: LedgerBindings,
  config: Pick<Config, "clusters">,
  log: Logger,
): Promise<WatchOutcome[]> {
  const projects = byProject(config.clusters);
  const results = await Promise.allSettled(
    [...projects.values()].map((clusters) =>
      env.LEDGER.getByName(clusters[0]!.groupId.toLowerCase()).watch(
        clusters[0]!.groupId,
        clusters.map((c) => c.name),
      ),
    ),
  );
  const outcomes: WatchOutcome[] = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") outcomes.push(...result.value);
    else
      log.log("error", "watch.failed", {
        groupId: [...projects.keys()][i],
        ...describeError(result.reason),
      });
  });
  return outcomes;
}
