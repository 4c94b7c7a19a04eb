/**
 * The one living Slack message per incident: a pure function from the incident (its journal is the
 * single source of truth) to Block Kit blocks plus a one-line notification fallback. Posting and
 * updating it is src/slack/client.ts's job; parsing the buttons' clicks is src/slack/actions.ts's.
 * The parts it is made of: ./block-kit.ts (types, limits, builders), ./escape.ts (outside text made
 * inert, the only markup we write), ./journal-view.ts (what the journal says, as lines).
 *
 * Trade-off: the message must fit Slack's limits whatever the journal holds, so it renders at
 * decreasing detail (fewer timeline lines, apps, actions, advice) until `fits` passes. Older history
 * is summarized as "…and N earlier steps"; the full journal stays in `GET /incidents/:id` and the
 * dashboard.
 */
import type { ResponderMode } from "../config/schema.ts";
import { readPlan } from "../incident/journal.ts";
import type { IncidentDetail, JournalEntry } from "../incident/view.ts";
import {
  type Block,
  type ButtonElement,
  context,
  fits,
  LIMITS,
  mrkdwn,
  plain,
  type SlackMessage,
  section,
} from "./block-kit.ts";
import { clip, escapeText, joinLines, link, when, who } from "./escape.ts";
import {
  actionLines,
  describePlan,
  detailOf,
  figures,
  int,
  isRecord,
  lastOf,
  list,
  num,
  outcomeText,
  type Reading,
  readingOf,
  STATE_EMOJI,
  STATE_LABEL,
  sparkline,
  str,
  timelineLine,
  trend,
  verifyLines,
} from "./journal-view.ts";

/** Kept at this path for the client and the renderer's tests, which import them from here. */
export type { Block, SlackMessage } from "./block-kit.ts";
export { clip, escapeText } from "./escape.ts";

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

/** The notification fallback: one line, as a phone shows it. */
const FALLBACK_CHARS = 300;

export interface RenderInput {
  incident: IncidentDetail;
  mode: ResponderMode;
  /** Links from configuration (never from an alert); anything but http(s) is dropped. */
  links: { atlasCluster?: string; dashboard?: string };
  /** Whether clicks can be received and verified (a signing secret is configured, interactivity is on). */
  approvalButtons: boolean;
  now: Date;
}

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
      ...failing.map(
        (s) => `:warning: ${escapeText(s.name, 40)}: ${escapeText(sourceError(s.name, s.error), 120)}`,
      ),
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
  const value = (request ? `${incident.id}${BUTTON_VALUE_SEPARATOR}${request.at}` : incident.id).slice(
    0,
    LIMITS.buttonValueChars,
  );
  const failover =
    (request !== undefined && readPlan(request).kind === "failover") ||
    lastOf(journal, "plan")?.status === "failover";
  const approve: ButtonElement = {
    type: "button",
    action_id: SLACK_ACTION_IDS.approve,
    text: plain("Approve", LIMITS.buttonTextChars),
    value,
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
        value,
      },
      {
        type: "button",
        action_id: SLACK_ACTION_IDS.snooze,
        text: plain("Snooze 1 h", LIMITS.buttonTextChars),
        value,
      },
    ],
  };
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

/**
 * A failed source's error, led by what matters: "answered 500 UNEXPECTED_ERROR (GET …/clusters/x)"
 * rather than the service's name again and a long URL, so the 120-character cut never drops the status.
 */
export function sourceError(name: string, error: string | null | undefined): string {
  if (!error) return "failed";
  const text = error.startsWith(`${name} `) ? error.slice(name.length + 1) : error;
  const call = /^([A-Z]+) (\S+) (answered .+)$/s.exec(text);
  return call ? `${call[3]} (${call[1]} ${call[2]})` : text;
}
