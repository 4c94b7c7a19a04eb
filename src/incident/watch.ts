/**
 * The cron watch: one sample of each configured cluster per run, and the rules that turn samples
 * into an incident before Atlas alerts (DESIGN "Proactive watch").
 *
 * Rules (`watchDecision`, pure):
 * - The percentage at or above `POLICY.actAtPercent` (the threshold the policy acts at) on
 *   `OVER_SAMPLES_TO_OPEN` consecutive samples opens an incident with origin `watch`, which then runs
 *   under the normal policy. A gap (a run that could not read the cluster) breaks the run of samples.
 * - A time to the limit under `POLICY.watchEtaMinutes` only notifies — a journal entry on the live
 *   incident, or a notification when there is none — once until the time to the limit is long again.
 *   It never opens an incident: nobody acts on a trend.
 * - Hysteresis: after a watch incident opens, no other opens until a sample at or below
 *   `actAtPercent - REARM_POINTS` (a per-cluster field, `WatchState.armed`).
 * - A cluster with a live incident gets no second one (one incident per cluster); an Atlas alert
 *   later joins the watch incident (intake.ts never supersedes a watch incident, see there).
 * - A gap is stored (the chart shows "no data") and changes nothing else: no incident, no warning.
 *
 * Retention (`retainSamples`, pure; the SQL store applies the same rule): 7 days; every sample of
 * the last 24 hours, one per 10 minutes before that (the first of each bucket); at most
 * `MAX_SAMPLES_PER_CLUSTER` per cluster whatever the clock does.
 */
import type { Policy } from "../config/schema.ts";
import { type Assessment, assess } from "../stats/assess.ts";
import type { StepContext } from "./deps.ts";
import type { NewId } from "./intake.ts";
import { readAll } from "./measure.ts";
import type { Sample } from "./samples.ts";
import type { IncidentStore, StoredSample, WatchState } from "./store.ts";

export const SAMPLE_RETENTION_MS = 7 * 24 * 3600_000;
export const FULL_RESOLUTION_MS = 24 * 3600_000;
export const DOWNSAMPLE_BUCKET_MS = 10 * 60_000;
/** One a minute for 24 h (1440) plus six days at one per 10 minutes (864), with room to spare. */
export const MAX_SAMPLES_PER_CLUSTER = 3000;
export const OVER_SAMPLES_TO_OPEN = 3;
/** How far below `actAtPercent` the percentage must fall before another watch incident may open. */
export const REARM_POINTS = 10;
/** Samples older than this do not count towards a run of consecutive samples. */
const CONSECUTIVE_WINDOW_MS = 60 * 60_000;

export const INITIAL_WATCH_STATE: WatchState = { armed: true, etaWarned: false };

export interface WatchInput {
  /** The cluster's latest samples, oldest first, the current one last. */
  recent: readonly Sample[];
  /** The current time to the limit at the current trend, in minutes; null when not rising or unknown. */
  minutesToLimit: number | null;
  policy: Pick<Policy, "actAtPercent" | "watchEtaMinutes">;
  state: WatchState;
  /** Whether the cluster has a live incident already. */
  live: boolean;
}

export interface WatchDecision {
  open: boolean;
  /** Minutes to the limit, when a time-to-limit warning is due now. */
  warn: number | null;
  gap: boolean;
  /** The state to remember for the next run. */
  state: WatchState;
}

/** What one sample means for the cluster (see the rules above). */
export function watchDecision(input: WatchInput): WatchDecision {
  const { recent, policy, state, live } = input;
  const latest = recent.at(-1);
  if (!latest || latest.percent === null) return { open: false, warn: null, gap: true, state };
  const armed = state.armed || latest.percent <= policy.actAtPercent - REARM_POINTS;
  const run = recent.slice(-OVER_SAMPLES_TO_OPEN);
  const over =
    run.length === OVER_SAMPLES_TO_OPEN &&
    run.every((s) => s.percent !== null && s.percent >= policy.actAtPercent);
  const open = over && armed && !live;
  const short = input.minutesToLimit !== null && input.minutesToLimit < policy.watchEtaMinutes;
  const warn = short && !state.etaWarned && !open ? input.minutesToLimit : null;
  return { open, warn, gap: false, state: { armed: armed && !open, etaWarned: short } };
}

/** The samples a cluster keeps at `nowMs` (see the retention rule above), oldest first. */
export function retainSamples<T extends { at: string }>(samples: readonly T[], nowMs: number): T[] {
  const sorted = [...samples]
    .filter((s) => Date.parse(s.at) >= nowMs - SAMPLE_RETENTION_MS)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const buckets = new Set<number>();
  const kept = sorted.filter((s) => {
    const t = Date.parse(s.at);
    if (t >= nowMs - FULL_RESOLUTION_MS) return true;
    const bucket = Math.floor(t / DOWNSAMPLE_BUCKET_MS);
    if (buckets.has(bucket)) return false;
    buckets.add(bucket);
    return true;
  });
  return kept.slice(-MAX_SAMPLES_PER_CLUSTER);
}

