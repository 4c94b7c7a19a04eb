/**
 * What the Node tools see as "the environment": `wrangler.toml` [vars], then `.dev.vars`, then the
 * process environment, later ones winning — the same layering `wrangler dev` uses, so
 * `npm run check:config` judges exactly what the local Worker will run with.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { parse as parseToml } from "smol-toml";

export interface EnvironmentSources {
  cwd?: string;
  processEnv?: NodeJS.ProcessEnv;
}

/** Where each layer came from, for messages like "read .dev.vars". */
export interface LoadedEnvironment {
  env: Record<string, unknown>;
  files: string[];
  /** The keys each file set (wrangler.toml's [vars], .dev.vars), so a runner can pass them on. */
  keys: { toml: string[]; devVars: string[] };
}

/**
 * A file that could not be read as configuration: names the file and the line, never the line's
 * text (a `.dev.vars` line is usually a secret).
 */
export class EnvironmentFileError extends Error {
  override readonly name = "EnvironmentFileError";
  readonly file: string;
  readonly line: number | undefined;

  constructor(file: string, line: number | undefined, problem: string) {
    super(`${file}${line === undefined ? "" : ` line ${line}`}: ${problem}`);
    this.file = file;
    this.line = line;
  }
}

const DEV_VARS_LINE = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=(.*)$/;

/**
 * Checks `.dev.vars` line by line before `parseEnv` reads it: `parseEnv` (like wrangler's dotenv)
 * silently skips a line that is not `KEY=value`, or glues it onto the next key.
 */
export function checkDevVars(text: string, file = ".dev.vars"): void {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(#.*)?$/.test(line)) continue;
    const match = DEV_VARS_LINE.exec(line);
    if (!match) throw new EnvironmentFileError(file, i + 1, "expected KEY=value (or a # comment)");
    const value = match[1]!.trim();
    const quote = value[0];
    if (quote !== '"' && quote !== "'" && quote !== "`") continue;
    if (value.length > 1 && value.indexOf(quote, 1) !== -1) continue;
    // A quoted value may span lines up to its closing quote.
    const start = i;
    while (++i < lines.length && !lines[i]!.includes(quote));
    if (i >= lines.length)
      throw new EnvironmentFileError(file, start + 1, `the value's ${quote} is never closed`);
  }
}

function readToml(file: string, text: string): { vars?: Record<string, unknown> } {
  try {
    return parseToml(text) as { vars?: Record<string, unknown> };
  } catch (error) {
    const { line, message } = error as { line?: unknown; message?: unknown };
    // smol-toml's message quotes the surrounding lines; keep only its first line's reason.
    const reason = String(message ?? "not valid TOML")
      .split("\n")[0]!
      .replace(/^Invalid TOML document:\s*/, "");
    throw new EnvironmentFileError(
      file,
      typeof line === "number" ? line : undefined,
      `not valid TOML (${reason})`,
    );
  }
}

/**
 * Loads the layered environment from `cwd` (default: the current directory). Throws
 * `EnvironmentFileError` for a malformed wrangler.toml or .dev.vars.
 */
export function loadEnvironment(sources: EnvironmentSources = {}): LoadedEnvironment {
  const cwd = sources.cwd ?? process.cwd();
  const files: string[] = [];
  const env: Record<string, unknown> = {};
  const keys: LoadedEnvironment["keys"] = { toml: [], devVars: [] };

  const tomlPath = path.join(cwd, "wrangler.toml");
  if (existsSync(tomlPath)) {
    const toml = readToml("wrangler.toml", readFileSync(tomlPath, "utf8"));
    Object.assign(env, toml.vars ?? {});
    keys.toml.push(...Object.keys(toml.vars ?? {}));
    files.push("wrangler.toml");
  }
  const devVarsPath = path.join(cwd, ".dev.vars");
  if (existsSync(devVarsPath)) {
    const text = readFileSync(devVarsPath, "utf8");
    checkDevVars(text);
    const parsed = parseEnv(text);
    Object.assign(env, parsed);
    keys.devVars.push(...Object.keys(parsed));
    files.push(".dev.vars");
  }
  for (const [key, value] of Object.entries(sources.processEnv ?? process.env)) {
    if (value !== undefined) env[key] = value;
  }
  return { env, files, keys };
}
