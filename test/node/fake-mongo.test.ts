/**
 * The fake MongoDB server against the real driver (and, for wire-level rules the driver never
 * exercises, raw sockets): if the fake drifts from what a real server does, every test built on it lies.
 */
import { spawn } from "node:child_process";
import { connect as connectTcp, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { BSON, type Document } from "bson";
import { MongoClient, MongoServerError, MongoServerSelectionError } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";
import { attribution, CurrentOpEntrySchema } from "../../src/stats/current-op.ts";

const clients: MongoClient[] = [];
/** A client that afterEach closes; short timeouts so a failing test fails fast. */
function client(uri: string, options: ConstructorParameters<typeof MongoClient>[1] = {}): MongoClient {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000, ...options });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe("fake mongo, dedicated tier (M10)", () => {
  let fake: FakeMongo;
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10" });
  });
  afterAll(() => fake.close());

  it("records each connection's handshake metadata and peer address", async () => {
    const c = client(fake.uri({ appName: "meta-probe" }));
    await c.db("admin").command({ ping: 1 });

    const mine = fake.openConnections().filter((conn) => conn.appName === "meta-probe");
    // The driver's monitor plus one pooled connection, both with the same metadata.
    expect(mine).toHaveLength(2);
    expect(fake.openCount("meta-probe")).toBe(2);
    for (const conn of mine) {
      expect(conn.client).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(conn.clientMetadata).toMatchObject({
        application: { name: "meta-probe" },
        driver: { name: "nodejs", version: "7.9.0" },
        platform: expect.stringMatching(/^Node\.js v\d+/),
        os: { type: expect.any(String) },
      });
    }
  });

  it("lists every open connection in $currentOp, idle ones as op 'none', across getMore batches", async () => {
    const idle = client(fake.uri({ appName: "idle-app" }));
    await idle.db("admin").command({ ping: 1 });
    const c = client(fake.uri({ appName: "op-reader" }));
    const docs = await c
      .db("admin")
      .aggregate([{ $currentOp: { allUsers: true, idleConnections: true } }], { batchSize: 1 })
      .toArray();

    expect(docs).toHaveLength(fake.openCount());
    const idleDocs = docs.filter((d) => d.appName === "idle-app");
    expect(idleDocs).toHaveLength(2);
    const open = fake.openConnections();
    for (const doc of idleDocs) {
      const conn = open.find((o) => o.id === doc.connectionId);
      expect(doc).toMatchObject({
        type: "op",
        desc: `conn${doc.connectionId}`,
        client: conn?.client,
        active: false,
        op: "none",
        clientMetadata: { application: { name: "idle-app" }, driver: { name: "nodejs" } },
      });
    }
    const self = docs.filter((d) => d.active === true);
    expect(self).toHaveLength(1);
    expect(self[0]).toMatchObject({ appName: "op-reader", op: "command", opid: expect.any(Number) });

    // Without idleConnections only the running operation (our own) shows.
    const activeOnly = await c
      .db("admin")
      .aggregate([{ $currentOp: { allUsers: true } }])
      .toArray();
    expect(activeOnly.map((d) => d.appName)).toEqual(["op-reader"]);
  });

  it("applies a $project after $currentOp and refuses stages it does not implement", async () => {
    const c = client(fake.uri({ appName: "projector" }));
    const [first] = await c
      .db("admin")
      .aggregate([
        { $currentOp: { allUsers: true, idleConnections: true } },
        { $project: { appName: 1, "clientMetadata.driver.name": 1 } },
      ])
      .toArray();
    expect(first).toEqual({ appName: expect.any(String), clientMetadata: { driver: { name: "nodejs" } } });
    await expect(
      c
        .db("admin")
        .aggregate([{ $currentOp: {} }, { $group: { _id: "$appName" } }])
        .toArray(),
    ).rejects.toMatchObject({ code: 115 });
    await expect(
      c
        .db("shop")
        .aggregate([{ $currentOp: {} }])
        .toArray(),
    ).rejects.toMatchObject({ code: 73 });
  });

  it("reports full connection stats on a dedicated tier", async () => {
    const c = client(fake.uri({ appName: "status-reader" }));
    const status = await c.db("admin").command({ serverStatus: 1 });
    expect(status.connections).toEqual({
      current: fake.openCount(),
      available: 500 - fake.openCount(),
      totalCreated: fake.totalCreated(),
      rejected: 0,
      active: 1,
      threaded: fake.openCount(),
      exhaustIsMaster: 0,
      exhaustHello: 0,
      awaitingTopologyChanges: 0,
    });
    expect(status).toHaveProperty("localTime");
  });

  it("answers killOp and records it", async () => {
    const c = client(fake.uri({ appName: "killer" }));
    await expect(c.db("admin").command({ killOp: 1, op: 4242 })).resolves.toMatchObject({
      ok: 1,
      info: "attempting to kill op",
    });
    // Auth is off here: like mongod, an op that does not exist is a silent success.
    expect(fake.killedOps()).toContainEqual({
      op: 4242,
      connectionId: expect.any(Number),
      appName: "killer",
      target: null,
    });
    await expect(c.db("shop").command({ killOp: 1, op: 1 })).rejects.toMatchObject({ code: 13 });
  });

  it("answers unknown commands with CommandNotFound", async () => {
    const c = client(fake.uri());
    const error = await c
      .db("admin")
      .command({ frobnicate: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 59,
      codeName: "CommandNotFound",
      message: "no such command: 'frobnicate'",
    });
  });

  it("drops connections on demand, as a failover would", async () => {
    const c = client(fake.uri({ appName: "to-drop" }));
    await c.db("admin").command({ ping: 1 });
    expect(fake.dropConnections((conn) => conn.appName === "to-drop")).toBe(2);
    await fake.waitFor(() => fake.openCount("to-drop") === 0, 1_000);
  });
});

