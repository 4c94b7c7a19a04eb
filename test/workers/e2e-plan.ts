/**
 * The end-to-end scenarios' fixed names: projects, clusters and deploy targets that the Worker's
 * test configuration (./bindings.ts) and the fakes' global setups agree on before the Worker starts.
 * Each scenario has its own project, so faults and call logs never cross between tests.
 */
import type { FakePlatform, FakeTargetOptions } from "../../fakes/platforms.ts";

export const E2E = {
  m0: { groupId: "e2e000000000000000000001", cluster: "E2eM0" },
  m10: { groupId: "e2e000000000000000000002", cluster: "E2eM10" },
  full: { groupId: "e2e000000000000000000003", cluster: "E2eFull" },
  modes: { groupId: "e2e000000000000000000004", notify: "E2eNotify", dry: "E2eDry", approve: "E2eApprove" },
  crash: { groupId: "e2e000000000000000000005", after: "E2eCrashAfter", before: "E2eCrashBefore" },
  slack: { groupId: "e2e000000000000000000006", cluster: "E2eSlack" },
  failover: { groupId: "e2e000000000000000000007", cluster: "E2eFailover" },
  dashboard: { groupId: "e2e000000000000000000008", cluster: "E2eDashboard" },
  storm: { groupId: "e2e000000000000000000009", cluster: "E2eStorm" },
  race: { groupId: "e2e00000000000000000000a", cluster: "E2eRace" },
  // The no-secret scan's complete incidents: approved, automatic, failed, unknown outcome.
  secrets: {
    groupId: "e2e0000000000000000005ec",
    approve: "E2eSecApprove",
    auto: "E2eSecAuto",
    fail: "E2eSecFail",
    unknown: "E2eSecUnknown",
  },
} as const;

/** The one Slack user allowed to approve in the tests. */
export const E2E_APPROVER = "U0APPROVER";

/** The approval race's approvers, both kinds of Slack user id (U…, and W… on Enterprise Grid). */
export const E2E_RACE_APPROVERS = ["U0RACEA1", "U0RACEA2", "W0RACEA3", "W0RACEA4"] as const;

export interface E2eTarget {
  kind: FakePlatform;
  name: string;
  options?: FakeTargetOptions;
  clusters: string[];
  appNames?: string[];
}

export const E2E_TARGETS: readonly E2eTarget[] = [
  { kind: "vercel", name: "m0-web", clusters: [E2E.m0.cluster] },
  { kind: "vercel", name: "m0-worker", clusters: [E2E.m0.cluster] },
  { kind: "vercel", name: "m10-admin", clusters: [E2E.m10.cluster], appNames: ["admin"] },
  { kind: "vercel", name: "m10-shop", clusters: [E2E.m10.cluster], appNames: ["shop-web"] },
  { kind: "netlify", name: "full-web", clusters: [E2E.full.cluster] },
  { kind: "vercel", name: "notify-web", clusters: [E2E.modes.notify] },
  { kind: "railway", name: "dry-web", clusters: [E2E.modes.dry] },
  { kind: "vercel", name: "approve-web", clusters: [E2E.modes.approve] },
  { kind: "vercel", name: "crash-after", clusters: [E2E.crash.after] },
  { kind: "render", name: "crash-before", clusters: [E2E.crash.before], options: { api: true } },
  { kind: "vercel", name: "slack-web", clusters: [E2E.slack.cluster] },
  { kind: "vercel", name: "dashboard-web", clusters: [E2E.dashboard.cluster] },
  { kind: "vercel", name: "storm-web", clusters: [E2E.storm.cluster] },
  { kind: "vercel", name: "race-web", clusters: [E2E.race.cluster] },
  { kind: "vercel", name: "sec-approve", clusters: [E2E.secrets.approve] },
  { kind: "webhook", name: "sec-auto", clusters: [E2E.secrets.auto], options: { signed: true } },
  { kind: "railway", name: "sec-fail", clusters: [E2E.secrets.fail], options: { tokenKind: "project" } },
  { kind: "heroku", name: "sec-unknown", clusters: [E2E.secrets.unknown] },
];
