/**
 * The terminal `fix:connections` talks to: lines out, a yes/no prompt, and waits that show a
 * countdown — one line redrawn on a TTY, a plain line now and then otherwise (logs, CI). Colour
 * only on a TTY and never with NO_COLOR.
 */
import { createInterface } from "node:readline";
import { createPaint, type Paint } from "./fix-report.ts";

/** How often a non-TTY wait says it is still waiting. */
const PLAIN_TICK_MS = 10_000;

export interface Terminal {
  /** Both stdin and stdout are terminals: a person can be asked. */
  readonly interactive: boolean;
  readonly paint: Paint;
  out(line: string): void;
  err(line: string): void;
  /** Asks a yes/no question; anything but y/yes (EOF, Ctrl-C included) is no. */
  confirm(question: string): Promise<boolean>;
  /** Waits until `untilMs`, showing what it waits for. */
  wait(untilMs: number, what: string): Promise<void>;
}

export function createTerminal(env: Record<string, unknown>): Terminal {
  const stdoutTty = process.stdout.isTTY === true;
  const interactive = stdoutTty && process.stdin.isTTY === true;
  const color = stdoutTty && !(typeof env.NO_COLOR === "string" && env.NO_COLOR !== "");
  const paint = createPaint(color);
  return {
    interactive,
    paint,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    confirm(question) {
      return new Promise<boolean>((resolve) => {
        const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
        let answered = false;
        const finish = (yes: boolean) => {
          if (answered) return;
          answered = true;
          rl.close();
          resolve(yes);
        };
        rl.on("SIGINT", () => {
          process.stdout.write("\n");
          finish(false);
        });
        rl.on("close", () => finish(false));
        rl.question(`${paint.bold(question)} `, (answer) => finish(/^\s*y(es)?\s*$/i.test(answer)));
      });
    },
    async wait(untilMs, what) {
      let lastPlain = 0;
      for (;;) {
        const left = untilMs - Date.now();
        if (left <= 0) break;
        const seconds = Math.ceil(left / 1000);
        if (stdoutTty) process.stdout.write(`\r\x1b[K${paint.dim(`${what} in ${seconds} s`)}`);
        else if (Date.now() - lastPlain >= PLAIN_TICK_MS) {
          process.stdout.write(`${what} in ${seconds} s\n`);
          lastPlain = Date.now();
        }
        await new Promise((r) => setTimeout(r, Math.min(left, stdoutTty ? 250 : 1000)));
      }
      if (stdoutTty) process.stdout.write("\r\x1b[K");
    },
  };
}
