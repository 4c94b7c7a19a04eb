/**
 * The bounded-request helper (src/outbound/http.ts) and the Node fetch factory (node-fetch.ts).
 * Most cases inject a small `fetch` function that scripts answers, so each retry rule is seen exactly;
 * the Node factory runs against a real local server.
 */
import { createServer, type Server } from "node:http";
import { isKyError } from "ky";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_READ_RETRIES, MAX_RETRY_AFTER_MS } from "../../src/constants.ts";
import { isUpstreamHttpError, isUpstreamNetworkError, isUpstreamTimeoutError } from "../../src/errors.ts";
import {
  backoffDelay,
  createHttpClient,
  type FetchLike,
  type HttpClientOptions,
  parseRetryAfter,
} from "../../src/outbound/http.ts";
import { createNodeFetch } from "../../src/outbound/node-fetch.ts";

const URL_WITH_KEY = "https://hooks.example.com/deploy/abc?key=s3cr3t-hook-key";

type Answer = Response | Error | "hang";

/** A fetch that plays back answers in order and records what it was sent. */
function scripted(...answers: Answer[]) {
  const seen: Request[] = [];
  const fetch: FetchLike = async (input, init) => {
    const request = new Request(input, init);
    seen.push(request);
    const answer = answers.shift() ?? new Response("unexpected extra call", { status: 599 });
    if (answer === "hang") {
      return new Promise<Response>((_, reject) => {
        request.signal.addEventListener("abort", () => reject(request.signal.reason));
      });
    }
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, seen };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function harness(answers: Answer[], options: Partial<HttpClientOptions> = {}) {
  const { fetch, seen } = scripted(...answers);
  const sleeps: number[] = [];
  const http = createHttpClient({
    service: "example",
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
    describeError: (body) =>
      typeof body === "object" && body !== null ? { code: String((body as { code?: string }).code) } : {},
    ...options,
  });
  return { http, seen, sleeps };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    let cause: unknown = error;
    while (cause instanceof Error) {
      expect(isKyError(cause)).toBe(false);
      cause = cause.cause;
    }
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

describe("parseRetryAfter and backoffDelay", () => {
  it("reads delta-seconds and HTTP-dates", () => {
    const now = Date.parse("2026-11-27T12:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Fri, 27 Nov 2026 12:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Fri, 27 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("doubles the ceiling each retry and keeps at least half of it", () => {
    expect([1, 2, 3].map((n) => backoffDelay(n, () => 0))).toEqual([125, 250, 500]);
    expect([1, 2, 3].map((n) => backoffDelay(n, () => 0.999999))).toEqual([250, 500, 1000]);
  });
});

describe("retries", () => {
  it("retries a GET on network errors, 408, 429 and 5xx, up to MAX_READ_RETRIES", async () => {
    const { http, sleeps, seen } = harness([
      new TypeError("socket hang up"),
      json(408, {}),
      json(200, { ok: true }),
    ]);
    await expect(http.request({ method: "GET", url: "https://api.example.com/a" })).resolves.toMatchObject({
      status: 200,
      body: { ok: true },
    });
    expect(seen).toHaveLength(3);
    expect(sleeps).toEqual([125, 250]);

    const again = harness([
      json(502, { code: "A" }),
      json(503, { code: "B" }),
      json(500, { code: "C" }),
      json(200, {}),
    ]);
    const error = await failure(again.http.request({ method: "GET", url: "https://api.example.com/a" }));
    expect(error).toMatchObject({ status: 500, code: "C" });
    expect(again.seen).toHaveLength(1 + MAX_READ_RETRIES);
  });

  it("does not retry other 4xx", async () => {
    const { http, seen } = harness([json(404, { code: "NOPE" }), json(200, {})]);
    expect(await failure(http.request({ method: "GET", url: "https://api.example.com/a" }))).toMatchObject({
      status: 404,
      code: "NOPE",
    });
    expect(seen).toHaveLength(1);
  });

  it("never retries a POST (or PUT, PATCH, DELETE) unless the caller says it is idempotent", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"] as const) {
      const { http, seen } = harness([json(503, {}), json(200, {})]);
      await failure(http.request({ method, url: "https://api.example.com/a", json: { a: 1 } }));
      expect(seen, method).toHaveLength(1);
    }
    const network = harness([new TypeError("fetch failed"), json(200, {})]);
    expect(
      isUpstreamNetworkError(await failure(network.http.request({ method: "POST", url: URL_WITH_KEY }))),
    ).toBe(true);
    expect(network.seen).toHaveLength(1);

    const minting = harness([json(503, {}), json(200, { token: "t" })]);
    await expect(
      minting.http.request({ method: "POST", url: "https://api.example.com/token", idempotent: true }),
    ).resolves.toMatchObject({ status: 200 });
    expect(minting.seen).toHaveLength(2);
  });

  it("honours Retry-After (seconds or date) and gives up at once beyond MAX_RETRY_AFTER_MS", async () => {
    const now = Date.parse("2026-11-27T12:00:00Z");
    const { http, sleeps } = harness(
      [
        json(429, {}, { "retry-after": "4" }),
        json(503, {}, { "retry-after": "Fri, 27 Nov 2026 12:00:07 GMT" }),
        json(200, {}),
      ],
      { clock: { now: () => now } },
    );
    await http.request({ method: "GET", url: "https://api.example.com/a" });
    expect(sleeps).toEqual([4000, 7000]);

    const tooLong = harness([
      json(429, { code: "SLOW" }, { "retry-after": String(MAX_RETRY_AFTER_MS / 1000 + 1) }),
    ]);
    const error = await failure(tooLong.http.request({ method: "GET", url: "https://api.example.com/a" }));
    expect(error).toMatchObject({
      status: 429,
      code: "SLOW",
      retryAfterSeconds: MAX_RETRY_AFTER_MS / 1000 + 1,
    });
    expect(tooLong.sleeps).toEqual([]);
  });

  it("computes headers afresh for every attempt", async () => {
    let n = 0;
    const { http, seen } = harness([json(500, {}), json(200, {})]);
    await http.request({
      method: "GET",
      url: "https://api.example.com/a",
      headersPerAttempt: async () => ({ authorization: `Digest nc=${++n}` }),
    });
    expect(seen.map((r) => r.headers.get("authorization"))).toEqual(["Digest nc=1", "Digest nc=2"]);
  });
});

describe("answers and errors", () => {
  it("parses JSON (any +json type), returns other bodies as text and empty ones as undefined", async () => {
    const { http, seen } = harness([
      new Response('{"a":1}', {
        headers: { "content-type": "application/vnd.atlas.2024-08-05+json;charset=utf-8" },
      }),
      new Response("plain", { headers: { "content-type": "text/plain" } }),
      new Response(null, { status: 204 }),
    ]);
    const url = "https://api.example.com/a?x=1";
    expect((await http.request({ method: "GET", url })).body).toEqual({ a: 1 });
    expect((await http.request({ method: "GET", url })).body).toBe("plain");
    expect(await http.request({ method: "DELETE", url })).toMatchObject({ status: 204, body: undefined });
    expect(seen[0]?.headers.get("accept")).toBe("application/json");
    expect(seen[0]?.url).toBe(url);
  });

  it("reports a JSON body that does not parse, without retrying", async () => {
    const { http, seen } = harness([
      new Response("{oops", { headers: { "content-type": "application/json" } }),
    ]);
    const error = await failure(http.request({ method: "GET", url: "https://api.example.com/a" }));
    expect(error).toMatchObject({ status: 200, code: "INVALID_JSON" });
    expect(seen).toHaveLength(1);
  });

  it("hands back the statuses the caller asked for, and can still build the standard error", async () => {
    const { http } = harness([json(401, { code: "WHO" }, { "www-authenticate": 'Digest realm="x"' })]);
    const request = { method: "GET" as const, url: URL_WITH_KEY, passStatuses: [401] };
    const response = await http.request(request);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Digest realm="x"');
    const error = http.errorFor(request, response);
    expect(error).toMatchObject({
      service: "example",
      status: 401,
      code: "WHO",
      url: "https://hooks.example.com/deploy/abc",
    });
  });

  it("names the service and the path, never the query string, in every error", async () => {
    const errors = [
      await failure(
        harness([json(500, {}), json(500, {}), json(500, {})]).http.request({
          method: "GET",
          url: URL_WITH_KEY,
        }),
      ),
      await failure(
        harness([new TypeError("x"), new TypeError("x"), new TypeError("x")]).http.request({
          method: "GET",
          url: URL_WITH_KEY,
        }),
      ),
      await failure(harness(["hang"], { timeoutMs: 30 }).http.request({ method: "POST", url: URL_WITH_KEY })),
    ];
    expect(isUpstreamHttpError(errors[0])).toBe(true);
    expect(isUpstreamNetworkError(errors[1])).toBe(true);
    expect(isUpstreamTimeoutError(errors[2])).toBe(true);
    for (const error of errors) {
      expect(error.message).toMatch(/^example (GET|POST) https:\/\/hooks\.example\.com\/deploy\/abc /);
      expect(JSON.stringify(error)).not.toContain("s3cr3t");
      expect(String(error)).not.toContain("s3cr3t");
    }
  });

  it("aborts the request it gave up on", async () => {
    const { http, seen } = harness(["hang"], { timeoutMs: 30 });
    const error = await failure(http.request({ method: "GET", url: "https://api.example.com/slow" }));
    expect(error).toMatchObject({ name: "UpstreamTimeoutError", timeoutMs: 30 });
    expect(seen[0]?.signal.aborted).toBe(true);
    expect(seen).toHaveLength(1);
  });
});

describe("createNodeFetch (undici Agent)", () => {
  let server: Server;
  let base: string;
  const sockets = new Set<unknown>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/slow-body") {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"partial":');
        return; // never finishes
      }
      if (req.url === "/empty") {
        res.writeHead(204);
        res.end();
        return;
      }
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ method: req.method, url: req.url, body, type: req.headers["content-type"] }),
        );
      });
    });
    server.on("connection", (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("sends method, headers, query and body, and keeps the socket alive between calls", async () => {
    const node = createNodeFetch();
    try {
      const http = createHttpClient({ service: "local", fetch: node.fetch });
      const first = await http.request({ method: "POST", url: `${base}/echo?q=1`, json: { a: 1 } });
      expect(first.body).toEqual({
        method: "POST",
        url: "/echo?q=1",
        body: '{"a":1}',
        type: "application/json",
      });
      for (let i = 0; i < 4; i++) {
        await http.request({ method: "GET", url: `${base}/echo` });
        // undici frees a socket a tick after the body ends; a caller that polls is never faster.
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(sockets.size).toBeLessThanOrEqual(2);
      expect(await http.request({ method: "GET", url: `${base}/empty` })).toMatchObject({
        status: 204,
        body: undefined,
      });
    } finally {
      await node.close();
    }
  });

  it("bounds a body that never ends: the per-call timeout covers the body read too", async () => {
    const node = createNodeFetch();
    try {
      const http = createHttpClient({ service: "local", fetch: node.fetch, timeoutMs: 150 });
      const started = Date.now();
      const error = await failure(http.request({ method: "GET", url: `${base}/slow-body` }));
      expect(error).toMatchObject({ name: "UpstreamTimeoutError", timeoutMs: 150 });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await node.close();
    }
  });
});
