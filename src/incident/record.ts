/**
 * The incident as the core sees it: its states and phases, the record every store keeps, and the
 * zod decoders for what a store gives back (stored JSON is read through these, never cast).
 *
 * `state` is what people see (DESIGN §3); `phase` is where the step machine stands. Facts the steps
 * need later — when approval was asked, how often a deploy made us wait, whether killOp ran — are
 * fields here, never re-derived from the journal's text.
 */
import * as z from "zod";
import type { Assessment } from "../stats/assess.ts";

export const INCIDENT_STATES = [
  "open",
  "awaiting-approval",
  "acting",
  "verifying",
  "resolved",
  "escalated",
  "closed",
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const PHASES = ["gather", "decide", "approval", "act", "verify", "final-read", "idle"] as const;
export type Phase = (typeof PHASES)[number];

/** A run is either dry (asked for by a trigger) or follows the configured mode at the time it decides. */
export type RunMode = "dry-run" | null;

/** Who opened the incident: an Atlas alert, a person (trigger), or the cron watch (src/incident/watch.ts). */
export type Origin = "atlas" | "manual" | "watch";

/** The latest alert's figure, for the gather step. */
export interface AlertValue {
  metricName: string;
  value: number;
  at: string;
}

/** The decision awaiting approval or being acted on: names only, so it survives a config change. */
export type StoredDecision =
  | { kind: "redeploy"; target: string; reason: string; culprits: string[] }
  | { kind: "failover"; reason: string };

export interface IncidentRecord {
  id: string;
  clusterKey: string;
  clusterName: string;
  state: IncidentState;
  phase: Phase;
  /** Epoch ms when the step machine should advance it; null while it waits on a person or rests. */
  nextRunAt: number | null;
  mode: RunMode;
  origin: Origin;
  openedAt: string;
  updatedAt: string;
  alert: AlertValue | null;
  /** The first assessment (the "before" people are shown) and the latest. */
  before: Assessment | null;
  last: Assessment | null;
  decision: StoredDecision | null;
  /** Verification reads done since the last action. */
  checksDone: number;
  /** Consecutive step errors (backs off the step machine). */
  failures: number;
  /** When the current approval was asked for: a click on an older request changes nothing. */
  approvalRequestedAt: string | null;
  /** How many times a running deploy made the current action wait. */
  deferrals: number;
  /** Whether this incident already tried to end the responder's own long-running reads (once only). */
  killOpDone: boolean;
  /** Whether the prevention advice was journaled (once per incident, at its first actionable plan). */
  advised: boolean;
}

/** The fields a transition may change; `updatedAt` is always set by the store. */
export type IncidentChanges = Partial<
  Pick<
    IncidentRecord,
    | "state"
    | "phase"
    | "nextRunAt"
    | "mode"
    | "alert"
    | "before"
    | "last"
    | "decision"
    | "checksDone"
    | "failures"
    | "approvalRequestedAt"
    | "deferrals"
    | "killOpDone"
    | "advised"
  > & { closedAt: string }
>;

/** What opening an incident needs; every other field starts at its resting value. */
export interface NewIncident {
  id: string;
  clusterKey: string;
  clusterName: string;
  mode: RunMode;
  origin: Origin;
  at: string;
  nextRunAt: number;
}

export const ACTION_STATUSES = ["sending", "started", "failed", "unknown", "dry-run"] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

/** One outbound action of an incident: written as `sending` before the call, settled after. */
export interface ActionRecord {
  id: number;
  incidentId: string;
  target: string;
  kind: string;
  attempt: number;
  status: ActionStatus;
  at: string;
  idempotencyKey: string;
  detail: Record<string, unknown>;
}

// -- decoders for stored JSON -------------------------------------------------------------------

const nullableNumber = z.number().nullable();

const appSchema = z.object({
  app: z.string(),
  env: z.string().nullable(),
  region: z.string().nullable().default(null),
  driver: z.string().nullable().default(null),
  hosts: z.array(z.string()).default([]),
  connections: z.number(),
});

const findingSchema = z.object({
  kind: z.enum(["tier-refused", "cluster-full", "partial"]),
  detail: z.string(),
});

/** An assessment as stored by this version or an earlier one. */
export const assessmentSchema: z.ZodType<Assessment> = z.object({
  at: z.string(),
  tier: z.string().nullable(),
  current: nullableNumber,
  limit: nullableNumber,
  percent: nullableNumber,
  trendPerMinute: nullableNumber.default(null),
  minutesToLimit: nullableNumber.default(null),
  byApp: z.array(appSchema).default([]),
  attributed: z.boolean().default(false),
  series: z.array(z.object({ at: z.string(), value: z.number() })).default([]),
  sources: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().nullable() })).default([]),
  findings: z.array(findingSchema).default([]),
});

export const storedDecisionSchema: z.ZodType<StoredDecision> = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("redeploy"),
    target: z.string(),
    reason: z.string(),
    culprits: z.array(z.string()).default([]),
  }),
  z.object({ kind: z.literal("failover"), reason: z.string() }),
]);

export const alertValueSchema: z.ZodType<AlertValue> = z.object({
  metricName: z.string(),
  value: z.number(),
  at: z.string(),
});
