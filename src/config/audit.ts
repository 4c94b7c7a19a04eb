/**
 * What `check:config` refuses or warns about beyond what `parseConfig` requires: rules about a
 * configuration that parses (so the deployed Worker keeps running on it) but cannot work as meant.
 * Pure: (environment, parsed config) → problems, each naming a key, never a value.
 *
 * Errors: approve mode with nothing that can approve; a deploy-hook secret that is not a URL; a
 * value left from `.dev.vars.example`; SLACK_SIGNING_SECRET_PREVIOUS without SLACK_SIGNING_SECRET.
 * Warnings: a target naming a cluster CLUSTERS does not list; an unknown tier; no CLUSTERS entry the
 * cron watch can read; a `_PREVIOUS` secret still set (a rotation to finish) or equal to the current.
 */
import type { ConfigProblem } from "../errors.ts";
import type { Config } from "./schema.ts";

export interface ConfigAudit {
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

export interface AuditOptions {
  /** Tiers the responder knows limits for (src/atlas/tiers.ts); config does not import atlas. */
  knownTiers: readonly string[];
}

/**
 * The placeholder values `.dev.vars.example` ships with, exact, plus the patterns its elided values
 * follow (`replace-with-…`, anything with `...` or `…`). The spec over the example file keeps this
 * list in step with it.
 */
export const EXAMPLE_PLACEHOLDERS = {
  exact: [
    "replace-me",
    "replace-with-the-atlas-webhook-secret",
    "replace-with-a-long-random-token",
    "abcdefgh",
    "00000000-0000-0000-0000-000000000000",
    "C0123456789",
    "U0123ABCD,U0456EFGH",
    "mongodb+srv://monitor:password@cluster0.xxxxx.mongodb.net/?appName=atlas-responder",
  ],
  patterns: [/^replace-/i, /\.\.\./, /…/],
} as const;

/** Whether a value is one of `.dev.vars.example`'s placeholders rather than a real value. */
export function isPlaceholder(value: string): boolean {
  const trimmed = value.trim();
  return (
    (EXAMPLE_PLACEHOLDERS.exact as readonly string[]).includes(trimmed) ||
    EXAMPLE_PLACEHOLDERS.patterns.some((pattern) => pattern.test(trimmed))
  );
}

/** The entries whose values are checked against the placeholders (TARGETS/CLUSTERS secrets join them). */
const PLAIN_KEYS = [
  "ATLAS_WEBHOOK_SECRET",
  "ADMIN_TOKEN",
  "ATLAS_CLIENT_ID",
  "ATLAS_CLIENT_SECRET",
  "ATLAS_PUBLIC_KEY",
  "ATLAS_PRIVATE_KEY",
  "MONGODB_URI",
  "SLACK_BOT_TOKEN",
  "SLACK_CHANNEL",
  "SLACK_WEBHOOK_URL",
  "SLACK_SIGNING_SECRET",
  "SLACK_APPROVERS",
  "ATLAS_WEBHOOK_SECRET_PREVIOUS",
  "SLACK_SIGNING_SECRET_PREVIOUS",
] as const;

/** The secrets a rotation keeps accepting for a while: `[previous, current]` entry names. */
const ROTATED = [
  ["ATLAS_WEBHOOK_SECRET_PREVIOUS", "ATLAS_WEBHOOK_SECRET"],
  ["SLACK_SIGNING_SECRET_PREVIOUS", "SLACK_SIGNING_SECRET"],
] as const;

export const NOTHING_CAN_APPROVE =
  "is approve, but nothing can approve: set SLACK_BOT_TOKEN, SLACK_CHANNEL and SLACK_SIGNING_SECRET (Slack buttons), or ADMIN_TOKEN (the dashboard)";

/** A deploy hook URL: https, or plain http only to a loopback host (a local fake). */
export function isHookUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(url.hostname);
}

