/**
 * Atlas connection limits per cluster tier, kept as data with their sources, and the two questions
 * the rest of the responder asks about a tier: "what is the per-node limit?" and "is it shared?".
 *
 * Trade-off: the table is a copy of Atlas's documentation, which Atlas may change. When a server has
 * told us its own `connections.current + available` (serverStatus), that wins over the table, and an
 * unknown tier yields no limit rather than a guess.
 */

/** The clouds whose limits differ; `TENANT`/`FLEX` clusters report their backing provider instead. */
export type CloudProvider = "AWS" | "AZURE" | "GCP";

export interface TierLimit {
  /** Tier as the Admin API spells it: "M0", "FLEX", "M10", "R40", … */
  tier: string;
  /** Maximum incoming connections per node (per mongos on sharded clusters). */
  connections: number;
  /** Where one cloud differs from `connections`. */
  byProvider?: Partial<Record<CloudProvider, number>>;
  /** Shared infrastructure: `$currentOp` and the kill commands are forbidden; redeploying apps is the fix. */
  shared: boolean;
  source: string;
}

const SHARED_SOURCE =
  "mongodb/docs content/atlas/source/reference/free-shared-limitations.txt and flex-limitations.txt (notes/atlas.md §3.1)";
const SERVERLESS_SOURCE = "notes/atlas.md §3.1 (legacy serverless instances, same shared limit)";
const GENERAL_SOURCE =
  "mongodb/docs content/atlas/source/reference/atlas-limits.txt, 'Connection Limits and Cluster Tier', General Class";
const LOW_CPU_SOURCE =
  "mongodb/docs content/atlas/source/reference/atlas-limits.txt, 'Connection Limits and Cluster Tier', Low-CPU Class";

/** Per-node connection limits by tier. Limits apply per node, and per mongos for sharded clusters. */
export const TIER_LIMITS: readonly TierLimit[] = [
  { tier: "M0", connections: 500, shared: true, source: SHARED_SOURCE },
  { tier: "M2", connections: 500, shared: true, source: SHARED_SOURCE },
  { tier: "M5", connections: 500, shared: true, source: SHARED_SOURCE },
  { tier: "FLEX", connections: 500, shared: true, source: SHARED_SOURCE },
  { tier: "SERVERLESS", connections: 500, shared: true, source: SERVERLESS_SOURCE },
  { tier: "M10", connections: 1500, shared: false, source: GENERAL_SOURCE },
  { tier: "M20", connections: 3000, shared: false, source: GENERAL_SOURCE },
  { tier: "M30", connections: 3000, shared: false, source: GENERAL_SOURCE },
  { tier: "M40", connections: 6000, shared: false, source: GENERAL_SOURCE },
  { tier: "M50", connections: 16000, shared: false, source: GENERAL_SOURCE },
  { tier: "M60", connections: 32000, shared: false, source: GENERAL_SOURCE },
  { tier: "M80", connections: 64000, byProvider: { AWS: 96000 }, shared: false, source: GENERAL_SOURCE },
  { tier: "M140", connections: 96000, shared: false, source: GENERAL_SOURCE },
  { tier: "M200", connections: 128000, shared: false, source: GENERAL_SOURCE },
  { tier: "M300", connections: 128000, shared: false, source: GENERAL_SOURCE },
  { tier: "M400", connections: 128000, shared: false, source: GENERAL_SOURCE },
  { tier: "M600", connections: 128000, shared: false, source: GENERAL_SOURCE },
  // Low-CPU class: the Admin API names these R40, R50, … (the docs list them as "M40" under Low-CPU).
  { tier: "R40", connections: 6000, byProvider: { AWS: 4000 }, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R50", connections: 16000, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R60", connections: 32000, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R80", connections: 64000, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R200", connections: 128000, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R300", connections: 128000, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R400", connections: 128000, shared: false, source: LOW_CPU_SOURCE },
  { tier: "R700", connections: 128000, shared: false, source: LOW_CPU_SOURCE },
];

const BY_TIER = new Map(TIER_LIMITS.map((entry) => [entry.tier, entry]));

/**
 * Canonical tier name: upper case, and storage/generation variants folded onto their base size
 * ("M40_NVME", "M30_GEN_2" → "M40", "M30"). Assumption: the docs list no separate connection limits
 * for NVMe or Gen 2 sizes, so they share the base size's limit.
 */
export function normalizeTier(tier: string): string {
  const upper = tier.trim().toUpperCase();
  if (upper === "SERVERLESS" || upper.startsWith("SERVERLESS_")) return "SERVERLESS";
  return upper.replace(/_NVME/g, "").replace(/_GEN_\d+$/g, "");
}

/** The table entry for a tier, if we know it. */
export function tierLimit(tier: string): TierLimit | undefined {
  return BY_TIER.get(normalizeTier(tier));
}

/** True for tiers on shared infrastructure (M0, M2, M5, Flex, serverless): no `$currentOp`, redeploy is the fix. */
export function isSharedTier(tier: string): boolean {
  return tierLimit(tier)?.shared ?? false;
}

export interface ConnectionLimitInput {
  tier?: string;
  /** The cloud running the nodes (for TENANT/FLEX, the backing provider). */
  provider?: string;
  /** serverStatus `connections.current` from the node itself. */
  serverCurrent?: number;
  /** serverStatus `connections.available` from the node itself. */
  serverAvailable?: number;
}

export interface ConnectionLimit {
  limit: number;
  /** "server": the node's own current + available; "tier": the documented table. */
  from: "server" | "tier";
  source: string;
}

/** The per-node connection limit, preferring what the server itself reports over the tier table. */
export function connectionLimit(input: ConnectionLimitInput): ConnectionLimit | undefined {
  const { serverCurrent, serverAvailable } = input;
  if (isCount(serverCurrent) && isCount(serverAvailable)) {
    return {
      limit: serverCurrent + serverAvailable,
      from: "server",
      source: "serverStatus connections.current + connections.available",
    };
  }
  if (input.tier === undefined) return undefined;
  const entry = tierLimit(input.tier);
  if (!entry) return undefined;
  const provider = input.provider?.toUpperCase() as CloudProvider | undefined;
  const limit = (provider && entry.byProvider?.[provider]) ?? entry.connections;
  return { limit, from: "tier", source: entry.source };
}

function isCount(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value >= 0;
}
