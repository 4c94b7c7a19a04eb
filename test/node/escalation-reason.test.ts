/**
 * The reason an incident escalates with when every target has had its turn: a target whose
 * platform refused every call was never redeployed, and the reason must not say it was.
 */
import { describe, expect, it } from "vitest";
import { M0_CONNECTIONS_OPEN } from "../fixtures/atlas-alerts.ts";
import { CoreHarness, MINUTE } from "../support/core-harness.ts";

async function escalatedReason(h: CoreHarness): Promise<string> {
  const id = h.deliver(M0_CONNECTIONS_OPEN).incident!;
  for (let i = 0; i < 10 && h.incident(id).state !== "escalated"; i++) {
    await h.run();
    h.advanceClock(5 * MINUTE);
  }
  expect(h.incident(id).state).toBe("escalated");
  return String(h.find(id, "incident:escalated")[0]!.detail.reason);
}

describe("escalating after the last target", () => {
  it("names a refused target as refused, not as redeployed", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web" }] });
    h.redeployOutcome = () => ({ kind: "failed", detail: "web answered 503", status: 503 });
    expect(await escalatedReason(h)).toBe("the platform refused the redeploy of web, so it did not run");
    expect(h.calls.redeploy.map((c) => c.target)).toEqual(["web"]);
  });

  it("tells the two apart when one target ran and the other was refused", async () => {
    const h = new CoreHarness({ mode: "auto", targets: [{ name: "web" }, { name: "api" }] });
    h.redeployOutcome = (target) =>
      target === "api"
        ? { kind: "failed", detail: "api answered 403", status: 403 }
        : { kind: "started", detail: "web accepted the hook" };
    expect(await escalatedReason(h)).toBe(
      "still above the threshold after redeploying web; the platform refused the redeploy of api, so it did not run",
    );
  });
});
