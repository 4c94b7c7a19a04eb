/**
 * How findings are shown: `--json` prints DESIGN §6's document; the human report groups findings by
 * file, each with its position, rule, message, the source line with a caret under the column, and
 * the fix. Colour only when the caller says the output is a terminal without NO_COLOR.
 */
import type { Finding, Severity } from "./rules.ts";

/** The `--json` document. */
export function jsonReport(findings: readonly Finding[], files: number): string {
  return JSON.stringify({
    findings: findings.map((f) => ({
      rule: f.rule,
      severity: f.severity,
      file: f.file,
      line: f.line,
      column: f.column,
      message: f.message,
      fix: f.fix,
    })),
    files,
  });
}

const COLOUR: Record<Severity | "dim" | "bold", string> = {
  error: "\x1b[31m",
  warning: "\x1b[33m",
  info: "\x1b[36m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
};

/** The human report; `sourceOf(file)` gives a file's text for the quoted line. */
export function humanReport(
  findings: readonly Finding[],
  files: number,
  sourceOf: (file: string) => string | null,
  colour: boolean,
): string {
  const paint = (style: keyof typeof COLOUR, text: string) =>
    colour ? `${COLOUR[style]}${text}\x1b[0m` : text;
  const lines: string[] = [];
  const byFile = new Map<string, Finding[]>();
  for (const f of findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  for (const [file, list] of byFile) {
    lines.push(paint("bold", file));
    const source = sourceOf(file)?.split(/\r?\n/) ?? [];
    for (const f of list) {
      lines.push(`  ${f.line}:${f.column}  ${paint(f.severity, f.severity)}  ${f.rule}  ${f.message}`);
      const text = source[f.line - 1];
      if (text !== undefined && text.trim() !== "") {
        const gutter = String(f.line).padStart(6);
        lines.push(paint("dim", `${gutter} | ${text}`));
        lines.push(paint("dim", `${" ".repeat(6)} | ${" ".repeat(Math.max(0, f.column - 1))}^`));
      }
      lines.push(`    fix: ${f.fix}`);
    }
    lines.push("");
  }
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  lines.push(
    findings.length === 0
      ? `No connection problems found in ${plural(files, "file")}.`
      : `${plural(findings.length, "finding")} (${plural(count("error"), "error")}, ${plural(count("warning"), "warning")}, ${count("info")} info) in ${plural(files, "file")}.`,
  );
  return lines.join("\n");
}
