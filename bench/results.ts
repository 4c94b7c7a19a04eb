/**
 * The bench's figures: one row per measurement, as `bench/results.json` holds them —
 * `{"name","value","unit","baseline","ratio","goal","met"}` — and the table printed at the end.
 * `ratio` is value ÷ baseline when a baseline was measured in the same run; `goal` says in words
 * what the figure must reach and `met` whether it did (null: a figure reported, with no goal).
 */
import { writeFileSync } from "node:fs";

export interface Row {
  name: string;
  value: number | null;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  goal: string | null;
  met: boolean | null;
}

export type Comparison = { max: number } | { min: number };

/** A row; with a baseline the goal applies to the ratio, without one to the value. */
export function row(input: {
  name: string;
  value: number | null;
  unit: string;
  baseline?: number | null;
  goal?: Comparison | null;
  /** The goal is about the ratio to the baseline (default when a baseline is given). */
  onRatio?: boolean;
}): Row {
  const baseline = input.baseline ?? null;
  const ratio =
    input.value !== null && baseline !== null && baseline !== 0 ? round(input.value / baseline, 3) : null;
  const onRatio = input.onRatio ?? baseline !== null;
  const goal = input.goal ?? null;
  const subject = onRatio ? ratio : input.value;
  let met: boolean | null = null;
  if (goal) met = subject === null ? false : "max" in goal ? subject <= goal.max : subject >= goal.min;
  const words = goal
    ? `${"max" in goal ? "<=" : ">="} ${"max" in goal ? goal.max : goal.min}${onRatio ? " x baseline" : ` ${input.unit}`}`
    : null;
  return {
    name: input.name,
    value: input.value === null ? null : round(input.value, 2),
    unit: input.unit,
    baseline: baseline === null ? null : round(baseline, 2),
    ratio,
    goal: words,
    met,
  };
}

/** A figure that could not be measured in this run, and why (the unit says it). */
export function unavailable(name: string, why: string): Row {
  return { name, value: null, unit: why, baseline: null, ratio: null, goal: null, met: null };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Checks rows have exactly the results.json shape; throws naming the first bad field. */
export function validateRows(rows: unknown): Row[] {
  if (!Array.isArray(rows)) throw new Error("results must be an array");
  const keys = ["name", "value", "unit", "baseline", "ratio", "goal", "met"];
  rows.forEach((r, i) => {
    if (typeof r !== "object" || r === null) throw new Error(`row ${i} is not an object`);
    const got = Object.keys(r);
    if (got.length !== keys.length || !keys.every((k) => got.includes(k))) {
      throw new Error(`row ${i} must have exactly ${keys.join(", ")}`);
    }
    const o = r as Record<string, unknown>;
    if (typeof o.name !== "string" || o.name === "") throw new Error(`row ${i}: name`);
    if (typeof o.unit !== "string") throw new Error(`row ${i}: unit`);
    for (const k of ["value", "baseline", "ratio"]) {
      if (o[k] !== null && (typeof o[k] !== "number" || !Number.isFinite(o[k])))
        throw new Error(`row ${i}: ${k}`);
    }
    if (o.goal !== null && typeof o.goal !== "string") throw new Error(`row ${i}: goal`);
    if (o.met !== null && typeof o.met !== "boolean") throw new Error(`row ${i}: met`);
  });
  return rows as Row[];
}

export function writeResults(file: string, rows: readonly Row[]): void {
  writeFileSync(file, `${JSON.stringify(validateRows(rows), null, 2)}\n`);
}

/** The rows as a fixed-width text table. */
export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [
    r.name,
    r.value === null ? "—" : String(r.value),
    r.unit,
    r.baseline === null ? "" : String(r.baseline),
    r.ratio === null ? "" : `${r.ratio}x`,
    r.goal ?? "",
    r.met === null ? "" : r.met ? "yes" : "NO",
  ]);
  const header = ["name", "value", "unit", "baseline", "ratio", "goal", "met"];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === 1 || i === 3 || i === 4 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/** The rows as a Markdown table (for the README's Performance section). */
export function formatMarkdown(rows: readonly Row[]): string {
  const out = ["| name | value | unit | baseline | ratio | goal | met |", "|---|---:|---|---:|---:|---|---|"];
  for (const r of rows) {
    out.push(
      `| ${r.name} | ${r.value ?? "—"} | ${r.unit} | ${r.baseline ?? ""} | ${r.ratio === null ? "" : `${r.ratio}×`} | ${r.goal ?? ""} | ${r.met === null ? "" : r.met ? "yes" : "**no**"} |`,
    );
  }
  return out.join("\n");
}
