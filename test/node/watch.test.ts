/**
 * The cron watch's rules (src/incident/watch.ts) over the in-memory store, with an injected clock:
 * when a watch incident opens, that a time to the limit only warns, the hysteresis, the retention,
 * and that an Atlas alert joins a watch incident instead of superseding it.
 */
import { describe, expect, it } from "vitest";
import type { AtlasAlert } from "../../src/atlas/alert.ts";
import { applyDelivery } from "../../src/incident/intake.ts";
import { createMemoryStore, type MemoryStore } from "../../src/incident/memory-store.ts";
import type { Sample } from "../../src/incident/samples.ts";
import { escalate } from "../../src/incident/transitions.ts";
import {
  applyWatchSample,
  INITIAL_WATCH_STATE,
  MAX_SAMPLES_PER_CLUSTER,
  retainSamples,
  watchDecision,
} from "../../src/incident/watch.ts";
import type { Assessment } from "../../src/stats/assess.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

const POLICY = { actAtPercent: 80, watchEtaMinutes: 30 };
const GROUP = "5f1a2b3c4d5e6f7a8b9c0d1e";
const KEY = "name:Cluster0";
const T0 = Date.parse("2031-03-01T00:00:00.000Z");

const sample = (percent: number | null, minute = 0): Sample => ({
  at: new Date(T0 + minute * 60_000).toISOString(),
  current: percent === null ? null : percent * 5,
  limit: percent === null ? null : 500,
  percent,
  tier: "M0",
});

function assessment(at: Date, percent: number | null, minutesToLimit: number | null = null): Assessment {
  return {
    at: at.toISOString(),
    tier: "M0",
    current: percent === null ? null : percent * 5,
    limit: percent === null ? null : 500,
    percent,
    trendPerMinute: minutesToLimit === null ? null : 5,
    minutesToLimit,
    byApp: [],
    attributed: false,
    series: [],
    sources: [{ name: "atlas-admin", ok: percent !== null, error: percent === null ? "unreachable" : null }],
    findings: [],
  };
}

/** One cron run per call, a minute apart. */
function runner(store: MemoryStore) {
  let minute = 0;
  let ids = 0;
  return (percent: number | null, minutesToLimit: number | null = null) => {
    const now = new Date(T0 + minute++ * 60_000);
    return store.transaction(() =>
      applyWatchSample(store, {
        groupId: GROUP,
        clusterKey: KEY,
        clusterName: "Cluster0",
        assessment: assessment(now, percent, minutesToLimit),
        policy: POLICY,
        now,
        newId: () => `${GROUP}-w${++ids}`,
      }),
    );
  };
}

describe("watchDecision", () => {
  const decide = (recent: Sample[], extra: Partial<Parameters<typeof watchDecision>[0]> = {}) =>
    watchDecision({
      recent,
      minutesToLimit: null,
      policy: POLICY,
      state: INITIAL_WATCH_STATE,
      live: false,
      ...extra,
    });

  it("opens on the third consecutive sample at the threshold, not before", () => {
    expect(decide([sample(85), sample(90, 1)]).open).toBe(false);
    expect(decide([sample(85), sample(90, 1), sample(80, 2)]).open).toBe(true);
    expect(decide([sample(85), sample(79.9, 1), sample(90, 2)]).open).toBe(false);
  });

  it("a gap breaks the run and changes nothing", () => {
    expect(decide([sample(85), sample(null, 1), sample(90, 2)]).open).toBe(false);
    const gap = decide([sample(85), sample(90, 1), sample(null, 2)], {
      state: { armed: false, etaWarned: true },
    });
    expect(gap).toEqual({ open: false, warn: null, gap: true, state: { armed: false, etaWarned: true } });
  });

  it("never opens while the cluster has a live incident, nor while disarmed", () => {
    const over = [sample(85), sample(90, 1), sample(95, 2)];
    expect(decide(over, { live: true }).open).toBe(false);
    expect(decide(over, { state: { armed: false, etaWarned: false } }).open).toBe(false);
  });

  it("a short time to the limit warns once, and never opens", () => {
    const low = [sample(50), sample(60, 1), sample(70, 2)];
    const first = decide(low, { minutesToLimit: 6 });
    expect(first).toMatchObject({ open: false, warn: 6, state: { etaWarned: true } });
    expect(decide(low, { minutesToLimit: 5, state: first.state }).warn).toBeNull();
    const calm = decide(low, { minutesToLimit: 45, state: first.state });
    expect(calm.state.etaWarned).toBe(false);
    expect(decide(low, { minutesToLimit: 4, state: calm.state }).warn).toBe(4);
  });

  it("re-arms only at or below actAtPercent - 10", () => {
    const disarmed = { armed: false, etaWarned: false };
    expect(decide([sample(70.1)], { state: disarmed }).state.armed).toBe(false);
    expect(decide([sample(70)], { state: disarmed }).state.armed).toBe(true);
  });
});

