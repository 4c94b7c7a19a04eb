/**
 * The incident message renderer: every state renders within Slack's limits (checked by the fake
 * Slack's own validator, not by the renderer's numbers), huge journals are summarized, outside text
 * is inert, and buttons appear only while a decision is pending.
 */
import { describe, expect, it } from "vitest";
import { validateBlocks, visibleOf } from "../../fakes/slack.ts";
import type { ResponderMode } from "../../src/config/schema.ts";
import { newIncidentId } from "../../src/incident/ids.ts";
import { planDetail } from "../../src/incident/journal.ts";
import {
  INCIDENT_STATES,
  type IncidentDetail,
  type IncidentState,
  type JournalEntry,
} from "../../src/incident/view.ts";
import { parseButtonValue } from "../../src/slack/actions.ts";
import {
  type Block,
  clip,
  escapeText,
  renderIncidentMessage,
  SLACK_ACTION_IDS,
  type SlackMessage,
} from "../../src/slack/render.ts";

const GROUP = "65f0a1b2c3d4e5f6a7b8c9d0";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const iso = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const NOW = new Date(T0 + 30 * 60_000);
const LINKS = {
  atlasCluster: "https://cloud.mongodb.com/v2/65f0a1b2c3d4e5f6a7b8c9d0#/clusters/detail/Cluster0",
  dashboard: "https://responder.example.com/?incident=x&tab=journal",
};

function stats(current: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tier: "M10",
    current,
    limit: 1500,
    percent: (current / 1500) * 100,
    trendPerMinute: 6.24,
    minutesToLimit: (1500 - current) / 6.24,
    byApp: [
      { app: "shop-web", env: "vercel", connections: Math.round(current * 0.7) },
      { app: "worker", env: null, connections: Math.round(current * 0.3) },
    ],
    sources: [
      { name: "atlas-admin", ok: true, error: null },
      { name: "mongodb", ok: false, error: "cluster refused the connection (full)" },
    ],
    findings: [{ kind: "cluster-full", detail: "the cluster refused a new connection" }],
    ...extra,
  };
}

const PLAN = { target: "web", kind: "vercel", reason: "82% of the limit and rising", culprits: ["shop-web"] };

function entry(
  minutes: number,
  step: string,
  status: string,
  detail: Record<string, unknown> = {},
): JournalEntry {
  return { at: iso(minutes), step, status, detail };
}

/** A journal that walks an incident up to `state`. */
function journalFor(state: IncidentState): JournalEntry[] {
  const j: JournalEntry[] = [
    entry(0, "intake", "opened", {
      alertId: "65f0aaaabbbbccccddddeeee",
      event: "alert.open",
      status: "OPEN",
      metric: "CONNECTIONS_PERCENT",
      value: 81,
    }),
    entry(1, "stats", "ok", stats(1180)),
    entry(2, "stats", "ok", stats(1230)),
    entry(2, "plan", "redeploy", PLAN),
    entry(2, "advice", "ok", {
      advice: [
        {
          app: "shop-web",
          summary: "shop-web on vercel holds 861 connections from 40 client hosts (~22 each).",
          steps: [
            "Create one MongoClient per process.",
            "Set maxPoolSize to 5–10.",
            "Call attachDatabasePool(client).",
          ],
        },
      ],
    }),
  ];
  if (state === "open") return j;
  j.push(entry(2, "approval", "requested", PLAN));
  if (state === "awaiting-approval") return j;
  if (state === "closed") {
    j.push(
      entry(5, "intake", "alert-closed", {
        alertId: "65f0aaaabbbbccccddddeeee",
        event: "alert.close",
        status: "CLOSED",
      }),
    );
    j.push(entry(5, "incident", "closed", { reason: "Atlas closed the alert" }));
    return j;
  }
  j.push(entry(3, "approval", "approved", { by: "U0APPROVER" }));
  j.push(
    entry(3, "action", "sending", {
      target: "web",
      kind: "vercel",
      action: "redeploy",
      method: "POST",
      endpoint: "vercel deploy hook (web)",
    }),
  );
  j.push(
    entry(3, "action", "started", {
      target: "web",
      kind: "vercel",
      action: "redeploy",
      detail: "job queued",
      deployId: "dpl_123",
    }),
  );
  if (state === "acting") return j;
  j.push(entry(6, "verify", "still-high", { check: 1, of: 2, ...stats(1100) }));
  if (state === "verifying") return j;
  if (state === "resolved") {
    j.push(entry(13, "verify", "recovered", { check: 2, of: 2, ...stats(240) }));
    j.push(
      entry(13, "incident", "resolved", {
        before: { current: 1230, percent: 82 },
        after: { current: 240, percent: 16 },
        note: "Connections fell after redeploying web.",
      }),
    );
    return j;
  }
  j.push(entry(13, "verify", "still-high", { check: 2, of: 2, ...stats(1290) }));
  j.push(entry(13, "incident", "escalated", { reason: "still at 86% after redeploying web twice" }));
  return j;
}