describe("fake mongo as a mongos", () => {
  let fake: FakeMongo;
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M30", mongos: true });
  });
  afterAll(() => fake.close());

  const currentOp = (c: MongoClient, stage: Document) =>
    c
      .db("admin")
      .aggregate([{ $currentOp: stage }])
      .toArray();

  it("says it is a router in hello, and a mongod does not", async () => {
    const c = client(fake.uri({ appName: "router-probe" }));
    expect(await c.db("admin").command({ hello: 1 })).toMatchObject({ msg: "isdbgrid" });
    const plain = await startFakeMongo({ tier: "M10" });
    try {
      const p = client(plain.uri());
      expect(await p.db("admin").command({ hello: 1 })).not.toHaveProperty("msg");
    } finally {
      await plain.close();
    }
  });

  it("without localOps lists the shards' view: client_s, no client, no app metadata", async () => {
    const app = client(fake.uri({ appName: "behind-router" }));
    await app.db("admin").command({ ping: 1 });
    const c = client(fake.uri({ appName: "op-reader" }));
    const docs = await currentOp(c, { allUsers: true, idleConnections: true });
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(doc).toHaveProperty("client_s");
      expect(doc).toHaveProperty("shard");
      expect(doc).not.toHaveProperty("client");
      expect(doc.appName).toBeUndefined();
    }
    // Attribution from this view is impossible, and says so rather than answering "no apps".
    const said = attribution(docs.map((d) => CurrentOpEntrySchema.parse(d)));
    expect(said.byApp).toBeUndefined();
    expect(said.finding).toMatchObject({ kind: "partial", detail: expect.stringContaining("client_s") });
  });

  it("with localOps lists the router's own connections, idle ones included, with client and clientMetadata", async () => {
    const app = client(fake.uri({ appName: "behind-router-2" }));
    await app.db("admin").command({ ping: 1 });
    const c = client(fake.uri({ appName: "op-reader-2" }));
    const docs = await currentOp(c, { allUsers: true, idleConnections: true, localOps: true });
    const mine = docs.filter((d) => d.appName === "behind-router-2");
    expect(mine).toHaveLength(2);
    for (const doc of mine) {
      expect(doc.client).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(doc.clientMetadata).toMatchObject({ application: { name: "behind-router-2" } });
      expect(doc.op).toBe("none");
    }
    const said = attribution(docs.map((d) => CurrentOpEntrySchema.parse(d)));
    expect(said.byApp?.find((g) => g.app === "behind-router-2")?.connections).toBe(2);
  });
});

