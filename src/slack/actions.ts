/**
 * Reads a click on the incident message's buttons: the `POST /slack/actions` body Slack sends
 * (`application/x-www-form-urlencoded`, one `payload` field holding JSON) of type `block_actions`,
 * into a decision for the ledger. Pure; the route verifies the signature first (./signature.ts) and
 * answers 400 for any error value returned here.
 *
 * Trade-off: lenient to everything Slack adds (unknown fields are ignored, as Slack extends payloads
 * without notice), strict on what we act on: the action must be one of our `action_id`s, the value
 * a well-formed incident id, the user a Slack user id. Anything else is an error value, never a
 * guess, because a decision here can redeploy production.
 */
import * as z from "zod";
import { parseIncidentId } from "../incident/ids.ts";
import { BUTTON_VALUE_SEPARATOR, SLACK_ACTION_IDS } from "./render.ts";

export type SlackDecision = keyof typeof SLACK_ACTION_IDS;

export interface SlackActionRequest {
  decision: SlackDecision;
  incidentId: string;
  /** When the approval request this click answers was journaled (from the button's value), if known. */
  requestedAt?: string;
  user: { id: string; name?: string };
  /** Slack's `action_ts` of the click ("1712345678.123456"). */
  actionTs: string;
  /** Where to post a reply or replace the message (up to 5 times in 30 minutes). A capability: never log it. */
  responseUrl?: string;
  channel?: string;
  messageTs?: string;
}

export type SlackActionError =
  /** No `payload` form field. */
  | "no-payload"
  /** `payload` is not JSON. */
  | "invalid-json"
  /** Another interaction type (view_submission, shortcut, …): not ours. */
  | "unsupported-type"
  /** A `block_actions` payload missing or mistyping a field we use. */
  | "invalid-payload"
  /** None of the actions is one of our buttons. */
  | "unknown-action"
  /** Our button, but its value is not an incident id. */
  | "invalid-value";

export type SlackActionParse =
  | { ok: true; action: SlackActionRequest }
  | { ok: false; error: SlackActionError; issues?: { path: string; message: string }[] };

const DECISIONS = new Map<string, SlackDecision>(
  Object.entries(SLACK_ACTION_IDS).map(([decision, id]) => [id, decision as SlackDecision]),
);

const slackTs = z.string().regex(/^\d{1,12}\.\d{1,9}$/, "must be a Slack timestamp");
const slackId = z.string().regex(/^[A-Z0-9]{2,32}$/, "must be a Slack id");

const actionSchema = z.object({
  action_id: z.string().max(255),
  value: z.string().max(2000).optional(),
  action_ts: slackTs,
});

const payloadSchema = z.object({
  type: z.literal("block_actions"),
  user: z.object({
    id: z.string().regex(/^[UW][A-Z0-9]{2,31}$/, "must be a Slack user id"),
    username: z.string().max(100).optional(),
    name: z.string().max(100).optional(),
  }),
  actions: z.array(actionSchema).min(1).max(25),
  response_url: z
    .url({ protocol: /^https?$/ })
    .max(3000)
    .optional(),
  container: z.object({ message_ts: slackTs.optional(), channel_id: slackId.optional() }).optional(),
  channel: z.object({ id: slackId }).optional(),
  message: z.object({ ts: slackTs }).optional(),
});

const typeOnly = z.object({ type: z.string() });

/** Decodes the form body; the route passes the same raw bytes it verified. */
function formPayload(body: string | Uint8Array): string | null {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  return new URLSearchParams(text).get("payload");
}

/** Splits a button value into the incident id and the request time it answers; null when malformed. */
export function parseButtonValue(value: string): { incidentId: string; requestedAt?: string } | null {
  const at = value.indexOf(BUTTON_VALUE_SEPARATOR);
  const incidentId = at < 0 ? value : value.slice(0, at);
  const requestedAt = at < 0 ? undefined : value.slice(at + 1);
  if (!parseIncidentId(incidentId)) return null;
  if (requestedAt !== undefined && !z.iso.datetime().safeParse(requestedAt).success) return null;
  return requestedAt === undefined ? { incidentId } : { incidentId, requestedAt };
}

/** Parses Slack's interactivity POST body into a decision, or a typed error (the route answers 400). */
export function parseSlackAction(body: string | Uint8Array): SlackActionParse {
  const raw = formPayload(body);
  if (raw === null || raw === "") return { ok: false, error: "no-payload" };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: "invalid-json" };
  }
  const kind = typeOnly.safeParse(json);
  if (kind.success && kind.data.type !== "block_actions") return { ok: false, error: "unsupported-type" };
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      error: "invalid-payload",
      issues: parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
    };
  }
  const payload = parsed.data;
  const action = payload.actions.find((a) => DECISIONS.has(a.action_id));
  if (!action) return { ok: false, error: "unknown-action" };
  const value = action.value === undefined ? null : parseButtonValue(action.value);
  if (!value) return { ok: false, error: "invalid-value" };

  const name = payload.user.username ?? payload.user.name;
  const channel = payload.container?.channel_id ?? payload.channel?.id;
  const messageTs = payload.container?.message_ts ?? payload.message?.ts;
  const request: SlackActionRequest = {
    decision: DECISIONS.get(action.action_id)!,
    ...value,
    user: name === undefined ? { id: payload.user.id } : { id: payload.user.id, name },
    actionTs: action.action_ts,
  };
  if (payload.response_url !== undefined) request.responseUrl = payload.response_url;
  if (channel !== undefined) request.channel = channel;
  if (messageTs !== undefined) request.messageTs = messageTs;
  return { ok: true, action: request };
}
