/**
 * The "did this call land?" rule (src/outbound/delivery.ts): statuses, the error shapes Node/undici
 * and workerd produce, the shared client's errors, and the https-or-loopback guard. Node's shapes
 * come from real sockets where a local server can produce them; workerd's are written out as
 * workerd reports them (test/workers/platforms.test.ts sees the refused connection for real).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpstreamHttpError, UpstreamNetworkError, UpstreamTimeoutError } from "../../src/errors.ts";
import {
  cleartextRefusal,
  type Delivery,
  deliveryOfError,
  deliveryOfFetchError,
  deliveryOfStatus,
  mayCarrySecrets,
} from "../../src/outbound/delivery.ts";
import { createHttpClient, type FetchLike } from "../../src/outbound/http.ts";
import { createNodeFetch, type NodeFetch } from "../../src/outbound/node-fetch.ts";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
/** undici wraps every transport failure as `TypeError: fetch failed` with the real one as `cause`. */
const undici = (cause: unknown) => new TypeError("fetch failed", { cause });

describe("deliveryOfStatus", () => {
  it("2xx sent; 408, 500, 502, 504, 520, 524 unknown; every other status not sent", () => {
    const table: [number, Delivery][] = [
      [200, "sent"],
      [201, "sent"],
      [202, "sent"],
      [204, "sent"],
      [301, "not-sent"],
      [302, "not-sent"],
      [400, "not-sent"],
      [401, "not-sent"],
      [403, "not-sent"],
      [404, "not-sent"],
      [408, "unknown"],
      [409, "not-sent"],
      [429, "not-sent"],
      [500, "unknown"],
      [501, "not-sent"],
      [502, "unknown"],
      [503, "not-sent"],
      [504, "unknown"],
      [505, "not-sent"],
      [520, "unknown"],
      [521, "not-sent"],
      [522, "not-sent"],
      [523, "not-sent"],
      [524, "unknown"],
      [525, "not-sent"],
      [526, "not-sent"],
      [530, "not-sent"],
    ];
    for (const [status, delivery] of table)
      expect([status, deliveryOfStatus(status)]).toEqual([status, delivery]);
  });
});

