/**
 * The MongoDB stats source inside workerd (nodejs_compat's node:net), against fake servers and real
 * leaky-app processes run by the Node-side control plane (test/workers/setup/mongo.global.ts).
 * Proves the driver path works in the Worker runtime, not just in Node.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createMongoStatsSource } from "../../src/stats/mongo-source.ts";
import type { StatsFailure, StatsSuccess } from "../../src/stats/types.ts";
import type { FakeCreated, FakeMongoStats } from "./setup/mongo.global.ts";

const CONTROL = inject("mongoControlUrl");
const USER = "usr-w3f81c";
const PASSWORD = "pw-Workerd-7c1f9e";
/** Short enough to keep failure tests fast, long enough for a loaded CI machine to connect. */
const SELECTION_MS = 1_500;

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${CONTROL}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${payload.error}`);
  return payload;
}

const uriFor = (fake: FakeCreated, password = PASSWORD) =>
  `mongodb://${USER}:${encodeURIComponent(password)}@127.0.0.1:${fake.port}/?directConnection=true`;

describe("mongo stats source inside workerd", () => {
  let m10: FakeCreated;
  let m0: FakeCreated;

  beforeAll(async () => {
    [m10, m0] = await Promise.all([
      control<FakeCreated>("POST", "/fakes", { tier: "M10", users: { [USER]: PASSWORD } }),
      control<FakeCreated>("POST", "/fakes", { tier: "M0", users: { [USER]: PASSWORD } }),
    ]);
    await Promise.all([
      control("POST", `/fakes/${m10.id}/leaky-apps`, {
        app: "shop-web",
        connections: 4,
        env: { VERCEL: "1", VERCEL_REGION: "iad1" },
        uri: uriFor(m10),
      }),
      control("POST", `/fakes/${m10.id}/leaky-apps`, {
        app: "report-jobs",
        connections: 4,
        style: "clients",
        uri: uriFor(m10),
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([m10, m0].filter(Boolean).map((fake) => control("DELETE", `/fakes/${fake.id}`)));
  });

  it("attributes connections per app on M10 and closes its own sockets", async () => {
    await control("POST", `/fakes/${m10.id}/reset-max-open`);
    const source = createMongoStatsSource({ uri: uriFor(m10), serverSelectionTimeoutMS: SELECTION_MS });
    const reading = (await source.read()) as StatsSuccess;

    expect(reading).toMatchObject({ source: "mongodb", ok: true, limit: 500, findings: [] });
    // 4 + 4 leaky sockets, plus the responder's monitor and its one pooled connection.
    expect(reading.current).toBe(10);
    expect(reading.byApp).toEqual([
      {
        app: "report-jobs",
        env: null,
        region: null,
        driver: "nodejs 7.9.0",
        hosts: ["127.0.0.1"],
        connections: 4,
      },
      {
        app: "shop-web",
        env: "vercel",
        region: "iad1",
        driver: "nodejs 7.9.0",
        hosts: ["127.0.0.1"],
        connections: 4,
      },
    ]);

    const after = await control<FakeMongoStats>("POST", `/fakes/${m10.id}/wait-open`, {
      appName: "atlas-responder",
      count: 0,
    });
    expect(after.maxOpenByApp["atlas-responder"]).toBe(2);
  });

  it("reports counts and a tier-refused finding on M0, without failing", async () => {
    const reading = (await createMongoStatsSource({
      uri: uriFor(m0),
      serverSelectionTimeoutMS: SELECTION_MS,
    }).read()) as StatsSuccess;
    expect(reading.ok).toBe(true);
    expect(reading.current).toBe(2);
    expect(reading.limit).toBe(500);
    expect(reading.byApp).toBeUndefined();
    expect(reading.findings.map((f) => f.kind)).toEqual(["tier-refused"]);
  });

  it("treats a cluster at its limit as refused with a cluster-full finding", async () => {
    const full = await control<FakeCreated>("POST", "/fakes", { tier: "M0", connectionLimit: 2 });
    try {
      await control("POST", `/fakes/${full.id}/leaky-apps`, { app: "hog", connections: 2 });
      const started = Date.now();
      const reading = (await createMongoStatsSource({
        uri: `mongodb://127.0.0.1:${full.port}/?directConnection=true`,
        serverSelectionTimeoutMS: SELECTION_MS,
      }).read()) as StatsFailure;
      expect(Date.now() - started).toBeLessThan(SELECTION_MS + 2_000);
      expect(reading).toMatchObject({ ok: false, reason: "refused" });
      expect(reading.findings.map((f) => f.kind)).toEqual(["cluster-full"]);
      const stats = await control<FakeMongoStats>("GET", `/fakes/${full.id}`);
      expect(stats.rejected).toBeGreaterThan(0);
      expect(stats.open).toBe(2);
    } finally {
      await control("DELETE", `/fakes/${full.id}`);
    }
  });

  it("reports bad credentials as auth and never echoes the URI", async () => {
    const wrong = "pw-Wrong-55aa01";
    const reading = (await createMongoStatsSource({
      uri: uriFor(m0, wrong),
      serverSelectionTimeoutMS: SELECTION_MS,
    }).read()) as StatsFailure;
    expect(reading).toMatchObject({ ok: false, reason: "auth" });
    const shown = JSON.stringify(reading);
    for (const secret of [wrong, USER, "127.0.0.1", String(m0.port)]) expect(shown).not.toContain(secret);
  });

  it("reports an invalid connection string as config, without echoing it", async () => {
    const reading = await createMongoStatsSource({
      uri: `mongodb://${USER}:${PASSWORD}@db.example:port/`,
    }).read();
    expect(reading).toMatchObject({ ok: false, reason: "config" });
    const shown = JSON.stringify(reading);
    for (const secret of [USER, PASSWORD, "db.example"]) expect(shown).not.toContain(secret);
  });

  it("reports a hung server as a timeout", async () => {
    const hung = await control<FakeCreated>("POST", "/fakes", { tier: "M10" });
    try {
      await control("PATCH", `/fakes/${hung.id}`, { stalled: true });
      const reading = await createMongoStatsSource({
        uri: hung.uri,
        serverSelectionTimeoutMS: SELECTION_MS,
      }).read();
      expect(reading).toMatchObject({ ok: false, reason: "timeout" });
    } finally {
      await control("DELETE", `/fakes/${hung.id}`);
    }
  });
});
