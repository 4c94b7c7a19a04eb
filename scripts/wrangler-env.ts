/**
 * How the local runners (`npm run dev`, `npm start`) hand configuration to `wrangler dev`: through a
 * temporary `--env-file` readable only by this user (mode 0600, in a 0700 folder), deleted when
 * wrangler exits — never `--var`, whose values every user on the machine can read in `ps`.
 *
 * With `--env-file`, wrangler reads that file instead of .dev.vars, so the file carries everything
 * `check:config` judged: .dev.vars, process-environment values that override wrangler.toml, and
 * configuration entries set only in the environment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LoadedEnvironment } from "../src/cli/environment.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Entries the Worker reads from the environment by name (secrets named in TARGETS/CLUSTERS join them). */
const CONFIG_KEY =
  /^(ATLAS_|SLACK_|NOTIFY_|MONGODB_)|^(ADMIN_TOKEN|RESPONDER_MODE|POLICY|TARGETS|CLUSTERS|PUBLIC_URL)$/;

export interface EnvFile {
  readonly path: string;
  /** Deletes the file and its folder; safe to call more than once. */
  remove(): void;
}

/**
 * One `KEY=value` line wrangler reads back as `value`: dotenv's quoting, and `$` escaped as `\$`
 * because wrangler expands `$NAME` in env files (dotenv-expand) and turns `\$` back into `$`.
 */
export function envLine(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error("not an environment variable name");
  const v = value.replace(/\$/g, "\\$");
  if (!/[\r\n]/.test(value)) {
    if (!v.includes("'")) return `${key}='${v}'`;
    if (!v.includes('"')) return `${key}="${v}"`;
    if (!v.includes("`")) return `${key}=\`${v}\``;
  } else if (!value.includes('"') && !value.includes("\\")) {
    // Inside double quotes dotenv turns \n and \r back into line breaks.
    return `${key}="${v.replace(/\r/g, "\\r").replace(/\n/g, "\\n")}"`;
  }
  throw new Error(
    `${key} holds a value no env file can carry (quotes of every kind, or a line break with quotes)`,
  );
}

const ENV_DIR_PREFIX = "atlas-responder-env-";

/**
 * Writes `values` to a new 0600 file in a new 0700 folder under the temporary directory, named
 * after this process. A runner killed with SIGKILL cannot delete its file, so each new one first
 * deletes this user's folders whose process is gone.
 */
export function writeEnvFile(values: Readonly<Record<string, string>>): EnvFile {
  const lines = Object.entries(values).map(([key, value]) => envLine(key, value));
  removeOrphanedEnvFiles();
  const dir = mkdtempSync(path.join(tmpdir(), `${ENV_DIR_PREFIX}${process.pid}-`));
  const file = path.join(dir, "worker.env");
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600, flag: "wx" });
  let removed = false;
  return {
    path: file,
    remove() {
      if (removed) return;
      removed = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes env-file folders left by runners of this user that no longer run; answers how many. */
export function removeOrphanedEnvFiles(): number {
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    return 0;
  }
  for (const name of entries) {
    const pid = Number(/^atlas-responder-env-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isRunning(pid)) continue;
    const dir = path.join(tmpdir(), name);
    try {
      if (statSync(dir).uid !== process.getuid?.()) continue;
      rmSync(dir, { recursive: true, force: true });
      removed++;
    } catch {
      // Gone already, or not ours to delete.
    }
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The values the Worker should see, from the layered environment `check:config` read. */
export function workerValues(loaded: LoadedEnvironment): Record<string, string> {
  const keys = new Set<string>(loaded.keys.devVars);
  const fromToml = new Set(loaded.keys.toml);
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    // The environment overriding a wrangler.toml var, or a configuration entry set only here.
    if (fromToml.has(key) || CONFIG_KEY.test(key)) keys.add(key);
  }
  for (const secret of namedSecrets(loaded.env)) keys.add(secret);
  const values: Record<string, string> = {};
  for (const key of keys) {
    const value = loaded.env[key];
    if (value === undefined || value === "") continue;
    values[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return values;
}

/** Secret names TARGETS and CLUSTERS refer to (best effort: the config check has judged them). */
function namedSecrets(env: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const key of ["TARGETS", "CLUSTERS"]) {
    let list: unknown = env[key];
    try {
      if (typeof list === "string") list = JSON.parse(list);
    } catch {
      continue;
    }
    if (!Array.isArray(list)) continue;
    for (const entry of list as Array<Record<string, unknown>>) {
      for (const field of ["secret", "signingSecret", "uriSecret"]) {
        const name = entry?.[field];
        if (typeof name === "string" && /^[A-Z][A-Z0-9_]*$/.test(name)) names.push(name);
      }
    }
  }
  return names;
}

/** wrangler's environment: no metrics, no fetching Cloudflare's request metadata. */
export function wranglerProcessEnv(): NodeJS.ProcessEnv {
  return { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
}

/**
 * Runs `wrangler <args> --env-file <temp>` with `values`; removes the file when wrangler exits or
 * this process is stopped, and exits with wrangler's code.
 */
export function runWrangler(
  args: readonly string[],
  values: Readonly<Record<string, string>>,
  stdio: "inherit" | ["ignore", "inherit", "inherit"],
): ChildProcess {
  const envFile = writeEnvFile(values);
  const local = path.join(ROOT, "node_modules", ".bin", "wrangler");
  const child = spawn(existsSync(local) ? local : "wrangler", [...args, "--env-file", envFile.path], {
    stdio,
    env: wranglerProcessEnv(),
  });
  const stop = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    else {
      envFile.remove();
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => stop("SIGHUP"));
  process.on("exit", () => envFile.remove());
  child.on("error", (error) => {
    envFile.remove();
    console.error(`could not start wrangler: ${error.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    envFile.remove();
    process.exit(code ?? (signal ? 0 : 1));
  });
  return child;
}
