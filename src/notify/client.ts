/**
 * The outgoing notification: one POST to NOTIFY_WEBHOOK_URL, as JSON (default) or as a Discord
 * incoming-webhook message (`NOTIFY_FORMAT=discord`). Sent once through `fireOnce` (bounded, no
 * retry, no redirect, no credential over cleartext) and read by the one delivery rule
 * (src/outbound/delivery.ts): `delivered`, `failed` (certainly not delivered: retry later, after
 * `Retry-After` on a 429), or `unknown` (it may have landed: never sent again).
 *
 * JSON body:
 *   {"incident":"<id>"|null,"cluster":{"groupId","name"},"state","previousState","at","summary","url"}
 * `state` is the incident's new state; `warning` (with `incident: null`) for the watch's
 * time-to-limit warning, which belongs to no incident. `url` is the incident's dashboard page when
 * PUBLIC_URL is set, else null.
 *
 * Signature, the same scheme as the outgoing `webhook` target (src/platforms/webhook.ts):
 *   X-Atlas-Responder-Timestamp: <unix seconds>
 *   X-Atlas-Responder-Signature: sha256=<hex of HMAC-SHA256(key, "<timestamp>.<raw body>")>
 * The key is the NOTIFY_WEBHOOK_URL string itself, exactly as configured (UTF-8). That target signs
 * with a secret of the receiver's own; here the URL is that shared secret: the receiver already
 * holds it, and no other credential (least of all ATLAS_WEBHOOK_SECRET, which would let a receiver
 * forge Atlas alerts) has to leave the Worker. Discord messages carry the same headers (Discord
 * ignores them).
 */

import type { NotifyFormat } from "../config/schema.ts";
import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import { deliveryOfStatus } from "../outbound/delivery.ts";
import type { Clock, FetchLike } from "../outbound/http.ts";
import { fireOnce, secretUrl } from "../platforms/transport.ts";
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from "../platforms/webhook.ts";

export interface NotifyPayload {
  incident: string | null;
  cluster: { groupId: string; name: string };
  state: string;
  previousState: string | null;
  at: string;
  summary: string;
  url: string | null;
}

export type NotifyOutcome =
  | { kind: "delivered" }
  | { kind: "failed"; error: string; retryAfterSeconds?: number }
  | { kind: "unknown"; error: string };

export interface NotifyClient {
  readonly format: NotifyFormat;
  send(payload: NotifyPayload, idempotencyKey: string): Promise<NotifyOutcome>;
}

export interface NotifyClientOptions {
  url: string;
  format: NotifyFormat;
  fetch: FetchLike;
  timeoutMs?: number;
  clock?: Clock;
}

/** Discord's limit on a message's `content`. */
export const DISCORD_MAX_CONTENT = 2000;

/**
 * Text that Discord shows as written: markdown, masked links and mention syntax escaped, `@`
 * followed by a zero-width space (so `@everyone` cannot ping even were mentions parsed), and line
 * breaks flattened (no heading or quote can start a line).
 */
export function escapeDiscord(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, " ")
    .replace(/[\\`*_~|>#\-[\]()<:!]/g, (c) => `\\${c}`)
    .replace(/@/g, "@\u200b");
}

/** The Discord message for a payload: bold state, escaped names, at most 2000 characters. */
export function discordMessage(payload: NotifyPayload): { content: string; allowed_mentions: { parse: [] } } {
  const change = payload.previousState
    ? `${escapeDiscord(payload.previousState)} → **${escapeDiscord(payload.state)}**`
    : `**${escapeDiscord(payload.state)}**`;
  const head = `Atlas responder · ${escapeDiscord(payload.cluster.name)}: ${change}`;
  const link = payload.url ? `\n<${payload.url}>` : "";
  let content = `${head}\n${escapeDiscord(payload.summary)}${link}`;
  if (content.length > DISCORD_MAX_CONTENT) {
    // Cut, and drop a trailing run of backslashes so the cut never leaves half an escape.
    content = `${content.slice(0, DISCORD_MAX_CONTENT - 1).replace(/\\+$/, "")}…`;
  }
  return { content, allowed_mentions: { parse: [] } };
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), at least 1. */
function retryAfter(headers: Headers, nowMs: number): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : (Date.parse(value) - nowMs) / 1000;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : undefined;
}

export function createNotifyClient(options: NotifyClientOptions): NotifyClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const clock = options.clock ?? Date;
  return {
    format: options.format,
    async send(payload, idempotencyKey) {
      const url = secretUrl(options.url);
      if (!url) return { kind: "failed", error: "NOTIFY_WEBHOOK_URL does not hold an http(s) URL" };
      const body = JSON.stringify(options.format === "discord" ? discordMessage(payload) : payload);
      const now = clock.now();
      const timestamp = Math.floor(now / 1000);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "idempotency-key": idempotencyKey,
        [WEBHOOK_TIMESTAMP_HEADER.toLowerCase()]: String(timestamp),
        [WEBHOOK_SIGNATURE_HEADER.toLowerCase()]: await signWebhookBody(body, timestamp, options.url),
      };
      const attempt = await fireOnce(options.fetch, { method: "POST", url, headers, body, timeoutMs });
      if (attempt.kind === "no-answer") {
        return attempt.delivery === "not-sent"
          ? { kind: "failed", error: attempt.reason }
          : { kind: "unknown", error: attempt.reason };
      }
      const { status } = attempt;
      const delivery = deliveryOfStatus(status);
      if (delivery === "sent") return { kind: "delivered" };
      const error = `the receiver answered ${status}`;
      if (delivery === "unknown") return { kind: "unknown", error };
      const wait = status === 429 ? retryAfter(attempt.headers, now) : undefined;
      return { kind: "failed", error, ...(wait === undefined ? {} : { retryAfterSeconds: wait }) };
    },
  };
}
