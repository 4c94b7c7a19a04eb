/**
 * The fix routine's killOp step against the fake server, with real driver clients and leaky-app
 * processes keeping slow queries running: the responder's own database user's long reads are listed
 * and killed (their clients see Interrupted), another user's are never touched, young ops and writes
 * are left alone, shared tiers skip without an error, and the responder's socket footprint stays the
 * same as a stats read's.
 */
import { MongoClient } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LeakyApp, spawnLeakyApp } from "../../fakes/leaky-app-process.ts";
import { type FakeMongo, type FakeOperationInfo, startFakeMongo } from "../../fakes/mongo-server.ts";
import type { KillLongOperationsResult } from "../../src/stats/kill-operations.ts";
import {
  createMongoOperations,
  createMongoStatsSource,
  type MongoStatsSuccess,
} from "../../src/stats/mongo-source.ts";

/** The user the responder connects with, shared with the apps (the common Atlas setup). */
const SHARED_USER = "usr-shared-5b1e";
const SHARED_PASSWORD = "pw-Shared-90c4d2";
/** A user of another team: the responder must never end its operations. */
const OTHER_USER = "usr-billing-77c0";
const OTHER_PASSWORD = "pw-Billing-1f2e3d";
const SELECTION_MS = 1_000;
const RESPONDER = "atlas-responder";
/** App data in a query's filter: must never reach a result. */
const SECRET_FILTER_VALUE = "ada.secret@example.com";
/** Long enough to outlive every test; ended by killOp or by the client closing. */
const STUCK_MS = 60_000;

const sharedUri = (fake: FakeMongo) => fake.uri({ user: SHARED_USER, password: SHARED_PASSWORD });
const otherUri = (fake: FakeMongo) => fake.uri({ user: OTHER_USER, password: OTHER_PASSWORD });
const operations = (uri: string) =>
  createMongoOperations({ uri, serverSelectionTimeoutMS: SELECTION_MS, clock: () => new Date(AT) });
const AT = "2026-03-04T05:06:07.000Z";

const clients: MongoClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
});

/** Starts a stuck find from an in-test client (so the test sees its answer) and waits until it runs. */
async function startStuckQuery(
  fake: FakeMongo,
  uri: string,
  appName: string,
  collection = `slow_${STUCK_MS}`,
): Promise<{ op: FakeOperationInfo; outcome: Promise<unknown> }> {
  const client = new MongoClient(uri, { appName, maxPoolSize: 1, serverSelectionTimeoutMS: SELECTION_MS });
  clients.push(client);
  const outcome = client
    .db("app")
    .collection(collection)
    .find({ email: SECRET_FILTER_VALUE })
    .toArray()
    .then(
      () => "finished",
      (error: unknown) => error,
    );
  await fake.waitFor(() => opsOf(fake, appName).length === 1);
  return { op: opsOf(fake, appName)[0]!, outcome };
}

const opsOf = (fake: FakeMongo, appName: string) => fake.runningOps().filter((op) => op.appName === appName);

/** Waits until `appName`'s running op is at least `seconds` old. */
const aged = (fake: FakeMongo, appName: string, seconds: number) =>
  fake.waitFor(() => opsOf(fake, appName).some((op) => op.secondsRunning >= seconds));

const responderGone = (fake: FakeMongo) => fake.waitFor(() => fake.openCount(RESPONDER) === 0, 1_000);

const killOpTargets = (fake: FakeMongo) =>
  fake
    .commandsSeen()
    .filter((c) => c.name === "killOp")
    .map((c) => c.command.op as number);

function expectNoSecrets(value: unknown, fake: FakeMongo): void {
  const shown = JSON.stringify(value);
  for (const secret of [
    SECRET_FILTER_VALUE,
    "stuck@example.com",
    "customerEmail",
    SHARED_PASSWORD,
    OTHER_PASSWORD,
    SHARED_USER,
    `:${fake.port}`,
  ]) {
    expect(shown).not.toContain(secret);
  }
}

