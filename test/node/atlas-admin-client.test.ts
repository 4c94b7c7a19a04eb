/**
 * The Atlas Admin API client against the honest fake (fakes/atlas-api.ts) over real HTTP, with
 * the Node `fetch` from src/outbound/node-fetch.ts. Time is simulated: one clock drives the fake's
 * token expiry and nonces and the client's token cache, and the injected `sleep` advances it instead
 * of waiting, so retries and expiries run in milliseconds.
 */
import { createServer } from "node:net";
import { inspect } from "node:util";
import { isKyError } from "ky";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeAtlas, type FakeCluster, startFakeAtlas } from "../../fakes/atlas-api.ts";
import { digestAuthorization, parseDigestChallenge } from "../../src/atlas/admin-auth.ts";
import {
  ATLAS_API_VERSIONS,
  type AtlasAdminClientOptions,
  type AtlasAuth,
  createAtlasAdminClient,
} from "../../src/atlas/admin-client.ts";
import { MAX_READ_RETRIES, OAUTH_REFRESH_MARGIN_MS } from "../../src/constants.ts";
import { isUpstreamHttpError, isUpstreamNetworkError, isUpstreamTimeoutError } from "../../src/errors.ts";
import type { FetchLike } from "../../src/outbound/http.ts";
import { createNodeFetch, type NodeFetch } from "../../src/outbound/node-fetch.ts";

const SECRETS = {
  clientId: "mdb_sa_id_client_test",
  clientSecret: "mdb_sa_sk_9c41d7e0-client-secret",
  publicKey: "pubkeyab",
  privateKey: "0d6f2a8e-private-key-client-test",
};

const clock = { t: Date.parse("2026-11-27T12:00:00Z"), now: () => clock.t };
const sleeps: number[] = [];
/** Simulated waiting: records the wait and moves the shared clock forward. */
const sleep = async (ms: number) => {
  sleeps.push(ms);
  clock.t += ms;
};

let fake: FakeAtlas;
let nodeFetch: NodeFetch;
let groupId: string;
let m0: FakeCluster;
/** Every Authorization value the client sent, so tests can prove none of it leaks into errors. */
const sentAuthorizations = new Set<string>();

const recordingFetch: FetchLike = async (input, init) => {
  const request = new Request(input, init);
  const authorization = request.headers.get("authorization");
  if (authorization) sentAuthorizations.add(authorization);
  return nodeFetch.fetch(request);
};

const serviceAccount: AtlasAuth = {
  kind: "service-account",
  clientId: SECRETS.clientId,
  clientSecret: SECRETS.clientSecret,
};
const apiKey: AtlasAuth = { kind: "api-key", publicKey: SECRETS.publicKey, privateKey: SECRETS.privateKey };

function client(auth: AtlasAuth, overrides: Partial<AtlasAdminClientOptions> = {}) {
  return createAtlasAdminClient({
    fetch: recordingFetch,
    baseUrl: fake.baseUrl,
    auth,
    clock,
    sleep,
    random: () => 0.5,
    ...overrides,
  });
}

const apiRequests = () => fake.requests().filter((r) => r.operationId !== "oauthToken");
const tokenRequests = () => fake.requests({ operationId: "oauthToken" });

/** Asserts that nothing secret appears anywhere in an error, however it is printed. */
function expectNoSecrets(error: unknown) {
  const renderings = [
    String(error),
    (error as Error).message,
    JSON.stringify(error),
    inspect(error, { depth: 8, showHidden: true }),
  ];
  const secrets = [SECRETS.clientSecret, SECRETS.privateKey, ...sentAuthorizations];
  for (const text of renderings) {
    for (const secret of secrets) expect(text).not.toContain(secret);
    // Bearer tokens and digest hashes, whatever their value.
    expect(text).not.toMatch(/Bearer\s+\S|Digest\s+username|Basic\s+[A-Za-z0-9+/=]{8}/);
  }
  let cause: unknown = error;
  while (cause instanceof Error) {
    expect(isKyError(cause)).toBe(false);
    cause = cause.cause;
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  fake = await startFakeAtlas({
    clock,
    serviceAccounts: [{ clientId: SECRETS.clientId, clientSecret: SECRETS.clientSecret }],
    apiKeys: [{ publicKey: SECRETS.publicKey, privateKey: SECRETS.privateKey }],
  });
  nodeFetch = createNodeFetch();
  groupId = fake.addProject();
  m0 = fake.addCluster(groupId, { name: "Cluster0", tier: "M0" });
  fake.addCluster(groupId, { name: "Prod", tier: "M10" });
});

