/**
 * The incident core's dependencies in Node, for the CLIs: the wiring every door shares
 * (src/wiring/core-deps.ts), given undici's fetch (src/outbound/node-fetch.ts), a budget the caller
 * supplies (the CLI's state file), and the quiet logger defined here (warnings to stderr, scrubbed).
 */
import type { Logger } from "../observability/log.ts";

const MIN_SCRUB_LENGTH = 6;

/** Warnings and errors as one short line on stderr, with every configured secret redacted. */
export function createQuietLogger(secrets: readonly string[], write: (line: string) => void): Logger {
  const scrub = secrets.filter((s) => s.length >= MIN_SCRUB_LENGTH);
  return {
    log(level, event, fields = {}) {
      if (level !== "warn" && level !== "error") return;
      let line = `${level}: ${event} ${JSON.stringify(fields)}`;
      for (const secret of scrub) line = line.split(secret).join("[redacted]");
      write(line);
    },
  };
}

/** The core's dependencies for a Node process: the wiring every door shares. */
export {
  type CoreDepsOptions as NodeDepsOptions,
  createCoreDeps as createNodeDeps,
} from "../wiring/core-deps.ts";