function incident(state: IncidentState, journal = journalFor(state), name = "Cluster0"): IncidentDetail {
  return {
    id: newIncidentId(GROUP, new Date(T0)),
    cluster: { groupId: GROUP, name },
    state,
    openedAt: iso(0),
    updatedAt: journal.at(-1)?.at ?? iso(0),
    alerts: [],
    journal,
  };
}

function render(
  detail: IncidentDetail,
  options: { mode?: ResponderMode; approvalButtons?: boolean; links?: Record<string, string> } = {},
): SlackMessage {
  return renderIncidentMessage({
    incident: detail,
    mode: options.mode ?? "approve",
    links: options.links ?? LINKS,
    approvalButtons: options.approvalButtons ?? true,
    now: NOW,
  });
}

const blockText = (message: SlackMessage) => visibleOf(message).text;
const buttonsOf = (message: SlackMessage) =>
  message.blocks
    .filter((b): b is Extract<Block, { type: "actions" }> => b.type === "actions")
    .flatMap((b) => b.elements);

/** The limits Slack enforces, asserted through the fake's independent validator and budgets. */
function expectWithinSlackLimits(message: SlackMessage): void {
  expect(validateBlocks(message.blocks)).toEqual([]);
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  const json = JSON.stringify(message);
  expect(new TextEncoder().encode(json).byteLength).toBeLessThan(40 * 1024);
  expect(message.text).not.toMatch(/\n/);
  expect(message.text.length).toBeGreaterThan(0);
  expect(message.text.length).toBeLessThanOrEqual(300);
}