afterAll(async () => {
  await nodeFetch.close();
  await fake.close();
});

beforeEach(() => {
  fake.clearRequests();
  fake.clearFaults();
  fake.setRateLimit(undefined);
  sleeps.length = 0;
});

afterEach(() => {
  // Nothing in the fake's log may ever hold a credential.
  const logged = JSON.stringify(fake.requests());
  expect(logged).not.toContain(SECRETS.clientSecret);
  expect(logged).not.toContain(SECRETS.privateKey);
});

describe("operations", () => {
  it("reads a cluster, its processes (all pages) and CONNECTIONS measurements with versioned Accept headers", async () => {
    const atlas = client(serviceAccount);
    fake.recordHistory(m0.processes[0]!.id, [10, null, 30], clock.now());

    const cluster = await atlas.getCluster(groupId, "Cluster0");
    expect(cluster).toMatchObject({ name: "Cluster0", kind: "tenant", tier: "M0", providerName: "TENANT" });
    expect(cluster.cloudProvider).toBe("AWS");

    const processes = await atlas.listProcesses(groupId, { pageSize: 2 });
    expect(processes).toHaveLength(6);
    expect(new Set(processes.map((p) => p.id)).size).toBe(6);

    const measurements = await atlas.getProcessMeasurements(groupId, m0.processes[0]!.id);
    const points = measurements.measurements.find((m) => m.name === "CONNECTIONS")?.points ?? [];
    expect(points).toHaveLength(60);
    expect(points.slice(-3).map((p) => p.value)).toEqual([10, null, 30]);

    const accepts = apiRequests().map((r) => `${r.operationId} ${r.accept}`);
    expect(accepts).toContain(`getGroupCluster application/vnd.atlas.${ATLAS_API_VERSIONS.getCluster}+json`);
    expect(accepts).toContain(
      `listGroupProcesses application/vnd.atlas.${ATLAS_API_VERSIONS.listProcesses}+json`,
    );
    expect(fake.requests({ operationId: "listGroupProcesses" }).map((r) => r.query.pageNum?.[0])).toEqual([
      "1",
      "2",
      "3",
    ]);
  });

  it("acknowledges an alert with a 2024-05-30 body and reads it back", async () => {
    const atlas = client(apiKey);
    const alert = fake.addAlert(groupId, { clusterName: "Cluster0" });
    const until = new Date(clock.now() + 3_600_000);
    const acked = await atlas.acknowledgeAlert(groupId, String(alert.id), {
      until,
      comment: "x".repeat(250),
    });
    expect(acked.acknowledgedUntil).toBe(until.toISOString());
    expect(acked.acknowledgementComment).toHaveLength(200);
    const patch = fake.requests({ operationId: "acknowledgeGroupAlert" })[1];
    expect(patch?.contentType).toBe("application/vnd.atlas.2024-05-30+json");
    expect((await atlas.getAlert(groupId, String(alert.id))).acknowledgedUntil).toBe(until.toISOString());
  });

  it("describes a Flex cluster through the Flex API, which the cluster API refuses", async () => {
    fake.addCluster(groupId, { name: "FlexOne", tier: "FLEX", provider: "GCP" });
    const atlas = client(serviceAccount);
    const error = await failure(atlas.getCluster(groupId, "FlexOne"));
    expect(isUpstreamHttpError(error) && error.code).toBe("CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API");
    const flex = await atlas.getFlexCluster(groupId, "FlexOne");
    expect(flex).toMatchObject({ kind: "flex", tier: "FLEX", providerName: "FLEX", cloudProvider: "GCP" });
  });

  it("reports an answer that does not match the expected shape as UNEXPECTED_RESPONSE", async () => {
    const garbage: FetchLike = async () =>
      new Response(JSON.stringify({ results: [{ id: 7 }] }), {
        headers: { "content-type": "application/vnd.atlas.2023-01-01+json" },
      });
    const atlas = client(apiKey, { fetch: garbage });
    const error = await failure(atlas.listProcesses(groupId));
    expect(isUpstreamHttpError(error) && error.code).toBe("UNEXPECTED_RESPONSE");
    expect((error as Error).message).toContain("results.0.id");
  });
});

