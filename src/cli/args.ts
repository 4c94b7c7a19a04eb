/**
 * The edge behaviour every command-line tool shares: `--help`/`-h` prints the usage and exits 0, an
 * unknown flag or a stray argument exits 2 with the usage, a malformed wrangler.toml or .dev.vars
 * exits 2 naming the file and line, and nothing ever ends in a stack trace.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { EnvironmentFileError, type LoadedEnvironment, loadEnvironment } from "./environment.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | undefined>;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** The parsed flags, or the exit code the tool should return now (help: 0, usage error: 2). */
export type CliArgs<V> = { ok: true; values: V } | { ok: false; code: 0 | 2 };

/** Parses `argv` strictly against `options` (plus `--help`); prints the usage when it stops. */
export function parseCliArgs<V extends Values = Values>(
  argv: readonly string[],
  options: Options,
  usage: string,
  io: Io,
): CliArgs<V> {
  let values: Values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`${(error as Error).message}\n${usage}`);
    return { ok: false, code: 2 };
  }
  if (values.help) {
    io.out(usage);
    return { ok: false, code: 0 };
  }
  delete values.help;
  return { ok: true, values: values as V };
}

/** Prints a usage error with the usage; returns 2. */
export function usageError(message: string, usage: string, io: Io): 2 {
  io.err(`${message}\n${usage}`);
  return 2;
}

/** `loadEnvironment`, or null after printing which file and line is malformed. */
export function loadEnvironmentOrReport(
  io: Pick<Io, "err">,
  sources?: Parameters<typeof loadEnvironment>[0],
): LoadedEnvironment | null {
  try {
    return loadEnvironment(sources);
  } catch (error) {
    if (!(error instanceof EnvironmentFileError)) throw error;
    io.err(error.message);
    return null;
  }
}

/** A one-line description of an unexpected failure, with every known secret scrubbed. */
export function describeFailure(error: unknown, secrets: readonly string[] = []): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return secrets.filter((s) => s.length >= 6).reduce((t, s) => t.split(s).join("[redacted]"), message);
}

/**
 * Runs a tool's main: loads the environment (exit 2 on a malformed file), runs `body`, and turns an
 * unexpected failure into one line on stderr and exit 1 instead of a stack trace.
 */
export async function runMain(
  name: string,
  body: (loaded: LoadedEnvironment) => Promise<number> | number,
  secretsOf: (env: Record<string, unknown>) => readonly string[] = () => [],
  usage?: string,
): Promise<void> {
  const io: Io = { out: console.log, err: console.error };
  // `--help` answers even when a configuration file is malformed.
  const argv = process.argv.slice(2);
  if (usage && (argv.includes("--help") || argv.includes("-h"))) {
    io.out(usage);
    process.exitCode = 0;
    return;
  }
  let env: Record<string, unknown> = {};
  const fail = (error: unknown) => {
    let secrets: readonly string[] = [];
    try {
      secrets = secretsOf(env);
    } catch {
      secrets = [];
    }
    io.err(`${name} stopped: ${describeFailure(error, secrets)}`);
    process.exit(1);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  try {
    const loaded = loadEnvironmentOrReport(io);
    if (!loaded) {
      process.exitCode = 2;
      return;
    }
    env = loaded.env;
    process.exitCode = await body(loaded);
  } catch (error) {
    fail(error);
  }
}
