/**
 * `npm run check:config`: runs the Worker's own configuration parser against wrangler.toml,
 * .dev.vars and the environment. Exit 0 when valid, 2 with every problem listed (by key, never
 * with a value) when not.
 */
import { parseConfig } from "../config/schema.ts";
import { isConfigError } from "../errors.ts";
import { loadEnvironment } from "./environment.ts";

/** Checks the configuration and returns the exit code; writes a report to `out`/`err`. */
export function checkConfig(
  env: Record<string, unknown>,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  try {
    const config = parseConfig(env);
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
    return 0;
  } catch (error) {
    if (!isConfigError(error)) throw error;
    err(`Configuration has ${error.problems.length} problem${error.problems.length === 1 ? "" : "s"}:`);
    for (const problem of error.problems) err(`  ${problem.key}: ${problem.message}`);
    return 2;
  }
}

if (import.meta.main) {
  const { env, files } = loadEnvironment();
  console.log(`Reading ${[...files, "the environment"].join(", ")}.`);
  process.exitCode = checkConfig(env, console.log, console.error);
}
