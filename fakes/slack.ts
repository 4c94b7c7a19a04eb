/**
 * An honest fake Slack: a `node:http` server on 127.0.0.1 (random port) that serves the paths the
 * responder uses and enforces Slack's rules as documented (notes/integrations.md §1), answering in
 * Slack's own shapes:
 *
 *   POST /api/chat.postMessage  Bearer token (none → not_authed, wrong → invalid_auth), channel by id
 *                               or name (else channel_not_found), text/blocks (no_text, msg_too_long,
 *                               invalid_blocks with json-pointer `errors`, msg_blocks_too_long), a
 *                               per-channel post rate (HTTP 429 + Retry-After, `ratelimited`),
 *                               `missing_charset` warning; answers {ok, channel: id, ts, message}
 *   POST /api/chat.update       same auth and content rules; channel must be the id (as in Slack);
 *                               unknown ts → message_not_found; Tier-3-like per-token rate
 *   POST /services/T…/B…/…      incoming webhook: "ok" | 400 invalid_payload / no_text / invalid_blocks
 *                               | 404 no_service | 429 rate_limited (text bodies, like the real one)
 *   POST /actions/T…/…/…        a button's response_url: replace_original edits the clicked message;
 *                               5 uses within 30 minutes; an empty `blocks` array → invalid_blocks
 *
 * It records every message with every version of its blocks (`messages()`, `history(ts)`), and
 * `visible(ts)` says what a reader would see: text with entities decoded, plus the mentions and
 * links Slack would act on — so tests assert user-visible behaviour, not our JSON. Faults on
 * demand (`failNext`): a Slack error, an HTTP status, "hang" (read the request, never answer),
 * "accept-then-hang" (do the call, never answer: the lost-answer case), "reset". `interaction()`
 * builds a signed `block_actions` request for a button *as displayed* on a recorded message, the
 * way Slack does, with a working response_url. Everything is reachable over HTTP under
 * `/__control/` for code that cannot hold this object (workerd tests, the sandbox).
 *
 * Trade-off: Slack's cumulative block text limit is undocumented; the fake rejects above 12 000
 * characters of block text (the figure Slack staff gave in slackapi/bolt-js#2509), and real Slack
 * may reject a little earlier. Where Slack's exact answer is not documented (a wrong HTTP method,
 * an exhausted response_url's body, the post burst size) the fake picks a plausible one, marked
 * "assumed".
 *
 * CLI (for the sandbox): `node fakes/slack.ts [--port N]` prints the base URL and runs until
 * SIGINT/SIGTERM; `GET /__control/info` tells the token, channel and webhook URL.
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

export type FakeSlackMethod = "chat.postMessage" | "chat.update" | "webhook" | "response_url";

export type FakeSlackFault =
  /** A Slack-level error: Web API → HTTP 200 `{ok:false,error}`; webhook → `status` (default 400) + the text. */
  | { error: string; status?: number }
  /** A bare HTTP status (e.g. 500, 503, or 429 with `retryAfter` seconds). */
  | { status: number; retryAfter?: number; body?: string }
  /** Read the request, never answer, change nothing. */
  | "hang"
  /** Carry the call out (the message is posted/updated), then never answer. */
  | "accept-then-hang"
  /** Read the request and drop the connection, changing nothing. */
  | "reset";

export interface FakeSlackVersion {
  at: number;
  via: FakeSlackMethod;
  text: string;
  blocks: unknown[];
}

export interface FakeSlackMessage {
  ts: string;
  /** Channel id. */
  channel: string;
  via: "api" | "webhook";
  text: string;
  blocks: unknown[];
  /** Every version, oldest first: the post, then each update or replacement. */
  versions: FakeSlackVersion[];
}

/** What a reader sees of a message, and what Slack would act on in it. */
export interface FakeSlackVisible {
  /** All text (fallback, blocks, buttons) with `&lt;` `&gt;` `&amp;` decoded. */
  text: string;
  /** Mentions Slack would notify for: `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`, `<!subteam^…>`. */
  mentions: string[];
  /** Link targets Slack would render from `<url|label>` / `<url>` markup. */
  links: string[];
  /** Buttons on the message: action_id, text, value, style. */
  buttons: { actionId: string; text: string; value: string; style?: string; blockId?: string }[];
}

export interface FakeSlackCall {
  seq: number;
  at: number;
  method: FakeSlackMethod | "control" | "unknown";
  /** Path with the webhook / response_url secret parts masked. */
  path: string;
  status: number | null;
  /** Slack's error name, when it answered one. */
  error?: string;
  channel?: string;
  ts?: string;
  auth: "none" | "bearer" | "other";
  contentType: string | null;
  warnings?: string[];
  fault?: "hang" | "accept-then-hang" | "reset" | "error" | "status";
}

