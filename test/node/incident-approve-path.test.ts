/**
 * Approve mode with nothing that can approve (no Slack bot with a signing secret, no ADMIN_TOKEN):
 * the core escalates with the reason instead of asking nobody, and sends nothing.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/schema.ts";
import { NOTHING_CAN_APPROVE } from "../../src/incident/decide.ts";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { app, CoreHarness } from "../support/core-harness.ts";

const REASON =
  "approve mode, but nothing can approve: configure Slack with a signing secret, or ADMIN_TOKEN for the dashboard";

describe("canApprove", () => {
  const base = { ATLAS_WEBHOOK_SECRET: "whsec-for-tests" };
  it.each([
    [{}, false],
    [{ ADMIN_TOKEN: "admin-token-0123456789" }, true],
    [{ SLACK_BOT_TOKEN: "xoxb-1", SLACK_CHANNEL: "C1" }, false],
    [{ SLACK_BOT_TOKEN: "xoxb-1", SLACK_CHANNEL: "C1", SLACK_SIGNING_SECRET: "sig-secret" }, true],
    [{ SLACK_WEBHOOK_URL: "https://hooks.slack.test/x", SLACK_SIGNING_SECRET: "sig-secret" }, false],
  ])("%j → %s", (env, expected) => {
    expect(parseConfig({ ...base, ...env }).canApprove).toBe(expected);
  });
});

describe("approve mode with no way to approve", () => {
  it("escalates with the reason, journals it, and sends nothing", async () => {
    const h = new CoreHarness({ mode: "approve" });
    h.config = { ...h.config, canApprove: false };
    const id = h.deliver(M0_CONNECTIONS_OPEN).incident!;
    await h.run();
    expect(NOTHING_CAN_APPROVE).toBe(REASON);
    expect(h.incident(id)).toMatchObject({ state: "escalated", phase: "idle", nextRunAt: null });
    expect(h.find(id, "incident:escalated")[0]!.detail).toEqual({ reason: REASON });
    expect(h.steps(id)).not.toContain("approval:requested");
    expect(h.calls.redeploy).toHaveLength(0);
  });

  it("a failover plan escalates the same way even in auto mode", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web", appNames: ["web"] }] });
    h.config = { ...h.config, canApprove: false };
    h.stats = { current: 1400, tier: "M10", byApp: [app("checkout", 1200), app("web", 100)] };
    const id = h.trigger();
    await h.run();
    expect(h.find(id, "plan:failover")).toHaveLength(1);
    expect(h.incident(id).state).toBe("escalated");
    expect(h.find(id, "incident:escalated")[0]!.detail).toEqual({ reason: REASON });
    expect(h.calls.failover).toHaveLength(0);
  });

  it("with a way to approve, the same incident waits for a person", async () => {
    const h = new CoreHarness({ mode: "approve" });
    const id = h.deliver(M0_CONNECTIONS_OPEN).incident!;
    await h.run();
    expect(h.incident(id).state).toBe("awaiting-approval");
  });
});
