/**
 * Structured logs: one JSON line per event, for `wrangler tail` and Workers Logs.
 *
 * Callers never pass secrets on purpose; as a second line of defence every line is scrubbed of the
 * configured secret values before it is written.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

const MIN_SCRUB_LENGTH = 6; // shorter values would redact innocent text and protect nothing

/** A logger that writes JSON lines to the console, with every value in `secrets` redacted. */
export function createConsoleLogger(secrets: readonly string[] = []): Logger {
  const scrub = secrets.filter((s) => s.length >= MIN_SCRUB_LENGTH);
  return {
    log(level, event, fields = {}) {
      let line = JSON.stringify({ level, event, ...fields });
      for (const secret of scrub) line = line.split(secret).join("[redacted]");
      if (level === "error") console.error(line);
      else if (level === "warn") console.warn(line);
      else console.log(line);
    },
  };
}

/** A safe one-line description of a thrown value: its class and message, never a stack. */
export function describeError(error: unknown): { error: string; message: string } {
  if (error instanceof Error) return { error: error.name, message: error.message };
  return { error: typeof error, message: String(error) };
}
