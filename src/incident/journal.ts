/**
 * The journal: every step's outcome, one typed entry each. Writers build entries through the
 * union below, so a step cannot journal a shape the readers (the API, Slack, the dashboard) do not
 * know; readers decode stored rows with `decodeEntry`, which also reads rows written by earlier
 * versions (their shapes are the same, with fewer fields).
 *
 * The wire shape stays `{at, step, status, detail}` (DESIGN §3): the typed fields live in `detail`.
 * Journal text is for people: no step reads state back from it.
 */
import * as z from "zod";
import type { Advice } from "../response/advice.ts";
import type { Decision } from "../response/policy.ts";
import type { Assessment } from "../stats/assess.ts";
import type { Finding } from "../stats/types.ts";

/** A delivery as journaled: the alert's identity and figure. */
export interface AlertSummary {
  alertId: string;
  event: string | null;
  status: string;
  metric: string | null;
  value: number | null;
}

/** The part of an assessment worth journaling: figures and sources, not the whole series. */
export interface AssessmentDetail {
  tier: string | null;
  current: number | null;
  limit: number | null;
  percent: number | null;
  trendPerMinute: number | null;
  minutesToLimit: number | null;
  byApp: Array<{ app: string; env: string | null; connections: number }>;
  sources: Array<{ name: string; ok: boolean; error: string | null }>;
  findings: Finding[];
}

/** A decision as journaled: names and figures only. One shape per decision kind. */
export type PlanDetail =
  | { target: string; kind: string; reason: string; culprits: string[] } // redeploy
  | { action: "test failover"; reason: string } // failover
  | { percent: number; threshold: number } // below-threshold
  | { target: string; reason: "cooldown" | "hourly-cap"; until: string } // blocked
  | { until: string } // snoozed
  | { target: string } // unknown-outcome
  | { tried: string[] } // exhausted
  | { reason: string }; // no-targets, cannot-measure

/** A planned call, safe to show: the endpoint has every secret part replaced by the target's name. */
export interface CallDetail {
  target: string;
  kind: string;
  action: string;
  method?: string;
  endpoint?: string;
}

interface Figures {
  current: number | null;
  percent: number | null;
}

export type JournalEvent =
  | {
      step: "intake";
      status: "opened" | "joined" | "noted" | "alert-closed" | "alert-cancelled" | "stale" | "ignored";
      detail: AlertSummary;
    }
  | { step: "intake"; status: "merged"; detail: { from: string } }
  | { step: "trigger"; status: "opened" | "joined"; detail: { reason: string | null; dryRun: boolean } }
  | { step: "stats"; status: "ok" | "partial" | "final"; detail: AssessmentDetail }
  | { step: "stats"; status: "identified"; detail: { cluster: string; via: string } }
  | { step: "plan"; status: Decision["kind"]; detail: PlanDetail }
  | { step: "advice"; status: "ok"; detail: { advice: Advice[] } }
  | { step: "approval"; status: "requested"; detail: PlanDetail }
  | {
      step: "approval";
      status: "approved" | "skipped";
      detail: { by: string | null; source: DecisionSource };
    }
  | {
      step: "approval";
      status: "snoozed";
      detail: { by: string | null; until: string; source: DecisionSource };
    }
  | { step: "approval"; status: "refused"; detail: { by: string | null; decision: string; reason: string } }
  | { step: "action"; status: "sending"; detail: CallDetail & { attempt: number } }
  | {
      step: "action";
      status: "started" | "failed" | "unknown";
      detail: { target: string; platform?: string; kind?: string; detail: string } & Record<string, unknown>;
    }
  | { step: "action"; status: "dry-run"; detail: CallDetail }
  | { step: "action"; status: "notify-only"; detail: { wouldDo: PlanDetail } }
  | { step: "action"; status: "held"; detail: { detail: string } }
  | { step: "action"; status: "deferred"; detail: { target: string; detail: string } }
  | {
      step: "action";
      status: "killop";
      detail: {
        killed: OperationSummary[];
        refused: OperationSummary[];
        spared: OperationSummary[];
        skipped?: string;
      };
    }
  | {
      step: "verify";
      status: "recovered" | "still-high" | "unmeasured";
      detail: { check: number; of: number } & AssessmentDetail;
    }
  | { step: "incident"; status: "resolved"; detail: { before: Figures; after: Figures; note: string } }
  | { step: "incident"; status: "escalated" | "closed"; detail: { reason: string } }
  | { step: "slack"; status: "failed" | "unknown"; detail: { error: string; detail?: string } }
  | { step: "notify"; status: "failed" | "unknown"; detail: { error: string; detail?: string } }
  | { step: "watch"; status: "opened"; detail: { percent: number; threshold: number; samples: number } }
  | {
      step: "watch";
      status: "eta";
      detail: { minutesToLimit: number; thresholdMinutes: number; percent: number | null };
    }
  | { step: ErrorStep; status: "error"; detail: { error: string; message: string; retryInSeconds: number } };