export interface FakeSlackOptions {
  port?: number;
  /** The bot token the Web API accepts; default a random `xoxb-…`. */
  token?: string;
  signingSecret?: string;
  /** Channel names to create up front; default ["incidents"]. The first is the webhook's channel. */
  channels?: string[];
  /** The secret last path segment of the incoming webhook; default random. */
  webhookSecret?: string;
  /** Posts per channel per second before HTTP 429 (Slack: about 1/s, short bursts tolerated; 3 is assumed). */
  postBurst?: number;
  /** chat.update calls per token per minute (Tier 3: 50+). */
  updatesPerMinute?: number;
  /** Milliseconds since the epoch; drives timestamps, rate limits and signing. */
  now?: () => number;
}

export interface FakeSlackInteractionOptions {
  /** The recorded message whose button is clicked. */
  ts: string;
  actionId: string;
  user?: { id: string; name?: string };
  /** Overrides: click something that is not on the message (hostile tests). */
  value?: string;
  /** Sign with this timestamp (seconds) instead of now. */
  timestamp?: number;
  /** Sign with another secret. */
  secret?: string;
}

export interface FakeSlackInteraction {
  body: string;
  headers: Record<string, string>;
  payload: Record<string, unknown>;
}

export interface FakeSlack {
  readonly baseUrl: string;
  /** `${baseUrl}/api`: the responder's SLACK_API_BASE_URL. */
  readonly apiBaseUrl: string;
  readonly token: string;
  readonly signingSecret: string;
  readonly webhookUrl: string;
  /** The channel named (created on first use; `#` optional). */
  channel(name: string): { id: string; name: string };
  messages(filter?: { channel?: string }): FakeSlackMessage[];
  message(ts: string): FakeSlackMessage | undefined;
  /** Every version of one message, oldest first (empty when unknown). */
  history(ts: string): FakeSlackVersion[];
  visible(ts: string): FakeSlackVisible;
  calls(filter?: { method?: FakeSlackMethod }): FakeSlackCall[];
  failNext(
    method: FakeSlackMethod,
    fault: FakeSlackFault,
    options?: { times?: number; channel?: string },
  ): void;
  /** A signed `block_actions` request for a button on a recorded message, as Slack would send it. */
  interaction(options: FakeSlackInteractionOptions): FakeSlackInteraction;
  /** Sends `interaction(options)` to `url` and returns the response. */
  click(url: string, options: FakeSlackInteractionOptions): Promise<Response>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Slack's limits (notes/integrations.md §1b–1c), kept apart from the renderer's own copy on purpose:
// a wrong number in one is caught by the other.

const MAX_BLOCKS = 50;
const MAX_TEXT = 40_000;
const MAX_BLOCK_TEXT_TOTAL = 12_000;
const MAX_BODY_BYTES = 1024 * 1024;
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

const ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
function randomId(prefix: string, length: number): string {
  let out = prefix;
  for (const byte of randomBytes(length)) out += ALNUM_UPPER[byte % ALNUM_UPPER.length];
  return out;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

// ---------------------------------------------------------------------------------------------
// Block Kit validation: returns Slack-style messages with json-pointers, empty when valid.

function validateTextObject(
  value: unknown,
  at: string,
  rules: { max: number; plainOnly?: boolean },
  errors: string[],
): void {
  if (!isRecord(value)) {
    errors.push(`must provide an object [json-pointer:${at}]`);
    return;
  }
  if (value.type !== "plain_text" && value.type !== "mrkdwn") {
    errors.push(`must be a valid enum value [json-pointer:${at}/type]`);
    return;
  }
  if (rules.plainOnly && value.type !== "plain_text")
    errors.push(`must be plain_text [json-pointer:${at}/type]`);
  if (typeof value.text !== "string" || value.text.length === 0) {
    errors.push(`must be more than 0 characters [json-pointer:${at}/text]`);
  } else if (value.text.length > rules.max) {
    errors.push(`must be less than ${rules.max + 1} characters [json-pointer:${at}/text]`);
  }
  if (value.type === "plain_text" && value.verbatim !== undefined) {
    errors.push(`verbatim is not allowed on plain_text [json-pointer:${at}/verbatim]`);
  }
}

function validateButton(
  value: Record<string, unknown>,
  at: string,
  actionIds: Set<string>,
  errors: string[],
): void {
  validateTextObject(value.text, `${at}/text`, { max: 75, plainOnly: true }, errors);
  if (value.action_id !== undefined) {
    if (typeof value.action_id !== "string" || value.action_id.length > 255) {
      errors.push(`must be less than 256 characters [json-pointer:${at}/action_id]`);
    } else if (actionIds.has(value.action_id)) {
      errors.push(`action_id already exists [json-pointer:${at}/action_id]`);
    } else actionIds.add(value.action_id);
  }
  if (value.value !== undefined && (typeof value.value !== "string" || value.value.length > 2000)) {
    errors.push(`must be less than 2001 characters [json-pointer:${at}/value]`);
  }
  if (value.url !== undefined && (typeof value.url !== "string" || value.url.length > 3000)) {
    errors.push(`must be less than 3001 characters [json-pointer:${at}/url]`);
  }
  if (value.style !== undefined && value.style !== "primary" && value.style !== "danger") {
    errors.push(`must be a valid enum value [json-pointer:${at}/style]`);
  }
  if (value.confirm !== undefined) {
    const c = value.confirm;
    if (!isRecord(c)) errors.push(`must provide an object [json-pointer:${at}/confirm]`);
    else {
      validateTextObject(c.title, `${at}/confirm/title`, { max: 100, plainOnly: true }, errors);
      validateTextObject(c.text, `${at}/confirm/text`, { max: 300 }, errors);
      validateTextObject(c.confirm, `${at}/confirm/confirm`, { max: 30, plainOnly: true }, errors);
      validateTextObject(c.deny, `${at}/confirm/deny`, { max: 30, plainOnly: true }, errors);
    }
  }
}

/** Validates a message's blocks as Slack does; the messages are Slack-like. */
export function validateBlocks(blocks: unknown): string[] {
  const errors: string[] = [];
  if (!Array.isArray(blocks)) return ["must provide an array [json-pointer:/blocks]"];
  if (blocks.length > MAX_BLOCKS)
    errors.push(`no more than ${MAX_BLOCKS} items allowed [json-pointer:/blocks]`);
  const blockIds = new Set<string>();
  const actionIds = new Set<string>();
  blocks.forEach((block, i) => {
    const at = `/blocks/${i}`;
    if (!isRecord(block)) {
      errors.push(`must provide an object [json-pointer:${at}]`);
      return;
    }
    if (block.block_id !== undefined) {
      if (typeof block.block_id !== "string" || block.block_id.length === 0 || block.block_id.length > 255) {
        errors.push(`must be between 1 and 255 characters [json-pointer:${at}/block_id]`);
      } else if (blockIds.has(block.block_id)) {
        errors.push(`block_id already exists [json-pointer:${at}/block_id]`);
      } else blockIds.add(block.block_id);
    }
    switch (block.type) {
      case "header":
        validateTextObject(block.text, `${at}/text`, { max: 150, plainOnly: true }, errors);
        break;
      case "section": {
        if (block.text === undefined && block.fields === undefined) {
          errors.push(`must provide text or fields [json-pointer:${at}]`);
        }
        if (block.text !== undefined) validateTextObject(block.text, `${at}/text`, { max: 3000 }, errors);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length === 0) {
            errors.push(`must provide a non-empty array [json-pointer:${at}/fields]`);
          } else {
            if (block.fields.length > 10)
              errors.push(`no more than 10 items allowed [json-pointer:${at}/fields]`);
            block.fields.forEach((f, j) => {
              validateTextObject(f, `${at}/fields/${j}`, { max: 2000 }, errors);
            });
          }
        }
        break;
      }
      case "context": {
        if (!Array.isArray(block.elements) || block.elements.length === 0) {
          errors.push(`must provide a non-empty array [json-pointer:${at}/elements]`);
          break;
        }
        if (block.elements.length > 10)
          errors.push(`no more than 10 items allowed [json-pointer:${at}/elements]`);
        block.elements.forEach((e, j) => {
          if (isRecord(e) && e.type === "image") return;
          validateTextObject(e, `${at}/elements/${j}`, { max: 3000 }, errors);
        });
        break;
      }
      case "divider":
        break;
      case "actions": {
        if (!Array.isArray(block.elements) || block.elements.length === 0) {
          errors.push(`must provide a non-empty array [json-pointer:${at}/elements]`);
          break;
        }
        if (block.elements.length > 25)
          errors.push(`no more than 25 items allowed [json-pointer:${at}/elements]`);
        block.elements.forEach((e, j) => {
          const where = `${at}/elements/${j}`;
          if (!isRecord(e)) errors.push(`must provide an object [json-pointer:${where}]`);
          else if (e.type !== "button")
            errors.push(`unsupported element type in this fake [json-pointer:${where}/type]`);
          else validateButton(e, where, actionIds, errors);
        });
        break;
      }
      default:
        errors.push(`unsupported type: ${String(block.type)} [json-pointer:${at}/type]`);
    }
  });
  return errors;
}

