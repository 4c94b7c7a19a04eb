/**
 * Secrets and vars the Worker sees inside the workerd tests. Test-only values: each is distinctive
 * so a test can search logs and bodies for it and prove it never leaks. The end-to-end part points
 * the configuration at the fakes the global setups started (their ports are only known then).
 */
import type { FakeTargetSetup } from "../../fakes/platforms.ts";
import { E2E, E2E_APPROVER, E2E_RACE_APPROVERS, E2E_TARGETS } from "./e2e-plan.ts";
import type { FakeCreated } from "./setup/mongo.global.ts";

export const TEST_SECRETS = {
  ATLAS_WEBHOOK_SECRET: "whsec-test-3f9c1e7a-atlas",
  ADMIN_TOKEN: "admin-token-test-8d2b44e0c6a1",
  // The secrets being rotated out: accepted beside the current ones while set (SECURITY.md).
  ATLAS_WEBHOOK_SECRET_PREVIOUS: "whsec-test-previous-b51d07-atlas",
  SLACK_SIGNING_SECRET_PREVIOUS: "slack-signing-previous-test-62ae90",
} as const;

export interface FakeEndpoints {
  mongo: Record<"m0" | "m10" | "full" | "slack" | "secrets", FakeCreated>;
  targets: FakeTargetSetup[];
  atlasApiUrl: string;
  atlasCredentials: { serviceAccount: { clientId: string; clientSecret: string } };
  slack: { apiBaseUrl: string; token: string; signingSecret: string };
  /** The fake notification receiver (setup/notify.global.ts). */
  notifyUrl: string;
}

/** Every binding of the test Worker. */
export function testBindings(fakes: FakeEndpoints): Record<string, string> {
  const secrets: Record<string, string> = {};
  const targets = E2E_TARGETS.map((plan) => {
    const setup = fakes.targets.find((t) => t.target.name === plan.name);
    if (!setup) throw new Error(`the platforms fake did not register ${plan.name}`);
    Object.assign(secrets, setup.secrets);
    return { ...setup.target, clusters: plan.clusters, appNames: plan.appNames ?? [] };
  });
  const { m0, m10, full, modes, crash, slack, failover, dashboard, storm, race, secrets: sec } = E2E;
  const clusters = [
    { groupId: m0.groupId, name: m0.cluster, tier: "M0", uriSecret: "E2E_M0_URI", mode: "auto" },
    { groupId: m10.groupId, name: m10.cluster, tier: "M10", uriSecret: "E2E_M10_URI", mode: "auto" },
    { groupId: full.groupId, name: full.cluster, tier: "M0", uriSecret: "E2E_FULL_URI", mode: "auto" },
    { groupId: modes.groupId, name: modes.notify, tier: "M0", mode: "notify" },
    { groupId: modes.groupId, name: modes.dry, tier: "M0", mode: "auto" },
    { groupId: modes.groupId, name: modes.approve, tier: "M0", mode: "approve" },
    { groupId: crash.groupId, name: crash.after, tier: "M0", mode: "auto" },
    { groupId: crash.groupId, name: crash.before, tier: "M0", mode: "auto" },
    { groupId: slack.groupId, name: slack.cluster, tier: "M0", uriSecret: "E2E_SLACK_URI", mode: "approve" },
    // No target owns this M10 cluster: the only lever left is Test Failover.
    { groupId: failover.groupId, name: failover.cluster, tier: "M10", mode: "auto" },
    { groupId: dashboard.groupId, name: dashboard.cluster, tier: "M0", mode: "approve" },
    // The storm and the approval race measure through the Admin API and the alert only.
    { groupId: storm.groupId, name: storm.cluster, tier: "M0", mode: "auto" },
    { groupId: race.groupId, name: race.cluster, tier: "M0", mode: "approve" },
    // The no-secret scan: one approved run measured through a password-protected MongoDB, three
    // automatic ones through the Admin API.
    { groupId: sec.groupId, name: sec.approve, tier: "M0", uriSecret: "E2E_SECRETS_URI", mode: "approve" },
    { groupId: sec.groupId, name: sec.auto, tier: "M0", mode: "auto" },
    { groupId: sec.groupId, name: sec.fail, tier: "M0", mode: "auto" },
    { groupId: sec.groupId, name: sec.unknown, tier: "M0", mode: "auto" },
  ];
  return {
    ...TEST_SECRETS,
    ...secrets,
    RESPONDER_MODE: "approve",
    ATLAS_API_BASE_URL: fakes.atlasApiUrl,
    ATLAS_CLIENT_ID: fakes.atlasCredentials.serviceAccount.clientId,
    ATLAS_CLIENT_SECRET: fakes.atlasCredentials.serviceAccount.clientSecret,
    SLACK_API_BASE_URL: fakes.slack.apiBaseUrl,
    SLACK_BOT_TOKEN: fakes.slack.token,
    SLACK_CHANNEL: "incidents",
    SLACK_SIGNING_SECRET: fakes.slack.signingSecret,
    SLACK_APPROVERS: [E2E_APPROVER, ...E2E_RACE_APPROVERS].join(","),
    NOTIFY_WEBHOOK_URL: `${fakes.notifyUrl}/hook`,
    E2E_M0_URI: fakes.mongo.m0.uri,
    E2E_M10_URI: fakes.mongo.m10.uri,
    E2E_FULL_URI: fakes.mongo.full.uri,
    E2E_SLACK_URI: fakes.mongo.slack.uri,
    E2E_SECRETS_URI: fakes.mongo.secrets.uri,
    // Verification after 1 s and 2 s keeps the end-to-end tests quick; production defaults are 180/600.
    POLICY: JSON.stringify({ verifyAfterSeconds: [1, 2] }),
    TARGETS: JSON.stringify(targets),
    CLUSTERS: JSON.stringify(clusters),
  };
}
