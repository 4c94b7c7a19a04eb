/**
 * How the redeploy adapters talk over HTTP: `fireOnce` for the call that acts, `createPlatformReader`
 * for the reads around it (deploy status, machine lists).
 *
 * `fireOnce` is a single bounded `fetch`, deliberately not the shared ky client (src/outbound/http.ts):
 * a deploy hook is not idempotent, so the adapter must see exactly what happened on the one attempt
 * — an answer with its status, a request that provably never left, or silence — and classify it
 * (./outcome.ts). It never retries and never follows a redirect (a redirect would resend a secret
 * URL's request to wherever the `Location` points, and turn a POST into a GET). It refuses to send
 * a credential in cleartext to anything but loopback, so a mistyped `http://` cannot leak a token.
 *
 * Trade-off: "provably never sent" is read from the error codes Node/undici attach (ECONNREFUSED,
 * DNS and TLS failures, connect timeout). Runtimes that do not say (workerd reports a refused
 * connection as a generic network error) fall into `unknown`: a human checks once rather than the
 * responder guessing and firing twice.
 */
import { MAX_REDEPLOY_ANSWER_BYTES, RESPONDER_APP_NAME } from "../config/constants.ts";
import { createHttpClient, type FetchLike, type HttpClient } from "../outbound/http.ts";
import { sanitizePlatformText } from "./outcome.ts";

/** What one attempt produced, before any platform-specific reading. */
export type Delivery =
  /** The platform answered; the body is parsed JSON, text, or undefined (empty or unreadable in time). */
  | { kind: "answered"; status: number; headers: Headers; body: unknown }
  /** Nothing reached the platform. */
  | { kind: "not-sent"; reason: string }
  /** The request may have reached the platform, but no answer came. */
  | { kind: "no-answer"; reason: string };

export interface FireRequest {
  method: "GET" | "POST" | "DELETE";
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

/** Error codes that mean the connection was never established, so no request bytes were sent. */
const NOT_SENT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  EAI_NONAME: "host not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
  CERT_HAS_EXPIRED: "TLS certificate expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS certificate not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS certificate does not match the host",
};

/** Error codes worth naming in an `unknown` detail. */
const NAMED_CODES: Readonly<Record<string, string>> = {
  ECONNRESET: "connection reset",
  EPIPE: "connection closed while sending",
  UND_ERR_SOCKET: "connection closed by the other side",
  UND_ERR_HEADERS_TIMEOUT: "no answer headers in time",
  UND_ERR_BODY_TIMEOUT: "answer body stalled",
};

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** True when a credential may travel to this URL: https anywhere, plain http only to loopback. */
export function mayCarryCredentials(url: URL): boolean {
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
}

/** The reason a credential-bearing call to `url` must not be made, or undefined when it may. */
export function cleartextRefusal(url: URL): string | undefined {
  return mayCarryCredentials(url)
    ? undefined
    : "refused to send a credential over plain http to a non-loopback host";
}

/** Every `code` along an error's cause chain (and inside AggregateErrors), nearest first. */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 16) {
    const current = queue.shift();
    if (current === null || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const record = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof record.code === "string") codes.push(record.code);
    if (record.cause !== undefined) queue.push(record.cause);
    if (Array.isArray(record.errors)) queue.push(...record.errors);
  }
  return codes;
}

/** Reads at most `max` bytes of a body as text; undefined when the read fails or times out. */
async function readBounded(response: Response, max: number): Promise<string | undefined> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    return undefined;
  } finally {
    // Stop the transfer of anything beyond `max`; the answer's status is what counts.
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let offset = 0;
  for (const chunk of chunks) {
    const take = chunk.subarray(0, bytes.byteLength - offset);
    bytes.set(take, offset);
    offset += take.byteLength;
    if (offset >= bytes.byteLength) break;
  }
  return new TextDecoder().decode(bytes);
}

function parseBody(text: string | undefined): unknown {
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Sends one request, once, bounded by `timeoutMs` (headers and body together), and says what
 * happened. Never throws for network or platform failures.
 */
export async function fireOnce(fetch: FetchLike, request: FireRequest): Promise<Delivery> {
  const refusal = cleartextRefusal(request.url);
  if (refusal) return { kind: "not-sent", reason: refusal };
  const signal = AbortSignal.timeout(request.timeoutMs);
  const headers = new Headers(request.headers);
  // Platforms ask callers to identify themselves (Heroku: "should specify a User-Agent").
  if (!headers.has("user-agent")) headers.set("user-agent", RESPONDER_APP_NAME);
  let response: Response;
  try {
    response = await fetch(request.url.href, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
      signal,
    });
  } catch (error) {
    if (signal.aborted) return { kind: "no-answer", reason: `no answer within ${request.timeoutMs} ms` };
    const codes = errorCodes(error);
    const notSent = codes.find((code) => code in NOT_SENT_CODES);
    if (notSent) return { kind: "not-sent", reason: `${NOT_SENT_CODES[notSent]} (${notSent})` };
    const named = codes.find((code) => code in NAMED_CODES);
    if (named) return { kind: "no-answer", reason: `${NAMED_CODES[named]} (${named})` };
    // workerd says only "Network connection lost." for a refused connection as for a reset one.
    const said = error instanceof Error ? sanitizePlatformText(error.message, (text) => text, 100) : "";
    return { kind: "no-answer", reason: `network error${said ? `: ${said}` : ""}` };
  }
  const text = await readBounded(response, MAX_REDEPLOY_ANSWER_BYTES);
  return { kind: "answered", status: response.status, headers: response.headers, body: parseBody(text) };
}

/** The bounded, retried client for an adapter's reads (status checks, machine lists). */
export function createPlatformReader(service: string, fetch: FetchLike, timeoutMs: number): HttpClient {
  return createHttpClient({ service, fetch, timeoutMs });
}

/**
 * Runs a status read and answers null on any failure: `deployInProgress` must never throw, and
 * "cannot tell" is the honest answer when the read fails.
 */
export async function nullOnFailure<T>(read: () => Promise<T | null>): Promise<T | null> {
  try {
    return await read();
  } catch {
    return null;
  }
}

/** Parses a secret that must hold a URL; undefined when it does not. */
export function secretUrl(secret: string): URL | undefined {
  try {
    const url = new URL(secret.trim());
    return url.protocol === "https:" || url.protocol === "http:" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** An API origin from the target's `apiBaseUrl` or the platform default, without trailing slashes. */
export function apiOrigin(apiBaseUrl: string | undefined, fallback: string): string {
  return (apiBaseUrl ?? fallback).replace(/\/+$/, "");
}