/** Every `text` string inside the blocks, for the cumulative limit and for `visible`. */
function blockTexts(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) blockTexts(v, out);
  else if (isRecord(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === "text" && typeof v === "string") out.push(v);
      else blockTexts(v, out);
    }
  }
  return out;
}

const decode = (text: string) => text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** What Slack would render and act on in a message's text and blocks. */
export function visibleOf(message: { text: string; blocks: unknown[] }): FakeSlackVisible {
  const raw = [message.text, ...blockTexts(message.blocks)];
  const mentions: string[] = [];
  const links: string[] = [];
  for (const text of raw) {
    for (const match of text.matchAll(/<([^<>]+)>/g)) {
      const inner = match[1]!;
      const target = inner.split("|", 1)[0]!;
      if (/^[@#]/.test(target) || /^!(channel|here|everyone|subteam\^)/.test(target))
        mentions.push(`<${target}>`);
      else if (/^!date\^/.test(target)) continue;
      else links.push(target.replace(/&amp;/g, "&"));
    }
    // Bare URLs are auto-linked unless the text object is verbatim; only mrkdwn objects are searched.
  }
  const buttons: FakeSlackVisible["buttons"] = [];
  for (const block of message.blocks) {
    if (!isRecord(block) || block.type !== "actions" || !Array.isArray(block.elements)) continue;
    for (const e of block.elements) {
      if (!isRecord(e) || e.type !== "button" || !isRecord(e.text)) continue;
      buttons.push({
        actionId: String(e.action_id ?? ""),
        text: decode(String(e.text.text ?? "")),
        value: String(e.value ?? ""),
        style: typeof e.style === "string" ? e.style : undefined,
        blockId: typeof block.block_id === "string" ? block.block_id : undefined,
      });
    }
  }
  return { text: raw.map(decode).join("\n"), mentions, links, buttons };
}

// ---------------------------------------------------------------------------------------------

interface Channel {
  id: string;
  name: string;
}

interface PendingFault {
  method: FakeSlackMethod;
  fault: FakeSlackFault;
  remaining: number;
  channel?: string;
}

interface ResponseUrl {
  channel: string;
  ts: string;
  uses: number;
  expiresAt: number;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  error?: string;
  channel?: string;
  ts?: string;
  warnings?: string[];
}

/** Starts the fake on 127.0.0.1; `close()` stops it. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const now = options.now ?? Date.now;
  const token = options.token ?? `xoxb-${randomId("", 12)}-${randomId("", 24).toLowerCase()}`;
  const signingSecret = options.signingSecret ?? randomBytes(16).toString("hex");
  const team = "T0FAKE0001";
  const webhookPath = `/services/${team}/B0FAKE0001/${options.webhookSecret ?? randomBytes(12).toString("hex")}`;
  const postBurst = options.postBurst ?? 3;
  const updatesPerMinute = options.updatesPerMinute ?? 50;

  const channels = new Map<string, Channel>();
  const messages = new Map<string, FakeSlackMessage>();
  const calls: FakeSlackCall[] = [];
  const faults: PendingFault[] = [];
  const responseUrls = new Map<string, ResponseUrl>();
  const postTimes = new Map<string, number[]>();
  const updateTimes: number[] = [];
  const hanging = new Set<ServerResponse>();
  let tsCounter = 0;
  let seq = 0;

  function channel(name: string): Channel {
    const clean = name.replace(/^#/, "");
    const existing = channels.get(clean) ?? [...channels.values()].find((c) => c.id === clean);
    if (existing) return existing;
    const created = { id: randomId("C", 10), name: clean };
    channels.set(clean, created);
    return created;
  }
  for (const name of options.channels ?? ["incidents"]) channel(name);
  const webhookChannel = [...channels.values()][0]!;

  const findChannel = (ref: unknown, byIdOnly: boolean): Channel | undefined => {
    if (typeof ref !== "string" || ref === "") return undefined;
    const byId = [...channels.values()].find((c) => c.id === ref);
    if (byId || byIdOnly) return byId;
    return channels.get(ref.replace(/^#/, ""));
  };

  const nextTs = () => {
    tsCounter += 1;
    return `${Math.floor(now() / 1000)}.${String(tsCounter % 1_000_000).padStart(6, "0")}`;
  };

  function takeFault(method: FakeSlackMethod, channelId?: string): FakeSlackFault | undefined {
    const index = faults.findIndex(
      (f) => f.method === method && (f.channel === undefined || f.channel === channelId),
    );
    if (index < 0) return undefined;
    const pending = faults[index]!;
    pending.remaining -= 1;
    if (pending.remaining <= 0) faults.splice(index, 1);
    return pending.fault;
  }

  /** Sliding one-second window per channel; the answer says how long until a slot frees. */
  function postRateLimited(channelId: string): number | null {
    const times = (postTimes.get(channelId) ?? []).filter((t) => now() - t < 1000);
    postTimes.set(channelId, times);
    if (times.length >= postBurst) return Math.max(1, Math.ceil((times[0]! + 1000 - now()) / 1000));
    times.push(now());
    return null;
  }

  function updateRateLimited(): number | null {
    while (updateTimes.length > 0 && now() - updateTimes[0]! >= 60_000) updateTimes.shift();
    if (updateTimes.length >= updatesPerMinute) {
      return Math.max(1, Math.ceil((updateTimes[0]! + 60_000 - now()) / 1000));
    }
    updateTimes.push(now());
    return null;
  }

  /** Content rules shared by every way of posting: the Slack error name, or null when acceptable. */
  function contentError(body: Record<string, unknown>): { error: string; errors?: string[] } | null {
    let blocks = body.blocks;
    if (typeof blocks === "string") {
      try {
        blocks = JSON.parse(blocks);
      } catch {
        return { error: "invalid_blocks_format" };
      }
    }
    const text = body.text;
    const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
    if ((typeof text !== "string" || text.trim() === "") && !hasBlocks) return { error: "no_text" };
    if (typeof text === "string" && text.length > MAX_TEXT) return { error: "msg_too_long" };
    if (blocks !== undefined) {
      const errors = validateBlocks(blocks);
      if (errors.length > 0) return { error: "invalid_blocks", errors };
      const total = blockTexts(blocks).reduce((sum, t) => sum + t.length, 0);
      if (total > MAX_BLOCK_TEXT_TOTAL) return { error: "msg_blocks_too_long" };
    }
    return null;
  }

  const parsedBlocks = (body: Record<string, unknown>): unknown[] => {
    const blocks = typeof body.blocks === "string" ? JSON.parse(body.blocks) : body.blocks;
    return Array.isArray(blocks) ? structuredClone(blocks) : [];
  };

  function record(via: FakeSlackMethod, channelId: string, body: Record<string, unknown>): FakeSlackMessage {
    const ts = nextTs();
    const version = { at: now(), via, text: String(body.text ?? ""), blocks: parsedBlocks(body) };
    const message: FakeSlackMessage = {
      ts,
      channel: channelId,
      via: via === "webhook" ? "webhook" : "api",
      text: version.text,
      blocks: version.blocks,
      versions: [version],
    };
    messages.set(ts, message);
    return message;
  }

  function revise(message: FakeSlackMessage, via: FakeSlackMethod, body: Record<string, unknown>): void {
    // chat.update keeps the old blocks when `blocks` is omitted (notes/integrations.md §1b).
    const blocks = body.blocks === undefined ? structuredClone(message.blocks) : parsedBlocks(body);
    const text = typeof body.text === "string" ? body.text : message.text;
    message.text = text;
    message.blocks = blocks;
    message.versions.push({ at: now(), via, text, blocks });
  }

  const slackError = (error: string, extra: Record<string, unknown> = {}): Answer => ({
    status: 200,
    body: { ok: false, error, ...extra },
    error,
  });

  /** Auth for the Web API: the error name, or null when the bearer token is ours. */
  function authError(req: IncomingMessage): string | null {
    const header = req.headers.authorization;
    if (!header) return "not_authed";
    const match = /^Bearer (\S+)$/.exec(header);
    return match && match[1] === token ? null : "invalid_auth";
  }

  function webApi(
    method: "chat.postMessage" | "chat.update",
    req: IncomingMessage,
    raw: string,
    fault: () => FakeSlackFault | undefined,
  ): Answer & { hangAfter?: boolean; hang?: boolean; reset?: boolean } {
    if (req.method !== "POST") return { ...slackError("invalid_method"), status: 405 }; // assumed
    const auth = authError(req);
    if (auth) return slackError(auth);
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\b/i.test(contentType)) return slackError("invalid_arguments"); // assumed: JSON only here
    const warnings = /charset=utf-8/i.test(contentType) ? undefined : ["missing_charset"];
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return slackError("invalid_json");
    }
    if (!isRecord(body)) return slackError("invalid_json");
    const target = findChannel(body.channel, method === "chat.update");
    const injected = fault();
    if (injected === "hang") return { status: 0, body: null, hang: true };
    if (injected === "reset") return { status: 0, body: null, reset: true };
    if (injected !== undefined && injected !== "accept-then-hang") return faultAnswer(injected, false);
    if (!target) return slackError("channel_not_found");

    const limited = method === "chat.postMessage" ? postRateLimited(target.id) : updateRateLimited();
    if (limited !== null) {
      return {
        status: 429,
        body: { ok: false, error: "ratelimited" },
        headers: { "retry-after": String(limited) },
        error: "ratelimited",
      };
    }
    const content = contentError(body);
    if (content) return slackError(content.error, content.errors ? { errors: content.errors } : {});

    const meta = warnings ? { response_metadata: { warnings } } : {};
    if (method === "chat.postMessage") {
      const message = record("chat.postMessage", target.id, body);
      return {
        status: 200,
        body: {
          ok: true,
          channel: target.id,
          ts: message.ts,
          message: {
            type: "message",
            subtype: "bot_message",
            text: message.text,
            blocks: message.blocks,
            ts: message.ts,
            bot_id: "B0FAKEBOT1",
          },
          ...meta,
        },
        channel: target.id,
        ts: message.ts,
        warnings,
        hangAfter: injected === "accept-then-hang",
      };
    }
    const ts = typeof body.ts === "string" ? body.ts : "";
    const message = messages.get(ts);
    if (!message || message.channel !== target.id)
      return { ...slackError("message_not_found"), channel: target.id };
    if (message.via !== "api") return slackError("cant_update_message");
    revise(message, "chat.update", body);
    return {
      status: 200,
      body: {
        ok: true,
        channel: target.id,
        ts,
        text: message.text,
        message: { text: message.text, blocks: message.blocks },
        ...meta,
      },
      channel: target.id,
      ts,
      warnings,
      hangAfter: injected === "accept-then-hang",
    };
  }

  /** A configured fault's answer; `text` for the webhook-style endpoints. */
  function faultAnswer(fault: Exclude<FakeSlackFault, string>, text: boolean): Answer {
    if ("error" in fault) {
      if (text) return { status: fault.status ?? 400, body: fault.error, error: fault.error };
      return { ...slackError(fault.error), status: fault.status ?? 200 };
    }
    const headers = fault.retryAfter === undefined ? undefined : { "retry-after": String(fault.retryAfter) };
    const error = fault.status === 429 ? (text ? "rate_limited" : "ratelimited") : undefined;
    const body =
      fault.body ?? (text ? (error ?? "internal_error") : { ok: false, error: error ?? "internal_error" });
    return { status: fault.status, body, headers, error };
  }

  function webhook(
    req: IncomingMessage,
    raw: string,
  ): Answer & { hangAfter?: boolean; hang?: boolean; reset?: boolean } {
    if (req.method !== "POST") return { status: 405, body: "invalid_method", error: "invalid_method" }; // assumed
    const injected = takeFault("webhook", webhookChannel.id);
    if (injected === "hang") return { status: 0, body: null, hang: true };
    if (injected === "reset") return { status: 0, body: null, reset: true };
    if (injected !== undefined && injected !== "accept-then-hang") return faultAnswer(injected, true);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return { status: 400, body: "invalid_payload", error: "invalid_payload" };
    }
    if (!isRecord(body)) return { status: 400, body: "invalid_payload", error: "invalid_payload" };
    const limited = postRateLimited(webhookChannel.id);
    if (limited !== null) {
      return {
        status: 429,
        body: "rate_limited",
        headers: { "retry-after": String(limited) },
        error: "rate_limited",
      };
    }
    const content = contentError(body);
    if (content) return { status: 400, body: content.error, error: content.error };
    const message = record("webhook", webhookChannel.id, body);
    return {
      status: 200,
      body: "ok",
      channel: webhookChannel.id,
      ts: message.ts,
      hangAfter: injected === "accept-then-hang",
    };
  }

  function responseUrl(
    req: IncomingMessage,
    pathname: string,
    raw: string,
  ): Answer & { hangAfter?: boolean; hang?: boolean; reset?: boolean } {
    const entry = responseUrls.get(pathname);
    if (req.method !== "POST") return { status: 405, body: "invalid_method", error: "invalid_method" }; // assumed
    if (!entry) return { status: 404, body: "no_service", error: "no_service" };
    if (entry.uses >= RESPONSE_URL_USES || now() > entry.expiresAt) {
      return { status: 404, body: { ok: false, error: "expired_url" }, error: "expired_url" }; // assumed
    }
    const injected = takeFault("response_url", entry.channel);
    if (injected === "hang") return { status: 0, body: null, hang: true };
    if (injected === "reset") return { status: 0, body: null, reset: true };
    if (injected !== undefined && injected !== "accept-then-hang") return faultAnswer(injected, false);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return { status: 400, body: { ok: false, error: "invalid_payload" }, error: "invalid_payload" };
    }
    if (!isRecord(body))
      return { status: 400, body: { ok: false, error: "invalid_payload" }, error: "invalid_payload" };
    // Reported: a response_url post with `"blocks": []` is refused; text alone must omit the key.
    if (Array.isArray(body.blocks) && body.blocks.length === 0)
      return { status: 400, body: { ok: false, error: "invalid_blocks" }, error: "invalid_blocks" };
    const content = contentError(body);
    if (content) return { status: 400, body: { ok: false, error: content.error }, error: content.error };
    entry.uses += 1;
    const original = messages.get(entry.ts);
    if (body.replace_original === true && original) revise(original, "response_url", body);
    else record("response_url", entry.channel, body);
    // Assumed: response_url answers {"ok":true} as JSON.
    return {
      status: 200,
      body: { ok: true },
      channel: entry.channel,
      ts: entry.ts,
      hangAfter: injected === "accept-then-hang",
    };
  }

  function interaction(o: FakeSlackInteractionOptions): FakeSlackInteraction {
    const message = messages.get(o.ts);
    if (!message) throw new Error(`fake slack: no message ${o.ts}`);
    const shown = visibleOf(message).buttons.find((b) => b.actionId === o.actionId);
    if (!shown && o.value === undefined) {
      throw new Error(
        `fake slack: message ${o.ts} shows no button ${o.actionId} (a user could not click it)`,
      );
    }
    const user = o.user ?? { id: "U0FAKEUSER", name: "fake.user" };
    const channelInfo = [...channels.values()].find((c) => c.id === message.channel)!;
    const responsePath = `/actions/${team}/${randomId("", 12)}/${randomBytes(12).toString("hex")}`;
    responseUrls.set(responsePath, {
      channel: message.channel,
      ts: message.ts,
      uses: 0,
      expiresAt: now() + RESPONSE_URL_TTL_MS,
    });
    const actionTs = `${Math.floor(now() / 1000)}.${String(Math.floor(now() % 1000) * 1000).padStart(6, "0")}`;
    const payload: Record<string, unknown> = {
      type: "block_actions",
      user: {
        id: user.id,
        username: user.name ?? "fake.user",
        name: user.name ?? "fake.user",
        team_id: team,
      },
      api_app_id: "A0FAKEAPP1",
      token: "verification-token-deprecated",
      container: {
        type: "message",
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
      },
      trigger_id: `${Math.floor(now() / 1000)}.${randomId("", 10)}`,
      team: { id: team, domain: "fake-team" },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: message.channel, name: channelInfo.name },
      message: {
        type: "message",
        ts: message.ts,
        text: message.text,
        blocks: message.blocks,
        bot_id: "B0FAKEBOT1",
      },
      state: { values: {} },
      response_url: `${baseUrl}${responsePath}`,
      actions: [
        {
          type: "button",
          action_id: o.actionId,
          block_id: shown?.blockId ?? "fake-block",
          text: { type: "plain_text", text: shown?.text ?? "button", emoji: true },
          value: o.value ?? shown?.value,
          ...(shown?.style ? { style: shown.style } : {}),
          action_ts: actionTs,
        },
      ],
    };
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const timestamp = String(o.timestamp ?? Math.floor(now() / 1000));
    const signature = `v0=${createHmac("sha256", o.secret ?? signingSecret)
      .update(`v0:${timestamp}:${body}`)
      .digest("hex")}`;
    return {
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
      },
      payload,
    };
  }

  function control(req: IncomingMessage, url: URL, raw: string): Answer {
    const json = () => (raw ? (JSON.parse(raw) as Record<string, unknown>) : {});
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case "GET /__control/info":
        return {
          status: 200,
          body: {
            apiBaseUrl: api.apiBaseUrl,
            token,
            signingSecret,
            webhookUrl: api.webhookUrl,
            channels: [...channels.values()],
          },
        };
      case "POST /__control/channels":
        return { status: 200, body: channel(String(json().name ?? "")) };
      case "GET /__control/messages":
        return {
          status: 200,
          body: { messages: api.messages({ channel: url.searchParams.get("channel") ?? undefined }) },
        };
      case "GET /__control/history": {
        const ts = url.searchParams.get("ts") ?? "";
        return {
          status: 200,
          body: { versions: api.history(ts), visible: messages.has(ts) ? api.visible(ts) : null },
        };
      }
      case "GET /__control/calls":
        return { status: 200, body: { calls: api.calls() } };
      case "POST /__control/fail-next": {
        const b = json();
        api.failNext(b.method as FakeSlackMethod, b.fault as FakeSlackFault, {
          times: typeof b.times === "number" ? b.times : undefined,
          channel: typeof b.channel === "string" ? b.channel : undefined,
        });
        return { status: 204, body: null };
      }
      case "POST /__control/interaction":
        try {
          return { status: 200, body: interaction(json() as unknown as FakeSlackInteractionOptions) };
        } catch (error) {
          return { status: 400, body: { error: (error as Error).message } };
        }
      default:
        return { status: 404, body: { error: "no such control route" } };
    }
  }

  const maskPath = (pathname: string) =>
    pathname.startsWith("/services/")
      ? "/services/{team}/{bot}/{secret}"
      : pathname.startsWith("/actions/")
        ? "/actions/{team}/{id}/{secret}"
        : pathname;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", baseUrl);
      const raw = Buffer.concat(chunks).toString("utf8");
      const auth = req.headers.authorization
        ? /^Bearer /.test(req.headers.authorization)
          ? "bearer"
          : "other"
        : "none";
      const call: FakeSlackCall = {
        seq: ++seq,
        at: now(),
        method: "unknown",
        path: maskPath(url.pathname),
        status: null,
        auth,
        contentType: req.headers["content-type"] ?? null,
      };
      let answer: Answer & { hangAfter?: boolean; hang?: boolean; reset?: boolean };
      if (url.pathname.startsWith("/__control/")) {
        call.method = "control";
        answer = control(req, url, raw);
      } else if (size > MAX_BODY_BYTES) {
        answer = { status: 413, body: "request_too_large", error: "request_too_large" };
      } else if (url.pathname === "/api/chat.postMessage" || url.pathname === "/api/chat.update") {
        const method = url.pathname === "/api/chat.postMessage" ? "chat.postMessage" : "chat.update";
        call.method = method;
        let channelRef: string | undefined;
        try {
          const parsed = JSON.parse(raw) as { channel?: unknown };
          if (typeof parsed.channel === "string") channelRef = findChannel(parsed.channel, false)?.id;
        } catch {}
        answer = webApi(method, req, raw, () => {
          const fault = takeFault(method, channelRef);
          if (fault !== undefined) call.fault = faultKind(fault);
          return fault;
        });
        answer.channel ??= channelRef;
      } else if (url.pathname === webhookPath) {
        call.method = "webhook";
        answer = webhook(req, raw);
      } else if (url.pathname.startsWith("/services/")) {
        call.method = "webhook";
        answer = { status: 404, body: "no_service", error: "no_service" };
      } else if (url.pathname.startsWith("/actions/")) {
        call.method = "response_url";
        answer = responseUrl(req, url.pathname, raw);
      } else if (url.pathname.startsWith("/api/")) {
        answer = slackError("unknown_method");
        answer.status = 404;
      } else {
        answer = { status: 404, body: "not found" };
      }
      if (answer.hang || answer.hangAfter) call.fault ??= answer.hang ? "hang" : "accept-then-hang";
      if (answer.reset) call.fault = "reset";
      call.error = answer.error;
      call.channel = answer.channel;
      call.ts = answer.ts;
      call.warnings = answer.warnings;
      calls.push(call);

      if (answer.reset) {
        req.socket.destroy();
        return;
      }
      if (answer.hang || answer.hangAfter) {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      call.status = answer.status;
      const headers: Record<string, string> = { ...answer.headers };
      let payload = "";
      if (answer.body !== null && answer.body !== undefined) {
        if (typeof answer.body === "string") {
          headers["content-type"] ??= "text/html";
          payload = answer.body;
        } else {
          headers["content-type"] ??= "application/json; charset=utf-8";
          payload = JSON.stringify(answer.body);
        }
      }
      res.writeHead(answer.status, headers);
      res.end(payload);
    });
  });
  // Longer than any test: a keep-alive socket closed just as a client reuses it would turn a post
  // into an `unknown` outcome and make tests flaky.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake slack: no TCP address");
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const snapshot = (m: FakeSlackMessage): FakeSlackMessage => structuredClone(m);

  const api: FakeSlack = {
    baseUrl,
    apiBaseUrl: `${baseUrl}/api`,
    token,
    signingSecret,
    webhookUrl: `${baseUrl}${webhookPath}`,
    channel: (name) => ({ ...channel(name) }),
    messages(filter = {}) {
      const id = filter.channel === undefined ? undefined : findChannel(filter.channel, false)?.id;
      return [...messages.values()]
        .filter((m) => filter.channel === undefined || m.channel === id)
        .map(snapshot);
    },
    message(ts) {
      const m = messages.get(ts);
      return m ? snapshot(m) : undefined;
    },
    history(ts) {
      return structuredClone(messages.get(ts)?.versions ?? []);
    },
    visible(ts) {
      const m = messages.get(ts);
      if (!m) throw new Error(`fake slack: no message ${ts}`);
      return visibleOf(m);
    },
    calls(filter = {}) {
      return calls
        .filter((c) => filter.method === undefined || c.method === filter.method)
        .map((c) => ({ ...c }));
    },
    failNext(method, fault, opts = {}) {
      const channelId = opts.channel === undefined ? undefined : channel(opts.channel).id;
      faults.push({ method, fault, remaining: opts.times ?? 1, channel: channelId });
    },
    interaction,
    async click(url, o) {
      const request = interaction(o);
      return fetch(url, { method: "POST", headers: request.headers, body: request.body });
    },
    async close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}

function faultKind(fault: FakeSlackFault): FakeSlackCall["fault"] {
  if (typeof fault === "string") return fault;
  return "error" in fault ? "error" : "status";
}

// CLI: run the fake on its own (the local sandbox).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const fake = await startFakeSlack({ port: values.port === undefined ? 0 : Number(values.port) });
  process.stdout.write(`${fake.baseUrl}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