describe("service account (OAuth client credentials)", () => {
  it("mints one token and reuses it, even for concurrent calls", async () => {
    const atlas = client(serviceAccount);
    await Promise.all([
      atlas.getCluster(groupId, "Cluster0"),
      atlas.getCluster(groupId, "Prod"),
      atlas.listProcesses(groupId),
    ]);
    await atlas.getCluster(groupId, "Cluster0");
    expect(tokenRequests()).toHaveLength(1);
    expect(tokenRequests()[0]?.auth).toEqual({ scheme: "basic", principal: SECRETS.clientId });
    expect(apiRequests().every((r) => r.auth.scheme === "bearer" && r.status === 200)).toBe(true);
  });

  it("refreshes the token OAUTH_REFRESH_MARGIN_MS before it expires, not earlier", async () => {
    const atlas = client(serviceAccount);
    await atlas.getCluster(groupId, "Cluster0");
    clock.t += 3_600_000 - OAUTH_REFRESH_MARGIN_MS - 1_000;
    await atlas.getCluster(groupId, "Cluster0");
    expect(tokenRequests()).toHaveLength(1);
    clock.t += 2_000;
    await atlas.getCluster(groupId, "Cluster0");
    expect(tokenRequests()).toHaveLength(2);
    expect(apiRequests().every((r) => r.status === 200)).toBe(true);
  });

  it("refreshes once and retries once when Atlas answers 401", async () => {
    const atlas = client(serviceAccount);
    await atlas.getCluster(groupId, "Cluster0");
    fake.revokeTokens();
    await expect(atlas.getCluster(groupId, "Cluster0")).resolves.toMatchObject({ tier: "M0" });
    expect(apiRequests().map((r) => r.status)).toEqual([200, 401, 200]);
    expect(tokenRequests()).toHaveLength(2);
  });

  it("gives up after that one refresh when the new token is refused too", async () => {
    const atlas = client(serviceAccount);
    fake.failNext({ status: 401, errorCode: "UNAUTHORIZED", count: 5, match: { path: "/clusters/" } });
    const error = await failure(atlas.getCluster(groupId, "Cluster0"));
    expect(isUpstreamHttpError(error) && error.status).toBe(401);
    expect(apiRequests()).toHaveLength(2);
    expect(tokenRequests()).toHaveLength(2);
    expectNoSecrets(error);
  });

  it("fails with a typed error naming the token endpoint when the client secret is wrong", async () => {
    const atlas = client({ ...serviceAccount, clientSecret: "mdb_sa_sk_wrong-secret-value" } as AtlasAuth);
    const error = await failure(atlas.getCluster(groupId, "Cluster0"));
    expect(isUpstreamHttpError(error)).toBe(true);
    expect(error).toMatchObject({
      service: "atlas-admin",
      method: "POST",
      status: 401,
      code: "invalid_client",
    });
    expect((error as { url: string }).url).toBe(`${fake.baseUrl}/api/oauth/token`);
    expect(String(error)).not.toContain("mdb_sa_sk_wrong-secret-value");
    expectNoSecrets(error);
  });
});

