/**
 * Which stats sources a cluster has, given the configuration: the direct MongoDB source when a
 * connection string applies to it, the Admin API source when there is an Admin API client. Shared by
 * the Worker and the CLIs so both measure a cluster the same way.
 *
 * The Admin API client is the caller's: built once per configuration
 * (`createAtlasAdminClientFor`) and shared with whatever else the caller does with Atlas (failover,
 * identifying a cluster), so one service-account token serves them all. Trade-off: every caller
 * builds the client itself, one line, instead of taking it from here.
 */
import type { AtlasAdminClient } from "../atlas/admin-client.ts";
import type { Config } from "../config/schema.ts";
import type { Clock } from "../outbound/http.ts";
import { createAtlasStatsSource } from "./atlas-source.ts";
import { createMongoStatsSource } from "./mongo-source.ts";
import type { StatsSource } from "./types.ts";

export interface SourceFactory {
  /** The Admin API client the factory was given, or null without credentials. */
  atlas: AtlasAdminClient | null;
  /** The live sources for one cluster (the alert's own value is added by the caller). */
  sourcesFor(groupId: string | null, cluster: string): StatsSource[];
}

/** Builds the sources configuration allows, reading the Admin API through `atlas` when there is one. */
export function createStatsSourceFactory(
  config: Config,
  atlas: AtlasAdminClient | null,
  clock: Clock,
  /** The MongoDB source's driver timeouts; defaults are the source's own. */
  mongoTimeouts: { serverSelectionTimeoutMS?: number; socketTimeoutMS?: number } = {},
): SourceFactory {
  return {
    atlas,
    sourcesFor(groupId, cluster) {
      const sources: StatsSource[] = [];
      const uri = config.mongoUriFor(groupId, cluster);
      if (uri)
        sources.push(createMongoStatsSource({ uri, clock: () => new Date(clock.now()), ...mongoTimeouts }));
      if (atlas && groupId)
        sources.push(createAtlasStatsSource({ client: atlas, groupId, clusterName: cluster, clock }));
      return sources;
    },
  };
}
