/**
 * The shape every connection-stats source reports in, and what the assessment combines.
 *
 * A source never throws for an expected failure (a full cluster refusing us, a tier that forbids a
 * command, an API answering 500): it returns `{ ok: false, reason, error }`, and the assessment
 * builds its picture from the sources that did answer. Exceptions are for bugs.
 */

/** Connections held by one application, as attributed from driver handshake metadata (M10+ only). */
export interface AppConnections {
  /** `clientMetadata.application.name`, or "(no appName)" when the client set none. */
  app: string;
  /** `clientMetadata.env.name`: `vercel`, `aws.lambda`, `gcp.func`, `azure.func`, or null. */
  env: string | null;
  region: string | null;
  /** e.g. "nodejs 7.9.0"; null when not sent. */
  driver: string | null;
  /** Distinct client hosts (IPs without port) holding these connections. */
  hosts: string[];
  connections: number;
}

/** Something a source noticed that is evidence, not failure (e.g. the tier refused `$currentOp`). */
export interface Finding {
  kind: "tier-refused" | "cluster-full" | "partial";
  detail: string;
}

/** One point of the connection count over time. */
export interface SeriesPoint {
  at: string;
  value: number;
}

export type FailureReason = "refused" | "auth" | "timeout" | "http" | "config" | "not-found" | "unknown";

export interface StatsSuccess {
  source: string;
  ok: true;
  /** When the reading was taken (ISO-8601). */
  at: string;
  current?: number;
  available?: number;
  totalCreated?: number;
  /** The per-node connection limit this source knows (e.g. from the tier). */
  limit?: number;
  /** Share of the limit in use, when the source reports a percentage (a CONNECTIONS_PERCENT alert). */
  percent?: number;
  /** Tier name as the source sees it: "M0", "FLEX", "M10", … */
  tier?: string;
  /** Recent counts, oldest first. */
  series?: SeriesPoint[];
  /** Per-app breakdown; absent where the tier cannot attribute connections. */
  byApp?: AppConnections[];
  findings: Finding[];
}

export interface StatsFailure {
  source: string;
  ok: false;
  at: string;
  reason: FailureReason;
  /** A message safe to show anywhere: no URI, no key, no token. */
  error: string;
  findings: Finding[];
}

export type StatsReading = StatsSuccess | StatsFailure;

/** A source of connection stats for one cluster. */
export interface StatsSource {
  readonly name: string;
  read(): Promise<StatsReading>;
}
