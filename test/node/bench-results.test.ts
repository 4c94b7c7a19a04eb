import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatTable, row, validateRows, writeResults } from "../../bench/results.ts";

describe("bench results", () => {
  it("a row with a baseline judges its goal on the ratio, rounded", () => {
    expect(
      row({ name: "intake", value: 170.114, unit: "req/s", baseline: 548.07, goal: { min: 0.6 } }),
    ).toEqual({
      name: "intake",
      value: 170.11,
      unit: "req/s",
      baseline: 548.07,
      ratio: 0.31,
      goal: ">= 0.6 x baseline",
      met: false,
    });
  });

  it("a row without a baseline judges the value; no goal leaves met null", () => {
    expect(row({ name: "p", value: 120, unit: "ms", goal: { max: 500 } })).toMatchObject({
      ratio: null,
      goal: "<= 500 ms",
      met: true,
    });
    expect(row({ name: "u", value: 3, unit: "count" })).toMatchObject({ goal: null, met: null });
    expect(
      row({ name: "b", value: 268, unit: "KiB", baseline: 9, goal: { max: 300 }, onRatio: false }),
    ).toMatchObject({ met: true });
  });

  it("writes exactly the seven fields and refuses any other shape", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bench-results-"));
    try {
      const file = path.join(dir, "results.json");
      const rows = [row({ name: "a", value: 1, unit: "ms", goal: { max: 2 } })];
      writeResults(file, rows);
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(rows);
      expect(formatTable(rows)).toContain("<= 2 ms");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => validateRows({})).toThrow("array");
    expect(() =>
      validateRows([{ name: "a", value: 1, unit: "ms", baseline: null, ratio: null, goal: null }]),
    ).toThrow("exactly");
    expect(() =>
      validateRows([
        { name: "a", value: Number.NaN, unit: "ms", baseline: null, ratio: null, goal: null, met: null },
      ]),
    ).toThrow("value");
  });
});
