/**
 * One honest fake of every deploy platform the responder can act on: a `node:http` server on
 * 127.0.0.1 (random port) that serves, on one origin, the same paths the real services serve
 * (notes/integrations.md §2) and enforces their rules — auth, method, request shape, versioned
 * `Accept`, documented rate limits — answering with each platform's own error shapes:
 *
 *   Vercel   POST|GET /v1/integrations/deploy/prj_<id>/<key>          wrong key → 404
 *   Render   POST|GET /deploy/srv-<id>?key=<key>                       10/min/service → 429
 *            POST /v1/services/{id}/restart, GET …/deploys (Bearer)    POSTs 30/min/key → 429
 *   Railway  POST /graphql/v2 serviceInstanceRedeploy, deployments; account/workspace tokens in Bearer,
 *            project tokens in Project-Access-Token; a bad token or the wrong header → 200 + errors
 *   Netlify  POST /build_hooks/<id>
 *   Fly      GET /v1/apps/{app}/machines, POST …/machines/{id}/restart  1 req/s, burst 3 per machine → 429
 *   Heroku   DELETE /apps/{app}/dynos[/{dyno}], DELETE /apps/{app}/formations/{type}, GET …/builds
 *            (Bearer + version Accept, else 406; an unknown dyno or process type → 404)
 *   Webhook  POST /hooks/<id>  (JSON, Idempotency-Key, optional HMAC; duplicate keys are not re-run)
 *
 * Tests register targets (`target(kind, name)` gives a ready `Target` and its secrets), read
 * `calls()` (platform, target, method, path with secret parts masked: assertions never need a
 * secret), inject faults (`failNext`: a status, "timeout" = read the request and never answer,
 * "reset" = read it and drop the socket; "accept-then-timeout" and `{ status, landed: true }` carry
 * the call out before failing; "hold" = answer nothing until `release()`), mark deploys running (`setInProgress`) and observe
 * accepted redeploys (`onRedeploy`). The same is reachable over HTTP under `/__control/` for code
 * that cannot hold this object (workerd tests, the sandbox); `GET /__control/received` alone gives
 * what each call carried, headers and body unmasked, for tests that scan them for secrets.
 *
 * Trade-off: one origin for all platforms (their paths do not collide), so hook URLs differ from
 * the real ones only in origin. Where a platform's exact answer is not documented (Render's wrong
 * hook key, Fly's restart of a machine being replaced) the fake picks a plausible 4xx, marked
 * "assumed". State lives in memory per instance; target names are unique per instance.
 *
 * CLI (for the sandbox): `node fakes/platforms.ts [--port N]` prints the base URL and runs
 * until SIGINT/SIGTERM; register targets with `POST /__control/targets`.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { TARGET_KINDS, type Target, type TargetKind } from "../src/config/schema.ts";
import { WEBHOOK_SIGNATURE_TOLERANCE_SECONDS } from "../src/constants.ts";

export type FakePlatform = TargetKind;
export type HookKind = "vercel" | "render" | "netlify" | "webhook";

/**
 * A fault for the next matching call: a status (with the platform's error body), or a broken
 * connection. "accept-then-timeout" carries the call out (the redeploy happens) and never answers;
 * a status with `landed: true` carries it out and then answers that status: the cases where a
 * caller cannot tell from the answer whether it landed.
 */
export type Fault =
  | number
  | "timeout"
  | "accept-then-timeout"
  /** Read the request and answer nothing until `release()`; then handle it as usual. */
  | "hold"
  | "reset"
  | { status: number; body?: unknown; headers?: Record<string, string>; landed?: boolean };

export interface FailNextOptions {
  /** Only calls for this target (default: any target of the platform). */
  target?: string;
  /** Only calls with this action, e.g. "restart" or "list-machines" (default: any). */
  action?: string;
  /** How many matching calls fail (default 1). */
  times?: number;
}

/** One request the fake received. */
export interface FakeCall {
  seq: number;
  at: number;
  platform: FakePlatform | "control" | "unknown";
  /** The registered target the call addressed, or null when it matched none. */
  target: string | null;
  /** "redeploy", "restart", "list-machines", "list-deploys", "list-builds", "deployments", "graphql", … */
  action: string;
  method: string;
  /** The path with secret parts masked (`{key}`, `{id}`) and no query. */
  path: string;
  /** The status answered; null when no answer was sent (timeout, reset). */
  status: number | null;
  fault?: "timeout" | "accept-then-timeout" | "hold" | "reset" | "status";
  /** A redeploy/restart was accepted (the onRedeploy hooks fired). */
  accepted: boolean;
  machine?: string;
  dyno?: string;
  processType?: string;
  idempotencyKey?: string;
  triggerTitle?: string;
  /** Webhook targets with a signing secret: whether the signature verified. */
  signatureValid?: boolean;
}

/** What `onRedeploy` callbacks receive. */
export interface FakeRedeployEvent {
  platform: FakePlatform;
  target: string;
  action: "redeploy" | "restart";
  machine?: string;
  dyno?: string;
  processType?: string;
  deployId?: string;
  idempotencyKey?: string;
}

export interface FakeTargetOptions {
  /** render: use the restart API (serviceId + API key) instead of a deploy hook. */
  api?: boolean;
  /** fly: number of machines (default 2). */
  machines?: number;
  /** fly: write the machine ids into the target config instead of letting the adapter list them. */
  pinMachines?: boolean;
  /** fly: issue a `FlyV1 fm2_…` macaroon token instead of a plain bearer token. */
  macaroon?: boolean;
  /** railway: the kind of token issued (default account); each is honoured only under its own header. */
  tokenKind?: "account" | "workspace" | "project";
  /** heroku: restart only this dyno (dynos are web.1 and web.2). */
  dyno?: string;
  /** heroku: restart every dyno of this process type (the app's only formation is `web`). */
  processType?: string;
  /** webhook: require an HMAC-SHA256 signature (the target names a signing secret). */
  signed?: boolean;
  clusters?: string[];
  appNames?: string[];
  envNames?: string[];
}