describe("killing the responder's own long operations on a dedicated tier (M10)", () => {
  let fake: FakeMongo;
  let apps: LeakyApp[] = [];

  beforeAll(async () => {
    fake = await startFakeMongo({
      tier: "M10",
      users: { [SHARED_USER]: SHARED_PASSWORD, [OTHER_USER]: OTHER_PASSWORD },
    });
    apps = await Promise.all([
      // Shares the responder's user: its stuck query is the responder's to end.
      spawnLeakyApp({ uri: sharedUri(fake), app: "shop-web", connections: 3, slowQueryMs: STUCK_MS }),
      // Another user: out of reach, whatever it does.
      spawnLeakyApp({ uri: otherUri(fake), app: "billing", connections: 3, slowQueryMs: STUCK_MS }),
    ]);
    await Promise.all([aged(fake, "shop-web", 0), aged(fake, "billing", 0)]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.kill()));
    await fake?.close();
  });

  it("lists the own user's long operations in a stats reading, without command or filter", async () => {
    await Promise.all([aged(fake, "shop-web", 0.3), aged(fake, "billing", 0.3)]);
    const [shop] = opsOf(fake, "shop-web");
    const reading = (await createMongoStatsSource({
      uri: sharedUri(fake),
      serverSelectionTimeoutMS: SELECTION_MS,
      longOperationSeconds: 0.2,
    }).read()) as MongoStatsSuccess;

    expect(reading.ok).toBe(true);
    expect(reading.ownLongOperations).toEqual([
      {
        opid: shop!.opid,
        secondsRunning: expect.any(Number),
        app: "shop-web",
        ns: `app.slow_${STUCK_MS}`,
        op: "query",
      },
    ]);
    expect(reading.ownLongOperations![0]!.secondsRunning).toBeGreaterThanOrEqual(0.3);
    // billing's op is running (and attributed), but it is not ours.
    expect(reading.byApp?.map((group) => group.app).sort()).toEqual(["billing", "shop-web"]);
    expectNoSecrets(reading, fake);

    // With the default threshold (a minute) nothing here is long yet.
    const calm = (await createMongoStatsSource({
      uri: sharedUri(fake),
      serverSelectionTimeoutMS: SELECTION_MS,
    }).read()) as MongoStatsSuccess;
    expect(calm.ownLongOperations).toEqual([]);
    await responderGone(fake);
  });

  it("kills the own user's long reads — their clients see Interrupted — and never another user's", async () => {
    const report = await startStuckQuery(fake, sharedUri(fake), "report-ui");
    const otherDirect = await startStuckQuery(fake, otherUri(fake), "billing-admin");
    await Promise.all([
      aged(fake, "report-ui", 0.3),
      aged(fake, "shop-web", 0.3),
      aged(fake, "billing", 0.3),
      aged(fake, "billing-admin", 0.3),
    ]);
    const [shop] = opsOf(fake, "shop-web");
    const [billing] = opsOf(fake, "billing");
    await responderGone(fake);
    fake.resetMaxOpenCounts();

    const result = await operations(sharedUri(fake)).killOwnLongOperations({ minSeconds: 0.2 });

    expect(result).toMatchObject({ ok: true, at: AT, refused: [], spared: [] });
    expect(result).not.toHaveProperty("skipped");
    const killed = (result as Extract<KillLongOperationsResult, { ok: true }>).killed;
    expect(killed.map((op) => op.opid).sort()).toEqual([shop!.opid, report.op.opid].sort());
    expect(killed.find((op) => op.app === "report-ui")).toEqual({
      opid: report.op.opid,
      secondsRunning: expect.any(Number),
      app: "report-ui",
      ns: `app.slow_${STUCK_MS}`,
      op: "query",
    });

    // The killed query's client got mongod's answer for an interrupted operation.
    expect(await report.outcome).toMatchObject({
      code: 11601,
      codeName: "Interrupted",
      message: "operation was interrupted",
    });
    const running = fake.runningOps().map((op) => op.opid);
    expect(running).not.toContain(report.op.opid);
    expect(running).not.toContain(shop!.opid);
    // The other user's operations run on: never listed as ours, never a killOp aimed at them.
    expect(running).toEqual(expect.arrayContaining([billing!.opid, otherDirect.op.opid]));
    expect(killOpTargets(fake)).not.toContain(billing!.opid);
    expect(killOpTargets(fake)).not.toContain(otherDirect.op.opid);
    expect(fake.killedOps().every((k) => k.target?.user === SHARED_USER)).toBe(true);

    // The same footprint as a stats read: monitor + one pooled connection, none after.
    expect(fake.maxOpenCountBy(RESPONDER)).toBeLessThanOrEqual(2);
    await responderGone(fake);
    expect(fake.openCount(RESPONDER)).toBe(0);
    expectNoSecrets(result, fake);

    // An app stuck on a query asks again: the kill buys time, it does not fix the query.
    await fake.waitFor(() => opsOf(fake, "shop-web").some((op) => op.opid !== shop!.opid));
  });

  it("leaves own operations younger than the threshold alone", async () => {
    const old = await startStuckQuery(fake, sharedUri(fake), "old-query");
    await aged(fake, "old-query", 0.8);
    const young = await startStuckQuery(fake, sharedUri(fake), "young-query");

    const result = await operations(sharedUri(fake)).killOwnLongOperations({ minSeconds: 0.5 });

    expect(result.ok).toBe(true);
    const killedIds = result.killed.map((op) => op.opid);
    expect(killedIds).toContain(old.op.opid);
    expect(killedIds).not.toContain(young.op.opid);
    expect(killOpTargets(fake)).not.toContain(young.op.opid);
    expect(fake.runningOps().map((op) => op.opid)).toContain(young.op.opid);
    expect(await old.outcome).toMatchObject({ code: 11601 });

    // The default threshold is a minute: nothing in this test is that old.
    const calm = await operations(sharedUri(fake)).killOwnLongOperations();
    expect(calm).toEqual({ ok: true, at: AT, killed: [], refused: [], spared: [] });
  });

  it("spares an own long operation that writes (an aggregate with $out)", async () => {
    const client = new MongoClient(sharedUri(fake), {
      appName: "nightly-rollup",
      maxPoolSize: 1,
      serverSelectionTimeoutMS: SELECTION_MS,
    });
    clients.push(client);
    const outcome = client
      .db("app")
      .collection(`slow_${STUCK_MS}`)
      .aggregate([{ $match: { email: SECRET_FILTER_VALUE } }, { $out: "rollup" }])
      .toArray()
      .catch((error: unknown) => error);
    await aged(fake, "nightly-rollup", 0.3);
    const [rollup] = opsOf(fake, "nightly-rollup");

    const result = await operations(sharedUri(fake)).killOwnLongOperations({ minSeconds: 0.2 });

    expect(result.ok).toBe(true);
    const ok = result as Extract<KillLongOperationsResult, { ok: true }>;
    expect(ok.spared).toEqual([
      {
        opid: rollup!.opid,
        secondsRunning: expect.any(Number),
        app: "nightly-rollup",
        ns: `app.slow_${STUCK_MS}`,
        op: "command",
        reason: "not-a-read",
      },
    ]);
    expect(ok.killed.map((op) => op.opid)).not.toContain(rollup!.opid);
    expect(fake.runningOps().map((op) => op.opid)).toContain(rollup!.opid);
    expectNoSecrets(result, fake);
    await client.close();
    await outcome;
  });
});

