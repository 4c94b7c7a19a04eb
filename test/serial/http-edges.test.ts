/**
 * The HTTP edges, over a raw socket against `wrangler dev` (workerd's own HTTP parser, which
 * `SELF.fetch` skips): oversized heads and bodies, duplicated or conflicting `Content-Length` and
 * `Content-Type`, and a slowloris-style body, trickled then completed or abandoned. Each row asserts
 * what the real server answers — workerd itself refuses some requests before the Worker runs — and
 * that no delivery is recorded (the operator API lists no incident) until a whole body has arrived
 * and verified, and never from an abandoned one.
 *
 * A light world: the Worker alone, in `notify` mode with no Atlas API, MongoDB or Slack configured,
 * so a recorded alert opens an incident and nothing is sent anywhere.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../sandbox/ports.ts";
import { signAtlasBody } from "../../src/atlas/webhook-signature.ts";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

const ADMIN_TOKEN = `edges-admin-${randomBytes(12).toString("hex")}`;
const WEBHOOK_SECRET = `edges-whsec-${randomBytes(12).toString("hex")}`;
const GROUP = "ed9e0000000000000000000a";
const KiB = 1024;

let port = 0;
let child: ChildProcess | null = null;
let dir = "";
const output: string[] = [];

beforeAll(async () => {
  port = await freePort();
  dir = await mkdtemp(join(tmpdir(), "responder-edges-"));
  const envFile = join(dir, "worker.env");
  const vars = { ATLAS_WEBHOOK_SECRET: WEBHOOK_SECRET, ADMIN_TOKEN, RESPONDER_MODE: "notify" };
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join(""),
    { mode: 0o600 },
  );
  child = spawn(
    join(process.cwd(), "node_modules/.bin/wrangler"),
    [
      "dev",
      ...["--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false"],
      ...[
        "--persist-to",
        join(dir, "state"),
        "--env-file",
        envFile,
        "--inspector-port",
        String(await freePort()),
      ],
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      detached: true,
    },
  );
  child.stdout?.on("data", (chunk) => output.push(String(chunk)));
  child.stderr?.on("data", (chunk) => output.push(String(chunk)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`wrangler dev did not start:\n${output.join("").slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    process.kill(-child.pid, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---- raw HTTP/1.1 -------------------------------------------------------------------------------

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no complete answer: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine!)?.[1]), headers, body: text.slice(end + 4) };
}

/**
 * Opens a socket, writes `parts` one after another (awaiting `between(i)` after part i), and answers
 * what the server said once it closes the connection (every request here says `Connection: close`).
 */
function exchange(parts: Array<string | Buffer>, between?: (i: number) => Promise<void>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    // The server may answer and close before it has read everything (EPIPE/ECONNRESET on our side).
    socket.on("error", () => undefined);
    socket.on("close", () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks).toString("latin1")));
      } catch (error) {
        reject(error);
      }
    });
    void (async () => {
      for (const [i, part] of parts.entries()) {
        if (socket.destroyed) return;
        socket.write(part);
        await between?.(i);
      }
    })();
  });
}

/** A request head; `headers` are written exactly as given, in order, duplicates and all. */
const head = (method: string, path: string, headers: Array<[string, string]>) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}Connection: close\r\n\r\n`;

let alerts = 0;
/** A signed connection alert for a cluster of its own; `pad` grows `humanReadable` to a size. */
async function signedAlert(cluster: string, pad = 0) {
  alerts += 1;
  const body = JSON.stringify(
    alertWith(M0_CONNECTIONS_OPEN, {
      id: `ed9e00000000000000${String(alerts).padStart(6, "0")}`,
      groupId: GROUP,
      clusterName: cluster,
      humanReadable: "x".repeat(pad),
    }),
  );
  return { body, signature: await signAtlasBody(body, WEBHOOK_SECRET) };
}

const webhookHeaders = (signature: string, extra: Array<[string, string]> = []): Array<[string, string]> => [
  ["X-MMS-Event", "alert.open"],
  ["X-MMS-Signature", signature],
  ...extra,
];

/** The clusters with an incident, as the operator API lists them. */
async function recordedClusters(): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${port}/incidents`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(200);
  const { incidents } = (await response.json()) as { incidents: Array<{ cluster: { name: string } }> };
  return incidents.map((i) => i.cluster.name).sort();
}

