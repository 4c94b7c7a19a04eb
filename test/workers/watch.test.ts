/**
 * The cron watch through the Worker's `scheduled` handler, against the fake Atlas Admin API: a
 * sample per run, a gap that raises nothing, three samples over → one watch incident, a short time
 * to the limit → a notification and no incident, and nothing configured → nothing done. Each test
 * runs the handler with CLUSTERS narrowed to a cluster of its own.
 */
import { createScheduledController, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { close } from "../../src/incident/transitions.ts";
import worker from "../../src/index.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { LedgerStore } from "../../src/ledger/store.ts";
import { atlas, incident, steps } from "./e2e-support.ts";
import { admin, captureLogs, json } from "./support.ts";

const GROUP = "e2e0000000000000000000a9";
let clusterSeq = 0;

captureLogs(["watch.gap", "watch.opened", "watch.eta", "webhook.recorded"]);

beforeAll(async () => {
  await atlas.project(GROUP, []).catch(() => undefined);
});

async function newCluster(): Promise<{ name: string; processes: string[] }> {
  const name = `Watch${Date.now().toString(36)}${++clusterSeq}`;
  const response = await fetch(`${inject("atlasApiUrl")}/__fake/projects/${GROUP}/clusters`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, tier: "M0" }),
  });
  const made = (await response.json()) as { processes: Array<{ id: string }> };
  return { name, processes: made.processes.map((p) => p.id) };
}

const setConnections = (processes: string[], n: number) =>
  atlas.setConnections(Object.fromEntries(processes.map((p) => [p, n])));

async function tick(clusters: Array<{ name: string }>): Promise<void> {
  const scoped = {
    ...env,
    CLUSTERS: JSON.stringify(clusters.map((c) => ({ groupId: GROUP, name: c.name, tier: "M0" }))),
  };
  await worker.scheduled(
    createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }),
    scoped as never,
  );
}

const ledger = () => env.LEDGER.getByName(GROUP);

async function incidentsOf(cluster: string): Promise<Array<{ id: string; state: string }>> {
  const body = await json<{ incidents: Array<{ id: string; state: string }> }>(
    await admin(`/incidents?cluster=${cluster}&limit=50`),
  );
  return body.incidents;
}

async function notifications(predicate: (b: Record<string, unknown>) => boolean) {
  const response = await fetch(`${inject("notifyUrl")}/__control/requests?path=/hook`);
  const { requests } = (await response.json()) as { requests: Array<{ body: string }> };
  return requests.map((r) => JSON.parse(r.body) as Record<string, unknown>).filter(predicate);
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

describe("the cron watch", () => {
  it("does nothing when nothing is configured", async () => {
    await worker.scheduled(createScheduledController(), { ...env, CLUSTERS: "[]" } as never);
    expect(await env.LEDGER_INDEX.getByName("index").projects()).toEqual([]);
  });

  it("stores a sample per run, and a gap for a cluster it cannot read, with no incident", async () => {
    const readable = await newCluster();
    await setConnections(readable.processes, 100);
    const unreadable = { name: `Missing${++clusterSeq}` }; // not in the fake Atlas: every read fails
    await tick([readable, unreadable]);
    await tick([readable, unreadable]);
    const since = new Date(Date.now() - 3600_000).toISOString();
    const samples = await ledger().samples(readable.name, since);
    expect(samples).toHaveLength(2);
    expect(samples[1]).toMatchObject({ current: 100, limit: 500, percent: 20, tier: "M0" });
    const gaps = await ledger().samples(unreadable.name, since);
    expect(gaps).toHaveLength(2);
    expect(gaps[0]).toMatchObject({ current: null, percent: null });
    expect(await incidentsOf(unreadable.name)).toHaveLength(0);
    expect(await incidentsOf(readable.name)).toHaveLength(0);
  });

  it("opens one watch incident after three samples over, not two; then waits for the hysteresis", async () => {
    const cluster = await newCluster();
    await setConnections(cluster.processes, 450); // 90 % of M0's 500
    await tick([cluster]);
    await tick([cluster]);
    expect(await incidentsOf(cluster.name)).toHaveLength(0);
    await tick([cluster]);
    await tick([cluster]);
    const opened = await incidentsOf(cluster.name);
    expect(opened).toHaveLength(1);
    const detail = await incident(opened[0]!.id);
    expect(steps(detail)[0]).toBe("watch:opened");

    // It ends (here by hand); at 75 % no second one opens, at 65 % the watch re-arms.
    await runInDurableObject(ledger(), async (_instance: Ledger, state) => {
      const store = new LedgerStore(state.storage.sql, (fn) => state.storage.transactionSync(fn));
      store.transaction(() => close(store, opened[0]!.id, new Date().toISOString(), "test"));
    });
    await setConnections(cluster.processes, 375);
    for (let i = 0; i < 3; i++) await tick([cluster]);
    expect(await incidentsOf(cluster.name)).toHaveLength(1);
    await setConnections(cluster.processes, 325);
    await tick([cluster]);
    await setConnections(cluster.processes, 450);
    for (let i = 0; i < 3; i++) await tick([cluster]);
    expect(await incidentsOf(cluster.name)).toHaveLength(2);

    // The watch incident's state changes reach NOTIFY_WEBHOOK_URL, one POST each.
    const posts = await until(
      () => notifications((b) => b.incident === opened[0]!.id),
      (p) => p.some((b) => b.state === "closed"),
    );
    const states = posts.map((b) => b.state);
    expect(new Set(states).size).toBe(states.length);
    expect(states[0]).toBe("open");
  }, 30_000);

  it("a short time to the limit only notifies", async () => {
    const cluster = await newCluster();
    // A steep climb over the last minutes, now at 70 %: the limit is minutes away.
    for (const processId of cluster.processes) {
      await fetch(`${inject("atlasApiUrl")}/__fake/history/${processId}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ values: [100, 150, 200, 250, 300, 350], endingAt: Date.now() }),
      });
    }
    await setConnections(cluster.processes, 350);
    await tick([cluster]);
    await tick([cluster]);
    expect(await incidentsOf(cluster.name)).toHaveLength(0);
    const warnings = await until(
      () => notifications((b) => (b.cluster as { name: string }).name === cluster.name),
      (w) => w.length > 0,
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ incident: null, state: "warning", cluster: { groupId: GROUP } });
    expect(String(warnings[0]!.summary)).toMatch(/reaches its connection limit in about \d+ min/);
  });
});
