/** Helpers for the workerd tests: signed deliveries and authenticated operator calls. */
import { exports } from "cloudflare:workers";
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
