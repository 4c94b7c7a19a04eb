/**
 * The renderer against arbitrary incidents (fast-check): whatever the journal holds — any step,
 * any status, any text, any size — the message stays within Slack's limits and outside text stays
 * inert. Plus one snapshot per state, so a change in what people see is a reviewed change.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateBlocks, visibleOf } from "../../fakes/slack.ts";
import type { ResponderMode } from "../../src/config/schema.ts";
import { INCIDENT_STATES, type IncidentDetail, type JournalEntry } from "../../src/incident/view.ts";
import { renderIncidentMessage } from "../../src/slack/render.ts";

const ID = "65f0a1b2c3d4e5f6a7b8c9d0-0m7a1b2c3d4e5f6";
const GROUP = "65f0a1b2c3d4e5f6a7b8c9d0";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const NOW = new Date(T0 + 30 * 60_000);
const LINKS = { atlasCluster: `https://cloud.mongodb.com/v2/${GROUP}#/clusters/detail/Cluster0` };
const MODES: ResponderMode[] = ["auto", "approve", "notify", "dry-run"];

const STEPS: Array<[string, string[]]> = [
  ["intake", ["opened", "joined", "alert-closed", "alert-cancelled", "noted", "stale", "ignored", "merged"]],
  ["trigger", ["opened", "joined"]],
  ["stats", ["ok", "partial", "final", "identified"]],
  [
    "plan",
    [
      "redeploy",
      "failover",
      "below-threshold",
      "blocked",
      "snoozed",
      "unknown-outcome",
      "exhausted",
      "no-targets",
      "cannot-measure",
    ],
  ],
  ["advice", ["ok"]],
  ["approval", ["requested", "approved", "skipped", "snoozed", "refused"]],
  [
    "action",
    ["sending", "started", "failed", "unknown", "dry-run", "notify-only", "deferred", "held", "killop"],
  ],
  ["verify", ["recovered", "still-high", "unmeasured"]],
  ["incident", ["resolved", "escalated", "closed"]],
  ["slack", ["failed", "unknown"]],
  ["gather", ["error"]],
];

const hostile = fc.constantFrom(
  "<!channel>",
  "<!here> <!everyone>",
  "<@U0ATTACKER>",
  "<https://evil.example|click here>",
  "*bold* _it_ ~s~ `code`",
  "a\nApproved by <@U0BOSS>",
  "&lt;!channel&gt;",
  "\u202eevil",
);
const text = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  hostile,
);
const count = fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.constant(null));
const app = fc.record({
  app: text,
  env: fc.oneof(text, fc.constant(null)),
  connections: fc.integer({ min: 0, max: 100_000 }),
});

const detail = fc.record(
  {
    alertId: text,
    event: text,
    metric: text,
    value: count,
    reason: text,
    target: text,
    kind: text,
    action: text,
    method: text,
    endpoint: text,
    detail: text,
    by: fc.oneof(text, fc.constant("U0APPROVER")),
    until: fc.constant(new Date(T0 + 3600_000).toISOString()),
    tier: fc.oneof(text, fc.constant("M0"), fc.constant(null)),
    current: count,
    limit: count,
    percent: fc.oneof(fc.double({ min: 0, max: 1000, noNaN: true }), fc.constant(null)),
    trendPerMinute: fc.oneof(fc.double({ min: -1000, max: 1000, noNaN: true }), fc.constant(null)),
    minutesToLimit: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constant(null)),
    byApp: fc.array(app, { maxLength: 60 }),
    culprits: fc.array(text, { maxLength: 10 }),
    sources: fc.array(fc.record({ name: text, ok: fc.boolean(), error: fc.oneof(text, fc.constant(null)) }), {
      maxLength: 5,
    }),
    advice: fc.array(
      fc.record({
        app: fc.oneof(text, fc.constant(null)),
        summary: text,
        steps: fc.array(text, { maxLength: 8 }),
      }),
      {
        maxLength: 6,
      },
    ),
    before: fc.record({ current: count, percent: count }),
    after: fc.record({ current: count, percent: count }),
  },
  { requiredKeys: [] },
);

const line = fc.tuple(fc.constantFrom(...STEPS), fc.nat(), fc.integer({ min: 0, max: 29 }), detail).map(
  ([[step, statuses], pick, minute, d]): JournalEntry => ({
    at: new Date(T0 + minute * 60_000).toISOString(),
    step,
    status: statuses[pick % statuses.length]!,
    detail: d as Record<string, unknown>,
  }),
);

const incident = fc.record({
  state: fc.constantFrom(...INCIDENT_STATES),
  name: fc.oneof(text, fc.constant("Cluster0")),
  journal: fc.array(line, { maxLength: 300 }),
});

describe("renderIncidentMessage, for any incident", () => {
  it("stays within every Slack limit and keeps outside text inert", () => {
    fc.assert(
      fc.property(
        incident,
        fc.constantFrom(...MODES),
        fc.boolean(),
        ({ state, name, journal }, mode, buttons) => {
          const detail: IncidentDetail = {
            id: ID,
            cluster: { groupId: GROUP, name },
            state,
            openedAt: new Date(T0).toISOString(),
            updatedAt: NOW.toISOString(),
            alerts: [],
            journal: [...journal].sort((a, b) => a.at.localeCompare(b.at)),
          };
          const message = renderIncidentMessage({
            incident: detail,
            mode,
            links: LINKS,
            approvalButtons: buttons,
            now: NOW,
          });
          expect(validateBlocks(message.blocks)).toEqual([]);
          expect(message.blocks.length).toBeLessThanOrEqual(50);
          expect(new TextEncoder().encode(JSON.stringify(message)).byteLength).toBeLessThan(40 * 1024);
          expect(message.text.length).toBeGreaterThan(0);
          expect(message.text.length).toBeLessThanOrEqual(300);
          const seen = visibleOf(message);
          // Slack's hidden total-text limit (about 12,000 characters of block text).
          expect(seen.text.length).toBeLessThan(12_000);
          // No broadcast, no link but ours; a user is mentioned only as the one who decided.
          expect(seen.mentions.filter((m) => m.startsWith("<!"))).toEqual([]);
          expect(seen.mentions.filter((m) => m !== "<@U0APPROVER>")).toEqual([]);
          expect(seen.links.every((l) => l === LINKS.atlasCluster)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** A fixed incident walked up to each state, for the snapshots. */
