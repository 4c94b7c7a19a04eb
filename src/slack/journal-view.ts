/**
 * The journal as the Slack message shows it: reading entries defensively (details are `unknown` by
 * contract), the latest reading of each stats or verify step, and the lines and sentences the
 * message is made of — figures, trend, sparkline, the plan as a sentence, action, verification and
 * timeline lines, the outcome. Every outside value is escaped through ./escape.ts on its way in.
 *
 * Plans are read through the journal's own reader (`readPlan` in src/incident/journal.ts), the
 * shapes the core writes; other details are read by key. Either way every field is optional, so an
 * entry written by an older or newer version still renders (a missing field shows as "?") instead of
 * failing the whole message.
 */
import { readPlan } from "../incident/journal.ts";
import type { IncidentState, JournalEntry } from "../incident/view.ts";
import { escapeText, timeOf, when, who } from "./escape.ts";

/** The sparkline spans this long. */
const SPARK_WINDOW_MS = 60 * 60 * 1000;
/** At most this many sparkline characters (one per reading, newest last). */
const SPARK_POINTS = 30;

export type Detail = Record<string, unknown>;

export const isRecord = (value: unknown): value is Detail =>
  typeof value === "object" && value !== null && !Array.isArray(value);
export const str = (d: Detail, key: string): string | undefined => {
  const v = d[key];
  return typeof v === "string" && v !== "" ? v : undefined;
};
export const num = (d: Detail, key: string): number | undefined => {
  const v = d[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
};
export const list = (d: Detail, key: string): unknown[] => {
  const v = d[key];
  return Array.isArray(v) ? v : [];
};
export const detailOf = (entry: JournalEntry): Detail => (isRecord(entry.detail) ? entry.detail : {});

export interface Reading {
  at: string;
  tier?: string;
  current: number;
  limit?: number;
  percent?: number;
  trendPerMinute?: number;
  minutesToLimit?: number;
  byApp: { app: string; env?: string; connections: number }[];
  sources: { name: string; ok: boolean; error?: string }[];
  findings: string[];
}

export function readingOf(entry: JournalEntry): Reading | null {
  if (entry.step !== "stats" && entry.step !== "verify") return null;
  const d = detailOf(entry);
  const current = num(d, "current");
  if (current === undefined) return null;
  const limit = num(d, "limit");
  let percent = num(d, "percent");
  if (percent === undefined && limit) percent = (current / limit) * 100;
  return {
    at: entry.at,
    tier: str(d, "tier"),
    current,
    limit,
    percent,
    trendPerMinute: num(d, "trendPerMinute"),
    minutesToLimit: num(d, "minutesToLimit"),
    byApp: list(d, "byApp")
      .filter(isRecord)
      .map((a) => ({
        app: str(a, "app") ?? "(unnamed)",
        env: str(a, "env"),
        connections: num(a, "connections") ?? 0,
      }))
      .sort((a, b) => b.connections - a.connections),
    sources: list(d, "sources")
      .filter(isRecord)
      .map((s) => ({ name: str(s, "name") ?? "source", ok: s.ok === true, error: str(s, "error") })),
    findings: list(d, "findings")
      .filter(isRecord)
      .map((f) => str(f, "detail") ?? str(f, "kind") ?? "")
      .filter(Boolean),
  };
}

export const lastOf = (journal: readonly JournalEntry[], step: string): JournalEntry | undefined =>
  journal.findLast((e) => e.step === step);

export const STATE_EMOJI: Record<IncidentState, string> = {
  open: ":large_orange_circle:",
  "awaiting-approval": ":raised_hand:",
  acting: ":hammer_and_wrench:",
  verifying: ":mag:",
  resolved: ":white_check_mark:",
  escalated: ":rotating_light:",
  closed: ":white_circle:",
};

export const STATE_LABEL: Record<IncidentState, string> = {
  open: "Open",
  "awaiting-approval": "Awaiting approval",
  acting: "Acting",
  verifying: "Verifying",
  resolved: "Resolved",
  escalated: "Escalated",
  closed: "Closed",
};

const ACTION_EMOJI: Record<string, string> = {
  sending: ":hourglass_flowing_sand:",
  started: ":white_check_mark:",
  failed: ":x:",
  unknown: ":grey_question:",
  "dry-run": ":test_tube:",
  "notify-only": ":mega:",
  deferred: ":double_vertical_bar:",
};

const VERIFY_EMOJI: Record<string, string> = {
  recovered: ":white_check_mark:",
  "still-high": ":warning:",
  unmeasured: ":grey_question:",
};

const SPARK = "▁▂▃▄▅▆▇█";

export const int = (n: number): string => Math.round(n).toLocaleString("en-US");
export const pct = (n: number): string => `${n < 10 ? Math.round(n * 10) / 10 : Math.round(n)}%`;

/** "412 / 500 (82%)", "412 (limit unknown)". */
export function figures(current: number, limit: number | undefined, percent: number | undefined): string {
  if (limit === undefined) return `${int(current)}${percent === undefined ? "" : ` (${pct(percent)})`}`;
  return `${int(current)} / ${int(limit)}${percent === undefined ? "" : ` (${pct(percent)})`}`;
}

/** "HH:MM" in UTC, for timeline lines (short, so more history fits). */
function hhmm(iso: string): string {
  const t = timeOf(iso);
  if (Number.isNaN(t)) return "--:--";
  return new Date(t).toISOString().slice(11, 16);
}

/** "in 12 min" / "3 min ago" relative to the render time. */
export function relative(iso: string | undefined, now: Date): string {
  const t = timeOf(iso);
  if (Number.isNaN(t)) return "";
  const minutes = Math.round((t - now.getTime()) / 60_000);
  if (minutes === 0) return "now";
  return minutes > 0 ? `in ${minutes} min` : `${-minutes} min ago`;
}

export function sparkline(
  journal: readonly JournalEntry[],
  limit: number | undefined,
  now: Date,
): string | null {
  const from = now.getTime() - SPARK_WINDOW_MS;
  const values = journal
    .filter((e) => {
      const t = timeOf(e.at);
      return t >= from && t <= now.getTime() + 60_000;
    })
    .map(readingOf)
    .filter((r): r is Reading => r !== null)
    .map((r) => r.current)
    .slice(-SPARK_POINTS);
  if (values.length < 2) return null;
  // Scaled to the limit where known, so a flat line near the top reads "stuck near the limit".
  const top = Math.max(limit ?? 0, ...values, 1);
  const chars = values.map((v) => SPARK[Math.min(7, Math.max(0, Math.round((v / top) * 7)))]).join("");
  return `\`${chars}\` ${int(values[0]!)} → ${int(values.at(-1)!)} over the last hour`;
}

export function trend(reading: Reading): string {
  const perMinute = reading.trendPerMinute;
  let text: string;
  if (perMinute === undefined) text = "unknown";
  else if (Math.abs(perMinute) < 0.05) text = "steady";
  else text = `${perMinute > 0 ? "+" : "−"}${Math.abs(Math.round(perMinute * 10) / 10)}/min`;
  if (reading.minutesToLimit !== undefined && (perMinute ?? 0) > 0) {
    text +=
      reading.minutesToLimit <= 0
        ? " · at the limit"
        : ` · limit in ~${Math.ceil(reading.minutesToLimit)} min`;
  }
  return text;
}

/** The plan as one sentence. */
export function describePlan(entry: JournalEntry, now: Date): string {
  // The plan is read through the journal's own shapes (readPlan), the ones the core writes.
  const plan = readPlan(entry);
  const present = (value: string | undefined) => (value ? value : undefined);
  const reason = "reason" in plan ? present(plan.reason) : undefined;
  const because = reason ? ` — ${escapeText(reason)}` : "";
  const target = escapeText(("target" in plan ? present(plan.target) : undefined) ?? "?");
  const until = (at: string | undefined) => (at ? ` until ${when(at)} (${relative(at, now)})` : "");
  const names = (items: string[], max: number, width: number) =>
    items
      .slice(0, max)
      .map((c) => escapeText(c, width))
      .join(", ");
  switch (plan.kind) {
    case "redeploy": {
      const platform = present(plan.platform);
      const blame = plan.culprits.length
        ? ` Culprits: ${names(plan.culprits, 8, 60)}${plan.culprits.length > 8 ? ` and ${plan.culprits.length - 8} more` : ""}.`
        : "";
      return `Redeploy *${target}*${platform ? ` (${escapeText(platform, 20)})` : ""}${because}.${blame}`;
    }
    case "failover":
      return `Test failover of the primary (drops every connection)${because}.`;
    case "below-threshold":
      return `No action: ${plan.percent === undefined ? "usage" : pct(plan.percent)} is below the ${
        plan.threshold === undefined ? "action" : pct(plan.threshold)
      } threshold.`;
    case "blocked": {
      const why =
        reason === "hourly-cap"
          ? "the hourly action cap"
          : reason === "cooldown"
            ? "its cooldown"
            : escapeText(reason ?? "policy");
      return `Blocked: *${target}* is held by ${why}${until(present(plan.until))}.`;
    }
    case "snoozed":
      return `Snoozed${until(present(plan.until))}.`;
    case "unknown-outcome":
      return `A previous action on *${target}* has an unknown outcome: a human must check it before anything else is fired.`;
    case "exhausted":
      return `Everything the policy allows has been tried${plan.tried.length ? `: ${names(plan.tried, 10, 60)}` : ""}.`;
    case "no-targets":
      return `No redeploy target owns this cluster${because}.`;
    case "cannot-measure":
      return `Cannot measure connections right now${because}.`;
    case "other":
      return `${escapeText(plan.status, 40)}${because}.`;
  }
}

/** Action entries, with each `sending` folded into the outcome that followed it. */
export function actionLines(journal: readonly JournalEntry[]): string[] {
  const rows: { key: string; entry: JournalEntry; action: string | undefined }[] = [];
  for (const entry of journal) {
    if (entry.step !== "action") continue;
    const d = detailOf(entry);
    const key = `${str(d, "target") ?? ""}|${str(d, "action") ?? ""}`;
    // Outcomes journaled before they carried the action name fold into their target's last call.
    const sameCall = (r: { key: string }) =>
      str(d, "action") === undefined ? r.key.startsWith(`${str(d, "target") ?? ""}|`) : r.key === key;
    const pending = rows.findLastIndex((r) => sameCall(r) && r.entry.status === "sending");
    if (pending >= 0 && entry.status !== "sending") {
      rows[pending] = { key, entry, action: str(d, "action") ?? rows[pending]!.action };
    } else rows.push({ key, entry, action: str(d, "action") });
  }
  return rows.map(({ entry, action: name }) => {
    const d = detailOf(entry);
    const emoji = ACTION_EMOJI[entry.status] ?? ":small_blue_diamond:";
    const action = escapeText(name ?? "action", 40);
    const target = escapeText(str(d, "target") ?? "?");
    const kind = str(d, "kind") ?? str(d, "platform");
    const status = escapeText(entry.status, 20);
    const detail = str(d, "detail");
    const deployId = str(d, "deployId");
    let line = `${emoji} ${hhmm(entry.at)} ${action} *${target}*${kind ? ` (${escapeText(kind, 20)})` : ""}: ${status}`;
    if (entry.status === "dry-run" && str(d, "endpoint")) {
      line += ` — would ${escapeText(str(d, "method") ?? "call", 10)} ${escapeText(str(d, "endpoint"), 120)}`;
    }
    if (detail) line += ` — ${escapeText(detail)}`;
    if (deployId) line += ` (deploy ${escapeText(deployId, 60)})`;
    if (entry.status === "unknown") line += " — *a human must check*";
    return line;
  });
}

export function verifyLines(journal: readonly JournalEntry[]): string[] {
  return journal
    .filter((e) => e.step === "verify")
    .map((entry) => {
      const d = detailOf(entry);
      const check = num(d, "check");
      const of = num(d, "of");
      const reading = readingOf(entry);
      const label = check !== undefined ? `Check ${check}${of !== undefined ? ` of ${of}` : ""}` : "Check";
      const measured = reading ? `: ${figures(reading.current, reading.limit, reading.percent)}` : "";
      return `${VERIFY_EMOJI[entry.status] ?? ":small_blue_diamond:"} ${hhmm(entry.at)} ${label} — ${escapeText(
        entry.status.replace("-", " "),
        20,
      )}${measured}`;
    });
}

/** One timeline line per journal entry. */
export function timelineLine(entry: JournalEntry, now: Date): string {
  const d = detailOf(entry);
  const head = `\`${hhmm(entry.at)}\` ${escapeText(entry.step, 20)} ${escapeText(entry.status, 30)}`;
  let summary = "";
  if (entry.status === "error") {
    const retry = num(d, "retryInSeconds");
    summary = `${escapeText(str(d, "message") ?? str(d, "error") ?? "")}${retry === undefined ? "" : ` (retry in ${int(retry)} s)`}`;
    return `${head} — ${summary}`;
  }
  switch (entry.step) {
    case "intake": {
      const value = d.value === undefined || d.value === null ? "" : ` = ${escapeText(d.value, 20)}`;
      summary =
        `${escapeText(str(d, "event") ?? "", 30)} ${escapeText(str(d, "metric") ?? "", 40)}${value}`.trim();
      break;
    }
    case "trigger":
      summary = `${escapeText(str(d, "reason") ?? "manual")}${d.dryRun === true ? " (dry run)" : ""}`;
      break;
    case "stats":
    case "verify": {
      const r = readingOf(entry);
      summary = r ? figures(r.current, r.limit, r.percent) : "";
      break;
    }
    case "plan":
      summary = describePlan(entry, now);
      break;
    case "approval":
      summary = entry.status === "requested" ? "" : `by ${who(d.by)}`;
      break;
    case "action":
      summary = `${escapeText(str(d, "action") ?? "", 30)} ${escapeText(str(d, "target") ?? "")}`.trim();
      break;
    case "incident":
      summary = escapeText(str(d, "reason") ?? str(d, "note") ?? "");
      break;
    default:
      break;
  }
  return summary ? `${head} — ${summary}` : head;
}

export function outcomeText(journal: readonly JournalEntry[]): string | null {
  const entry = lastOf(journal, "incident");
  if (!entry) return null;
  const d = detailOf(entry);
  switch (entry.status) {
    case "resolved": {
      const before = isRecord(d.before) ? d.before : {};
      const after = isRecord(d.after) ? d.after : {};
      const side = (s: Detail) => {
        const current = num(s, "current");
        const percent = num(s, "percent");
        if (current === undefined) return "?";
        return `${int(current)}${percent === undefined ? "" : ` (${pct(percent)})`}`;
      };
      const note = str(d, "note");
      return `:white_check_mark: *Resolved* — before → after: *${side(before)}* → *${side(after)}*${
        note ? `\n${escapeText(note, 600)}` : ""
      }`;
    }
    case "escalated":
      return `:rotating_light: *Escalated* — ${escapeText(str(d, "reason") ?? "needs a human", 600)}`;
    case "closed":
      return `:white_circle: *Closed* — ${escapeText(str(d, "reason") ?? "closed", 600)}`;
    default:
      return `*${escapeText(entry.status, 30)}*`;
  }
}
