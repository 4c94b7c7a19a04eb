/**
 * The responder links to doctor: the prevention advice for an app named in an incident says how to
 * run `npm run doctor` on that app's repository, early enough that Slack's shortest form keeps it.
 */
import { describe, expect, it } from "vitest";
import { doctorStep, preventionAdvice } from "../../src/response/advice.ts";
import type { Assessment } from "../../src/stats/assess.ts";
import type { AppConnections } from "../../src/stats/types.ts";

const assessment = (attributed: boolean): Assessment => ({
  at: "2026-12-01T10:00:00.000Z",
  tier: attributed ? "M10" : "M0",
  current: 480,
  limit: 500,
  percent: 96,
  trendPerMinute: 12,
  minutesToLimit: 2,
  byApp: [],
  attributed,
  series: [],
  sources: [],
  findings: [],
});

const app = (name: string, env: string | null, connections: number, hosts: number): AppConnections =>
  ({
    app: name,
    env,
    region: null,
    driver: "nodejs 7.9.0",
    hosts: Array.from({ length: hosts }, (_, i) => `10.0.0.${i + 1}`),
    connections,
  }) as AppConnections;

describe("prevention advice links to doctor", () => {
  it("names the app's repository in the doctor command, within the first two steps", () => {
    const [shop, worker] = preventionAdvice(assessment(true), [
      app("shop-web", "vercel", 300, 2),
      app("jobs", null, 40, 4),
    ]);
    expect(shop!.steps.slice(0, 2)).toContain(
      "Run `npm run doctor -- <path to shop-web's repository>` in atlas-responder: it points at the lines that leak connections, and `--patch` prints the fix as a diff.",
    );
    expect(worker!.steps[0]).toBe(doctorStep("jobs"));
  });

  it("speaks of each app's repository when the tier cannot name the app, or the app has no appName", () => {
    const [general] = preventionAdvice(assessment(false), []);
    expect(general!.app).toBeNull();
    expect(general!.steps[0]).toContain("`npm run doctor -- <path to each app's repository>`");
    const [unnamed] = preventionAdvice(assessment(true), [app("(no appName)", null, 90, 3)]);
    expect(unnamed!.steps.slice(0, 2)).toEqual([
      "30 connections per host is more than one client's pool: look for several MongoClient instances or per-request clients.",
      doctorStep(null),
    ]);
  });
});