/** The configuration's refusals and warnings; `config` is `parseConfig(env)`'s result. */
export function auditConfig(
  env: Readonly<Record<string, unknown>>,
  config: Config,
  options: AuditOptions,
): ConfigAudit {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];

  // Approve mode needs someone who can approve.
  if (!config.canApprove) {
    if (config.mode === "approve") {
      errors.push({
        key: "RESPONDER_MODE",
        message: `${env.RESPONDER_MODE ? "" : "(default) "}${NOTHING_CAN_APPROVE}`,
      });
    }
    config.clusters.forEach((cluster, i) => {
      if (cluster.mode === "approve")
        errors.push({ key: `CLUSTERS[${i}].mode`, message: NOTHING_CAN_APPROVE });
    });
  }

  // Kinds whose secret is the hook URL itself.
  config.targets.forEach((target, i) => {
    const urlSecret =
      target.kind === "vercel" ||
      target.kind === "netlify" ||
      target.kind === "webhook" ||
      (target.kind === "render" && !target.serviceId);
    if (!urlSecret) return;
    const value = env[target.secret];
    if (typeof value === "string" && !isHookUrl(value)) {
      errors.push({
        key: target.secret,
        message: `(TARGETS[${i}].secret, ${target.kind}) must be the deploy hook URL: https, or http only to localhost`,
      });
    }
  });

  // Values still as `.dev.vars.example` ships them.
  const keys = new Set<string>(PLAIN_KEYS);
  for (const target of config.targets) {
    keys.add(target.secret);
    if (target.kind === "webhook" && target.signingSecret) keys.add(target.signingSecret);
  }
  for (const cluster of config.clusters) if (cluster.uriSecret) keys.add(cluster.uriSecret);
  for (const key of keys) {
    const value = env[key];
    if (typeof value === "string" && value && isPlaceholder(value)) {
      errors.push({ key, message: "still holds the placeholder from .dev.vars.example" });
    }
  }

  // A previous secret is only ever a second key beside a current one, and only for a while.
  for (const [previous, current] of ROTATED) {
    const old = env[previous];
    if (typeof old !== "string" || old === "") continue;
    const now = env[current];
    if (typeof now !== "string" || now === "") {
      errors.push({ key: previous, message: `is set without ${current}: put the new secret in ${current}` });
    } else if (now === old) {
      warnings.push({ key: previous, message: `equals ${current}, so it rotates nothing` });
    } else {
      warnings.push({
        key: previous,
        message: `is still accepted beside ${current}: remove it once every sender uses the new secret`,
      });
    }
  }

  // Targets naming clusters CLUSTERS does not list never match an alert.
  if (config.clusters.length > 0) {
    const listed = new Set(config.clusters.map((c) => c.name));
    config.targets.forEach((target, i) => {
      target.clusters.forEach((name, j) => {
        if (!listed.has(name)) {
          warnings.push({
            key: `TARGETS[${i}].clusters[${j}]`,
            message: "names a cluster no CLUSTERS entry names",
          });
        }
      });
    });
  }

  const known = new Set(options.knownTiers.map((t) => t.toUpperCase()));
  config.clusters.forEach((cluster, i) => {
    if (cluster.tier && !known.has(cluster.tier.toUpperCase())) {
      warnings.push({
        key: `CLUSTERS[${i}].tier`,
        message: "is not a tier the responder knows the connection limit of",
      });
    }
  });

  // The cron watch samples only CLUSTERS entries it can read.
  const watchable = config.clusters.filter(
    (c) => config.atlas.auth !== undefined || config.mongoUriFor(c.groupId, c.name) !== undefined,
  );
  if (watchable.length === 0) {
    warnings.push({
      key: "CLUSTERS",
      message:
        config.clusters.length === 0
          ? "lists no cluster, so the cron watch samples nothing and the charts stay empty"
          : "no entry can be read (no connection string, no Atlas Admin API credentials), so the cron watch samples nothing and the charts stay empty",
    });
  }

  return { errors, warnings };
}
