/** Helpers for the workerd tests: signed deliveries and authenticated operator calls. */
import { exports } from "cloudflare:workers";
import { afterEach, beforeEach, type MockInstance, vi } from "vitest";
import { signAtlasBody } from "../../src/atlas/webhook-signature.ts";
import { TEST_SECRETS } from "./bindings.ts";

export const BASE = "http://responder.test";

export interface DeliveryOptions {
  event?: string | null;
  secret?: string;
  signature?: string | null;
  contentType?: string | null;
}

/** POSTs `body` (an object, or raw text/bytes) to the webhook, signed with the test secret by default. */
export async function deliver(body: unknown, options: DeliveryOptions = {}): Promise<Response> {
  const raw =
    typeof body === "string" || body instanceof Uint8Array
      ? body
      : new TextEncoder().encode(JSON.stringify(body));
  const bytes = typeof raw === "string" ? new TextEncoder().encode(raw) : raw;
  const headers = new Headers();
  const contentType = options.contentType === undefined ? "application/json" : options.contentType;
  if (contentType !== null) headers.set("content-type", contentType);
  const event = options.event === undefined ? "alert.open" : options.event;
  if (event !== null) headers.set("x-mms-event", event);
  const signature =
    options.signature === undefined
      ? await signAtlasBody(
          bytes as Uint8Array<ArrayBuffer>,
          options.secret ?? TEST_SECRETS.ATLAS_WEBHOOK_SECRET,
        )
      : options.signature;
  if (signature !== null) headers.set("x-mms-signature", signature);
  return exports.default.fetch(
    new Request(`${BASE}/webhooks/atlas`, { method: "POST", headers, body: bytes }),
  );
}

/** Calls an operator route with the admin token (or `token`, or none when null). */
export async function admin(
  path: string,
  init: RequestInit = {},
  token: string | null = TEST_SECRETS.ADMIN_TOKEN,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers }));
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** One JSON line the Worker logged (src/observability/log.ts). */
export interface LogLine {
  level: string;
  event: string;
  [field: string]: unknown;
}

/**
 * Takes the Worker's JSON log lines for the named events off the console, into `of(event)`, in every
 * test of the file that calls it: `routine` for the events any request of the file writes (a recorded
 * delivery, say), `expect(...)` inside one test for the failures that test provokes on purpose, so
 * it can assert they were logged. Any other line still reaches the console, so a warning nobody
 * expected stays visible; `written()` is every line of the test, captured or not.
 */
export function captureLogs(routine: readonly string[] = []) {
  let claimed = new Set<string>();
  let lines: LogLine[] = [];
  let written: string[] = [];
  let spies: MockInstance[] = [];
  beforeEach(() => {
    claimed = new Set(routine);
    lines = [];
    written = [];
    spies = (["log", "info", "warn", "error", "debug"] as const).map((method) => {
      const original = console[method];
      return vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        written.push(args.map(String).join(" "));
        const line = parseLogLine(args);
        if (line !== undefined && claimed.has(line.event)) lines.push(line);
        else original.apply(console, args);
      });
    });
  });
  afterEach(() => {
    for (const spy of spies) spy.mockRestore();
    spies = [];
  });
  return {
    /** Claims these events for the rest of the current test. */
    expect(...events: string[]): void {
      for (const event of events) claimed.add(event);
    },
    /** The captured lines of one event, in order. */
    of(event: string): LogLine[] {
      return lines.filter((line) => line.event === event);
    },
    /** Every line written to the console in the current test, as text. */
    written(): string[] {
      return written;
    },
  };
}

function parseLogLine(args: unknown[]): LogLine | undefined {
  if (args.length !== 1 || typeof args[0] !== "string" || !args[0].startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(args[0]) as Partial<LogLine>;
    return typeof parsed.event === "string" && typeof parsed.level === "string"
      ? (parsed as LogLine)
      : undefined;
  } catch {
    return undefined;
  }
}
