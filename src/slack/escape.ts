/**
 * What may appear in this project's Slack text. Every string that came from outside (alert text,
 * cluster, app and target names, reasons, platform details) goes through `escapeText`: `&`, `<`,
 * `>` are entity-escaped so nothing can form a mention (`<!channel>`, `<@U…>`) or a link,
 * `@channel`/`@here`/`@everyone` get a zero-width space, and control characters become spaces (no
 * forged lines). The only `<…>` markup written anywhere is written here: links from configuration,
 * date tokens, and mentions of ids that look like Slack user ids. `clip` and `joinLines` cut
 * already-escaped text without breaking an entity or that markup.
 *
 * Trade-off: text is escaped where a line is assembled, not once when the journal is read, so each
 * use cuts a value to its own length; the price is that every new line built from outside text must
 * call `escapeText` itself.
 */

/** One journal-derived line: enough for a reason or a platform's one-line detail. */
const LINE_CHARS = 280;
/** One untrusted value inside a line (a name, a reason): longer values are cut. */
const VALUE_CHARS = 160;

const CONTROL_CHARS = /[\p{Cc}\u2028\u2029]+/gu;
const BROADCASTS = /@(channel|here|everyone)/gi;

/**
 * Makes outside text inert in Slack: no mentions, no links, no extra lines. For mrkdwn and for the
 * notification text alike (Slack decodes these three entities in both).
 */
export function escapeText(raw: unknown, maxChars = VALUE_CHARS): string {
  const flat = String(raw ?? "")
    .replace(CONTROL_CHARS, " ")
    .trim();
  const cut = flat.length > maxChars ? `${safeSlice(flat, maxChars - 1)}…` : flat;
  return cut
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(BROADCASTS, "@\u200b$1");
}

/** Slices without splitting a UTF-16 surrogate pair. */
function safeSlice(text: string, end: number): string {
  const code = text.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, end - 1) : text.slice(0, end);
}

/**
 * Cuts already-escaped text to `max` characters without breaking an entity (`&amp;`) or our own
 * markup (`<url|label>`, `<!date…>`), ending with "…".
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = safeSlice(text, max - 1);
  const open = cut.lastIndexOf("<");
  if (open > cut.lastIndexOf(">")) cut = cut.slice(0, open);
  const amp = cut.lastIndexOf("&");
  if (amp > cut.lastIndexOf(";")) cut = cut.slice(0, amp);
  // An unclosed code span would swallow the ellipsis into it.
  if ((cut.match(/`/g)?.length ?? 0) % 2 === 1) cut = cut.slice(0, cut.lastIndexOf("`"));
  return `${cut}…`;
}

/** Joins lines up to `max` characters; what does not fit becomes "…and N more <noun>". */
export function joinLines(lines: readonly string[], max: number, noun: string): string {
  const out: string[] = [];
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = clip(lines[i]!, LINE_CHARS);
    const rest = lines.length - i - 1;
    const reserve = rest > 0 ? 40 : 0;
    if (used + line.length + 1 + reserve > max) {
      out.push(`_…and ${lines.length - i} more ${noun}_`);
      break;
    }
    out.push(line);
    used += line.length + 1;
  }
  return out.join("\n");
}

/** An ISO time in milliseconds; NaN when absent or unreadable. */
export const timeOf = (iso: string | undefined): number => (iso ? Date.parse(iso) : Number.NaN);

/** A Slack date token: shown in each reader's own time zone, with a UTC fallback. */
export function when(iso: string | undefined): string {
  const t = timeOf(iso);
  if (Number.isNaN(t)) return escapeText(iso ?? "?");
  const fallback = `${new Date(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<!date^${Math.floor(t / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

/** Renders "<@U123>" for a real Slack user id (a mention we chose to show), else escaped text. */
export function who(by: unknown): string {
  if (typeof by === "string" && /^[UW][A-Z0-9]{2,20}$/.test(by)) return `<@${by}>`;
  return escapeText(by ?? "someone", 60);
}

/** A configured link as Slack markup, or null when it is not a plain http(s) URL. */
export function link(raw: string | undefined, label: string): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  const href = url.href
    .replace(/\|/g, "%7C")
    .replace(/</g, "%3C")
    .replace(/>/g, "%3E")
    .replace(/&/g, "&amp;");
  if (href.length > 3000) return null;
  return `<${href}|${label}>`;
}
