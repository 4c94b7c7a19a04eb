/**
 * The typed journal: what the core writes is what every reader reads back. `planDetail` writes a
 * decision, `readPlan` reads it for Slack and the dashboard, and stored rows of any age decode.
 */
import { describe, expect, it } from "vitest";
import type { Target } from "../../src/config/schema.ts";
import { decodeEntry, planDetail, readPlan, toRow } from "../../src/incident/journal.ts";
import type { Decision } from "../../src/response/policy.ts";

const web = {
  name: "web",
  kind: "vercel",
  secret: "VERCEL_HOOK_WEB",
  clusters: [],
  appNames: [],
  envNames: [],
} as unknown as Target;
const at = "2026-12-01T10:00:00.000Z";

const decisions: Decision[] = [
  {
    kind: "redeploy",
    target: web,
    reason: "shop-web holds 400 of 500",
    culprits: [{ app: "shop-web", env: "vercel", region: null, driver: null, hosts: [], connections: 400 }],
  },
  { kind: "failover", reason: "no target owns the culprits" },
  { kind: "below-threshold", percent: 40, threshold: 80 },
  { kind: "blocked", reason: "cooldown", target: "web", until: "2026-12-01T10:15:00.000Z" },
  { kind: "snoozed", until: "2026-12-01T11:00:00.000Z" },
  { kind: "unknown-outcome", target: "web" },
  { kind: "exhausted", tried: ["web", "worker"] },
  { kind: "no-targets", reason: "no target owns cluster Cluster0" },
  { kind: "cannot-measure" },
];

describe("plans written by the core read back for display", () => {
  for (const decision of decisions) {
    it(`${decision.kind}: the kind and every field survive the round trip`, () => {
      const row = toRow({ at, step: "plan", status: decision.kind, detail: planDetail(decision) });
      const view = readPlan(row);
      expect(view.kind).toBe(decision.kind);
      const { kind: _kind, ...fields } = view as Record<string, unknown>;
      const written = planDetail(decision) as Record<string, unknown>;
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        const source = key === "platform" ? written.kind : written[key];
        expect(value).toEqual(source);
      }
    });
  }

  it("an approval request carries the plan awaiting approval", () => {
    const failover = decisions[1]!;
    expect(
      readPlan(toRow({ at, step: "approval", status: "requested", detail: planDetail(failover) })).kind,
    ).toBe("failover");
    const redeploy = readPlan(
      toRow({ at, step: "approval", status: "requested", detail: planDetail(decisions[0]!) }),
    );
    expect(redeploy).toMatchObject({
      kind: "redeploy",
      target: "web",
      platform: "vercel",
      culprits: ["shop-web"],
    });
  });

  it("a row with wrong field types reads as a plan with those fields missing, never a crash", () => {
    const view = readPlan({
      at,
      step: "plan",
      status: "redeploy",
      detail: { target: 7, culprits: "x", reason: null },
    });
    expect(view).toEqual({
      kind: "redeploy",
      target: undefined,
      platform: undefined,
      reason: undefined,
      culprits: [],
    });
    expect(readPlan({ at, step: "plan", status: "something-new", detail: {} })).toEqual({
      kind: "other",
      status: "something-new",
      reason: undefined,
    });
  });
});

describe("stored rows decode", () => {
  it("accepts rows as earlier versions wrote them", () => {
    const old = { at, step: "approval", status: "approved", detail: { by: "U1" } };
    expect(decodeEntry(old)).toEqual({ ok: true, entry: old });
  });

  it("refuses a row that is not an entry, and one missing a field readers rely on", () => {
    expect(decodeEntry({ at, step: "", status: "x", detail: {} }).ok).toBe(false);
    expect(decodeEntry({ at, step: "plan", status: "x", detail: "text" }).ok).toBe(false);
    const escalated = decodeEntry({ at, step: "incident", status: "escalated", detail: {} });
    expect(escalated.ok).toBe(false);
    if (!escalated.ok) expect(escalated.error).toMatch(/incident:escalated/);
  });
});
