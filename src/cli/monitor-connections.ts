/**
 * `npm run monitor:connections -- [--cluster NAME] [--group ID] [--interval SECONDS] [--once] [--json]`
 *
 * Reads a cluster's connections the way the Worker does (direct MongoDB and the Admin API, from
 * .dev.vars and the environment) and shows current / limit / %, the trend and time to the limit,
 * the per-app breakdown where the tier allows, and a sparkline. `--once --json` prints one JSON
 * document (the shape is part of the contract) and exits. Exit 0 done, 1 no source answered,
 * 2 usage or configuration error. Needs only what it reads: CLUSTERS, MONGODB_URI (or a cluster's
 * uriSecret) and Atlas Admin API credentials — no webhook secret, no admin token, no target secrets.
 * ANSI escapes only on a terminal without NO_COLOR.
 */
import { createAtlasAdminClientFor } from "../atlas/admin-client.ts";
import { type Config, parseConfig } from "../config/schema.ts";
import { isConfigError } from "../errors.ts";
import { readAll } from "../incident/measure.ts";
import { createNodeFetch } from "../outbound/node-fetch.ts";
import { type Assessment, assess } from "../stats/assess.ts";
import { createStatsSourceFactory } from "../stats/sources.ts";
import type { SeriesPoint, StatsReading } from "../stats/types.ts";
import { type Io, parseCliArgs, runMain, usageError } from "./args.ts";

export const USAGE = `usage: npm run monitor:connections -- [--cluster NAME] [--group ID] [--interval SECONDS] [--once] [--json]

  --cluster NAME      the cluster to read (optional when CLUSTERS lists exactly one)
  --group ID          its Atlas project id (optional when CLUSTERS names it)
  --interval SECONDS  seconds between readings, 1-3600 (default 10)
  --once              one reading, then exit (0 read, 1 no source answered)
  --json              print the reading as one JSON document
  --help              this text`;

