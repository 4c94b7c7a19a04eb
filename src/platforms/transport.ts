/**
 * How the redeploy adapters talk over HTTP: `fireOnce` for the call that acts, `createPlatformReader`
 * for the reads around it (deploy status, machine lists).
 *
 * `fireOnce` is a single bounded `fetch`, deliberately not the shared ky client (src/outbound/http.ts):
 * a deploy hook is not idempotent, so the adapter must see exactly what happened on the one attempt
 * — an answer with its status, or a failure that src/outbound/delivery.ts reads as "not sent" or
 * "unknown" — and turn it into an outcome (./outcome.ts). It never retries and never follows a
 * redirect (a redirect would resend a secret URL's request to wherever the `Location` points, and
 * turn a POST into a GET). It refuses to send a credential in cleartext to anything but loopback, so
 * a mistyped `http://` cannot leak a token.
 */
import { MAX_REDEPLOY_ANSWER_BYTES, RESPONDER_APP_NAME } from "../constants.ts";
import { cleartextRefusal, deliveryOfFetchError, type FetchFailure } from "../outbound/delivery.ts";
import { createHttpClient, type FetchLike, type HttpClient } from "../outbound/http.ts";

/** What one attempt produced, before any platform-specific reading. */
export type Attempt =
  /** The platform answered; the body is parsed JSON, text, or undefined (empty or unreadable in time). */
  | { kind: "answered"; status: number; headers: Headers; body: unknown }
  /** No answer: whether the request reached the platform, as src/outbound/delivery.ts reads it. */
  | ({ kind: "no-answer" } & FetchFailure);

export interface FireRequest {
  method: "GET" | "POST" | "DELETE";
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
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
export async function fireOnce(fetch: FetchLike, request: FireRequest): Promise<Attempt> {
  const refusal = cleartextRefusal(request.url);
  if (refusal) return { kind: "no-answer", delivery: "not-sent", reason: refusal };
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
    // The timer covers connecting too, but the request may already be out: never say "not sent".
    if (signal.aborted) {
      return { kind: "no-answer", delivery: "unknown", reason: `no answer within ${request.timeoutMs} ms` };
    }
    return { kind: "no-answer", ...deliveryOfFetchError(error) };
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
