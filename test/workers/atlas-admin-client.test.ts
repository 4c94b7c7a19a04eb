/**
 * The Atlas Admin API client inside workerd, on the runtime's own `fetch`, against the fake Atlas
 * the Node global setup started (test/workers/setup/atlas.global.ts). Proves what Node tests cannot:
 * ky's timeout and abort, Digest's MD5 (node:crypto under nodejs_compat) and the error mapping all
 * work in the Worker runtime. This file creates its own project through the fake's control API, and
 * its faults match a path naming that project, so other files sharing the fake are unaffected.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { FakeCluster, FaultSpec, LoggedRequest } from "../../fakes/atlas-api.ts";
import { type AtlasAuth, createAtlasAdminClient } from "../../src/atlas/admin-client.ts";
import { isUpstreamNetworkError, isUpstreamTimeoutError } from "../../src/errors.ts";
import { createAtlasStatsSource } from "../../src/stats/atlas-source.ts";

const BASE = inject("atlasApiUrl");
const CREDENTIALS = inject("atlasCredentials");
const serviceAccount: AtlasAuth = { kind: "service-account", ...CREDENTIALS.serviceAccount };
const apiKey: AtlasAuth = { kind: "api-key", ...CREDENTIALS.apiKey };

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${BASE}/__fake${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

let groupId: string;
let m0: FakeCluster;

const requests = async (operationId?: string) =>
  (
    await control<{ requests: LoggedRequest[] }>(
      "GET",
      `/requests?groupId=${groupId}${operationId ? `&operationId=${operationId}` : ""}`,
    )
  ).requests;

/** A fault scoped to this file's project. */
const fault = (spec: FaultSpec & { path: string }) =>
  control("POST", "/faults", {
    ...spec,
    match: { method: spec.match?.method, path: `${groupId}${spec.path}` },
  });

const sleeps: number[] = [];
const client = (auth: AtlasAuth, timeoutMs?: number) =>
  createAtlasAdminClient({
    fetch,
    baseUrl: BASE,
    auth,
    timeoutMs,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });

beforeAll(async () => {
  const created = await control<{ groupId: string; clusters: FakeCluster[] }>("POST", "/projects", {
    clusters: [
      { name: "Cluster0", tier: "M0" },
      { name: "Prod", tier: "M10", provider: "GCP" },
      { name: "FlexOne", tier: "FLEX" },
    ],
  });
  groupId = created.groupId;
  m0 = created.clusters[0]!;
  const [primary, secondary] = m0.processes;
  await control("POST", `/history/${encodeURIComponent(primary!.id)}`, { values: [200, 260, 310] });
  await control("POST", `/history/${encodeURIComponent(secondary!.id)}`, { values: [100, 120, 90] });
});

describe("Atlas Admin API client inside workerd", () => {
  it("reads clusters, processes and measurements with a service-account token", async () => {
    const atlas = client(serviceAccount);
    expect(await atlas.getCluster(groupId, "Cluster0")).toMatchObject({ tier: "M0", kind: "tenant" });
    expect(await atlas.getCluster(groupId, "Prod")).toMatchObject({ tier: "M10", cloudProvider: "GCP" });
    expect(await atlas.getFlexCluster(groupId, "FlexOne")).toMatchObject({ tier: "FLEX" });
    expect(await atlas.listProcesses(groupId, { pageSize: 2 })).toHaveLength(6);
    const measured = await atlas.getProcessMeasurements(groupId, m0.processes[0]!.id);
    expect(measured.measurements[0]?.points.slice(-3).map((p) => p.value)).toEqual([200, 260, 310]);
    const api = await requests();
    expect(api.every((r) => r.auth.scheme === "bearer" && r.status === 200)).toBe(true);
  });

  it("signs with HTTP Digest (MD5 from node:crypto) and reuses the nonce", async () => {
    const before = (await requests("getGroupCluster")).length;
    const atlas = client(apiKey);
    await atlas.getCluster(groupId, "Cluster0");
    await atlas.getCluster(groupId, "Prod");
    const mine = (await requests("getGroupCluster")).slice(before);
    expect(mine.map((r) => `${r.status} ${r.auth.scheme}`)).toEqual(["401 none", "200 digest", "200 digest"]);
  });

  it("turns a hung answer into UpstreamTimeoutError (ky's abort in workerd)", async () => {
    await fault({ hang: true, path: "/clusters/Prod" });
    const started = Date.now();
    const error = await client(serviceAccount, 300)
      .getCluster(groupId, "Prod")
      .catch((e: unknown) => e);
    expect(isUpstreamTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ service: "atlas-admin", timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("waits for Retry-After on a 429 and never retries the POST restartPrimaries", async () => {
    sleeps.length = 0;
    await fault({ status: 429, retryAfterSeconds: 1, path: "/processes" });
    const atlas = client(apiKey);
    await expect(atlas.listProcesses(groupId)).resolves.toHaveLength(6);
    expect(sleeps).toEqual([1_000]);

    await fault({ status: 500, path: "/clusters/Prod/restartPrimaries", match: { method: "POST" } });
    await expect(atlas.restartPrimaries(groupId, "Prod")).rejects.toMatchObject({
      status: 500,
      method: "POST",
    });
    const posts = (await requests("restartGroupClusterPrimaries")).filter((r) => r.auth.scheme === "digest");
    expect(posts.map((r) => r.status)).toEqual([500]);
  });

  // workerd prints "Connection refused" and "Uncaught (in promise) … Network connection lost." (with
  // its own stack lines) for each attempt here, even though the client catches every rejection: it
  // does so for any fetch to a closed port, caught or not. The error asserted below is the proof.
  it("reports a refused connection as UpstreamNetworkError", async () => {
    const atlas = createAtlasAdminClient({
      fetch,
      baseUrl: "http://127.0.0.1:9",
      auth: apiKey,
      sleep: async () => {},
    });
    const error = await atlas.getCluster(groupId, "Cluster0").catch((e: unknown) => e);
    expect(isUpstreamNetworkError(error)).toBe(true);
    expect(String(error)).not.toContain(CREDENTIALS.apiKey.privateKey);
  });

  it("feeds the atlas-admin stats source", async () => {
    const source = createAtlasStatsSource({
      client: client(serviceAccount),
      groupId,
      clusterName: "Cluster0",
      clock: Date,
    });
    const reading = await source.read();
    expect(reading).toMatchObject({ ok: true, source: "atlas-admin", tier: "M0", limit: 500, current: 310 });
    const flex = await createAtlasStatsSource({
      client: client(apiKey),
      groupId,
      clusterName: "FlexOne",
      clock: Date,
    }).read();
    expect(flex).toMatchObject({ ok: true, tier: "FLEX", limit: 500 });
  });
});