/** A sample of an assessment: its figures, or a gap when nothing could be measured. */
export function sampleOf(assessment: Assessment): StoredSample {
  return {
    at: assessment.at,
    current: assessment.current,
    limit: assessment.limit,
    percent: assessment.percent,
    tier: assessment.tier,
    sources: assessment.sources,
  };
}

export interface WatchSampleInput {
  groupId: string;
  clusterKey: string;
  clusterName: string;
  assessment: Assessment;
  policy: Pick<Policy, "actAtPercent" | "watchEtaMinutes">;
  now: Date;
  newId: NewId;
}

export interface WatchOutcome {
  cluster: string;
  gap: boolean;
  percent: number | null;
  /** The watch incident this sample opened. */
  opened: string | null;
  /** Minutes to the limit when this sample gave a time-to-limit warning. */
  warned: number | null;
  /** The live incident the warning was journaled on, if any (else it went out as a notice). */
  warnedOn: string | null;
}

/** Stores one sample and applies the rules; run inside `store.transaction`. */
export function applyWatchSample(store: IncidentStore, input: WatchSampleInput): WatchOutcome {
  const { assessment, clusterKey, clusterName, policy, now } = input;
  const at = now.toISOString();
  const sample = sampleOf(assessment);
  store.addSample(clusterKey, sample);
  // The trend reads the same history whether a run, a gather or a verification measured.
  if (assessment.current !== null) store.addReading(clusterKey, assessment.at, assessment.current);
  const since = new Date(now.getTime() - CONSECUTIVE_WINDOW_MS).toISOString();
  const live = store.liveIncident(clusterKey);
  const decision = watchDecision({
    recent: store.samples(clusterKey, since).slice(-OVER_SAMPLES_TO_OPEN),
    minutesToLimit: assessment.minutesToLimit,
    policy,
    state: store.watchState(clusterKey),
    live: live !== null,
  });
  store.saveWatchState(clusterKey, decision.state);
  const outcome: WatchOutcome = {
    cluster: clusterName,
    gap: decision.gap,
    percent: assessment.percent,
    opened: null,
    warned: decision.warn,
    warnedOn: null,
  };
  if (decision.open && assessment.percent !== null) {
    const id = input.newId(input.groupId, now);
    store.open({
      id,
      clusterKey,
      clusterName,
      mode: null,
      origin: "watch",
      at,
      nextRunAt: now.getTime(),
    });
    store.journal(id, at, {
      step: "watch",
      status: "opened",
      detail: { percent: assessment.percent, threshold: policy.actAtPercent, samples: OVER_SAMPLES_TO_OPEN },
    });
    outcome.opened = id;
  }
  if (decision.warn !== null) {
    if (live) {
      store.journal(live.id, at, {
        step: "watch",
        status: "eta",
        detail: {
          minutesToLimit: decision.warn,
          thresholdMinutes: policy.watchEtaMinutes,
          percent: assessment.percent,
        },
      });
      outcome.warnedOn = live.id;
    } else {
      store.notice({
        clusterKey,
        clusterName,
        at,
        summary: etaSummary(clusterName, decision.warn, assessment.percent),
      });
    }
  }
  return outcome;
}

/** The warning's one line: figures and names only. */
export function etaSummary(cluster: string, minutes: number, percent: number | null): string {
  const share = percent === null ? "" : ` (now ${percent}% of the limit)`;
  return `${cluster} reaches its connection limit in about ${minutes} min at the current trend${share}; watching, nothing done`;
}

/**
 * Samples one cluster: every source read in parallel (the same sources and footprint as the
 * pipeline's measuring: one short-lived driver client per read), assessed with the stored history,
 * then `applyWatchSample` in one transaction.
 */
export async function watchCluster(ctx: StepContext, cluster: string, newId: NewId): Promise<WatchOutcome> {
  const { deps, store } = ctx;
  const clusterKey = `name:${cluster}`;
  const readings = await readAll(deps.sources({ groupId: ctx.groupId, cluster, alert: null }), deps.now());
  const now = deps.now();
  const assessment = assess({
    readings,
    history: store.readings(clusterKey),
    tierHint: deps.config.cluster(ctx.groupId, cluster)?.tier ?? null,
    now,
  });
  return store.transaction(() =>
    applyWatchSample(store, {
      groupId: ctx.groupId,
      clusterKey,
      clusterName: cluster,
      assessment,
      policy: deps.config.policy,
      now,
      newId,
    }),
  );
}
