/**
 * How every redeploy adapter turns what happened on the wire into a `RedeployOutcome`, and how it
 * keeps secrets out of the words it reports. Whether a call landed is src/outbound/delivery.ts's
 * rule, shared with Slack and Atlas; this file maps it onto outcomes, one rule for all platforms:
 *
 * | What happened                                              | Outcome   | Why                                   |
 * |------------------------------------------------------------|-----------|---------------------------------------|
 * | 2xx (Railway: and no GraphQL `errors`)                      | started   | the platform accepted it              |
 * | 3xx (redirects are never followed)                          | failed    | a redirect is an answer, not an action|
 * | 4xx, incl. 401/403/404/409/429                              | failed    | the platform refused; status + code   |
 * | 408, 500, 502, 504, 520, 524                                | unknown   | may have been acted on                |
 * | any other 5xx (501, 503, 505, 521–523, 525, 526, …)         | failed    | the platform said it did not do it    |
 * | no answer within the timeout, reset, other network errors   | unknown   | the request may have arrived          |
 * | provably never sent (refused, DNS, TLS, cleartext guard)    | failed    | nothing left this process             |
 *
 * In delivery.ts's words: `sent` is started, `not-sent` is failed, `unknown` is unknown; the
 * argument for each status is there.
 *
 * Secrets: a hook URL is secret as a whole, a token is secret, and platforms sometimes echo what
 * they were sent. Every detail passes through a redactor built from the target's secret values
 * (the value, each URL part of it, its URL-encoded forms), platform text additionally loses any URL
 * and control characters, and the result is cut to MAX_OUTCOME_DETAIL_CHARS.
 */
import { MAX_OUTCOME_DETAIL_CHARS } from "../constants.ts";
import { type Delivery, deliveryOfStatus } from "../outbound/delivery.ts";
import type { Attempt } from "./transport.ts";
import type { RedeployOutcome } from "./types.ts";

export type Verdict = RedeployOutcome["kind"];

const VERDICTS: Readonly<Record<Delivery, Verdict>> = {
  sent: "started",
  "not-sent": "failed",
  unknown: "unknown",
};

/** The outcome kind one HTTP status means, per the table above. */
export function verdictForStatus(status: number): Verdict {
  return VERDICTS[deliveryOfStatus(status)];
}

/** Replaces every secret part in a text with "[redacted]". */
export type Redactor = (text: string) => string;

/** URL path segments that are structure, not secret; everything else in a secret URL is redacted. */
const STRUCTURAL_SEGMENTS = new Set(["v1", "integrations", "deploy", "build_hooks", "hooks", "webhooks"]);

/** Shorter pieces are not worth redacting: they would shred ordinary words ("api", "web"). */
const MIN_SECRET_PART_LENGTH = 6;

function secretParts(secret: string): string[] {
  const parts = new Set<string>([secret]);
  let url: URL | undefined;
  try {
    url = new URL(secret);
  } catch {
    url = undefined;
  }
  if (url) {
    parts.add(url.href);
    // The host of a generic webhook is as private as the rest of its URL; platform hosts are public.
    parts.add(url.host);
    if (url.username) parts.add(url.username);
    if (url.password) parts.add(url.password);
    for (const segment of url.pathname.split("/")) {
      if (STRUCTURAL_SEGMENTS.has(segment)) continue;
      parts.add(segment);
      try {
        parts.add(decodeURIComponent(segment));
      } catch {
        // A malformed escape cannot be echoed decoded either.
      }
    }
    for (const value of url.searchParams.values()) parts.add(value);
  }
  const all = [...parts].filter((part) => part.length >= MIN_SECRET_PART_LENGTH && !PUBLIC_HOSTS.has(part));
  for (const part of [...all]) {
    const encoded = encodeURIComponent(part);
    if (encoded !== part) all.push(encoded);
  }
  // Longest first, so a URL is replaced whole before its pieces.
  return all.sort((a, b) => b.length - a.length);
}

/** Platform API hosts: naming them reveals nothing and keeps details readable. */
const PUBLIC_HOSTS = new Set([
  "api.vercel.com",
  "api.render.com",
  "backboard.railway.com",
  "backboard.railway.app",
  "api.netlify.com",
  "api.machines.dev",
  "api.heroku.com",
]);

/** Builds the redactor for a target's secret values (hook URL, token, signing key). */
export function createRedactor(secrets: readonly (string | undefined)[]): Redactor {
  const parts = [...new Set(secrets.filter((s): s is string => !!s).flatMap(secretParts))].sort(
    (a, b) => b.length - a.length,
  );
  return (text) => {
    let out = text;
    for (const part of parts) out = out.split(part).join("[redacted]");
    return out;
  };
}

/** Cuts a text to `max` characters, marking the cut. */
function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Makes outside text safe to journal: no URLs, no control characters, one line, bounded. */
export function sanitizePlatformText(text: string, redact: Redactor, max = 160): string {
  const cleaned = redact(text)
    .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, "[url]")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point.
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return truncate(cleaned, max);
}

