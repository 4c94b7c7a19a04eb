/**
 * The incident ledger's public vocabulary: incident states, what callers send it, what it answers.
 * Shared by the Durable Object, the HTTP routes and the CLIs; no runtime code here.
 */
import type { AlertIntent, AtlasAlert, AtlasEvent } from "../atlas/alert.ts";

export const INCIDENT_STATES = [
  "open",
  "awaiting-approval",
  "acting",
  "verifying",
  "resolved",
  "escalated",
  "closed",
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface IncidentSummary {
  id: string;
  cluster: { groupId: string; name: string };
  state: IncidentState;
  openedAt: string;
  updatedAt: string;
}

export interface AlertRecord {
  alertId: string;
  event: AtlasEvent | null;
  status: AtlasAlert["status"];
  metricName: string | null;
  currentValue: { number: number; units: string } | null;
  updated: string;
  receivedAt: string;
}

export interface JournalEntry {
  at: string;
  step: string;
  status: string;
  detail: Record<string, unknown>;
}

export interface IncidentDetail extends IncidentSummary {
  alerts: AlertRecord[];
  journal: JournalEntry[];
}

/** One verified, validated webhook delivery. */
export interface AlertDelivery {
  alert: AtlasAlert;
  event: AtlasEvent | null;
  intent: AlertIntent;
  /** False for alerts that are not about connections: recorded, never acted on. */
  relevant: boolean;
}

export type DeliveryOutcome = { status: "accepted" | "duplicate" | "ignored"; incident: string | null };

export interface TriggerRequest {
  groupId: string;
  cluster: string;
  dryRun: boolean;
  reason: string | null;
}

export interface IncidentQuery {
  state?: IncidentState;
  cluster?: string;
  limit: number;
  /** Only incidents that sort after this id (newest first): the page cursor. */
  before?: string;
}
