/**
 * The incident core's dependencies in Node, for the CLIs: the same stats sources, redeploy
 * adapters, Test Failover and cluster identification the Worker wires up in src/ledger/deps.ts,
 * over undici's fetch (src/outbound/node-fetch.ts) instead of the runtime's, with a budget the
 * caller supplies (the CLI's state file) and a quiet logger (warnings to stderr, scrubbed).
 *
 * Wiring only, kept line for line with the Worker's so both doors run the same core the same way.
 * Trade-off: duplicated wiring until a shared builder takes `fetch`, a limiter and a logger.
 */
import { createAtlasAdminClientFor } from "../atlas/admin-client.ts";
import { parseConnectionString, resolveClusterName } from "../atlas/cluster-identity.ts";
import type { Config } from "../config/schema.ts";
import type { ActionLimiter, CoreDeps } from "../incident/deps.ts";
import { describeError, type Logger } from "../observability/log.ts";
import { deliveryOfError } from "../outbound/delivery.ts";
import type { FetchLike } from "../outbound/http.ts";
import { createRedeployAdapter } from "../platforms/index.ts";
import { createMongoOperations } from "../stats/mongo-source.ts";
import { createStatsSourceFactory } from "../stats/sources.ts";

const MIN_SCRUB_LENGTH = 6;

/** Warnings and errors as one short line on stderr, with every configured secret redacted. */
export function createQuietLogger(secrets: readonly string[], write: (line: string) => void): Logger {
  const scrub = secrets.filter((s) => s.length >= MIN_SCRUB_LENGTH);
  return {
    log(level, event, fields = {}) {
      if (level !== "warn" && level !== "error") return;
      let line = `${level}: ${event} ${JSON.stringify(fields)}`;
      for (const secret of scrub) line = line.split(secret).join("[redacted]");
      write(line);
    },
  };
}

export interface NodeDepsOptions {
  config: Config;
  fetch: FetchLike;
  limiter: ActionLimiter;
  log: Logger;
  now?: () => Date;
}

/** The core's dependencies for a Node process. */
export function createNodeDeps(options: NodeDepsOptions): CoreDeps {
  const { config, limiter, log } = options;
  const fetchImpl = options.fetch;
  const now = options.now ?? (() => new Date());
  const clock = { now: () => now().getTime() };
  // One Admin API client for the sources, Test Failover and cluster identification.
  const atlas = createAtlasAdminClientFor(config, fetchImpl, clock);
  const factory = createStatsSourceFactory(config, atlas, clock);
  return {
    now,
    config,
    log,
    sources: (context) => factory.sourcesFor(context.groupId, context.cluster),
    adapter: (target) =>
      createRedeployAdapter({ target, secrets: (name: string) => config.secret(name), fetch: fetchImpl }),
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
      return uri ? createMongoOperations({ uri }).killOwnLongOperations() : null;
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