/** A registered target as the responder's config would hold it, plus the secret values it names. */
export interface FakeTargetSetup {
  target: Target;
  secrets: Record<string, string>;
}

export interface FakePlatforms {
  /** e.g. "http://127.0.0.1:41234" — also every target's `apiBaseUrl`. */
  readonly baseUrl: string;
  readonly apiBaseUrl: string;
  /** Registers a target (or returns the one registered under `name`, which must be of `kind`). */
  target(kind: FakePlatform, name: string, options?: FakeTargetOptions): FakeTargetSetup;
  /** The hook URL of a hook-kind target, registering it on first use. */
  hookUrl(kind: HookKind, name: string): string;
  calls(filter?: { target?: string; platform?: FakePlatform }): FakeCall[];
  clearCalls(): void;
  failNext(platform: FakePlatform, fault: Fault, options?: FailNextOptions): void;
  /** Marks the target's latest deploy running (or finished), where its platform can report it. */
  setInProgress(target: string, inProgress: boolean): void;
  /** Calls `callback` whenever a redeploy/restart of `target` is accepted; returns an unsubscribe. */
  onRedeploy(target: string, callback: (event: FakeRedeployEvent) => void | Promise<void>): () => void;
  /**
   * Lets the calls held by a "hold" fault go on (those for `target`, or all): each is then handled
   * as usual. Answers how many were released.
   */
  release(target?: string): number;
  /** Errors thrown by onRedeploy callbacks (they never break the answer). */
  callbackErrors(): string[];
  close(): Promise<void>;
}

export interface FakePlatformsOptions {
  port?: number;
  /** Milliseconds since the epoch; drives rate limits and the webhook timestamp window. */
  now?: () => number;
}

interface Machine {
  id: string;
  name: string;
}

interface Registered {
  name: string;
  kind: FakePlatform;
  setup: FakeTargetSetup;
  /** Vercel project id, Render/Railway service id, Netlify/webhook hook id. */
  id: string;
  /** Hook key (Vercel path, Render query) or API token. */
  key: string;
  environmentId?: string;
  app?: string;
  machines?: Machine[];
  dynos?: string[];
  /** railway: the kind of the token in `key`. */
  tokenKind?: "account" | "workspace" | "project";
  renderApi?: boolean;
  signingSecret?: string;
  inProgress: boolean;
  latestDeployId: string;
  idempotencyKeys: Map<string, string>;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  accepted?: Omit<FakeRedeployEvent, "platform" | "target">;
}

interface Routed {
  platform: FakeCall["platform"];
  target: Registered | null;
  action: string;
  path: string;
  extra?: Partial<
    Pick<FakeCall, "machine" | "dyno" | "processType" | "idempotencyKey" | "triggerTitle" | "signatureValid">
  >;
  handle: () => Answer;
}

interface PendingFault extends FailNextOptions {
  platform: FakePlatform;
  fault: Fault;
  remaining: number;
}

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomString(length: number, alphabet = ALNUM): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

function secretName(kind: FakePlatform, name: string, suffix = ""): string {
  const base = `${kind}_${name}`.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
  return `FAKE_${base}${suffix}`;
}

/** Sliding-window limiter: at most `limit` events per `windowMs` per key. */
function windowLimiter(limit: number, windowMs: number, now: () => number) {
  const events = new Map<string, number[]>();
  return (key: string): { ok: boolean; resetSeconds: number } => {
    const t = now();
    const recent = (events.get(key) ?? []).filter((at) => t - at < windowMs);
    if (recent.length >= limit) {
      events.set(key, recent);
      return { ok: false, resetSeconds: Math.ceil((recent[0]! + windowMs - t) / 1000) };
    }
    recent.push(t);
    events.set(key, recent);
    return { ok: true, resetSeconds: 0 };
  };
}

/** Token bucket: `burst` tokens, refilled at `perSecond`. */
function tokenBucket(burst: number, perSecond: number, now: () => number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (key: string): boolean => {
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: burst, at: t };
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
    bucket.at = t;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
}

/** The error body each platform uses, for injected statuses and the fake's own refusals. */
function platformError(
  platform: FakeCall["platform"],
  status: number,
  code: string,
  message: string,
): unknown {
  switch (platform) {
    case "vercel":
      return { error: { code, message } };
    case "render":
      return { id: code, message };
    case "railway":
      return { errors: [{ message, extensions: { code } }] };
    case "netlify":
      return { code: status, message };
    case "fly":
      return { error: message };
    case "heroku":
      return { id: code, message };
    default:
      return { error: message };
  }
}

function gatewayPage(status: number): string {
  return `<html><head><title>${status}</title></head><body><h1>${status} Bad Gateway</h1></body></html>`;
}

function faultAnswer(
  platform: FakeCall["platform"],
  fault: Exclude<Fault, "timeout" | "accept-then-timeout" | "hold" | "reset">,
): Answer {
  if (typeof fault === "object" && fault.landed === true) {
    // The platform's own answer for that status, unless the fault names one.
    const base = faultAnswer(platform, fault.status);
    return { status: fault.status, body: fault.body ?? base.body, headers: fault.headers ?? base.headers };
  }
  if (typeof fault === "object") return { status: fault.status, body: fault.body, headers: fault.headers };
  const status = fault;
  if (status === 502 || status === 504 || status >= 520) {
    return { status, body: gatewayPage(status), headers: { "content-type": "text/html" } };
  }
  if (status === 429) {
    return {
      status,
      body: platformError(platform, status, "rate_limit", "Too many requests (injected)"),
      headers: { "retry-after": "30" },
    };
  }
  return { status, body: platformError(platform, status, `http_${status}`, `injected fault ${status}`) };
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match ? match[1] : header;
}

