/** The policy: every rule that keeps the responder from making an outage worse, without a network. */
import { describe, expect, it } from "vitest";
import { parseConfig, type Target } from "../../src/config/schema.ts";
import { budgetCheck, culpritsOf, type PastAction, type PlanInput, plan } from "../../src/response/policy.ts";
import type { Assessment } from "../../src/stats/assess.ts";
import type { AppConnections } from "../../src/stats/types.ts";

const NOW = new Date("2026-08-13T10:00:00Z");
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const POLICY = parseConfig({ ATLAS_WEBHOOK_SECRET: "x-secret" }).policy;

const target = (name: string, extra: Partial<Target> = {}): Target =>
  ({ name, kind: "vercel", secret: "HOOK", clusters: [], appNames: [], envNames: [], ...extra }) as Target;
const app = (name: string, connections: number, env: string | null = null): AppConnections => ({
  app: name,
  env,
  region: null,
  driver: "nodejs 7.9.0",
  hosts: ["10.0.0.1"],
  connections,
});

function assessment(overrides: Partial<Assessment> = {}): Assessment {
  return {
    at: NOW.toISOString(),
    tier: "M0",
    current: 430,
    limit: 500,
    percent: 86,
    trendPerMinute: null,
    minutesToLimit: null,
    byApp: [],
    attributed: false,
    series: [],
    sources: [],
    findings: [],
    ...overrides,
  };
}

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    assessment: assessment(),
    cluster: "Cluster0",
    policy: POLICY,
    targets: [target("web"), target("worker")],
    attempts: [],
    recentActions: [],
    lastFailoverAt: null,
    snoozedUntil: null,
    now: NOW,
    ...overrides,
  };
}

describe("plan on M0 (no attribution)", () => {
  it("redeploys the first owning target first", () => {
    const decision = plan(input());
    expect(decision.kind).toBe("redeploy");
    expect(decision.kind === "redeploy" && decision.target.name).toBe("web");
  });

  it("skips targets that do not own the cluster", () => {
    const decision = plan(
      input({
        targets: [target("other", { clusters: ["Analytics"] }), target("web", { clusters: ["Cluster0"] })],
      }),
    );
    expect(decision.kind === "redeploy" && decision.target.name).toBe("web");
  });

  it("moves to the next target after one was tried, then back for a second round, then gives up", () => {
    const tried = (...names: string[]): PastAction[] =>
      names.map((n) => ({ target: n, at: minutesAgo(30), outcome: "started" }));
    expect((plan(input({ attempts: tried("web") })) as { target: Target }).target.name).toBe("worker");
    expect((plan(input({ attempts: tried("web", "worker") })) as { target: Target }).target.name).toBe("web");
    expect(plan(input({ attempts: tried("web", "worker", "web", "worker") }))).toEqual({
      kind: "exhausted",
      tried: ["web", "worker"],
    });
  });

  it("never asks a platform again that refused the call in this incident", () => {
    const decision = plan(input({ attempts: [{ target: "web", at: minutesAgo(30), outcome: "failed" }] }));
    expect(decision.kind === "redeploy" && decision.target.name).toBe("worker");
  });

  it("stops everything when an earlier call's outcome is unknown", () => {
    expect(plan(input({ attempts: [{ target: "web", at: minutesAgo(1), outcome: "unknown" }] }))).toEqual({
      kind: "unknown-outcome",
      target: "web",
    });
    expect(plan(input({ attempts: [{ target: "web", at: minutesAgo(1), outcome: "sending" }] })).kind).toBe(
      "unknown-outcome",
    );
  });

  it("does nothing below the threshold, and nothing blind", () => {
    expect(plan(input({ assessment: assessment({ percent: 79.9 }) }))).toEqual({
      kind: "below-threshold",
      percent: 79.9,
      threshold: 80,
    });
    expect(plan(input({ assessment: assessment({ percent: null, current: null }) })).kind).toBe(
      "cannot-measure",
    );
  });

  it("has no failover on a shared tier", () => {
    expect(plan(input({ targets: [] }))).toEqual({
      kind: "no-targets",
      reason: "no target owns cluster Cluster0",
    });
  });

  it("respects a snooze", () => {
    const until = new Date(NOW.getTime() + 60_000).toISOString();
    expect(plan(input({ snoozedUntil: until }))).toEqual({ kind: "snoozed", until });
    expect(plan(input({ snoozedUntil: minutesAgo(1) })).kind).toBe("redeploy");
  });
});

