/** The connection-limit table and the questions asked of a tier (src/atlas/tiers.ts). */
import { describe, expect, it } from "vitest";
import {
  connectionLimit,
  isSharedTier,
  normalizeTier,
  TIER_LIMITS,
  tierLimit,
} from "../../src/atlas/tiers.ts";

const limitOf = (tier: string, provider?: string) => connectionLimit({ tier, provider })?.limit;

describe("connection limits per tier", () => {
  it("matches the documented table (notes/atlas.md §3.1, atlas-limits.txt)", () => {
    for (const shared of ["M0", "M2", "M5", "FLEX", "SERVERLESS"]) expect(limitOf(shared)).toBe(500);
    expect(limitOf("M10")).toBe(1500);
    expect(limitOf("M20")).toBe(3000);
    expect(limitOf("M30")).toBe(3000);
    expect(limitOf("M40")).toBe(6000);
    expect(limitOf("M50")).toBe(16000);
    expect(limitOf("M60")).toBe(32000);
    expect(limitOf("M140")).toBe(96000);
    for (const big of ["M200", "M300", "M400", "M600"]) expect(limitOf(big)).toBe(128000);
  });

  it("uses the provider where the clouds differ", () => {
    expect(limitOf("M80", "AWS")).toBe(96000);
    expect(limitOf("M80", "GCP")).toBe(64000);
    expect(limitOf("M80", "AZURE")).toBe(64000);
    expect(limitOf("M80")).toBe(64000);
    expect(limitOf("R40", "AWS")).toBe(4000);
    expect(limitOf("R40", "azure")).toBe(6000);
    expect(limitOf("M40", "AWS")).toBe(6000);
  });

  it("folds spelling and storage variants onto the base size", () => {
    expect(normalizeTier(" m10 ")).toBe("M10");
    expect(normalizeTier("Flex")).toBe("FLEX");
    expect(normalizeTier("M40_NVME")).toBe("M40");
    expect(normalizeTier("M30_GEN_2")).toBe("M30");
    expect(normalizeTier("M80_NVME_GEN_2")).toBe("M80");
    expect(limitOf("M400_NVME")).toBe(128000);
  });

  it("prefers the server's own current + available over the table", () => {
    expect(connectionLimit({ tier: "M0", serverCurrent: 120, serverAvailable: 380 })).toEqual({
      limit: 500,
      from: "server",
      source: "serverStatus connections.current + connections.available",
    });
    // A cluster whose limit Atlas raised (or a self-managed node) reports more than the table.
    expect(connectionLimit({ tier: "M10", serverCurrent: 10, serverAvailable: 2990 })?.limit).toBe(3000);
    expect(connectionLimit({ serverCurrent: 3, serverAvailable: 97 })?.limit).toBe(100);
    // Half a reading, or nonsense, falls back to the table.
    expect(connectionLimit({ tier: "M10", serverCurrent: 10 })).toMatchObject({ limit: 1500, from: "tier" });
    expect(connectionLimit({ tier: "M10", serverCurrent: -1, serverAvailable: Number.NaN })?.from).toBe(
      "tier",
    );
  });

  it("knows nothing rather than guessing for an unknown tier", () => {
    expect(connectionLimit({ tier: "M7" })).toBeUndefined();
    expect(connectionLimit({ tier: "M100" })).toBeUndefined();
    expect(connectionLimit({})).toBeUndefined();
    expect(tierLimit("nonsense")).toBeUndefined();
  });

  it("names a source for every entry", () => {
    for (const entry of TIER_LIMITS) {
      expect(entry.source.length, entry.tier).toBeGreaterThan(10);
      expect(entry.connections).toBeGreaterThan(0);
    }
    expect(new Set(TIER_LIMITS.map((e) => e.tier)).size).toBe(TIER_LIMITS.length);
  });
});

describe("isSharedTier", () => {
  it("is true where $currentOp is forbidden and redeploying is the fix", () => {
    for (const tier of ["M0", "m2", "M5", "FLEX", "flex", "SERVERLESS"])
      expect(isSharedTier(tier), tier).toBe(true);
    for (const tier of ["M10", "M30", "R40", "M40_NVME", "unknown"])
      expect(isSharedTier(tier), tier).toBe(false);
  });
});