describe("fake mongo, shared tier (M0)", () => {
  let fake: FakeMongo;
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M0" });
  });
  afterAll(() => fake.close());

  it("trims serverStatus to the M0 field list", async () => {
    const status = await client(fake.uri()).db("admin").command({ serverStatus: 1 });
    expect(Object.keys(status.connections).sort()).toEqual(["available", "current", "totalCreated"]);
    expect(status.connections.current + status.connections.available).toBe(500);
    expect(Object.keys(status).sort()).toEqual(
      ["connections", "host", "mem", "network", "ok", "opcounters", "uptime", "version"].sort(),
    );
  });

  it("refuses $currentOp with 8000 AtlasError", async () => {
    const error = await client(fake.uri())
      .db("admin")
      .aggregate([{ $currentOp: { allUsers: true, idleConnections: true } }])
      .toArray()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 8000,
      codeName: "AtlasError",
      message: "$currentOp is not allowed in this atlas tier",
    });
  });

  it("runs slow queries and lets killOp end them, though $currentOp cannot list them", async () => {
    const c = client(fake.uri({ appName: "free-slow" }), { maxPoolSize: 1 });
    const outcome = c
      .db("app")
      .collection("slow_30000")
      .find({})
      .toArray()
      .catch((e: unknown) => e);
    await fake.waitFor(() => fake.runningOps().some((op) => op.appName === "free-slow"));
    const [op] = fake.runningOps().filter((o) => o.appName === "free-slow");
    await expect(client(fake.uri()).db("admin").command({ killOp: 1, op: op!.opid })).resolves.toMatchObject({
      ok: 1,
    });
    expect(await outcome).toMatchObject({ code: 11601, codeName: "Interrupted" });
  });

  it("follows a tier change at runtime", async () => {
    const c = client(fake.uri());
    fake.setTier("M30");
    try {
      await expect(
        c
          .db("admin")
          .aggregate([{ $currentOp: { allUsers: true } }])
          .toArray(),
      ).resolves.toHaveLength(1);
    } finally {
      fake.setTier("M0");
    }
  });
});

