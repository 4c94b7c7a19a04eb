/**
 * The one rule for "did this call land?", for every outbound call that must not be repeated blindly:
 * a deploy hook or platform API that starts a build or a restart, Atlas Test Failover
 * (restartPrimaries), a Slack post. It also owns the guard that keeps a credential off cleartext.
 *
 * Each call ends in one of three answers (`Delivery`):
 *   sent     — the service answered and accepted (2xx);
 *   not-sent — it certainly did not reach the service, or the service certainly refused it: a
 *              connection that was never made (refused, DNS, TLS, a URL the runtime will not fetch),
 *              or a status that means "not done" (3xx, 4xx, most 5xx);
 *   unknown  — it may have landed: no answer in time after the request went out, a connection that
 *              broke once it was open, 408/500/502/504/520/524, an error we cannot read.
 * Whatever is not provably `not-sent` is `unknown`: a human checks once rather than the responder
 * guessing and acting twice. Callers may still read a 2xx body for a service-level verdict (Slack's
 * `ok`, Railway's GraphQL `errors`); a body that decides but cannot be read is `unknown` there too.
 *
 * Statuses, argued: 500 is `unknown`, not `not-sent`. A 503 is by definition "not handled now"
 * (overload, maintenance) and is produced before the work starts. A 500 is "the handler broke",
 * which can happen after the work was enqueued (enqueue, then fail writing the answer). So any status
 * after which the service may have acted — 408 (the server gave up mid-request), 500, the gateway
 * answers 502/504, and Cloudflare's 520 (origin answered garbage) and 524 (origin accepted, then
 * timed out) — is `unknown`. Cloudflare's 521/522/523/525/526/530 say the origin was never reached.
 *
 * Network errors, argued: the runtimes say different things. Node/undici attach a `code` along the
 * error's cause chain (ECONNREFUSED, ENOTFOUND, certificate codes, UND_ERR_CONNECT_TIMEOUT, inside an
 * AggregateError when several addresses were tried) and a few plain messages for URLs fetch refuses
 * before connecting ("bad port", "unknown scheme"). workerd names only the URL it refuses outright
 * ("Fetch API cannot load: …"); a refused connection and a reset one are both "Network connection
 * lost.", and a failed DNS lookup is an "internal error", so those stay `unknown`. When an error's
 * chain holds a sign of both kinds (a reset and a refusal), `unknown` wins.
 */
import { isUpstreamHttpError, isUpstreamNetworkError, isUpstreamTimeoutError } from "../errors.ts";

/** Whether a call reached the service: see the table in this file's header. */
export type Delivery = "sent" | "not-sent" | "unknown";

/** What a call that did not end in an accepted answer can be. */
export type FailedDelivery = Exclude<Delivery, "sent">;

/** What a rejected `fetch` says about delivery. */
export interface FetchFailure {
  delivery: FailedDelivery;
  /** Said in this module's words, e.g. "connection refused (ECONNREFUSED)"; never the runtime's text. */
  reason: string;
  /**
   * The runtime's own message, only when nothing in the error was recognised. Raw: it may hold a
   * URL or a secret, so clean it before showing it anywhere.
   */
  message?: string;
}

/** Statuses after which the service may have acted although it did not say it did. */
const MAYBE_ACTED_STATUSES: ReadonlySet<number> = new Set([408, 500, 502, 504, 520, 524]);

/** What one HTTP status means for a call that is not safe to repeat. */
export function deliveryOfStatus(status: number): Delivery {
  if (status >= 200 && status < 300) return "sent";
  if (MAYBE_ACTED_STATUSES.has(status)) return "unknown";
  return "not-sent";
}

/** Error codes (Node, undici) that mean the connection was never established: no request byte left. */
const NOT_SENT_CODES: ReadonlyMap<string, string> = new Map([
  ["ECONNREFUSED", "connection refused"],
  ["ENOTFOUND", "host not found"],
  ["EAI_AGAIN", "DNS lookup failed"],
  ["EAI_FAIL", "DNS lookup failed"],
  ["EAI_NONAME", "host not found"],
  ["EHOSTUNREACH", "host unreachable"],
  ["ENETUNREACH", "network unreachable"],
  ["EADDRNOTAVAIL", "address not available"],
  ["UND_ERR_CONNECT_TIMEOUT", "connect timed out"],
  ["ERR_INVALID_URL", "invalid URL"],
  ["CERT_HAS_EXPIRED", "TLS certificate expired"],
  ["CERT_NOT_YET_VALID", "TLS certificate not yet valid"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "TLS certificate not trusted"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "TLS certificate not trusted"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "TLS certificate not trusted"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "TLS certificate not trusted"],
  ["ERR_TLS_CERT_ALTNAME_INVALID", "TLS certificate does not match the host"],
]);

