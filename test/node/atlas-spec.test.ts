/**
 * Holds both sides to the official spec (the trimmed copy in test/fixtures/atlas-admin-api/):
 *   - every kind of answer the fake Atlas gives validates against the response schema the spec
 *     declares for that operation, status and media type (ApiError for the errors), and
 *   - every request the real client makes uses a declared path and method, declared query
 *     parameters with valid values, an `Accept` version the operation lists, and a valid body.
 * A few negative controls prove the checker is not vacuous. The spec is parsed once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FakeAtlas,
  type FakeCluster,
  type LoggedRequest,
  startFakeAtlas,
} from "../../fakes/atlas-api.ts";
import {
  type AtlasAdminClient,
  type AtlasAuth,
  createAtlasAdminClient,
} from "../../src/atlas/admin-client.ts";
import { createNodeFetch, type NodeFetch } from "../../src/outbound/node-fetch.ts";
import { type AtlasSpec, loadAtlasSpec } from "../support/openapi.ts";

let spec: AtlasSpec;
let fake: FakeAtlas;
let nodeFetch: NodeFetch;
let groupId: string;
/** A second project for raw, deliberately malformed requests, kept out of the client's request checks. */
let rawGroupId: string;
let m0: FakeCluster;
let sharded: FakeCluster;
let serviceAccountClient: AtlasAdminClient;
let apiKeyClient: AtlasAdminClient;

const noSleep = async () => {};

function responseProblems(entries: LoggedRequest[]): string[] {
  return entries.flatMap((entry) =>
    spec.checkResponse({
      method: entry.method,
      path: entry.path,
      status: entry.status,
      contentType: entry.response.contentType,
      body: entry.response.body,
    }),
  );
}

const answered = (operationId: string, status: number) =>
  fake.requests({ operationId }).filter((r) => r.status === status && r.groupId !== rawGroupId);

async function bearerToken(): Promise<string> {
  const { clientId, clientSecret } = fake.credentials.serviceAccount;
  const response = await fetch(`${fake.baseUrl}/api/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}`,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body: "grant_type=client_credentials",
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  spec = loadAtlasSpec();
  fake = await startFakeAtlas();
  nodeFetch = createNodeFetch();
  groupId = fake.addProject();
  rawGroupId = fake.addProject();
  m0 = fake.addCluster(groupId, { name: "Cluster0", tier: "M0" });
  fake.addCluster(groupId, { name: "Prod", tier: "M10" });
  fake.addCluster(groupId, { name: "Analytics", tier: "M30", provider: "GCP" });
  fake.addCluster(groupId, { name: "Reports", tier: "M40", provider: "AZURE" });
  fake.addCluster(groupId, { name: "Legacy", tier: "FLEX", migratedFrom: "M2" });
  fake.addCluster(groupId, { name: "FlexOne", tier: "FLEX" });
  sharded = fake.addCluster(groupId, { name: "Shardy", tier: "M30", clusterType: "SHARDED" });
  fake.recordHistory(m0.processes[0]!.id, [120, 140, null, 180]);
  fake.setConnections(m0.processes[0]!.id, 190);
  const sa = fake.credentials.serviceAccount;
  const key = fake.credentials.apiKey;
  const make = (auth: AtlasAuth) =>
    createAtlasAdminClient({ fetch: nodeFetch.fetch, baseUrl: fake.baseUrl, auth, sleep: noSleep });
  serviceAccountClient = make({
    kind: "service-account",
    clientId: sa.clientId,
    clientSecret: sa.clientSecret,
  });
  apiKeyClient = make({ kind: "api-key", publicKey: key.publicKey, privateKey: key.privateKey });
}, 30_000);

afterAll(async () => {
  await nodeFetch?.close();
  await fake?.close();
});