describe("renderIncidentMessage", () => {
  it.each(INCIDENT_STATES)("renders the %s state within Slack's limits", (state) => {
    const message = render(incident(state));
    expectWithinSlackLimits(message);
    const header = message.blocks[0];
    expect(header?.type).toBe("header");
    const label =
      { "awaiting-approval": "Awaiting approval" }[state as string] ??
      state[0]!.toUpperCase() + state.slice(1);
    expect(header?.type === "header" && header.text.text).toContain(label);
    expect(header?.type === "header" && header.text.text).toMatch(/^:[a-z_]+: Cluster0 · M10 · /);
    const text = blockText(message);
    expect(text).toContain("1,230 / 1,500 (82%)");
    expect(text).toContain("Redeploy web (vercel)".replace("web", "*web*"));
    expect(text).toContain("Prevention for shop-web");
    expect(text).toContain("Open in Atlas");
  });

  it("shows figures, trend, time to limit, top apps, failing sources and a sparkline of the last hour", () => {
    const journal = journalFor("open");
    // A reading older than an hour must not shape the sparkline.
    journal.unshift(entry(-90, "stats", "ok", stats(10)));
    const text = blockText(render(incident("open", journal)));
    expect(text).toMatch(/`[▁▂▃▄▅▆▇█]{2}` 1,180 → 1,230 over the last hour/);
    expect(text).toContain("+6.2/min · limit in ~44 min");
    expect(text).toContain("*shop-web* (vercel) — 861");
    expect(text).toContain("mongodb: cluster refused the connection (full)");
    expect(text).toContain("the cluster refused a new connection");
  });

  it("folds each 'sending' into its outcome and shows deploy ids", () => {
    const text = blockText(render(incident("acting")));
    expect(text).toContain("redeploy *web* (vercel): started — job queued (deploy dpl_123)");
    expect(text).not.toMatch(/redeploy \*web\* \(vercel\): sending/);
  });

  it("shows before → after once resolved, and the reason once escalated or closed", () => {
    expect(blockText(render(incident("resolved")))).toContain("before → after: *1,230 (82%)* → *240 (16%)*");
    expect(blockText(render(incident("resolved")))).toContain("Check 2 of 2 — recovered: 240 / 1,500 (16%)");
    expect(blockText(render(incident("escalated")))).toContain(
      "Escalated* — still at 86% after redeploying web twice",
    );
    expect(blockText(render(incident("closed")))).toContain("Closed* — Atlas closed the alert");
  });

  it("offers Approve / Skip / Snooze only in approve mode, when asked, while a decision is pending", () => {
    const pending = incident("awaiting-approval");
    const message = render(pending);
    const buttons = buttonsOf(message);
    expect(buttons.map((b) => [b.action_id, b.text.text, b.style])).toEqual([
      [SLACK_ACTION_IDS.approve, "Approve", "primary"],
      [SLACK_ACTION_IDS.skip, "Skip", undefined],
      [SLACK_ACTION_IDS.snooze, "Snooze 1 h", undefined],
    ]);
    for (const button of buttons) {
      expect(parseButtonValue(button.value)).toEqual({ incidentId: pending.id, requestedAt: iso(2) });
    }
    expect(blockText(message)).toContain("Waiting for an approver");

    expect(buttonsOf(render(pending, { approvalButtons: false }))).toEqual([]);
    expect(buttonsOf(render(pending, { mode: "auto" }))).toEqual([]);
    expect(buttonsOf(render(pending, { mode: "notify" }))).toEqual([]);
    expect(buttonsOf(render(incident("acting")))).toEqual([]);
    // The ledger's state may lag the journal by a moment: a recorded decision hides the buttons.
    const decided = incident("awaiting-approval", [
      ...journalFor("awaiting-approval"),
      entry(3, "approval", "skipped", { by: "U0SKIPPER" }),
    ]);
    expect(buttonsOf(render(decided))).toEqual([]);
  });

  it("asks for confirmation before approving a failover", () => {
    const journal = journalFor("open");
    journal.push(entry(3, "plan", "failover", { reason: "M10: no attributable app", kind: "failover" }));
    journal.push(entry(3, "approval", "requested", { kind: "failover", reason: "M10: no attributable app" }));
    const [approve] = buttonsOf(render(incident("awaiting-approval", journal)));
    expect(approve?.confirm?.style).toBe("danger");
    expect(approve?.confirm?.text.text).toContain("Cluster0");
  });

  it("shows a call and its outcome as one line, whether or not the outcome names the action", () => {
    for (const named of [true, false]) {
      const journal = journalFor("open");
      journal.push(
        entry(3, "action", "sending", { target: "api", kind: "render", action: "restart", attempt: 1 }),
      );
      journal.push(
        entry(4, "action", "started", {
          target: "api",
          platform: "render",
          ...(named ? { action: "restart" } : {}),
          detail: "render accepted the restart",
        }),
      );
      const text = blockText(render(incident("verifying", journal)));
      expect(text).toMatch(/restart \*api\* \(render\): started/);
      expect(text).not.toMatch(/\*api\* \(render\): sending/);
    }
  });

  it("reads the failover from the approval request as the core writes it", () => {
    const journal = journalFor("open");
    const failover = planDetail({ kind: "failover", reason: "M10: no attributable app" });
    journal.push(entry(3, "approval", "requested", { ...failover }));
    const [approve] = buttonsOf(render(incident("awaiting-approval", journal)));
    expect(approve?.confirm?.style).toBe("danger");
    const redeploy = journalFor("open");
    redeploy.push(entry(3, "approval", "requested", { ...PLAN }));
    expect(buttonsOf(render(incident("awaiting-approval", redeploy)))[0]?.confirm).toBeUndefined();
  });

  it("says who decided and when, as a mention only for a real Slack user id", () => {
    const approved = blockText(render(incident("acting")));
    expect(approved).toMatch(/Approved by <@U0APPROVER> <!date\^\d+\^/);
    const journal = journalFor("awaiting-approval");
    journal.push(entry(4, "approval", "snoozed", { by: "<!channel> admin", until: iso(64) }));
    const message = render(incident("open", journal));
    expect(blockText(message)).toContain("Snoozed by <!channel> admin");
    expect(visibleOf(message).mentions).toEqual([]);
  });

  it("keeps every limit with a 500-entry journal and 40 apps, summarizing older steps", () => {
    const journal = journalFor("verifying");
    const apps = Array.from({ length: 40 }, (_, i) => ({
      app: `service-${i}-${"x".repeat(60)}`,
      env: "aws.lambda",
      connections: 40 - i,
    }));
    const advice = apps.map((a) => ({
      app: a.app,
      summary: `${a.app} ${"holds many connections. ".repeat(20)}`,
      steps: Array(12).fill("y".repeat(390)),
    }));
    journal.push(entry(7, "advice", "ok", { advice }));
    for (let i = 0; i < 490; i++) {
      const minute = 7 + i / 20;
      if (i % 5 === 0) journal.push(entry(minute, "stats", "ok", stats(1200 + (i % 50), { byApp: apps })));
      else if (i % 5 === 1)
        journal.push(
          entry(minute, "action", i % 2 ? "failed" : "unknown", {
            target: `t${i}`,
            kind: "render",
            action: "restart",
            detail: "z".repeat(400),
          }),
        );
      else if (i % 5 === 2)
        journal.push(
          entry(minute, "verify", "still-high", { check: i, of: 500, ...stats(1250, { byApp: apps }) }),
        );
      else if (i % 5 === 3)
        journal.push(
          entry(minute, "plan", "blocked", { target: `t${i}`, reason: "cooldown", until: iso(90) }),
        );
      else
        journal.push(
          entry(minute, "stats", "error", {
            error: "UpstreamTimeoutError",
            message: "w".repeat(600),
            retryInSeconds: 30,
          }),
        );
    }
    expect(journal.length).toBeGreaterThanOrEqual(500);
    const huge = incident("verifying", journal, "c".repeat(200));
    const message = render(huge);
    expectWithinSlackLimits(message);
    for (const block of message.blocks) {
      if (block.type === "header") expect(block.text.text.length).toBeLessThanOrEqual(150);
      if (block.type === "section") expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    }
    // Slack's undocumented cumulative limit (~12 000 characters of block text).
    const total = visibleOf({ text: "", blocks: message.blocks }).text.length;
    expect(total).toBeLessThan(12_000);
    const text = blockText(message);
    expect(text).toMatch(/…and \d+ (earlier|more) (steps|actions|checks)/);
    expect(text).toMatch(/…and \d+ more apps/);
    // The essentials survive the trimming.
    expect(text).toContain("Blocked");
    expect(message.blocks[0]?.type).toBe("header");

    const again = [...journal, entry(32, "approval", "requested", PLAN)];
    const withButtons = render({ ...huge, journal: again, state: "awaiting-approval" });
    expectWithinSlackLimits(withButtons);
    expect(buttonsOf(withButtons)).toHaveLength(3);
  });

  it("makes hostile outside text inert: no mentions, no links, no forged lines", () => {
    const hostile = "<!channel> <@U123> <https://evil.example|click> @here & <!subteam^S1|team>";
    const journal: JournalEntry[] = [
      entry(0, "intake", "opened", { alertId: hostile, event: hostile, metric: hostile, value: hostile }),
      entry(
        1,
        "stats",
        "ok",
        stats(1200, {
          tier: hostile,
          byApp: [{ app: hostile, env: hostile, connections: 9 }],
          sources: [{ name: hostile, ok: false, error: hostile }],
          findings: [{ kind: "partial", detail: hostile }],
        }),
      ),
      entry(2, "plan", "redeploy", {
        target: hostile,
        kind: hostile,
        reason: `${hostile}\n:white_check_mark: Approved by <@U999>`,
        culprits: [hostile],
      }),
      entry(2, "advice", "ok", { advice: [{ app: hostile, summary: hostile, steps: [hostile] }] }),
      entry(2, "approval", "requested", {}),
      entry(3, "action", "dry-run", {
        target: hostile,
        kind: hostile,
        action: hostile,
        method: hostile,
        endpoint: "https://evil.example/x",
        detail: hostile,
      }),
      entry(4, "verify", "still-high", { check: 1, of: 1, ...stats(1200) }),
      entry(5, "incident", "escalated", { reason: hostile }),
      entry(6, "stats", "error", { error: hostile, message: hostile }),
    ];
    const message = render(incident("escalated", journal, hostile), { mode: "dry-run" });
    expectWithinSlackLimits(message);
    const visible = visibleOf(message);
    expect(visible.mentions).toEqual([]);
    expect(visible.links.sort()).toEqual([LINKS.atlasCluster, LINKS.dashboard].sort());
    // The reader still sees the text as it was, only harmless.
    expect(visible.text).toContain("<!channel> <@U123> <https://evil.example|click>");
    expect(visible.text).not.toMatch(/(^|[^\u200b])@here/);
    const json = JSON.stringify(message);
    expect(json).not.toContain("<!channel>");
    expect(json).not.toContain("<@U123>");
    expect(json).not.toContain("<https://evil");
    // A newline in a reason cannot start a line of its own.
    expect(visible.text).not.toMatch(/\n:white_check_mark: Approved by/);
    for (const block of message.blocks) {
      if (block.type === "section" && block.text?.type === "mrkdwn") expect(block.text.verbatim).toBe(true);
    }
  });

  it("drops links that are not http(s) and escapes ampersands in the ones it keeps", () => {
    const message = render(incident("open"), {
      links: { atlasCluster: "javascript:alert(1)", dashboard: LINKS.dashboard },
    });
    const visible = visibleOf(message);
    expect(visible.links).toEqual([LINKS.dashboard]);
    expect(JSON.stringify(message)).toContain("incident=x&amp;tab=journal|Incident in the dashboard>");
  });

  it("marks dry runs and shows the call that would have been made", () => {
    const journal = journalFor("open");
    journal.push(
      entry(3, "action", "dry-run", {
        target: "web",
        kind: "vercel",
        action: "redeploy",
        method: "POST",
        endpoint: "vercel deploy hook (web)",
      }),
    );
    const text = blockText(render(incident("acting", journal), { mode: "dry-run" }));
    expect(text).toContain("*Plan* _(dry run)_");
    expect(text).toContain("would POST vercel deploy hook (web)");
  });

  it("renders an incident with no figures yet", () => {
    const message = render(
      incident("open", [entry(0, "trigger", "opened", { reason: "manual", dryRun: false })]),
    );
    expectWithinSlackLimits(message);
    expect(blockText(message)).toContain("No connection figures yet");
    expect(message.text).toBe("Open: Cluster0");
  });

  it("writes a one-line fallback with the state, figures and plan", () => {
    expect(render(incident("awaiting-approval")).text).toBe(
      "Awaiting approval: Cluster0 (M10) · 1,230 / 1,500 (82%) connections · Redeploy web (vercel) — 82% of the limit and rising",
    );
  });
});

describe("escaping helpers", () => {
  it("escapes, neutralizes broadcasts and flattens lines", () => {
    expect(escapeText("a & b <!here> @channel\nnext")).toBe("a &amp; b &lt;!here&gt; @\u200bchannel next");
  });

  it("clips without breaking an entity, a link or a surrogate pair", () => {
    expect(clip("abc &amp; def", 7)).toBe("abc …");
    expect(clip("see <https://x.example/a|link> now", 12)).toBe("see …");
    expect(clip("ab😀cd", 4)).toBe("ab…");
  });
});
