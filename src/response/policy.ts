/**
 * The policy: what to do about a cluster's connections right now. Pure — a function of the
 * assessment, what was already tried, recent actions, configuration and the clock — so every rule
 * that keeps the responder from making an outage worse is tested without a network.
 *
 * Rules (DESIGN §2, §5):
 * - Act only at or above `actAtPercent`, and never blind: no figure, no action.
 * - Where connections are attributed (M10+), redeploy the targets owning the apps that hold most of
 *   them. Where they are not (M0/Flex), the targets that own the cluster, one at a time in
 *   configured order, verifying between them.
 * - Per target: a cooldown, and at most `maxRedeploysPerIncident` per incident. In total: at most
 *   `maxActionsPerHour`. A call whose outcome is unknown stops all automatic action.
 * - Failover (restart primaries) only on dedicated tiers, only with explicit approval, at most once
 *   per cluster per 24 h.
 */
import { isSharedTier } from "../atlas/tiers.ts";
import type { Policy, Target } from "../config/schema.ts";
import type { Assessment } from "../stats/assess.ts";
import type { AppConnections } from "../stats/types.ts";

/** Culprits are the largest apps that together hold at least this share of attributed connections. */
const CULPRIT_SHARE = 0.5;
const FAILOVER_INTERVAL_MS = 24 * 3600_000;
const HOUR_MS = 3600_000;

/** One action already taken, in this incident or (for the caps) anywhere. */
export interface PastAction {
  target: string;
  at: string;
  outcome: "sending" | "started" | "failed" | "unknown";
}

export interface PlanInput {
  assessment: Assessment;
  cluster: string;
  policy: Policy;
  targets: readonly Target[];
  /** Actions of this incident, oldest first. */
  attempts: readonly PastAction[];
  /** Actions on any cluster in at least the last hour, and each target's latest: for the caps. */
  recentActions: readonly PastAction[];
  /** When this cluster last failed over, if ever. */
  lastFailoverAt: string | null;
  snoozedUntil: string | null;
  now: Date;
}

export type Decision =
  | { kind: "below-threshold"; percent: number; threshold: number }
  | { kind: "cannot-measure" }
  | { kind: "snoozed"; until: string }
  | { kind: "unknown-outcome"; target: string }
  | { kind: "redeploy"; target: Target; culprits: AppConnections[]; reason: string }
  | { kind: "blocked"; reason: "cooldown" | "hourly-cap"; target: string; until: string }
  | { kind: "failover"; reason: string }
  | { kind: "exhausted"; tried: string[] }
  | { kind: "no-targets"; reason: string };

/** Decides the next step for an incident. */
export function plan(input: PlanInput): Decision {
  const { assessment, policy, now } = input;
  if (input.snoozedUntil && Date.parse(input.snoozedUntil) > now.getTime()) {
    return { kind: "snoozed", until: input.snoozedUntil };
  }
  const unknown = input.attempts.find((a) => a.outcome === "unknown" || a.outcome === "sending");
  if (unknown) return { kind: "unknown-outcome", target: unknown.target };
  if (assessment.percent === null) return { kind: "cannot-measure" };
  if (assessment.percent < policy.actAtPercent) {
    return { kind: "below-threshold", percent: assessment.percent, threshold: policy.actAtPercent };
  }

  const owning = input.targets.filter((t) => t.clusters.length === 0 || t.clusters.includes(input.cluster));
  const culprits = assessment.attributed ? culpritsOf(assessment.byApp) : [];
  const candidates = assessment.attributed
    ? culprits.flatMap((app) => owning.filter((t) => ownsApp(t, app))).filter(unique)
    : owning;

  const dedicated = assessment.tier !== null && !isSharedTier(assessment.tier);
  const failover = (reason: string): Decision => {
    const last = input.lastFailoverAt ? Date.parse(input.lastFailoverAt) : Number.NEGATIVE_INFINITY;
    if (dedicated && now.getTime() - last >= FAILOVER_INTERVAL_MS) return { kind: "failover", reason };
    return { kind: "no-targets", reason };
  };

  if (candidates.length === 0) {
    if (assessment.attributed) {
      const names = culprits.map((c) => c.app).join(", ");
      return failover(`no target owns the apps holding most connections (${names})`);
    }
    return failover(`no target owns cluster ${input.cluster}`);
  }

  // Fewest attempts first, then configured order: every target gets one try before any gets two.
  // A target whose platform refused the call is not asked again in this incident: it would refuse again.
  const tries = (t: Target) => input.attempts.filter((a) => a.target === t.name).length;
  const refused = (t: Target) => input.attempts.some((a) => a.target === t.name && a.outcome === "failed");
  const open = candidates
    .map((target, order) => ({ target, order, tries: tries(target) }))
    .filter((c) => c.tries < policy.maxRedeploysPerIncident && !refused(c.target))
    .sort((a, b) => a.tries - b.tries || a.order - b.order);
  const next = open[0];
  if (!next) {
    const tried = candidates.map((t) => t.name);
    return dedicated && input.lastFailoverAt === null
      ? failover(`redeploying ${tried.join(", ")} did not help`)
      : { kind: "exhausted", tried };
  }

  const blocked = budgetCheck(next.target.name, input.recentActions, policy, now);
  if (blocked) return { kind: "blocked", target: next.target.name, ...blocked };

  const reason = assessment.attributed
    ? `${describeCulprits(culprits.filter((c) => ownsApp(next.target, c)))} on ${input.cluster}`
    : `${input.cluster} at ${assessment.percent} % of its connection limit; ${next.target.name} owns it`;
  return {
    kind: "redeploy",
    target: next.target,
    culprits: culprits.filter((c) => ownsApp(next.target, c)),
    reason,
  };
}

