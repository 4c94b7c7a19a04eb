/**
 * The MongoDB stats source in Node against the fake server, with real leaky-app processes holding
 * connections: attribution per app and platform, the M0 refusal, a full or hung cluster, bad
 * credentials, the responder's own socket footprint, and that no failure ever shows a secret.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LeakyApp, spawnLeakyApp } from "../../fakes/leaky-app-process.ts";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";
import { createMongoStatsSource } from "../../src/stats/mongo-source.ts";
import type { StatsFailure, StatsReading, StatsSuccess } from "../../src/stats/types.ts";

const USER = "usr-n7c2d0";
const PASSWORD = "pw-Node-4e9b1a";
/** Short enough to keep failure tests fast, long enough for a loaded CI machine to connect. */
const SELECTION_MS = 1_000;
const RESPONDER = "atlas-responder";

const authedUri = (fake: FakeMongo, password = PASSWORD, user = USER) => fake.uri({ user, password });
const read = (uri: string) => createMongoStatsSource({ uri, serverSelectionTimeoutMS: SELECTION_MS }).read();

/** A read's close() has returned before the server sees the FINs; wait for them so counts are exact. */
const responderGone = (fake: FakeMongo) => fake.waitFor(() => fake.openCount(RESPONDER) === 0, 1_000);

/** Failure readings end up in Slack, logs and API answers: none may show how to reach the cluster. */
function expectNoSecrets(reading: StatsReading, secrets: string[]): void {
  const shown = JSON.stringify(reading);
  for (const secret of secrets) expect(shown).not.toContain(secret);
}

describe("mongo stats source on a dedicated tier (M10)", () => {
  let fake: FakeMongo;
  let apps: LeakyApp[] = [];

  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10", users: { [USER]: PASSWORD } });
    apps = await Promise.all([
      spawnLeakyApp({
        uri: authedUri(fake),
        app: "shop-web",
        connections: 4,
        env: { VERCEL: "1", VERCEL_REGION: "iad1" },
      }),
      spawnLeakyApp({ uri: authedUri(fake), app: "report-jobs", connections: 4, style: "clients" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.kill()));
    await fake?.close();
  });

  it("attributes connections to each app and platform, leaving itself out", async () => {
    const at = new Date("2026-03-04T05:06:07.000Z");
    const reading = await createMongoStatsSource({
      uri: authedUri(fake),
      clock: () => at,
      serverSelectionTimeoutMS: SELECTION_MS,
    }).read();

    expect(reading.ok).toBe(true);
    const success = reading as StatsSuccess;
    expect(success).toMatchObject({ source: "mongodb", at: at.toISOString(), limit: 500, findings: [] });
    // 4 + 4 leaky sockets plus the responder's own two, which serverStatus counts like any other.
    expect(success.current).toBe(10);
    expect(success.available).toBe(490);
    expect(success.totalCreated).toBe(fake.totalCreated());
    expect(success.byApp).toEqual([
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
  });

  it("holds at most two sockets during a read and none after it", async () => {
    await responderGone(fake);
    fake.resetMaxOpenCounts();
    const reading = await read(authedUri(fake));
    expect(reading.ok).toBe(true);
    expect(fake.maxOpenCountBy(RESPONDER)).toBe(2);
    await responderGone(fake);
  });

  it("sees the count drop once a leaky app is gone (the verify step)", async () => {
    const jobs = apps.find((app) => app.app === "report-jobs")!;
    await jobs.kill();
    await fake.waitFor(() => fake.openCount("report-jobs") === 0, 2_000);
    await responderGone(fake);
    const reading = (await read(authedUri(fake))) as StatsSuccess;
    expect(reading.current).toBe(6);
    expect(reading.byApp?.map((group) => group.app)).toEqual(["shop-web"]);
  });

  it("reports bad credentials as auth, without secrets", async () => {
    for (const [user, password] of [
      [USER, "pw-Wrong-0d0d0d"],
      ["usr-unknown-91", PASSWORD],
    ] as const) {
      const reading = await read(authedUri(fake, password, user));
      expect(reading).toMatchObject({ ok: false, reason: "auth", findings: [] });
      expectNoSecrets(reading, [password, user, "127.0.0.1", String(fake.port)]);
    }
  });

  it("reports a user who may not run serverStatus as auth", async () => {
    const reading = await read(fake.uri());
    expect(reading).toMatchObject({ ok: false, reason: "auth" });
    expect((reading as StatsFailure).error).toMatch(/clusterMonitor/);
  });
});

describe("mongo stats source through a mongos (sharded cluster)", () => {
  let fake: FakeMongo;
  let app: LeakyApp;

  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M30", users: { [USER]: PASSWORD }, mongos: true });
    app = await spawnLeakyApp({ uri: authedUri(fake), app: "shard-web", connections: 3 });
  });
  afterAll(async () => {
    await app?.kill();
    await fake?.close();
  });

  it("lists the router's own connections (localOps) and says the breakdown is one router's", async () => {
    const reading = await read(authedUri(fake));
    expect(reading.ok).toBe(true);
    const success = reading as StatsSuccess;
    expect(success.byApp).toEqual([expect.objectContaining({ app: "shard-web", connections: 3 })]);
    expect(success.findings).toEqual([
      { kind: "partial", detail: expect.stringMatching(/mongos.*one router's/) },
    ]);
    const stages = fake
      .commandsSeen()
      .filter((c) => c.name === "aggregate" && c.appName === RESPONDER)
      .map((c) => (c.command.pipeline as Array<Record<string, unknown>>)[0]?.$currentOp);
    expect(stages.at(-1)).toMatchObject({ localOps: true, allUsers: true, idleConnections: true });
  });
});

describe("mongo stats source on a replica set (not a router)", () => {
  let fake: FakeMongo;
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10", users: { [USER]: PASSWORD } });
  });
  afterAll(() => fake?.close());

  it("does not send localOps, which is for mongos only", async () => {
    expect((await read(authedUri(fake))).ok).toBe(true);
    const stage = fake
      .commandsSeen()
      .filter((c) => c.name === "aggregate")
      .map((c) => (c.command.pipeline as Array<Record<string, unknown>>)[0]?.$currentOp)
      .at(-1);
    expect(stage).toBeDefined();
    expect(stage).not.toHaveProperty("localOps");
  });
});

