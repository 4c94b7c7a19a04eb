/**
 * A whole responder in one Node process, for the fault matrix: the Worker's own ledger store
 * (src/ledger/store.ts) and action budget over SQLite, the incident core and the Slack sync as the
 * Durable Object's alarm runs them, and the core's real dependencies (src/wiring/core-deps.ts) over
 * undici — talking over real TCP to the honest fakes: the Atlas Admin API, a MongoDB server, the
 * deploy platforms and Slack.
 *
 * Time is the world's: one clock, moved by hand, drives the core, the Slack sync, the fakes' rate
 * limits and tokens, and every retry wait (a `sleep` that records the wait and moves the clock
 * instead of sleeping), so a `Retry-After: 60` costs nothing. Only the per-call timeout is real
 * time, and short (`TIMEOUT_MS`), so a hanging service costs a fraction of a second.
 *
 * Trade-off: the Durable Object itself (its alarm, its RPC) is not here — the workerd tests cover
 * those. What runs here is what the alarm calls, in the same order (src/ledger/ledger.ts `runDue`).
 */
import { connect, type Socket } from "node:net";
import { type FakeAtlas, startFakeAtlas } from "../../fakes/atlas-api.ts";
import { type FakeMongo, startFakeMongo } from "../../fakes/mongo-server.ts";
import { type FakePlatforms, startFakePlatforms } from "../../fakes/platforms.ts";
import { type FakeSlack, startFakeSlack } from "../../fakes/slack.ts";
import { type AtlasEvent, alertIntent, atlasAlertSchema, isConnectionAlert } from "../../src/atlas/alert.ts";
import { type Config, parseConfig } from "../../src/config/schema.ts";
import { runDue } from "../../src/incident/advance.ts";
import { newIncidentId } from "../../src/incident/ids.ts";
import { type AlertDelivery, applyDelivery, type DeliveryOutcome } from "../../src/incident/intake.ts";
import type { JournalRow } from "../../src/incident/journal.ts";
import { incidentDetail } from "../../src/incident/view.ts";
import { IndexStore, LedgerStore } from "../../src/ledger/store.ts";
import type { Logger } from "../../src/observability/log.ts";
import { createNodeFetch, type NodeFetch } from "../../src/outbound/node-fetch.ts";
import { reserveIn } from "../../src/response/budget.ts";
import { createSlackClient, type SlackClient } from "../../src/slack/client.ts";
import { syncSlack } from "../../src/slack/sync.ts";
import { createCoreDeps } from "../../src/wiring/core-deps.ts";
import { alertWith, M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

/** Real time a hung call is given before it counts as timed out. */
export const TIMEOUT_MS = 1_500;
export const START = Date.parse("2026-09-01T09:00:00Z");
export const GROUP = "66f000000000000000000a01";
export const CLUSTER = "Cluster0";
export const TARGET = "shop-web";
/** M0's limit, on the fake MongoDB as in Atlas; the leak holds 85 % of it. */
export const LIMIT = 500;
export const LEAKED = 425;

type SqlValue = string | number | null;

/** `SqlStorage` (the Durable Object's SQL API) over node:sqlite, as much of it as the ledger uses. */
async function sqlStorage(): Promise<SqlStorage> {
  // node:sqlite announces itself with an ExperimentalWarning; the test output must stay quiet.
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    if (!text.includes("SQLite")) (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  let sqlite: typeof import("node:sqlite");
  try {
    sqlite = await import("node:sqlite");
  } finally {
    process.emitWarning = emit;
  }
  const db = new sqlite.DatabaseSync(":memory:");
  const cursor = (rows: Record<string, SqlValue>[]) => ({
    toArray: () => rows,
    one: () => {
      if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
      return rows[0];
    },
    [Symbol.iterator]: () => rows[Symbol.iterator](),
  });
  return {
    exec(query: string, ...bindings: SqlValue[]) {
      if (bindings.length === 0 && query.split(";").filter((s) => s.trim() !== "").length > 1) {
        db.exec(query);
        return cursor([]);
      }
      return cursor(db.prepare(query).all(...bindings) as Record<string, SqlValue>[]);
    },
  } as unknown as SqlStorage;
}

/** SQLite's own transaction, as `transactionSync` gives the Durable Object. */
function transactionOver(sql: SqlStorage): <T>(fn: () => T) => T {
  let depth = 0;
  return (fn) => {
    if (depth > 0) return fn();
    depth++;
    sql.exec("BEGIN");
    try {
      const result = fn();
      sql.exec("COMMIT");
      return result;
    } catch (error) {
      sql.exec("ROLLBACK");
      throw error;
    } finally {
      depth--;
    }
  };
}

export interface LogLine {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

export interface WorldOptions {
  mode?: "auto" | "approve";
  /** Give the responder a MONGODB_URI (default true). */
  mongoUri?: boolean;
}

export class FaultWorld {
  /** The one clock, shared with the fakes. */
  get nowMs(): number {
    return this.time.ms;
  }
  set nowMs(ms: number) {
    this.time.ms = ms;
  }
  readonly sleeps: number[] = [];
  readonly logs: LogLine[] = [];
  private leakSockets: Socket[] = [];
  private alerts = 0;

  private readonly time: { ms: number };
  readonly atlas: FakeAtlas;
  readonly mongo: FakeMongo;
  readonly platforms: FakePlatforms;
  readonly slack: FakeSlack;
  readonly store: LedgerStore;
  readonly index: IndexStore;
  readonly config: Config;
  private readonly http: NodeFetch;
  readonly slackClient: SlackClient;
  /** Every credential the responder holds: none may appear in a journal, a log or a message. */
  readonly secrets: string[];

  private constructor(parts: {
    time: { ms: number };
    atlas: FakeAtlas;
    mongo: FakeMongo;
    platforms: FakePlatforms;
    slack: FakeSlack;
    store: LedgerStore;
    index: IndexStore;
    config: Config;
    http: NodeFetch;
    slackClient: SlackClient;
    secrets: string[];
  }) {
    this.time = parts.time;
    this.atlas = parts.atlas;
    this.mongo = parts.mongo;
    this.platforms = parts.platforms;
    this.slack = parts.slack;
    this.store = parts.store;
    this.index = parts.index;
    this.config = parts.config;
    this.http = parts.http;
    this.slackClient = parts.slackClient;
    this.secrets = parts.secrets;
  }

  static async start(options: WorldOptions = {}): Promise<FaultWorld> {
    const time = { ms: START };
    const clock = { now: () => time.ms };
    // The world is built below; the clients reach its sleep through this forward reference.
    let world: FaultWorld;
    const [atlas, mongo, platforms, slack] = await Promise.all([
      startFakeAtlas({ clock }),
      startFakeMongo({ tier: "M0", connectionLimit: LIMIT }),
      startFakePlatforms({ now: clock.now }),
      startFakeSlack({ channels: ["incidents"], now: clock.now }),
    ]);
    atlas.addCluster(GROUP, { name: CLUSTER, tier: "M0" });
    const setup = platforms.target("vercel", TARGET);
    const env: Record<string, string> = {
      ATLAS_WEBHOOK_SECRET: "whsec-fault-matrix-51c2",
      ADMIN_TOKEN: "admin-token-fault-matrix-0d9e",
      RESPONDER_MODE: options.mode ?? "auto",
      ATLAS_API_BASE_URL: atlas.baseUrl,
      ATLAS_CLIENT_ID: atlas.credentials.serviceAccount.clientId,
      ATLAS_CLIENT_SECRET: atlas.credentials.serviceAccount.clientSecret,
      SLACK_API_BASE_URL: slack.apiBaseUrl,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: "incidents",
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_APPROVERS: "U0APPROVER",
      POLICY: JSON.stringify({ verifyAfterSeconds: [60, 180], cooldownMinutes: 0 }),
      TARGETS: JSON.stringify([{ ...setup.target, clusters: [CLUSTER] }]),
      CLUSTERS: JSON.stringify([{ groupId: GROUP, name: CLUSTER, tier: "M0" }]),
      ...setup.secrets,
      ...(options.mongoUri === false ? {} : { MONGODB_URI: mongo.uri() }),
    };
    const config = parseConfig(env);
    const sql = await sqlStorage();
    const store = new LedgerStore(sql, transactionOver(sql));
    store.migrate();
    // The index is another Durable Object: its own database (both have an `actions` table).
    const index = new IndexStore(await sqlStorage());
    index.migrate();
    // undici's own backstops stay above the clients' timeout, so the clients' timeout is what fires.
    const http = createNodeFetch({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
    if (config.slack.kind !== "bot") throw new Error("the world needs a Slack bot configuration");
    const slackClient = createSlackClient({
      fetch: http.fetch,
      config: config.slack,
      timeoutMs: TIMEOUT_MS,
      sleep: (ms) => world.sleep(ms),
    });
    const secrets = [
      env.ATLAS_WEBHOOK_SECRET!,
      env.ADMIN_TOKEN!,
      env.ATLAS_CLIENT_SECRET!,
      env.SLACK_BOT_TOKEN!,
      env.SLACK_SIGNING_SECRET!,
      ...Object.values(setup.secrets),
    ];
    world = new FaultWorld({
      time,
      atlas,
      mongo,
      platforms,
      slack,
      store,
      index,
      config,
      http,
      slackClient,
      secrets,
    });
    // A redeploy replaces the leaking processes: their connections go.
    platforms.onRedeploy(TARGET, () => world.fix());
    return world;
  }

  now = (): Date => new Date(this.nowMs);

  /** A retry's wait: recorded, and the clock moves instead of the test waiting. */
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
  }

  private readonly log: Logger = {
    log: (level, event, fields = {}) => {
      this.logs.push({ level, event, fields });
    },
  };

  /** The leaking app: `LEAKED` open sockets on the fake MongoDB, and as many in the Admin API's view. */
  async leak(): Promise<void> {
    const sockets = await Promise.all(
      Array.from(
        { length: LEAKED },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(this.mongo.port, this.mongo.host, () => resolve(socket));
            socket.once("error", reject);
          }),
      ),
    );
    for (const socket of sockets) socket.on("error", () => {});
    this.leakSockets.push(...sockets);
    await this.mongo.waitFor(() => this.mongo.openCount() >= LEAKED);
    for (const process of this.atlas.processes(GROUP)) this.atlas.setConnections(process.id, LEAKED);
  }

  /** What a redeploy does to the leak. */
  private fix(): void {
    for (const socket of this.leakSockets.splice(0)) socket.destroy();
    for (const process of this.atlas.processes(GROUP)) this.atlas.setConnections(process.id, 2);
  }

  /** Delivers an Atlas alert for the cluster as the webhook route would; answers the outcome. */
  deliver(
    percent = 85,
    event: AtlasEvent = "alert.open",
    changes: Record<string, unknown> = {},
  ): DeliveryOutcome {
    this.alerts++;
    const at = this.now().toISOString();
    const body = alertWith(M0_CONNECTIONS_OPEN, {
      id: `66f0000000000000000b${String(this.alerts).padStart(4, "0")}`,
      groupId: GROUP,
      clusterName: CLUSTER,
      currentValue: { number: percent, units: "RAW" },
      created: at,
      updated: at,
      ...changes,
    });
    const alert = atlasAlertSchema.parse(body);
    const delivery: AlertDelivery = {
      alert,
      event,
      intent: alertIntent(event, alert.status),
      relevant: isConnectionAlert(alert),
    };
    return this.store.transaction(() => applyDelivery(this.store, delivery, this.now(), newIncidentId));
  }

  /** One alarm: every due incident, then the Slack messages (src/ledger/ledger.ts `runDue`). */
  async alarm(): Promise<number> {
    const deps = createCoreDeps({
      config: this.config,
      fetch: this.http.fetch,
      log: this.log,
      now: this.now,
      limiter: {
        recent: async () => this.index.actions(),
        reserve: async (input) => this.store.transaction(() => reserveIn(this.index, input)),
        settle: async (key, outcome) => this.index.settle(key, outcome),
      },
      outbound: { timeoutMs: TIMEOUT_MS, sleep: (ms) => this.sleep(ms) },
    });
    const steps = await runDue({ groupId: GROUP, store: this.store, deps });
    await syncSlack({
      groupId: GROUP,
      store: this.store,
      slack: this.slackClient,
      approvalButtons: true,
      modeOf: (incident) =>
        this.store.incident(incident.id)?.mode ?? this.config.modeFor(GROUP, incident.cluster.name),
      detail: (id) => incidentDetail(this.store, GROUP, id),
      log: this.log,
      now: this.now,
    });
    // No NOTIFY_WEBHOOK_URL here: as the ledger does then, drop what the notifier would have sent.
    this.store.clearNotifyDue();
    return steps;
  }

  /**
   * Runs alarms, moving the clock to each next wake-up, until nothing is scheduled within `withinMs`
   * (default 2 h) — where a real deployment's alarm would have taken the incident.
   */
  async settle(withinMs = 2 * 3600_000): Promise<void> {
    const limit = this.nowMs + withinMs;
    for (let i = 0; i < 100; i++) {
      await this.alarm();
      const next = this.store.earliestWake();
      if (next === null || next > limit) return;
      this.nowMs = Math.max(this.nowMs, next);
    }
    throw new Error("the incident never came to rest");
  }

  journal(id: string): JournalRow[] {
    return this.store.entries(id);
  }

  /** The journal as `step:status`, oldest first. */
  steps(id: string): string[] {
    return this.journal(id).map((e) => `${e.step}:${e.status}`);
  }

  /** Accepted and attempted redeploys of the target, as the fake platform saw them. */
  redeployCalls() {
    return this.platforms.calls({ target: TARGET }).filter((c) => c.action === "redeploy");
  }

  async close(): Promise<void> {
    for (const socket of this.leakSockets.splice(0)) socket.destroy();
    await this.http.close();
    await Promise.all([this.atlas.close(), this.mongo.close(), this.platforms.close(), this.slack.close()]);
  }
}
