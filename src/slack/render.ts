/**
 * The one living Slack message per incident: a pure function from the incident (its journal is the
 * single source of truth) to Block Kit blocks plus a one-line notification fallback. Posting and
 * updating it is src/slack/client.ts's job; parsing the buttons' clicks is src/slack/actions.ts's.
 *
 * Safety: every string that came from outside (alert text, cluster, app and target names, reasons,
 * platform details) goes through `escapeText`: `&`, `<`, `>` are entity-escaped so nothing can form
 * a mention (`<!channel>`, `<@U…>`) or a link, `@channel`/`@here`/`@everyone` get a zero-width
 * space, control characters become spaces (no forged lines), and every mrkdwn object is `verbatim`
 * so Slack does not auto-link bare URLs or names. Only this module writes `<…>` markup itself: links
 * from configuration, date tokens and approver ids that look like Slack user ids.
 *
 * Trade-off: the message must fit Slack's limits whatever the journal holds. Besides the documented
 * per-block limits, chat.postMessage rejects messages whose blocks hold roughly 12 000 text
 * characters in total (`msg_blocks_too_long`, undocumented: slackapi/bolt-js#2509, #2867), so the
 * renderer budgets MAX_TEXT_CHARS across all blocks and renders at decreasing detail (fewer timeline
 * lines, apps, actions, advice) until it fits. Older history is summarized as "…and N earlier
 * steps"; the full journal stays in `GET /incidents/:id` and the dashboard.
 */
import type { ResponderMode } from "../config/schema.ts";
import type { IncidentDetail, IncidentState, JournalEntry } from "../incident/view.ts";

/** `action_id`s of the approval buttons; src/slack/actions.ts maps them back to decisions. */
export const SLACK_ACTION_IDS = {
  approve: "atlas-responder.approve",
  skip: "atlas-responder.skip",
  snooze: "atlas-responder.snooze",
} as const;

/** How long the Snooze button snoozes: its label says "1 h". */
export const SNOOZE_SECONDS = 3600;

/** Journal statuses of the `approval` step that decide a pending request. */
const DECISIONS = new Set(["approved", "skipped", "snoozed"]);

/** Separates the incident id from the approval request it answers in a button's `value`. */
export const BUTTON_VALUE_SEPARATOR = "@";

/** Block Kit limits for messages (notes/integrations.md §1c). */
const LIMITS = {
  blocks: 50,
  headerChars: 150,
  sectionChars: 3000,
  fieldChars: 2000,
  contextElements: 10,
  buttonTextChars: 75,
  buttonValueChars: 2000,
  confirmTitleChars: 100,
  confirmTextChars: 300,
} as const;

/** Total text across all blocks: well under the ~12 000 at which Slack answers msg_blocks_too_long. */
const MAX_TEXT_CHARS = 8000;
/** The serialized message (text + blocks): far below Slack's 40 000-character message ceiling. */
const MAX_JSON_CHARS = 38_000;
/** One journal-derived line: enough for a reason or a platform's one-line detail. */
const LINE_CHARS = 280;
/** One untrusted value inside a line (a name, a reason): longer values are cut. */
const VALUE_CHARS = 160;
/** The notification fallback: one line, as a phone shows it. */
const FALLBACK_CHARS = 300;
/** The sparkline spans this long. */
const SPARK_WINDOW_MS = 60 * 60 * 1000;
/** At most this many sparkline characters (one per reading, newest last). */
const SPARK_POINTS = 30;

// ---------------------------------------------------------------------------------------------
// Block Kit types (the subset this message uses)

export interface PlainText {
  type: "plain_text";
  text: string;
  emoji?: boolean;
}
export interface Mrkdwn {
  type: "mrkdwn";
  text: string;
  verbatim?: boolean;
}
export type TextObject = PlainText | Mrkdwn;

export interface ConfirmDialog {
  title: PlainText;
  text: PlainText;
  confirm: PlainText;
  deny: PlainText;
  style?: "primary" | "danger";
}