const OPTIONS = {
  cluster: { type: "string" },
  group: { type: "string" },
  interval: { type: "string", default: "10" },
  once: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;
const SPARKS = "▁▂▃▄▅▆▇█";

/** The `--json` document: DESIGN §6's shape. */
export function monitorDocument(cluster: string, a: Assessment) {
  return {
    cluster,
    tier: a.tier,
    current: a.current,
    limit: a.limit,
    percent: a.percent,
    byApp: a.byApp.map((app) => ({ app: app.app, env: app.env, connections: app.connections })),
    sources: a.sources.map((s) => ({ name: s.name, ok: s.ok, error: s.error })),
  };
}

/** A one-line sparkline of the values, scaled between their min and max. */
export function sparkline(values: readonly number[], width = 40): string {
  const tail = values.slice(-width);
  if (tail.length === 0) return "";
  const min = Math.min(...tail);
  const max = Math.max(...tail);
  return tail
    .map((v) => SPARKS[max === min ? 3 : Math.round(((v - min) / (max - min)) * (SPARKS.length - 1))])
    .join("");
}

/** The live view's screen for one assessment. */
export function renderScreen(cluster: string, a: Assessment, now: Date): string {
  const pct = a.percent === null ? "?" : `${a.percent.toFixed(1)} %`;
  const barWidth = 30;
  const filled = a.percent === null ? 0 : Math.min(barWidth, Math.round((a.percent / 100) * barWidth));
  const lines = [
    `atlas-responder · ${cluster}${a.tier ? ` (${a.tier})` : ""} · ${now.toLocaleTimeString()}`,
    "",
    `connections  ${a.current ?? "?"} / ${a.limit ?? "?"}  ${pct}${missing(a)}`,
    `             [${"#".repeat(filled)}${".".repeat(barWidth - filled)}]`,
    `trend        ${a.trendPerMinute === null ? "—" : `${a.trendPerMinute > 0 ? "+" : ""}${a.trendPerMinute}/min`}${
      a.minutesToLimit === null ? "" : `  · limit in ~${a.minutesToLimit} min`
    }`,
    `last hour    ${sparkline(a.series.map((p) => p.value)) || "—"}`,
    "",
  ];
  if (a.byApp.length > 0) {
    lines.push("app                              env          connections");
    for (const app of a.byApp.slice(0, 15)) {
      lines.push(
        `${app.app.slice(0, 32).padEnd(33)}${(app.env ?? "—").padEnd(13)}${String(app.connections).padStart(11)}`,
      );
    }
  } else {
    lines.push("per-app breakdown: not available on this tier (or no direct connection configured)");
  }
  lines.push(
    "",
    ...a.sources.map((s) => `source ${s.name.padEnd(12)} ${s.ok ? "ok" : `failed: ${s.error}`}`),
  );
  return lines.join("\n");
}

/** Why the count or the limit is missing: the failed sources' reasons, or that none was asked. */
function missing(a: Assessment): string {
  if (a.current !== null && a.limit !== null) return "";
  const failed = a.sources.filter((s) => !s.ok);
  const what = a.current === null ? "no count" : "no limit";
  if (failed.length === 0) {
    return a.current === null
      ? `  (${what}: no source answered)`
      : "  (no limit: the tier is unknown; set CLUSTERS[].tier)";
  }
  return `  (${what}: ${failed.map((s) => `${s.name} ${s.error ?? "failed"}`).join("; ")})`;
}

/**
 * Credentials a service refused are configuration errors (exit 2), named by key, never by value;
 * a cluster that is merely unreachable or full is a measurement, not a configuration problem.
 */
export function credentialProblems(
  config: Config,
  options: { cluster: string; groupId: string | null },
  readings: readonly StatsReading[],
): string[] {
  const problems: string[] = [];
  for (const reading of readings) {
    if (reading.ok || (reading.reason !== "auth" && reading.reason !== "config")) continue;
    if (reading.source === "mongodb") {
      // The secret mongoUriFor read for this cluster.
      const entry = config.cluster(options.groupId, options.cluster);
      problems.push(`${entry?.uriSecret ?? "MONGODB_URI"}: ${reading.error}`);
    } else if (reading.source === "atlas-admin") {
      const keys =
        config.atlas.auth?.kind === "api-key"
          ? "ATLAS_PUBLIC_KEY / ATLAS_PRIVATE_KEY"
          : "ATLAS_CLIENT_ID / ATLAS_CLIENT_SECRET";
      problems.push(`${keys}: refused by the Atlas Admin API (${reading.error})`);
    }
  }
  return problems;
}

interface Options {
  cluster: string;
  groupId: string | null;
  intervalSeconds: number;
  once: boolean;
  json: boolean;
}

type Values = { cluster?: string; group?: string; interval?: string; once?: boolean; json?: boolean };

/** Resolves parsed flags against the configuration; a string is a usage error. */
export function parseOptions(values: Values, config: Config): Options | string {
  const intervalSeconds = Number(values.interval);
  if (!Number.isFinite(intervalSeconds) || intervalSeconds < 1 || intervalSeconds > 3600) {
    return "--interval must be between 1 and 3600 seconds";
  }
  const named = values.cluster as string | undefined;
  const group = values.group as string | undefined;
  if (group !== undefined && !/^[0-9a-f]{24}$/i.test(group))
    return "--group must be a 24-character hex project id";
  const matches = config.clustersMatching(group ?? null, named ?? null);
  const cluster = named ?? (matches.length === 1 ? matches[0]!.name : undefined);
  if (!cluster) {
    return config.clusters.length > 1
      ? "--cluster is required: CLUSTERS lists several clusters"
      : "--cluster is required";
  }
  const groupId = group ?? (matches.length === 1 ? matches[0]!.groupId : null);
  return { cluster, groupId, intervalSeconds, once: Boolean(values.once), json: Boolean(values.json) };
}

/** Runs the command; returns its exit code. `ansi`: clear the screen between readings (a terminal). */
export async function monitorConnections(
  argv: string[],
  env: Record<string, unknown>,
  out: (text: string) => void,
  err: (text: string) => void,
  signal?: AbortSignal,
  terminal: { ansi: boolean } = { ansi: false },
): Promise<number> {
  const io: Io = { out, err };
  const args = parseCliArgs<Values>(argv, OPTIONS, USAGE, io);
  if (!args.ok) return args.code;
  let config: Config;
  try {
    config = parseConfig(env, { need: "stats" });
  } catch (error) {
    if (!isConfigError(error)) throw error;
    for (const problem of error.problems) err(`${problem.key}: ${problem.message}`);
    return 2;
  }
  const options = parseOptions(args.values, config);
  if (typeof options === "string") return usageError(options, USAGE, io);
  const http = createNodeFetch();
  try {
    const clock = { now: () => Date.now() };
    const atlas = createAtlasAdminClientFor(config, http.fetch, clock);
    const sources = createStatsSourceFactory(config, atlas, clock).sourcesFor(
      options.groupId,
      options.cluster,
    );
    if (sources.length === 0) {
      err(
        `Nothing can measure ${options.cluster}: set MONGODB_URI (or CLUSTERS[].uriSecret) or Atlas API credentials` +
          `${config.atlas.auth && !options.groupId ? " and --group" : ""}.`,
      );
      return 2;
    }
    const history: SeriesPoint[] = [];
    for (;;) {
      const now = new Date();
      const readings = await readAll(sources, now);
      const assessment = assess({
        readings,
        history,
        tierHint: config.cluster(options.groupId, options.cluster)?.tier ?? null,
        now,
      });
      if (assessment.current !== null) history.push({ at: assessment.at, value: assessment.current });
      const refused = credentialProblems(config, options, readings);
      if (refused.length > 0) {
        for (const line of refused) err(line);
        return 2;
      }
      const answered = readings.some((r) => r.ok);
      if (options.json) out(JSON.stringify(monitorDocument(options.cluster, assessment)));
      else {
        const clear = options.once ? "" : terminal.ansi ? "\x1b[2J\x1b[H" : "\n";
        out(`${clear}${renderScreen(options.cluster, assessment, now)}`);
      }
      if (options.once) return answered ? 0 : 1;
      const stopped = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), options.intervalSeconds * 1000);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (stopped || signal?.aborted) return 0;
    }
  } finally {
    await http.close();
  }
}

if (import.meta.main) {
  await runMain(
    "monitor:connections",
    ({ env }) => {
      const controller = new AbortController();
      process.on("SIGINT", () => controller.abort());
      return monitorConnections(process.argv.slice(2), env, console.log, console.error, controller.signal, {
        ansi: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
      });
    },
    (env) => parseConfig(env, { need: "stats" }).secrets,
    USAGE,
  );
}
