/**
 * A leaky application, run as its own process: it opens real driver connections to a MongoDB server
 * under an `appName` and holds them until it is killed, the way a frozen serverless instance does.
 *
 *   node fakes/leaky-app.ts --uri URI --app NAME --connections N [--style pool|clients] [--slow-ms MS]
 *
 * `--connections` is what the SERVER sees: sockets, monitor included.
 *  - `pool` (default): one cached client whose warm pool is never reaped (no `maxIdleTimeMS`), like an
 *    instance that served a burst of N−1 concurrent requests and was then frozen: 1 monitor socket +
 *    N−1 pooled. The pool is held with `minPoolSize`, so, unlike a frozen instance, it re-opens
 *    connections the server drops. N ≥ 2; the driver fills it about one socket per 100 ms.
 *  - `clients`: `new MongoClient()` per "request", never closed (the classic leak): each leaked client
 *    holds a monitor socket and one pooled connection, so N must be even. All open in parallel.
 *
 * `--slow-ms MS` also keeps one slow query running on one of those connections, like an app stuck on
 * an unindexed query: a `find` on the fake server's `slow_<MS>` collection (its fake-only knob), issued
 * again as soon as it ends — finished, interrupted by killOp or failed — so the connection stays busy.
 * It runs on one of the N sockets (adding none), starting as soon as the client has connected.
 *
 * The driver reads FaaS variables (`VERCEL`, `VERCEL_REGION`, `AWS_LAMBDA_*`, …) from this process's
 * environment into its handshake `env`, so the parent decides what platform the app claims to be.
 * Prints `ready <pid>` once the server holds all N sockets; SIGTERM/SIGINT (or the parent's IPC channel
 * closing) closes the clients and exits 0. Exit 2 on bad usage, 1 if N sockets never open.
 */
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";

/** Long enough for a few hundred pooled sockets at the driver's fill pace. */
const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** After a failed slow query: long enough not to spin on a dead server, short enough to look stuck. */
const RETRY_PAUSE_MS = 50;

function usage(message: string): never {
  process.stderr.write(
    `leaky-app: ${message}\nusage: leaky-app --uri URI --app NAME --connections N [--style pool|clients] [--slow-ms MS]\n`,
  );
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    uri: { type: "string" },
    app: { type: "string" },
    connections: { type: "string" },
    style: { type: "string", default: "pool" },
    "ready-timeout-ms": { type: "string" },
    "slow-ms": { type: "string" },
  },
});
const uri = values.uri ?? usage("--uri is required");
const appName = values.app ?? usage("--app is required");
const wanted = Number(values.connections);
const style = values.style;
if (!Number.isInteger(wanted) || wanted < 2) usage("--connections must be an integer ≥ 2");
if (style !== "pool" && style !== "clients") usage("--style must be pool or clients");
if (style === "clients" && wanted % 2 !== 0)
  usage("--style clients needs an even --connections (2 sockets per client)");
const readyTimeoutMs = Number(values["ready-timeout-ms"] ?? DEFAULT_READY_TIMEOUT_MS);
const slowMs = values["slow-ms"] === undefined ? null : Number(values["slow-ms"]);
if (slowMs !== null && (!Number.isInteger(slowMs) || slowMs < 1))
  usage("--slow-ms must be a positive integer");

const clients: MongoClient[] = [];
let pooled = 0;
let monitors = 0;
let announced = false;

/** Counts sockets from the driver's own events: a pooled connection once ready, a monitor once it answered. */
function watch(client: MongoClient): MongoClient {
  let monitorUp = false;
  client.on("connectionReady", () => {
    pooled += 1;
    announceIfReady();
  });
  client.on("connectionClosed", () => {
    pooled -= 1;
  });
  client.on("serverHeartbeatSucceeded", () => {
    if (monitorUp) return;
    monitorUp = true;
    monitors += 1;
    announceIfReady();
  });
  client.on("serverHeartbeatFailed", () => {
    if (!monitorUp) return;
    monitorUp = false;
    monitors -= 1;
  });
  return client;
}

function announceIfReady(): void {
  if (announced || pooled + monitors < wanted) return;
  announced = true;
  clearTimeout(readyTimer);
  process.stdout.write(`ready ${process.pid}\n`);
}

let shuttingDown = false;

/** Keeps one slow query in flight until shutdown, re-issuing it whenever it ends. */
async function keepSlowQueryRunning(client: MongoClient, ms: number): Promise<void> {
  const orders = client.db("app").collection(`slow_${ms}`);
  while (!shuttingDown) {
    try {
      // The filter stands for app data: the responder must never copy it anywhere.
      await orders.find({ customerEmail: "stuck@example.com", status: "pending" }).toArray();
    } catch {
      // Interrupted (killOp), a dropped connection, a failover: the app simply asks again.
      if (!shuttingDown) await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
}

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await Promise.allSettled(clients.map((client) => client.close()));
  process.exit(code);
}

const readyTimer = setTimeout(() => {
  process.stderr.write(
    `leaky-app: only ${pooled + monitors} of ${wanted} connections opened within ${readyTimeoutMs} ms\n`,
  );
  void shutdown(1);
}, readyTimeoutMs);

process.once("SIGTERM", () => void shutdown(0));
process.once("SIGINT", () => void shutdown(0));
// Spawned with an IPC channel (spawnLeakyApp): never outlive the test run that started us.
if (process.send) process.once("disconnect", () => void shutdown(0));

try {
  if (style === "pool") {
    const client = watch(new MongoClient(uri, { appName, maxPoolSize: wanted - 1, minPoolSize: wanted - 1 }));
    clients.push(client);
    await client.connect();
    if (slowMs !== null) void keepSlowQueryRunning(client, slowMs);
  } else {
    const leaked = Array.from({ length: wanted / 2 }, () =>
      watch(new MongoClient(uri, { appName, maxPoolSize: 1 })),
    );
    clients.push(...leaked);
    // connect() runs a ping, which checks out (and so opens) one pooled connection per client.
    await Promise.all(leaked.map((client) => client.connect()));
    if (slowMs !== null) void keepSlowQueryRunning(leaked[0]!, slowMs);
  }
} catch (error) {
  process.stderr.write(
    `leaky-app: could not connect: ${(error as Error).name}: ${(error as Error).message}\n`,
  );
  await shutdown(1);
}
