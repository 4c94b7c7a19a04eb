/**
 * The sandbox's terminal: plain timestamped lines (always, and only those when headless or not a
 * terminal), the fake Slack's messages rendered as text — on a terminal the living message is
 * redrawn in place while nothing else was printed after it — and one-key commands.
 */
import type { FakeSlackMessage } from "./fakes.ts";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Slack mrkdwn as a terminal shows it: links as `label (url)`, entities decoded, dates as text. */
export function mrkdwnToText(text: string): string {
  return text
    .replace(/<!date\^\d+\^[^|>]*\|([^>]*)>/g, "$1")
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, "$2 ($1)")
    .replace(/<(https?:[^>]+)>/g, "$1")
    .replace(/<!(channel|here|everyone)>/g, "@$1")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function textOf(value: unknown): string {
  return isRecord(value) && typeof value.text === "string" ? mrkdwnToText(value.text) : "";
}

/** A Block Kit message as lines of text, buttons as `[ Label ]`. */
export function renderBlocks(message: { text: string; blocks: unknown[] }): string[] {
  const lines: string[] = [];
  if (message.blocks.length === 0) return mrkdwnToText(message.text).split("\n");
  for (const block of message.blocks) {
    if (!isRecord(block)) continue;
    switch (block.type) {
      case "header":
        lines.push(`== ${textOf(block.text)} ==`);
        break;
      case "section": {
        const text = textOf(block.text);
        if (text) lines.push(...text.split("\n"));
        if (Array.isArray(block.fields)) {
          for (const field of block.fields) lines.push(...textOf(field).split("\n"));
        }
        break;
      }
      case "context":
        if (Array.isArray(block.elements)) {
          const parts = block.elements.map(textOf).filter(Boolean);
          if (parts.length) lines.push(...parts.join("  ·  ").split("\n"));
        }
        break;
      case "divider":
        lines.push("─".repeat(40));
        break;
      case "rich_text":
        lines.push(mrkdwnToText(message.text));
        break;
      case "actions":
        if (Array.isArray(block.elements)) {
          const buttons = block.elements
            .filter((e): e is Record<string, unknown> => isRecord(e) && e.type === "button")
            .map((e) => `[ ${textOf(e.text)} ]`);
          if (buttons.length) lines.push(buttons.join(" "));
        }
        break;
      default:
        break;
    }
  }
  return lines;
}

export interface Terminal {
  readonly rich: boolean;
  /** One plain line, timestamped. */
  line(text: string): void;
  /** Lines printed as they are (the banner). */
  block(lines: string[]): void;
  /** Shows a Slack message version: redrawn in place when it was the last thing printed. */
  slack(message: FakeSlackMessage, version: number): void;
}

export function createTerminal(
  rich: boolean,
  write: (text: string) => void = (t) => process.stdout.write(t),
) {
  const started = Date.now();
  let drawn: { ts: string; lines: number } | null = null;
  const stamp = () => {
    const s = (Date.now() - started) / 1000;
    return `[${s.toFixed(1).padStart(5)}s]`;
  };
  const terminal: Terminal = {
    rich,
    line(text) {
      drawn = null;
      write(`${stamp()} ${text}\n`);
    },
    block(lines) {
      drawn = null;
      write(`${lines.join("\n")}\n`);
    },
    slack(message, version) {
      const body = renderBlocks(message);
      const title = `Slack #incidents · message ${message.ts} · ${version === 1 ? "posted" : `updated (version ${version})`}`;
      if (!rich) {
        write(`${stamp()} ${title}\n${body.map((l) => `  | ${l}`).join("\n")}\n`);
        drawn = null;
        return;
      }
      const width = Math.min(process.stdout.columns || 100, 100) - 4;
      const clip = (l: string) => (l.length > width ? `${l.slice(0, width - 1)}…` : l);
      const out = [
        `\x1b[36m┌─ ${clip(title)}\x1b[0m`,
        ...body.map((l) => `\x1b[36m│\x1b[0m ${clip(l)}`),
        `\x1b[36m└${"─".repeat(Math.max(10, Math.min(width, 60)))}\x1b[0m`,
      ];
      let prefix = "";
      // The living message: redraw over its previous rendering when nothing was printed since.
      if (drawn && drawn.ts === message.ts) prefix = `\x1b[${drawn.lines}A\x1b[0J`;
      write(`${prefix}${stamp()} ${out.join("\n")}\n`);
      drawn = { ts: message.ts, lines: out.length };
    },
  };
  return terminal;
}

/**
 * Calls `onKey` for each key pressed (raw mode on a terminal) or each character piped in; `ctrl-c`
 * arrives as "\u0003". Returns a function that restores the terminal.
 */
export function listenForKeys(onKey: (key: string) => void): () => void {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  const onData = (chunk: string) => {
    for (const key of chunk) onKey(key);
  };
  stdin.on("data", onData);
  stdin.on("error", () => {});
  stdin.resume();
  return () => {
    stdin.off("data", onData);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  };
}
