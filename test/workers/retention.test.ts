/**
 * Bounded storage: the ledger's alarm applies RETENTION (src/constants.ts) with the alarm's own
 * clock. Rows are written by the real intake (`applyDelivery`) and the store, in a real Durable
 * Object; the clock is injected into the run, so 90 days pass in one call.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AtlasAlert, alertIntent, atlasAlertSchema, parseAtlasEvent } from "../../src/atlas/alert.ts";
import { RETENTION } from "../../src/constants.ts";
import { newIncidentId } from "../../src/incident/ids.ts";
import { type AlertDelivery, applyDelivery } from "../../src/incident/intake.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import type { LedgerStore } from "../../src/ledger/store.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

const DAY = 24 * 3600_000;
// A year ahead of the real clock: the alarms these runs set are then in the future, so workerd never
// fires the real alarm (with the real clock) in the middle of a test.
const T0 = Math.floor(Date.now() / DAY) * DAY + 365 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

/** A fresh ledger per test: its own project id, so nothing is shared with other files. */
function ledgerFor(groupId: string) {
  return env.LEDGER.getByName(groupId.toLowerCase());
}

function delivery(groupId: string, changes: Partial<Record<string, unknown>>): AlertDelivery {
  const alert = atlasAlertSchema.parse({ ...M0_CONNECTIONS_OPEN, groupId, ...changes }) as AtlasAlert;
  const event = parseAtlasEvent(alert.status === "CLOSED" ? "alert.close" : "alert.open");
  return { alert, event, intent: alertIntent(event, alert.status), relevant: true };
}

function count(state: DurableObjectState, table: string, where = "1 = 1", ...params: SqlStorageValue[]) {
  return Number(
    state.storage.sql.exec(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, ...params).one().n,
  );
}

/** The store the ledger itself uses (a private field; the test reads it to write rows as intake does). */
const storeOf = (instance: Ledger) => (instance as unknown as { store: LedgerStore }).store;

/** One alarm run at `nowMs`, with nothing outside the Durable Object to talk to. */
async function alarmAt(instance: Ledger, nowMs: number) {
  await instance.runDue({ now: () => new Date(nowMs), slack: null, notify: null });
}