function walk(state: (typeof INCIDENT_STATES)[number]): IncidentDetail {
  const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
  const stats = (current: number) => ({
    tier: "M0",
    current,
    limit: 500,
    percent: current / 5,
    trendPerMinute: 4.5,
    minutesToLimit: Math.round((500 - current) / 4.5),
    byApp: [],
    sources: [
      { name: "mongodb", ok: true, error: null },
      {
        name: "atlas-admin",
        ok: false,
        error: "atlas-admin GET https://cloud.mongodb.com/api/atlas/v2/groups answered 500",
      },
      { name: "alert", ok: true, error: null },
    ],
    findings: [{ kind: "tier-refused", detail: "$currentOp is not allowed on M0" }],
  });
  const plan = {
    target: "web",
    kind: "vercel",
    reason: "Cluster0 at 86 % of its connection limit; web owns it",
    culprits: [],
  };
  const j: JournalEntry[] = [
    {
      at: at(0),
      step: "intake",
      status: "opened",
      detail: {
        alertId: "66aa00000000000000000001",
        event: "alert.open",
        status: "OPEN",
        metric: "CONNECTIONS_PERCENT",
        value: 86,
      },
    },
    { at: at(0), step: "stats", status: "partial", detail: stats(430) },
    { at: at(0), step: "plan", status: "redeploy", detail: plan },
    {
      at: at(0),
      step: "advice",
      status: "ok",
      detail: {
        advice: [
          {
            app: null,
            summary: "M0 cannot tell which app holds the connections.",
            steps: ["Create one MongoClient per process."],
          },
        ],
      },
    },
  ];
  const push = (m: number, step: string, status: string, d: Record<string, unknown> = {}) =>
    j.push({ at: at(m), step, status, detail: d });
  if (state !== "open") push(0, "approval", "requested", plan);
  if (!["open", "awaiting-approval", "closed"].includes(state)) {
    push(2, "approval", "approved", { by: "U0APPROVER" });
    push(2, "action", "sending", {
      target: "web",
      kind: "vercel",
      action: "redeploy (deploy hook, rebuilds)",
      method: "POST",
      endpoint: "vercel deploy hook (web)",
    });
    push(2, "action", "started", {
      target: "web",
      platform: "vercel",
      detail: "vercel deploy hook (web) accepted: job j1 PENDING",
      deployId: "j1",
    });
  }
  if (["verifying", "resolved", "escalated"].includes(state))
    push(5, "verify", "still-high", { check: 1, of: 2, ...stats(420) });
  if (state === "resolved") {
    push(12, "verify", "recovered", { check: 2, of: 2, ...stats(60) });
    push(12, "incident", "resolved", {
      before: { current: 430, percent: 86 },
      after: { current: 60, percent: 12 },
      note: "connections came down after the action",
    });
  }
  if (state === "escalated")
    push(12, "incident", "escalated", { reason: "still above the threshold after redeploying web" });
  if (state === "closed") push(20, "incident", "closed", { reason: "Atlas closed the alert" });
  return {
    id: ID,
    cluster: { groupId: GROUP, name: "Cluster0" },
    state,
    openedAt: at(0),
    updatedAt: j.at(-1)!.at,
    alerts: [],
    journal: j,
  };
}

describe("renderIncidentMessage snapshots", () => {
  it.each(INCIDENT_STATES)("%s", (state) => {
    const message = renderIncidentMessage({
      incident: walk(state),
      mode: "approve",
      links: LINKS,
      approvalButtons: true,
      now: NOW,
    });
    expect(message).toMatchSnapshot();
  });
});