describe("fake mongo long-running operations (the slow_<ms> knob)", () => {
  let fake: FakeMongo;
  const users = { "usr-a": "pw-A-1234", "usr-b": "pw-B-5678" };
  const uriAs = (user: keyof typeof users, appName: string) =>
    fake.uri({ user, password: users[user], appName });
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10", users });
  });
  afterAll(() => fake.close());

  /** Starts a slow find from a fresh client and resolves with its opid once the server runs it. */
  async function slowFind(user: keyof typeof users, appName: string, ms = 30_000, options = {}) {
    const c = client(uriAs(user, appName), { maxPoolSize: 1 });
    const outcome = c
      .db("app")
      .collection(`slow_${ms}`)
      .find({ email: "x@example.com" }, options)
      .toArray()
      .catch((e: unknown) => e);
    await fake.waitFor(() => fake.runningOps().some((op) => op.appName === appName));
    const opid = fake.runningOps().find((op) => op.appName === appName)!.opid;
    return { opid, outcome };
  }

  const currentOp = (user: keyof typeof users, stage: Document) =>
    client(uriAs(user, `watcher-${user}`))
      .db("admin")
      .aggregate([{ $currentOp: stage }])
      .toArray();

  it("keeps a slow find in progress, listed by $currentOp with mongod's fields, then answers it", async () => {
    const started = Date.now();
    const { opid, outcome } = await slowFind("usr-a", "slow-find", 600);
    await fake.waitFor(() => fake.runningOps().some((op) => op.opid === opid && op.secondsRunning >= 0.2));

    const docs = await currentOp("usr-a", { allUsers: true });
    const doc = docs.find((d) => d.opid === opid);
    expect(doc).toMatchObject({
      type: "op",
      active: true,
      opid,
      op: "query",
      ns: "app.slow_600",
      command: { find: "slow_600", filter: { email: "x@example.com" }, $db: "app" },
      effectiveUsers: [{ user: "usr-a", db: "admin" }],
      appName: "slow-find",
      clientMetadata: { application: { name: "slow-find" } },
      client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      secs_running: 0,
    });
    expect(doc!.microsecs_running).toBeGreaterThanOrEqual(200_000);
    const status = await client(uriAs("usr-a", "status")).db("admin").command({ serverStatus: 1 });
    expect(status.connections.active).toBe(2); // the slow find and serverStatus itself

    expect(await outcome).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    expect(fake.runningOps().map((op) => op.opid)).not.toContain(opid);
  });

  it("reports a slow aggregate as op 'command' and truncates big commands only when asked", async () => {
    const c = client(uriAs("usr-a", "slow-agg"), { maxPoolSize: 1 });
    const big = "y".repeat(2_000);
    const outcome = c
      .db("app")
      .collection("slow_30000_reports")
      .aggregate([{ $match: { note: big } }])
      .toArray()
      .catch((e: unknown) => e);
    await fake.waitFor(() => fake.runningOps().some((op) => op.appName === "slow-agg"));

    const full = (await currentOp("usr-a", {})).find((d) => d.appName === "slow-agg");
    expect(full).toMatchObject({ op: "command", ns: "app.slow_30000_reports" });
    expect(full!.command.pipeline).toEqual([{ $match: { note: big } }]);
    const cut = (await currentOp("usr-a", { truncateOps: true })).find((d) => d.appName === "slow-agg");
    expect(Object.keys(cut!.command)).toEqual(["$truncated"]);
    expect(cut!.command.$truncated.length).toBeLessThanOrEqual(1_000);
    await c.close();
    await outcome;
  });

  it("lists only the caller's own user's operations without allUsers", async () => {
    const mine = await slowFind("usr-a", "mine");
    const theirs = await slowFind("usr-b", "theirs");
    const ownView = (await currentOp("usr-a", { allUsers: false })).map((d) => d.opid);
    expect(ownView).toContain(mine.opid);
    expect(ownView).not.toContain(theirs.opid);
    const allView = (await currentOp("usr-a", { allUsers: true })).map((d) => d.opid);
    expect(allView).toEqual(expect.arrayContaining([mine.opid, theirs.opid]));
  });

  it("lets killOp end an op of the caller's own user: its client sees Interrupted", async () => {
    const { opid, outcome } = await slowFind("usr-a", "victim");
    const killer = client(uriAs("usr-a", "killer"));
    await expect(killer.db("admin").command({ killOp: 1, op: opid })).resolves.toEqual({
      info: "attempting to kill op",
      ok: 1,
    });
    const error = await outcome;
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 11601,
      codeName: "Interrupted",
      message: "operation was interrupted",
    });
    expect(fake.runningOps().map((op) => op.opid)).not.toContain(opid);
    expect((await currentOp("usr-a", { allUsers: true })).map((d) => d.opid)).not.toContain(opid);
    expect(fake.killedOps()).toContainEqual({
      op: opid,
      connectionId: expect.any(Number),
      appName: "killer",
      target: { connectionId: expect.any(Number), appName: "victim", user: "usr-a" },
    });
  });

  it("refuses killOp of another user's op, or of one that is gone, as Unauthorized (Atlas's rule)", async () => {
    const { opid } = await slowFind("usr-b", "not-yours");
    const killer = client(uriAs("usr-a", "intruder"));
    for (const op of [opid, 987_654]) {
      const error = await killer
        .db("admin")
        .command({ killOp: 1, op })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoServerError);
      expect(error).toMatchObject({
        code: 13,
        codeName: "Unauthorized",
        message: `not authorized on admin to execute command { killOp: 1, op: ${op}, $db: "admin" }`,
      });
    }
    expect(fake.runningOps().map((o) => o.opid)).toContain(opid);
    expect(fake.killedOps().map((k) => k.op)).not.toContain(opid);
  });

  it("ends an op when its client disconnects, and honours maxTimeMS", async () => {
    const gone = await slowFind("usr-a", "disconnects");
    fake.dropConnections((conn) => conn.appName === "disconnects");
    await fake.waitFor(() => !fake.runningOps().some((op) => op.opid === gone.opid), 1_000);

    const limited = await slowFind("usr-a", "limited", 30_000, { maxTimeMS: 150 });
    expect(await limited.outcome).toMatchObject({ code: 50, codeName: "MaxTimeMSExpired" });
  });

  it("serves no data: find on any other collection is CommandNotSupported", async () => {
    await expect(
      client(uriAs("usr-a", "reader")).db("app").collection("orders").find({}).toArray(),
    ).rejects.toMatchObject({ code: 115, codeName: "CommandNotSupported" });
  });
});

