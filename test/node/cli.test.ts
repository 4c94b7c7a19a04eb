/** The Node CLIs: `check:config` and `alert:test`, against a real local HTTP receiver. */
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertTest } from "../../src/cli/alert-test.ts";
import { checkConfig } from "../../src/cli/check-config.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, write: (line: string) => out.push(line), error: (line: string) => err.push(line) };
}

describe("check:config", () => {
  it("exits 0 and summarises a valid configuration without values", () => {
    const io = capture();
    const code = checkConfig(
      {
        ATLAS_WEBHOOK_SECRET: "whsec-hidden-value",
        ADMIN_TOKEN: "admin-hidden-value-123",
        RESPONDER_MODE: "auto",
      },
      io.write,
      io.error,
    );
    expect(code).toBe(0);
    expect(io.out.join("\n")).toContain("mode:     auto");
    expect(io.out.join("\n")).not.toContain("hidden-value");
  });

  it("exits 2 listing every problem by key, never the value", () => {
    const io = capture();
    const code = checkConfig(
      { RESPONDER_MODE: "sometimes-hidden", POLICY: "{broken-hidden" },
      io.write,
      io.error,
    );
    expect(code).toBe(2);
    expect(io.err[0]).toBe("Configuration has 3 problems:");
    expect(io.err.slice(1).map((l) => l.trim().split(":")[0])).toEqual([
      "ATLAS_WEBHOOK_SECRET",
      "RESPONDER_MODE",
      "POLICY",
    ]);
    expect(io.err.join("\n")).not.toContain("hidden");
  });
});

describe("alert:test", () => {
  let server: Server;
  let url: string;
  const received: Array<{ path: string; headers: Record<string, unknown>; body: string }> = [];
  const SECRET = "receiver-secret-42";

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        received.push({ path: req.url ?? "", headers: req.headers, body: body.toString("utf8") });
        // Verify independently of our code, the way any Atlas webhook consumer would.
        const expected = createHmac("sha1", SECRET).update(body).digest("base64");
        const ok = req.headers["x-mms-signature"] === expected;
        res.writeHead(ok ? 202 : 401, { "content-type": "application/json" });
        res.end(JSON.stringify(ok ? { status: "accepted", incident: "x" } : { error: "invalid signature" }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends a signed, realistic connection alert and exits 0 on 202", async () => {
    const io = capture();
    const code = await alertTest(
      ["--url", url, "--secret", SECRET, "--cluster", "Shop", "--percent", "91"],
      {},
      io.write,
      io.error,
    );
    expect(code).toBe(0);
    const last = received.at(-1)!;
    expect(last.path).toBe("/webhooks/atlas");
    expect(last.headers["x-mms-event"]).toBe("alert.open");
    const alert = JSON.parse(last.body);
    expect(alert).toMatchObject({
      clusterName: "Shop",
      status: "OPEN",
      metricName: "CONNECTIONS_PERCENT",
      currentValue: { number: 91, units: "RAW" },
      eventTypeName: "OUTSIDE_METRIC_THRESHOLD",
    });
    expect(alert.id).toMatch(/^[0-9a-f]{24}$/);
  });

  it("gives every OPEN a fresh id; CLOSED with --id closes that alert", async () => {
    const io = capture();
    await alertTest(["--url", url, "--secret", SECRET], {}, io.write, io.error);
    const first = JSON.parse(received.at(-1)!.body);
    await alertTest(["--url", url, "--secret", SECRET], {}, io.write, io.error);
    const open = JSON.parse(received.at(-1)!.body);
    expect(open.id).not.toBe(first.id);
    expect(io.out.join("\n")).toContain(`--status CLOSED --id ${open.id}`);
    const code = await alertTest(
      ["--url", url, "--secret", SECRET, "--status", "closed", "--id", open.id],
      {},
      io.write,
      io.error,
    );
    expect(code).toBe(0);
    const closed = JSON.parse(received.at(-1)!.body);
    expect(received.at(-1)!.headers["x-mms-event"]).toBe("alert.close");
    expect(closed.id).toBe(open.id);
    expect(closed.status).toBe("CLOSED");
  });

  it("takes the secret from the environment and exits 1 when the receiver refuses", async () => {
    const io = capture();
    expect(await alertTest(["--url", url], { ATLAS_WEBHOOK_SECRET: SECRET }, io.write, io.error)).toBe(0);
    expect(await alertTest(["--url", url], { ATLAS_WEBHOOK_SECRET: "wrong" }, io.write, io.error)).toBe(1);
    expect(io.out.at(-1)).toContain("401");
  });

  it("exits 1 when nothing listens", async () => {
    const io = capture();
    expect(await alertTest(["--url", "http://127.0.0.1:9/", "--secret", "s"], {}, io.write, io.error)).toBe(
      1,
    );
  });

  it.each([
    [[]],
    [["--url", "ftp://x"]],
    [["--url", "http://x", "--secret", "s", "--percent", "lots"]],
    [["--url", "http://x", "--secret", "s", "--percent", "101"]],
    [["--url", "http://x", "--secret", "s", "--status", "CLOSED"]],
    [["--url", "http://x", "--secret", "s", "--status", "CLOSED", "--id", "short"]],
    [["--url", "http://x", "--secret", "s", "--status", "MAYBE"]],
    [["--url", "http://x", "--secret", "s", "--group", "nope"]],
    [["--url", "http://x", "--bogus"]],
    [["--url", "http://x"]],
  ])("exits 2 on usage errors: %j", async (argv) => {
    const io = capture();
    expect(await alertTest(argv, {}, io.write, io.error)).toBe(2);
    expect(io.err.join("\n")).toContain("usage:");
  });
});
