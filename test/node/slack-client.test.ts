/**
 * The Slack client against the honest fake Slack over real HTTP, with the Node-side fetch the CLIs
 * inject. The fake enforces Slack's auth, channel, content and rate rules, so "delivered" here means
 * the request was what Slack documents, and the fake's record is what a user would see.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeSlack, startFakeSlack } from "../../fakes/slack.ts";
import type { SlackConfig } from "../../src/config/schema.ts";
import { createNodeFetch, type NodeFetch } from "../../src/outbound/node-fetch.ts";
import { createSlackClient, type SlackClientOptions, type SlackDelivery } from "../../src/slack/client.ts";
import type { SlackMessage } from "../../src/slack/render.ts";

let fake: FakeSlack;
let node: NodeFetch;
const outcomes: SlackDelivery[] = [];
const sleeps: number[] = [];

beforeAll(async () => {
  fake = await startFakeSlack({ channels: ["incidents"], postBurst: 3 });
  node = createNodeFetch();
});
afterAll(async () => {
  // Nothing any call answered may carry a credential.
  const said = JSON.stringify(outcomes);
  expect(said).not.toContain(fake.token);
  expect(said).not.toContain(new URL(fake.webhookUrl).pathname.split("/").at(-1));
  await node.close();
  await fake.close();
});

let channels = 0;
/** A fresh channel per test, so the per-channel post rate of one test never touches another. */
const freshChannel = () => fake.channel(`test-${++channels}`);

type Bot = Extract<SlackConfig, { kind: "bot" }>;
const bot = (overrides: Partial<Bot> = {}): Bot => ({
  kind: "bot",
  token: fake.token,
  channel: freshChannel().name,
  approvers: [],
  apiBaseUrl: fake.apiBaseUrl,
  ...overrides,
});