describe("plan on M10+ (attributed)", () => {
  const attributed = (byApp: AppConnections[]) =>
    assessment({ tier: "M10", limit: 1500, current: 1300, percent: 86.7, attributed: true, byApp });

  it("redeploys only the target owning the app that holds most connections", () => {
    const decision = plan(
      input({
        assessment: attributed([app("shop-web", 1200, "vercel"), app("admin", 80)]),
        targets: [target("admin", { appNames: ["admin"] }), target("web", { appNames: ["shop-web"] })],
      }),
    );
    expect(decision.kind === "redeploy" && decision.target.name).toBe("web");
    expect(decision.kind === "redeploy" && decision.culprits.map((c) => c.app)).toEqual(["shop-web"]);
  });

  it("matches by env.name for targets that list no appNames", () => {
    const decision = plan(
      input({
        assessment: attributed([app("(no appName)", 900, "vercel")]),
        targets: [target("web", { envNames: ["vercel"] })],
      }),
    );
    expect(decision.kind === "redeploy" && decision.target.name).toBe("web");
  });

  it("offers failover when no target owns the culprit, at most once a day", () => {
    const base = input({
      assessment: attributed([app("mystery", 1000)]),
      targets: [target("web", { appNames: ["shop-web"] })],
    });
    expect(plan(base).kind).toBe("failover");
    expect(plan({ ...base, lastFailoverAt: minutesAgo(60) }).kind).toBe("no-targets");
    expect(plan({ ...base, lastFailoverAt: minutesAgo(25 * 60) }).kind).toBe("failover");
  });

  it("names as culprits the largest apps holding at least half of the connections", () => {
    expect(culpritsOf([app("a", 10), app("b", 60), app("c", 30)]).map((c) => c.app)).toEqual(["b"]);
    expect(culpritsOf([app("a", 40), app("b", 35), app("c", 25)]).map((c) => c.app)).toEqual(["a", "b"]);
  });
});

describe("caps", () => {
  it("treats a cap of 0 actions per hour as never acting, without failing", () => {
    expect(budgetCheck("web", [], { ...POLICY, maxActionsPerHour: 0 }, NOW)).toEqual({
      reason: "hourly-cap",
      until: new Date(NOW.getTime() + 3600_000).toISOString(),
    });
    expect(plan(input({ policy: { ...POLICY, maxActionsPerHour: 0 } })).kind).toBe("blocked");
  });

  it("holds a target's cooldown", () => {
    const recent: PastAction[] = [{ target: "web", at: minutesAgo(5), outcome: "started" }];
    expect(plan(input({ recentActions: recent }))).toEqual({
      kind: "blocked",
      reason: "cooldown",
      target: "web",
      until: new Date(NOW.getTime() + 10 * 60_000).toISOString(),
    });
    expect(
      plan(input({ recentActions: [{ target: "web", at: minutesAgo(16), outcome: "started" }] })).kind,
    ).toBe("redeploy");
  });

  it("holds the hourly cap across all targets and frees a slot an hour after the oldest counted action", () => {
    const recent: PastAction[] = [50, 40, 30, 20, 20, 17].map((m, i) => ({
      target: `t${i}`,
      at: minutesAgo(m),
      outcome: "started",
    }));
    expect(budgetCheck("web", recent, POLICY, NOW)).toEqual({
      reason: "hourly-cap",
      until: new Date(NOW.getTime() + 10 * 60_000).toISOString(),
    });
    expect(budgetCheck("web", recent.slice(1), POLICY, NOW)).toBeNull();
    expect(
      budgetCheck(
        "web",
        [...recent.slice(1), { target: "x", at: minutesAgo(61), outcome: "started" }],
        POLICY,
        NOW,
      ),
    ).toBeNull();
  });
});