describe("fake mongo connection limit", () => {
  it("accepts then closes connections beyond the limit, unanswered, and counts them", async () => {
    const fake = await startFakeMongo({ tier: "M10", connectionLimit: 3 });
    try {
      // A monitor plus two pooled connections fill the server.
      const hog = client(fake.uri({ appName: "hog" }), { minPoolSize: 2, maxPoolSize: 2 });
      await hog.connect();
      await fake.waitFor(() => fake.openCount("hog") === 3);

      const started = Date.now();
      const late = client(fake.uri({ appName: "late" }), { serverSelectionTimeoutMS: 600 });
      const error = await late.connect().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoServerSelectionError);
      expect((error as Error).message).toMatch(/closed|reset/i);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(fake.rejectedCount()).toBeGreaterThan(0);
      expect(fake.openCount()).toBe(3);
      expect(fake.commandsSeen().some((cmd) => cmd.appName === "late")).toBe(false);

      const status = await hog.db("admin").command({ serverStatus: 1 });
      expect(status.connections).toMatchObject({ current: 3, available: 0, rejected: fake.rejectedCount() });
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await fake.close();
    }
  });
});

describe("fake mongo SCRAM-SHA-256", () => {
  let fake: FakeMongo;
  const password = "pw-Scram-91d3";
  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10", users: { monitor: password } });
  });
  afterAll(() => fake.close());

  it("authenticates the right password", async () => {
    const c = client(fake.uri({ user: "monitor", password, appName: "authed" }));
    await expect(c.db("admin").command({ serverStatus: 1 })).resolves.toMatchObject({ ok: 1 });
    expect(
      fake.openConnections().filter((conn) => conn.appName === "authed" && conn.user === "monitor"),
    ).toHaveLength(1);
  });

  it.each([
    ["a wrong password", "monitor", "not-the-password"],
    ["an unknown user", "nobody", password],
  ])("fails %s with code 18", async (_case, user, pass) => {
    const error = await client(fake.uri({ user, password: pass }))
      .connect()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 18,
      codeName: "AuthenticationFailed",
      message: "Authentication failed.",
    });
  });

  it("requires authentication for serverStatus but not for ping", async () => {
    const c = client(fake.uri());
    await expect(c.db("admin").command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
    await expect(c.db("admin").command({ serverStatus: 1 })).rejects.toMatchObject({
      code: 13,
      codeName: "Unauthorized",
    });
  });
});