function client(config: SlackClientOptions["config"], timeoutMs?: number) {
  const inner = createSlackClient({
    fetch: node.fetch,
    config,
    timeoutMs,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  // Record every outcome for the leak check in afterAll.
  const recorded =
    <A extends unknown[]>(fn: (...args: A) => Promise<SlackDelivery>) =>
    async (...args: A) => {
      const outcome = await fn(...args);
      outcomes.push(outcome);
      return outcome;
    };
  return {
    ...inner,
    deliver: recorded(inner.deliver),
    post: recorded(inner.post),
    update: recorded(inner.update),
    postWebhook: recorded(inner.postWebhook),
    respond: recorded(inner.respond),
  };
}

const message = (text: string, extra: string = text): SlackMessage => ({
  text,
  blocks: [
    { type: "header", text: { type: "plain_text", text: `:mag: ${text}`, emoji: true } },
    { type: "section", text: { type: "mrkdwn", text: `*${extra}*`, verbatim: true } },
  ],
});

describe("Slack client, bot token", () => {
  it("posts once and then updates the same message in place", async () => {
    const config = bot();
    const slack = client(config);
    const first = await slack.deliver(message("Open: Cluster0"));
    expect(first).toMatchObject({ kind: "delivered", ts: expect.stringMatching(/^\d{10}\.\d{6}$/) });
    // Slack answers the channel *id*, which is what chat.update needs.
    const channelId = fake.channel(config.channel).id;
    expect(first).toMatchObject({ channel: channelId });
    const ref = { ts: (first as { ts: string }).ts, channel: channelId };

    expect(await slack.deliver(message("Acting: Cluster0"), ref)).toEqual({
      kind: "delivered",
      ts: ref.ts,
      channel: channelId,
    });
    expect(await slack.deliver(message("Resolved: Cluster0", "1,230 → 240"), ref)).toMatchObject({
      ts: ref.ts,
    });

    const inChannel = fake.messages({ channel: channelId });
    expect(inChannel).toHaveLength(1);
    expect(fake.history(ref.ts).map((v) => [v.via, v.text])).toEqual([
      ["chat.postMessage", "Open: Cluster0"],
      ["chat.update", "Acting: Cluster0"],
      ["chat.update", "Resolved: Cluster0"],
    ]);
    expect(fake.visible(ref.ts).text).toContain("*1,230 → 240*");
    const calls = fake.calls().filter((c) => c.ts === ref.ts);
    expect(calls.every((c) => c.auth === "bearer" && c.warnings === undefined)).toBe(true);
    expect(calls.every((c) => c.contentType === "application/json; charset=utf-8")).toBe(true);
  });

  it("answers Slack's error names: invalid_auth, not_authed, channel_not_found", async () => {
    expect(await client(bot({ token: "xoxb-1-wrong-token" })).post(message("x"))).toEqual({
      kind: "failed",
      error: "invalid_auth",
    });
    expect(await client(bot({ token: "" })).post(message("x"))).toEqual({
      kind: "failed",
      error: "invalid_auth",
    });
    expect(await client(bot({ channel: "no-such-channel" })).post(message("x"))).toEqual({
      kind: "failed",
      error: "channel_not_found",
    });
    // chat.update wants the id: a channel name is not found, as in Slack.
    const config = bot();
    const slack = client(config);
    const posted = (await slack.post(message("x"))) as { ts: string };
    expect(await slack.update({ ts: posted.ts, channel: config.channel }, message("y"))).toEqual({
      kind: "failed",
      error: "channel_not_found",
    });
  });

  it("reports Slack's content limits by name", async () => {
    // A fresh channel per post: rejected posts count against the channel's rate, as requests do.
    const slack = { post: (m: SlackMessage) => client(bot()).post(m) };
    expect(await slack.post({ text: "x".repeat(40_001), blocks: [] })).toEqual({
      kind: "failed",
      error: "msg_too_long",
    });
    const long = Array.from({ length: 5 }, () => ({
      type: "section" as const,
      text: { type: "mrkdwn" as const, text: "y".repeat(2900) },
    }));
    expect(await slack.post({ text: "x", blocks: long })).toEqual({
      kind: "failed",
      error: "msg_blocks_too_long",
    });
    expect(
      await slack.post({
        text: "x",
        blocks: [{ type: "header", text: { type: "plain_text", text: "h".repeat(151) } }],
      }),
    ).toEqual({ kind: "failed", error: "invalid_blocks" });
    expect(await slack.post({ text: "", blocks: [] })).toEqual({ kind: "failed", error: "no_text" });
  });

  it("returns Retry-After on a 429 instead of sleeping, for posts and updates", async () => {
    const config = bot();
    const slack = client(config);
    const posted: SlackDelivery[] = [];
    for (let i = 0; i < 4; i++) posted.push(await slack.post(message(`burst ${i}`)));
    expect(posted.slice(0, 3).every((p) => p.kind === "delivered")).toBe(true);
    expect(posted[3]).toEqual({ kind: "failed", error: "ratelimited", retryAfterSeconds: 1 });

    const ref = { ts: (posted[0] as { ts: string }).ts, channel: fake.channel(config.channel).id };
    sleeps.length = 0;
    fake.failNext("chat.update", { status: 429, retryAfter: 7 });
    const before = fake.calls({ method: "chat.update" }).length;
    expect(await slack.update(ref, message("later"))).toEqual({
      kind: "failed",
      error: "ratelimited",
      retryAfterSeconds: 7,
    });
    expect(fake.calls({ method: "chat.update" }).length - before).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it("never reposts after a lost answer: a post that may have landed is `unknown`", async () => {
    const config = bot();
    const slack = client(config, 300);
    const channelId = fake.channel(config.channel).id;
    fake.failNext("chat.postMessage", "accept-then-hang", { channel: config.channel });
    const started = Date.now();
    expect(await slack.post(message("maybe"))).toEqual({ kind: "unknown", error: "timeout" });
    expect(Date.now() - started).toBeLessThan(3_000);
    // It did land, exactly once: the caller must not post again blindly.
    expect(fake.messages({ channel: channelId }).map((m) => m.text)).toEqual(["maybe"]);
    expect(fake.calls({ method: "chat.postMessage" }).filter((c) => c.channel === channelId)).toHaveLength(1);

    fake.failNext("chat.postMessage", "reset", { channel: config.channel });
    expect(await slack.post(message("reset"))).toEqual({ kind: "unknown", error: "network_error" });
    fake.failNext("chat.postMessage", { status: 500 }, { channel: config.channel });
    expect(await slack.post(message("500"))).toEqual({ kind: "unknown", error: "internal_error" });
    fake.failNext("chat.postMessage", { error: "fatal_error" }, { channel: config.channel });
    expect(await slack.post(message("fatal"))).toEqual({ kind: "unknown", error: "fatal_error" });
    // 503 says Slack did not take it.
    fake.failNext("chat.postMessage", { status: 503 }, { channel: config.channel });
    expect(await slack.post(message("503"))).toEqual({ kind: "failed", error: "internal_error" });
    expect(fake.calls({ method: "chat.postMessage" }).filter((c) => c.channel === channelId)).toHaveLength(5);
  });

  it("a post answered 524 may have landed: `unknown`, never posted again, as a deploy hook's 524 is", async () => {
    const config = bot();
    const slack = client(config);
    const channelId = fake.channel(config.channel).id;
    const posts = () => fake.calls({ method: "chat.postMessage" }).filter((c) => c.channel === channelId);
    // Cloudflare's own timeout page: HTML, no Slack error name in it.
    fake.failNext(
      "chat.postMessage",
      { status: 524, body: "<html><title>524: A timeout occurred</title></html>" },
      { channel: config.channel },
    );
    expect(await slack.deliver(message("maybe"))).toEqual({ kind: "unknown", error: "http_524" });
    expect(posts().map((c) => c.status)).toEqual([524]);
    // With Slack's JSON body the name is Slack's, the verdict the same; 520 (origin answered garbage) too.
    fake.failNext("chat.postMessage", { status: 524 }, { channel: config.channel });
    expect(await slack.post(message("maybe"))).toEqual({ kind: "unknown", error: "internal_error" });
    fake.failNext("chat.postMessage", { status: 520 }, { channel: config.channel });
    expect(await slack.post(message("maybe"))).toEqual({ kind: "unknown", error: "internal_error" });
    // 521 says Cloudflare never reached Slack: nothing landed, so posting again is safe.
    fake.failNext("chat.postMessage", { status: 521 }, { channel: config.channel });
    expect(await slack.post(message("maybe"))).toEqual({ kind: "failed", error: "internal_error" });
    expect(posts().map((c) => c.status)).toEqual([524, 524, 520, 521]);
    expect(fake.messages({ channel: channelId })).toEqual([]);

    // An incoming-webhook post follows the same rule.
    const hook = client({ kind: "webhook", url: fake.webhookUrl, approvers: [] });
    const before = fake.calls({ method: "webhook" }).length;
    fake.failNext("webhook", { status: 524 });
    expect(await hook.deliver(message("maybe"))).toEqual({ kind: "unknown", error: "internal_error" });
    expect(fake.calls({ method: "webhook" }).length - before).toBe(1);
  });

  it("retries chat.update once on a 5xx, and reports a timeout as failed (safe to redo)", async () => {
    const config = bot();
    const slack = client(config, 300);
    const ref = {
      ts: ((await slack.post(message("v1"))) as { ts: string }).ts,
      channel: fake.channel(config.channel).id,
    };
    sleeps.length = 0;
    fake.failNext("chat.update", { status: 502 });
    expect(await slack.update(ref, message("v2"))).toMatchObject({ kind: "delivered", ts: ref.ts });
    expect(sleeps).toHaveLength(1);
    fake.failNext("chat.update", "hang");
    expect(await slack.update(ref, message("v3"))).toEqual({ kind: "failed", error: "timeout" });
    expect(fake.history(ref.ts).map((v) => v.text)).toEqual(["v1", "v2"]);
  });

  it("posts anew when the message to update is gone", async () => {
    const config = bot();
    const slack = client(config);
    const channelId = fake.channel(config.channel).id;
    const outcome = await slack.deliver(message("again"), { ts: "1700000000.000001", channel: channelId });
    expect(outcome).toMatchObject({ kind: "delivered", channel: channelId });
    expect(fake.messages({ channel: channelId }).map((m) => m.text)).toEqual(["again"]);
  });

  it("refuses to send the token in cleartext, and reports an unreachable Slack", async () => {
    expect(await client(bot({ apiBaseUrl: "http://slack.example.com/api" })).post(message("x"))).toEqual({
      kind: "failed",
      error: "insecure_url",
    });
    // A port nothing listens on (not 9 or 1: fetch refuses those "bad ports" before connecting).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    expect(await client(bot({ apiBaseUrl: `http://127.0.0.1:${port}/api` })).post(message("x"))).toEqual({
      kind: "failed",
      error: "unreachable",
    });
  });

  it("replaces the clicked message through its response_url, without the token", async () => {
    const config = bot();
    const slack = client(config);
    const ts = ((await slack.post(message("buttons"))) as { ts: string }).ts;
    const click = fake.interaction({ ts, actionId: "any", value: "x" });
    const responseUrl = (click.payload as { response_url: string }).response_url;
    expect(await slack.respond(responseUrl, message("Approved by ana"))).toEqual({ kind: "delivered" });
    expect(fake.history(ts).map((v) => [v.via, v.text])).toEqual([
      ["chat.postMessage", "buttons"],
      ["response_url", "Approved by ana"],
    ]);
    expect(fake.calls({ method: "response_url" }).at(-1)?.auth).toBe("none");
  });
});

describe("Slack client, incoming webhook", () => {
  const webhook = (url = fake.webhookUrl): Extract<SlackConfig, { kind: "webhook" }> => ({
    kind: "webhook",
    url,
    approvers: [],
  });

  it("posts through the webhook (no ts comes back) and says 'not supported' for bot calls", async () => {
    const slack = client(webhook());
    expect(slack.mode).toBe("webhook");
    expect(await slack.deliver(message("via webhook"))).toEqual({ kind: "delivered" });
    const posted = fake.messages().filter((m) => m.via === "webhook");
    expect(posted.map((m) => m.text)).toContain("via webhook");
    expect(fake.calls({ method: "webhook" }).at(-1)).toMatchObject({ status: 200, auth: "none" });
    expect(await slack.update({ ts: "1.1", channel: "C1" }, message("x"))).toEqual({
      kind: "failed",
      error: "not_supported",
    });
    expect(await client(bot()).postWebhook(message("x"))).toEqual({ kind: "failed", error: "not_supported" });
  });

  it("reads the webhook's text errors: no_service, invalid_blocks, rate_limited", async () => {
    const revoked = fake.webhookUrl.replace(/[^/]+$/, "revokedsecret");
    expect(await client(webhook(revoked)).postWebhook(message("x"))).toEqual({
      kind: "failed",
      error: "no_service",
    });
    const slack = client(webhook());
    expect(await slack.postWebhook({ text: "x", blocks: [{ type: "context", elements: [] }] })).toEqual({
      kind: "failed",
      error: "invalid_blocks",
    });
    fake.failNext("webhook", { status: 429, retryAfter: 3 });
    expect(await slack.postWebhook(message("x"))).toEqual({
      kind: "failed",
      error: "ratelimited",
      retryAfterSeconds: 3,
    });
    fake.failNext("webhook", "accept-then-hang");
    expect(await client(webhook(), 300).postWebhook(message("maybe"))).toEqual({
      kind: "unknown",
      error: "timeout",
    });
  });
});

describe("the fake Slack keeps Slack's rules", () => {
  const api = (method: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${fake.apiBaseUrl}/${method}`, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        authorization: `Bearer ${fake.token}`,
        ...headers,
      },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<Record<string, unknown>>);

  it("answers not_authed without a token, warns on a missing charset, and knows no unknown ts", async () => {
    const channel = freshChannel();
    const unauthed = await fetch(`${fake.apiBaseUrl}/chat.postMessage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel: channel.id, text: "x" }),
    }).then((r) => r.json());
    expect(unauthed).toEqual({ ok: false, error: "not_authed" });
    const posted = await api(
      "chat.postMessage",
      { channel: `#${channel.name}`, text: "x" },
      { "content-type": "application/json" },
    );
    expect(posted).toMatchObject({
      ok: true,
      channel: channel.id,
      response_metadata: { warnings: ["missing_charset"] },
    });
    expect(await api("chat.update", { channel: channel.id, ts: "1700000000.000001", text: "y" })).toEqual({
      ok: false,
      error: "message_not_found",
    });
    const invalid = await api("chat.postMessage", {
      channel: channel.id,
      text: "x",
      blocks: [{ type: "section" }],
    });
    expect(invalid).toMatchObject({
      ok: false,
      error: "invalid_blocks",
      errors: ["must provide text or fields [json-pointer:/blocks/0]"],
    });
  });

  it("only lets a user click buttons the message shows", async () => {
    const channel = freshChannel();
    const posted = await api("chat.postMessage", { channel: channel.id, text: "no buttons here" });
    expect(() => fake.interaction({ ts: String(posted.ts), actionId: "atlas-responder.approve" })).toThrow(
      /shows no button/,
    );
  });
});