describe("deliveryOfFetchError: Node and undici", () => {
  it("a connection never made is not sent, named by its code", () => {
    const cases: [unknown, string][] = [
      [
        undici(withCode("connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED")),
        "connection refused (ECONNREFUSED)",
      ],
      [undici(withCode("getaddrinfo ENOTFOUND x.invalid", "ENOTFOUND")), "host not found (ENOTFOUND)"],
      [undici(withCode("getaddrinfo EAI_AGAIN x.example", "EAI_AGAIN")), "DNS lookup failed (EAI_AGAIN)"],
      [
        undici(withCode("connect EHOSTUNREACH 10.0.0.1:443", "EHOSTUNREACH")),
        "host unreachable (EHOSTUNREACH)",
      ],
      [
        undici(withCode("Connect Timeout Error", "UND_ERR_CONNECT_TIMEOUT")),
        "connect timed out (UND_ERR_CONNECT_TIMEOUT)",
      ],
      [
        undici(withCode("certificate has expired", "CERT_HAS_EXPIRED")),
        "TLS certificate expired (CERT_HAS_EXPIRED)",
      ],
      [
        undici(withCode("Hostname/IP does not match", "ERR_TLS_CERT_ALTNAME_INVALID")),
        "TLS certificate does not match the host (ERR_TLS_CERT_ALTNAME_INVALID)",
      ],
    ];
    for (const [error, reason] of cases)
      expect(deliveryOfFetchError(error)).toEqual({ delivery: "not-sent", reason });
  });

  it("reads inside an AggregateError (every address tried, none connected)", () => {
    const both = new AggregateError([
      withCode("connect ECONNREFUSED ::1:8080", "ECONNREFUSED"),
      withCode("connect ECONNREFUSED 127.0.0.1:8080", "ECONNREFUSED"),
    ]);
    expect(deliveryOfFetchError(undici(both))).toEqual({
      delivery: "not-sent",
      reason: "connection refused (ECONNREFUSED)",
    });
  });

  it("URLs undici's fetch refuses before connecting are not sent", () => {
    expect(deliveryOfFetchError(undici(new Error("bad port")))).toEqual({
      delivery: "not-sent",
      reason: "fetch refuses this port",
    });
    expect(deliveryOfFetchError(undici(new Error("unknown scheme")))).toEqual({
      delivery: "not-sent",
      reason: "fetch refuses this URL scheme",
    });
  });

  it("a connection that broke once open is unknown, named by its code", () => {
    expect(deliveryOfFetchError(undici(withCode("read ECONNRESET", "ECONNRESET")))).toEqual({
      delivery: "unknown",
      reason: "connection reset (ECONNRESET)",
    });
    const terminated = new TypeError("terminated", {
      cause: withCode("other side closed", "UND_ERR_SOCKET"),
    });
    expect(deliveryOfFetchError(terminated)).toEqual({
      delivery: "unknown",
      reason: "connection closed by the other side (UND_ERR_SOCKET)",
    });
    expect(
      deliveryOfFetchError(undici(withCode("Headers Timeout Error", "UND_ERR_HEADERS_TIMEOUT"))),
    ).toEqual({
      delivery: "unknown",
      reason: "no answer headers in time (UND_ERR_HEADERS_TIMEOUT)",
    });
  });

  it("a chain with signs of both kinds is unknown, wherever the reset sits", () => {
    const resetOverRefused = undici(
      Object.assign(new Error("socket hang up", { cause: withCode("refused", "ECONNREFUSED") }), {
        code: "ECONNRESET",
      }),
    );
    expect(deliveryOfFetchError(resetOverRefused).delivery).toBe("unknown");
    const refusedOverReset = undici(
      Object.assign(new Error("refused", { cause: withCode("reset", "ECONNRESET") }), {
        code: "ECONNREFUSED",
      }),
    );
    expect(deliveryOfFetchError(refusedOverReset).delivery).toBe("unknown");
  });

  it("anything unrecognised is unknown and hands back the runtime's message, unread", () => {
    expect(deliveryOfFetchError(undici(new Error("something new")))).toEqual({
      delivery: "unknown",
      reason: "network error",
      message: "fetch failed",
    });
    expect(deliveryOfFetchError("a string")).toEqual({ delivery: "unknown", reason: "network error" });
    expect(deliveryOfFetchError(undefined)).toEqual({ delivery: "unknown", reason: "network error" });
    const looped = new Error("looped") as Error & { cause?: unknown };
    looped.cause = looped;
    expect(deliveryOfFetchError(looped).delivery).toBe("unknown");
  });
});

describe("deliveryOfFetchError: workerd", () => {
  it("a URL the runtime will not fetch is not sent; the reason never repeats the URL", () => {
    const refused = new TypeError("Fetch API cannot load: ftp://hooks.example.com/secret-key");
    expect(deliveryOfFetchError(refused)).toEqual({
      delivery: "not-sent",
      reason: "the runtime refused the URL",
    });
  });

  it("'Network connection lost.' (refused and reset alike) and a DNS 'internal error' stay unknown", () => {
    const lost = Object.assign(new Error("Network connection lost."), { retryable: true, remote: true });
    expect(deliveryOfFetchError(lost)).toEqual({
      delivery: "unknown",
      reason: "network error",
      message: "Network connection lost.",
    });
    const dns = Object.assign(new Error("internal error; reference = abc123"), { remote: true });
    expect(deliveryOfFetchError(dns).delivery).toBe("unknown");
  });
});