const recordedLines = () => output.join("").match(/"event":"webhook\.recorded"/g)?.length ?? 0;

/** Waits until wrangler has printed `count` webhook.recorded lines (its log trails the answer). */
async function recordedLinesReach(count: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (recordedLines() < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return recordedLines();
}

// ---- the rows ------------------------------------------------------------------------------------

describe("oversized heads and bodies", () => {
  it("serves a 256 KiB header; workerd refuses a 1 MiB head with 431 before the Worker runs", async () => {
    const fine = await exchange([head("GET", "/healthz", [["X-Padding", "a".repeat(256 * KiB)]])]);
    expect(fine.status).toBe(200);
    const { body, signature } = await signedAlert("EdgeHugeHead");
    // One write: once workerd has answered and closed, a second write would reset the connection.
    const huge = await exchange([
      head("POST", "/webhooks/atlas", [
        ...webhookHeaders(signature, [["X-Padding", "a".repeat(1024 * KiB)]]),
        ["Content-Type", "application/json"],
        ["Content-Length", String(Buffer.byteLength(body))],
      ]) + body,
    ]);
    expect(huge.status).toBe(431);
    expect(huge.headers["content-type"]).toBe("text/plain");
    expect(huge.body).toBe("message head is too large");
    expect(await recordedClusters()).not.toContain("EdgeHugeHead");
  });

  it("answers 413 to a correctly signed body over 64 KiB, declared or chunked, and records nothing", async () => {
    const declared = await signedAlert("EdgeBigDeclared", 64 * KiB);
    const answer = await exchange([
      head("POST", "/webhooks/atlas", [
        ...webhookHeaders(declared.signature),
        ["Content-Type", "application/json"],
        ["Content-Length", String(Buffer.byteLength(declared.body))],
      ]),
      declared.body,
    ]);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ error: "payload too large" });

    const chunked = await signedAlert("EdgeBigChunked", 64 * KiB);
    const chunks = [chunked.body.slice(0, 40 * KiB), chunked.body.slice(40 * KiB)];
    const answer2 = await exchange([
      head("POST", "/webhooks/atlas", [
        ...webhookHeaders(chunked.signature),
        ["Content-Type", "application/json"],
        ["Transfer-Encoding", "chunked"],
      ]),
      ...chunks.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`),
      "0\r\n\r\n",
    ]);
    expect(answer2.status).toBe(413);
    expect(JSON.parse(answer2.body)).toEqual({ error: "payload too large" });
    expect(await recordedClusters()).toEqual(
      expect.not.arrayContaining(["EdgeBigDeclared", "EdgeBigChunked"]),
    );
  });
});

describe("Content-Length and Content-Type", () => {
  it("refuses conflicting Content-Length values with workerd's own 400; a repeated equal value counts once", async () => {
    const { body, signature } = await signedAlert("EdgeLengths");
    const length = String(Buffer.byteLength(body));
    for (const lengths of [[length, "3"], [`${length}, 3`], ["-1"]]) {
      const answer = await exchange([
        head("POST", "/webhooks/atlas", [
          ...webhookHeaders(signature),
          ["Content-Type", "application/json"],
          ...lengths.map((l): [string, string] => ["Content-Length", l]),
        ]),
        body,
      ]);
      expect(answer.status, lengths.join(" / ")).toBe(400);
      expect(answer.body).toBe("invalid content-length parsed");
    }
    expect(await recordedClusters()).not.toContain("EdgeLengths");
    const same = await exchange([
      head("POST", "/webhooks/atlas", [
        ...webhookHeaders(signature),
        ["Content-Type", "application/json"],
        ["Content-Length", length],
        ["Content-Length", length],
      ]),
      body,
    ]);
    expect(same.status).toBe(202);
    expect(await recordedClusters()).toContain("EdgeLengths");
  });

  it("lets Transfer-Encoding: chunked override a Content-Length (RFC 9112 §6.3): the whole signed body is what counts", async () => {
    const { body, signature } = await signedAlert("EdgeChunkedOverLength");
    const answer = await exchange([
      head("POST", "/webhooks/atlas", [
        ...webhookHeaders(signature),
        ["Content-Type", "application/json"],
        ["Content-Length", "3"],
        ["Transfer-Encoding", "chunked"],
      ]),
      `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    ]);
    expect(answer.status).toBe(202);
    expect(JSON.parse(answer.body)).toMatchObject({ status: "accepted" });
    expect(await recordedClusters()).toContain("EdgeChunkedOverLength");
  });

  it("answers 415 to a duplicated or conflicting Content-Type, even on a signed alert", async () => {
    const { body, signature } = await signedAlert("EdgeTypes");
    for (const types of [
      ["application/json", "text/plain"],
      ["text/plain", "application/json"],
      ["application/json", "application/json"],
    ]) {
      const answer = await exchange([
        head("POST", "/webhooks/atlas", [
          ...webhookHeaders(signature),
          ...types.map((t): [string, string] => ["Content-Type", t]),
          ["Content-Length", String(Buffer.byteLength(body))],
        ]),
        body,
      ]);
      expect(answer.status, types.join(" + ")).toBe(415);
      expect(JSON.parse(answer.body)).toEqual({ error: "unsupported media type: send application/json" });
    }
    expect(await recordedClusters()).not.toContain("EdgeTypes");
  });
});

