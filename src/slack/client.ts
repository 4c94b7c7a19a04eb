/**
 * The only module that talks to Slack: chat.postMessage / chat.update with a bot token, an incoming
 * webhook, and a button's `response_url` (notes/integrations.md §1). It knows the URLs and the auth
 * scheme and nothing about incidents; src/slack/render.ts builds the message.
 *
 * Every call answers a `SlackDelivery` value and never throws for Slack or the network:
 *   delivered — Slack accepted it (`ts`/`channel` for a bot post: keep them to update in place);
 *   failed    — Slack refused, or provably never got it: Slack's error name (`channel_not_found`,
 *               `invalid_auth`, `ratelimited` with `retryAfterSeconds`, `msg_too_long`, …);
 *   unknown   — a post may have landed (timeout, reset, 408/500/502/504/520/524, Slack's
 *               `fatal_error`): posting again could duplicate the message, so the caller decides.
 * Whether a call may have landed is src/outbound/delivery.ts's rule, the same one the deploy hooks
 * and Atlas Test Failover follow; only Slack's own error names (`fatal_error`, …) are read here.
 *
 * Trade-off: the shared bounded client (src/outbound/http.ts) sends every request, so timeouts and
 * error classes are the same as elsewhere, but it is told to hand 429 back (`passStatuses`) instead
 * of sleeping through `Retry-After` inside a Worker: the ledger's alarm comes back later. Only
 * chat.update (idempotent in effect) is retried, once, on network errors and 5xx; a post, a webhook
 * and a response_url reply go out once. The token and the webhook URL (secret as a whole) never
 * appear in an outcome: error texts are Slack's error names or words chosen here.
 */
import type { SlackConfig } from "../config/schema.ts";
import { isUpstreamHttpError, isUpstreamNetworkError, isUpstreamTimeoutError } from "../errors.ts";
import { deliveryOfError, mayCarrySecrets } from "../outbound/delivery.ts";
import { createHttpClient, type FetchLike, type HttpClient, parseRetryAfter } from "../outbound/http.ts";
import type { SlackMessage } from "./render.ts";

/** Where a bot-posted message lives: what chat.update needs (the channel *id*, not its name). */
export interface SlackMessageRef {
  ts: string;
  channel: string;
}

export type SlackDelivery =
  | { kind: "delivered"; ts?: string; channel?: string }
  | { kind: "failed"; error: string; retryAfterSeconds?: number }
  | { kind: "unknown"; error: string };

export interface SlackClient {
  readonly mode: "bot" | "webhook";
  /**
   * Shows the message: bot mode updates `previous` in place (posting anew only when Slack says it is
   * gone) or posts; webhook mode posts a new message every time, so call it on changes worth one.
   */
  deliver(message: SlackMessage, previous?: SlackMessageRef): Promise<SlackDelivery>;
  /** chat.postMessage (bot mode). Sent once, never retried. */
  post(message: SlackMessage): Promise<SlackDelivery>;
  /** chat.update (bot mode). Retried once on network errors and 5xx. */
  update(ref: SlackMessageRef, message: SlackMessage): Promise<SlackDelivery>;
  /** An incoming-webhook post (webhook mode). Sent once, never retried. */
  postWebhook(message: SlackMessage): Promise<SlackDelivery>;
  /** Replies through a button's `response_url`; `replaceOriginal` edits the clicked message. */
  respond(
    responseUrl: string,
    message: SlackMessage,
    options?: { replaceOriginal?: boolean; ephemeral?: boolean },
  ): Promise<SlackDelivery>;
}

