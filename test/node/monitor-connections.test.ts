/** `monitor:connections` against the fake MongoDB server and real leaky app processes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAtlas } from "../../fakes/atlas-api.ts";
import { type LeakyApp, spawnLeakyApp } from "../../fakes/leaky-app-process.ts";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";
import { monitorConnections, sparkline } from "../../src/cli/monitor-connections.ts";

let m10: FakeMongo;
let m0: FakeMongo;
const apps: LeakyApp[] = [];

beforeAll(async () => {
  [m10, m0] = await Promise.all([
    startFakeMongo({ tier: "M10", connectionLimit: 200 }),
    startFakeMongo({ tier: "M0", connectionLimit: 100 }),
  ]);
  apps.push(
    await spawnLeakyApp({
      uri: m10.uri(),
      app: "shop-web",
      connections: 8,
      style: "clients",
      env: { VERCEL: "1", VERCEL_REGION: "iad1" },
    }),
    await spawnLeakyApp({ uri: m10.uri(), app: "admin", connections: 2, style: "clients" }),
    await spawnLeakyApp({ uri: m0.uri(), app: "shop-web", connections: 6, style: "clients" }),
  );
}, 30_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.kill()));
  await Promise.all([m10.close(), m0.close()]);
});

async function run(argv: string[], env: Record<string, unknown>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await monitorConnections(
    argv,
    { ATLAS_WEBHOOK_SECRET: "x-secret", ...env },
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe("monitor:connections --once --json", () => {
  it("attributes connections per app on a dedicated tier", async () => {
    const { code, out } = await run(["--cluster", "Shop", "--once", "--json"], { MONGODB_URI: m10.uri() });
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const doc = JSON.parse(out[0]!);
    expect(Object.keys(doc)).toEqual(["cluster", "tier", "current", "limit", "percent", "byApp", "sources"]);
    expect(doc.byApp).toEqual([
      { app: "shop-web", env: "vercel", connections: 8 },
      { app: "admin", env: null, connections: 2 },
    ]);
    expect(doc.limit).toBe(200);
    expect(doc.sources).toEqual([{ name: "mongodb", ok: true, error: null }]);
  });

  it("on M0 reports current / limit / percent with an empty per-app list and no error", async () => {
    const { code, out } = await run(["--cluster", "Cluster0", "--once", "--json"], { MONGODB_URI: m0.uri() });
    expect(code).toBe(0);
    const doc = JSON.parse(out[0]!);
    expect(doc.byApp).toEqual([]);
    expect(doc.limit).toBe(100);
    expect(doc.current).toBeGreaterThanOrEqual(6);
    expect(doc.percent).toBeCloseTo((doc.current / 100) * 100, 1);
    expect(doc.sources).toEqual([{ name: "mongodb", ok: true, error: null }]);
  });

  it("exits 1 with the failure in the document when no source answers, without printing the URI", async () => {
    const uri =
      "mongodb://monitor:pa55word-secret@127.0.0.1:9/?directConnection=true&serverSelectionTimeoutMS=500";
    const { code, out } = await run(["--cluster", "Gone", "--once", "--json"], { MONGODB_URI: uri });
    expect(code).toBe(1);
    expect(JSON.parse(out[0]!).sources[0]).toMatchObject({ name: "mongodb", ok: false });
    expect(out.join("\n")).not.toContain("pa55word");
  }, 15_000);

  it("exits 2 for usage and configuration errors, naming keys but never values", async () => {
    expect((await run(["--once"], { MONGODB_URI: m0.uri() })).code).toBe(2);
    expect((await run(["--cluster", "C", "--interval", "0"], { MONGODB_URI: m0.uri() })).code).toBe(2);
    expect((await run(["--cluster", "C", "--bogus"], {})).code).toBe(2);
    expect((await run(["--cluster", "C", "--once"], {})).code).toBe(2);
    const bad = await run(["--cluster", "C", "--once"], { MONGODB_URI: "postgres://user:hunter2@db" });
    expect(bad.code).toBe(2);
    expect(bad.err.join("\n")).toContain("MONGODB_URI");
    expect(bad.err.join("\n")).not.toContain("hunter2");
  });

  it("exits 2 naming the key when MongoDB or Atlas refuse the credentials, never printing them", async () => {
    const secured = await startFakeMongo({ tier: "M10", users: { monitor: "right-pass-123" } });
    const atlas = await startFakeAtlas({
      serviceAccounts: [{ clientId: "mdb_sa_id_cli", clientSecret: "mdb_sa_sk_right-7a" }],
    });
    try {
      const badUri = secured.uri({ user: "monitor", password: "wrong-pass-456" });
      const mongo = await run(["--cluster", "C", "--once", "--json"], { MONGODB_URI: badUri });
      expect(mongo.code).toBe(2);
      expect(mongo.err.join("\n")).toMatch(/^MONGODB_URI: /);
      expect(mongo.err.join("\n")).not.toContain("wrong-pass-456");

      const groupId = atlas.addProject();
      atlas.addCluster(groupId, { name: "C", tier: "M10" });
      const api = await run(["--cluster", "C", "--group", groupId, "--once", "--json"], {
        ATLAS_API_BASE_URL: atlas.baseUrl,
        ATLAS_CLIENT_ID: "mdb_sa_id_cli",
        ATLAS_CLIENT_SECRET: "mdb_sa_sk_wrong-9b",
      });
      expect(api.code).toBe(2);
      expect(api.err.join("\n")).toContain("ATLAS_CLIENT_ID / ATLAS_CLIENT_SECRET");
      expect(api.err.join("\n")).not.toContain("mdb_sa_sk_wrong-9b");

      const good = await run(["--cluster", "C", "--group", groupId, "--once", "--json"], {
        ATLAS_API_BASE_URL: atlas.baseUrl,
        ATLAS_CLIENT_ID: "mdb_sa_id_cli",
        ATLAS_CLIENT_SECRET: "mdb_sa_sk_right-7a",
      });
      expect(good.code).toBe(0);
      expect(JSON.parse(good.out[0]!)).toMatchObject({
        tier: "M10",
        limit: 1500,
        sources: [{ name: "atlas-admin", ok: true, error: null }],
      });
    } finally {
      await Promise.all([secured.close(), atlas.close()]);
    }
  }, 20_000);

  it("renders the live view once", async () => {
    const { code, out } = await run(["--cluster", "Shop", "--once"], { MONGODB_URI: m10.uri() });
    expect(code).toBe(0);
    expect(out[0]).toContain("shop-web");
    expect(out[0]).toMatch(/connections {2}\d+ \/ 200/);
  });
});

describe("sparkline", () => {
  it("scales values between their min and max", () => {
    expect(sparkline([0, 7, 14])).toBe("▁▅█");
    expect(sparkline([5, 5])).toBe("▄▄");
    expect(sparkline([])).toBe("");
  });
});
