/**
 * A ledger written by the previous version upgrades in place: its incidents table lacks the columns
 * added since (approval_requested_at, deferrals, kill_op_done), whose facts the old code kept only
 * as journal lines. `migrate()` adds the columns and fills them from those lines, and the old
 * journal rows still read back unchanged.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyDecision } from "../../src/incident/approval.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { LedgerStore, SCHEMA } from "../../src/ledger/store.ts";

const GROUP = "0a0000000000000000000be9";
const APPROVAL = `${GROUP.toLowerCase()}-upgrade0000001`;
const DEFERRED = `${GROUP.toLowerCase()}-upgrade0000002`;
const KILLED = `${GROUP.toLowerCase()}-upgrade0000003`;
const PLAIN = `${GROUP.toLowerCase()}-upgrade0000004`;

const T0 = "2026-08-13T10:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

/** Journal lines as the previous version wrote them: `JSON.stringify` of a plain detail object. */
const OLD_JOURNAL: Array<[string, string, string, string, Record<string, unknown>]> = [
  [
    APPROVAL,
    at(0),
    "intake",
    "opened",
    { alertId: "a1", event: "alert.open", status: "OPEN", metric: "CONNECTIONS_PERCENT", value: 91 },
  ],
  [
    APPROVAL,
    at(1),
    "plan",
    "redeploy",
    { target: "web", kind: "vercel", reason: "Cluster0 at 91 %", culprits: [] },
  ],
  [
    APPROVAL,
    at(1),
    "approval",
    "requested",
    { target: "web", kind: "vercel", reason: "Cluster0 at 91 %", culprits: [] },
  ],
  [APPROVAL, at(2), "approval", "snoozed", { by: "U1", until: at(62), source: "slack" }],
  [
    APPROVAL,
    at(62),
    "approval",
    "requested",
    { target: "web", kind: "vercel", reason: "Cluster0 at 93 %", culprits: [] },
  ],
  [DEFERRED, at(0), "trigger", "opened", { reason: null, dryRun: false }],
  [
    DEFERRED,
    at(1),
    "action",
    "deferred",
    { target: "web", detail: "a deploy of this target is still running" },
  ],
  [
    DEFERRED,
    at(3),
    "action",
    "deferred",
    { target: "web", detail: "a deploy of this target is still running" },
  ],
  [
    KILLED,
    at(1),
    "action",
    "killop",
    { killed: [{ app: "web", ns: "shop.orders", secondsRunning: 912 }], refused: [], spared: [] },
  ],
  [KILLED, at(1), "action", "sending", { target: "web", kind: "vercel", action: "redeploy", attempt: 1 }],
  [KILLED, at(1), "action", "started", { target: "web", platform: "vercel", detail: "deploy hook accepted" }],
  [
    KILLED,
    at(1),
    "advice",
    "ok",
    { advice: [{ app: null, summary: "M10 cannot tell which app holds them", steps: ["One MongoClient"] }] },
  ],
  [PLAIN, at(0), "trigger", "opened", { reason: "check", dryRun: true }],
];

const OLD_INCIDENTS: Array<[string, string, string, string | null]> = [
  // id, state, phase, decision_json
  [
    APPROVAL,
    "awaiting-approval",
    "approval",
    JSON.stringify({ kind: "redeploy", target: "web", reason: "Cluster0 at 93 %", culprits: [] }),
  ],
  [DEFERRED, "acting", "act", JSON.stringify({ kind: "redeploy", target: "web", reason: "r", culprits: [] })],
  [KILLED, "verifying", "verify", null],
  [PLAIN, "open", "idle", null],
];

function columns(sql: SqlStorage): string[] {
  return sql
    .exec("SELECT name FROM pragma_table_info('incidents')")
    .toArray()
    .map((r) => String(r.name));
}

