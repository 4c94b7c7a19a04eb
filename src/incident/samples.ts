/**
 * What the cron watch remembers of a cluster: one sample per run, the history behind the
 * dashboard's charts and the trend. A run that could not read the cluster stores a gap (null
 * figures), so a chart shows "no data" rather than a line drawn across the outage.
 */
import type { SourceSummary } from "../stats/assess.ts";

export interface Sample {
  at: string;
  /** Null for a gap: the run could not read the cluster. */
  current: number | null;
  limit: number | null;
  percent: number | null;
  tier: string | null;
}

/** A cluster as the dashboard's overview shows it: configured in CLUSTERS, seen in alerts, or both. */
export interface ClusterOverview {
  groupId: string;
  name: string;
  tier: string | null;
  /** The latest reading, if any run or incident has read it. */
  latest: (Sample & { sources: SourceSummary[] }) | null;
  /** Whether CLUSTERS lists it (the watch samples only those). */
  configured: boolean;
}