/** A machine-readable error code as a platform gave it, or undefined when it is not code-like. */
function asCode(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value !== "string") return undefined;
  return /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : undefined;
}

/** The error code and message out of any of the platforms' error bodies, sanitised. */
export function platformError(body: unknown, redact: Redactor): { code?: string; message?: string } {
  let code: string | undefined;
  let message: string | undefined;
  if (typeof body === "string") {
    // An HTML error page (a gateway's) has no message worth keeping.
    if (!/^\s*</.test(body)) message = body;
  } else if (body !== null && typeof body === "object") {
    const record = body as Record<string, unknown>;
    const errors = record.errors;
    const error = record.error;
    if (Array.isArray(errors) && errors.length > 0) {
      // GraphQL (Railway): { errors: [{ message, extensions: { code } }] }
      const first = errors[0] as Record<string, unknown> | null;
      message = typeof first?.message === "string" ? first.message : undefined;
      const extensions = first?.extensions as Record<string, unknown> | undefined;
      code = asCode(extensions?.code);
    } else if (error !== null && typeof error === "object") {
      // Vercel: { error: { code, message } }
      const inner = error as Record<string, unknown>;
      code = asCode(inner.code);
      message = typeof inner.message === "string" ? inner.message : undefined;
    } else {
      // Heroku and Render: { id, message }; Netlify: { code, message }; Fly: { error: "…" }.
      code = asCode(record.id) ?? asCode(record.code);
      if (typeof record.message === "string") message = record.message;
      else if (typeof error === "string") message = error;
    }
  }
  return {
    code: code === undefined ? undefined : redact(code) === code ? code : undefined,
    message: message === undefined ? undefined : sanitizePlatformText(message, redact) || undefined,
  };
}

/** An id a platform returned (job, deploy, event), when it looks like one; outside text is not trusted. */
export function asPlatformId(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9_.:-]{1,100}$/.test(value) ? value : undefined;
}

/** Seconds from a `Retry-After` header, when it holds delta-seconds. */
function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get("retry-after")?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Lets an adapter read a 2xx answer: return an outcome to override the default `started`. */
export type AcceptAnswer = (status: number, body: unknown) => RedeployOutcome | undefined;

/** Said after any outcome that may hide an action. */
const CHECK_FIRST = "the platform may have acted, check it before trying again";

/** The outcome of one attempt (answered or not), per the table in this file's header. */
export function outcomeFor(
  label: string,
  attempt: Attempt,
  redact: Redactor,
  accept?: AcceptAnswer,
): RedeployOutcome {
  if (attempt.kind === "no-answer") {
    if (attempt.delivery === "not-sent") {
      return finish({ kind: "failed", detail: `${label}: ${attempt.reason}; nothing was sent` }, redact);
    }
    const said = attempt.message === undefined ? "" : sanitizePlatformText(attempt.message, redact, 100);
    return finish(
      { kind: "unknown", detail: `${label}: ${attempt.reason}${said ? `: ${said}` : ""}; ${CHECK_FIRST}` },
      redact,
    );
  }
  const { status, headers, body } = attempt;
  const verdict = verdictForStatus(status);
  if (verdict === "started") {
    return finish(
      accept?.(status, body) ?? { kind: "started", detail: `${label} accepted (${status})` },
      redact,
    );
  }
  const fields = platformError(body, redact);
  // Netlify repeats the status as its `code`; saying "503 503" helps nobody.
  const code = fields.code === String(status) ? undefined : fields.code;
  const message = fields.message;
  const wait = status === 429 ? retryAfterSeconds(headers) : undefined;
  const said = `${label} answered ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
  if (verdict === "unknown") return finish({ kind: "unknown", detail: `${said}; ${CHECK_FIRST}` }, redact);
  const tail =
    status >= 300 && status < 400
      ? " (redirects are not followed)"
      : wait === undefined
        ? ""
        : `; retry after ${wait} s`;
  return finish({ kind: "failed", detail: `${said}${tail}`, status, ...(code ? { code } : {}) }, redact);
}

/** The last pass over every outcome an adapter returns: redacted and bounded, whatever built it. */
export function finish(outcome: RedeployOutcome, redact: Redactor): RedeployOutcome {
  const detail = truncate(redact(outcome.detail), MAX_OUTCOME_DETAIL_CHARS);
  switch (outcome.kind) {
    case "started":
      return {
        kind: "started",
        detail,
        ...(outcome.deployId === undefined ? {} : { deployId: redact(outcome.deployId) }),
      };
    case "failed":
      return {
        kind: "failed",
        detail,
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        ...(outcome.code === undefined ? {} : { code: redact(outcome.code) }),
      };
    case "unknown":
      return { kind: "unknown", detail };
  }
}

/** A refusal decided before any request: the configuration cannot work. */
export function refused(label: string, why: string, redact: Redactor): RedeployOutcome {
  return finish({ kind: "failed", detail: `${label}: ${why}; nothing was sent` }, redact);
}
