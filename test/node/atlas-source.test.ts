/**
 * The "atlas-admin" stats source against the fake Atlas with the real client: tier → limit, Flex via
 * the Flex API, the busiest node's connections, and every upstream failure turned into a value.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeAtlas, type FakeCluster, startFakeAtlas } from "../../fakes/atlas-api.ts";
import { type AtlasAdminClient, createAtlasAdminClient } from "../../src/atlas/admin-client.ts";
import { ATLAS_MAX_MEASURED_PROCESSES } from "../../src/constants.ts";
import type { FetchLike } from "../../src/outbound/http.ts";
import { createAtlasStatsSource } from "../../src/stats/atlas-source.ts";
import type { StatsReading, StatsSuccess } from "../../src/stats/types.ts";

const NOW = Date.parse("2026-11-27T12:00:30Z");
const clock = { now: () => NOW };
const CLIENT_SECRET = "mdb_sa_sk_source-test-4411";

let fake: FakeAtlas;
let groupId: string;
let m0: FakeCluster;
let atlas: AtlasAdminClient;

function clientWith(
  overrides: { fetch?: FetchLike; baseUrl?: string; timeoutMs?: number; secret?: string } = {},
) {
  return createAtlasAdminClient({
    fetch: overrides.fetch ?? fetch,
    baseUrl: overrides.baseUrl ?? fake.baseUrl,
    auth: {
      kind: "service-account",
      clientId: "mdb_sa_id_source",
      clientSecret: overrides.secret ?? CLIENT_SECRET,
    },
    clock,
    sleep: async () => {},
    timeoutMs: overrides.timeoutMs,
  });
}

const read = (clusterName: string, client: AtlasAdminClient = atlas) =>
  createAtlasStatsSource({ client, groupId, clusterName, clock }).read();

function success(reading: StatsReading): StatsSuccess {
  if (!reading.ok) throw new Error(`expected success, got ${reading.reason}: ${reading.error}`);
  return reading;
}

beforeAll(async () => {
  fake = await startFakeAtlas({
    clock,
    serviceAccounts: [{ clientId: "mdb_sa_id_source", clientSecret: CLIENT_SECRET }],
  });
  groupId = fake.addProject();
  m0 = fake.addCluster(groupId, { name: "Cluster0", tier: "M0" });
  const [primary, second, third] = m0.processes;
  // The primary holds most app connections, but a secondary (read preference) was busier a minute ago.
  fake.recordHistory(primary!.id, [300, 320, null, 380], NOW);
  fake.recordHistory(second!.id, [100, 410, 90, null], NOW);
  fake.recordHistory(third!.id, [null, null, null, null], NOW);
  atlas = clientWith();
});

afterAll(() => fake.close());

beforeEach(() => {
  fake.clearFaults();
  fake.clearRequests();
});

describe("a successful read", () => {
  it("reports the tier's limit, the busiest node's latest count and the per-minute maximum", async () => {
    const reading = success(await read("Cluster0"));
    expect(reading).toMatchObject({
      source: "atlas-admin",
      at: new Date(NOW).toISOString(),
      tier: "M0",
      limit: 500,
    });
    expect(reading.current).toBe(380);
    expect(reading.series).toEqual([
      { at: "2026-11-27T11:57:00.000Z", value: 300 },
      { at: "2026-11-27T11:58:00.000Z", value: 410 },
      { at: "2026-11-27T11:59:00.000Z", value: 90 },
      { at: "2026-11-27T12:00:00.000Z", value: 380 },
    ]);
    expect(reading.findings).toEqual([]);
    const measured = fake.requests({ operationId: "getGroupProcessMeasurements" });
    expect(measured.map((r) => r.query.m)).toEqual([["CONNECTIONS"], ["CONNECTIONS"], ["CONNECTIONS"]]);
    expect(measured.every((r) => r.query.granularity?.[0] === "PT1M" && r.query.period?.[0] === "PT1H")).toBe(
      true,
    );
  });

  it("takes the live count the fake reads from connectionsNow (as an end-to-end test will plug in)", async () => {
    const live = fake.addCluster(groupId, { name: "Live", tier: "M10" });
    fake.setConnectionsNow((processId) => (processId === live.processes[2]!.id ? 1_470 : undefined));
    try {
      expect(success(await read("Live"))).toMatchObject({ tier: "M10", limit: 1500, current: 1_470 });
    } finally {
      fake.setConnectionsNow(undefined);
    }
  });

  it("uses the cloud for the limit where it matters (M80: AWS 96000, GCP 64000)", async () => {
    fake.addCluster(groupId, { name: "BigAws", tier: "M80", provider: "AWS" });
    fake.addCluster(groupId, { name: "BigGcp", tier: "M80", provider: "GCP" });
    expect(success(await read("BigAws")).limit).toBe(96000);
    expect(success(await read("BigGcp")).limit).toBe(64000);
  });

  it("reads a Flex cluster through the Flex API when the cluster API refuses it", async () => {
    fake.addCluster(groupId, { name: "FlexOne", tier: "FLEX" });
    const reading = success(await read("FlexOne"));
    expect(reading).toMatchObject({ tier: "FLEX", limit: 500 });
    expect(reading.current).toBeUndefined();
    expect(reading.findings).toEqual([
      { kind: "partial", detail: "the Admin API lists no processes for this cluster" },
    ]);
    expect(fake.requests().map((r) => `${r.operationId} ${r.status}`)).toContain("getGroupFlexCluster 200");
  });

  it("needs no Flex call for an M2 migrated to Flex that the cluster API still describes", async () => {
    fake.addCluster(groupId, { name: "OldM2", tier: "FLEX", migratedFrom: "M2" });
    const reading = success(await read("OldM2"));
    expect(reading).toMatchObject({ tier: "FLEX", limit: 500 });
    expect(fake.requests({ operationId: "getGroupFlexCluster" })).toEqual([]);
  });

  it("measures mongos first on a sharded cluster and says when it capped the nodes", async () => {
    const sharded = fake.addCluster(groupId, {
      name: "Shardy",
      tier: "M30",
      clusterType: "SHARDED",
      shards: 3,
    });
    const mongos = sharded.processes.filter((p) => p.typeName === "SHARD_MONGOS");
    fake.setConnections(mongos[4]!.id, 2_750);
    try {
      const reading = success(await read("Shardy"));
      expect(reading).toMatchObject({ tier: "M30", limit: 3000, current: 2_750 });
      expect(reading.findings).toEqual([
        {
          kind: "partial",
          detail: `measured ${ATLAS_MAX_MEASURED_PROCESSES} of ${sharded.processes.length} nodes`,
        },
      ]);
      const measured = fake.requests({ operationId: "getGroupProcessMeasurements" }).map((r) => r.path);
      for (const router of mongos) expect(measured.some((path) => path.includes(router.id))).toBe(true);
    } finally {
      fake.setConnections(mongos[4]!.id, null);
    }
  });

  it("says so when Atlas has no data points at all", async () => {
    fake.addCluster(groupId, { name: "Quiet", tier: "M10" });
    const reading = success(await read("Quiet"));
    expect(reading.current).toBeUndefined();
    expect(reading.series).toEqual([]);
    expect(reading.findings).toContainEqual({
      kind: "partial",
      detail: "Atlas returned no CONNECTIONS data points for this cluster",
    });
  });
});

describe("upstream failures are values, never exceptions", () => {
  it("not-found after trying the cluster API and the Flex API", async () => {
    const reading = await read("Missing");
    expect(reading).toMatchObject({ ok: false, reason: "not-found" });
    expect(!reading.ok && reading.error).toMatch(
      /atlas-admin GET .*\/clusters\/Missing answered 404 CLUSTER_NOT_FOUND/,
    );
    expect(fake.requests().map((r) => `${r.operationId} ${r.status}`)).toEqual([
      "getGroupCluster 404",
      "getGroupFlexCluster 404",
    ]);
  });

  it("auth when the credentials are refused, without the secret in the message", async () => {
    const reading = await read("Cluster0", clientWith({ secret: "mdb_sa_sk_definitely-wrong" }));
    expect(reading).toMatchObject({ ok: false, reason: "auth" });
    expect(JSON.stringify(reading)).not.toContain("mdb_sa_sk_definitely-wrong");
    expect(JSON.stringify(reading)).not.toContain(CLIENT_SECRET);
  });

  it("timeout when Atlas hangs", async () => {
    fake.failNext({ hang: true, match: { path: "/clusters/Cluster0" } });
    const reading = await read("Cluster0", clientWith({ timeoutMs: 120 }));
    expect(reading).toMatchObject({ ok: false, reason: "timeout" });
  });

  it("http when Atlas keeps failing, and when the network does", async () => {
    fake.failNext({ status: 500, count: 3, match: { path: "/clusters/Cluster0" } });
    expect(await read("Cluster0")).toMatchObject({ ok: false, reason: "http" });
    const refused = await read("Cluster0", clientWith({ baseUrl: "http://127.0.0.1:9" }));
    expect(refused).toMatchObject({ ok: false, reason: "http" });
    expect(!refused.ok && refused.error).toContain("failed before answering");
  });

  it("partial when processes cannot be listed: tier and limit still reported", async () => {
    fake.failNext({ status: 503, count: 3, match: { path: "/processes" } });
    const reading = success(await read("Cluster0"));
    expect(reading).toMatchObject({ tier: "M0", limit: 500 });
    expect(reading.current).toBeUndefined();
    expect(reading.findings[0]?.detail).toMatch(/^processes unavailable: atlas-admin GET .* answered 503/);
  });

  it("partial when some nodes cannot be measured: the others still count", async () => {
    fake.failNext({ status: 404, match: { path: `${m0.processes[0]!.id}/measurements` } });
    const reading = success(await read("Cluster0"));
    expect(reading.current).toBe(90);
    expect(reading.findings).toEqual([
      {
        kind: "partial",
        detail: expect.stringMatching(/^1 of 3 nodes could not be measured: .* answered 404/),
      },
    ]);
  });

  it("lets a bug (not an upstream failure) propagate", async () => {
    const broken = {
      ...atlas,
      getCluster: async () => {
        throw new TypeError("a bug");
      },
    };
    await expect(read("Cluster0", broken)).rejects.toThrow("a bug");
  });
});