describe("applyWatchSample over the memory store", () => {
  it("stores a sample per run, gaps included, and feeds the trend's readings", () => {
    const store = createMemoryStore();
    const run = runner(store);
    run(40);
    const gap = run(null);
    expect(gap).toMatchObject({ gap: true, opened: null, warned: null });
    const samples = store.samples(KEY, new Date(T0 - 1).toISOString());
    expect(samples.map((s) => s.percent)).toEqual([40, null]);
    expect(store.readings(KEY)).toHaveLength(1);
    expect(store.list({ limit: 10 })).toHaveLength(0);
  });

  it("3 consecutive samples over open one watch incident, not two", () => {
    const store = createMemoryStore();
    const run = runner(store);
    expect(run(85).opened).toBeNull();
    expect(run(88).opened).toBeNull();
    const third = run(90);
    expect(third.opened).not.toBeNull();
    expect(run(92).opened).toBeNull();
    expect(run(93).opened).toBeNull();
    const incidents = store.list({ limit: 10 });
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ origin: "watch", state: "open", phase: "gather", mode: null });
    expect(store.entries(third.opened!).map((e) => `${e.step}:${e.status}`)).toEqual(["watch:opened"]);
  });

  it("a short time to the limit alone notifies and opens nothing", () => {
    const store = createMemoryStore();
    const run = runner(store);
    expect(run(60, 6)).toMatchObject({ warned: 6, warnedOn: null, opened: null });
    expect(run(65, 5).warned).toBeNull(); // once per episode
    expect(store.list({ limit: 10 })).toHaveLength(0);
    const notices = store.snapshot().notices ?? [];
    expect(notices).toHaveLength(1);
    expect(notices[0]!.summary).toMatch(/about 6 min/);
  });

  it("a warning on a cluster with a live incident is journaled there", () => {
    const store = createMemoryStore();
    const run = runner(store);
    run(85);
    run(86);
    const { opened } = run(87);
    run(70); // the warning episode resets on a calm sample...
    const warned = run(75, 8);
    expect(warned).toMatchObject({ warned: 8, warnedOn: opened });
    expect(store.entries(opened!).map((e) => `${e.step}:${e.status}`)).toContain("watch:eta");
    expect(store.snapshot().notices ?? []).toHaveLength(0);
  });

  it("hysteresis: no second watch incident until 10 points below the threshold", () => {
    const store = createMemoryStore();
    const run = runner(store);
    run(85);
    run(85);
    const first = run(85).opened!;
    // The first resolves and closes (no Atlas alert joined it).
    store.transaction(() => store.update(first, new Date(T0).toISOString(), { state: "closed" }));
    for (const p of [75, 85, 86, 87, 88]) expect(run(p).opened).toBeNull();
    run(70); // re-armed
    run(85);
    run(85);
    expect(run(85).opened).not.toBeNull();
    expect(store.list({ limit: 10 })).toHaveLength(2);
  });

  it("an Atlas alert joins a watch incident, even one at rest", () => {
    const store = createMemoryStore();
    const run = runner(store);
    run(85);
    run(85);
    const id = run(85).opened!;
    const at = new Date(T0 + 10 * 60_000);
    store.transaction(() => escalate(store, id, at.toISOString(), "no target owns the cluster"));
    const alert = { ...M0_CONNECTIONS_OPEN, groupId: GROUP, clusterName: "Cluster0" } as AtlasAlert;
    const outcome = store.transaction(() =>
      applyDelivery(store, { alert, event: "alert.open", intent: "open", relevant: true }, at, () => "other"),
    );
    expect(outcome).toEqual({ status: "accepted", incident: id });
    expect(store.list({ limit: 10 })).toHaveLength(1);
  });
});

describe("retention", () => {
  it("keeps 7 days: all of the last 24 h, one per 10 minutes before", () => {
    const minutes = 8 * 24 * 60;
    const all = Array.from({ length: minutes + 1 }, (_, m) => ({
      at: new Date(T0 + m * 60_000).toISOString(),
    }));
    const now = T0 + minutes * 60_000;
    const times = retainSamples(all, now).map((s) => Date.parse(s.at));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(now - 7 * 24 * 3600_000);
    expect(times.filter((t) => t >= now - 24 * 3600_000)).toHaveLength(24 * 60 + 1);
    const older = times.filter((t) => t < now - 24 * 3600_000);
    expect(older.length).toBeGreaterThanOrEqual(6 * 144 - 1);
    expect(older.length).toBeLessThanOrEqual(6 * 144 + 1);
    const buckets = older.map((t) => Math.floor(t / 600_000));
    expect(new Set(buckets).size).toBe(buckets.length);
  });

  it("the memory store applies it as samples arrive, with an injected clock", () => {
    const store = createMemoryStore();
    // Every 4 minutes for 8 days: no real waiting, the sample's own time is the clock.
    const step = 4;
    const last = (8 * 24 * 60) / step;
    for (let i = 0; i <= last; i++) {
      const at = new Date(T0 + i * step * 60_000).toISOString();
      store.addSample(KEY, { at, current: i, limit: 500, percent: 1, tier: "M0", sources: [] });
    }
    const now = T0 + last * step * 60_000;
    const times = store.samples(KEY, new Date(0).toISOString()).map((s) => Date.parse(s.at));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(now - 7 * 24 * 3600_000);
    expect(times.filter((t) => t >= now - 24 * 3600_000)).toHaveLength((24 * 60) / step + 1);
    const older = times.filter((t) => t < now - 24 * 3600_000);
    const buckets = older.map((t) => Math.floor(t / 600_000));
    expect(new Set(buckets).size).toBe(buckets.length);
    expect(older.length).toBeGreaterThan(6 * 144 - 10);
  });

  it("caps the rows per cluster whatever the clock does", () => {
    const many = Array.from({ length: MAX_SAMPLES_PER_CLUSTER + 500 }, (_, i) => ({
      at: new Date(T0 + i * 1000).toISOString(),
    }));
    const kept = retainSamples(many, T0 + many.length * 1000);
    expect(kept).toHaveLength(MAX_SAMPLES_PER_CLUSTER);
    expect(kept.at(-1)).toEqual(many.at(-1));
  });
});
