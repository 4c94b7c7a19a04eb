/**
 * A failed source's line in the Slack message leads with the status, so the 120-character cut
 * drops the end of a long URL, never the answer.
 */
import { describe, expect, it } from "vitest";
import { sourceError } from "../../src/slack/render.ts";

describe("a failed source's error in Slack", () => {
  it("leads with the answer and drops the repeated service name", () => {
    const long = `atlas-admin GET /api/atlas/v2/groups/${"a".repeat(24)}/clusters/ShopCluster/processes answered 500 UNEXPECTED_ERROR`;
    const shown = sourceError("atlas-admin", long);
    expect(shown).toBe(
      `answered 500 UNEXPECTED_ERROR (GET /api/atlas/v2/groups/${"a".repeat(24)}/clusters/ShopCluster/processes)`,
    );
    expect(shown.slice(0, 40)).toContain("500 UNEXPECTED_ERROR");
  });

  it("leaves other errors as they are", () => {
    expect(sourceError("mongodb", "nothing accepted the connection (ECONNREFUSED)")).toBe(
      "nothing accepted the connection (ECONNREFUSED)",
    );
    expect(sourceError("mongodb", null)).toBe("failed");
  });
});
