/**
 * The one bounded-request helper every outside-system module uses (Atlas now; Slack and the deploy
 * platforms later). It owns DESIGN §5 "Outbound calls": a timeout per attempt, retries only for
 * idempotent calls and only on network errors, 408, 429 and 5xx, `Retry-After` honoured up to
 * MAX_RETRY_AFTER_MS, jittered exponential backoff otherwise; and it turns every failure into
 * UpstreamHttpError / UpstreamTimeoutError / UpstreamNetworkError named after the service.
 *
 * Trade-off: ky makes exactly one attempt per call (`retry: 0`) and this module owns the retry loop.
 * ky's retry engine sleeps with its own `setTimeout` (nothing to inject, so tests would wait for
 * real), and it clamps a long `Retry-After` to `maxRetryAfter` and waits anyway, where we want to give
 * up at once and let the ledger's alarm come back later. ky keeps the parts it does well: request
 * building, the abortable per-attempt timeout, and the size- and time-bounded read of error bodies.
 * ky's errors never escape, not even as `cause`: their messages carry the full URL and query string.
 */
import ky, { isHTTPError, isKyError, isTimeoutError } from "ky";
import {
  DEFAULT_HTTP_TIMEOUT_MS,
  MAX_READ_RETRIES,
  MAX_RETRY_AFTER_MS,
  RETRY_BASE_DELAY_MS,
} from "../constants.ts";
import { UpstreamHttpError, UpstreamNetworkError, UpstreamTimeoutError } from "../errors.ts";

/** The `fetch` shape we inject: the runtime's in workerd, undici's (src/outbound/node-fetch.ts) in Node. */
export type FetchLike = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/** Milliseconds since the epoch; `Date` itself satisfies it. */
export interface Clock {
  now(): number;
}

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A short machine-readable code and a human detail pulled out of a service's error body. */
export interface ErrorFields {
  code?: string;
  detail?: string;
}

export interface HttpClientOptions {
  /** Names the service in every error, e.g. "atlas-admin". */
  service: string;
  fetch: FetchLike;
  /** Budget per attempt (ky applies it to the headers and again to the body read). */
  timeoutMs?: number;
  /** Retries after the first attempt, for idempotent requests only. */
  maxRetries?: number;
  /** Each service has its own error body; this turns it into `{ code, detail }`. */
  describeError?: (body: unknown) => ErrorFields;
  /** How to wait between attempts. Tests inject one that records instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). */
  random?: () => number;
  /** Used to read an HTTP-date `Retry-After`. */
  clock?: Clock;
}

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute URL. Put the query in it: what is sent is exactly this (Digest signs the request-target). */
  url: string | URL;
  headers?: Record<string, string>;
  /** Serialized as JSON with `Content-Type: application/json` unless `headers` names another type. */
  json?: unknown;
  body?: string | URLSearchParams;
  /** Safe to send twice? Defaults to true for GET and HEAD, false for everything else. */
  idempotent?: boolean;
  /** Statuses handed back to the caller instead of thrown, e.g. 401 during an auth handshake. */
  passStatuses?: readonly number[];
  /** Headers computed afresh for each attempt: a retry must not resend a one-time credential (a Digest `nc`). */
  headersPerAttempt?: () => Promise<Record<string, string>>;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON for a JSON body, the text for any other body, undefined when empty. */
  body: unknown;
}

export interface HttpClient {
  /** Sends one logical request: at most 1 + maxRetries attempts, each bounded by the timeout. */
  request(request: HttpRequest): Promise<HttpResponse>;
  /** The error this client would have thrown for a response the caller asked to see (`passStatuses`). */
  errorFor(request: HttpRequest, response: HttpResponse): UpstreamHttpError;
}

const RETRYABLE_STATUS = (status: number) => status === 408 || status === 429 || status >= 500;

/** Marks a rejection that came from the transport itself (DNS, refused, reset), whatever the runtime calls it. */
class TransportFailure extends Error {
  constructor(cause: unknown) {
    super("transport failed", { cause });
  }
}

type Attempt =
  | { ok: true; response: HttpResponse }
  | {
      ok: false;
      error: UpstreamHttpError | UpstreamTimeoutError | UpstreamNetworkError;
      retryable: boolean;
      /** The server's own wait, when it gave one. */
      retryAfterMs?: number;
    };

/** `Retry-After` as milliseconds to wait: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Backoff before retry number `retry` (1-based): "equal jitter", half fixed and half random, so
 * synchronized clients spread out yet no retry fires immediately.
 */
