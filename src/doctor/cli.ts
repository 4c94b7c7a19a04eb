/**
 * `npm run doctor -- PATH [--json] [--patch]`
 *
 * Reads a JavaScript/TypeScript app and reports the code that leaks MongoDB connections (rules in
 * RULES.md). `--json` prints `{"findings":[…],"files":N}`; `--patch` prints a unified diff that
 * `git apply` accepts and never writes into the app. Exit 1 when an error or warning is found,
 * 0 when the app is clean, 2 for a usage error (PATH missing, not a directory, not readable).
 * It reads no configuration: no .dev.vars, no environment but NO_COLOR.
 */
import { readdirSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Io, usageError } from "../cli/args.ts";
import { loadApp } from "./app.ts";
import { buildPatch } from "./patch.ts";
import { humanReport, jsonReport } from "./report.ts";
import { diagnose } from "./rules.ts";

export const USAGE = `usage: npm run doctor -- PATH [--json] [--patch]

  PATH     the app's repository (or any folder of its source)
  --json   print {"findings":[…],"files":N}
  --patch  print a unified diff that adds one cached client module and points the
           leaking code at it (apply it with git apply; doctor never writes into PATH)
  --help   this text

exit 0 clean, 1 an error or warning was found, 2 usage error`;

/** Runs doctor over `argv`; returns the exit code. `colour` is true only on a TTY without NO_COLOR. */
export function doctor(argv: readonly string[], io: Io, colour: boolean): number {
  let values: { json?: boolean; patch?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        json: { type: "boolean", default: false },
        patch: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    return usageError((error as Error).message, USAGE, io);
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    return usageError(positionals.length === 0 ? "PATH is missing" : "give one PATH", USAGE, io);
  if (values.json && values.patch)
    return usageError("--json and --patch print different documents: choose one", USAGE, io);
  const root = positionals[0]!;
  try {
    if (!statSync(root).isDirectory()) return usageError(`${root} is not a directory`, USAGE, io);
    readdirSync(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return usageError(`${root} ${code === "ENOENT" ? "does not exist" : "cannot be read"}`, USAGE, io);
  }
  const app = loadApp(root);
  const diagnosis = diagnose(app);
  const failing = diagnosis.findings.some((f) => f.severity !== "info");
  if (values.patch) {
    const patch = buildPatch(app, diagnosis);
    if (patch) io.out(patch.replace(/\n$/, ""));
  } else if (values.json) io.out(jsonReport(diagnosis.findings, app.files));
  else {
    const sourceOf = (file: string) =>
      app.modules.get(file)?.code ?? app.unparsed.find((u) => u.file === file)?.code ?? null;
    io.out(humanReport(diagnosis.findings, app.files, sourceOf, colour));
  }
  return failing ? 1 : 0;
}

if (import.meta.main) {
  const io: Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  try {
    process.exitCode = doctor(process.argv.slice(2), io, colour);
  } catch (error) {
    io.err(`doctor stopped: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    process.exitCode = 1;
  }
}
