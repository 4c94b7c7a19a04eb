/**
 * The fault matrix: one complete incident per row — an M0 cluster at 85 % because one app leaks,
 * Atlas's alert, measure, redeploy, verify — driven through one fault of one outside service, over
 * real TCP against the honest fakes (./fault-world.ts). Each row asserts the journal, the Slack
 * message as the fake Slack received it, and that nothing is lost or repeated: every delivery is
 * recorded, the redeploy hook is fired at most once, at most one Slack message is posted, and the
 * message ends up showing the incident's last state unless its post may have landed unseen (which
 * the journal then says).
 *
 * Retry waits move the world's clock instead of sleeping, so `Retry-After: 60` costs nothing; only
 * the per-call timeout (TIMEOUT_MS) is spent in real time, by the rows where something hangs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_MS } from "../../src/constants.ts";
import { CLUSTER, FaultWorld, GROUP, START, TARGET, TIMEOUT_MS } from "./fault-world.ts";

interface Row {
  name: string;
  /** Injected after the leak and before Atlas's alert. */
  fault: (w: FaultWorld) => void | Promise<void>;
  /** Ends the fault after the first alarm (default: it lasts the whole incident). */
  heal?: (w: FaultWorld) => void | Promise<void>;
  state: "resolved" | "escalated";
  /** The whole journal, as `step:status`. */
  steps: string[];
  /** Each source's error in the first reading (null: it answered). */
  sources: { mongodb: RegExp | null; "atlas-admin": RegExp | null };
  /** POSTs to the deploy hook, and how many of them the platform carried out. */
  redeploys: { sent: number; landed: number };
  /** chat.postMessage calls, and the messages that exist afterwards (0 when the only post was lost). */
  slack: { posts: number; messages: 0 | 1; updates?: number };
  /** The Slack message's headline as a reader sees it at the end, and lines it must show. */
  shows?: RegExp[];
  /** What the message's first version showed (while the fault was on), and did not. */
  firstShows?: RegExp[];
  firstHides?: RegExp[];
  /** Retry waits the clients asked for, in ms (the clock moved by them; nobody slept). */
  sleeps?: (sleeps: number[]) => void;
  /** Journal details to check, by `step:status`. */
  detail?: Record<string, Record<string, unknown>>;
  /** Warnings the responder logged, by event. */
  logged?: string[];
}

const ok = { mongodb: null, "atlas-admin": null };
const HAPPY = [
  "intake:opened",
  "stats:ok",
  "plan:redeploy",
  "advice:ok",
  "action:sending",
  "action:started",
  "intake:joined",
  "verify:recovered",
  "incident:resolved",
];
const PARTIAL = HAPPY.map((s) => (s === "stats:ok" ? "stats:partial" : s));
const RESOLVED = /^Resolved: Cluster0 \(M0\) · \d \/ 500 \(\d(\.\d)?%\) connections/;
const ESCALATED = /^Escalated: Cluster0 \(M0\) · 42[5-7] \/ 500 \(85(\.\d)?%\) connections/;
/** The Admin API under the project (every call but the token endpoint). */
const PROJECT = { path: `/groups/${GROUP}` };
const none = (sleeps: number[]) => expect(sleeps).toEqual([]);
/** Jittered exponential backoff (src/outbound/http.ts): 2 retries of one read, under a second each. */
const backoff = (count: number) => (sleeps: number[]) => {
  expect(sleeps.length).toBeGreaterThanOrEqual(count);
  for (const ms of sleeps) expect(ms).toBeLessThan(1_000);
};