export function backoffDelay(retry: number, random: () => number): number {
  const ceiling = RETRY_BASE_DELAY_MS * 2 ** (retry - 1);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

function isJsonContentType(contentType: string | null): boolean {
  const mime = (contentType ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  return /\/(?:.*[.+-])?json$/.test(mime);
}

const sleepWithTimer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Creates the bounded client for one outside service. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const service = options.service;
  // Calling the injected function detached from `options` matters in workerd: its `fetch` throws
  // "Illegal invocation" when called as a method of another object.
  const injectedFetch = options.fetch;
  const defaultTimeout = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const maxRetries = options.maxRetries ?? MAX_READ_RETRIES;
  const describeError = options.describeError ?? (() => ({}));
  const sleep = options.sleep ?? sleepWithTimer;
  const random = options.random ?? Math.random;
  const clock = options.clock ?? Date;

  const transport = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    try {
      return await injectedFetch(input, init);
    } catch (error) {
      // ky's own timeout aborts the request; that rejection is ky's to report, not a network failure.
      if (error instanceof Error && error.name === "AbortError") throw error;
      throw new TransportFailure(error);
    }
  };

  function httpError(
    request: HttpRequest,
    status: number,
    headers: Headers,
    body: unknown,
  ): UpstreamHttpError {
    const fields: ErrorFields = body === undefined ? {} : describeError(body);
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"), clock.now());
    return new UpstreamHttpError({
      service,
      method: request.method,
      url: request.url,
      status,
      code: fields.code,
      detail: fields.detail,
      retryAfterSeconds: retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
    });
  }

  async function attempt(request: HttpRequest): Promise<Attempt> {
    const timeoutMs = request.timeoutMs ?? defaultTimeout;
    const pass = new Set(request.passStatuses ?? []);
    const headers = new Headers(request.headers);
    const perAttempt = (await request.headersPerAttempt?.()) ?? {};
    for (const [name, value] of Object.entries(perAttempt)) headers.set(name, value);
    // ky's `.text()` would otherwise announce `Accept: text/*`; the services we call speak JSON.
    if (!headers.has("accept")) headers.set("accept", "application/json");
    let seen: { status: number; headers: Headers } | undefined;
    try {
      const text = await ky(request.url, {
        method: request.method,
        headers,
        json: request.json,
        body: request.body,
        fetch: transport,
        timeout: timeoutMs,
        retry: 0,
        throwHttpErrors: (status) => !pass.has(status),
        hooks: {
          afterResponse: [
            ({ response }) => {
              seen = { status: response.status, headers: response.headers };
            },
          ],
        },
      }).text();
      const status = seen?.status ?? 200;
      const responseHeaders = seen?.headers ?? new Headers();
      let body: unknown;
      if (text !== "") {
        if (isJsonContentType(responseHeaders.get("content-type"))) {
          try {
            body = JSON.parse(text);
          } catch {
            const error = new UpstreamHttpError({
              service,
              method: request.method,
              url: request.url,
              status,
              code: "INVALID_JSON",
              detail: "the body is not valid JSON",
            });
            return { ok: false, error, retryable: false };
          }
        } else {
          body = text;
        }
      }
      return { ok: true, response: { status, headers: responseHeaders, body } };
    } catch (error) {
      if (isHTTPError(error)) {
        const { status, headers: responseHeaders } = error.response;
        const upstream = httpError(request, status, responseHeaders, error.data);
        const retryAfterMs = parseRetryAfter(responseHeaders.get("retry-after"), clock.now());
        return { ok: false, error: upstream, retryable: RETRYABLE_STATUS(status), retryAfterMs };
      }
      if (isTimeoutError(error)) {
        // Not retried: a service that hangs once tends to hang again, and three full budgets is too long.
        const upstream = new UpstreamTimeoutError({
          service,
          method: request.method,
          url: request.url,
          timeoutMs,
        });
        return { ok: false, error: upstream, retryable: false };
      }
      // The transport failed before an answer, or the answer's body broke off after its headers
      // (`seen` is set): either way the network let us down, and a read may be tried again.
      if (error instanceof TransportFailure || (seen !== undefined && !isKyError(error))) {
        const upstream = new UpstreamNetworkError({
          service,
          method: request.method,
          url: request.url,
          cause: error instanceof TransportFailure ? error.cause : error,
        });
        return { ok: false, error: upstream, retryable: true };
      }
      throw error;
    }
  }

  return {
    async request(request) {
      const idempotent = request.idempotent ?? (request.method === "GET" || request.method === "HEAD");
      const retries = idempotent ? maxRetries : 0;
      for (let retry = 0; ; retry++) {
        const outcome = await attempt(request);
        if (outcome.ok) return outcome.response;
        if (!outcome.retryable || retry >= retries) throw outcome.error;
        const wait = outcome.retryAfterMs ?? backoffDelay(retry + 1, random);
        // A long server-requested pause is the caller's to schedule (the ledger alarm), not ours to sit out.
        if (wait > MAX_RETRY_AFTER_MS) throw outcome.error;
        await sleep(wait);
      }
    },
    errorFor(request, response) {
      return httpError(request, response.status, response.headers, response.body);
    },
  };
}
