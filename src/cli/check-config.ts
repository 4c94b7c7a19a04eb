/**
 * `npm run check:config`: runs the Worker's own configuration parser against wrangler.toml,
 * .dev.vars and the environment, then the rules a configuration that parses can still break
 * (src/config/audit.ts). Exit 0 when valid (warnings printed), 2 with every problem listed (by key,
 * never with a value) when not.
 */
import { TIER_LIMITS } from "../atlas/tiers.ts";
import { auditConfig } from "../config/audit.ts";
import { type Config, parseConfig } from "../config/schema.ts";
import { type ConfigProblem, isConfigError } from "../errors.ts";
import { parseCliArgs, runMain } from "./args.ts";

export const USAGE = `usage: npm run check:config

  Checks wrangler.toml [vars], .dev.vars and the environment (later ones win), as the Worker and
  the other tools read them. Exit 0 valid (warnings listed), 2 with every problem listed.

  --help  this text`;

export const KNOWN_TIERS: readonly string[] = TIER_LIMITS.map((t) => t.tier);

/**
 * The configuration's problems: every parse problem, else every refusal of the audit; and the
 * audit's warnings. `config` is set when it parses (the Worker would run on it).
 */
export function configProblems(env: Record<string, unknown>): {
  config: Config | null;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
} {
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    return { config: null, errors: [...error.problems], warnings: [] };
  }
  return { config, ...auditConfig(env, config, { knownTiers: KNOWN_TIERS }) };
}

/** Prints problems as check:config does; returns nothing. */
export function reportProblems(
  errors: readonly ConfigProblem[],
  warnings: readonly ConfigProblem[],
  err: (line: string) => void,
): void {
  if (errors.length > 0) {
    err(`Configuration has ${errors.length} problem${errors.length === 1 ? "" : "s"}:`);
    for (const problem of errors) err(`  ${problem.key}: ${problem.message}`);
  }
  if (warnings.length > 0) {
    err(`${warnings.length} warning${warnings.length === 1 ? "" : "s"}:`);
    for (const problem of warnings) err(`  warning: ${problem.key}: ${problem.message}`);
  }
}

/** Checks the configuration and returns the exit code; writes a report to `out`/`err`. */
export function checkConfig(
  env: Record<string, unknown>,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  const { config, errors, warnings } = configProblems(env);
  if (errors.length > 0 || !config) {
    reportProblems(errors, warnings, err);
    return 2;
  }
  out("Configuration is valid.");
  out(`  mode:     ${config.mode}`);
  out(
    `  atlas:    ${config.atlas.auth ? config.atlas.auth.kind : "no Admin API credentials (alert values only)"}`,
  );
  out(`  mongodb:  ${config.mongodbUri ? "MONGODB_URI set" : "no MONGODB_URI (no direct stats)"}`);
  out(`  slack:    ${config.slack.kind === "none" ? "not configured" : config.slack.kind}`);
  out(
    `  admin:    ${config.adminToken ? "ADMIN_TOKEN set" : "no ADMIN_TOKEN: /trigger, /incidents and the dashboard refuse everyone"}`,
  );
  out(`  targets:  ${config.targets.map((t) => `${t.name} (${t.kind})`).join(", ") || "none"}`);
  out(`  clusters: ${config.clusters.map((c) => c.name).join(", ") || "none listed"}`);
  for (const problem of warnings) out(`warning: ${problem.key}: ${problem.message}`);
  return 0;
}

if (import.meta.main) {
  await runMain(
    "check:config",
    ({ env, files }) => {
      const io = { out: console.log, err: console.error };
      const args = parseCliArgs(process.argv.slice(2), {}, USAGE, io);
      if (!args.ok) return args.code;
      console.log(`Reading ${[...files, "the environment"].join(", ")}.`);
      return checkConfig(env, console.log, console.error);
    },
    undefined,
    USAGE,
  );
}
