/**
 * `npm run fix:connections -- [--cluster NAME] [--dry-run] [--yes] [--worker URL]`
 *
 * Measures a cluster, prints the plan the responder's policy makes, asks, acts, waits for
 * verification and prints before → after — the Worker's own incident core, run in Node
 * (./fix-local.ts), or the deployed Worker itself with `--worker` (./fix-worker.ts) so cooldowns and
 * the hourly budget are shared. Without a TTY it acts only with `--yes`.
 * Exit 0 resolved or nothing to do, 1 the action failed or the count did not come down, 2 usage or
 * configuration error. Never a stack trace.
 */
import { type ClusterConfig, type Config, parseConfig } from "../config/schema.ts";
import { isConfigError } from "../errors.ts";
import { parseCliArgs, runMain, usageError } from "./args.ts";
import { fixLocal } from "./fix-local.ts";
import { createTerminal, type Terminal } from "./fix-terminal.ts";
import { fixThroughWorker } from "./fix-worker.ts";
import { StateFileError } from "./local-state.ts";

export const USAGE = `usage: npm run fix:connections -- [--cluster NAME] [--dry-run] [--yes] [--worker URL]

  --cluster NAME  the cluster to fix (optional when CLUSTERS lists exactly one)
  --dry-run       print the plan and every call it would make; send nothing
  --yes           act without asking (required when stdin is not a terminal)
  --worker URL    run through the deployed Worker (POST /trigger, Bearer ADMIN_TOKEN)
  --help          this text`;

export async function fixConnections(
  argv: string[],
  env: Record<string, unknown>,
  term: Terminal,
): Promise<number> {
  const args = parseCliArgs<{ cluster?: string; "dry-run"?: boolean; yes?: boolean; worker?: string }>(
    argv,
    {
      cluster: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      yes: { type: "boolean", short: "y", default: false },
      worker: { type: "string" },
    },
    USAGE,
    term,
  );
  if (!args.ok) return args.code;
  const values = args.values;
  const usage = (message: string) => usageError(message, USAGE, term);
  let worker: URL | null = null;
  if (values.worker !== undefined) {
    try {
      worker = new URL(values.worker);
      if (!/^https?:$/.test(worker.protocol)) throw new Error("not http");
    } catch {
      return usage("--worker must be an http(s) URL");
    }
  }
  const dryRun = Boolean(values["dry-run"]);
  const yes = Boolean(values.yes);
  if (!dryRun && !yes && !term.interactive) {
    return usage(
      "stdin is not a terminal, so nobody can be asked: pass --yes to act, or --dry-run to see the plan",
    );
  }

  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    term.err(`Configuration has ${error.problems.length} problem${error.problems.length === 1 ? "" : "s"}:`);
    for (const problem of error.problems) term.err(`  ${problem.key}: ${problem.message}`);
    return 2;
  }
  const cluster = pickCluster(config, values.cluster);
  if (typeof cluster === "string") return usage(cluster);

  const options = { cluster, dryRun, yes };
  try {
    return worker
      ? await fixThroughWorker({ ...options, worker }, config, term)
      : await fixLocal(options, config, env, term);
  } catch (error) {
    if (error instanceof StateFileError) {
      term.err(error.message);
      return 2;
    }
    throw error;
  }
}

/** The CLUSTERS entry to fix, or why none can be chosen. */
function pickCluster(config: Config, name: string | undefined): ClusterConfig | string {
  const names = config.clusters.map((c) => c.name).join(", ");
  if (config.clusters.length === 0) {
    return "CLUSTERS lists no cluster: add {groupId, name} for the cluster to fix";
  }
  if (name === undefined) {
    if (config.clusters.length === 1) return config.clusters[0]!;
    return `--cluster is required: CLUSTERS lists ${names}`;
  }
  const matches = config.clustersMatching(null, name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) return `CLUSTERS lists no cluster ${name} (it lists ${names})`;
  return `CLUSTERS lists ${name} in ${matches.length} projects; keep one entry per name to fix it here`;
}

if (import.meta.main) {
  await runMain(
    "fix:connections",
    (loaded) => fixConnections(process.argv.slice(2), loaded.env, createTerminal(loaded.env)),
    (env) => parseConfig(env).secrets,
    USAGE,
  );
}
