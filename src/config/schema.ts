/**
 * The one place configuration is read: a zod schema over the Worker's `env` (or `process.env` plus
 * `.dev.vars` for the Node tools) that yields a typed `Config`.
 *
 * Structured entries (`POLICY`, `TARGETS`, `CLUSTERS`) arrive either as TOML tables (already
 * objects) or as JSON strings (e.g. `wrangler dev --var TARGETS:'[…]'`); both are accepted.
 * Every problem is reported by key — `TARGETS[0].kind` — and never with the value, because most of
 * these values are secrets. Parsing reports all problems at once so one run of
 * `npm run check:config` lists everything to fix.
 */
import * as z from "zod";
import { MIN_ADMIN_TOKEN_LENGTH } from "../constants.ts";
import { ConfigError, type ConfigProblem } from "../errors.ts";
import { cleartextRefusal } from "../outbound/delivery.ts";
import { secretName } from "../platforms/target-base.ts";
import { type Target, targetSchema } from "../platforms/targets.ts";

export const RESPONDER_MODES = ["auto", "approve", "notify", "dry-run"] as const;
export type ResponderMode = (typeof RESPONDER_MODES)[number];

const policySchema = z
  .object({
    /** Act when connections reach this share of the limit. */
    actAtPercent: z.number().gt(0).max(100).default(80),
    /** Minimum minutes between two actions on the same target. */
    cooldownMinutes: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(15),
    /** Redeploys of one target within one incident. */
    maxRedeploysPerIncident: z.number().int().min(0).max(10).default(2),
    /** Actions of any kind across all incidents in a rolling hour: the circuit breaker. */
    maxActionsPerHour: z.number().int().min(0).max(100).default(6),
    /** When to re-read stats after acting, in seconds, one check per entry. */
    verifyAfterSeconds: z
      .array(
        z
          .number()
          .int()
          .min(1)
          .max(6 * 3600),
      )
      .min(1)
      .max(5)
      .default([180, 600]),
    /** Warn ahead of Atlas when the trend reaches the limit within this many minutes (cron watch). */
    watchEtaMinutes: z
      .number()
      .min(1)
      .max(24 * 60)
      .default(30),
  })
  .strict();
export type Policy = z.infer<typeof policySchema>;

// Each platform's target schema sits beside its adapter in src/platforms/.
export { TARGET_KINDS, type Target, type TargetKind } from "../platforms/targets.ts";

const clusterSchema = z
  .object({
    groupId: z.string().regex(/^[0-9a-f]{24}$/i, "must be a 24-character hex Atlas project id"),
    name: z.string().min(1).max(64),
    /** Tier hint ("M0", "FLEX", "M10", …) for when the Admin API is not configured. */
    tier: z
      .string()
      .regex(/^(M\d+|FLEX|SERVERLESS)$/i, "must be a tier such as M0, FLEX or M10")
      .optional(),
    /** Name of the secret holding this cluster's connection string (default: MONGODB_URI). */
    uriSecret: secretName.optional(),
    /** This cluster's mode, overriding RESPONDER_MODE (e.g. `auto` for staging, `approve` for production). */
    mode: z.enum(RESPONDER_MODES).optional(),
  })
  .strict();
export type ClusterConfig = z.infer<typeof clusterSchema>;

/** Admin API credentials: a service account (OAuth client credentials) or a legacy API key (Digest). */
export type AtlasAuth =
  | { kind: "service-account"; clientId: string; clientSecret: string }
  | { kind: "api-key"; publicKey: string; privateKey: string };

export type SlackConfig =
  | {
      kind: "bot";
      token: string;
      channel: string;
      signingSecret?: string;
      approvers: string[];
      apiBaseUrl: string;
    }
  | { kind: "webhook"; url: string; signingSecret?: string; approvers: string[] }
  | { kind: "none"; signingSecret?: string; approvers: string[] };