const ROWS: Row[] = [
  // ---- the Atlas Admin API ---------------------------------------------------------------------
  {
    name: "Admin API: 500 twice, then answers (the retries absorb it)",
    fault: (w) => w.atlas.failNext({ status: 500, count: 2, match: PROJECT }),
    state: "resolved",
    steps: HAPPY,
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    sleeps: (s) => expect(s).toHaveLength(2),
  },
  {
    name: "Admin API: 500 on every call (the direct MongoDB reading carries the incident)",
    fault: (w) => w.atlas.failNext({ status: 500, count: 1_000, match: PROJECT }),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: null, "atlas-admin": /answered 500 UNEXPECTED_ERROR/ },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED, /:warning: atlas-admin: .*answered 500/],
    sleeps: backoff(2),
  },
  {
    name: "Admin API: a call that never answers (timeout, not retried)",
    fault: (w) => w.atlas.failNext({ hang: true, count: 1, match: PROJECT }),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: null, "atlas-admin": new RegExp(`did not answer within ${TIMEOUT_MS} ms`) },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    sleeps: none,
  },
  {
    name: "Admin API: a 429 storm with Retry-After: 60 (beyond the 30 s the client waits: gives up at once)",
    fault: (w) => w.atlas.failNext({ status: 429, retryAfterSeconds: 60, count: 1_000, match: PROJECT }),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: null, "atlas-admin": /answered 429 RATE_LIMITED/ },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED, /:warning: atlas-admin: .*answered 429/],
    sleeps: (s) => {
      expect(60_000).toBeGreaterThan(MAX_RETRY_AFTER_MS);
      expect(s).toEqual([]);
    },
  },
  {
    name: "Admin API: 429 with Retry-After: 2, twice (waited out on the clock, then answers)",
    fault: (w) => w.atlas.failNext({ status: 429, retryAfterSeconds: 2, count: 2, match: PROJECT }),
    state: "resolved",
    steps: HAPPY,
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    sleeps: (s) => expect(s).toEqual([2_000, 2_000]),
  },
  {
    name: "the token endpoint down (503 to every service-account token request)",
    fault: (w) => w.atlas.failNext({ status: 503, count: 1_000, match: { path: "/api/oauth/token" } }),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: null, "atlas-admin": /oauth\/token answered 503/ },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED, /:warning: atlas-admin: answered 503 .*oauth\/token/],
    sleeps: backoff(2),
  },
  // ---- MongoDB ---------------------------------------------------------------------------------
  {
    name: "MongoDB refusing connections (the Admin API's figures carry the incident)",
    fault: (w) => w.mongo.refuse(),
    heal: (w) => w.mongo.accept(),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: /nothing accepted the connection \(ECONNREFUSED\)/, "atlas-admin": null },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    firstShows: [/:warning: mongodb: nothing accepted the connection \(ECONNREFUSED\)/],
    sleeps: none,
  },
  {
    name: "MongoDB dropping the socket mid-command (serverStatus read, never answered)",
    fault: (w) => w.mongo.dropMidCommand({ command: "serverStatus" }),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: /^MongoDB closed the connection in the middle of a command/, "atlas-admin": null },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    firstShows: [/:warning: mongodb: MongoDB closed the connection in the middle of a command/],
    // A drop mid-command is not the sign of a full cluster (that one is a drop during the handshake).
    firstHides: [/drops new connections unanswered/],
    sleeps: none,
  },
  {
    name: "MongoDB answering slower than the budget (a timeout)",
    fault: (w) => w.mongo.slow(TIMEOUT_MS * 2),
    heal: (w) => w.mongo.slow(0),
    state: "resolved",
    steps: PARTIAL,
    sources: { mongodb: /within \d+ ms/, "atlas-admin": null },
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    firstShows: [/:warning: mongodb: no MongoDB server answered within \d+ ms/],
    sleeps: none,
  },
  {
    name: "MongoDB answering slowly within the budget",
    fault: (w) => w.mongo.slow(100),
    state: "resolved",
    steps: HAPPY,
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 2 },
    shows: [RESOLVED],
    sleeps: none,
  },
  // ---- Slack -----------------------------------------------------------------------------------
  {
    name: "Slack: 429 with Retry-After: 60 on the post (posted once, 60 s later on the clock)",
    fault: (w) => w.slack.failNext("chat.postMessage", { status: 429, retryAfter: 60 }),
    state: "resolved",
    steps: [...HAPPY.slice(0, 6), "slack:failed", ...HAPPY.slice(6)],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    // The retry falls at the verification's minute: the one post shows the resolved incident.
    slack: { posts: 2, messages: 1, updates: 0 },
    shows: [RESOLVED],
    sleeps: none,
    detail: { "slack:failed": { error: "ratelimited" } },
    logged: ["slack.failed"],
  },
  {
    name: "Slack: 500 on the post (it may have landed: never posted again)",
    fault: (w) => w.slack.failNext("chat.postMessage", { status: 500 }),
    state: "resolved",
    steps: [...HAPPY.slice(0, 6), "slack:unknown", ...HAPPY.slice(6)],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 0, updates: 0 },
    sleeps: none,
    detail: { "slack:unknown": { detail: "the message may have been posted; it will not be posted again" } },
    logged: ["slack.unknown"],
  },
  {
    name: "Slack: 524 on the post (Cloudflare: accepted, then timed out — may have landed)",
    fault: (w) => w.slack.failNext("chat.postMessage", { status: 524 }),
    state: "resolved",
    steps: [...HAPPY.slice(0, 6), "slack:unknown", ...HAPPY.slice(6)],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 0, updates: 0 },
    sleeps: none,
    logged: ["slack.unknown"],
  },
  {
    name: "Slack: the post carried out, its answer lost (timeout): never posted again, so never updated",
    fault: (w) => w.slack.failNext("chat.postMessage", "accept-then-hang"),
    state: "resolved",
    steps: [...HAPPY.slice(0, 6), "slack:unknown", ...HAPPY.slice(6)],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    // The message exists but its ts never reached the responder: it keeps showing the first state.
    slack: { posts: 1, messages: 1, updates: 0 },
    shows: [/^Verifying: Cluster0 \(M0\) · 42[5-7] \/ 500/],
    sleeps: none,
    detail: { "slack:unknown": { error: "timeout" } },
    logged: ["slack.unknown"],
  },
  {
    name: "Slack: 500 on the update, twice (retried once at once, then by the alarm: the message catches up)",
    fault: (w) => w.slack.failNext("chat.update", { status: 500 }, { times: 2 }),
    state: "resolved",
    steps: [...HAPPY.slice(0, 7), "slack:failed", ...HAPPY.slice(7)],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    // The re-notification's update: refused, retried at once, refused; the alarm's retry, then the resolution.
    slack: { posts: 1, messages: 1, updates: 4 },
    shows: [RESOLVED],
    sleeps: (s) => expect(s).toHaveLength(1),
    logged: ["slack.failed"],
  },
  // ---- the deploy hook -------------------------------------------------------------------------
  {
    name: "deploy hook: no answer (timeout → unknown: never fired again, a human checks)",
    fault: (w) => w.platforms.failNext("vercel", "timeout", { target: TARGET }),
    state: "escalated",
    steps: [
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:unknown",
      "incident:escalated",
      "intake:joined",
    ],
    sources: ok,
    redeploys: { sent: 1, landed: 0 },
    slack: { posts: 1, messages: 1, updates: 1 },
    shows: [ESCALATED],
    sleeps: none,
    detail: {
      "action:unknown": { detail: expect.stringContaining(`no answer within ${TIMEOUT_MS} ms`) },
      "incident:escalated": { reason: "the outcome of the call to shop-web is unknown: check it by hand" },
    },
  },
  {
    name: "deploy hook: carried out, then no answer (the lost answer: still never fired again)",
    fault: (w) => w.platforms.failNext("vercel", "accept-then-timeout", { target: TARGET }),
    state: "escalated",
    steps: [
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:unknown",
      "incident:escalated",
      "intake:joined",
    ],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 1 },
    shows: [ESCALATED],
    sleeps: none,
  },
  {
    name: "deploy hook: 500 after carrying it out (500 may have acted → unknown, never fired again)",
    fault: (w) => w.platforms.failNext("vercel", { status: 500, landed: true }, { target: TARGET }),
    state: "escalated",
    steps: [
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:unknown",
      "incident:escalated",
      "intake:joined",
    ],
    sources: ok,
    redeploys: { sent: 1, landed: 1 },
    slack: { posts: 1, messages: 1, updates: 1 },
    shows: [ESCALATED],
    sleeps: none,
    detail: { "action:unknown": { detail: expect.stringContaining("answered 500") } },
  },
  {
    name: "deploy hook: 502 from a gateway (it may have reached the platform → unknown)",
    fault: (w) => w.platforms.failNext("vercel", 502, { target: TARGET }),
    state: "escalated",
    steps: [
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:unknown",
      "incident:escalated",
      "intake:joined",
    ],
    sources: ok,
    redeploys: { sent: 1, landed: 0 },
    slack: { posts: 1, messages: 1, updates: 1 },
    shows: [ESCALATED],
    sleeps: none,
    detail: { "action:unknown": { detail: expect.stringContaining("answered 502") } },
  },
  {
    name: "deploy hook: 503 (not handled → not sent; the one redeploy the policy allows is spent)",
    fault: (w) => w.platforms.failNext("vercel", 503, { target: TARGET }),
    state: "escalated",
    steps: [
      "intake:opened",
      "stats:ok",
      "plan:redeploy",
      "advice:ok",
      "action:sending",
      "action:failed",
      "plan:exhausted",
      "incident:escalated",
      "intake:joined",
    ],
    sources: ok,
    redeploys: { sent: 1, landed: 0 },
    slack: { posts: 1, messages: 1, updates: 1 },
    shows: [ESCALATED, /Everything the policy allows has been tried: shop-web/],
    sleeps: none,
    detail: { "action:failed": { status: 503 } },
  },
];