/** Messages (undici's fetch, workerd) that mean the URL was refused before any connection. */
const NOT_SENT_MESSAGES: readonly { test: (message: string) => boolean; reason: string }[] = [
  { test: (m) => m === "bad port", reason: "fetch refuses this port" },
  { test: (m) => m === "unknown scheme", reason: "fetch refuses this URL scheme" },
  { test: (m) => m.startsWith("Fetch API cannot load:"), reason: "the runtime refused the URL" },
];

/** Error codes that mean the connection was open and then broke: the request may have arrived. */
const MAYBE_SENT_CODES: ReadonlyMap<string, string> = new Map([
  ["ECONNRESET", "connection reset"],
  ["EPIPE", "connection closed while sending"],
  ["ETIMEDOUT", "connection timed out"],
  ["UND_ERR_SOCKET", "connection closed by the other side"],
  ["UND_ERR_HEADERS_TIMEOUT", "no answer headers in time"],
  ["UND_ERR_BODY_TIMEOUT", "answer body stalled"],
]);

/** Every error along a cause chain (and inside AggregateErrors), nearest first, bounded. */
function errorChain(error: unknown): object[] {
  const chain: object[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < 16) {
    const current = queue.shift();
    if (current === null || typeof current !== "object" || chain.includes(current)) continue;
    chain.push(current);
    const record = current as { cause?: unknown; errors?: unknown };
    if (record.cause !== undefined) queue.push(record.cause);
    if (Array.isArray(record.errors)) queue.push(...record.errors);
  }
  return chain;
}

/** What a rejected `fetch` (or a body read that broke off) says about delivery. Never throws. */
export function deliveryOfFetchError(error: unknown): FetchFailure {
  let notSent: string | undefined;
  for (const link of errorChain(error)) {
    const { code, message } = link as { code?: unknown; message?: unknown };
    const maybeSent = typeof code === "string" ? MAYBE_SENT_CODES.get(code) : undefined;
    if (maybeSent !== undefined) return { delivery: "unknown", reason: `${maybeSent} (${code})` };
    if (notSent !== undefined) continue;
    const refused = typeof code === "string" ? NOT_SENT_CODES.get(code) : undefined;
    if (refused !== undefined) notSent = `${refused} (${code})`;
    else if (typeof message === "string") notSent = NOT_SENT_MESSAGES.find((s) => s.test(message))?.reason;
  }
  if (notSent !== undefined) return { delivery: "not-sent", reason: notSent };
  const message = error instanceof Error ? error.message : undefined;
  return { delivery: "unknown", reason: "network error", ...(message ? { message } : {}) };
}

/**
 * What an error thrown by the shared client (src/outbound/http.ts) for a call that is not safe to
 * repeat says about delivery: a timeout is `unknown`; a network error is read by
 * `deliveryOfFetchError`; an HTTP error by its status, except that an answer whose body could not be
 * read (a 2xx with broken JSON) is `unknown`. Any other error is `unknown`: nothing proves it did
 * not land.
 */
export function deliveryOfError(error: unknown): FailedDelivery {
  if (isUpstreamTimeoutError(error)) return "unknown";
  if (isUpstreamNetworkError(error)) return deliveryOfFetchError(error.cause).delivery;
  if (isUpstreamHttpError(error)) {
    const delivery = deliveryOfStatus(error.status);
    return delivery === "sent" || error.code === "INVALID_JSON" ? "unknown" : delivery;
  }
  return "unknown";
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * True when a credential may travel to this URL: https anywhere, plain http only to loopback (local
 * fakes and sandboxes). For every URL a secret or the configuration gives us.
 */
export function mayCarrySecrets(url: URL): boolean {
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
}

/** Why a credential-bearing call to `url` must not be made, or undefined when it may. */
export function cleartextRefusal(url: URL): string | undefined {
  return mayCarrySecrets(url)
    ? undefined
    : "refused to send a credential over plain http to a non-loopback host";
}