describe("API key (HTTP Digest)", () => {
  it("pays the challenge round-trip once, then reuses the nonce with a rising nc", async () => {
    const atlas = client(apiKey);
    await atlas.getCluster(groupId, "Cluster0");
    await atlas.getCluster(groupId, "Prod");
    await atlas.listProcesses(groupId);
    expect(apiRequests().map((r) => `${r.status} ${r.auth.scheme}`)).toEqual([
      "401 none",
      "200 digest",
      "200 digest",
      "200 digest",
    ]);
    expect(apiRequests()[0]?.response.headers["www-authenticate"]).toMatch(
      /^Digest realm="MMS Public API", .*nonce="[^"]+", algorithm=MD5, qop="auth"/,
    );
  });

  it("takes a fresh nonce transparently when the old one goes stale", async () => {
    const atlas = client(apiKey);
    await atlas.getCluster(groupId, "Cluster0");
    clock.t += 10 * 60_000;
    await atlas.getCluster(groupId, "Cluster0");
    expect(apiRequests().map((r) => r.status)).toEqual([401, 200, 401, 200]);
    expect(apiRequests()[2]?.response.headers["www-authenticate"]).toContain("stale=true");
  });

  it("signs a POST too, and a wrong private key fails as a typed 401 after one try", async () => {
    const wrong = client({ ...apiKey, privateKey: "not-the-private-key" } as AtlasAuth);
    const error = await failure(wrong.getCluster(groupId, "Cluster0"));
    expect(error).toMatchObject({
      name: "UpstreamHttpError",
      service: "atlas-admin",
      status: 401,
      code: "UNAUTHORIZED",
    });
    expect(apiRequests().map((r) => `${r.status} ${r.auth.scheme}`)).toEqual(["401 none", "401 digest"]);
    expect(String(error)).not.toContain("not-the-private-key");
    expectNoSecrets(error);

    fake.clearRequests();
    await client(apiKey).restartPrimaries(groupId, "Prod");
    expect(apiRequests().map((r) => `${r.method} ${r.status}`)).toEqual(["POST 401", "POST 200"]);
  });

  it("re-signs every retry with a fresh nc, so a retried read is not refused as a replay", async () => {
    const atlas = client(apiKey);
    fake.failNext({ status: 503, match: { path: "/clusters/" } });
    await expect(atlas.getCluster(groupId, "Cluster0")).resolves.toMatchObject({ tier: "M0" });
    expect(apiRequests().map((r) => `${r.status} ${r.auth.scheme}`)).toEqual([
      "401 none",
      "503 digest",
      "200 digest",
    ]);
  });

  it("computes RFC 7616 responses (known answer) and parses Atlas's challenge", () => {
    const challenge = parseDigestChallenge(
      'Digest realm="MMS Public API", domain="", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", algorithm=MD5, qop="auth"',
    );
    expect(challenge).toMatchObject({ realm: "MMS Public API", qop: "auth", algorithm: "MD5" });
    // RFC 2617 §3.5's worked example, with its realm and credentials.
    const header = digestAuthorization({
      username: "Mufasa",
      password: "Circle Of Life",
      method: "GET",
      uri: "/dir/index.html",
      challenge: { realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", qop: "auth" },
      nc: 1,
      cnonce: "0a4f113b",
    });
    expect(header).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(header).toContain("nc=00000001");
  });
});