/** Where a human decision came from. */
export type DecisionSource = "slack" | "dashboard" | "api" | "cli";

/** Steps that can fail unexpectedly (the phase that threw). */
export type ErrorStep = "gather" | "decide" | "act" | "verify" | "final-read" | "approval" | "idle";

export interface OperationSummary {
  app: string;
  ns: string;
  secondsRunning: number;
}

/** An entry as stored and served. */
export type JournalEntry = JournalEvent & { at: string };

/** The wire shape of an entry (DESIGN §3), which every reader accepts. */
export interface JournalRow {
  at: string;
  step: string;
  status: string;
  detail: Record<string, unknown>;
}

// -- writers' helpers -----------------------------------------------------------------------------

/** The journaled part of an assessment. */
export function assessmentDetail(a: Assessment): AssessmentDetail {
  return {
    tier: a.tier,
    current: a.current,
    limit: a.limit,
    percent: a.percent,
    trendPerMinute: a.trendPerMinute,
    minutesToLimit: a.minutesToLimit,
    byApp: a.byApp.map((app) => ({ app: app.app, env: app.env, connections: app.connections })),
    sources: a.sources,
    findings: a.findings,
  };
}

/** A decision as journaled: the one description that Slack, the dashboard and the API all read. */
export function planDetail(decision: Decision): PlanDetail {
  switch (decision.kind) {
    case "redeploy":
      return {
        target: decision.target.name,
        kind: decision.target.kind,
        reason: decision.reason,
        culprits: decision.culprits.map((c) => c.app),
      };
    case "failover":
      return { action: "test failover", reason: decision.reason };
    case "below-threshold":
      return { percent: decision.percent, threshold: decision.threshold };
    case "blocked":
      return { target: decision.target, reason: decision.reason, until: decision.until };
    case "snoozed":
      return { until: decision.until };
    case "unknown-outcome":
      return { target: decision.target };
    case "exhausted":
      return { tried: decision.tried };
    case "no-targets":
      return { reason: decision.reason };
    case "cannot-measure":
      return { reason: "no source could measure the connections" };
  }
}

// -- the decoder for stored rows ------------------------------------------------------------------

const record = z.record(z.string(), z.unknown());

/** Detail fields the readers rely on, per step and status; anything else passes through untouched. */
const REQUIRED: Record<string, z.ZodType> = {
  "intake:merged": z.object({ from: z.string() }).loose(),
  "stats:identified": z.object({ cluster: z.string(), via: z.string() }).loose(),
  "approval:refused": z.object({ decision: z.string() }).loose(),
  "action:sending": z.object({ target: z.string() }).loose(),
  "action:deferred": z.object({ target: z.string() }).loose(),
  "incident:escalated": z.object({ reason: z.string() }).loose(),
  "incident:closed": z.object({ reason: z.string() }).loose(),
  "incident:resolved": z.object({ before: record, after: record }).loose(),
  "advice:ok": z.object({ advice: z.array(record) }).loose(),
};