/**
 * The cooldown and hourly cap for one target, given recent actions. Null when the action may go
 * ahead. Shared with the limiter that re-checks it atomically before a call is made.
 */
export function budgetCheck(
  target: string,
  recent: readonly PastAction[],
  policy: Pick<Policy, "cooldownMinutes" | "maxActionsPerHour">,
  now: Date,
): { reason: "cooldown" | "hourly-cap"; until: string } | null {
  const t = now.getTime();
  // Every attempt counts, refused ones included: the caps bound how often we poke a platform at all.
  const counted = recent;
  const lastOnTarget = counted
    .filter((a) => a.target === target)
    .map((a) => Date.parse(a.at))
    .reduce((max, at) => Math.max(max, at), Number.NEGATIVE_INFINITY);
  const cooldownEnds = lastOnTarget + policy.cooldownMinutes * 60_000;
  if (cooldownEnds > t) return { reason: "cooldown", until: new Date(cooldownEnds).toISOString() };
  // A cap of 0 means "never act": blocked for the coming hour, and again after it.
  if (policy.maxActionsPerHour === 0)
    return { reason: "hourly-cap", until: new Date(t + HOUR_MS).toISOString() };
  const lastHour = counted
    .map((a) => Date.parse(a.at))
    .filter((at) => at > t - HOUR_MS)
    .sort((a, b) => a - b);
  if (lastHour.length >= policy.maxActionsPerHour) {
    const frees = lastHour[lastHour.length - policy.maxActionsPerHour]! + HOUR_MS;
    return { reason: "hourly-cap", until: new Date(frees).toISOString() };
  }
  return null;
}

/** The largest apps that together hold at least half of the attributed connections. */
export function culpritsOf(byApp: readonly AppConnections[]): AppConnections[] {
  const sorted = [...byApp].sort((a, b) => b.connections - a.connections);
  const total = sorted.reduce((sum, app) => sum + app.connections, 0);
  const culprits: AppConnections[] = [];
  let held = 0;
  for (const app of sorted) {
    if (held >= total * CULPRIT_SHARE && culprits.length > 0) break;
    culprits.push(app);
    held += app.connections;
  }
  return culprits;
}

/** A target owns an app by `appName`, or by `env.name` when it lists no app names. */
function ownsApp(target: Target, app: AppConnections): boolean {
  if (target.appNames.length > 0) return target.appNames.includes(app.app);
  return app.env !== null && target.envNames.includes(app.env);
}

function describeCulprits(apps: readonly AppConnections[]): string {
  return apps
    .map((a) => `${a.app}${a.env ? ` (${a.env})` : ""} holds ${a.connections} connections`)
    .join("; ");
}

function unique<T>(value: T, index: number, all: readonly T[]): boolean {
  return all.indexOf(value) === index;
}
