/**
 * The Block Kit this project sends: the subset of block and element types the incident message
 * uses, Slack's size limits for them, the small builders that apply those limits (every mrkdwn
 * object is `verbatim`, so Slack does not auto-link bare URLs or names), and `fits`, the check a
 * message must pass before it is sent.
 *
 * Trade-off: besides the documented per-block limits, chat.postMessage rejects messages whose blocks
 * hold roughly 12 000 text characters in total (`msg_blocks_too_long`, undocumented:
 * slackapi/bolt-js#2509, #2867), so `fits` budgets MAX_TEXT_CHARS across all blocks — well below
 * that, so a message that passes here may be shorter than Slack would have allowed.
 */
import { clip } from "./escape.ts";

/** Block Kit limits for messages (notes/integrations.md §1c). */
export const LIMITS = {
  blocks: 50,
  headerChars: 150,
  sectionChars: 3000,
  fieldChars: 2000,
  contextElements: 10,
  buttonTextChars: 75,
  buttonValueChars: 2000,
  confirmTitleChars: 100,
  confirmTextChars: 300,
} as const;

/** Total text across all blocks: well under the ~12 000 at which Slack answers msg_blocks_too_long. */
const MAX_TEXT_CHARS = 8000;
/** The serialized message (text + blocks): far below Slack's 40 000-character message ceiling. */
const MAX_JSON_CHARS = 38_000;

export interface PlainText {
  type: "plain_text";
  text: string;
  emoji?: boolean;
}
export interface Mrkdwn {
  type: "mrkdwn";
  text: string;
  verbatim?: boolean;
}
export type TextObject = PlainText | Mrkdwn;

export interface ConfirmDialog {
  title: PlainText;
  text: PlainText;
  confirm: PlainText;
  deny: PlainText;
  style?: "primary" | "danger";
}

export interface ButtonElement {
  type: "button";
  action_id: string;
  text: PlainText;
  value: string;
  style?: "primary" | "danger";
  confirm?: ConfirmDialog;
}

export type Block =
  | { type: "header"; text: PlainText }
  | { type: "section"; text?: TextObject; fields?: TextObject[] }
  | { type: "context"; elements: TextObject[] }
  | { type: "divider" }
  | { type: "actions"; block_id: string; elements: ButtonElement[] };

/** What chat.postMessage, chat.update and incoming webhooks take. */
export interface SlackMessage {
  /** The notification fallback: one line. */
  text: string;
  blocks: Block[];
}

export const mrkdwn = (text: string): Mrkdwn => ({ type: "mrkdwn", text, verbatim: true });
export const plain = (text: string, max: number): PlainText => ({
  type: "plain_text",
  text: clip(text, max),
  emoji: true,
});
export const section = (text: string): Block => ({
  type: "section",
  text: mrkdwn(clip(text, LIMITS.sectionChars)),
});
export const context = (...texts: string[]): Block => ({
  type: "context",
  elements: texts.slice(0, LIMITS.contextElements).map((t) => mrkdwn(clip(t, LIMITS.fieldChars))),
});

function textChars(blocks: readonly Block[]): number {
  let total = 0;
  const add = (t: TextObject | undefined) => {
    total += t?.text.length ?? 0;
  };
  for (const block of blocks) {
    switch (block.type) {
      case "header":
        add(block.text);
        break;
      case "section":
        add(block.text);
        for (const f of block.fields ?? []) add(f);
        break;
      case "context":
        for (const e of block.elements) add(e);
        break;
      case "actions":
        for (const b of block.elements) {
          add(b.text);
          total += b.value.length;
        }
        break;
      case "divider":
        break;
    }
  }
  return total;
}

/** Whether Slack will take `message`: block count, total text and serialized size within the limits. */
export const fits = (message: SlackMessage): boolean =>
  message.blocks.length <= LIMITS.blocks &&
  textChars(message.blocks) <= MAX_TEXT_CHARS &&
  JSON.stringify(message).length <= MAX_JSON_CHARS;