describe("bounded calls", () => {
  it("surfaces a 406 with Atlas's code when an operation stops listing our version", async () => {
    fake.retireVersion("getGroupAlert", ATLAS_API_VERSIONS.getAlert);
    const alert = fake.addAlert(groupId);
    const error = await failure(client(serviceAccount).getAlert(groupId, String(alert.id)));
    expect(error).toMatchObject({ status: 406, code: "INVALID_VERSION_DATE" });
    expect((error as Error).message).toMatch(
      /atlas-admin GET .*\/alerts\/[a-f0-9]{24} answered 406 INVALID_VERSION_DATE: Invalid accept header or version date/,
    );
    expect(apiRequests().filter((r) => r.status === 406)).toHaveLength(1);
  });

  it("waits for Retry-After on a 429 and retries the read", async () => {
    const atlas = client(serviceAccount);
    fake.failNext({ status: 429, retryAfterSeconds: 2, match: { path: "/clusters/" } });
    await expect(atlas.getCluster(groupId, "Cluster0")).resolves.toMatchObject({ tier: "M0" });
    expect(sleeps).toEqual([2_000]);
    expect(apiRequests().map((r) => r.status)).toEqual([429, 200]);
  });

  it("honours the project's rate-limit budget, waiting as long as Atlas asks", async () => {
    const atlas = client(apiKey);
    fake.setRateLimit({ capacity: 2, refillPerMinute: 30 });
    for (let i = 0; i < 3; i++) await atlas.getCluster(groupId, "Cluster0");
    const limited = apiRequests().filter((r) => r.status === 429);
    expect(limited).toHaveLength(1);
    expect(limited[0]?.response.headers).toMatchObject({ "retry-after": "2", "ratelimit-remaining": "0" });
    expect(sleeps).toEqual([2_000]);
  });

  it("fails at once, with retryAfterSeconds, when Atlas asks for a longer wait than we allow", async () => {
    fake.failNext({ status: 429, retryAfterSeconds: 120, match: { path: "/clusters/" } });
    const error = await failure(client(serviceAccount).getCluster(groupId, "Cluster0"));
    expect(error).toMatchObject({ status: 429, code: "RATE_LIMITED", retryAfterSeconds: 120 });
    expect(sleeps).toEqual([]);
  });

  it("retries a read on 5xx with jittered backoff, then gives up after MAX_READ_RETRIES", async () => {
    const atlas = client(serviceAccount);
    fake.failNext({ status: 503, count: 2, match: { path: "/processes" } });
    await expect(atlas.listProcesses(groupId)).resolves.toHaveLength(6);
    // random() = 0.5 → half the ceiling fixed plus a quarter: 250 ms → 188, 500 ms → 375.
    expect(sleeps).toEqual([188, 375]);

    sleeps.length = 0;
    fake.clearRequests();
    fake.failNext({ status: 500, count: 10, match: { path: "/processes" } });
    const error = await failure(atlas.listProcesses(groupId));
    expect(error).toMatchObject({ status: 500, code: "UNEXPECTED_ERROR" });
    expect(apiRequests()).toHaveLength(1 + MAX_READ_RETRIES);
    expectNoSecrets(error);
  });

  it("never retries the POST restartPrimaries, whatever Atlas answers", async () => {
    const atlas = client(serviceAccount);
    fake.failNext({ status: 500, match: { method: "POST", path: "/restartPrimaries" } });
    const error = await failure(atlas.restartPrimaries(groupId, "Prod"));
    expect(error).toMatchObject({ method: "POST", status: 500 });
    fake.failNext({
      status: 503,
      retryAfterSeconds: 1,
      match: { method: "POST", path: "/restartPrimaries" },
    });
    await expect(atlas.restartPrimaries(groupId, "Prod")).rejects.toMatchObject({ status: 503 });
    const posts = apiRequests().filter((r) => r.operationId === "restartGroupClusterPrimaries");
    expect(posts.map((r) => r.status)).toEqual([500, 503]);
    expect(sleeps).toEqual([]);
  });

  it("turns a hung answer into UpstreamTimeoutError without retrying it", async () => {
    const atlas = client(serviceAccount, { timeoutMs: 150 });
    await atlas.getCluster(groupId, "Cluster0");
    fake.clearRequests();
    fake.failNext({ hang: true, match: { path: "/clusters/" } });
    const started = Date.now();
    const error = await failure(atlas.getCluster(groupId, "Cluster0"));
    expect(isUpstreamTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ service: "atlas-admin", method: "GET", timeoutMs: 150 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(apiRequests().map((r) => r.status)).toEqual([0]);
    expectNoSecrets(error);
  });

  it("times out the token endpoint the same way", async () => {
    fake.failNext({ hang: true, match: { path: "/api/oauth/token" } });
    const error = await failure(client(serviceAccount, { timeoutMs: 150 }).getCluster(groupId, "Cluster0"));
    expect(error).toMatchObject({ name: "UpstreamTimeoutError", method: "POST" });
    expect((error as { url: string }).url).toMatch(/\/api\/oauth\/token$/);
  });

  it("retries reads on network errors and then reports UpstreamNetworkError", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const atlas = client(apiKey, { baseUrl: `http://127.0.0.1:${port}` });
    const error = await failure(atlas.getCluster(groupId, "Cluster0"));
    expect(isUpstreamNetworkError(error)).toBe(true);
    expect((error as Error).message).toBe(
      `atlas-admin GET http://127.0.0.1:${port}/api/atlas/v2/groups/${groupId}/clusters/Cluster0 failed before answering`,
    );
    expect(sleeps).toHaveLength(MAX_READ_RETRIES);
    expectNoSecrets(error);
  });

  it("keeps query strings out of error messages", async () => {
    fake.failNext({ status: 500, count: 3, match: { path: "/measurements" } });
    const error = await failure(client(apiKey).getProcessMeasurements(groupId, m0.processes[0]!.id));
    expect((error as { url: string }).url).not.toContain("?");
    expect((error as Error).message).not.toMatch(/granularity|period|PT1M/);
  });
});
