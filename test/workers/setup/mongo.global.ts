/**
 * Vitest global setup (runs in Node, once per run) for workerd tests that need MongoDB: a small control
 * plane over HTTP on 127.0.0.1 that creates fake MongoDB servers and spawns leaky apps against them,
 * because code inside workerd can neither start a TCP server nor spawn a process.
 *
 * Trade-off: one HTTP hop per control call instead of shared pre-started fakes. Each test file creates
 * the fakes it needs, so files running in parallel never see each other's connections; everything is
 * torn down at the end of the run.
 *
 * Use from a workerd test (read the URL with `inject("mongoControlUrl")` from "vitest"):
 *   POST   /fakes                      {tier?, connectionLimit?, users?}          → 201 FakeCreated
 *   GET    /fakes/:id                                                            → FakeMongoStats
 *   PATCH  /fakes/:id                  {tier?, connectionLimit?, stalled?}        → FakeMongoStats
 *   POST   /fakes/:id/reset-max-open                                             → FakeMongoStats
 *   POST   /fakes/:id/wait-open        {appName?, count, timeoutMs?}  (appName null/"" = none) → FakeMongoStats | 408
 *   POST   /fakes/:id/drop-connections {appName?}  (a failover: drops them all)  → {dropped}
 *   DELETE /fakes/:id                  (also kills its leaky apps)               → {ok: true}
 *   POST   /fakes/:id/leaky-apps       {app, connections, style?, env?, uri?}     → 201 {pid} once ready
 *   DELETE /leaky-apps/:pid                                                      → {ok: true}
 * The connection string for a fake is `mongodb://127.0.0.1:<port>/?directConnection=true` (FakeCreated.uri);
 * leaky apps use it unless `uri` is given (e.g. with credentials). Errors are `{error}` with 4xx/5xx.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { TestProject } from "vitest/node";
import { type LeakyApp, spawnLeakyApp } from "../../../fakes/leaky-app-process.ts";
import { type FakeMongo, type FakeMongoStats, startFakeMongo } from "../../../fakes/mongo-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the fake-MongoDB control plane, e.g. "http://127.0.0.1:41234". */
    mongoControlUrl: string;
    /**
     * Fakes started before the Worker, so its configuration (CLUSTERS' connection strings) can name
     * them: the end-to-end clusters. Their ids work with every control route above.
     */
    e2eMongo: Record<"m0" | "m10" | "full" | "slack" | "secrets", FakeCreated>;
  }
}

/** Body of `POST /fakes`. */
export interface CreateFakeRequest {
  tier?: string;
  connectionLimit?: number;
  users?: Record<string, string>;
}

/** Answer of `POST /fakes`. */
export interface FakeCreated {
  id: string;
  port: number;
  uri: string;
}

/** Body of `POST /fakes/:id/leaky-apps`. */
export interface SpawnLeakyAppRequest {
  app: string;
  connections: number;
  style?: "pool" | "clients";
  env?: Record<string, string>;
  uri?: string;
}

export type { FakeMongoStats };

interface Entry {
  fake: FakeMongo;
  apps: Map<number, LeakyApp>;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Starts the control plane and provides its URL; the returned teardown stops every fake and app. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fakes = new Map<string, Entry>();
  let nextId = 1;

  const lookup = (id: string | undefined): Entry => {
    const entry = id === undefined ? undefined : fakes.get(id);
    if (!entry) throw new HttpError(404, `no fake ${id}`);
    return entry;
  };