let world: FaultWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

describe("the fault matrix", () => {
  it.each(ROWS.map((row) => [row.name, row] as const))("%s", async (_name, row) => {
    const w = await FaultWorld.start();
    world = w;
    await w.leak();
    await row.fault(w);

    const opened = w.deliver(85);
    expect(opened.status).toBe("accepted");
    const id = opened.incident!;
    // The first alarm runs through the fault: measure, decide, act.
    await w.alarm();
    await row.heal?.(w);
    // Atlas re-notifies meanwhile with a fresh value: recorded on the same incident, not lost.
    w.nowMs += 30_000;
    const renotified = w.deliver(86, "alert.update", { id: w.journal(id)[0]!.detail.alertId });
    expect(renotified).toEqual({ status: "accepted", incident: id });
    await w.settle();

    // The journal.
    const incident = w.store.incident(id)!;
    expect(incident.state).toBe(row.state);
    expect(w.steps(id)).toEqual(row.steps);
    const first = w.journal(id).find((e) => e.step === "stats")!;
    const sources = Object.fromEntries(
      (first.detail.sources as Array<{ name: string; error: string | null }>).map((s) => [s.name, s.error]),
    );
    for (const [name, error] of Object.entries(row.sources)) {
      if (error === null) expect(sources[name], name).toBeNull();
      else expect(sources[name], name).toMatch(error);
    }
    for (const [step, detail] of Object.entries(row.detail ?? {})) {
      const entry = w.journal(id).find((e) => `${e.step}:${e.status}` === step);
      expect(entry?.detail, step).toMatchObject(detail);
    }

    // Nothing lost: both deliveries recorded, one incident for the cluster, nothing left due.
    expect(w.store.deliveries(id)).toHaveLength(2);
    expect(w.store.list({ limit: 10 }).map((i) => i.id)).toEqual([id]);
    expect(incident.nextRunAt).toBeNull();
    expect(w.store.slackDue(Number.MAX_SAFE_INTEGER)).toEqual([]);

    // Nothing repeated: the hook fired at most once, no Test Failover, at most one message.
    const hook = w.redeployCalls();
    expect(hook).toHaveLength(row.redeploys.sent);
    expect(hook.filter((c) => c.accepted)).toHaveLength(row.redeploys.landed);
    expect(w.atlas.requests({ operationId: "restartPrimaries" })).toEqual([]);
    expect(w.slack.calls({ method: "chat.postMessage" })).toHaveLength(row.slack.posts);
    if (row.slack.updates !== undefined)
      expect(w.slack.calls({ method: "chat.update" })).toHaveLength(row.slack.updates);
    const messages = w.slack.messages();
    expect(messages).toHaveLength(row.slack.messages);

    // The Slack message, as a reader sees it: the incident's last state, and the fault where it matters.
    if (messages[0]) {
      const shown = w.slack.visible(messages[0].ts).text;
      expect(shown).toContain(id);
      for (const pattern of row.shows ?? []) expect(shown).toMatch(pattern);
      const first = w.slack.history(messages[0].ts)[0]!;
      for (const pattern of row.firstShows ?? []) expect(JSON.stringify(first.blocks)).toMatch(pattern);
      for (const pattern of row.firstHides ?? []) expect(JSON.stringify(first.blocks)).not.toMatch(pattern);
    }

    // No credential in the journal, the logs or anything Slack received.
    const said = JSON.stringify([w.journal(id), w.logs, w.slack.messages(), w.slack.calls()]);
    for (const secret of w.secrets) expect(said).not.toContain(secret);

    // Waits went to the clock: none of them was slept.
    row.sleeps?.(w.sleeps);
    expect(w.logs.map((l) => l.event)).toEqual(row.logged ?? []);
    expect(w.nowMs - START).toBeLessThan(3 * 3600_000);
    expect(incident.clusterName).toBe(CLUSTER);
  });
});
