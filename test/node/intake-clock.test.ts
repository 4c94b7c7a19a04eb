/**
 * An alert's `updated` orders its deliveries, but a date far ahead of the responder's clock is
 * capped: a delivery dated next year (a forged one, or a broken clock) must not make every real
 * delivery of that alert after it stale, nor let its value outrank fresher measurements.
 */
import { describe, expect, it } from "vitest";
import { alertIntent, atlasAlertSchema, parseAtlasEvent } from "../../src/atlas/alert.ts";
import { MAX_ALERT_CLOCK_SKEW_MS } from "../../src/constants.ts";
import { newIncidentId } from "../../src/incident/ids.ts";
import { type AlertDelivery, applyDelivery } from "../../src/incident/intake.ts";
import { createMemoryStore } from "../../src/incident/memory-store.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";

const NOW = Date.parse("2026-08-13T10:00:00.000Z");
const MINUTE = 60_000;

function delivery(status: "OPEN" | "CLOSED", updatedMs: number, value = 82.4): AlertDelivery {
  const alert = atlasAlertSchema.parse({
    ...M0_CONNECTIONS_OPEN,
    status,
    updated: new Date(updatedMs).toISOString(),
    currentValue: { number: value, units: "RAW" },
  });
  const event = parseAtlasEvent(status === "CLOSED" ? "alert.close" : "alert.update");
  return { alert, event, intent: alertIntent(event, alert.status), relevant: true };
}

describe("an alert dated ahead of the responder's clock", () => {
  it("is capped at a few minutes of skew, so the real deliveries after it still count", () => {
    const store = createMemoryStore();
    const apply = (d: AlertDelivery, atMs: number) =>
      store.transaction(() => applyDelivery(store, d, new Date(atMs), newIncidentId));

    const opened = apply(delivery("OPEN", NOW + 365 * 24 * 60 * MINUTE, 99), NOW);
    const incident = opened.incident!;
    expect(store.alert(M0_CONNECTIONS_OPEN.id)?.updated).toBe(
      new Date(NOW + MAX_ALERT_CLOCK_SKEW_MS).toISOString(),
    );
    expect(store.incident(incident)?.alert?.at).toBe(new Date(NOW + MAX_ALERT_CLOCK_SKEW_MS).toISOString());

    // Atlas's real close, ten minutes later, is not stale: the incident closes.
    const closed = apply(delivery("CLOSED", NOW + 10 * MINUTE), NOW + 10 * MINUTE);
    expect(closed).toEqual({ status: "accepted", incident });
    expect(store.incident(incident)?.state).toBe("closed");
  });

  it("within the allowed skew keeps its own date, and an older delivery is still stale", () => {
    const store = createMemoryStore();
    const apply = (d: AlertDelivery, atMs: number) =>
      store.transaction(() => applyDelivery(store, d, new Date(atMs), newIncidentId));
    const ahead = NOW + 2 * MINUTE;
    const opened = apply(delivery("OPEN", ahead), NOW);
    expect(store.alert(M0_CONNECTIONS_OPEN.id)?.updated).toBe(new Date(ahead).toISOString());

    apply(delivery("CLOSED", NOW - MINUTE), NOW + MINUTE);
    expect(store.incident(opened.incident!)?.state).not.toBe("closed");
    const journal = store.entries(opened.incident!).map((row) => `${row.step}:${row.status}`);
    expect(journal).toContain("intake:stale");
  });
});