describe("a slowloris-style body", () => {
  const trickle = (text: string, pieces: number) =>
    Array.from({ length: pieces }, (_, i) =>
      text.slice(Math.floor((i * text.length) / pieces), Math.floor(((i + 1) * text.length) / pieces)),
    );

  it("records nothing while the body trickles in, and the delivery once the whole body has verified", async () => {
    const { body, signature } = await signedAlert("EdgeSlow");
    // Every earlier delivery opened one incident and wrote one line; let the log catch up first.
    const before = await recordedLinesReach((await recordedClusters()).length);
    const pieces = trickle(body, 8);
    const seenWhileSending: string[][] = [];
    const answer = await exchange(
      [
        head("POST", "/webhooks/atlas", [
          ...webhookHeaders(signature),
          ["Content-Type", "application/json"],
          ["Content-Length", String(Buffer.byteLength(body))],
        ]),
        ...pieces,
      ],
      async (i) => {
        // After the head and every piece but the last: the operator API shows no such delivery.
        if (i < pieces.length) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          seenWhileSending.push(await recordedClusters());
        }
      },
    );
    expect(seenWhileSending).toHaveLength(pieces.length);
    expect(seenWhileSending.every((list) => !list.includes("EdgeSlow"))).toBe(true);
    expect(answer.status).toBe(202);
    expect(await recordedClusters()).toContain("EdgeSlow");
    expect(await recordedLinesReach(before + 1)).toBe(before + 1);
  });

  it("never records an abandoned body; the next whole delivery is recorded alone", async () => {
    const abandoned = await signedAlert("EdgeAbandoned");
    // Every earlier delivery opened one incident and wrote one line; let the log catch up first.
    const before = await recordedLinesReach((await recordedClusters()).length);
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => undefined);
      socket.on("close", () => resolve());
      socket.write(
        head("POST", "/webhooks/atlas", [
          ...webhookHeaders(abandoned.signature),
          ["Content-Type", "application/json"],
          ["Content-Length", String(Buffer.byteLength(abandoned.body))],
        ]),
      );
      socket.write(abandoned.body.slice(0, Math.floor(abandoned.body.length / 2)), () => {
        setTimeout(() => socket.destroy(), 300);
      });
    });
    const next = await signedAlert("EdgeAfterAbandoned");
    const answer = await exchange([
      head("POST", "/webhooks/atlas", [
        ...webhookHeaders(next.signature),
        ["Content-Type", "application/json"],
        ["Content-Length", String(Buffer.byteLength(next.body))],
      ]),
      next.body,
    ]);
    expect(answer.status).toBe(202);
    const clusters = await recordedClusters();
    expect(clusters).toContain("EdgeAfterAbandoned");
    expect(clusters).not.toContain("EdgeAbandoned");
    expect(await recordedLinesReach(before + 1)).toBe(before + 1);
  });
});
