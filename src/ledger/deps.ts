/**
 * Builds the incident core's dependencies inside the Worker: the runtime's `fetch`, the stats
 * sources a cluster has, the redeploy adapters, the global action budget held by `LedgerIndex`, and
 * the Slack client the ledger brings messages up to date with. Wiring only; every behaviour lives
 * in the modules it imports.
 */
import { parseConnectionString, resolveClusterName } from "../atlas/cluster-identity.ts";
import type { Config } from "../config/schema.ts";
import type { ActionLimiter, CoreDeps } from "../incident/deps.ts";
import { createConsoleLogger, describeError } from "../observability/log.ts";
import { deliveryOfError } from "../outbound/delivery.ts";
import { createRedeployAdapter } from "../platforms/index.ts";
import { createSlackClient, type SlackClient } from "../slack/client.ts";
import { createMongoOperations } from "../stats/mongo-source.ts";
import { createSourceFactory } from "../stats/sources.ts";

interface IndexStub {
  recentActions(nowIso: string): Promise<Awaited<ReturnType<ActionLimiter["recent"]>>>;
  reserve(input: Parameters<ActionLimiter["reserve"]>[0]): ReturnType<ActionLimiter["reserve"]>;
  settle(key: string, outcome: Parameters<ActionLimiter["settle"]>[1]): Promise<void>;
}

/** The Worker's core dependencies for `config`, and its Slack client (null when Slack is not configured). */
export function createWorkerDeps(
  config: Config,
  index: IndexStub,
): { core: CoreDeps; slack: SlackClient | null } {
  const fetchImpl = (input: Request | string | URL, init?: RequestInit) => fetch(input, init);
  const factory = createSourceFactory(config, fetchImpl, { now: () => Date.now() });
  const core: CoreDeps = {
    now: () => new Date(),
    config,
    log: createConsoleLogger(config.secrets),
    sources: (context) => factory.sourcesFor(context.groupId, context.cluster),
    adapter: (target) =>
      createRedeployAdapter({ target, secrets: (name: string) => config.secret(name), fetch: fetchImpl }),
    async failover(groupId, cluster) {
      if (!factory.atlas) return { kind: "failed", detail: "no Atlas Admin API credentials are configured" };
      try {
        await factory.atlas.restartPrimaries(groupId, cluster);
        return { kind: "started", detail: "Atlas accepted Test Failover" };
      } catch (error) {
        const { message } = describeError(error);
        // Atlas may have acted when it answered nothing useful: never call that a failure.
        return { kind: deliveryOfError(error) === "unknown" ? "unknown" : "failed", detail: message };
      }
    },
    async killLongOperations(groupId, cluster) {
      const uri = config.mongoUriFor(groupId, cluster);
      return uri ? createMongoOperations({ uri }).killOwnLongOperations() : null;
    },
    async identify(groupId, location) {
      const clusters = config.clusters
        .filter((c) => c.groupId.toLowerCase() === groupId.toLowerCase())
        .map((c) => {
          const uri = config.mongoUriFor(groupId, c.name);
          return { groupId, name: c.name, hostnames: uri ? parseConnectionString(uri).hosts : [] };
        });
      const atlas = factory.atlas;
      try {
        const identity = await resolveClusterName(
          { groupId, ...location },
          { clusters, listProcesses: atlas ? (g) => atlas.listProcesses(g) : undefined },
        );
        return identity.found ? { cluster: identity.clusterName, via: identity.via } : null;
      } catch {
        return null;
      }
    },
    limiter: {
      recent: (now) => index.recentActions(now.toISOString()),
      reserve: (input) => index.reserve(input),
      settle: (key, outcome) => index.settle(key, outcome),
    },
  };
  const slack =
    config.slack.kind === "none" ? null : createSlackClient({ fetch: fetchImpl, config: config.slack });
  return { core, slack };
}