/** The `retention.pruned` log lines of the test, parsed: each prune that deleted anything says what. */
let pruned: Array<Record<string, unknown>> = [];
beforeEach(() => {
  pruned = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => {
    const entry = JSON.parse(String(line)) as Record<string, unknown>;
    if (entry.event !== "retention.pruned") throw new Error(`unexpected log line ${String(line)}`);
    pruned.push(entry);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("retention", () => {
  it("deletes closed incidents after 90 days with everything about them, and keeps the rest", async () => {
    const groupId = "7e7e00000000000000000001";
    await runInDurableObject(ledgerFor(groupId), async (instance: Ledger, state) => {
      const store = storeOf(instance);
      const record = (d: AlertDelivery, atMs: number) =>
        store.transaction(() => applyDelivery(store, d, new Date(atMs), newIncidentId));

      // An incident opened and closed on day 0, one closed on day 60, one still open.
      const old = record(delivery(groupId, { id: "a0000000000000000000000a", clusterName: "Old" }), T0);
      record(
        delivery(groupId, {
          id: "a0000000000000000000000a",
          clusterName: "Old",
          status: "CLOSED",
          updated: iso(T0 + 60_000),
        }),
        T0 + 60_000,
      );
      const recent = record(
        delivery(groupId, { id: "a0000000000000000000000b", clusterName: "Recent" }),
        T0 + 60 * DAY,
      );
      record(
        delivery(groupId, {
          id: "a0000000000000000000000b",
          clusterName: "Recent",
          status: "CLOSED",
          updated: iso(T0 + 60 * DAY + 60_000),
        }),
        T0 + 60 * DAY + 60_000,
      );
      const live = record(delivery(groupId, { id: "a0000000000000000000000c", clusterName: "Live" }), T0);
      // An alert that is not about connections: recorded with no incident, a dedupe key only.
      store.transaction(() =>
        applyDelivery(
          store,
          { ...delivery(groupId, { id: "a0000000000000000000000d", clusterName: "Quiet" }), relevant: false },
          new Date(T0),
          newIncidentId,
        ),
      );
      store.addSample("name:Live", {
        at: iso(T0),
        current: 10,
        limit: 500,
        percent: 2,
        tier: "M0",
        sources: [],
      });
      const oldId = old.incident!;
      expect(store.incident(oldId)?.state).toBe("closed");
      expect(store.incident(recent.incident!)?.state).toBe("closed");
      expect(count(state, "journal", "incident_id = ?", oldId)).toBeGreaterThan(0);

      await alarmAt(instance, T0 + 91 * DAY);

      expect(store.incident(oldId)).toBeNull();
      for (const table of ["journal", "deliveries", "alerts", "actions", "notify_outbox"])
        expect(count(state, table, "incident_id = ?", oldId), table).toBe(0);
      expect(store.incident(recent.incident!)?.state).toBe("closed");
      expect(count(state, "deliveries", "incident_id = ?", recent.incident!)).toBe(2);
      expect(store.incident(live.incident!)).not.toBeNull();
      expect(count(state, "deliveries", "incident_id = ?", live.incident!)).toBe(1);
      expect(count(state, "deliveries", "incident_id IS NULL")).toBe(0);
      expect(count(state, "samples")).toBe(0);
      expect(pruned).toEqual([
        expect.objectContaining({ level: "info", incidents: 1, deliveries: 3, alerts: 1, samples: 1 }),
      ]);
      // It prunes again tomorrow, and the alarm is set for it.
      expect(store.pruneDueAt()).toBe(T0 + 92 * DAY);
      expect(await state.storage.getAlarm()).toBe(T0 + 92 * DAY);
    });
  });

  it("keeps a live incident's newest deliveries, alert states and intake lines under a storm of alert ids", async () => {
    const groupId = "7e7e00000000000000000002";
    await runInDurableObject(ledgerFor(groupId), async (instance: Ledger, state) => {
      const store = storeOf(instance);
      const opens = RETENTION.maxDeliveriesPerIncident + 150;
      let incident = "";
      for (let i = 0; i < opens; i++) {
        const id = `b${i.toString(16).padStart(23, "0")}`;
        const outcome = store.transaction(() =>
          applyDelivery(
            store,
            delivery(groupId, { id, updated: iso(T0 + i * 1000) }),
            new Date(T0 + i * 1000),
            newIncidentId,
          ),
        );
        incident ||= outcome.incident!;
        expect(outcome.incident).toBe(incident);
      }
      const openAlertsBefore = store.openAlerts(incident);
      const opened = state.storage.sql
        .exec("SELECT seq FROM journal WHERE incident_id = ? AND status = 'opened'", incident)
        .one().seq as number;
      expect(count(state, "deliveries", "incident_id = ?", incident)).toBe(opens);

      await alarmAt(instance, T0 + opens * 1000);

      expect(count(state, "deliveries", "incident_id = ?", incident)).toBe(
        RETENTION.maxDeliveriesPerIncident,
      );
      // The newest are the ones kept: the last delivery still dedupes.
      const last = `b${(opens - 1).toString(16).padStart(23, "0")}`;
      expect(
        store.transaction(() =>
          applyDelivery(
            store,
            delivery(groupId, { id: last, updated: iso(T0 + (opens - 1) * 1000) }),
            new Date(T0 + opens * 1000),
            newIncidentId,
          ),
        ).status,
      ).toBe("duplicate");
      expect(
        count(state, "journal", "incident_id = ? AND step = 'intake' AND status = 'joined'", incident),
      ).toBe(RETENTION.maxIntakeLinesPerIncident);
      // The first line of the incident is never pruned, and open alerts are all still known.
      expect(count(state, "journal", "seq = ?", opened)).toBe(1);
      expect(store.openAlerts(incident)).toBe(openAlertsBefore);
      expect(store.incident(incident)?.state).not.toBe("closed");
    });
  });

  it("deletes in bounded batches and comes back a minute later for the rest", async () => {
    const groupId = "7e7e00000000000000000003";
    await runInDurableObject(ledgerFor(groupId), async (instance: Ledger, state) => {
      const store = storeOf(instance);
      const rows = RETENTION.batchRows + 10;
      store.transaction(() => {
        for (let i = 0; i < rows; i++)
          applyDelivery(
            store,
            {
              ...delivery(groupId, { id: `c${i.toString(16).padStart(23, "0")}`, clusterName: "Quiet" }),
              relevant: false,
            },
            new Date(T0),
            newIncidentId,
          );
      });
      expect(count(state, "deliveries")).toBe(rows);

      const first = T0 + 8 * DAY;
      await alarmAt(instance, first);
      expect(count(state, "deliveries")).toBe(10);
      expect(pruned).toEqual([expect.objectContaining({ deliveries: RETENTION.batchRows })]);
      expect(store.pruneDueAt()).toBe(first + RETENTION.againMs);

      // Before it is due, a run does not prune.
      await alarmAt(instance, first + 1000);
      expect(count(state, "deliveries")).toBe(10);

      await alarmAt(instance, first + RETENTION.againMs);
      expect(count(state, "deliveries")).toBe(0);
      // Nothing is kept any more: no prune is due, and no alarm is left set.
      expect(store.pruneDueAt()).toBeNull();
      expect(await state.storage.getAlarm()).toBeNull();
    });
  });

  it("keeps each cluster's latest failover, whatever its age, and drops older ones and past snoozes", async () => {
    const groupId = "7e7e00000000000000000004";
    await runInDurableObject(ledgerFor(groupId), async (instance: Ledger, state) => {
      const store = storeOf(instance);
      store.recordFailover("name:A", iso(T0));
      store.recordFailover("name:A", iso(T0 + DAY));
      store.recordFailover("name:B", iso(T0));
      store.snooze("name:A", iso(T0 + 3600_000), "U1");
      await alarmAt(instance, T0 + 60 * DAY);
      expect(store.lastFailoverAt("name:A")).toBe(iso(T0 + DAY));
      expect(store.lastFailoverAt("name:B")).toBe(iso(T0));
      expect(count(state, "failovers")).toBe(2);
      expect(store.snoozedUntil("name:A")).toBeNull();
    });
  });
});
