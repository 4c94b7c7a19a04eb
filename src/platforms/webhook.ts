/**
 * Generic webhook adapter: for anything without a built-in adapter (a CI job, an internal deployer,
 * the local sandbox's fake platform). The target's secret is the URL, secret as a whole.
 *
 * Request: `POST <url>`, `Content-Type: application/json`, `Idempotency-Key: <key>` (stable per
 * incident, target and attempt: receivers should drop a key they have already acted on), body
 *
 *   {"event":"atlas-responder.redeploy","incidentId":"…","target":"<target name>",
 *    "reason":"…","idempotencyKey":"…","sentAt":"<ISO 8601>"}
 *
 * Any 2xx is `started`; an answer `{"id":"…"}` becomes the outcome's `deployId`.
 *
 * Signature (when the target names a `signingSecret`), for receivers to verify:
 *
 *   X-Atlas-Responder-Timestamp: <unix seconds>
 *   X-Atlas-Responder-Signature: sha256=<hex>
 *   hex = lowercase hex of HMAC-SHA256(key = signing secret as UTF-8,
 *                                      message = "<timestamp>.<raw request body>")
 *
 * To verify: take the raw body bytes before parsing, recompute the HMAC over the timestamp header,
 * a ".", and the body; compare with the header in constant time; reject when the timestamp is more
 * than WEBHOOK_SIGNATURE_TOLERANCE_SECONDS (300 s) from your clock; then dedupe on Idempotency-Key.
 *
 * Trade-off: the timestamp is inside the MAC (as Stripe and Slack do) so a captured request cannot
 * be replayed with a fresh timestamp; the cost is that receivers must build the signed string, not
 * just hash the body.
 */

import { DEFAULT_HTTP_TIMEOUT_MS } from "../constants.ts";
import type { Clock, FetchLike } from "../outbound/http.ts";
import { asPlatformId, createRedactor, outcomeFor, refused } from "./outcome.ts";
import { fireOnce, secretUrl } from "./transport.ts";
import type { PlannedCall, RedeployAdapter, RedeployRequest } from "./types.ts";
import type { WebhookTarget } from "./webhook-target.ts";

export interface WebhookAdapterOptions {
  target: WebhookTarget;
  /** The value of the secret `target.secret` names: the receiver's URL. */
  secret: string;
  /** The value of the secret `target.signingSecret` names, when it names one. */
  signingSecret?: string;
  fetch: FetchLike;
  timeoutMs?: number;
  /** Source of the signature timestamp and `sentAt`. */
  clock?: Clock;
}

export const WEBHOOK_EVENT = "atlas-responder.redeploy";
export const WEBHOOK_SIGNATURE_HEADER = "X-Atlas-Responder-Signature";
export const WEBHOOK_TIMESTAMP_HEADER = "X-Atlas-Responder-Timestamp";

/** The JSON body the webhook adapter sends. */
export interface WebhookPayload {
  event: typeof WEBHOOK_EVENT;
  incidentId: string;
  target: string;
  reason: string;
  idempotencyKey: string;
  sentAt: string;
}

const encoder = new TextEncoder();

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`): the value of the signature header. */
export async function signWebhookBody(body: string, timestamp: number, secret: string): Promise<string> {
  if (!secret) throw new Error("the webhook signing secret is empty");
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`)));
  let hex = "";
  for (const byte of mac) hex += byte.toString(16).padStart(2, "0");
  return `sha256=${hex}`;
}

/** Creates the adapter that POSTs a signed redeploy request to a generic webhook. */
export function createWebhookAdapter(options: WebhookAdapterOptions): RedeployAdapter {
  const { target, secret, signingSecret } = options;
  const send = options.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const clock = options.clock ?? Date;
  const label = `webhook (${target.name})`;
  const redact = createRedactor([secret, signingSecret]);

  return {
    target,
    plan: (): PlannedCall => ({
      target: target.name,
      kind: "webhook",
      action: signingSecret ? "redeploy (signed webhook)" : "redeploy (webhook)",
      method: "POST",
      endpoint: label,
    }),
    async deployInProgress() {
      // A generic receiver has no status endpoint we know of.
      return null;
    },
    async redeploy(request: RedeployRequest) {
      const url = secretUrl(secret);
      if (!url) return refused(label, `secret ${target.secret} does not hold an http(s) URL`, redact);
      const now = clock.now();
      const payload: WebhookPayload = {
        event: WEBHOOK_EVENT,
        incidentId: request.incidentId,
        target: target.name,
        reason: request.reason,
        idempotencyKey: request.idempotencyKey,
        sentAt: new Date(now).toISOString(),
      };
      const body = JSON.stringify(payload);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        accept: "application/json",
        "idempotency-key": request.idempotencyKey,
      };
      if (signingSecret) {
        const timestamp = Math.floor(now / 1000);
        headers[WEBHOOK_TIMESTAMP_HEADER.toLowerCase()] = String(timestamp);
        headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] = await signWebhookBody(
          body,
          timestamp,
          signingSecret,
        );
      }
      const attempt = await fireOnce(send, { method: "POST", url, headers, body, timeoutMs });
      return outcomeFor(label, attempt, redact, (status, answer) => {
        const id =
          answer !== null && typeof answer === "object"
            ? asPlatformId((answer as { id?: unknown }).id)
            : undefined;
        return {
          kind: "started",
          detail: `${label} accepted (${status})${id ? `: ${id}` : ""}`,
          ...(id ? { deployId: id } : {}),
        };
      });
    },
  };
}
