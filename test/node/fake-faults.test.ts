/**
 * The fakes' fault switches that the fault matrix (./faults.test.ts) relies on, each against a real
 * client: a switch that did not do what it says would make a matrix row pass for the wrong reason.
 */
import { MongoClient } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";
import { type FakePlatforms, startFakePlatforms } from "../../fakes/platforms.ts";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function mongo(): Promise<FakeMongo> {
  const fake = await startFakeMongo({ tier: "M10" });
  closers.push(() => fake.close());
  return fake;
}

function client(fake: FakeMongo, socketTimeoutMS = 2_000): MongoClient {
  const c = new MongoClient(fake.uri({ appName: "fault-probe" }), {
    serverSelectionTimeoutMS: 300,
    connectTimeoutMS: 300,
    socketTimeoutMS,
    retryReads: false,
    maxPoolSize: 1,
  });
  closers.push(() => c.close());
  return c;
}

const serverStatus = (c: MongoClient) => c.db("admin").command({ serverStatus: 1 });

describe("fake MongoDB faults", () => {
  it("refuse() drops every connection and refuses new ones; accept() listens on the same port again", async () => {
    const fake = await mongo();
    const before = client(fake);
    await serverStatus(before);
    await fake.refuse();
    expect(fake.openCount()).toBe(0);
    const refused = await serverStatus(client(fake)).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error).message)).toMatch(/ECONNREFUSED/);
    await fake.accept();
    await expect(serverStatus(client(fake))).resolves.toMatchObject({ ok: 1 });
  });

  it("dropMidCommand() reads the named command, records it and drops the socket unanswered, once", async () => {
    const fake = await mongo();
    const c = client(fake);
    await c.db("admin").command({ ping: 1 });
    fake.dropMidCommand({ command: "serverStatus" });
    // Other commands are untouched.
    await expect(c.db("admin").command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
    await expect(serverStatus(c)).rejects.toThrow(/closed|reset|ECONNRESET/i);
    expect(fake.commandsSeen().filter((r) => r.name === "serverStatus")).toHaveLength(1);
    // Only once: the next one is answered (a new client: the driver marks a server that dropped it unknown).
    await expect(serverStatus(client(fake))).resolves.toMatchObject({ ok: 1 });
  });

  it("slow(ms) answers commands late (a socket timeout shorter than the delay fires), never the handshake", async () => {
    const fake = await mongo();
    fake.slow(600);
    // The handshake is not slowed: server selection (300 ms) succeeds; the command then times out.
    await expect(serverStatus(client(fake, 200))).rejects.toThrow(/timed out/i);
    const patient = client(fake, 2_000);
    await expect(serverStatus(patient)).resolves.toMatchObject({ ok: 1 });
    fake.slow(0);
    await expect(serverStatus(patient)).resolves.toMatchObject({ ok: 1 });
  });
});

describe("fake platforms faults that land", () => {
  async function platforms(): Promise<{ fake: FakePlatforms; url: string; landed: string[] }> {
    const fake = await startFakePlatforms();
    closers.push(() => fake.close());
    const landed: string[] = [];
    fake.onRedeploy("web", () => {
      landed.push("web");
    });
    return { fake, url: fake.hookUrl("vercel", "web"), landed };
  }

  it("{ status: 500, landed: true } carries the redeploy out, then answers 500 with the platform's error body", async () => {
    const { fake, url, landed } = await platforms();
    fake.failNext("vercel", { status: 500, landed: true }, { target: "web" });
    const answer = await fetch(url, { method: "POST" });
    expect(answer.status).toBe(500);
    expect(await answer.json()).toMatchObject({ error: { code: "http_500" } });
    expect(landed).toEqual(["web"]);
    expect(fake.calls({ target: "web" })).toMatchObject([{ status: 500, fault: "status", accepted: true }]);
  });

  it("a plain 500 does not carry it out", async () => {
    const { fake, url, landed } = await platforms();
    fake.failNext("vercel", 500, { target: "web" });
    expect((await fetch(url, { method: "POST" })).status).toBe(500);
    expect(landed).toEqual([]);
    expect(fake.calls({ target: "web" })).toMatchObject([{ status: 500, accepted: false }]);
  });

  it('"accept-then-timeout" carries it out and never answers', async () => {
    const { fake, url, landed } = await platforms();
    fake.failNext("vercel", "accept-then-timeout", { target: "web" });
    const answer = await fetch(url, { method: "POST", signal: AbortSignal.timeout(300) }).catch(
      (error: Error) => error,
    );
    expect(answer).toBeInstanceOf(Error);
    expect((answer as Error).name).toMatch(/TimeoutError|AbortError/);
    expect(landed).toEqual(["web"]);
    expect(fake.calls({ target: "web" })).toMatchObject([
      { status: null, fault: "accept-then-timeout", accepted: true },
    ]);
  });
});

describe("fake platforms: a held call", () => {
  it('"hold" keeps the call unanswered, logged with no status, until release(); then it is carried out', async () => {
    const fake = await startFakePlatforms();
    closers.push(() => fake.close());
    const landed: string[] = [];
    fake.onRedeploy("held", () => {
      landed.push("held");
    });
    fake.failNext("vercel", "hold", { target: "held" });
    let answered = false;
    const pending = fetch(fake.hookUrl("vercel", "held"), { method: "POST" }).then((r) => {
      answered = true;
      return r;
    });
    while (fake.calls({ target: "held" }).length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(fake.calls({ target: "held" })).toMatchObject([{ status: null, fault: "hold", accepted: false }]);
    expect(answered).toBe(false);
    expect(landed).toEqual([]);
    expect(fake.release("someone-else")).toBe(0);
    // Over HTTP too, for workerd tests.
    const control = await fetch(`${fake.baseUrl}/__control/release`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ target: "held" }),
    });
    expect(await control.json()).toEqual({ released: 1 });
    expect((await pending).status).toBe(201);
    expect(landed).toEqual(["held"]);
    expect(fake.calls({ target: "held" })).toMatchObject([{ status: 201, fault: "hold", accepted: true }]);
  });
});
