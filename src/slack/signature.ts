/**
 * Slack request signatures (notes/integrations.md §1d): `X-Slack-Signature: v0=<hex>` is the
 * HMAC-SHA256, keyed with the app's signing secret, of `v0:{X-Slack-Request-Timestamp}:{raw body}`.
 *
 * A pure function over the raw bytes, using WebCrypto so it runs the same in workerd and Node;
 * `crypto.subtle.verify` compares in constant time. Bad input is a value with a reason for the log
 * (the route answers only "invalid signature"); a missing secret throws, because that is a
 * deployment error, not a bad request, and failing open would let anyone press the buttons.
 *
 * During a rotation the previous signing secret (SLACK_SIGNING_SECRET_PREVIOUS) is tried after the
 * current one, and the result says it matched.
 *
 * Trade-off: the timestamp window is symmetric (a clock running ahead is as suspect as a replay)
 * and checked before the MAC, so a stale request costs no crypto; its reason is "stale" even when
 * the MAC would not have matched either.
 */

/** Header names, lower-case as `Headers.get` accepts them. */
export const SLACK_SIGNATURE_HEADER = "x-slack-signature";
export const SLACK_TIMESTAMP_HEADER = "x-slack-request-timestamp";

/** Slack's own replay window: five minutes either side. */
export const SLACK_SIGNATURE_TOLERANCE_SECONDS = 300;

export type SlackSignatureCheck =
  | { ok: true; previous?: true }
  | { ok: false; reason: "missing" | "stale" | "malformed" | "mismatch" };

export interface SlackSignatureInput {
  /** The request body exactly as received, before any parsing. */
  rawBody: Uint8Array;
  /** `X-Slack-Request-Timestamp`, or null when absent. */
  timestamp: string | null;
  /** `X-Slack-Signature`, or null when absent. */
  signature: string | null;
  secret: string;
  /** The secret being rotated out, accepted beside `secret` while set. */
  previousSecret?: string | undefined;
  now: Date;
  toleranceSeconds?: number;
}

const encoder = new TextEncoder();

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Checks a Slack request's signature and freshness. Throws only when `secret` is empty. */
export async function verifySlackSignature(input: SlackSignatureInput): Promise<SlackSignatureCheck> {
  if (!input.secret) throw new Error("the Slack signing secret is not configured");
  const { timestamp, signature } = input;
  if (!timestamp || !signature) return { ok: false, reason: "missing" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed" };
  const tolerance = input.toleranceSeconds ?? SLACK_SIGNATURE_TOLERANCE_SECONDS;
  const age = Math.abs(Math.floor(input.now.getTime() / 1000) - Number(timestamp));
  if (!(age <= tolerance)) return { ok: false, reason: "stale" };
  const match = /^v0=([0-9a-fA-F]{64})$/.exec(signature.trim());
  if (!match) return { ok: false, reason: "malformed" };

  const prefix = encoder.encode(`v0:${timestamp}:`);
  const base = new Uint8Array(prefix.byteLength + input.rawBody.byteLength);
  base.set(prefix, 0);
  base.set(input.rawBody, prefix.byteLength);
  const mac = hexToBytes(match[1]!);
  if (await macMatches(input.secret, mac, base)) return { ok: true };
  if (input.previousSecret && (await macMatches(input.previousSecret, mac, base)))
    return { ok: true, previous: true };
  return { ok: false, reason: "mismatch" };
}

async function macMatches(secret: string, mac: Uint8Array<ArrayBuffer>, base: Uint8Array<ArrayBuffer>) {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return crypto.subtle.verify("HMAC", key, mac, base);
}
