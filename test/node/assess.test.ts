/** The assessment: which source each figure comes from, trends, and what happens when sources fail. */
import { describe, expect, it } from "vitest";
import { assess } from "../../src/stats/assess.ts";
import type { StatsReading } from "../../src/stats/types.ts";

const NOW = new Date("2026-08-13T10:00:00Z");
const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();

const alertPercent = (percent: number): StatsReading => ({
  source: "alert",
  ok: true,
  at: at(1),
  percent,
  findings: [],
});
const failed = (source: string, reason: "refused" | "http"): StatsReading => ({
  source,
  ok: false,
  at: at(0),
  reason,
  error: `${source} failed`,
  findings: reason === "refused" ? [{ kind: "cluster-full", detail: "refused" }] : [],
});

describe("assess", () => {
  it("on M0 with only the alert, derives the count from the percentage and the tier limit", () => {
    const a = assess({
      readings: [alertPercent(86), failed("mongodb", "refused"), failed("atlas-admin", "http")],
      tierHint: "M0",
      now: NOW,
    });
    expect(a).toMatchObject({
      tier: "M0",
      limit: 500,
      percent: 86,
      current: 430,
      attributed: false,
      byApp: [],
    });
    expect(a.sources).toEqual([
      { name: "alert", ok: true, error: null },
      { name: "mongodb", ok: false, error: "mongodb failed" },
      { name: "atlas-admin", ok: false, error: "atlas-admin failed" },
    ]);
    expect(a.findings).toEqual([{ kind: "cluster-full", detail: "refused" }]);
  });

  it("prefers the server's own count and limit over the Admin API and the alert", () => {
    const a = assess({
      readings: [
        alertPercent(95),
        { source: "atlas-admin", ok: true, at: at(1), current: 1200, limit: 1500, tier: "M10", findings: [] },
        { source: "mongodb", ok: true, at: at(0), current: 300, available: 1200, findings: [] },
      ],
      now: NOW,
    });
    expect(a).toMatchObject({ tier: "M10", current: 300, limit: 1500, percent: 20 });
  });

  it("takes the alert's figure over an Admin API measurement older than the alert, and not otherwise", () => {
    const measured = (minutesAgo: number): StatsReading => ({
      source: "atlas-admin",
      ok: true,
      at: at(0),
      current: 100,
      limit: 500,
      tier: "M0",
      series: [{ at: at(minutesAgo), value: 100 }],
      findings: [],
    });
    const alertAt = (minutesAgo: number, percent: number): StatsReading => ({
      source: "alert",
      ok: true,
      at: at(minutesAgo),
      percent,
      findings: [],
    });
    expect(assess({ readings: [measured(3), alertAt(1, 90)], now: NOW })).toMatchObject({
      current: 450,
      percent: 90,
    });
    expect(assess({ readings: [measured(1), alertAt(3, 90)], now: NOW })).toMatchObject({
      current: 100,
      percent: 20,
    });
  });

  it("with no figure at all, says so instead of guessing", () => {
    const a = assess({ readings: [failed("mongodb", "refused")], now: NOW });
    expect(a).toMatchObject({
      current: null,
      limit: null,
      percent: null,
      trendPerMinute: null,
      minutesToLimit: null,
    });
  });

  it("fits a trend over the last 15 minutes and estimates the time to the limit", () => {
    const series = [10, 8, 6, 4, 2].map((m) => ({ at: at(m), value: 400 - m * 10 }));
    const a = assess({
      readings: [
        {
          source: "atlas-admin",
          ok: true,
          at: at(0),
          current: 400,
          limit: 500,
          tier: "M0",
          series,
          findings: [],
        },
      ],
      now: NOW,
    });
    expect(a.trendPerMinute).toBe(10);
    expect(a.minutesToLimit).toBe(10);
    expect(a.series.at(-1)).toEqual({ at: NOW.toISOString(), value: 400 });
  });

  it("reports no time to the limit when the count is falling, and no trend from a single point", () => {
    const falling = [5, 3].map((m) => ({ at: at(m), value: 300 + m * 20 }));
    const a = assess({
      readings: [
        {
          source: "atlas-admin",
          ok: true,
          at: at(0),
          current: 300,
          tier: "M0",
          series: falling,
          findings: [],
        },
      ],
      now: NOW,
    });
    expect(a.trendPerMinute).toBeLessThan(0);
    expect(a.minutesToLimit).toBeNull();
    expect(assess({ readings: [alertPercent(90)], tierHint: "M0", now: NOW }).trendPerMinute).toBeNull();
  });

  it("sorts the per-app breakdown, largest first", () => {
    const app = (name: string, connections: number) => ({
      app: name,
      env: null,
      region: null,
      driver: null,
      hosts: [],
      connections,
    });
    const a = assess({
      readings: [
        {
          source: "mongodb",
          ok: true,
          at: at(0),
          current: 60,
          available: 1440,
          byApp: [app("b", 10), app("a", 50)],
          findings: [],
        },
      ],
      now: NOW,
    });
    expect(a.byApp.map((x) => x.app)).toEqual(["a", "b"]);
    expect(a.attributed).toBe(true);
  });
});