/** Starts the fake on 127.0.0.1. */
export async function startFakePlatforms(options: FakePlatformsOptions = {}): Promise<FakePlatforms> {
  const now = options.now ?? Date.now;
  const byName = new Map<string, Registered>();
  const byId = new Map<string, Registered>();
  const byApp = new Map<string, Registered>();
  const calls: FakeCall[] = [];
  /**
   * What each call carried, unmasked (headers and body), for the no-secret scans; kept apart from
   * `calls` so ordinary assertions never hold a secret. `GET /__control/received?target=`.
   */
  const received: Array<{ target: string | null; headers: Record<string, string>; body: string }> = [];
  const faults: PendingFault[] = [];
  const listeners = new Map<string, Set<(event: FakeRedeployEvent) => void | Promise<void>>>();
  const errors: string[] = [];
  const hanging = new Set<ServerResponse>();
  /** Calls a "hold" fault keeps waiting, each with what lets it go on. */
  const held: Array<{ target: string | null; go: () => void }> = [];
  const renderHookLimit = windowLimiter(10, 60_000, now);
  const renderApiLimit = windowLimiter(30, 60_000, now);
  const flyLimit = tokenBucket(3, 1, now);
  let seq = 0;
  let baseUrl = "";

  function register(kind: FakePlatform, name: string, opts: FakeTargetOptions = {}): FakeTargetSetup {
    const existing = byName.get(name);
    if (existing) {
      if (existing.kind !== kind) throw new Error(`target ${name} is already registered as ${existing.kind}`);
      return existing.setup;
    }
    if (!TARGET_KINDS.includes(kind)) throw new Error(`unknown platform ${String(kind)}`);
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/i.test(name)) throw new Error(`invalid target name ${name}`);
    const ownership = {
      clusters: opts.clusters ?? [],
      appNames: opts.appNames ?? [],
      envNames: opts.envNames ?? [],
    };
    const secret = secretName(kind, name);
    const reg: Registered = {
      name,
      kind,
      setup: undefined as unknown as FakeTargetSetup,
      id: "",
      key: "",
      inProgress: false,
      latestDeployId: "",
      idempotencyKeys: new Map(),
    };
    let target: Target;
    let value: string;
    const extra: Record<string, string> = {};
    switch (kind) {
      case "vercel":
        reg.id = `prj_${randomString(28)}`;
        reg.key = randomString(10);
        value = `${baseUrl}/v1/integrations/deploy/${reg.id}/${reg.key}`;
        target = { kind, name, secret, projectId: reg.id, ...ownership };
        break;
      case "render":
        reg.id = `srv-${randomString(20, LOWER)}`;
        reg.latestDeployId = `dep-${randomString(20, LOWER)}`;
        if (opts.api) {
          reg.renderApi = true;
          reg.key = `rnd_${randomString(32)}`;
          value = reg.key;
          target = { kind, name, secret, serviceId: reg.id, apiBaseUrl: baseUrl, ...ownership };
        } else {
          reg.key = randomString(11);
          value = `${baseUrl}/deploy/${reg.id}?key=${reg.key}`;
          target = { kind, name, secret, ...ownership };
        }
        break;
      case "railway":
        reg.id = crypto.randomUUID();
        reg.environmentId = crypto.randomUUID();
        reg.key = crypto.randomUUID();
        reg.tokenKind = opts.tokenKind ?? "account";
        reg.latestDeployId = crypto.randomUUID();
        value = reg.key;
        target = {
          kind,
          name,
          secret,
          serviceId: reg.id,
          environmentId: reg.environmentId,
          tokenKind: reg.tokenKind,
          apiBaseUrl: baseUrl,
          ...ownership,
        };
        break;
      case "netlify":
        reg.id = hex(12);
        value = `${baseUrl}/build_hooks/${reg.id}`;
        target = { kind, name, secret, ...ownership };
        break;
      case "fly": {
        reg.app = `${name.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-${randomString(6, LOWER)}`;
        reg.key = opts.macaroon
          ? `FlyV1 fm2_${randomBytes(48).toString("base64")}`
          : `fo1_${randomString(43)}`;
        reg.machines = Array.from({ length: opts.machines ?? 2 }, (_, i) => ({
          id: hex(7).slice(0, 14),
          name: `${name}-${i + 1}`,
        }));
        value = reg.key;
        target = {
          kind,
          name,
          secret,
          app: reg.app,
          apiBaseUrl: baseUrl,
          ...(opts.pinMachines ? { machines: reg.machines.map((m) => m.id) } : {}),
          ...ownership,
        };
        break;
      }
      case "heroku":
        reg.app = `${name.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-${randomString(6, LOWER)}`;
        reg.key = crypto.randomUUID();
        reg.dynos = ["web.1", "web.2"];
        reg.latestDeployId = crypto.randomUUID();
        value = reg.key;
        target = {
          kind,
          name,
          secret,
          app: reg.app,
          apiBaseUrl: baseUrl,
          ...(opts.dyno ? { dyno: opts.dyno } : {}),
          ...(opts.processType ? { processType: opts.processType } : {}),
          ...ownership,
        };
        break;
      case "webhook": {
        reg.id = randomString(24);
        value = `${baseUrl}/hooks/${reg.id}`;
        if (opts.signed) {
          reg.signingSecret = `whsig_${randomString(32)}`;
          const signingName = secretName(kind, name, "_SIGNING");
          extra[signingName] = reg.signingSecret;
          target = { kind, name, secret, signingSecret: signingName, ...ownership };
        } else {
          target = { kind, name, secret, ...ownership };
        }
        break;
      }
    }
    reg.setup = { target, secrets: { [secret]: value, ...extra } };
    byName.set(name, reg);
    if (reg.id) byId.set(`${kind}:${reg.id}`, reg);
    if (reg.app) byApp.set(`${kind}:${reg.app}`, reg);
    return reg.setup;
  }

  function emit(reg: Registered, accepted: NonNullable<Answer["accepted"]>): void {
    const event: FakeRedeployEvent = { platform: reg.kind, target: reg.name, ...accepted };
    for (const callback of listeners.get(reg.name) ?? []) {
      Promise.resolve()
        .then(() => callback(event))
        .catch((error: unknown) =>
          errors.push(`${reg.name}: ${error instanceof Error ? error.message : String(error)}`),
        );
    }
  }

  function takeFault(routed: Routed): Fault | undefined {
    if (routed.platform === "control" || routed.platform === "unknown") return undefined;
    const index = faults.findIndex(
      (f) =>
        f.platform === routed.platform &&
        (f.target === undefined || f.target === routed.target?.name) &&
        (f.action === undefined || f.action === routed.action),
    );
    if (index < 0) return undefined;
    const pending = faults[index]!;
    pending.remaining -= 1;
    if (pending.remaining <= 0) faults.splice(index, 1);
    return pending.fault;
  }

  // ---- platforms -------------------------------------------------------------------------------

  function vercel(req: IncomingMessage, project: string, key: string): Routed {
    const reg = byId.get(`vercel:${project}`) ?? null;
    return {
      platform: "vercel",
      target: reg,
      action: "redeploy",
      path: `/v1/integrations/deploy/${project}/{key}`,
      handle: () => {
        if (req.method !== "POST" && req.method !== "GET") {
          return {
            status: 405,
            body: platformError("vercel", 405, "method_not_allowed", "Method not allowed"),
          };
        }
        if (!reg || key !== reg.key) {
          return {
            status: 404,
            body: platformError("vercel", 404, "not_found", "The deploy hook could not be found."),
          };
        }
        const id = randomString(20);
        reg.latestDeployId = id;
        return {
          status: 201,
          body: { job: { id, state: "PENDING", createdAt: now() } },
          accepted: { action: "redeploy", deployId: id },
        };
      },
    };
  }

  function renderHook(req: IncomingMessage, service: string, url: URL): Routed {
    const reg = byId.get(`render:${service}`) ?? null;
    return {
      platform: "render",
      target: reg,
      action: "redeploy",
      path: `/deploy/${service}`,
      handle: () => {
        if (req.method !== "POST" && req.method !== "GET") {
          return {
            status: 405,
            body: platformError("render", 405, "method_not_allowed", "method not allowed"),
          };
        }
        if (!reg || reg.renderApi)
          return { status: 404, body: platformError("render", 404, "not_found", "not found") };
        // Assumed: Render's answer to a wrong hook key is not documented; 401 is the plausible one.
        if (url.searchParams.get("key") !== reg.key) {
          return {
            status: 401,
            body: platformError("render", 401, "unauthorized", "invalid deploy hook key"),
          };
        }
        const limit = renderHookLimit(reg.id);
        if (!limit.ok) {
          return {
            status: 429,
            body: platformError("render", 429, "rate_limited", "Rate limit exceeded"),
            headers: {
              "ratelimit-limit": "10",
              "ratelimit-remaining": "0",
              "ratelimit-reset": String(limit.resetSeconds),
            },
          };
        }
        reg.latestDeployId = `dep-${randomString(20, LOWER)}`;
        return {
          status: 200,
          body: { deploy: { id: reg.latestDeployId } },
          accepted: { action: "redeploy", deployId: reg.latestDeployId },
        };
      },
    };
  }

  function renderApi(req: IncomingMessage, service: string, what: string, url: URL): Routed {
    const reg = byId.get(`render:${service}`) ?? null;
    const action = what === "restart" ? "restart" : "list-deploys";
    return {
      platform: "render",
      target: reg,
      action,
      path: `/v1/services/${service}/${what}`,
      handle: () => {
        const token = bearer(req);
        if (!token || !reg?.renderApi || token !== reg.key) {
          // Render does not reveal whether a service exists to a caller without access.
          return { status: 401, body: platformError("render", 401, "unauthorized", "unauthorized") };
        }
        if (what === "restart") {
          if (req.method !== "POST")
            return {
              status: 405,
              body: platformError("render", 405, "method_not_allowed", "method not allowed"),
            };
          const limit = renderApiLimit(reg.key);
          if (!limit.ok) {
            return {
              status: 429,
              body: platformError("render", 429, "rate_limited", "Rate limit exceeded"),
              headers: {
                "ratelimit-limit": "30",
                "ratelimit-remaining": "0",
                "ratelimit-reset": String(limit.resetSeconds),
              },
            };
          }
          return { status: 202, accepted: { action: "restart" } };
        }
        if (req.method !== "GET")
          return {
            status: 405,
            body: platformError("render", 405, "method_not_allowed", "method not allowed"),
          };
        const limit = Number(url.searchParams.get("limit") ?? "20");
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
          return {
            status: 400,
            body: platformError("render", 400, "invalid_limit", "limit must be between 1 and 100"),
          };
        }
        const at = new Date(now()).toISOString();
        return {
          status: 200,
          body: [
            {
              deploy: {
                id: reg.latestDeployId,
                status: reg.inProgress ? "build_in_progress" : "live",
                trigger: "deploy_hook",
                createdAt: at,
                updatedAt: at,
                ...(reg.inProgress ? {} : { finishedAt: at }),
              },
              cursor: randomString(12),
            },
          ],
        };
      },
    };
  }

  function railway(req: IncomingMessage, raw: Buffer): Routed {
    // The target is known only after parsing the body; routed.target is filled in by handle().
    const routed: Routed = {
      platform: "railway",
      target: null,
      action: "graphql",
      path: "/graphql/v2",
      handle: () => answerRailway(req, raw, routed),
    };
    // Peek so faults can match by target and action before the handler runs.
    try {
      const body = JSON.parse(raw.toString("utf8")) as {
        query?: unknown;
        variables?: Record<string, unknown>;
      };
      const query = typeof body.query === "string" ? body.query : "";
      routed.action = /\bserviceInstanceRedeploy\b/.test(query)
        ? "redeploy"
        : /\bdeployments\s*\(/.test(query)
          ? "deployments"
          : "graphql";
      const ids = collectIds(body.variables);
      const reg = ids.serviceId ? byId.get(`railway:${ids.serviceId}`) : undefined;
      routed.target = reg ?? null;
    } catch {
      // answerRailway reports the parse error.
    }
    return routed;
  }

  function collectIds(variables: unknown): { serviceId?: string; environmentId?: string } {
    if (variables === null || typeof variables !== "object") return {};
    const record = variables as Record<string, unknown>;
    const input = (record.input ?? {}) as Record<string, unknown>;
    const pick = (key: string) => {
      const value = record[key] ?? input[key];
      return typeof value === "string" ? value : undefined;
    };
    return { serviceId: pick("serviceId"), environmentId: pick("environmentId") };
  }

  function answerRailway(req: IncomingMessage, raw: Buffer, routed: Routed): Answer {
    const gqlError = (message: string, status = 200): Answer => ({
      status,
      body: { errors: [{ message, locations: [], path: [], extensions: {} }], data: null },
    });
    if (req.method !== "POST") return { status: 405, body: "Method Not Allowed" };
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      return gqlError("Must provide query string.", 400);
    }
    let body: { query?: unknown; variables?: unknown };
    try {
      body = JSON.parse(raw.toString("utf8")) as typeof body;
    } catch {
      return gqlError("Unexpected token in JSON body", 400);
    }
    if (typeof body.query !== "string" || body.query.trim() === "")
      return gqlError("Must provide query string.", 400);
    const query = body.query;
    const variables = (body.variables ?? {}) as Record<string, unknown>;
    // Railway reads a project token only from Project-Access-Token, and account and workspace tokens
    // only from Authorization: Bearer; a token under the other header authorizes nothing.
    const token = bearer(req);
    const projectHeader = req.headers["project-access-token"];
    const projectToken = typeof projectHeader === "string" ? projectHeader : undefined;
    const tokenOwner = [...byName.values()].find(
      (r) =>
        r.kind === "railway" &&
        (r.tokenKind === "project" ? projectToken === r.key : token !== undefined && token === r.key),
    );
    if (!tokenOwner) return gqlError("Not Authorized");

    if (routed.action === "redeploy") {
      if (!/^\s*mutation\b/.test(query)) return gqlError("serviceInstanceRedeploy is a mutation", 400);
      // The field inside the selection set, not an operation that happens to share its name.
      const selection = query.slice(query.indexOf("{"));
      const args = /serviceInstanceRedeploy\s*\(([^)]*)\)/.exec(selection)?.[1];
      if (args === undefined)
        return gqlError('Syntax Error: Expected "(" after serviceInstanceRedeploy', 400);
      const values: Record<string, string | undefined> = {};
      for (const match of args.matchAll(/(\w+)\s*:\s*(\$\w+|"[^"]*")/g)) {
        const [, name, value] = match as unknown as [string, string, string];
        if (value.startsWith("$")) {
          const variable = value.slice(1);
          if (!new RegExp(`\\$${variable}\\s*:\\s*String!`).test(query)) {
            return gqlError(`Variable "$${variable}" is not defined as String!.`, 400);
          }
          const resolved = variables[variable];
          values[name] = typeof resolved === "string" ? resolved : undefined;
        } else {
          values[name] = value.slice(1, -1);
        }
      }
      for (const required of ["environmentId", "serviceId"]) {
        if (values[required] === undefined) {
          return gqlError(
            `Field "serviceInstanceRedeploy" argument "${required}" of type "String!" is required, but it was not provided.`,
            400,
          );
        }
      }
      const reg = byId.get(`railway:${values.serviceId}`);
      routed.target = reg ?? null;
      if (!reg || reg.environmentId !== values.environmentId) return gqlError("ServiceInstance not found");
      if (reg !== tokenOwner) return gqlError("Not Authorized");
      reg.latestDeployId = crypto.randomUUID();
      return {
        status: 200,
        body: { data: { serviceInstanceRedeploy: true } },
        accepted: { action: "redeploy", deployId: reg.latestDeployId },
      };
    }
    if (routed.action === "deployments") {
      const ids = collectIds(variables);
      const reg = ids.serviceId ? byId.get(`railway:${ids.serviceId}`) : undefined;
      routed.target = reg ?? null;
      if (!reg || reg.environmentId !== ids.environmentId)
        return { status: 200, body: { data: { deployments: { edges: [] } } } };
      if (reg !== tokenOwner) return gqlError("Not Authorized");
      return {
        status: 200,
        body: {
          data: {
            deployments: {
              edges: [{ node: { id: reg.latestDeployId, status: reg.inProgress ? "BUILDING" : "SUCCESS" } }],
            },
          },
        },
      };
    }
    return gqlError("Cannot query field on type Query.", 400);
  }

  function netlify(req: IncomingMessage, id: string, url: URL): Routed {
    const reg = byId.get(`netlify:${id}`) ?? null;
    const title = url.searchParams.get("trigger_title") ?? undefined;
    return {
      platform: "netlify",
      target: reg,
      action: "redeploy",
      path: "/build_hooks/{id}",
      extra: title === undefined ? {} : { triggerTitle: title },
      handle: () => {
        if (req.method !== "POST")
          return { status: 405, body: platformError("netlify", 405, "405", "Method Not Allowed") };
        if (!reg) return { status: 404, body: "Not Found", headers: { "content-type": "text/plain" } };
        return { status: 200, accepted: { action: "redeploy" } };
      },
    };
  }

  function fly(req: IncomingMessage, app: string, machine: string | undefined): Routed {
    const reg = byApp.get(`fly:${app}`) ?? null;
    const action = machine === undefined ? "list-machines" : "restart";
    const known = machine === undefined ? undefined : reg?.machines?.find((m) => m.id === machine);
    return {
      platform: "fly",
      target: reg,
      action,
      path:
        machine === undefined ? `/v1/apps/${app}/machines` : `/v1/apps/${app}/machines/${machine}/restart`,
      extra: machine === undefined ? {} : { machine },
      handle: () => {
        const header = req.headers.authorization ?? "";
        const token = header.startsWith("FlyV1 ") ? header : bearer(req);
        if (!reg) return { status: 404, body: platformError("fly", 404, "not_found", "app not found") };
        if (token !== reg.key)
          return { status: 401, body: platformError("fly", 401, "unauthorized", "unauthorized") };
        if (machine === undefined) {
          if (req.method !== "GET")
            return { status: 405, body: platformError("fly", 405, "method", "method not allowed") };
          const at = new Date(now()).toISOString();
          return {
            status: 200,
            body: reg.machines!.map((m, i) => ({
              id: m.id,
              name: m.name,
              state: reg.inProgress && i === 0 ? "replacing" : "started",
              region: "iad",
              instance_id: randomString(26).toUpperCase(),
              private_ip: `fdaa:0:1::${i + 2}`,
              config: {},
              created_at: at,
              updated_at: at,
            })),
          };
        }
        if (req.method !== "POST")
          return { status: 405, body: platformError("fly", 405, "method", "method not allowed") };
        if (!known) return { status: 404, body: platformError("fly", 404, "not_found", "machine not found") };
        if (!flyLimit(`${reg.app}/${machine}/restart`)) {
          return { status: 429, body: platformError("fly", 429, "rate_limited", "rate limit exceeded") };
        }
        // Assumed: restarting a machine that a deploy is replacing is refused with a precondition error.
        if (reg.inProgress && reg.machines![0]!.id === machine) {
          return {
            status: 412,
            body: platformError("fly", 412, "failed_precondition", "machine is being replaced"),
          };
        }
        return { status: 200, body: { ok: true }, accepted: { action: "restart", machine } };
      },
    };
  }

  function heroku(req: IncomingMessage, app: string, rest: string[]): Routed {
    const reg = byApp.get(`heroku:${app}`) ?? null;
    const [resource, name] = rest;
    const action = resource === "builds" ? "list-builds" : "restart";
    const dyno = resource === "dynos" ? name : undefined;
    const processType = resource === "formations" ? name : undefined;
    return {
      platform: "heroku",
      target: reg,
      action,
      path: `/apps/${app}/${rest.join("/")}`,
      extra: {
        ...(dyno === undefined ? {} : { dyno }),
        ...(processType === undefined ? {} : { processType }),
      },
      handle: () => {
        if (!/application\/vnd\.heroku\+json;\s*version=3/.test(req.headers.accept ?? "")) {
          return {
            status: 406,
            body: platformError(
              "heroku",
              406,
              "not_acceptable",
              "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.",
            ),
          };
        }
        if (!reg || bearer(req) !== reg.key) {
          return {
            status: 401,
            body: platformError("heroku", 401, "unauthorized", "Invalid credentials provided."),
          };
        }
        if (resource === "builds") {
          if (req.method !== "GET" || name !== undefined)
            return { status: 404, body: platformError("heroku", 404, "not_found", "Not found.") };
          const at = new Date(now()).toISOString();
          return {
            status: 200,
            body: [
              {
                id: reg.latestDeployId,
                status: reg.inProgress ? "pending" : "succeeded",
                created_at: at,
                updated_at: at,
                app: { id: reg.app },
              },
            ],
          };
        }
        if (req.method !== "DELETE" || rest.length > 2) {
          return { status: 404, body: platformError("heroku", 404, "not_found", "Not found.") };
        }
        if (resource === "formations") {
          // DELETE /apps/{app}/formations/{type}: every dyno of one process type (`heroku ps:restart web`).
          const types = new Set(reg.dynos!.map((d) => d.split(".")[0]));
          if (processType === undefined) {
            return { status: 404, body: platformError("heroku", 404, "not_found", "Not found.") };
          }
          if (!types.has(processType)) {
            return {
              status: 404,
              body: {
                ...(platformError(
                  "heroku",
                  404,
                  "not_found",
                  `Couldn't find that formation (${processType}).`,
                ) as object),
                resource: "formation",
              },
            };
          }
          return { status: 202, body: {}, accepted: { action: "restart", processType } };
        }
        // DELETE /apps/{app}/dynos/{dyno} names one dyno (`web.1`); a process type is not a dyno.
        if (dyno !== undefined && !reg.dynos!.includes(dyno)) {
          return {
            status: 404,
            body: {
              ...(platformError("heroku", 404, "not_found", `Couldn't find that dyno (${dyno}).`) as object),
              resource: "dyno",
            },
          };
        }
        return {
          status: 202,
          body: {},
          accepted: { action: "restart", ...(dyno === undefined ? {} : { dyno }) },
        };
      },
    };
  }

  function webhook(req: IncomingMessage, id: string, raw: Buffer): Routed {
    const reg = byId.get(`webhook:${id}`) ?? null;
    const key = req.headers["idempotency-key"];
    const idempotencyKey = typeof key === "string" ? key : undefined;
    const routed: Routed = {
      platform: "webhook",
      target: reg,
      action: "redeploy",
      path: "/hooks/{id}",
      extra: idempotencyKey === undefined ? {} : { idempotencyKey },
      handle: () => {
        if (req.method !== "POST") return { status: 405, body: { error: "method not allowed" } };
        if (!reg) return { status: 404, body: { error: "not found" } };
        if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
          return { status: 415, body: { error: "unsupported media type" } };
        }
        if (reg.signingSecret) {
          const valid = verifySignature(req, raw, reg.signingSecret);
          routed.extra = { ...routed.extra, signatureValid: valid === "ok" };
          if (valid !== "ok") return { status: 401, body: { error: valid } };
        }
        let payload: Record<string, unknown>;
        try {
          payload = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
        } catch {
          return { status: 400, body: { error: "body is not JSON" } };
        }
        const problems = [
          payload.event === "atlas-responder.redeploy" ? undefined : "event",
          typeof payload.incidentId === "string" && payload.incidentId ? undefined : "incidentId",
          payload.target === reg.name ? undefined : "target",
          typeof payload.reason === "string" ? undefined : "reason",
          payload.idempotencyKey === idempotencyKey ? undefined : "idempotencyKey",
        ].filter(Boolean);
        if (problems.length > 0) return { status: 400, body: { error: "invalid payload", fields: problems } };
        if (!idempotencyKey) return { status: 400, body: { error: "Idempotency-Key header is required" } };
        const previous = reg.idempotencyKeys.get(idempotencyKey);
        if (previous) return { status: 200, body: { status: "duplicate", id: previous } };
        const eventId = `evt_${randomString(16)}`;
        reg.idempotencyKeys.set(idempotencyKey, eventId);
        return {
          status: 202,
          body: { status: "accepted", id: eventId },
          accepted: { action: "redeploy", deployId: eventId, idempotencyKey },
        };
      },
    };
    return routed;
  }

  /** The receiver side of the scheme documented in src/platforms/webhook.ts, written independently. */
  function verifySignature(req: IncomingMessage, raw: Buffer, secret: string): "ok" | string {
    const timestamp = req.headers["x-atlas-responder-timestamp"];
    const signature = req.headers["x-atlas-responder-signature"];
    if (typeof timestamp !== "string" || !/^\d+$/.test(timestamp)) return "missing or malformed timestamp";
    if (Math.abs(now() / 1000 - Number(timestamp)) > WEBHOOK_SIGNATURE_TOLERANCE_SECONDS)
      return "stale timestamp";
    if (typeof signature !== "string" || !/^sha256=[0-9a-f]{64}$/.test(signature))
      return "missing or malformed signature";
    const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(raw).digest();
    const given = Buffer.from(signature.slice("sha256=".length), "hex");
    return timingSafeEqual(expected, given) ? "ok" : "invalid signature";
  }

  // ---- control ---------------------------------------------------------------------------------

  function control(req: IncomingMessage, parts: string[], raw: Buffer, url: URL): Answer {
    const body = raw.length === 0 ? {} : (JSON.parse(raw.toString("utf8")) as Record<string, unknown>);
    const [what] = parts;
    if (what === "targets" && req.method === "POST") {
      return {
        status: 201,
        body: register(
          body.kind as FakePlatform,
          String(body.name),
          (body.options ?? {}) as FakeTargetOptions,
        ),
      };
    }
    if (what === "fail-next" && req.method === "POST") {
      api.failNext(body.platform as FakePlatform, body.fault as Fault, {
        target: body.target as string | undefined,
        action: body.action as string | undefined,
        times: body.times as number | undefined,
      });
      return { status: 200, body: { ok: true } };
    }
    if (what === "release" && req.method === "POST") {
      return { status: 200, body: { released: api.release(body.target as string | undefined) } };
    }
    if (what === "in-progress" && req.method === "POST") {
      api.setInProgress(String(body.target), Boolean(body.inProgress));
      return { status: 200, body: { ok: true } };
    }
    if (what === "calls" && req.method === "GET") {
      const target = url.searchParams.get("target") ?? undefined;
      const platform = (url.searchParams.get("platform") ?? undefined) as FakePlatform | undefined;
      return { status: 200, body: { calls: api.calls({ target, platform }) } };
    }
    if (what === "on-redeploy" && req.method === "POST") {
      // Bridges onRedeploy to HTTP for code that cannot hand over a function: the fake calls
      // `request.url` with the event as JSON (e.g. the MongoDB control plane's DELETE /leaky-apps/:pid).
      const request = body.request as { method?: string; url?: string } | undefined;
      if (!request?.url) return { status: 400, body: { error: "request.url is required" } };
      api.onRedeploy(String(body.target), async (event) => {
        const method = request.method ?? "POST";
        const response = await fetch(request.url!, {
          method,
          headers: { "content-type": "application/json" },
          body: method === "GET" || method === "HEAD" ? undefined : JSON.stringify(event),
        });
        if (!response.ok) throw new Error(`on-redeploy callback answered ${response.status}`);
      });
      return { status: 200, body: { ok: true } };
    }
    if (what === "received" && req.method === "GET") {
      const target = url.searchParams.get("target");
      return {
        status: 200,
        body: { received: received.filter((r) => target === null || r.target === target) },
      };
    }
    if (what === "callback-errors" && req.method === "GET")
      return { status: 200, body: { errors: [...errors] } };
    return { status: 404, body: { error: `no control route ${req.method} /${parts.join("/")}` } };
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  function route(req: IncomingMessage, url: URL, raw: Buffer): Routed {
    const parts = url.pathname
      .split("/")
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
    const [a, b, c, d, e, f] = parts;
    if (a === "v1" && b === "integrations" && c === "deploy" && d && e && parts.length === 5)
      return vercel(req, d, e);
    if (a === "deploy" && b && parts.length === 2) return renderHook(req, b, url);
    if (a === "v1" && b === "services" && c && (d === "restart" || d === "deploys") && parts.length === 4) {
      return renderApi(req, c, d, url);
    }
    if (a === "graphql" && b === "v2" && parts.length === 2) return railway(req, raw);
    if (a === "build_hooks" && b && parts.length === 2) return netlify(req, b, url);
    if (a === "v1" && b === "apps" && c && d === "machines") {
      if (parts.length === 4) return fly(req, c, undefined);
      if (parts.length === 6 && e && f === "restart") return fly(req, c, e);
    }
    if (a === "apps" && b && (c === "dynos" || c === "formations" || c === "builds"))
      return heroku(req, b, parts.slice(2));
    if (a === "hooks" && b && parts.length === 2) return webhook(req, b, raw);
    return {
      platform: "unknown",
      target: null,
      action: "unknown",
      path: url.pathname,
      handle: () => ({ status: 404, body: { error: "not found" } }),
    };
  }

  function send(res: ServerResponse, answer: Answer): void {
    const headers: Record<string, string> = { ...answer.headers };
    let payload = "";
    if (answer.body !== undefined) {
      if (typeof answer.body === "string") {
        payload = answer.body;
        headers["content-type"] ??= "text/plain; charset=utf-8";
      } else {
        payload = JSON.stringify(answer.body);
        headers["content-type"] ??= "application/json; charset=utf-8";
      }
    }
    res.writeHead(answer.status, headers);
    res.end(payload);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const parts = url.pathname.split("/").filter(Boolean);

    if (parts[0] === "__control") {
      let answer: Answer;
      try {
        answer = control(req, parts.slice(1), raw, url);
      } catch (error) {
        answer = { status: 400, body: { error: error instanceof Error ? error.message : String(error) } };
      }
      send(res, answer);
      return;
    }

    const routed = route(req, url, raw);
    const call: FakeCall = {
      seq: ++seq,
      at: now(),
      platform: routed.platform,
      target: routed.target?.name ?? null,
      action: routed.action,
      method: req.method ?? "GET",
      path: routed.path,
      status: null,
      accepted: false,
    };
    calls.push(call);
    received.push({
      target: call.target,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      body: raw.toString("utf8"),
    });
    const fault = takeFault(routed);
    /** Carries the call out whatever the answer will be (a fault that landed). */
    const land = () => {
      const done = routed.handle();
      if (done.accepted && routed.target) {
        call.accepted = true;
        emit(routed.target, done.accepted);
      }
    };
    if (fault === "timeout" || fault === "accept-then-timeout") {
      call.fault = fault;
      if (fault === "accept-then-timeout") land();
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    }
    if (fault === "hold") {
      call.fault = "hold";
      let go!: () => void;
      const released = new Promise<void>((resolve) => {
        go = resolve;
      });
      held.push({ target: call.target, go });
      hanging.add(res);
      await released;
      hanging.delete(res);
      if (res.destroyed) return;
    }
    if (fault === "reset") {
      call.fault = "reset";
      req.socket.destroy();
      return;
    }
    let answer: Answer;
    if (fault !== undefined && fault !== "hold") {
      call.fault = "status";
      if (typeof fault === "object" && fault.landed === true) land();
      answer = faultAnswer(routed.platform, fault);
    } else {
      answer = routed.handle();
    }
    Object.assign(call, routed.extra ?? {}, { target: routed.target?.name ?? null, status: answer.status });
    if (answer.accepted && routed.target) {
      call.accepted = true;
      emit(routed.target, answer.accepted);
    }
    send(res, answer);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: String(error) } });
    });
  });
  // Longer than any test: a keep-alive socket the server closes just as a client reuses it would
  // turn a POST into an `unknown` outcome and make tests flaky.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake platforms: no TCP address");
  baseUrl = `http://127.0.0.1:${address.port}`;

  const api: FakePlatforms = {
    baseUrl,
    apiBaseUrl: baseUrl,
    target: register,
    hookUrl(kind, name) {
      const setup = register(kind, name);
      return setup.secrets[setup.target.secret]!;
    },
    calls(filter = {}) {
      return calls
        .filter(
          (c) =>
            (filter.target === undefined || c.target === filter.target) &&
            (filter.platform === undefined || c.platform === filter.platform),
        )
        .map((c) => ({ ...c }));
    },
    clearCalls() {
      calls.length = 0;
      received.length = 0;
    },
    release(target) {
      const going = held.filter((h) => target === undefined || h.target === target);
      for (const h of going) held.splice(held.indexOf(h), 1);
      for (const h of going) h.go();
      return going.length;
    },
    failNext(platform, fault, opts = {}) {
      if (typeof fault === "number" && (fault < 100 || fault > 599))
        throw new Error(`invalid status ${fault}`);
      faults.push({ platform, fault, ...opts, remaining: opts.times ?? 1 });
    },
    setInProgress(name, inProgress) {
      const reg = byName.get(name);
      if (!reg) throw new Error(`no target ${name}`);
      if (!["render", "railway", "fly", "heroku"].includes(reg.kind)) {
        throw new Error(`${reg.kind} has no deploy-status read to report it`);
      }
      reg.inProgress = inProgress;
    },
    onRedeploy(name, callback) {
      const set = listeners.get(name) ?? new Set();
      set.add(callback);
      listeners.set(name, set);
      return () => set.delete(callback);
    },
    callbackErrors: () => [...errors],
    async close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      for (const h of held.splice(0)) h.go();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}

// CLI: run the fake on its own (the local sandbox).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const fake = await startFakePlatforms({ port: values.port === undefined ? 0 : Number(values.port) });
  process.stdout.write(`${fake.baseUrl}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