  async function route(
    method: string,
    parts: string[],
    body: Record<string, unknown>,
  ): Promise<[number, unknown]> {
    const [root, id, action] = parts;
    if (root === "fakes" && id === undefined && method === "POST") {
      const request = body as CreateFakeRequest;
      const fake = await startFakeMongo({
        tier: request.tier,
        connectionLimit: request.connectionLimit,
        users: request.users,
      });
      const fakeId = String(nextId++);
      fakes.set(fakeId, { fake, apps: new Map() });
      return [201, { id: fakeId, port: fake.port, uri: fake.uri() } satisfies FakeCreated];
    }
    if (root === "fakes" && action === undefined) {
      const entry = lookup(id);
      if (method === "GET") return [200, entry.fake.stats()];
      if (method === "PATCH") {
        if (typeof body.tier === "string") entry.fake.setTier(body.tier);
        if (typeof body.connectionLimit === "number") entry.fake.setConnectionLimit(body.connectionLimit);
        if (typeof body.stalled === "boolean") entry.fake.setStalled(body.stalled);
        return [200, entry.fake.stats()];
      }
      if (method === "DELETE") {
        await Promise.all([...entry.apps.values()].map((app) => app.kill()));
        await entry.fake.close();
        fakes.delete(id!);
        return [200, { ok: true }];
      }
    }
    if (root === "fakes" && method === "POST") {
      const entry = lookup(id);
      switch (action) {
        case "reset-max-open":
          entry.fake.resetMaxOpenCounts();
          return [200, entry.fake.stats()];
        case "wait-open": {
          // Absent: every connection; null or "": connections without an appName.
          const appName = body.appName === undefined ? undefined : (body.appName as string | null) || null;
          const count = Number(body.count);
          try {
            await entry.fake.waitFor(
              () => entry.fake.openCount(appName) === count,
              Number(body.timeoutMs ?? 5_000),
            );
          } catch {
            return [
              408,
              {
                error: `open count for ${appName ?? "all"} is ${entry.fake.openCount(appName)}, not ${count}`,
              },
            ];
          }
          return [200, entry.fake.stats()];
        }
        case "drop-connections": {
          const appName = typeof body.appName === "string" ? body.appName : undefined;
          const dropped = entry.fake.dropConnections(
            appName === undefined ? undefined : (c) => c.appName === appName,
          );
          return [200, { dropped }];
        }
        case "leaky-apps": {
          const request = body as unknown as SpawnLeakyAppRequest;
          if (typeof request.app !== "string" || typeof request.connections !== "number") {
            throw new HttpError(400, "app (string) and connections (number) are required");
          }
          const app = await spawnLeakyApp({
            uri: request.uri ?? entry.fake.uri(),
            app: request.app,
            connections: request.connections,
            style: request.style,
            env: request.env,
          });
          entry.apps.set(app.pid, app);
          return [201, { pid: app.pid }];
        }
      }
    }
    if (root === "leaky-apps" && id !== undefined && method === "DELETE") {
      for (const entry of fakes.values()) {
        const app = entry.apps.get(Number(id));
        if (!app) continue;
        await app.kill();
        entry.apps.delete(Number(id));
        return [200, { ok: true }];
      }
      throw new HttpError(404, `no leaky app ${id}`);
    }
    throw new HttpError(404, `no route ${method} /${parts.join("/")}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let status = 500;
    let payload: unknown;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
      const parts = new URL(req.url ?? "/", "http://control").pathname.split("/").filter(Boolean);
      [status, payload] = await route(req.method ?? "GET", parts, body);
    } catch (error) {
      status = error instanceof HttpError ? error.status : error instanceof SyntaxError ? 400 : 500;
      payload = { error: (error as Error).message };
    }
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(payload));
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("mongo control plane: no TCP address");
  project.provide("mongoControlUrl", `http://127.0.0.1:${address.port}`);

  // An M0 with a 50-connection limit (small, so a leaky app fills it in a moment), an M10, and an
  // M0 small enough for a test to fill completely, and an M0 of the Slack scenarios' own.
  const e2e = {} as Record<"m0" | "m10" | "full" | "slack" | "secrets", FakeCreated>;
  for (const [name, tier, connectionLimit] of [
    ["m0", "M0", 50],
    ["m10", "M10", 100],
    ["full", "M0", 4],
    ["slack", "M0", 50],
  ] as const) {
    const fake = await startFakeMongo({ tier, connectionLimit });
    fakes.set(`e2e-${name}`, { fake, apps: new Map() });
    e2e[name] = { id: `e2e-${name}`, port: fake.port, uri: fake.uri() };
  }
  // An M0 that requires SCRAM, so the no-secret scan has a connection string with a password in it.
  // Its uri carries the credentials; leaky apps against it are given that uri.
  const password = "e2e-mongo-password-5ec-71f2b9";
  const secured = await startFakeMongo({ tier: "M0", connectionLimit: 50, users: { monitor: password } });
  fakes.set("e2e-secrets", { fake: secured, apps: new Map() });
  e2e.secrets = { id: "e2e-secrets", port: secured.port, uri: secured.uri({ user: "monitor", password }) };
  project.provide("e2eMongo", e2e);

  return async () => {
    for (const entry of fakes.values()) {
      await Promise.all([...entry.apps.values()].map((app) => app.kill()));
      await entry.fake.close();
    }
    fakes.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
