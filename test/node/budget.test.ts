/** The global action budget's rule, over an in-memory book: the same rule the Worker's index and the CLI's state file use. */
import { describe, expect, it } from "vitest";
import { type BudgetBook, reserveIn } from "../../src/response/budget.ts";
import type { PastAction } from "../../src/response/policy.ts";

function book(): BudgetBook & { rows: Array<PastAction & { key: string }> } {
  const rows: Array<PastAction & { key: string }> = [];
  return {
    rows,
    has: (key) => rows.some((r) => r.key === key),
    prune: (since) => {
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.at < since) rows.splice(i, 1);
    },
    actions: () => rows.map(({ target, at, outcome }) => ({ target, at, outcome })),
    add: (key, target, at) => rows.push({ key, target, at, outcome: "sending" }),
    release: (key) => {
      const i = rows.findIndex((r) => r.key === key);
      if (i >= 0) rows.splice(i, 1);
    },
  };
}
const request = (key: string, target: string, at: string) => ({
  key,
  target,
  at,
  cooldownMinutes: 15,
  maxActionsPerHour: 2,
});

describe("taking an action from the budget", () => {
  it("records the action once, and a repeated key succeeds without counting twice", () => {
    const b = book();
    expect(reserveIn(b, request("i1:web:1", "web", "2026-12-01T10:00:00.000Z"))).toEqual({ ok: true });
    expect(reserveIn(b, request("i1:web:1", "web", "2026-12-01T10:01:00.000Z"))).toEqual({ ok: true });
    expect(b.rows).toHaveLength(1);
  });

  it("checks a repeated key again at its new time: a reservation never sent cannot fire past a cap that filled since", () => {
    const b = book();
    // i1's answer was lost, so it sent nothing; by the time it asks again, the hour has filled.
    expect(reserveIn(b, request("i1:web:1", "web", "2026-12-01T10:00:00.000Z"))).toEqual({ ok: true });
    expect(reserveIn(b, request("i2:api:1", "api", "2026-12-01T10:50:00.000Z"))).toEqual({ ok: true });
    expect(reserveIn(b, request("i3:jobs:1", "jobs", "2026-12-01T11:05:00.000Z"))).toEqual({ ok: true });
    expect(reserveIn(b, request("i1:web:1", "web", "2026-12-01T11:10:00.000Z"))).toEqual({
      ok: false,
      reason: "hourly-cap",
      until: "2026-12-01T11:50:00.000Z",
    });
    expect(b.rows.map((r) => r.key)).toEqual(["i2:api:1", "i3:jobs:1"]);
  });

  it("refuses a target inside its cooldown, and says until when", () => {
    const b = book();
    reserveIn(b, request("a", "web", "2026-12-01T10:00:00.000Z"));
    expect(reserveIn(b, request("b", "web", "2026-12-01T10:05:00.000Z"))).toEqual({
      ok: false,
      reason: "cooldown",
      until: "2026-12-01T10:15:00.000Z",
    });
    expect(b.rows.map((r) => r.key)).toEqual(["a"]);
  });

  it("refuses past the hourly cap across targets, and forgets actions older than a day", () => {
    const b = book();
    reserveIn(b, request("old", "api", "2026-11-29T10:00:00.000Z"));
    reserveIn(b, request("a", "web", "2026-12-01T10:00:00.000Z"));
    reserveIn(b, request("b", "api", "2026-12-01T10:10:00.000Z"));
    const third = reserveIn(b, request("c", "worker", "2026-12-01T10:20:00.000Z"));
    expect(third).toMatchObject({ ok: false, reason: "hourly-cap" });
    expect(b.rows.map((r) => r.key)).toEqual(["a", "b"]);
  });
});