export interface Config {
  webhookSecret: string;
  /**
   * ATLAS_WEBHOOK_SECRET_PREVIOUS and SLACK_SIGNING_SECRET_PREVIOUS: accepted beside the current
   * secrets while set, so a rotation needs no downtime (SECURITY.md). Unset outside a rotation.
   */
  previousSecrets: { atlasWebhook?: string; slackSigning?: string };
  adminToken: string | undefined;
  mode: ResponderMode;
  atlas: { baseUrl: string; auth: AtlasAuth | undefined };
  mongodbUri: string | undefined;
  slack: SlackConfig;
  policy: Policy;
  targets: Target[];
  clusters: ClusterConfig[];
  /** PUBLIC_URL: the Worker's public base URL (no trailing slash), for links to dashboard pages. */
  publicUrl?: string;
  /**
   * NOTIFY_WEBHOOK_URL (a secret) and NOTIFY_FORMAT: one signed POST per change of incident state
   * (src/notify/). Absent when NOTIFY_WEBHOOK_URL is not set.
   */
  notify?: NotifyConfig;
  /** Every secret value in the configuration, so log and message writers can scrub them. */
  secrets: string[];
  /**
   * Whether anything can approve an action: a Slack bot with a signing secret (its buttons), or
   * ADMIN_TOKEN (the dashboard and the API). In approve mode without either, the core escalates.
   */
  canApprove: boolean;
  /**
   * The connection string for a cluster: its `CLUSTERS[].uriSecret`, else `MONGODB_URI` — but only
   * when `CLUSTERS` lists the cluster or lists nothing, so one cluster's URI never measures another.
   */
  mongoUriFor(groupId: string | null, cluster: string): string | undefined;
  /** The mode for one cluster: its `CLUSTERS[].mode`, else `RESPONDER_MODE`. */
  modeFor(groupId: string, cluster: string): ResponderMode;
  /**
   * The `CLUSTERS` entry for a cluster, or undefined when `CLUSTERS` does not list it. The project id
   * is compared without regard to case, the name exactly; a null `groupId` matches any project.
   */
  cluster(groupId: string | null, name: string): ClusterConfig | undefined;
  /** Every `CLUSTERS` entry `cluster()` could match, where a null `groupId` or `name` matches any. */
  clustersMatching(groupId: string | null, name: string | null): ClusterConfig[];
  /** Look up a secret named by `TARGETS[].secret` or `CLUSTERS[].uriSecret` (validated to exist). */
  secret(name: string): string;
}

export const NOTIFY_FORMATS = ["json", "discord"] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];
export interface NotifyConfig {
  url: string;
  format: NotifyFormat;
}

type Env = Readonly<Record<string, unknown>>;

/**
 * What the caller needs: `all` (the Worker, check:config, fix:connections) requires everything the
 * Worker requires; `stats` (monitor:connections) only what reading a cluster's connections uses —
 * no webhook secret, and TARGETS' secrets need not be set (`secret()` then knows none of them).
 */
export interface ParseOptions {
  need?: "all" | "stats";
}

const httpsUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/** PUBLIC_URL: https, or plain http on a loopback host (a local `wrangler dev`). */
const publicUrlSchema = z.string().refine((raw) => {
  try {
    const { protocol, hostname } = new URL(raw);
    return (
      protocol === "https:" ||
      (protocol === "http:" && /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(hostname))
    );
  } catch {
    return false;
  }
}, "must be an https URL (http only on localhost)");

/** Marks an entry already reported as unparseable, so it is not reported twice. */
const UNPARSEABLE = Symbol("unparseable");

/** Reads an entry that may be an object (TOML) or a JSON string. */
function structured(env: Env, key: string, problems: ConfigProblem[]): unknown {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    problems.push({ key, message: "is not valid JSON" });
    return UNPARSEABLE;
  }
}

function optionalString(env: Env, key: string, problems: ConfigProblem[]): string | undefined {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string") {
    problems.push({ key, message: "must be a string" });
    return undefined;
  }
  return raw;
}