describe("deliveryOfFetchError on real Node sockets", () => {
  let node: NodeFetch;
  let server: Server;
  let liveOrigin: string;
  let deadOrigin: string;

  beforeAll(async () => {
    node = createNodeFetch();
    // Reads the request, then drops the connection without a byte of answer.
    server = createServer((req) => {
      req.resume();
      req.on("end", () => req.socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    liveOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    deadOrigin = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
  });
  afterAll(async () => {
    await node.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const rejection = async (fetch: FetchLike, url: string) => {
    try {
      await fetch(url, { method: "POST", body: "{}" });
    } catch (error) {
      return error;
    }
    throw new Error(`${url} answered`);
  };

  it("refused: not sent", async () => {
    expect(deliveryOfFetchError(await rejection(node.fetch, `${deadOrigin}/hook`))).toEqual({
      delivery: "not-sent",
      reason: "connection refused (ECONNREFUSED)",
    });
  });

  it("fetch's bad port: not sent", async () => {
    expect(deliveryOfFetchError(await rejection(node.fetch, "http://127.0.0.1:9/hook"))).toMatchObject({
      delivery: "not-sent",
    });
  });

  it("dropped after the request arrived: unknown", async () => {
    expect(deliveryOfFetchError(await rejection(node.fetch, `${liveOrigin}/hook`)).delivery).toBe("unknown");
  });
});

describe("deliveryOfError: what the shared client throws", () => {
  const at = { service: "atlas-admin", method: "POST", url: "https://cloud.mongodb.com/api/atlas/v2/x" };

  it("reads each error class by the same rule", () => {
    expect(deliveryOfError(new UpstreamTimeoutError({ ...at, timeoutMs: 10_000 }))).toBe("unknown");
    const refused = undici(withCode("connect ECONNREFUSED 1.2.3.4:443", "ECONNREFUSED"));
    expect(deliveryOfError(new UpstreamNetworkError({ ...at, cause: refused }))).toBe("not-sent");
    const reset = undici(withCode("read ECONNRESET", "ECONNRESET"));
    expect(deliveryOfError(new UpstreamNetworkError({ ...at, cause: reset }))).toBe("unknown");
    expect(deliveryOfError(new UpstreamNetworkError(at))).toBe("unknown");
    for (const status of [408, 500, 502, 504, 520, 524]) {
      expect([status, deliveryOfError(new UpstreamHttpError({ ...at, status }))]).toEqual([
        status,
        "unknown",
      ]);
    }
    for (const status of [400, 401, 403, 404, 409, 429, 501, 503, 521]) {
      expect([status, deliveryOfError(new UpstreamHttpError({ ...at, status }))]).toEqual([
        status,
        "not-sent",
      ]);
    }
    // An accepted status whose body could not be read: whether it acted cannot be told from it.
    expect(deliveryOfError(new UpstreamHttpError({ ...at, status: 200, code: "INVALID_JSON" }))).toBe(
      "unknown",
    );
    expect(deliveryOfError(new Error("anything else"))).toBe("unknown");
  });

  it("a POST through createHttpClient answered 524 is unknown, 503 not sent, refused not sent", async () => {
    const answers = [
      new Response("<html>524</html>", { status: 524 }),
      new Response("busy", { status: 503 }),
    ];
    const fetch: FetchLike = async () => {
      const next = answers.shift();
      if (next) return next;
      throw undici(withCode("connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED"));
    };
    const http = createHttpClient({ service: "atlas-admin", fetch, sleep: async () => {} });
    const kinds: string[] = [];
    for (let i = 0; i < 3; i++) {
      try {
        await http.request({ method: "POST", url: at.url, json: {} });
        kinds.push("sent");
      } catch (error) {
        kinds.push(deliveryOfError(error));
      }
    }
    expect(kinds).toEqual(["unknown", "not-sent", "not-sent"]);
  });
});

describe("mayCarrySecrets and cleartextRefusal", () => {
  it("https anywhere, plain http only to loopback", () => {
    const allowed = [
      "https://hooks.example.com/x",
      "https://127.0.0.1/x",
      "http://127.0.0.1:8080/x",
      "http://localhost:3000/x",
      "http://[::1]:3000/x",
    ];
    const refused = [
      "http://hooks.example.com/x",
      "http://127.0.0.2/x",
      "http://localhost.example.com/x",
      "http://10.0.0.1/x",
      "ftp://localhost/x",
      "ws://localhost/x",
    ];
    for (const url of allowed) expect([url, mayCarrySecrets(new URL(url))]).toEqual([url, true]);
    for (const url of refused) expect([url, mayCarrySecrets(new URL(url))]).toEqual([url, false]);
    expect(cleartextRefusal(new URL("https://hooks.example.com/x"))).toBeUndefined();
    expect(cleartextRefusal(new URL("http://hooks.example.com/x"))).toBe(
      "refused to send a credential over plain http to a non-loopback host",
    );
  });
});
