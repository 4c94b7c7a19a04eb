/**
 * Assessment: one picture of a cluster's connections from whatever the sources said.
 *
 * Pure: (readings, history, tier hint, now) → Assessment. Sources disagree in freshness and
 * precision, so each figure comes from the best source that has it: the server's own serverStatus,
 * then the Admin API's latest measurement, then the alert's value. A figure nobody could give is
 * null, never guessed — except that a percentage and a limit give a count, and vice versa.
 */
import { connectionLimit } from "../atlas/tiers.ts";
import type { AppConnections, Finding, SeriesPoint, StatsReading, StatsSuccess } from "./types.ts";

/** How far back the trend looks: long enough to smooth a spike, short enough to follow a leak. */
const TREND_WINDOW_MS = 15 * 60_000;
/** The trend needs points spanning at least this long to mean anything. */
const MIN_TREND_SPAN_MS = 60_000;

export interface SourceSummary {
  name: string;
  ok: boolean;
  error: string | null;
}

export interface Assessment {
  at: string;
  tier: string | null;
  current: number | null;
  limit: number | null;
  percent: number | null;
  /** Connections gained per minute over the recent window (negative: falling). */
  trendPerMinute: number | null;
  /** Minutes until `limit` at the current trend; null when not rising or unknown. */
  minutesToLimit: number | null;
  /** Per-app breakdown, largest first; empty where the tier cannot attribute connections. */
  byApp: AppConnections[];
  /** True when connections were attributed to apps (M10+ `$currentOp`). */
  attributed: boolean;
  /** Recent counts, oldest first (Admin API measurements plus earlier readings). */
  series: SeriesPoint[];
  sources: SourceSummary[];
  findings: Finding[];
}

export interface AssessInput {
  readings: readonly StatsReading[];
  /** Earlier counts for this cluster (e.g. from the incident's previous reads). */
  history?: readonly SeriesPoint[];
  /** Tier from configuration, used when no source reports one. */
  tierHint?: string | null;
  now: Date;
}

const successOf = (readings: readonly StatsReading[], name: string): StatsSuccess | undefined =>
  readings.find((r): r is StatsSuccess => r.ok && r.source === name);

const first = <T>(...values: Array<T | undefined | null>): T | null => {
  for (const value of values) if (value !== undefined && value !== null) return value;
  return null;
};

/** Combines source readings into one assessment. */
export function assess(input: AssessInput): Assessment {
  const { readings, now } = input;
  const mongo = successOf(readings, "mongodb");
  const atlas = successOf(readings, "atlas-admin");
  const alert = successOf(readings, "alert");
  const ok = readings.filter((r): r is StatsSuccess => r.ok);

  const tier = first(atlas?.tier, mongo?.tier, input.tierHint, ...ok.map((r) => r.tier));
  const fromServerOrTier = connectionLimit({
    tier: tier ?? undefined,
    serverCurrent: mongo?.current,
    serverAvailable: mongo?.available,
  });
  const limit = first(fromServerOrTier?.limit, atlas?.limit, mongo?.limit);

  // The alert's own figure, as a count (a percentage and a known limit give one).
  const alertCount =
    alert?.current ??
    (alert?.percent !== undefined && limit !== null ? Math.round((alert.percent / 100) * limit) : undefined);
  // The Admin API's per-minute measurement can lag the alert that fired; the newer of the two wins.
  const atlasAt = atlas?.series?.at(-1)?.at ?? atlas?.at;
  const alertIsNewer =
    alert !== undefined && atlasAt !== undefined && Date.parse(alert.at) > Date.parse(atlasAt);
  const current = first(
    mongo?.current,
    alertIsNewer ? alertCount : atlas?.current,
    atlas?.current,
    alertCount,
  );
  let percent: number | null = null;
  if (current !== null && limit !== null && limit > 0) percent = (current / limit) * 100;
  else if (alert?.percent !== undefined) percent = alert.percent;

  const series = mergeSeries([...(input.history ?? []), ...(atlas?.series ?? [])], current, now);
  const trendPerMinute = slopePerMinute(series, now);
  const minutesToLimit =
    trendPerMinute !== null && trendPerMinute > 0 && current !== null && limit !== null
      ? Math.max(0, (limit - current) / trendPerMinute)
      : null;

  const byApp = [...(mongo?.byApp ?? [])].sort(
    (a, b) => b.connections - a.connections || a.app.localeCompare(b.app),
  );
  return {
    at: now.toISOString(),
    tier,
    current,
    limit,
    percent: percent === null ? null : Math.round(percent * 10) / 10,
    trendPerMinute: trendPerMinute === null ? null : Math.round(trendPerMinute * 100) / 100,
    minutesToLimit: minutesToLimit === null ? null : Math.round(minutesToLimit),
    byApp,
    attributed: byApp.length > 0,
    series,
    sources: readings.map((r) => ({ name: r.source, ok: r.ok, error: r.ok ? null : r.error })),
    findings: readings.flatMap((r) => r.findings),
  };
}

/** Sorted, de-duplicated points in the trend window, with `current` appended as of `now`. */
function mergeSeries(points: readonly SeriesPoint[], current: number | null, now: Date): SeriesPoint[] {
  const byTime = new Map<number, number>();
  for (const point of points) {
    const t = Date.parse(point.at);
    if (Number.isFinite(t) && Number.isFinite(point.value) && t <= now.getTime()) byTime.set(t, point.value);
  }
  if (current !== null) byTime.set(now.getTime(), current);
  const cutoff = now.getTime() - 60 * 60_000; // keep an hour for sparklines
  return [...byTime.entries()]
    .filter(([t]) => t >= cutoff)
    .sort(([a], [b]) => a - b)
    .map(([t, value]) => ({ at: new Date(t).toISOString(), value }));
}

/** Least-squares slope, per minute, of the points inside the trend window. */
function slopePerMinute(series: readonly SeriesPoint[], now: Date): number | null {
  const cutoff = now.getTime() - TREND_WINDOW_MS;
  const points = series.map((p) => [Date.parse(p.at), p.value] as const).filter(([t]) => t >= cutoff);
  if (points.length < 2) return null;
  const span = points[points.length - 1]![0] - points[0]![0];
  if (span < MIN_TREND_SPAN_MS) return null;
  const n = points.length;
  const meanT = points.reduce((s, [t]) => s + t, 0) / n;
  const meanV = points.reduce((s, [, v]) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - meanT) * (v - meanV);
    den += (t - meanT) ** 2;
  }
  return den === 0 ? null : (num / den) * 60_000;
}
