/**
 * What `fix:connections` shows and how it ends, read from the incident journal's wire rows
 * (`{at, step, status, detail}`, DESIGN §3). The local run and `--worker` read the same rows, so
 * both print the same lines and answer the same exit code for the same story.
 *
 * Journal details never hold a secret (endpoints are already sanitised by the adapters' `plan()`),
 * so every line here is built from them and nothing else.
 */
import type { JournalRow } from "../incident/journal.ts";

export interface Paint {
  bold(text: string): string;
  dim(text: string): string;
  good(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
}

const ESC = "\x1b[";
export function createPaint(enabled: boolean): Paint {
  const wrap = (code: string) => (text: string) => (enabled ? `${ESC}${code}m${text}${ESC}0m` : text);
  return { bold: wrap("1"), dim: wrap("2"), good: wrap("32"), bad: wrap("31"), warn: wrap("33") };
}

type Detail = Record<string, unknown>;
const str = (v: unknown, fallback = "?"): string => (typeof v === "string" ? v : fallback);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const label = (text: string) => text.padEnd(11);

/** `18 / 20 (90.0 %)` from a detail holding current, limit and percent. */
export function figures(detail: Detail): string {
  const current = num(detail.current);
  const limit = num(detail.limit);
  const percent = num(detail.percent);
  return `${current ?? "?"} / ${limit ?? "?"} (${percent === null ? "?" : `${percent.toFixed(1)} %`})`;
}

function measuredLines(detail: Detail, paint: Paint): string[] {
  const lines = [`${label("measured")}${paint.bold(figures(detail))}  tier ${str(detail.tier, "unknown")}`];
  const sources = Array.isArray(detail.sources) ? (detail.sources as Detail[]) : [];
  lines.push(
    `${label("sources")}${
      sources
        .map((s) => (s.ok ? `${str(s.name)} ok` : `${str(s.name)} failed: ${str(s.error, "no answer")}`))
        .join(", ") || "none"
    }`,
  );
  const byApp = Array.isArray(detail.byApp) ? (detail.byApp as Detail[]) : [];
  if (byApp.length > 0) {
    lines.push(`${label("by app")}${"app".padEnd(33)}${"env".padEnd(13)}connections`);
    for (const app of byApp.slice(0, 15)) {
      lines.push(
        `${label("")}${str(app.app).slice(0, 32).padEnd(33)}${str(app.env, "—").padEnd(13)}${String(num(app.connections) ?? "?").padStart(11)}`,
      );
    }
  } else {
    lines.push(`${label("by app")}${paint.dim("not available on this tier (or no direct connection)")}`);
  }
  const findings = Array.isArray(detail.findings) ? (detail.findings as Detail[]) : [];
  for (const f of findings) lines.push(`${label("finding")}${str(f.detail)}`);
  return lines;
}

function planLine(status: string, d: Detail, paint: Paint): string {
  switch (status) {
    case "redeploy":
      return `${label("plan")}${paint.warn(`redeploy ${str(d.target)} (${str(d.kind)})`)}: ${str(d.reason)}`;
    case "failover":
      return `${label("plan")}${paint.warn("Test Failover")}: ${str(d.reason)}`;
    case "below-threshold":
      return `${label("plan")}nothing to do: ${num(d.percent)?.toFixed(1) ?? "?"} % is below the ${num(d.threshold) ?? "?"} % threshold`;
    case "blocked":
      return `${label("plan")}${paint.warn(
        `${str(d.target)} is blocked by the ${d.reason === "hourly-cap" ? "hourly action cap" : "cooldown"} until ${str(d.until)}`,
      )}`;
    case "snoozed":
      return `${label("plan")}${paint.warn(`snoozed until ${str(d.until)}`)}`;
    case "unknown-outcome":
      return `${label("plan")}${paint.bad(`an earlier call to ${str(d.target)} has an unknown outcome`)}`;
    case "exhausted":
      return `${label("plan")}${paint.bad(`nothing left to try after ${Array.isArray(d.tried) ? d.tried.join(", ") : "?"}`)}`;
    default:
      return `${label("plan")}${paint.bad(str(d.reason, status))}`;
  }
}

/** The lines one journal row prints as (none for rows only machines care about). */
export function describeRow(row: JournalRow, paint: Paint): string[] {
  const d = row.detail;
  switch (`${row.step}:${row.status}`) {
    case "trigger:opened":
      return [
        paint.dim(
          `${label("incident")}opened (${str(d.reason, "manual run")}${d.dryRun ? ", dry run" : ""})`,
        ),
      ];
    case "trigger:joined":
      return [
        paint.dim(`${label("incident")}joined the cluster's open incident${d.dryRun ? " (dry run)" : ""}`),
      ];
    case "stats:ok":
    case "stats:partial":
      return measuredLines(d, paint);
    case "advice:ok":
      return [];
    case "approval:requested":
      return [];
    case "approval:approved":
      return [`${label("approved")}by ${str(d.by, "someone")} (${str(d.source)})`];
    case "approval:skipped":
      return [`${label("skipped")}by ${str(d.by, "someone")} (${str(d.source)})`];
    case "approval:snoozed":
      return [`${label("snoozed")}by ${str(d.by, "someone")} until ${str(d.until)}`];
    case "approval:refused":
      return [`${label("refused")}${str(d.by, "someone")} may not approve`];
    case "action:sending":
      return [`${label("sending")}${str(d.method, "")} ${str(d.endpoint, str(d.action))}`.trimEnd()];
    case "action:started":
      return [`${label("accepted")}${paint.good(`${str(d.target)}: ${str(d.detail, "started")}`)}`];
    case "action:failed":
      return [`${label("failed")}${paint.bad(`${str(d.target)}: ${str(d.detail, "refused")}`)}`];
    case "action:unknown":
      return [`${label("unknown")}${paint.bad(`${str(d.target)}: ${str(d.detail, "no answer")}`)}`];
    case "action:dry-run":
      return [
        `${label("would call")}${str(d.method, "")} ${str(d.endpoint, str(d.action))}  (${str(d.target)})`,
      ];
    case "action:notify-only":
      return [`${label("notify")}the mode is notify: nothing is sent`];
    case "action:held":
      return [`${label("held")}${str(d.detail)}`];
    case "action:deferred":
      return [`${label("deferred")}${str(d.detail)} (${str(d.target)})`];
    case "action:killop": {
      const killed = Array.isArray(d.killed) ? d.killed.length : 0;
      return [
        `${label("killop")}ended ${killed} long-running read${killed === 1 ? "" : "s"} of the responder's own user`,
      ];
    }
    case "verify:recovered":
    case "verify:still-high":
    case "verify:unmeasured":
      return [
        `${label(`check ${num(d.check) ?? "?"}/${num(d.of) ?? "?"}`)}${figures(d)}  ${
          row.status === "recovered"
            ? paint.good("recovered")
            : row.status === "still-high"
              ? paint.warn("still high")
              : paint.bad("not measured")
        }`,
      ];
    case "incident:resolved": {
      const before = (d.before ?? {}) as Detail;
      const after = (d.after ?? {}) as Detail;
      return [`${label("resolved")}${paint.good(`${fig(before)} → ${fig(after)}`)}: ${str(d.note, "")}`];
    }
    case "incident:escalated":
      return [`${label("escalated")}${paint.bad(str(d.reason))}`];
    case "incident:closed":
      return [paint.dim(`${label("closed")}${str(d.reason)}`)];
    default:
      if (row.step === "plan") return [planLine(row.status, d, paint)];
      if (row.status === "error") {
        return [
          `${label("error")}${paint.bad(`${row.step}: ${str(d.message, str(d.error))}; retrying in ${num(d.retryInSeconds) ?? "?"} s`)}`,
        ];
      }
      return [paint.dim(`${label(row.step)}${row.status}`)];
  }
}

function fig(d: Detail): string {
  const percent = num(d.percent);
  return `${num(d.current) ?? "?"}${percent === null ? "" : ` (${percent.toFixed(1)} %)`}`;
}

/** The rows of this run: from the last trigger entry on (older entries belong to earlier runs). */
export function runRows(rows: readonly JournalRow[]): JournalRow[] {
  let start = 0;
  rows.forEach((row, i) => {
    if (row.step === "trigger") start = i;
  });
  return rows.slice(start);
}

export type Ending = { done: false } | { done: true; code: 0 | 1; summary: string };

/**
 * Whether a run is over, from its state and rows, and its exit code: 0 resolved or nothing to do
 * (a dry run), 1 when the action failed, the count did not come down, or nothing could be sent.
 * `resting`: the incident will not move on its own soon (so its last plan or action is the end).
 */
export function ending(state: string, rows: readonly JournalRow[], resting: boolean): Ending {
  const resolved = rows.find((r) => r.step === "incident" && r.status === "resolved");
  if (resolved) {
    const acted = rows.some((r) => r.step === "action" && r.status === "started");
    return { done: true, code: 0, summary: acted ? "resolved" : "nothing to do" };
  }
  if (state === "escalated") {
    const reason = rows.findLast((r) => r.step === "incident" && r.status === "escalated");
    return {
      done: true,
      code: 1,
      summary: `escalated: ${str(reason?.detail.reason, "a person should look")}`,
    };
  }
  if (state === "closed") return { done: true, code: 1, summary: "the incident closed before it resolved" };
  const last = rows.findLast((r) => r.step === "plan" || r.step === "action" || r.step === "approval");
  if (!resting || !last) return { done: false };
  const key = `${last.step}:${last.status}`;
  if (key === "action:dry-run") return { done: true, code: 0, summary: "dry run: nothing was sent" };
  if (key === "plan:blocked") {
    const d = last.detail;
    return {
      done: true,
      code: 1,
      summary: `nothing was sent: ${str(d.target)} is blocked by the ${d.reason === "hourly-cap" ? "hourly action cap" : "cooldown"} until ${str(d.until)}`,
    };
  }
  if (key === "plan:snoozed")
    return { done: true, code: 1, summary: `nothing was sent: snoozed until ${str(last.detail.until)}` };
  if (key === "approval:skipped") return { done: true, code: 1, summary: "nothing was sent" };
  if (key === "action:notify-only")
    return { done: true, code: 1, summary: "nothing was sent: the mode is notify" };
  return { done: false };
}

/** Before → after for the closing line: the first and latest figures of the run. */
export function beforeAfter(rows: readonly JournalRow[]): string | null {
  const measured = rows.filter(
    (r) => (r.step === "stats" && r.status !== "identified") || r.step === "verify",
  );
  const first = measured[0];
  const latest = measured.at(-1);
  if (!first || !latest) return null;
  return first === latest ? figures(first.detail) : `${figures(first.detail)} → ${figures(latest.detail)}`;
}