describe("the fake's answers match the spec's response schemas", () => {
  it("getGroupCluster 2024-08-05 (ClusterDescription20240805): TENANT M0, dedicated on AWS/GCP/Azure, migrated Flex, sharded", async () => {
    for (const client of [serviceAccountClient, apiKeyClient]) {
      expect(await client.getCluster(groupId, "Cluster0")).toMatchObject({
        tier: "M0",
        providerName: "TENANT",
      });
      expect(await client.getCluster(groupId, "Prod")).toMatchObject({ tier: "M10", providerName: "AWS" });
      expect(await client.getCluster(groupId, "Analytics")).toMatchObject({
        tier: "M30",
        cloudProvider: "GCP",
      });
      expect(await client.getCluster(groupId, "Reports")).toMatchObject({
        tier: "M40",
        cloudProvider: "AZURE",
      });
      expect(await client.getCluster(groupId, "Legacy")).toMatchObject({ tier: "FLEX", instanceSize: "M2" });
      expect(await client.getCluster(groupId, "Shardy")).toMatchObject({ clusterType: "SHARDED" });
    }
    const answers = answered("getGroupCluster", 200);
    expect(answers).toHaveLength(12);
    expect(
      answers.every((r) => r.response.contentType?.startsWith("application/vnd.atlas.2024-08-05+json")),
    ).toBe(true);
    expect(responseProblems(answers)).toEqual([]);
  });

  it("getGroupFlexCluster 2024-11-13 (FlexClusterDescription20241113)", async () => {
    expect(await apiKeyClient.getFlexCluster(groupId, "FlexOne")).toMatchObject({ tier: "FLEX" });
    const answers = answered("getGroupFlexCluster", 200);
    expect(answers.length).toBeGreaterThan(0);
    expect(responseProblems(answers)).toEqual([]);
  });

  it("listGroupProcesses 2023-01-01 (PaginatedHostView_Atlas), paged", async () => {
    const processes = await serviceAccountClient.listProcesses(groupId, { pageSize: 4 });
    expect(processes.length).toBe(3 * 4 + sharded.processes.length);
    const answers = answered("listGroupProcesses", 200);
    expect(answers.length).toBeGreaterThan(3);
    expect(responseProblems(answers)).toEqual([]);
  });

  it("getGroupProcessMeasurements 2023-01-01 (ApiMeasurementsGeneralView_Atlas), by period and by start/end", async () => {
    const processId = m0.processes[0]!.id;
    const byPeriod = await apiKeyClient.getProcessMeasurements(groupId, processId);
    const values = byPeriod.measurements[0]?.points.map((p) => p.value) ?? [];
    expect(values.slice(-4)).toEqual([120, 140, null, 190]);
    const end = new Date();
    const start = new Date(end.getTime() - 15 * 60_000);
    await serviceAccountClient.getProcessMeasurements(groupId, processId, {
      granularity: "PT5M",
      window: { start: start.toISOString(), end: end.toISOString() },
      metrics: ["CONNECTIONS", "OPCOUNTER_CMD"],
    });
    const answers = answered("getGroupProcessMeasurements", 200);
    expect(answers).toHaveLength(2);
    expect(responseProblems(answers)).toEqual([]);
  });

  it("getGroupAlert 2023-01-01 and acknowledgeGroupAlert 2024-05-30 (AlertViewForNdsGroup)", async () => {
    const process = m0.processes[1]!;
    const alert = fake.addAlert(groupId, {
      clusterName: "Cluster0",
      hostnameAndPort: process.id,
      replicaSetName: process.replicaSetName,
      metricName: "CONNECTIONS_PERCENT",
    });
    await serviceAccountClient.getAlert(groupId, String(alert.id));
    await apiKeyClient.acknowledgeAlert(groupId, String(alert.id), {
      until: new Date(Date.now() + 3_600_000),
      comment: "atlas-responder: redeploying the leaking app",
    });
    const flexAlert = fake.addAlert(groupId, {
      clusterName: "FlexOne",
      eventTypeName: "OUTSIDE_FLEX_METRIC_THRESHOLD",
      metricName: "FLEX_CONNECTIONS_PERCENT",
    });
    await apiKeyClient.getAlert(groupId, String(flexAlert.id));
    const answers = [...answered("getGroupAlert", 200), ...answered("acknowledgeGroupAlert", 200)];
    expect(answers).toHaveLength(3);
    expect(responseProblems(answers)).toEqual([]);
  });

  it("restartGroupClusterPrimaries: 200 on M10, 400 ApiError on M0", async () => {
    await serviceAccountClient.restartPrimaries(groupId, "Prod");
    await expect(serviceAccountClient.restartPrimaries(groupId, "Cluster0")).rejects.toMatchObject({
      status: 400,
    });
    const answers = fake.requests({ operationId: "restartGroupClusterPrimaries" });
    expect(answers.map((r) => r.status)).toEqual([200, 400]);
    expect(responseProblems(answers)).toEqual([]);
  });

  it("ApiError bodies for 400, 401, 404, 406, 429 and 500", async () => {
    // 400: the cluster API refuses a Flex cluster.
    await expect(apiKeyClient.getCluster(groupId, "FlexOne")).rejects.toMatchObject({ status: 400 });
    // 401: unknown credentials, both schemes.
    const wrong = createAtlasAdminClient({
      fetch: nodeFetch.fetch,
      baseUrl: fake.baseUrl,
      auth: { kind: "api-key", publicKey: "nobodyxx", privateKey: "wrong" },
    });
    await expect(wrong.getCluster(groupId, "Cluster0")).rejects.toMatchObject({ status: 401 });
    const stale = await fetch(`${fake.baseUrl}/api/atlas/v2/groups/${rawGroupId}/processes`, {
      headers: { authorization: "Bearer not-a-token", accept: "application/vnd.atlas.2023-01-01+json" },
    });
    expect(stale.status).toBe(401);
    // 404: unknown cluster, process, alert, project.
    await expect(apiKeyClient.getCluster(groupId, "Nope")).rejects.toMatchObject({ status: 404 });
    await expect(apiKeyClient.getFlexCluster(groupId, "Nope")).rejects.toMatchObject({ status: 404 });
    await expect(
      apiKeyClient.getProcessMeasurements(groupId, "unknown.example.net:27017"),
    ).rejects.toMatchObject({
      status: 404,
    });
    await expect(apiKeyClient.getAlert(groupId, "0123456789abcdef01234567")).rejects.toMatchObject({
      status: 404,
    });
    await expect(apiKeyClient.getCluster("fedcba9876543210fedcba98", "Cluster0")).rejects.toMatchObject({
      status: 404,
    });
    // 406: no Accept, and a version the operation does not list.
    const token = await bearerToken();
    for (const accept of ["application/json", "application/vnd.atlas.2023-01-01+json"]) {
      const response = await fetch(`${fake.baseUrl}/api/atlas/v2/groups/${rawGroupId}/flexClusters/x`, {
        headers: { authorization: `Bearer ${token}`, accept },
      });
      expect(response.status).toBe(406);
    }
    // 429: an injected one and an exhausted budget; 500: injected.
    fake.failNext({ status: 429, retryAfterSeconds: 1, match: { path: "/alerts/" } });
    fake.failNext({ status: 500, count: 3, match: { path: "/flexClusters/" } });
    const alert = fake.addAlert(groupId);
    await apiKeyClient.getAlert(groupId, String(alert.id));
    await expect(apiKeyClient.getFlexCluster(groupId, "FlexOne")).rejects.toMatchObject({ status: 500 });
    fake.setRateLimit({ capacity: 1, refillPerMinute: 1 });
    await expect(serviceAccountClient.getCluster(groupId, "Prod")).resolves.toBeDefined();
    await expect(serviceAccountClient.getCluster(groupId, "Prod")).rejects.toMatchObject({ status: 429 });
    fake.setRateLimit(undefined);

    const errors = fake.requests().filter((r) => r.status >= 400);
    expect(new Set(errors.map((r) => r.status))).toEqual(new Set([400, 401, 404, 406, 429, 500]));
    const apiErrors = errors.filter((r) => r.operationId !== "oauthToken");
    for (const entry of apiErrors) expect(spec.validateSchema("ApiError", entry.response.body)).toEqual([]);
    expect(responseProblems(apiErrors)).toEqual([]);
    expect(errors.find((r) => r.status === 406)?.response.body).toMatchObject({
      error: 406,
      errorCode: "INVALID_VERSION_DATE",
    });
  });
});