const rowSchema = z.object({
  at: z.string(),
  step: z.string().min(1),
  status: z.string().min(1),
  detail: record,
});

/**
 * Decodes one stored row (its `detail` already parsed from JSON). Rows of this and earlier versions
 * decode; a row that is not an entry at all (no step, a detail that is not an object) is an error
 * the caller reports, never a crash of the reader.
 */
export function decodeEntry(row: unknown): { ok: true; entry: JournalRow } | { ok: false; error: string } {
  const parsed = rowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, error: parsed.error.issues[0]?.message ?? "not a journal row" };
  const entry = parsed.data;
  const rule = REQUIRED[`${entry.step}:${entry.status}`];
  if (rule) {
    const checked = rule.safeParse(entry.detail);
    if (!checked.success) {
      return { ok: false, error: `${entry.step}:${entry.status}: ${checked.error.issues[0]?.message}` };
    }
  }
  return { ok: true, entry };
}

/** An entry in the wire shape. */
export function toRow(entry: JournalEntry): JournalRow {
  return { at: entry.at, step: entry.step, status: entry.status, detail: { ...entry.detail } };
}

// -- reading a plan back ----------------------------------------------------------------------------

const optionalString = z.string().optional().catch(undefined);
const optionalNumber = z.number().optional().catch(undefined);
const strings = z
  .array(z.unknown())
  .catch([])
  .transform((items) => items.filter((i): i is string => typeof i === "string"));

/**
 * A plan entry (`plan:<kind>` or `approval:requested`) read back for display, one shape per
 * decision kind: the same shapes `planDetail` writes, with every field optional, since a reader
 * must show rows of any age without trusting them.
 */
export type PlanView =
  | { kind: "redeploy"; target?: string; platform?: string; reason?: string; culprits: string[] }
  | { kind: "failover"; reason?: string }
  | { kind: "below-threshold"; percent?: number; threshold?: number }
  | { kind: "blocked"; target?: string; reason?: string; until?: string }
  | { kind: "snoozed"; until?: string }
  | { kind: "unknown-outcome"; target?: string }
  | { kind: "exhausted"; tried: string[] }
  | { kind: "no-targets" | "cannot-measure"; reason?: string }
  | { kind: "other"; status: string; reason?: string };

const planFields = z.object({
  target: optionalString,
  kind: optionalString,
  action: optionalString,
  reason: optionalString,
  until: optionalString,
  percent: optionalNumber,
  threshold: optionalNumber,
  culprits: strings.optional(),
  tried: strings.optional(),
});

/** The plan an entry describes; `approval:requested` entries carry the plan awaiting approval. */
export function readPlan(row: JournalRow): PlanView {
  const d = planFields.parse(row.detail);
  const status =
    row.step === "approval" ? (d.action === "test failover" ? "failover" : "redeploy") : row.status;
  switch (status) {
    case "redeploy":
      return {
        kind: "redeploy",
        target: d.target,
        platform: d.kind,
        reason: d.reason,
        culprits: d.culprits ?? [],
      };
    case "failover":
      return { kind: "failover", reason: d.reason };
    case "below-threshold":
      return { kind: "below-threshold", percent: d.percent, threshold: d.threshold };
    case "blocked":
      return { kind: "blocked", target: d.target, reason: d.reason, until: d.until };
    case "snoozed":
      return { kind: "snoozed", until: d.until };
    case "unknown-outcome":
      return { kind: "unknown-outcome", target: d.target };
    case "exhausted":
      return { kind: "exhausted", tried: d.tried ?? [] };
    case "no-targets":
    case "cannot-measure":
      return { kind: status, reason: d.reason };
    default:
      return { kind: "other", status, reason: d.reason };
  }
}
