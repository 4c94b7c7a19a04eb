/**
 * The few error classes the core throws for infrastructure failures.
 *
 * Expected outcomes (a tier refusing a command, a full cluster, a cooldown) are values, not
 * exceptions. These classes are for calls that failed: they keep the service, the method and the
 * URL *path* (never the query string, which may hold a key) and the original `cause`, so logs can
 * say what went wrong without ever printing a secret.
 */

/** Strips everything after the path: query strings and fragments can carry deploy-hook keys. */
export function describeUrl(url: string | URL): string {
  try {
    const parsed = typeof url === "string" ? new URL(url) : url;
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(invalid url)";
  }
}

/** An outside service answered with a non-success HTTP status. */
export class UpstreamHttpError extends Error {
  override readonly name = "UpstreamHttpError";
  readonly service: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  /** A short machine-readable code from the service's error body, when it has one. */
  readonly code: string | undefined;
  /** Seconds the service asked us to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: {
    service: string;
    method: string;
    url: string | URL;
    status: number;
    code?: string;
    detail?: string;
    retryAfterSeconds?: number;
    cause?: unknown;
  }) {
    const path = describeUrl(init.url);
    const suffix = init.code ? ` ${init.code}` : "";
    const detail = init.detail ? `: ${init.detail}` : "";
    super(`${init.service} ${init.method} ${path} answered ${init.status}${suffix}${detail}`, {
      cause: init.cause,
    });
    this.service = init.service;
    this.method = init.method;
    this.url = path;
    this.status = init.status;
    this.code = init.code;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** An outside service did not answer within its time budget. */
export class UpstreamTimeoutError extends Error {
  override readonly name = "UpstreamTimeoutError";
  readonly service: string;
  readonly method: string;
  readonly url: string;
  readonly timeoutMs: number;

  constructor(init: {
    service: string;
    method: string;
    url: string | URL;
    timeoutMs: number;
    cause?: unknown;
  }) {
    const path = describeUrl(init.url);
    super(`${init.service} ${init.method} ${path} did not answer within ${init.timeoutMs} ms`, {
      cause: init.cause,
    });
    this.service = init.service;
    this.method = init.method;
    this.url = path;
    this.timeoutMs = init.timeoutMs;
  }
}

/** The network failed before any answer (DNS, refused, reset). */
export class UpstreamNetworkError extends Error {
  override readonly name = "UpstreamNetworkError";
  readonly service: string;
  readonly method: string;
  readonly url: string;

  constructor(init: { service: string; method: string; url: string | URL; cause?: unknown }) {
    const path = describeUrl(init.url);
    super(`${init.service} ${init.method} ${path} failed before answering`, { cause: init.cause });
    this.service = init.service;
    this.method = init.method;
    this.url = path;
  }
}

/** One configuration entry that is missing or invalid. Never carries the entry's value. */
export interface ConfigProblem {
  /** The entry's name, with a path inside it for structured entries, e.g. `TARGETS[0].kind`. */
  key: string;
  message: string;
}

/** Configuration is missing or invalid. Lists every problem by key; never echoes a value. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.key}: ${p.message}`).join("; ")}`);
    this.problems = problems;
  }
}

export const isUpstreamHttpError = (e: unknown): e is UpstreamHttpError => e instanceof UpstreamHttpError;
export const isUpstreamTimeoutError = (e: unknown): e is UpstreamTimeoutError =>
  e instanceof UpstreamTimeoutError;
export const isUpstreamNetworkError = (e: unknown): e is UpstreamNetworkError =>
  e instanceof UpstreamNetworkError;
export const isConfigError = (e: unknown): e is ConfigError => e instanceof ConfigError;