export interface SlackClientOptions {
  fetch: FetchLike;
  config: Extract<SlackConfig, { kind: "bot" | "webhook" }>;
  /** Per attempt; default DESIGN §5's 10 s. Slack answers in well under a second when healthy. */
  timeoutMs?: number;
  /** How to wait before the one chat.update retry; tests inject one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

const SLACK_ERROR_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** Slack says these mean "something may have happened before it broke". */
const AMBIGUOUS_SLACK_ERRORS = new Set(["fatal_error", "internal_error", "request_timeout"]);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Slack's error name when it is one (never free text, which could echo what we sent). */
function errorName(value: unknown, fallback: string): string {
  if (typeof value !== "string") return fallback;
  const name = value.trim().toLowerCase();
  if (name === "rate_limited") return "ratelimited";
  return SLACK_ERROR_NAME.test(name) ? name : fallback;
}

function slackErrorFields(body: unknown): { code?: string } {
  if (isRecord(body)) return { code: errorName(body.error, "") || undefined };
  return { code: errorName(body, "") || undefined };
}

/** Creates the Slack client for a bot token or an incoming webhook. */
export function createSlackClient(options: SlackClientOptions): SlackClient {
  const { config } = options;
  const http: HttpClient = createHttpClient({
    service: "slack",
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    maxRetries: 1,
    describeError: slackErrorFields,
    sleep: options.sleep,
  });

  /** One POST. `once`: not idempotent, so never retried and a lost answer is `unknown`. */
  async function call(
    url: URL,
    body: Record<string, unknown>,
    how: { once: boolean; token?: string },
  ): Promise<SlackDelivery> {
    if (!mayCarrySecrets(url)) return { kind: "failed", error: "insecure_url" };
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
    if (how.token !== undefined) headers.authorization = `Bearer ${how.token}`;
    try {
      const response = await http.request({
        method: "POST",
        url,
        headers,
        json: body,
        idempotent: !how.once,
        passStatuses: [429],
      });
      if (response.status === 429) {
        const waitMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
        return {
          kind: "failed",
          error: "ratelimited",
          ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
        };
      }
      return readAnswer(how.once, response.body);
    } catch (error) {
      return classifyFailure(how.once, error);
    }
  }

  /** A 2xx answer: Web API JSON (`ok`, `ts`, `channel` or `error`), or a webhook's "ok". */
  function readAnswer(once: boolean, body: unknown): SlackDelivery {
    const garbled: SlackDelivery = once
      ? { kind: "unknown", error: "invalid_response" }
      : { kind: "failed", error: "invalid_response" };
    // Incoming webhooks and response_urls answer the text "ok" (response_urls sometimes {"ok":true}).
    if (typeof body === "string") return body.trim() === "ok" ? { kind: "delivered" } : garbled;
    if (!isRecord(body)) return garbled;
    if (body.ok === true) {
      const ts = typeof body.ts === "string" ? body.ts : undefined;
      const channel = typeof body.channel === "string" ? body.channel : undefined;
      return { kind: "delivered", ...(ts ? { ts } : {}), ...(channel ? { channel } : {}) };
    }
    const error = errorName(body.error, "unexpected_error");
    if (once && AMBIGUOUS_SLACK_ERRORS.has(error)) return { kind: "unknown", error };
    return { kind: "failed", error };
  }

  /** A call the shared client gave up on: a `once` call that may have landed is `unknown`. */
  function classifyFailure(once: boolean, error: unknown): SlackDelivery {
    // Anything but the shared client's errors is a bug in this process, not a Slack outcome.
    if (!isUpstreamTimeoutError(error) && !isUpstreamNetworkError(error) && !isUpstreamHttpError(error)) {
      throw error;
    }
    const delivery = deliveryOfError(error);
    let name: string;
    if (isUpstreamTimeoutError(error)) name = "timeout";
    else if (isUpstreamNetworkError(error)) name = delivery === "not-sent" ? "unreachable" : "network_error";
    else if (error.code === "INVALID_JSON") name = "invalid_response";
    else name = errorName(error.code, `http_${error.status}`);
    if (once && delivery === "unknown") return { kind: "unknown", error: name };
    const wait = isUpstreamHttpError(error) ? error.retryAfterSeconds : undefined;
    return { kind: "failed", error: name, ...(wait === undefined ? {} : { retryAfterSeconds: wait }) };
  }

  const notSupported: SlackDelivery = { kind: "failed", error: "not_supported" };
  const api = (base: string, method: string) => new URL(`${base.replace(/\/+$/, "")}/${method}`);
  const messageBody = (message: SlackMessage) => ({ text: message.text, blocks: message.blocks });

  const client: SlackClient = {
    mode: config.kind,
    async post(message) {
      if (config.kind !== "bot") return notSupported;
      const body = {
        channel: config.channel,
        ...messageBody(message),
        // The Atlas and dashboard links would otherwise grow previews under the incident.
        unfurl_links: false,
        unfurl_media: false,
      };
      return call(api(config.apiBaseUrl, "chat.postMessage"), body, { once: true, token: config.token });
    },
    async update(ref, message) {
      if (config.kind !== "bot") return notSupported;
      const body = { channel: ref.channel, ts: ref.ts, ...messageBody(message) };
      return call(api(config.apiBaseUrl, "chat.update"), body, { once: false, token: config.token });
    },
    async postWebhook(message) {
      if (config.kind !== "webhook") return notSupported;
      let url: URL;
      try {
        url = new URL(config.url);
      } catch {
        return { kind: "failed", error: "invalid_url" };
      }
      return call(url, { ...messageBody(message), unfurl_links: false, unfurl_media: false }, { once: true });
    },
    async respond(responseUrl, message, respondOptions = {}) {
      let url: URL;
      try {
        url = new URL(responseUrl);
      } catch {
        return { kind: "failed", error: "invalid_url" };
      }
      const replace = respondOptions.replaceOriginal ?? true;
      const ephemeral = respondOptions.ephemeral === true ? { response_type: "ephemeral" } : {};
      // Replacing the clicked message is idempotent; a new reply is not. No token: the URL is the credential.
      // A reply of text alone sends no `blocks`: Slack answers an empty array with invalid_blocks.
      const content = message.blocks.length > 0 ? messageBody(message) : { text: message.text };
      return call(url, { ...content, ...ephemeral, replace_original: replace }, { once: !replace });
    },
    async deliver(message, previous) {
      if (config.kind === "webhook") return client.postWebhook(message);
      if (!previous) return client.post(message);
      const updated = await client.update(previous, message);
      // Someone deleted the message: the incident still needs one, so post it anew.
      if (updated.kind === "failed" && updated.error === "message_not_found") return client.post(message);
      return updated;
    },
  };
  return client;
}
