/**
 * The Slack client inside workerd, on the runtime's own `fetch`, against the fake Slack the Node
 * global setup started (test/workers/setup/slack.global.ts). Proves what Node tests cannot: ky's
 * timeout and abort, the JSON body with its charset, and the error mapping in the Worker runtime.
 * Each test uses its own channel (created through the fake's control API), so files sharing the
 * fake do not share rate limits or faults.
 */
import { describe, expect, inject, it } from "vitest";
import type { FakeSlackCall, FakeSlackVersion } from "../../fakes/slack.ts";
import { createSlackClient, type SlackClientOptions } from "../../src/slack/client.ts";
import { renderIncidentMessage } from "../../src/slack/render.ts";

const SLACK = inject("slack");

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${SLACK.baseUrl}/__control${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

let counter = 0;
const channel = () =>
  control<{ id: string; name: string }>("POST", "/channels", { name: `workers-${++counter}` });

const botClient = (channelName: string, timeoutMs?: number, token = SLACK.token) =>
  createSlackClient({
    fetch,
    config: { kind: "bot", token, channel: channelName, approvers: [], apiBaseUrl: SLACK.apiBaseUrl },
    timeoutMs,
  } satisfies SlackClientOptions);

const GROUP = "65f0a1b2c3d4e5f6a7b8c9d0";
const message = (state: "awaiting-approval" | "resolved") =>
  renderIncidentMessage({
    incident: {
      id: `${GROUP}-0mm7kwn40l5xhk8`,
      cluster: { groupId: GROUP, name: "Cluster0" },
      state,
      openedAt: "2026-03-01T10:00:00.000Z",
      updatedAt: "2026-03-01T10:02:00.000Z",
      alerts: [],
      journal: [
        {
          at: "2026-03-01T10:01:00.000Z",
          step: "stats",
          status: "ok",
          detail: { tier: "M0", current: 410, limit: 500 },
        },
        {
          at: "2026-03-01T10:02:00.000Z",
          step: "plan",
          status: "redeploy",
          detail: { target: "web", kind: "vercel" },
        },
        { at: "2026-03-01T10:02:00.000Z", step: "approval", status: "requested", detail: {} },
      ],
    },
    mode: "approve",
    links: {},
    approvalButtons: true,
    now: new Date("2026-03-01T10:03:00.000Z"),
  });

describe("Slack client inside workerd", () => {
  it("posts the rendered incident, then updates it in place", async () => {
    const { id, name } = await channel();
    const slack = botClient(name);
    const posted = await slack.deliver(message("awaiting-approval"));
    expect(posted).toMatchObject({
      kind: "delivered",
      channel: id,
      ts: expect.stringMatching(/^\d+\.\d{6}$/),
    });
    const ref = { ts: (posted as { ts: string }).ts, channel: id };
    expect(await slack.deliver(message("resolved"), ref)).toEqual({
      kind: "delivered",
      ts: ref.ts,
      channel: id,
    });

    const { versions, visible } = await control<{
      versions: FakeSlackVersion[];
      visible: { buttons: unknown[] };
    }>("GET", `/history?ts=${ref.ts}`);
    expect(versions.map((v) => v.via)).toEqual(["chat.postMessage", "chat.update"]);
    expect(versions[0]?.text).toMatch(/^Awaiting approval: Cluster0/);
    expect(versions[1]?.text).toMatch(/^Resolved: Cluster0/);
    // Resolved: the buttons are gone from what users see.
    expect(visible.buttons).toEqual([]);
    const { calls } = await control<{ calls: FakeSlackCall[] }>("GET", "/calls");
    const mine = calls.filter((c) => c.ts === ref.ts);
    expect(mine.map((c) => [c.method, c.status, c.auth, c.contentType, c.warnings ?? null])).toEqual([
      ["chat.postMessage", 200, "bearer", "application/json; charset=utf-8", null],
      ["chat.update", 200, "bearer", "application/json; charset=utf-8", null],
    ]);
  });

  it("maps invalid_auth and channel_not_found without leaking the token", async () => {
    const { name } = await channel();
    const wrong = await botClient(name, undefined, "xoxb-workers-wrong-token").post(message("resolved"));
    expect(wrong).toEqual({ kind: "failed", error: "invalid_auth" });
    const lost = await botClient("not-a-channel").post(message("resolved"));
    expect(lost).toEqual({ kind: "failed", error: "channel_not_found" });
    expect(JSON.stringify([wrong, lost])).not.toContain(SLACK.token);
  });

  it("hands back Retry-After on a 429 and reports a lost post as unknown (ky's abort in workerd)", async () => {
    const { name } = await channel();
    await control("POST", "/fail-next", {
      method: "chat.postMessage",
      fault: { status: 429, retryAfter: 12 },
      channel: name,
    });
    expect(await botClient(name).post(message("resolved"))).toEqual({
      kind: "failed",
      error: "ratelimited",
      retryAfterSeconds: 12,
    });
    await control("POST", "/fail-next", {
      method: "chat.postMessage",
      fault: "accept-then-hang",
      channel: name,
    });
    const started = Date.now();
    expect(await botClient(name, 300).post(message("resolved"))).toEqual({
      kind: "unknown",
      error: "timeout",
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    const { messages } = await control<{ messages: unknown[] }>("GET", `/messages?channel=${name}`);
    expect(messages).toHaveLength(1);
  });

  it("reports a post answered 524 as unknown, as a deploy hook's 524 is: it may have landed", async () => {
    const { id, name } = await channel();
    await control("POST", "/fail-next", {
      method: "chat.postMessage",
      fault: { status: 524, body: "<html><title>524: A timeout occurred</title></html>" },
      channel: name,
    });
    expect(await botClient(name).post(message("resolved"))).toEqual({ kind: "unknown", error: "http_524" });
    const { calls } = await control<{ calls: FakeSlackCall[] }>("GET", "/calls");
    expect(
      calls.filter((c) => c.method === "chat.postMessage" && c.channel === id).map((c) => c.status),
    ).toEqual([524]);
  });

  it("posts through the incoming webhook", async () => {
    const slack = createSlackClient({
      fetch,
      config: { kind: "webhook", url: SLACK.webhookUrl, approvers: [] },
    });
    expect(await slack.deliver(message("resolved"))).toEqual({ kind: "delivered" });
    const revoked = createSlackClient({
      fetch,
      config: { kind: "webhook", url: SLACK.webhookUrl.replace(/[^/]+$/, "revoked"), approvers: [] },
    });
    expect(await revoked.postWebhook(message("resolved"))).toEqual({ kind: "failed", error: "no_service" });
  });
});
