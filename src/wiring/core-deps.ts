/**
 * How every door builds the incident core's dependencies from a configuration: the stats sources,
 * the redeploy adapters, Test Failover and cluster identification, over one Admin API client. The
 * Worker (src/ledger/deps.ts) passes the runtime's `fetch`, the global budget and a console logger;
 * the Node CLIs pass undici's fetch, the state file's budget and a quiet logger.
 * Wiring only: every behaviour lives in the modules it imports.
 */
import { createAtlasAdminClient } from "../atlas/admin-client.ts";
import { parseConnectionString, resolveClusterName } from "../atlas/cluster-identity.ts";
import type { Config } from "../config/schema.ts";
import type { ActionLimiter, CoreDeps } from "../incident/deps.ts";
import { describeError, type Logger } from "../observability/log.ts";
import { deliveryOfError } from "../outbound/delivery.ts";
import type { FetchLike } from "../outbound/http.ts";
import { createRedeployAdapter } from "../platforms/index.ts";
import { createMongoOperations } from "../stats/mongo-source.ts";
import { createStatsSourceFactory } from "../stats/sources.ts";

export interface CoreDepsOptions {
  config: Config;
  fetch: FetchLike;
  limiter: ActionLimiter;
  log: Logger;
  now?: () => Date;
  /**
   * Bounds on every outbound call, for tests that drive faults: the per-attempt timeout of the HTTP
   * clients and the MongoDB driver, and how a retry waits. Defaults: DESIGN §5's.
   */
  outbound?: { timeoutMs?: number; sleep?: (ms: number) => Promise<void> };
}

/** The core's dependencies for one configuration. */
export function createCoreDeps(options: CoreDepsOptions): CoreDeps {
  const { config, limiter, log } = options;
  const fetchImpl = options.fetch;
  const now = options.now ?? (() => new Date());
  const clock = { now: () => now().getTime() };
  const { timeoutMs, sleep } = options.outbound ?? {};
  const mongoTimeouts =
    timeoutMs === undefined ? {} : { serverSelectionTimeoutMS: timeoutMs, socketTimeoutMS: timeoutMs };
  // One Admin API client for the sources, Test Failover and cluster identification.
  const { baseUrl, auth } = config.atlas;
  const atlas = auth
    ? createAtlasAdminClient({ fetch: fetchImpl, baseUrl, auth, clock, timeoutMs, sleep })
    : null;
  const factory = createStatsSourceFactory(config, atlas, clock, mongoTimeouts);
  return {
    now,
    config,
    log,
    sources: (context) => factory.sourcesFor(context.groupId, context.cluster),
    adapter: (target) =>
      createRedeployAdapter({
        target,
        secrets: (name: string) => config.secret(name),
        fetch: fetchImpl,
        timeoutMs,
      }),
    async failover(groupId, cluster) {
      if (!atlas) return { kind: "failed", detail: "no Atlas Admin API credentials are configured" };
      try {
        await atlas.restartPrimaries(groupId, cluster);
        return { kind: "started", detail: "Atlas accepted Test Failover" };
      } catch (error) {
        const { message } = describeError(error);
        // Atlas may have acted when it answered nothing useful: never call that a failure.
        return { kind: deliveryOfError(error) === "unknown" ? "unknown" : "failed", detail: message };
      }
    },
    async killLongOperations(groupId, cluster) {
      const uri = config.mongoUriFor(groupId, cluster);
      return uri ? createMongoOperations({ uri, ...mongoTimeouts }).killOwnLongOperations() : null;
    },
    async identify(groupId, location) {
      const clusters = config.clustersMatching(groupId, null).map((c) => {
        const uri = config.mongoUriFor(groupId, c.name);
        return { groupId, name: c.name, hostnames: uri ? parseConnectionString(uri).hosts : [] };
      });
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
    limiter,
  };
}
