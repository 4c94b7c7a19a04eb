/**
 * Slack end to end inside workerd: the living message, posted once and updated in place; the
 * buttons, clicked as Slack sends them (signed by the fake), through `POST /slack/actions`.
 */
import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { TEST_SECRETS } from "./bindings.ts";
import { E2E, E2E_APPROVER } from "./e2e-plan.ts";
import { alertFor, atlas, incident, mongoControl, platforms, steps, waitFor } from "./e2e-support.ts";
import { BASE, captureLogs } from "./support.ts";

interface Visible {
  text: string;
  mentions: string[];
  buttons: Array<{ actionId: string; value: string }>;
}
interface Message {
  ts: string;
  text: string;
  versions: unknown[];
}

const slack = () => inject("slack");

async function control<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${slack().baseUrl}/__control/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`fake slack ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The messages about one incident (the message shows the incident id). */
async function messagesAbout(incidentId: string): Promise<Message[]> {
  const { messages } = await control<{ messages: Message[] }>("messages");
  const about: Message[] = [];
  for (const m of messages) if ((await visible(m.ts)).text.includes(incidentId)) about.push(m);
  return about;
}

async function visible(ts: string): Promise<Visible> {
  return (await control<{ visible: Visible }>(`history?ts=${encodeURIComponent(ts)}`)).visible;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

async function click(ts: string, actionId: string, user: string, overrides: Record<string, unknown> = {}) {
  const signed = await control<{ body: string; headers: Record<string, string> }>("interaction", {
    ts,
    actionId,
    user: { id: user },
    ...overrides,
  });
  const response = await exports.default.fetch(
    new Request(`${BASE}/slack/actions`, { method: "POST", headers: signed.headers, body: signed.body }),
  );
  return { response, signed };
}

/** Slack's acknowledgement, as Bolt sends it: a 200 with no body. */
async function expectAcknowledged(response: Response): Promise<void> {
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("");
}

let leak: { pid: number } | null = null;

// Every alert writes webhook.recorded and every click slack.decision; the tests read them instead of
// printing, and claim the failures they provoke on purpose.
const logs = captureLogs(["webhook.recorded", "slack.decision"]);

beforeAll(async () => {
  await atlas.project(E2E.slack.groupId, [{ name: E2E.slack.cluster, tier: "M0" }]);
});

// Every scenario starts with a leaking app holding 43 of the cluster's 50 connections.
beforeEach(async () => {
  leak = await mongoControl.spawn(inject("e2eMongo").slack.id, "shop-web", 42);
});
afterEach(async () => {
  if (leak) await mongoControl.kill(leak.pid).catch(() => undefined);
  leak = null;
  // No secret in anything sent to Slack: every message, every version, every reply.
  const sent = JSON.stringify(await control("messages"));
  const secrets = [
    ...Object.values(TEST_SECRETS),
    slack().token,
    slack().signingSecret,
    inject("atlasCredentials").serviceAccount.clientSecret,
    ...inject("e2eTargets").flatMap((t) => Object.values(t.secrets)),
  ];
  for (const secret of secrets) expect(sent).not.toContain(secret);
});

describe("the living Slack message", () => {
  it("alert → one message with buttons → a stranger is refused → signed approval → redeploy → resolved, all in one message", async () => {
    await platforms.killOnRedeploy("slack-web", leak!.pid);
    const { incident: id } = await alertFor(E2E.slack.groupId, E2E.slack.cluster, 86);
    await waitFor(id, (i) => i.state === "awaiting-approval");
    const [message] = await until(
      () => messagesAbout(id),
      (list) => list.length === 1 && list[0]!.text.length > 0,
    );
    const shown = await until(
      () => visible(message!.ts),
      (v) => v.buttons.length === 3,
    );
    expect(shown.buttons.map((b) => b.actionId)).toEqual([
      "atlas-responder.approve",
      "atlas-responder.skip",
      "atlas-responder.snooze",
    ]);
    expect(shown.mentions).toEqual([]);

    // Someone who is not an approver cannot approve.
    const stranger = await click(message!.ts, "atlas-responder.approve", "U0STRANGER");
    await expectAcknowledged(stranger.response);
    const refused = await waitFor(id, (i) => steps(i).includes("approval:refused"));
    expect(steps(refused)).not.toContain("approval:approved");
    expect(await platforms.calls("slack-web")).toHaveLength(0);
    // …and told so privately, through the click's response_url.
    const { calls } = await control<{ calls: Array<{ method: string; path: string; status: number }> }>(
      "calls",
    );
    const replies = calls.filter((c) => c.method === "response_url");
    // Text only, without `"blocks": []`, which the fake (like Slack) answers with invalid_blocks.
    expect(replies.at(-1)).toMatchObject({ status: 200 });
    const { messages: all } = await control<{ messages: Array<{ via: string; text: string }> }>("messages");
    expect(all.some((m) => m.text.includes("Only the approvers listed in SLACK_APPROVERS"))).toBe(true);

    // The approver can; the message then says so, in place, and the buttons are gone.
    const approved = await click(message!.ts, "atlas-responder.approve", E2E_APPROVER);
    await expectAcknowledged(approved.response);
    const acted = await waitFor(id, (i) => steps(i).includes("action:started"));
    expect(steps(acted)).toContain("approval:refused");
    expect(steps(acted).filter((s) => s === "approval:approved")).toHaveLength(1);
    expect(await platforms.calls("slack-web")).toHaveLength(1);
    const after = await until(
      () => visible(message!.ts),
      (v) => v.buttons.length === 0 && v.text.includes(E2E_APPROVER),
    );
    expect(after.text).toContain(E2E_APPROVER);

    // A replay of the signed click does nothing more.
    const replay = await exports.default.fetch(
      new Request(`${BASE}/slack/actions`, {
        method: "POST",
        headers: approved.signed.headers,
        body: approved.signed.body,
      }),
    );
    await expectAcknowledged(replay);
    expect(await platforms.calls("slack-web")).toHaveLength(1);
    // The replay added no second approval to the journal.
    expect(steps(await incident(id)).filter((s) => s === "approval:approved")).toHaveLength(1);
    expect(logs.of("slack.decision").map((l) => [l.incident, l.user, l.applied])).toEqual([
      [id, "U0STRANGER", false],
      [id, E2E_APPROVER, true],
      [id, E2E_APPROVER, false],
    ]);

    // The redeploy ended the leak: the message ends resolved, with before → after.
    await waitFor(id, (i) => i.state === "resolved");
    const resolved = await until(
      () => visible(message!.ts),
      (v) => /resolved/i.test(v.text) && v.text.includes("→"),
    );
    expect(resolved.buttons).toEqual([]);

    // One message for the incident: one chat.postMessage, every later change a chat.update.
    const messages = await messagesAbout(id);
    expect(messages).toHaveLength(1);
    const { calls: slackCalls } = await control<{
      calls: Array<{ method: string; ts?: string; status: number }>;
    }>("calls");
    const aboutIt = slackCalls.filter((c) => c.ts === message!.ts && c.status === 200);
    expect(aboutIt.filter((c) => c.method === "chat.postMessage")).toHaveLength(1);
    expect(aboutIt.filter((c) => c.method === "chat.update").length).toBeGreaterThan(1);
  }, 30_000);
});

describe("delivery failures", () => {
  it("retries after a 429 and a Slack error, journals the error by name, and still posts exactly one message", async () => {
    logs.expect("slack.failed");
    await control("fail-next", {
      method: "chat.postMessage",
      fault: { error: "channel_not_found" },
      channel: "incidents",
    });
    await control("fail-next", {
      method: "chat.postMessage",
      fault: { status: 429, retryAfter: 1 },
      channel: "incidents",
    });
    const { incident: id } = await alertFor(E2E.slack.groupId, E2E.slack.cluster, 86);
    const [message] = await until(
      () => messagesAbout(id),
      (list) => list.length > 0,
      20_000,
    );
    const detail = await waitFor(id, (i) => steps(i).includes("slack:failed"));
    const errors = detail.journal.filter((j) => j.step === "slack").map((j) => j.detail.error);
    expect(errors).toEqual(["channel_not_found", "ratelimited"]);
    expect(logs.of("slack.failed").map((l) => [l.level, l.incident, l.error])).toEqual([
      ["warn", id, "channel_not_found"],
      ["warn", id, "ratelimited"],
    ]);
    expect(message).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await messagesAbout(id)).toHaveLength(1);
  }, 30_000);
});

describe("POST /slack/actions", () => {
  const post = (headers: Record<string, string>, body: string) =>
    exports.default.fetch(new Request(`${BASE}/slack/actions`, { method: "POST", headers, body }));

  /** A click on a fresh incident's Skip button, signed as Slack would (with overrides for hostile cases). */
  async function signedFor(overrides: Record<string, unknown> = {}) {
    const { incident: id } = await alertFor(E2E.slack.groupId, E2E.slack.cluster, 86);
    await waitFor(id, (i) => i.state === "awaiting-approval");
    const [message] = await until(
      () => messagesAbout(id),
      (list) => list.some((m) => m.text.length > 0),
    );
    await until(
      () => visible(message!.ts),
      (v) => v.buttons.length === 3,
    );
    const signed = await control<{ body: string; headers: Record<string, string> }>("interaction", {
      ts: message!.ts,
      actionId: "atlas-responder.skip",
      user: { id: "U0ANYONE" },
      ...overrides,
    });
    return { ...signed, id };
  }

  it("refuses a stale timestamp, another secret and a tampered body with 401", async () => {
    logs.expect("slack.actions-rejected");
    const stale = await signedFor({ timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect((await post(stale.headers, stale.body)).status).toBe(401);
    const other = await signedFor({ secret: "not-the-signing-secret" });
    expect((await post(other.headers, other.body)).status).toBe(401);
    const good = await signedFor();
    const tampered = good.body.replace("atlas-responder.skip", "atlas-responder.approve");
    expect(tampered).not.toBe(good.body);
    const answer = await post(good.headers, tampered);
    expect(answer.status).toBe(401);
    expect(await answer.json()).toEqual({ error: "invalid signature" });
    // The untampered click goes through: anyone may skip.
    await expectAcknowledged(await post(good.headers, good.body));
    expect(steps(await incident(good.id))).toContain("approval:skipped");
    expect(logs.of("slack.actions-rejected").map((l) => [l.level, l.reason])).toEqual([
      ["warn", "signature stale"],
      ["warn", "signature mismatch"],
      ["warn", "signature mismatch"],
    ]);
    expect(logs.of("slack.decision")).toEqual([
      expect.objectContaining({ decision: "skip", user: "U0ANYONE", applied: true }),
    ]);
  }, 30_000);

  it("answers 400 for a signed body that is not a block_actions payload", async () => {
    const { createHmac } = await import("node:crypto");
    const body = "payload=%7B%22type%22%3A%22view_submission%22%7D";
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac("sha256", slack().signingSecret).update(`v0:${ts}:${body}`).digest("hex")}`;
    const response = await post(
      {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
      },
      body,
    );
    expect(response.status).toBe(400);
  });
});