describe("the client's requests match the spec", () => {
  it("every request the client made: declared path and method, query, Accept version and body", () => {
    const made = fake.requests().filter((r) => r.groupId !== rawGroupId && r.accept !== "*/*");
    const problems = made.flatMap((entry) => spec.checkRequest(entry));
    expect(problems).toEqual([]);
    const operations = new Set(made.map((r) => r.operationId));
    for (const operationId of [
      "oauthToken",
      "getGroupCluster",
      "getGroupFlexCluster",
      "listGroupProcesses",
      "getGroupProcessMeasurements",
      "restartGroupClusterPrimaries",
      "getGroupAlert",
      "acknowledgeGroupAlert",
    ]) {
      expect(operations, operationId).toContain(operationId);
    }
    expect(
      made
        .filter((r) => r.operationId !== "oauthToken")
        .every((r) => r.accept?.startsWith("application/vnd.atlas.")),
    ).toBe(true);
  });

  it("the versions the client sends are the newest each operation lists, as the notes' table says", () => {
    expect(spec.versionsOf("getGroupCluster")).toContain("2024-08-05");
    expect(spec.versionsOf("getGroupFlexCluster")).toEqual(["2024-11-13"]);
    expect(spec.versionsOf("listGroupProcesses")).toEqual(["2023-01-01"]);
    expect(spec.versionsOf("getGroupProcessMeasurements")).toEqual(["2023-01-01"]);
    expect(spec.versionsOf("acknowledgeGroupAlert")).toContain("2024-05-30");
    expect(spec.versionsOf("restartGroupClusterPrimaries")).toContain("2023-02-01");
  });
});