/** Turns zod issues into key-named problems. zod's own messages never include the input value. */
function collect(key: string, error: z.ZodError, problems: ConfigProblem[]): void {
  for (const issue of error.issues) {
    const path = issue.path
      .map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`))
      .join("");
    problems.push({ key: `${key}${path}`, message: issue.message });
  }
}

function parseWith<T>(
  schema: z.ZodType<T>,
  key: string,
  value: unknown,
  problems: ConfigProblem[],
): T | undefined {
  if (value === UNPARSEABLE) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  collect(key, result.error, problems);
  return undefined;
}

/** Requires both or neither of a pair of entries. */
function pair(env: Env, a: string, b: string, problems: ConfigProblem[]): [string, string] | undefined {
  const first = optionalString(env, a, problems);
  const second = optionalString(env, b, problems);
  if (first && second) return [first, second];
  if (first) problems.push({ key: b, message: `is required when ${a} is set` });
  if (second) problems.push({ key: a, message: `is required when ${b} is set` });
  return undefined;
}

/**
 * Parses the environment into a typed `Config`, or throws `ConfigError` listing every problem.
 * `env` is the Worker's env object or, in Node, `process.env` merged with `.dev.vars`.
 */
export function parseConfig(env: Env, options: ParseOptions = {}): Config {
  const needAll = (options.need ?? "all") === "all";
  const problems: ConfigProblem[] = [];
  const secrets: string[] = [];
  const keep = <T extends string | undefined>(value: T): T => {
    if (value) secrets.push(value);
    return value;
  };

  const webhookSecret = keep(optionalString(env, "ATLAS_WEBHOOK_SECRET", problems));
  if (!webhookSecret && needAll) problems.push({ key: "ATLAS_WEBHOOK_SECRET", message: "is required" });

  const previousSecrets = {
    atlasWebhook: keep(optionalString(env, "ATLAS_WEBHOOK_SECRET_PREVIOUS", problems)),
    slackSigning: keep(optionalString(env, "SLACK_SIGNING_SECRET_PREVIOUS", problems)),
  };

  const adminToken = keep(optionalString(env, "ADMIN_TOKEN", problems));
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    problems.push({ key: "ADMIN_TOKEN", message: `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters` });
  }

  const mode =
    parseWith(
      z.enum(RESPONDER_MODES).default("approve"),
      "RESPONDER_MODE",
      env.RESPONDER_MODE || undefined,
      problems,
    ) ?? "approve";

  const atlasBaseUrl =
    parseWith(
      httpsUrl.default("https://cloud.mongodb.com"),
      "ATLAS_API_BASE_URL",
      env.ATLAS_API_BASE_URL || undefined,
      problems,
    ) ?? "https://cloud.mongodb.com";
  const serviceAccount = pair(env, "ATLAS_CLIENT_ID", "ATLAS_CLIENT_SECRET", problems);
  const apiKey = pair(env, "ATLAS_PUBLIC_KEY", "ATLAS_PRIVATE_KEY", problems);
  let auth: AtlasAuth | undefined;
  if (serviceAccount) {
    keep(serviceAccount[1]);
    auth = { kind: "service-account", clientId: serviceAccount[0], clientSecret: serviceAccount[1] };
  } else if (apiKey) {
    keep(apiKey[1]);
    auth = { kind: "api-key", publicKey: apiKey[0], privateKey: apiKey[1] };
  }

  const mongodbUri = keep(optionalString(env, "MONGODB_URI", problems));
  if (mongodbUri !== undefined && !isMongoUri(mongodbUri)) {
    problems.push({
      key: "MONGODB_URI",
      message: "must be a mongodb:// or mongodb+srv:// connection string",
    });
  }

  const slack = parseSlack(env, problems, keep);
  const publicUrl = parseWith(
    publicUrlSchema.optional(),
    "PUBLIC_URL",
    env.PUBLIC_URL || undefined,
    problems,
  )?.replace(/\/+$/, "");

  const notify = parseNotify(env, problems, keep);

  const policy =
    parseWith(
      policySchema.default(policySchema.parse({})),
      "POLICY",
      structured(env, "POLICY", problems),
      problems,
    ) ?? policySchema.parse({});
  const targets =
    parseWith(z.array(targetSchema).default([]), "TARGETS", structured(env, "TARGETS", problems), problems) ??
    [];
  const clusters =
    parseWith(
      z.array(clusterSchema).default([]),
      "CLUSTERS",
      structured(env, "CLUSTERS", problems),
      problems,
    ) ?? [];

  checkUnique(
    targets.map((t) => t.name),
    "TARGETS",
    "name",
    problems,
  );
  checkUnique(
    clusters.map((c) => `${c.groupId}/${c.name}`),
    "CLUSTERS",
    "groupId + name",
    problems,
  );

  // Secrets named by targets and clusters must exist; their values join the scrub list.
  const named = new Map<string, string>();
  const requireNamed = (name: string, key: string) => {
    const value = optionalString(env, name, problems);
    if (value === undefined) problems.push({ key, message: `names secret ${name}, which is not set` });
    else named.set(name, keep(value));
  };
  targets.forEach((target, i) => {
    if (!needAll) return;
    requireNamed(target.secret, `TARGETS[${i}].secret`);
    if (target.kind === "webhook" && target.signingSecret) {
      requireNamed(target.signingSecret, `TARGETS[${i}].signingSecret`);
    }
  });
  clusters.forEach((cluster, i) => {
    if (!cluster.uriSecret) return;
    requireNamed(cluster.uriSecret, `CLUSTERS[${i}].uriSecret`);
    const uri = named.get(cluster.uriSecret);
    if (uri !== undefined && !isMongoUri(uri)) {
      problems.push({
        key: cluster.uriSecret,
        message: "must be a mongodb:// or mongodb+srv:// connection string",
      });
    }
  });

  if (problems.length > 0) throw new ConfigError(problems);

  // The one rule for finding a cluster in CLUSTERS; every lookup below goes through it.
  const matching = (groupId: string | null, name: string | null): ClusterConfig[] =>
    clusters.filter(
      (c) =>
        (groupId === null || c.groupId.toLowerCase() === groupId.toLowerCase()) &&
        (name === null || c.name === name),
    );
  const lookup = (groupId: string | null, name: string): ClusterConfig | undefined =>
    matching(groupId, name)[0];

  return {
    webhookSecret: webhookSecret ?? "",
    previousSecrets,
    adminToken,
    mode,
    atlas: { baseUrl: atlasBaseUrl.replace(/\/+$/, ""), auth },
    mongodbUri,
    slack,
    ...(publicUrl ? { publicUrl } : {}),
    ...(notify ? { notify } : {}),
    policy,
    targets,
    clusters,
    secrets,
    canApprove: Boolean(adminToken) || (slack.kind === "bot" && Boolean(slack.signingSecret)),
    mongoUriFor(groupId, cluster) {
      if (clusters.length === 0) return mongodbUri;
      const entry = lookup(groupId, cluster);
      if (!entry) return undefined;
      return entry.uriSecret ? named.get(entry.uriSecret) : mongodbUri;
    },
    modeFor(groupId, cluster) {
      return lookup(groupId, cluster)?.mode ?? mode;
    },
    cluster: lookup,
    clustersMatching: matching,
    secret(name) {
      const value = named.get(name);
      if (value === undefined) throw new Error(`secret ${name} is not part of the configuration`);
      return value;
    },
  };
}

function parseSlack(
  env: Env,
  problems: ConfigProblem[],
  keep: (v: string | undefined) => string | undefined,
): SlackConfig {
  const signingSecret = keep(optionalString(env, "SLACK_SIGNING_SECRET", problems));
  const approversRaw = optionalString(env, "SLACK_APPROVERS", problems) ?? "";
  const approvers = approversRaw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of approvers) {
    if (!/^[UW][A-Z0-9]{2,}$/.test(id)) {
      problems.push({
        key: "SLACK_APPROVERS",
        message: "must be a comma-separated list of Slack user ids (U…/W…)",
      });
      break;
    }
  }
  const apiBaseUrl =
    parseWith(
      httpsUrl.default("https://slack.com/api"),
      "SLACK_API_BASE_URL",
      env.SLACK_API_BASE_URL || undefined,
      problems,
    ) ?? "https://slack.com/api";
  const bot = pair(env, "SLACK_BOT_TOKEN", "SLACK_CHANNEL", problems);
  const webhookUrl = keep(optionalString(env, "SLACK_WEBHOOK_URL", problems));
  if (bot) {
    keep(bot[0]);
    return {
      kind: "bot",
      token: bot[0],
      channel: bot[1],
      signingSecret,
      approvers,
      apiBaseUrl: apiBaseUrl.replace(/\/+$/, ""),
    };
  }
  if (webhookUrl) {
    if (!httpsUrl.safeParse(webhookUrl).success)
      problems.push({ key: "SLACK_WEBHOOK_URL", message: "must be an http(s) URL" });
    return { kind: "webhook", url: webhookUrl, signingSecret, approvers };
  }
  return { kind: "none", signingSecret, approvers };
}

/** NOTIFY_WEBHOOK_URL must be https (plain http only to loopback): it is a secret, and so is what it carries. */
function parseNotify(
  env: Env,
  problems: ConfigProblem[],
  keep: (v: string | undefined) => string | undefined,
): NotifyConfig | undefined {
  const format =
    parseWith(
      z.enum(NOTIFY_FORMATS).default("json"),
      "NOTIFY_FORMAT",
      env.NOTIFY_FORMAT || undefined,
      problems,
    ) ?? "json";
  const url = keep(optionalString(env, "NOTIFY_WEBHOOK_URL", problems));
  if (url === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
    problems.push({ key: "NOTIFY_WEBHOOK_URL", message: "must be an http(s) URL" });
    return undefined;
  }
  const refusal = cleartextRefusal(parsed);
  if (refusal) {
    problems.push({ key: "NOTIFY_WEBHOOK_URL", message: "must be https (plain http only to localhost)" });
    return undefined;
  }
  return { url, format };
}

function isMongoUri(value: string): boolean {
  return /^mongodb(\+srv)?:\/\/[^/?#\s]+/.test(value);
}

function checkUnique(values: string[], key: string, what: string, problems: ConfigProblem[]): void {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (seen.has(value))
      problems.push({ key: `${key}[${i}]`, message: `duplicates the ${what} of an earlier entry` });
    seen.add(value);
  });
}