describe("fake mongo wire protocol", () => {
  let fake: FakeMongo;
  let socket: Socket;
  let received: Buffer;
  let waiters: (() => void)[];

  beforeAll(async () => {
    fake = await startFakeMongo({ tier: "M10" });
  });
  afterAll(() => fake.close());

  async function open(): Promise<void> {
    received = Buffer.alloc(0);
    waiters = [];
    socket = connectTcp(fake.port, "127.0.0.1");
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      for (const wake of waiters.splice(0)) wake();
    });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
  }
  afterEach(() => socket?.destroy());

  /** Reads one whole reply: its responseTo and its (first) document. */
  async function reply(): Promise<{ responseTo: number; opCode: number; doc: Document }> {
    while (received.length < 4 || received.length < received.readInt32LE(0)) {
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    const length = received.readInt32LE(0);
    const message = received.subarray(0, length);
    received = received.subarray(length);
    const opCode = message.readInt32LE(12);
    const docAt = opCode === 1 ? 36 : 21;
    return { responseTo: message.readInt32LE(8), opCode, doc: BSON.deserialize(message.subarray(docAt)) };
  }

  function opMsg(
    requestId: number,
    flags: number,
    body: Document,
    sequence?: [string, Document[]],
    checksum = false,
  ) {
    const sections: Buffer[] = [Buffer.from([0]), Buffer.from(BSON.serialize(body))];
    if (sequence) {
      const docs = sequence[1].map((d) => Buffer.from(BSON.serialize(d)));
      const id = Buffer.from(`${sequence[0]}\0`);
      const size = Buffer.alloc(4);
      size.writeInt32LE(4 + id.length + docs.reduce((n, d) => n + d.length, 0));
      sections.push(Buffer.from([1]), size, id, ...docs);
    }
    const head = Buffer.alloc(20);
    const trailer = checksum ? Buffer.alloc(4, 0xab) : Buffer.alloc(0);
    const total = head.length + sections.reduce((n, s) => n + s.length, 0) + trailer.length;
    head.writeInt32LE(total, 0);
    head.writeInt32LE(requestId, 4);
    head.writeInt32LE(0, 8);
    head.writeInt32LE(2013, 12);
    head.writeUInt32LE(flags | (checksum ? 1 : 0), 16);
    return Buffer.concat([head, ...sections, trailer]);
  }

  function opQuery(requestId: number, collection: string, query: Document) {
    const name = Buffer.from(`${collection}\0`);
    const doc = Buffer.from(BSON.serialize(query));
    const head = Buffer.alloc(20);
    const counts = Buffer.alloc(8);
    counts.writeInt32LE(-1, 4);
    head.writeInt32LE(head.length + name.length + counts.length + doc.length, 0);
    head.writeInt32LE(requestId, 4);
    head.writeInt32LE(2004, 12);
    return Buffer.concat([head, name, counts, doc]);
  }

  it("answers the legacy OP_QUERY handshake with OP_REPLY and refuses other OP_QUERY commands", async () => {
    await open();
    socket.write(
      opQuery(7, "admin.$cmd", { isMaster: 1, helloOk: true, client: { application: { name: "raw" } } }),
    );
    const hello = await reply();
    expect(hello).toMatchObject({
      responseTo: 7,
      opCode: 1,
      doc: { ismaster: true, helloOk: true, maxWireVersion: 21 },
    });
    expect(hello.doc).not.toHaveProperty("topologyVersion");
    expect(hello.doc).not.toHaveProperty("setName");
    expect(fake.openConnections().find((c) => c.appName === "raw")).toBeDefined();

    socket.write(opQuery(8, "admin.$cmd", { serverStatus: 1 }));
    expect((await reply()).doc).toMatchObject({ ok: 0, code: 352 });
  });

  it("sends no reply to a moreToCome message, tolerates a checksum and merges document sequences", async () => {
    await open();
    socket.write(opMsg(1, 2, { ping: 1, $db: "admin" }));
    socket.write(opMsg(2, 0, { ping: 1, $db: "admin" }, ["documents", [{ a: 1 }, { a: 2 }]], true));
    const answer = await reply();
    expect(answer.responseTo).toBe(2);
    expect(answer.doc).toMatchObject({ ok: 1 });
    const last = fake.commandsSeen().at(-1);
    expect(last?.command.documents).toEqual([{ a: 1 }, { a: 2 }]);
    // The first (moreToCome) ping was executed too, just not answered.
    expect(fake.commandsSeen().filter((c) => c.connectionId === last?.connectionId)).toHaveLength(2);
  });

  it("refuses client metadata sent twice on one connection", async () => {
    await open();
    socket.write(opMsg(1, 0, { hello: 1, client: { application: { name: "once" } }, $db: "admin" }));
    expect((await reply()).doc).toMatchObject({ ok: 1, isWritablePrimary: true });
    socket.write(opMsg(2, 0, { hello: 1, client: { application: { name: "twice" } }, $db: "admin" }));
    expect((await reply()).doc).toMatchObject({ ok: 0, code: 186 });
  });
});

describe("fake mongo CLI", () => {
  it("prints a connection string that the driver can use", async () => {
    const script = fileURLToPath(new URL("../../fakes/mongo-server.ts", import.meta.url));
    const child = spawn(process.execPath, [script, "--port", "0", "--tier", "M0", "--limit", "7"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const uri = await new Promise<string>((resolve, reject) => {
        child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
        child.once("exit", (code) => reject(new Error(`CLI exited with ${code}`)));
      });
      expect(uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true$/);
      const status = await client(uri).db("admin").command({ serverStatus: 1 });
      expect(status.connections.current + status.connections.available).toBe(7);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