export interface ButtonElement {
  type: "button";
  action_id: string;
  text: PlainText;
  value: string;
  style?: "primary" | "danger";
  confirm?: ConfirmDialog;
}

export type Block =
  | { type: "header"; text: PlainText }
  | { type: "section"; text?: TextObject; fields?: TextObject[] }
  | { type: "context"; elements: TextObject[] }
  | { type: "divider" }
  | { type: "actions"; block_id: string; elements: ButtonElement[] };

/** What chat.postMessage, chat.update and incoming webhooks take. */
export interface SlackMessage {
  /** The notification fallback: one line. */
  text: string;
  blocks: Block[];
}

export interface RenderInput {
  incident: IncidentDetail;
  mode: ResponderMode;
  /** Links from configuration (never from an alert); anything but http(s) is dropped. */
  links: { atlasCluster?: string; dashboard?: string };
  /** Whether clicks can be received and verified (a signing secret is configured, interactivity is on). */
  approvalButtons: boolean;
  now: Date;
}

// ---------------------------------------------------------------------------------------------
// Escaping and clipping

const CONTROL_CHARS = /[\p{Cc}\u2028\u2029]+/gu;
const BROADCASTS = /@(channel|here|everyone)/gi;

/**
 * Makes outside text inert in Slack: no mentions, no links, no extra lines. For mrkdwn and for the
 * notification text alike (Slack decodes these three entities in both).
 */
export function escapeText(raw: unknown, maxChars = VALUE_CHARS): string {
  const flat = String(raw ?? "")
    .replace(CONTROL_CHARS, " ")
    .trim();
  const cut = flat.length > maxChars ? `${safeSlice(flat, maxChars - 1)}…` : flat;
  return cut
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(BROADCASTS, "@\u200b$1");
}

/** Slices without splitting a UTF-16 surrogate pair. */
function safeSlice(text: string, end: number): string {
  const code = text.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, end - 1) : text.slice(0, end);
}

/**
 * Cuts already-escaped text to `max` characters without breaking an entity (`&amp;`) or our own
 * markup (`<url|label>`, `<!date…>`), ending with "…".
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = safeSlice(text, max - 1);
  const open = cut.lastIndexOf("<");
  if (open > cut.lastIndexOf(">")) cut = cut.slice(0, open);
  const amp = cut.lastIndexOf("&");
  if (amp > cut.lastIndexOf(";")) cut = cut.slice(0, amp);
  // An unclosed code span would swallow the ellipsis into it.
  if ((cut.match(/`/g)?.length ?? 0) % 2 === 1) cut = cut.slice(0, cut.lastIndexOf("`"));
  return `${cut}…`;
}

/** Joins lines up to `max` characters; what does not fit becomes "…and N more <noun>". */
function joinLines(lines: readonly string[], max: number, noun: string): string {
  const out: string[] = [];
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = clip(lines[i]!, LINE_CHARS);
    const rest = lines.length - i - 1;
    const reserve = rest > 0 ? 40 : 0;
    if (used + line.length + 1 + reserve > max) {
      out.push(`_…and ${lines.length - i} more ${noun}_`);
      break;
    }
    out.push(line);
    used += line.length + 1;
  }
  return out.join("\n");
}

const mrkdwn = (text: string): Mrkdwn => ({ type: "mrkdwn", text, verbatim: true });
const plain = (text: string, max: number): PlainText => ({
  type: "plain_text",
  text: clip(text, max),
  emoji: true,
});
const section = (text: string): Block => ({ type: "section", text: mrkdwn(clip(text, LIMITS.sectionChars)) });
const context = (...texts: string[]): Block => ({
  type: "context",
  elements: texts.slice(0, LIMITS.contextElements).map((t) => mrkdwn(clip(t, LIMITS.fieldChars))),
});

// ---------------------------------------------------------------------------------------------
// Reading the journal (details are `unknown` by contract: read defensively)

type Detail = Record<string, unknown>;