describe("a ledger written by the previous version", () => {
  it("upgrades in place: the new fields come from the old journal, and the old journal reads back unchanged", async () => {
    const stub = env.LEDGER.getByName(`ledger-upgrade-${GROUP}`);
    await runInDurableObject(stub, async (_instance: Ledger, state) => {
      const { sql } = state.storage;
      // The object migrated its own storage when it was built: put back the previous version's table.
      sql.exec("DROP TABLE incidents");
      sql.exec(SCHEMA);
      const old = columns(sql);
      expect(old).not.toContain("approval_requested_at");
      expect(old).not.toContain("deferrals");
      expect(old).not.toContain("kill_op_done");
      expect(old).not.toContain("advised");

      OLD_INCIDENTS.forEach(([id, incidentState, phase, decision], i) => {
        sql.exec(
          `INSERT INTO incidents (id, cluster_key, cluster_name, state, phase, next_run_at, mode, origin, opened_at, updated_at, decision_json, checks_done, failures)
           VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, 0, 0)`,
          id,
          `name:Cluster${i}`,
          `Cluster${i}`,
          incidentState,
          phase,
          phase === "act" ? Date.parse(at(5)) : null,
          id === APPROVAL ? "atlas" : "manual",
          T0,
          at(62),
          decision,
        );
      });
      for (const [id, when, step, status, detail] of OLD_JOURNAL) {
        sql.exec(
          "INSERT INTO journal (incident_id, at, step, status, detail) VALUES (?, ?, ?, ?, ?)",
          id,
          when,
          step,
          status,
          JSON.stringify(detail),
        );
      }

      const store = new LedgerStore(sql, (fn) => state.storage.transactionSync(fn));
      store.migrate();
      store.migrate(); // idempotent: the columns exist now, nothing is added or refilled twice
      expect(columns(sql)).toEqual(
        expect.arrayContaining(["approval_requested_at", "deferrals", "kill_op_done", "advised"]),
      );
      expect(columns(sql).filter((c) => c === "deferrals")).toHaveLength(1);

      // The latest request is the current one.
      expect(store.incident(APPROVAL)).toMatchObject({
        state: "awaiting-approval",
        phase: "approval",
        approvalRequestedAt: at(62),
        deferrals: 0,
        killOpDone: false,
        decision: { kind: "redeploy", target: "web" },
      });
      expect(store.incident(DEFERRED)).toMatchObject({
        phase: "act",
        approvalRequestedAt: null,
        deferrals: 2,
        killOpDone: false,
        nextRunAt: Date.parse(at(5)),
      });
      expect(store.incident(KILLED)).toMatchObject({
        approvalRequestedAt: null,
        deferrals: 0,
        killOpDone: true,
        advised: true,
      });
      expect(store.incident(PLAIN)).toMatchObject({
        approvalRequestedAt: null,
        deferrals: 0,
        killOpDone: false,
        advised: false,
      });

      for (const id of [APPROVAL, DEFERRED, KILLED, PLAIN]) {
        expect(store.entries(id)).toEqual(
          OLD_JOURNAL.filter(([incident]) => incident === id).map(([, when, step, status, detail]) => ({
            at: when,
            step,
            status,
            detail,
          })),
        );
      }

      // The upgraded record works with today's rules: a click on the earlier request changes
      // nothing, one on the current request is applied.
      const now = new Date(at(70));
      const stale = store.transaction(() =>
        applyDecision(
          store,
          APPROVAL,
          { decision: "approve", by: "U1", source: "slack", requestedAt: at(1) },
          now,
        ),
      );
      expect(stale).toEqual({ applied: false, state: "awaiting-approval" });
      const current = store.transaction(() =>
        applyDecision(
          store,
          APPROVAL,
          { decision: "approve", by: "U1", source: "slack", requestedAt: at(62) },
          now,
        ),
      );
      expect(current).toEqual({ applied: true, state: "acting" });
      expect(store.incident(APPROVAL)).toMatchObject({ phase: "act", deferrals: 0 });
    });
  });
});