describe("the checker is not vacuous", () => {
  it("flags an invented field, a wrong enum and a missing required field in a response", () => {
    const good = answered("getGroupCluster", 200)[0]!;
    const body = good.response.body as Record<string, unknown>;
    const check = (changed: unknown) =>
      spec.checkResponse({
        method: "GET",
        path: good.path,
        status: 200,
        contentType: good.response.contentType,
        body: changed,
      });
    expect(check(body)).toEqual([]);
    expect(check({ ...body, connectionCount: 3 })).not.toEqual([]);
    expect(check({ ...body, stateName: "SLEEPING" })).not.toEqual([]);
    expect(spec.validateSchema("ApiError", { detail: "x" })).not.toEqual([]);
    const tenant = structuredClone(body) as {
      replicationSpecs: Array<{ regionConfigs: Array<Record<string, unknown>> }>;
    };
    tenant.replicationSpecs[0]!.regionConfigs[0]!.electableSpecs = { instanceSize: "M7" };
    expect(check(tenant)).not.toEqual([]);
  });

  it("flags an unknown path, an undeclared query parameter, a bad value, a missing required one and an unlisted version", () => {
    const base = {
      method: "GET",
      path: `/api/atlas/v2/groups/${groupId}/processes/${m0.processes[0]!.id}/measurements`,
      query: { granularity: ["PT1M"], period: ["PT1H"], m: ["CONNECTIONS"] },
      accept: "application/vnd.atlas.2023-01-01+json",
    };
    expect(spec.checkRequest(base)).toEqual([]);
    expect(spec.checkRequest({ ...base, path: `/api/atlas/v2/groups/${groupId}/hosts` })).not.toEqual([]);
    expect(spec.checkRequest({ ...base, query: { ...base.query, limit: ["5"] } })).not.toEqual([]);
    expect(spec.checkRequest({ ...base, query: { ...base.query, m: ["CONNECTIONS_PERCENT"] } })).not.toEqual(
      [],
    );
    expect(spec.checkRequest({ ...base, query: { period: ["PT1H"] } })).not.toEqual([]);
    expect(spec.checkRequest({ ...base, accept: "application/vnd.atlas.2024-08-05+json" })).not.toEqual([]);
    expect(spec.checkRequest({ ...base, path: `/api/atlas/v2/groups/not-hex/processes` })).not.toEqual([]);
  });
});