const isRecord = (value: unknown): value is Detail =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const str = (d: Detail, key: string): string | undefined => {
  const v = d[key];
  return typeof v === "string" && v !== "" ? v : undefined;
};
const num = (d: Detail, key: string): number | undefined => {
  const v = d[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
};
const list = (d: Detail, key: string): unknown[] => {
  const v = d[key];
  return Array.isArray(v) ? v : [];
};
const detailOf = (entry: JournalEntry): Detail => (isRecord(entry.detail) ? entry.detail : {});
const timeOf = (iso: string | undefined): number => (iso ? Date.parse(iso) : Number.NaN);

interface Reading {
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

function readingOf(entry: JournalEntry): Reading | null {
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

const lastOf = (journal: readonly JournalEntry[], step: string): JournalEntry | undefined =>
  journal.findLast((e) => e.step === step);

// ---------------------------------------------------------------------------------------------
// Formatting

const STATE_EMOJI: Record<IncidentState, string> = {
  open: ":large_orange_circle:",
  "awaiting-approval": ":raised_hand:",
  acting: ":hammer_and_wrench:",
  verifying: ":mag:",
  resolved: ":white_check_mark:",
  escalated: ":rotating_light:",
  closed: ":white_circle:",
};

const STATE_LABEL: Record<IncidentState, string> = {
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

const int = (n: number): string => Math.round(n).toLocaleString("en-US");
const pct = (n: number): string => `${n < 10 ? Math.round(n * 10) / 10 : Math.round(n)}%`;

/** "412 / 500 (82%)", "412 (limit unknown)". */
function figures(current: number, limit: number | undefined, percent: number | undefined): string {
  if (limit === undefined) return `${int(current)}${percent === undefined ? "" : ` (${pct(percent)})`}`;
  return `${int(current)} / ${int(limit)}${percent === undefined ? "" : ` (${pct(percent)})`}`;
}

/** "HH:MM" in UTC, for timeline lines (short, so more history fits). */
function hhmm(iso: string): string {
  const t = timeOf(iso);
  if (Number.isNaN(t)) return "--:--";
  return new Date(t).toISOString().slice(11, 16);
}

/** A Slack date token: shown in each reader's own time zone, with a UTC fallback. */
function when(iso: string | undefined): string {
  const t = timeOf(iso);
  if (Number.isNaN(t)) return escapeText(iso ?? "?");
  const fallback = `${new Date(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<!date^${Math.floor(t / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

/** "in 12 min" / "3 min ago" relative to the render time. */
function relative(iso: string | undefined, now: Date): string {
  const t = timeOf(iso);
  if (Number.isNaN(t)) return "";
  const minutes = Math.round((t - now.getTime()) / 60_000);
  if (minutes === 0) return "now";
  return minutes > 0 ? `in ${minutes} min` : `${-minutes} min ago`;
}

/** Renders "<@U123>" for a real Slack user id (a mention we chose to show), else escaped text. */
function who(by: unknown): string {
  if (typeof by === "string" && /^[UW][A-Z0-9]{2,20}$/.test(by)) return `<@${by}>`;
  return escapeText(by ?? "someone", 60);
}

/** A configured link as Slack markup, or null when it is not a plain http(s) URL. */
function link(raw: string | undefined, label: string): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  const href = url.href
    .replace(/\|/g, "%7C")
    .replace(/</g, "%3C")
    .replace(/>/g, "%3E")
    .replace(/&/g, "&amp;");
  if (href.length > 3000) return null;
  return `<${href}|${label}>`;
}

function sparkline(journal: readonly JournalEntry[], limit: number | undefined, now: Date): string | null {
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

function trend(reading: Reading): string {
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
function describePlan(entry: JournalEntry, now: Date): string {
  const d = detailOf(entry);
  const target = escapeText(str(d, "target") ?? "?");
  const reason = str(d, "reason");
  const because = reason ? ` — ${escapeText(reason)}` : "";
  switch (entry.status) {
    case "redeploy": {
      const kind = str(d, "kind");
      const culprits = list(d, "culprits").filter((c): c is string => typeof c === "string");
      const blame = culprits.length
        ? ` Culprits: ${culprits
            .slice(0, 8)
            .map((c) => escapeText(c, 60))
            .join(", ")}${culprits.length > 8 ? ` and ${culprits.length - 8} more` : ""}.`
        : "";
      return `Redeploy *${target}*${kind ? ` (${escapeText(kind, 20)})` : ""}${because}.${blame}`;
    }
    case "failover":
      return `Test failover of the primary (drops every connection)${because}.`;
    case "below-threshold": {
      const percent = num(d, "percent");
      const threshold = num(d, "threshold");
      return `No action: ${percent === undefined ? "usage" : pct(percent)} is below the ${
        threshold === undefined ? "action" : pct(threshold)
      } threshold.`;
    }
    case "blocked": {
      const why =
        reason === "hourly-cap"
          ? "the hourly action cap"
          : reason === "cooldown"
            ? "its cooldown"
            : escapeText(reason ?? "policy");
      const until = str(d, "until");
      return `Blocked: *${target}* is held by ${why}${until ? ` until ${when(until)} (${relative(until, now)})` : ""}.`;
    }
    case "snoozed": {
      const until = str(d, "until");
      return `Snoozed${until ? ` until ${when(until)} (${relative(until, now)})` : ""}.`;
    }
    case "unknown-outcome":
      return `A previous action on *${target}* has an unknown outcome: a human must check it before anything else is fired.`;
    case "exhausted": {
      const tried = list(d, "tried").filter((t): t is string => typeof t === "string");
      return `Everything the policy allows has been tried${
        tried.length
          ? `: ${tried
              .slice(0, 10)
              .map((t) => escapeText(t, 60))
              .join(", ")}`
          : ""
      }.`;
    }
    case "no-targets":
      return `No redeploy target owns this cluster${because}.`;
    case "cannot-measure":
      return `Cannot measure connections right now${because}.`;
    default:
      return `${escapeText(entry.status, 40)}${because}.`;
  }
}

/** Action entries, with each `sending` folded into the outcome that followed it. */
function actionLines(journal: readonly JournalEntry[]): string[] {
  const rows: { key: string; entry: JournalEntry }[] = [];
  for (const entry of journal) {
    if (entry.step !== "action") continue;
    const d = detailOf(entry);
    const key = `${str(d, "target") ?? ""}|${str(d, "action") ?? ""}`;
    const pending = rows.findLastIndex((r) => r.key === key && r.entry.status === "sending");
    if (pending >= 0 && entry.status !== "sending") rows[pending] = { key, entry };
    else rows.push({ key, entry });
  }
  return rows.map(({ entry }) => {
    const d = detailOf(entry);
    const emoji = ACTION_EMOJI[entry.status] ?? ":small_blue_diamond:";
    const action = escapeText(str(d, "action") ?? "action", 40);
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

function verifyLines(journal: readonly JournalEntry[]): string[] {
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
function timelineLine(entry: JournalEntry, now: Date): string {
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

// ---------------------------------------------------------------------------------------------
// Assembly

interface Detailing {
  apps: number;
  actions: number;
  verifies: number;
  advice: number;
  adviceSteps: number;
  timeline: number;
  /** Cap for the long free-text sections (plan, outcome). */
  prose: number;
}

/** From full detail down to the essentials; the first level that fits Slack's budget wins. */
const LEVELS: readonly Detailing[] = [
  { apps: 8, actions: 12, verifies: 6, advice: 3, adviceSteps: 6, timeline: 15, prose: 2000 },
  { apps: 5, actions: 8, verifies: 4, advice: 2, adviceSteps: 4, timeline: 8, prose: 1500 },
  { apps: 5, actions: 5, verifies: 3, advice: 1, adviceSteps: 3, timeline: 3, prose: 1000 },
  { apps: 3, actions: 3, verifies: 2, advice: 0, adviceSteps: 0, timeline: 0, prose: 600 },
];

/** The newest `n` lines, with the older ones summarized first. */
function newest(lines: readonly string[], n: number, noun: string): string[] {
  if (lines.length <= n) return [...lines];
  const hidden = lines.length - n;
  return [`_…and ${hidden} earlier ${noun}_`, ...lines.slice(-n)];
}

function render(input: RenderInput, level: Detailing): SlackMessage {
  const { incident, mode, now } = input;
  const journal = incident.journal;
  const readings = journal.map(readingOf).filter((r): r is Reading => r !== null);
  const latest = readings.at(-1);
  const tier = latest?.tier ?? readings.findLast((r) => r.tier)?.tier;
  const state = incident.state;
  const blocks: Block[] = [];

  // Header: emoji, cluster, tier, state. The cluster name is cut to leave room for the rest.
  const suffix = ` · ${tier ? escapeText(tier, 20) : "tier ?"} · ${STATE_LABEL[state]}`;
  const prefix = `${STATE_EMOJI[state]} `;
  const room = LIMITS.headerChars - prefix.length - suffix.length;
  blocks.push({
    type: "header",
    text: plain(
      `${prefix}${clip(escapeText(incident.cluster.name, 100), room)}${suffix}`,
      LIMITS.headerChars,
    ),
  });

  const modeNote: Record<ResponderMode, string> = {
    auto: "auto: acts on its own",
    approve: "approve: acts after approval",
    notify: "notify: never acts",
    "dry-run": "dry run: plans and journals, sends nothing",
  };
  blocks.push(
    context(
      `Mode *${modeNote[mode]}* · incident \`${escapeText(incident.id, 100)}\` · project \`${escapeText(
        incident.cluster.groupId,
        40,
      )}\``,
      `Opened ${when(incident.openedAt)} · updated ${when(incident.updatedAt)}`,
    ),
  );

  // Figures: now / limit / percent, trend, sparkline.
  if (latest) {
    const spark = sparkline(journal, latest.limit, now);
    blocks.push({
      type: "section",
      text: mrkdwn(spark ?? `Measured ${when(latest.at)}`),
      fields: [
        mrkdwn(`*Connections*\n${figures(latest.current, latest.limit, latest.percent)}`),
        mrkdwn(`*Trend*\n${trend(latest)}`),
      ],
    });
    const failing = latest.sources.filter((s) => !s.ok);
    const notes = [
      ...failing.map((s) => `:warning: ${escapeText(s.name, 40)}: ${escapeText(s.error ?? "failed", 120)}`),
      ...latest.findings.slice(0, 3).map((f) => `:information_source: ${escapeText(f, 200)}`),
    ];
    if (notes.length) blocks.push(context(clip(notes.join("\n"), LIMITS.fieldChars)));
  } else {
    blocks.push(section("_No connection figures yet._"));
  }

  // Top apps, where the tier lets connections be attributed.
  if (latest && latest.byApp.length > 0 && level.apps > 0) {
    const shown = latest.byApp
      .slice(0, level.apps)
      .map(
        (a) =>
          `• *${escapeText(a.app, 80)}*${a.env ? ` (${escapeText(a.env, 30)})` : ""} — ${int(a.connections)}`,
      );
    if (latest.byApp.length > level.apps) shown.push(`_…and ${latest.byApp.length - level.apps} more apps_`);
    blocks.push(section(`*Top apps*\n${shown.join("\n")}`));
  }

  // The plan, and the approval around it.
  const plan = lastOf(journal, "plan");
  if (plan) {
    const dry = mode === "dry-run" ? " _(dry run)_" : mode === "notify" ? " _(notify only)_" : "";
    blocks.push(section(clip(`*Plan*${dry}\n${describePlan(plan, now)}`, level.prose)));
  }

  const requestIndex = journal.findLastIndex((e) => e.step === "approval" && e.status === "requested");
  // A refused click (someone who may not approve) is not a decision: the buttons stay.
  const decision = journal.findLast(
    (e, i) => e.step === "approval" && DECISIONS.has(e.status) && i > requestIndex,
  );
  const refused = journal.findLast(
    (e, i) => e.step === "approval" && e.status === "refused" && i > requestIndex,
  );
  if (decision) {
    const d = detailOf(decision);
    const verb: Record<string, string> = {
      approved: ":white_check_mark: Approved",
      skipped: ":next_track_button: Skipped",
      snoozed: ":zzz: Snoozed",
    };
    const until = str(d, "until");
    blocks.push(
      context(
        `${verb[decision.status] ?? escapeText(decision.status, 30)} by ${who(d.by)} ${when(decision.at)}${
          until ? ` · until ${when(until)}` : ""
        }`,
      ),
    );
  } else if (requestIndex >= 0 && state === "awaiting-approval") {
    const note = refused ? ` ${who(detailOf(refused).by)} may not approve.` : "";
    blocks.push(context(`:raised_hand: Waiting for an approver.${note}`));
  }

  // Buttons only while a decision is pending: once someone decided, the message says who instead.
  if (input.approvalButtons && mode === "approve" && state === "awaiting-approval" && !decision) {
    blocks.push(approvalBlock(incident, journal, requestIndex));
  }

  // What was done and how it went.
  const actions = actionLines(journal);
  if (actions.length && level.actions > 0) {
    blocks.push(
      section(`*Actions*\n${joinLines(newest(actions, level.actions, "actions"), 2900, "actions")}`),
    );
  }
  const verifies = verifyLines(journal);
  if (verifies.length && level.verifies > 0) {
    blocks.push(
      section(`*Verification*\n${joinLines(newest(verifies, level.verifies, "checks"), 2900, "checks")}`),
    );
  }

  const outcome = outcomeText(journal);
  if (outcome) blocks.push(section(clip(outcome, level.prose)));

  // A failure the runner will retry, when it is the latest thing that happened.
  const last = journal.at(-1);
  if (last?.status === "error") {
    const d = detailOf(last);
    const retry = num(d, "retryInSeconds");
    blocks.push(
      context(
        `:warning: ${escapeText(last.step, 20)} failed: ${escapeText(str(d, "message") ?? str(d, "error") ?? "error", 200)}${
          retry !== undefined ? ` · retrying in ${int(retry)} s` : ""
        }`,
      ),
    );
  }

  // Prevention advice for the culprit apps.
  const advice = lastOf(journal, "advice");
  if (advice && level.advice > 0) {
    const items = list(detailOf(advice), "advice").filter(isRecord);
    for (const item of items.slice(0, level.advice)) {
      const app = str(item, "app");
      const steps = list(item, "steps")
        .filter((s): s is string => typeof s === "string")
        .slice(0, level.adviceSteps)
        .map((s) => `• ${escapeText(s, 400)}`);
      const title = app ? `*Prevention for ${escapeText(app, 80)}*` : "*Prevention*";
      blocks.push(
        section(`${title}\n${escapeText(str(item, "summary") ?? "", 500)}\n${steps.join("\n")}`.trim()),
      );
    }
    if (items.length > level.advice) {
      blocks.push(context(`_…and advice for ${items.length - level.advice} more apps in the dashboard._`));
    }
  }

  const links = [
    link(input.links.atlasCluster, "Open in Atlas"),
    link(input.links.dashboard, "Incident in the dashboard"),
  ]
    .filter((l): l is string => l !== null)
    .join(" · ");
  if (links) blocks.push(context(links));

  if (level.timeline > 0 && journal.length > 0) {
    const lines = journal.map((e) => timelineLine(e, now));
    blocks.push(
      context(`*Timeline (UTC)*\n${joinLines(newest(lines, level.timeline, "steps"), 1900, "steps")}`),
    );
  }

  return { text: fallback(incident, latest, tier, plan, now), blocks };
}

function approvalBlock(
  incident: IncidentDetail,
  journal: readonly JournalEntry[],
  requestIndex: number,
): Block {
  const request = requestIndex >= 0 ? journal[requestIndex] : undefined;
  // The value names the request it answers, so a click on an outdated render can be told apart.
  const value = request ? `${incident.id}${BUTTON_VALUE_SEPARATOR}${request.at}` : incident.id;
  const plan = request ? detailOf(request) : {};
  const failover = str(plan, "kind") === "failover" || lastOf(journal, "plan")?.status === "failover";
  const approve: ButtonElement = {
    type: "button",
    action_id: SLACK_ACTION_IDS.approve,
    text: plain("Approve", LIMITS.buttonTextChars),
    value: value.slice(0, LIMITS.buttonValueChars),
    style: "primary",
  };
  if (failover) {
    // A failover drops every connection of the cluster: one more deliberate click.
    approve.confirm = {
      title: plain("Run a test failover?", LIMITS.confirmTitleChars),
      text: plain(
        `Atlas restarts the primary of ${incident.cluster.name}; every connection drops and apps reconnect.`,
        LIMITS.confirmTextChars,
      ),
      confirm: plain("Fail over", 30),
      deny: plain("Cancel", 30),
      style: "danger",
    };
  }
  return {
    type: "actions",
    // A fresh block_id per journal length: Slack recommends one per message iteration.
    block_id: `approval-${journal.length}`,
    elements: [
      approve,
      {
        type: "button",
        action_id: SLACK_ACTION_IDS.skip,
        text: plain("Skip", LIMITS.buttonTextChars),
        value: value.slice(0, LIMITS.buttonValueChars),
      },
      {
        type: "button",
        action_id: SLACK_ACTION_IDS.snooze,
        text: plain("Snooze 1 h", LIMITS.buttonTextChars),
        value: value.slice(0, LIMITS.buttonValueChars),
      },
    ],
  };
}

function outcomeText(journal: readonly JournalEntry[]): string | null {
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

function fallback(
  incident: IncidentDetail,
  latest: Reading | undefined,
  tier: string | undefined,
  plan: JournalEntry | undefined,
  now: Date,
): string {
  const parts = [
    `${STATE_LABEL[incident.state]}: ${escapeText(incident.cluster.name, 64)}${tier ? ` (${escapeText(tier, 12)})` : ""}`,
  ];
  if (latest) parts.push(`${figures(latest.current, latest.limit, latest.percent)} connections`);
  if (plan && (incident.state === "awaiting-approval" || incident.state === "open")) {
    // Only the plan's first sentence, without markup.
    parts.push(
      describePlan(plan, now)
        .replace(/\*/g, "")
        .replace(/<[^>]*\|([^>]*)>/g, "$1")
        .split(". ")[0]
        ?.replace(/\.$/, "") ?? "",
    );
  }
  return clip(parts.filter(Boolean).join(" · "), FALLBACK_CHARS);
}

function textChars(blocks: readonly Block[]): number {
  let total = 0;
  const add = (t: TextObject | undefined) => {
    total += t?.text.length ?? 0;
  };
  for (const block of blocks) {
    switch (block.type) {
      case "header":
        add(block.text);
        break;
      case "section":
        add(block.text);
        for (const f of block.fields ?? []) add(f);
        break;
      case "context":
        for (const e of block.elements) add(e);
        break;
      case "actions":
        for (const b of block.elements) {
          add(b.text);
          total += b.value.length;
        }
        break;
      case "divider":
        break;
    }
  }
  return total;
}

const fits = (message: SlackMessage): boolean =>
  message.blocks.length <= LIMITS.blocks &&
  textChars(message.blocks) <= MAX_TEXT_CHARS &&
  JSON.stringify(message).length <= MAX_JSON_CHARS;

/** Renders the incident's Slack message: blocks within Slack's limits and a one-line fallback. */
export function renderIncidentMessage(input: RenderInput): SlackMessage {
  let message: SlackMessage | undefined;
  for (const level of LEVELS) {
    message = render(input, level);
    if (fits(message)) return message;
  }
  // Still too big (unreachable with the caps above, kept as a guarantee): drop optional blocks from
  // the end, never the header, the figures or the buttons.
  const blocks = [...message!.blocks];
  for (let i = blocks.length - 1; i > 3 && !fits({ text: message!.text, blocks }); i--) {
    if (blocks[i]!.type !== "actions") blocks.splice(i, 1);
  }
  return { text: message!.text, blocks };
}