describe("mongo stats source on a shared tier (M0)", () => {
  let fake: FakeMongo;
  let app: LeakyApp;

  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M0" });
    app = await spawnLeakyApp({ uri: fake.uri(), app: "free-tier-app", connections: 3 });
  });
  afterAll(async () => {
    await app?.kill();
    await fake?.close();
  });

  it("reports current and limit with a tier-refused finding and no byApp, not an error", async () => {
    const reading = await read(fake.uri());
    expect(reading.ok).toBe(true);
    const success = reading as StatsSuccess;
    expect(success.current).toBe(5);
    expect(success.limit).toBe(500);
    expect(success.byApp).toBeUndefined();
    expect(success.findings).toEqual([
      { kind: "tier-refused", detail: expect.stringContaining("$currentOp") },
    ]);
  });
});

describe("mongo stats source when it cannot get in", () => {
  let fake: FakeMongo;
  let hog: LeakyApp;

  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M0", connectionLimit: 3 });
    hog = await spawnLeakyApp({ uri: fake.uri(), app: "hog", connections: 3 });
  });
  afterAll(async () => {
    await hog?.kill();
    await fake?.close();
  });

  it.each([
    ["no free slot (the monitor is refused)", 3],
    ["one free slot (the monitor gets in, the pooled connection is refused)", 4],
  ])("reads a full cluster as refused + cluster-full, quickly: %s", async (_case, limit) => {
    await responderGone(fake);
    fake.setConnectionLimit(limit);
    try {
      const rejectedBefore = fake.rejectedCount();
      const started = Date.now();
      const reading = await read(fake.uri());
      expect(Date.now() - started).toBeLessThan(SELECTION_MS + 1_500);
      expect(reading).toMatchObject({ ok: false, reason: "refused" });
      expect(reading.findings).toEqual([{ kind: "cluster-full", detail: expect.any(String) }]);
      expect(fake.rejectedCount()).toBeGreaterThan(rejectedBefore);
      expectNoSecrets(reading, ["127.0.0.1", String(fake.port)]);
      await responderGone(fake);
    } finally {
      fake.setConnectionLimit(3);
    }
  });

  it("reads a hung server as a timeout within the selection budget", async () => {
    fake.setConnectionLimit(500);
    fake.setStalled(true);
    try {
      const started = Date.now();
      const reading = await read(fake.uri());
      expect(Date.now() - started).toBeLessThan(SELECTION_MS + 1_500);
      expect(reading).toMatchObject({ ok: false, reason: "timeout", findings: [] });
    } finally {
      fake.setStalled(false);
      fake.setConnectionLimit(3);
    }
  });

  it("reads a port nobody listens on as refused, without claiming the cluster is full", async () => {
    const closed = await startFakeMongo();
    const uri = closed.uri();
    await closed.close();
    const reading = await read(uri);
    expect(reading).toMatchObject({ ok: false, reason: "refused", findings: [] });
    expectNoSecrets(reading, [String(closed.port)]);
  });
});

describe("mongo stats source configuration errors", () => {
  it.each([
    ["a malformed port", "mongodb://usr-cfg-1:pw-Cfg-Secret-1@db.internal.example:notaport/"],
    ["a foreign scheme", "postgres://usr-cfg-1:pw-Cfg-Secret-1@db.internal.example/"],
    ["an unescaped password", "mongodb://usr-cfg-1:pw-Cfg@Secret-1@db.internal.example/"],
  ])("reads %s as config, without echoing it", async (_case, uri) => {
    const reading = await read(uri);
    expect(reading).toMatchObject({ ok: false, reason: "config", findings: [] });
    expectNoSecrets(reading, ["usr-cfg-1", "Secret-1", "db.internal.example"]);
  });

  it("reads an unresolvable SRV host as not-found, without echoing it", async () => {
    const reading = await read("mongodb+srv://usr-cfg-1:pw-Cfg-Secret-1@cluster0.nowhere.invalid/");
    expect(reading).toMatchObject({ ok: false, reason: "not-found" });
    expectNoSecrets(reading, ["usr-cfg-1", "Secret-1", "nowhere.invalid"]);
  });
});
