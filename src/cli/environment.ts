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
}

/** Loads the layered environment from `cwd` (default: the current directory). */
export function loadEnvironment(sources: EnvironmentSources = {}): LoadedEnvironment {
  const cwd = sources.cwd ?? process.cwd();
  const files: string[] = [];
  const env: Record<string, unknown> = {};

  const tomlPath = path.join(cwd, "wrangler.toml");
  if (existsSync(tomlPath)) {
    const toml = parseToml(readFileSync(tomlPath, "utf8")) as { vars?: Record<string, unknown> };
    Object.assign(env, toml.vars ?? {});
    files.push("wrangler.toml");
  }
  const devVarsPath = path.join(cwd, ".dev.vars");
  if (existsSync(devVarsPath)) {
    Object.assign(env, parseEnv(readFileSync(devVarsPath, "utf8")));
    files.push(".dev.vars");
  }
  for (const [key, value] of Object.entries(sources.processEnv ?? process.env)) {
    if (value !== undefined) env[key] = value;
  }
  return { env, files };
}
