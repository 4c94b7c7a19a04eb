/**
 * The alert itself as a stats source: Atlas measured the value that fired it. It is the one
 * source that always exists, and the one to fall back on when the cluster is too full to take our
 * connection and the Admin API is down. It goes stale: verification never uses it.
 */
import { PERCENT_METRICS } from "../atlas/alert.ts";
import type { StatsReading, StatsSource } from "./types.ts";

export interface AlertValue {
  metricName: string;
  value: number;
  /** When Atlas last updated the alert. */
  at: string;
}

/** A source that reports the alert's own value: a percentage or a count, per its metric. */
export function createAlertStatsSource(alert: AlertValue): StatsSource {
  return {
    name: "alert",
    async read(): Promise<StatsReading> {
      const isPercent = PERCENT_METRICS.has(alert.metricName);
      return {
        source: "alert",
        ok: true,
        at: alert.at,
        ...(isPercent ? { percent: alert.value } : { current: alert.value }),
        findings: [],
      };
    },
  };
}