describe("killing own long operations on a shared tier (M0)", () => {
  let fake: FakeMongo;
  let app: LeakyApp;

  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M0", users: { [SHARED_USER]: SHARED_PASSWORD } });
    app = await spawnLeakyApp({
      uri: sharedUri(fake),
      app: "free-app",
      connections: 2,
      slowQueryMs: STUCK_MS,
    });
    await aged(fake, "free-app", 0.3);
  });
  afterAll(async () => {
    await app?.kill();
    await fake?.close();
  });

  it("attempts nothing and reports the tier, not an error", async () => {
    const [stuck] = opsOf(fake, "free-app");
    const result = await operations(sharedUri(fake)).killOwnLongOperations({ minSeconds: 0 });

    expect(result).toEqual({ ok: true, at: AT, killed: [], refused: [], spared: [], skipped: "tier" });
    expect(killOpTargets(fake)).toEqual([]);
    expect(fake.runningOps().map((op) => op.opid)).toContain(stuck!.opid);
    await responderGone(fake);
  });

  it("lists no own long operations in a stats reading there", async () => {
    const reading = (await createMongoStatsSource({
      uri: sharedUri(fake),
      serverSelectionTimeoutMS: SELECTION_MS,
      longOperationSeconds: 0,
    }).read()) as MongoStatsSuccess;
    expect(reading.ok).toBe(true);
    expect(reading).not.toHaveProperty("ownLongOperations");
    expect(reading.findings).toEqual([{ kind: "tier-refused", detail: expect.any(String) }]);
  });
});

describe("killing own long operations when it cannot", () => {
  let fake: FakeMongo;
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10", users: { [SHARED_USER]: SHARED_PASSWORD } });
  });
  afterAll(() => fake?.close());

  it("skips without connecting when the connection string names no user to own operations", async () => {
    const before = fake.totalCreated();
    const result = await operations(fake.uri()).killOwnLongOperations({ minSeconds: 0 });
    expect(result).toEqual({ ok: true, at: AT, killed: [], refused: [], spared: [], skipped: "no-user" });
    expect(fake.totalCreated()).toBe(before);
  });

  it("reports bad credentials as auth, without secrets", async () => {
    const uri = fake.uri({ user: SHARED_USER, password: "pw-Wrong-77aa01" });
    const result = await operations(uri).killOwnLongOperations({ minSeconds: 0 });
    expect(result).toMatchObject({ ok: false, at: AT, reason: "auth", killed: [] });
    expect(JSON.stringify(result)).not.toContain("pw-Wrong-77aa01");
    expectNoSecrets(result, fake);
  });

  it("reports a port nobody listens on as refused, and a bad string as config, without echoing them", async () => {
    const closed = await startFakeMongo();
    const uri = closed.uri({ user: SHARED_USER, password: SHARED_PASSWORD });
    await closed.close();
    const refused = await operations(uri).killOwnLongOperations();
    expect(refused).toMatchObject({ ok: false, reason: "refused", killed: [] });
    expect(JSON.stringify(refused)).not.toContain(String(closed.port));

    const config = await operations(
      "mongodb://usr-cfg-1:pw-Cfg@Secret-1@db.internal.example/",
    ).killOwnLongOperations();
    expect(config).toMatchObject({ ok: false, reason: "config", killed: [] });
    expect(JSON.stringify(config)).not.toMatch(/usr-cfg-1|Secret-1|db\.internal\.example/);
  });
});
