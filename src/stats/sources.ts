/**
 * Which stats sources a cluster has, given the configuration: the direct MongoDB source when a
 * connection string applies to it, the Admin API source when credentials are set. Shared by the
 * Worker and the CLIs so both measure a cluster the same way.
 */
import { type AtlasAdminClient, createAtlasAdminClient } from "../atlas/admin-client.ts";
import type { Config } from "../config/schema.ts";
import type { Clock, FetchLike } from "../outbound/http.ts";
import { createAtlasStatsSource } from "./atlas-source.ts";
import { createMongoStatsSource } from "./mongo-source.ts";
import type { StatsSource } from "./types.ts";

export interface SourceFactory {
  /** The Admin API client, or null without credentials. */
  atlas: AtlasAdminClient | null;
  /** The live sources for one cluster (the alert's own value is added by the caller). */
  sourcesFor(groupId: string | null, cluster: string): StatsSource[];
}

/** Builds the sources configuration allows, on the given `fetch` and clock. */
export function createSourceFactory(config: Config, fetch: FetchLike, clock: Clock): SourceFactory {
  const atlas = config.atlas.auth
    ? createAtlasAdminClient({ fetch, baseUrl: config.atlas.baseUrl, auth: config.atlas.auth, clock })
    : null;
  return {
    atlas,
    sourcesFor(groupId, cluster) {
      const sources: StatsSource[] = [];
      const uri = config.mongoUriFor(groupId, cluster);
      if (uri) sources.push(createMongoStatsSource({ uri, clock: () => new Date(clock.now()) }));
      if (atlas && groupId)
        sources.push(createAtlasStatsSource({ client: atlas, groupId, clusterName: cluster, clock }));
      return sources;
    },
  };
}
