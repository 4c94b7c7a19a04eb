/**
 * `npm run dev`: the bare Worker under `wrangler dev` on 127.0.0.1:8787 (or PORT), with exactly the
 * configuration `npm run check:config` judges — wrangler.toml [vars], .dev.vars and the
 * environment — and only when it passes: an invalid configuration exits 2 with every problem listed
 * (by key, never a value) before wrangler starts. The values reach wrangler through a 0600
 * temporary env file, deleted on exit (./wrangler-env.ts).
 */
import { parseCliArgs } from "../src/cli/args.ts";
import { configProblems, reportProblems } from "../src/cli/check-config.ts";
import { EnvironmentFileError, loadEnvironment } from "../src/cli/environment.ts";
import { runWrangler, workerValues } from "./wrangler-env.ts";

const USAGE = `usage: npm run dev

  Runs the Worker locally under wrangler dev on 127.0.0.1:\${PORT:-8787} with wrangler.toml [vars],
  .dev.vars and the environment, after the checks of npm run check:config (exit 2 when they fail).
  RESPONDER_STATE_DIR: where local state lives (default .wrangler/state).

  --help  this text`;

function main(): number | null {
  const io = { out: console.log, err: console.error };
  const args = parseCliArgs(process.argv.slice(2), {}, USAGE, io);
  if (!args.ok) return args.code;
  const port = Number(process.env.PORT || 8787);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error("PORT must be a TCP port number");
    return 2;
  }
  let loaded: ReturnType<typeof loadEnvironment>;
  try {
    loaded = loadEnvironment();
  } catch (error) {
    if (!(error instanceof EnvironmentFileError)) throw error;
    console.error(error.message);
    return 2;
  }
  const { errors, warnings } = configProblems(loaded.env);
  if (errors.length > 0) {
    reportProblems(errors, warnings, console.error);
    console.error("npm run dev refuses to start on this configuration; see npm run check:config.");
    return 2;
  }
  reportProblems([], warnings, console.error);
  let values: Record<string, string>;
  try {
    values = workerValues(loaded);
    runWrangler(
      [
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--persist-to",
        process.env.RESPONDER_STATE_DIR || ".wrangler/state",
      ],
      values,
      "inherit",
    );
  } catch (error) {
    console.error(`npm run dev: ${(error as Error).message}`);
    return 1;
  }
  return null;
}

const code = main();
if (code !== null) process.exitCode = code;
